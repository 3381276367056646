import {MdrecError} from '../errors.js'
import {nsToIso} from '../util/time.js'
import {checkDestination} from './atomic.js'
import {openRecording} from './reader.js'
import {rewrite} from './rewrite.js'

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
  /** The symbols asked for that have no row in the selection (a misspelling among several). */
  missing: string[]
}

/**
 * Copy the rows of `input` in [from, to) and of the given symbols to a new
 * recording `out` (never overwritten), keeping the metadata of the first
 * input (with every input's subscriptions, narrowed to the symbols kept)
 * and noting where it came from. Written by the
 * one rewrite path (store/rewrite.ts), streaming, in bounded memory (batches
 * cut at 65,536 rows or `batchBytes`), in two passes: one counts the rows and
 * finds the end time for the metadata, one copies. Written under
 * `partialPath(out)` and linked to `out` only when complete: a killed slice
 * leaves no `out`, and the next run removes its stale temporary. `seq` is
 * numbered anew from 0. Throws E_EXISTS when `out` exists (before any work,
 * and again atomically at the end), and E_NO_ROWS when nothing is selected
 * and `refuseEmpty` is set (nothing written). Several inputs (of one feed,
 * ordered as one timeline: see store/inputs.ts) are merged by receive time
 * into the one output (store/merge.ts: the parts of one run one after the
 * other, other files row by row).
 */
export async function sliceRecording(input: string | readonly string[], out: string, opts: SliceOptions = {}): Promise<SliceResult> {
  const inputs = typeof input === 'string' ? [input] : input
  const files = []
  for (const p of inputs) files.push(await openRecording(p))
  const file = files[0]
  if (opts.from !== undefined && opts.to !== undefined && opts.to <= opts.from) {
    throw new MdrecError('E_USAGE', `--to (${nsToIso(opts.to)}) must be after --from (${nsToIso(opts.from)})`)
  }
  checkDestination(out)
  // every input's subscriptions (a merge of per-symbol recordings holds all their symbols), in order, once each
  const meta = {...file.meta, subscriptions: [...new Set(files.flatMap((f) => f.meta.subscriptions))]}
  if (opts.symbols?.length) meta.subscriptions = meta.subscriptions.filter((s) => opts.symbols!.includes(s))
  const r = await rewrite({
    inputs: files,
    out,
    select: {from: opts.from, to: opts.to, symbols: opts.symbols},
    seq: 'renumber',
    batchBytes: opts.batchBytes,
    log: opts.log,
    refuseEmpty: opts.refuseEmpty,
    overwrite: false,
    flag: '--out',
    meta: ({rows, max, ordered}) => ({
      ...meta,
      startTime: opts.from === undefined ? meta.startTime : nsToIso(opts.from),
      endTime: max === undefined ? undefined : nsToIso(max),
      rows,
      timeOrdered: ordered,
      // a slice is numbered from 0: no longer one part of its run's numbered stream (run_id stays, as provenance)
      part: undefined,
      derivedFrom: JSON.stringify({
        file: inputs[0],
        ...(inputs.length > 1 ? {files: inputs} : {}),
        from: opts.from === undefined ? null : nsToIso(opts.from),
        to: opts.to === undefined ? null : nsToIso(opts.to),
        symbols: opts.symbols ?? null,
      }),
    }),
  })
  return {out, rows: r.rows, bytes: r.bytes, staleRemoved: r.staleRemoved, missing: r.missing}
}
