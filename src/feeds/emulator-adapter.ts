/**
 * The common half of every feed's emulator adapter: a feed's server seen
 * through the replay engine's {@link Emulator} interface (src/feeds/contract.ts):
 * the engine's view of the server's clients, the client events,
 * address, close paths and frame sizes. A feed supplies what differs: how a
 * client's variant, subscription count and interest in a symbol are read, its
 * URLs, and how a frame is delivered.
 */
import {EventEmitter} from 'node:events'
import type {WebSocket} from 'ws'

import type {Emulator, EmulatorClient, EmulatorOptions, PayloadWriter} from './contract.js'
import type {Payload} from './emulator.js'

/** What the engine reads of a feed server's client. */
export interface ServerClient {
  readonly id: number
  readonly ws: WebSocket
  /** Frames dropped for this client by the 'drop' slow-client policy. */
  readonly dropped: number
}

/** What an emulator adapter needs of a feed's server: its client events, address and shutdown. */
export interface FeedServerLike<SC> extends EventEmitter {
  readonly host: string
  readonly port: number
  close(code: number, reason: string): Promise<void>
  on(event: 'connection' | 'disconnect', listener: (client: SC) => void): this
  on(event: 'subscribe' | 'unsubscribe' | 'slow', listener: (client: SC, keys?: string[]) => void): this
  /** What a client wants changed for a reason other than a subscription (see the contract's {@link Emulator} events). */
  on(event: 'interest', listener: () => void): this
}

/** The server options every emulator takes from the engine's {@link EmulatorOptions} (address, slow-client policy, log). */
export function serverOptions(o: EmulatorOptions): Pick<EmulatorOptions, 'host' | 'port' | 'maxBufferedBytes' | 'slowClient' | 'log'> {
  return {host: o.host, port: o.port, maxBufferedBytes: o.maxBufferedBytes, slowClient: o.slowClient, log: o.log}
}

/** How the engine reads a feed server's clients, and the URL of each wire variant. */
export interface ClientView<SC> {
  /** Index into the feed's variants of the wire format `sc` asked for. */
  variant(sc: SC): number
  /** How many symbols `sc` is subscribed to. */
  subscriptions(sc: SC): number
  /** Whether a row of `symbol` goes to `sc` now (see {@link EmulatorClient.wants}): when it depends on more than `sc`'s subscriptions, the server emits 'interest' as that changes. */
  wants(sc: SC, symbol: string): boolean
  /** The URL a client uses to get `variant`. */
  url(variant: number): string
}

/** A server client as the engine sees it: reads go to the client and to its feed's {@link ClientView} (one class for every feed). */
export class AdaptedClient<SC extends ServerClient> implements EmulatorClient {
  readonly id: number
  readonly ws: WebSocket
  constructor(
    readonly sc: SC,
    private readonly view: ClientView<SC>,
  ) {
    this.id = sc.id
    this.ws = sc.ws
  }
  get variant(): number {
    return this.view.variant(this.sc)
  }
  get subscriptions(): number {
    return this.view.subscriptions(this.sc)
  }
  get dropped(): number {
    return this.sc.dropped
  }
  wants(symbol: string): boolean {
    return this.view.wants(this.sc, symbol)
  }
}

/** The length {@link Emulator.size} counts for a payload (UTF-16 units of a string, bytes otherwise). */
export function payloadSize(p: string | Uint8Array): number {
  return typeof p === 'string' ? p.length : p.byteLength
}

/**
 * A feed server seen through the engine's {@link Emulator} interface: keeps
 * the server-client → engine-client map and forwards the client events. A
 * feed supplies how its clients are read ({@link ClientView}), and how a
 * frame of type `F` is delivered and what it weighs (or uses
 * {@link PayloadAdapter} or {@link MessageAdapter}); it may override
 * `forward` (e.g. to hold back a subscription) and `dropped`.
 */
