import * as A from 'apache-arrow'

import type {RowView, TimeUnitName} from './types.js'
import {nsToIso, toNs} from '../util/time.js'
import {listToPlain} from './rows.js'
import type {StoreColumn} from './schema.js'

export type OutputFormat = 'table' | 'ndjson' | 'csv'
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'ndjson', 'csv']

/** Shortest decimal that reads back as the same float32 (what the exchange sent, as far as float32 can say). */
export function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p)
    if (Math.fround(Number(s)) === v) return String(Number(s))
  }
  return String(v)
}

/**
 * formatFloat32 with a memo: the search above costs up to nine
 * toPrecision/parse rounds per value, and tick columns repeat their values
 * (day_high, previous_close, a price that did not move). Bounded: cleared
 * when it holds 65,536 values.
 */
const F32_SLOTS = 1 << 16
const f32Bits = new Int32Array(F32_SLOTS)
const f32Text: (string | undefined)[] = new Array(F32_SLOTS).fill(undefined)
/** `bits` is the float32's bit pattern, `v` its value: a direct-mapped cache keyed by the bits. */
function formatFloat32Cached(bits: number, v: number): string {
  const h = Math.imul(bits, 0x9e3779b1) >>> 16
  const s = f32Text[h]
  if (s !== undefined && f32Bits[h] === bits) return s
  const t = formatFloat32(v)
  f32Bits[h] = bits
  f32Text[h] = t
  return t
}

/** A column's value in a row, as display text (null when absent). */
export function displayValue(row: RowView, col: StoreColumn): string | null {
  let v: unknown
  switch (col.name) {
    case 'recv_ts':
      return nsToIso(row.recv_ts)
    case 'exch_ts':
      return row.exch_ts === null ? null : nsToIso(toNs(row.exch_ts, col.kind === 'timestamp' ? col.unit : 'ns'))
    case 'symbol':
      return row.symbol
    case 'kind':
      return row.kind
    case 'seq':
      return String(row.seq)
    case 'raw':
      v = row.raw
      break
    case 'info':
      return row.info
    default:
      v = row.fields[col.name]
  }
  if (v === null || v === undefined) return null
  if (Array.isArray(v)) return formatLevels(v as Array<Record<string, number | null>>)
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
  if (typeof v === 'number' && col.kind === 'plain' && col.type === 'float32') return formatFloat32(v)
  return String(v)
}

/**
 * A list of structs in one cell. Order books read as the top level and the
 * depth (`15 lv  ask 95,010,000 × 0.12 | bid 95,000,000 × 0.5`); other lists
 * as their first item and the count.
 */
function formatLevels(items: Array<Record<string, number | null>>): string {
  if (items.length === 0) return '[]'
  const top = items[0] ?? {}
  if ('ask_price' in top && 'bid_price' in top) {
    return `${items.length} lv  ask ${top.ask_price} × ${top.ask_size ?? '-'} | bid ${top.bid_price} × ${top.bid_size ?? '-'}`
  }
  return `${items.length}× ${JSON.stringify(top)}`
}

/** A column's value as JSON: 64-bit integers as strings (protobuf's JSON mapping), times ISO, bytes base64. */
function jsonValue(row: RowView, col: StoreColumn): unknown {
  if (col.kind === 'plain' && col.type === 'list_struct_f64') return row.fields[col.name] ?? null
  const s = displayValue(row, col)
  if (s === null) return null
  if (col.kind === 'plain') {
    switch (col.type) {
      case 'float32':
      case 'float64':
      case 'int8':
      case 'int32':
        return Number(s)
      case 'bool':
        return s === 'true'
      case 'utf8':
        if (col.name === 'info') {
          try {
            return JSON.parse(s)
          } catch {
            return s
          }
        }
        return s
      default:
        return s
    }
  }
  return s
}

export function ndjsonLine(row: RowView, cols: readonly StoreColumn[]): string {
  const o: Record<string, unknown> = {}
  for (const c of cols) {
    const v = jsonValue(row, c)
    if (v !== null) o[c.name] = v
  }
  return `${JSON.stringify(o)}\n`
}

