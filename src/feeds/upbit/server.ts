/**
 * The Upbit quotation WebSocket server as clients see it, for `mdrec replay`
 * and for tests that need a feed to record from:
 *
 * - data frames are **binary** frames of UTF-8 JSON (control replies too);
 * - a request is one JSON array: a ticket object, type objects
 *   (`{type, codes, is_only_snapshot|isOnlySnapshot, is_only_realtime|isOnlyRealtime, level}`),
 *   an optional format object (DEFAULT, SIMPLE, JSON_LIST, SIMPLE_LIST);
 *   a new request replaces the previous subscription set and its format;
 * - orderbook codes may carry a depth suffix `KRW-BTC.N`, N ∈ {1, 5, 15, 30}
 *   (default 30: a client gets at most N units of each book); `level`
 *   groups the book into price units of that size (asks rounded up, bids
 *   down, sizes summed);
 * - the first message of each (type, code) after a request is a snapshot
 *   (`stream_type` SNAPSHOT): the latest message of that pair this client's
 *   timeline has passed, sent at once, or, when there is none yet, the next
 *   one; then the messages follow as recorded (REALTIME). With
 *   `is_only_snapshot` only that snapshot is sent; with `is_only_realtime`
 *   no snapshot is sent and recorded SNAPSHOT messages are skipped;
 * - `{"method":"LIST_SUBSCRIPTIONS"}` (alone or in a request array) →
 *   `{"method":"LIST_SUBSCRIPTIONS","result":[{type,codes[,level]}],"ticket":…}`;
 * - the text `PING` → `{"status":"UP"}` at once and then every
 *   `statusIntervalMs` (10 s) while the connection lasts;
 * - protocol pings are answered with pongs (ws does this);
 * - bad requests get Upbit's error objects
 *   (`{"error":{"name":…,"message":…}}`): WRONG_FORMAT, NO_TICKET, NO_TYPE,
 *   NO_CODES, INVALID_PARAM, and INVALID_AUTH for private types (myOrder,
 *   myAsset) asked for on the public endpoint; the previous subscription set
 *   stays;
 * - the private endpoint (`…/websocket/v1/private`) takes an upgrade only
 *   with a well-formed bearer JWT (auth.ts: HS256/HS512 with `access_key`
 *   and `nonce`; the signature verified when `secretKey` is given; a nonce
 *   used once), else HTTP 401 with Upbit's JSON error body
 *   (`jwt_verification`, `invalid_access_key`, `nonce_used`); its clients
 *   subscribe to `myOrder` (codes optional: none = every market) and
 *   `myAsset` (no codes: WRONG_FORMAT) and receive those messages as
 *   published, keys in their format (private.ts), `stream_type` as recorded;
 * - with `rateLimits`, Upbit's WebSocket limits (limits.ts): a connection
 *   over 5/s (100/min) per IP — per access key on the private endpoint — or
 *   over 1 per 10 s with an `Origin` header gets HTTP 429 with
 *   `{"error":{"name":"TOO_MANY_REQ",…}}`; a message over 5/s or 100/min on
 *   a connection gets that error object as a frame and is otherwise ignored;
 * - bounds: a request may subscribe `maxPairs` (5,000) (type, code) pairs,
 *   codes of at most 32 characters (more: INVALID_PARAM, the previous set
 *   stays); error replies echo at most 32 characters of a bad name; replies
 *   go out under the slow-client policy like data;
 * - a connection with no traffic either way for `idleTimeoutMs` (120 s) is
 *   closed;
 * - `GET /v1/market/all[?isDetails=true]` on the same port lists the markets.
 *
 * Not emulated: Upbit's temporary block after repeated violations (HTTP 418).
 */
import {createHash, randomUUID} from 'node:crypto'
import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import {WebSocket, type WebSocketServer} from 'ws'

