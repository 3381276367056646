import * as A from 'apache-arrow'

import {arrowField, type StoreColumn} from './schema.js'

/**
 * Column accumulators: rows go in one value at a time (recording) or as whole
 * Arrow column slices (slice/compact), and come out as Arrow `Data` for one
 * record batch. Written by hand rather than with arrow-js `Builder`s because
 * builders cost several times more per value on the recorder's hot path, and
 * because dictionaries must stay append-only across batches (stable indices;
 * a replacement dictionary is written when one grows — the only dictionary
 * update that polars, pyarrow and arrow-js all read in a stream).
 */
export interface Accumulator {
  readonly col: StoreColumn
  readonly length: number
  /**
   * Bytes every row adds to this column's Arrow buffers whatever its value
   * (value width, offset entry, validity counted as a whole byte: an upper bound).
   */
  readonly fixedRowBytes: number
  /** Variable-length bytes buffered since the last take (string/binary data, list items); 0 for fixed-width columns. */
  varBytes(): number
  /**
   * For variable-length columns: the bytes row `i` of `data` (a column of a
   * read batch) would add to varBytes() — how compaction and slice cut their
   * input at the byte bound without copying it first.
   */
  rowVarBytes?(data: A.Data): (i: number) => number
  /**
   * Binary columns: append `v` as the only row so far without copying it (the
   * caller writes the batch before `v` can change). Requires length === 0.
   */
  pushView?(v: Uint8Array): void
  /** Like rowVarBytes, for the contiguous rows [from, to) of `data`. */
  rangeVarBytes?(data: A.Data): (from: number, to: number) => number
  push(v: unknown): void
  /** Append rows `idx` (or all rows when null) of one column of a read batch. */
  pushFrom(data: A.Data, idx: Uint32Array | null): void
  /** Data for the rows since the last take; resets the accumulator (dictionaries keep their values). */
  take(): A.Data
  /**
   * Variable-length columns: the rows of `data` in the order `perm` (the
   * writer's clustering), their bytes copied into a buffer this accumulator
   * keeps and reuses from call to call (grown to exactly the largest batch
   * permuted): the result is valid until the next permute call. A fresh
   * buffer per batch, freed late by the garbage collector, left two or three
   * permuted batches of large payloads resident at once. Requires length === 0.
   */
  permute?(data: A.Data, perm: Uint32Array): A.Data
}

const TE = new TextEncoder()

/**
 * Where `idx` (n row indices, or null for rows 0..n-1) starts when it is one
 * contiguous ascending run, else -1. Selections are not always ascending: a
 * closed format-v2 file's rows are read in arrival order (store/order.ts),
 * a permutation of the stored order, and clustering permutes a batch.
 */
function runStart(idx: Uint32Array | null, n: number): number {
  if (!idx) return 0
  if (n === 0) return 0
  const first = idx[0]
  if (idx[n - 1] - first !== n - 1) return -1
  for (let k = 1; k < n; k++) if (idx[k] !== first + k) return -1
  return first
}

/** Variable-length data up to this size is copied out of its accumulator at a flush; larger data is handed over. */
const SMALL_VAR_BYTES = 1 << 20

function grow<T extends {length: number; set(a: ArrayLike<number | bigint>, o?: number): void}>(
  arr: T,
  need: number,
  make: (n: number) => T,
): T {
  if (need <= arr.length) return arr
  // Double (amortised appends), but never past what is needed by more than that:
  // one large value gets a buffer of its own size, not the next power of two.
  const n = Math.max(arr.length * 2, 1024, need)
  const next = make(n)
  next.set(arr as unknown as ArrayLike<number>)
  return next
}

class Validity {
  bytes = new Uint8Array(1024)
  nulls = 0
  set(i: number, valid: boolean): void {
    if (i >= this.bytes.length) this.bytes = grow(this.bytes, i + 1, (n) => new Uint8Array(n))
    this.bytes[i] = valid ? 1 : 0
    if (!valid) this.nulls++
  }
  /** Packed LSB-first bitmap for `len` rows, or undefined when no row is null. */
  take(len: number): {bitmap: Uint8Array | undefined; nullCount: number} {
    const nullCount = this.nulls
    this.nulls = 0
    if (nullCount === 0) return {bitmap: undefined, nullCount: 0}
    const bm = new Uint8Array(((len + 63) >> 6) << 3)
    const b = this.bytes
    for (let i = 0; i < len; i++) if (b[i]) bm[i >> 3] |= 1 << (i & 7)
    return {bitmap: bm, nullCount}
  }
}

