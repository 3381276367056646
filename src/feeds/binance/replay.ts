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
 * exchangeInfo and /api/v3/depth serve the symbols subscribed in the
 * recordings given to `listen`. The encoder's frame ({@link BinanceFrame})
 * carries its routing facts along with the payload.
 */
import {MdrecError} from '../../errors.js'
import {MessageAdapter, serverOptions, type BytesFrame} from '../emulator-adapter.js'
import type {Emulator, EmulatorOptions, ReplayFeed, RowEncoder} from '../contract.js'
import type {BatchRows as ReplayBatch} from '../../store/rows.js'
import type {RecordingFile} from '../../store/reader.js'
import {parseJson} from '../json.js'
import {encodePayload, wrap, type BinanceRow} from './codec.js'
import {BinanceServer, type BinanceClient, type OutMessage} from './server.js'

export const BINANCE_VARIANTS = ['raw', 'combined'] as const

/** A Binance frame: the payload (UTF-8 bytes) and the facts the server routes it by (see {@link OutMessage}). */
export interface BinanceFrame extends Omit<OutMessage, 'payload'>, BytesFrame {}

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

class BinanceRowEncoder implements RowEncoder<BinanceFrame> {
  constructor(private readonly combined: boolean) {}

  encode(b: ReplayBatch, i: number, variant: number, shiftNs: number): BinanceFrame {
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
    return {
      bytes: payload,
      stream: data ? stream : null,
      partial: data && f.event === 'depth',
      symbol: row.symbol,
      loop: shiftNs,
      diff:
        data && f.event === 'depthUpdate' && typeof f.first_update_id === 'bigint' && typeof f.last_update_id === 'bigint'
          ? {U: f.first_update_id, u: f.last_update_id, bids: typeof f.bids === 'string' ? f.bids : '[]', asks: typeof f.asks === 'string' ? f.asks : '[]'}
          : undefined,
    }
  }
}

export const binanceReplay: ReplayFeed<BinanceFrame> = {
  name: 'binance',
  variants: BINANCE_VARIANTS,
  async listen(o: EmulatorOptions, files: readonly RecordingFile[]): Promise<Emulator<BinanceFrame>> {
    for (const name of Object.keys(o.feed ?? {})) throw new MdrecError('E_USAGE', `unknown binance emulator option "${name}": the binance emulator takes none`)
    const symbols = files.flatMap((f) => f.meta.subscriptions.filter((s) => /^[A-Za-z0-9]{1,32}$/.test(s)))
    const srv = await BinanceServer.listen({...serverOptions(o), symbols})
    return new MessageAdapter<BinanceClient, BinanceFrame>(srv, {
      variant: (bc) => (bc.combined ? 1 : 0),
      subscriptions: (bc) => bc.streams.size,
      // '' is a partial book recorded on the raw endpoint whose stream could not be told (server.ts routes it)
      wants: (bc, symbol) => (symbol === '' ? bc.partials > 0 : bc.symbols.has(symbol)),
      url: (variant) => srv.url(variant === 1),
    })
  },
  recordedVariant(file) {
    return recordedCombined(file) ? 1 : 0
  },
  encoder(file) {
    return new BinanceRowEncoder(recordedCombined(file))
  },
}