import {authErrorBody, checkUpbitToken} from './auth.js'
import {decodeUpbitFrame, encodeMessage, encodeWithLayout, layoutOf, type Unit, type UpbitRow} from './codec.js'
import {DEFAULT_DEPTH, FORMATS, ORDERBOOK_DEPTHS, PRIVATE_TYPES, QUOTATION_TYPES, type UpbitFormat} from './fields.js'
import {KeyedLimits, SlidingLimit, UPBIT_CONNECT_LIMITS, UPBIT_MESSAGE_LIMITS, UPBIT_ORIGIN_LIMITS} from './limits.js'
import {answerClosesPromptly, FeedServer, noteRefusal, sendPoliced, upgradeRequired} from '../emulator.js'

/** Default bound on one connection's subscribed (type, code) pairs (Upbit lists ~600 markets, 4 quotation types). */
export const UPBIT_MAX_PAIRS = 5000
/** Longest code accepted (characters; `KRW-BTC.15` is 10), and the most of a refused name echoed in an error. */
export const UPBIT_MAX_CODE_LENGTH = 32

/** A message as the server routes it; `payload` gives its bytes in a client's format. */
export interface OutMessage {
  readonly type: string
  readonly code: string
  readonly streamType: string | null
  /** Number of orderbook units (-1 for other types). */
  readonly units: number
  /** The orderbook's `level` (null for other types). */
  readonly level: number | null
  payload(format: UpbitFormat): string | Uint8Array
}

export interface Subscription {
  readonly type: string
  readonly code: string
  /** The code as requested (with its depth suffix). */
  readonly requested: string
  readonly depth: number
  readonly level: number | null
  readonly snapshotOnly: boolean
  readonly realtimeOnly: boolean
}

interface PairState {
  readonly sub: Subscription
  snapshotDone: boolean
}

/** One connected client. */
export class UpbitClient {
  format: UpbitFormat = 'DEFAULT'
  ticket: string | null = null
  /** Subscriptions by `type|code`. */
  pairs = new Map<string, PairState>()
  /** Codes subscribed to (any type). */
  codes = new Set<string>()
  /** The latest message of each `type|code` of a subscribed code: the snapshot a later request gets. */
  readonly latest = new Map<string, {bytes: string | Uint8Array; format: UpbitFormat}>()
  /** Frames dropped for this client by the 'drop' slow-client policy. */
  dropped = 0
  statusTimer: NodeJS.Timeout | null = null
  lastActivity = Date.now()
  /** Private subscriptions: type (myOrder, myAsset) → the codes asked for, or null for every market. */
  priv = new Map<string, Set<string> | null>()
  /** This connection's message limit (null: limits off). */
  limit: SlidingLimit | null = null
  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    /** Connected to the private endpoint with a bearer token that passed the check. */
    readonly authorized: boolean,
  ) {}

  get subscriptions(): number {
    return this.pairs.size + this.priv.size
  }

  /** Whether a private message of market `code` ('' for myAsset, which has none) may be for this client. */
  wantsPrivate(code: string): boolean {
    if (this.priv.size === 0) return false
    if (code === '') return this.priv.has('myAsset')
    if (!this.priv.has('myOrder')) return false
    const codes = this.priv.get('myOrder')
    return codes === null || codes!.has(code)
  }

  /** The current subscriptions, in request order. */
  list(): Subscription[] {
    return [...this.pairs.values()].map((p) => p.sub)
  }
}

export interface UpbitServerOptions {
  host?: string
  port?: number
  /** Market codes listed by GET /v1/market/all. */
  markets?: readonly string[]
  /** Interval of `{"status":"UP"}` after a client's text PING. Default 10 s. */
  statusIntervalMs?: number
  /** Close a connection with no traffic either way for this long (0: never). Default 120 s. */
  idleTimeoutMs?: number
  /** Largest client message accepted (bytes). Default 64 KiB. */
  maxPayload?: number
  /** (type, code) pairs one request (which replaces the connection's set) may subscribe; more: INVALID_PARAM. Default {@link UPBIT_MAX_PAIRS}. */
  maxPairs?: number
  /** Per-client send buffer limit before the slow-client policy applies. Default 8 MiB. */
  maxBufferedBytes?: number
  /** A client that stops reading: close it with 1013 (default) or drop frames for it. */
  slowClient?: 'disconnect' | 'drop'
  /** Enforce Upbit's WebSocket connection and message limits (limits.ts). Default false here; `mdrec replay` turns them on. */
  rateLimits?: boolean
  /** Verify private-endpoint tokens' signatures with this secret key (default: well-formed tokens are accepted). Never logged. */
  secretKey?: string
  /** Accept only tokens of this access key (default: any). Never logged. */
  accessKey?: string
  /** The clock the limits count with (ms); default Date.now. */
  now?: () => number
  log?: (line: string) => void
}

