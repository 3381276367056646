/**
 * Yahoo Finance streamer codec: the `PricingData` protobuf (schema in
 * fields.ts, wire primitives in wire.ts) and the two text envelopes
 * (envelope.ts; v1: bare base64; v2: `{"type":"pricing","message":"<base64>"}`).
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
 * Both loops are driven by the field table (PRICING_FIELDS): a tag read off
 * the wire is looked up in FIELD_OF_TAG, the value read by its kind. Why the
 * wire loop is hand-written rather than protobufjs reflection: see wire.ts.
 * The semantics follow Google's parsers, plus: last occurrence of a scalar
 * wins. One deliberate difference, as specified for mdrec: a known field
 * arriving with an unexpected wire type is kept as an unknown field (see
 * ProtoReader.unknownField).
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
import {base64Decode, base64Length} from './base64.js'
import {V2_PREFIX_LEN, hasV2Shape, unknownEnvelope, v2Message, wrapPayload} from './envelope.js'
import {PRICING_FIELDS, fieldTag, type PricingFieldKind} from './fields.js'
import type {DecodeResult, PricingData, YahooDecodeErrorCode, YahooEnvelope} from './types.js'
import {ProtoReader, ProtoWriter, allocBytes, badValue, errorText, readDoubleLE, readFloatLE, truncated, zigzag64} from './wire.js'

export {envelopeForUrl} from './envelope.js'
export {
  MarketHoursType,
  PRICING_DESCRIPTOR,
  PRICING_FIELDS,
  QuoteType,
  marketHoursName,
  pricingSchema,
  quoteTypeName,
  type MarketHoursTypeName,
  type PricingField,
  type PricingFieldKind,
  type PricingFieldName,
  type PricingSchema,
  type QuoteTypeName,
} from './fields.js'
export {PricingRowEncoder, type PricingColumn, type UnknownFieldsColumn} from './row-encoder.js'

function fail<T>(code: YahooDecodeErrorCode, message: string): DecodeResult<T> {
  return {ok: false, error: {code, message}}
}

// ---------------------------------------------------------------------------
// Decoding

/*
 * The per-field loops are generated from the field table (PRICING_FIELDS)
 * when this module loads, as protobufjs generates its decoders and as
 * store/writer.ts generates pushFields: a switch on the wire tag with one case
 * per field, a property access per field with its name as a constant. Written
 * as a loop over the table instead (a tag → field lookup, then a switch on the
 * kind, values through an array or m[name]), decode measured 20-60% and
 * encode ~10% slower per message, where the budget is well under 1 µs. What
 * each kind reads or writes is written once below (READ, and ProtoWriter's
 * method of the kind's name); the table supplies names and tags.
 */

/** The statements reading one field of a kind (tag just read, value at p) into m.<name>. */
const READ: Readonly<Record<PricingFieldKind, (name: string) => string>> = {
  string: (name) => `p = r.string(buf, p, end); m.${name} = r.str`,
  float: (name) => `if (end - p < 4) throw truncated(p); m.${name} = readFloatLE(buf, p); p += 4`,
  double: (name) => `if (end - p < 8) throw truncated(p); m.${name} = readDoubleLE(buf, p); p += 8`,
  // int32: the low 32 bits of the (sign-extended) varint
  int32: (name) => `p = r.varint(buf, p, end); m.${name} = r.lo | 0`,
  sint64: (name) => `p = r.varint(buf, p, end); m.${name} = zigzag64(r.lo, r.hi)`,
}

/**
 * Every decoded message starts from one object literal, so all of them share
 * one hidden class (all 34 keys present, absent fields `undefined`). Code that
 * reads many messages (the encoder, the recorder's column writer) then does
 * monomorphic property loads; with shapes varying by which fields arrived,
 * re-encoding measured ~40% slower. Last occurrence of a field wins.
 */
const DECODE_SOURCE = `
  const end = buf.length
  const m = {${PRICING_FIELDS.map((fd) => `${fd.name}: undefined`).join(', ')}, unknown_fields: undefined}
  r.spanCount = 0
  let p = 0
  while (p < end) {
    const tagStart = p
    let tag = buf[p]
    if (tag < 0x80) p++
    else {
      p = r.tag(buf, p, end)
      tag = r.lo
    }
    switch (tag) {
${PRICING_FIELDS.map((fd) => `      case ${fieldTag(fd)}: ${READ[fd.kind](fd.name)}; break`).join('\n')}
      default: p = r.unknownField(buf, tagStart, p, end, tag)
    }
  }
  if (r.spanCount > 0) m.unknown_fields = r.unknownBytes(buf)
  return m`

/** The decoder's scratch state: varint registers, unknown-field spans. */
const reader = new ProtoReader()

/** Decodes one PricingData (absent fields undefined). Throws WireError. */
const decodeMessage = new Function('r', 'readFloatLE', 'readDoubleLE', 'zigzag64', 'truncated', `return function decodeMessage(buf) {${DECODE_SOURCE}}`)(
  reader,
  readFloatLE,
  readDoubleLE,
  zigzag64,
  truncated,
) as (buf: Uint8Array) => PricingData

