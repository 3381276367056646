/**
 * Binance spot market streams codec: text WebSocket frames of JSON ↔ rows.
 *
 * Message shapes (Binance's public "WebSocket Streams for Binance",
 * https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams):
 *
 * | stream | payload keys, in the order Binance prints them |
 * |---|---|
 * | `<s>@trade` | `e`("trade"), `E`, `s`, `t`, `p`, `q`, `T`, `m`, `M` |
 * | `<s>@aggTrade` | `e`("aggTrade"), `E`, `s`, `a`, `p`, `q`, `f`, `l`, `T`, `m`, `M` |
 * | `<s>@bookTicker` | `u`, `s`, `b`, `B`, `a`, `A` (no `e`, no `E`) |
 * | `<s>@depth[@100ms]` | `e`("depthUpdate"), `E`, `s`, `U`, `u`, `b`, `a` |
 * | `<s>@depth<5,10,20>[@100ms]` | `lastUpdateId`, `bids`, `asks` (no symbol) |
 *
 * The combined endpoint (`/stream`) wraps each payload as
 * `{"stream":"<name>","data":<payload>}`; the raw endpoint (`/ws`) sends it
 * bare. Prices and quantities are decimal strings (`"0.00100000"`): they are
 * stored as the strings printed, never as floats; ids (`t`, `a`, `f`, `l`,
 * `U`, `u`, `lastUpdateId`) are read from the text into uint64 columns, never
 * through a JS number; `E` is `exch_ts` (ms) and `T` is `trade_time` (ms).
 * Book levels (`b`/`a`, `bids`/`asks`: arrays of `[price, qty]` strings)
 * are kept as their JSON text.
 *
 * ## Rows
 * One row per frame. `kind`: trade and aggTrade → trade, bookTicker →
 * quote, depthUpdate and partial books → orderbook; the replies to the
 * recorder's own requests that are not swallowed (errors) and any message
 * this codec does not know → status (`info` holds the message). `symbol` is
 * `s`, or the stream name's symbol (uppercase) for a partial book.
 *
 * ## Exact re-encoding
 * A row re-encodes from its columns in the key order above. `exact` is true
 * only when that gives back the received text (checked, not assumed): a
 * message with other keys, another order, whitespace or a differently
 * printed value keeps its payload under `--raw auto`.
 */
import type {ColumnDef, FeedCodec, Frame, FrameDecode, RowInput, RowKind, RowView} from '../types.js'
import {JsonError, jsonInt, parseJson, type JNode, type JObj} from '../json.js'
import {inferStream, parseStream, type BinanceEvent, type StreamName} from './streams.js'

export const BINANCE_COLUMNS: readonly ColumnDef[] = [
  {name: 'stream', type: 'dict_utf8', description: 'stream name (combined endpoint: the wrapper\'s `stream`; raw endpoint: inferred from the subscriptions, null when it cannot be told)'},
  {name: 'event', type: 'dict_utf8', description: 'message type: trade, aggTrade, bookTicker, depthUpdate, depth (a partial book); null for protocol replies'},
  {name: 'trade_id', type: 'uint64', description: 'trade: `t`'},
  {name: 'agg_trade_id', type: 'uint64', description: 'aggTrade: `a`'},
  {name: 'first_trade_id', type: 'uint64', description: 'aggTrade: `f`'},
  {name: 'last_trade_id', type: 'uint64', description: 'aggTrade: `l`'},
  {name: 'price', type: 'utf8', description: 'trade, aggTrade: `p`, the decimal string as printed'},
  {name: 'qty', type: 'utf8', description: 'trade, aggTrade: `q`, the decimal string as printed'},
  {name: 'trade_time', type: 'int64', description: 'trade, aggTrade: `T` (ms)'},
  {name: 'buyer_maker', type: 'bool', description: 'trade, aggTrade: `m` (the buyer is the maker: a sell-initiated trade)'},
  {name: 'ignore', type: 'bool', description: 'trade, aggTrade: `M` ("ignore" in Binance\'s docs)'},
  {name: 'first_update_id', type: 'uint64', description: 'depthUpdate: `U`'},
  {name: 'last_update_id', type: 'uint64', description: 'depthUpdate: `u`; bookTicker: `u`; partial book: `lastUpdateId`'},
  {name: 'bid_price', type: 'utf8', description: 'bookTicker: `b`'},
  {name: 'bid_qty', type: 'utf8', description: 'bookTicker: `B`'},
  {name: 'ask_price', type: 'utf8', description: 'bookTicker: `a`'},
  {name: 'ask_qty', type: 'utf8', description: 'bookTicker: `A`'},
  {name: 'bids', type: 'utf8', description: 'depthUpdate `b`, partial book `bids`: the JSON array of [price, qty] strings as printed'},
  {name: 'asks', type: 'utf8', description: 'depthUpdate `a`, partial book `asks`: the JSON array of [price, qty] strings as printed'},
]

