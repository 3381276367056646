/**
 * Protobuf wire primitives for the Yahoo codec: varints, zigzag sint64,
 * length-delimited strings, skipping unknown fields (`ProtoReader`), and the
 * matching writers (`ProtoWriter`), on a Uint8Array.
 *
 * ## Why hand-written
 * protobufjs reflection (`Type.decode`/`encode`) cannot be used per frame here:
 * - 64-bit: it yields `Long` objects (or lossy numbers when `long` is absent),
 *   never `bigint`; converting through them costs more than reading the varint.
 * - unknown fields: reflection skips and drops them; we must keep their bytes.
 * - strictness: its `Reader` accepts things Google's parser rejects (varints
 *   longer than 10 bytes are skipped blindly, an end-group tag is not matched
 *   to its start, proto3 strings are not UTF-8-validated).
 * - speed: the budget is well under 1 µs per message.
 * So these read and write the wire format directly, reading float32/float64
 * bytes with protobufjs's `util.float` primitives and writing them through a
 * little-endian DataView (both endianness-safe). The
 * semantics follow Google's parsers (upb, C++): varints of at most 10 bytes
 * (bits beyond 64 ignored), tags must fit in 32 bits, field number 0 is
 * invalid, groups must end with the matching end-group tag, proto3 strings
 * must be valid UTF-8.
 *
 * Byte arrays handed out (allocBytes) may be views into a shared pool
 * ArrayBuffer: always honour byteOffset/byteLength.
 */
import protobuf from 'protobufjs'

export const readFloatLE = protobuf.util.float.readFloatLE
export const readDoubleLE = protobuf.util.float.readDoubleLE

/** Thrown inside the codec only; turned into a `DecodeResult` error at the API boundary. */
export class WireError {
  constructor(readonly message: string) {}
}

export function truncated(p: number): WireError {
  return new WireError(`truncated message at byte ${p}`)
}

/** The text of an error caught at the API boundary. */
export function errorText(err: unknown): string {
  if (err instanceof WireError) return err.message
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}

// ---------------------------------------------------------------------------
// Byte arrays handed out by the codec (payload bytes, unknown_fields, encoded
// messages). V8 allocates a typed array of at most 64 bytes on its heap
// (~20 ns) but gives a larger one its own off-heap backing store (~300 ns,
// more than the rest of the decode). So larger arrays are carved out of a
// shared 16 KiB ArrayBuffer, as Node's Buffer pool does: they are ordinary
// Uint8Arrays with a byteOffset; read them through byteOffset/byteLength,
// never through `.buffer` alone.

const POOL_SIZE = 16 * 1024
const IN_HEAP_MAX = 64

class BytePool {
  private pool = new ArrayBuffer(POOL_SIZE)
  private offset = 0

  alloc(n: number): Uint8Array {
    if (n <= IN_HEAP_MAX || n > POOL_SIZE / 8) return new Uint8Array(n)
    if (this.offset + n > POOL_SIZE) {
      this.pool = new ArrayBuffer(POOL_SIZE)
      this.offset = 0
    }
    const a = new Uint8Array(this.pool, this.offset, n)
    this.offset += (n + 7) & ~7
    return a
  }
}

const bytePool = new BytePool()

/** A new Uint8Array of `n` bytes, possibly a view into a pool buffer (mind byteOffset). */
export function allocBytes(n: number): Uint8Array {
  return bytePool.alloc(n)
}

// ---------------------------------------------------------------------------
// 64-bit values

// Small values (sizes, price_hint, flags) come up all the time; bigints are
// immutable, so they can be shared instead of allocated per field.
const SMALL_BIGINTS: bigint[] = []
for (let i = -512; i < 512; i++) SMALL_BIGINTS.push(BigInt(i))

// 64-bit conversions go through one 8-byte scratch seen as int64 and as two
// uint32 halves: V8 loads/stores a BigInt64Array element much faster than it
// runs BigInt(number) or Number(bigint), and it is exact over the whole range.
const i64 = new BigInt64Array(1)
const u32 = new Uint32Array(i64.buffer)
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const LO = LITTLE_ENDIAN ? 0 : 1
const HI = LITTLE_ENDIAN ? 1 : 0