function csvCell(s: string | null): string {
  if (s === null) return ''
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

export function csvHeader(cols: readonly StoreColumn[]): string {
  return `${cols.map((c) => csvCell(c.name)).join(',')}\n`
}

export function csvLine(row: RowView, cols: readonly StoreColumn[]): string {
  return `${cols.map((c) => csvCell(displayValue(row, c))).join(',')}\n`
}

/**
 * A streaming text table: widths are taken from the header and the first
 * rows (buffered, at most `sample`), later rows are padded to them (wider
 * values just push the line out). Long values are cut with an ellipsis.
 */
export class TableFormatter {
  private readonly pending: string[][] = []
  private widths: number[] | null = null
  constructor(
    private readonly cols: readonly StoreColumn[],
    private readonly sample = 200,
    private readonly maxWidth = 48,
  ) {}
  private cells(row: RowView): string[] {
    return this.cut(this.cols.map((c) => displayValue(row, c) ?? ''))
  }
  private cut(cells: string[]): string[] {
    return cells.map((s) => (s.length > this.maxWidth ? `${s.slice(0, this.maxWidth - 1)}…` : s))
  }
  private line(cells: string[]): string {
    const w = this.widths!
    return `${cells.map((s, i) => (this.isNumeric(i) ? s.padStart(w[i]) : s.padEnd(w[i]))).join('  ').trimEnd()}\n`
  }
  private isNumeric(i: number): boolean {
    const c = this.cols[i]
    return c.kind === 'plain' && c.type !== 'utf8' && c.type !== 'binary' && c.type !== 'bool'
  }
  private fix(): string {
    const header = this.cols.map((c) => c.name)
    this.widths = header.map((h, i) => Math.max(h.length, ...this.pending.map((r) => r[i].length)))
    let out = this.line(header)
    for (const r of this.pending) out += this.line(r)
    this.pending.length = 0
    return out
  }
  /** Text to write for this row (empty while the first rows are being sampled). */
  push(row: RowView): string {
    return this.pushCells(this.cells(row))
  }
  /** Like push, for a row's display cells (batchDisplayCells). */
  pushDisplayCells(display: string[]): string {
    return this.pushCells(this.cut(display))
  }
  private pushCells(cells: string[]): string {
    if (this.widths) return this.line(cells)
    this.pending.push(cells)
    return this.pending.length >= this.sample ? this.fix() : ''
  }
  /** Text still held back (call once at the end). */
  end(): string {
    return this.widths ? '' : this.fix()
  }
}

// ---------------------------------------------------------------------------
// Column-wise formatting of whole batches (what `mdrec cat` uses).
//
// The row-at-a-time functions above build a RowView per row (an object, a
// `Vector.get` per column) and cost ~30 µs per Yahoo row. These read each
// column's typed arrays once per batch instead, cache dictionary strings,
// and build one string per batch. The text is exactly the same as
// ndjsonLine/csvLine/displayValue produce (test/cat-large.test.ts checks both
// against each other and against goldens).

type Mode = 'display' | 'csv' | 'json'
/** Per selected row: the cell text in the mode asked for, or undefined when the value is null (omitted in JSON, empty in CSV). */
type Cells = (string | undefined)[]

const NEEDS_QUOTE = /[",\r\n]/

function csvEscape(s: string): string {
  return NEEDS_QUOTE.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/** The validity bitmap to consult, or null when every value is valid. */
function validity(data: A.Data): Uint8Array | null {
  const bm = data.nullBitmap as Uint8Array | undefined
  return data.nullCount > 0 && bm && bm.length > 0 ? bm : null
}

const UNIT_NS: Record<TimeUnitName, bigint> = {s: 1_000_000_000n, ms: 1_000_000n, us: 1_000n, ns: 1n}

/**
 * ISO-8601 text of timestamps in one unit: the same text as
 * nsToIso(toNs(v, unit)). The date-time part is cached per second, and a
 * value in the cached second is placed from its 32-bit halves with number
 * arithmetic (no BigInt per value); a new second takes the BigInt path once.
 */
class IsoFormatter {
  /** The cached second's first value, as 32-bit halves, and its length in units. */
  private hi = 0
  private lo = 0
  private valid = false
  private readonly perSec: number
  private readonly nsPerUnit: number
  private prefix = ''
  /** The cached second's 'YYYY-MM-DDTHH:MM:SS.' as text and as bytes. */
  prefixBytes: Uint8Array = new Uint8Array(0)
  /** prefixBytes as a Piece (for formatBytes). */
  prefixPiece: Piece = piece(new Uint8Array(0))
  constructor(private readonly unit: TimeUnitName) {
    this.perSec = Number(1_000_000_000n / UNIT_NS[unit])
    this.nsPerUnit = Number(UNIT_NS[unit])
  }
  /** The value at `vals[j]`, whose halves are `hi` (signed) and `lo` (unsigned). */
  format(hi: number, lo: number, vals: BigInt64Array, j: number): string {
    const f = this.split(hi, lo, vals, j)
    return `${this.prefix}${f < 100_000_000 ? String(f).padStart(9, '0') : String(f)}Z`
  }
  /** Point prefix/prefixBytes at the value's second; returns its ns within the second. */
  split(hi: number, lo: number, vals: BigInt64Array, j: number): number {
    let d = (hi - this.hi) * 4294967296 + (lo - this.lo)
    if (!this.valid || d < 0 || d >= this.perSec) {
      const v = vals[j]
      const per = BigInt(this.perSec)
      let frac = v % per
      if (frac < 0n) frac += per
      const start = v - frac
      this.prefix = nsToIso(start * UNIT_NS[this.unit]).slice(0, -10) // 'YYYY-MM-DDTHH:MM:SS.'
      this.prefixBytes = Buffer.from(this.prefix, 'utf8')
      this.prefixPiece = piece(this.prefixBytes)
      this.hi = Number(BigInt.asIntN(32, start >> 32n))
      this.lo = Number(BigInt.asUintN(32, start))
      this.valid = true
      d = Number(frac)
    }
    return d * this.nsPerUnit
  }
}

/** Dictionary strings of one dictionary vector, in one mode, built once per dictionary. */
const dictCache = new WeakMap<object, Map<Mode, (string | undefined)[]>>()
function dictStrings(dict: A.Vector, mode: Mode): (string | undefined)[] {
  let byMode = dictCache.get(dict)
  if (!byMode) dictCache.set(dict, (byMode = new Map()))
  let out = byMode.get(mode)
  if (!out) {
    out = new Array(dict.length)
    for (let k = 0; k < dict.length; k++) {
      const v = dict.get(k) as string | null
      out[k] = v === null ? undefined : mode === 'json' ? JSON.stringify(v) : mode === 'csv' ? csvEscape(v) : v
    }
    byMode.set(mode, out)
  }
  return out
}

/**
 * The cells of column `col` (child `vec`) for the selected rows lo..hi of a
 * batch (`idx[k]`, or `k` when idx is null). One monomorphic loop per type.
 */
function columnCells(vec: A.Vector, col: StoreColumn, idx: Uint32Array | null, lo: number, hi: number, mode: Mode): Cells {
  const n = hi - lo
  const out: Cells = new Array(n).fill(undefined)
  const data = vec.data[0]
  const off = data.offset
  const bm = validity(data)
  const json = mode === 'json'

  // Columns the row formatter treats by name (displayValue).
  if (col.name === 'recv_ts' || col.name === 'exch_ts') {
    const unit = col.name === 'exch_ts' && col.kind === 'timestamp' ? col.unit : 'ns'
    const vals = data.values as BigInt64Array
    const halves = new Int32Array(vals.buffer, vals.byteOffset, vals.length * 2)
    const iso = new IsoFormatter(unit)
    for (let k = 0; k < n; k++) {
      const j = (idx ? idx[lo + k] : lo + k) + off
      if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
      const t = iso.format(halves[2 * j + 1], halves[2 * j] >>> 0, vals, j)
      out[k] = json ? `"${t}"` : t
    }
    return out
  }
  if (col.kind === 'dict') {
    const strings = dictStrings(data.dictionary as A.Vector, mode)
    const vals = data.values as Int32Array | Int8Array
    for (let k = 0; k < n; k++) {
      const j = (idx ? idx[lo + k] : lo + k) + off
      if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
      out[k] = strings[vals[j]]
    }
    return out
  }
  if (col.kind === 'timestamp') {
    // not produced by mdrec (only recv_ts/exch_ts are timestamps); the row formatter prints what arrow-js's get() gives
    for (let k = 0; k < n; k++) {
      const v = vec.get(idx ? idx[lo + k] : lo + k) as unknown
      out[k] = v === null || v === undefined ? undefined : json ? JSON.stringify(String(v)) : mode === 'csv' ? csvEscape(String(v)) : String(v)
    }
    return out
  }
  switch (col.type) {
    case 'uint64':
    case 'int64': {
      const vals = data.values as BigInt64Array | BigUint64Array
      // Read as 32-bit halves (little-endian, as Arrow stores them): a value
      // within ±2^53 prints from a number, without allocating a BigInt.
      const halves = new Int32Array(vals.buffer, vals.byteOffset, vals.length * 2)
      const unsigned = col.type === 'uint64'
      for (let k = 0; k < n; k++) {
        const j = (idx ? idx[lo + k] : lo + k) + off
        if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
        const h = unsigned ? halves[2 * j + 1] >>> 0 : halves[2 * j + 1]
        const t = h >= -0x200000 && h < 0x200000 ? String(h * 4294967296 + (halves[2 * j] >>> 0)) : String(vals[j])
        out[k] = json ? `"${t}"` : t
      }
      return out
    }
    case 'int8':
    case 'int32': {
      const vals = data.values as Int32Array | Int8Array
      for (let k = 0; k < n; k++) {
        const j = (idx ? idx[lo + k] : lo + k) + off
        if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
        out[k] = String(vals[j])
      }
      return out
    }
    case 'float32': {
      const vals = data.values as Float32Array
      const bits = new Int32Array(vals.buffer, vals.byteOffset, vals.length)
      for (let k = 0; k < n; k++) {
        const j = (idx ? idx[lo + k] : lo + k) + off
        if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
        const v = vals[j]
        // JSON: the row formatter's Number(text) of a non-finite value serialises as null (key kept)
        out[k] = json && !Number.isFinite(v) ? 'null' : formatFloat32Cached(bits[j], v)
      }
      return out
    }
    case 'float64': {
      const vals = data.values as Float64Array
      for (let k = 0; k < n; k++) {
        const j = (idx ? idx[lo + k] : lo + k) + off
        if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
        const v = vals[j]
        out[k] = json && !Number.isFinite(v) ? 'null' : String(v)
      }
      return out
    }
    case 'bool': {
      const bits = data.values as Uint8Array
      for (let k = 0; k < n; k++) {
        const j = (idx ? idx[lo + k] : lo + k) + off
        if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
        out[k] = ((bits[j >> 3] >> (j & 7)) & 1) === 1 ? 'true' : 'false'
      }
      return out
    }
    case 'binary':
    case 'utf8': {
      const {offs, buf} = varData(data)
      const binary = col.type === 'binary'
      const info = col.name === 'info'
      for (let k = 0; k < n; k++) {
        const j = (idx ? idx[lo + k] : lo + k) + off
        if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
        if (binary) {
          const b64 = buf.toString('base64', offs[j], offs[j + 1])
          out[k] = json ? `"${b64}"` : b64
          continue
        }
        const s = buf.toString('utf8', offs[j], offs[j + 1])
        if (mode === 'csv') out[k] = csvEscape(s)
        else if (mode === 'display') out[k] = s
        else if (info) out[k] = infoJson(s)
        else out[k] = JSON.stringify(s)
      }
      return out
    }
    case 'list_struct_f64': {
      // Order-book levels: rare enough per row that arrow-js's own list/struct
      // accessors (what the row formatter uses) are kept here.
      for (let k = 0; k < n; k++) {
        const v = vec.get(idx ? idx[lo + k] : lo + k) as A.Vector | null
        if (v === null || v === undefined) continue
        const items = listToPlain(v) as Array<Record<string, number | null>>
        out[k] = json ? JSON.stringify(items) : mode === 'csv' ? csvEscape(formatLevels(items)) : formatLevels(items)
      }
      return out
    }
  }
}

/** A utf8 or binary column's value offsets and bytes (as a Buffer, for toString). */
function varData(data: A.Data): {offs: Int32Array; buf: Buffer} {
  const v = data.values as Uint8Array
  return {offs: data.valueOffsets as Int32Array, buf: Buffer.from(v.buffer, v.byteOffset, v.byteLength)}
}

/** `info` as JSON: parsed and re-serialised when it is JSON (a JSON null is omitted), else a string. */
function infoJson(s: string): string | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(s)
  } catch {
    return JSON.stringify(s)
  }
  return parsed === null ? undefined : JSON.stringify(parsed)
}

function childIndex(batch: A.RecordBatch, name: string): number {
  const i = batch.schema.fields.findIndex((f) => f.name === name)
  if (i < 0) throw new Error(`column ${name} is not in this batch`)
  return i
}

/**
 * Rows formatted per window: each column's cells of a window are written as
 * bytes into that column's fragment buffer (reused from window to window,
 * small enough to stay in cache), then the window's lines are assembled from
 * the fragments.
 */
const WINDOW = 1024

interface ColumnPlan {
  vec: A.Vector
  col: StoreColumn
  /** JSON: `,"name":` as UTF-8 (the comma is dropped before a line's first cell); CSV: empty. */
  key: Uint8Array
  /** CSV: the commas before this column (runs of all-null columns collapse into them). */
  commas: number
}

function plan(batch: A.RecordBatch, cols: readonly StoreColumn[], mode: 'json' | 'csv'): {plans: ColumnPlan[]; tailCommas: number} {
  const plans: ColumnPlan[] = []
  let commas = 0
  for (let c = 0; c < cols.length; c++) {
    const vec = batch.getChildAt(childIndex(batch, cols[c].name))!
    const d = vec.data[0]
    if (mode === 'csv' && c > 0) commas++
    if (d.length > 0 && d.nullCount === d.length) continue // all null: no key (JSON), an empty cell (CSV)
    const key = mode === 'json' ? Buffer.from(`,${JSON.stringify(cols[c].name)}:`, 'utf8') : new Uint8Array(0)
    plans.push({vec, col: cols[c], key, commas})
    commas = 0
  }
  return {plans, tailCommas: commas}
}

/**
 * A growable byte buffer written at `p`. Hand-written, with the digit and
 * copy loops below, because the alternatives cost more per piece than the
 * piece: a string per cell (then joining, flattening and UTF-8 encoding
 * them) or a native `buf.write` call per short cell.
 */
class Bytes {
  b: Buffer
  p = 0
  constructor(size: number) {
    this.b = Buffer.allocUnsafe(Math.max(1024, size))
  }
  /** The buffer, with room for `n` more bytes at `p`. */
  room(n: number): Buffer {
    if (this.p + n > this.b.length) {
      const next = Buffer.allocUnsafe(Math.max(2 * this.b.length, this.p + n))
      this.b.copy(next, 0, 0, this.p)
      this.b = next
    }
    return this.b
  }
}

/**
 * One column's cells for a window of rows, as UTF-8: cell k is
 * `b[offs[k], offs[k + 1])`, empty for a null (JSON omits the key, CSV leaves
 * the cell empty). JSON cells start with the column's key.
 */
class Fragment extends Bytes {
  readonly offs = new Int32Array(WINDOW + 1)
  constructor() {
    super(WINDOW * 24)
  }
}

const POW10 = Float64Array.from({length: 17}, (_, i) => 10 ** i)

/**
 * Bytes written often (a JSON key, a dictionary entry, a time's second) as
 * little-endian 32-bit words and a tail: copied a word at a time through a
 * DataView, a quarter of the stores of a byte loop.
 */
interface Piece {
  w: Int32Array
  t: Uint8Array
}
function piece(bytes: Uint8Array): Piece {
  const nw = bytes.length >> 2
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {w: Int32Array.from({length: nw}, (_, i) => dv.getInt32(4 * i, true)), t: bytes.slice(4 * nw)}
}
/** Piece `p` at b[q] (`dv` views `b`); returns the position after it. */
function putPiece(dv: DataView, b: Uint8Array, q: number, p: Piece): number {
  const w = p.w
  for (let i = 0; i < w.length; i++) {
    dv.setInt32(q, w[i], true)
    q += 4
  }
  const t = p.t
  for (let i = 0; i < t.length; i++) b[q++] = t[i]
  return q
}

/** '00'..'99' as ASCII pairs: two digits per division. */
const DIGITS2 = Uint8Array.from({length: 200}, (_, i) => 0x30 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)))

