/**
 * The generic channel JSON protocol (docs/feeds/generic.md), both
 * directions: what a server broadcast decodes to, and how a recorded row is
 * turned back into the exact text the server sent.
 *
 * A broadcast is `{"type":<event>,"channel":…,"data":{…},"timestamp":…}`.
 * mdrec keeps it as:
 * - `event`: the `type` string;
 * - `symbol`: the `channel` string (`""` when there is none);
 * - `data`: the JSON text of `data` **as received** (its exact characters:
 *   `1.50` stays `1.50`, a 20-digit id keeps every digit);
 * - `exch_ts`: `timestamp` when it is an integer number of ms since the epoch
 *   (1e11 ≤ t < 1e14: 1973 to 5138), else `timestamp_json` keeps its JSON text
 *   as received (seconds, µs, fractions, strings…);
 * - `extra`: any other envelope key (and a `channel` that is not a string), as
 *   a JSON object text in the order received, each value as received;
 * - `layout`: the envelope's key order as a JSON array, or null for the usual
 *   `type, channel, data, timestamp`.
 *
 * From these, {@link encodeEnvelope} writes the envelope back: the recorded
 * keys in the recorded order, compact (no whitespace between members), keys,
 * `type` and `channel` in `JSON.stringify` form, the other values verbatim. A
 * frame is *exact* when that gives back the text received, which is decided
 * while scanning it: every `JSON.stringify` output is exact (so is much
 * else: the values are kept as sent), while a frame with whitespace between
 * its envelope members (Python's `json.dumps` default `", "`/`": "`), an
 * escaped key/type/channel that JSON.stringify would not escape, or a
 * duplicate envelope key keeps its bytes in `raw`.
 */
import type {FrameDecode, RowKind} from '../types.js'

/** The envelope keys in the order servers send them: a row with this layout stores `layout` null. */
export const CANONICAL_LAYOUT: readonly string[] = ['type', 'channel', 'data', 'timestamp']

/** `type` values of the protocol's own messages: never market data, always `status` rows when recorded. */
export const CONTROL_EVENTS: ReadonlySet<string> = new Set([
  'ping',
  'pong',
  'subscribe',
  'unsubscribe',
  'subscription_result',
  'unsubscription_result',
  'error',
])

/** exch_ts window: an integer timestamp in [1e11, 1e14) is taken as ms since the epoch (1973-03-03 to 5138). */
const MS_MIN = 1e11
const MS_MAX = 1e14

/** A broadcast as mdrec stores it (see the module comment). */
export interface GenericEnvelope {
  /** `type` (always a string: a frame without one is rejected). */
  event: string
  /** `channel` when it is a string, else `""`. */
  symbol: string
  /** JSON text of `data`, or null when absent. */
  data: string | null
  /** `timestamp` in ms, when it is an integer in the ms window. */
  exchTs: bigint | null
  /** JSON text of `timestamp` when present but not in exch_ts. */
  timestampJson: string | null
  /** JSON object text of the other envelope keys, in received order; null when none. */
  extra: string | null
  /** JSON array of the envelope's keys in received order; null when they are exactly {@link CANONICAL_LAYOUT}. */
  layout: string | null
}

export type ParseResult = {ok: true; value: unknown} | {ok: false; message: string}

// One-entry memo: the recorder's control hook and the codec both look at every
// frame, one right after the other (the supervisor calls control, then emits
// the frame to the codec synchronously), so the second JSON.parse of the same
// string is skipped. Parsing is pure, so a hit is always correct; callers must
// not modify the value.
let memoText: string | null = null
let memoResult: ParseResult = {ok: false, message: ''}

/** JSON.parse that never throws (and parses a frame once for control + decode). */
export function parseJson(text: string): ParseResult {
  if (text === memoText) return memoResult
  let r: ParseResult
  try {
    r = {ok: true, value: JSON.parse(text)}
  } catch (error) {
    r = {ok: false, message: (error as Error).message}
  }
  memoText = text
  memoResult = r
  return r
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** The JSON type of a parsed value, for messages. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  switch (typeof v) {
    case 'string':
      return 'a string'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'a boolean'
    default:
      return 'an object'
  }
}

/** Whether a timestamp value goes to exch_ts (an integer number of ms in the window). */
export function isMsTimestamp(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= MS_MIN && v < MS_MAX
}

