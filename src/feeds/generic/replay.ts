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

import {PayloadAdapter, serverOptions} from '../emulator-adapter.js'
import type {Emulator, EmulatorOptions, ReplayFeed, RowEncoder} from '../contract.js'
import type {BatchRows as ReplayBatch} from '../../store/rows.js'
import {encodeEnvelope, envelopeOfRow} from './codec.js'
import {MdrecError} from '../../errors.js'
import {GENERIC_REPLAY_HELP, GENERIC_REPLAY_OPTIONS, genericCompanion, genericEmulatorFlags} from './replay-options.js'
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

/** A generic frame: the payload (the envelope's text or its UTF-8 bytes), routed by its row's channel. */
export type GenericFrame = string | Uint8Array

class GenericRowEncoder implements RowEncoder<GenericFrame> {
  encode(b: ReplayBatch, i: number, _variant: number, shiftNs: number): GenericFrame {
    if (shiftNs === 0) {
      const raw = b.raw(i)
      if (raw !== null) return raw
    }
    const t = b.exchTs(i)
    const shifted = t === null || shiftNs === 0 ? t : t + BigInt(Math.round(shiftNs / 1e6))
    return encodeEnvelope(envelopeOfRow(b.symbol(i), shifted, b.fields(i)))
  }
}

export const genericReplay: ReplayFeed<GenericFrame> = {
  name: 'generic',
  symbolNoun: 'channel',
  variants: VARIANTS,
  emulatorOptions: GENERIC_EMULATOR_OPTIONS,
  options: GENERIC_REPLAY_OPTIONS,
  help: GENERIC_REPLAY_HELP,
  emulatorFlags: genericEmulatorFlags,
  companion: genericCompanion,
  async listen(o: EmulatorOptions): Promise<Emulator<GenericFrame>> {
    const srv = await GenericServer.listen({...genericEmulatorOptions(o.feed), ...serverOptions(o)})
    return new PayloadAdapter<GenericClient>(srv, {
      variant: () => 0,
      subscriptions: (gc) => gc.channels.size,
      wants: (gc, symbol) => (symbol === '' ? gc.channels.size > 0 : gc.channels.has(symbol)),
      url: () => srv.url(),
    })
  },
  recordedVariant() {
    return 0
  },
  encoder() {
    return new GenericRowEncoder()
  },
}