export abstract class EmulatorAdapter<SC extends ServerClient, F> extends EventEmitter implements Emulator<F> {
  protected readonly byClient = new Map<SC, AdaptedClient<SC>>()
  constructor(
    protected readonly srv: FeedServerLike<SC>,
    protected readonly view: ClientView<SC>,
  ) {
    super()
    srv.on('connection', (sc: SC) => {
      const c = new AdaptedClient(sc, view)
      this.byClient.set(sc, c)
      this.emit('connection', c)
    })
    for (const event of ['subscribe', 'unsubscribe', 'slow'] as const) srv.on(event, (sc: SC, keys?: string[]) => this.forward(event, sc, keys))
    srv.on('interest', () => this.emit('interest'))
    srv.on('disconnect', (sc: SC) => {
      this.dropped(sc)
      const c = this.byClient.get(sc)
      this.byClient.delete(sc)
      if (c) this.emit('disconnect', c)
    })
  }
  /** Pass a client event on to the engine. */
  protected forward(event: 'subscribe' | 'unsubscribe' | 'slow', sc: SC, keys?: string[]): void {
    const c = this.byClient.get(sc)
    if (c) this.emit(event, c, keys)
  }
  /** A server client went away (before the engine hears of it). */
  protected dropped(_sc: SC): void {}
  get host(): string {
    return this.srv.host
  }
  get port(): number {
    return this.srv.port
  }
  get clients(): Iterable<EmulatorClient> {
    return this.byClient.values()
  }
  url(variant: number): string {
    return this.view.url(variant)
  }
  closeClient(client: EmulatorClient, code: number, reason: string): void {
    client.ws.close(code, reason)
  }
  close(code: number, reason: string): Promise<void> {
    return this.srv.close(code, reason)
  }
  send(client: EmulatorClient, frame: F, cb?: () => void): boolean {
    return this.deliver((client as AdaptedClient<SC>).sc, frame, cb)
  }
  abstract size(frame: F): number
  /** Send `frame` to `sc` as its routing says (see {@link Emulator.send}). */
  protected abstract deliver(sc: SC, frame: F, cb?: () => void): boolean
}

/** A server whose `send` writes a payload to one client under the slow-client policy (Yahoo, generic). */
interface SendingServer<SC> extends FeedServerLike<SC> {
  send(client: SC, payload: Payload, cb?: () => void): boolean
}

/**
 * The emulator of a feed whose frame is its payload alone, routed by the
 * row's symbol (the engine asks {@link EmulatorClient.wants}): Yahoo, generic.
 * A payload may come as a {@link PayloadWriter} too ({@link sendWritten}).
 */
export class PayloadAdapter<SC extends ServerClient> extends EmulatorAdapter<SC, string | Uint8Array> {
  constructor(
    private readonly server: SendingServer<SC>,
    view: ClientView<SC>,
  ) {
    super(server, view)
  }
  size(frame: string | Uint8Array): number {
    return payloadSize(frame)
  }
  protected deliver(sc: SC, frame: string | Uint8Array, cb?: () => void): boolean {
    return this.server.send(sc, frame, cb)
  }
  sendWritten(client: EmulatorClient, payload: PayloadWriter, cb?: () => void): boolean {
    return this.server.send((client as AdaptedClient<SC>).sc, payload, cb)
  }
}

/** A frame the server routes itself: its routing facts and its payload bytes, the same for every client of a variant (Upbit, Binance). */
export interface BytesFrame {
  readonly bytes: Uint8Array
}

/** A server that routes a message (a frame's facts and a `payload` for the client) to one client: Upbit, Binance. */
interface RoutingServer<SC, F> extends FeedServerLike<SC> {
  deliver(client: SC, msg: Omit<F, 'bytes'> & {payload(): Uint8Array}, cb?: () => void): boolean
}

/** The emulator of a feed whose server routes each message ({@link BytesFrame}): Upbit, Binance. */
export class MessageAdapter<SC extends ServerClient, F extends BytesFrame> extends EmulatorAdapter<SC, F> {
  constructor(
    private readonly server: RoutingServer<SC, F>,
    view: ClientView<SC>,
  ) {
    super(server, view)
  }
  size(frame: F): number {
    return frame.bytes.byteLength
  }
  protected deliver(sc: SC, frame: F, cb?: () => void): boolean {
    return this.server.deliver(sc, {...frame, payload: () => frame.bytes}, cb)
  }
}