type SlotKind = 'e' | 'E' | 's' | 'u64' | 'i64' | 'str' | 'bool' | 'levels'
type Slot = readonly [key: string, column: string, kind: SlotKind]

const E: Slot = ['e', 'event', 'e']
const ET: Slot = ['E', '', 'E']
const S: Slot = ['s', '', 's']
const P: Slot = ['p', 'price', 'str']
const Q: Slot = ['q', 'qty', 'str']
const T: Slot = ['T', 'trade_time', 'i64']
const M: Slot = ['m', 'buyer_maker', 'bool']
const MM: Slot = ['M', 'ignore', 'bool']

/** Each message type's keys in Binance's order (the module comment's table). */
export const TEMPLATES: Readonly<Record<BinanceEvent, readonly Slot[]>> = {
  trade: [E, ET, S, ['t', 'trade_id', 'u64'], P, Q, T, M, MM],
  aggTrade: [E, ET, S, ['a', 'agg_trade_id', 'u64'], P, Q, ['f', 'first_trade_id', 'u64'], ['l', 'last_trade_id', 'u64'], T, M, MM],
  bookTicker: [['u', 'last_update_id', 'u64'], S, ['b', 'bid_price', 'str'], ['B', 'bid_qty', 'str'], ['a', 'ask_price', 'str'], ['A', 'ask_qty', 'str']],
  depthUpdate: [E, ET, S, ['U', 'first_update_id', 'u64'], ['u', 'last_update_id', 'u64'], ['b', 'bids', 'levels'], ['a', 'asks', 'levels']],
  depth: [['lastUpdateId', 'last_update_id', 'u64'], ['bids', 'bids', 'levels'], ['asks', 'asks', 'levels']],
}

const KIND: Readonly<Record<BinanceEvent, RowKind>> = {trade: 'trade', aggTrade: 'trade', bookTicker: 'quote', depthUpdate: 'orderbook', depth: 'orderbook'}

/** The part of a row a message is encoded from. */
export type BinanceRow = Pick<RowView, 'symbol' | 'exch_ts' | 'fields'>

// ---------------------------------------------------------------------------
// Encoding

/** Compact JSON text of a parsed node, numbers as printed. */
export function nodeText(n: JNode): string {
  switch (n.t) {
    case 'n':
      return n.text
    case 's':
      return JSON.stringify(n.v)
    case 'b':
      return n.v ? 'true' : 'false'
    case 'z':
      return 'null'
    case 'a':
      return `[${n.items.map(nodeText).join(',')}]`
    case 'o':
      return `{${n.members.map((m) => `${JSON.stringify(m.key)}:${nodeText(m.value)}`).join(',')}}`
  }
}

function scalar(v: unknown, kind: SlotKind): string {
  switch (kind) {
    case 'u64':
    case 'i64':
      return typeof v === 'bigint' || typeof v === 'number' ? String(v) : 'null'
    case 'bool':
      return typeof v === 'boolean' ? String(v) : 'null'
    case 'levels':
      return typeof v === 'string' ? v : 'null'
    default:
      return typeof v === 'string' ? JSON.stringify(v) : 'null'
  }
}

