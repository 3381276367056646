/**
 * The generic feed's replay side: the {@link GenericServer} emulator seen
 * through the engine's feed-neutral interface, and the row encoder.
 *
 * One wire variant ('json'). Payloads are the recorded text: `raw` as is when
 * the recorder kept it, else the envelope re-encoded from the columns (exact
 * by construction: the recorder leaves `raw` null only when that re-encoding
 * matched). When a loop shifts times, an `exch_ts` timestamp moves by the
 * shift and the frame is re-encoded (a compact envelope, so a frame that had
 * spaces between its envelope members loses them on later plays); a
 * `timestamp_json` (not ms) and times inside `data` are left as recorded.
 *
 * Rows of every kind but gap and reject are sent, `status` rows included: a
 * failed subscription or an `error` the recorded server sent goes to the
 * clients subscribed to its channel (or, without one, to every subscribed
 * client), as the recorder saw it.
 */

import {EmulatorAdapter} from '../emulator-adapter.js'
import type {Emulator, EmulatorClient, EmulatorOptions, ReplayFeed, RowEncoder} from '../contract.js'
import type {BatchRows as ReplayBatch} from '../../store/rows.js'
import {encodeEnvelope, envelopeOfRow} from './codec.js'
import {MdrecError} from '../../errors.js'
import {GENERIC_EMULATOR_OPTIONS, GenericServer, type GenericClient, type GenericServerOptions} from './server.js'

/** The generic emulator's own options, as `replay(…, {emulator})` and `mdrec replay`'s flags give them (see {@link GenericServerOptions}). */
export type GenericEmulatorOptions = Pick<GenericServerOptions, (typeof GENERIC_EMULATOR_OPTIONS)[number]>

/**
 * Check `replay(…, {emulator})` for the generic feed: known names, whole
 * non-negative numbers (ms, or a count), a string list of origins, a boolean.
 * Throws MdrecError('E_USAGE') naming the option.
 */
export function genericEmulatorOptions(o: Readonly<Record<string, unknown>> = {}): GenericEmulatorOptions {
  const bad = (name: string, want: string) =>
    new MdrecError('E_USAGE', `invalid generic emulator option ${name} ${JSON.stringify(o[name])}: ${want}`)
  for (const name of Object.keys(o)) {
    if (!(GENERIC_EMULATOR_OPTIONS as readonly string[]).includes(name)) {
      throw new MdrecError('E_USAGE', `unknown generic emulator option "${name}": use ${GENERIC_EMULATOR_OPTIONS.join(', ')}`)
    }
    const v = o[name]
    if (v === undefined) continue
    if (name === 'allowedOrigins') {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) throw bad(name, 'use a list of origins such as ["https://app.example"]')
    } else if (name === 'clientIdPath') {
      if (typeof v !== 'boolean') throw bad(name, 'use true or false')
    } else if (!(Number.isSafeInteger(v) && (v as number) >= 0)) {
      throw bad(name, 'use a whole number ≥ 0 (ms for times, a count for maxConnections; 0 turns it off)')
    }
  }
  return o as GenericEmulatorOptions
}

const VARIANTS: readonly string[] = ['json']

class Client implements EmulatorClient {
  readonly id: number
  readonly ws: GenericClient['ws']
  readonly variant = 0
  constructor(readonly gc: GenericClient) {
    this.id = gc.id
    this.ws = gc.ws
  }
  get subscriptions(): number {
    return this.gc.channels.size
  }
  get dropped(): number {
    return this.gc.dropped
  }
  wants(symbol: string): boolean {
    return symbol === '' ? this.gc.channels.size > 0 : this.gc.channels.has(symbol)
  }
}

class GenericEmulator extends EmulatorAdapter<GenericClient, Client> {
  constructor(private readonly server: GenericServer) {
    super(server, (gc) => new Client(gc))
  }
  url(_variant: number): string {
    return this.server.url()
  }
  send(client: EmulatorClient, payload: string | Uint8Array, cb?: () => void): boolean {
    return this.server.send((client as Client).gc, payload, cb)
  }
}

class GenericRowEncoder implements RowEncoder {
  encode(b: ReplayBatch, i: number, _variant: number, shiftNs: number): string | Uint8Array {
    if (shiftNs === 0) {
      const raw = b.raw(i)
      if (raw !== null) return raw
    }
    const t = b.exchTs(i)
    const shifted = t === null || shiftNs === 0 ? t : t + BigInt(Math.round(shiftNs / 1e6))
    return encodeEnvelope(envelopeOfRow(b.symbol(i), shifted, b.fields(i)))
  }
}

export const genericReplay: ReplayFeed = {
  name: 'generic',
  variants: VARIANTS,
  emulatorOptions: GENERIC_EMULATOR_OPTIONS,
  async listen(o: EmulatorOptions): Promise<Emulator> {
    const srv = await GenericServer.listen({
      ...genericEmulatorOptions(o.feed),
      host: o.host,
      port: o.port,
      maxBufferedBytes: o.maxBufferedBytes,
      slowClient: o.slowClient,
      log: o.log,
    })
    return new GenericEmulator(srv)
  },
  recordedVariant() {
    return 0
  },
  encoder() {
    return new GenericRowEncoder()
  },
}
