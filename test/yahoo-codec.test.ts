import {readFileSync} from 'node:fs'
import protobuf from 'protobufjs'
import {describe, expect, it} from 'vitest'

import {
  MarketHoursType,
  PRICING_FIELDS,
  QuoteType,
  decodeFrame,
  decodePricing,
  encodeFrame,
  encodePricing,
  envelopeForUrl,
  isCanonicalFrame,
  marketHoursName,
  pricingSchema,
  quoteTypeName,
} from '../src/feeds/yahoo/codec.js'
import type {PricingData, YahooEnvelope} from '../src/feeds/yahoo/types.js'
import {mulberry32 as prng} from '../src/util/prng.js'
import {fuzz} from './helpers/fuzz.js'

// Vendored test vectors, made outside this project's code (test/vectors/README.md)
const VECTORS_URL = new URL('./vectors/yahoo-pricing.ndjson', import.meta.url)
const REFERENCE_PROTO_URL = new URL('./vectors/pricing.reference.proto', import.meta.url)
const PROTO_URL = new URL('../proto/pricing.proto', import.meta.url)

interface Vector {
  b64: string
  v2_frame: string
  fields: Record<string, string | number>
}

const vectors: Vector[] = readFileSync(VECTORS_URL, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Vector)

/** A vector's `fields` (protobuf JSON mapping) as a PricingData. */
function messageOf(fields: Vector['fields']): PricingData {
  const m: Record<string, unknown> = {}
  for (const fd of PRICING_FIELDS) {
    const v = fields[fd.name]
    if (v === undefined) continue
    m[fd.name] = fd.kind === 'sint64' ? BigInt(v) : v
  }
  return m as PricingData
}

function b64bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'))
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function frameOf(bytes: Uint8Array, envelope: YahooEnvelope): string {
  const b64 = Buffer.from(bytes).toString('base64')
  return envelope === 'v1' ? b64 : `{"type":"pricing","message":"${b64}"}`
}

