/**
 * The Binance feed's replay side: the {@link BinanceServer} emulator seen
 * through the engine's feed-neutral interface, and the row encoder.
 *
 * Variants: 0 `raw` (`/ws`, bare payloads), 1 `combined` (`/stream`,
 * `{"stream","data"}`); a client can switch with SET_PROPERTY. Payloads:
 * - a row with `raw`, to a client of the recorded endpoint: the recorded
 *   bytes; to the other one: the recorded payload cut out of its wrapper,
 *   or wrapped in one (when the row's stream is known);
 * - otherwise the row re-encoded from its columns (codec.ts), byte-exact
 *   for recordings made with `--raw auto`.
 * Rows go to the clients subscribed to their stream (a raw-endpoint row's
 * stream is the one inferred when it was recorded); status rows are not
 * sent. Every diff-depth update sent also updates the REST snapshot
 * (server.ts).
 *
 * When a loop shifts times, `E` and `T` move by the shift; ids (trade ids,
 * update ids) do not: a client keeping a book resyncs at a loop, as after a
 * gap, since the first update of the new loop does not follow the last one.
 *
 * The engine does not hand the recordings to `listen`: `encoder(file)`,
 * called right after `listen` resolves, adds their symbols to the emulator
 * `listen` created last (for exchangeInfo and /api/v3/depth).
 */
import {MdrecError} from '../../errors.js'
import {EmulatorAdapter} from '../emulator-adapter.js'
import type {Emulator, EmulatorClient, EmulatorOptions, ReplayFeed, RowEncoder} from '../contract.js'
import type {BatchRows as ReplayBatch} from '../../store/rows.js'
import type {RecordingFile} from '../../store/reader.js'
import {parseJson} from '../upbit/json.js'
import {encodePayload, wrap, type BinanceRow} from './codec.js'
import {BinanceServer, type BinanceClient, type OutMessage} from './server.js'

export const BINANCE_VARIANTS = ['raw', 'combined'] as const

class Client implements EmulatorClient {
  readonly id: number
  readonly ws: BinanceClient['ws']
  constructor(readonly bc: BinanceClient) {
    this.id = bc.id
    this.ws = bc.ws
  }
  get variant(): number {
    return this.bc.combined ? 1 : 0
  }
  get subscriptions(): number {
    return this.bc.streams.size
  }
  get dropped(): number {
    return this.bc.dropped
  }
  wants(symbol: string): boolean {
    // '' is a partial book recorded on the raw endpoint whose stream could not be told (server.ts routes it)
    return symbol === '' ? this.bc.partials > 0 : this.bc.symbols.has(symbol)
  }
}

/** Routing facts of the payloads the encoder returns (passed back to `send`). */
const META = new WeakMap<object, Omit<OutMessage, 'payload'>>()

class BinanceEmulator extends EmulatorAdapter<BinanceClient, Client> {
  constructor(readonly server: BinanceServer) {
    super(server, (bc) => new Client(bc))
  }
  url(variant: number): string {
    return this.server.url(variant === 1)
  }
  send(client: EmulatorClient, payload: string | Uint8Array, cb?: () => void): boolean {
    const meta = typeof payload === 'string' ? undefined : META.get(payload)
    if (!meta) return false
    return this.server.deliver((client as Client).bc, {...meta, payload: () => payload}, cb)
  }
}

/** Whether a recording was made on the combined endpoint. */
export function recordedCombined(file: RecordingFile): boolean {
  return file.meta.feedOptions.endpoint !== 'raw'
}

/** The payload inside a recorded combined frame's wrapper, as it was printed; null when it is not a wrapper. */
export function unwrapText(text: string): string | null {
  try {
    const v = parseJson(text).value
    if (v.t !== 'o' || v.members.length !== 2 || v.members[1].key !== 'data') return null
    const m = v.members[1]
    const part = text.slice(m.start, m.end)
    return part.slice(part.indexOf(':') + 1).trim()
  } catch {
    return null
  }
}

class BinanceRowEncoder implements RowEncoder {
  constructor(private readonly combined: boolean) {}

  encode(b: ReplayBatch, i: number, variant: number, shiftNs: number): Uint8Array {
    const row: BinanceRow = {symbol: b.symbol(i), exch_ts: b.exchTs(i), fields: b.fields(i)}
    const f = row.fields
    const stream = typeof f.stream === 'string' ? f.stream : null
    const wantCombined = variant === 1
    let text: string | null = null
    const raw = shiftNs === 0 ? b.raw(i) : null
    if (raw !== null) {
      const t = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')
      if (wantCombined === this.combined) text = t
      else if (this.combined) text = unwrapText(t) ?? t
      else text = stream !== null ? wrap(stream, t) : t
    }
    if (text === null) {
      const p = encodePayload(row, Math.round(shiftNs / 1e6)) ?? (b.info(i) ?? 'null')
      text = wantCombined && stream !== null ? wrap(stream, p) : p
    }
    const payload = Buffer.from(text, 'utf8')
    const data = b.kind(i) !== 'status'
    META.set(payload, {
      stream: data ? stream : null,
      partial: data && f.event === 'depth',
      symbol: row.symbol,
      loop: shiftNs,
      diff:
        data && f.event === 'depthUpdate' && typeof f.first_update_id === 'bigint' && typeof f.last_update_id === 'bigint'
          ? {U: f.first_update_id, u: f.last_update_id, bids: typeof f.bids === 'string' ? f.bids : '[]', asks: typeof f.asks === 'string' ? f.asks : '[]'}
          : undefined,
    })
    return payload
  }
}

let lastListened: BinanceEmulator | null = null

export const binanceReplay: ReplayFeed = {
  name: 'binance',
  variants: BINANCE_VARIANTS,
  async listen(o: EmulatorOptions): Promise<Emulator> {
    for (const name of Object.keys(o.feed ?? {})) throw new MdrecError('E_USAGE', `unknown binance emulator option "${name}": the binance emulator takes none`)
    const srv = await BinanceServer.listen({host: o.host, port: o.port, maxBufferedBytes: o.maxBufferedBytes, slowClient: o.slowClient, log: o.log})
    const emu = new BinanceEmulator(srv)
    lastListened = emu
    return emu
  },
  recordedVariant(file) {
    return recordedCombined(file) ? 1 : 0
  },
  encoder(file) {
    for (const s of file.meta.subscriptions) if (/^[A-Za-z0-9]{1,32}$/.test(s)) lastListened?.server.symbols.add(s.toUpperCase())
    return new BinanceRowEncoder(recordedCombined(file))
  },
}