/** The decimal digits of a safe integer at b[p]; returns the position after them. */
function putInt(b: Uint8Array, p: number, v: number): number {
  if (v < 0) {
    b[p++] = 0x2d
    v = -v
  }
  let n = 1
  while (n < 16 && v >= POW10[n]) n++
  let i = p + n
  while (v >= 100) {
    const q = Math.floor(v / 100)
    const r = (v - q * 100) * 2
    b[--i] = DIGITS2[r + 1]
    b[--i] = DIGITS2[r]
    v = q
  }
  if (v >= 10) {
    b[--i] = DIGITS2[v * 2 + 1]
    b[--i] = DIGITS2[v * 2]
  } else b[--i] = 0x30 + v
  return p + n
}

/** Nine digits of `v` (0..999,999,999, zero-padded) at b[p]. */
function put9(b: Uint8Array, p: number, v: number): void {
  for (let i = p + 7; i > p; i -= 2) {
    const q = Math.floor(v / 100)
    const r = (v - q * 100) * 2
    b[i] = DIGITS2[r]
    b[i + 1] = DIGITS2[r + 1]
    v = q
  }
  b[p] = 0x30 + v
}

/** An ASCII string at b[p] (the caller made room); returns the position after it. */
function putAscii(b: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i)
  return p
}

