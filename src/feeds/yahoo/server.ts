import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import type {WebSocket, WebSocketServer} from 'ws'

import {answerClosesPromptly, FeedServer, noteRefusal, sendPoliced, upgradeRequired, type Payload} from '../emulator.js'
import type {YahooEnvelope} from './types.js'


/** Default bound on one client's subscribed symbols. */
export const YAHOO_MAX_SYMBOLS = 1000
/** Longest symbol accepted (characters; Yahoo's are at most ~20, e.g. `EURUSD=X`, `BTC-USD`). */
export const YAHOO_MAX_SYMBOL_LENGTH = 64
/** Close code for a subscription past the bounds (Policy Violation: Yahoo has no error message to send). */
export const YAHOO_LIMIT_CLOSE = 1008

/** One connected client of the emulator. */
export interface YahooClient {
  readonly id: number
  readonly ws: WebSocket
  readonly envelope: YahooEnvelope
  readonly symbols: Set<string>
  /** Frames dropped for this client by the 'drop' slow-client policy. */
  dropped: number
}

export interface YahooServerOptions {
  host?: string
  port?: number
  /** Close a client whose JSON request does not parse (unverified Yahoo behaviour; default false: ignore it). */
  closeOnBadJson?: boolean
  /** Largest client message accepted (bytes). Default 64 KiB. */
  maxPayload?: number
  /** Symbols one client may be subscribed to at once (default {@link YAHOO_MAX_SYMBOLS}); past it the client is closed with 1008. */
  maxSymbols?: number
  /** Per-client send buffer limit before the slow-client policy applies. Default 8 MiB. */
  maxBufferedBytes?: number
  /** What happens to a client that stops reading: close it with 1013 (default) or drop frames for it. */
  slowClient?: 'disconnect' | 'drop'
  log?: (line: string) => void
}

/**
 * The Yahoo streamer's server side, as clients see it: text frames, the v1
 * (bare base64) or v2 (`{"type":"pricing","message":…}`) envelope chosen by
 * the client's `?version=`, `{"subscribe":[…]}` / `{"unsubscribe":[…]}`, no
 * acknowledgements, re-subscribes harmless. Used by `mdrec replay` and by tests
 * that need a feed to record from.
 *
 * Bounds: a client may hold `maxSymbols` (1,000) symbols of at most
 * {@link YAHOO_MAX_SYMBOL_LENGTH} characters; a subscribe past either is
 * closed with 1008 and a reason naming the limit (the protocol has no error
 * message). Messages are at most `maxPayload` (64 KiB; larger: 1009).
 *
 * Events: 'connection' (client), 'subscribe' (client, added symbols),
 * 'unsubscribe' (client, symbols), 'disconnect' (client), 'slow' (client):
 * the slow-client policy closed it with 1013.
 */
export class YahooServer extends FeedServer<YahooClient> {
  private constructor(
    http: Server,
    wss: WebSocketServer,
    private readonly opts: Required<Omit<YahooServerOptions, 'log' | 'host' | 'port'>> & {log?: (l: string) => void},
  ) {
    super(http, wss)
  }

  static async listen(options: YahooServerOptions = {}): Promise<YahooServer> {
    const maxPayload = options.maxPayload ?? 64 * 1024
    return FeedServer.start({...options, maxPayload}, (http, wss) =>
      new YahooServer(http, wss, {
        closeOnBadJson: options.closeOnBadJson ?? false,
        maxPayload,
        maxSymbols: options.maxSymbols ?? YAHOO_MAX_SYMBOLS,
        maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
        slowClient: options.slowClient ?? 'disconnect',
        log: options.log,
      }),
    )
  }

  protected override onHttp(_req: IncomingMessage, res: ServerResponse): void {
    upgradeRequired(res, 'a Yahoo streamer emulator')
  }

  /** URL clients should use: `?version=2` gives the v2 JSON envelope. */
  url(version: 1 | 2 = 2): string {
    return `ws://${this.host}:${this.port}/${version === 2 ? '?version=2' : ''}`
  }

  protected accept(ws: WebSocket, req: IncomingMessage): void {
    answerClosesPromptly(ws)
    const q = new URL(req.url ?? '/', 'http://x').searchParams
    const client: YahooClient = {
      id: this.nextId++,
      ws,
      envelope: q.get('version') === '2' ? 'v2' : 'v1',
      symbols: new Set(),
      dropped: 0,
    }
    this.admit(client, {message: (text) => this.onRequest(client, text)})
  }

  private onRequest(client: YahooClient, text: string): void {
    let msg: unknown
    try {
      msg = JSON.parse(text)
    } catch {
      noteRefusal(this.opts.log, client, `ignored a message that is not JSON${this.opts.closeOnBadJson ? '; closing with 1003' : ''}`)
      if (this.opts.closeOnBadJson) client.ws.close(1003, 'bad JSON')
      return
    }
    const m = (typeof msg === 'object' && msg !== null ? msg : {}) as {subscribe?: unknown; unsubscribe?: unknown}
    if (!Array.isArray(m.subscribe) && !Array.isArray(m.unsubscribe)) {
      // as Yahoo's streamer does; a subscribe is {"subscribe": ["AAPL", …]}
      return noteRefusal(this.opts.log, client, 'ignored a message with no "subscribe" or "unsubscribe" list (Yahoo takes {"subscribe": ["AAPL", …]})')
    }
    if (Array.isArray(m.subscribe)) {
      const added: string[] = []
      for (const s of m.subscribe) {
        if (typeof s !== 'string' || s === '') continue
        if (s.length > YAHOO_MAX_SYMBOL_LENGTH) return this.refuse(client, `symbol longer than ${YAHOO_MAX_SYMBOL_LENGTH} characters`)
        if (!client.symbols.has(s)) {
          if (client.symbols.size >= this.opts.maxSymbols) return this.refuse(client, `more than ${this.opts.maxSymbols} symbols subscribed`)
          client.symbols.add(s)
          added.push(s)
        }
      }
      // Always emitted, even when nothing is new: a keep-alive re-subscribe is an event too.
      this.emit('subscribe', client, added)
    }
    if (Array.isArray(m.unsubscribe)) {
      const removed = m.unsubscribe.filter((s): s is string => typeof s === 'string' && client.symbols.delete(s))
      this.emit('unsubscribe', client, removed)
    }
  }

  /** Close a client whose subscription passes a bound (see the class comment); what it subscribed before stays until then. */
  private refuse(client: YahooClient, reason: string): void {
    this.opts.log?.(`client ${client.id}: ${reason}; closing with ${YAHOO_LIMIT_CLOSE}`)
    client.ws.close(YAHOO_LIMIT_CLOSE, reason)
  }

  /**
   * Send one text frame to a client, applying the slow-client policy. Returns
   * false when the frame was not sent (client gone, dropped or disconnected).
   * `text` may be the frame's UTF-8 bytes (sent as a text frame, unchanged),
   * or a writer of them;
   * `cb` is called when the frame has been written to the socket.
   */
  send(client: YahooClient, text: Payload, cb?: (err?: Error) => void): boolean {
    return sendPoliced(this, this.opts, client, text, false, cb)
  }

  /** Send a frame (already in each envelope) to every client subscribed to `symbol`. */
  publish(symbol: string, frames: {v1: () => string; v2: () => string}): number {
    let n = 0
    let v1: string | undefined
    let v2: string | undefined
    for (const c of this.clients) {
      if (!c.symbols.has(symbol)) continue
      const text = c.envelope === 'v2' ? (v2 ??= frames.v2()) : (v1 ??= frames.v1())
      if (this.send(c, text)) n++
    }
    return n
  }

}
