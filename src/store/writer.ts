import * as A from 'apache-arrow'
import {closeSync, fsyncSync, ftruncateSync, openSync, writeSync} from 'node:fs'
import {dirname} from 'node:path'

import {COL, COMMON_COLUMNS, FEED_COL0, type ColumnDef, type RowInput, type TimeUnitName} from './types.js'
import {MdrecError, fsError} from '../errors.js'
import {type Accumulator, DictAcc, makeAccumulator} from './columns.js'
import {DEFAULT_ZSTD_LEVEL, IpcStreamEncoder} from './ipc.js'
import {clusterOrder} from './order.js'
import type {RewriteOptions} from './rewrite.js'
import {FORMAT_VERSION, arrowSchema, storeColumns, type RecordingMeta, type StoreColumn} from './schema.js'

export type {RewriteOptions} from './rewrite.js'

/**
 * Default bound on one batch's uncompressed Arrow buffers (64 MiB). A batch
 * is cut at whichever comes first, this or the row bound; a single row larger
 * than it makes a batch of its own. It bounds what writing, compaction, slice
 * and reading hold in memory at once, and keeps every variable-length column
 * far from the 2 GiB that its int32 offsets can address.
 */
export const DEFAULT_BATCH_BYTES = 64 * 1024 * 1024

/**
 * The largest single value (a frame's payload in `raw`, an `info` text)
 * mdrec stores: 64 MiB, the WebSocket message limit of the recorder's
 * connection. The recorder keeps a larger frame as a `reject` row without its
 * payload; RecordingWriter.append refuses one with E_USAGE.
 */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024

/**
 * zstd level of closed recordings (compaction at close, slice, repair).
 * Measured on the busy Yahoo tape of bench/store (200,000 frames, rows
 * clustered by symbol), closed size against zstd-3 lines: level 3 0.766x,
 * 5 0.746x, 6 0.729x, 7 0.715x, 9 0.720x, 19 0.669x; compaction time was
 * the same within noise from 3 to 9, and 19 took several times longer.
 */
export const CLOSED_ZSTD_LEVEL = 7

/**
 * A closed file's batch smaller than this (rows and bytes; in practice a
 * file's last batch, or the one batch of a quiet recording) is compressed at
 * SMALL_BATCH_ZSTD_LEVEL: at most about a second of extra work per file, and
 * a short recording pays the most per row for its fixed costs.
 */
export const SMALL_BATCH_ROWS = 16_384
export const SMALL_BATCH_BYTES = 4 << 20
export const SMALL_BATCH_ZSTD_LEVEL = 19

export interface WriterOptions {
  /** Flush a batch at least this often while rows arrive (ms). Default 1000. */
  flushIntervalMs?: number
  /**
   * ...or as soon as this many rows are buffered. Default 65,536: a 4-byte
   * column's buffer is then 256 KiB, the largest input for which zstd picks
   * its small-input parameters, which compress tick columns best (measured
   * with bench/store: 20.8 B/row at 65,536 rows, 22.3 at 131,072).
   */
  flushRows?: number
  /**
   * ...or before the buffered rows' uncompressed Arrow buffers would pass this
   * many bytes (default DEFAULT_BATCH_BYTES, 64 MiB; a larger single row is a
   * batch of its own, as is a row whose `raw` is half of it or more). Also
   * the bound of compaction's and slice's batches.
   */
  batchBytes?: number
  /** zstd level. Default 3 (CLOSED_ZSTD_LEVEL for a closed file written by compaction, slice or repair). */
  zstdLevel?: number
  /**
   * Write a closed format-version-2 recording (compaction, slice, repair):
   * the Arrow IPC *file* format (magic, stream, footer) with each batch's
   * rows stored clustered by shape and symbol (store/order.ts clusterOrder;
   * readers restore arrival order by `seq`). Default false: the live layout, an
   * Arrow IPC stream in arrival order that can be read while it grows.
   */
  closedFile?: boolean
  /** With closedFile: cluster each batch's rows by shape and symbol (default true; false keeps arrival order). */
  cluster?: boolean
  /**
   * Every value of each dictionary column (by column name), in index order,
   * known before the first batch: the first batch then carries the complete
   * dictionaries and no batch needs a replacement dictionary, which the IPC
   * file format does not allow. Compaction and slice pass the input's.
   */
  dictionaries?: ReadonlyMap<string, readonly string[]>
  /** fsync after every batch (default true: a killed recorder loses at most one interval). */
  fsync?: boolean
  /**
   * On close, rewrite the file as large batches with its end time and row
   * count in the metadata (default true). A live file flushed every second
   * holds many small batches, which compress poorly and each carry metadata;
   * and the schema (written first) cannot learn the end time any other way.
   * The rewrite streams into a temporary file that replaces the original only
   * when complete, so a crash during it loses nothing.
   */
  compactOnClose?: boolean
  /** Rows per batch when compacting (default 65,536). */
  compactRows?: number
  /** `seq` of the first row (default 0): a rotated part continues its run's numbering. */
  firstSeq?: bigint
  /** Receives an error from a timed (background) flush; without it such an error is thrown from the timer. */
  onError?: (error: unknown) => void
  /** Status lines (stale temporaries removed by compaction). */
  log?: (line: string) => void
  /**
   * The path errors name (default: the path written). The rewrite path writes
   * a temporary (store/atomic.ts partialPath) and names the final file, the
   * one the user gave.
   */
  name?: string
}

