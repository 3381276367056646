/**
 * The KIS feed's replay side: the {@link KisServer} emulator seen through the
 * engine's feed-neutral interface, and the row encoder.
 *
 * Frames, not rows: KIS bundles several records of one TR into one frame
 * (`count` > 1), which the recorder splits into rows (`frame_records`,
 * `frame_record`). The encoder gives the whole frame ({@link KisFrame}: its
 * text and routing) at the frame's first row and null (nothing to send) for
 * the others:
 * - a first row with `raw` (every multi-record frame keeps it under --raw
 *   auto/always): the recorded bytes as they are — byte-exact;
 * - a first row without `raw` (a single exact record, or --raw never): the
 *   records re-encoded from their columns, read from the batch (a frame cut
 *   by a batch boundary is sent in two frames, the only case where the
 *   bundling is not the recorded one);
 * - encrypted TRs (notices): the plaintext frame is rebuilt from the columns
 *   and the emulator encrypts it with each client's own session key/iv (the
 *   recorded ciphertext belongs to the recorded session's key, which is not
 *   stored);
 * - status rows (the recorded acks) are not sent: the emulator answers each
 *   client's own registrations.
 * When a loop shifts times, the time fields of every record (HHMMSS and
 * YYYYMMDD, see layouts.ts) move by the shift rounded up to whole seconds.
 *
 * A frame goes to the clients registered for its TR and the key of its first
 * record (KIS sends the records of one registration per frame): both are in
 * the frame, read once by the encoder.
 */
import {WebSocket} from 'ws'

import {MdrecError} from '../../errors.js'
import {EmulatorAdapter, payloadSize, serverOptions} from '../emulator-adapter.js'
import type {Emulator, EmulatorOptions, ReplayFeed, RowEncoder} from '../contract.js'
import type {BatchRows as ReplayBatch} from '../../store/rows.js'
import {layoutOf} from './adapter.js'
import {encodeRecordFields, encryptPayload, frameText, shiftRecordTimes, splitFrame} from './codec.js'
import {TR_BY_ID, type TrSpec} from './layouts.js'
import {KIS_PRICE_TR, PRICE_FIELDS, parsePriceBody, priceOutputOf} from './rest.js'
import {KisServer, type KisClient, type KisServerOptions} from './server.js'

const TD = new TextDecoder('utf-8')
const PIPE = 0x7c
const CARET = 0x5e
const ZERO = 0x30

/** Environment variable: the replay emulator's PINGPONG interval in ms (0: never). Default 10000. */
export const KIS_PINGPONG_ENV = 'MDREC_KIS_PINGPONG_MS'

/**
 * What the KIS encoder gives for a row: a data frame, a polled current
 * price (state for the REST endpoint, never a frame), or null (nothing to
 * send: the 2nd… rows of a bundled frame, recorded acks).
 */
export type KisFrame = KisDataFrame | KisPolledPrice | null

export interface KisDataFrame {
  readonly kind: 'data'
  /** The frame as sent (`0|TR|NNN|records`), or for an encrypted TR its plaintext form (each client gets `plain` encrypted with its own key). */
  readonly text: string | Uint8Array
  readonly trId: string
  /** The first record's first field: the key a client registered (code, overseas key, HTS ID). */
  readonly key: string
  readonly count: number
  /** Where the records start in `text`. */
  readonly payloadAt: number
  /** An encrypted TR's records in plaintext (null: not encrypted). */
  readonly plain: string | null
}

export interface KisPolledPrice {
  readonly kind: 'price'
  readonly code: string
  /** inquire-price `output` fields (lower-case names, strings). */
  readonly output: Record<string, string>
}

/** TR, count text, first record's key, and where the records start, of a recorded data frame's UTF-8 bytes (`0|TR|NNN|…`). */
function headOf(raw: Uint8Array): {trId: string; countText: string; key: string; payloadAt: number} | null {
  const a = raw.indexOf(PIPE)
  const b = a < 0 ? -1 : raw.indexOf(PIPE, a + 1)
  const c = b < 0 ? -1 : raw.indexOf(PIPE, b + 1)
  if (c < 0) return null
  let d = raw.indexOf(CARET, c + 1)
  if (d < 0) d = raw.length
  const ascii = (s: number, e: number) => TD.decode(raw.subarray(s, e))
  return {trId: ascii(a + 1, b), countText: ascii(b + 1, c), key: ascii(c + 1, d), payloadAt: c + 1}
}

