/**
 * A minimal KIS real-time client: fetch an approval key, register TRs, and
 * collect what the server sends. For tests, benchmarks and smoke checks
 * against the emulator or `mdrec replay` (mdrec's recorder is the full
 * client). Every wait is bounded.
 */
import {WebSocket} from 'ws'

import {KIS_APPROVAL_PATH} from './adapter.js'
import {requestText} from './codec.js'
import {MdrecError} from '../../errors.js'
import {connectUrl, sanitizeEndpoint} from '../../util/redact.js'

export class KisProbe {
  readonly messages: string[] = []
  /** Whether each message arrived as a binary frame (KIS sends text only). */
  readonly binary: boolean[] = []
  closed: {code: number; reason: string} | null = null
  private waiters: Array<() => void> = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d, isBinary) => {
      this.messages.push(String(d))
      this.binary.push(isBinary)
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = {code, reason: reason.toString()}
      this.wake()
    })
    ws.on('error', () => {})
  }

  /** Connect to `url` (its fragment dropped); a URL ws refuses is reported in its sanitized form, never echoed. */
  static connect(url: string, timeoutMs = 5000): Promise<KisProbe> {
    let ws: WebSocket
    try {
      ws = new WebSocket(connectUrl(url), {perMessageDeflate: false, handshakeTimeout: timeoutMs})
    } catch {
      return Promise.reject(new MdrecError('E_USAGE', `invalid KIS WebSocket URL "${sanitizeEndpoint(url)}": expected ws:// or wss://`))
    }
    const p = new KisProbe(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(p))
      ws.once('error', reject)
    })
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Wait until `pred` holds for the messages so far; rejects after `timeoutMs`. */
  async until(pred: (msgs: string[]) => boolean, timeoutMs = 5000, what = 'a condition'): Promise<void> {
    const end = Date.now() + timeoutMs
    while (!pred(this.messages)) {
      const left = end - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; ${this.messages.length} messages, last: ${this.messages.slice(-2).join(' | ').slice(0, 300)}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Send `text` and return the next message, parsed as JSON. */
  async request(text: string, timeoutMs = 5000): Promise<Record<string, any>> {
    const n = this.messages.length
    this.ws.send(text)
    await this.until((m) => m.length > n, timeoutMs, `an answer to ${text.slice(0, 80)}`)
    return JSON.parse(this.messages[n]) as Record<string, any>
  }

  /** Register (tr_type "1") or unregister ("2"); returns the ack. */
  register(approvalKey: string, trId: string, trKey: string, trType: '1' | '2' = '1'): Promise<Record<string, any>> {
    return this.request(requestText(approvalKey, trType, trId, trKey))
  }

  /** Data frames received (neither acks nor PINGPONG). */
  data(): string[] {
    return this.messages.filter((m) => !m.startsWith('{'))
  }

  /** Close and wait (bounded) for the close to complete. */
  async close(): Promise<void> {
    if (this.closed) return
    this.ws.close()
    await this.until(() => this.closed !== null, 3000, 'the close').catch(() => this.ws.terminate())
  }
}

/** POST {restBase}/oauth2/Approval with `body` (an object, or a raw string); the status and the parsed answer. */
export async function postApproval(restBase: string, body: unknown, timeoutMs = 5000): Promise<{status: number; json: any}> {
  const res = await fetch(`${restBase}${KIS_APPROVAL_PATH}`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  })
  const text = await res.text()
  let json: unknown = text
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON: the text
  }
  return {status: res.status, json}
}
