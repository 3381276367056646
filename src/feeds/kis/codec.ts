/**
 * The KIS real-time wire format, both directions: data frames
 * (`<enc>|<TR_ID>|<count>|<payload>`, records of `^`-joined fields with no
 * separator between records), the AES-256-CBC notice encryption, the JSON
 * control messages (subscribe requests, acks, PINGPONG), and the typed
 * decoding of every field.
 *
 * Hand-written rather than a general CSV/number library: the format is a
 * single split on `^`, and what matters is deciding, field by field, whether
 * the typed value re-encodes to the exact text KIS sent (so the recorder can
 * drop `raw`), which no parsing library reports.
 */
import {createCipheriv, createDecipheriv} from 'node:crypto'

import type {Frame, FrameDecode, RowKind} from '../types.js'
import {TR_BY_ID, type FieldSpec, type TrSpec} from './layouts.js'

const TD = new TextDecoder('utf-8')
const TD_FATAL = new TextDecoder('utf-8', {fatal: true})

/** Reject codes of KIS frames (the `code` of a reject row's info). */
export const KIS_REJECT_CODES = [
  'BAD_FRAME', // neither a data frame (`0|…`/`1|…`) nor JSON
  'BAD_COUNT', // the count field is not a positive number
  'UNKNOWN_TR', // a TR mdrec has no layout for
  'UNEXPECTED_TR', // a known TR this recording has no columns for (not in --types)
  'BAD_FIELD_COUNT', // fields ÷ count matches no layout of the TR
  'NO_KEY', // an encrypted frame before any ack carried its key/iv
  'BAD_CIPHER', // not base64, wrong padding, or not UTF-8 once decrypted
  'BAD_JSON', // a control message that does not parse
  'BAD_CONTROL', // JSON without header.tr_id
  'DECODE_ERROR', // an unexpected exception (a bug): the frame is kept, nothing thrown
] as const
export type KisRejectCode = (typeof KIS_REJECT_CODES)[number]

// ---------------------------------------------------------------------------
// Data frames

export interface FrameHead {
  /** '0' plain, '1' encrypted. */
  enc: string
  trId: string
  countText: string
  count: number
  payload: string
}

/** Split a data frame at its first three `|`. Null when it is not one (JSON, garbage). */
export function splitFrame(text: string): FrameHead | null {
  const a = text.indexOf('|')
  if (a < 0) return null
  const b = text.indexOf('|', a + 1)
  if (b < 0) return null
  const c = text.indexOf('|', b + 1)
  if (c < 0) return null
  const countText = text.slice(b + 1, c)
  return {enc: text.slice(0, a), trId: text.slice(a + 1, b), countText, count: digitsValue(countText), payload: text.slice(c + 1)}
}

/** The value of a string of 1-6 ASCII digits, else -1. */
function digitsValue(s: string): number {
  if (s.length === 0 || s.length > 6) return -1
  let v = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

/** `count` as KIS writes it: 3 digits, zero-padded. */
export function countText(count: number): string {
  return String(count).padStart(3, '0')
}

export function frameText(enc: '0' | '1', trId: string, count: number, payload: string): string {
  return `${enc}|${trId}|${countText(count)}|${payload}`
}

// ---------------------------------------------------------------------------
// Fields

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** A signed decimal integer → bigint; null for ''; undefined when it is not one (or out of int64). */
function parseInt64(s: string): bigint | null | undefined {
  const n = s.length
  if (n === 0) return null
  const neg = s.charCodeAt(0) === 45
  let i = neg ? 1 : 0
  if (i === n || n - i > 19) return undefined
  let acc = 0
  for (; i < n; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return undefined
    acc = acc * 10 + c
  }
  // up to 15 digits the number is exact, and BigInt(number) costs a tenth of BigInt(string)
  if (n - (neg ? 1 : 0) <= 15) return BigInt(neg ? -acc : acc)
  const v = BigInt(s)
  return v < INT64_MIN || v > INT64_MAX ? undefined : v
}

/** A decimal `-?d+(.d+)?` → number; null for ''; undefined when it is not one. */
function parseDecimal(s: string): number | null | undefined {
  const n = s.length
  if (n === 0) return null
  let i = s.charCodeAt(0) === 45 ? 1 : 0
  let digits = 0
  let dot = -1
  for (; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) {
      if (dot >= 0 || digits === 0) return undefined
      dot = i
    } else if (c >= 48 && c <= 57) digits++
    else return undefined
  }
  if (digits === 0 || dot === n - 1) return undefined
  const v = Number(s)
  return Number.isFinite(v) ? v : undefined
}

