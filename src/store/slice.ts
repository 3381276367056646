import {existsSync} from 'node:fs'

import {MdrecError} from '../errors.js'
import {COL, type TimeUnitName} from './types.js'
import {nsToIso} from '../util/time.js'
import {commitPartial, discardPartial, partialPath, removeStalePartials} from './atomic.js'
import {openRecording, readBatches} from './reader.js'
import {columnDefs} from './schema.js'
import {RecordingWriter, finalDictionaries, logStaleRemoved} from './writer.js'

export interface SliceOptions {
  from?: bigint
  to?: bigint
  symbols?: readonly string[]
  /** Bound on one output batch's uncompressed bytes (default DEFAULT_BATCH_BYTES). */
  batchBytes?: number
  /** Status lines (stale temporaries of `out` removed). */
  log?: (line: string) => void
  /**
   * Throw E_NO_ROWS, before anything is written, when the selection holds no
   * row (`mdrec slice` without --allow-empty). Default false: a 0-row
   * recording is written.
   */
  refuseEmpty?: boolean
}

export interface SliceResult {
  out: string
  rows: number
  bytes: number
  /** Temporaries of `out` left by interrupted earlier runs, removed before writing. */
  staleRemoved: string[]
}

/**
 * Copy the rows of `input` in [from, to) and of the given symbols to a new
 * recording `out` (never overwritten), keeping the metadata (subscriptions
 * narrowed to the symbols kept) and noting where it came from. Streaming, in
 * bounded memory (batches cut at 65,536 rows or `batchBytes`), in two passes:
 * one counts the rows and finds the end time for the metadata, one copies. Written under
 * `partialPath(out)` and linked to `out` only when complete: a killed slice
 * leaves no `out`, and the next run removes its stale temporary. `seq` is
 * numbered anew from 0. Throws E_EXISTS when `out` exists (before any work,
 * and again atomically at the end), and E_NO_ROWS when nothing is selected
 * and `refuseEmpty` is set (nothing written). Several inputs (the parts of one run,
 * in order, of one feed: see store/inputs.ts) are read one after the other
 * into the one output.
 */
export async function sliceRecording(input: string | readonly string[], out: string, opts: SliceOptions = {}): Promise<SliceResult> {
  const inputs = typeof input === 'string' ? [input] : input
  const files = []
  for (const p of inputs) files.push(await openRecording(p))
  const file = files[0]
  if (opts.from !== undefined && opts.to !== undefined && opts.to <= opts.from) {
    throw new MdrecError('E_USAGE', `--to (${nsToIso(opts.to)}) must be after --from (${nsToIso(opts.from)})`)
  }
  if (existsSync(out)) throw new MdrecError('E_EXISTS', `${out}: already exists; mdrec never overwrites a file. Choose another --out path`)
  const staleRemoved = removeStalePartials(out)
  logStaleRemoved(staleRemoved, opts.log)
  const meta = {...file.meta}
  if (opts.symbols?.length) meta.subscriptions = meta.subscriptions.filter((s) => opts.symbols!.includes(s))
  // The schema (written first) carries the row count and end time: count the
  // selection once before copying it. A file still being recorded may grow in
  // between; the copy stops at the rows counted.
  // recycle: no batch is kept past the next one (appendBatch copies what it
  // keeps, or holds a view only until its next call: see ReadOptions.recycle)
  const filter = {from: opts.from, to: opts.to, symbols: opts.symbols, recycle: true}
  let rows = 0
  let last: bigint | undefined
  for (const f of files) {
    for await (const {batch, idx} of readBatches(f, filter)) {
      const n = idx ? idx.length : batch.numRows
      const t = batch.getChildAt(COL.recv_ts)!.data[0]
      last = (t.values as BigInt64Array)[t.offset + (idx ? idx[n - 1] : n - 1)]
      rows += n
    }
  }
  if (rows === 0 && opts.refuseEmpty) throw new MdrecError('E_NO_ROWS', `no rows selected from ${inputs.join(', ')}; nothing written to ${out}`)
  const tmp = partialPath(out)
  const w = RecordingWriter.create(
    tmp,
    {
      meta: {
        ...meta,
        startTime: opts.from === undefined ? meta.startTime : nsToIso(opts.from),
        endTime: last === undefined ? undefined : nsToIso(last),
        rows,
        // a slice is numbered from 0: no longer one part of its run's numbered stream (run_id stays, as provenance)
        part: undefined,
        derivedFrom: JSON.stringify({
          file: inputs[0],
          ...(inputs.length > 1 ? {files: inputs} : {}),
          from: opts.from === undefined ? null : nsToIso(opts.from),
          to: opts.to === undefined ? null : nsToIso(opts.to),
          symbols: opts.symbols ?? null,
        }),
      },
      exchTsUnit: (file.columns[COL.exch_ts] as {unit: TimeUnitName}).unit,
      columns: columnDefs(file.feedColumns),
    },
    // a closed format-v2 file, its dictionaries complete from the first batch (the IPC file format allows no replacement)
    {flushIntervalMs: 0, fsync: false, batchBytes: opts.batchBytes, compactOnClose: false, closedFile: true, dictionaries: await finalDictionaries(files)},
  )
  try {
    let left = rows
    copy: for (const f of files) {
      for await (const {batch, idx} of readBatches(f, filter)) {
        const n = idx ? idx.length : batch.numRows
        if (n <= left) w.appendBatch(batch, idx)
        else w.appendBatch(batch, (idx ?? Uint32Array.from({length: n}, (_, k) => k)).subarray(0, left))
        left -= Math.min(n, left)
        if (left === 0) break copy
      }
    }
    const stats = await w.close()
    commitPartial(tmp, out, {overwrite: false, flag: '--out'})
    return {out, rows: stats.rows, bytes: stats.bytes, staleRemoved}
  } catch (error) {
    w.abort()
    discardPartial(tmp) // a partial slice is no fixture: leave nothing behind
    throw error
  }
}
