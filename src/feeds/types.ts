/**
 * What a feed adapter tells the store and the recorder/replayer. One adapter
 * per feed owns both directions of its protocol (see docs/ARCHITECTURE.md).
 */

import type {ColumnDef, RowInput, RowView, TimeUnitName} from '../store/types.js'

// The format's row and column types are the store's (src/store/types.ts); re-exported for the feeds.
export type {ColumnDef, ColumnType, RowInput, RowKind, RowView, TimeUnitName} from '../store/types.js'
export {ROW_KINDS} from '../store/types.js'

/** A WebSocket frame as it travelled: text or binary matters to clients. */
export interface Frame {
  readonly data: string | Uint8Array
  readonly binary: boolean
}

/** Result of decoding one received frame. */
export type FrameDecode =
  | {ok: true; rows: Array<Omit<RowInput, 'recv_ts' | 'raw'> & {exact: boolean}>}
  | {ok: false; code: string; message: string}

export interface FeedCodec {
  readonly feed: string
  /** Unit of `exch_ts` for this feed. */
  readonly exchTsUnit: TimeUnitName
  /** The feed's decoded columns, after the common ones. */
  readonly columns: readonly ColumnDef[]
  /**
   * Decode one frame into rows. `exact` says whether `encode` of the row gives
   * back the frame's bytes, so `--raw auto` can leave `raw` null. Never throws.
   */
  decode(frame: Frame): FrameDecode
  /** Re-encode a recorded row into the frame a client of `options` would receive. */
  encode(row: RowView): Frame
}