function parseInt32(s: string): number | null | undefined {
  const n = s.length
  if (n === 0) return null
  let i = s.charCodeAt(0) === 45 ? 1 : 0
  if (i === n || n - i > 9) return undefined
  for (; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return undefined
  }
  return Number(s)
}

/** The decimals a `dec` field is written with. */
function decScale(spec: FieldSpec, zdiv: number | null): number | null {
  const s = spec.scale
  if (typeof s === 'number') return s
  if (s === 'ZDIV') return zdiv !== null && zdiv >= 0 && zdiv <= 20 ? zdiv : null
  return null
}

export function formatDecimal(v: number, scale: number | null): string {
  return scale === null ? String(v) : v.toFixed(scale)
}

/** A typed value back to its wire text. */
export function encodeField(spec: FieldSpec, v: unknown, zdiv: number | null): string {
  if (v === null || v === undefined) return ''
  if (spec.kind === 'dec') return formatDecimal(v as number, decScale(spec, zdiv))
  return String(v)
}

/** The record's ZDIV (overseas decimals) as the encoder sees it. */
export function zdivOf(values: Record<string, unknown>): number | null {
  const z = values.ZDIV
  return typeof z === 'number' ? z : null
}

/**
 * Decode `n` fields starting at `parts[at]` into `out` (typed values by
 * field name). Returns whether every field re-encodes to its exact text.
 */
export function decodeRecord(tr: TrSpec, parts: readonly string[], at: number, n: number, out: Record<string, unknown>): boolean {
  let exact = true
  let zdiv: number | null = null
  const fields = tr.fields
  for (let k = 0; k < n; k++) {
    const spec = fields[k]
    const s = parts[at + k]
    switch (spec.kind) {
      case 'int': {
        const v = parseInt64(s)
        if (v === undefined) {
          out[spec.name] = null
          exact = false
        } else {
          out[spec.name] = v
          // canonical: no leading zeros, no "-0"
          if (v !== null && s.length > 1 && (s.charCodeAt(0) === 48 || (s.charCodeAt(0) === 45 && (s.charCodeAt(1) === 48 || v === 0n)))) exact = false
        }
        break
      }
      case 'dec': {
        const v = parseDecimal(s)
        if (v === undefined) {
          out[spec.name] = null
          exact = false
        } else {
          out[spec.name] = v
          if (v !== null && formatDecimal(v, decScale(spec, zdiv)) !== s) exact = false
        }
        break
      }
      case 'i32': {
        const v = parseInt32(s)
        if (v === undefined) {
          out[spec.name] = null
          exact = false
        } else {
          out[spec.name] = v
          if (v !== null && String(v) !== s) exact = false
        }
        if (spec.name === 'ZDIV') zdiv = v ?? null
        break
      }
      default:
        out[spec.name] = s
    }
  }
  return exact
}

/** One record's wire text from its typed values (the first `n` fields of the TR). */
export function encodeRecordFields(tr: TrSpec, n: number, values: Record<string, unknown>, out: string[]): void {
  const zdiv = zdivOf(values)
  for (let k = 0; k < n; k++) out.push(encodeField(tr.fields[k], values[tr.fields[k].name], zdiv))
}

// ---------------------------------------------------------------------------
// Times (KST, UTC+9, no daylight saving)

const KST_OFFSET_S = 9 * 3600

function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48
  const b = s.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/** Seconds of the day of an `HHMMSS` text, or -1. */
export function hmsSeconds(s: string): number {
  if (s.length !== 6) return -1
  const h = twoDigits(s, 0)
  const m = twoDigits(s, 2)
  const x = twoDigits(s, 4)
  if (h < 0 || h > 23 || m < 0 || m > 59 || x < 0 || x > 59) return -1
  return h * 3600 + m * 60 + x
}

