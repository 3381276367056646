/**
 * The KIS REST side that tiering needs (docs/feeds/kis.md, "Tiering"): the
 * access token (`POST /oauth2/tokenP`), the domestic current price
 * (`GET /uapi/domestic-stock/v1/quotations/inquire-price`, tr_id
 * FHKST01010100), the per-second request limits and KIS's refusal above
 * them, and the columns a polled snapshot is stored in.
 *
 * Secrets: the app key and secret go only into the token request's body and
 * the price requests' headers; the access token only into the
 * `authorization` header. All three are masked (`SecretGuard`) in every
 * message that quotes a server's answer or a fetch error.
 */
import {MdrecError} from '../../errors.js'
import type {ColumnDef} from '../types.js'
import {sanitizeEndpoint} from '../../util/redact.js'
import {decodeRecord, encodeField} from './codec.js'
import {oneLine, postJson} from './http.js'
import {columnType, type FieldSpec, type TrSpec} from './layouts.js'

export const KIS_TOKEN_PATH = '/oauth2/tokenP'
export const KIS_PRICE_PATH = '/uapi/domestic-stock/v1/quotations/inquire-price'
/** The current-price TR (주식현재가 시세); also the `tr_id` of polled rows. */
export const KIS_PRICE_TR = 'FHKST01010100'
/** REST requests per second KIS allows one app key: 20 on real accounts, 2 on paper (docs/feeds/kis.md cites the sources). */
export const KIS_REST_RATE = {real: 20, paper: 2} as const
/** KIS's refusal of a request over the per-second limit ("more transactions per second than allowed"), sent with HTTP 500. */
export const KIS_RATE_LIMIT_CODE = 'EGW00201'
export const KIS_RATE_LIMIT_BODY = JSON.stringify({rt_cd: '1', msg_cd: KIS_RATE_LIMIT_CODE, msg1: '초당 거래건수를 초과하였습니다.'})
/** KIS's answer for an expired or unknown access token (*unverified* text). */
export const KIS_BAD_TOKEN_BODY = JSON.stringify({rt_cd: '1', msg_cd: 'EGW00123', msg1: '기간이 만료된 token 입니다.'})

const f = (name: string, kind: FieldSpec['kind'], scale?: number): FieldSpec => (scale === undefined ? {name, kind} : {name, kind, scale})

/**
 * The fields of the inquire-price `output` a polled row keeps as columns
 * (upper-case, the names shared with H0STCNT0 mean the same there). The whole
 * answer is kept in `raw` (see {@link priceRowRaw}).
 */
export const PRICE_FIELDS: readonly FieldSpec[] = [
  f('STCK_PRPR', 'int'),
  f('PRDY_VRSS', 'int'),
  f('PRDY_VRSS_SIGN', 'code'),
  f('PRDY_CTRT', 'dec', 2),
  f('ACML_TR_PBMN', 'int'),
  f('ACML_VOL', 'int'),
  f('PRDY_VRSS_VOL_RATE', 'dec', 2),
  f('STCK_OPRC', 'int'),
  f('STCK_HGPR', 'int'),
  f('STCK_LWPR', 'int'),
  f('STCK_MXPR', 'int'),
  f('STCK_LLAM', 'int'),
  f('STCK_SDPR', 'int'),
  f('WGHN_AVRG_STCK_PRC', 'dec', 2),
]

/** The price output as a pseudo-TR, so the real-time codec's field decoding serves it too. */
const PRICE_TR: TrSpec = {
  trId: KIS_PRICE_TR,
  title: 'domestic current price (REST, polled)',
  fields: PRICE_FIELDS,
  layouts: [PRICE_FIELDS.length],
  kind: 'tick',
  encrypted: false,
  keyForm: 'krx',
  venue: 'both',
  exchTs: null,
  shift: {pairs: [], times: [], dates: []},
}

/** The `tier` column a tiered recording adds: `ws` or `rest` on data rows, null on status rows. */
export const TIER_COLUMN: ColumnDef = {name: 'tier', type: 'dict_utf8', description: 'tiered recordings: where the row came from: ws (a WebSocket registration) or rest (polled current price)'}

