/**
 * The one rewrite path: read the batches of one or more recordings (with an
 * optional time range and symbol filter) and write them as a closed format-
 * version-2 recording, under a temporary name renamed to the output only
 * when complete. Compaction (on close, and `compactRecording`), `slice` and
 * `verify --repair` all write through {@link rewrite}.
 *
 * It sits above the reader and the writer: the writer (store/writer.ts)
 * imports no reading code and reaches compaction here only when a file is
 * closed.
 */
import * as A from 'apache-arrow'

import {MdrecError} from '../errors.js'
import {nsToIso} from '../util/time.js'
import {commitPartial, discardPartial, partialPath, removeStalePartials} from './atomic.js'
import {nullColumnsOf} from './absent.js'
import {BadMessage, BatchDecoder} from './ipc.js'
import {SymbolsSeen} from './inputs.js'
import {mergeBatches} from './merge.js'
import {messageStream, openRecording, type RecordingFile} from './reader.js'
import {columnDefs} from './schema.js'
import {COL, FEED_COL0, type TimeUnitName} from './types.js'
import {RecordingWriter, logStaleRemoved, type WriterInit} from './writer.js'

export interface RewriteOptions {
  /** zstd level (default CLOSED_ZSTD_LEVEL). */
  zstdLevel?: number
  /** Rows per batch (default 65,536). */
  rows?: number
  /** Bytes per batch (default DEFAULT_BATCH_BYTES). */
  batchBytes?: number
  /** Cluster each batch's rows by symbol (default true; readers restore arrival order by `seq`). */
  cluster?: boolean
  /** The largest receive time (ns) of any row, when the caller knows it (the live writer); else the file's own end time, else counted. */
  endTime?: bigint
  /** The rows' receive times never decrease in arrival order, when the caller knows it (the live writer); else counted, or the file's own `mdrec.time_ordered`. */
  timeOrdered?: boolean
  /** Total rows, when the caller knows it; else counted while copying. */
  rows_total?: number
  /** Every dictionary value, when the caller knows them (the live writer); else read from the file (inputFacts). */
  dictionaries?: ReadonlyMap<string, readonly string[]>
  /** The columns (by name) with a value in some row, when the caller knows them (the live writer); else read from the file's batch metadata (inputFacts). */
  nonNull?: ReadonlySet<string>
  /** Status lines (stale temporaries of the output removed). */
  log?: (line: string) => void
}

/** What a counting pass over the selected rows found. */
export interface RewriteCount {
  rows: number
  /** The smallest and largest receive time (ns) of the selected rows; undefined when no row or not counted. */
  min?: bigint
  max?: bigint
  /** The selected rows' receive times never decrease in the order written (undefined: not known). */
  ordered?: boolean
  /** The symbols of `select.symbols` without a selected row (undefined: not counted). */
  missing?: string[]
}

export interface RewriteSpec extends Omit<RewriteOptions, 'rows_total' | 'endTime'> {
  /** The recordings to read, of one feed, ordered as one timeline (store/inputs.ts) and merged by receive time (store/merge.ts: a run's parts one after the other); the first one's schema and metadata are the output's. */
  inputs: readonly RecordingFile[]
  out: string
  /** Rows kept: [from, to) by receive time (ns) and these symbols (default every row). */
  select?: {from?: bigint; to?: bigint; symbols?: readonly string[]}
  /** 'keep' every row's `seq` (compaction, repair) or 'renumber' them from 0 (slice). */
  seq: 'keep' | 'renumber'
  /** Repair: copy the sound batches and stop quietly at the first damaged message (else its error is thrown). */
  tolerant?: boolean
  /**
   * The row count, when the caller knows it (the live writer, or a closed
   * file's metadata): no counting pass, and the copy must find exactly this
   * many rows (else E_CORRUPT). Without it the selection is counted first
   * (the schema, written first, carries it) and the copy stops at the rows
   * counted: a file still being recorded may grow in between.
   */
  known?: number
  /** Throw E_NO_ROWS, before anything is written, when the count is 0. */
  refuseEmpty?: boolean
  /** Replace an existing `out` (compaction); else E_EXISTS naming `flag` (default '--out'). */
  overwrite: boolean
  flag?: string
  /** The output's metadata, given the count (the input's metadata is `inputs[0].meta`). */
  meta: (count: RewriteCount) => WriterInit['meta']
}