/** Bytes `src[s, e)` at b[p]; returns the position after them. */
function putBytes(b: Uint8Array, p: number, src: Uint8Array, s: number, e: number): number {
  if (e - s > 64) {
    b.set(src.subarray(s, e), p)
    return p + e - s
  }
  while (s < e) b[p++] = src[s++]
  return p
}

/** Any string as UTF-8 into `f` at f.p (after `key`). */
function putText(f: Bytes, key: Uint8Array, s: string): void {
  const b = f.room(key.length + 3 * s.length)
  let p = putBytes(b, f.p, key, 0, key.length)
  let ascii = s.length <= 64
  if (ascii) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) {
        ascii = false
        break
      }
      b[p + i] = c
    }
  }
  f.p = ascii ? p + s.length : p + b.write(s, p, 'utf8')
}

/**
 * formatFloat32's text by the value's bit pattern, as bytes: a direct-mapped
 * cache of 65,536 entries (tick columns repeat their values: day_high,
 * previous_close, a price that did not move). At most 15 bytes a value.
 */
const F32_STRIDE = 16
const f32Key = new Int32Array(F32_SLOTS)
const f32Len = new Uint8Array(F32_SLOTS) // 0: empty
const f32Bytes = new Uint8Array(F32_SLOTS * F32_STRIDE)
function putFloat32(b: Uint8Array, p: number, bits: number, v: number): number {
  const h = Math.imul(bits, 0x9e3779b1) >>> 16
  let len = f32Len[h]
  if (len === 0 || f32Key[h] !== bits) {
    const s = formatFloat32(v)
    if (s.length >= F32_STRIDE) return putAscii(b, p, s)
    len = s.length
    putAscii(f32Bytes, h * F32_STRIDE, s)
    f32Key[h] = bits
    f32Len[h] = len
  }
  return putBytes(b, p, f32Bytes, h * F32_STRIDE, h * F32_STRIDE + len)
}

