/**
 * A feed's second source of rows next to its WebSocket connection, run by the
 * recorder for the length of the recording (KIS tiering). Feed-agnostic: a
 * feed's `ClientSetup.side` supplies one; the interfaces are the feeds'
 * (src/feeds/contract.ts).
 */
export type {SideIO, SideSource} from '../feeds/contract.js'