export interface RewriteResult {
  bytes: number
  batches: number
  rows: number
  /** The symbols of `select.symbols` without a selected row. */
  missing: string[]
  /** Temporaries of `out` left by interrupted earlier runs, removed before writing. */
  staleRemoved: string[]
}

/**
 * Write the selected rows of `spec.inputs` to `spec.out` as a closed
 * recording: batches of `rows` rows or `batchBytes` (a single larger row is
 * a batch of its own), rows clustered by shape and symbol inside each batch, the IPC
 * file format with its footer, every dictionary complete from the first
 * batch. Streaming, in bounded memory: one input batch and one output batch
 * at a time, plus the dictionaries. Stale temporaries of `out` are removed
 * first (reported to `log`); the rows are written to `partialPath(out)`,
 * which is renamed to `out` when complete (see RewriteSpec.overwrite) and
 * removed on any error: a crash leaves `out` as it was. Throws the readers'
 * MdrecError for a damaged input (unless `tolerant`), E_NO_ROWS
 * (`refuseEmpty`), E_CORRUPT when the rows copied differ from the count,
 * E_EXISTS.
 */
export async function rewrite(spec: RewriteSpec): Promise<RewriteResult> {
  const {inputs, out} = spec
  const file = inputs[0]
  const staleRemoved = removeStalePartials(out)
  logStaleRemoved(staleRemoved, spec.log)
  const onTruncated = spec.tolerant ? 'stop' : 'error'
  // recycle: no batch is kept past the next one (appendBatch copies what it
  // keeps, or holds a view only until its next call: see ReadOptions.recycle)
  const read = {...spec.select, onTruncated, recycle: true} as const
  // several inputs are merged into one timeline by receive time (store/merge.ts)
  let count: RewriteCount = {rows: spec.known ?? 0, ordered: spec.timeOrdered}
  if (spec.known === undefined) {
    let rows = 0
    let min: bigint | undefined
    let max: bigint | undefined
    let last: bigint | undefined
    let ordered = true
    const seen = new SymbolsSeen(spec.select?.symbols)
    let at: unknown = null
    let t: A.Data | null = null
    for await (const {batch, idx} of mergeBatches(inputs, read)) {
      const n = idx ? idx.length : batch.numRows
      seen.add(batch, idx)
      // once per batch (a merge hands one out in several runs of rows)
      if (at !== batch) [at, t] = [batch, batch.getChildAt(COL.recv_ts)!.data[0]]
      const ts = t!.values as BigInt64Array
      for (let k = 0; k < n; k++) {
        const v = ts[t!.offset + (idx ? idx[k] : k)]
        if (last !== undefined && v < last) ordered = false
        last = v
        if (max === undefined || v > max) max = v
        if (min === undefined || v < min) min = v
      }
      rows += n
    }
    count = {rows, min, max, ordered, missing: seen.missing()}
  }
  if (count.rows === 0 && spec.refuseEmpty) {
    throw new MdrecError('E_NO_ROWS', `no rows selected from ${inputs.map((f) => f.path).join(', ')}; nothing written to ${out}`)
  }
  // after the count: this pass sees every batch the copy below reads (a live input only grows); not needed when the live writer told both
  const facts = spec.dictionaries && spec.nonNull ? null : await inputFacts(inputs)
  const dictionaries = spec.dictionaries ?? facts!.dictionaries
  const nonNull = spec.nonNull ?? facts!.nonNull
  // feed columns null in every row of every input are left out (docs/FORMAT.md "Columns null throughout")
  const defs = columnDefs(file.feedColumns)
  const nullColumns = nullColumnsOf(
    defs,
    new Set(defs.map((d) => d.name).filter((n) => !nonNull.has(n))),
    FEED_COL0,
  )
  const leftOut = nullColumns.map((c) => c.at)
  const tmp = partialPath(out)
  const w = RecordingWriter.create(
    tmp,
    {
      meta: {...spec.meta(count), nullColumns},
      exchTsUnit: (file.columns[COL.exch_ts] as {unit: TimeUnitName}).unit,
      columns: defs, // every column: the writer leaves out meta.nullColumns
    },
    {
      flushIntervalMs: 0,
      flushRows: spec.rows ?? 65_536,
      batchBytes: spec.batchBytes,
      zstdLevel: spec.zstdLevel,
      fsync: false,
      compactOnClose: false,
      // a closed format-v2 file, its dictionaries complete from the first batch (the IPC file format allows no replacement)
      closedFile: true,
      cluster: spec.cluster,
      dictionaries,
      name: out, // an error names the file the user gave, not its temporary
    },
  )
  try {
    const keepSeq = spec.seq === 'keep'
    // a count taken here bounds the copy (an input may grow meanwhile); a known one is checked after it
    let left = spec.known === undefined ? count.rows : Number.POSITIVE_INFINITY
    let checked: unknown = null
    for await (const {batch, idx} of mergeBatches(inputs, read)) {
      const n = idx ? idx.length : batch.numRows
      // once per batch (a merge hands one out in several runs of rows)
      if (checked !== batch) for (const k of leftOut) {
        const d = batch.getChildAt(k)!.data[0]
        // the pass above found these null throughout: a value here would be lost
        if (d.nullCount !== d.length) throw new MdrecError('E_CORRUPT', `${inputs.map((f) => f.path).join(', ')}: column ${file.columns[k].name} holds values its batch metadata says are null; the original is kept as it was`)
      }
      checked = batch
      if (n <= left) w.appendBatch(batch, idx, {keepSeq})
      else w.appendBatch(batch, (idx ?? Uint32Array.from({length: n}, (_, k) => k)).subarray(0, left), {keepSeq})
      left -= Math.min(n, left)
      if (left === 0) break
    }
    const stats = await w.close()
    if (stats.rows !== count.rows) {
      const what = inputs.map((f) => f.path).join(', ')
      throw new MdrecError('E_CORRUPT', `${what}: rewriting copied ${stats.rows} rows where the file says ${count.rows}; the original is kept as it was`)
    }
    commitPartial(tmp, out, spec.overwrite ? {overwrite: true} : {overwrite: false, flag: spec.flag ?? '--out'})
    return {bytes: stats.bytes, batches: stats.batches, rows: stats.rows, missing: count.missing ?? [], staleRemoved}
  } catch (error) {
    w.abort()
    discardPartial(tmp) // a partial rewrite is no recording: leave nothing behind
    throw error
  }
}

