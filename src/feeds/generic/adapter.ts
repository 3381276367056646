import type {WebSocket} from 'ws'

import {MdrecError} from '../../errors.js'
import type {RecordingMeta} from '../../store/schema.js'
import type {ClientOptions, FeedAdapter} from '../contract.js'
import type {ColumnDef, FeedCodec, Frame, FrameDecode, RowView} from '../types.js'
import {guardControl, prepareFeedUrl, sanitizeEndpoint, urlSource} from '../../util/redact.js'
import {decodeText, encodeEnvelope, envelopeOfRow, isPlainObject, parseJson, pingMessage, pongFor, subscribeMessage} from './codec.js'
import {RedisSubscription, isRedisUrl, parseRedisTarget, redisSubscriptions} from './redis.js'

/** There is no public generic server: the URL must come from --url or this variable. */
export const GENERIC_URL_ENV = 'MDREC_GENERIC_URL'
/** How often the recorder sends `{"type":"ping","timestamp":…}` (servers with a ping timeout commonly allow 30–60 s). */
export const GENERIC_PING_MS = 15_000

/**
 * The generic feed's columns (see codec.ts): the envelope's `type`, `data`
 * as JSON text, a non-ms `timestamp`, any other envelope keys, and the key
 * order when it is not the usual one. `channel` is the row's `symbol`, an
 * integer ms `timestamp` its `exch_ts`.
 */
export const GENERIC_COLUMNS: readonly ColumnDef[] = [
  {name: 'event', type: 'dict_utf8', description: 'the envelope\'s "type" (price_update, trade, error, …)'},
  {name: 'data', type: 'utf8', description: 'the envelope\'s "data" as JSON text, exactly as received; null when absent'},
  {
    name: 'timestamp_json',
    type: 'utf8',
    description: 'the envelope\'s "timestamp" as JSON text (as received) when it is not an integer number of ms; then exch_ts is null',
  },
  {
    name: 'extra',
    type: 'utf8',
    description: 'other envelope keys (and a "channel" that is not a string) as a JSON object text, in received order, values as received; null when none',
  },
  {
    name: 'layout',
    type: 'dict_utf8',
    description: 'the envelope\'s key order as a JSON array when it is not type, channel, data, timestamp; null for that order',
  },
]

const TD = new TextDecoder('utf-8', {fatal: false})

export function genericCodec(): FeedCodec {
  return {
    feed: 'generic',
    exchTsUnit: 'ms',
    columns: GENERIC_COLUMNS,
    decode(frame: Frame): FrameDecode {
      if (frame.binary) return {ok: false, code: 'BINARY_FRAME', message: 'a binary frame: this protocol sends text frames only'}
      return decodeText(typeof frame.data === 'string' ? frame.data : TD.decode(frame.data))
    },
    encode(row: RowView): Frame {
      if (row.raw) return {data: TD.decode(row.raw), binary: false}
      return {data: encodeEnvelope(envelopeOfRow(row.symbol, row.exch_ts, row.fields)), binary: false}
    },
  }
}

/** A server-supplied string, shortened for a log line. */
function clip(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)
  return s.length > 200 ? `${s.slice(0, 200)}…` : s
}

/**
 * The recorder's control hook: protocol frames are answered or swallowed
 * before the codec sees them.
 * - `pong`: swallowed (the answer to the recorder's keep-alive).
 * - `ping` from the server (a service with server pings, e.g. the emulator's
 *   `--ping-interval`): answered with `{"type":"pong","timestamp":<echo>}`, not recorded.
 * - `heartbeat` without a `channel` (a service's keep-alive, e.g. the
 *   emulator's `--heartbeat`): swallowed (it still counts as activity).
 * - `subscription_result` / `unsubscription_result` with `success: true`:
 *   swallowed. Any other result (success false or missing) is logged and
 *   recorded as a `status` row.
 * - `error`: logged and recorded as a `status` row.
 * Everything else goes to the codec.
 */
