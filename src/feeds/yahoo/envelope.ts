/**
 * The two text envelopes of the Yahoo streamer: v1, the frame is the bare
 * base64 of one PricingData; v2, `{"type":"pricing","message":"<base64>"}`.
 * Which one a client gets follows `version` in its URL (envelopeForUrl).
 */
import type {YahooEnvelope} from './types.js'

export const V2_PREFIX = '{"type":"pricing","message":"'
export const V2_SUFFIX = '"}'
export const V2_PREFIX_LEN = V2_PREFIX.length
export const V2_PREFIX_BYTES = Uint8Array.from(V2_PREFIX, (c) => c.charCodeAt(0))

/**
 * True when `frame` has exactly the v2 form every server sends: the fixed
 * prefix, then the message, then `"}`. The message is then frame[V2_PREFIX_LEN,
 * length - 2), provided that text is pure base64 (so neither escapes nor a
 * closing quote can hide in it); anything else goes through v2Message.
 */
export function hasV2Shape(frame: string): boolean {
  const n = frame.length
  // frame.startsWith(V2_PREFIX), but `lastIndexOf(x, 0) === 0` is twice as fast in V8 (Node 20)
  return n >= V2_PREFIX_LEN + 2 && frame.charCodeAt(n - 1) === 125 && frame.charCodeAt(n - 2) === 34 && frame.lastIndexOf(V2_PREFIX, 0) === 0
}

/**
 * The string `message` of a v2 frame parsed as JSON (`type` is ignored, as
 * yfinance does), or why there is none: `{code: 'BAD_JSON' | 'NO_MESSAGE', message}`.
 */
export function v2Message(frame: string): string | {code: 'BAD_JSON' | 'NO_MESSAGE'; message: string} {
  let json: unknown
  try {
    json = JSON.parse(frame)
  } catch (err) {
    return {code: 'BAD_JSON', message: `v2 frame is not JSON: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`}
  }
  const message = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as {message?: unknown}).message : undefined
  if (typeof message === 'string') return message
  return {
    code: 'NO_MESSAGE',
    message: message === undefined ? 'v2 frame has no "message"' : `v2 frame "message" is ${message === null ? 'null' : typeof message}, not a string`,
  }
}

/** The text of a frame carrying base64 `b64` in `envelope`. Throws a TypeError for an unknown envelope. */
export function wrapPayload(b64: string, envelope: YahooEnvelope): string {
  if (envelope === 'v1') return b64
  if (envelope === 'v2') return V2_PREFIX + b64 + V2_SUFFIX
  throw unknownEnvelope(envelope)
}

export function unknownEnvelope(envelope: unknown): TypeError {
  return new TypeError(`unknown envelope ${JSON.stringify(String(envelope))}`)
}

/**
 * The envelope a client asked for: `version=2` in the query string → 'v2',
 * anything else → 'v1'. Accepts a full URL or a request path such as
 * `/?version=2` (what a server sees as `req.url`). Never throws.
 */
export function envelopeForUrl(url: string): YahooEnvelope {
  try {
    return new URL(url, 'ws://localhost/').searchParams.get('version') === '2' ? 'v2' : 'v1'
  } catch {
    return 'v1'
  }
}
