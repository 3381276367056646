import {WebSocket, type ClientOptions} from 'ws'

/**
 * A plain ws client that queues what it receives, with bounded waits (every
 * wait fails after its own limit, never hangs a test). `cleanups` gets a
 * terminate for the socket.
 */
export class QueueClient {
  /** Every message received, as text, in order. */
  readonly messages: string[] = []
  /** Indices in `messages` of binary frames (the generic protocol has none). */
  readonly binary = new Set<number>()
  closed: {code: number; reason: string} | null = null
  private waiters: Array<() => void> = []
  private read = 0
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d, isBinary) => {
      if (isBinary) this.binary.add(this.messages.length)
      this.messages.push(String(d))
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = {code, reason: reason.toString()}
      this.wake()
    })
    ws.on('error', () => {})
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Open a connection; rejects with the handshake's error (`Unexpected server response: 403`). */
  static async open(url: string, cleanups: Array<() => unknown>, opts: ClientOptions = {}): Promise<QueueClient> {
    const ws = new WebSocket(url, {perMessageDeflate: false, ...opts})
    cleanups.push(() => ws.terminate())
    const c = new QueueClient(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return c
  }

  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m))
  }

  async until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
    const end = Date.now() + ms
    while (!ok()) {
      const left = end - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** The next message (in order), as text; throws on a binary frame. */
  async next(ms = 5000): Promise<string> {
    await this.until(() => this.messages.length > this.read, 'a message', ms)
    if (this.binary.has(this.read)) throw new Error(`message ${this.read} is a binary frame; expected text`)
    return this.messages[this.read++]
  }

  /** Wait `ms`; throws when anything not yet read by {@link next} has arrived. */
  async quiet(ms = 150): Promise<void> {
    await new Promise((r) => setTimeout(r, ms))
    const extra = this.messages.slice(this.read)
    if (extra.length > 0) throw new Error(`expected nothing more, got ${JSON.stringify(extra)}`)
  }

  async nextJson(ms = 5000): Promise<Record<string, unknown>> {
    return JSON.parse(await this.next(ms)) as Record<string, unknown>
  }

  async closedWith(ms = 5000): Promise<{code: number; reason: string}> {
    await this.until(() => this.closed !== null, 'the close', ms)
    return this.closed!
  }
}

/** GET `url` on 127.0.0.1; resolves the status and the body parsed as JSON (null when not JSON). */
export async function getJson(url: string): Promise<{status: number; body: any}> {
  const res = await fetch(url)
  const text = await res.text()
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON
  }
  return {status: res.status, body}
}
