/**
 * Yahoo Finance streamer codec: the `PricingData` protobuf and the two text
 * envelopes (v1: bare base64; v2: `{"type":"pricing","message":"<base64>"}`).
 *
 * Used in both directions and on every frame: the recorder decodes what the
 * live feed sends, the emulator re-encodes recorded messages. The encoder is
 * canonical in the sense of Google's runtimes (C++, upb/Python, Java): known
 * fields in field-number order, a field is omitted when it holds its default
 * (for float/double: when its *bit pattern* is zero, so -0 and NaN are
 * written), then the unknown fields verbatim. `isCanonicalFrame` tells whether
 * a received frame is exactly what the encoder would produce, i.e. whether the
 * decoded fields alone are enough to replay it byte for byte.
 *
 * ## Schema
 * The schema is embedded: `PRICING_FIELDS` below is the field table, and
 * `PRICING_DESCRIPTOR` (protobufjs JSON descriptor form, built from it) is what
 * `pricingSchema()` loads into a protobufjs `Root`. Embedding rather than
 * `protobuf.parse` of `proto/pricing.proto` at import time means no file I/O
 * and no path arithmetic at import (works from dist/, from src/ under vitest,
 * and inside a bundle). `proto/pricing.proto` is the human-facing copy; the
 * test suite parses it with protobufjs and fails if it and the embedded
 * schema ever differ.
 *
 * ## Why the wire loop is hand-written
 * protobufjs reflection (`Type.decode`/`encode`) cannot be used per frame here:
 * - 64-bit: it yields `Long` objects (or lossy numbers when `long` is absent),
 *   never `bigint`; converting through them costs more than reading the varint.
 * - unknown fields: reflection skips and drops them; we must keep their bytes.
 * - strictness: its `Reader` accepts things Google's parser rejects (varints
 *   longer than 10 bytes are skipped blindly, an end-group tag is not matched
 *   to its start, proto3 strings are not UTF-8-validated).
 * - speed: the budget is well under 1 µs per message.
 * So the loop below reads and writes the wire format directly on a Uint8Array,
 * using protobufjs's `util.float` primitives for float32/float64 bytes
 * (endianness-safe). The semantics follow Google's parsers (upb, C++): varints
 * of at most 10 bytes (bits beyond 64 ignored), tags must fit in 32 bits,
 * field number 0 is invalid, groups must end with the matching end-group tag,
 * proto3 strings must be valid UTF-8, last occurrence of a scalar wins.
 * One deliberate difference, as specified for mdrec: a known field arriving
 * with an unexpected wire type is an error (`BAD_PROTOBUF`), where Google's
 * runtimes keep it as an unknown field (the pure-Python decoder, for one,
 * dispatches on the raw tag bytes and skips any tag it has no decoder for).
 *
 * Decoding is lenient where Google's parsers are (overlong varints, fields out
 * of order or repeated, explicit defaults) and, like Python's base64 decoder,
 * accepts stray bits before the base64 padding; such frames decode, and
 * `isCanonicalFrame` reports them as not canonical.
 *
 * Byte arrays returned (frame bytes, unknown_fields, encodePricing's result)
 * may be views into a shared pool ArrayBuffer (see allocBytes): always honour
 * byteOffset/byteLength.
 */
import protobuf from 'protobufjs'

import type {DecodeResult, PricingData, YahooDecodeErrorCode, YahooEnvelope} from './types.js'

// ---------------------------------------------------------------------------
// Schema

export type PricingFieldKind = 'string' | 'float' | 'double' | 'int32' | 'sint64'
export type PricingFieldName = Exclude<keyof PricingData, 'unknown_fields'>

export interface PricingField {
  readonly name: PricingFieldName
  readonly number: number
  readonly kind: PricingFieldKind
}

function f(name: PricingFieldName, number: number, kind: PricingFieldKind): PricingField {
  return Object.freeze({name, number, kind})
}

/** The 33 `PricingData` fields in field-number order (the recording's column layout follows it). */
export const PRICING_FIELDS: readonly PricingField[] = Object.freeze([
  f('id', 1, 'string'),
  f('price', 2, 'float'),
  f('time', 3, 'sint64'),
  f('currency', 4, 'string'),
  f('exchange', 5, 'string'),
  f('quote_type', 6, 'int32'),
  f('market_hours', 7, 'int32'),
  f('change_percent', 8, 'float'),
  f('day_volume', 9, 'sint64'),
  f('day_high', 10, 'float'),
  f('day_low', 11, 'float'),
  f('change', 12, 'float'),
  f('short_name', 13, 'string'),
  f('expire_date', 14, 'sint64'),
  f('open_price', 15, 'float'),
  f('previous_close', 16, 'float'),
  f('strike_price', 17, 'float'),
  f('underlying_symbol', 18, 'string'),
  f('open_interest', 19, 'sint64'),
  f('options_type', 20, 'sint64'),
  f('mini_option', 21, 'sint64'),
  f('last_size', 22, 'sint64'),
  f('bid', 23, 'float'),
  f('bid_size', 24, 'sint64'),
  f('ask', 25, 'float'),
  f('ask_size', 26, 'sint64'),
  f('price_hint', 27, 'sint64'),
  f('vol_24hr', 28, 'sint64'),
  f('vol_all_currencies', 29, 'sint64'),
  f('from_currency', 30, 'string'),
  f('last_market', 31, 'string'),
  f('circulating_supply', 32, 'double'),
  f('market_cap', 33, 'double'),
])

/** Known values of `quote_type` (the field itself is an int32 and may hold others). */
export const QuoteType = Object.freeze({
  NONE: 0,
  ALTSYMBOL: 5,
  HEARTBEAT: 7,
  EQUITY: 8,
  INDEX: 9,
  MUTUALFUND: 11,
  MONEYMARKET: 12,
  OPTION: 13,
  CURRENCY: 14,
  WARRANT: 15,
  BOND: 17,
  FUTURE: 18,
  ETF: 20,
  COMMODITY: 23,
  ECNQUOTE: 28,
  CRYPTOCURRENCY: 41,
  INDICATOR: 42,
  INDUSTRY: 1000,
} as const)
export type QuoteTypeName = keyof typeof QuoteType

/** Known values of `market_hours`. */
export const MarketHoursType = Object.freeze({
  PRE_MARKET: 0,
  REGULAR_MARKET: 1,
  POST_MARKET: 2,
  EXTENDED_HOURS_MARKET: 3,
} as const)
export type MarketHoursTypeName = keyof typeof MarketHoursType

function reverse<K extends string>(values: Readonly<Record<K, number>>): Map<number, K> {
  const m = new Map<number, K>()
  for (const k of Object.keys(values) as K[]) m.set(values[k], k)
  return m
}
const QUOTE_TYPE_NAMES = reverse(QuoteType)
const MARKET_HOURS_NAMES = reverse(MarketHoursType)

