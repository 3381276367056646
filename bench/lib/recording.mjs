// Recordings for the benches, written straight through the store (no
// network). Uses dist/ (npm run build first). A bench that measures its own
// process's memory imports this module only in the step that writes.
import {yahooCodec} from '../../dist/feeds/yahoo/adapter.js'
import {syntheticYahooTape} from '../../dist/feeds/yahoo/synthetic.js'
import {RecordingWriter} from '../../dist/store/writer.js'

/**
 * A RecordingWriter for a Yahoo (v2 envelope) recording with bench metadata.
 * `writer` is merged over {flushIntervalMs: 0, fsync: false, compactOnClose:
 * false} (flushes by row count only, no fsync, no compaction); `meta` over
 * the metadata (endpoint, subscriptions, startTime, rawMode…).
 */
export function createYahooWriter(path, writer = {}, meta = {}) {
  const codec = yahooCodec('v2')
  return RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'yahoo',
        endpoint: 'ws://bench/?version=2',
        subscriptions: [],
        feedOptions: {envelope: 'v2'},
        toolVersion: 'bench',
        startTime: '2025-11-24T10:40:00.000000000Z',
        rawMode: 'auto',
        ...meta,
      },
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0, fsync: false, compactOnClose: false, ...writer},
  )
}

/** The tick row of a synthetic tape frame (`raw` kept when given). */
export function tickRow(f, raw = null) {
  const {id, time, ...fields} = f.data
  return {recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw, info: null, fields}
}

/** Write `rows` synthetic Yahoo ticks (syntheticYahooTape options in `tape`) to a closed recording at `path`. */
export async function writeYahooTape(path, rows, tape = {}, writer = {}) {
  const w = createYahooWriter(path, writer)
  for (const f of syntheticYahooTape({frames: rows, ...tape})) w.append(tickRow(f))
  await w.close()
}
