/**
 * The Binance spot market streams server as clients see it, for `mdrec
 * replay` and for tests that need a feed to record from. Protocol facts from
 * Binance's public "WebSocket Streams for Binance"
 * (https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams)
 * and REST "Market data endpoints" docs:
 *
 * - endpoints: raw `/ws` and `/ws/<stream>[/<stream>…]` (bare payloads) and
 *   combined `/stream` and `/stream?streams=<a>/<b>` (payloads wrapped as
 *   `{"stream":"<name>","data":<payload>}`); text frames. Names in the URL
 *   that are not streams (ccxt connects to `/ws/0`) subscribe nothing.
 * - requests `{"method","params","id"}`: `SUBSCRIBE` / `UNSUBSCRIBE` (params:
 *   stream names) → `{"result":null,"id":…}`; `LIST_SUBSCRIPTIONS` →
 *   `{"result":[names],"id":…}`; `SET_PROPERTY ["combined", bool]` and
 *   `GET_PROPERTY ["combined"]` switch and read the wrapper. `id` is an
 *   unsigned integer, an alphanumeric string of at most 36 characters, or
 *   null, echoed as sent.
 * - errors `{"error":{"code","msg"},"id"}`: code 3 for text that is not JSON,
 *   code 2 ("Invalid request: …") for an unknown method, a bad id, params
 *   that are not stream names, or a subscription past the stream limit;
 *   code 0/1 for an unknown property / a value that is not a boolean.
 * - limits (Binance's): at most 1024 streams per connection (a SUBSCRIBE
 *   that would pass it is refused with code 2: Binance documents the limit,
 *   not its reply), and 5 incoming messages per second (text messages,
 *   pings and pongs): a connection that sends more is disconnected, as
 *   Binance does (close code 1008); requests of at most 64 KiB.
 * - WebSocket pings are answered with pongs (ws does this).
 * - REST on the same port: `GET /api/v3/exchangeInfo` (the symbols served,
 *   spot, TRADING), `GET /api/v3/depth?symbol=&limit=` (a snapshot of the
 *   book built from the diff-depth updates (`depthUpdate`) delivered so
 *   far, so its `lastUpdateId` is the `u` of the last update sent: a client
 *   that drops updates with `u` ≤ `lastUpdateId` and applies the next one
 *   (`U` = lastUpdateId + 1) is in sync; before any update of the symbol the
 *   request waits for the first, up to `snapshotWaitMs`), `GET /api/v3/ping`,
 *   `GET /api/v3/time`. Errors as Binance's `{"code":-1121,"msg":"Invalid
 *   symbol."}` (HTTP 400).
 * - bounds: a book keeps at most `maxBookLevels` (5,000) levels a side
 *   (farthest dropped).
 *
 * A recording of the diff stream alone does not hold the levels that did not
 * change while it was made: the snapshot holds the levels the recorded
 * updates set (the synthetic tape's first update of a symbol sets its whole
 * book).
 */
import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import type {WebSocket, WebSocketServer} from 'ws'

import {parseJson, type JNode} from '../json.js'
import {answerClosesPromptly, FeedServer, noteRefusal, sendPoliced, upgradeRequired} from '../emulator.js'
import {BINANCE_MAX_STREAMS} from './adapter.js'
import {wrap} from './codec.js'
import {parseStream} from './streams.js'

/** Binance: "WebSocket connections have a limit of 5 incoming messages per second." */
export const BINANCE_MESSAGES_PER_SECOND = 5
export const BINANCE_MAX_BOOK_LEVELS = 5000

/** A diff-depth update as the REST snapshot applies it. */
export interface DepthDiff {
  readonly U: bigint
  readonly u: bigint
  /** JSON text of the `b` / `a` arrays. */
  readonly bids: string
  readonly asks: string
}

/** A message as the server routes it. */
export interface OutMessage {
  /**
   * The stream it belongs to. Null: not known — a partial book recorded on
   * the raw endpoint with several partial streams subscribed (its payload
   * names neither symbol nor stream) goes to every client subscribed to a
   * partial book stream (`partial`); anything else is not sent.
   */
  readonly stream: string | null
  readonly partial?: boolean
  /** Uppercase symbol ('' when unknown). */
  readonly symbol: string
  readonly diff?: DepthDiff
  /** Replay loop number (a new loop restarts the books). */
  readonly loop?: number
  /** The payload for a raw (false) or combined (true) client. */
  payload(combined: boolean): string | Uint8Array
}