/**
 * The payload (unwrapped) of a data row, in Binance's key order; `shiftMs`
 * moves `E` and `T` (replay loops). Null for a row without a known `event`.
 */
export function encodePayload(row: BinanceRow, shiftMs = 0): string | null {
  const f = row.fields
  const ev = f.event
  if (typeof ev !== 'string' || !(ev in TEMPLATES)) return null
  const d = BigInt(shiftMs)
  let s = '{'
  const slots = TEMPLATES[ev as BinanceEvent]
  for (let i = 0; i < slots.length; i++) {
    const [key, col, kind] = slots[i]
    s += `${i > 0 ? ',' : ''}"${key}":`
    if (kind === 'e') s += JSON.stringify(ev)
    else if (kind === 'E') s += row.exch_ts === null ? 'null' : String(row.exch_ts + d)
    else if (kind === 's') s += row.symbol === '' ? 'null' : JSON.stringify(row.symbol)
    else if (col === 'trade_time' && typeof f[col] === 'bigint') s += String((f[col] as bigint) + d)
    else s += scalar(f[col], kind)
  }
  return `${s}}`
}

/** `{"stream":…,"data":…}`, the combined endpoint's wrapper. */
export function wrap(stream: string, payload: string): string {
  return `{"stream":${JSON.stringify(stream)},"data":${payload}}`
}

// ---------------------------------------------------------------------------
// Decoding

type DecodedRow = Omit<RowInput, 'recv_ts' | 'raw'> & {exact: boolean}


function member(o: JObj, key: string): JNode | undefined {
  for (const m of o.members) if (m.key === key) return m.value
  return undefined
}

/** The message type of a payload object, or null (a protocol reply or an unknown message). */
export function eventOf(o: JObj): BinanceEvent | null {
  const e = member(o, 'e')
  if (e !== undefined) return e.t === 's' && (e.v === 'trade' || e.v === 'aggTrade' || e.v === 'depthUpdate') ? e.v : null
  if (member(o, 'lastUpdateId') !== undefined) return 'depth'
  if (member(o, 'u') !== undefined && member(o, 'B') !== undefined && member(o, 'A') !== undefined) return 'bookTicker'
  return null
}

interface Payload {
  row: DecodedRow
  /** Every member was read into a column (re-encoding may still differ: checked by the caller). */
  clean: boolean
  levels: number
}

/** One payload object's row; `src` is the frame's text (the members' spans point into it). A status row's `info` is the caller's. */
function decodePayload(o: JObj, src: string): Payload {
  const event = eventOf(o)
  if (event === null) {
    return {row: {exch_ts: null, symbol: '', kind: 'status', info: null, fields: {}, exact: false}, clean: false, levels: 0}
  }
  const slots = TEMPLATES[event]
  const fields: Record<string, unknown> = {event}
  let symbol = ''
  let exch: bigint | null = null
  let clean = o.members.length === slots.length
  let levels = 0
  const seen = new Set<string>()
  for (const m of o.members) {
    const slot = slots.find((s) => s[0] === m.key)
    if (slot === undefined || seen.has(m.key)) {
      clean = false
      continue
    }
    seen.add(m.key)
    const [, col, kind] = slot
    const v = m.value
    let ok = true
    switch (kind) {
      case 'e':
        break
      case 'E': {
        const b = jsonInt(v, false)
        if (b === undefined) ok = false
        else exch = b
        break
      }
      case 's':
        if (v.t === 's' && v.v !== '' && !v.lone) symbol = v.v
        else ok = false
        break
      case 'u64':
      case 'i64': {
        const b = jsonInt(v, kind === 'u64')
        if (b === undefined) ok = false
        else fields[col] = b
        break
      }
      case 'str':
        if (v.t === 's' && !v.lone) fields[col] = v.v
        else ok = false
        break
      case 'bool':
        if (v.t === 'b') fields[col] = v.v
        else ok = false
        break
      case 'levels':
        if (v.t === 'a') {
          // the array's text as printed (cut from the frame: re-serializing it costs more than the rest of the decode)
          const part = src.slice(m.start, m.end)
          fields[col] = part.slice(part.indexOf(':') + 1).trim()
          if (col === 'bids') levels = v.items.length
        } else ok = false
        break
    }
    if (!ok) clean = false
  }
  return {row: {exch_ts: exch, symbol, kind: KIND[event], info: null, fields, exact: false}, clean, levels}
}

