/**
 * Keeping secrets out of recordings, log lines and messages — the one place
 * mdrec decides what of a URL or a server's text may be shown.
 *
 * Endpoints ({@link sanitizeEndpoint}): a feed URL is stored in
 * `mdrec.endpoint` and printed (log lines, `--json`, errors) as
 *   scheme://host[:port]/<path, opaque segments replaced by `*`>[?<allowed params>]
 * - user info (`user:password@`) and the fragment are removed;
 * - the query is removed except the parameters the feed's replay needs
 *   (an allow-list per feed: Yahoo's `version`, with a short numeric value;
 *   no other feed keeps any);
 * - a path segment is kept only when it reads as a route word
 *   ({@link isRouteSegment}: letters, `-`/`_`/`.` between words, an optional
 *   trailing version (`2`, `v10`), at most 20 characters — `ws`, `v1`,
 *   `websocket`, `tryitout`, `market-data`); any other segment (API keys,
 *   tokens, account numbers, anything percent-encoded) becomes `*`.
 * Nothing that can be parsed only partly is shown beyond its scheme and host.
 *
 * Credentials in other text ({@link Redactor}): values mdrec holds (KIS app
 * key/secret/approval key, the parts of a URL that were removed above) are
 * replaced by `***` wherever they occur in text that came from elsewhere
 * (a server's error body, a library's error message) before that text is
 * shown — by exact substring, whatever their length (see the class). Feeds
 * that authenticate with JWTs (Upbit's private endpoint) also have every
 * JWT-shaped text masked ({@link Redactor.maskJwts}): a token mdrec signed
 * earlier, or one a server or library quotes, is shown as `***`.
 *
 * Hand-written: no library both knows mdrec's per-feed allow-lists and keeps
 * the route; the WHATWG `URL` parser does the parsing.
 */
import {MdrecError} from '../errors.js'

/** What of a feed's URL is kept in the stored/printed endpoint beyond scheme, host, port and route words. */
export interface EndpointPolicy {
  /** Query parameters kept, each with the pattern its value must match (else the parameter is dropped). */
  readonly keepQuery?: Readonly<Record<string, RegExp>>
}

/** What replaces a path segment that is not a route word. */
export const MASKED_SEGMENT = '*'
/** What replaces a credential value in text. */
export const MASK = '***'

const ROUTE_WORD = /^[A-Za-z]+(?:[-_.][A-Za-z]+)*(?:[-_.]?(?:[vV]\d{1,3}|\d))?$/

/**
 * Whether a path segment (as it appears in the URL, percent-encoded) may be shown: a route word such as
 * `websocket`, `v1`, `stream.v2`, `market-data`, `oauth2` — letters, words
 * joined by `-`, `_` or `.`, then optionally one digit or `v` and up to three
 * digits — at most 20 characters.
 * Anything else — digits inside, long, punctuation, percent-encoding — may
 * be a credential and is masked. A secret made only of letters, 20
 * characters or fewer, would pass: put credentials in the environment or
 * the query, not in a path.
 */
export function isRouteSegment(segment: string): boolean {
  return segment.length <= 20 && ROUTE_WORD.test(segment)
}

function sanitizePath(pathname: string): string {
  return pathname
    .split('/')
    .map((seg) => (seg === '' || isRouteSegment(seg) ? seg : MASKED_SEGMENT))
    .join('/')
}

/**
 * The form of `url` that may be stored and printed (see the module doc);
 * `policy` names the query parameters the feed's replay needs. Returns `url`
 * itself when nothing is removed (so `ws://h:1` stays without a trailing
 * slash). For text that is not a URL, {@link describeBadUrl}'s form.
 * Never throws.
 */
export function sanitizeEndpoint(url: string, policy: EndpointPolicy = {}): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return describeBadUrl(url)
  }
  if (u.host === '') return '…' // no authority (`mailto:x`, `token:abc`): may be anything; nothing is shown
  const kept: string[] = []
  for (const [name, re] of Object.entries(policy.keepQuery ?? {})) {
    const v = u.searchParams.get(name)
    if (v !== null && re.test(v)) kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(v)}`)
  }
  const out = `${u.protocol}//${u.host}${sanitizePath(u.pathname)}${kept.length ? `?${kept.join('&')}` : ''}`
  // the input as given only when it is exactly what is shown (tabs and dot segments normalised away could hide text)
  return out === url || out === `${url}/` ? url : out
}

/**
 * A safe description of text that should have been a URL but does not
 * parse as one: its scheme and host when it has a `scheme://` (user info
 * dropped), the rest as `…`: `ws://u:p@127.0.0.1:99999/x?t=1` →
 * `ws://127.0.0.1:99999…`. Text without a scheme is shown as `…` alone: it
 * may be a token pasted in the wrong place.
 */