/**
 * What `kind` a broadcast's `type` gets: the protocol's own messages are
 * `status`; common market-data names map to their kind; anything else is `tick`.
 * Only the `kind` column depends on this (the `event` column keeps the name).
 */
export function kindOfEvent(event: string): RowKind {
  let k = kindCache.get(event)
  if (k === undefined) {
    k = kindOfName(event)
    if (kindCache.size < KIND_CACHE_MAX) kindCache.set(event, k)
  }
  return k
}

// event names repeat: the regexes run once per name (bounded, in case a feed invents names)
const kindCache = new Map<string, RowKind>()
const KIND_CACHE_MAX = 4096

function kindOfName(event: string): RowKind {
  if (CONTROL_EVENTS.has(event)) return 'status'
  const e = event.toLowerCase()
  if (/^(trade|trades|match|matches|fill|fills|execution|executions)$/.test(e)) return 'trade'
  if (/^(quote|quotes|bbo|book_ticker|best_bid_ask)$/.test(e)) return 'quote'
  if (/^(orderbook|order_book|book|depth|l2|l2update)$|^(orderbook|order_book|book|depth)[_.-]/.test(e)) return 'orderbook'
  if (/^(candle|candles|kline|klines|ohlc|ohlcv|bar|bars)$|^(candle|kline|ohlc)[_.-]/.test(e)) return 'candle'
  return 'tick'
}

// ---------------------------------------------------------------------------
// Scanning an envelope's members in the text.
//
// Hand-written because JSON.parse gives values, not their source text: to keep
// `data` (and the other values) exactly as received, and to decide exactness
// without serialising the frame again, the decoder needs each top-level
// member's key and value span. It runs only on text JSON.parse has accepted
// (the frame, or a stored `extra`), so it only has to find boundaries, not
// validate; it still never reads past the end or loops on odd input.

const QUOTE = 0x22
const BACKSLASH = 0x5c
const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const COMMA = 0x2c
const COLON = 0x3a
const SURROGATE = /[\ud800-\udfff]/

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** End (exclusive) of the JSON string that starts at s[i] (a quote), or -1. */
function stringEnd(s: string, i: number): number {
  let j = i + 1
  for (;;) {
    const k = s.indexOf('"', j)
    if (k < 0) return -1
    let b = k - 1
    while (b > i && s.charCodeAt(b) === BACKSLASH) b--
    if (((k - 1 - b) & 1) === 0) return k + 1 // an even run of backslashes: the quote is not escaped
    j = k + 1
  }
}

/** End (exclusive) of the JSON value that starts at s[i], or -1. */
function valueEnd(s: string, i: number): number {
  const n = s.length
  const c = s.charCodeAt(i)
  if (c === QUOTE) return stringEnd(s, i)
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0
    for (let j = i; j < n; j++) {
      const d = s.charCodeAt(j)
      if (d === QUOTE) {
        const e = stringEnd(s, j)
        if (e < 0) return -1
        j = e - 1
      } else if (d === LBRACE || d === LBRACKET) depth++
      else if ((d === RBRACE || d === RBRACKET) && --depth === 0) return j + 1
    }
    return -1
  }
  let j = i
  while (j < n) {
    const d = s.charCodeAt(j)
    if (d === COMMA || d === RBRACE || d === RBRACKET || isWs(d)) break
    j++
  }
  return j > i ? j : -1
}

export interface ScannedMember {
  key: string
  /** Whether the key's text is JSON.stringify(key). */
  canonicalKey: boolean
  /** The value's text span (no surrounding whitespace). */
  start: number
  end: number
}

/**
 * The members of the JSON object text `s`, in source order, and whether it is
 * compact (no whitespace outside its values). Null when `s` is not one object.
 */
