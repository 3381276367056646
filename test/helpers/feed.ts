import {encodeFrame} from '../../src/feeds/yahoo/codec.js'
import {YahooServer} from '../../src/feeds/yahoo/server.js'
import {syntheticYahooTape} from '../../src/feeds/yahoo/synthetic.js'
import type {PricingData} from '../../src/feeds/yahoo/types.js'

/** A local Yahoo feed for recorder tests: publishes synthetic ticks to subscribed clients. */
export class TestFeed {
  readonly sent: PricingData[] = []
  private readonly tape: Generator<{data: PricingData}>
  constructor(
    public server: YahooServer,
    symbols: string[],
    seed = 1,
  ) {
    this.tape = syntheticYahooTape({frames: 10_000_000, symbols, seed})
  }
  static async start(symbols: string[], port = 0): Promise<TestFeed> {
    return new TestFeed(await YahooServer.listen({port}), symbols)
  }
  /** Next tick of the tape, sent to whoever subscribed; returns how many clients got it. */
  publishNext(): number {
    const {data} = this.tape.next().value as {data: PricingData}
    const n = this.server.publish(data.id!, {v1: () => encodeFrame(data, 'v1'), v2: () => encodeFrame(data, 'v2')})
    if (n > 0) this.sent.push(data)
    return n
  }
  /** Send a raw text frame to every client (non-canonical or malformed input). */
  sendRaw(text: string): void {
    for (const c of this.server.clients) this.server.send(c, text)
  }
  waitForSubscribe(timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no subscription arrived')), timeoutMs)
      this.server.once('subscribe', () => {
        clearTimeout(t)
        resolve()
      })
    })
  }
  /** Wait until every client's socket has handed all queued frames to the kernel. */
  async drained(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ([...this.server.clients].every((c) => c.ws.bufferedAmount === 0)) return
      await sleep(10)
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
