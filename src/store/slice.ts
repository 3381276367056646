import {unlinkSync} from 'node:fs'

import {MdrecError} from '../errors.js'
import type {TimeUnitName} from '../feeds/types.js'
import {nsToIso} from '../util/time.js'
import {openRecording, readBatches} from './reader.js'
import {columnDefs} from './schema.js'
import {RecordingWriter} from './writer.js'

export interface SliceOptions {
  from?: bigint
  to?: bigint
  symbols?: readonly string[]
}

export interface SliceResult {
  out: string
  rows: number
  bytes: number
}

/**
 * Copy the rows of `input` in [from, to) and of the given symbols to a new
 * recording `out` (never overwritten), keeping the metadata (subscriptions
 * narrowed to the symbols kept) and noting where it came from. Streaming.
 * Several inputs (the parts of one run, in order, of one feed: see
 * store/inputs.ts) are read one after the other into the one output.
 */
export async function sliceRecording(input: string | readonly string[], out: string, opts: SliceOptions = {}): Promise<SliceResult> {
  const inputs = typeof input === 'string' ? [input] : input
  const files = []
  for (const p of inputs) files.push(await openRecording(p))
  const file = files[0]
  if (opts.from !== undefined && opts.to !== undefined && opts.to <= opts.from) {
    throw new MdrecError('E_USAGE', `--to (${nsToIso(opts.to)}) must be after --from (${nsToIso(opts.from)})`)
  }
  const meta = {...file.meta}
  if (opts.symbols?.length) meta.subscriptions = meta.subscriptions.filter((s) => opts.symbols!.includes(s))
  const w = RecordingWriter.create(
    out,
    {
      meta: {
        ...meta,
        startTime: opts.from === undefined ? meta.startTime : nsToIso(opts.from),
        endTime: undefined,
        rows: undefined,
        derivedFrom: JSON.stringify({
          file: inputs[0],
          ...(inputs.length > 1 ? {files: inputs} : {}),
          from: opts.from === undefined ? null : nsToIso(opts.from),
          to: opts.to === undefined ? null : nsToIso(opts.to),
          symbols: opts.symbols ?? null,
        }),
      },
      exchTsUnit: (file.columns[1] as {unit: TimeUnitName}).unit,
      columns: columnDefs(file.feedColumns),
    },
    {flushIntervalMs: 0, fsync: false},
  )
  try {
    for (const f of files) {
      for await (const {batch, idx} of readBatches(f, {from: opts.from, to: opts.to, symbols: opts.symbols})) {
        w.appendBatch(batch, idx)
      }
    }
  } catch (error) {
    w.abort()
    unlinkSync(out) // a partial slice is no fixture: leave nothing behind
    throw error
  }
  const stats = await w.close()
  return {out, rows: stats.rows, bytes: stats.bytes}
}