/** Dictionary entries of one dictionary vector as UTF-8 cell bytes in one mode (null: a null entry), built once per dictionary. */
const dictBytesCache = new WeakMap<object, Map<'json' | 'csv', (Uint8Array | null)[]>>()
function dictBytes(dict: A.Vector, mode: 'json' | 'csv'): (Uint8Array | null)[] {
  let byMode = dictBytesCache.get(dict)
  if (!byMode) dictBytesCache.set(dict, (byMode = new Map()))
  let out = byMode.get(mode)
  if (!out) {
    out = dictStrings(dict, mode).map((s) => (s === undefined ? null : Buffer.from(s, 'utf8')))
    byMode.set(mode, out)
  }
  return out
}

/**
 * Write the cells of column `p` (a string, payload, list or other timestamp
 * column: formatBytes writes the fixed-width ones itself) for the selected
 * rows lo..hi of a batch (`idx[k]`, or `k` when idx is null) into `f`. The
 * same text as columnCells (and so as ndjsonLine/csvLine).
 */
function fillColumn(f: Fragment, p: ColumnPlan, idx: Uint32Array | null, lo: number, hi: number, json: boolean): void {
  const {vec, col, key} = p
  const n = hi - lo
  const offs = f.offs
  const data = vec.data[0]
  const off = data.offset
  const bm = validity(data)
  const kl = key.length
  f.p = 0
  let b = f.b
  let q = 0
  if (col.kind === 'plain' && (col.type === 'utf8' || col.type === 'binary')) {
    const {offs: vo, buf: v} = varData(data)
    const binary = col.type === 'binary'
    const info = col.name === 'info'
    for (let k = 0; k < n; k++) {
      offs[k] = q
      const j = (idx ? idx[lo + k] : lo + k) + off
      if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
      const s = vo[j]
      const e = vo[j + 1]
      f.p = q
      if (binary) {
        const b64 = v.toString('base64', s, e)
        b = f.room(kl + b64.length + 2)
        for (let i = 0; i < kl; i++) b[q++] = key[i]
        if (json) b[q++] = 0x22
        q += b.write(b64, q, 'latin1')
        if (json) b[q++] = 0x22
        f.p = q
        continue
      }
      if (!(json && info)) {
        // Text that needs no escaping (printable ASCII without `"` and `\` for
        // JSON; ASCII without `"`, `,`, CR, LF for CSV) is copied as it is.
        let plain = true
        for (let i = s; i < e; i++) {
          const c = v[i]
          if (json ? c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c : c > 0x7f || c === 0x22 || c === 0x2c || c === 0x0a || c === 0x0d) {
            plain = false
            break
          }
        }
        if (plain) {
          b = f.room(kl + e - s + 2)
          for (let i = 0; i < kl; i++) b[q++] = key[i]
          if (json) b[q++] = 0x22
          q = putBytes(b, q, v, s, e)
          if (json) b[q++] = 0x22
          f.p = q
          continue
        }
      }
      const text = v.toString('utf8', s, e)
      const cell = !json ? csvEscape(text) : info ? infoJson(text) : JSON.stringify(text)
      if (cell !== undefined) putText(f, key, cell)
      q = f.p
      b = f.b
    }
    offs[n] = q
    f.p = q
    return
  }
  // Order-book lists and other timestamps: rare; through the string cells.
  const cells = columnCells(vec, col, idx, lo, hi, json ? 'json' : 'csv')
  for (let k = 0; k < n; k++) {
    offs[k] = f.p
    const cell = cells[k]
    if (cell !== undefined) putText(f, key, cell)
  }
  offs[n] = f.p
}