type ErrorName = 'INVALID_AUTH' | 'WRONG_FORMAT' | 'NO_TICKET' | 'NO_TYPE' | 'NO_CODES' | 'INVALID_PARAM' | 'TOO_MANY_REQ'

/** Upbit's error object (messages as in Upbit's English documentation). */
export function errorFrame(name: ErrorName, message: string): string {
  return JSON.stringify({error: {name, message}})
}

const ERR = {
  auth: () => errorFrame('INVALID_AUTH', 'Invalid authentication.'),
  format: () => errorFrame('WRONG_FORMAT', 'Requested using wrong format'),
  ticket: () => errorFrame('NO_TICKET', 'Ticket field must be contained.'),
  type: () => errorFrame('NO_TYPE', 'type field not exists.'),
  codes: () => errorFrame('NO_CODES', 'codes field not exists.'),
  emptyCodes: () => errorFrame('INVALID_PARAM', 'codes field is empty.'),
  badFormat: (f: unknown) => errorFrame('INVALID_PARAM', `format ${String(f)} is not supported.`),
  badType: (t: unknown) => errorFrame('INVALID_PARAM', `type ${String(t)} is not supported.`),
  badParam: (what: string) => errorFrame('INVALID_PARAM', what),
  tooMany: () => errorFrame('TOO_MANY_REQ', 'Too many requests.'),
}

/** Nonces remembered for `nonce_used` (the oldest are forgotten past this). */
const MAX_NONCES = 100_000

class RequestError extends Error {
  constructor(readonly frame: string) {
    super(frame)
  }
}

const KOREAN_NAMES: Record<string, [string, string]> = {
  BTC: ['비트코인', 'Bitcoin'],
  ETH: ['이더리움', 'Ethereum'],
  XRP: ['엑스알피(리플)', 'XRP'],
  SOL: ['솔라나', 'Solana'],
  DOGE: ['도지코인', 'Dogecoin'],
  ADA: ['에이다', 'Cardano'],
  USDT: ['테더', 'Tether'],
  TRX: ['트론', 'TRON'],
  LINK: ['체인링크', 'Chainlink'],
  AVAX: ['아발란체', 'Avalanche'],
  DOT: ['폴카닷', 'Polkadot'],
  BCH: ['비트코인캐시', 'Bitcoin Cash'],
  ETC: ['이더리움클래식', 'Ethereum Classic'],
  SHIB: ['시바이누', 'Shiba Inu'],
  SUI: ['수이', 'Sui'],
}

/** A market list entry as GET /v1/market/all gives it. */
export function marketInfo(code: string, details: boolean): Record<string, unknown> {
  const base = code.split('-')[1] ?? code
  const [korean_name, english_name] = KOREAN_NAMES[base] ?? [base, base]
  const m: Record<string, unknown> = {market: code, korean_name, english_name}
  if (details) {
    m.market_event = {
      warning: false,
      caution: {
        PRICE_FLUCTUATIONS: false,
        TRADING_VOLUME_SOARING: false,
        DEPOSIT_AMOUNT_SOARING: false,
        GLOBAL_PRICE_DIFFERENCES: false,
        CONCENTRATION_OF_SMALL_ACCOUNTS: false,
      },
    }
  }
  return m
}

export function isSimple(f: UpbitFormat): boolean {
  return f === 'SIMPLE' || f === 'SIMPLE_LIST'
}

export function isList(f: UpbitFormat): boolean {
  return f === 'JSON_LIST' || f === 'SIMPLE_LIST'
}