function ok<T>(r: {ok: true; value: T} | {ok: false; error: {code: string; message: string}}): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`)
  return r.value
}

function errorCode(r: {ok: boolean; error?: {code: string}}): string | undefined {
  return r.ok ? undefined : r.error?.code
}

/** Mismatches between a decoded message and a vector's fields ([] when equal). */
function compareToFields(got: PricingData, fields: Vector['fields']): string[] {
  const bad: string[] = []
  for (const fd of PRICING_FIELDS) {
    const want = fields[fd.name]
    const have = got[fd.name]
    let same: boolean
    if (want === undefined) same = have === undefined
    else if (fd.kind === 'sint64') same = typeof have === 'bigint' && have === BigInt(want)
    else if (fd.kind === 'float') same = typeof have === 'number' && Object.is(Math.fround(want as number), have)
    else same = Object.is(want, have)
    if (!same) bad.push(`${fd.name}: want ${String(want)} got ${String(have)}`)
  }
  if (got.unknown_fields !== undefined) bad.push('unexpected unknown_fields')
  return bad
}

/** `m` with fields at their proto3 default (+0, 0n, '') made absent. */
function withoutDefaults(m: PricingData): PricingData {
  const r: Record<string, unknown> = {...m}
  for (const fd of PRICING_FIELDS) {
    const v = r[fd.name]
    if (v === '' || v === 0n || (typeof v === 'number' && Object.is(fd.kind === 'float' ? Math.fround(v) : v, 0))) r[fd.name] = undefined
  }
  return r as PricingData
}

describe('schema', () => {
  it('lists the 33 fields in field-number order with the reference types', () => {
    expect(PRICING_FIELDS.map((f) => f.number)).toEqual(Array.from({length: 33}, (_, i) => i + 1))
    const ref = protobuf.parse(readFileSync(REFERENCE_PROTO_URL, 'utf8'), {keepCase: true}).root.lookupType('PricingData')
    expect(PRICING_FIELDS.map((f) => [f.name, f.number, f.kind])).toEqual(
      ref.fieldsArray.map((f) => [f.name, f.id, f.type]).sort((a, b) => (a[1] as number) - (b[1] as number)),
    )
  })

  it('proto/pricing.proto, the embedded descriptor and the enums agree', () => {
    const parsed = protobuf.parse(readFileSync(PROTO_URL, 'utf8'), {keepCase: true}).root
    const embedded = pricingSchema()
    const fieldsOf = (t: protobuf.Type) => t.fieldsArray.map((f) => ({name: f.name, id: f.id, type: f.type, repeated: f.repeated}))
    expect(fieldsOf(parsed.lookupType('PricingData'))).toEqual(fieldsOf(embedded.PricingData))
    expect(parsed.lookupEnum('QuoteType').values).toEqual(embedded.QuoteType.values)
    expect(parsed.lookupEnum('MarketHoursType').values).toEqual(embedded.MarketHoursType.values)
    expect(embedded.QuoteType.values).toEqual(QuoteType)
    expect(embedded.MarketHoursType.values).toEqual(MarketHoursType)
  })

  it('names enum values both ways', () => {
    expect(QuoteType.EQUITY).toBe(8)
    expect(QuoteType.CRYPTOCURRENCY).toBe(41)
    expect(QuoteType.INDUSTRY).toBe(1000)
    expect(quoteTypeName(8)).toBe('EQUITY')
    expect(quoteTypeName(7)).toBe('HEARTBEAT')
    expect(quoteTypeName(1)).toBeUndefined()
    expect(MarketHoursType.REGULAR_MARKET).toBe(1)
    expect(marketHoursName(0)).toBe('PRE_MARKET')
    expect(marketHoursName(3)).toBe('EXTENDED_HOURS_MARKET')
    expect(marketHoursName(4)).toBeUndefined()
  })
})

describe('test vectors (Google protobuf runtime)', () => {
  it('has the 300 vectors', () => {
    expect(vectors).toHaveLength(300)
  })

  it.each([
    ['v1', (v: Vector) => v.b64],
    ['v2', (v: Vector) => v.v2_frame],
  ] as const)('decodes every %s frame to its fields', (envelope, frameOf) => {
    const bad: string[] = []
    vectors.forEach((v, i) => {
      const r = decodeFrame(frameOf(v), envelope)
      if (!r.ok) return bad.push(`#${i}: ${r.error.code} ${r.error.message}`)
      for (const m of compareToFields(r.value.data, v.fields)) bad.push(`#${i} ${m}`)
      if (!Buffer.from(r.value.bytes).equals(Buffer.from(v.b64, 'base64'))) bad.push(`#${i}: bytes differ`)
    })
    expect(bad).toEqual([])
  })

  it('decodes every payload with decodePricing, absent fields undefined', () => {
    const bad: string[] = []
    vectors.forEach((v, i) => {
      const r = decodePricing(b64bytes(v.b64))
      if (!r.ok) return bad.push(`#${i}: ${r.error.code} ${r.error.message}`)
      for (const m of compareToFields(r.value, v.fields)) bad.push(`#${i} ${m}`)
    })
    expect(bad).toEqual([])
  })

  it('encodes every vector back byte for byte (payload, v1 and v2 frames)', () => {
    const bad: string[] = []
    vectors.forEach((v, i) => {
      const msg = messageOf(v.fields)
      if (!Buffer.from(encodePricing(msg)).equals(Buffer.from(v.b64, 'base64'))) bad.push(`#${i}: encodePricing`)
      if (encodeFrame(msg, 'v1') !== v.b64) bad.push(`#${i}: v1 ${encodeFrame(msg, 'v1')} != ${v.b64}`)
      if (encodeFrame(msg, 'v2') !== v.v2_frame) bad.push(`#${i}: v2 ${encodeFrame(msg, 'v2')} != ${v.v2_frame}`)
    })
    expect(bad).toEqual([])
  })

  it('finds every vector frame canonical', () => {
    const bad: string[] = []
    vectors.forEach((v, i) => {
      const d1 = ok(decodeFrame(v.b64, 'v1')).data
      const d2 = ok(decodeFrame(v.v2_frame, 'v2')).data
      if (!isCanonicalFrame(v.b64, 'v1', d1)) bad.push(`#${i}: v1`)
      if (!isCanonicalFrame(v.v2_frame, 'v2', d2)) bad.push(`#${i}: v2`)
      if (isCanonicalFrame(v.b64, 'v2', d1) || isCanonicalFrame(v.v2_frame, 'v1', d2)) bad.push(`#${i}: wrong envelope accepted`)
    })
    expect(bad).toEqual([])
  })

  it('covers -0, a non-ASCII string and big doubles', () => {
    // guards that the checks above exercise these cases
    expect(vectors.some((v) => Object.is(v.fields.change, -0))).toBe(true)
    expect(vectors.some((v) => /[^\x00-\x7f]/.test(String(v.fields.short_name ?? '')))).toBe(true)
    expect(vectors.some((v) => Number(v.fields.market_cap) > 2 ** 53)).toBe(true)
  })

  it('agrees with protobufjs reflection (an independent decoder)', () => {
    const T = pricingSchema().PricingData
    const bad: string[] = []
    vectors.forEach((v, i) => {
      const ours = ok(decodeFrame(v.b64, 'v1')).data
      const theirs = T.toObject(T.decode(b64bytes(v.b64)), {longs: String}) as Record<string, unknown>
      for (const fd of PRICING_FIELDS) {
        const a = ours[fd.name]
        const b = theirs[fd.name]
        const same = fd.kind === 'sint64' ? (a === undefined ? b === undefined : String(a) === b) : Object.is(a, b)
        if (!same) bad.push(`#${i} ${fd.name}: ours ${String(a)} protobufjs ${String(b)}`)
      }
    })
    expect(bad).toEqual([])
  })
})

