/**
 * Upbit quotation messages: the field tables (DEFAULT name, SIMPLE
 * abbreviation, recording column) of ticker, trade, orderbook and candle, and
 * the key order and number formats the real server uses (the "canonical
 * layout" of each message type, see layout.ts).
 *
 * Canonical layouts follow frames captured from wss://api.upbit.com in
 * 2025–2026 (Upbit's own documentation examples and public captures):
 * prices and volumes are Java BigDecimals printed with a fixed scale
 * (`158219000.00000000`, zero as `0E-8`), change rates with scale 10 (zero as
 * `0`), 24 h traded value and the trade message's best bid/ask as the shortest
 * decimal, order book prices with one decimal (`109950000.0`) and sizes as
 * the shortest decimal.
 */
import type {ColumnDef, ColumnType, RowKind} from '../types.js'

/** Wire formats a client can ask for (the request's format object). */
export const FORMATS = ['DEFAULT', 'SIMPLE', 'JSON_LIST', 'SIMPLE_LIST'] as const
export type UpbitFormat = (typeof FORMATS)[number]

/** Quotation types of the public endpoint. */
export const CANDLE_UNITS = ['1s', '1m', '3m', '5m', '10m', '15m', '30m', '60m', '240m'] as const
export const QUOTATION_TYPES: readonly string[] = ['ticker', 'trade', 'orderbook', ...CANDLE_UNITS.map((u) => `candle.${u}`)]
/** Types of the private endpoint (need `Authorization: Bearer <JWT>`). */
export const PRIVATE_TYPES: readonly string[] = ['myOrder', 'myAsset']
/** Order book depths a code suffix may ask for (`KRW-BTC.15`); no suffix means 30. */
export const ORDERBOOK_DEPTHS = [1, 5, 15, 30] as const
export const DEFAULT_DEPTH = 30

/** Row kind of a message type. */
export function kindOfType(type: string): RowKind {
  if (type === 'ticker') return 'tick'
  if (type === 'trade') return 'trade'
  if (type === 'orderbook') return 'orderbook'
  if (type.startsWith('candle.')) return 'candle'
  return 'status'
}

/** How a member's value is held: by the row's own columns or a feed column. */
export type Slot =
  | 'type' // the `type` column (dict)
  | 'code' // the row's symbol
  | 'timestamp' // the row's exch_ts (ms)
  | 'f64' // float64 column
  | 'i64' // int64 column (bigint)
  | 'u64' // uint64 column (bigint): sequential_id, beyond 2^53
  | 'str' // utf8 / dict_utf8 column
  | 'bool'
  | 'units' // orderbook_units (list of structs)

export interface FieldSpec {
  /** DEFAULT key = the column name (except type/code/timestamp). */
  readonly name: string
  readonly simple: string
  readonly slot: Slot
  /** Canonical number format token (see layout.ts) for numeric slots. */
  readonly token?: string
}

function fs(name: string, simple: string, slot: Slot, token?: string): FieldSpec {
  return Object.freeze({name, simple, slot, token})
}

const TYPE = fs('type', 'ty', 'type')
const CODE = fs('code', 'cd', 'code')
const TIMESTAMP = fs('timestamp', 'tms', 'timestamp')
const STREAM_TYPE = fs('stream_type', 'st', 'str')