export interface WriterStats {
  rows: number
  batches: number
  bytes: number
}

export interface WriterInit {
  meta: Omit<RecordingMeta, 'formatVersion'> & {formatVersion?: number}
  exchTsUnit: TimeUnitName
  columns: readonly ColumnDef[]
}

/**
 * The stream encoder, handing a batch back as its parts (metadata, each
 * buffer's prefix and body, padding) instead of one concatenated buffer: a
 * batch of large payloads is then written without being copied once more.
 */
class PartsEncoder extends IpcStreamEncoder {
  encodeParts(batch: A.RecordBatch): Uint8Array[] {
    this.write(batch)
    return this.takeParts()
  }
}

/** Parts up to this size are gathered into one write; larger ones are written as they are. */
const GATHER_BYTES = 1 << 20

/** Per column, fixed bytes not proportional to rows (the extra offset entry, bitmap padding): keeps the estimate an upper bound. */
const COLUMN_SLACK_BYTES = 16

/**
 * Appends rows to a recording: an Arrow IPC stream with ZSTD bodies, one
 * record batch per flush, each written with positioned writes and fsynced.
 * Never overwrites an existing file. Synchronous I/O on purpose: a batch is
 * bounded (one interval of ticks, at most `batchBytes`), and writing it before
 * returning keeps the file a valid prefix at every instant that matters.
 *
 * Every write goes to an explicit offset, the file's valid length: a batch
 * that fails halfway (disk full) is cut back off and the next batch (or the
 * end-of-stream marker) is written exactly where it began — no hole.
 */
