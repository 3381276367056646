/**
 * mdrec as a library: everything the CLI does, without the CLI.
 *
 *   import {record, replay, openRecording, readRows} from 'mdrec'
 */
export {VERSION as version} from './version.js'
export {MdrecError, isMdrecError, type MdrecErrorCode} from './errors.js'

// recording
export {record, Recorder, defaultOutPath} from './record/recorder.js'
export type {RecordOptions, RecordSummary, RecorderStats, RotatePolicy} from './record/recorder.js'
export {ConnectionSupervisor} from './record/supervisor.js'
export type {FeedClientSpec, SupervisorOptions, ConnectionState, GapEvent} from './record/supervisor.js'

// the recording format
export {RecordingWriter, compactRecording} from './store/writer.js'
export type {WriterOptions, WriterStats, WriterInit} from './store/writer.js'
export {openRecording, readBatches, readRows, messageStream, BatchRows, recordingStartNs} from './store/reader.js'
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
export type {FeedAdapter} from './feeds/registry.js'
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
export type {Emulator, EmulatorClient, ReplayFeed, RowEncoder} from './replay/feed.js'
