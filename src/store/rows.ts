/**
 * The one row accessor: reading one record batch of a recording by batch row
 * index, column by column, straight from the Arrow buffers (no per-value
 * `Vector.get`). `cat`-like readers (readRows), the replay engine (which
 * extends it with its per-batch summary: src/replay/rows.ts) and the feeds'
 * row encoders all read rows through it.
 */
import * as A from 'apache-arrow'
import {makeVector} from 'apache-arrow'

import type {StoreColumn} from './schema.js'
import {COL, FEED_COL0, type RowKind, type RowView} from './types.js'

const UTF8 = new TextDecoder('utf-8')

type Getter = (i: number) => unknown

/** A list cell (arrow-js Vector of StructRows) as plain objects. */
export function listToPlain(v: A.Vector): unknown[] {
  const out: unknown[] = []
  for (const item of v) {
    const toJSON = item && typeof item === 'object' ? (item as {toJSON?: () => unknown}).toJSON : undefined
    out.push(typeof toJSON === 'function' ? toJSON.call(item) : item)
  }
  return out
}

/**
 * A timestamp's stored integer (in its column's unit) or null. Read from the
 * buffer because arrow-js's `get` turns timestamps into lossy ms numbers.
 */
export function timestampAt(data: A.Data, i: number): bigint | null {
  const j = data.offset + i
  const bm = data.nullBitmap
  if (data.nullCount > 0 && bm && bm.length > 0 && ((bm[j >> 3] >> (j & 7)) & 1) === 0) return null
  return (data.values as BigInt64Array)[j]
}

function validity(data: A.Data): ((i: number) => boolean) | null {
  const bm = data.nullBitmap
  if (!data.nullCount || !bm || bm.length === 0) return null
  const off = data.offset
  return (i) => {
    const j = off + i
    return ((bm[j >> 3] >> (j & 7)) & 1) === 1
  }
}

/** A reader for one plain column of a batch; returns undefined for null (`checkNulls` false: the caller checks the validity bitmap). */
function plainGetter(data: A.Data, type: Pick<StoreColumn & {kind: 'plain'}, 'type'>, checkNulls = true): Getter {
  const valid = checkNulls ? validity(data) : null
  const off = data.offset
  let get: Getter
  switch (type.type) {
    case 'utf8': {
      const offsets = data.valueOffsets as Int32Array
      const values = data.values as Uint8Array
      get = (i) => {
        const s = offsets[off + i]
        const e = offsets[off + i + 1]
        if (e - s <= 24) {
          // short strings (tickers, exchanges, currencies): ASCII fast path
          let str = ''
          for (let k = s; k < e; k++) {
            const c = values[k]
            if (c >= 0x80) return UTF8.decode(values.subarray(s, e))
            str += String.fromCharCode(c)
          }
          return str
        }
        return UTF8.decode(values.subarray(s, e))
      }
      break
    }
    case 'binary': {
      const offsets = data.valueOffsets as Int32Array
      const values = data.values as Uint8Array
      get = (i) => values.subarray(offsets[off + i], offsets[off + i + 1])
      break
    }
    case 'bool': {
      const values = data.values as Uint8Array
      get = (i) => {
        const j = off + i
        return ((values[j >> 3] >> (j & 7)) & 1) === 1
      }
      break
    }
    case 'list_struct_f64': {
      // rare and small (order book levels): arrow-js's own accessor is fine here
      const vec = makeVector(data)
      get = (i) => listToPlain(vec.get(i) as A.Vector)
      break
    }
    default: {
      const values = data.values as ArrayLike<number | bigint>
      get = (i) => values[off + i]
    }
  }
  if (!valid) return get
  return (i) => (valid(i) ? get(i) : undefined)
}