/** ticker, in the real server's key order. */
export const TICKER_FIELDS: readonly FieldSpec[] = [
  TYPE,
  CODE,
  fs('opening_price', 'op', 'f64', '8'),
  fs('high_price', 'hp', 'f64', '8'),
  fs('low_price', 'lp', 'f64', '8'),
  fs('trade_price', 'tp', 'f64', '8'),
  fs('prev_closing_price', 'pcp', 'f64', '8'),
  fs('acc_trade_price', 'atp', 'f64', '16'),
  fs('change', 'c', 'str'),
  fs('change_price', 'cp', 'f64', '8'),
  fs('signed_change_price', 'scp', 'f64', '8'),
  fs('change_rate', 'cr', 'f64', '10z'),
  fs('signed_change_rate', 'scr', 'f64', '10z'),
  fs('ask_bid', 'ab', 'str'),
  fs('trade_volume', 'tv', 'f64', '8'),
  fs('acc_trade_volume', 'atv', 'f64', '8'),
  fs('trade_date', 'tdt', 'str'),
  fs('trade_time', 'ttm', 'str'),
  fs('trade_timestamp', 'ttms', 'i64'),
  fs('acc_ask_volume', 'aav', 'f64', '8'),
  fs('acc_bid_volume', 'abv', 'f64', '8'),
  fs('highest_52_week_price', 'h52wp', 'f64', '8'),
  fs('highest_52_week_date', 'h52wdt', 'str'),
  fs('lowest_52_week_price', 'l52wp', 'f64', '8'),
  fs('lowest_52_week_date', 'l52wdt', 'str'),
  fs('market_state', 'ms', 'str'),
  fs('is_trading_suspended', 'its', 'bool'),
  fs('delisting_date', 'dd', 'str'),
  fs('market_warning', 'mw', 'str'),
  TIMESTAMP,
  fs('acc_trade_price_24h', 'atp24h', 'f64', 's'),
  fs('acc_trade_volume_24h', 'atv24h', 'f64', '8'),
  STREAM_TYPE,
]

/** trade, in the real server's key order. */
export const TRADE_FIELDS: readonly FieldSpec[] = [
  TYPE,
  CODE,
  TIMESTAMP,
  fs('trade_date', 'td', 'str'),
  fs('trade_time', 'ttm', 'str'),
  fs('trade_timestamp', 'ttms', 'i64'),
  fs('trade_price', 'tp', 'f64', '8'),
  fs('trade_volume', 'tv', 'f64', '8'),
  fs('ask_bid', 'ab', 'str'),
  fs('prev_closing_price', 'pcp', 'f64', '8'),
  fs('change', 'c', 'str'),
  fs('change_price', 'cp', 'f64', '8'),
  fs('sequential_id', 'sid', 'u64'),
  fs('best_ask_price', 'bap', 'f64', 's'),
  fs('best_ask_size', 'bas', 'f64', 's'),
  fs('best_bid_price', 'bbp', 'f64', 's'),
  fs('best_bid_size', 'bbs', 'f64', 's'),
  STREAM_TYPE,
]

/** One `orderbook_units` entry. */
export const UNIT_FIELDS: readonly FieldSpec[] = [
  fs('ask_price', 'ap', 'f64', 'd'),
  fs('bid_price', 'bp', 'f64', 'd'),
  fs('ask_size', 'as', 'f64', 's'),
  fs('bid_size', 'bs', 'f64', 's'),
]
export const UNIT_KEYS = UNIT_FIELDS.map((f) => f.name)

/** orderbook, in the real server's key order. */
export const ORDERBOOK_FIELDS: readonly FieldSpec[] = [
  TYPE,
  CODE,
  TIMESTAMP,
  fs('total_ask_size', 'tas', 'f64', 's'),
  fs('total_bid_size', 'tbs', 'f64', 's'),
  fs('orderbook_units', 'obu', 'units'),
  STREAM_TYPE,
  fs('level', 'lv', 'f64', 's'),
]

/** candle.*, in the real server's key order. */
export const CANDLE_FIELDS: readonly FieldSpec[] = [
  TYPE,
  CODE,
  fs('candle_date_time_utc', 'cdttmu', 'str'),
  fs('candle_date_time_kst', 'cdttmk', 'str'),
  fs('opening_price', 'op', 'f64', 's'),
  fs('high_price', 'hp', 'f64', 's'),
  fs('low_price', 'lp', 'f64', 's'),
  fs('trade_price', 'tp', 'f64', 's'),
  fs('candle_acc_trade_volume', 'catv', 'f64', 's'),
  fs('candle_acc_trade_price', 'catp', 'f64', 's'),
  TIMESTAMP,
  STREAM_TYPE,
]

