/**
 * A feed's second source of rows next to its WebSocket connection, run by the
 * recorder for the length of the recording (KIS tiering: the codes polled
 * over REST, and the rebalancing that moves codes between the tiers).
 * Feed-agnostic: a feed's `ClientSetup.side` supplies one.
 */
import type {RowInput} from '../feeds/types.js'
import type {RawMode} from '../store/schema.js'

/** What the recorder lends a side source. */
export interface SideIO {
  /** Append a row to the recording (its `recv_ts` should come from {@link nowNs}). Never throws. */
  append(row: RowInput): void
  /** Send a message on the open connection (a change of subscriptions); false when not connected. */
  send(message: string): boolean
  /** The recording's clock: ns since the Unix epoch (monotonic, anchored to UTC). */
  nowNs(): bigint
  /** The recording's --raw mode: whether to keep payloads in `raw`. */
  readonly raw: RawMode
  /** A status line for the user (never secrets). */
  log(line: string): void
}

export interface SideSource {
  /** Begin (the connection is being made at the same time). */
  start(io: SideIO): void
  /** Stop and settle what is in flight (bounded); rows appended after this resolves are not expected. */
  stop(): Promise<void>
}

/** `record --tiering`: how a feed with a subscription limit splits its symbols (KIS: docs/feeds/kis.md). */
export interface TieringOptions {
  /** How often each polled symbol is asked for, in ms (the feed's rate limit may make it slower). */
  pollIntervalMs: number
  /** How often the most active polled symbols are promoted and the quietest subscribed ones demoted, in ms. */
  rebalanceMs: number
  /** Symbols in priority order (the first take the subscriptions); default the order given. */
  priority?: string[]
}