export function describeBadUrl(text: string): string {
  const t = text.trim()
  const m = /^([A-Za-z][A-Za-z0-9+.-]{0,15}:\/\/)([^/?#\\]*)/.exec(t)
  if (!m) return '…'
  const authority = m[2]
  const host = authority.slice(authority.lastIndexOf('@') + 1)
  const shown = /^[A-Za-z0-9.\-[\]:]{0,100}$/.test(host) ? `${m[1]}${host}` : m[1]
  return shown === t ? shown : `${shown}…`
}

/**
 * Parse a feed URL named `what` (`--url`, `MDREC_YAHOO_URL`, …); throws
 * `MdrecError('E_USAGE')` naming it, showing only its sanitized form
 * ({@link sanitizeEndpoint}), when it is not a URL or its scheme is not one
 * of `schemes` (`['ws:', 'wss:']`).
 */
export function parseFeedUrl(url: string, what: string, schemes: readonly string[] = ['ws:', 'wss:'], example = 'ws://127.0.0.1:8765/'): URL {
  const list = schemes.map((s) => `${s}//`).join(' or ')
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new MdrecError('E_USAGE', `invalid ${what} "${describeBadUrl(url)}": not a URL (shown without what may be secret); expected a ${list} URL, e.g. ${example}`)
  }
  if (!schemes.includes(u.protocol)) {
    throw new MdrecError('E_USAGE', `invalid ${what} "${sanitizeEndpoint(url)}": the scheme must be ${list}`)
  }
  return u
}

/**
 * The URL to open a WebSocket to: `url` without its fragment. RFC 6455 §3
 * forbids fragments in WebSocket URIs (ws refuses them) and a fragment is
 * never sent to the server, so dropping it changes nothing the server sees.
 */
export function connectUrl(url: string): string {
  const i = url.indexOf('#')
  return i < 0 ? url : url.slice(0, i)
}

/** A feed URL made ready: what to connect to, what to store and print, and what to mask in server text. */
export interface FeedUrl {
  /** The URL to open (secrets included: the server needs them), without its fragment ({@link connectUrl}). */
  url: string
  /** What is stored in `mdrec.endpoint` and printed ({@link sanitizeEndpoint}). */
  endpoint: string
  /** Masks the removed parts in text from the server ({@link Redactor.addUrl}). */
  redactor: Redactor
}

/**
 * Check `url` (named `what` in errors: `--url` or the feed's variable) with
 * {@link parseFeedUrl} and split it into what is connected to, what is
 * shown, and what is masked. Every feed adapter resolves its URL here.
 */
export function prepareFeedUrl(url: string, what: string, policy: EndpointPolicy = {}, example?: string): FeedUrl {
  parseFeedUrl(url, what, ['ws:', 'wss:'], example)
  return {url: connectUrl(url), endpoint: sanitizeEndpoint(url, policy), redactor: new Redactor().addUrl(url, policy)}
}

/** `--url` when the URL was given, else the environment variable it came from, for error messages. */
export function urlSource(given: string | undefined, envName: string, env: NodeJS.ProcessEnv): string {
  return given !== undefined ? '--url' : env[envName] !== undefined ? envName : 'URL'
}

function variants(value: string): string[] {
  const out = new Set([value])
  out.add(JSON.stringify(value).slice(1, -1))
  try {
    out.add(encodeURIComponent(value))
  } catch {
    // a lone surrogate: only the raw form
  }
  return [...out]
}

/**
 * Values that must not be shown, and a way to mask them in foreign text.
 *
 * Rule: every value of one character or more is replaced by `***` wherever
 * it occurs as an exact substring (also in its JSON-escaped and
 * percent-encoded forms, the ways a server echoes it), longest first so a
 * value that contains another is masked whole. There is no minimum length:
 * a one-character secret masks every occurrence of that character in the
 * foreign part of a message, which makes that part hard to read but shows
 * nothing (real KIS keys are 36 and 180 characters, so this only happens
 * with test credentials). Apply it to text that came from elsewhere, not to
 * mdrec's own wording, which never holds a secret. Parts of a URL follow a
 * gentler rule ({@link addUrl}): under 4 characters they are ordinary values.
 *
 * Frames are different (see {@link heldIn}): dropping every frame that
 * contains a one-character value would lose the data, so there a value of
 * fewer than {@link FRAME_MIN} characters counts only as a whole JSON string
 * value (`"…"`), which is how a server echoes a credential back.
 */
export class Redactor {
  private values: string[] = []
  /** Values searched for in frames (see {@link heldIn}). */
  private inFrames = new Set<string>()
  private needles: string[] | null = null
  private needleBytes: Buffer[] = []
  private jwts = false

  constructor(values: Iterable<string | undefined> = []) {
    for (const v of values) this.add(v)
  }

  /**
   * Mask `value` from now on (ignored when undefined or empty). `frames`:
   * also drop frames that hold it ({@link heldIn}); default true.
   */
  add(value: string | undefined, frames = true): this {
    if (typeof value !== 'string' || value === '') return this
    for (const v of variants(value)) {
      if (!this.values.includes(v)) this.values.push(v)
      if (frames) this.inFrames.add(v)
    }
    this.values.sort((a, b) => b.length - a.length)
    this.needles = null
    return this
  }

  /**
   * Mask the parts of `url` that {@link sanitizeEndpoint} with `policy`
   * removes: user, password, query values, fragment, opaque path segments.
   * Those of {@link FRAME_MIN}+ characters are also searched for in frames,
   * those of {@link URL_MASK_MIN} to 7 only in messages, shorter ones not at
   * all: a URL also carries ordinary short values (`x=1`, `compress=1`,
   * `v2`) that server text and a feed's data hold by nature, and masking
   * every `1` would make messages unreadable while a 1–3 character value
   * protects nothing (it is not stored or printed as part of the endpoint
   * either way).
   */
  addUrl(url: string, policy: EndpointPolicy = {}): this {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      return this
    }
    const add = (v: string) => {
      if (v.length >= URL_MASK_MIN) this.add(v, v.length >= FRAME_MIN)
    }
    const addDecoded = (v: string) => {
      add(v)
      try {
        add(decodeURIComponent(v))
      } catch {
        // not decodable: the raw form is masked
      }
    }
    addDecoded(u.username)
    addDecoded(u.password)
    const keep = policy.keepQuery ?? {}
    for (const [k, v] of u.searchParams) {
      if (Object.hasOwn(keep, k) && keep[k].test(v)) continue
      add(v)
      if (v === '') add(k) // `?TOKEN` alone: the name is the secret
    }
    for (const seg of u.pathname.split('/')) if (seg !== '' && !isRouteSegment(seg)) addDecoded(seg)
    addDecoded(u.hash.slice(1))
    return this
  }

  /**
   * From now on also mask any JWT-shaped text in {@link redact}
   * (`eyJ…` header, `.`, payload, `.`, optional signature: base64url JSON
   * starts with `eyJ`), whatever key signed it, and count a frame holding
   * one as holding a secret ({@link heldIn}): tokens change per connection,
   * so they are found by shape rather than added one by one.
   */
  maskJwts(): this {
    this.jwts = true
    return this
  }

  /** Whether any value is searched for in frames. */
  get watchesFrames(): boolean {
    return this.inFrames.size > 0 || this.jwts
  }

  /** `text` with every value replaced by `***`. */
  redact(text: string): string {
    let out = text
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(MASK)
    return this.jwts ? out.replace(JWT_SHAPE, MASK) : out
  }

  /**
   * Whether a frame holds a value: as a substring for values of
   * {@link FRAME_MIN}+ characters, as a whole JSON string value (`"v"`) for
   * shorter ones. Bytes are searched as UTF-8 without decoding them.
   */
  heldIn(data: string | Uint8Array): boolean {
    if (this.needles === null) {
      this.needles = this.values.filter((v) => this.inFrames.has(v)).map((v) => (v.length >= FRAME_MIN ? v : `"${v}"`))
      this.needleBytes = this.needles.map((n) => Buffer.from(n, 'utf8'))
    }
    if (typeof data === 'string') return this.needles.some((n) => data.includes(n)) || (this.jwts && data.includes('eyJ') && hasJwt(data))
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    return this.needleBytes.some((n) => buf.includes(n)) || (this.jwts && buf.includes('eyJ') && hasJwt(buf.toString('utf8')))
  }
}