export function genericControl(log?: (line: string) => void): (frame: Frame) => string | boolean {
  return (frame) => {
    if (frame.binary || typeof frame.data !== 'string') return false
    const p = parseJson(frame.data)
    if (!p.ok || !isPlainObject(p.value)) return false
    const m = p.value
    switch (m.type) {
      case 'pong':
        return true
      case 'heartbeat':
        return m.channel === undefined
      case 'ping':
        return pongFor(m)
      case 'subscription_result':
      case 'unsubscription_result': {
        if (m.success === true) return true
        const what = m.type === 'subscription_result' ? 'subscribing to' : 'unsubscribing from'
        const why = m.message !== undefined ? `: ${clip(m.message)}` : m.success === undefined ? ' (no "success" in the result)' : ''
        log?.(`generic: ${what} channel ${clip(m.channel)} failed${why}`)
        return false
      }
      case 'error':
        log?.(`generic: the server reported an error: ${m.message === undefined ? '(no message)' : clip(m.message)}`)
        return false
      default:
        return false
    }
  }
}

/**
 * The URL as stored in the recording and shown in logs: the shared rule of
 * `sanitizeEndpoint` (src/util/redact.ts) with no query parameter kept — the
 * route's words stay, user info, query, fragment and opaque path segments go.
 * Kept under this name for callers of the generic feed's API.
 */
export function redactEndpoint(url: string): string {
  return sanitizeEndpoint(url)
}

/** The usage error for --types, --format or --paper given to the generic feed. */
export const GENERIC_NO_OPTIONS = 'the generic feed takes no --types, --format or --paper: each SYMBOL is a channel name, subscribed with {"type":"subscribe","channel":SYMBOL}'

/** Options of other feeds given to generic (it takes none): refused with {@link GENERIC_NO_OPTIONS}. */
interface GenericClientOptions extends ClientOptions {
  types?: string[]
  format?: string
  paper?: boolean
}

export const genericAdapter: FeedAdapter = {
  name: 'generic',
  defaultUrl: '',
  urlEnv: GENERIC_URL_ENV,
  displayColumns: ['event', 'data'],
  async client({symbols, url: given, env, types, format, paper, log}: GenericClientOptions) {
    if (types?.length || format !== undefined || paper) throw new MdrecError('E_USAGE', GENERIC_NO_OPTIONS)
    const raw = given ?? (env[GENERIC_URL_ENV] || undefined)
    if (raw === undefined) {
      throw new MdrecError(
        'E_USAGE',
        `the generic feed has no public endpoint: give the server's URL with --url ws://HOST:PORT/PATH or set ${GENERIC_URL_ENV}`,
      )
    }
    if (isRedisUrl(raw)) {
      // Redis Pub/Sub (redis.ts): SYMBOLs are channels (or patterns) under the URL's PREFIX
      const target = parseRedisTarget(raw, urlSource(given, GENERIC_URL_ENV, env), env)
      const {channels, patterns} = redisSubscriptions(symbols)
      const safeLog = log && ((line: string) => log(target.redactor.redact(line)))
      return {
        codec: genericCodec(),
        endpoint: target.endpoint,
        redact: (text) => target.redactor.redact(text),
        feedOptions: {},
        spec: {
          feed: 'generic',
          url: raw,
          // RedisSubscription has the part of ws's WebSocket the supervisor uses (FeedClientSpec.open)
          open: () => new RedisSubscription(target, channels, patterns) as unknown as WebSocket,
          subscribeMessages: () => [],
          control: guardControl(target.redactor, genericControl(safeLog), log, 'generic'),
        },
      }
    }
    // Over a WebSocket a channel is subscribed by name, '*' or a pattern included: it would record nothing.
    const pattern = symbols.find((s) => /[*?[]/.test(s))
    if (pattern !== undefined) {
      throw new MdrecError('E_USAGE', `invalid generic channel "${pattern}": patterns ('*': every channel) work only over Redis (--url redis://HOST:PORT/PREFIX); over a WebSocket name the channels`)
    }
    const {url, endpoint, redactor} = prepareFeedUrl(raw, urlSource(given, GENERIC_URL_ENV, env), {}, 'ws://127.0.0.1:9000/')
    const safeLog = log && ((line: string) => log(redactor.redact(line)))
    const channels = [...new Set(symbols)]
    const subs = channels.map(subscribeMessage)
    return {
      codec: genericCodec(),
      endpoint,
      redact: (text) => redactor.redact(text),
      feedOptions: {},
      spec: {
        feed: 'generic',
        url,
        subscribeMessages: () => subs,
        keepaliveMessages: () => [pingMessage(Date.now())],
        keepaliveMs: GENERIC_PING_MS,
        // genericControl's lines quote the server (channel names, error messages): masked whole
        control: guardControl(redactor, genericControl(safeLog), log, 'generic'),
      },
    }
  },
  codecFor(_meta: RecordingMeta) {
    return genericCodec()
  },
}