/**
 * Rewrite `path` as a closed format-version-2 recording (see {@link rewrite}):
 * large batches, rows clustered by shape and symbol, the IPC file format, end time and
 * row count in the metadata, every row's `seq` kept. Replaces `path`.
 * Returns the new file's size in bytes, its batch count and rows.
 */
export async function compactRecording(path: string, opts: RewriteOptions = {}): Promise<{bytes: number; batches: number; rows: number}> {
  return rewriteRecording(path, path, {...opts, overwrite: true})
}

/**
 * Rewrite `path` into `out` as a closed recording, every row's `seq` kept,
 * end time and row count added to the metadata (the end time: `endTime`,
 * else the largest receive time counted). `overwrite`: replace
 * `out` (compaction); else never over an existing file, E_EXISTS naming
 * `flag`. `tolerant` (repair): copy the sound batches and stop quietly at
 * the first damaged message, else its error is thrown.
 */
export async function rewriteRecording(
  path: string,
  out: string,
  opts: RewriteOptions & {overwrite: boolean; tolerant?: boolean; flag?: string},
): Promise<{bytes: number; batches: number; rows: number}> {
  const file = await openRecording(path)
  const stated = opts.tolerant ? undefined : (opts.rows_total ?? file.meta.rows)
  // The schema (written first) must carry the row count and end time: without them, count first. A file's
  // own end time is not taken: before mdrec.time_ordered existed, a slice of several files stored its last-written row's.
  const known = stated !== undefined && opts.endTime !== undefined ? stated : undefined
  const {rows_total: _, endTime, timeOrdered, ...rest} = opts
  const r = await rewrite({
    ...rest,
    inputs: [file],
    out,
    seq: 'keep',
    known,
    // known rows: the caller's order, else the file's own word
    timeOrdered: known === undefined ? undefined : (timeOrdered ?? file.meta.timeOrdered),
    meta: (c) => {
      const endNs = c.max !== undefined && (endTime === undefined || c.max > endTime) ? c.max : endTime
      return {...file.meta, endTime: endNs === undefined ? file.meta.endTime : nsToIso(endNs), rows: c.rows, timeOrdered: c.ordered}
    },
  })
  return {bytes: r.bytes, batches: r.batches, rows: r.rows}
}

