import type {FeedCodec, RowView} from '../../src/feeds/types.js'
import {yahooCodec} from '../../src/feeds/yahoo/adapter.js'
import {syntheticYahooTape} from '../../src/feeds/yahoo/synthetic.js'
import type {PricingData} from '../../src/feeds/yahoo/types.js'
import type {RecordingMeta} from '../../src/store/schema.js'
import {openRecording, readRows} from '../../src/store/reader.js'
import {RecordingWriter, type WriterOptions} from '../../src/store/writer.js'

/**
 * A writer for a recording of `codec`'s columns with test metadata: feed
 * yahoo, v2 envelope, no subscriptions unless `meta` overrides them.
 */
export function createTestWriter(
  path: string,
  codec: Pick<FeedCodec, 'exchTsUnit' | 'columns'>,
  writer: WriterOptions = {},
  meta: Partial<RecordingMeta> = {},
): RecordingWriter {
  return RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'yahoo',
        endpoint: 'ws://127.0.0.1:8765/?version=2',
        subscriptions: [],
        feedOptions: {envelope: 'v2'},
        toolVersion: 'test',
        startTime: '2025-11-24T10:40:00.000000000Z',
        rawMode: 'auto',
        ...meta,
      },
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0, ...writer},
  )
}

/** A writer for a Yahoo (v2) recording with test metadata (`meta` overrides it). */
export function createYahooWriter(path: string, writer: WriterOptions = {}, meta: Partial<RecordingMeta> = {}): RecordingWriter {
  return createTestWriter(path, yahooCodec('v2'), writer, meta)
}

/** Write a Yahoo recording of `frames` synthetic ticks straight through the store (no network). */
export async function makeYahooRecording(
  path: string,
  frames: number,
  opts: {symbols?: number | string[]; seed?: number; writer?: WriterOptions; meanGapMs?: number} = {},
): Promise<{sent: {recv_ts: bigint; data: PricingData}[]}> {
  const w = createYahooWriter(path, opts.writer)
  const sent: {recv_ts: bigint; data: PricingData}[] = []
  for (const f of syntheticYahooTape({frames, symbols: opts.symbols ?? 5, seed: opts.seed, meanGapMs: opts.meanGapMs})) {
    const {id, time, ...fields} = f.data
    w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    sent.push(f)
  }
  await w.close()
  return {sent}
}

/** Every row of the recording at `path`, in order (readRows; for small test recordings). */
export async function rowsOf(path: string): Promise<RowView[]> {
  const rows: RowView[] = []
  for await (const r of readRows(await openRecording(path))) rows.push(r)
  return rows
}
