/**
 * Replay's encoder: Yahoo frames straight from a recording's columns.
 */
import {base64Into, base64Length} from './base64.js'
import {V2_PREFIX_BYTES, V2_PREFIX_LEN, unknownEnvelope} from './envelope.js'
import {K_DOUBLE, K_FLOAT, K_INT32, K_SINT64, K_STRING, KIND_CODE, TIME_FIELD, fieldTag, type PricingField} from './fields.js'
import type {YahooEnvelope} from './types.js'
import {FIELD_MAX, LITTLE_ENDIAN, ProtoWriter, allocBytes} from './wire.js'

const NO_I32 = new Int32Array(0)
const NO_F32 = new Float32Array(0)
const NO_F64 = new Float64Array(0)
const NO_I64 = new BigInt64Array(0)

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

/**
 * Frames of a batch's rows encoded straight from its columns: the bytes
 * `encodeFrame` writes for the PricingData the row holds, without building
 * that object (the per-row object, and a BigInt per 64-bit value, were most
 * of a re-encoded replay's cost). sint64 columns are read as two 32-bit
 * halves; a string column's field bytes are kept per dictionary entry.
 * Columns may come in any order (they are written in field-number order).
 * Field values go through the same ProtoWriter as encodeFrame.
 */
export class PricingRowEncoder {
  private readonly w = new ProtoWriter()
  private readonly kinds: Uint8Array
  private readonly tags: number[]
  private readonly names: string[]
  // The values by kind, one list per kind (an empty array in the other
  // columns' places), so that each read in the inner loop meets one typed
  // array type: one list of mixed typed arrays made every read a megamorphic
  // load, the encoder's largest cost.
  /** string columns: dictionary indices (as Int32Array: a narrower index type is widened once per batch). */
  private readonly indices: Int32Array[]
  private readonly floats: Float32Array[]
  private readonly doubles: Float64Array[]
  private readonly int32s: Int32Array[]
  /** sint64 columns: the values as int32 pairs (little-endian: low half first). */
  private readonly halves: Int32Array[]
  /** sint64 columns as stored (the shifted time is computed on them). */
  private readonly int64s: BigInt64Array[]
  private readonly offsets: number[]
  private readonly nulls: (Uint8Array | null)[]
  private readonly dicts: (((k: number) => string) | null)[]
  /** string columns: the field's encoded bytes (tag, length, UTF-8) per dictionary entry, once met. */
  private readonly strings: (Uint8Array | undefined)[][]
  private readonly time: number
  /** Room a row's numeric fields can take at most (strings and unknown fields make their own). */
  private readonly numericMax: number

  constructor(
    columns: readonly PricingColumn[],
    private readonly unknown: UnknownFieldsColumn | null = null,
  ) {
    const cols = [...columns].sort((a, b) => a.field.number - b.field.number)
    this.kinds = Uint8Array.from(cols, (c) => KIND_CODE[c.field.kind])
    this.tags = cols.map((c) => fieldTag(c.field))
    this.names = cols.map((c) => c.field.name)
    const of = <T>(kind: number, empty: T, as: (v: PricingColumn['values']) => T): T[] => cols.map((c) => (KIND_CODE[c.field.kind] === kind ? as(c.values) : empty))
    this.indices = of(K_STRING, NO_I32, (v) => (v instanceof Int32Array ? v : Int32Array.from(v as ArrayLike<number>)))
    this.floats = of(K_FLOAT, NO_F32, (v) => v as Float32Array)
    this.doubles = of(K_DOUBLE, NO_F64, (v) => v as Float64Array)
    this.int32s = of(K_INT32, NO_I32, (v) => v as Int32Array)
    this.int64s = of(K_SINT64, NO_I64, (v) => v as BigInt64Array)
    this.halves = of(K_SINT64, NO_I32, (v) => {
      if (!LITTLE_ENDIAN) throw new Error('PricingRowEncoder: big-endian hosts read sint64 columns through encodeFrame')
      return new Int32Array(v.buffer, v.byteOffset, v.length * 2)
    })
    this.offsets = cols.map((c) => c.offset)
    this.nulls = cols.map((c) => c.nulls)
    this.dicts = cols.map((c) => c.dict ?? null)
    this.strings = cols.map(() => [])
    this.time = cols.findIndex((c) => c.field.number === TIME_FIELD)
    this.numericMax = FIELD_MAX * cols.length
  }