function isValid(data: A.Data, i: number): boolean {
  const bm = data.nullBitmap
  if (!data.nullCount || !bm || bm.length === 0) return true
  const j = data.offset + i
  return ((bm[j >> 3] >> (j & 7)) & 1) === 1
}

const NUM_CTORS = {int8: Int8Array, int32: Int32Array, float32: Float32Array, float64: Float64Array} as const

type FixedArray = Float32Array | Float64Array | Int32Array | Int8Array | BigInt64Array | BigUint64Array

/**
 * Fixed-width values: one typed-array write and one validity byte per value.
 * Subclasses differ only in `push` (numbers vs bigints), kept apart so each
 * stays free of type branches on the recorder's hot path.
 */
abstract class FixedAcc<T extends FixedArray> implements Accumulator {
  length = 0
  protected values: T
  protected valid = new Uint8Array(1024)
  protected nulls = 0
  private readonly type: A.DataType
  readonly fixedRowBytes: number
  constructor(
    readonly col: StoreColumn,
    private readonly ctor: new (n: number) => T,
    private readonly zero: number | bigint,
  ) {
    this.values = new ctor(1024)
    this.type = arrowField(col).type
    this.fixedRowBytes = this.values.BYTES_PER_ELEMENT + 1
  }
  varBytes(): number {
    return 0
  }
  abstract push(v: unknown): void
  protected growTo(n: number): void {
    let cap = this.values.length * 2
    while (cap < n) cap *= 2
    const v = new this.ctor(cap)
    v.set(this.values as never)
    this.values = v
    const b = new Uint8Array(cap)
    b.set(this.valid)
    this.valid = b
  }
  pushFrom(data: A.Data, idx: Uint32Array | null): void {
    const src = data.values as T
    const n = idx ? idx.length : data.length
    const base = this.length
    if (base + n > this.values.length) this.growTo(base + n)
    const hasNulls = data.nullCount > 0
    const first = runStart(idx, n)
    if (first >= 0 && !hasNulls) {
      this.values.set(src.subarray(data.offset + first, data.offset + first + n) as never, base)
      this.valid.fill(1, base, base + n)
    } else {
      for (let k = 0; k < n; k++) {
        const i = idx ? idx[k] : k
        const ok = !hasNulls || isValid(data, i)
        this.valid[base + k] = ok ? 1 : 0
        if (!ok) this.nulls++
        this.values[base + k] = ok ? src[data.offset + i] : this.zero
      }
    }
    this.length += n
  }
  take(): A.Data {
    const len = this.length
    this.length = 0
    const nullCount = this.nulls
    this.nulls = 0
    return A.makeData({
      type: this.type as A.Int,
      length: len,
      nullCount,
      nullBitmap: nullCount ? packBits(this.valid, len) : undefined,
      data: this.values.slice(0, len) as unknown as Int32Array,
    })
  }
}

/** float32/64, int8/32 (number values). */
class NumAcc extends FixedAcc<Float32Array | Float64Array | Int32Array | Int8Array> {
  constructor(col: StoreColumn, ctor: new (n: number) => Float32Array | Float64Array | Int32Array | Int8Array) {
    super(col, ctor, 0)
  }
  push(v: unknown): void {
    const i = this.length++
    if (i >= this.values.length) this.growTo(i + 1)
    if (v === null || v === undefined) {
      this.valid[i] = 0
      this.values[i] = 0
      this.nulls++
    } else {
      this.valid[i] = 1
      this.values[i] = v as number
    }
  }
}