/** decodeMessage, with a malformed message as BAD_PROTOBUF. */
function decodeOrFail<T>(bytes: Uint8Array, wrap: (data: PricingData) => T): DecodeResult<T> {
  try {
    return {ok: true, value: wrap(decodeMessage(bytes))}
  } catch (err) {
    return fail('BAD_PROTOBUF', `PricingData: ${errorText(err)}`)
  }
}

const asIs = (data: PricingData): PricingData => data

/**
 * Decodes one `PricingData` protobuf. Absent fields are `undefined` (the keys
 * are all present, see DECODE_SOURCE); a field present on the wire with its
 * default value (not canonical, but legal) decodes to that value. Fields this
 * schema does not know are kept, tag included, in `unknown_fields`, in wire
 * order. Never throws: malformed input gives `{ok: false, error: {code:
 * 'BAD_PROTOBUF'}}` (`BAD_FRAME` if `bytes` is not a Uint8Array).
 */
export function decodePricing(bytes: Uint8Array): DecodeResult<PricingData> {
  if (!(bytes instanceof Uint8Array)) return fail('BAD_FRAME', 'expected a Uint8Array')
  return decodeOrFail(bytes, asIs)
}

export interface DecodedFrame {
  /** The decoded message. */
  data: PricingData
  /** The protobuf bytes the frame carried: new bytes owned by the caller (possibly a view into a pool buffer; mind byteOffset). */
  bytes: Uint8Array
}

function decodePayload(b64: string, start: number, end: number): DecodeResult<DecodedFrame> {
  const bytes = base64Decode(b64, start, end)
  if (typeof bytes === 'string') return fail('BAD_BASE64', bytes)
  return decodeOrFail(bytes, (data) => ({data, bytes}))
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
      // Fast path for the form every server sends; anything else, errors
      // included, goes through JSON.parse.
      if (hasV2Shape(frame)) {
        const r = decodePayload(frame, V2_PREFIX_LEN, frame.length - 2)
        if (r.ok || r.error.code !== 'BAD_BASE64') return r
      }
      const message = v2Message(frame)
      if (typeof message !== 'string') return fail(message.code, message.message)
      return decodePayload(message, 0, message.length)
    }
    if (envelope === 'v1') {
      if (frame.length === 0) return fail('BAD_FRAME', 'empty v1 frame')
      return decodePayload(frame, 0, frame.length)
    }
    return fail('BAD_FRAME', unknownEnvelope(envelope).message)
  } catch (err) {
    return fail('BAD_FRAME', `undecodable frame: ${errorText(err)}`)
  }
}

// ---------------------------------------------------------------------------
// Encoding. Messages are written into one reusable scratch buffer (the
// writer's, grown on demand), then copied out (encodePricing) or turned into
// base64 directly.

const writer = new ProtoWriter()

/**
 * Encodes `m` into `writer.out[0, n)` and returns n: each field through the
 * writer's method of its kind (`!= null`: a null, e.g. an empty column read
 * back from a recording, is absent too), then the unknown fields verbatim.
 * Throws TypeError/RangeError on values of the wrong type or range.
 */
const encodeMessage = new Function(
  'w',
  'badValue',
  `return function encodeMessage(m) {
  let p = 0
  let v
${PRICING_FIELDS.map((fd) => `  if ((v = m.${fd.name}) != null) p = w.${fd.kind}(p, ${fieldTag(fd)}, v, '${fd.name}')`).join('\n')}
  const u = m.unknown_fields
  if (u != null) {
    if (!(u instanceof Uint8Array)) throw badValue('unknown_fields', 'a Uint8Array', u)
    p = w.bytes(p, u)
  }
  return p
}`,
)(writer, badValue) as (m: PricingData) => number

/**
 * Canonical proto3 encoding of `msg` (see the header comment). `undefined`
 * and `null` fields are omitted. Throws a TypeError/RangeError for a value of
 * the wrong type or out of range (e.g. a number where a bigint belongs, an
 * int32 field that is not an int32, a bigint outside int64).
 */
export function encodePricing(msg: PricingData): Uint8Array {
  const n = encodeMessage(msg)
  const out = writer.out
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
  return wrapPayload(writer.outBuf.toString('base64', 0, n), envelope)
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
    if (!hasV2Shape(frame)) return false
    len -= V2_PREFIX_LEN + 2
    s = V2_PREFIX_LEN
  } else if (envelope !== 'v1') return false
  let n: number
  try {
    n = encodeMessage(msg)
  } catch {
    return false
  }
  if (len !== base64Length(n)) return false
  const b64 = writer.outBuf.toString('base64', 0, n)
  // (frame.startsWith(b64, s) would avoid the slice but is a slow path in V8)
  return s === 0 ? frame === b64 : frame.slice(s, s + len) === b64
}
