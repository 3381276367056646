/**
 * `mdrec export`: recordings → a Hive-partitioned Parquet dataset
 * (docs/DATASETS.md).
 *
 * Streaming: a recording is read batch by batch (src/store/reader.ts); the
 * rows not yet in the dataset are converted (src/dataset/convert.ts) and
 * held per partition until a step is full (`maxRows` rows or `maxBytes` of
 * converted buffers), then each partition's rows become one Parquet file
 * written by parquet-wasm (arrow-rs's writer; ZSTD). Memory is bounded by
 * one step, whatever the recording's size.
 *
 * Incremental and idempotent: rows are known by their run and `seq`; the
 * run's manifest (src/dataset/manifest.ts) says which seq ranges are
 * exported, and only the others are written. Every file is written under a
 * temporary name and renamed when complete (src/store/atomic.ts), and a step
 * a killed export left half-done is rolled back by the next export.
 */
import * as A from 'apache-arrow'
import {mkdirSync, statSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'

import {MdrecError, fsError} from '../errors.js'
import {removeStalePartials, writeAtomically} from '../store/atomic.js'
import {openInputs} from '../store/inputs.js'
import {readBatches, streamError, type RecordingFile, type StreamEnd} from '../store/reader.js'
import {COL} from '../store/types.js'
import {VERSION} from '../version.js'
import {batchBytes, datasetSchema, takeBatch} from './convert.js'
import {NS_PER_DAY, dataFileName, hostLabel, partitionDir, runKey} from './layout.js'
import {addRange, checkLayout, loadManifest, lockRun, parseRanges, rollBackPending, saveManifest, type RunManifest} from './manifest.js'

type ParquetWasm = typeof import('parquet-wasm')
let pq: ParquetWasm | null = null
/** parquet-wasm's Node build (loaded on first use: its WebAssembly module is 5 MB). */
function parquet(): ParquetWasm {
  pq ??= createRequire(import.meta.url)('parquet-wasm') as ParquetWasm
  return pq
}

export interface ExportOptions {
  /** Partition by symbol too (`feed=/date=/symbol=`); the `symbol` column then lives in the path only. */
  partitionBySymbol?: boolean
  /** Rows per export step (one file per partition per step); default 1,048,576. */
  maxRows?: number
  /** Converted bytes per export step; default 32 MiB. */
  maxBytes?: number
  /** Host name used in file names; default this machine's. */
  host?: string
  /** Progress lines (steps rolled back, stale temporaries removed, a recording still being written). */
  log?: (line: string) => void
  /** Called after each step is committed (tests, progress). */
  onStep?: (s: {run: string; rows: number; files: string[]}) => void
  signal?: AbortSignal
}

export interface ExportResult {
  out: string
  /** Recordings read. */
  inputs: number
  /** Rows written now, and rows skipped as already in the dataset. */
  rows: number
  skipped: number
  /** Data files written now (paths relative to `out`). */
  files: string[]
  /** Bytes of the files written now. */
  bytes: number
  /** Runs touched (run keys). */
  runs: string[]
  /** Inputs whose end is not a closed recording (still being written, or killed): their sound rows were exported. */
  incomplete: string[]
}

export const DEFAULT_MAX_ROWS = 1 << 20
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024

/** One partition's rows in the current step. */
interface Pending {
  dir: string
  batches: A.RecordBatch[]
}

/** The export of one run: its manifest and the step being gathered. */
class RunExport {
  readonly manifest: RunManifest
  private covered: {from: bigint[]; to: bigint[]}
  private parts = new Map<string, Pending>()
  private stepRows = 0
  private stepBytes = 0
  private first: bigint | null = null
  private last: bigint | null = null
  private file: RecordingFile | null = null
  private schema: A.Schema | null = null
  private drop: ReadonlySet<string>
  /** The last seq read from the current file (every seq, exported or not), to check they increase. */
  private lastSeen: bigint | null = null

  constructor(
    readonly root: string,
    readonly run: string,
    readonly feed: string,
    private readonly host: string,
    private readonly o: ExportOptions,
    private readonly result: ExportResult,
  ) {
    this.manifest = loadManifest(root, run, feed)
    const undone = rollBackPending(root, this.manifest)
    if (undone > 0) o.log?.(`run ${run}: removed ${undone} file(s) of an export step that did not finish`)
    this.covered = parseRanges(this.manifest.exported)
    this.drop = new Set(o.partitionBySymbol ? ['symbol'] : [])
  }

  /** Start reading `file` (one of this run's recordings). */
  begin(file: RecordingFile): void {
    this.file = file
    this.lastSeen = null
    const meta = new Map<string, string>()
    for (const [k, v] of file.schema.metadata) if (k.startsWith('mdrec.')) meta.set(k, v)
    meta.set('mdrec.export.version', VERSION)
    meta.set('mdrec.export.source', file.path.split(/[\\/]/).pop() ?? file.path)
    meta.set('mdrec.export.run', this.run)
    this.schema = datasetSchema(file.schema, file.columns, this.drop, meta)
    for (const [k, v] of meta) if (!k.startsWith('mdrec.export.')) this.manifest.metadata[k] = v
  }

  /**
   * Add the rows of `batch` not yet exported, walked in arrival order:
   * `order` is the `idx` readBatches yields (src/store/order.ts
   * arrivalOrder; null when the rows are stored in arrival order, as in v1
   * files and live streams; a closed v2 file stores them clustered by
   * symbol). Each partition's rows are taken in that order, so a data file
   * holds its rows in arrival order (ascending seq). Writes a step when it
   * is full. Throws E_CORRUPT when seq does not increase in arrival order.
   */
  add(batch: A.RecordBatch, order: Uint32Array | null = null): number {
    const file = this.file!
    const n = order ? order.length : batch.numRows
    const seq = batch.getChildAt(COL.seq)!.data[0].values as BigUint64Array
    const ts = batch.getChildAt(COL.recv_ts)!.data[0].values as BigInt64Array
    const symKeys = this.o.partitionBySymbol ? (batch.getChildAt(COL.symbol)!.data[0].values as Int32Array) : null
    const symDict = this.o.partitionBySymbol ? (batch.getChildAt(COL.symbol)!.data[0].dictionary as A.Vector<A.Utf8>) : null
    // group the new rows by partition, in arrival order
    const groups = new Map<string, {dir: string; idx: number[]}>()
    const {from, to} = this.covered
    let r = 0
    let skipped = 0
    for (let k = 0; k < n; k++) {
      const i = order ? order[k] : k
      const s = seq[i]
      if (this.lastSeen !== null && s <= this.lastSeen) {
        throw new MdrecError('E_CORRUPT', `${file.path}: seq ${s} after ${this.lastSeen}: rows are not in seq order, so the dataset cannot tell which are exported`)
      }
      this.lastSeen = s
      while (r < to.length && to[r] < s) r++
      if (r < from.length && from[r] <= s) {
        skipped++
        continue
      }
      const day = Number(ts[i] / NS_PER_DAY) - (ts[i] < 0n && ts[i] % NS_PER_DAY !== 0n ? 1 : 0)
      const sym = symKeys ? (symDict!.get(symKeys[i]) ?? '') : undefined
      const key = sym === undefined ? String(day) : `${day}\0${sym}`
      let g = groups.get(key)
      if (!g) groups.set(key, (g = {dir: partitionDir(this.feed, day, sym), idx: []}))
      g.idx.push(i)
      this.first ??= s
      this.last = s
    }
    this.result.skipped += skipped
    let added = 0
    for (const [key, g] of groups) {
      const out = takeBatch(batch, file.columns, this.drop, this.schema!, Uint32Array.from(g.idx))
      let p = this.parts.get(key)
      if (!p) this.parts.set(key, (p = {dir: g.dir, batches: []}))
      p.batches.push(out)
      this.stepRows += out.numRows
      this.stepBytes += batchBytes(out)
      added += out.numRows
    }
    if (this.stepRows >= (this.o.maxRows ?? DEFAULT_MAX_ROWS) || this.stepBytes >= (this.o.maxBytes ?? DEFAULT_MAX_BYTES)) this.flush()
    return added
  }

  /** Write the step's files and record its range (nothing when the step is empty). */
  flush(): void {
    if (this.first === null || this.last === null || this.parts.size === 0) {
      this.reset()
      return
    }
    const {root, manifest} = this
    const first = this.first
    const last = this.last
    const name = dataFileName(this.host, this.run, first, last)
    const files = [...this.parts.values()].map((p) => join(p.dir, name))
    manifest.pending = {seq: [first.toString(), last.toString()], files}
    saveManifest(root, manifest)
    const wasm = parquet()
    let bytes = 0
    for (const p of this.parts.values()) {
      const dir = join(root, p.dir)
      const final = join(dir, name)
      try {
        mkdirSync(dir, {recursive: true})
      } catch (error) {
        throw fsError(error, dir, 'creating a dataset partition')
      }
      removeStalePartials(final)
      const ipc = A.tableToIPC(new A.Table(p.batches), 'stream')
      p.batches = []
      const table = wasm.Table.fromIPCStream(ipc)
      const props = new wasm.WriterPropertiesBuilder()
        .setCompression(wasm.Compression.ZSTD) // parquet-wasm 0.8 takes the codec, not a level: arrow-rs's default ZSTD level (1)
        .setMaxRowGroupSize(this.o.maxRows ?? DEFAULT_MAX_ROWS)
        .setCreatedBy(`mdrec ${VERSION} (parquet-wasm)`)
        .setKeyValueMetadata(new Map([...this.schema!.metadata, ['mdrec.export.seq_first', first.toString()], ['mdrec.export.seq_last', last.toString()]]))
        .build()
      const out = wasm.writeParquet(table, props) // consumes table and props
      writeAtomically(final, out, 'writing a dataset file', {overwrite: true})
      bytes += out.byteLength
    }
    manifest.exported = addRange(manifest.exported, first, last)
    manifest.rows += this.stepRows
    manifest.files += files.length
    if (!manifest.hosts.includes(this.host)) manifest.hosts.push(this.host)
    manifest.pending = null
    saveManifest(root, manifest)
    this.covered = parseRanges(manifest.exported)
    this.result.rows += this.stepRows
    this.result.files.push(...files)
    this.result.bytes += bytes
    this.o.onStep?.({run: this.run, rows: this.stepRows, files})
    this.reset()
  }

  private reset(): void {
    this.parts = new Map()
    this.stepRows = 0
    this.stepBytes = 0
    this.first = null
    this.last = null
  }

  /** Save the latest metadata (a closed file brings `mdrec.end_time`). */
  finish(): void {
    this.flush()
    saveManifest(this.root, this.manifest)
  }
}

/**
 * Export recordings (files, directories, globs; see src/store/inputs.ts) into
 * the dataset at `out` (created when missing). Returns what was written.
 * Throws MdrecError: the inputs' open errors; E_EXISTS when another process
 * exports the same run now; E_TRUNCATED / E_CORRUPT for a damaged input
 * (after its sound rows are exported), a closed recording that was cut
 * included (its metadata has the end time a close writes); a file that
 * merely ends early — a recording still being written, or its recorder
 * killed — is exported up to its last whole batch and listed in
 * `incomplete`; E_IO for the dataset directory.
 */
export async function exportRecordings(inputs: readonly string[], out: string, o: ExportOptions = {}): Promise<ExportResult> {
  const files = await openInputs(inputs)
  return exportFiles(files, out, o)
}

/** exportRecordings for recordings already opened and ordered (openInputs). */
export async function exportFiles(files: readonly RecordingFile[], out: string, o: ExportOptions = {}): Promise<ExportResult> {
  let st
  try {
    st = statSync(out)
  } catch {
    st = null
  }
  if (st && !st.isDirectory()) throw new MdrecError('E_USAGE', `${out}: is not a directory; --out names the dataset's directory`)
  try {
    mkdirSync(out, {recursive: true})
  } catch (error) {
    throw fsError(error, out, 'creating the dataset directory')
  }
  checkLayout(out, o.partitionBySymbol ?? false)
  const host = hostLabel(o.host)
  const result: ExportResult = {out, inputs: files.length, rows: 0, skipped: 0, files: [], bytes: 0, runs: [], incomplete: []}
  // files of one run are consecutive (openInputs orders them by run and part)
  let i = 0
  while (i < files.length) {
    const run = runKey(files[i])
    let j = i
    while (j < files.length && runKey(files[j]) === run && files[j].meta.feed === files[i].meta.feed) j++
    const lock = lockRun(out, run)
    try {
      const ex = new RunExport(out, run, files[i].meta.feed, host, o, result)
      if (!result.runs.includes(run)) result.runs.push(run)
      for (const file of files.slice(i, j)) {
        if (o.signal?.aborted) break
        ex.begin(file)
        let end: StreamEnd | null = null
        for await (const {batch, idx} of readBatches(file, {onTruncated: 'stop', onEnd: (e) => (end = e), signal: o.signal})) ex.add(batch, idx)
        ex.flush()
        const e = end as StreamEnd | null
        if (e?.problem?.code === 'E_CORRUPT') throw streamError(file.path, e)
        // a close writes the end time into the metadata: a file that has it and ends early was cut, not left live
        if (e?.problem && file.meta.endTime !== undefined) throw streamError(file.path, e)
        // not closed: the walk ended early, or without an end marker in a file whose metadata lacks the end time a close writes
        if (e && (e.problem || (!e.eos && file.meta.endTime === undefined))) {
          result.incomplete.push(file.path)
          o.log?.(`${file.path}: not closed (still being written, or its recorder was killed): exported its ${e.rows} rows in whole batches; export again to add what comes later`)
        }
      }
      ex.finish()
    } finally {
      lock.release()
    }
    i = j
  }
  return result
}
