/**
 * What a feed adapter tells the store and the recorder/replayer. One adapter
 * per feed owns both directions of its protocol (see docs/ARCHITECTURE.md).
 */

/** Column types the store knows how to accumulate, write and read. */
export type ColumnType =
  | 'utf8'
  /** utf8 dictionary-encoded: for low-cardinality strings (exchange codes), which compress far better as indices. */
  | 'dict_utf8'
  | 'binary'
  | 'bool'
  | 'int8'
  | 'int32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64'
  /** A list of structs whose fields (ColumnDef.fields) are all float64: order book levels. */
  | 'list_struct_f64'

export interface ColumnDef {
  readonly name: string
  readonly type: ColumnType
  /** For 'list_struct_f64': the struct's field names. Values are `Array<Record<field, number>>`. */
  readonly fields?: readonly string[]
  /** One line for docs/FORMAT.md and `mdrec info --columns`. */
  readonly description?: string
}

/** Row kinds (the `kind` dictionary). Fixed list: readers may rely on it. */
export const ROW_KINDS = ['tick', 'trade', 'quote', 'orderbook', 'candle', 'status', 'gap', 'reject'] as const
export type RowKind = (typeof ROW_KINDS)[number]

/** A WebSocket frame as it travelled: text or binary matters to clients. */
export interface Frame {
  readonly data: string | Uint8Array
  readonly binary: boolean
}

/** One row as the recorder hands it to the writer (the writer assigns `seq`). */
export interface RowInput {
  /** Receive time, ns since the Unix epoch (UTC). */
  recv_ts: bigint
  /** Exchange time in the feed's `exchTsUnit`, or null. */
  exch_ts: bigint | null
  symbol: string
  kind: RowKind
  /** Received payload bytes, or null when the decoded columns re-encode to them exactly. */
  raw: Uint8Array | null
  /** JSON details for status/gap/reject rows, else null. */
  info: string | null
  /** Feed columns by name; a missing or undefined value is stored as null. */
  fields: Record<string, unknown> | null
}

/** A recorded row as replay gets it back. */
export interface RowView {
  recv_ts: bigint
  exch_ts: bigint | null
  symbol: string
  kind: RowKind
  seq: bigint
  raw: Uint8Array | null
  info: string | null
  fields: Record<string, unknown>
}

export type TimeUnitName = 's' | 'ms' | 'us' | 'ns'

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