export class RecordingWriter {
  readonly path: string
  /** The path errors name (WriterOptions.name). */
  private readonly name: string
  readonly columns: StoreColumn[]
  readonly schema: A.Schema
  private readonly accs: Accumulator[]
  /** Accumulators of variable-length columns (the only ones whose bytes per row vary). */
  private readonly varAccs: Accumulator[]
  private readonly dictAccs: DictAcc[]
  /** Columns (by name) that had a value in some row written so far: compaction leaves the others out (see RewriteOptions.nonNull). */
  private readonly withValues = new Set<string>()
  /** Bytes every row adds to the batch whatever its values, and the per-batch constant. */
  private readonly rowFixedBytes: number
  private readonly batchBaseBytes: number
  /** Pushes a row's feed fields into the feed accumulators (compiled per schema, see constructor). */
  private readonly pushFields: (f: Record<string, unknown> | null, accs: Accumulator[]) => void
  /** An upper bound of the variable bytes a row's feed fields add (compiled like pushFields). */
  private readonly fieldVarBytes: (f: Record<string, unknown> | null) => number
  private readonly encoder: PartsEncoder
  private fd: number | null
  private seq: bigint
  private pending = 0
  /** Batch bytes of the pending rows (see pendingBytes). */
  private bufferedBytes = 0
  private timer: NodeJS.Timeout | null = null
  private readonly opts: Required<Omit<WriterOptions, 'onError' | 'log' | 'dictionaries' | 'name'>> & Pick<WriterOptions, 'onError' | 'log'>
  private readonly meta: RecordingMeta
  /** The smallest and largest receive time appended (the file's span: docs/FORMAT.md), the last one, and whether they never decreased. */
  private minRecv: bigint | null = null
  private maxRecv = 0n
  private lastRecv: bigint | null = null
  private ordered = true
  /** The last batch appendBatch took, prepared (sourceOf). */
  private lastSource: {batch: A.RecordBatch; source: (A.Data | null)[]; sizers: Array<(i: number) => number>; rangeSizers: Array<(from: number, to: number) => number>; tsData: A.Data} | null = null
  readonly stats: WriterStats = {rows: 0, batches: 0, bytes: 0}
  private closed = false

  static create(path: string, init: WriterInit, options: WriterOptions = {}): RecordingWriter {
    return new RecordingWriter(path, init, options)
  }

  private constructor(path: string, init: WriterInit, options: WriterOptions) {
    this.path = path
    this.name = options.name ?? path
    this.opts = {
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      flushRows: options.flushRows ?? 65_536,
      batchBytes: options.batchBytes ?? DEFAULT_BATCH_BYTES,
      zstdLevel: options.zstdLevel ?? (options.closedFile ? CLOSED_ZSTD_LEVEL : DEFAULT_ZSTD_LEVEL),
      closedFile: options.closedFile ?? false,
      cluster: options.cluster ?? true,
      fsync: options.fsync ?? true,
      compactOnClose: options.compactOnClose ?? true,
      compactRows: options.compactRows ?? 65_536,
      firstSeq: options.firstSeq ?? 0n,
      onError: options.onError,
      log: options.log,
    }
    if (!(this.opts.batchBytes > 0) || !(this.opts.flushRows >= 1)) {
      throw new MdrecError('E_USAGE', `batchBytes (${this.opts.batchBytes}) and flushRows (${this.opts.flushRows}) must be positive`)
    }
    this.seq = this.opts.firstSeq
    // Every file mdrec writes is of the current format version, whatever its input's was (a
    // higher one is kept: tests write such files to check that readers refuse them).
    this.meta = {...init.meta, formatVersion: Math.max(init.meta.formatVersion ?? FORMAT_VERSION, FORMAT_VERSION)}
    // a closed file leaves out the columns null throughout (the rewrite path names them); the others keep the dictionary ids of the full list
    if (this.meta.nullColumns?.length && !this.opts.closedFile) {
      throw new MdrecError('E_USAGE', 'meta.nullColumns is for closed files (the rewrite path): a live recording stores every column')
    }
    const absent = new Set(this.meta.nullColumns?.map((c) => c.name))
    if ((COMMON_COLUMNS as readonly string[]).some((c) => absent.has(c))) throw new MdrecError('E_USAGE', 'meta.nullColumns names a common column: only feed columns are left out')
    this.columns = storeColumns(init.exchTsUnit, init.columns).filter((c) => !absent.has(c.name))
    this.schema = arrowSchema(this.columns, this.meta)
    this.accs = this.columns.map(makeAccumulator)
    this.varAccs = this.accs.filter((a) => a.rowVarBytes !== undefined)
    this.dictAccs = this.accs.filter((a): a is DictAcc => a instanceof DictAcc)
    for (const d of this.dictAccs) for (const v of options.dictionaries?.get(d.col.name) ?? []) d.indexOf(v)
    this.rowFixedBytes = this.accs.reduce((s, a) => s + a.fixedRowBytes, 0)
    this.batchBaseBytes = this.accs.length * COLUMN_SLACK_BYTES
    // One property read per column with the name as a constant: V8 caches each
    // site for the codec's (single) object shape, where a loop of f[name]
    // lookups is a megamorphic keyed load per value — most of the cost of a row.
    const body = this.accs
      .slice(FEED_COL0)
      .map((acc, k) => `a[${FEED_COL0 + k}].push(f === null ? null : f[${JSON.stringify(acc.col.name)}]);`)
      .join('\n')
    this.pushFields = new Function('f', 'a', body) as (f: Record<string, unknown> | null, accs: Accumulator[]) => void
    // Strings count 3 bytes a character (the most UTF-8 needs), so the estimate never falls short.
    const sizes = this.accs.slice(FEED_COL0).flatMap((acc) => {
      const c = acc.col
      const v = `f[${JSON.stringify(c.name)}]`
      if (c.kind !== 'plain') return []
      if (c.type === 'utf8') return [`(typeof ${v} === 'string' ? ${v}.length * 3 : 0)`]
      if (c.type === 'binary') return [`(${v} ? ${v}.length : 0)`]
      if (c.type === 'list_struct_f64') return [`(Array.isArray(${v}) ? ${v}.length * ${9 * (c.fields?.length ?? 0) + 1} : 0)`]
      return []
    })
    this.fieldVarBytes = new Function('f', `return f === null ? 0 : ${sizes.length ? sizes.join(' + ') : '0'}`) as (f: Record<string, unknown> | null) => number
    this.encoder = new PartsEncoder(this.opts.zstdLevel, this.opts.closedFile)
    try {
      // 'wx': fail if the path exists, never overwrite a recording.
      this.fd = openSync(path, 'wx')
    } catch (error) {
      const e = error as NodeJS.ErrnoException
      if (e.code === 'EEXIST') throw new MdrecError('E_EXISTS', `${this.name}: already exists; mdrec never overwrites a file. Choose another --out path`)
      if (e.code === 'ENOENT') throw new MdrecError('E_NOT_FOUND', `${this.name}: the directory ${dirname(this.name)} does not exist; create it or choose another --out path`)
      throw fsError(error, this.name, 'creating the recording')
    }
    this.writeParts([this.encoder.begin(this.schema)])
    if (this.opts.flushIntervalMs > 0 && Number.isFinite(this.opts.flushIntervalMs)) {
      this.timer = setInterval(() => {
        if (this.pending === 0) return
        try {
          this.flush()
        } catch (error) {
          if (!this.opts.onError) throw error
          this.opts.onError(error)
        }
      }, this.opts.flushIntervalMs)
      this.timer.unref()
    }
  }

