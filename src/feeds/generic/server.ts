import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import {WebSocket, type WebSocketServer} from 'ws'

import {MdrecError} from '../../errors.js'
import {isPlainObject, jsonType, pongFor} from './codec.js'
import {answerClosesPromptly, FeedServer, noteRefusal, sendPoliced, upgradeRequired, type Payload} from '../emulator.js'


/** Close code for a binary client frame (RFC 6455 §7.4.1: "an endpoint that understands only text data MAY send this"). */
export const CLOSE_UNSUPPORTED_DATA = 1003
/** Close code for a client message over `maxPayload` (ws closes with it, as Python's websockets does at its 1 MiB max_size). */
export const CLOSE_TOO_BIG = 1009
/** Close code for a client silent past `pingTimeoutMs` (what Python's websockets uses for a keepalive timeout). */
export const CLOSE_PING_TIMEOUT = 1011
/**
 * Close code for a connection over `maxConnections` (RFC 6455 / IANA 1013 "Try Again Later").
 *
 * Why accept-then-close and not a refused handshake: the FastAPI services this
 * emulates check their connection count in the endpoint, around
 * `await websocket.accept()`. Closing before accept makes Starlette/uvicorn
 * answer the handshake with a bare HTTP 403 — the same answer as a refused
 * origin, so a client cannot tell "full, come back" from "forbidden". The
 * usual pattern (accept, then `websocket.close(code=1013)`) gives the client a
 * close code made for this case, which reconnecting clients act on by backing
 * off; that is what this emulator does.
 */
export const CLOSE_TRY_AGAIN_LATER = 1013
/** Close code for a second connection with a client id already connected (1008 Policy Violation). */
export const CLOSE_POLICY = 1008
/** Reason of the close for a client that did not answer a server ping (what Python's websockets sends). */
export const PONG_TIMEOUT_REASON = 'keepalive ping timeout'
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024
/** Default bound on the channels one client may be subscribed to at once. */
export const GENERIC_MAX_CHANNELS = 1000
/** Longest channel name accepted (characters). */
export const GENERIC_MAX_CHANNEL_LENGTH = 256

/** One connected client of the emulator. */
export interface GenericClient {
  readonly id: number
  readonly ws: WebSocket
  /** Channels this client is subscribed to. */
  readonly channels: Set<string>
  /** Frames dropped for this client by the 'drop' slow-client policy. */
  dropped: number
  /** Date.now() of the client's last message. */
  lastSeen: number
  /** The `{client_id}` of `/ws/{client_id}` (decoded) with `clientIdPath`; else null. */
  readonly clientId: string | null
  /** Date.now() of the server ping not yet answered with a pong (server pings on); null when none is outstanding. */
  pingSentAt: number | null
}

/**
 * The counts `GET /stats` reports (snake_case, as the Python service's JSON).
 * `errors`: error replies, refused subscriptions, and clients closed for a
 * protocol fault (binary frame, message too big, ping or pong timeout,
 * stopped reading) or a socket error.
 */
export interface GenericStats {
  active_connections: number
  /** Connections accepted since the start (refused ones not included). */
  total_connections: number
  /** Connections refused: over `maxConnections`, a forbidden origin or path, a client id in use. */
  rejected_connections: number
  /** Channels with at least one subscriber. */
  channels: number
  /** Subscribers per channel (channels without any are left out). */
  channel_subscribers: Record<string, number>
  /** Frames sent to clients (replies, broadcasts, heartbeats, pings). */
  messages_sent: number
  /** Text messages received from clients. */
  messages_received: number
  errors: number
  uptime_seconds: number
  /** With `clientIdPath`: the ids connected, in connection order. */
  clients?: string[]
}