/**
 * What the rewrite needs to know of its inputs before it writes the schema,
 * from one pass over their messages that reads no record batch body:
 * `dictionaries`, every value of each dictionary column (by column name) in
 * index order (the last dictionary batch of each id in each file: mdrec's
 * dictionaries only grow), merged over the files in order; `nonNull`, the
 * columns (by name) with a value in some row (a record batch's field node
 * states its null count). Stops quietly at a damaged message (what comes
 * after it is not copied anyway).
 */
export async function inputFacts(files: readonly RecordingFile[]): Promise<{dictionaries: Map<string, string[]>; nonNull: Set<string>}> {
  const out = new Map<string, string[]>()
  const seen = new Map<string, Set<string>>()
  const nonNull = new Set<string>()
  for (const file of files) {
    const stored = file.storedSchema
    const byId = new Map<number, string>()
    for (const f of stored.fields) if (A.DataType.isDictionary(f.type)) byId.set(f.type.id, f.name)
    // each top-level column's first field node (nodes list the fields depth first)
    const firstNode: number[] = []
    let nodes = 0
    const count = (t: A.DataType): number => 1 + (t.children ?? []).reduce((s, c) => s + count(c.type), 0)
    for (const f of stored.fields) {
      firstNode.push(nodes)
      nodes += count(f.type)
    }
    const decoder = new BatchDecoder(stored)
    try {
      // recordBodies: false: only dictionaries and metadata are wanted; reading every batch body too cost several batches of peak memory
      for await (const {framed, bytes} of messageStream(file.path, {recordBodies: false})) {
        if (framed.kind === 'dictionary' && framed.message) decoder.dictionary(framed.message, bytes.subarray(framed.metaLength))
        else if (framed.kind === 'record' && framed.message?.isRecordBatch()) {
          const h = framed.message.header()
          stored.fields.forEach((f, k) => {
            const node = h.nodes[firstNode[k]]
            // a missing node is the decoder's to report when the batch is read: count the column as holding values
            if (!node || node.nullCount < node.length) nonNull.add(f.name)
          })
        }
      }
    } catch (error) {
      if (!(error instanceof BadMessage)) throw error
    }
    for (const [id, vec] of decoder.dictionaries) {
      const name = byId.get(id)
      if (name === undefined) continue
      if (!out.has(name)) {
        out.set(name, [])
        seen.set(name, new Set())
      }
      const list = out.get(name)!
      const have = seen.get(name)!
      for (let k = 0; k < vec.length; k++) {
        const v = String(vec.get(k) ?? '')
        if (!have.has(v)) {
          have.add(v)
          list.push(v)
        }
      }
    }
  }
  return {dictionaries: out, nonNull}
}
