import {syntheticYahooTape} from '../../src/feeds/yahoo/synthetic.js'
import {createYahooWriter} from './recording.js'

export interface BigRecordingOptions {
  /** Rows per record batch (the writer's flushRows); default 50,000 — small enough that batches straddle 1 MiB read windows. */
  flushRows?: number
  /** Symbols in the synthetic tape; default 50. */
  symbols?: number
  /** PRNG seed of the tape; default 1. */
  seed?: number
}

/**
 * Write a multi-batch Yahoo recording of `rows` synthetic ticks at `path`
 * without keeping the rows in memory (the tape is a generator and the writer
 * flushes every `flushRows` rows; no compaction, so batches stay as written).
 * Resolves to the rows and record batches written.
 */
export async function makeBigYahooRecording(path: string, rows: number, opts: BigRecordingOptions = {}): Promise<{rows: number; batches: number}> {
  const flushRows = opts.flushRows ?? 50_000
  const w = createYahooWriter(path, {flushRows, fsync: false, compactOnClose: false})
  for (const f of syntheticYahooTape({frames: rows, symbols: opts.symbols ?? 50, seed: opts.seed})) {
    const {id, time, ...fields} = f.data
    w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
  }
  await w.close()
  return {rows, batches: Math.ceil(rows / flushRows)}
}