export interface GenericServerOptions {
  host?: string
  port?: number
  /** Largest client message accepted, in bytes; a larger one closes the connection with 1009. Default 1 MiB. */
  maxPayload?: number
  /**
   * Close a client that has sent no message (a ping, a subscribe, anything)
   * for this long, with 1011 "ping timeout". Default 0: never.
   */
  pingTimeoutMs?: number
  /** Channels that exist: subscribing to another gets `success:false`. Default: every non-empty name exists. */
  channels?: Iterable<string> | ((channel: string) => boolean)
  /** Channels one client may be subscribed to at once (default {@link GENERIC_MAX_CHANNELS}); one more gets `success:false`. */
  maxChannels?: number
  /** Per-client send buffer limit before the slow-client policy applies. Default 8 MiB. */
  maxBufferedBytes?: number
  /** A client that stops reading: close it with 1013 (default) or drop frames for it. */
  slowClient?: 'disconnect' | 'drop'
  /**
   * Connections open at once (default 0: no limit). One more is accepted and
   * closed at once with 1013 "try again later: at most N connections" (see
   * {@link CLOSE_TRY_AGAIN_LATER} for why not a refused handshake).
   */
  maxConnections?: number
  /**
   * Origins allowed to connect (`scheme://host[:port]`, as browsers send
   * the Origin header; each is taken as its origin, so `https://App.example/`
   * is `https://app.example`, and one that is no origin throws
   * MdrecError('E_USAGE') naming it); a handshake with another Origin is
   * refused with HTTP 403. A handshake without an Origin (a non-browser
   * client) is allowed. Default: every origin.
   */
  allowedOrigins?: readonly string[]
  /** Send `{"type":"heartbeat","timestamp":<ms>}` to every client this often (ms). Default 0: never. */
  heartbeatMs?: number
  /**
   * Send `{"type":"ping","timestamp":<ms>}` to every client this often (ms);
   * a client that has not answered with `{"type":"pong",…}` within
   * `pongTimeoutMs` is closed with 1011 "keepalive ping timeout". Default 0: never.
   */
  pingIntervalMs?: number
  /** How long a client has to answer a server ping (ms). Default: `pingIntervalMs`. */
  pongTimeoutMs?: number
  /**
   * Clients connect to `/ws/{client_id}` (the id is theirs: `GenericClient.clientId`);
   * any other path is refused with HTTP 403 (what Starlette answers for a
   * WebSocket route that does not match), and a second connection with an id
   * already connected is accepted and closed with 1008. Default false: any path.
   */
  clientIdPath?: boolean
  log?: (line: string) => void
}

/** Option names {@link GenericServer.listen} takes that `mdrec replay` can set (see `genericReplay`). */
export const GENERIC_EMULATOR_OPTIONS = ['maxConnections', 'allowedOrigins', 'heartbeatMs', 'pingIntervalMs', 'pongTimeoutMs', 'clientIdPath', 'pingTimeoutMs'] as const

/**
 * A generic channel JSON server as clients see it (docs/feeds/generic.md): text
 * frames only, one JSON object per message.
 *
 * | client sends | server answers |
 * |---|---|
 * | `{"type":"ping","timestamp":T}` | `{"type":"pong","timestamp":T}` (T echoed as parsed; no timestamp, none back) |
 * | `{"type":"pong",…}` | nothing (counts as activity for the ping timeout) |
 * | `{"type":"subscribe","channel":C}` | `{"type":"subscription_result","channel":C,"success":true}`; an unknown C (see `channels`): `"success":false,"message":"unknown channel"`. Re-subscribing is harmless (one stream). |
 * | `{"type":"unsubscribe","channel":C}` | `{"type":"unsubscription_result","channel":C,"success":true}` (also when C was not subscribed: the client is not subscribed either way) |
 * | a subscribe past `maxChannels` (1,000) channels, or to a name over 256 characters | `"success":false,"message":"too many channels (limit N)"` / `"channel name too long (limit 256)"`; the channel is not subscribed |
 * | (un)subscribe without a non-empty string `channel` | `{"type":"error","message":"missing channel"}` |
 * | text that is not JSON | `{"type":"error","message":"bad JSON"}`, connection kept |
 * | JSON that is not an object / has no string `type` / an unknown `type` | `{"type":"error","message":…}` |
 * | a binary frame | close 1003 (text frames only) |
 * | a message over `maxPayload` (1 MiB) | close 1009 |
 * | nothing for `pingTimeoutMs` (off by default) | close 1011 "ping timeout" |
 * | no `pong` within `pongTimeoutMs` of a server ping (`pingIntervalMs`, off by default) | close 1011 "keepalive ping timeout" |
 *
 * Limits and operations (all off by default): `maxConnections` (one more:
 * close 1013), `allowedOrigins` (another Origin: HTTP 403), `clientIdPath`
 * (`/ws/{client_id}`; another path: HTTP 403; an id in use: close 1008),
 * `heartbeatMs` (`{"type":"heartbeat","timestamp":ms}` to every client),
 * `pingIntervalMs` (`{"type":"ping","timestamp":ms}`, answered with a pong).
 * On the same port, `GET /health` answers `{"status":"healthy",…}` and
 * `GET /stats` the counts of {@link GenericStats}, as JSON; any other plain
 * HTTP request gets 426 (405 for another method on those two paths).
 *
 * Without `pingIntervalMs` the server never pings on its own; WebSocket
 * protocol pings are answered by ws. Broadcasts are
 * `{"type":<event>,"channel":C,"data":…,"timestamp":…}` sent with
 * {@link publish} to the clients subscribed to C. Used by `mdrec replay` and
 * by tests that need a feed to record from.
 *
 * Events: 'connection' (client), 'subscribe' (client, added channels: empty
 * for a re-subscribe), 'unsubscribe' (client, removed channels), 'request'
 * (client, parsed message), 'disconnect' (client), 'slow' (client): the
 * slow-client policy closed it with 1013.
 */