/** Call `cb` once everything queued on `ws` has been written (or it closed): a frame not sent still owes the engine its write callback. */
function afterFlush(ws: WebSocket, cb: () => void): void {
  const check = () => {
    if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount === 0) cb()
    else setTimeout(check, 2).unref()
  }
  setImmediate(check)
}

class KisEmulator extends EmulatorAdapter<KisClient, KisFrame> {
  private lastFrame: KisFrame = null

  constructor(private readonly server: KisServer) {
    super(server, {
      variant: () => 0,
      subscriptions: (kc) => kc.registrations.size,
      // Once a REST client is about, every row passes on the timeline (the
      // emulator's send keeps the current-price state of the codes nobody registered);
      // the server's 'interest' at that moment has the engine ask again.
      wants: (kc, symbol) => (symbol === '' || server.restActive ? kc.registrations.size > 0 : kc.keys.has(symbol)),
      url: () => server.url(),
    })
  }
  size(frame: KisFrame): number {
    return frame?.kind === 'data' ? payloadSize(frame.text) : 0
  }
  protected deliver(kc: KisClient, frame: KisFrame, cb?: () => void): boolean {
    if (frame === null) return false
    if (frame !== this.lastFrame) {
      this.lastFrame = frame
      if (this.server.restActive) this.track(frame)
    }
    if (frame.kind === 'price' || !this.server.isRegistered(kc, frame.trId, frame.key)) {
      // a polled current price is state for the REST endpoint, never a frame
      if (cb) afterFlush(kc.ws, cb)
      return false
    }
    if (frame.plain !== null) return this.server.send(kc, frameText('1', frame.trId, frame.count, encryptPayload(frame.plain, kc.cipher)), cb)
    return this.server.send(kc, frame.text, cb)
  }

  /** The current-price state a row passing on the timeline gives its code: a polled price, or the last trade of an H0STCNT0 frame. */
  private track(frame: KisDataFrame | KisPolledPrice): void {
    if (frame.kind === 'price') {
      this.server.updatePrice(frame.code, frame.output)
      return
    }
    if (frame.plain !== null || frame.trId !== 'H0STCNT0') return
    const text = typeof frame.text === 'string' ? frame.text : TD.decode(frame.text)
    const parts = text.slice(frame.payloadAt).split('^')
    const count = frame.count
    const per = parts.length / count
    const tr = TR_BY_ID.get('H0STCNT0')!
    if (!Number.isInteger(per) || !tr.layouts.includes(per)) return
    const at = (count - 1) * per
    const out: Record<string, string> = {}
    for (const [name, k] of CNT_PRICE_INDEX) if (k < per) out[name] = parts[at + k]
    this.server.updatePrice(parts[at], out)
  }
}

/** inquire-price output name → field index in an H0STCNT0 record, for the fields both have. */
const CNT_PRICE_INDEX: ReadonlyArray<readonly [string, number]> = PRICE_FIELDS.map((fs) => [fs.name.toLowerCase(), TR_BY_ID.get('H0STCNT0')!.fields.findIndex((x) => x.name === fs.name)] as const).filter(
  ([, k]) => k >= 0,
)

/** A polled row as the encoder hands it to the emulator (the code's REST state; not a KIS frame). */
function polledPrice(code: string, raw: Uint8Array | null, fields: Record<string, unknown>): KisPolledPrice {
  if (raw !== null) {
    const a = parsePriceBody(TD.decode(raw))
    if (a?.output) return {kind: 'price', code, output: a.output as Record<string, string>}
  }
  return {kind: 'price', code, output: priceOutputOf(fields)}
}

/** A recorded frame's text with every record's time fields moved `shiftS` seconds; unchanged when it does not parse. */
function shiftFrame(text: string, shiftS: number): string {
  const h = splitFrame(text)
  const tr = h ? TR_BY_ID.get(h.trId) : undefined
  if (!h || !tr || h.enc !== '0' || h.count <= 0) return text
  const parts = h.payload.split('^')
  const per = parts.length / h.count
  if (!Number.isInteger(per) || !tr.layouts.includes(per)) return text
  for (let r = 0; r < h.count; r++) shiftRecordTimes(tr, parts, r * per, per, shiftS)
  return `${h.enc}|${h.trId}|${h.countText}|${parts.join('^')}`
}

export class KisRowEncoder implements RowEncoder<KisFrame> {
  /** `rawNever`: the recording kept no payloads (--raw never), so a frame's first row never carried the whole frame. */
  constructor(private readonly rawNever: boolean) {}