  /** The message bytes of the row {@link measure} encoded last (in `w.out`), and its envelope. */
  private n = 0
  private envelope: YahooEnvelope = 'v1'

  /**
   * Row `i`'s frame in `envelope`, as its bytes: what `encodeFrame` returns
   * for the row's PricingData, with `time` moved by `timeShift` (ms; 0n: as
   * recorded). Throws a RangeError when the shifted time leaves int64.
   */
  frame(i: number, envelope: YahooEnvelope, timeShift = 0n): Uint8Array {
    const r = allocBytes(this.measure(i, envelope, timeShift))
    this.writeFrame(r, 0)
    return r
  }

  /**
   * Encodes row `i` for {@link writeFrame} and returns the length of its
   * frame: {@link frame} in two steps, so that the frame can be written
   * straight where it goes. Throws what `frame` throws.
   */
  measure(i: number, envelope: YahooEnvelope, timeShift = 0n): number {
    if (envelope !== 'v1' && envelope !== 'v2') throw unknownEnvelope(envelope)
    const n = this.encode(i, timeShift)
    this.n = n
    this.envelope = envelope
    const b64 = base64Length(n)
    return envelope === 'v1' ? b64 : V2_PREFIX_LEN + b64 + 2
  }

  /** Writes the frame {@link measure} encoded last into `dst` at `at` (the length `measure` returned); never throws. */
  writeFrame(dst: Uint8Array, at: number): void {
    const out = this.w.out
    const n = this.n
    if (this.envelope === 'v1') {
      base64Into(out, n, dst, at)
      return
    }
    dst.set(V2_PREFIX_BYTES, at)
    const end = at + V2_PREFIX_LEN + base64Length(n)
    base64Into(out, n, dst, at + V2_PREFIX_LEN)
    dst[end] = 34 // "
    dst[end + 1] = 125 // }
  }

  /** Encodes row `i` into `w.out[0, n)` and returns n (encodeFrame's message bytes). */
  private encode(i: number, timeShift: bigint): number {
    const w = this.w
    const kinds = this.kinds
    let p = 0
    w.room(0, this.numericMax)
    for (let c = 0; c < kinds.length; c++) {
      const j = this.offsets[c] + i
      const bm = this.nulls[c]
      if (bm !== null && ((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
      const tag = this.tags[c]
      switch (kinds[c]) {
        case K_STRING: {
          const k = this.indices[c][j]
          const cache = this.strings[c]
          const bytes = cache[k]
          if (bytes === undefined) {
            const q = w.string(p, tag, this.dicts[c]!(k), this.names[c])
            cache[k] = w.out.slice(p, q)
            p = q
          } else p = w.bytes(p, bytes)
          // a string may have used up the numeric fields' room
          w.room(p, this.numericMax)
          break
        }
        case K_FLOAT:
          p = w.f32(p, tag, this.floats[c][j])
          break
        case K_DOUBLE:
          p = w.f64(p, tag, this.doubles[c][j])
          break
        case K_INT32:
          p = w.i32(p, tag, this.int32s[c][j])
          break
        default:
          if (c === this.time && timeShift !== 0n) p = w.sint64(p, tag, this.int64s[c][j] + timeShift, 'time')
          else {
            const h = this.halves[c]
            p = w.s64(p, tag, h[2 * j] >>> 0, h[2 * j + 1] >>> 0)
          }
      }
    }
    const u = this.unknown
    if (u !== null) {
      const j = u.offset + i
      if (u.nulls === null || ((u.nulls[j >> 3] >> (j & 7)) & 1) === 1) p = w.bytes(p, u.values.subarray(u.offsets[j], u.offsets[j + 1]))
    }
    return p
  }
}
