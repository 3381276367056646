/**
 * Several recordings read as one timeline: a streaming k-way merge of their
 * batch streams by receive time (`cat` and `slice`/the rewrite path; replay
 * merges its own way, in src/replay/).
 *
 * The rotated parts of one run (files sharing `mdrec.run_id`, in part order)
 * never overlap: they are read one after the other as one stream, so a run
 * comes out exactly as its parts concatenated, and only one part of it is
 * open at a time. Streams of different runs and lone files are merged row by
 * row: the row with the smallest `recv_ts` goes first; ties keep the order
 * within a stream, then the order of the streams (the order the files were
 * given in, as `orderRecordings` sorted them). What is held is one batch per
 * stream.
 *
 * The time range is the reader's (readBatches), which takes a batch's span
 * from its rows unless the file says its receive times never decrease in
 * arrival order (`mdrec.time_ordered`), so no row in the range is lost in a
 * merge written by an older mdrec, whose rows went file after file.
 */
import {groupRuns, type RowFilter} from './inputs.js'
import {readBatches, type ReadOptions, type RecordingFile, type SelectedBatch} from './reader.js'
import {COL} from './types.js'

export interface MergeOptions extends RowFilter {
  /** Follow the last stream's last file as it grows (cat --follow); its range is the reader's. */
  follow?: boolean
  signal?: AbortSignal
  /** See ReadOptions.recycle: a yielded batch is used only until the batch after the next is asked for. */
  recycle?: boolean
  onTruncated?: ReadOptions['onTruncated']
}

/** One stream's position: its current batch, the selected rows in order, and the next of them. */
interface Cursor {
  /** The stream's index (ties between streams go to the lower). */
  at: number
  it: AsyncGenerator<SelectedBatch>
  batch: A_Batch
  /** Selected rows in arrival order (null: every row, in stored order). */
  idx: Uint32Array | null
  n: number
  pos: number
  ts: BigInt64Array
  off: number
}

type A_Batch = SelectedBatch['batch']

/** The selected rows of one stream: a run's parts one after the other, or a lone file (the last one followed when `followLast`). */
async function* streamBatches(files: readonly RecordingFile[], opts: MergeOptions, followLast: boolean): AsyncGenerator<SelectedBatch> {
  const {symbols, from, to, signal, recycle, onTruncated} = opts
  for (let f = 0; f < files.length; f++) {
    yield* readBatches(files[f], {symbols, from, to, signal, recycle, onTruncated, follow: followLast && f === files.length - 1})
  }
}

async function open(at: number, it: AsyncGenerator<SelectedBatch>): Promise<Cursor | null> {
  const c = {at, it} as Cursor
  return (await next(c)) ? c : null
}

/** Move `c` to its stream's next batch with a selected row; false at its end. */
async function next(c: Cursor): Promise<boolean> {
  for (;;) {
    const r = await c.it.next()
    if (r.done) return false
    const n = r.value.idx ? r.value.idx.length : r.value.batch.numRows
    if (n === 0) continue
    const t = r.value.batch.getChildAt(COL.recv_ts)!.data[0]
    Object.assign(c, {batch: r.value.batch, idx: r.value.idx, n, pos: 0, ts: t.values as BigInt64Array, off: t.offset})
    return true
  }
}

function headTime(c: Cursor): bigint {
  return c.ts[c.off + (c.idx ? c.idx[c.pos] : c.pos)]
}

/**
 * The selected rows of `files` (ordered as one timeline by orderRecordings)
 * as one stream merged by receive time (see the module comment): yields
 * batches with the indices of their rows to take, in order (`idx` null: all
 * of them, in stored order), like readBatches. A damaged file ends its
 * stream as readBatches does (`onTruncated`). Streaming: one batch per
 * stream held at a time.
 */
export async function* mergeBatches(files: readonly RecordingFile[], opts: MergeOptions = {}): AsyncGenerator<SelectedBatch> {
  const groups = groupRuns(files)
  if (groups.length === 1) {
    yield* streamBatches(groups[0], opts, opts.follow === true)
    return
  }
  const live: Cursor[] = []
  try {
    for (let g = 0; g < groups.length; g++) {
      const c = await open(g, streamBatches(groups[g], opts, opts.follow === true && g === groups.length - 1))
      if (c) live.push(c)
    }
    while (live.length > 0) {
      // the stream whose next row goes first, and the row it must not pass
      let best = 0
      let bestT = headTime(live[0])
      let boundT: bigint | null = null
      let boundAt = 0
      for (let k = 1; k < live.length; k++) {
        const t = headTime(live[k])
        if (t < bestT || (t === bestT && live[k].at < live[best].at)) {
          boundT = bestT
          boundAt = live[best].at
          best = k
          bestT = t
        } else if (boundT === null || t < boundT || (t === boundT && live[k].at < boundAt)) {
          boundT = t
          boundAt = live[k].at
        }
      }
      const c = live[best]
      let end = c.n
      if (boundT !== null) {
        // rows of c up to the bound: at it only when c's stream comes first
        const tie = c.at < boundAt
        const past = (j: number) => {
          const v = c.ts[c.off + (c.idx ? c.idx[j] : j)]
          return v > boundT! || (v === boundT && !tie)
        }
        if (past(c.n - 1)) {
          end = c.pos + 1
          while (end < c.n && !past(end)) end++
        }
      }
      if (c.pos === 0 && end === c.n) yield {batch: c.batch, idx: c.idx}
      else yield {batch: c.batch, idx: c.idx ? c.idx.subarray(c.pos, end) : range(c.pos, end)}
      c.pos = end
      if (c.pos === c.n && !(await next(c))) live.splice(best, 1)
    }
  } finally {
    await Promise.all(live.map((c) => c.it.return(undefined)))
  }
}

function range(lo: number, hi: number): Uint32Array {
  const out = new Uint32Array(hi - lo)
  for (let i = 0; i < out.length; i++) out[i] = lo + i
  return out
}
