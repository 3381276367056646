/**
 * The KIS feed's replay side: the {@link KisServer} emulator seen through the
 * engine's feed-neutral interface, and the row encoder.
 *
 * Frames, not rows: KIS bundles several records of one TR into one frame
 * (`count` > 1), which the recorder splits into rows (`frame_records`,
 * `frame_record`). The encoder gives the whole frame at the frame's first
 * row and an empty payload (not sent) for the others:
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
 * record (KIS sends the records of one registration per frame).
 */
import {WebSocket} from 'ws'

import {MdrecError} from '../../errors.js'
import {EmulatorAdapter} from '../emulator-adapter.js'
import type {Emulator, EmulatorClient, EmulatorOptions, ReplayFeed, RowEncoder} from '../contract.js'
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

class Client implements EmulatorClient {
  readonly id: number
  readonly ws: KisClient['ws']
  readonly variant = 0
  constructor(
    readonly kc: KisClient,
    private readonly server: KisServer,
  ) {
    this.id = kc.id
    this.ws = kc.ws
  }
  get subscriptions(): number {
    return this.kc.registrations.size
  }
  get dropped(): number {
    return this.kc.dropped
  }
  wants(symbol: string): boolean {
    // Once a REST client is about, every row passes on the timeline (the
    // emulator's send keeps the current-price state of the codes nobody registered).
    return symbol === '' || this.server.restActive ? this.kc.registrations.size > 0 : this.kc.keys.has(symbol)
  }
}

/** enc, TR, count text, first field, and where the payload starts, of a data frame (text or UTF-8 bytes). */
interface Head {
  enc: string
  trId: string
  countText: string
  key: string
  payloadAt: number
}

function headOf(payload: string | Uint8Array): Head | null {
  if (typeof payload === 'string') {
    const h = splitFrame(payload)
    if (!h) return null
    const caret = h.payload.indexOf('^')
    return {enc: h.enc, trId: h.trId, countText: h.countText, key: caret < 0 ? h.payload : h.payload.slice(0, caret), payloadAt: payload.length - h.payload.length}
  }
  const a = payload.indexOf(PIPE)
  const b = a < 0 ? -1 : payload.indexOf(PIPE, a + 1)
  const c = b < 0 ? -1 : payload.indexOf(PIPE, b + 1)
  if (c < 0) return null
  let d = payload.indexOf(CARET, c + 1)
  if (d < 0) d = payload.length
  const ascii = (s: number, e: number) => TD.decode(payload.subarray(s, e))
  return {enc: ascii(0, a), trId: ascii(a + 1, b), countText: ascii(b + 1, c), key: ascii(c + 1, d), payloadAt: c + 1}
}

/** Call `cb` once everything queued on `ws` has been written (or it closed): a frame not sent still owes the engine its write callback. */
function afterFlush(ws: WebSocket, cb: () => void): void {
  const check = () => {
    if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount === 0) cb()
    else setTimeout(check, 2).unref()
  }
  setImmediate(check)
}

class KisEmulator extends EmulatorAdapter<KisClient, Client> {
  private lastPayload: string | Uint8Array | null = null
  private lastHead: Head | null = null

  constructor(private readonly server: KisServer) {
    super(server, (kc) => new Client(kc, server))
  }
  url(): string {
    return this.server.url()
  }
  send(client: EmulatorClient, payload: string | Uint8Array, cb?: () => void): boolean {
    const len = typeof payload === 'string' ? payload.length : payload.byteLength
    if (len === 0) return false // the 2nd… rows of a bundled frame, recorded acks
    const kc = (client as Client).kc
    let head = this.lastHead
    if (payload !== this.lastPayload) {
      head = headOf(payload)
      this.lastPayload = payload
      this.lastHead = head
      if (head && this.server.restActive) this.track(payload, head)
    }
    if (head?.enc === 'R') {
      // a polled current price: state for the REST endpoint, never a frame
      if (cb) afterFlush(kc.ws, cb)
      return false
    }
    if (!head) return this.server.send(kc, payload, cb)
    if (!this.server.isRegistered(kc, head.trId, head.key)) {
      if (cb) afterFlush(kc.ws, cb)
      return false
    }
    if (head.enc === '1') {
      const text = typeof payload === 'string' ? payload : TD.decode(payload)
      const plain = text.slice(head.payloadAt)
      return this.server.send(kc, `1|${head.trId}|${head.countText}|${encryptPayload(plain, kc.cipher)}`, cb)
    }
    return this.server.send(kc, payload, cb)
  }