/** A row as a message to route: its text in each format is encoded on first use. */
export function rowMessage(row: UpbitRow, recordedSimple = false): OutMessage {
  const f = row.fields
  const cache = new Map<UpbitFormat, string>()
  return {
    type: typeof f.type === 'string' ? f.type : '',
    code: row.symbol,
    streamType: typeof f.stream_type === 'string' ? f.stream_type : null,
    units: Array.isArray(f.orderbook_units) ? f.orderbook_units.length : -1,
    level: typeof f.level === 'number' ? f.level : null,
    payload(fmt: UpbitFormat): string {
      let p = cache.get(fmt)
      if (p === undefined) {
        const t = encodeMessage(row, recordedSimple, {simple: isSimple(fmt)})
        p = isList(fmt) ? `[${t}]` : t
        cache.set(fmt, p)
      }
      return p
    },
  }
}

/** Groups order book units into price units of `level` (asks up, bids down), sizes summed. */
export function groupLevels(units: readonly Unit[], level: number): Unit[] {
  const side = (priceKey: string, sizeKey: string, up: boolean) => {
    const out: Array<[number, number]> = []
    for (const u of units) {
      const p = u[priceKey]
      const s = u[sizeKey]
      if (typeof p !== 'number' || typeof s !== 'number') continue
      const b = (up ? Math.ceil(p / level) : Math.floor(p / level)) * level
      const last = out[out.length - 1]
      if (last && last[0] === b) last[1] += s
      else out.push([b, s])
    }
    return out
  }
  const asks = side('ask_price', 'ask_size', true)
  const bids = side('bid_price', 'bid_size', false)
  const n = Math.max(asks.length, bids.length)
  const round = (x: number) => Math.round(x * 1e8) / 1e8
  const out: Unit[] = []
  for (let i = 0; i < n; i++) {
    out.push({
      ask_price: asks[i]?.[0] ?? null,
      bid_price: bids[i]?.[0] ?? null,
      ask_size: asks[i] ? round(asks[i][1]) : null,
      bid_size: bids[i] ? round(bids[i][1]) : null,
    })
  }
  return out
}

interface Change {
  streamType?: string
  depth?: number
  level?: number | null
}

/**
 * Decodes a message's bytes (any format), applies `change` and encodes it for
 * `format`. Used for snapshots, depth cuts and level grouping.
 */
export function transformPayload(bytes: string | Uint8Array, from: UpbitFormat, to: UpbitFormat, change: Change): string | null {
  const d = decodeUpbitFrame({data: bytes, binary: typeof bytes !== 'string'}, isSimple(from))
  if (!d.ok || d.rows.length === 0) return null
  const r = d.rows[0]
  const fields = {...r.fields}
  if (change.streamType !== undefined) fields.stream_type = change.streamType
  let units = fields.orderbook_units as Unit[] | undefined
  if (Array.isArray(units)) {
    if (change.level != null && change.level > 0 && change.level !== fields.level) {
      units = groupLevels(units, change.level)
      fields.level = change.level
    }
    if (change.depth !== undefined && units.length > change.depth) units = units.slice(0, change.depth)
    fields.orderbook_units = units
  }
  const row: UpbitRow = {symbol: r.symbol, exch_ts: r.exch_ts, fields}
  const text = encodeWithLayout(row, layoutOf(row, isSimple(from)), {simple: isSimple(to)})
  return isList(to) ? `[${text}]` : text
}

/**
 * See the module comment. Events: 'connection' (client), 'subscribe'
 * (client, added codes), 'disconnect' (client), 'slow' (client): the
 * slow-client policy closed it with 1013, 'request' (client, text): every
 * client message.
 */
export class UpbitServer extends FeedServer<UpbitClient> {
  readonly markets = new Set<string>()
  private idleTimer: NodeJS.Timeout | null = null
  private readonly o: Required<Omit<UpbitServerOptions, 'log' | 'host' | 'port' | 'markets' | 'secretKey' | 'accessKey'>> & {log?: (l: string) => void}
  /** Credentials the private endpoint checks tokens against (kept out of `o`, which may be logged or inspected). */
  readonly #auth: {secretKey?: string; accessKey?: string}
  private readonly nonces = new Set<string>()
  private readonly connects = new KeyedLimits(UPBIT_CONNECT_LIMITS)
  private readonly originConnects = new KeyedLimits(UPBIT_ORIGIN_LIMITS)