describe('unknown fields', () => {
  // field 50 varint 300, field 51 length-delimited "abc"
  const extra = [0x90, 0x03, 0xac, 0x02, 0x9a, 0x03, 0x03, 0x61, 0x62, 0x63]

  it('survive decode → encode byte for byte, after the known fields', () => {
    const base = b64bytes(vectors[0].b64)
    const bytes = concat(base, extra)
    const d = ok(decodePricing(bytes))
    expect(Array.from(d.unknown_fields ?? [])).toEqual(extra)
    expect(compareToFields({...d, unknown_fields: undefined}, vectors[0].fields)).toEqual([])
    expect(Buffer.from(encodePricing(d)).equals(Buffer.from(bytes))).toBe(true)
    for (const env of ['v1', 'v2'] as const) {
      const frame = frameOf(bytes, env)
      const r = ok(decodeFrame(frame, env))
      expect(encodeFrame(r.data, env)).toBe(frame)
      expect(isCanonicalFrame(frame, env, r.data)).toBe(true)
    }
  })

  it('keeps every wire type, groups included, in wire order', () => {
    const unknown = [
      ...[0xe5, 0x03, 1, 2, 3, 4], // field 60 fixed32
      ...[0xe9, 0x03, 1, 2, 3, 4, 5, 6, 7, 8], // field 61 fixed64
      ...[0xf3, 0x03, 0x08, 0x01, 0x1b, 0x10, 0x02, 0x1c, 0xf4, 0x03], // group 62 { 1: 1, group 3 { 2: 2 } }
      ...[0xa0, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // field 100 varint 2^64-1
      ...[0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00], // field 2^29-1 varint 0
    ]
    const bytes = concat(b64bytes(vectors[1].b64), unknown)
    const d = ok(decodePricing(bytes))
    expect(Array.from(d.unknown_fields ?? [])).toEqual(unknown)
    expect(Buffer.from(encodePricing(d)).equals(Buffer.from(bytes))).toBe(true)
  })

  it('interleaved with known fields: kept in wire order, re-emitted at the end (not canonical)', () => {
    const base = b64bytes(vectors[0].b64)
    const bytes = concat(extra.slice(0, 4), base, extra.slice(4))
    const d = ok(decodePricing(bytes))
    expect(Array.from(d.unknown_fields ?? [])).toEqual(extra)
    expect(Buffer.from(encodePricing(d)).equals(Buffer.from(concat(base, extra)))).toBe(true)
    expect(isCanonicalFrame(frameOf(bytes, 'v1'), 'v1', d)).toBe(false)
    expect(ok(decodePricing(encodePricing(d)))).toEqual(d)
  })
})

describe('64-bit integers', () => {
  // protobufjs's optional `long` dependency (installed with it); typed loosely by protobufjs
  const Long = protobuf.util.Long as unknown as {fromString(s: string): protobuf.Long}
  /** sint64 field 9 (day_volume) encoded by protobufjs with Long: an independent exact encoder. */
  function reference(v: bigint): Uint8Array {
    return protobuf.Writer.create().uint32(0x48).sint64(Long.fromString(v.toString())).finish()
  }

  it('round-trips values beyond 2^53 exactly', () => {
    const values = [
      2n ** 62n + 1n,
      -(2n ** 62n) - 1n,
      2n ** 53n + 1n,
      -(2n ** 53n) - 1n,
      2n ** 63n - 1n,
      -(2n ** 63n),
      1n,
      -1n,
      2n ** 52n,
      -(2n ** 52n),
      2n ** 32n - 1n,
      -(2n ** 31n),
    ]
    for (const v of values) {
      const neg = v === -(2n ** 63n) ? v : -v
      const msg: PricingData = {id: 'X', day_volume: v, time: neg, vol_24hr: v}
      const bytes = encodePricing(msg)
      expect(ok(decodePricing(bytes))).toEqual(msg)
      expect(Array.from(encodePricing({day_volume: v}))).toEqual(Array.from(reference(v)))
      for (const env of ['v1', 'v2'] as const) {
        const frame = encodeFrame(msg, env)
        const d = ok(decodeFrame(frame, env)).data
        expect(d.day_volume).toBe(v)
        expect(d.time).toBe(neg)
        expect(isCanonicalFrame(frame, env, d)).toBe(true)
      }
    }
  })

  it('matches protobufjs+Long on random 64-bit values', () => {
    const rnd = prng(64)
    for (let i = 0; i < 500; i++) {
      const bits = 1 + Math.floor(rnd() * 63)
      let v = 0n
      for (let b = 0; b < bits; b++) v = (v << 1n) | (rnd() < 0.5 ? 1n : 0n)
      if (rnd() < 0.5) v = -v
      if (v === 0n) continue // protobufjs's raw Writer writes it; a proto3 encoder omits it
      expect(Array.from(encodePricing({day_volume: v}))).toEqual(Array.from(reference(v)))
      expect(ok(decodePricing(reference(v))).day_volume).toBe(v)
    }
  })

  it('refuses values outside int64 and non-bigints', () => {
    expect(() => encodePricing({day_volume: 2n ** 63n})).toThrow(RangeError)
    expect(() => encodePricing({day_volume: -(2n ** 63n) - 1n})).toThrow(RangeError)
    expect(() => encodePricing({day_volume: 5 as unknown as bigint})).toThrow(TypeError)
    expect(isCanonicalFrame('AAAA', 'v1', {day_volume: 2n ** 64n})).toBe(false)
  })
})

describe('encoding details', () => {
  it('omits defaults (+0, 0n, "", undefined, null) but writes -0 and NaN', () => {
    expect(encodePricing({price: 0, day_volume: 0n, id: '', quote_type: 0, market_cap: 0, change: undefined})).toHaveLength(0)
    expect(encodePricing({id: null, time: null} as unknown as PricingData)).toHaveLength(0)
    expect(Array.from(encodePricing({change: -0}))).toEqual([0x65, 0, 0, 0, 0x80])
    expect(Array.from(encodePricing({market_cap: -0}))).toEqual([0x89, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x80])
    expect(Array.from(encodePricing({price: NaN}))).toEqual([0x15, 0, 0, 0xc0, 0x7f])
    // float rounding happens before the default check, like assigning to a C++ float
    expect(encodePricing({price: 1e-50})).toHaveLength(0)
    expect(Array.from(encodePricing({price: -1e-50}))).toEqual([0x15, 0, 0, 0, 0x80])
    const d = ok(decodePricing(encodePricing({change: -0, price: NaN})))
    expect(Object.is(d.change, -0)).toBe(true)
    expect(d.price).toBeNaN()
  })

  it('writes negative int32 as a 10-byte varint and reads it back', () => {
    const bytes = encodePricing({quote_type: -1, market_hours: 2147483647})
    const ref = protobuf.Writer.create().uint32(0x30).int32(-1).uint32(0x38).int32(2147483647).finish()
    expect(Array.from(bytes)).toEqual(Array.from(ref))
    expect(bytes).toHaveLength(1 + 10 + 1 + 5)
    expect(ok(decodePricing(bytes))).toMatchObject({quote_type: -1, market_hours: 2147483647})
    expect(() => encodePricing({quote_type: 1.5})).toThrow(TypeError)
    expect(() => encodePricing({quote_type: 2 ** 31})).toThrow(TypeError)
  })

  it('encodes strings as UTF-8 (astral, lone surrogate → U+FFFD) and long lengths', () => {
    const name = '日経平均株価 🚀'
    const d = ok(decodePricing(encodePricing({short_name: name})))
    expect(d.short_name).toBe(name)
    expect(Array.from(encodePricing({id: 'a\ud800'}))).toEqual([0x0a, 4, 0x61, 0xef, 0xbf, 0xbd])
    const long = 'x'.repeat(300) + 'é'.repeat(100)
    expect(ok(decodePricing(encodePricing({underlying_symbol: long}))).underlying_symbol).toBe(long)
    const ref = protobuf.Writer.create().uint32(0x92).string(long).finish() // field 18
    expect(Array.from(encodePricing({underlying_symbol: long}))).toEqual(Array.from(ref))
  })

  it('v2 frames are exactly {"type":"pricing","message":"<b64>"}', () => {
    const msg = messageOf(vectors[5].fields)
    expect(encodeFrame(msg, 'v2')).toBe(`{"type":"pricing","message":"${encodeFrame(msg, 'v1')}"}`)
    expect(JSON.parse(encodeFrame(msg, 'v2'))).toEqual({type: 'pricing', message: vectors[5].b64})
  })

  it('returns independent byte arrays (pool views are not overwritten)', () => {
    const kept = vectors.map((v) => ({v, r: ok(decodeFrame(v.v2_frame, 'v2')), e: encodePricing(messageOf(v.fields))}))
    for (let i = 0; i < 2000; i++) decodeFrame(vectors[i % 300].b64, 'v1') // churn through several pools
    for (const {v, r, e} of kept) {
      expect(Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength).toString('base64')).toBe(v.b64)
      expect(Buffer.from(e).toString('base64')).toBe(v.b64)
    }
  })
})