/** A JWT in text (see {@link Redactor.maskJwts}). */
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*/g

function hasJwt(text: string): boolean {
  JWT_SHAPE.lastIndex = 0
  return JWT_SHAPE.test(text)
}

/** URL parts shorter than this are not masked in server text (see {@link Redactor.addUrl}). */
export const URL_MASK_MIN = 4

/** Values this long are searched for anywhere in a frame; shorter ones only as a whole JSON string. */
export const FRAME_MIN = 8

/**
 * Wrap a feed's `control` so a frame holding a secret ({@link Redactor.heldIn})
 * is swallowed — not recorded — with a log line that shows none of it. Costs
 * one substring search per secret per frame; with no secrets, `control`
 * itself is returned.
 */
export function guardControl(
  redactor: Redactor,
  control: ((frame: {data: string | Uint8Array; binary: boolean}) => string | boolean) | undefined,
  log?: (line: string) => void,
  feed = 'feed',
): ((frame: {data: string | Uint8Array; binary: boolean}) => string | boolean) | undefined {
  if (!redactor.watchesFrames) return control
  return (frame) => {
    if (redactor.heldIn(frame.data)) {
      log?.(`${feed}: a ${frame.binary ? 'binary' : 'text'} frame from the server contained a credential value; not recorded`)
      return true
    }
    return control ? control(frame) : false
  }
}
