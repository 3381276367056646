import {createHash} from 'node:crypto'
import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import {WebSocket, type WebSocketServer} from 'ws'

import {KIS_APPROVAL_PATH, KIS_MAX_REGISTRATIONS} from './adapter.js'
import {ackText, encryptPayload, frameText, pingpongText, type CipherKey} from './codec.js'
import {TR_BY_ID} from './layouts.js'
import {KIS_BAD_TOKEN_BODY, KIS_PRICE_PATH, KIS_PRICE_TR, KIS_RATE_LIMIT_BODY, KIS_REST_RATE, KIS_TOKEN_PATH, SlidingWindowLimit} from './rest.js'
import {answerClosesPromptly, FeedServer, noteRefusal, sendPoliced, upgradeRequired} from '../emulator.js'


/**
 * Ack codes and messages of the KIS real-time server (KIS's OPSP table).
 * `rt_cd` is "0" for success, "1" for a refused request, "9" for a request
 * that does not parse (the split between "1" and "9" is *unverified*).
 */
export const OPSP = {
  SUBSCRIBED: ['0', 'OPSP0000', 'SUBSCRIBE SUCCESS'],
  UNSUBSCRIBED: ['0', 'OPSP0001', 'UNSUBSCRIBE SUCCESS'],
  ALREADY: ['1', 'OPSP0002', 'ALREADY IN SUBSCRIBE'],
  NOT_SUBSCRIBED: ['1', 'OPSP0003', 'UNSUBSCRIBE ERROR (not found!)'],
  INTERNAL: ['1', 'OPSP0007', 'SUBSCRIBE INTERNAL ERROR'],
  MAX_OVER: ['1', 'OPSP0008', 'MAX SUBSCRIBE OVER'],
  BAD_APPROVAL: ['1', 'OPSP0011', 'invalid approval : NOT FOUND'],
  BAD_TR_ID: ['1', 'OPSP8991', 'SUBSCRIBE ERROR : invalid tr_id'],
  BAD_TR_KEY: ['1', 'OPSP8992', 'SUBSCRIBE ERROR : invalid tr_key'],
  APPKEY_IN_USE: ['1', 'OPSP8996', 'ALREADY IN USE appkey'],
  BAD_TR_TYPE: ['9', 'OPSP8997', 'JSON PARSING ERROR : invalid tr_type'],
  BAD_CUSTTYPE: ['9', 'OPSP8998', 'JSON PARSING ERROR : invalid custtype'],
  NO_TR_KEY: ['9', 'OPSP9990', 'JSON PARSING ERROR : tr_key not found'],
  NO_INPUT: ['9', 'OPSP9991', 'JSON PARSING ERROR : input not found'],
  NO_BODY: ['9', 'OPSP9992', 'JSON PARSING ERROR : body not found'],
  NO_CUSTTYPE: ['9', 'OPSP9997', 'JSON PARSING ERROR : custtype not found'],
  NO_HEADER: ['9', 'OPSP9998', 'JSON PARSING ERROR : header not found'],
  BAD_JSON: ['9', 'OPSP9999', 'JSON PARSING ERROR : invalid json format'],
} as const satisfies Record<string, readonly [string, string, string]>
type Ack = (typeof OPSP)[keyof typeof OPSP]

export interface Registration {
  readonly trId: string
  readonly trKey: string
}

/** One connected client of the emulator (one KIS session). */
export interface KisClient {
  readonly id: number
  readonly ws: WebSocket
  /** The path it connected to (`/`, `/tryitout`, `/tryitout/H0STCNT0`: all accepted). */
  readonly path: string
  /** This session's AES-256 key (32 characters) and iv (16), sent in every ack's output. */
  readonly cipher: CipherKey
  /** Registrations by `TR|key`. */
  readonly registrations: Map<string, Registration>
  /** Registrations per tr_key. */
  readonly keys: Map<string, number>
  /** The app key behind the approval key it registered with (when this emulator issued it). */
  appKey: string | null
  /** Frames dropped for this client by the 'drop' slow-client policy. */
  dropped: number
  /** PINGPONG echoes and protocol pongs received. */
  pongs: number
}

