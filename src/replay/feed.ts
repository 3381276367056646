/**
 * The replay side of a feed, as the engine sees it. The interfaces live with
 * the feeds (src/feeds/contract.ts: a feed implements them without importing
 * the engine) and the feeds are listed once, in src/feeds/registry.ts
 * (`replayFeed(name)`: the replay side of a feed, or an error naming the
 * feeds that have one); re-exported here for the engine and existing imports.
 */
export type {Emulator, EmulatorClient, EmulatorOptions, PayloadWriter, ReplayFeed, RowEncoder} from '../feeds/contract.js'
export {replayFeed} from '../feeds/registry.js'
