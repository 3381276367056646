import * as A from 'apache-arrow'
import {closeSync, fsyncSync, ftruncateSync, openSync, renameSync, unlinkSync, writeSync} from 'node:fs'
import {dirname} from 'node:path'

import type {ColumnDef, RowInput, TimeUnitName} from '../feeds/types.js'
import {MdrecError, fsError} from '../errors.js'
import {type Accumulator, makeAccumulator} from './columns.js'
import {DEFAULT_ZSTD_LEVEL, EOS, IpcStreamEncoder} from './ipc.js'
import {openRecording, readBatches} from './reader.js'
import {arrowSchema, columnDefs, storeColumns, type RecordingMeta, type StoreColumn} from './schema.js'
import {nsToIso} from '../util/time.js'

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
  /** zstd level. Default 3. */
  zstdLevel?: number
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
  /** Receives an error from a timed (background) flush; without it such an error is thrown from the timer. */
  onError?: (error: unknown) => void
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
 * Appends rows to a recording: an Arrow IPC stream with ZSTD bodies, one
 * record batch per flush, each written with one write() and fsynced. Never
 * overwrites an existing file. Synchronous I/O on purpose: a batch is small
 * (one interval of ticks), and writing it in one call before returning keeps
 * the file a valid prefix at every instant that matters.
 */
export class RecordingWriter {
  readonly path: string
  readonly columns: StoreColumn[]
  readonly schema: A.Schema
  private readonly accs: Accumulator[]
  /** Pushes a row's feed fields into the feed accumulators (compiled per schema, see constructor). */
  private readonly pushFields: (f: Record<string, unknown> | null, accs: Accumulator[]) => void
  private readonly encoder: IpcStreamEncoder
  private fd: number | null
  private seq = 0n
  private pending = 0
  private timer: NodeJS.Timeout | null = null
  private readonly opts: Required<Omit<WriterOptions, 'onError'>> & Pick<WriterOptions, 'onError'>
  private readonly meta: RecordingMeta
  private lastRecv = 0n
  private firstRecv: bigint | null = null
  readonly stats: WriterStats = {rows: 0, batches: 0, bytes: 0}
  private closed = false

  static create(path: string, init: WriterInit, options: WriterOptions = {}): RecordingWriter {
    return new RecordingWriter(path, init, options)
  }

