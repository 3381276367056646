/**
 * The Binance spot market streams feed for `mdrec record`: options, the
 * subscription request and the frames that are protocol rather than data.
 *
 * - `SYMBOL...` are spot symbols (BTCUSDT, any case); `--types` the stream
 *   types (streams.ts), default `trade`: the streams are
 *   `<symbol lowercase>@<type>`, at most 1024 per connection (Binance's
 *   limit).
 * - `--format combined` (default) records from the combined endpoint
 *   (`/stream`: payloads wrapped as `{"stream","data"}`), `--format raw` from
 *   the raw one (`/ws`: bare payloads). A URL whose path already is `/ws` or
 *   `/stream` picks it; a bare host gets the path appended.
 * - On every connection the recorder sends one
 *   `{"method":"SUBSCRIBE","params":[…],"id":N}`; the replies
 *   `{"result":null,"id":N}` are protocol and not recorded, an error reply
 *   (`{"error":{"code","msg"},"id"}`) is logged and recorded as a status row.
 * - Binance pings every 20 s with WebSocket ping frames; ws answers them
 *   with pongs on its own (`autoPong`, on by default in ws 8).
 */
import {MdrecError} from '../../errors.js'
import type {ClientOptions, ClientSetup, FeedAdapter} from '../contract.js'
import type {Frame} from '../types.js'
import {guardControl, prepareFeedUrl, urlSource} from '../../util/redact.js'
import {binanceCodec} from './codec.js'
import {STREAM_TYPES} from './streams.js'

export const BINANCE_DEFAULT_URL = 'wss://stream.binance.com:9443'
export const BINANCE_URL_ENV = 'MDREC_BINANCE_URL'
/** Binance: "A single connection can listen to a maximum of 1024 streams." */
export const BINANCE_MAX_STREAMS = 1024
const SYMBOL = /^[A-Za-z0-9]{1,32}$/

export type BinanceEndpoint = 'raw' | 'combined'

/** --types, validated; default trade. */
export function parseStreamTypes(types: readonly string[] | undefined): string[] {
  const list = types && types.length > 0 ? types : ['trade']
  const seen = new Set<string>()
  for (const t of list) {
    if (!(STREAM_TYPES as readonly string[]).includes(t)) {
      throw new MdrecError('E_USAGE', `invalid --types value "${t}" for binance: use a comma-separated list of ${STREAM_TYPES.join(', ')}`)
    }
    if (seen.has(t)) throw new MdrecError('E_USAGE', `--types names ${t} twice: give each stream type once`)
    seen.add(t)
  }
  return [...list]
}

/** The stream names for symbols × types (`btcusdt@trade`, …). */
export function streamNames(symbols: readonly string[], types: readonly string[]): string[] {
  for (const s of symbols) {
    if (!SYMBOL.test(s)) throw new MdrecError('E_USAGE', `invalid binance symbol "${s}": use spot symbols such as BTCUSDT or ETHBTC (letters and digits)`)
  }
  const names = symbols.flatMap((s) => types.map((t) => `${s.toLowerCase()}@${t}`))
  if (names.length > BINANCE_MAX_STREAMS) {
    throw new MdrecError('E_USAGE', `${names.length} streams (${symbols.length} symbols × ${types.length} types) exceed Binance's ${BINANCE_MAX_STREAMS} streams per connection: record them in several runs`)
  }
  return names
}

/**
 * The endpoint and the URL to connect to from the URL and --format. A path
 * of `/ws` or `/stream` on a URL given with --url decides the endpoint
 * (--format saying otherwise is E_USAGE); on a URL from MDREC_BINANCE_URL
 * (`fromEnv`: where the server is, set once) --format picks the path.
 */
