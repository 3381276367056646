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

function bit(bm: Uint8Array, j: number): boolean {
  return ((bm[j >> 3] >> (j & 7)) & 1) === 1
}

/** Validity of the selected rows: [bitmap, nullCount], or [empty, 0] when all are valid. */
function takeValidity(d: A.Data, idx: Uint32Array): [Uint8Array, number] {
  const bm = d.nullBitmap
  if (d.nullCount === 0 || !bm || bm.length === 0) return [new Uint8Array(0), 0]
  const out = new Uint8Array((idx.length + 7) >> 3)
  let nulls = 0
  for (let k = 0; k < idx.length; k++) {
    if (bit(bm, d.offset + idx[k])) out[k >> 3] |= 1 << (k & 7)
    else nulls++
  }
  return nulls === 0 ? [new Uint8Array(0), 0] : [out, nulls]
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
  const data = new Uint8Array(total)
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]
    data.set(src.subarray(offs[i], offs[i + 1]), valueOffsets[k])
  }
  return A.makeData({type, length: idx.length, nullCount, nullBitmap, valueOffsets, data} as never)
}

/** A dictionary column's selected rows as plain utf8. */
function takeDictAsUtf8(d: A.Data, idx: Uint32Array): A.Data {
  const dict = d.dictionary as A.Vector<A.Utf8>
  const words: Uint8Array[] = []
  for (const part of dict.data) {
    const offs = part.valueOffsets as Int32Array
    const bytes = part.values as Uint8Array
    for (let i = 0; i < part.length; i++) words.push(bytes.subarray(offs[i], offs[i + 1]))
  }
  const keys = d.values as Int32Array | Int8Array
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  const valueOffsets = new Int32Array(idx.length + 1)
  let total = 0
  for (let k = 0; k < idx.length; k++) {
    const isNull = nullCount > 0 && !bit(nullBitmap, k)
    if (!isNull) total += words[keys[idx[k]]].length
    valueOffsets[k + 1] = total
  }
  const data = new Uint8Array(total)
  for (let k = 0; k < idx.length; k++) if (valueOffsets[k + 1] > valueOffsets[k]) data.set(words[keys[idx[k]]], valueOffsets[k])
  return A.makeData({type: new A.Utf8(), length: idx.length, nullCount, nullBitmap, valueOffsets, data})
}

/** Fixed-width values (ints, floats, timestamps, with `scale` for timestamps). */
function takeFixed(type: A.DataType, d: A.Data, idx: Uint32Array, scale = 1n): A.Data {
  const src = d.values as ArrayLike<number | bigint> & {constructor: new (n: number) => never}
  const Ctor = (src as unknown as {constructor: new (n: number) => Int32Array | BigInt64Array}).constructor
  const out = new Ctor(idx.length)
  if (scale === 1n) for (let k = 0; k < idx.length; k++) out[k] = src[idx[k]] as never
  else {
    const s = src as unknown as BigInt64Array
    const o = out as BigInt64Array
    for (let k = 0; k < idx.length; k++) o[k] = s[idx[k]] * scale
  }
  const [nullBitmap, nullCount] = takeValidity(d, idx)
  return A.makeData({type, length: idx.length, nullCount, nullBitmap, data: out} as never)
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