/** A reader for any column of a batch (plain, dictionary-encoded string, timestamp); undefined for null. */
function columnGetter(data: A.Data, col: StoreColumn, checkNulls = true): Getter {
  if (col.kind === 'plain') return plainGetter(data, col, checkNulls)
  const valid = checkNulls ? validity(data) : null
  const off = data.offset
  let get: Getter
  if (col.kind === 'dict') {
    const indices = data.values as Int32Array | Int8Array
    const dict = data.dictionary as A.Vector
    const cache: (string | undefined)[] = []
    get = (i) => {
      const k = indices[off + i]
      let v = cache[k]
      if (v === undefined) {
        v = (dict.get(k) as string | null) ?? ''
        cache[k] = v
      }
      return v
    }
  } else {
    const values = data.values as BigInt64Array
    get = (i) => values[off + i]
  }
  if (!valid) return get
  return (i) => (valid(i) ? get(i) : undefined)
}

/**
 * Read access to one record batch of a recording, by batch row index `i`
 * (0 ≤ i < batch.numRows), for the rows `idx` selects (null: all, in stored
 * order; readBatches yields the `idx` of arrival order and of the filters).
 * Built once per batch and reused per row; symbols and kinds are decoded once
 * per dictionary entry, other columns read straight from their buffers.
 * Times are bigint: `recv_ts` in ns, `exch_ts` in its column's unit.
 */
export class BatchRows {
  /** recv_ts of every batch row (ns), indexed by batch row. */
  readonly recv: BigInt64Array
  private readonly exch: A.Data
  private readonly exchValid: ((i: number) => boolean) | null
  protected readonly symIdx: Int32Array
  private readonly symDict: A.Vector
  private readonly symCache: (string | undefined)[] = []
  protected readonly kindIdx: Int8Array
  /** The kind dictionary's entries, decoded once. */
  protected readonly kindName: RowKind[]
  private readonly seqData: A.Data
  private readonly rawGet: Getter
  /** Whether any row of the batch keeps its recorded payload (false: {@link raw} is null for every row). */
  readonly hasRaw: boolean
  private readonly infoGet: Getter
  private readonly fieldNames: string[]
  private readonly fieldGets: Getter[]
  /** Per field column: its validity bitmap (null: no nulls in this batch) and its offset. */
  private readonly fieldNulls: (Uint8Array | null)[]
  private readonly fieldOffsets: number[]

  constructor(
    readonly batch: A.RecordBatch,
    /** The recording's feed columns (RecordingFile.feedColumns): batch child FEED_COL0 + j is feedColumns[j]. */
    feedColumns: readonly StoreColumn[],
    /** Selected batch rows (null: all). */
    readonly idx: Uint32Array | null = null,
  ) {
    const col = (c: number) => batch.getChildAt(c)!.data[0]
    const r = col(COL.recv_ts)
    this.recv = (r.values as BigInt64Array).subarray(r.offset, r.offset + r.length)
    this.exch = col(COL.exch_ts)
    this.exchValid = validity(this.exch)
    const s = col(COL.symbol)
    this.symIdx = (s.values as Int32Array).subarray(s.offset, s.offset + s.length)
    this.symDict = s.dictionary as A.Vector
    const k = col(COL.kind)
    this.kindIdx = (k.values as Int8Array).subarray(k.offset, k.offset + k.length)
    const kindDict = k.dictionary as A.Vector
    this.kindName = new Array<RowKind>(kindDict.length)
    for (let j = 0; j < kindDict.length; j++) this.kindName[j] = kindDict.get(j) as RowKind
    this.seqData = col(COL.seq)
    const raw = col(COL.raw)
    this.rawGet = plainGetter(raw, {type: 'binary'})
    this.hasRaw = raw.nullCount < raw.length
    this.infoGet = plainGetter(col(COL.info), {type: 'utf8'})
    // Only the columns with a value in this batch (a Yahoo equities batch has 15 of its 32 all null), each
    // with its validity bitmap checked inline in fields(): the per-frame cost of re-encoded replay.
    this.fieldNames = []
    this.fieldGets = []
    this.fieldNulls = []
    this.fieldOffsets = []
    feedColumns.forEach((c, j) => {
      const d = col(FEED_COL0 + j)
      if (d.length > 0 && d.nullCount === d.length) return
      this.fieldNames.push(c.name)
      this.fieldGets.push(columnGetter(d, c, false))
      const bm = d.nullCount > 0 && d.nullBitmap && d.nullBitmap.length > 0 ? d.nullBitmap : null
      this.fieldNulls.push(bm)
      this.fieldOffsets.push(d.offset)
    })
  }