/** Days since the epoch of a `YYYYMMDD` text (a real calendar date), or null. */
export function ymdDays(s: string): number | null {
  if (s.length !== 8) return null
  const y = twoDigits(s, 0) * 100 + twoDigits(s, 2)
  const mo = twoDigits(s, 4)
  const d = twoDigits(s, 6)
  if (twoDigits(s, 0) < 0 || twoDigits(s, 2) < 0 || y < 1900 || mo < 1 || mo > 12 || d < 1 || d > 31) return null
  const ms = Date.UTC(y, mo - 1, d)
  const back = new Date(ms)
  if (back.getUTCDate() !== d || back.getUTCMonth() !== mo - 1) return null
  return ms / 86_400_000
}

function pad2(v: number): string {
  return v < 10 ? `0${v}` : String(v)
}

export function formatHms(secondsOfDay: number): string {
  return pad2(Math.floor(secondsOfDay / 3600)) + pad2(Math.floor(secondsOfDay / 60) % 60) + pad2(secondsOfDay % 60)
}

export function formatYmd(days: number): string {
  const d = new Date(days * 86_400_000)
  return String(d.getUTCFullYear()).padStart(4, '0') + pad2(d.getUTCMonth() + 1) + pad2(d.getUTCDate())
}

/** Epoch seconds of a KST date and time, or null when either does not parse. */
export function kstEpochSeconds(ymd: string, hms: string): bigint | null {
  const days = ymdDays(ymd)
  const secs = hmsSeconds(hms)
  if (days === null || secs < 0) return null
  return BigInt(days * 86_400 + secs - KST_OFFSET_S)
}

/** `YYYYMMDDHHMMSS` in KST (PINGPONG's datetime). */
export function kstDatetime(epochMs: number): string {
  const s = Math.floor(epochMs / 1000) + KST_OFFSET_S
  return formatYmd(Math.floor(s / 86_400)) + formatHms(((s % 86_400) + 86_400) % 86_400)
}

const fieldIndex = new Map<TrSpec, Map<string, number>>()
function indexOfField(tr: TrSpec, name: string): number {
  let m = fieldIndex.get(tr)
  if (!m) {
    m = new Map(tr.fields.map((fs, i) => [fs.name, i]))
    fieldIndex.set(tr, m)
  }
  return m.get(name) ?? -1
}

/**
 * Move a record's time fields (as wire text) `shiftS` seconds later, in place:
 * date+time pairs carry into the date at midnight, lone HHMMSS fields wrap at
 * 24 h, lone dates follow the first pair's change of day. Fields that do not
 * parse as times are left alone.
 */
export function shiftRecordTimes(tr: TrSpec, strs: string[], at: number, n: number, shiftS: number): void {
  if (shiftS === 0) return
  let dayDelta: number | null = null
  for (const [dName, tName] of tr.shift.pairs) {
    const di = indexOfField(tr, dName)
    const ti = indexOfField(tr, tName)
    if (di < 0 || ti < 0 || di >= n || ti >= n) continue
    const days = ymdDays(strs[at + di])
    const secs = hmsSeconds(strs[at + ti])
    if (days === null || secs < 0) continue
    const total = secs + shiftS
    const carry = Math.floor(total / 86_400)
    strs[at + ti] = formatHms(total - carry * 86_400)
    if (carry !== 0) strs[at + di] = formatYmd(days + carry)
    dayDelta ??= carry
  }
  for (const tName of tr.shift.times) {
    const ti = indexOfField(tr, tName)
    if (ti < 0 || ti >= n) continue
    const secs = hmsSeconds(strs[at + ti])
    if (secs < 0) continue
    strs[at + ti] = formatHms((((secs + shiftS) % 86_400) + 86_400) % 86_400)
  }
  if (dayDelta) {
    for (const dName of tr.shift.dates) {
      const di = indexOfField(tr, dName)
      if (di < 0 || di >= n) continue
      const days = ymdDays(strs[at + di])
      if (days !== null) strs[at + di] = formatYmd(days + dayDelta)
    }
  }
}

/** exch_ts (epoch seconds) of a decoded record, or null. */
export function recordExchTs(tr: TrSpec, values: Record<string, unknown>): bigint | null {
  if (!tr.exchTs) return null
  const d = values[tr.exchTs[0]]
  const t = values[tr.exchTs[1]]
  return typeof d === 'string' && typeof t === 'string' ? kstEpochSeconds(d, t) : null
}