/** 64-bit integers and timestamps (bigint values). */
class BigAcc extends FixedAcc<BigInt64Array | BigUint64Array> {
  constructor(col: StoreColumn, ctor: new (n: number) => BigInt64Array | BigUint64Array) {
    super(col, ctor, 0n)
  }
  push(v: unknown): void {
    const i = this.length++
    if (i >= this.values.length) this.growTo(i + 1)
    if (v === null || v === undefined) {
      this.valid[i] = 0
      this.values[i] = 0n
      this.nulls++
    } else {
      this.valid[i] = 1
      this.values[i] = typeof v === 'bigint' ? v : BigInt(v as number)
    }
  }
}

/** LSB-first validity bitmap of `len` bytes of 0/1, padded to 8 bytes. */
function packBits(valid: Uint8Array, len: number): Uint8Array {
  const bm = new Uint8Array(((len + 63) >> 6) << 3)
  for (let i = 0; i < len; i++) if (valid[i]) bm[i >> 3] |= 1 << (i & 7)
  return bm
}

/** Booleans are bit-packed in Arrow; values are kept as bytes until `take`. */
class BoolAcc implements Accumulator {
  length = 0
  readonly fixedRowBytes = 2
  varBytes(): number {
    return 0
  }
  private values = new Uint8Array(1024)
  private readonly validity = new Validity()
  constructor(readonly col: StoreColumn) {}
  push(v: unknown): void {
    const i = this.length++
    if (i >= this.values.length) this.values = grow(this.values, i + 1, (n) => new Uint8Array(n))
    this.validity.set(i, v !== null && v !== undefined)
    this.values[i] = v ? 1 : 0
  }
  pushFrom(data: A.Data, idx: Uint32Array | null): void {
    const n = idx ? idx.length : data.length
    const bits = data.values as Uint8Array
    for (let k = 0; k < n; k++) {
      const i = idx ? idx[k] : k
      if (!isValid(data, i)) this.push(null)
      else {
        const j = data.offset + i
        this.push((bits[j >> 3] >> (j & 7)) & 1)
      }
    }
  }
  take(): A.Data {
    const len = this.length
    this.length = 0
    const {bitmap, nullCount} = this.validity.take(len)
    const packed = new Uint8Array(((len + 63) >> 6) << 3)
    for (let i = 0; i < len; i++) if (this.values[i]) packed[i >> 3] |= 1 << (i & 7)
    return A.makeData({type: new A.Bool(), length: len, nullCount, nullBitmap: bitmap, data: packed})
  }
}

