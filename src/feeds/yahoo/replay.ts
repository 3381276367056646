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
 *   (the recorder leaves `raw` null only when this re-encoding matched).
 * When a loop shifts times, `time` (ms) is moved by the shift and the frame is
 * re-encoded (such frames are no longer the recorded bytes).
 */

import {EmulatorAdapter} from '../../replay/emulator-adapter.js'
import type {Emulator, EmulatorClient, EmulatorOptions, ReplayFeed, RowEncoder} from '../../replay/feed.js'
import type {ReplayBatch} from '../../replay/rows.js'
import type {RecordingFile} from '../../store/reader.js'
import {decodeFrame, encodeFrame, envelopeForUrl} from './codec.js'
import {YahooServer, type YahooClient} from './server.js'
import type {PricingData, YahooEnvelope} from './types.js'

const VARIANTS: readonly YahooEnvelope[] = ['v1', 'v2']
const V2_PREFIX = '{"type":"pricing","message":"'
const V2_SUFFIX = '"}'

class Client implements EmulatorClient {
  readonly id: number
  readonly ws: YahooClient['ws']
  readonly variant: number
  constructor(readonly yc: YahooClient) {
    this.id = yc.id
    this.ws = yc.ws
    this.variant = yc.envelope === 'v2' ? 1 : 0
  }
  get subscriptions(): number {
    return this.yc.symbols.size
  }
  get dropped(): number {
    return this.yc.dropped
  }
  wants(symbol: string): boolean {
    return symbol === '' ? this.yc.symbols.size > 0 : this.yc.symbols.has(symbol)
  }
}

class YahooEmulator extends EmulatorAdapter<YahooClient, Client> {
  constructor(srv: YahooServer) {
    super(srv, (yc) => new Client(yc))
  }
  private get server(): YahooServer {
    return this.srv as YahooServer
  }
  url(variant: number): string {
    return this.server.url(variant === 1 ? 2 : 1)
  }
  send(client: EmulatorClient, payload: string | Uint8Array, cb?: () => void): boolean {
    return this.server.send((client as Client).yc, payload, cb)
  }
}

/** The envelope a Yahoo recording was made with. */
export function recordedEnvelope(file: RecordingFile): YahooEnvelope {
  const env = file.meta.feedOptions.envelope
  return env === 'v1' || env === 'v2' ? env : envelopeForUrl(file.meta.endpoint)
}

class YahooRowEncoder implements RowEncoder {
  constructor(private readonly recorded: YahooEnvelope) {}

  encode(b: ReplayBatch, i: number, variant: number, shiftNs: number): string | Uint8Array {
    const env = VARIANTS[variant]
    if (shiftNs === 0) {
      const raw = b.raw(i)
      if (raw !== null) {
        if (env === this.recorded) return raw
        const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')
        const r = decodeFrame(text, this.recorded)
        if (r.ok) {
          const b64 = Buffer.from(r.value.bytes.buffer, r.value.bytes.byteOffset, r.value.bytes.byteLength).toString('base64')
          return env === 'v1' ? b64 : V2_PREFIX + b64 + V2_SUFFIX
        }
        // An undecodable raw frame cannot be re-wrapped: fall back to the decoded columns.
      }
    }
    const data = b.fields(i) as PricingData
    const sym = b.symbol(i)
    if (sym !== '') data.id = sym
    const t = b.exchTs(i)
    if (t !== null) data.time = shiftNs === 0 ? t : t + BigInt(Math.round(shiftNs / 1e6))
    return encodeFrame(data, env)
  }
}

export const yahooReplay: ReplayFeed = {
  name: 'yahoo',
  variants: VARIANTS,
  async listen(o: EmulatorOptions): Promise<Emulator> {
    const srv = await YahooServer.listen({
      host: o.host,
      port: o.port,
      maxBufferedBytes: o.maxBufferedBytes,
      slowClient: o.slowClient,
      log: o.log,
    })
    return new YahooEmulator(srv)
  },
  recordedVariant(file) {
    return recordedEnvelope(file) === 'v2' ? 1 : 0
  },
  encoder(file) {
    return new YahooRowEncoder(recordedEnvelope(file))
  },
}
