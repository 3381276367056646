/**
 * The Upbit feed for `mdrec record`: options, the subscription request and
 * the frames that are protocol rather than data.
 */
import {randomUUID} from 'node:crypto'

import {MdrecError} from '../../errors.js'
import type {ClientOptions, ClientSetup, FeedAdapter} from '../registry.js'
import type {Frame} from '../types.js'
import {upbitCodec} from './codec.js'
import {ORDERBOOK_DEPTHS, QUOTATION_TYPES, type UpbitFormat} from './fields.js'
import {guardControl, prepareFeedUrl, urlSource} from '../../util/redact.js'

export const UPBIT_DEFAULT_URL = 'wss://api.upbit.com/websocket/v1'
export const UPBIT_URL_ENV = 'MDREC_UPBIT_URL'

const RECORD_FORMATS: Record<string, UpbitFormat> = {default: 'DEFAULT', simple: 'SIMPLE'}
/** What --types accepts: the quotation types, and orderbook.N for a depth of N units. */
export const TYPE_CHOICES: readonly string[] = [...QUOTATION_TYPES, ...ORDERBOOK_DEPTHS.map((n) => `orderbook.${n}`)]
const CODE = /^[A-Z0-9]+-[A-Z0-9]+$/

export interface TypeChoice {
  type: string
  /** Orderbook depth suffix for the codes (undefined: the server's default, 30). */
  depth?: number
}

/** --format: default | simple (any case); undefined means DEFAULT. */
export function parseFormat(format: string | undefined): UpbitFormat {
  if (format === undefined) return 'DEFAULT'
  const f = RECORD_FORMATS[format.toLowerCase()]
  if (!f) throw new MdrecError('E_USAGE', `invalid --format "${format}" for upbit: use default or simple (abbreviated keys)`)
  return f
}

/** --types, validated; default ticker. */
export function parseTypes(types: readonly string[] | undefined): TypeChoice[] {
  const list = types && types.length > 0 ? types : ['ticker']
  const out: TypeChoice[] = []
  const seen = new Set<string>()
  for (const t of list) {
    if (!TYPE_CHOICES.includes(t)) {
      throw new MdrecError('E_USAGE', `invalid --types value "${t}" for upbit: use a comma-separated list of ${TYPE_CHOICES.join(', ')}`)
    }
    const [type, n] = t.startsWith('orderbook.') ? ['orderbook', Number(t.slice(10))] : [t, undefined]
    if (seen.has(type)) throw new MdrecError('E_USAGE', `--types names ${type} twice ("${t}"): give each type once`)
    seen.add(type)
    out.push({type, depth: n})
  }
  return out
}

/** Symbols must be Upbit market codes. */
export function checkCodes(symbols: readonly string[]): void {
  for (const s of symbols) {
    if (!CODE.test(s)) {
      const hint = CODE.test(s.toUpperCase()) ? ` (codes are uppercase: ${s.toUpperCase()})` : ''
      throw new MdrecError('E_USAGE', `invalid upbit market code "${s}"${hint}: use QUOTE-BASE codes such as KRW-BTC or KRW-ETH`)
    }
  }
}

/** The request: `[{ticket},{type,codes}…,{format}]`. */
export function subscribeRequest(symbols: readonly string[], types: readonly TypeChoice[], format: UpbitFormat, ticket: string): string {
  const req: unknown[] = [{ticket}]
  for (const t of types) req.push({type: t.type, codes: t.depth === undefined ? [...symbols] : symbols.map((s) => `${s}.${t.depth}`)})
  req.push({format})
  return JSON.stringify(req)
}

const STATUS_UP = '{"status":"UP"}'
const TD = new TextDecoder()

/** `{"status":"UP"}` (the reply to a text PING) is protocol, not data. */
export function isStatusUp(frame: Frame): boolean {
  const d = frame.data
  if (typeof d === 'string') return d === STATUS_UP
  return d.byteLength === STATUS_UP.length && TD.decode(d) === STATUS_UP
}

function isError(frame: Frame): string | null {
  const d = frame.data
  const head = typeof d === 'string' ? d.slice(0, 10) : TD.decode(d.subarray(0, 10))
  if (!head.startsWith('{"error"')) return null
  return typeof d === 'string' ? d : TD.decode(d)
}

export const upbitAdapter: FeedAdapter = {
  name: 'upbit',
  defaultUrl: UPBIT_DEFAULT_URL,
  urlEnv: UPBIT_URL_ENV,
  displayColumns: ['type', 'trade_price', 'trade_volume', 'ask_bid', 'change_rate', 'orderbook_units', 'stream_type'],
  async client({symbols, url: given, env, types, format, paper, log}: ClientOptions): Promise<ClientSetup> {
    if (paper) throw new MdrecError('E_USAGE', 'the upbit feed has no paper-trading hosts: drop --paper')
    const fmt = parseFormat(format)
    const ts = parseTypes(types)
    checkCodes(symbols)
    const raw = given ?? env[UPBIT_URL_ENV] ?? UPBIT_DEFAULT_URL
    // no query parameter is kept: replay needs none (the format is in feed_options)
    const {url, endpoint, redactor} = prepareFeedUrl(raw, urlSource(given, UPBIT_URL_ENV, env), {}, UPBIT_DEFAULT_URL)
    return {
      codec: upbitCodec(fmt),
      endpoint,
      redact: (text) => redactor.redact(text),
      feedOptions: {format: fmt, types: ts.map((t) => (t.depth === undefined ? t.type : `${t.type}.${t.depth}`))},
      spec: {
        feed: 'upbit',
        url,
        // a fresh ticket per connection; tickets identify requests and are not secret
        subscribeMessages: () => [subscribeRequest(symbols, ts, fmt, randomUUID())],
        control: guardControl(
          redactor,
          (frame: Frame): boolean => {
            if (isStatusUp(frame)) return true
            const err = isError(frame)
            // redact before clipping: a clipped secret would leave its prefix behind
            if (err !== null) log?.(`upbit refused the request: ${redactor.redact(err).slice(0, 300)}`)
            return false // recorded as a status row
          },
          log,
          'upbit',
        ),
      },
    }
  },
  codecFor(meta) {
    return upbitCodec(meta.feedOptions.format === 'SIMPLE' ? 'SIMPLE' : 'DEFAULT')
  },
}