/** `quoteTypeName(8) === 'EQUITY'`; `undefined` for a value the enum does not list. */
export function quoteTypeName(n: number): QuoteTypeName | undefined {
  return QUOTE_TYPE_NAMES.get(n)
}

/** `marketHoursName(1) === 'REGULAR_MARKET'`; `undefined` for a value the enum does not list. */
export function marketHoursName(n: number): MarketHoursTypeName | undefined {
  return MARKET_HOURS_NAMES.get(n)
}

/** The schema of `proto/pricing.proto` as a protobufjs JSON descriptor (see the header comment). */
export const PRICING_DESCRIPTOR: protobuf.INamespace = {
  nested: {
    PricingData: {
      fields: Object.fromEntries(PRICING_FIELDS.map((fd) => [fd.name, {type: fd.kind, id: fd.number}])),
    },
    QuoteType: {values: {...QuoteType}},
    MarketHoursType: {values: {...MarketHoursType}},
  },
}

export interface PricingSchema {
  root: protobuf.Root
  PricingData: protobuf.Type
  QuoteType: protobuf.Enum
  MarketHoursType: protobuf.Enum
}

let schema: PricingSchema | undefined

/**
 * The schema as protobufjs reflection objects, built on first use from the
 * embedded descriptor. For tooling (introspection, JSON conversion); the
 * per-frame codec below does not go through it.
 */
export function pricingSchema(): PricingSchema {
  if (schema === undefined) {
    const root = protobuf.Root.fromJSON(PRICING_DESCRIPTOR)
    schema = {
      root,
      PricingData: root.lookupType('PricingData'),
      QuoteType: root.lookupEnum('QuoteType'),
      MarketHoursType: root.lookupEnum('MarketHoursType'),
    }
  }
  return schema
}

// ---------------------------------------------------------------------------
// Small shared pieces

const readFloatLE = protobuf.util.float.readFloatLE
const writeFloatLE = protobuf.util.float.writeFloatLE
const readDoubleLE = protobuf.util.float.readDoubleLE
const writeDoubleLE = protobuf.util.float.writeDoubleLE

/** Thrown inside the codec only; turned into a `DecodeResult` error at the API boundary. */
class WireError {
  constructor(readonly message: string) {}
}

function fail<T>(code: YahooDecodeErrorCode, message: string): DecodeResult<T> {
  return {ok: false, error: {code, message}}
}

function errorText(err: unknown): string {
  if (err instanceof WireError) return err.message
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}

const V2_PREFIX = '{"type":"pricing","message":"'
const V2_SUFFIX = '"}'
const V2_PREFIX_LEN = V2_PREFIX.length

/** frame.startsWith(V2_PREFIX), but `lastIndexOf(x, 0) === 0` is twice as fast in V8 (Node 20). */
function hasV2Prefix(frame: string): boolean {
  return frame.lastIndexOf(V2_PREFIX, 0) === 0
}

const B64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
/** Base64 alphabet as char codes. */
const B64_ENC = new Uint8Array(64)
/** Char code (< 128) → 6-bit value, -1 outside the standard alphabet ('=' included). */
const B64_DEC = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) {
  B64_ENC[i] = B64_CHARS.charCodeAt(i)
  B64_DEC[B64_CHARS.charCodeAt(i)] = i
}
const PAD = 61 // '='

// Byte arrays handed out by the codec (payload bytes, unknown_fields, encoded
// messages). V8 allocates a typed array of at most 64 bytes on its heap
// (~20 ns) but gives a larger one its own off-heap backing store (~300 ns,
// more than the rest of the decode). So larger arrays are carved out of a
// shared 16 KiB ArrayBuffer, as Node's Buffer pool does: they are ordinary
// Uint8Arrays with a byteOffset; read them through byteOffset/byteLength,
// never through `.buffer` alone.
const POOL_SIZE = 16 * 1024
const IN_HEAP_MAX = 64
let pool = new ArrayBuffer(POOL_SIZE)
let poolOffset = 0

function allocBytes(n: number): Uint8Array {
  if (n <= IN_HEAP_MAX || n > POOL_SIZE / 8) return new Uint8Array(n)
  if (poolOffset + n > POOL_SIZE) {
    pool = new ArrayBuffer(POOL_SIZE)
    poolOffset = 0
  }
  const a = new Uint8Array(pool, poolOffset, n)
  poolOffset += (n + 7) & ~7
  return a
}

// ---------------------------------------------------------------------------
// Decoding

// "Registers" for the varint reader (a function can return one number only).
let vLo = 0
let vHi = 0

function truncated(p: number): WireError {
  return new WireError(`truncated message at byte ${p}`)
}

/**
 * Reads the varint at `p` into vLo/vHi (unsigned 32-bit halves of the value
 * modulo 2^64) and returns the position after it. At most 10 bytes, like
 * Google's parsers; bits beyond the 64th are ignored, as they do.
 */
function readVarint(buf: Uint8Array, p: number, end: number): number {
  let b: number
  let lo = 0
  let hi = 0
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= end) throw truncated(p)
    b = buf[p++]
    lo |= (b & 0x7f) << shift
    if (b < 0x80) {
      vLo = lo
      vHi = 0
      return p
    }
  }
  if (p >= end) throw truncated(p)
  b = buf[p++]
  lo |= (b & 0x0f) << 28
  hi = (b & 0x7f) >> 4
  if (b < 0x80) {
    vLo = lo >>> 0
    vHi = hi
    return p
  }
  for (let shift = 3; shift < 32; shift += 7) {
    if (p >= end) throw truncated(p)
    b = buf[p++]
    hi |= (b & 0x7f) << shift
    if (b < 0x80) {
      vLo = lo >>> 0
      vHi = hi >>> 0
      return p
    }
  }
  throw new WireError(`varint longer than 10 bytes at byte ${p - 10}`)
}

// Small values (sizes, price_hint, flags) come up all the time; bigints are
// immutable, so they can be shared instead of allocated per field.
const SMALL_BIGINTS: bigint[] = []
for (let i = -512; i < 512; i++) SMALL_BIGINTS.push(BigInt(i))

// 64-bit conversions go through one 8-byte scratch seen as int64 and as two
// uint32 halves: V8 loads/stores a BigInt64Array element much faster than it
// runs BigInt(number) or Number(bigint), and it is exact over the whole range.
const i64 = new BigInt64Array(1)
const u32 = new Uint32Array(i64.buffer)
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const LO = LITTLE_ENDIAN ? 0 : 1
const HI = LITTLE_ENDIAN ? 1 : 0