export function scanObject(s: string): {members: ScannedMember[]; compact: boolean} | null {
  const n = s.length
  let i = 0
  let compact = true
  const skipWs = () => {
    while (i < n && isWs(s.charCodeAt(i))) {
      i++
      compact = false
    }
  }
  skipWs()
  if (s.charCodeAt(i) !== LBRACE) return null
  i++
  skipWs()
  const members: ScannedMember[] = []
  if (s.charCodeAt(i) === RBRACE) i++
  else {
    for (;;) {
      if (s.charCodeAt(i) !== QUOTE) return null
      const ke = stringEnd(s, i)
      if (ke < 0) return null
      const raw = s.slice(i, ke)
      let key: string
      let canonicalKey: boolean
      if (raw.indexOf('\\') < 0) {
        key = raw.slice(1, -1)
        // unescaped: JSON.stringify writes it the same unless it holds a lone surrogate
        canonicalKey = !SURROGATE.test(key) || JSON.stringify(key) === raw
      } else {
        try {
          key = JSON.parse(raw) as string
        } catch {
          return null
        }
        canonicalKey = JSON.stringify(key) === raw
      }
      i = ke
      skipWs()
      if (s.charCodeAt(i) !== COLON) return null
      i++
      skipWs()
      const ve = valueEnd(s, i)
      if (ve < 0) return null
      members.push({key, canonicalKey, start: i, end: ve})
      i = ve
      skipWs()
      const c = s.charCodeAt(i++)
      if (c === COMMA) {
        skipWs()
        continue
      }
      if (c === RBRACE) break
      return null
    }
  }
  skipWs()
  return i === n ? {members, compact} : null
}

const PREFIX = '{"type":"'
const CHANNEL_SEP = '","channel":"'
const DATA_SEP = '","data":'
const TIMESTAMP_SEP = ',"timestamp":'
/** A character that JSON.stringify would write differently inside a string: a backslash (an escape) or a surrogate (lone ones get escaped). */
const NOT_PLAIN = /[\\\ud800-\udfff]/

/**
 * The common frame, `JSON.stringify({type, channel, data, timestamp})` with
 * string type and channel and an integer ms timestamp, recognised by its
 * fixed punctuation: no key scan, no allocation but the stored strings.
 * Only for text JSON.parse accepted. Given that, when this returns parts the
 * text is exactly {@link encodeEnvelope} of them: the prefix fixes the first
 * three members (type and channel hold no quote or backslash), the data value
 * ends exactly where `,"timestamp":<12-14 digits>}` begins, so there are
 * exactly four members, none duplicated, and the timestamp is an integer in
 * the ms window. Anything else returns null (the general path decides).
 */
function canonicalParts(text: string): Pick<GenericEnvelope, 'event' | 'symbol' | 'data' | 'exchTs'> | null {
  if (!text.startsWith(PREFIX)) return null
  const q1 = text.indexOf('"', PREFIX.length)
  if (q1 < 0 || !text.startsWith(CHANNEL_SEP, q1)) return null
  const c0 = q1 + CHANNEL_SEP.length
  const q2 = text.indexOf('"', c0)
  if (q2 < 0 || !text.startsWith(DATA_SEP, q2)) return null
  const event = text.slice(PREFIX.length, q1)
  const symbol = text.slice(c0, q2)
  if (NOT_PLAIN.test(event) || NOT_PLAIN.test(symbol)) return null
  const n = text.length
  if (text.charCodeAt(n - 1) !== RBRACE) return null
  let k = n - 2
  while (k > q2) {
    const c = text.charCodeAt(k)
    if (c < 0x30 || c > 0x39) break
    k--
  }
  const digits = n - 2 - k
  if (digits < 12 || digits > 14 || text.charCodeAt(k + 1) === 0x30) return null
  const t0 = k + 1 - TIMESTAMP_SEP.length
  const d0 = q2 + DATA_SEP.length
  if (t0 <= d0 || !text.startsWith(TIMESTAMP_SEP, t0) || valueEnd(text, d0) !== t0) return null
  return {event, symbol, data: text.slice(d0, t0), exchTs: BigInt(text.slice(k + 1, n - 1))}
}