export function endpointUrl(raw: string, format: string | undefined, fromEnv = false): {url: string; endpoint: BinanceEndpoint} {
  if (format !== undefined && format !== 'raw' && format !== 'combined') {
    throw new MdrecError('E_USAGE', `invalid --format "${format}" for binance: use combined (/stream, the default) or raw (/ws)`)
  }
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    return {url: raw, endpoint: (format as BinanceEndpoint | undefined) ?? 'combined'} // prepareFeedUrl says what is wrong with it
  }
  const path = u.pathname.replace(/\/+$/, '')
  const byPath: BinanceEndpoint | undefined = path === '/ws' ? 'raw' : path === '/stream' ? 'combined' : undefined
  if (byPath !== undefined && format !== undefined && format !== byPath) {
    if (fromEnv) {
      u.pathname = format === 'raw' ? '/ws' : '/stream'
      return {url: u.toString(), endpoint: format as BinanceEndpoint}
    }
    throw new MdrecError('E_USAGE', `--format ${format} contradicts the URL's path ${path} (${byPath}): drop one of them`)
  }
  const endpoint = byPath ?? (format as BinanceEndpoint | undefined) ?? 'combined'
  if (path === '') u.pathname = endpoint === 'raw' ? '/ws' : '/stream'
  return {url: u.toString(), endpoint}
}

const TD = new TextDecoder()
const OK_REPLY = /^\{"result":(?:null|\[[^\]]*\]|true|false),"id":(?:\d+|"[^"]*"|null)\}$/

function frameText(frame: Frame): string {
  return typeof frame.data === 'string' ? frame.data : TD.decode(frame.data)
}

/** What `mdrec record --feed binance` passes: its options (--types, --format); --paper and --tiering are other feeds'. */
export interface BinanceClientOptions extends ClientOptions {
  types?: string[]
  format?: string
  paper?: boolean
  tiering?: boolean
}

export const binanceAdapter: FeedAdapter = {
  name: 'binance',
  defaultUrl: BINANCE_DEFAULT_URL,
  urlEnv: BINANCE_URL_ENV,
  displayColumns: ['event', 'price', 'qty', 'bid_price', 'ask_price', 'last_update_id'],
  async client({symbols, url: given, env, types, format, paper, tiering, log}: BinanceClientOptions): Promise<ClientSetup> {
    if (paper || tiering) throw new MdrecError('E_USAGE', 'the binance feed takes no --paper or --tiering')
    const ts = parseStreamTypes(types)
    const streams = streamNames(symbols, ts)
    const {url: withPath, endpoint: ep} = endpointUrl(given ?? env[BINANCE_URL_ENV] ?? BINANCE_DEFAULT_URL, format, given === undefined && env[BINANCE_URL_ENV] !== undefined)
    // no query parameter is kept: replay needs none (the endpoint and the streams are in feed_options)
    const {url, endpoint, redactor} = prepareFeedUrl(withPath, urlSource(given, BINANCE_URL_ENV, env), {}, BINANCE_DEFAULT_URL)
    let id = 0
    return {
      codec: binanceCodec(ep === 'combined', streams),
      endpoint,
      redact: (text) => redactor.redact(text),
      feedOptions: {endpoint: ep, streams},
      spec: {
        feed: 'binance',
        url,
        subscribeMessages: () => [JSON.stringify({method: 'SUBSCRIBE', params: streams, id: ++id})],
        control: guardControl(
          redactor,
          (frame: Frame): boolean => {
            const head = typeof frame.data === 'string' ? frame.data.slice(0, 10) : TD.decode(frame.data.subarray(0, 10))
            if (head.startsWith('{"result"')) return OK_REPLY.test(frameText(frame))
            if (head.startsWith('{"error"')) log?.(`binance refused the request: ${redactor.redact(frameText(frame)).slice(0, 300)}`)
            return false
          },
          log,
          'binance',
        ),
      },
    }
  },
  codecFor(meta) {
    const s = meta.feedOptions.streams
    return binanceCodec(meta.feedOptions.endpoint !== 'raw', Array.isArray(s) ? s.filter((x): x is string => typeof x === 'string') : meta.subscriptions)
  },
}