/** `base` plus the tier column and the price fields it lacks (a tiered recording's columns). */
export function tieredColumns(base: readonly ColumnDef[]): ColumnDef[] {
  const out = [...base]
  const have = new Set(out.map((c) => c.name))
  if (!have.has('tier')) out.push(TIER_COLUMN)
  for (const fs of PRICE_FIELDS) {
    if (!have.has(fs.name)) out.push({name: fs.name, type: columnType(fs.kind), description: `${KIS_PRICE_TR} (REST current price) output ${fs.name.toLowerCase()}`})
  }
  return out
}

export interface PriceAnswer {
  rtCd: string
  msgCd: string
  msg1: string
  /** The `output` object (strings), or null when absent. */
  output: Record<string, unknown> | null
}

/** The parts of an inquire-price (or any KIS REST) answer; null when the body is not a JSON object. */
export function parsePriceBody(text: string): PriceAnswer | null {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return null
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null
  const o = v as Record<string, unknown>
  const s = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : '')
  const out = o.output && typeof o.output === 'object' && !Array.isArray(o.output) ? (o.output as Record<string, unknown>) : null
  return {rtCd: s('rt_cd'), msgCd: s('msg_cd'), msg1: s('msg1'), output: out}
}

/** The typed column values of a price `output` (upper-case names; an absent or empty field is null). */
export function priceFields(output: Record<string, unknown>): Record<string, unknown> {
  const parts = PRICE_FIELDS.map((fs) => {
    const v = output[fs.name.toLowerCase()]
    return typeof v === 'string' ? v.trim() : ''
  })
  const values: Record<string, unknown> = {}
  decodeRecord(PRICE_TR, parts, 0, parts.length, values)
  return values
}

/**
 * The price `output` (lower-case names, strings as KIS sends them) the
 * typed values of a row give: the emulator's state of a code. Fields the row
 * lacks are left out.
 */
export function priceOutputOf(fields: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const fs of PRICE_FIELDS) {
    const v = fields[fs.name]
    if (v !== null && v !== undefined) out[fs.name.toLowerCase()] = encodeField(fs, v, null)
  }
  return out
}

// ---------------------------------------------------------------------------
// Access token

/**
 * `POST {restBase}/oauth2/tokenP` with the app key and secret; returns the
 * access token. Errors name the URL, the HTTP status and what KIS said, with
 * every credential masked by `redact`.
 */
export async function fetchAccessToken(restBase: string, appKey: string, appSecret: string, redact: (t: string) => string, timeoutMs = 15_000): Promise<string> {
  const url = `${restBase}${KIS_TOKEN_PATH}`
  const shown = sanitizeEndpoint(url)
  const {res, text} = await postJson(url, shown, 'token', {grant_type: 'client_credentials', appkey: appKey, appsecret: appSecret}, redact, timeoutMs)
  let token: unknown
  try {
    token = (JSON.parse(text) as {access_token?: unknown}).access_token
  } catch {
    token = undefined
  }
  if (!res.ok || typeof token !== 'string' || token === '') {
    throw new MdrecError(
      'E_FEED',
      `KIS did not give an access token (HTTP ${res.status} from ${shown})${text ? `: ${oneLine(redact(text))}` : ''}; --tiering polls the REST current price and needs one: check KIS_APP_KEY and KIS_APP_SECRET`,
    )
  }
  return token
}

// ---------------------------------------------------------------------------
// The emulator's limit

/**
 * Requests per second per app key, as KIS counts them for the emulator: a
 * request is refused when `limit` were accepted within the last 1000 ms
 * (a sliding window; a refused request does not count). Hand-written: a
 * few lines that a rate-limit library would wrap in timers and promises.
 */
export class SlidingWindowLimit {
  private readonly times = new Map<string, number[]>()
  constructor(readonly limit: number) {}

  /** Whether a request of `key` at `nowMs` is within the limit (and count it if so). */
  take(key: string, nowMs: number): boolean {
    let t = this.times.get(key)
    if (!t) {
      t = []
      if (this.times.size >= 10_000) this.times.delete(this.times.keys().next().value!)
      this.times.set(key, t)
    }
    while (t.length > 0 && t[0] <= nowMs - 1000) t.shift()
    if (t.length >= this.limit) return false
    t.push(nowMs)
    return true
  }
}