class VarAcc implements Accumulator {
  length = 0
  readonly fixedRowBytes = 5
  varBytes(): number {
    return this.offsets[this.length]
  }
  rowVarBytes(data: A.Data): (i: number) => number {
    const off = data.valueOffsets as Int32Array
    const o = data.offset
    return (i) => off[o + i + 1] - off[o + i]
  }
  rangeVarBytes(data: A.Data): (from: number, to: number) => number {
    const off = data.valueOffsets as Int32Array
    const o = data.offset
    return (from, to) => off[o + to] - off[o + from]
  }
  private offsets = new Int32Array(1025)
  private bytes = new Uint8Array(16384)
  private readonly validity = new Validity()
  private readonly type: A.Utf8 | A.Binary
  constructor(
    readonly col: StoreColumn,
    utf8: boolean,
  ) {
    this.type = utf8 ? new A.Utf8() : new A.Binary()
  }
  /**
   * When set, the data of rows [0, length) is this view of a read batch's
   * column, not copied: compaction and slice pass a large run of payloads
   * through without holding it twice. Copied in as soon as another row comes.
   */
  private lent: Uint8Array | null = null
  /** Copy the lent view in, with room for `extra` more bytes. */
  private materialize(extra = 0): void {
    const lent = this.lent!
    this.lent = null
    if (lent.length + extra > this.bytes.length) this.bytes = new Uint8Array(lent.length + extra)
    this.bytes.set(lent, 0)
  }
  private reserve(extra: number): void {
    const need = this.offsets[this.length] + extra
    if (need > this.bytes.length) this.bytes = grow(this.bytes, need, (n) => new Uint8Array(n))
  }
  push(v: unknown): void {
    if (this.lent) this.materialize()
    const i = this.length
    if (i + 2 > this.offsets.length) this.offsets = grow(this.offsets, i + 2, (n) => new Int32Array(n))
    let end = this.offsets[i]
    if (v === null || v === undefined) {
      this.validity.set(i, false)
    } else if (typeof v === 'string') {
      this.validity.set(i, true)
      this.reserve(v.length * 3)
      // Short ASCII strings (exchange codes, symbols) are copied directly: a
      // TextEncoder call costs more than the copy for a few bytes.
      const n = v.length
      let k = 0
      if (n <= 32) {
        const b = this.bytes
        for (; k < n; k++) {
          const c = v.charCodeAt(k)
          if (c >= 0x80) break
          b[end + k] = c
        }
      }
      end += k === n ? n : TE.encodeInto(v, this.bytes.subarray(end)).written
    } else {
      const b = v as Uint8Array
      this.validity.set(i, true)
      this.reserve(b.length)
      this.bytes.set(b, end)
      end += b.length
    }
    this.offsets[i + 1] = end
    this.length = i + 1
  }
  pushView(v: Uint8Array): void {
    if (this.length !== 0 || this.lent) throw new Error(`${this.col.name}: pushView into a non-empty column`)
    this.validity.set(0, true)
    this.offsets[1] = v.length
    this.lent = v
    this.length = 1
  }
  pushFrom(data: A.Data, idx: Uint32Array | null): void {
    const n = idx ? idx.length : data.length
    const off = data.valueOffsets as Int32Array
    const src = data.values as Uint8Array
    const first = runStart(idx, n)
    if (this.length === 0 && !this.lent && first >= 0) {
      const o = data.offset + first
      const base = off[o]
      if (off[o + n] - base >= SMALL_VAR_BYTES) {
        if (n + 1 > this.offsets.length) this.offsets = grow(this.offsets, n + 1, (m) => new Int32Array(m))
        for (let k = 0; k < n; k++) {
          this.validity.set(k, isValid(data, first + k))
          this.offsets[k + 1] = off[o + k + 1] - base
        }
        this.lent = src.subarray(base, off[o + n])
        this.length = n
        return
      }
    }
    // Room for the whole selection at once: pushed row by row, the buffer
    // would double its way up and end as much as twice the bytes it holds (a
    // batch of large payloads permuted by clustering cost 2-3 batches more).
    let total = 0
    for (let k = 0; k < n; k++) {
      const i = data.offset + (idx ? idx[k] : k)
      total += off[i + 1] - off[i]
    }
    if (this.lent) this.materialize(total)
    else this.reserve(total)
    for (let k = 0; k < n; k++) {
      const i = idx ? idx[k] : k
      if (!isValid(data, i)) this.push(null)
      else this.push(src.subarray(off[data.offset + i], off[data.offset + i + 1]))
    }
  }
  /** Reused by permute (see Accumulator.permute). */
  private scratch = new Uint8Array(0)
  permute(data: A.Data, perm: Uint32Array): A.Data {
    if (this.length !== 0 || this.lent) throw new Error(`${this.col.name}: permute into a non-empty column`)
    const keep = this.bytes
    this.bytes = this.scratch
    try {
      this.pushFrom(data, perm)
      return this.take(true)
    } finally {
      this.scratch = this.bytes
      this.bytes = keep
    }
  }
  /** `keepBuffer`: the data views this.bytes, which stays (permute's scratch). */
  take(keepBuffer = false): A.Data {
    const len = this.length
    this.length = 0
    const {bitmap, nullCount} = this.validity.take(len)
    const offsets = this.offsets.slice(0, len + 1)
    const used = offsets[len]
    let data: Uint8Array
    if (this.lent) {
      data = this.lent
      this.lent = null
    } else if (used > SMALL_VAR_BYTES) {
      // Hand the buffer itself to the batch instead of copying it (a batch of
      // large payloads would otherwise be in memory twice), and start the next
      // batch with a fresh small buffer.
      data = this.bytes.subarray(0, used)
      if (!keepBuffer) this.bytes = new Uint8Array(16384)
    } else {
      data = this.bytes.slice(0, used)
    }
    this.offsets[0] = 0
    return A.makeData({type: this.type as A.Utf8, length: len, nullCount, nullBitmap: bitmap, valueOffsets: offsets, data})
  }
}

