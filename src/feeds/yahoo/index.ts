/** The Yahoo Finance streamer (wss://streamer.finance.yahoo.com, base64 protobuf): adapter for `mdrec record`, emulator for `mdrec replay`. */
import {MdrecError} from '../../errors.js'
import {guardControl, prepareFeedUrl, urlSource, type EndpointPolicy} from '../../util/redact.js'
import type {FeedAdapter} from '../registry.js'
import {YAHOO_DEFAULT_URL, YAHOO_URL_ENV, yahooCodec} from './adapter.js'
import {envelopeForUrl} from './codec.js'
import type {YahooEnvelope} from './types.js'

export {YAHOO_DEFAULT_URL, YAHOO_URL_ENV, yahooCodec} from './adapter.js'
export {yahooReplay} from './replay.js'
export {syntheticYahooTape} from './synthetic.js'

/** Yahoo keeps `?version=` in the stored endpoint: its replay picks the envelope from it (v2 = JSON). */
export const YAHOO_ENDPOINT_POLICY: EndpointPolicy = {keepQuery: {version: /^\d{1,2}$/}}

export const yahooAdapter: FeedAdapter = {
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