export const I64_MIN = -(2n ** 63n)
export const I64_MAX = 2n ** 63n - 1n

/** zigzag-decoded sint64 from the unsigned halves of the wire value, exactly. */
export function zigzag64(lo: number, hi: number): bigint {
  if (hi === 0 && lo < 1024) return SMALL_BIGINTS[512 + (lo & 1 ? -(lo + 1) / 2 : lo / 2)]
  const m = -(lo & 1) // 0 or -1: (u >>> 1) ^ -(u & 1) on 64 bits, in two halves
  u32[LO] = ((lo >>> 1) | (hi << 31)) ^ m
  u32[HI] = (hi >>> 1) ^ m
  return i64[0]
}

// ---------------------------------------------------------------------------
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

const MAX_GROUP_DEPTH = 100

// ---------------------------------------------------------------------------
// Reading

/**
 * Reads wire values off `buf`. A method returns the position after what it
 * read and leaves the value in the reader's registers (`lo`/`hi` for a
 * varint, `str` for a string: a function can return one number only). The
 * unknown fields met are kept as [start, end) spans of the input in `spans`
 * (`spanCount` numbers used; adjacent spans merged). Throws WireError.
 */
export class ProtoReader {
  /** The last varint read: its unsigned 32-bit halves, modulo 2^64. */
  lo = 0
  hi = 0
  /** The last string read. */
  str = ''
  readonly spans: number[] = []
  spanCount = 0