/**
 * Dictionary-encoded utf8 with an append-only dictionary: an index, once
 * given, means the same string for the rest of the file.
 */
export class DictAcc implements Accumulator {
  length = 0
  readonly fixedRowBytes: number
  varBytes(): number {
    return 0
  }
  /**
   * Make the next take() carry a new dictionary object, so the encoder writes
   * the dictionary again: after a batch failed to reach the file, the
   * dictionary it carried may be missing from it.
   */
  rewriteDictionary(): void {
    this.dict = null
  }
  private indices: Int8Array | Int32Array
  private readonly lookup = new Map<string, number>()
  readonly values: string[] = []
  private dict: A.Vector<A.Utf8> | null = null
  private readonly type: A.Dictionary
  constructor(readonly col: StoreColumn & {kind: 'dict'}) {
    this.indices = col.indexBits === 8 ? new Int8Array(1024) : new Int32Array(1024)
    this.fixedRowBytes = (col.indexBits === 8 ? 1 : 4) + 1
    this.type = arrowField(col).type as A.Dictionary
    for (const s of col.fixed ?? []) this.indexOf(s)
  }
  indexOf(s: string): number {
    let k = this.lookup.get(s)
    if (k === undefined) {
      if (this.col.fixed && this.values.length >= this.col.fixed.length) throw new Error(`${this.col.name}: unknown value ${s}`)
      k = this.values.length
      if (this.col.indexBits === 8 && k > 127) throw new Error(`${this.col.name}: more than 128 distinct values`)
      this.values.push(s)
      this.lookup.set(s, k)
      this.dict = null
    }
    return k
  }
  private lastValue: string | null = null
  private lastIndex = 0
  private readonly validity = new Validity()
  push(v: unknown): void {
    const i = this.length++
    if (i >= this.indices.length) {
      const C = this.col.indexBits === 8 ? Int8Array : Int32Array
      this.indices = grow(this.indices, i + 1, (n) => new C(n))
    }
    if (v === null || v === undefined) {
      if (!this.col.nullable) throw new Error(`${this.col.name}: null in a non-nullable column`)
      this.validity.set(i, false)
      this.indices[i] = 0
      return
    }
    this.validity.set(i, true)
    // consecutive rows often repeat a value: skip the map lookup then
    if (v === this.lastValue) this.indices[i] = this.lastIndex
    else {
      const k = this.indexOf(v as string)
      this.lastValue = v as string
      this.lastIndex = k
      this.indices[i] = k
    }
  }
  pushFrom(data: A.Data, idx: Uint32Array | null): void {
    const dict = data.dictionary as A.Vector<A.Utf8>
    const src = data.values as Int32Array | Int8Array
    // Map the source file's dictionary into ours once per batch, not per row.
    const map = new Int32Array(dict.length)
    for (let k = 0; k < dict.length; k++) map[k] = this.indexOf(dict.get(k) ?? '')
    const n = idx ? idx.length : data.length
    for (let k = 0; k < n; k++) {
      const i = idx ? idx[k] : k
      const j = this.length++
      if (j >= this.indices.length) {
        const C = this.col.indexBits === 8 ? Int8Array : Int32Array
        this.indices = grow(this.indices, j + 1, (m) => new C(m))
      }
      const ok = isValid(data, i)
      this.validity.set(j, ok)
      this.indices[j] = ok ? map[src[data.offset + i]] : 0
    }
  }
  take(): A.Data {
    const len = this.length
    this.length = 0
    // A new Vector object only when the dictionary grew: arrow-js writes a
    // dictionary message exactly when the vector differs from the last one.
    if (!this.dict) this.dict = A.vectorFromArray(this.values, new A.Utf8())
    const {bitmap, nullCount} = this.validity.take(len)
    return A.makeData({type: this.type, length: len, nullCount, nullBitmap: bitmap, data: this.indices.slice(0, len), dictionary: this.dict})
  }
}

/**
 * list<struct<f: float64, …>>: order book levels. Offsets per row; one
 * float64 child per struct field (null when an item lacks the field).
 */