  private constructor(http: Server, wss: WebSocketServer, options: UpbitServerOptions) {
    super(http, wss)
    this.o = {
      statusIntervalMs: options.statusIntervalMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
      maxPayload: options.maxPayload ?? 64 * 1024,
      maxPairs: options.maxPairs ?? UPBIT_MAX_PAIRS,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      slowClient: options.slowClient ?? 'disconnect',
      rateLimits: options.rateLimits ?? false,
      now: options.now ?? Date.now,
      log: options.log,
    }
    this.#auth = {secretKey: options.secretKey, accessKey: options.accessKey}
    for (const m of options.markets ?? []) this.markets.add(m)
  }

  static async listen(options: UpbitServerOptions = {}): Promise<UpbitServer> {
    const srv = await FeedServer.start({...options, maxPayload: options.maxPayload ?? 64 * 1024}, (http, wss) => new UpbitServer(http, wss, options))
    if (srv.o.idleTimeoutMs > 0) {
      srv.idleTimer = setInterval(() => srv.closeIdle(), Math.min(10_000, Math.max(50, srv.o.idleTimeoutMs / 4)))
      srv.idleTimer.unref()
    }
    return srv
  }

  /** The quotation endpoint's URL. */
  url(): string {
    return `ws://${this.host}:${this.port}/websocket/v1`
  }

  /** The REST base URL (GET <base>/v1/market/all). */
  restUrl(): string {
    return `http://${this.host}:${this.port}`
  }

  protected override onHttp(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x')
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body)
      res.writeHead(status, {'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text)})
      res.end(text)
    }
    if (req.method === 'GET' && u.pathname === '/v1/market/all') {
      const details = u.searchParams.get('isDetails') === 'true'
      json(200, [...this.markets].map((m) => marketInfo(m, details)))
      return
    }
    if (u.pathname.startsWith('/websocket')) {
      upgradeRequired(res, 'an Upbit quotation emulator')
      return
    }
    json(404, {error: {name: 'not_found', message: `${req.method} ${u.pathname}: this emulator serves GET /v1/market/all and the WebSocket /websocket/v1`}})
  }

