/**
 * Upbit's documented WebSocket request limits, as the emulator enforces them
 * (docs.upbit.com "요청 수 제한(Rate Limits)" and the English
 * "Request Rate Limit" guide, docs-e.upbit.com/docs/user-request-guide):
 *
 * - connection requests: 5 per second (and 100 per minute in the older
 *   figures, kept here), counted per IP without authentication and per
 *   account (access key) with it;
 * - data requests (messages a client sends after connecting): 5 per second
 *   and 100 per minute, counted per connection;
 * - requests that carry an `Origin` header: 1 per 10 s (Upbit's policy for
 *   browser-originated quotation and WebSocket requests).
 *
 * Over a limit Upbit answers HTTP 429 (a connection) or an error object
 * (a message); the emulator does the same (see server.ts). Upbit's
 * temporary block (HTTP 418 after repeated violations) is not emulated.
 *
 * Hand-written: a sliding log of the last `max` accepted times per key is a
 * dozen lines and takes an injected clock (tests hold time still); the
 * npm limiters (token buckets) answer a different question (a burst of 5
 * then one per 200 ms), which is not how Upbit counts.
 */

/** One limit: at most `max` events in any `windowMs`. */
export interface Window {
  readonly max: number
  readonly windowMs: number
}

export const UPBIT_CONNECT_LIMITS: readonly Window[] = [
  {max: 5, windowMs: 1000},
  {max: 100, windowMs: 60_000},
]
export const UPBIT_MESSAGE_LIMITS: readonly Window[] = [
  {max: 5, windowMs: 1000},
  {max: 100, windowMs: 60_000},
]
export const UPBIT_ORIGIN_LIMITS: readonly Window[] = [{max: 1, windowMs: 10_000}]

/** Accepted event times of one key, checked against every window. */
export class SlidingLimit {
  private readonly times: number[] = []
  private readonly keep: number
  constructor(private readonly windows: readonly Window[]) {
    this.keep = Math.max(...windows.map((w) => w.max))
  }

  /** Record an event at `now` (ms) if every window allows it; false when over a limit (the event is not counted). */
  take(now: number): boolean {
    const t = this.times
    for (const w of this.windows) {
      if (t.length < w.max) continue
      // the w.max-th most recent accepted event: inside the window means one more is too many
      if (now - t[t.length - w.max] < w.windowMs) return false
    }
    t.push(now)
    if (t.length > this.keep) t.splice(0, t.length - this.keep)
    return true
  }

  /** Whether no window holds an event any more at `now` (the key can be forgotten). */
  idle(now: number): boolean {
    const last = this.times[this.times.length - 1]
    return last === undefined || now - last >= Math.max(...this.windows.map((w) => w.windowMs))
  }
}

/** {@link SlidingLimit}s by key (IP, access key), bounded: idle keys are dropped, and at most `maxKeys` are held. */
export class KeyedLimits {
  private readonly byKey = new Map<string, SlidingLimit>()
  constructor(
    private readonly windows: readonly Window[],
    private readonly maxKeys = 10_000,
  ) {}

  take(key: string, now: number): boolean {
    let l = this.byKey.get(key)
    if (!l) {
      if (this.byKey.size >= this.maxKeys) for (const [k, v] of this.byKey) if (v.idle(now)) this.byKey.delete(k)
      // still full: the oldest key goes (its window is the least likely to matter)
      if (this.byKey.size >= this.maxKeys) this.byKey.delete(this.byKey.keys().next().value as string)
      l = new SlidingLimit(this.windows)
      this.byKey.set(key, l)
    }
    return l.take(now)
  }
}