  get rows(): number {
    return this.stats.rows + this.pending
  }

  /** The `seq` the next appended row gets (a rotated part's firstSeq). */
  get nextSeq(): bigint {
    return this.seq
  }

  /**
   * Uncompressed Arrow buffer bytes of the pending rows: an upper bound,
   * cheap enough to take after every row (a few reads per variable-length
   * column).
   */
  pendingBytes(): number {
    let n = this.batchBaseBytes + this.pending * this.rowFixedBytes
    for (const a of this.varAccs) n += a.varBytes()
    return n
  }

  /**
   * Append one row. Throws MdrecError on I/O failure (rows flushed before stay
   * readable), and E_USAGE for a `raw` or `info` value over MAX_FRAME_BYTES
   * (nothing of that row is written).
   */
  append(row: RowInput): void {
    if (this.closed) throw new MdrecError('E_INTERNAL', `${this.name}: append after close`)
    const rawLen = row.raw ? row.raw.length : 0
    const infoLen = row.info ? row.info.length : 0
    if (rawLen > MAX_FRAME_BYTES || infoLen > MAX_FRAME_BYTES) {
      throw new MdrecError(
        'E_USAGE',
        `${this.name}: a row value of ${Math.max(rawLen, infoLen)} bytes is larger than the largest value mdrec stores (${MAX_FRAME_BYTES} bytes); the row was not written`,
      )
    }
    // A payload of half the byte bound or more is a batch of its own, written
    // before append returns: then it need not be copied into the batch.
    const alone = rawLen >= this.opts.batchBytes / 2
    if (this.pending > 0) {
      // Cut before a row that would carry the batch past its byte bound.
      const est = this.rowFixedBytes + rawLen + infoLen * 3 + this.fieldVarBytes(row.fields)
      if (alone || this.bufferedBytes + est > this.opts.batchBytes) this.flush()
    }
    const a = this.accs
    a[COL.recv_ts].push(row.recv_ts)
    a[COL.exch_ts].push(row.exch_ts)
    a[COL.symbol].push(row.symbol)
    a[COL.kind].push(row.kind)
    a[COL.seq].push(this.seq++)
    const raw = a[COL.raw]
    if (alone && raw.pushView) raw.pushView(row.raw!)
    else raw.push(row.raw)
    a[COL.info].push(row.info)
    this.pushFields(row.fields, a)
    this.noteRecv(row.recv_ts)
    this.pending++
    this.bufferedBytes = this.pendingBytes()
    if (alone || this.pending >= this.opts.flushRows || this.bufferedBytes >= this.opts.batchBytes) this.flush()
  }