  /**
   * The upgrade's checks, in Upbit's order: the private endpoint's token
   * (HTTP 401 with Upbit's error body), then the connection limits (HTTP 429).
   */
  protected override verifyUpgrade(req: IncomingMessage, cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void): void {
    const json = {'Content-Type': 'application/json;charset=UTF-8'}
    let key = `ip:${req.socket.remoteAddress ?? ''}`
    if (isPrivatePath(req.url)) {
      const r = checkUpbitToken(req.headers.authorization, this.#auth)
      if (!r.ok) {
        this.o.log?.(`refused a private connection: ${r.name}`)
        return cb(false, 401, authErrorBody(r), json)
      }
      if (this.nonces.has(r.nonce)) {
        this.o.log?.('refused a private connection: nonce_used')
        return cb(false, 401, authErrorBody({ok: false, status: 401, name: 'nonce_used', message: 'The nonce has already been used.'}), json)
      }
      this.nonces.add(r.nonce)
      if (this.nonces.size > MAX_NONCES) this.nonces.delete(this.nonces.values().next().value as string)
      // counted per account: a hash, not the key itself, is held
      key = `key:${createHash('sha256').update(r.accessKey).digest('base64url')}`
    }
    if (this.o.rateLimits) {
      const now = this.o.now()
      const origin = req.headers.origin !== undefined && !this.originConnects.take(key, now)
      if (origin || !this.connects.take(key, now)) {
        this.o.log?.(`refused a connection: over the connection rate limit${origin ? ' for requests with an Origin header' : ''}`)
        return cb(false, 429, ERR.tooMany(), json)
      }
    }
    cb(true)
  }

  protected accept(ws: WebSocket, req: IncomingMessage): void {
    answerClosesPromptly(ws)
    // verify() let it in: on the private endpoint its token passed the check
    const client = new UpbitClient(this.nextId++, ws, isPrivatePath(req.url))
    if (this.o.rateLimits) client.limit = new SlidingLimit(UPBIT_MESSAGE_LIMITS)
    this.admit(client, {
      activity: () => {
        client.lastActivity = Date.now()
      },
      message: (text) => {
        this.emit('request', client, text)
        this.onRequest(client, text)
      },
      left: () => {
        if (client.statusTimer) clearInterval(client.statusTimer)
      },
    })
  }

  private closeIdle(): void {
    const limit = Date.now() - this.o.idleTimeoutMs
    for (const c of this.clients) {
      if (c.lastActivity < limit && c.ws.readyState === WebSocket.OPEN) {
        this.o.log?.(`client ${c.id}: no traffic for ${Math.round(this.o.idleTimeoutMs / 1000)} s; closing`)
        c.ws.close(1000, 'idle timeout')
      }
    }
  }

  /** Send a control reply (error, status, subscription list) as a binary frame, under the slow-client policy like data: a client that sends requests and never reads cannot pile replies up. */
  private reply(client: UpbitClient, text: string): void {
    // an error reply (errorFrame: the only replies that start so) is logged too
    if (text.startsWith('{"error":')) {
      const e = (JSON.parse(text) as {error: {name: string; message: string}}).error
      noteRefusal(this.o.log, client, `request refused: ${e.name}: ${e.message}`)
    }
    this.write(client, text)
  }

  private onRequest(client: UpbitClient, text: string): void {
    // every message counts against the connection's limit, PING included
    if (client.limit && !client.limit.take(this.o.now())) {
      this.reply(client, ERR.tooMany())
      return
    }
    if (text.trim() === 'PING') {
      this.reply(client, '{"status":"UP"}')
      client.statusTimer ??= setInterval(() => this.reply(client, '{"status":"UP"}'), this.o.statusIntervalMs)
      return
    }
    let msg: unknown
    try {
      msg = JSON.parse(text)
    } catch {
      this.reply(client, ERR.format())
      return
    }
    try {
      if (!Array.isArray(msg)) {
        if (msg && typeof msg === 'object' && 'method' in msg) this.method(client, msg as Record<string, unknown>, null)
        else throw new RequestError(ERR.format())
        return
      }
      this.request(client, msg)
    } catch (error) {
      if (error instanceof RequestError) this.reply(client, error.frame)
      else throw error
    }
  }

  private method(client: UpbitClient, m: Record<string, unknown>, ticket: string | null): void {
    if (m.method !== 'LIST_SUBSCRIPTIONS') throw new RequestError(ERR.badParam(`method ${String(m.method)} is not supported.`))
    const byType = new Map<string, {type: string; codes: string[]; level?: number}>()
    for (const s of client.list()) {
      const k = s.type === 'orderbook' ? `${s.type}|${s.level ?? 0}` : s.type
      let e = byType.get(k)
      if (!e) {
        e = s.type === 'orderbook' ? {type: s.type, codes: [], level: s.level ?? 0} : {type: s.type, codes: []}
        byType.set(k, e)
      }
      e.codes.push(s.requested)
    }
    for (const [type, codes] of client.priv) byType.set(type, {type, codes: codes === null ? [] : [...codes]})
    this.reply(client, JSON.stringify({method: 'LIST_SUBSCRIPTIONS', result: [...byType.values()], ticket: ticket ?? client.ticket}))
  }

  private request(client: UpbitClient, items: unknown[]): void {
    let ticket: unknown
    let hasTicket = false
    let format: UpbitFormat = 'DEFAULT'
    let method: Record<string, unknown> | null = null
    const types: Record<string, unknown>[] = []
    for (const it of items) {
      if (!it || typeof it !== 'object' || Array.isArray(it)) throw new RequestError(ERR.format())
      const o = it as Record<string, unknown>
      if ('ticket' in o) {
        hasTicket = true
        ticket = o.ticket
      } else if ('method' in o) method = o
      else if ('format' in o) {
        if (typeof o.format !== 'string' || !(FORMATS as readonly string[]).includes(o.format)) throw new RequestError(ERR.badFormat(o.format))
        format = o.format as UpbitFormat
      } else if ('type' in o) types.push(o)
      else throw new RequestError(ERR.format())
    }
    if (method) {
      this.method(client, method, typeof ticket === 'string' ? ticket : null)
      return
    }
    if (!hasTicket || typeof ticket !== 'string' || ticket.trim() === '') throw new RequestError(ERR.ticket())
    if (types.length === 0) throw new RequestError(ERR.type())
    const subs: Subscription[] = []
    const priv = new Map<string, Set<string> | null>()
    for (const o of types) {
      const type = o.type
      if (typeof type !== 'string' || type === '') throw new RequestError(ERR.type())
      if (PRIVATE_TYPES.includes(type)) {
        if (!client.authorized) throw new RequestError(ERR.auth())
        priv.set(type, privateCodes(type, o.codes))
        continue
      }
      if (!QUOTATION_TYPES.includes(type)) throw new RequestError(ERR.badType(type.slice(0, UPBIT_MAX_CODE_LENGTH)))
      if (!('codes' in o)) throw new RequestError(ERR.codes())
      const codes = o.codes
      if (!Array.isArray(codes) || codes.length === 0) throw new RequestError(ERR.emptyCodes())
      const flag = (snake: string, camel: string): boolean => {
        const v = o[snake] ?? o[camel]
        if (v === undefined || v === null) return false
        if (typeof v !== 'boolean') throw new RequestError(ERR.badParam(`${snake} must be true or false.`))
        return v
      }
      const snapshotOnly = flag('is_only_snapshot', 'isOnlySnapshot')
      const realtimeOnly = flag('is_only_realtime', 'isOnlyRealtime')
      let level: number | null = null
      if (o.level !== undefined && o.level !== null) {
        if (type !== 'orderbook' || typeof o.level !== 'number' || !(o.level >= 0)) {
          throw new RequestError(ERR.badParam(`level ${String(o.level)} is not supported.`))
        }
        level = o.level
      }
      for (const c of codes) {
        if (typeof c !== 'string' || c === '') throw new RequestError(ERR.emptyCodes())
        if (c.length > UPBIT_MAX_CODE_LENGTH) throw new RequestError(ERR.badParam(`codes ${c.slice(0, UPBIT_MAX_CODE_LENGTH)}… is not supported.`))
        if (subs.length >= this.o.maxPairs) throw new RequestError(ERR.badParam(`too many codes: at most ${this.o.maxPairs} (type, code) pairs per connection.`))
        let code = c
        let depth = DEFAULT_DEPTH
        const dot = c.lastIndexOf('.')
        if (dot > 0) {
          const n = Number(c.slice(dot + 1))
          if (type !== 'orderbook' || !(ORDERBOOK_DEPTHS as readonly number[]).includes(n)) {
            throw new RequestError(ERR.badParam(`codes ${c} is not supported.`))
          }
          code = c.slice(0, dot)
          depth = n
        }
        subs.push({type, code, requested: c, depth, level, snapshotOnly, realtimeOnly})
      }
    }
    // Accepted: the request replaces the previous set.
    const before = client.codes
    client.ticket = ticket
    client.format = format
    client.pairs = new Map(subs.map((s) => [`${s.type}|${s.code}`, {sub: s, snapshotDone: false}]))
    client.codes = new Set(subs.map((s) => s.code))
    client.priv = priv
    for (const k of [...client.latest.keys()]) if (!client.codes.has(k.slice(k.indexOf('|') + 1))) client.latest.delete(k)
    const added = [...client.codes].filter((c) => !before.has(c))
    this.o.log?.(`client ${client.id}: subscribed ${[...subs.map((s) => `${s.type}:${s.requested}`), ...[...priv.keys()]].join(' ')} (${format})`)
    this.emit('subscribe', client, added)
    // Snapshots of what this client's timeline has already passed go out at once.
    for (const [k, st] of client.pairs) {
      if (st.sub.realtimeOnly) continue
      const last = client.latest.get(k)
      if (!last) continue
      const p = transformPayload(last.bytes, last.format, client.format, {streamType: 'SNAPSHOT', depth: st.sub.depth, level: st.sub.level})
      if (p !== null && this.write(client, p)) st.snapshotDone = true
    }
  }

  /** Write a frame to a client, applying the slow-client policy. */
  private write(client: UpbitClient, payload: string | Uint8Array, cb?: (err?: Error) => void): boolean {
    if (!sendPoliced(this, this.o, client, payload, true, cb)) return false
    client.lastActivity = Date.now()
    return true
  }

  /**
   * Deliver one message to one client as its subscriptions ask: nothing when
   * it is not subscribed to the message's (type, code); the first one of a
   * pair marked SNAPSHOT; orderbooks cut to the client's depth and grouped by
   * its level. Returns false when nothing was sent.
   */
  deliver(client: UpbitClient, out: OutMessage, cb?: (err?: Error) => void): boolean {
    if (PRIVATE_TYPES.includes(out.type)) {
      // myOrder by its code (null: every market), myAsset to its subscribers; no snapshot marking
      if (!client.priv.has(out.type)) return false
      const codes = client.priv.get(out.type)
      if (codes && !codes.has(out.code)) return false
      return this.write(client, out.payload(client.format), cb)
    }
    if (!client.codes.has(out.code)) return false
    const key = `${out.type}|${out.code}`
    const fmt = client.format
    const bytes = out.payload(fmt)
    // remember it for a later request's snapshot; a view into a larger buffer (a record batch) is copied so it does not keep the batch alive
    const own = typeof bytes === 'string' || bytes.buffer.byteLength <= 64 * 1024
    client.latest.set(key, {bytes: own ? bytes : Buffer.from(bytes), format: fmt})
    const st = client.pairs.get(key)
    if (!st) return false
    const sub = st.sub
    const change: Change = {}
    let changed = false
    if (sub.realtimeOnly) {
      if (out.streamType === 'SNAPSHOT') return false
    } else if (!st.snapshotDone) {
      st.snapshotDone = true
      if (out.streamType !== 'SNAPSHOT') {
        change.streamType = 'SNAPSHOT'
        changed = true
      }
    } else if (sub.snapshotOnly) return false
    if (out.units > sub.depth) {
      change.depth = sub.depth
      changed = true
    }
    if (sub.level !== null && sub.level !== (out.level ?? 0)) {
      change.level = sub.level
      change.depth = sub.depth
      changed = true
    }
    let payload = bytes
    if (changed) {
      const t = transformPayload(bytes, fmt, fmt, change)
      if (t === null) return false
      payload = t
    }
    return this.write(client, payload, cb)
  }

  /** Send a message to every subscribed client (live use: tests, fixtures, benchmarks). Returns how many got it. */
  publish(out: OutMessage): number {
    let n = 0
    for (const c of this.clients) if (this.deliver(c, out)) n++
    return n
  }

  /** Send raw bytes to every client (malformed or odd frames for tests). */
  sendRaw(data: string | Uint8Array, binary = true): void {
    for (const c of this.clients) if (c.ws.readyState === WebSocket.OPEN) c.ws.send(data, {binary})
  }

  protected override stopTimers(): void {
    if (this.idleTimer) clearInterval(this.idleTimer)
    for (const c of this.clients) if (c.statusTimer) clearInterval(c.statusTimer)
  }
}

/** Whether an upgrade's URL is the private endpoint (`…/private`). */
function isPrivatePath(url: string | undefined): boolean {
  return new URL(url ?? '/', 'http://x').pathname.replace(/\/+$/, '').endsWith('/private')
}

/** A private type's codes: myOrder takes a list (none or empty: every market), myAsset none (WRONG_FORMAT). */
function privateCodes(type: string, codes: unknown): Set<string> | null {
  if (type === 'myAsset') {
    if (codes !== undefined) throw new RequestError(ERR.format())
    return null
  }
  if (codes === undefined || codes === null) return null
  if (!Array.isArray(codes)) throw new RequestError(ERR.emptyCodes())
  if (codes.length === 0) return null
  const out = new Set<string>()
  for (const c of codes) {
    if (typeof c !== 'string' || c === '') throw new RequestError(ERR.emptyCodes())
    if (c.length > UPBIT_MAX_CODE_LENGTH) throw new RequestError(ERR.badParam(`codes ${c.slice(0, UPBIT_MAX_CODE_LENGTH)}… is not supported.`))
    out.add(c)
  }
  return out
}

/** A fresh ticket (any unique string; not a secret). */
export function newTicket(): string {
  return randomUUID()
}