class ListStructAcc implements Accumulator {
  length = 0
  readonly fixedRowBytes = 5
  /** Per list item: one float64 and one validity byte per struct field, plus the struct's own validity. */
  readonly itemBytes: number
  varBytes(): number {
    return this.items() * this.itemBytes
  }
  rowVarBytes(data: A.Data): (i: number) => number {
    const off = data.valueOffsets as Int32Array
    const o = data.offset
    const per = this.itemBytes
    return (i) => (off[o + i + 1] - off[o + i]) * per
  }
  rangeVarBytes(data: A.Data): (from: number, to: number) => number {
    const off = data.valueOffsets as Int32Array
    const o = data.offset
    const per = this.itemBytes
    return (from, to) => (off[o + to] - off[o + from]) * per
  }
  private offsets = new Int32Array(1025)
  private readonly validity = new Validity()
  private readonly fields: readonly string[]
  private readonly kids: NumAcc[]
  private readonly type: A.List
  constructor(readonly col: StoreColumn & {kind: 'plain'}) {
    this.fields = col.fields ?? []
    this.itemBytes = 9 * this.fields.length + 1
    this.type = arrowField(col).type as A.List
    this.kids = this.fields.map((f) => new NumAcc({name: f, kind: 'plain', type: 'float64', nullable: true}, Float64Array))
  }
  private items(): number {
    return this.offsets[this.length]
  }
  private endRow(valid: boolean): void {
    const i = this.length
    if (i + 2 > this.offsets.length) this.offsets = grow(this.offsets, i + 2, (n) => new Int32Array(n))
    this.validity.set(i, valid)
    this.offsets[i + 1] = this.kids.length ? this.kids[0].length : 0
    this.length = i + 1
  }
  push(v: unknown): void {
    if (Array.isArray(v)) {
      for (const item of v as Array<Record<string, unknown> | null>) {
        for (let k = 0; k < this.fields.length; k++) {
          const x = item?.[this.fields[k]]
          this.kids[k].push(typeof x === 'number' ? x : null)
        }
      }
      this.endRow(true)
    } else this.endRow(false)
  }
  pushFrom(data: A.Data, idx: Uint32Array | null): void {
    const off = data.valueOffsets as Int32Array
    const struct = data.children[0]
    const n = idx ? idx.length : data.length
    for (let k = 0; k < n; k++) {
      const i = idx ? idx[k] : k
      if (!isValid(data, i)) {
        this.endRow(false)
        continue
      }
      const s = off[data.offset + i]
      const e = off[data.offset + i + 1]
      if (e > s) {
        const sel = Uint32Array.from({length: e - s}, (_, j) => s + j)
        this.fields.forEach((_, f) => this.kids[f].pushFrom(struct.children[f], sel))
      }
      this.endRow(true)
    }
  }
  take(): A.Data {
    const len = this.length
    const items = this.items()
    this.length = 0
    const {bitmap, nullCount} = this.validity.take(len)
    const offsets = this.offsets.slice(0, len + 1)
    this.offsets[0] = 0
    const children = this.kids.map((k) => k.take())
    const structType = this.type.children[0].type as A.Struct
    const struct = A.makeData({type: structType, length: items, nullCount: 0, children})
    return A.makeData({type: this.type, length: len, nullCount, nullBitmap: bitmap, valueOffsets: offsets, child: struct})
  }
}

export function makeAccumulator(col: StoreColumn): Accumulator {
  if (col.kind === 'dict') return new DictAcc(col)
  if (col.kind === 'timestamp') return new BigAcc(col, BigInt64Array)
  const t = col.type
  if (t === 'utf8' || t === 'binary') return new VarAcc(col, t === 'utf8')
  if (t === 'list_struct_f64') return new ListStructAcc(col)
  if (t === 'bool') return new BoolAcc(col)
  if (t === 'int64') return new BigAcc(col, BigInt64Array)
  if (t === 'uint64') return new BigAcc(col, BigUint64Array)
  return new NumAcc(col, NUM_CTORS[t as keyof typeof NUM_CTORS])
}