// ---------------------------------------------------------------------------
// Encryption (notices): base64 of AES-256-CBC, PKCS#7 padding, key and iv
// the UTF-8 bytes of the ack's output.key (32) and output.iv (16).

export interface CipherKey {
  key: string
  iv: string
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/

export function decryptPayload(b64: string, k: CipherKey): {ok: true; text: string} | {ok: false; message: string} {
  if (b64.length === 0 || b64.length % 4 !== 0 || !B64.test(b64)) return {ok: false, message: 'the encrypted payload is not base64'}
  const key = Buffer.from(k.key, 'utf8')
  const iv = Buffer.from(k.iv, 'utf8')
  if (key.length !== 32 || iv.length !== 16) return {ok: false, message: `the ack's key/iv are ${key.length}/${iv.length} bytes, AES-256-CBC needs 32/16`}
  let plain: Buffer
  try {
    const d = createDecipheriv('aes-256-cbc', key, iv)
    plain = Buffer.concat([d.update(Buffer.from(b64, 'base64')), d.final()])
  } catch {
    return {ok: false, message: 'the payload does not decrypt with the ack key/iv (bad length or padding)'}
  }
  try {
    return {ok: true, text: TD_FATAL.decode(plain)}
  } catch {
    return {ok: false, message: 'the decrypted payload is not UTF-8'}
  }
}

export function encryptPayload(plain: string, k: CipherKey): string {
  const c = createCipheriv('aes-256-cbc', Buffer.from(k.key, 'utf8'), Buffer.from(k.iv, 'utf8'))
  return Buffer.concat([c.update(plain, 'utf8'), c.final()]).toString('base64')
}

// ---------------------------------------------------------------------------
// Control messages (JSON text)

/** The subscribe (`tr_type` "1") / unsubscribe ("2") request, as KIS documents it. */
export function requestText(approvalKey: string, trType: '1' | '2', trId: string, trKey: string, custtype = 'P'): string {
  return JSON.stringify({
    header: {approval_key: approvalKey, custtype, tr_type: trType, 'content-type': 'utf-8'},
    body: {input: {tr_id: trId, tr_key: trKey}},
  })
}

/** An ack: header, then body with rt_cd, msg_cd, msg1 and output {iv, key}, in KIS's key order. */
export function ackText(a: {trId: string; trKey: string; encrypt: boolean; rtCd: string; msgCd: string; msg1: string; iv: string; key: string}): string {
  return JSON.stringify({
    header: {tr_id: a.trId, tr_key: a.trKey, encrypt: a.encrypt ? 'Y' : 'N'},
    body: {rt_cd: a.rtCd, msg_cd: a.msgCd, msg1: a.msg1, output: {iv: a.iv, key: a.key}},
  })
}

export function pingpongText(epochMs: number): string {
  return JSON.stringify({header: {tr_id: 'PINGPONG', datetime: kstDatetime(epochMs)}})
}

export interface ControlMessage {
  trId: string
  trKey: string | null
  rtCd: string | null
  msgCd: string | null
  msg1: string | null
  key: CipherKey | null
}

/** Read a JSON control message (ack, PINGPONG). Null when it is not JSON with a header.tr_id. */
export function parseControl(text: string): ControlMessage | {error: 'BAD_JSON' | 'BAD_CONTROL'} {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return {error: 'BAD_JSON'}
  }
  const h = (v as {header?: unknown} | null)?.header as Record<string, unknown> | undefined
  if (!h || typeof h !== 'object' || typeof h.tr_id !== 'string') return {error: 'BAD_CONTROL'}
  const body = (v as {body?: unknown}).body as Record<string, unknown> | undefined
  const out = body && typeof body === 'object' ? (body.output as Record<string, unknown> | undefined) : undefined
  const str = (x: unknown) => (typeof x === 'string' ? x : null)
  return {
    trId: h.tr_id,
    trKey: str(h.tr_key),
    rtCd: body && typeof body === 'object' ? str(body.rt_cd) : null,
    msgCd: body && typeof body === 'object' ? str(body.msg_cd) : null,
    msg1: body && typeof body === 'object' ? str(body.msg1) : null,
    key: out && typeof out === 'object' && typeof out.key === 'string' && typeof out.iv === 'string' ? {key: out.key, iv: out.iv} : null,
  }
}