/** Bytes per row of the last call, per format: the next output buffer's first size. */
const lastBytesPerRow = {json: 400, csv: 200}

// How formatBytes writes a column's cells (FRAG: through fillColumn's fragments).
const TIME = 0
const DICT32 = 1
const DICT8 = 2
const I64 = 3
const U64 = 4
const I32 = 5
const I8 = 6
const F32 = 7
const F64 = 8
const BOOL = 9
const FRAG = 10

/** Scratch views for reading floats from their bits (the columns are read as Int32Array, one element type for all). */
const SCRATCH = new ArrayBuffer(8)
const SCRATCH_I32 = new Int32Array(SCRATCH)
const SCRATCH_F32 = new Float32Array(SCRATCH)
const SCRATCH_F64 = new Float64Array(SCRATCH)
const NO_I32 = new Int32Array(0)
const NO_I8 = new Int8Array(0)
const NO_BIG = new BigInt64Array(0)

/**
 * Lines of the selected rows of a batch, as UTF-8, written row by row
 * straight into the output: every fixed-width column is read through one
 * Int32Array view (so the loop's loads stay monomorphic), dictionary
 * entries are precomputed bytes (JSON: with their key), numbers are written
 * digit by digit, times from the cached second's bytes. Strings, payloads
 * and lists are formatted column-wise per window into fragments first
 * (fillColumn) and copied in.
 */
