import * as A from 'apache-arrow'

import type {RowView, TimeUnitName} from '../feeds/types.js'
import {nsToIso, toNs} from '../util/time.js'
import {listToPlain} from './reader.js'
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
      this.hi = Number(BigInt.asIntN(32, start >> 32n))
      this.lo = Number(BigInt.asUintN(32, start))
      this.valid = true
      d = Number(frac)
    }
    return d * this.nsPerUnit
  }
}

/** A timestamp column's cells for the byte formatters: per row the second's prefix bytes (undefined: null) and the ns in it. */
interface IsoCells {
  prefix: (Uint8Array | undefined)[]
  frac: Float64Array
}

function isTimeColumn(col: StoreColumn): boolean {
  return col.name === 'recv_ts' || col.name === 'exch_ts'
}

function isoCells(vec: A.Vector, col: StoreColumn, idx: Uint32Array | null, lo: number, hi: number): IsoCells {
  const n = hi - lo
  const out: IsoCells = {prefix: new Array(n).fill(undefined), frac: new Float64Array(n)}
  const data = vec.data[0]
  const off = data.offset
  const bm = validity(data)
  const vals = data.values as BigInt64Array
  const halves = new Int32Array(vals.buffer, vals.byteOffset, vals.length * 2)
  const iso = new IsoFormatter(col.name === 'exch_ts' && col.kind === 'timestamp' ? col.unit : 'ns')
  for (let k = 0; k < n; k++) {
    const j = (idx ? idx[lo + k] : lo + k) + off
    if (bm && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
    out.frac[k] = iso.split(halves[2 * j + 1], halves[2 * j] >>> 0, vals, j)
    out.prefix[k] = iso.prefixBytes
  }
  return out
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
      const offs = data.valueOffsets as Int32Array
      const v = data.values as Uint8Array
      const buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
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
 * Rows formatted per window: the cells of a window are short-lived (they die
 * young, which keeps the garbage collector cheap) and each window's text is
 * joined into one flat string.
 */
const WINDOW = 1024

interface ColumnPlan {
  vec: A.Vector
  col: StoreColumn
  /** JSON: `"name":`; CSV: the commas before this column (runs of all-null columns collapse into them). */
  prefix: string
}

function plan(batch: A.RecordBatch, cols: readonly StoreColumn[], mode: 'json' | 'csv'): {plans: ColumnPlan[]; tail: string} {
  const plans: ColumnPlan[] = []
  let sep = ''
  for (let c = 0; c < cols.length; c++) {
    const vec = batch.getChildAt(childIndex(batch, cols[c].name))!
    const d = vec.data[0]
    if (mode === 'csv' && c > 0) sep += ','
    if (d.length > 0 && d.nullCount === d.length) continue // all null: no key (JSON), an empty cell (CSV)
    plans.push({vec, col: cols[c], prefix: mode === 'json' ? `${JSON.stringify(cols[c].name)}:` : sep})
    sep = ''
  }
  return {plans, tail: `${sep}\n`}
}

/**
 * Text appended as UTF-8 bytes to a growing buffer. Hand-written because the
 * alternatives cost more per piece than the piece: joining strings (rope
 * strings, then a flatten and a UTF-8 encode when written) or a native
 * `buf.write` call per short cell. A short ASCII string is copied by a loop;
 * longer ones, and any with other characters, by buf.write.
 */
class Utf8Sink {
  private buf: Buffer
  private pos = 0
  /** `hint`: the expected size in bytes (it grows as needed). */
  constructor(hint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(4096, hint))
  }
  add(s: string): void {
    const n = s.length
    this.room(3 * n)
    const b = this.buf
    const start = this.pos
    if (n > 12) {
      this.pos = start + b.write(s, start, 'utf8')
      return
    }
    let p = start
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) {
        this.pos = start + b.write(s, start, 'utf8')
        return
      }
      b[p++] = c
    }
    this.pos = p
  }
  private room(n: number): void {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + n))
      this.buf.copy(next, 0, 0, this.pos)
      this.buf = next
    }
  }
  addBytes(src: Uint8Array): void {
    const n = src.length
    this.room(n)
    const b = this.buf
    let p = this.pos
    for (let i = 0; i < n; i++) b[p++] = src[i]
    this.pos = p
  }
  /** An ISO time from its second's prefix bytes and its ns (0..999,999,999): 9 digits and `Z`, quoted for JSON. */
  addIso(prefix: Uint8Array, frac: number, quoted: boolean): void {
    this.room(prefix.length + 12)
    const b = this.buf
    let p = this.pos
    if (quoted) b[p++] = 0x22
    for (let i = 0; i < prefix.length; i++) b[p++] = prefix[i]
    for (let d = 8; d >= 0; d--) {
      const q = Math.floor(frac / 10)
      b[p + d] = 0x30 + (frac - q * 10)
      frac = q
    }
    p += 9
    b[p++] = 0x5a
    if (quoted) b[p++] = 0x22
    this.pos = p
  }
  /** The bytes written so far (the sink is spent). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos)
  }
}

/** The selected rows of a batch (all when `idx` is null) as NDJSON lines, UTF-8: the same text as ndjsonLine. */
export function ndjsonBytes(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[]): Buffer {
  const n = idx ? idx.length : batch.numRows
  const {plans} = plan(batch, cols, 'json')
  const prefixes = plans.map((p) => Buffer.from(p.prefix, 'utf8'))
  const commaPrefixes = plans.map((p) => Buffer.from(`,${p.prefix}`, 'utf8'))
  const time = plans.map((p) => isTimeColumn(p.col))
  const m = plans.length
  const out = new Utf8Sink(n * (m * 12 + 24))
  const open = Buffer.from('{')
  const close = Buffer.from('}\n')
  for (let lo = 0; lo < n; lo += WINDOW) {
    const hi = Math.min(n, lo + WINDOW)
    const cells = plans.map((p, c) => (time[c] ? null : columnCells(p.vec, p.col, idx, lo, hi, 'json')))
    const times = plans.map((p, c) => (time[c] ? isoCells(p.vec, p.col, idx, lo, hi) : null))
    for (let k = 0; k < hi - lo; k++) {
      let first = true
      out.addBytes(open)
      for (let c = 0; c < m; c++) {
        const t = times[c]
        if (t) {
          const pre = t.prefix[k]
          if (pre === undefined) continue
          out.addBytes(first ? prefixes[c] : commaPrefixes[c])
          out.addIso(pre, t.frac[k], true)
        } else {
          const v = cells[c]![k]
          if (v === undefined) continue
          out.addBytes(first ? prefixes[c] : commaPrefixes[c])
          out.add(v)
        }
        first = false
      }
      out.addBytes(close)
    }
  }
  return out.bytes()
}