export class GenericServer extends FeedServer<GenericClient> {
  private readonly timers: NodeJS.Timeout[] = []
  private readonly exists: (channel: string) => boolean
  private readonly startedAt = Date.now()
  /** Counters behind `GET /stats`. */
  private readonly counts = {total: 0, rejected: 0, sent: 0, received: 0, errors: 0}
  private readonly byClientId = new Map<string, GenericClient>()

  private constructor(
    http: Server,
    wss: WebSocketServer,
    private readonly opts: {
      pingTimeoutMs: number
      maxChannels: number
      maxBufferedBytes: number
      slowClient: 'disconnect' | 'drop'
      maxConnections: number
      allowedOrigins: ReadonlySet<string> | null
      heartbeatMs: number
      pingIntervalMs: number
      pongTimeoutMs: number
      clientIdPath: boolean
      log?: (l: string) => void
    },
    channels: GenericServerOptions['channels'],
  ) {
    super(http, wss)
    if (typeof channels === 'function') this.exists = channels
    else if (channels) {
      const set = new Set(channels)
      this.exists = (c) => set.has(c)
    } else this.exists = () => true
    this.on('slow', () => this.counts.errors++)
    const every = (fn: () => void, ms: number) => {
      const t = setInterval(fn, ms)
      t.unref()
      this.timers.push(t)
    }
    if (opts.pingTimeoutMs > 0) every(() => this.closeIdle(), Math.max(20, Math.min(1000, opts.pingTimeoutMs / 4)))
    if (opts.heartbeatMs > 0) every(() => this.toAll(JSON.stringify({type: 'heartbeat', timestamp: Date.now()})), opts.heartbeatMs)
    if (opts.pingIntervalMs > 0) {
      every(() => this.pingAll(), opts.pingIntervalMs)
      every(() => this.closeUnanswered(), Math.max(10, Math.min(1000, opts.pongTimeoutMs / 4)))
    }
  }

  static async listen(options: GenericServerOptions = {}): Promise<GenericServer> {
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD
    const pingIntervalMs = options.pingIntervalMs ?? 0
    const make = (http: Server, wss: WebSocketServer) => new GenericServer(
      http,
      wss,
      {
        pingTimeoutMs: options.pingTimeoutMs ?? 0,
        maxChannels: options.maxChannels ?? GENERIC_MAX_CHANNELS,
        maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
        slowClient: options.slowClient ?? 'disconnect',
        maxConnections: options.maxConnections ?? 0,
        // as a browser sends them, whoever gave them (the flag, replay()'s emulator options, this server's caller)
        allowedOrigins: options.allowedOrigins && options.allowedOrigins.length > 0 ? new Set(options.allowedOrigins.map((x) => originOf(x, 'allowedOrigins'))) : null,
        heartbeatMs: options.heartbeatMs ?? 0,
        pingIntervalMs,
        pongTimeoutMs: options.pongTimeoutMs ?? pingIntervalMs,
        clientIdPath: options.clientIdPath ?? false,
        log: options.log,
      },
      options.channels,
    )
    return FeedServer.start({...options, maxPayload}, make)
  }

