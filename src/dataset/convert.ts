/**
 * Turning a recording's record batches into the dataset's columns.
 *
 * The dataset keeps every column of the recording with a type every engine
 * reads the same way:
 *   - timestamps (`recv_ts`, `exch_ts`, whatever the recording's unit) become
 *     timestamp[ns, UTC] (exact: s, ms and µs values are multiplied);
 *   - dictionary strings (`symbol`, `kind`, the feeds' codes) become plain
 *     utf8 (Parquet dictionary-encodes them itself; an Arrow dictionary type
 *     would reach some engines as a categorical and others as a string);
 *   - everything else keeps its type: uint64 / int64 exact, order books
 *     list<struct<…: float64>>, `raw` binary.
 *
 * `takeBatch` copies the selected rows of one batch into new buffers. It is
 * hand-written because arrow-js has no `take`/cast kernel; the types it
 * handles are exactly the column kinds a recording may hold (see
 * `StoreColumn`), refused at open for anything else.
 */
import * as A from 'apache-arrow'

import type {StoreColumn} from '../store/schema.js'

const NS_PER: Record<string, bigint> = {s: 1_000_000_000n, ms: 1_000_000n, us: 1000n, ns: 1n}

/** The dataset type of a recording column. */
function outType(c: StoreColumn, f: A.Field): A.DataType {
  if (c.kind === 'timestamp') return new A.Timestamp(A.TimeUnit.NANOSECOND, 'UTC')
  if (c.kind === 'dict') return new A.Utf8()
  return f.type
}

/**
 * The dataset schema of a recording: its columns minus `drop` (a partition
 * column), with the types above. `metadata` becomes the schema's metadata.
 */
export function datasetSchema(schema: A.Schema, columns: readonly StoreColumn[], drop: ReadonlySet<string>, metadata: Map<string, string>): A.Schema {
  const fields: A.Field[] = []
  columns.forEach((c, k) => {
    if (drop.has(c.name)) return
    const f = schema.fields[k]
    fields.push(new A.Field(c.name, outType(c, f), c.kind === 'dict' ? true : f.nullable))
  })
  return new A.Schema(fields, metadata)
}

const POPCOUNT = Uint8Array.from({length: 256}, (_, b) => {
  let n = 0
  for (let x = b; x; x >>= 1) n += x & 1
  return n
})

function bit(bm: Uint8Array, j: number): boolean {
  return ((bm[j >> 3] >> (j & 7)) & 1) === 1
}

/** Validity of the selected rows: [bitmap, nullCount], or [empty, 0] when all are valid. */
function takeValidity(d: A.Data, idx: Uint32Array): [Uint8Array, number] {
  const bm = d.nullBitmap
  if (d.nullCount === 0 || !bm || bm.length === 0) return [new Uint8Array(0), 0]
  const out = new Uint8Array((idx.length + 7) >> 3)
  let nulls = 0
  const a = runStart(idx)
  if (a >= 0 && ((d.offset + a) & 7) === 0) {
    // a byte-aligned run: copy the bitmap's bytes, clear the bits past the end, count the nulls
    out.set(bm.subarray((d.offset + a) >> 3, ((d.offset + a) >> 3) + out.length))
    if (idx.length & 7) out[out.length - 1] &= (1 << (idx.length & 7)) - 1
    let valid = 0
    for (const b of out) valid += POPCOUNT[b]
    nulls = idx.length - valid
    return nulls === 0 ? [new Uint8Array(0), 0] : [out, nulls]
  }
  for (let k = 0; k < idx.length; k++) {
    if (bit(bm, d.offset + idx[k])) out[k >> 3] |= 1 << (k & 7)
    else nulls++
  }
  return nulls === 0 ? [new Uint8Array(0), 0] : [out, nulls]
}

/**
 * The first index when `idx` is an ascending run of consecutive rows
 * (idx[k] = idx[0] + k for every k: copied in bulk), else -1. Every index is
 * checked: a selection in arrival order is a permutation, and a permutation
 * of a run has the run's first and last index at its ends often enough.
 */
function runStart(idx: Uint32Array): number {
  const n = idx.length
  if (n === 0 || idx[n - 1] - idx[0] !== n - 1) return -1
  const a = idx[0]
  for (let k = 1; k < n - 1; k++) if (idx[k] !== a + k) return -1
  return a
}

/**
 * Copy bytes [s, e) of `src` to `dst` at `at`: a loop for short values
 * (symbols, codes: a subarray per value would allocate), `set` for long ones.
 */