const TD = new TextDecoder()

export type BinanceRejectCode = 'BAD_JSON' | 'NOT_OBJECT'

/**
 * Decodes one frame into one row; never throws. `combined`: the recording's
 * endpoint wraps payloads (`{stream,data}`); `subscribed`: the streams asked
 * for (a raw-endpoint payload's stream is inferred from them).
 */
export function decodeBinanceFrame(frame: Frame, combined: boolean, subscribed: readonly StreamName[]): FrameDecode {
  try {
    // Binance sends text frames: a binary frame is never exact (its payload is kept), so lenient UTF-8 decoding loses nothing
    const text = typeof frame.data === 'string' ? frame.data : TD.decode(frame.data)
    let parsed: ReturnType<typeof parseJson>
    try {
      parsed = parseJson(text)
    } catch (error) {
      if (!(error instanceof JsonError)) throw error
      return {ok: false, code: 'BAD_JSON', message: `not JSON: ${error.message}`}
    }
    const v = parsed.value
    if (v.t !== 'o') return {ok: false, code: 'NOT_OBJECT', message: `the frame is ${kindName(v)}, not a message object`}
    // the combined endpoint's wrapper: exactly {stream, data}
    const ms = v.members
    const wrapped = ms.length === 2 && ms[0].key === 'stream' && ms[0].value.t === 's' && ms[1].key === 'data' && ms[1].value.t === 'o'
    const inner = wrapped ? (ms[1].value as JObj) : v
    const p = decodePayload(inner, text)
    const row = p.row
    if (row.kind === 'status') {
      row.info = nodeText(v)
      return {ok: true, rows: [row]}
    }
    const fields = row.fields!
    const event = fields.event as BinanceEvent
    let stream: string | null = wrapped ? (ms[0].value as {v: string}).v : inferStream(event, row.symbol, p.levels, subscribed)
    if (stream !== null) {
      fields.stream = stream
      if (event === 'depth' && row.symbol === '') {
        const sn = parseStream(stream)
        if (sn) row.symbol = sn.symbol.toUpperCase()
      }
    }
    if (p.clean && !frame.binary && !parsed.spaced && wrapped === combined) {
      const payload = encodePayload(row as BinanceRow)
      row.exact = payload !== null && (combined ? stream !== null && wrap(stream, payload) === text : payload === text)
    }
    return {ok: true, rows: [row]}
  } catch (error) {
    return {ok: false, code: 'BAD_JSON', message: `undecodable frame: ${(error as Error)?.message ?? String(error)}`}
  }
}

function kindName(n: JNode): string {
  return {n: 'a number', s: 'a string', b: 'a boolean', z: 'null', a: 'an array', o: 'an object'}[n.t]
}

/** The codec of a recording made on the raw (`/ws`) or combined (`/stream`) endpoint with these streams. */
export function binanceCodec(combined: boolean, streams: readonly string[]): FeedCodec & {combined: boolean} {
  const subscribed = streams.map(parseStream).filter((s): s is StreamName => s !== null)
  return {
    feed: 'binance',
    combined,
    exchTsUnit: 'ms',
    columns: BINANCE_COLUMNS,
    decode(frame: Frame): FrameDecode {
      return decodeBinanceFrame(frame, combined, subscribed)
    },
    encode(row: RowView): Frame {
      if (row.raw) return {data: Buffer.from(row.raw).toString('utf8'), binary: false}
      const payload = encodePayload(row) ?? 'null'
      const stream = row.fields.stream
      return {data: combined && typeof stream === 'string' ? wrap(stream, payload) : payload, binary: false}
    },
  }
}
