/**
 * The Upbit feed's replay side: the {@link UpbitServer} emulator seen through
 * the engine's feed-neutral interface, and the row encoder.
 *
 * Variants are the four wire formats (DEFAULT, SIMPLE, JSON_LIST,
 * SIMPLE_LIST); a client picks one in each request, so its variant can
 * change while it is connected. Payloads:
 * - a row with `raw`, to a client of the recorded frame's own format: the
 *   recorded bytes as they are (a recorded list frame is never re-sent as a
 *   whole: its rows are re-encoded one by one);
 * - otherwise the row re-encoded from its columns in its recorded layout,
 *   keys spelled for the client's format, wrapped in `[…]` for the list
 *   formats: byte-exact for DEFAULT/SIMPLE recordings made with
 *   `--raw auto` (the recorder keeps `raw` exactly when this would differ).
 * The emulator then routes each message by (type, code) and applies the
 * client's snapshot marking, depth and level (server.ts), re-encoding only
 * the messages it changes. Recorded status rows (error replies to the
 * recorder's own requests) are not sent.
 *
 * When a loop shifts times, `timestamp` and `trade_timestamp` move by the
 * shift, `trade_date`/`trade_time` and the candle times are recomputed from
 * them, and `sequential_id` grows by shift_ms × 10^4 (Upbit's ids are the
 * trade time in ms followed by a counter), so ids stay unique and increasing
 * across loops.
 *
 * Private messages (myOrder, myAsset: `status` rows with that `type`) go
 * to the private endpoint's subscribers of their type; other status rows
 * are not sent. Emulator options (`replay(…, {emulator})`, see
 * {@link upbitEmulatorOptions}): `rateLimits` (Upbit's WebSocket limits; off
 * unless asked for here, on by default in `mdrec replay`), `secretKey` /
 * `accessKey` (verify private-endpoint tokens with them; never logged).
 *
 * GET /v1/market/all lists the markets subscribed in the recordings given
 * to `listen`.
 *
 * The encoder's frame ({@link UpbitFrame}) carries the routing facts the
 * emulator applies along with the payload.
 */

import {MdrecError} from '../../errors.js'
import {MessageAdapter, serverOptions, type BytesFrame} from '../emulator-adapter.js'
import type {Emulator, EmulatorOptions, FeedOption, ReplayFeed, RowEncoder} from '../contract.js'
import {UPBIT_ACCESS_KEY_ENV, UPBIT_SECRET_KEY_ENV} from './adapter.js'
import type {BatchRows as ReplayBatch} from '../../store/rows.js'
import type {RecordingFile} from '../../store/reader.js'
import {encodeMessage, layoutOf, type UpbitRow} from './codec.js'
import {FORMATS, PRIVATE_TYPES, type UpbitFormat} from './fields.js'
import {isList, isSimple, UpbitServer, type OutMessage, type UpbitClient} from './server.js'

const SEQ_SCALE = 10_000n

/** An Upbit frame: the payload (UTF-8 bytes) and the facts the server routes it by (see {@link OutMessage}). */
export interface UpbitFrame extends Omit<OutMessage, 'payload'>, BytesFrame {}