function copyBytes(src: Uint8Array, s: number, e: number, dst: Uint8Array, at: number): void {
  if (e - s > 64) dst.set(src.subarray(s, e), at)
  else for (let p = s; p < e; p++) dst[at++] = src[p]
}

/** Variable-length bytes (utf8/binary) of the selected rows. */
function takeVarBytes(type: A.Utf8 | A.Binary, d: A.Data, idx: Uint32Array): A.Data {
  const offs = d.valueOffsets as Int32Array
  const src = d.values as Uint8Array
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  const valueOffsets = new Int32Array(idx.length + 1)
  let total = 0
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]
    total += offs[i + 1] - offs[i]
    valueOffsets[k + 1] = total
  }
  const a = runStart(idx)
  const data = a >= 0 ? src.slice(offs[a], offs[a + idx.length]) : new Uint8Array(total)
  if (a < 0) for (let k = 0; k < idx.length; k++) copyBytes(src, offs[idx[k]], offs[idx[k] + 1], data, valueOffsets[k])
  return A.makeData({type, length: idx.length, nullCount, nullBitmap, valueOffsets, data} as never)
}

/** A dictionary column's selected rows as plain utf8. */
function takeDictAsUtf8(d: A.Data, idx: Uint32Array): A.Data {
  // the dictionary's words, concatenated (a replacement dictionary is one Data; a chunked one is joined)
  const dict = d.dictionary as A.Vector<A.Utf8>
  const wordOffs: number[] = [0]
  const parts: Uint8Array[] = []
  let size = 0
  for (const part of dict.data) {
    const offs = part.valueOffsets as Int32Array
    parts.push((part.values as Uint8Array).subarray(offs[0], offs[part.length]))
    for (let i = 1; i <= part.length; i++) wordOffs.push(size + offs[i] - offs[0])
    size += offs[part.length] - offs[0]
  }
  const words = new Uint8Array(size)
  let at = 0
  for (const p of parts) {
    words.set(p, at)
    at += p.length
  }
  const wo = Int32Array.from(wordOffs)
  const keys = d.values as Int32Array | Int8Array
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  const valueOffsets = new Int32Array(idx.length + 1)
  let total = 0
  for (let k = 0; k < idx.length; k++) {
    if (nullCount === 0 || bit(nullBitmap, k)) {
      const w = keys[idx[k]]
      total += wo[w + 1] - wo[w]
    }
    valueOffsets[k + 1] = total
  }
  const data = new Uint8Array(total)
  for (let k = 0; k < idx.length; k++) {
    if (valueOffsets[k + 1] === valueOffsets[k]) continue
    const w = keys[idx[k]]
    copyBytes(words, wo[w], wo[w + 1], data, valueOffsets[k])
  }
  return A.makeData({type: new A.Utf8(), length: idx.length, nullCount, nullBitmap, valueOffsets, data})
}

/**
 * `src[idx[k]] * scale` for every k, modulo 2^64 (exact for every timestamp
 * that fits in int64 ns), without BigInts: the value as four 16-bit limbs,
 * each times `scale` (< 2^30) exact in a double, with carries.
 */
function scale64(src: BigInt64Array, idx: Uint32Array, scale: number): BigInt64Array {
  const s32 = new Uint32Array(src.buffer, src.byteOffset, src.length * 2)
  const o32 = new Uint32Array(idx.length * 2)
  for (let k = 0; k < idx.length; k++) {
    const lo = s32[idx[k] * 2]
    const hi = s32[idx[k] * 2 + 1]
    let p = (lo & 0xffff) * scale
    const r0 = p % 65536
    p = (lo >>> 16) * scale + Math.floor(p / 65536)
    const r1 = p % 65536
    p = (hi & 0xffff) * scale + Math.floor(p / 65536)
    const r2 = p % 65536
    p = (hi >>> 16) * scale + Math.floor(p / 65536)
    const r3 = p % 65536
    o32[2 * k] = (r0 | (r1 << 16)) >>> 0
    o32[2 * k + 1] = (r2 | (r3 << 16)) >>> 0
  }
  return new BigInt64Array(o32.buffer)
}

/**
 * Fixed-width values (ints, floats, timestamps; `scale` multiplies a
 * timestamp into ns). 64-bit values are copied as pairs of 32-bit words:
 * reading a BigInt64Array element allocates a BigInt.
 */