/** zigzag-decoded sint64 from the unsigned halves of the wire value, exactly. */
function zigzag64(lo: number, hi: number): bigint {
  if (hi === 0 && lo < 1024) return SMALL_BIGINTS[512 + (lo & 1 ? -(lo + 1) / 2 : lo / 2)]
  const m = -(lo & 1) // 0 or -1: (u >>> 1) ^ -(u & 1) on 64 bits, in two halves
  u32[LO] = ((lo >>> 1) | (hi << 31)) ^ m
  u32[HI] = (hi >>> 1) ^ m
  return i64[0]
}

// Strings. Market data repeats the same few strings (symbols, exchanges,
// currencies) on every tick, so short ASCII strings go through a small
// direct-mapped cache keyed by their bytes: a hit costs a byte comparison
// instead of building a new string.
const STR_CACHE_BITS = 10
const STR_CACHE_MASK = (1 << STR_CACHE_BITS) - 1
const STR_CACHE_MAX_LEN = 40
const strCacheStr: string[] = new Array<string>(1 << STR_CACHE_BITS).fill('')
const strCacheBytes = new Uint8Array((1 << STR_CACHE_BITS) * STR_CACHE_MAX_LEN)
const strCacheLen = new Uint8Array(1 << STR_CACHE_BITS) // 0: empty slot
const utf8Decoder = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})

function decodeString(buf: Uint8Array, s: number, e: number): string {
  const n = e - s
  if (n === 0) return ''
  if (n > STR_CACHE_MAX_LEN) return decodeUtf8(buf, s, e)
  let h = n
  for (let i = s; i < e; i++) {
    const c = buf[i]
    if (c >= 0x80) return decodeUtf8(buf, s, e)
    h = (Math.imul(h, 31) + c) | 0
  }
  const slot = (h ^ (h >>> STR_CACHE_BITS)) & STR_CACHE_MASK
  const base = slot * STR_CACHE_MAX_LEN
  if (strCacheLen[slot] === n) {
    let i = 0
    while (i < n && strCacheBytes[base + i] === buf[s + i]) i++
    if (i === n) return strCacheStr[slot]
  }
  let str = ''
  for (let i = s; i < e; i++) str += String.fromCharCode(buf[i])
  strCacheStr[slot] = str
  strCacheLen[slot] = n
  for (let i = 0; i < n; i++) strCacheBytes[base + i] = buf[s + i]
  return str
}

function decodeUtf8(buf: Uint8Array, s: number, e: number): string {
  try {
    return utf8Decoder.decode(buf.subarray(s, e))
  } catch {
    throw new WireError(`string field at byte ${s} is not valid UTF-8`)
  }
}

let strOut = ''

/** Reads a length-delimited string at `p` (just after the tag) into strOut; returns the position after it. */
function readString(buf: Uint8Array, p: number, end: number): number {
  let n: number
  if (p < end && buf[p] < 0x80) n = buf[p++]
  else {
    p = readVarint(buf, p, end)
    if (vHi !== 0) throw truncated(p)
    n = vLo
  }
  if (n > end - p) throw truncated(p)
  strOut = decodeString(buf, p, p + n)
  return p + n
}

// Unknown fields: [start, end) spans of the input, adjacent spans merged.
const spans: number[] = []
let spanCount = 0

function addSpan(s: number, e: number): void {
  if (spanCount > 0 && spans[spanCount - 1] === s) {
    spans[spanCount - 1] = e
    return
  }
  spans[spanCount++] = s
  spans[spanCount++] = e
}

const MAX_GROUP_DEPTH = 100

/** Skips the value of a field whose tag was just read; returns the position after it. */
function skipValue(buf: Uint8Array, p: number, end: number, tag: number, depth: number): number {
  const wireType = tag & 7
  switch (wireType) {
    case 0:
      return readVarint(buf, p, end)
    case 1:
      if (end - p < 8) throw truncated(p)
      return p + 8
    case 2: {
      p = readVarint(buf, p, end)
      if (vHi !== 0 || vLo > end - p) throw truncated(p)
      return p + vLo
    }
    case 3: {
      if (depth >= MAX_GROUP_DEPTH) throw new WireError(`groups nested deeper than ${MAX_GROUP_DEPTH}`)
      const field = tag >>> 3
      for (;;) {
        p = readVarint(buf, p, end)
        if (vHi !== 0) throw new WireError(`tag out of range at byte ${p}`)
        const inner = vLo
        if (inner >>> 3 === 0) throw new WireError(`field number 0 at byte ${p}`)
        if ((inner & 7) === 4) {
          if (inner >>> 3 !== field) throw new WireError(`end-group tag for field ${inner >>> 3} closes group ${field} at byte ${p}`)
          return p
        }
        p = skipValue(buf, p, end, inner, depth + 1)
      }
    }
    case 5:
      if (end - p < 4) throw truncated(p)
      return p + 4
    case 4:
      throw new WireError(`unexpected end-group tag at byte ${p}`)
    default:
      throw new WireError(`invalid wire type ${wireType} at byte ${p}`)
  }
}

/** The default branch of the decode loop: an unknown field, or a known one with the wrong wire type. */
function unknownField(buf: Uint8Array, tagStart: number, p: number, end: number, tag: number): number {
  const field = tag >>> 3
  if (field === 0) throw new WireError(`field number 0 at byte ${tagStart}`)
  // A known field number with an unexpected wire type is kept as an unknown
  // field, as Google's parsers do (and so yfinance): if Yahoo ever changes a
  // field's type, frames still decode, the column is null, the bytes survive
  // in unknown_fields, and --raw auto keeps the payload (it is not canonical).
  p = skipValue(buf, p, end, tag, 0)
  addSpan(tagStart, p)
  return p
}

/**
 * Every decoded message starts from this literal, so all of them share one
 * hidden class (all 34 keys present, absent fields `undefined`). Code that
 * reads many messages (the encoder, the recorder's column writer) then does
 * monomorphic property loads; with shapes varying by which fields arrived,
 * re-encoding measured ~40% slower.
 */
function emptyMessage(): PricingData {
  return {
    id: undefined,
    price: undefined,
    time: undefined,
    currency: undefined,
    exchange: undefined,
    quote_type: undefined,
    market_hours: undefined,
    change_percent: undefined,
    day_volume: undefined,
    day_high: undefined,
    day_low: undefined,
    change: undefined,
    short_name: undefined,
    expire_date: undefined,
    open_price: undefined,
    previous_close: undefined,
    strike_price: undefined,
    underlying_symbol: undefined,
    open_interest: undefined,
    options_type: undefined,
    mini_option: undefined,
    last_size: undefined,
    bid: undefined,
    bid_size: undefined,
    ask: undefined,
    ask_size: undefined,
    price_hint: undefined,
    vol_24hr: undefined,
    vol_all_currencies: undefined,
    from_currency: undefined,
    last_market: undefined,
    circulating_supply: undefined,
    market_cap: undefined,
    unknown_fields: undefined,
  }
}

