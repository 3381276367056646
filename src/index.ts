/**
 * mdrec as a library: everything the CLI does, without the CLI.
 *
 *   import {record, replay, openRecording, readRows, fixture} from 'mdrec'
 */
import type {RowView} from './feeds/types.js'
import {formatFloat32} from './store/format.js'
import {readRows as readStoredRows, type ReadOptions, type RecordingFile} from './store/reader.js'

export {VERSION as version} from './version.js'
export {MdrecError, isMdrecError, type MdrecErrorCode} from './errors.js'

// recording
export {record, Recorder, defaultOutPath} from './record/recorder.js'
export type {RecordOptions, RecordSummary, RecorderStats, RotatePolicy} from './record/recorder.js'
export {ConnectionSupervisor} from './record/supervisor.js'
export type {FeedClientSpec, SupervisorOptions, ConnectionState, GapEvent} from './record/supervisor.js'

// the recording format
export {RecordingWriter} from './store/writer.js'
export {compactRecording} from './store/rewrite.js'
export type {WriterOptions, WriterStats, WriterInit} from './store/writer.js'
export {openRecording, readBatches, messageStream, recordingStartNs} from './store/reader.js'
export {BatchRows} from './store/rows.js'
export type {RecordingFile, ReadOptions, SelectedBatch, StreamEnd} from './store/reader.js'
export {verifyRecording, repairRecording} from './store/verify.js'
export type {VerifyResult} from './store/verify.js'
export {sliceRecording} from './store/slice.js'
export type {SliceOptions, SliceResult} from './store/slice.js'
export {recordingInfo} from './store/info.js'
export type {RecordingInfo} from './store/info.js'
export {FORMAT_VERSION, META} from './store/schema.js'
export type {RecordingMeta, RawMode} from './store/schema.js'

// feeds
export {getFeed, FEED_NAMES} from './feeds/registry.js'
export type {FeedAdapter, FeedDefinition, FeedOption, FeedEnvVar, ClientOptions, ClientSetup, SideSource, SideIO} from './feeds/contract.js'
export type {ColumnDef, ColumnType, Frame, FeedCodec, RowInput, RowView, RowKind} from './feeds/types.js'
export {yahooCodec, rowToPricing, YAHOO_COLUMNS, YAHOO_DEFAULT_URL} from './feeds/yahoo/adapter.js'
export {decodeFrame, encodeFrame, decodePricing, encodePricing, QuoteType, MarketHoursType} from './feeds/yahoo/codec.js'
export type {PricingData, YahooEnvelope} from './feeds/yahoo/types.js'
export {YahooServer} from './feeds/yahoo/server.js'
export {syntheticYahooTape} from './feeds/yahoo/synthetic.js'

// units
export {parseDuration, parseSize, parseSpeed, parseTimeSpec, formatDuration, formatBytes} from './util/units.js'
export {nsToIso} from './util/time.js'

// replay
export {replay} from './replay/engine.js'
export type {ReplayHandle, ReplayOptions, ReplayStats, ReplaySummary} from './replay/engine.js'
export type {Emulator, EmulatorClient, EmulatorOptions, ReplayFeed, RowEncoder} from './feeds/contract.js'

// bundled fixtures (also in mdrec/testing)
export {fixture, fixtureNames, FIXTURES_DIR} from './testing.js'

export interface RowReadOptions extends ReadOptions {
  /**
   * How float32 columns (Yahoo's prices) come out. `'shortest'` (default):
   * the shortest decimal that reads back as the same float32, as `mdrec cat`
   * prints it (`79.65`). `'exact'`: the stored float32 widened to a double
   * (`79.6500015258789`), a little faster. Both are the same float32:
   * `Math.fround(x)` gives the stored value back from either.
   */
  float32?: 'shortest' | 'exact'
}

/**
 * Every selected row of a recording (filters: `from`/`to` in ns, `symbols`,
 * `follow`, … as in {@link ReadOptions}), streaming, as RowViews: times as
 * bigint ns, 64-bit integers as bigint, feed fields by column name in
 * `row.fields` (absent when null). Float32 fields are the shortest decimal
 * of their float32 value unless `float32: 'exact'` (see
 * {@link RowReadOptions}), so the numbers are the ones `mdrec cat` prints.
 * Throws MdrecError (E_TRUNCATED, E_CORRUPT…) as the reader does.
 */
export async function* readRows(file: RecordingFile, options: RowReadOptions = {}): AsyncGenerator<RowView> {
  const {float32 = 'shortest', ...opts} = options
  const names =
    float32 === 'exact' ? [] : file.feedColumns.filter((c) => c.kind === 'plain' && c.type === 'float32').map((c) => c.name)
  for await (const row of readStoredRows(file, opts)) {
    for (const n of names) {
      const v = row.fields[n]
      if (typeof v === 'number') row.fields[n] = Number(formatFloat32(v))
    }
    yield row
  }
}
