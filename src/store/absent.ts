/**
 * Columns a closed file leaves out because they are null in every row
 * (`mdrec.null_columns`, docs/FORMAT.md "Columns null throughout"): the
 * readers put them back, all null, so every mdrec command (cat, replay,
 * export, slice, info) sees the feed's full column list whatever a file
 * stores.
 */
import * as A from 'apache-arrow'

import {arrowField, META, type NullColumn, type StoreColumn} from './schema.js'
import type {ColumnDef} from './types.js'

/** The full schema of a file that leaves out `absent` (positions in the full list), and the store columns of the added ones. */
export function fullSchema(stored: A.Schema, absent: readonly NullColumn[]): {schema: A.Schema; added: StoreColumn[]} {
  const fields = [...stored.fields]
  const added: StoreColumn[] = []
  for (const c of absent) {
    if (c.at > fields.length) throw new Error(`${META.nullColumns}: column ${c.name} at position ${c.at}, beyond the ${fields.length} columns before it`)
    if (fields.some((f) => f.name === c.name)) throw new Error(`${META.nullColumns}: column ${c.name} is also stored`)
    const col: StoreColumn =
      c.type === 'dict_utf8'
        ? {name: c.name, kind: 'dict', indexBits: 32, dictId: -1, nullable: true}
        : {name: c.name, kind: 'plain', type: c.type, nullable: true, ...(c.fields ? {fields: c.fields} : {})}
    fields.splice(c.at, 0, arrowField(col))
    added.push(col)
  }
  // An added dictionary column gets the id it has in the full list: mdrec's writer numbers the
  // dictionary columns in order (schema.ts storeColumns) and keeps those ids when it leaves some out.
  // (An id a stored column already uses is not taken twice.)
  const used = new Set(stored.dictionaries.keys())
  let next = 0
  fields.forEach((f, k) => {
    if (!A.DataType.isDictionary(f.type)) return
    const col = added.find((a) => a.name === f.name)
    if (!col || col.kind !== 'dict') {
      next = f.type.id + 1
      return
    }
    let id = next++
    if (used.has(id)) id = Math.max(...used) + 1
    used.add(id)
    col.dictId = id
    fields[k] = arrowField(col)
  })
  const metadata = new Map(stored.metadata)
  metadata.delete(META.nullColumns)
  return {schema: new A.Schema(fields, metadata), added}
}

/**
 * Which of `defs` (feed columns, FEED_COL0 onward in the full list) to leave
 * out: those in `nulls`, as NullColumns with their full-list positions.
 */
export function nullColumnsOf(defs: readonly ColumnDef[], nulls: ReadonlySet<string>, firstAt: number): NullColumn[] {
  const out: NullColumn[] = []
  defs.forEach((d, j) => {
    if (nulls.has(d.name)) out.push({at: firstAt + j, name: d.name, type: d.type, ...(d.fields ? {fields: d.fields} : {})})
  })
  return out
}

/** Zero bytes shared by every all-null column (read-only: nobody writes into a decoded batch). */
let zeroBuf = new ArrayBuffer(0)
function zeros(bytes: number): ArrayBuffer {
  if (zeroBuf.byteLength < bytes) zeroBuf = new ArrayBuffer(Math.max(bytes, 2 * zeroBuf.byteLength))
  return zeroBuf
}

/** An all-null column of `length` rows of `field`'s type (views of shared zero bytes). */
function nullData(type: A.DataType, length: number): A.Data {
  const bitmap = new Uint8Array(zeros((length + 7) >> 3), 0, (length + 7) >> 3)
  const base = {length, nullCount: length, nullBitmap: bitmap}
  const offsets = () => new Int32Array(zeros(4 * (length + 1)), 0, length + 1)
  if (A.DataType.isDictionary(type)) {
    const dictionary = new A.Vector([A.makeData({type: new A.Utf8(), length: 0, nullCount: 0, valueOffsets: new Int32Array(1), data: new Uint8Array(0)})])
    const Indices = type.indices.ArrayType as unknown as new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView
    return A.makeData({type, ...base, data: new Indices(zeros((type.indices.bitWidth / 8) * length), 0, length) as never, dictionary})
  }
  if (A.DataType.isUtf8(type) || A.DataType.isBinary(type)) return A.makeData({type, ...base, valueOffsets: offsets(), data: new Uint8Array(0)} as never)
  if (A.DataType.isList(type)) {
    const item = type.children[0].type as A.Struct
    const child = A.makeData({type: item, length: 0, nullCount: 0, children: item.children.map((f) => A.makeData({type: f.type as A.Float64, length: 0, nullCount: 0, data: new Float64Array(0)}))})
    return A.makeData({type, ...base, valueOffsets: offsets(), child} as never)
  }
  if (A.DataType.isBool(type)) return A.makeData({type, ...base, data: new Uint8Array(zeros((length + 7) >> 3), 0, (length + 7) >> 3)})
  const T = type as A.Int | A.Float
  const Values = T.ArrayType as unknown as new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView
  const width = (Values as unknown as {BYTES_PER_ELEMENT: number}).BYTES_PER_ELEMENT
  return A.makeData({type: T, ...base, data: new Values(zeros(width * length), 0, length)} as never)
}

/**
 * Puts a file's left-out columns back into each of its batches: the batch
 * read (stored columns) becomes one of the full schema, the added columns
 * all null. The null columns of the last row count are kept for the next
 * batch (a closed file's batches are mostly of one size).
 */
export class ColumnRestorer {
  private at: number[]
  private cachedLength = -1
  private cached: A.Data[] = []

  constructor(
    private readonly schema: A.Schema,
    absent: readonly NullColumn[],
  ) {
    this.at = absent.map((c) => c.at)
  }

  restore(batch: A.RecordBatch): A.RecordBatch {
    const n = batch.numRows
    if (n !== this.cachedLength) {
      this.cached = this.at.map((k) => nullData(this.schema.fields[k].type, n))
      this.cachedLength = n
    }
    const children: A.Data[] = []
    let s = 0
    let a = 0
    for (let k = 0; k < this.schema.fields.length; k++) {
      if (a < this.at.length && this.at[a] === k) children.push(this.cached[a++])
      else children.push(batch.data.children[s++])
    }
    return new A.RecordBatch(this.schema, A.makeData({type: new A.Struct(this.schema.fields), length: n, nullCount: 0, children}))
  }
}