function decodeMessage(buf: Uint8Array): PricingData {
  const end = buf.length
  const m = emptyMessage()
  spanCount = 0
  let p = 0
  while (p < end) {
    const tagStart = p
    let tag = buf[p]
    if (tag < 0x80) p++
    else {
      p = readVarint(buf, p, end)
      if (vHi !== 0) throw new WireError(`tag out of range at byte ${tagStart}`)
      tag = vLo
    }
    switch (tag) {
      case 0x0a: // 1 id
        p = readString(buf, p, end)
        m.id = strOut
        break
      case 0x15: // 2 price
        if (end - p < 4) throw truncated(p)
        m.price = readFloatLE(buf, p)
        p += 4
        break
      case 0x18: // 3 time
        p = readVarint(buf, p, end)
        m.time = zigzag64(vLo, vHi)
        break
      case 0x22: // 4 currency
        p = readString(buf, p, end)
        m.currency = strOut
        break
      case 0x2a: // 5 exchange
        p = readString(buf, p, end)
        m.exchange = strOut
        break
      case 0x30: // 6 quote_type
        p = readVarint(buf, p, end) // int32: low 32 bits of the (sign-extended) varint
        m.quote_type = vLo | 0
        break
      case 0x38: // 7 market_hours
        p = readVarint(buf, p, end) // int32: low 32 bits of the (sign-extended) varint
        m.market_hours = vLo | 0
        break
      case 0x45: // 8 change_percent
        if (end - p < 4) throw truncated(p)
        m.change_percent = readFloatLE(buf, p)
        p += 4
        break
      case 0x48: // 9 day_volume
        p = readVarint(buf, p, end)
        m.day_volume = zigzag64(vLo, vHi)
        break
      case 0x55: // 10 day_high
        if (end - p < 4) throw truncated(p)
        m.day_high = readFloatLE(buf, p)
        p += 4
        break
      case 0x5d: // 11 day_low
        if (end - p < 4) throw truncated(p)
        m.day_low = readFloatLE(buf, p)
        p += 4
        break
      case 0x65: // 12 change
        if (end - p < 4) throw truncated(p)
        m.change = readFloatLE(buf, p)
        p += 4
        break
      case 0x6a: // 13 short_name
        p = readString(buf, p, end)
        m.short_name = strOut
        break
      case 0x70: // 14 expire_date
        p = readVarint(buf, p, end)
        m.expire_date = zigzag64(vLo, vHi)
        break
      case 0x7d: // 15 open_price
        if (end - p < 4) throw truncated(p)
        m.open_price = readFloatLE(buf, p)
        p += 4
        break
      case 0x85: // 16 previous_close
        if (end - p < 4) throw truncated(p)
        m.previous_close = readFloatLE(buf, p)
        p += 4
        break
      case 0x8d: // 17 strike_price
        if (end - p < 4) throw truncated(p)
        m.strike_price = readFloatLE(buf, p)
        p += 4
        break
      case 0x92: // 18 underlying_symbol
        p = readString(buf, p, end)
        m.underlying_symbol = strOut
        break
      case 0x98: // 19 open_interest
        p = readVarint(buf, p, end)
        m.open_interest = zigzag64(vLo, vHi)
        break
      case 0xa0: // 20 options_type
        p = readVarint(buf, p, end)
        m.options_type = zigzag64(vLo, vHi)
        break
      case 0xa8: // 21 mini_option
        p = readVarint(buf, p, end)
        m.mini_option = zigzag64(vLo, vHi)
        break
      case 0xb0: // 22 last_size
        p = readVarint(buf, p, end)
        m.last_size = zigzag64(vLo, vHi)
        break
      case 0xbd: // 23 bid
        if (end - p < 4) throw truncated(p)
        m.bid = readFloatLE(buf, p)
        p += 4
        break
      case 0xc0: // 24 bid_size
        p = readVarint(buf, p, end)
        m.bid_size = zigzag64(vLo, vHi)
        break
      case 0xcd: // 25 ask
        if (end - p < 4) throw truncated(p)
        m.ask = readFloatLE(buf, p)
        p += 4
        break
      case 0xd0: // 26 ask_size
        p = readVarint(buf, p, end)
        m.ask_size = zigzag64(vLo, vHi)
        break
      case 0xd8: // 27 price_hint
        p = readVarint(buf, p, end)
        m.price_hint = zigzag64(vLo, vHi)
        break
      case 0xe0: // 28 vol_24hr
        p = readVarint(buf, p, end)
        m.vol_24hr = zigzag64(vLo, vHi)
        break
      case 0xe8: // 29 vol_all_currencies
        p = readVarint(buf, p, end)
        m.vol_all_currencies = zigzag64(vLo, vHi)
        break
      case 0xf2: // 30 from_currency
        p = readString(buf, p, end)
        m.from_currency = strOut
        break
      case 0xfa: // 31 last_market
        p = readString(buf, p, end)
        m.last_market = strOut
        break
      case 0x101: // 32 circulating_supply
        if (end - p < 8) throw truncated(p)
        m.circulating_supply = readDoubleLE(buf, p)
        p += 8
        break
      case 0x109: // 33 market_cap
        if (end - p < 8) throw truncated(p)
        m.market_cap = readDoubleLE(buf, p)
        p += 8
        break
      default:
        p = unknownField(buf, tagStart, p, end, tag)
    }
  }
  if (spanCount > 0) {
    let total = 0
    for (let i = 0; i < spanCount; i += 2) total += spans[i + 1] - spans[i]
    const u = allocBytes(total)
    let o = 0
    for (let i = 0; i < spanCount; i += 2) {
      u.set(buf.subarray(spans[i], spans[i + 1]), o)
      o += spans[i + 1] - spans[i]
    }
    m.unknown_fields = u
    spanCount = 0
  }
  return m
}

/**
 * Decodes one `PricingData` protobuf. Absent fields are `undefined` (the keys
 * are all present, see emptyMessage); a field present on the wire with its
 * default value (not canonical, but legal) decodes to that value. Fields this
 * schema does not know are kept, tag included, in `unknown_fields`, in wire
 * order. Never throws: malformed input gives `{ok: false, error: {code:
 * 'BAD_PROTOBUF'}}` (`BAD_FRAME` if `bytes` is not a Uint8Array).
 */
export function decodePricing(bytes: Uint8Array): DecodeResult<PricingData> {
  if (!(bytes instanceof Uint8Array)) return fail('BAD_FRAME', 'expected a Uint8Array')
  try {
    return {ok: true, value: decodeMessage(bytes)}
  } catch (err) {
    spanCount = 0
    return fail('BAD_PROTOBUF', `PricingData: ${errorText(err)}`)
  }
}