export interface BinanceServerOptions {
  host?: string
  port?: number
  maxBufferedBytes?: number
  slowClient?: 'disconnect' | 'drop'
  /** Symbols listed by exchangeInfo (more are added as messages of them are sent). */
  symbols?: Iterable<string>
  maxStreams?: number
  messagesPerSecond?: number
  /** How long GET /api/v3/depth waits for a symbol's first update (ms); default 5000. */
  snapshotWaitMs?: number
  maxBookLevels?: number
  log?: (line: string) => void
}

/** One connected client. */
export class BinanceClient {
  combined: boolean
  readonly streams = new Set<string>()
  /** Uppercase symbol → streams of it subscribed. */
  readonly symbols = new Map<string, number>()
  dropped = 0
  /** Partial book streams (`…@depth5`) subscribed. */
  partials = 0
  /** Times (ms) of the incoming messages of the last second. */
  readonly recent: number[] = []
  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    combined: boolean,
  ) {
    this.combined = combined
  }
  get subscriptions(): number {
    return this.streams.size
  }
  add(name: string): string | null {
    if (this.streams.has(name)) return null
    this.streams.add(name)
    if (parseStream(name)?.event === 'depth') this.partials++
    const sym = name.slice(0, name.indexOf('@')).toUpperCase()
    this.symbols.set(sym, (this.symbols.get(sym) ?? 0) + 1)
    return sym
  }
  remove(name: string): string | null {
    if (!this.streams.delete(name)) return null
    if (parseStream(name)?.event === 'depth') this.partials--
    const sym = name.slice(0, name.indexOf('@')).toUpperCase()
    const n = (this.symbols.get(sym) ?? 1) - 1
    if (n <= 0) this.symbols.delete(sym)
    else this.symbols.set(sym, n)
    return sym
  }
}

/** Exact comparison of two non-negative decimal strings (prices): hand-written, a float would round them. */
export function compareDecimal(a: string, b: string): number {
  const [ai, af = ''] = a.split('.')
  const [bi, bf = ''] = b.split('.')
  const x = ai.replace(/^0+(?=\d)/, '')
  const y = bi.replace(/^0+(?=\d)/, '')
  if (x.length !== y.length) return x.length - y.length
  if (x !== y) return x < y ? -1 : 1
  const n = Math.max(af.length, bf.length)
  const p = af.padEnd(n, '0')
  const q = bf.padEnd(n, '0')
  return p === q ? 0 : p < q ? -1 : 1
}

const ZERO = /^0*(?:\.0*)?$/

class Book {
  readonly bids = new Map<string, string>()
  readonly asks = new Map<string, string>()
  lastUpdateId = -1n
  constructor(readonly loop: number) {}
  apply(d: DepthDiff, maxLevels: number): void {
    this.side(this.bids, d.bids, true, maxLevels)
    this.side(this.asks, d.asks, false, maxLevels)
    this.lastUpdateId = d.u
  }
  private side(m: Map<string, string>, text: string, bids: boolean, maxLevels: number): void {
    let levels: unknown
    try {
      levels = JSON.parse(text)
    } catch {
      return
    }
    if (!Array.isArray(levels)) return
    for (const l of levels) {
      if (!Array.isArray(l) || typeof l[0] !== 'string' || typeof l[1] !== 'string') continue
      if (ZERO.test(l[1])) m.delete(l[0])
      else m.set(l[0], l[1])
    }
    if (m.size > maxLevels) {
      const drop = this.sorted(m, bids).slice(maxLevels)
      for (const [p] of drop) m.delete(p)
    }
  }
  sorted(m: Map<string, string>, bids: boolean): Array<[string, string]> {
    return [...m].sort((x, y) => (bids ? compareDecimal(y[0], x[0]) : compareDecimal(x[0], y[0])))
  }
  snapshot(limit: number): string {
    const lv = (m: Map<string, string>, bids: boolean) => JSON.stringify(this.sorted(m, bids).slice(0, limit))
    return `{"lastUpdateId":${this.lastUpdateId < 0n ? 0 : this.lastUpdateId},"bids":${lv(this.bids, true)},"asks":${lv(this.asks, false)}}`
  }
}

/** Quote assets, longest first, for splitting a symbol into base and quote in exchangeInfo. */
const QUOTES = ['FDUSD', 'USDT', 'USDC', 'TUSD', 'BUSD', 'BTC', 'ETH', 'BNB', 'EUR', 'TRY', 'BRL', 'JPY', 'DAI', 'USD']