/** The format a recording was made with (its requests' format object). */
export function recordedFormat(file: RecordingFile): UpbitFormat {
  const f = file.meta.feedOptions.format
  return f === 'SIMPLE' ? 'SIMPLE' : 'DEFAULT'
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** A row's fields with every time moved by `ms` (a copy; see the module comment). */
export function shiftFields(row: UpbitRow, ms: number): UpbitRow {
  const f = {...row.fields}
  const d = BigInt(ms)
  const exch = row.exch_ts === null ? null : row.exch_ts + d
  if (typeof f.trade_timestamp === 'bigint') {
    const t = f.trade_timestamp + d
    f.trade_timestamp = t
    const when = new Date(Number(t))
    const Y = when.getUTCFullYear()
    const M = pad(when.getUTCMonth() + 1)
    const D = pad(when.getUTCDate())
    const h = pad(when.getUTCHours())
    const m = pad(when.getUTCMinutes())
    const s = pad(when.getUTCSeconds())
    if (f.type === 'ticker') {
      if (typeof f.trade_date === 'string') f.trade_date = `${Y}${M}${D}`
      if (typeof f.trade_time === 'string') f.trade_time = `${h}${m}${s}`
    } else {
      if (typeof f.trade_date === 'string') f.trade_date = `${Y}-${M}-${D}`
      if (typeof f.trade_time === 'string') f.trade_time = `${h}:${m}:${s}`
    }
  }
  if (typeof f.sequential_id === 'bigint') f.sequential_id = f.sequential_id + d * SEQ_SCALE
  for (const k of ['candle_date_time_utc', 'candle_date_time_kst'] as const) {
    const v = f[k]
    if (typeof v !== 'string') continue
    const t = Date.parse(`${v}Z`)
    if (Number.isNaN(t)) continue
    f[k] = new Date(t + ms).toISOString().slice(0, 19)
  }
  return {symbol: row.symbol, exch_ts: exch, fields: f}
}

class UpbitRowEncoder implements RowEncoder<UpbitFrame> {
  private readonly simple: boolean
  constructor(recorded: UpbitFormat) {
    this.simple = isSimple(recorded)
  }

  encode(b: ReplayBatch, i: number, variant: number, shiftNs: number): UpbitFrame {
    const fmt = FORMATS[variant] ?? 'DEFAULT'
    let row: UpbitRow = {symbol: b.symbol(i), exch_ts: b.exchTs(i), fields: b.fields(i)}
    const f = row.fields
    let payload: Uint8Array | null = null
    if (shiftNs === 0 && !isList(fmt)) {
      const raw = b.raw(i)
      // a recorded list frame ('[') holds several rows: never sent whole
      if (raw !== null && raw[0] !== 0x5b && layoutOf(row, this.simple).simple === isSimple(fmt)) payload = raw
    }
    if (payload === null) {
      if (shiftNs !== 0) row = shiftFields(row, Math.round(shiftNs / 1e6))
      const t = encodeMessage(row, this.simple, {simple: isSimple(fmt)})
      payload = Buffer.from(isList(fmt) ? `[${t}]` : t, 'utf8')
    }
    const type = typeof f.type === 'string' ? f.type : ''
    return {
      bytes: payload,
      type,
      // status rows are not sent, except the private messages (routed by their type)
      code: b.kind(i) === 'status' && !PRIVATE_TYPES.includes(type) ? '' : row.symbol,
      streamType: typeof f.stream_type === 'string' ? f.stream_type : null,
      units: Array.isArray(f.orderbook_units) ? f.orderbook_units.length : -1,
      level: typeof f.level === 'number' ? f.level : null,
    }
  }
}

/** The Upbit emulator's options (`replay(…, {emulator})`). */
export const UPBIT_EMULATOR_OPTIONS = ['rateLimits', 'secretKey', 'accessKey'] as const
export interface UpbitEmulatorOptions {
  /** Enforce Upbit's WebSocket connection and message limits (HTTP 429 / TOO_MANY_REQ). Default false in the library; `mdrec replay` passes true unless --no-rate-limits. */
  rateLimits?: boolean
  /** Verify private-endpoint tokens' signatures with this secret (`mdrec replay` takes UPBIT_SECRET_KEY). */
  secretKey?: string
  /** Accept only tokens of this access key (`mdrec replay` takes UPBIT_ACCESS_KEY). */
  accessKey?: string
}

/** Check `replay(…, {emulator})` for the Upbit feed; throws MdrecError('E_USAGE') naming the option (never its value for the keys). */
export function upbitEmulatorOptions(o: Readonly<Record<string, unknown>> = {}): UpbitEmulatorOptions {
  for (const [name, v] of Object.entries(o)) {
    if (!(UPBIT_EMULATOR_OPTIONS as readonly string[]).includes(name)) {
      throw new MdrecError('E_USAGE', `unknown upbit emulator option "${name}": use ${UPBIT_EMULATOR_OPTIONS.join(', ')}`)
    }
    if (v === undefined) continue
    if (name === 'rateLimits' && typeof v !== 'boolean') throw new MdrecError('E_USAGE', `invalid upbit emulator option rateLimits ${JSON.stringify(v)}: use true or false`)
    if (name !== 'rateLimits' && (typeof v !== 'string' || v === '')) throw new MdrecError('E_USAGE', `invalid upbit emulator option ${name}: use a non-empty string`)
  }
  return o as UpbitEmulatorOptions
}

/** `mdrec replay`'s options for Upbit recordings (flags in the UPBIT help group). */
export const UPBIT_REPLAY_OPTIONS: readonly FeedOption[] = [
  {name: 'rate-limits', kind: 'boolean', allowNo: true, description: "enforce Upbit's WebSocket connection and message limits (HTTP 429 / TOO_MANY_REQ); on unless --no-rate-limits"},
]

/** `mdrec replay --help`'s paragraph on Upbit recordings. */
export const UPBIT_REPLAY_HELP = `Upbit recordings: Upbit's WebSocket limits are enforced (5 connections/s per IP or access key, 5 messages/s and 100/min per connection: HTTP 429 or a TOO_MANY_REQ error, docs/feeds/upbit.md); --no-rate-limits turns them off. The private endpoint (/websocket/v1/private) serves recorded myOrder/myAsset messages to clients with a well-formed bearer JWT; with ${UPBIT_SECRET_KEY_ENV} (and ${UPBIT_ACCESS_KEY_ENV}) in the environment their signature (and key) is verified, never shown.`

/** The Upbit emulator's options from `mdrec replay`'s flags: rate limits on unless --no-rate-limits; the keys that verify private-endpoint tokens from the environment (never shown). */
export function upbitEmulatorFlags(given: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv, log: (line: string) => void): Record<string, unknown> {
  const o: Record<string, unknown> = {rateLimits: given['rate-limits'] ?? true}
  if (env[UPBIT_SECRET_KEY_ENV]) o.secretKey = env[UPBIT_SECRET_KEY_ENV]
  if (env[UPBIT_ACCESS_KEY_ENV]) o.accessKey = env[UPBIT_ACCESS_KEY_ENV]
  const using = [UPBIT_SECRET_KEY_ENV, UPBIT_ACCESS_KEY_ENV].filter((k) => env[k])
  if (using.length > 0) log(`private endpoint: tokens are checked against ${using.join(' and ')}`)
  return o
}

const MARKET_CODE = /^[A-Z0-9]+-[A-Z0-9]+$/

export const upbitReplay: ReplayFeed<UpbitFrame> = {
  name: 'upbit',
  variants: FORMATS,
  emulatorOptions: UPBIT_EMULATOR_OPTIONS,
  options: UPBIT_REPLAY_OPTIONS,
  help: UPBIT_REPLAY_HELP,
  emulatorFlags: upbitEmulatorFlags,
  async listen(o: EmulatorOptions, files: readonly RecordingFile[]): Promise<Emulator<UpbitFrame>> {
    // a private recording's '*' (every market) is not a market
    const markets = files.flatMap((f) => f.meta.subscriptions.filter((s) => MARKET_CODE.test(s)))
    const srv = await UpbitServer.listen({...upbitEmulatorOptions(o.feed), ...serverOptions(o), markets})
    return new MessageAdapter<UpbitClient, UpbitFrame>(srv, {
      variant: (uc) => FORMATS.indexOf(uc.format),
      subscriptions: (uc) => uc.subscriptions,
      wants: (uc, symbol) => (symbol !== '' && uc.codes.has(symbol)) || uc.wantsPrivate(symbol),
      url: () => srv.url(),
    })
  },
  recordedVariant(file) {
    return FORMATS.indexOf(recordedFormat(file))
  },
  encoder(file) {
    return new UpbitRowEncoder(recordedFormat(file))
  },
}