// ---------------------------------------------------------------------------
// Base64 (standard alphabet, padded): validated, since Buffer.from(s, 'base64')
// silently skips characters outside the alphabet and accepts the URL-safe one.

let b64Error = ''

/**
 * Decodes s[start, end) or returns undefined with b64Error set. Non-zero bits
 * in the last character before the padding are accepted (as most decoders,
 * Python's included, do); such a frame is then not canonical.
 */
function base64Decode(s: string, start: number, end: number): Uint8Array | undefined {
  const len = end - start
  if (len % 4 !== 0) {
    b64Error = `base64 length ${len} is not a multiple of 4`
    return undefined
  }
  if (len === 0) return new Uint8Array(0)
  let pad = 0
  if (s.charCodeAt(end - 1) === PAD) pad = s.charCodeAt(end - 2) === PAD ? 2 : 1
  const out = allocBytes((len / 4) * 3 - pad)
  const full = end - 4 // the last quad is handled apart (padding)
  let o = 0
  let i = start
  for (; i < full; i += 4) {
    const c0 = s.charCodeAt(i)
    const c1 = s.charCodeAt(i + 1)
    const c2 = s.charCodeAt(i + 2)
    const c3 = s.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) > 127) return badB64(s, i)
    const v0 = B64_DEC[c0]
    const v1 = B64_DEC[c1]
    const v2 = B64_DEC[c2]
    const v3 = B64_DEC[c3]
    if ((v0 | v1 | v2 | v3) < 0) return badB64(s, i)
    out[o++] = (v0 << 2) | (v1 >> 4)
    out[o++] = ((v1 & 15) << 4) | (v2 >> 2)
    out[o++] = ((v2 & 3) << 6) | v3
  }
  const c0 = s.charCodeAt(i)
  const c1 = s.charCodeAt(i + 1)
  const c2 = pad === 2 ? 65 : s.charCodeAt(i + 2) // 'A' stands in for padding
  const c3 = pad >= 1 ? 65 : s.charCodeAt(i + 3)
  if ((c0 | c1 | c2 | c3) > 127) return badB64(s, i)
  const v0 = B64_DEC[c0]
  const v1 = B64_DEC[c1]
  const v2 = B64_DEC[c2]
  const v3 = B64_DEC[c3]
  if ((v0 | v1 | v2 | v3) < 0) return badB64(s, i)
  out[o++] = (v0 << 2) | (v1 >> 4)
  if (pad < 2) out[o++] = ((v1 & 15) << 4) | (v2 >> 2)
  if (pad < 1) out[o++] = ((v2 & 3) << 6) | v3
  return out
}

function badB64(s: string, from: number): undefined {
  let i = from
  while (i < s.length && s.charCodeAt(i) < 128 && B64_DEC[s.charCodeAt(i)] >= 0) i++
  const c = s.charCodeAt(i)
  b64Error = c === PAD ? `misplaced '=' padding at offset ${i}` : `character ${JSON.stringify(s.charAt(i))} at offset ${i} is not base64`
  return undefined
}

// ---------------------------------------------------------------------------
// Frames

export interface DecodedFrame {
  /** The decoded message. */
  data: PricingData
  /** The protobuf bytes the frame carried: new bytes owned by the caller (possibly a view into a pool buffer; mind byteOffset). */
  bytes: Uint8Array
}

function decodePayload(b64: string, start: number, end: number): DecodeResult<DecodedFrame> {
  const bytes = base64Decode(b64, start, end)
  if (bytes === undefined) return fail('BAD_BASE64', b64Error)
  try {
    return {ok: true, value: {data: decodeMessage(bytes), bytes}}
  } catch (err) {
    spanCount = 0
    return fail('BAD_PROTOBUF', `PricingData: ${errorText(err)}`)
  }
}

function decodeV2Slow(frame: string): DecodeResult<DecodedFrame> {
  let json: unknown
  try {
    json = JSON.parse(frame)
  } catch (err) {
    return fail('BAD_JSON', `v2 frame is not JSON: ${errorText(err)}`)
  }
  const message = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as {message?: unknown}).message : undefined
  if (typeof message !== 'string') {
    return fail(
      'NO_MESSAGE',
      message === undefined ? 'v2 frame has no "message"' : `v2 frame "message" is ${message === null ? 'null' : typeof message}, not a string`,
    )
  }
  return decodePayload(message, 0, message.length)
}

/**
 * Decodes one text frame of the Yahoo streamer. v1: the frame is base64;
 * v2: JSON whose string `message` is base64 (`type` is ignored, as yfinance
 * does). Never throws. Error codes: BAD_BASE64, BAD_PROTOBUF, BAD_JSON,
 * NO_MESSAGE, and BAD_FRAME for a frame that is not a string, an empty v1
 * frame, or an unknown envelope.
 */
export function decodeFrame(frame: string, envelope: YahooEnvelope): DecodeResult<DecodedFrame> {
  try {
    if (typeof frame !== 'string') return fail('BAD_FRAME', `frame is ${typeof frame}, not a string`)
    if (envelope === 'v2') {
      const n = frame.length
      // Fast path for the form every server sends: the message is then exactly
      // the text between the fixed prefix and suffix, provided that text is
      // pure base64 (so neither escapes nor a closing quote can hide in it).
      // Anything else, errors included, goes through JSON.parse.
      if (n >= V2_PREFIX_LEN + 2 && frame.charCodeAt(n - 1) === 125 && frame.charCodeAt(n - 2) === 34 && hasV2Prefix(frame)) {
        const r = decodePayload(frame, V2_PREFIX_LEN, n - 2)
        if (r.ok || r.error.code !== 'BAD_BASE64') return r
      }
      return decodeV2Slow(frame)
    }
    if (envelope === 'v1') {
      if (frame.length === 0) return fail('BAD_FRAME', 'empty v1 frame')
      return decodePayload(frame, 0, frame.length)
    }
    return fail('BAD_FRAME', `unknown envelope ${JSON.stringify(String(envelope))}`)
  } catch (err) {
    spanCount = 0
    return fail('BAD_FRAME', `undecodable frame: ${errorText(err)}`)
  }
}

// ---------------------------------------------------------------------------
// Encoding. Messages are written into one reusable scratch buffer (grown on
// demand), then copied out (encodePricing) or turned into base64 directly.

let out = new Uint8Array(1024)
let outBuf = Buffer.from(out.buffer, out.byteOffset, out.length)

