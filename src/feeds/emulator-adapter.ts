/**
 * The common half of every feed's emulator adapter: a feed's server seen
 * through the replay engine's {@link Emulator} interface (src/feeds/contract.ts).
 */
import {EventEmitter} from 'node:events'

import type {Emulator, EmulatorClient} from './contract.js'

/** What an emulator adapter needs of a feed's server: its client events, address and shutdown. */
export interface FeedServerLike<SC> extends EventEmitter {
  readonly host: string
  readonly port: number
  close(code: number, reason: string): Promise<void>
  on(event: 'connection' | 'disconnect', listener: (client: SC) => void): this
  on(event: 'subscribe' | 'unsubscribe' | 'slow', listener: (client: SC, keys?: string[]) => void): this
}

/**
 * A feed server seen through the engine's {@link Emulator} interface: keeps
 * the server-client → engine-client map and forwards the client events. A
 * feed supplies how to wrap its clients, its URLs and how to send; it may
 * override `forward` (e.g. to hold back a subscription) and `dropped`.
 */
export abstract class EmulatorAdapter<SC extends object, C extends EmulatorClient> extends EventEmitter implements Emulator {
  protected readonly byClient = new Map<SC, C>()
  constructor(
    protected readonly srv: FeedServerLike<SC>,
    wrap: (client: SC) => C,
  ) {
    super()
    srv.on('connection', (sc: SC) => {
      const c = wrap(sc)
      this.byClient.set(sc, c)
      this.emit('connection', c)
    })
    for (const event of ['subscribe', 'unsubscribe', 'slow'] as const) srv.on(event, (sc: SC, keys?: string[]) => this.forward(event, sc, keys))
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
  closeClient(client: EmulatorClient, code: number, reason: string): void {
    client.ws.close(code, reason)
  }
  close(code: number, reason: string): Promise<void> {
    return this.srv.close(code, reason)
  }
  abstract url(variant: number): string
  abstract send(client: EmulatorClient, payload: string | Uint8Array, cb?: () => void): boolean
}