function prepareFormat(batch: A.RecordBatch, cols: readonly StoreColumn[], json: boolean) {
  const mode: 'json' | 'csv' = json ? 'json' : 'csv'
  const {plans, tailCommas} = plan(batch, cols, mode)
  const m = plans.length
  const kind = new Int32Array(m)
  const commas = Int32Array.from(plans, (p) => p.commas)
  const offsets = new Int32Array(m)
  const keys: Uint8Array[] = plans.map((p) => p.key)
  // JSON: a line's first cell has no comma
  const keyPieces = keys.map((k) => piece(k))
  const firstKeyPieces = keys.map((k) => piece(k.subarray(json ? 1 : 0)))
  const bms: (Uint8Array | null)[] = []
  const i32: Int32Array[] = []
  const i8: Int8Array[] = []
  const bigs: BigInt64Array[] = []
  const dicts: (Piece | null)[][] = []
  const firstDicts: (Piece | null)[][] = []
  const isos: (IsoFormatter | null)[] = []
  const frags: (Fragment | null)[] = []
  /** Most bytes a row takes, fragments apart. */
  let rowMax = json ? 3 : tailCommas + 1
  for (let c = 0; c < m; c++) {
    const {vec, col} = plans[c]
    const data = vec.data[0]
    const v = data.values as {buffer: ArrayBufferLike; byteOffset: number; byteLength: number}
    offsets[c] = data.offset
    bms.push(validity(data))
    let k = FRAG
    let max = 0
    let words = false
    let bytes = false
    let dict: (Uint8Array | null)[] = []
    let firstDict: (Uint8Array | null)[] = []
    let iso: IsoFormatter | null = null
    if (col.name === 'recv_ts' || col.name === 'exch_ts') {
      k = TIME
      words = true
      iso = new IsoFormatter(col.name === 'exch_ts' && col.kind === 'timestamp' ? col.unit : 'ns')
      max = 48
    } else if (col.kind === 'dict') {
      k = col.indexBits === 8 ? DICT8 : DICT32
      words = k === DICT32
      bytes = k === DICT8
      const key = keys[c]
      dict = dictBytes(data.dictionary as A.Vector, mode).map((e) => (e === null ? null : json ? Buffer.concat([key, e]) : e))
      for (const e of dict) if (e && e.length > max) max = e.length
      max -= key.length
      firstDict = dict.map((e) => (e === null ? null : e.subarray(json ? 1 : 0)))
    } else if (col.kind === 'plain') {
      const t = col.type
      if (t === 'int64' || t === 'uint64') [k, words, max] = [t === 'int64' ? I64 : U64, true, 22]
      else if (t === 'int32') [k, words, max] = [I32, true, 11]
      else if (t === 'int8') [k, bytes, max] = [I8, true, 4]
      else if (t === 'float32') [k, words, max] = [F32, true, 16]
      else if (t === 'float64') [k, words, max] = [F64, true, 25]
      else if (t === 'bool') [k, bytes, max] = [BOOL, true, 5]
    }
    kind[c] = k
    i32.push(words ? new Int32Array(v.buffer, v.byteOffset, v.byteLength >> 2) : NO_I32)
    i8.push(bytes ? new Int8Array(v.buffer, v.byteOffset, v.byteLength) : NO_I8)
    bigs.push(k === TIME || k === I64 || k === U64 ? (data.values as BigInt64Array) : NO_BIG)
    dicts.push(dict.map((e) => (e === null ? null : piece(e))))
    firstDicts.push(firstDict.map((e) => (e === null ? null : piece(e))))
    isos.push(iso)
    frags.push(k === FRAG ? new Fragment() : null)
    rowMax += commas[c] + (k === FRAG ? 0 : keys[c].length + max)
  }
  return {mode, plans, tailCommas, m, kind, commas, offsets, keyPieces, firstKeyPieces, bms, i32, i8, bigs, dicts, firstDicts, isos, frags, rowMax}
}

type FormatPrep = ReturnType<typeof prepareFormat>

/**
 * What formatBytes prepares once per batch (column plans, dictionary pieces,
 * views of the buffers), kept while the batch is formatted in several calls:
 * several recordings merged by time (store/merge.ts) hand a batch out in many
 * short runs of rows, and preparing it again for each cost more than the rows.
 */
const prepared = new WeakMap<A.RecordBatch, {cols: readonly StoreColumn[]; json: boolean; prep: FormatPrep}>()