/** Makes room for `need` more bytes after position p. */
function room(p: number, need: number): void {
  if (p + need <= out.length) return
  let size = out.length * 2
  while (size < p + need) size *= 2
  const next = new Uint8Array(size)
  next.set(out.subarray(0, p))
  out = next
  outBuf = Buffer.from(out.buffer, out.byteOffset, out.length)
}

function writeTag(p: number, tag: number): number {
  if (tag < 0x80) {
    out[p] = tag
    return p + 1
  }
  out[p] = (tag & 0x7f) | 0x80
  out[p + 1] = tag >>> 7 // fields <= 33: tags < 2^14
  return p + 2
}

/** Writes an unsigned integer < 2^53 as a varint. */
function writeVarNum(p: number, v: number): number {
  while (v > 0x7fffffff) {
    out[p++] = (v & 0x7f) | 0x80 // ToInt32 keeps the low 7 bits of any integer
    v = Math.floor(v / 128)
  }
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  out[p++] = v
  return p
}

/** Writes the 64-bit unsigned value hi:lo as a varint. */
function writeVarLoHi(p: number, lo: number, hi: number): number {
  while (hi !== 0) {
    out[p++] = (lo & 0x7f) | 0x80
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi >>>= 7
  }
  while (lo > 0x7f) {
    out[p++] = (lo & 0x7f) | 0x80
    lo >>>= 7
  }
  out[p++] = lo
  return p
}

const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n

function badValue(name: string, want: string, v: unknown): TypeError {
  return new TypeError(`PricingData.${name}: expected ${want}, got ${typeof v === 'bigint' ? `${v}n` : typeof v === 'number' ? v : typeof v}`)
}

function writeString(p: number, tag: number, v: unknown, name: string): number {
  if (typeof v !== 'string') throw badValue(name, 'a string', v)
  const n = v.length
  if (n === 0) return p
  room(p, 2 + 5 + 3 * n)
  p = writeTag(p, tag)
  if (n < 0x80) {
    // Short ASCII (the usual case) in one pass: one-byte length, then the
    // chars; on the first non-ASCII char fall through to the UTF-8 path.
    const b = out
    let q = p + 1
    let i = 0
    for (; i < n; i++) {
      const c = v.charCodeAt(i)
      if (c > 0x7f) break
      b[q++] = c
    }
    if (i === n) {
      b[p] = n
      return q
    }
  }
  p = writeVarNum(p, utf8Length(v))
  return writeUtf8(p, v)
}

/** UTF-8 length of a JS string; lone surrogates count as U+FFFD (3 bytes), as TextEncoder writes them. */
function utf8Length(s: string): number {
  let len = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) len += 1
    else if (c < 0x800) len += 2
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 4
      i++
    } else len += 3
  }
  return len
}

function writeUtf8(p: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) out[p++] = c
    else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6)
      out[p++] = 0x80 | (c & 0x3f)
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00)
      out[p++] = 0xf0 | (c >> 18)
      out[p++] = 0x80 | ((c >> 12) & 0x3f)
      out[p++] = 0x80 | ((c >> 6) & 0x3f)
      out[p++] = 0x80 | (c & 0x3f)
    } else {
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd // lone surrogate
      out[p++] = 0xe0 | (c >> 12)
      out[p++] = 0x80 | ((c >> 6) & 0x3f)
      out[p++] = 0x80 | (c & 0x3f)
    }
  }
  return p
}

function writeFloat(p: number, tag: number, v: unknown, name: string): number {
  if (typeof v !== 'number') throw badValue(name, 'a number', v)
  const x = Math.fround(v)
  if (x === 0 && 1 / x > 0) return p // +0 is the default; -0 and NaN are not (bit pattern != 0)
  room(p, 6)
  p = writeTag(p, tag)
  writeFloatLE(x, out, p)
  return p + 4
}

function writeDouble(p: number, tag: number, v: unknown, name: string): number {
  if (typeof v !== 'number') throw badValue(name, 'a number', v)
  if (v === 0 && 1 / v > 0) return p
  room(p, 10)
  p = writeTag(p, tag)
  writeDoubleLE(v, out, p)
  return p + 8
}

function writeInt32(p: number, tag: number, v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
    throw badValue(name, 'an int32', v)
  }
  if (v === 0) return p
  room(p, 12)
  p = writeTag(p, tag)
  // negative int32s are sign-extended to 64 bits (10 bytes), as Google does
  return v > 0 ? writeVarNum(p, v) : writeVarLoHi(p, v >>> 0, 0xffffffff)
}