  /** Handshakes refused before the upgrade: HTTP 403, as Starlette answers a close before accept. */
  protected override verifyUpgrade(req: IncomingMessage, cb: (ok: boolean, code?: number, message?: string) => void): void {
    const why = this.refusal(req)
    if (why === null) return cb(true)
    this.counts.rejected++
    this.opts.log?.(`refused a handshake for ${JSON.stringify(req.url ?? '')}: ${why}`)
    cb(false, 403, 'Forbidden')
  }

  /** Why a handshake is refused with 403 (a forbidden origin or path), or null. */
  private refusal(req: IncomingMessage): string | null {
    const origin = req.headers.origin
    if (this.opts.allowedOrigins && origin !== undefined && !this.opts.allowedOrigins.has(origin)) return `origin ${JSON.stringify(origin)} is not allowed`
    if (this.opts.clientIdPath && clientIdOf(req.url) === null) return 'not /ws/{client_id}'
    return null
  }

  /** Plain HTTP: `GET /health`, `GET /stats`; anything else 426 (405 for another method on those paths). */
  protected override onHttp(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/health' || path === '/stats') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, {'content-type': 'application/json', allow: 'GET'})
        res.end('{"detail":"Method Not Allowed"}')
        return
      }
      const body =
        path === '/health'
          ? {status: 'healthy', timestamp: new Date().toISOString(), active_connections: this.clients.size, uptime_seconds: this.uptime()}
          : this.stats()
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify(body))
      return
    }
    upgradeRequired(res, 'a generic channel JSON server emulator')
  }

  private uptime(): number {
    return Math.round((Date.now() - this.startedAt) / 10) / 100
  }

  /** The counts `GET /stats` reports. */
  stats(): GenericStats {
    const subscribers: Record<string, number> = {}
    for (const c of this.clients) for (const ch of c.channels) subscribers[ch] = (subscribers[ch] ?? 0) + 1
    const out: GenericStats = {
      active_connections: this.clients.size,
      total_connections: this.counts.total,
      rejected_connections: this.counts.rejected,
      channels: Object.keys(subscribers).length,
      channel_subscribers: subscribers,
      messages_sent: this.counts.sent,
      messages_received: this.counts.received,
      errors: this.counts.errors,
      uptime_seconds: this.uptime(),
    }
    if (this.opts.clientIdPath) out.clients = [...this.clients].map((c) => c.clientId!)
    return out
  }

  /** Where clients connect; with `clientIdPath`, `ws://HOST:PORT/ws/{client_id}` (put the client's id in place of `{client_id}`). */
  url(): string {
    return `ws://${this.host}:${this.port}/${this.opts.clientIdPath ? 'ws/{client_id}' : ''}`
  }

  protected accept(ws: WebSocket, req: IncomingMessage): void {
    answerClosesPromptly(ws)
    ws.on('error', (err) => {
      // a client's socket error ends that client only (ws closes it: 1009 for a message over maxPayload)
      this.counts.errors++
      this.opts.log?.(`connection: ${err.message}`)
    })
    const clientId = this.opts.clientIdPath ? clientIdOf(req.url) : null
    // refusals after accept (see CLOSE_TRY_AGAIN_LATER): the client never joins `clients`
    if (this.opts.maxConnections > 0 && this.clients.size >= this.opts.maxConnections) {
      this.counts.rejected++
      this.opts.log?.(`refused a connection: ${this.clients.size} of at most ${this.opts.maxConnections} open; closing with ${CLOSE_TRY_AGAIN_LATER}`)
      ws.close(CLOSE_TRY_AGAIN_LATER, `try again later: at most ${this.opts.maxConnections} connections`)
      return
    }
    if (clientId !== null && this.byClientId.has(clientId)) {
      this.counts.rejected++
      // the reason echoes at most 60 characters of the id (a close reason holds 123 bytes)
      const why = `client id ${JSON.stringify(clientId.slice(0, 60))} is in use`
      this.opts.log?.(`refused a connection: ${why}; closing with ${CLOSE_POLICY}`)
      ws.close(CLOSE_POLICY, why)
      return
    }
    this.counts.total++
    const client: GenericClient = {id: this.nextId++, ws, channels: new Set(), dropped: 0, lastSeen: Date.now(), clientId, pingSentAt: null}
    if (clientId !== null) this.byClientId.set(clientId, client)
    this.admit(client, {
      message: (text, isBinary) => this.onMessage(client, text, isBinary),
      left: () => {
        if (clientId !== null && this.byClientId.get(clientId) === client) this.byClientId.delete(clientId)
      },
    })
  }

  private reply(client: GenericClient, msg: Record<string, unknown>): void {
    this.send(client, JSON.stringify(msg))
  }

  private error(client: GenericClient, message: string): void {
    this.counts.errors++
    noteRefusal(this.opts.log, client, `request refused: ${message}`)
    this.reply(client, {type: 'error', message})
  }

  /** Close a client for a protocol fault (counted in `errors`). */
  private closeFor(client: GenericClient, code: number, reason: string): void {
    this.counts.errors++
    client.ws.close(code, reason)
  }

  private onMessage(client: GenericClient, text: string, isBinary: boolean): void {
    client.lastSeen = Date.now()
    this.counts.received++
    if (isBinary) {
      this.closeFor(client, CLOSE_UNSUPPORTED_DATA, 'text frames only')
      return
    }
    let msg: unknown
    try {
      msg = JSON.parse(text)
    } catch {
      this.error(client, 'bad JSON')
      return
    }
    if (!isPlainObject(msg)) {
      this.error(client, `expected a JSON object, got ${jsonType(msg)}`)
      return
    }
    this.emit('request', client, msg)
    const type = msg.type
    if (typeof type !== 'string') {
      this.error(client, type === undefined ? 'missing type' : `type must be a string, got ${jsonType(type)}`)
      return
    }
    switch (type) {
      case 'ping':
        this.send(client, pongFor(msg))
        return
      case 'pong':
        client.pingSentAt = null // answers the server's ping (pingIntervalMs); no reply
        return
      case 'subscribe':
      case 'unsubscribe': {
        const channel = msg.channel
        if (typeof channel !== 'string' || channel === '') {
          this.error(client, 'missing channel')
          return
        }
        if (type === 'subscribe') {
          const refused =
            channel.length > GENERIC_MAX_CHANNEL_LENGTH
              ? `channel name too long (limit ${GENERIC_MAX_CHANNEL_LENGTH})`
              : !client.channels.has(channel) && client.channels.size >= this.opts.maxChannels
                ? `too many channels (limit ${this.opts.maxChannels})`
                : !this.exists(channel)
                  ? 'unknown channel'
                  : null
          if (refused) {
            this.counts.errors++
            // a refused name is not echoed whole: the reply stays small whatever the client sent
            this.reply(client, {type: 'subscription_result', channel: channel.slice(0, GENERIC_MAX_CHANNEL_LENGTH), success: false, message: refused})
            noteRefusal(this.opts.log, client, `subscription to ${JSON.stringify(channel.slice(0, GENERIC_MAX_CHANNEL_LENGTH))} refused: ${refused}`)
            return
          }
          const added = client.channels.has(channel) ? [] : [channel]
          client.channels.add(channel)
          // the result goes out before any broadcast of the channel (listeners of 'subscribe' may start one)
          this.reply(client, {type: 'subscription_result', channel, success: true})
          this.emit('subscribe', client, added)
        } else {
          const removed = client.channels.delete(channel) ? [channel] : []
          this.reply(client, {type: 'unsubscription_result', channel, success: true})
          this.emit('unsubscribe', client, removed)
        }
        return
      }
      default:
        this.error(client, `unknown type ${JSON.stringify(type)}`)
    }
  }

  private closeIdle(): void {
    const limit = Date.now() - this.opts.pingTimeoutMs
    for (const c of this.clients) {
      if (c.lastSeen < limit && c.ws.readyState === WebSocket.OPEN) {
        this.opts.log?.(`client ${c.id}: nothing received for ${this.opts.pingTimeoutMs} ms; closing with ${CLOSE_PING_TIMEOUT}`)
        this.closeFor(c, CLOSE_PING_TIMEOUT, 'ping timeout')
      }
    }
  }

  /** One text frame to every client (heartbeats). */
  private toAll(text: string): void {
    for (const c of this.clients) this.send(c, text)
  }

  /** A server ping to every client without one outstanding (an unanswered ping keeps its time). */
  private pingAll(): void {
    const now = Date.now()
    const text = JSON.stringify({type: 'ping', timestamp: now})
    for (const c of this.clients) {
      if (c.ws.readyState !== WebSocket.OPEN) continue
      c.pingSentAt ??= now
      this.send(c, text)
    }
  }

  private closeUnanswered(): void {
    const limit = Date.now() - this.opts.pongTimeoutMs
    for (const c of this.clients) {
      if (c.pingSentAt !== null && c.pingSentAt < limit && c.ws.readyState === WebSocket.OPEN) {
        this.opts.log?.(`client ${c.id}: no pong within ${this.opts.pongTimeoutMs} ms of a ping; closing with ${CLOSE_PING_TIMEOUT}`)
        this.closeFor(c, CLOSE_PING_TIMEOUT, PONG_TIMEOUT_REASON)
      }
    }
  }

  /**
   * Send one text frame to a client, applying the slow-client policy. Returns
   * false when the frame was not sent (client gone, dropped or disconnected).
   * `text` may be the frame's UTF-8 bytes (sent as a text frame, unchanged),
   * or a writer of them;
   * `cb` is called when the frame has been written to the socket.
   */
  send(client: GenericClient, text: Payload, cb?: (err?: Error) => void): boolean {
    if (!sendPoliced(this, this.opts, client, text, false, cb)) return false
    this.counts.sent++
    return true
  }

  /** Send a broadcast text (already encoded) to every client subscribed to `channel`; returns how many got it. */
  publish(channel: string, text: string): number {
    let n = 0
    for (const c of this.clients) if (c.channels.has(channel) && this.send(c, text)) n++
    return n
  }

  /** Encode and publish `{"type":event,"channel":channel,"data":data,"timestamp":timestamp}`. */
  broadcast(event: string, channel: string, data: unknown, timestamp: number = Date.now()): number {
    return this.publish(channel, JSON.stringify({type: event, channel, data, timestamp}))
  }

  protected override stopTimers(): void {
    for (const t of this.timers.splice(0)) clearInterval(t)
  }
}