/** One exchangeInfo symbol entry (the fields ccxt's binance parser reads). */
export function symbolInfo(symbol: string): Record<string, unknown> {
  const quote = QUOTES.find((q) => symbol.endsWith(q) && symbol.length > q.length) ?? symbol.slice(-3)
  const base = symbol.slice(0, symbol.length - quote.length)
  return {
    symbol,
    status: 'TRADING',
    baseAsset: base,
    baseAssetPrecision: 8,
    quoteAsset: quote,
    quotePrecision: 8,
    quoteAssetPrecision: 8,
    baseCommissionPrecision: 8,
    quoteCommissionPrecision: 8,
    orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
    icebergAllowed: true,
    ocoAllowed: true,
    otoAllowed: true,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: true,
    cancelReplaceAllowed: true,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      {filterType: 'PRICE_FILTER', minPrice: '0.00000001', maxPrice: '1000000.00000000', tickSize: '0.00000001'},
      {filterType: 'LOT_SIZE', minQty: '0.00000001', maxQty: '9000000.00000000', stepSize: '0.00000001'},
      {filterType: 'NOTIONAL', minNotional: '5.00000000', applyMinToMarket: true, maxNotional: '9000000.00000000', applyMaxToMarket: false, avgPriceMins: 5},
    ],
    permissions: [],
    permissionSets: [['SPOT']],
    defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
    allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
  }
}

const METHODS = 'SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY'
const ID_STR = /^[A-Za-z0-9]{1,36}$/
const UINT = /^(?:0|[1-9]\d*)$/

export class BinanceServer extends FeedServer<BinanceClient> {
  /** Symbols listed by exchangeInfo and accepted by /api/v3/depth. */
  readonly symbols = new Set<string>()
  readonly books = new Map<string, Book>()
  private readonly o: Required<Omit<BinanceServerOptions, 'host' | 'port' | 'symbols' | 'log'>> & {log?: (line: string) => void}

  private constructor(http: Server, wss: WebSocketServer, options: BinanceServerOptions) {
    super(http, wss)
    this.o = {
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      slowClient: options.slowClient ?? 'disconnect',
      maxStreams: options.maxStreams ?? BINANCE_MAX_STREAMS,
      messagesPerSecond: options.messagesPerSecond ?? BINANCE_MESSAGES_PER_SECOND,
      snapshotWaitMs: options.snapshotWaitMs ?? 5000,
      maxBookLevels: options.maxBookLevels ?? BINANCE_MAX_BOOK_LEVELS,
      log: options.log,
    }
    for (const s of options.symbols ?? []) this.symbols.add(s.toUpperCase())
  }

  static async listen(options: BinanceServerOptions = {}): Promise<BinanceServer> {
    return FeedServer.start({...options, maxPayload: 64 * 1024}, (http, wss) => new BinanceServer(http, wss, options))
  }

  /** Upgrades only on the stream endpoints (404 elsewhere). */
  protected override verifyUpgrade(req: IncomingMessage, cb: (ok: boolean, code?: number, message?: string) => void): void {
    const p = new URL(req.url ?? '/', 'http://x').pathname
    if (p === '/ws' || p.startsWith('/ws/') || p === '/stream' || p === '/stream/') cb(true)
    else cb(false, 404, 'Not Found')
  }

  /** The raw (`/ws`) or combined (`/stream`) endpoint's URL. */
  url(combined = true): string {
    return `ws://${this.host}:${this.port}${combined ? '/stream' : '/ws'}`
  }
  /** The REST base (`<base>/api/v3/depth`). */
  restUrl(): string {
    return `http://${this.host}:${this.port}`
  }

  protected accept(ws: WebSocket, req: IncomingMessage): void {
    answerClosesPromptly(ws)
    const u = new URL(req.url ?? '/', 'http://x')
    const combined = u.pathname.startsWith('/stream')
    const client = new BinanceClient(this.nextId++, ws, combined)
    const count = (): boolean => {
      const now = Date.now()
      const r = client.recent
      while (r.length > 0 && r[0] <= now - 1000) r.shift()
      r.push(now)
      if (r.length <= this.o.messagesPerSecond) return true
      this.o.log?.(`client ${client.id}: more than ${this.o.messagesPerSecond} messages in a second; disconnected, as Binance does`)
      ws.close(1008, 'Too many messages')
      return false
    }
    this.admit(client, {
      activity: count,
      message: (text) => {
        this.emit('request', client, text)
        this.onRequest(client, text)
      },
    })
    const named = combined ? (u.searchParams.get('streams') ?? '').split('/') : u.pathname.split('/').slice(2)
    const added: string[] = []
    for (const n of named) {
      if (client.streams.size >= this.o.maxStreams) break
      if (parseStream(n) === null) continue
      const sym = client.add(n)
      if (sym !== null) added.push(sym)
    }
    if (added.length > 0) this.emit('subscribe', client, [...new Set(added)])
  }