/** Messages of other types (myOrder, myAsset, types Upbit adds later): only these are columns, the rest is kept in unknown_fields. */
export const GENERIC_FIELDS: readonly FieldSpec[] = [TYPE, CODE, TIMESTAMP, STREAM_TYPE]

/** The field table of a message type (`candle.*` share one), or undefined for other types. */
export function fieldsOfType(type: string): readonly FieldSpec[] | undefined {
  switch (type) {
    case 'ticker':
      return TICKER_FIELDS
    case 'trade':
      return TRADE_FIELDS
    case 'orderbook':
      return ORDERBOOK_FIELDS
    default:
      return type.startsWith('candle.') ? CANDLE_FIELDS : undefined
  }
}

export interface KeyMaps {
  /** DEFAULT or SIMPLE key → field. */
  readonly byKey: ReadonlyMap<string, FieldSpec>
  /** Field name → its key in this spelling. */
  readonly keyOf: ReadonlyMap<string, string>
}

function keyMaps(fields: readonly FieldSpec[], simple: boolean): KeyMaps {
  const byKey = new Map<string, FieldSpec>()
  const keyOf = new Map<string, string>()
  for (const f of fields) {
    const k = simple ? f.simple : f.name
    byKey.set(k, f)
    keyOf.set(f.name, k)
  }
  return {byKey, keyOf}
}

const MAPS = new Map<readonly FieldSpec[], [KeyMaps, KeyMaps]>()
for (const t of [TICKER_FIELDS, TRADE_FIELDS, ORDERBOOK_FIELDS, CANDLE_FIELDS, UNIT_FIELDS, GENERIC_FIELDS]) MAPS.set(t, [keyMaps(t, false), keyMaps(t, true)])

export function keyMapsOf(fields: readonly FieldSpec[], simple: boolean): KeyMaps {
  return MAPS.get(fields)![simple ? 1 : 0]
}

const STR_DICT = new Set([
  'type',
  'stream_type',
  'change',
  'ask_bid',
  'trade_date',
  'highest_52_week_date',
  'lowest_52_week_date',
  'market_state',
  'delisting_date',
  'market_warning',
])

/** The recording's feed columns (DEFAULT names), in this order, for every Upbit recording. */
export const UPBIT_COLUMNS: readonly ColumnDef[] = (() => {
  const cols: ColumnDef[] = []
  const seen = new Set<string>()
  const add = (name: string, type: ColumnType, description: string, extra?: Partial<ColumnDef>) => {
    if (seen.has(name)) return
    seen.add(name)
    cols.push({name, type, description, ...extra})
  }
  add('type', 'dict_utf8', 'message type: ticker, trade, orderbook, candle.1m, … (`ty`)')
  add('stream_type', 'dict_utf8', 'SNAPSHOT or REALTIME (`st`)')
  for (const table of [TICKER_FIELDS, TRADE_FIELDS, ORDERBOOK_FIELDS, CANDLE_FIELDS]) {
    for (const f of table) {
      if (f.slot === 'type' || f.slot === 'code' || f.slot === 'timestamp') continue
      const what = `${f.name} (\`${f.simple}\`)`
      switch (f.slot) {
        case 'f64':
          add(f.name, 'float64', what)
          break
        case 'i64':
          add(f.name, 'int64', `${what}, ms since the epoch`)
          break
        case 'u64':
          add(f.name, 'uint64', `${what}, exact (beyond 2^53)`)
          break
        case 'bool':
          add(f.name, 'bool', what)
          break
        case 'str':
          add(f.name, STR_DICT.has(f.name) ? 'dict_utf8' : 'utf8', what)
          break
        case 'units':
          add(f.name, 'list_struct_f64', `${what}: one struct per depth rank`, {fields: UNIT_KEYS})
          break
      }
    }
  }
  add('layout', 'dict_utf8', 'key order and number formats of the message when they differ from the real server\'s (null: as Upbit sends them)')
  add(
    'unknown_fields',
    'utf8',
    'JSON array of texts kept verbatim, in message order: members this schema does not know (or whose value does not fit their column), and numbers with more digits than a float64 holds (re-emitted where `layout` places them)',
  )
  return cols
})()

