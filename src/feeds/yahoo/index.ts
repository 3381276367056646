/** The Yahoo Finance streamer (wss://streamer.finance.yahoo.com, base64 protobuf): adapter for `mdrec record`, emulator for `mdrec replay`. */
import {MdrecError} from '../../errors.js'
import {guardControl, prepareFeedUrl, urlSource, type EndpointPolicy} from '../../util/redact.js'
import type {ClientOptions, FeedDefinition} from '../contract.js'
import {YAHOO_DEFAULT_URL, YAHOO_URL_ENV, yahooCodec} from './adapter.js'
import {envelopeForUrl} from './codec.js'
import {yahooReplay} from './replay.js'
import type {YahooEnvelope} from './types.js'

export {YAHOO_DEFAULT_URL, YAHOO_URL_ENV, yahooCodec} from './adapter.js'
export {yahooReplay} from './replay.js'
export {syntheticYahooTape} from './synthetic.js'

/** Yahoo keeps `?version=` in the stored endpoint: its replay picks the envelope from it (v2 = JSON). */
export const YAHOO_ENDPOINT_POLICY: EndpointPolicy = {keepQuery: {version: /^\d{1,2}$/}}

const NO_OPTIONS = 'the yahoo feed takes no --types, --format or --paper (its envelope follows the URL: ?version=2 for JSON)'

/** Options of other feeds given to yahoo (it takes none): these are refused as {@link NO_OPTIONS} says. */
interface YahooClientOptions extends ClientOptions {
  types?: string[]
  format?: string
  paper?: boolean
}

/** The Yahoo feed, both sides (src/feeds/contract.ts); listed in src/feeds/registry.ts. */
export const yahooFeed: FeedDefinition = {
  name: 'yahoo',
  summary: "the envelope follows the URL's ?version=: 2 for JSON, otherwise bare base64",
  defaultUrl: YAHOO_DEFAULT_URL,
  urlEnv: YAHOO_URL_ENV,
  env: [{name: YAHOO_URL_ENV, purpose: "the feed's URL, instead of its public endpoint"}],
  options: [],
  refusal: (names) => (names.some((n) => n === 'types' || n === 'format' || n === 'paper') ? NO_OPTIONS : undefined),
  displayColumns: ['price', 'change_percent', 'day_volume', 'last_size', 'bid', 'ask'],
  async client({symbols, url: given, env, types, format, paper, log}: YahooClientOptions) {
    if (types?.length || format !== undefined || paper) throw new MdrecError('E_USAGE', NO_OPTIONS)
    // The streamer subscribes to the symbols it is given, a '*' included: it would record nothing.
    const wild = symbols.find((s) => s.includes('*'))
    if (wild !== undefined) throw new MdrecError('E_USAGE', `invalid yahoo symbol "${wild}": the Yahoo streamer has no wildcard; name the symbols (AAPL, BTC-USD, ^GSPC, EURUSD=X)`)
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
  replay: yahooReplay,
}

/** The record side alone (the same object as {@link yahooFeed}); kept for existing imports. */
export const yahooAdapter = yahooFeed