  /**
   * Append the selected rows of a batch read from a recording of the same
   * feed (slice, compact). Output batches are cut at the row bound and the
   * byte bound exactly; the input is split between them without copying it
   * first. `keepSeq` copies the input's `seq` (compaction) instead of numbering
   * the rows anew (slice).
   */
  appendBatch(batch: A.RecordBatch, idx: Uint32Array | null, opts: {keepSeq?: boolean} = {}): void {
    const n = idx ? idx.length : batch.numRows
    if (n === 0) return
    const {source, sizers, rangeSizers, tsData} = this.sourceOf(batch)
    const ts = tsData.values as BigInt64Array
    const at = (k: number) => (idx ? idx[k] : k)
    let k = 0
    while (k < n) {
      // Rows [k, k + m) go into the current batch.
      const rowRoom = this.opts.flushRows - this.pending
      let m = 0
      let bytes = this.pendingBytes()
      let full = false
      if (sizers.length === 0) {
        m = Math.min(n - k, rowRoom, Math.max(this.pending === 0 ? 1 : 0, Math.floor((this.opts.batchBytes - bytes) / this.rowFixedBytes)))
        full = m < n - k
      } else {
        if (!idx) {
          // Whole runs first: when all the rows that fit by count also fit by bytes, no per-row sizing.
          const cnt = Math.min(n - k, rowRoom)
          let rb = cnt * this.rowFixedBytes
          for (const s of rangeSizers) rb += s(k, k + cnt)
          if (bytes + rb <= this.opts.batchBytes) {
            m = cnt
            bytes += rb
          }
        }
        while (k + m < n && m < rowRoom) {
          const r = at(k + m)
          let rb = this.rowFixedBytes
          for (const s of sizers) rb += s(r)
          if (this.pending + m > 0 && bytes + rb > this.opts.batchBytes) {
            full = true
            break
          }
          bytes += rb
          m++
        }
      }
      if (m > 0) {
        const sel = idx ? idx.subarray(k, k + m) : m === n ? null : rangeIdx(k, m)
        for (const [c, acc] of this.accs.entries()) {
          const d = source[c]
          if (c === COL.seq && !(opts.keepSeq && d)) {
            for (let j = 0; j < m; j++) acc.push(this.seq++)
          } else if (d === null) {
            for (let j = 0; j < m; j++) acc.push(null)
          } else acc.pushFrom(d, sel)
        }
        if (opts.keepSeq) {
          const sd = source[COL.seq]
          if (sd) this.seq = (sd.values as BigUint64Array)[sd.offset + at(k + m - 1)] + 1n
        }
        for (let j = k; j < k + m; j++) this.noteRecv(ts[tsData.offset + at(j)])
        this.pending += m
        k += m
        this.bufferedBytes = this.pendingBytes()
      }
      if (full || this.pending >= this.opts.flushRows || this.bufferedBytes >= this.opts.batchBytes) this.flush()
    }
    // Holding half the byte bound already: cut here rather than keep it while
    // the next input batch is read (peak memory of compacting large payloads).
    if (this.bufferedBytes >= this.opts.batchBytes / 2) this.flush()
  }

