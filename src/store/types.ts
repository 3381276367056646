/**
 * The recording format's own types (docs/FORMAT.md): the column types the
 * store writes and reads, the row kinds, and a row going in and coming out.
 * The store owns them and imports no feed; feeds build on them
 * (src/feeds/types.ts re-exports them for the feeds' use).
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

/** The common columns every recording starts with, in schema order (docs/FORMAT.md); feed columns follow them. */
export const COMMON_COLUMNS = ['recv_ts', 'exch_ts', 'symbol', 'kind', 'seq', 'raw', 'info'] as const
export type CommonColumn = (typeof COMMON_COLUMNS)[number]

/**
 * Each common column's position in a recording's schema and record batches
 * (`batch.getChildAt(COL.recv_ts)`, `file.columns[COL.exch_ts]`): the only
 * place the store and its readers spell these positions. Every file mdrec
 * reads has them there (openRecording checks the names and types).
 */
export const COL = {recv_ts: 0, exch_ts: 1, symbol: 2, kind: 3, seq: 4, raw: 5, info: 6} as const satisfies Record<CommonColumn, number>

/** Position of the first feed column: feed column `j` (RecordingFile.feedColumns[j]) is batch child `FEED_COL0 + j`. */
export const FEED_COL0 = COMMON_COLUMNS.length