function formatBytes(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[], json: boolean): Buffer {
  const n = idx ? idx.length : batch.numRows
  let hit = prepared.get(batch)
  if (!hit || hit.cols !== cols || hit.json !== json) prepared.set(batch, (hit = {cols, json, prep: prepareFormat(batch, cols, json)}))
  const {mode, plans, tailCommas, m, kind, commas, offsets, keyPieces, firstKeyPieces, bms, i32, i8, bigs, dicts, firstDicts, isos, frags, rowMax} = hit.prep
  // the fragments' current window (fillColumn refills them)
  const fb: Uint8Array[] = frags.map(() => new Uint8Array(0))
  const fo: Int32Array[] = frags.map(() => NO_I32)
  // room for the rows at the last call's size, and the last window at its bound (else the buffer is copied to grow)
  const out = new Bytes(Math.ceil(n * lastBytesPerRow[mode] * 1.05) + Math.min(n, WINDOW) * rowMax)
  for (let lo = 0; lo < n; lo += WINDOW) {
    const hi = Math.min(n, lo + WINDOW)
    const w = hi - lo
    let total = w * rowMax
    for (let c = 0; c < m; c++) {
      const f = frags[c]
      if (f === null) continue
      fillColumn(f, plans[c], idx, lo, hi, json)
      fb[c] = f.b
      fo[c] = f.offs
      total += f.p
    }
    const b = out.room(total)
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    let q = out.p
    for (let k = 0; k < w; k++) {
      const r = idx ? idx[lo + k] : lo + k
      if (json) b[q++] = 0x7b
      let first = json
      for (let c = 0; c < m; c++) {
        if (!json) for (let i = commas[c]; i > 0; i--) b[q++] = 0x2c
        const kd = kind[c]
        if (kd === FRAG) {
          const o = fo[c]
          let s = o[k]
          const e = o[k + 1]
          if (s === e) continue
          if (first) {
            s++ // the first key's comma
            first = false
          }
          const src = fb[c]
          while (s < e) b[q++] = src[s++]
          continue
        }
        const j = r + offsets[c]
        const bm = bms[c]
        if (bm !== null && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
        if (kd === DICT32 || kd === DICT8) {
          // JSON: the entry's bytes start with the key
          const e = (first ? firstDicts : dicts)[c][kd === DICT32 ? i32[c][j] : i8[c][j]]
          if (e === null) continue
          q = putPiece(dv, b, q, e)
          first = false
          continue
        }
        if (json) {
          q = putPiece(dv, b, q, (first ? firstKeyPieces : keyPieces)[c])
          first = false
        }
        switch (kd) {
          case TIME: {
            const h = i32[c]
            const iso = isos[c]!
            const frac = iso.split(h[2 * j + 1], h[2 * j] >>> 0, bigs[c], j)
            if (json) b[q++] = 0x22
            q = putPiece(dv, b, q, iso.prefixPiece)
            put9(b, q, frac)
            q += 9
            b[q++] = 0x5a
            if (json) b[q++] = 0x22
            break
          }
          case I64:
          case U64: {
            // Read as 32-bit halves (little-endian, as Arrow stores them): a value
            // within ±2^53 prints from a number, without allocating a BigInt.
            const h = i32[c]
            const hw = kd === U64 ? h[2 * j + 1] >>> 0 : h[2 * j + 1]
            if (json) b[q++] = 0x22
            if (hw >= -0x200000 && hw < 0x200000) q = putInt(b, q, hw * 4294967296 + (h[2 * j] >>> 0))
            else q = putAscii(b, q, kd === U64 ? String(BigInt.asUintN(64, bigs[c][j])) : String(bigs[c][j]))
            if (json) b[q++] = 0x22
            break
          }
          case I32:
            q = putInt(b, q, i32[c][j])
            break
          case I8:
            q = putInt(b, q, i8[c][j])
            break
          case F32: {
            const bits = i32[c][j]
            SCRATCH_I32[0] = bits
            const v = SCRATCH_F32[0]
            // JSON: the row formatter's Number(text) of a non-finite value serialises as null (key kept)
            q = json && !Number.isFinite(v) ? putAscii(b, q, 'null') : putFloat32(b, q, bits, v)
            break
          }
          case F64: {
            const h = i32[c]
            SCRATCH_I32[0] = h[2 * j]
            SCRATCH_I32[1] = h[2 * j + 1]
            const v = SCRATCH_F64[0]
            q = putAscii(b, q, json && !Number.isFinite(v) ? 'null' : String(v))
            break
          }
          case BOOL:
            q = putAscii(b, q, ((i8[c][j >> 3] >> (j & 7)) & 1) === 1 ? 'true' : 'false')
            break
        }
      }
      if (json) b[q++] = 0x7d
      else for (let i = tailCommas; i > 0; i--) b[q++] = 0x2c
      b[q++] = 0x0a
    }
    out.p = q
  }
  if (n > 0) lastBytesPerRow[mode] = Math.ceil(out.p / n)
  return out.b.subarray(0, out.p)
}
/** The selected rows of a batch (all when `idx` is null) as NDJSON lines, UTF-8: the same text as ndjsonLine. */
export function ndjsonBytes(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[]): Buffer {
  return formatBytes(batch, idx, cols, true)
}

/** The selected rows of a batch as CSV lines (no header), UTF-8: the same text as csvLine. */
export function csvBytes(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[]): Buffer {
  return formatBytes(batch, idx, cols, false)
}

/** ndjsonBytes as a string. */
export function formatBatchNdjson(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[]): string {
  return ndjsonBytes(batch, idx, cols).toString('utf8')
}

/** csvBytes as a string. */
export function formatBatchCsv(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[]): string {
  return csvBytes(batch, idx, cols).toString('utf8')
}

/** The selected rows of a batch as display cells (what TableFormatter prints): one string array per row. */
export function batchDisplayCells(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[]): string[][] {
  const n = idx ? idx.length : batch.numRows
  const cells = cols.map((c) => columnCells(batch.getChildAt(childIndex(batch, c.name))!, c, idx, 0, n, 'display'))
  const rows: string[][] = new Array(n)
  for (let k = 0; k < n; k++) rows[k] = cells.map((col) => col[k] ?? '')
  return rows
}