function writeSint64(p: number, tag: number, v: unknown, name: string): number {
  if (typeof v !== 'bigint') throw badValue(name, 'a bigint', v)
  if (v === 0n) return p
  if (v < I64_MIN || v > I64_MAX) throw new RangeError(`PricingData.${name}: ${v}n is outside the int64 range`)
  room(p, 12)
  i64[0] = v
  const lo = u32[LO]
  const hi = u32[HI]
  const sign = hi >> 31 // 0 or -1: zigzag is (v << 1) ^ (v >> 63), on two halves
  return writeVarLoHi(writeTag(p, tag), ((lo << 1) ^ sign) >>> 0, (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0)
}

/** Encodes into `out[0, n)` and returns n. Throws TypeError/RangeError on values of the wrong type or range. */
function encodeMessage(m: PricingData): number {
  let p = 0
  let v: unknown
  // `!= null`: a null (e.g. an empty column read back from a recording) is absent too
  if ((v = m.id) != null) p = writeString(p, 0x0a, v, 'id')
  if ((v = m.price) != null) p = writeFloat(p, 0x15, v, 'price')
  if ((v = m.time) != null) p = writeSint64(p, 0x18, v, 'time')
  if ((v = m.currency) != null) p = writeString(p, 0x22, v, 'currency')
  if ((v = m.exchange) != null) p = writeString(p, 0x2a, v, 'exchange')
  if ((v = m.quote_type) != null) p = writeInt32(p, 0x30, v, 'quote_type')
  if ((v = m.market_hours) != null) p = writeInt32(p, 0x38, v, 'market_hours')
  if ((v = m.change_percent) != null) p = writeFloat(p, 0x45, v, 'change_percent')
  if ((v = m.day_volume) != null) p = writeSint64(p, 0x48, v, 'day_volume')
  if ((v = m.day_high) != null) p = writeFloat(p, 0x55, v, 'day_high')
  if ((v = m.day_low) != null) p = writeFloat(p, 0x5d, v, 'day_low')
  if ((v = m.change) != null) p = writeFloat(p, 0x65, v, 'change')
  if ((v = m.short_name) != null) p = writeString(p, 0x6a, v, 'short_name')
  if ((v = m.expire_date) != null) p = writeSint64(p, 0x70, v, 'expire_date')
  if ((v = m.open_price) != null) p = writeFloat(p, 0x7d, v, 'open_price')
  if ((v = m.previous_close) != null) p = writeFloat(p, 0x85, v, 'previous_close')
  if ((v = m.strike_price) != null) p = writeFloat(p, 0x8d, v, 'strike_price')
  if ((v = m.underlying_symbol) != null) p = writeString(p, 0x92, v, 'underlying_symbol')
  if ((v = m.open_interest) != null) p = writeSint64(p, 0x98, v, 'open_interest')
  if ((v = m.options_type) != null) p = writeSint64(p, 0xa0, v, 'options_type')
  if ((v = m.mini_option) != null) p = writeSint64(p, 0xa8, v, 'mini_option')
  if ((v = m.last_size) != null) p = writeSint64(p, 0xb0, v, 'last_size')
  if ((v = m.bid) != null) p = writeFloat(p, 0xbd, v, 'bid')
  if ((v = m.bid_size) != null) p = writeSint64(p, 0xc0, v, 'bid_size')
  if ((v = m.ask) != null) p = writeFloat(p, 0xcd, v, 'ask')
  if ((v = m.ask_size) != null) p = writeSint64(p, 0xd0, v, 'ask_size')
  if ((v = m.price_hint) != null) p = writeSint64(p, 0xd8, v, 'price_hint')
  if ((v = m.vol_24hr) != null) p = writeSint64(p, 0xe0, v, 'vol_24hr')
  if ((v = m.vol_all_currencies) != null) p = writeSint64(p, 0xe8, v, 'vol_all_currencies')
  if ((v = m.from_currency) != null) p = writeString(p, 0xf2, v, 'from_currency')
  if ((v = m.last_market) != null) p = writeString(p, 0xfa, v, 'last_market')
  if ((v = m.circulating_supply) != null) p = writeDouble(p, 0x101, v, 'circulating_supply')
  if ((v = m.market_cap) != null) p = writeDouble(p, 0x109, v, 'market_cap')
  const u = m.unknown_fields
  if (u != null) {
    if (!(u instanceof Uint8Array)) throw badValue('unknown_fields', 'a Uint8Array', u)
    room(p, u.length)
    out.set(u, p)
    p += u.length
  }
  return p
}

/**
 * Canonical proto3 encoding of `msg` (see the header comment). `undefined`
 * and `null` fields are omitted. Throws a TypeError/RangeError for a value of
 * the wrong type or out of range (e.g. a number where a bigint belongs, an
 * int32 field that is not an int32, a bigint outside int64).
 */
export function encodePricing(msg: PricingData): Uint8Array {
  const n = encodeMessage(msg)
  const r = allocBytes(n)
  if (n > 256) r.set(out.subarray(0, n))
  else for (let i = 0; i < n; i++) r[i] = out[i] // cheaper than set(subarray) for small n
  return r
}

/**
 * One text frame carrying `msg`: v1 the base64 (standard alphabet, padded),
 * v2 exactly `{"type":"pricing","message":"<base64>"}`. Throws like encodePricing.
 */
export function encodeFrame(msg: PricingData, envelope: YahooEnvelope): string {
  const n = encodeMessage(msg)
  const b64 = outBuf.toString('base64', 0, n)
  if (envelope === 'v1') return b64
  if (envelope === 'v2') return V2_PREFIX + b64 + V2_SUFFIX
  throw new TypeError(`unknown envelope ${JSON.stringify(String(envelope))}`)
}

/**
 * One PricingData field held as a column (Arrow's layout: the value of row i
 * at `values[offset + i]`, present when bit `offset + i` of `nulls` is set;
 * `nulls` null: every row has a value). By the field's kind, `values` are:
 * 'string' dictionary indices (`dict(k)` the entry: '' is absent), 'float' a
 * Float32Array, 'double' a Float64Array, 'int32' an Int32Array, 'sint64' a
 * BigInt64Array.
 */
export interface PricingColumn {
  readonly field: PricingField
  readonly values: Int32Array | Int8Array | Float32Array | Float64Array | BigInt64Array
  readonly offset: number
  readonly nulls: Uint8Array | null
  readonly dict?: (k: number) => string
}

/** `unknown_fields` held as an Arrow binary column: row i's bytes are `values[offsets[offset + i], offsets[offset + i + 1])`. */
export interface UnknownFieldsColumn {
  readonly offsets: Int32Array
  readonly values: Uint8Array
  readonly offset: number
  readonly nulls: Uint8Array | null
}

const K_STRING = 0
const K_FLOAT = 1
const K_DOUBLE = 2
const K_INT32 = 3
const K_SINT64 = 4
const KIND_CODE: Record<PricingFieldKind, number> = {string: K_STRING, float: K_FLOAT, double: K_DOUBLE, int32: K_INT32, sint64: K_SINT64}
const TIME_FIELD = 3

/**
 * Frames of a batch's rows encoded straight from its columns: the bytes
 * `encodeFrame` writes for the PricingData the row holds, without building
 * that object (the per-row object, and a BigInt per 64-bit value, were most
 * of a re-encoded replay's cost). sint64 columns are read as two 32-bit
 * halves; a string column's field bytes are kept per dictionary entry.
 * Columns may come in any order (they are written in field-number order).
 */
export class PricingRowEncoder {
  private readonly kinds: Uint8Array
  private readonly tags: number[]
  private readonly names: string[]
  private readonly values: PricingColumn['values'][]
  /** sint64 columns: the same values as int32 pairs (little-endian: low half first). */
  private readonly halves: (Int32Array | null)[]
  private readonly offsets: number[]
  private readonly nulls: (Uint8Array | null)[]
  private readonly dicts: (((k: number) => string) | null)[]
  /** string columns: the field's encoded bytes (tag, length, UTF-8) per dictionary entry, once met. */
  private readonly strings: (Uint8Array | undefined)[][]
  private readonly time: number

  constructor(
    columns: readonly PricingColumn[],
    private readonly unknown: UnknownFieldsColumn | null = null,
  ) {
    const cols = [...columns].sort((a, b) => a.field.number - b.field.number)
    this.kinds = Uint8Array.from(cols, (c) => KIND_CODE[c.field.kind])
    // proto3 tag: (field number << 3) | wire type
    const wire = {string: 2, float: 5, double: 1, int32: 0, sint64: 0}
    this.tags = cols.map((c) => (c.field.number << 3) | wire[c.field.kind])
    this.names = cols.map((c) => c.field.name)
    this.values = cols.map((c) => c.values)
    this.halves = cols.map((c) => {
      if (c.field.kind !== 'sint64') return null
      if (!LITTLE_ENDIAN) throw new Error('PricingRowEncoder: big-endian hosts read sint64 columns through encodeFrame')
      return new Int32Array(c.values.buffer, c.values.byteOffset, c.values.length * 2)
    })
    this.offsets = cols.map((c) => c.offset)
    this.nulls = cols.map((c) => c.nulls)
    this.dicts = cols.map((c) => c.dict ?? null)
    this.strings = cols.map(() => [])
    this.time = cols.findIndex((c) => c.field.number === TIME_FIELD)
  }

  /**
   * Row `i`'s frame in `envelope`, as its bytes: what `encodeFrame` returns
   * for the row's PricingData, with `time` moved by `timeShift` (ms; 0n: as
   * recorded). Throws a RangeError when the shifted time leaves int64.
   */
  frame(i: number, envelope: YahooEnvelope, timeShift = 0n): Uint8Array {
    const n = this.encode(i, timeShift)
    const b64 = Math.ceil(n / 3) * 4
    if (envelope === 'v1') return base64Into(n, allocBytes(b64), 0)
    if (envelope !== 'v2') throw new TypeError(`unknown envelope ${JSON.stringify(String(envelope))}`)
    const r = allocBytes(V2_PREFIX_LEN + b64 + 2)
    r.set(V2_PREFIX_BYTES)
    base64Into(n, r, V2_PREFIX_LEN)
    r[r.length - 2] = 34 // "
    r[r.length - 1] = 125 // }
    return r
  }

  /** Encodes row `i` into `out[0, n)` and returns n (encodeMessage's bytes). */
  private encode(i: number, timeShift: bigint): number {
    const kinds = this.kinds
    let p = 0
    for (let c = 0; c < kinds.length; c++) {
      const j = this.offsets[c] + i
      const bm = this.nulls[c]
      if (bm !== null && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
      const tag = this.tags[c]
      switch (kinds[c]) {
        case K_STRING: {
          const k = this.values[c][j] as number
          const cache = this.strings[c]
          const bytes = cache[k]
          if (bytes === undefined) {
            const q = writeString(p, tag, this.dicts[c]!(k), this.names[c])
            cache[k] = out.slice(p, q)
            p = q
          } else {
            const m = bytes.length
            room(p, m)
            for (let x = 0; x < m; x++) out[p + x] = bytes[x] // short: cheaper than set()
            p += m
          }
          break
        }
        case K_FLOAT:
          p = writeFloat(p, tag, this.values[c][j], this.names[c])
          break
        case K_DOUBLE:
          p = writeDouble(p, tag, this.values[c][j], this.names[c])
          break
        case K_INT32:
          p = writeInt32(p, tag, this.values[c][j], this.names[c])
          break
        default: {
          let lo: number
          let hi: number
          if (c === this.time && timeShift !== 0n) {
            const v = (this.values[c][j] as bigint) + timeShift
            if (v < I64_MIN || v > I64_MAX) throw new RangeError(`PricingData.time: ${v}n is outside the int64 range`)
            i64[0] = v
            lo = u32[LO]
            hi = u32[HI]
          } else {
            const h = this.halves[c]!
            lo = h[2 * j] >>> 0
            hi = h[2 * j + 1] >>> 0
          }
          if (lo === 0 && hi === 0) break
          room(p, 12)
          const sign = hi >> 31 // zigzag on two halves, as writeSint64
          p = writeVarLoHi(writeTag(p, tag), ((lo << 1) ^ sign) >>> 0, (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0)
        }
      }
    }
    const u = this.unknown
    if (u !== null) {
      const j = u.offset + i
      if (u.nulls === null || ((u.nulls[j >> 3] >> (j & 7)) & 1) === 1) {
        const s = u.offsets[j]
        const e = u.offsets[j + 1]
        room(p, e - s)
        out.set(u.values.subarray(s, e), p)
        p += e - s
      }
    }
    return p
  }
}

const V2_PREFIX_BYTES = Uint8Array.from(V2_PREFIX, (c) => c.charCodeAt(0))

/**
 * Base64 (standard alphabet, padded) of `out[0, n)` written into `dst` at
 * `at`; returns `dst`. Hand-written because Node has no base64 encoder that
 * writes into a buffer (`toString('base64')` makes a string, which the frame
 * would then copy again).
 */
function base64Into(n: number, dst: Uint8Array, at: number): Uint8Array {
  const src = out
  const E = B64_ENC
  let q = at
  let i = 0
  for (const end = n - 2; i < end; i += 3) {
    const v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2]
    dst[q] = E[v >>> 18]
    dst[q + 1] = E[(v >>> 12) & 63]
    dst[q + 2] = E[(v >>> 6) & 63]
    dst[q + 3] = E[v & 63]
    q += 4
  }
  if (i < n) {
    const two = i + 1 < n
    const v = (src[i] << 16) | (two ? src[i + 1] << 8 : 0)
    dst[q] = E[v >>> 18]
    dst[q + 1] = E[(v >>> 12) & 63]
    dst[q + 2] = two ? E[(v >>> 6) & 63] : 61
    dst[q + 3] = 61 // =
  }
  return dst
}

/**
 * True iff `encodeFrame(msg, envelope) === frame`, i.e. replaying `msg`
 * reproduces this frame exactly. Checks the v2 envelope's fixed prefix and
 * suffix first, encodes into the scratch buffer, rejects on length, and only
 * then compares the base64 text (native base64 + a string compare beat a
 * charCodeAt loop over the frame in V8). Never throws: a
 * message that cannot be encoded is simply not canonical.
 */
export function isCanonicalFrame(frame: string, envelope: YahooEnvelope, msg: PricingData): boolean {
  if (typeof frame !== 'string') return false
  const e = frame.length
  let s = 0
  let len = e
  if (envelope === 'v2') {
    len -= V2_PREFIX_LEN + 2
    if (len < 0 || frame.charCodeAt(e - 1) !== 125 || frame.charCodeAt(e - 2) !== 34 || !hasV2Prefix(frame)) return false
    s = V2_PREFIX_LEN
  } else if (envelope !== 'v1') return false
  let n: number
  try {
    n = encodeMessage(msg)
  } catch {
    return false
  }
  if (len !== Math.ceil(n / 3) * 4) return false
  const b64 = outBuf.toString('base64', 0, n)
  // (frame.startsWith(b64, s) would avoid the slice but is a slow path in V8)
  return s === 0 ? frame === b64 : frame.slice(s, s + len) === b64
}

/**
 * The envelope a client asked for: `version=2` in the query string → 'v2',
 * anything else → 'v1'. Accepts a full URL or a request path such as
 * `/?version=2` (what a server sees as `req.url`). Never throws.
 */
export function envelopeForUrl(url: string): YahooEnvelope {
  try {
    return new URL(url, 'ws://localhost/').searchParams.get('version') === '2' ? 'v2' : 'v1'
  } catch {
    return 'v1'
  }
}