  /** Write buffered rows as one record batch and fsync. */
  flush(): void {
    if (this.pending === 0 || this.fd === null) return
    const n = this.pending
    if (this.opts.closedFile) {
      const small = n < SMALL_BATCH_ROWS && this.bufferedBytes < SMALL_BATCH_BYTES
      this.encoder.useLevel(small ? Math.max(SMALL_BATCH_ZSTD_LEVEL, this.opts.zstdLevel) : this.opts.zstdLevel)
    }
    let children = this.accs.map((a) => a.take())
    this.pending = 0
    this.bufferedBytes = 0
    if (this.opts.closedFile && this.opts.cluster) {
      // Cluster the rows by shape and symbol (store/order.ts): each kind of message's and each instrument's values side by side compress far better.
      const perm = clusterOrder(children)
      if (perm) {
        children = children.map((d, c) => {
          const acc = this.accs[c]
          // permute: large payload columns into a reused buffer (the batch is written before flush returns)
          if (acc.permute) return acc.permute(d, perm)
          acc.pushFrom(d, perm)
          return acc.take()
        })
      }
    }
    for (let c = 0; c < children.length; c++) if (children[c].nullCount < n) this.withValues.add(this.columns[c].name)
    const data = A.makeData({type: new A.Struct(this.schema.fields), length: n, nullCount: 0, children})
    const batch = new A.RecordBatch(this.schema, data)
    const mark = this.encoder.mark()
    try {
      this.writeParts(this.encoder.encodeParts(batch))
    } catch (error) {
      this.encoder.rollback(mark)
      // The batch (and any dictionary written before it) is not in the file:
      // have the next batch carry every dictionary again.
      for (const d of this.dictAccs) d.rewriteDictionary()
      throw error
    }
    this.stats.rows += n
    this.stats.batches++
  }

  /**
   * Write `parts` (one batch, or the schema, or the end marker) at the file's
   * valid length, fsync, and only then count them valid. Small parts are
   * gathered into one write, large ones written from where they are.
   */
  private writeParts(parts: Uint8Array[]): void {
    if (this.fd === null) return
    const fd = this.fd
    const at = this.stats.bytes
    let pos = at
    // Positioned writes at the file's valid length: never where a failed write left the fd's cursor.
    const put = (b: Uint8Array) => {
      let off = 0
      while (off < b.byteLength) off += writeSync(fd, b, off, b.byteLength - off, pos + off)
      pos += b.byteLength
    }
    try {
      let group: Uint8Array[] = []
      let groupBytes = 0
      const putGroup = () => {
        if (group.length) put(group.length === 1 ? group[0] : Buffer.concat(group, groupBytes))
        group = []
        groupBytes = 0
      }
      for (const p of parts) {
        if (p.byteLength >= GATHER_BYTES) {
          putGroup()
          put(p)
        } else {
          group.push(p)
          groupBytes += p.byteLength
          if (groupBytes >= GATHER_BYTES) putGroup()
        }
      }
      putGroup()
      if (this.opts.fsync) fsyncSync(fd)
      this.stats.bytes = pos
    } catch (error) {
      // Cut a partly written batch back off so the file stays a valid prefix.
      try {
        ftruncateSync(fd, at)
        fsyncSync(fd)
      } catch {
        // the file keeps a partial tail; `mdrec verify --repair` cuts it
      }
      throw fsError(error, this.name, 'writing the recording')
    }
  }

