import {EventEmitter} from 'node:events'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import {WebSocket, WebSocketServer, type RawData} from 'ws'

import {isPlainObject, jsonType, pongFor} from './codec.js'
import {addressOf, answerClosesPromptly, closeGracefully, listenOn, sendPoliced} from '../emulator.js'


/** Close code for a binary client frame (RFC 6455 §7.4.1: "an endpoint that understands only text data MAY send this"). */
export const CLOSE_UNSUPPORTED_DATA = 1003
/** Close code for a client message over `maxPayload` (ws closes with it, as Python's websockets does at its 1 MiB max_size). */
export const CLOSE_TOO_BIG = 1009
/** Close code for a client silent past `pingTimeoutMs` (what Python's websockets uses for a keepalive timeout). */
export const CLOSE_PING_TIMEOUT = 1011
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
  log?: (line: string) => void
}

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
 *
 * The server never pings on its own (the protocol has only client pings);
 * WebSocket protocol pings are answered by ws. Broadcasts are
 * `{"type":<event>,"channel":C,"data":…,"timestamp":…}` sent with
 * {@link publish} to the clients subscribed to C. Used by `mdrec replay` and
 * by tests that need a feed to record from.
 *
 * Events: 'connection' (client), 'subscribe' (client, added channels: empty
 * for a re-subscribe), 'unsubscribe' (client, removed channels), 'request'
 * (client, parsed message), 'disconnect' (client), 'slow' (client): the
 * slow-client policy closed it with 1013.
 */
export class GenericServer extends EventEmitter {
  readonly clients = new Set<GenericClient>()
  private nextId = 1
  private sweep: NodeJS.Timeout | null = null
  private readonly exists: (channel: string) => boolean

  private constructor(
    readonly http: Server,
    readonly wss: WebSocketServer,
    private readonly opts: {pingTimeoutMs: number; maxChannels: number; maxBufferedBytes: number; slowClient: 'disconnect' | 'drop'; log?: (l: string) => void},
    channels: GenericServerOptions['channels'],
  ) {
    super()
    if (typeof channels === 'function') this.exists = channels
    else if (channels) {
      const set = new Set(channels)
      this.exists = (c) => set.has(c)
    } else this.exists = () => true
    if (opts.pingTimeoutMs > 0) {
      const every = Math.max(20, Math.min(1000, opts.pingTimeoutMs / 4))
      this.sweep = setInterval(() => this.closeIdle(), every)
      this.sweep.unref()
    }
  }

  static async listen(options: GenericServerOptions = {}): Promise<GenericServer> {
    const http = createServer((req, res) => {
      res.writeHead(426, {'content-type': 'text/plain'})
      res.end('Upgrade to a WebSocket: this is a generic channel JSON server emulator\n')
    })
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD
    const wss = new WebSocketServer({server: http, perMessageDeflate: false, maxPayload})
    const srv = new GenericServer(
      http,
      wss,
      {
        pingTimeoutMs: options.pingTimeoutMs ?? 0,
        maxChannels: options.maxChannels ?? GENERIC_MAX_CHANNELS,
        maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
        slowClient: options.slowClient ?? 'disconnect',
        log: options.log,
      },
      options.channels,
    )
    wss.on('connection', (ws, req) => srv.accept(ws, req))
    await listenOn(http, wss, options.port, options.host)
    return srv
  }

  get port(): number {
    return addressOf(this.http).port
  }

  get host(): string {
    return addressOf(this.http).host
  }

  url(): string {
    return `ws://${this.host}:${this.port}/`
  }

  private accept(ws: WebSocket, _req: IncomingMessage): void {
    answerClosesPromptly(ws)
    const client: GenericClient = {id: this.nextId++, ws, channels: new Set(), dropped: 0, lastSeen: Date.now()}
    this.clients.add(client)
    this.emit('connection', client)
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(client, data, isBinary))
    ws.on('close', () => {
      this.clients.delete(client)
      this.emit('disconnect', client)
    })
    ws.on('error', (err) => {
      // a client's socket error ends that client only (ws closes it: 1009 for a message over maxPayload)
      this.opts.log?.(`client ${client.id}: ${err.message}`)
    })
  }

  private reply(client: GenericClient, msg: Record<string, unknown>): void {
    this.send(client, JSON.stringify(msg))
  }

  private error(client: GenericClient, message: string): void {
    this.reply(client, {type: 'error', message})
  }

  private onMessage(client: GenericClient, data: RawData, isBinary: boolean): void {
    client.lastSeen = Date.now()
    if (isBinary) {
      client.ws.close(CLOSE_UNSUPPORTED_DATA, 'text frames only')
      return
    }
    let msg: unknown
    try {
      msg = JSON.parse(String(data))
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
        return // a client answering a ping in kind: activity, no reply (this server never pings)
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
            // a refused name is not echoed whole: the reply stays small whatever the client sent
            this.reply(client, {type: 'subscription_result', channel: channel.slice(0, GENERIC_MAX_CHANNEL_LENGTH), success: false, message: refused})
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
        c.ws.close(CLOSE_PING_TIMEOUT, 'ping timeout')
      }
    }
  }

  /**
   * Send one text frame to a client, applying the slow-client policy. Returns
   * false when the frame was not sent (client gone, dropped or disconnected).
   * `text` may be the frame's UTF-8 bytes (sent as a text frame, unchanged);
   * `cb` is called when the frame has been written to the socket.
   */
  send(client: GenericClient, text: string | Uint8Array, cb?: (err?: Error) => void): boolean {
    return sendPoliced(this, this.opts, client, text, false, cb)
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

  /** Close every client connection (code 1000 normal by default). */
  closeClients(code = 1000, reason = ''): void {
    for (const c of this.clients) c.ws.close(code, reason)
  }

  /** Drop every client at once, without a close handshake (a network failure). */
  terminateClients(): void {
    for (const c of this.clients) c.ws.terminate()
  }

  /**
   * Close every client with `code`, stop listening, and resolve once all
   * connections are gone. Clients that do not finish the close handshake
   * within `graceMs` are cut off.
   */
  async close(code = 1001, reason = 'server shutting down', graceMs = 2000): Promise<void> {
    if (this.sweep) clearInterval(this.sweep)
    this.sweep = null
    await closeGracefully(this.http, this.wss, this.clients, code, reason, graceMs)
  }
}