  /** Number of entries in the symbol dictionary (indices of {@link symbolIndex}). */
  get symbolEntries(): number {
    return this.symDict.length
  }

  /** Symbol dictionary index of batch row i. */
  symbolIndex(i: number): number {
    return this.symIdx[i]
  }

  /** The symbol of dictionary entry `d`. */
  symbolOf(d: number): string {
    let s = this.symCache[d]
    if (s === undefined) {
      s = (this.symDict.get(d) as string | null) ?? ''
      this.symCache[d] = s
    }
    return s
  }

  /** Number of selected rows. */
  get length(): number {
    return this.idx ? this.idx.length : this.batch.numRows
  }

  /** Batch row index of the k-th selected row. */
  at(k: number): number {
    return this.idx ? this.idx[k] : k
  }

  private posOf: Int32Array | null = null
  /**
   * The batch row that arrived right after batch row `i` (or -1: none in this
   * batch). A closed (format v2) file stores a batch's rows clustered by
   * symbol, so rows that arrived together (one KIS frame's bundled records)
   * need not be neighbours in the batch: this walks arrival order.
   */
  nextInArrival(i: number): number {
    if (!this.idx) return i + 1 < this.batch.numRows ? i + 1 : -1
    if (!this.posOf) {
      this.posOf = new Int32Array(this.batch.numRows).fill(-1)
      for (let k = 0; k < this.idx.length; k++) this.posOf[this.idx[k]] = k
    }
    const k = this.posOf[i]
    return k >= 0 && k + 1 < this.idx.length ? this.idx[k + 1] : -1
  }

  /** recv_ts of batch row i (ns). */
  recvTs(i: number): bigint {
    return this.recv[i]
  }

  kind(i: number): RowKind {
    return this.kindName[this.kindIdx[i]]
  }

  symbol(i: number): string {
    return this.symbolOf(this.symIdx[i])
  }

  seq(i: number): bigint {
    return (this.seqData.values as BigUint64Array)[this.seqData.offset + i]
  }

  /** The recorded payload bytes, or null. A view into the batch: do not modify. */
  raw(i: number): Uint8Array | null {
    return (this.rawGet(i) as Uint8Array | undefined) ?? null
  }

  info(i: number): string | null {
    return (this.infoGet(i) as string | undefined) ?? null
  }

  /** exch_ts in the column's unit, or null. */
  exchTs(i: number): bigint | null {
    if (this.exchValid && !this.exchValid(i)) return null
    return (this.exch.values as BigInt64Array)[this.exch.offset + i]
  }

  /** The feed columns of row i that are not null, by name (a new object). */
  fields(i: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    const names = this.fieldNames
    const gets = this.fieldGets
    const nulls = this.fieldNulls
    const offs = this.fieldOffsets
    for (let c = 0; c < gets.length; c++) {
      const bm = nulls[c]
      if (bm !== null) {
        const j = offs[c] + i
        if (((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
      }
      const v = gets[c](i)
      if (v !== undefined) out[names[c]] = v
    }
    return out
  }

  /** Batch row i as the store's RowView (a new object; `raw` a view into the batch). */
  row(i: number): RowView {
    return {
      recv_ts: this.recv[i],
      exch_ts: this.exchTs(i),
      symbol: this.symbol(i),
      kind: this.kind(i),
      seq: this.seq(i),
      raw: this.raw(i),
      info: this.info(i),
      fields: this.fields(i),
    }
  }

  /** The same as {@link row} (the name generic row encoders use). */
  rowView(i: number): RowView {
    return this.row(i)
  }
}
