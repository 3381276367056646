import {MdrecError} from '../errors.js'
import type {FeedClientSpec} from '../record/supervisor.js'
import type {RecordingMeta} from '../store/schema.js'
import type {FeedCodec} from './types.js'
import {YAHOO_DEFAULT_URL, YAHOO_URL_ENV, yahooCodec} from './yahoo/adapter.js'
import {envelopeForUrl} from './yahoo/codec.js'
import type {YahooEnvelope} from './yahoo/types.js'

export interface ClientSetup {
  spec: FeedClientSpec
  codec: FeedCodec
  /** The endpoint as stored in the recording (no secrets). */
  endpoint: string
  feedOptions: Record<string, unknown>
}

export interface FeedAdapter {
  readonly name: string
  readonly defaultUrl: string
  /** Environment variable that overrides the default URL. */
  readonly urlEnv: string
  /** Build the client side for `mdrec record`. */
  client(opts: {symbols: string[]; url: string}): ClientSetup
  /** Feed columns `mdrec cat` shows in its table view by default. */
  readonly displayColumns: readonly string[]
  /** The codec that reads rows of a recording made by this feed. */
  codecFor(meta: RecordingMeta): FeedCodec
}

const yahoo: FeedAdapter = {
  name: 'yahoo',
  defaultUrl: YAHOO_DEFAULT_URL,
  urlEnv: YAHOO_URL_ENV,
  displayColumns: ['price', 'change_percent', 'day_volume', 'last_size', 'bid', 'ask'],
  client({symbols, url}) {
    const envelope = envelopeForUrl(url)
    const sub = JSON.stringify({subscribe: symbols})
    return {
      codec: yahooCodec(envelope),
      endpoint: url,
      feedOptions: {envelope},
      spec: {
        feed: 'yahoo',
        url,
        subscribeMessages: () => [sub],
        // Yahoo clients re-send the whole subscription every 15 s as a keep-alive.
        keepaliveMessages: () => [sub],
        keepaliveMs: 15_000,
      },
    }
  },
  codecFor(meta) {
    const env = meta.feedOptions.envelope
    return yahooCodec(env === 'v1' || env === 'v2' ? (env as YahooEnvelope) : envelopeForUrl(meta.endpoint))
  },
}

const FEEDS: Record<string, FeedAdapter> = {yahoo}

export const FEED_NAMES = Object.keys(FEEDS)

export function getFeed(name: string): FeedAdapter {
  const f = FEEDS[name]
  if (!f) throw new MdrecError('E_USAGE', `unknown feed "${name}"; known feeds: ${FEED_NAMES.join(', ')}`)
  return f
}