  /**
   * Reads the varint at `p` into lo/hi. At most 10 bytes, like Google's
   * parsers; bits beyond the 64th are ignored, as they do.
   */
  varint(buf: Uint8Array, p: number, end: number): number {
    let b: number
    let lo = 0
    let hi = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw truncated(p)
      b = buf[p++]
      lo |= (b & 0x7f) << shift
      if (b < 0x80) {
        this.lo = lo
        this.hi = 0
        return p
      }
    }
    if (p >= end) throw truncated(p)
    b = buf[p++]
    lo |= (b & 0x0f) << 28
    hi = (b & 0x7f) >> 4
    if (b < 0x80) {
      this.lo = lo >>> 0
      this.hi = hi
      return p
    }
    for (let shift = 3; shift < 32; shift += 7) {
      if (p >= end) throw truncated(p)
      b = buf[p++]
      hi |= (b & 0x7f) << shift
      if (b < 0x80) {
        this.lo = lo >>> 0
        this.hi = hi >>> 0
        return p
      }
    }
    throw new WireError(`varint longer than 10 bytes at byte ${p - 10}`)
  }

  /** Reads the tag at `p` into lo (a tag must fit in 32 bits). */
  tag(buf: Uint8Array, p: number, end: number): number {
    const q = this.varint(buf, p, end)
    if (this.hi !== 0) throw new WireError(`tag out of range at byte ${p}`)
    return q
  }

  /** Reads a length-delimited string at `p` (just after the tag) into str. */
  string(buf: Uint8Array, p: number, end: number): number {
    let n: number
    if (p < end && buf[p] < 0x80) n = buf[p++]
    else {
      p = this.varint(buf, p, end)
      if (this.hi !== 0) throw truncated(p)
      n = this.lo
    }
    if (n > end - p) throw truncated(p)
    this.str = decodeString(buf, p, p + n)
    return p + n
  }

  /**
   * Skips the field whose tag (read from `tagStart`, value at `p`) no known
   * field takes, and keeps its bytes as a span. A known field number with an
   * unexpected wire type lands here too and is kept as an unknown field, as
   * Google's parsers do (and so yfinance): if Yahoo ever changes a field's
   * type, frames still decode, the column is null, the bytes survive in
   * unknown_fields, and --raw auto keeps the payload (it is not canonical).
   */
  unknownField(buf: Uint8Array, tagStart: number, p: number, end: number, tag: number): number {
    if (tag >>> 3 === 0) throw new WireError(`field number 0 at byte ${tagStart}`)
    p = this.skip(buf, p, end, tag, 0)
    const spans = this.spans
    const k = this.spanCount
    if (k > 0 && spans[k - 1] === tagStart) spans[k - 1] = p
    else {
      spans[k] = tagStart
      spans[k + 1] = p
      this.spanCount = k + 2
    }
    return p
  }

  /** The unknown fields kept from `buf` (the message just read), in wire order, as new bytes (allocBytes). */
  unknownBytes(buf: Uint8Array): Uint8Array {
    const spans = this.spans
    const n = this.spanCount
    let total = 0
    for (let i = 0; i < n; i += 2) total += spans[i + 1] - spans[i]
    const u = allocBytes(total)
    let o = 0
    for (let i = 0; i < n; i += 2) {
      u.set(buf.subarray(spans[i], spans[i + 1]), o)
      o += spans[i + 1] - spans[i]
    }
    return u
  }

  /** Skips the value of a field whose tag was just read; returns the position after it. */
  private skip(buf: Uint8Array, p: number, end: number, tag: number, depth: number): number {
    const wireType = tag & 7
    switch (wireType) {
      case 0:
        return this.varint(buf, p, end)
      case 1:
        if (end - p < 8) throw truncated(p)
        return p + 8
      case 2: {
        p = this.varint(buf, p, end)
        if (this.hi !== 0 || this.lo > end - p) throw truncated(p)
        return p + this.lo
      }
      case 3: {
        if (depth >= MAX_GROUP_DEPTH) throw new WireError(`groups nested deeper than ${MAX_GROUP_DEPTH}`)
        const field = tag >>> 3
        for (;;) {
          p = this.varint(buf, p, end)
          if (this.hi !== 0) throw new WireError(`tag out of range at byte ${p}`)
          const inner = this.lo
          if (inner >>> 3 === 0) throw new WireError(`field number 0 at byte ${p}`)
          if ((inner & 7) === 4) {
            if (inner >>> 3 !== field) throw new WireError(`end-group tag for field ${inner >>> 3} closes group ${field} at byte ${p}`)
            return p
          }
          p = this.skip(buf, p, end, inner, depth + 1)
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
}

// ---------------------------------------------------------------------------
// Writing

export function badValue(name: string, want: string, v: unknown): TypeError {
  return new TypeError(`PricingData.${name}: expected ${want}, got ${typeof v === 'bigint' ? `${v}n` : typeof v === 'number' ? v : typeof v}`)
}

/**
 * Writes one message into a reusable scratch buffer (`out`, grown on demand;
 * `outBuf` is the same bytes as a Buffer, for its native base64). Each field
 * writer takes the position, the field's tag, the value and the field's name
 * (for errors); writes nothing for the field's default value (proto3: for
 * float/double, a zero *bit pattern*, so -0 and NaN are written); returns the
 * position after it. Throws TypeError/RangeError on a value of the wrong type
 * or range.
 */
/** The most bytes one numeric field takes: a 2-byte tag and a 10-byte varint. */
export const FIELD_MAX = 12

export class ProtoWriter {
  out = new Uint8Array(1024)
  outBuf = Buffer.from(this.out.buffer, this.out.byteOffset, this.out.length)
  /** `out` as a DataView, for float32/float64 bytes (V8 compiles its little-endian stores inline). */
  private view = new DataView(this.out.buffer)

  /** Makes room for `need` more bytes after position p. */
  room(p: number, need: number): void {
    if (p + need <= this.out.length) return
    let size = this.out.length * 2
    while (size < p + need) size *= 2
    const next = new Uint8Array(size)
    next.set(this.out.subarray(0, p))
    this.out = next
    this.outBuf = Buffer.from(next.buffer, next.byteOffset, next.length)
    this.view = new DataView(next.buffer)
  }

  tag(p: number, tag: number): number {
    const out = this.out
    if (tag < 0x80) {
      out[p] = tag
      return p + 1
    }
    out[p] = (tag & 0x7f) | 0x80
    out[p + 1] = tag >>> 7 // fields <= 33: tags < 2^14
    return p + 2
  }

  /** Writes an unsigned integer < 2^53 as a varint. */
  varNum(p: number, v: number): number {
    const out = this.out
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
  varLoHi(p: number, lo: number, hi: number): number {
    const out = this.out
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

  /** Copies `bytes` (written verbatim: the unknown fields, a cached field). */
  bytes(p: number, bytes: Uint8Array): number {
    const m = bytes.length
    this.room(p, m)
    const out = this.out
    if (m > 64) out.set(bytes, p)
    else for (let x = 0; x < m; x++) out[p + x] = bytes[x] // short: cheaper than set()
    return p + m
  }

  string(p: number, tag: number, v: unknown, name: string): number {
    if (typeof v !== 'string') throw badValue(name, 'a string', v)
    const n = v.length
    if (n === 0) return p
    this.room(p, 2 + 5 + 3 * n)
    p = this.tag(p, tag)
    if (n < 0x80) {
      // Short ASCII (the usual case) in one pass: one-byte length, then the
      // chars; on the first non-ASCII char fall through to the UTF-8 path.
      const b = this.out
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
    p = this.varNum(p, utf8Length(v))
    return this.utf8(p, v)
  }

  private utf8(p: number, s: string): number {
    const out = this.out
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

  float(p: number, tag: number, v: unknown, name: string): number {
    if (typeof v !== 'number') throw badValue(name, 'a number', v)
    this.room(p, 6)
    return this.f32(p, tag, Math.fround(v))
  }

  double(p: number, tag: number, v: unknown, name: string): number {
    if (typeof v !== 'number') throw badValue(name, 'a number', v)
    this.room(p, 10)
    return this.f64(p, tag, v)
  }

  int32(p: number, tag: number, v: unknown, name: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw badValue(name, 'an int32', v)
    }
    this.room(p, 12)
    return this.i32(p, tag, v)
  }

  sint64(p: number, tag: number, v: unknown, name: string): number {
    if (typeof v !== 'bigint') throw badValue(name, 'a bigint', v)
    if (v === 0n) return p
    if (v < I64_MIN || v > I64_MAX) throw new RangeError(`PricingData.${name}: ${v}n is outside the int64 range`)
    i64[0] = v
    return this.sint64Halves(p, tag, u32[LO], u32[HI])
  }

  // Unchecked writers, for values read from typed-array columns (so of the
  // right type and range), after the caller made room for FIELD_MAX bytes:
  // the per-row encoder's inner loop (see row-encoder.ts).

  /** A float already rounded to float32 (+0: the default, not written). */
  f32(p: number, tag: number, x: number): number {
    if (x === 0 && 1 / x > 0) return p // +0 is the default; -0 and NaN are not (bit pattern != 0)
    p = this.tag(p, tag)
    this.view.setFloat32(p, x, true)
    return p + 4
  }

  f64(p: number, tag: number, v: number): number {
    if (v === 0 && 1 / v > 0) return p
    p = this.tag(p, tag)
    this.view.setFloat64(p, v, true)
    return p + 8
  }

  /** An int32 (0: the default, not written). */
  i32(p: number, tag: number, v: number): number {
    if (v === 0) return p
    p = this.tag(p, tag)
    // negative int32s are sign-extended to 64 bits (10 bytes), as Google does
    return v > 0 ? this.varNum(p, v) : this.varLoHi(p, v >>> 0, 0xffffffff)
  }

  /** A sint64 given as the unsigned 32-bit halves of its two's complement (0, 0: the default, not written). */
  sint64Halves(p: number, tag: number, lo: number, hi: number): number {
    if (lo === 0 && hi === 0) return p
    this.room(p, FIELD_MAX)
    return this.s64(p, tag, lo, hi)
  }

  /** sint64Halves without the room check. */
  s64(p: number, tag: number, lo: number, hi: number): number {
    if (lo === 0 && hi === 0) return p
    const sign = hi >> 31 // 0 or -1: zigzag is (v << 1) ^ (v >> 63), on two halves
    return this.varLoHi(this.tag(p, tag), ((lo << 1) ^ sign) >>> 0, (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0)
  }
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