function takeFixed(type: A.DataType, d: A.Data, idx: Uint32Array, scale = 1n): A.Data {
  const src = d.values as Int32Array | BigInt64Array
  const Ctor = src.constructor as new (n: number) => typeof src
  const n = idx.length
  const a = runStart(idx)
  let out: typeof src
  if (scale !== 1n) {
    out = scale64(src as BigInt64Array, idx, Number(scale))
  } else if (a >= 0) {
    out = src.slice(a, a + n)
  } else if (src.BYTES_PER_ELEMENT === 8) {
    const s32 = new Int32Array(src.buffer, src.byteOffset, src.length * 2)
    const o32 = new Int32Array(n * 2)
    for (let k = 0; k < n; k++) {
      const i = idx[k] * 2
      o32[2 * k] = s32[i]
      o32[2 * k + 1] = s32[i + 1]
    }
    out = new (Ctor as unknown as new (b: ArrayBuffer) => typeof src)(o32.buffer)
  } else {
    out = new Ctor(n)
    const o = out as Int32Array
    const s = src as Int32Array
    for (let k = 0; k < n; k++) o[k] = s[idx[k]]
  }
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  return A.makeData({type, length: n, nullCount, nullBitmap, data: out} as never)
}

function takeBool(d: A.Data, idx: Uint32Array): A.Data {
  const src = d.values as Uint8Array
  const out = new Uint8Array((idx.length + 7) >> 3)
  for (let k = 0; k < idx.length; k++) if (bit(src, d.offset + idx[k])) out[k >> 3] |= 1 << (k & 7)
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  return A.makeData({type: new A.Bool(), length: idx.length, nullCount, nullBitmap, data: out})
}

/** A list column's selected rows: new offsets, and the child rows they cover taken in order. */
function takeList(type: A.List, d: A.Data, idx: Uint32Array): A.Data {
  const offs = d.valueOffsets as Int32Array
  const valueOffsets = new Int32Array(idx.length + 1)
  let total = 0
  for (let k = 0; k < idx.length; k++) {
    total += offs[idx[k] + 1] - offs[idx[k]]
    valueOffsets[k + 1] = total
  }
  const childIdx = new Uint32Array(total)
  let c = 0
  for (let k = 0; k < idx.length; k++) for (let j = offs[idx[k]]; j < offs[idx[k] + 1]; j++) childIdx[c++] = j
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  const child = takePlain(type.children[0].type, d.children[0], childIdx)
  return A.makeData({type, length: idx.length, nullCount, nullBitmap, valueOffsets, child})
}

function takeStruct(type: A.Struct, d: A.Data, idx: Uint32Array): A.Data {
  const children = type.children.map((f, k) => takePlain(f.type, d.children[k], idx))
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  return A.makeData({type, length: idx.length, nullCount, nullBitmap, children})
}

function takePlain(type: A.DataType, d: A.Data, idx: Uint32Array): A.Data {
  if (A.DataType.isUtf8(type) || A.DataType.isBinary(type)) return takeVarBytes(type, d, idx)
  if (A.DataType.isBool(type)) return takeBool(d, idx)
  if (A.DataType.isList(type)) return takeList(type, d, idx)
  if (A.DataType.isStruct(type)) return takeStruct(type, d, idx)
  if (A.DataType.isInt(type) || A.DataType.isFloat(type)) return takeFixed(type, d, idx)
  throw new Error(`dataset export: column type ${String(type)} is not handled`)
}

/**
 * The rows `idx` of `batch` (a recording batch, every column a single Data
 * at offset 0 as the store's reader yields them) in the dataset's types,
 * as a batch of `schema` (from datasetSchema with the same `drop`).
 */
export function takeBatch(batch: A.RecordBatch, columns: readonly StoreColumn[], drop: ReadonlySet<string>, schema: A.Schema, idx: Uint32Array): A.RecordBatch {
  const children: A.Data[] = []
  columns.forEach((c, k) => {
    if (drop.has(c.name)) return
    const d = batch.getChildAt(k)!.data[0]
    if (c.kind === 'timestamp') children.push(takeFixed(new A.Timestamp(A.TimeUnit.NANOSECOND, 'UTC'), d, idx, NS_PER[c.unit]))
    else if (c.kind === 'dict') children.push(takeDictAsUtf8(d, idx))
    else children.push(takePlain(d.type, d, idx))
  })
  const data = A.makeData({type: new A.Struct(schema.fields), length: idx.length, nullCount: 0, children})
  return new A.RecordBatch(schema, data)
}

/** Uncompressed bytes of a converted batch's buffers (the memory bound of a pending file). */
export function batchBytes(batch: A.RecordBatch): number {
  return batch.data.byteLength
}
