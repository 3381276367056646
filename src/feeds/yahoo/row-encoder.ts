/**
 * Replay's encoder: Yahoo frames straight from a recording's columns.
 */
import {base64Into, base64Length} from './base64.js'
import {V2_PREFIX_BYTES, V2_PREFIX_LEN, unknownEnvelope} from './envelope.js'
import {K_DOUBLE, K_FLOAT, K_INT32, K_STRING, KIND_CODE, TIME_FIELD, fieldTag, type PricingField} from './fields.js'
import type {YahooEnvelope} from './types.js'
import {LITTLE_ENDIAN, ProtoWriter, allocBytes} from './wire.js'

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
    this.tags = cols.map((c) => fieldTag(c.field))
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
    const out = this.w.out
    const b64 = base64Length(n)
    if (envelope === 'v1') return base64Into(out, n, allocBytes(b64), 0)
    if (envelope !== 'v2') throw unknownEnvelope(envelope)
    const r = allocBytes(V2_PREFIX_LEN + b64 + 2)
    r.set(V2_PREFIX_BYTES)
    base64Into(out, n, r, V2_PREFIX_LEN)
    r[r.length - 2] = 34 // "
    r[r.length - 1] = 125 // }
    return r
  }

  /** Encodes row `i` into `w.out[0, n)` and returns n (encodeFrame's message bytes). */
  private encode(i: number, timeShift: bigint): number {
    const w = this.w
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
            const q = w.string(p, tag, this.dicts[c]!(k), this.names[c])
            cache[k] = w.out.slice(p, q)
            p = q
          } else p = w.bytes(p, bytes)
          break
        }
        case K_FLOAT:
          p = w.float(p, tag, this.values[c][j], this.names[c])
          break
        case K_DOUBLE:
          p = w.double(p, tag, this.values[c][j], this.names[c])
          break
        case K_INT32:
          p = w.int32(p, tag, this.values[c][j], this.names[c])
          break
        default:
          if (c === this.time && timeShift !== 0n) p = w.sint64(p, tag, (this.values[c][j] as bigint) + timeShift, 'time')
          else {
            const h = this.halves[c]!
            p = w.sint64Halves(p, tag, h[2 * j] >>> 0, h[2 * j + 1] >>> 0)
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
