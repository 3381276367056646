/**
 * The Yahoo feed's replay side: the {@link YahooServer} emulator seen through
 * the engine's feed-neutral interface, and the row encoder.
 *
 * Payloads are byte-identical to the recorded frames:
 * - a row with `raw` sent to a client of the recorded envelope: the raw text as is;
 * - a row with `raw` sent to a client of the other envelope: the recorded
 *   protobuf bytes re-wrapped (decode the raw frame, base64 of its bytes, the
 *   client's envelope), so non-canonical protobuf survives;
 * - a row without `raw`: `encodeFrame(row, envelope)`, exact by construction
 *   (the recorder leaves `raw` null only when this re-encoding matched); its
 *   bytes are written straight from the batch's columns
 *   ({@link PricingRowEncoder}), without a PricingData object per row.
 * When a loop shifts times, `time` (ms) is moved by the shift and the frame is
 * re-encoded (such frames are no longer the recorded bytes).
 */

import type * as A from 'apache-arrow'

import {PayloadAdapter, serverOptions} from '../emulator-adapter.js'
import type {Emulator, EmulatorOptions, PayloadWriter, ReplayFeed, RowEncoder} from '../contract.js'
import type {BatchRows as ReplayBatch} from '../../store/rows.js'
import type {RecordingFile} from '../../store/reader.js'
import {COL, FEED_COL0} from '../../store/types.js'
import {decodeFrame, encodeFrame, envelopeForUrl, PRICING_FIELDS, PricingRowEncoder, type PricingColumn, type PricingField, type UnknownFieldsColumn} from './codec.js'
import {YahooServer, type YahooClient} from './server.js'
import type {PricingData, YahooEnvelope} from './types.js'

const VARIANTS: readonly YahooEnvelope[] = ['v1', 'v2']
const V2_PREFIX = '{"type":"pricing","message":"'
const V2_SUFFIX = '"}'

/** A Yahoo frame: the payload (text, or its UTF-8 bytes), routed by its row's symbol. */
export type YahooFrame = string | Uint8Array

/** The envelope a Yahoo recording was made with. */
export function recordedEnvelope(file: RecordingFile): YahooEnvelope {
  const env = file.meta.feedOptions.envelope
  return env === 'v1' || env === 'v2' ? env : envelopeForUrl(file.meta.endpoint)
}

/** A column's validity bitmap, or null when every row has a value (as ReplayBatch reads them). */
function nullsOf(d: A.Data): Uint8Array | null {
  return d.nullCount > 0 && d.nullBitmap && d.nullBitmap.length > 0 ? d.nullBitmap : null
}

const FIELD_BY_NAME = new Map<string, PricingField>(PRICING_FIELDS.map((f) => [f.name, f]))
/** The store column a PricingData field of each kind is recorded in (YAHOO_COLUMNS). */
const STORED_AS: Record<PricingField['kind'], string> = {string: 'dict', float: 'float32', double: 'float64', int32: 'int32', sint64: 'int64'}

/**
 * The batch's rows as a {@link PricingRowEncoder} reads them: `id` from the
 * symbol column, `time` from exch_ts, each feed column by its name. Null
 * when a column is not what Yahoo's recorder writes (another layout is
 * encoded through `fields()` and encodeFrame).
 */
function rowEncoderFor(b: ReplayBatch, file: RecordingFile): PricingRowEncoder | null {
  const batch = b.batch
  const data = (k: number) => batch.getChildAt(k)!.data[0]
  const sym = data(COL.symbol)
  const exch = data(COL.exch_ts)
  const cols: PricingColumn[] = [
    {field: FIELD_BY_NAME.get('id')!, values: sym.values as Int32Array, offset: sym.offset, nulls: null, dict: (k) => b.symbolOf(k)},
    {field: FIELD_BY_NAME.get('time')!, values: exch.values as BigInt64Array, offset: exch.offset, nulls: nullsOf(exch)},
  ]
  let unknown: UnknownFieldsColumn | null = null
  for (let j = 0; j < file.feedColumns.length; j++) {
    const c = file.feedColumns[j]
    const d = data(FEED_COL0 + j)
    if (d.length > 0 && d.nullCount === d.length) continue // no value in this batch
    if (c.name === 'unknown_fields') {
      if (c.kind !== 'plain' || c.type !== 'binary') return null
      unknown = {offsets: d.valueOffsets as Int32Array, values: d.values as Uint8Array, offset: d.offset, nulls: nullsOf(d)}
      continue
    }
    const field = FIELD_BY_NAME.get(c.name)
    if (field === undefined) continue // not a PricingData field: encodeFrame ignores it too
    if (field.name === 'id' || field.name === 'time' || (c.kind === 'plain' ? c.type : c.kind) !== STORED_AS[field.kind]) return null
    if (c.kind === 'dict') {
      const dict = d.dictionary as A.Vector
      cols.push({field, values: d.values as Int32Array, offset: d.offset, nulls: nullsOf(d), dict: (k) => (dict.get(k) as string | null) ?? ''})
    } else cols.push({field, values: d.values as PricingColumn['values'], offset: d.offset, nulls: nullsOf(d)})
  }
  return new PricingRowEncoder(cols, unknown)
}