describe('isCanonicalFrame', () => {
  const v = vectors[0]
  const data = ok(decodeFrame(v.b64, 'v1')).data

  it('rejects frames that decode to the same data but are spelled differently', () => {
    const bytes = b64bytes(v.b64)
    // a different envelope spelling
    const spaced = `{"type": "pricing", "message": "${v.b64}"}`
    expect(ok(decodeFrame(spaced, 'v2')).data).toEqual(data)
    expect(isCanonicalFrame(spaced, 'v2', data)).toBe(false)
    const reordered = `{"message":"${v.b64}","type":"pricing"}`
    expect(ok(decodeFrame(reordered, 'v2')).data).toEqual(data)
    expect(isCanonicalFrame(reordered, 'v2', data)).toBe(false)
    const escaped = `{"type":"pricing","message":"\\u0043${v.b64.slice(1)}"}`
    expect(v.b64[0]).toBe('C')
    expect(ok(decodeFrame(escaped, 'v2')).data).toEqual(data)
    expect(isCanonicalFrame(escaped, 'v2', data)).toBe(false)
    // an explicit default (market_hours = 0) on the wire
    const withDefault = concat(bytes, [0x38, 0x00])
    const d2 = ok(decodePricing(withDefault))
    expect(d2.market_hours).toBe(0)
    expect(isCanonicalFrame(frameOf(withDefault, 'v1'), 'v1', d2)).toBe(false)
    // an overlong varint (price_hint 2 as 0x84 0x00)
    const overlong = concat(bytes.subarray(0, bytes.length - 1), [0x84, 0x00])
    expect(Array.from(bytes.subarray(bytes.length - 3))).toEqual([0xd8, 0x01, 0x04])
    const d3 = ok(decodePricing(overlong))
    expect(d3).toEqual(data)
    expect(isCanonicalFrame(frameOf(overlong, 'v1'), 'v1', d3)).toBe(false)
  })

  it('rejects base64 with non-zero padding bits (which still decodes)', () => {
    const idAB = new Uint8Array([0x0a, 0x02, 0x41, 0x42]) // id "AB"
    expect(frameOf(idAB, 'v1')).toBe('CgJBQg==') // 'h' instead of 'g' sets bits the padding drops
    const d = ok(decodeFrame('CgJBQh==', 'v1')).data
    expect(d.id).toBe('AB')
    expect(isCanonicalFrame('CgJBQh==', 'v1', d)).toBe(false)
    expect(isCanonicalFrame('CgJBQg==', 'v1', d)).toBe(true)
  })

  it('never throws on odd arguments', () => {
    expect(isCanonicalFrame(42 as unknown as string, 'v1', data)).toBe(false)
    expect(isCanonicalFrame(v.b64, 'v3' as YahooEnvelope, data)).toBe(false)
    expect(isCanonicalFrame(v.b64, 'v1', {price: 'x'} as unknown as PricingData)).toBe(false)
    expect(isCanonicalFrame('{"type":"pricing","message":"', 'v2', {})).toBe(false)
    expect(isCanonicalFrame('{"type":"pricing","message":""}', 'v2', {})).toBe(true)
  })
})