  encode(b: ReplayBatch, i: number, _variant: number, shiftNs: number): KisFrame {
    const shiftS = shiftNs > 0 ? Math.ceil(shiftNs / 1e9) : 0
    const raw = b.raw(i)
    if (raw !== null && raw.length > 1 && raw[0] === ZERO && raw[1] === PIPE) {
      const h = headOf(raw)
      if (h !== null) {
        const text = shiftS === 0 ? raw : shiftFrame(TD.decode(raw), shiftS)
        return {kind: 'data', text, trId: h.trId, key: h.key, count: Number(h.countText), payloadAt: h.payloadAt, plain: null}
      }
    }
    if (b.kind(i) === 'status' && b.info(i) !== null) return null
    const f = b.fields(i)
    if (f.tr_id === KIS_PRICE_TR) return polledPrice(b.symbol(i), raw, f)
    const tr = TR_BY_ID.get(String(f.tr_id))
    if (!tr) return null
    const k = typeof f.frame_record === 'number' ? f.frame_record : 0
    const n = typeof f.frame_records === 'number' && f.frame_records > 0 ? f.frame_records : 1
    const enc = f.encrypted === true
    if (k > 0) {
      // The frame's first row sent it, unless that row is in an earlier batch
      // and could not see this one (no whole-frame raw to send): then this
      // row arrived first in its batch.
      if (!(this.rawNever || enc) || b.at(0) !== i) return null
      return this.frame(b, tr, i, n - k, f, enc, shiftS)
    }
    return this.frame(b, tr, i, n, f, enc, shiftS)
  }

  /** Rows i… (up to `count`, within this batch, of the same frame) as one frame. */
  private frame(b: ReplayBatch, tr: TrSpec, i: number, count: number, first: Record<string, unknown>, enc: boolean, shiftS: number): KisDataFrame {
    const strs: string[] = []
    const k0 = typeof first.frame_record === 'number' ? first.frame_record : 0
    let records = 0
    // the frame's rows in arrival order (a closed file stores them clustered by shape and symbol, not side by side)
    for (let j = i; j >= 0 && records < count; j = b.nextInArrival(j)) {
      const f = j === i ? first : b.fields(j)
      if (j !== i && (f.tr_id !== tr.trId || f.frame_record !== k0 + records)) break
      const at = strs.length
      const n = layoutOf(tr, f)
      encodeRecordFields(tr, n, f, strs)
      shiftRecordTimes(tr, strs, at, n, shiftS)
      records++
    }
    const payload = strs.join('^')
    const text = frameText(enc ? '1' : '0', tr.trId, records, payload)
    return {kind: 'data', text, trId: tr.trId, key: strs.length > 0 ? strs[0] : '', count: records, payloadAt: text.length - payload.length, plain: enc ? payload : null}
  }
}

/**
 * The KIS emulator's options (`ReplayOptions.emulator`): `restRate`, REST
 * requests per second per app key (default 20); `onServer`, a function
 * given the {@link KisServer} once it listens (tests count its registrations).
 */
export const KIS_EMULATOR_OPTIONS = ['restRate', 'onServer'] as const

function kisEmulatorOptions(o: Readonly<Record<string, unknown>> | undefined): {restRate?: number; onServer?: (s: KisServer) => void} {
  const rate = o?.restRate
  if (rate !== undefined && (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1 || rate > 100_000)) {
    throw new MdrecError('E_USAGE', `the kis emulator's restRate must be a whole number of requests per second from 1 to 100000, not ${String(rate)}`)
  }
  const on = o?.onServer
  if (on !== undefined && typeof on !== 'function') throw new MdrecError('E_USAGE', "the kis emulator's onServer must be a function")
  return {restRate: rate as number | undefined, onServer: on as ((s: KisServer) => void) | undefined}
}

export const kisReplay: ReplayFeed<KisFrame> = {
  name: 'kis',
  variants: ['kis'],
  emulatorOptions: KIS_EMULATOR_OPTIONS,
  async listen(o: EmulatorOptions): Promise<Emulator<KisFrame>> {
    const ping = Number(process.env[KIS_PINGPONG_ENV] ?? 10_000)
    const eo = kisEmulatorOptions(o.feed)
    const srv = await KisServer.listen({
      restRate: eo.restRate,
      ...serverOptions(o),
      pingIntervalMs: Number.isFinite(ping) && ping >= 0 ? ping : 10_000,
    } satisfies KisServerOptions)
    eo.onServer?.(srv)
    return new KisEmulator(srv)
  },
  recordedVariant() {
    return 0
  },
  encoder(file) {
    return new KisRowEncoder(file.meta.rawMode === 'never')
  },
}