/** The `{client_id}` of a request path `/ws/{client_id}` (one non-empty segment, percent-decoded), or null. */
export function clientIdOf(url: string | undefined): string | null {
  const m = /^\/ws\/([^/?#]+)(?:[?#]|$)/.exec(url ?? '')
  if (!m) return null
  try {
    return decodeURIComponent(m[1])
  } catch {
    return null
  }
}

/**
 * An origin as a browser sends it in `Origin` (RFC 6454: scheme, host and
 * port; WHATWG URL's `origin` serialization, so `https://App.example/` is
 * `https://app.example` and a default port is dropped), or a usage error
 * naming `flag` and the value: a value that is no origin would match no
 * client. `null` (what a sandboxed page sends) is kept as it is.
 */
export function originOf(value: string, flag: string): string {
  if (value === 'null') return value
  let url: URL | null = null
  try {
    url = new URL(value)
  } catch {}
  if (url === null || url.host === '' || url.origin === 'null') {
    throw new MdrecError('E_USAGE', `${flag} ${JSON.stringify(value)}: an origin is a scheme and a host (and a port), like https://app.example`)
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new MdrecError('E_USAGE', `${flag} ${JSON.stringify(value)}: an origin has no path, query or fragment; use ${url.origin}`)
  }
  return url.origin
}