  private constructor(path: string, init: WriterInit, options: WriterOptions) {
    this.path = path
    this.opts = {
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      flushRows: options.flushRows ?? 65_536,
      zstdLevel: options.zstdLevel ?? DEFAULT_ZSTD_LEVEL,
      fsync: options.fsync ?? true,
      compactOnClose: options.compactOnClose ?? true,
      compactRows: options.compactRows ?? 65_536,
      onError: options.onError,
    }
    this.meta = {...init.meta, formatVersion: init.meta.formatVersion ?? 1}
    this.columns = storeColumns(init.exchTsUnit, init.columns)
    this.schema = arrowSchema(this.columns, this.meta)
    this.accs = this.columns.map(makeAccumulator)
    // One property read per column with the name as a constant: V8 caches each
    // site for the codec's (single) object shape, where a loop of f[name]
    // lookups is a megamorphic keyed load per value — most of the cost of a row.
    const body = this.accs
      .slice(7)
      .map((acc, k) => `a[${7 + k}].push(f === null ? null : f[${JSON.stringify(acc.col.name)}]);`)
      .join('\n')
    this.pushFields = new Function('f', 'a', body) as (f: Record<string, unknown> | null, accs: Accumulator[]) => void
    this.encoder = new IpcStreamEncoder(this.opts.zstdLevel)
    try {
      // 'wx': fail if the path exists, never overwrite a recording.
      this.fd = openSync(path, 'wx')
    } catch (error) {
      const e = error as NodeJS.ErrnoException
      if (e.code === 'EEXIST') throw new MdrecError('E_EXISTS', `${path}: already exists; mdrec never overwrites a file. Choose another --out path`)
      if (e.code === 'ENOENT') throw new MdrecError('E_NOT_FOUND', `${path}: the directory ${dirname(path)} does not exist; create it or choose another --out path`)
      throw fsError(error, path, 'creating the recording')
    }
    this.writeBytes(this.encoder.begin(this.schema))
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

  /** Append one row. Throws MdrecError on I/O failure (rows flushed before stay readable). */
  append(row: RowInput): void {
    if (this.closed) throw new MdrecError('E_INTERNAL', `${this.path}: append after close`)
    const a = this.accs
    a[0].push(row.recv_ts)
    a[1].push(row.exch_ts)
    a[2].push(row.symbol)
    a[3].push(row.kind)
    a[4].push(this.seq++)
    a[5].push(row.raw)
    a[6].push(row.info)
    this.pushFields(row.fields, a)
    if (this.firstRecv === null) this.firstRecv = row.recv_ts
    this.lastRecv = row.recv_ts
    if (++this.pending >= this.opts.flushRows) this.flush()
  }

  /** Append the selected rows of a batch read from a recording of the same feed (slice, compact). */
  appendBatch(batch: A.RecordBatch, idx: Uint32Array | null): void {
    const n = idx ? idx.length : batch.numRows
    if (n === 0) return
    // Keep output batches at exactly flushRows rows: split the input at the boundary.
    const room = this.opts.flushRows - this.pending
    if (n > room) {
      const all = idx ?? Uint32Array.from({length: n}, (_, k) => k)
      this.appendBatch(batch, all.subarray(0, room))
      this.appendBatch(batch, all.subarray(room))
      return
    }
    const byName = new Map(batch.schema.fields.map((f, i) => [f.name, i]))
    for (const acc of this.accs) {
      const name = acc.col.name
      if (name === 'seq') {
        for (let k = 0; k < n; k++) acc.push(this.seq++)
        continue
      }
      const i = byName.get(name)
      if (i === undefined) {
        for (let k = 0; k < n; k++) acc.push(null)
        continue
      }
      acc.pushFrom(batch.getChildAt(i)!.data[0], idx)
    }
    const ts = batch.getChildAt(0)!.data[0].values as BigInt64Array
    const first = ts[idx ? idx[0] : 0]
    if (this.firstRecv === null) this.firstRecv = first
    this.lastRecv = ts[idx ? idx[n - 1] : n - 1]
    this.pending += n
    if (this.pending >= this.opts.flushRows) this.flush()
  }

  /** Write buffered rows as one record batch and fsync. */
  flush(): void {
    if (this.pending === 0 || this.fd === null) return
    const n = this.pending
    const children = this.accs.map((a) => a.take())
    this.pending = 0
    const data = A.makeData({type: new A.Struct(this.schema.fields), length: n, nullCount: 0, children})
    const batch = new A.RecordBatch(this.schema, data)
    this.writeBytes(this.encoder.encode(batch))
    this.stats.rows += n
    this.stats.batches++
  }

  private writeBytes(bytes: Uint8Array): void {
    if (this.fd === null) return
    const at = this.stats.bytes
    try {
      let off = 0
      while (off < bytes.byteLength) off += writeSync(this.fd, bytes, off, bytes.byteLength - off)
      if (this.opts.fsync) fsyncSync(this.fd)
      this.stats.bytes += bytes.byteLength
    } catch (error) {
      // Cut a partly written batch back off so the file stays a valid prefix.
      try {
        ftruncateSync(this.fd, at)
        fsyncSync(this.fd)
      } catch {
        // the file keeps a partial tail; `mdrec verify --repair` cuts it
      }
      throw fsError(error, this.path, 'writing the recording')
    }
  }

  /** Flush, write the end-of-stream marker, close, and compact (see WriterOptions.compactOnClose). */
  async close(opts: {compact?: boolean} = {}): Promise<WriterStats> {
    if (this.closed) return this.stats
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    try {
      this.flush()
      this.writeBytes(EOS)
    } finally {
      if (this.fd !== null) closeSync(this.fd)
      this.fd = null
    }
    if (opts.compact ?? this.opts.compactOnClose) {
      try {
        this.stats.bytes = await compactRecording(this.path, {
          zstdLevel: this.opts.zstdLevel,
          rows: this.opts.compactRows,
          endTime: this.lastRecv,
          rows_total: this.stats.rows,
        })
      } catch (error) {
        const why = error instanceof MdrecError ? error.message : (error as Error).message
        throw new MdrecError('E_IO', `${this.path}: recorded and closed, but compacting it failed (${why}); the file is complete and readable as it is`, {cause: error})
      }
      this.stats.batches = Math.ceil(this.stats.rows / this.opts.compactRows)
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

  get timeSpan(): {first: bigint | null; last: bigint} {
    return {first: this.firstRecv, last: this.lastRecv}
  }
}

/**
 * Rewrite `path` with large batches (streaming: one input batch and one
 * output batch in memory) and add end time and row count to its metadata.
 * Writes `<path>.compact-tmp`, fsyncs, then renames over `path`.
 */
export async function compactRecording(
  path: string,
  opts: {zstdLevel?: number; rows?: number; endTime?: bigint; rows_total?: number} = {},
): Promise<number> {
  const file = await openRecording(path)
  const tmp = `${path}.compact-tmp`
  try {
    unlinkSync(tmp)
  } catch {
    // none left over
  }
  const w = RecordingWriter.create(
    tmp,
    {
      meta: {
        ...file.meta,
        endTime: opts.endTime === undefined ? file.meta.endTime : nsToIso(opts.endTime),
        rows: opts.rows_total ?? file.meta.rows,
      },
      exchTsUnit: (file.columns[1] as {unit: TimeUnitName}).unit,
      columns: columnDefs(file.feedColumns),
    },
    {flushIntervalMs: 0, flushRows: opts.rows ?? 65_536, zstdLevel: opts.zstdLevel, fsync: false, compactOnClose: false},
  )
  let bytes = 0
  try {
    for await (const {batch, idx} of readBatches(file)) w.appendBatch(batch, idx)
    const stats = await w.close()
    const fd = openSync(tmp, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
    bytes = stats.bytes
  } catch (error) {
    w.abort()
    try {
      unlinkSync(tmp)
    } catch {
      // already gone
    }
    throw error
  }
  const dfd = openSync(dirname(path), 'r')
  try {
    fsyncSync(dfd)
  } finally {
    closeSync(dfd)
  }
  return bytes
}
