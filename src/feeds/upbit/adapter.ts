/**
 * The Upbit feed for `mdrec record`: options, the subscription request and
 * the frames that are protocol rather than data.
 *
 * `--types myOrder,myAsset` records the private endpoint
 * (`wss://api.upbit.com/websocket/v1/private`): each connection's upgrade
 * carries `Authorization: Bearer <JWT>` signed afresh (a new nonce) from
 * UPBIT_ACCESS_KEY / UPBIT_SECRET_KEY (auth.ts). The keys and the tokens
 * stay in memory: they are masked in every message (and any JWT-shaped
 * text with them), a frame holding one is not recorded, and neither the
 * endpoint nor feed_options carry them. Symbols are myOrder's market codes,
 * `*` for every market.
 */
import {randomUUID} from 'node:crypto'

import {MdrecError} from '../../errors.js'
import type {ClientOptions, ClientSetup, FeedAdapter} from '../contract.js'
import type {Frame} from '../types.js'
import {upbitCodec} from './codec.js'
import {signUpbitToken} from './auth.js'
import {ORDERBOOK_DEPTHS, PRIVATE_TYPES, QUOTATION_TYPES, type UpbitFormat} from './fields.js'
import {guardControl, prepareFeedUrl, urlSource, type Redactor} from '../../util/redact.js'

