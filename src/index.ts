export const version = '0.1.0'
export {replay} from './replay/engine.js'
export type {ReplayHandle, ReplayOptions, ReplayStats, ReplaySummary} from './replay/engine.js'
export type {Emulator, EmulatorClient, ReplayFeed, RowEncoder} from './replay/feed.js'