/** The selected rows of a batch as CSV lines (no header), UTF-8: the same text as csvLine. */
export function csvBytes(batch: A.RecordBatch, idx: Uint32Array | null, cols: readonly StoreColumn[]): Buffer {
  const n = idx ? idx.length : batch.numRows
  const {plans, tail} = plan(batch, cols, 'csv')
  const prefixes = plans.map((p) => Buffer.from(p.prefix, 'utf8'))
  const tailBytes = Buffer.from(tail, 'utf8')
  const time = plans.map((p) => isTimeColumn(p.col))
  const m = plans.length
  const out = new Utf8Sink(n * (m * 8 + 16))
  for (let lo = 0; lo < n; lo += WINDOW) {
    const hi = Math.min(n, lo + WINDOW)
    const cells = plans.map((p, c) => (time[c] ? null : columnCells(p.vec, p.col, idx, lo, hi, 'csv')))
    const times = plans.map((p, c) => (time[c] ? isoCells(p.vec, p.col, idx, lo, hi) : null))
    for (let k = 0; k < hi - lo; k++) {
      for (let c = 0; c < m; c++) {
        out.addBytes(prefixes[c])
        const t = times[c]
        if (t) {
          const pre = t.prefix[k]
          if (pre !== undefined) out.addIso(pre, t.frac[k], false)
        } else {
          const v = cells[c]![k]
          if (v !== undefined) out.add(v)
        }
      }
      out.addBytes(tailBytes)
    }
  }
  return out.bytes()
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
