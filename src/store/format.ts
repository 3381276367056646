import type {RowView} from '../feeds/types.js'
import {nsToIso, toNs} from '../util/time.js'
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
    return this.cols.map((c) => {
      const s = displayValue(row, c) ?? ''
      return s.length > this.maxWidth ? `${s.slice(0, this.maxWidth - 1)}…` : s
    })
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
    const cells = this.cells(row)
    if (this.widths) return this.line(cells)
    this.pending.push(cells)
    return this.pending.length >= this.sample ? this.fix() : ''
  }
  /** Text still held back (call once at the end). */
  end(): string {
    return this.widths ? '' : this.fix()
  }
}