/** Split a parsed envelope into the stored parts, from its text; `exact` says whether {@link encodeEnvelope} gives the text back. */
export function splitEnvelope(text: string, obj: Record<string, unknown>, event: string): {env: GenericEnvelope; exact: boolean} {
  const scan = scanObject(text)
  const keyCount = Object.keys(obj).length
  // a duplicate envelope key (JSON.parse keeps the last): store the parsed object, keep raw
  if (scan === null || scan.members.length !== keyCount) return {env: splitParsed(obj, event), exact: false}
  let exact = scan.compact
  let symbol = ''
  let data: string | null = null
  let exchTs: bigint | null = null
  let timestampJson: string | null = null
  let extra = ''
  const m = scan.members
  const canonical = m.length === 4 && m[0].key === 'type' && m[1].key === 'channel' && m[2].key === 'data' && m[3].key === 'timestamp'
  for (const {key, canonicalKey, start, end} of m) {
    const raw = text.slice(start, end)
    if (!canonicalKey) exact = false
    switch (key) {
      case 'type':
        if (raw !== JSON.stringify(event)) exact = false
        continue
      case 'channel':
        if (typeof obj.channel === 'string') {
          symbol = obj.channel
          if (raw !== JSON.stringify(symbol)) exact = false
          continue
        }
        break // not a string: an extra member
      case 'data':
        data = raw
        continue
      case 'timestamp': {
        const v = obj.timestamp
        if (isMsTimestamp(v)) {
          exchTs = BigInt(v)
          if (raw !== String(v)) exact = false // e.g. 1.763980800123e12: stored as ms, the spelling is in raw
        } else timestampJson = raw
        continue
      }
    }
    extra += `${extra === '' ? '{' : ','}${JSON.stringify(key)}:${raw}`
  }
  return {
    env: {
      event,
      symbol,
      data,
      exchTs,
      timestampJson,
      extra: extra === '' ? null : `${extra}}`,
      layout: canonical ? null : JSON.stringify(m.map((x) => x.key)),
    },
    exact,
  }
}

/** The stored parts from the parsed object alone (values in JSON.stringify form): for envelopes with duplicate keys. */
function splitParsed(obj: Record<string, unknown>, event: string): GenericEnvelope {
  const keys = Object.keys(obj)
  let symbol = ''
  let data: string | null = null
  let exchTs: bigint | null = null
  let timestampJson: string | null = null
  let extra = ''
  for (const k of keys) {
    const v = obj[k]
    switch (k) {
      case 'type':
        continue
      case 'channel':
        if (typeof v === 'string') {
          symbol = v
          continue
        }
        break
      case 'data':
        data = JSON.stringify(v)
        continue
      case 'timestamp':
        if (isMsTimestamp(v)) exchTs = BigInt(v)
        else timestampJson = JSON.stringify(v)
        continue
    }
    // built as text (not an object then stringified) so a key such as "__proto__" stays an ordinary key
    extra += `${extra === '' ? '{' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`
  }
  const canonical = keys.length === 4 && keys[0] === 'type' && keys[1] === 'channel' && keys[2] === 'data' && keys[3] === 'timestamp'
  return {event, symbol, data, exchTs, timestampJson, extra: extra === '' ? null : `${extra}}`, layout: canonical ? null : JSON.stringify(keys)}
}

// Parsed layouts, by their text: layouts repeat (a server has a handful), so
// each is parsed once. Bounded, in case a feed invents a new one per frame.
const layoutCache = new Map<string, string[] | null>()
const LAYOUT_CACHE_MAX = 1024

function layoutKeys(layout: string): string[] | null {
  let keys = layoutCache.get(layout)
  if (keys !== undefined) return keys
  const p = parseJson(layout)
  keys = p.ok && Array.isArray(p.value) && p.value.every((k) => typeof k === 'string') ? (p.value as string[]) : null
  if (layoutCache.size < LAYOUT_CACHE_MAX) layoutCache.set(layout, keys)
  return keys
}

/** The members of a stored `extra` object text: key → value text as received. Null when absent or damaged. */
function extraMembers(extra: string | null): Map<string, string> | null {
  if (extra === null) return null
  const p = parseJson(extra)
  if (!p.ok || !isPlainObject(p.value)) return null
  const scan = scanObject(extra)
  if (scan === null) return null
  const out = new Map<string, string>()
  for (const m of scan.members) out.set(m.key, extra.slice(m.start, m.end))
  return out
}

function timestampText(e: Pick<GenericEnvelope, 'exchTs' | 'timestampJson'>): string {
  return e.exchTs !== null ? e.exchTs.toString() : (e.timestampJson ?? 'null')
}

/**
 * The envelope text of a stored row: the recorded keys in the recorded order,
 * compact, keys, `type` and `channel` in `JSON.stringify` form, `data`,
 * `timestamp_json` and the `extra` values as stored (as received). Never
 * throws (a damaged `layout` or `extra` falls back to what the columns hold).
 */