describe('malformed input', () => {
  const valid = b64bytes(vectors[0].b64)

  it('bad base64 → BAD_BASE64', () => {
    for (const frame of ['CgRBTVpO!', 'CgRBTVp', 'CgRB TVpO', 'CgRB-_pO', 'Cg==TVpO', 'C===', 'CgRBTVpO\n', 'CgRBTVpÖ', '====']) {
      expect(errorCode(decodeFrame(frame, 'v1')), frame).toBe('BAD_BASE64')
      expect(errorCode(decodeFrame(JSON.stringify({type: 'pricing', message: frame}), 'v2')), frame).toBe('BAD_BASE64')
    }
  })

  it('a known field with the wrong wire type is kept as an unknown field, as Google parsers do', () => {
    const cases: [string, number[]][] = [
      ['price as varint', [0x10, 0x01]],
      ['id as fixed32', [0x0d, 1, 2, 3, 4]],
      ['time as LEN', [0x1a, 0x00]],
    ]
    for (const [what, bytes] of cases) {
      const wire = concat(valid, bytes)
      const r = decodePricing(wire)
      expect(r.ok, what).toBe(true)
      if (!r.ok) continue
      expect([...(r.value.unknown_fields ?? [])], what).toEqual(bytes)
      expect([...encodePricing(r.value)], what).toEqual([...wire])
    }
  })

  it('truncated or invalid protobuf → BAD_PROTOBUF', () => {
    const cases: [string, ArrayLike<number>][] = [
      ['cut inside a string', valid.subarray(0, 3)],
      ['cut inside a float', valid.subarray(0, 8)],
      ['cut inside a varint', concat(valid, [0x48, 0x80])],
      ['tag alone', concat(valid, [0x15])],
      ['string length past the end', [0x0a, 0x05, 0x41]],
      ['11-byte varint', [0x48, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
      ['field number 0', [0x00, 0x01]],
      ['wire type 6', [0x96, 0x03]],
      ['wire type 7', [0x97, 0x03]],
      ['end group without start', [0x94, 0x03]],
      ['group never closed', [0x93, 0x03, 0x08, 0x01]],
      ['group closed by another field', [0x93, 0x03, 0x9c, 0x03]],
      ['tag beyond 32 bits', [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
      ['invalid UTF-8 in a string', [0x0a, 0x02, 0xc3, 0x28]],
      ['UTF-8 surrogate in a string', [0x0a, 0x03, 0xed, 0xa0, 0x80]],
      ['unknown LEN past the end', [0x9a, 0x03, 0x10, 0x00]],
      ['unknown fixed64 cut', [0xe9, 0x03, 1, 2, 3]],
    ]
    for (const [what, bytes] of cases) {
      const r = decodePricing(Uint8Array.from(bytes))
      expect(errorCode(r), what).toBe('BAD_PROTOBUF')
      for (const env of ['v1', 'v2'] as const) expect(errorCode(decodeFrame(frameOf(Uint8Array.from(bytes), env), env)), what).toBe('BAD_PROTOBUF')
    }
    const deep = concat(Array(101).fill([0x93, 0x03]).flat(), Array(101).fill([0x94, 0x03]).flat())
    expect(errorCode(decodePricing(deep))).toBe('BAD_PROTOBUF')
  })

  it('v2 envelope errors: BAD_JSON, NO_MESSAGE', () => {
    expect(errorCode(decodeFrame('not json', 'v2'))).toBe('BAD_JSON')
    expect(errorCode(decodeFrame(vectors[0].b64, 'v2'))).toBe('BAD_JSON')
    expect(errorCode(decodeFrame('{"type":"pricing","message":"CgRB', 'v2'))).toBe('BAD_JSON')
    expect(errorCode(decodeFrame('', 'v2'))).toBe('BAD_JSON')
    expect(errorCode(decodeFrame('{"type":"pricing"}', 'v2'))).toBe('NO_MESSAGE')
    expect(errorCode(decodeFrame('{"type":"pricing","message":123}', 'v2'))).toBe('NO_MESSAGE')
    expect(errorCode(decodeFrame('{"type":"pricing","message":null}', 'v2'))).toBe('NO_MESSAGE')
    expect(errorCode(decodeFrame('{"type":"pricing","message":["CgRB"]}', 'v2'))).toBe('NO_MESSAGE')
    expect(errorCode(decodeFrame('["CgRBTVpO"]', 'v2'))).toBe('NO_MESSAGE')
    expect(errorCode(decodeFrame('null', 'v2'))).toBe('NO_MESSAGE')
    expect(errorCode(decodeFrame('"CgRBTVpO"', 'v2'))).toBe('NO_MESSAGE')
    // `type` is ignored, like yfinance does
    expect(ok(decodeFrame(`{"type":"other","message":"${vectors[0].b64}"}`, 'v2')).data.id).toBe('AMZN')
    expect(ok(decodeFrame(`{"message":"${vectors[0].b64}"}`, 'v2')).data.id).toBe('AMZN')
    // an empty message is a valid (empty) PricingData
    expect(ok(decodeFrame('{"type":"pricing","message":""}', 'v2')).bytes).toHaveLength(0)
  })

  it('empty v1 frames, non-strings, unknown envelopes → BAD_FRAME', () => {
    expect(errorCode(decodeFrame('', 'v1'))).toBe('BAD_FRAME')
    expect(errorCode(decodeFrame(null as unknown as string, 'v1'))).toBe('BAD_FRAME')
    expect(errorCode(decodeFrame(new Uint8Array(3) as unknown as string, 'v2'))).toBe('BAD_FRAME')
    expect(errorCode(decodeFrame(vectors[0].b64, 'v3' as YahooEnvelope))).toBe('BAD_FRAME')
    expect(errorCode(decodePricing('CgRB' as unknown as Uint8Array))).toBe('BAD_FRAME')
    expect(errorCode(decodePricing(undefined as unknown as Uint8Array))).toBe('BAD_FRAME')
  })

  it('never throws on random and mutated input (10,000 cases)', () => {
    const rnd = prng(20251123)
    const {pick, randomText, editChars} = fuzz(rnd)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ {}":,\\\u00e9\u65e5\ud83d\ude80\ud800\n'
    let decoded = 0
    for (let i = 0; i < 10_000; i++) {
      const v = pick(vectors)
      const env: YahooEnvelope = rnd() < 0.5 ? 'v1' : 'v2'
      let frame: string
      const kind = i % 4
      if (kind === 0) {
        // random string
        frame = randomText(alphabet, 120)
      } else if (kind === 1) {
        // valid frame with a few characters replaced, inserted or deleted
        frame = editChars(env === 'v1' ? v.b64 : v.v2_frame, alphabet)
      } else if (kind === 2) {
        // valid base64 of mutated protobuf bytes (flipped bits, truncation, random tail)
        let bytes = b64bytes(v.b64)
        for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) bytes[Math.floor(rnd() * bytes.length)] ^= 1 << Math.floor(rnd() * 8)
        if (rnd() < 0.3) bytes = bytes.subarray(0, Math.floor(rnd() * bytes.length))
        if (rnd() < 0.3) bytes = concat(bytes, Array.from({length: Math.floor(rnd() * 12)}, () => Math.floor(rnd() * 256)))
        frame = frameOf(bytes, env)
      } else {
        // random bytes, validly framed
        frame = frameOf(Uint8Array.from({length: Math.floor(rnd() * 80)}, () => Math.floor(rnd() * 256)), env)
      }
      let r!: ReturnType<typeof decodeFrame>
      expect(() => {
        r = decodeFrame(frame, env)
      }, frame).not.toThrow()
      expect(typeof r.ok).toBe('boolean')
      if (r.ok) {
        decoded++
        const {data, bytes} = r.value
        expect(() => isCanonicalFrame(frame, env, data)).not.toThrow()
        // whatever decodes re-encodes to the same data (up to explicit
        // defaults, which the encoder omits), and re-encoding is stable
        const again = encodePricing(data)
        expect(ok(decodePricing(again))).toEqual(withoutDefaults(data))
        expect(Buffer.from(encodePricing(ok(decodePricing(again)))).equals(Buffer.from(again))).toBe(true)
        expect(ok(decodePricing(bytes))).toEqual(data)
      } else {
        expect(['BAD_BASE64', 'BAD_PROTOBUF', 'BAD_JSON', 'NO_MESSAGE', 'BAD_FRAME']).toContain(r.error.code)
        expect(r.error.message.length).toBeGreaterThan(0)
      }
    }
    expect(decoded).toBeGreaterThan(500) // the mutations do reach the protobuf decoder
  })
})

describe('envelopeForUrl', () => {
  it('picks v2 for version=2 only', () => {
    expect(envelopeForUrl('wss://streamer.finance.yahoo.com/?version=2')).toBe('v2')
    expect(envelopeForUrl('ws://127.0.0.1:9000/?foo=1&version=2')).toBe('v2')
    expect(envelopeForUrl('/?version=2')).toBe('v2') // a server's req.url
    expect(envelopeForUrl('wss://streamer.finance.yahoo.com/')).toBe('v1')
    expect(envelopeForUrl('wss://streamer.finance.yahoo.com/?version=1')).toBe('v1')
    expect(envelopeForUrl('wss://streamer.finance.yahoo.com/#version=2')).toBe('v1')
    expect(envelopeForUrl('/')).toBe('v1')
    expect(envelopeForUrl('')).toBe('v1')
    expect(envelopeForUrl('http://[bad')).toBe('v1')
  })
})