  private reply(client: BinanceClient, text: string): void {
    sendPoliced(this, this.o, client, text, false)
  }

  private error(client: BinanceClient, code: number, msg: string, id: string): void {
    noteRefusal(this.o.log, client, `request refused (error ${code}): ${msg}`)
    this.reply(client, `{"error":{"code":${code},"msg":${JSON.stringify(msg)}},"id":${id}}`)
  }

  private onRequest(client: BinanceClient, text: string): void {
    let v: JNode
    try {
      v = parseJson(text).value
    } catch (error) {
      this.error(client, 3, `Invalid JSON: ${(error as Error).message}`.slice(0, 200), 'null')
      return
    }
    if (v.t !== 'o') {
      this.error(client, 2, 'Invalid request: expected an object with method, params and id', 'null')
      return
    }
    const get = (k: string) => v.members.find((m) => m.key === k)?.value
    const idNode = get('id')
    let id: string | null = null
    if (idNode === undefined || idNode.t === 'z') id = 'null'
    else if (idNode.t === 'n' && UINT.test(idNode.text) && BigInt(idNode.text) < 2n ** 63n) id = idNode.text
    else if (idNode.t === 's' && ID_STR.test(idNode.v)) id = JSON.stringify(idNode.v)
    if (id === null) {
      this.error(client, 2, 'Invalid request: request ID must be an unsigned integer', 'null')
      return
    }
    const method = get('method')
    const params = get('params')
    const m = method?.t === 's' ? method.v : ''
    const names = (): string[] | null => {
      if (params === undefined || params.t !== 'a') return null
      const out: string[] = []
      for (const p of params.items) {
        if (p.t !== 's') return null
        out.push(p.v)
      }
      return out
    }
    switch (m) {
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE': {
        const list = names()
        if (list === null) return this.error(client, 2, 'Invalid request: params must be an array of stream names', id)
        const bad = list.find((n) => parseStream(n) === null)
        if (bad !== undefined) return this.error(client, 2, `Invalid request: invalid stream name ${JSON.stringify(bad.slice(0, 64))}`, id)
        if (m === 'SUBSCRIBE') {
          const fresh = new Set(list.filter((n) => !client.streams.has(n)))
          if (client.streams.size + fresh.size > this.o.maxStreams) {
            return this.error(client, 2, `Invalid request: too many streams: a connection listens to at most ${this.o.maxStreams}`, id)
          }
          const syms = [...fresh].map((n) => client.add(n)).filter((s): s is string => s !== null)
          this.reply(client, `{"result":null,"id":${id}}`)
          if (syms.length > 0) this.emit('subscribe', client, [...new Set(syms)])
        } else {
          const syms = list.map((n) => client.remove(n)).filter((s): s is string => s !== null)
          this.reply(client, `{"result":null,"id":${id}}`)
          if (syms.length > 0) this.emit('unsubscribe', client, [...new Set(syms)])
        }
        return
      }
      case 'LIST_SUBSCRIPTIONS':
        return this.reply(client, `{"result":${JSON.stringify([...client.streams])},"id":${id}}`)
      case 'SET_PROPERTY':
      case 'GET_PROPERTY': {
        const p = params?.t === 'a' ? params.items : []
        if (p[0]?.t !== 's') return this.error(client, 2, 'Invalid request: property name must be a string', id)
        if (p[0].v !== 'combined') return this.error(client, 0, 'Unknown property', id)
        if (m === 'GET_PROPERTY') return this.reply(client, `{"result":${client.combined},"id":${id}}`)
        if (p[1]?.t !== 'b') return this.error(client, 1, 'Invalid value type: expected Boolean', id)
        client.combined = p[1].v
        return this.reply(client, `{"result":null,"id":${id}}`)
      }
      default:
        return this.error(client, 2, `Invalid request: unknown variant ${JSON.stringify(m.slice(0, 32))}, expected one of ${METHODS}`, id)
    }
  }

  /** Apply a diff-depth update to its symbol's book (the REST snapshot); older updates of the same loop are ignored. */
  note(msg: OutMessage): void {
    if (msg.symbol !== '') this.symbols.add(msg.symbol)
    const d = msg.diff
    if (d === undefined || msg.symbol === '') return
    const loop = msg.loop ?? 0
    let b = this.books.get(msg.symbol)
    if (b === undefined || b.loop < loop) {
      b = new Book(loop)
      this.books.set(msg.symbol, b)
    } else if (b.loop > loop || d.u <= b.lastUpdateId) return
    b.apply(d, this.o.maxBookLevels)
    this.emit('book', msg.symbol)
  }

  /** Whether `client` gets `msg` (see {@link OutMessage.stream}). */
  static routes(client: BinanceClient, msg: OutMessage): boolean {
    return msg.stream !== null ? client.streams.has(msg.stream) : msg.partial === true && client.partials > 0
  }

  /** Send one message to one client if it is subscribed to its stream (slow-client policy applies). */
  deliver(client: BinanceClient, msg: OutMessage, cb?: () => void): boolean {
    this.note(msg)
    if (!BinanceServer.routes(client, msg)) return false
    return sendPoliced(this, this.o, client, msg.payload(client.combined), false, cb)
  }

  /** Send a message to every client subscribed to its stream (tests, fixtures). */
  publish(msg: OutMessage): number {
    this.note(msg)
    let n = 0
    for (const c of this.clients) if (BinanceServer.routes(c, msg) && sendPoliced(this, this.o, c, msg.payload(c.combined), false)) n++
    return n
  }

  /** Send a text as it is to every client (tests: odd or malformed frames). */
  sendRaw(text: string, binary = false): void {
    for (const c of this.clients) sendPoliced(this, this.o, c, text, binary)
  }

  protected override onHttp(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x')
    const send = (status: number, text: string) => {
      res.writeHead(status, {'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text)})
      res.end(text)
    }
    if (req.method !== 'GET') return send(404, '{"code":-1,"msg":"this emulator serves GET requests only"}')
    switch (u.pathname) {
      case '/api/v3/ping':
        return send(200, '{}')
      case '/api/v3/time':
        return send(200, `{"serverTime":${Date.now()}}`)
      case '/api/v3/exchangeInfo':
        return send(
          200,
          JSON.stringify({
            timezone: 'UTC',
            serverTime: Date.now(),
            rateLimits: [
              {rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000},
              {rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100},
              {rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000},
            ],
            exchangeFilters: [],
            symbols: [...this.symbols].sort().map(symbolInfo),
          }),
        )
      case '/api/v3/depth': {
        const sym = u.searchParams.get('symbol') ?? ''
        if (sym === '') return send(400, `{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}`)
        if (!this.symbols.has(sym)) return send(400, '{"code":-1121,"msg":"Invalid symbol."}')
        const lt = u.searchParams.get('limit')
        const limit = lt === null ? 100 : /^\d{1,5}$/.test(lt) ? Math.min(5000, Number(lt)) : NaN
        if (!(limit >= 1)) return send(400, `{"code":-1100,"msg":"Illegal characters found in parameter 'limit'; legal range is '1 to 5000'."}`)
        const answer = () => send(200, this.books.get(sym)?.snapshot(limit) ?? '{"lastUpdateId":0,"bids":[],"asks":[]}')
        if (this.books.has(sym)) return answer()
        // no update of the symbol sent yet: the snapshot that matches the stream is the one after its first
        const done = () => {
          clearTimeout(t)
          this.off('book', onBook)
          answer()
        }
        const onBook = (s: string) => {
          if (s === sym) done()
        }
        const t = setTimeout(done, this.o.snapshotWaitMs)
        this.on('book', onBook)
        res.on('close', () => {
          clearTimeout(t)
          this.off('book', onBook)
        })
        return
      }
      default:
        if (u.pathname === '/ws' || u.pathname.startsWith('/ws/') || u.pathname.startsWith('/stream')) {
          upgradeRequired(res, 'a Binance market streams emulator')
          return
        }
        return send(404, `{"code":-1,"msg":"${u.pathname.slice(0, 64).replace(/[^\w/.-]/g, '?')}: this emulator serves /api/v3/exchangeInfo, /api/v3/depth, /api/v3/ping, /api/v3/time and the WebSocket endpoints /ws and /stream"}`)
    }
  }
}

/** A message from a payload text and its routing facts (tests, fixtures: `publish`). */
export function textMessage(stream: string | null, symbol: string, payload: string, diff?: DepthDiff): OutMessage {
  return {stream, symbol, diff, payload: (combined) => (combined && stream !== null ? wrap(stream, payload) : payload)}
}