export function encodeEnvelope(e: GenericEnvelope): string {
  if (e.layout === null && e.extra === null) {
    // the common case: type, channel, data, timestamp
    return `{"type":${JSON.stringify(e.event)},"channel":${JSON.stringify(e.symbol)},"data":${e.data ?? 'null'},"timestamp":${timestampText(e)}}`
  }
  const keys = e.layout === null ? CANONICAL_LAYOUT : (layoutKeys(e.layout) ?? CANONICAL_LAYOUT)
  const extra = extraMembers(e.extra)
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    if (i > 0) out += ','
    out += `${JSON.stringify(k)}:`
    const x = extra?.get(k)
    if (x !== undefined) {
      out += x
      continue
    }
    switch (k) {
      case 'type':
        out += JSON.stringify(e.event)
        break
      case 'channel':
        out += JSON.stringify(e.symbol)
        break
      case 'data':
        out += e.data ?? 'null'
        break
      case 'timestamp':
        out += timestampText(e)
        break
      default:
        out += 'null'
    }
  }
  return `${out}}`
}

/** `info` of a status row: what the protocol message says (event, and channel/success/message when present). */
export function statusInfo(obj: Record<string, unknown>, event: string): string {
  const info: Record<string, unknown> = {event}
  for (const k of ['channel', 'success', 'message'] as const) if (Object.hasOwn(obj, k)) info[k] = obj[k]
  return JSON.stringify(info)
}

export type GenericRejectCode = 'BINARY_FRAME' | 'BAD_JSON' | 'NOT_OBJECT' | 'NO_TYPE' | 'UNENCODABLE'

/**
 * Decode one received text frame into its row. Never throws: a frame that is
 * not a JSON object with a string `type` is a typed rejection.
 */
export function decodeText(text: string): FrameDecode {
  const p = parseJson(text)
  if (!p.ok) return {ok: false, code: 'BAD_JSON', message: `not JSON (${p.message})`}
  const obj = p.value
  if (!isPlainObject(obj)) return {ok: false, code: 'NOT_OBJECT', message: `expected a JSON object, got ${jsonType(obj)}`}
  const event = obj.type
  if (typeof event !== 'string') {
    return {
      ok: false,
      code: 'NO_TYPE',
      message: event === undefined ? 'the message has no "type"' : `"type" is ${jsonType(event)}, expected a string`,
    }
  }
  const fast = canonicalParts(text)
  if (fast !== null && fast.event === event && !CONTROL_EVENTS.has(event)) {
    return {
      ok: true,
      rows: [
        {
          exch_ts: fast.exchTs,
          symbol: fast.symbol,
          kind: kindOfEvent(event),
          info: null,
          fields: {event, data: fast.data, timestamp_json: null, extra: null, layout: null},
          exact: true,
        },
      ],
    }
  }
  let env: GenericEnvelope
  let exact: boolean
  try {
    ;({env, exact} = splitEnvelope(text, obj, event))
  } catch (error) {
    // JSON.stringify is recursive: a value nested deeper than the stack allows cannot be re-encoded.
    return {ok: false, code: 'UNENCODABLE', message: `cannot store this message: ${(error as Error).message}`}
  }
  const kind = kindOfEvent(event)
  return {
    ok: true,
    rows: [
      {
        exch_ts: env.exchTs,
        symbol: env.symbol,
        kind,
        info: kind === 'status' ? statusInfo(obj, event) : null,
        fields: {event, data: env.data, timestamp_json: env.timestampJson, extra: env.extra, layout: env.layout},
        exact,
      },
    ],
  }
}

/** The stored parts of a row back from its columns. */
export function envelopeOfRow(symbol: string, exchTs: bigint | null, fields: Record<string, unknown>): GenericEnvelope {
  return {
    event: typeof fields.event === 'string' ? fields.event : '',
    symbol,
    data: typeof fields.data === 'string' ? fields.data : null,
    exchTs,
    timestampJson: typeof fields.timestamp_json === 'string' ? fields.timestamp_json : null,
    extra: typeof fields.extra === 'string' ? fields.extra : null,
    layout: typeof fields.layout === 'string' ? fields.layout : null,
  }
}

// ---------------------------------------------------------------------------
// Client → server messages (what the recorder and the emulator's clients send)

export function subscribeMessage(channel: string): string {
  return JSON.stringify({type: 'subscribe', channel})
}

export function unsubscribeMessage(channel: string): string {
  return JSON.stringify({type: 'unsubscribe', channel})
}

export function pingMessage(timestamp: number): string {
  return JSON.stringify({type: 'ping', timestamp})
}

/** The pong answering a ping: its `timestamp` echoed (omitted when the ping had none). */
export function pongFor(ping: Record<string, unknown>): string {
  return JSON.stringify({type: 'pong', timestamp: ping.timestamp})
}