// ---------------------------------------------------------------------------
// Whole frames → rows

export interface DecodeContext {
  /** TRs the recording has columns for. */
  readonly allowed: ReadonlySet<string>
  /** The key/iv an ack gave for `trId` (notices), if any. */
  keyFor(trId: string): CipherKey | undefined
}

type Row = Extract<FrameDecode, {ok: true}>['rows'][number]

function reject(code: KisRejectCode, message: string): FrameDecode {
  return {ok: false, code, message}
}

/** Decode one received frame. Never throws: anything unexpected becomes a reject. */
export function decodeKisFrame(frame: Frame, ctx: DecodeContext): FrameDecode {
  try {
    const text = typeof frame.data === 'string' ? frame.data : TD.decode(frame.data)
    return decodeText(text, frame.binary, ctx)
  } catch (error) {
    return reject('DECODE_ERROR', `unexpected decoder error: ${(error as Error)?.message ?? String(error)}`)
  }
}

function decodeText(text: string, binary: boolean, ctx: DecodeContext): FrameDecode {
  const c0 = text.charCodeAt(0)
  if (c0 === 123 /* { */ || c0 === 32 || c0 === 9 || c0 === 10 || c0 === 13) {
    const m = parseControl(text)
    if ('error' in m) {
      return m.error === 'BAD_JSON'
        ? reject('BAD_JSON', 'a control message that is not valid JSON')
        : reject('BAD_CONTROL', 'a JSON message without header.tr_id (not a KIS control message)')
    }
    return {
      ok: true,
      rows: [{exch_ts: null, symbol: m.trKey ?? '', kind: 'status', info: text, fields: {tr_id: m.trId}, exact: !binary}],
    }
  }
  const head = splitFrame(text)
  if (!head || (head.enc !== '0' && head.enc !== '1')) {
    return reject('BAD_FRAME', 'not a KIS data frame (<enc 0|1>|<TR_ID>|<count>|<payload>) nor a JSON control message')
  }
  if (head.count <= 0) return reject('BAD_COUNT', `TR ${clip(head.trId)}: count "${clip(head.countText)}" is not a positive number`)
  const tr = TR_BY_ID.get(head.trId)
  if (!tr) return reject('UNKNOWN_TR', `TR "${clip(head.trId)}" has no layout in mdrec (known: ${[...TR_BY_ID.keys()].join(', ')})`)
  if (!ctx.allowed.has(tr.trId)) return reject('UNEXPECTED_TR', `TR ${tr.trId} is not among this recording's types (${[...ctx.allowed].join(', ')})`)
  const encrypted = head.enc === '1'
  let payload = head.payload
  if (encrypted) {
    const k = ctx.keyFor(tr.trId)
    if (!k) return reject('NO_KEY', `TR ${tr.trId}: an encrypted frame arrived before any ack gave its key/iv`)
    const d = decryptPayload(payload, k)
    if (!d.ok) return reject('BAD_CIPHER', `TR ${tr.trId}: ${d.message}`)
    payload = d.text
  }
  const parts = payload.split('^')
  const per = parts.length / head.count
  if (!Number.isInteger(per) || !tr.layouts.includes(per)) {
    return reject(
      'BAD_FIELD_COUNT',
      `TR ${tr.trId}: ${parts.length} fields in ${head.count} record${head.count === 1 ? '' : 's'} match no layout (records of ${tr.layouts.join(' or ')} fields)`,
    )
  }
  let exact = !binary && !encrypted && countText(head.count) === head.countText
  const rows: Row[] = []
  for (let r = 0; r < head.count; r++) {
    const values: Record<string, unknown> = {
      tr_id: tr.trId,
      layout: per,
      frame_records: head.count,
      frame_record: r,
      encrypted,
    }
    if (!decodeRecord(tr, parts, r * per, per, values)) exact = false
    rows.push({exch_ts: recordExchTs(tr, values), symbol: parts[r * per], kind: tr.kind, info: null, fields: values, exact: false})
  }
  // exactness is the whole frame's: every row of a frame says the same
  for (const row of rows) row.exact = exact
  return {ok: true, rows}
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}

/** The KIS row kind of a TR (for tools that look at rows without a frame). */
export function kindOf(trId: string): RowKind | null {
  return TR_BY_ID.get(trId)?.kind ?? null
}
