import {MdrecError} from '../errors.js'
import type {SideSource, TieringOptions} from '../record/side.js'
import type {FeedClientSpec} from '../record/supervisor.js'
import type {RecordingMeta} from '../store/schema.js'
import type {FeedCodec} from './types.js'
import {binanceAdapter} from './binance/index.js'
import {genericAdapter} from './generic/index.js'
import {kisAdapter} from './kis/index.js'
import {upbitAdapter} from './upbit/index.js'
import {YAHOO_DEFAULT_URL, YAHOO_URL_ENV, yahooCodec} from './yahoo/adapter.js'
import {envelopeForUrl} from './yahoo/codec.js'
import type {YahooEnvelope} from './yahoo/types.js'
import {guardControl, prepareFeedUrl, urlSource, type EndpointPolicy} from '../util/redact.js'

/** Yahoo keeps `?version=` in the stored endpoint: its replay picks the envelope from it (v2 = JSON). */
export const YAHOO_ENDPOINT_POLICY: EndpointPolicy = {keepQuery: {version: /^\d{1,2}$/}}

export interface ClientSetup {
  spec: FeedClientSpec
  codec: FeedCodec
  /**
   * The endpoint as stored in the recording and printed in every message
   * (`sanitizeEndpoint` in src/util/redact.ts: no user info, query beyond
   * the feed's allow-list, fragment, or opaque path segment).
   */
  endpoint: string
  /**
   * Masks the secrets this setup knows (the URL's removed parts, KIS
   * credentials) in text that came from the server or a library (close
   * reasons, error messages) before it is logged or stored.
   */
  redact: (text: string) => string
  /** Stored in the recording's `mdrec.feed_options` (no secrets); `codecFor` gets it back. */
  feedOptions: Record<string, unknown>
  /** A second source of rows the recorder runs next to the connection (KIS --tiering: polled REST prices). */
  side?: SideSource
}

/** What `mdrec record` passes to a feed: the symbols and the feed-specific flags. */
export interface ClientOptions {
  symbols: string[]
  /** --url, if given; otherwise the adapter picks (its env variable, then its public endpoint). */
  url?: string
  /** --types (Upbit: ticker,trade,orderbook,candle.1m…; KIS: TR ids such as H0STCNT0). */
  types?: string[]
  /** --format (Upbit: default|simple). */
  format?: string
  /** --paper (KIS: the paper-trading hosts). */
  paper?: boolean
  /** --tiering (KIS: more codes than 41 registrations; the recorder refuses it for other feeds). */
  tiering?: TieringOptions
  /** Where secrets come from (process.env). Never copy them into feedOptions, endpoint, logs or errors. */
  env: NodeJS.ProcessEnv
  /** Status lines for the user (never secrets). */
  log?: (line: string) => void
}

export interface FeedAdapter {
  readonly name: string
  /** The public endpoint, for help texts. */
  readonly defaultUrl: string
  /** Environment variable that overrides the default URL. */
  readonly urlEnv: string
  /** Feed columns `mdrec cat` shows in its table view by default. */
  readonly displayColumns: readonly string[]
  /**
   * Build the client side for `mdrec record`: resolve the URL, check the
   * options (throw MdrecError('E_USAGE', …) naming the bad value and the valid
   * forms), fetch what the feed needs before connecting (KIS: the approval
   * key), and describe subscribe/keep-alive/control handling.
   */
  client(opts: ClientOptions): Promise<ClientSetup>
  /** The codec that reads rows of a recording made by this feed. */
  codecFor(meta: RecordingMeta): FeedCodec
}

const yahoo: FeedAdapter = {
  name: 'yahoo',
  defaultUrl: YAHOO_DEFAULT_URL,
  urlEnv: YAHOO_URL_ENV,
  displayColumns: ['price', 'change_percent', 'day_volume', 'last_size', 'bid', 'ask'],
  async client({symbols, url: given, env, types, format, paper, log}) {
    if (types?.length || format !== undefined || paper) {
      throw new MdrecError('E_USAGE', 'the yahoo feed takes no --types, --format or --paper (its envelope follows the URL: ?version=2 for JSON)')
    }
    const raw = given ?? env[YAHOO_URL_ENV] ?? YAHOO_DEFAULT_URL
    const {url, endpoint, redactor} = prepareFeedUrl(raw, urlSource(given, YAHOO_URL_ENV, env), YAHOO_ENDPOINT_POLICY, YAHOO_DEFAULT_URL)
    const envelope = envelopeForUrl(url)
    const sub = JSON.stringify({subscribe: symbols})
    return {
      codec: yahooCodec(envelope),
      endpoint,
      redact: (text) => redactor.redact(text),
      feedOptions: {envelope},
      spec: {
        feed: 'yahoo',
        url,
        subscribeMessages: () => [sub],
        // Yahoo clients re-send the whole subscription every 15 s as a keep-alive.
        keepaliveMessages: () => [sub],
        keepaliveMs: 15_000,
        control: guardControl(redactor, undefined, log, 'yahoo'),
      },
    }
  },
  codecFor(meta) {
    const env = meta.feedOptions.envelope
    return yahooCodec(env === 'v1' || env === 'v2' ? (env as YahooEnvelope) : envelopeForUrl(meta.endpoint))
  },
}

const FEEDS: Record<string, FeedAdapter> = {yahoo, generic: genericAdapter, kis: kisAdapter, upbit: upbitAdapter, binance: binanceAdapter}

export const FEED_NAMES = Object.keys(FEEDS)

export function getFeed(name: string): FeedAdapter {
  const f = FEEDS[name]
  if (!f) throw new MdrecError('E_USAGE', `unknown feed "${name}"; known feeds: ${FEED_NAMES.join(', ')}`)
  return f
}