  /**
   * A batch's columns as this writer's accumulators take them, and their
   * sizers: found once per batch, which a merge of several recordings
   * (store/merge.ts) hands to appendBatch in many short runs of rows.
   */
  private sourceOf(batch: A.RecordBatch) {
    if (this.lastSource?.batch === batch) return this.lastSource
    const byName = new Map(batch.schema.fields.map((f, i) => [f.name, i]))
    const source = this.accs.map((acc) => {
      const i = byName.get(acc.col.name)
      return i === undefined ? null : batch.getChildAt(i)!.data[0]
    })
    const sizers: Array<(i: number) => number> = []
    const rangeSizers: Array<(from: number, to: number) => number> = []
    for (const [k, acc] of this.accs.entries()) {
      const d = source[k]
      if (acc.rowVarBytes && acc.rangeVarBytes && d) {
        sizers.push(acc.rowVarBytes(d))
        rangeSizers.push(acc.rangeVarBytes(d))
      }
    }
    const tsData = batch.getChildAt(COL.recv_ts)!.data[0]
    return (this.lastSource = {batch, source, sizers, rangeSizers, tsData})
  }

  /** Flush, write the end-of-stream marker, close, and compact (see WriterOptions.compactOnClose). */
  async close(opts: {compact?: boolean} = {}): Promise<WriterStats> {
    if (this.closed) return this.stats
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    try {
      this.flush()
      // The end-of-stream marker; for a closed file also the footer.
      this.writeParts([this.encoder.end()])
    } finally {
      if (this.fd !== null) closeSync(this.fd)
      this.fd = null
    }
    if (opts.compact ?? this.opts.compactOnClose) {
      try {
        const c = await (await rewritePath()).compactRecording(this.path, {
          rows: this.opts.compactRows,
          dictionaries: new Map(this.dictAccs.map((d) => [d.col.name, d.values])),
          nonNull: this.withValues,
          batchBytes: this.opts.batchBytes,
          endTime: this.maxRecv,
          timeOrdered: this.ordered,
          rows_total: this.stats.rows,
          log: this.opts.log,
        })
        this.stats.bytes = c.bytes
        this.stats.batches = c.batches
      } catch (error) {
        const why = error instanceof MdrecError ? error.message : (error as Error).message
        throw new MdrecError('E_IO', `${this.path}: recorded and closed, but compacting it failed (${why}); the file is complete and readable as it is`, {cause: error})
      }
    }
    return this.stats
  }

  /** Close without flushing pending rows or compacting (second Ctrl-C): what was flushed stays readable. */
  abort(): void {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
  }

  /** The smallest and largest receive time of the rows appended (null, 0n: none yet), whatever order they came in. */
  get timeSpan(): {first: bigint | null; last: bigint} {
    return {first: this.minRecv, last: this.maxRecv}
  }

  private noteRecv(t: bigint): void {
    if (this.lastRecv !== null && t < this.lastRecv) this.ordered = false
    this.lastRecv = t
    if (this.minRecv === null || t < this.minRecv) this.minRecv = t
    if (t > this.maxRecv) this.maxRecv = t
  }
}

function rangeIdx(start: number, count: number): Uint32Array {
  const out = new Uint32Array(count)
  for (let j = 0; j < count; j++) out[j] = start + j
  return out
}

/** Log that stale temporaries of `final` were removed (when there were any). */
export function logStaleRemoved(removed: readonly string[], log?: (line: string) => void): void {
  if (removed.length === 0 || !log) return
  log(`removed ${removed.length} stale temporary file${removed.length === 1 ? '' : 's'} left by an interrupted run: ${removed.join(', ')}`)
}

/**
 * Rewrite `path` as a closed format-version-2 recording, in place (the one
 * rewrite path: store/rewrite.ts, where this is implemented; kept importable
 * from the writer). Returns the new file's size in bytes, its batch count and
 * rows.
 */
export async function compactRecording(path: string, opts: RewriteOptions = {}): Promise<{bytes: number; batches: number; rows: number}> {
  return (await rewritePath()).compactRecording(path, opts)
}

/**
 * The rewrite path (store/rewrite.ts), loaded when a file is first compacted:
 * it reads recordings, and the writer sits below the reader (it imports no
 * reading code; test/layers.test.ts).
 */
function rewritePath(): Promise<typeof import('./rewrite.js')> {
  return import('./rewrite.js')
}