export interface KisServerOptions {
  host?: string
  port?: number
  /** PINGPONG interval in ms (0: never). Default 10 s. */
  pingIntervalMs?: number
  /** Registrations a session may hold (KIS: 41); the next one is refused with OPSP0008. */
  maxRegistrations?: number
  /** Refuse registrations whose approval_key this emulator did not issue (OPSP0011). Default false: any non-empty key. */
  strictApproval?: boolean
  /** Refuse a session whose approval key belongs to an app key another open session uses (OPSP8996). Default false. */
  oneSessionPerAppKey?: boolean
  /** Accept only these credentials at /oauth2/Approval (403 otherwise). Default: any non-empty pair. */
  credentials?: {appKey: string; appSecret: string}
  /**
   * Approval keys remembered (default {@link KIS_MAX_APPROVALS}): past it the
   * oldest is forgotten, as if expired (KIS's expire after 24 h): with
   * `strictApproval` a registration with it is refused with OPSP0011.
   */
  maxApprovals?: number
  /**
   * Delay the 'subscribe' event this long after a registration, gathering the
   * burst a client sends (KIS takes one registration per message) into one
   * event. Default 0. `mdrec replay` does not use it: the replay engine's
   * settle rule (`settleMs`) holds every feed's timeline the same way.
   */
  subscribeSettleMs?: number
  /** Largest client message accepted (bytes). Default 64 KiB. */
  maxPayload?: number
  /**
   * REST requests per second per app key (the current-price endpoint): past
   * it KIS's own refusal, HTTP 500 with {@link KIS_RATE_LIMIT_BODY}. Default
   * 20 (KIS's limit for real accounts).
   */
  restRate?: number
  /** Per-client send buffer limit before the slow-client policy applies. Default 8 MiB. */
  maxBufferedBytes?: number
  /** A client that stops reading: close it with 1013 (default) or drop frames for it. */
  slowClient?: 'disconnect' | 'drop'
  log?: (line: string) => void
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
/**
 * `n` (≤ 64) letters and digits made from `seed` (SHA-512), where KIS draws
 * them at random (a session's AES key and iv, tokens): a replay's bytes,
 * acks included, then repeat run to run for the same client flow, as a CI
 * fixture compares them. They protect nothing here (the key is sent in
 * every ack).
 */
function seededText(seed: string, n: number): string {
  const b = createHash('sha512').update(`mdrec-kis\0${seed}`).digest()
  let s = ''
  for (let i = 0; i < n; i++) s += ALNUM[b[i] % ALNUM.length]
  return s
}

/** A UUID-shaped approval key made from `seed` (KIS's are UUIDs; see {@link seededText} for why not random). */
function seededUuid(seed: string): string {
  const h = createHash('sha256').update(`mdrec-kis-approval\0${seed}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** Default bound on the approval keys the emulator remembers. */
export const KIS_MAX_APPROVALS = 10_000
/** Longest app key /oauth2/Approval accepts (KIS's are 36 characters); a longer one gets KIS's invalid-AppKey 403. */
export const KIS_MAX_APPKEY_LENGTH = 64

const TR_ID = /^H[0-9A-Z]{7}$/
const TR_KEY = /^[\x21-\x7e]{1,32}$/

/**
 * The KIS real-time server as clients see it: `POST /oauth2/Approval` on the
 * same port (JSON body → `{"approval_key":…}`, 400 for a bad body), a
 * WebSocket on any path, text frames only, JSON registrations answered with
 * acks that always carry `output.iv`/`output.key`, the OPSP codes (including
 * OPSP0008 for the registration past the session limit), periodic PINGPONG
 * (a text echo or a protocol pong both count as an answer), and data frames
 * `<enc>|<TR_ID>|<NNN>|<records>` sent to the sessions registered for the
 * TR and the first record's key; encrypted TRs (notices) are encrypted with
 * each session's key/iv.
 *
 * Bounds: a session holds at most `maxRegistrations` (41) registrations
 * (OPSP0008 past it) with tr_keys of 1-32 printable characters (OPSP8992);
 * the emulator remembers `maxApprovals` (10,000) approval keys, forgetting
 * the oldest (OPSP0011 under `strictApproval`); app keys over
 * {@link KIS_MAX_APPKEY_LENGTH} characters get a 403 (EGW00103); request
 * bodies and messages are at most `maxPayload` (64 KiB: 413, or close 1009).
 *
 * Events: 'connection' (client), 'register' / 'unregister' (client,
 * Registration), 'refuse' (client, {trId, trKey, msgCd}), 'subscribe'
 * (client, tr_keys added: after `subscribeSettleMs`), 'unsubscribe' (client,
 * tr_keys), 'disconnect' (client), 'slow' (client), 'approval' (app key of a
 * granted approval request), 'interest' (the first token or price request:
 * {@link restActive} turned true).
 */
export class KisServer extends FeedServer<KisClient> {
  /** Approval keys issued → the app key they were issued for. */
  readonly approvals = new Map<string, string>()
  /** Access tokens issued at /oauth2/tokenP → the app key they were issued for (bounded like `approvals`). */
  readonly tokens = new Map<string, string>()
  /** Approval keys and tokens issued so far: each one's seed (seededUuid, seededText). */
  private issued = 0
  /**
   * The current-price state of each code (inquire-price `output` fields,
   * lower-case, as strings): what `GET inquire-price` answers. The replay
   * side updates it as rows pass on the timeline ({@link updatePrice}).
   */
  readonly prices = new Map<string, Record<string, string>>()
  /** Whether a client has asked for an access token or a price: the replay side then tracks every code's state (set by {@link restSeen}). */
  restActive = false
  /** Current-price requests answered, and refused with KIS's rate-limit error. */
  readonly rest = {served: 0, rateLimited: 0}
  private pinger: NodeJS.Timeout | null = null
  private readonly settle = new Map<KisClient, {timer: NodeJS.Timeout; keys: Set<string>}>()

  private constructor(
    http: Server,
    wss: WebSocketServer,
    private readonly o: Required<Omit<KisServerOptions, 'log' | 'host' | 'port' | 'credentials' | 'restRate'>> & Pick<KisServerOptions, 'log' | 'credentials'>,
    private readonly limit: SlidingWindowLimit,
  ) {
    super(http, wss)
  }

  static async listen(options: KisServerOptions = {}): Promise<KisServer> {
    const maxPayload = options.maxPayload ?? 64 * 1024
    const make = (http: Server, wss: WebSocketServer) => new KisServer(http, wss, {
      pingIntervalMs: options.pingIntervalMs ?? 10_000,
      maxRegistrations: options.maxRegistrations ?? KIS_MAX_REGISTRATIONS,
      strictApproval: options.strictApproval ?? false,
      oneSessionPerAppKey: options.oneSessionPerAppKey ?? false,
      subscribeSettleMs: options.subscribeSettleMs ?? 0,
      maxPayload,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      slowClient: options.slowClient ?? 'disconnect',
      log: options.log,
      credentials: options.credentials,
      maxApprovals: options.maxApprovals ?? KIS_MAX_APPROVALS,
    }, new SlidingWindowLimit(options.restRate ?? KIS_REST_RATE.real))
    const s = await FeedServer.start({...options, maxPayload}, make)
    if (s.o.pingIntervalMs > 0) {
      s.pinger = setInterval(() => s.pingAll(), s.o.pingIntervalMs)
      s.pinger.unref()
    }
    return s
  }

  /** WebSocket URL (any path works; KIS clients use `/`, `/tryitout` or `/tryitout/<TR>`). */
  url(path = ''): string {
    return `ws://${this.host}:${this.port}${path}`
  }

  /** The REST base serving /oauth2/Approval (the same port). */
  get restUrl(): string {
    return `http://${this.host}:${this.port}`
  }

  // -------------------------------------------------------------------------
  // REST: the approval key

  protected override onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body)
      res.writeHead(status, {'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text)})
      res.end(text)
    }
    if (path === KIS_PRICE_PATH) return this.onPrice(req, res, json)
    if (path !== KIS_APPROVAL_PATH && path !== KIS_TOKEN_PATH) {
      if (req.method === 'GET') {
        upgradeRequired(res, 'a KIS real-time emulator (POST /oauth2/Approval for an approval key)')
      } else json(404, {error_code: 'NOT_FOUND', error_description: `no such route ${path}; the emulator serves POST ${KIS_APPROVAL_PATH}, POST ${KIS_TOKEN_PATH} and GET ${KIS_PRICE_PATH}`})
      req.resume()
      return
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST')
      json(405, {error_code: 'METHOD_NOT_ALLOWED', error_description: `${path} takes POST`})
      req.resume()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooBig = false
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > this.o.maxPayload) tooBig = true
      else chunks.push(c)
    })
    req.on('error', () => {})
    req.on('end', () => {
      if (tooBig) return json(413, {error_code: 'BAD_REQUEST', error_description: `body larger than ${this.o.maxPayload} bytes`})
      let body: Record<string, unknown> | null = null
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
        if (v && typeof v === 'object' && !Array.isArray(v)) body = v as Record<string, unknown>
      } catch {
        // answered below
      }
      // the token request names the secret `appsecret`, the approval request `secretkey`
      const secretName = path === KIS_TOKEN_PATH ? 'appsecret' : 'secretkey'
      if (!body) return json(400, {error_code: 'BAD_REQUEST', error_description: `the body must be a JSON object {"grant_type","appkey","${secretName}"}`})
      const missing = ['grant_type', 'appkey', secretName].filter((k) => typeof body![k] !== 'string' || body![k] === '')
      if (missing.length) return json(400, {error_code: 'BAD_REQUEST', error_description: `missing ${missing.join(', ')}`})
      if (body.grant_type !== 'client_credentials') return json(400, {error_code: 'BAD_REQUEST', error_description: 'grant_type must be client_credentials'})
      const cred = this.o.credentials
      if ((cred && (body.appkey !== cred.appKey || body[secretName] !== cred.appSecret)) || (body.appkey as string).length > KIS_MAX_APPKEY_LENGTH) {
        // what KIS answers for an unknown app key (unverified code)
        return json(403, {error_code: 'EGW00103', error_description: '유효하지 않은 AppKey입니다.'})
      }
      if (path === KIS_TOKEN_PATH) {
        this.restSeen()
        // KIS's tokens are JWTs of a few hundred characters; any opaque text serves a client
        const token = `mdrec.${seededText(`token\0${body.appkey as string}\0${this.issued++}`, 40)}`
        if (this.tokens.size >= this.o.maxApprovals) this.tokens.delete(this.tokens.keys().next().value!)
        this.tokens.set(token, body.appkey as string)
        const expires = new Date(Date.now() + 86_400_000 + 9 * 3600_000).toISOString().replace('T', ' ').slice(0, 19)
        return json(200, {access_token: token, access_token_token_expired: expires, token_type: 'Bearer', expires_in: 86400})
      }
      const key = seededUuid(`${body.appkey as string}\0${this.issued++}`)
      if (this.approvals.size >= this.o.maxApprovals) this.approvals.delete(this.approvals.keys().next().value!)
      this.approvals.set(key, body.appkey as string)
      this.emit('approval', body.appkey)
      json(200, {approval_key: key})
    })
  }

  /** A REST client is about: from now on every row passes on the timeline ('interest': what clients want changed). */
  private restSeen(): void {
    if (this.restActive) return
    this.restActive = true
    this.emit('interest')
  }

  /**
   * `GET inquire-price?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=<code>` with
   * `authorization: Bearer <token from /oauth2/tokenP>` and `tr_id:
   * FHKST01010100`: the code's state now ({@link prices}); above `restRate`
   * requests per second of one app key, KIS's refusal (HTTP 500, EGW00201).
   */
  private onPrice(req: IncomingMessage, res: ServerResponse, json: (status: number, body: unknown) => void): void {
    req.resume()
    this.restSeen()
    const raw = (status: number, text: string) => {
      res.writeHead(status, {'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text)})
      res.end(text)
    }
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET')
      return json(405, {error_code: 'METHOD_NOT_ALLOWED', error_description: `${KIS_PRICE_PATH} takes GET`})
    }
    const auth = String(req.headers.authorization ?? '')
    const token = /^Bearer (\S+)$/i.exec(auth)?.[1] ?? ''
    const appKey = this.tokens.get(token)
    if (appKey === undefined) return raw(500, KIS_BAD_TOKEN_BODY)
    if (!this.limit.take(appKey, Date.now())) {
      this.rest.rateLimited++
      return raw(500, KIS_RATE_LIMIT_BODY)
    }
    const q = new URL(req.url ?? '/', 'http://x').searchParams
    const param = (name: string) => q.get(name) ?? q.get(name.toLowerCase()) ?? ''
    const code = param('FID_INPUT_ISCD')
    const trId = String(req.headers.tr_id ?? '')
    if (trId !== KIS_PRICE_TR) return json(500, {rt_cd: '1', msg_cd: 'MDREC0400', msg1: `tr_id ${trId.slice(0, 20) || '(none)'}: this path takes ${KIS_PRICE_TR} (mdrec emulator)`})
    if (!/^(?:[0-9][0-9A-Z]{5}|Q[0-9]{6})$/.test(code)) return json(200, {rt_cd: '1', msg_cd: 'MDREC0400', msg1: 'FID_INPUT_ISCD must be a KRX code (mdrec emulator)'})
    const state = this.prices.get(code)
    if (!state) return json(200, {rt_cd: '1', msg_cd: 'MDREC0404', msg1: 'no row of this code has been reached on the replay timeline yet (mdrec emulator)'})
    this.rest.served++
    json(200, {output: state, rt_cd: '0', msg_cd: 'MCA00000', msg1: '정상처리 되었습니다.'})
  }

  /** Merge `output` (lower-case inquire-price fields as strings) into `code`'s current-price state. */
  updatePrice(code: string, output: Record<string, string>): void {
    const s = this.prices.get(code)
    if (s) Object.assign(s, output)
    else this.prices.set(code, {...output})
  }

  // -------------------------------------------------------------------------
  // WebSocket sessions

  protected accept(ws: WebSocket, req: IncomingMessage): void {
    answerClosesPromptly(ws)
    const id = this.nextId++
    const client: KisClient = {
      id,
      ws,
      path: new URL(req.url ?? '/', 'http://x').pathname,
      // the session's key/iv: the same for the same connection, run to run (seededText)
      cipher: {key: seededText(`session-key\0${id}`, 32), iv: seededText(`session-iv\0${id}`, 16)},
      registrations: new Map(),
      keys: new Map(),
      appKey: null,
      dropped: 0,
      pongs: 0,
    }
    this.admit(client, {
      message: (text) => this.onRequest(client, text),
      left: () => {
        const s = this.settle.get(client)
        if (s) clearTimeout(s.timer)
        this.settle.delete(client)
      },
    })
    ws.on('pong', () => {
      client.pongs++
    })
  }

  private ack(client: KisClient, trId: string, trKey: string, a: Ack): void {
    const [rtCd, msgCd, msg1] = a
    this.send(client, ackText({trId, trKey, encrypt: TR_BY_ID.get(trId)?.encrypted ?? false, rtCd, msgCd, msg1, iv: client.cipher.iv, key: client.cipher.key}))
    if (rtCd !== '0') {
      noteRefusal(this.o.log, client, `request refused (${msgCd}): ${msg1}${trId ? ` (${trId} ${trKey})` : ''}`)
      this.emit('refuse', client, {trId, trKey, msgCd})
    }
  }

  private onRequest(client: KisClient, text: string): void {
    let msg: unknown
    try {
      msg = JSON.parse(text)
    } catch {
      return this.ack(client, '', '', OPSP.BAD_JSON)
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return this.ack(client, '', '', OPSP.BAD_JSON)
    const m = msg as {header?: Record<string, unknown>; body?: Record<string, unknown>}
    const h = m.header && typeof m.header === 'object' ? m.header : null
    // A client answering PINGPONG with its echo.
    if (h?.tr_id === 'PINGPONG') {
      client.pongs++
      return
    }
    const input = m.body && typeof m.body === 'object' ? (m.body.input as Record<string, unknown> | undefined) : undefined
    const trId = typeof input?.tr_id === 'string' ? input.tr_id : ''
    const trKey = typeof input?.tr_key === 'string' ? input.tr_key : ''
    if (!h) return this.ack(client, trId, trKey, OPSP.NO_HEADER)
    if (h.custtype === undefined) return this.ack(client, trId, trKey, OPSP.NO_CUSTTYPE)
    if (h.custtype !== 'P' && h.custtype !== 'B') return this.ack(client, trId, trKey, OPSP.BAD_CUSTTYPE)
    if (h.tr_type !== '1' && h.tr_type !== '2') return this.ack(client, trId, trKey, OPSP.BAD_TR_TYPE)
    if (!m.body || typeof m.body !== 'object') return this.ack(client, trId, trKey, OPSP.NO_BODY)
    if (!input || typeof input !== 'object') return this.ack(client, trId, trKey, OPSP.NO_INPUT)
    if (!TR_ID.test(trId)) return this.ack(client, trId, trKey, OPSP.BAD_TR_ID)
    if (input.tr_key === undefined) return this.ack(client, trId, trKey, OPSP.NO_TR_KEY)
    if (!TR_KEY.test(trKey)) return this.ack(client, trId, trKey, OPSP.BAD_TR_KEY)
    const approval = typeof h.approval_key === 'string' ? h.approval_key : ''
    const appKey = this.approvals.get(approval) ?? null
    if (approval === '' || (this.o.strictApproval && appKey === null)) return this.ack(client, trId, trKey, OPSP.BAD_APPROVAL)
    if (this.o.oneSessionPerAppKey && appKey !== null && client.appKey === null) {
      for (const other of this.clients) {
        if (other !== client && other.appKey === appKey && other.ws.readyState === WebSocket.OPEN) return this.ack(client, trId, trKey, OPSP.APPKEY_IN_USE)
      }
    }
    if (appKey !== null) client.appKey = appKey
    const id = `${trId}|${trKey}`
    if (h.tr_type === '2') {
      const reg = client.registrations.get(id)
      if (!reg) return this.ack(client, trId, trKey, OPSP.NOT_SUBSCRIBED)
      client.registrations.delete(id)
      const left = (client.keys.get(trKey) ?? 1) - 1
      if (left > 0) client.keys.set(trKey, left)
      else client.keys.delete(trKey)
      this.ack(client, trId, trKey, OPSP.UNSUBSCRIBED)
      this.emit('unregister', client, reg)
      this.emit('unsubscribe', client, [trKey])
      return
    }
    if (client.registrations.has(id)) return this.ack(client, trId, trKey, OPSP.ALREADY)
    if (client.registrations.size >= this.o.maxRegistrations) return this.ack(client, trId, trKey, OPSP.MAX_OVER)
    const reg: Registration = {trId, trKey}
    client.registrations.set(id, reg)
    client.keys.set(trKey, (client.keys.get(trKey) ?? 0) + 1)
    this.ack(client, trId, trKey, OPSP.SUBSCRIBED)
    this.emit('register', client, reg)
    this.subscribed(client, trKey)
  }

  private subscribed(client: KisClient, trKey: string): void {
    if (this.o.subscribeSettleMs <= 0) {
      this.emit('subscribe', client, [trKey])
      return
    }
    let s = this.settle.get(client)
    if (!s) {
      const keys = new Set<string>()
      const timer = setTimeout(() => {
        this.settle.delete(client)
        if (this.clients.has(client)) this.emit('subscribe', client, [...keys])
      }, this.o.subscribeSettleMs)
      s = {timer, keys}
      this.settle.set(client, s)
    }
    s.keys.add(trKey)
  }

  private pingAll(): void {
    const text = pingpongText(Date.now())
    for (const c of this.clients) this.send(c, text)
  }

  /** Whether `client` registered `trId` for `trKey` (for notices the key is the HTS ID, their records' first field). */
  isRegistered(client: KisClient, trId: string, trKey: string): boolean {
    return client.registrations.has(`${trId}|${trKey}`)
  }

  /**
   * Send one text frame to a client, applying the slow-client policy. False
   * when not sent (client gone, dropped or disconnected). `text` may be the
   * frame's UTF-8 bytes (sent as a text frame, unchanged).
   */
  send(client: KisClient, text: string | Uint8Array, cb?: (err?: Error) => void): boolean {
    return sendPoliced(this, this.o, client, text, false, cb)
  }

  /**
   * The frame `records` (each a record's fields) of `trId` make for `client`:
   * `1|…` with the payload encrypted with the client's key/iv for encrypted
   * TRs, else `0|…`.
   */
  frameFor(client: KisClient, trId: string, records: ReadonlyArray<readonly string[]>): string {
    const payload = records.map((r) => r.join('^')).join('^')
    const enc = TR_BY_ID.get(trId)?.encrypted ?? false
    return enc ? frameText('1', trId, records.length, encryptPayload(payload, client.cipher)) : frameText('0', trId, records.length, payload)
  }

  /**
   * Send `records` of `trId` as one frame (count = records.length) to every
   * client registered for the TR and the first record's key (its first field:
   * the stock code, overseas key, or for notices the HTS ID). Returns how many
   * clients it went to.
   */
  publish(trId: string, records: ReadonlyArray<readonly string[]>): number {
    if (records.length === 0) return 0
    const key = records[0][0]
    const enc = TR_BY_ID.get(trId)?.encrypted ?? false
    let plain: string | undefined
    let n = 0
    for (const c of this.clients) {
      if (!this.isRegistered(c, trId, key)) continue
      const text = enc ? this.frameFor(c, trId, records) : (plain ??= this.frameFor(c, trId, records))
      if (this.send(c, text)) n++
    }
    return n
  }

  /** Send a text frame as is to every client (malformed or hand-made input for tests). */
  sendRaw(text: string): void {
    for (const c of this.clients) this.send(c, text)
  }

  /** Send PINGPONG to every client now. */
  ping(): void {
    this.pingAll()
  }

  protected override stopTimers(): void {
    if (this.pinger) clearInterval(this.pinger)
    for (const s of this.settle.values()) clearTimeout(s.timer)
    this.settle.clear()
  }
}