/**
 * The payload of a Yahoo frame as a {@link PayloadWriter}: a row's frame
 * encoded from its columns and written where it goes, or a frame made
 * otherwise (the recorded bytes, a re-wrapped or fields-encoded text), copied.
 */
class FrameWriter implements PayloadWriter {
  byteLength = 0
  private plan: PricingRowEncoder | null = null
  private held: YahooFrame = ''

  /** The frame `plan.measure` just encoded, `n` bytes. */
  encoded(plan: PricingRowEncoder, n: number): this {
    this.plan = plan
    this.held = ''
    this.byteLength = n
    return this
  }

  /** A frame already made. */
  made(frame: YahooFrame): this {
    this.plan = null
    this.held = frame
    this.byteLength = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength
    return this
  }

  writeTo(dst: Buffer, at: number): void {
    const f = this.held
    if (this.plan !== null) this.plan.writeFrame(dst, at)
    else if (typeof f === 'string') dst.write(f, at, 'utf8')
    else dst.set(f, at)
  }
}

class YahooRowEncoder implements RowEncoder<YahooFrame> {
  /** Per batch (shared by every timeline that plays it): its column encoder, or null. */
  private readonly plans = new WeakMap<ReplayBatch, PricingRowEncoder | null>()
  private lastBatch: ReplayBatch | null = null
  private lastPlan: PricingRowEncoder | null = null
  private lastShiftNs = 0
  private lastShift = 0n
  private readonly out = new FrameWriter()

  constructor(
    private readonly recorded: YahooEnvelope,
    private readonly file: RecordingFile,
  ) {}

  encode(b: ReplayBatch, i: number, variant: number, shiftNs: number): YahooFrame {
    const env = VARIANTS[variant]
    const plan = this.planFor(b, i, env, shiftNs)
    return plan !== null ? plan.frame(i, env, this.lastShift) : this.made!
  }

  writer(b: ReplayBatch, i: number, variant: number, shiftNs: number): PayloadWriter {
    const env = VARIANTS[variant]
    const plan = this.planFor(b, i, env, shiftNs)
    return plan !== null ? this.out.encoded(plan, plan.measure(i, env, this.lastShift)) : this.out.made(this.made!)
  }

  /** Set by {@link planFor} when it returns null: the row's frame. */
  private made: YahooFrame | null = null

  /**
   * The column encoder that encodes row `i` for `env` (with `lastShift` set
   * for `shiftNs`), or null when the frame is made otherwise: then it is in
   * {@link made} (the recorded bytes, re-wrapped for the other envelope, or
   * encodeFrame of the row's fields).
   */
  private planFor(b: ReplayBatch, i: number, env: YahooEnvelope, shiftNs: number): PricingRowEncoder | null {
    if (shiftNs === 0 && b.hasRaw) {
      const raw = b.raw(i)
      if (raw !== null) {
        if (env === this.recorded) return this.make(raw)
        const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')
        const r = decodeFrame(text, this.recorded)
        if (r.ok) {
          const b64 = Buffer.from(r.value.bytes.buffer, r.value.bytes.byteOffset, r.value.bytes.byteLength).toString('base64')
          return this.make(env === 'v1' ? b64 : V2_PREFIX + b64 + V2_SUFFIX)
        }
        // An undecodable raw frame cannot be re-wrapped: fall back to the decoded columns.
      }
    }
    if (shiftNs !== this.lastShiftNs) {
      this.lastShiftNs = shiftNs
      this.lastShift = BigInt(Math.round(shiftNs / 1e6))
    }
    let plan = this.lastPlan
    if (b !== this.lastBatch) {
      const known = this.plans.get(b)
      plan = known === undefined ? rowEncoderFor(b, this.file) : known
      if (known === undefined) this.plans.set(b, plan)
      this.lastBatch = b
      this.lastPlan = plan
    }
    if (plan !== null) return plan
    const data = b.fields(i) as PricingData
    const sym = b.symbol(i)
    if (sym !== '') data.id = sym
    const t = b.exchTs(i)
    if (t !== null) data.time = shiftNs === 0 ? t : t + this.lastShift
    return this.make(encodeFrame(data, env))
  }

  private make(frame: YahooFrame): null {
    this.made = frame
    return null
  }
}

export const yahooReplay: ReplayFeed<YahooFrame> = {
  name: 'yahoo',
  variants: VARIANTS,
  help: 'Yahoo recordings: clients choose the envelope as with the real streamer (?version=2 for JSON), subscribe with {"subscribe":[...]}, and receive, byte for byte, the frames recorded for the symbols they subscribed to.',
  async listen(o: EmulatorOptions): Promise<Emulator<YahooFrame>> {
    const srv = await YahooServer.listen(serverOptions(o))
    return new PayloadAdapter<YahooClient>(srv, {
      variant: (yc) => (yc.envelope === 'v2' ? 1 : 0),
      subscriptions: (yc) => yc.symbols.size,
      wants: (yc, symbol) => (symbol === '' ? yc.symbols.size > 0 : yc.symbols.has(symbol)),
      url: (variant) => srv.url(variant === 1 ? 2 : 1),
    })
  },
  recordedVariant(file) {
    return recordedEnvelope(file) === 'v2' ? 1 : 0
  },
  encoder(file) {
    return new YahooRowEncoder(recordedEnvelope(file), file)
  },
}