export const UPBIT_DEFAULT_URL = 'wss://api.upbit.com/websocket/v1'
export const UPBIT_URL_ENV = 'MDREC_UPBIT_URL'
export const UPBIT_PRIVATE_URL = 'wss://api.upbit.com/websocket/v1/private'
export const UPBIT_ACCESS_KEY_ENV = 'UPBIT_ACCESS_KEY'
export const UPBIT_SECRET_KEY_ENV = 'UPBIT_SECRET_KEY'
/** The symbol that asks myOrder for every market. */
export const ALL_MARKETS = '*'

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
    if (!TYPE_CHOICES.includes(t) && !PRIVATE_TYPES.includes(t)) {
      throw new MdrecError('E_USAGE', `invalid --types value "${t}" for upbit: use a comma-separated list of ${TYPE_CHOICES.join(', ')}, or of the private ${PRIVATE_TYPES.join(', ')}`)
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

/** The request: `[{ticket},{type,codes}…,{format}]` (myOrder: no codes for `*`; myAsset: never codes). */
export function subscribeRequest(symbols: readonly string[], types: readonly TypeChoice[], format: UpbitFormat, ticket: string): string {
  const req: unknown[] = [{ticket}]
  for (const t of types) {
    if (t.type === 'myAsset') req.push({type: t.type})
    else if (t.type === 'myOrder') req.push(symbols.includes(ALL_MARKETS) ? {type: t.type} : {type: t.type, codes: [...symbols]})
    else req.push({type: t.type, codes: t.depth === undefined ? [...symbols] : symbols.map((s) => `${s}.${t.depth}`)})
  }
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

/**
 * The private endpoint's URL from the one given: a URL whose path is the
 * quotation endpoint (`…/websocket/v1`, what `mdrec replay` prints) gets
 * `/private` appended; any other is used as given.
 */
export function privateUrl(raw: string): string {
  try {
    const u = new URL(raw)
    const path = u.pathname.replace(/\/+$/, '')
    if (!path.endsWith('/private') && path.endsWith('/websocket/v1')) {
      u.pathname = `${path}/private`
      return u.toString()
    }
  } catch {
    // not a URL: prepareFeedUrl says so
  }
  return raw
}

function privateClient(o: {
  symbols: string[]
  given: string | undefined
  env: NodeJS.ProcessEnv
  fmt: UpbitFormat
  ts: TypeChoice[]
  log?: (line: string) => void
}): ClientSetup {
  const {symbols, given, env, fmt, ts, log} = o
  const all = symbols.length === 1 && symbols[0] === ALL_MARKETS
  if (!all) {
    if (symbols.includes(ALL_MARKETS)) throw new MdrecError('E_USAGE', `give ${ALL_MARKETS} alone (every market) or market codes, not both`)
    if (!ts.some((t) => t.type === 'myOrder')) throw new MdrecError('E_USAGE', `myAsset takes no market codes: give ${ALL_MARKETS} as the symbol`)
    checkCodes(symbols)
  }
  const accessKey = env[UPBIT_ACCESS_KEY_ENV]
  const secretKey = env[UPBIT_SECRET_KEY_ENV]
  const missing = [[UPBIT_ACCESS_KEY_ENV, accessKey], [UPBIT_SECRET_KEY_ENV, secretKey]].filter(([, v]) => !v).map(([k]) => k)
  if (missing.length > 0) {
    throw new MdrecError(
      'E_USAGE',
      `--types ${ts.map((t) => t.type).join(',')} (Upbit's private endpoint) needs ${missing.join(' and ')} in the environment (your Upbit Open API keys; mdrec signs a JWT per connection with them and never stores or shows them)`,
      {exitCode: 1},
    )
  }
  const raw = privateUrl(given ?? env[UPBIT_URL_ENV] ?? UPBIT_PRIVATE_URL)
  const {url, endpoint, redactor} = prepareFeedUrl(raw, urlSource(given, UPBIT_URL_ENV, env), {}, UPBIT_PRIVATE_URL)
  redactor.add(accessKey).add(secretKey).maskJwts()
  const subscribe = (ticket: string) => subscribeRequest(all ? [ALL_MARKETS] : symbols, ts, fmt, ticket)
  return {
    codec: upbitCodec(fmt),
    endpoint,
    redact: (text) => redactor.redact(text),
    feedOptions: {format: fmt, types: ts.map((t) => t.type)},
    spec: {
      feed: 'upbit',
      url,
      // read by the supervisor at each connection: a fresh token (new nonce) every time, as Upbit requires
      // (tokens are not added to the redactor one by one, which would grow with every reconnect: maskJwts covers them)
      get headers(): Record<string, string> {
        return {Authorization: `Bearer ${signUpbitToken(accessKey!, secretKey!)}`}
      },
      subscribeMessages: () => [subscribe(randomUUID())],
      control: upbitControl(redactor, log),
    },
  }
}

/** Protocol frames (`{"status":"UP"}`) are swallowed, error objects logged (redacted) and recorded as status rows, frames holding a secret dropped. */
function upbitControl(redactor: Redactor, log: ((line: string) => void) | undefined) {
  return guardControl(
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
  )
}

/** The usage error for --paper given to the upbit feed. */
export const UPBIT_NO_PAPER = 'the upbit feed has no paper-trading hosts: drop --paper'

/** What `mdrec record --feed upbit` passes: its options (--types, --format); --paper is KIS's. */
export interface UpbitClientOptions extends ClientOptions {
  types?: string[]
  format?: string
  paper?: boolean
}

export const upbitAdapter: FeedAdapter = {
  name: 'upbit',
  defaultUrl: UPBIT_DEFAULT_URL,
  urlEnv: UPBIT_URL_ENV,
  displayColumns: ['type', 'trade_price', 'trade_volume', 'ask_bid', 'change_rate', 'orderbook_units', 'stream_type'],
  async client({symbols, url: given, env, types, format, paper, log}: UpbitClientOptions): Promise<ClientSetup> {
    if (paper) throw new MdrecError('E_USAGE', UPBIT_NO_PAPER)
    const fmt = parseFormat(format)
    const ts = parseTypes(types)
    const priv = ts.filter((t) => PRIVATE_TYPES.includes(t.type))
    if (priv.length > 0 && priv.length < ts.length) {
      throw new MdrecError(
        'E_USAGE',
        `--types mixes the private ${priv.map((t) => t.type).join(', ')} (endpoint ${UPBIT_PRIVATE_URL}) with quotation types (the public endpoint): record them in two runs of mdrec record`,
      )
    }
    if (priv.length > 0) return privateClient({symbols, given, env, fmt, ts, log})
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
        control: upbitControl(redactor, log),
      },
    }
  },
  codecFor(meta) {
    return upbitCodec(meta.feedOptions.format === 'SIMPLE' ? 'SIMPLE' : 'DEFAULT')
  },
}