  /** The current-price state a row passing on the timeline gives its code: a polled price, or the last trade of an H0STCNT0 frame. */
  private track(payload: string | Uint8Array, head: Head): void {
    if (head.enc === 'R') {
      const text = typeof payload === 'string' ? payload : TD.decode(payload)
      const a = parsePriceBody(text.slice(head.payloadAt))
      // headOf reads `R|TR|<code>|<json>` as enc|tr|count|payload: the code is in the count's place
      if (a?.output) this.server.updatePrice(head.countText, a.output as Record<string, string>)
      return
    }
    if (head.enc !== '0' || head.trId !== 'H0STCNT0') return
    const text = typeof payload === 'string' ? payload : TD.decode(payload)
    const parts = text.slice(head.payloadAt).split('^')
    const count = Number(head.countText)
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

/**
 * A polled row as the encoder hands it to the emulator: `R|FHKST01010100|<code>|<answer JSON>`
 * (not a KIS frame: the emulator keeps it as the code's REST state and sends nothing).
 */
function polledPayload(code: string, raw: Uint8Array | null, fields: Record<string, unknown>): string {
  if (raw !== null) {
    const a = parsePriceBody(TD.decode(raw))
    if (a?.output) return `R|${KIS_PRICE_TR}|${code}|${JSON.stringify({output: a.output})}`
  }
  return `R|${KIS_PRICE_TR}|${code}|${JSON.stringify({output: priceOutputOf(fields)})}`
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

export class KisRowEncoder implements RowEncoder {
  /** `rawNever`: the recording kept no payloads (--raw never), so a frame's first row never carried the whole frame. */
  constructor(private readonly rawNever: boolean) {}

  encode(b: ReplayBatch, i: number, _variant: number, shiftNs: number): string | Uint8Array {
    const shiftS = shiftNs > 0 ? Math.ceil(shiftNs / 1e9) : 0
    const raw = b.raw(i)
    if (raw !== null && raw.length > 1 && raw[0] === ZERO && raw[1] === PIPE) {
      return shiftS === 0 ? raw : shiftFrame(TD.decode(raw), shiftS)
    }
    if (b.kind(i) === 'status' && b.info(i) !== null) return ''
    const f = b.fields(i)
    if (f.tr_id === KIS_PRICE_TR) return polledPayload(b.symbol(i), raw, f)
    const tr = TR_BY_ID.get(String(f.tr_id))
    if (!tr) return ''
    const k = typeof f.frame_record === 'number' ? f.frame_record : 0
    const n = typeof f.frame_records === 'number' && f.frame_records > 0 ? f.frame_records : 1
    const enc = f.encrypted === true
    if (k > 0) {
      // The frame's first row sent it, unless that row is in an earlier batch
      // and could not see this one (no whole-frame raw to send): then this
      // row arrived first in its batch.
      if (!(this.rawNever || enc) || b.at(0) !== i) return ''
      return this.frame(b, tr, i, n - k, f, enc, shiftS)
    }
    return this.frame(b, tr, i, n, f, enc, shiftS)
  }

  /** Rows i… (up to `count`, within this batch, of the same frame) as one frame. */
  private frame(b: ReplayBatch, tr: TrSpec, i: number, count: number, first: Record<string, unknown>, enc: boolean, shiftS: number): string {
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
    return frameText(enc ? '1' : '0', tr.trId, records, strs.join('^'))
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

export const kisReplay: ReplayFeed = {
  name: 'kis',
  variants: ['kis'],
  emulatorOptions: KIS_EMULATOR_OPTIONS,
  async listen(o: EmulatorOptions): Promise<Emulator> {
    const ping = Number(process.env[KIS_PINGPONG_ENV] ?? 10_000)
    const eo = kisEmulatorOptions(o.feed)
    const srv = await KisServer.listen({
      restRate: eo.restRate,
      host: o.host,
      port: o.port,
      maxBufferedBytes: o.maxBufferedBytes,
      slowClient: o.slowClient,
      log: o.log,
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
