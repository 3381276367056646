import {syntheticYahooTape} from '../../src/feeds/yahoo/synthetic.js'
import type {RecordingMeta} from '../../src/store/schema.js'
import {createYahooWriter} from './recording.js'

/**
 * Write a big Yahoo recording straight from the synthetic tape, streaming
 * (no frame is kept: 1,000,000 rows take a few seconds and little memory).
 * `flushRows` rows per batch, not compacted, so the file has rows/flushRows
 * batches. Returns the row count.
 */
export async function makeBigYahooRecording(
  path: string,
  rows: number,
  opts: {flushRows?: number; seed?: number; symbols?: number; startNs?: bigint; meta?: Partial<RecordingMeta>} = {},
): Promise<number> {
  const w = createYahooWriter(path, {flushRows: opts.flushRows ?? 50_000, compactOnClose: false, fsync: false}, opts.meta)
  let n = 0
  for (const f of syntheticYahooTape({frames: rows, symbols: opts.symbols ?? 20, seed: opts.seed, startNs: opts.startNs})) {
    const {id, time, ...fields} = f.data
    w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    n++
  }
  await w.close()
  return n
}
