import {EventEmitter} from 'node:events'
import {WebSocket, type RawData} from 'ws'

import type {FeedClientSpec} from '../feeds/contract.js'
import type {Frame} from '../feeds/types.js'
import {MonotonicUtcClock} from '../util/time.js'
import {MAX_FRAME_BYTES} from '../store/writer.js'

/** How one feed is spoken to, as far as the connection goes: the feeds' contract (src/feeds/contract.ts). */
export type {FeedClientSpec}

export interface SupervisorOptions {
  /** Reconnect when no frame (or pong) has arrived for this long. Default 60 s. */
  staleMs?: number
  /** First reconnect delay; doubles per failed attempt up to maxBackoffMs, ±50 % jitter. */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** A connection that lasts this long resets the backoff. Default 10 s. */
  stableMs?: number
  /** Protocol ping interval (liveness check). Default 15 s. */
  pingMs?: number
  clock?: MonotonicUtcClock
  /** Injected for deterministic tests. */
  random?: () => number
}

export type ConnectionState = 'connecting' | 'connected' | 'backoff' | 'stopped'

/**
 * A time the recording was not connected: from the loss (or, before the
 * first connection, from start()) to the next connection or to stop().
 */
export interface GapEvent {
  /** ns since the Unix epoch (the supervisor's clock). */
  startNs: bigint
  endNs: bigint
  /** Why: the loss's reason; before the first connection, `before the first connection: <first failure>`. */
  reason: string
  /** Connection attempts that failed during the outage (0 for a loss mended by the first retry). */
  attempts: number
  /** The last failed attempt's reason, when it differs from `reason`'s. */
  lastError?: string
  /** The gap ended because the recording stopped, not because a connection was made. */
  untilStop?: boolean
}

/**
 * Keeps one WebSocket subscription alive: connects, subscribes, re-sends the
 * subscription as the feed expects, detects a stale connection, and
 * reconnects with capped exponential backoff plus jitter. Every frame is
 * timestamped on arrival from a monotonic clock anchored to UTC.
 *
 * Every outage is one gap: a loss until the next connection, the time
 * from start() to the first connection when attempts failed before it, and
 * an outage still open at stop() (returned by stop(), ending then).
 *
 * Events: 'frame' (frame: Frame, recvNs: bigint), 'gap' (GapEvent),
 * 'state' (ConnectionState, detail?: string).
 */
export class ConnectionSupervisor extends EventEmitter {
  state: ConnectionState = 'connecting'
  /** Connections made again after a loss (successful reconnects). */
  reconnects = 0
  /** Connection attempts that failed (refused, DNS, handshake, timeout), over the whole run. */
  failedAttempts = 0
  /** The last reason a connection failed or was lost (unmasked: pass it through the feed's redact before showing it). */
  lastError: string | null = null
  /** Whether a connection was ever open. */
  everConnected = false
  /** Set while not connected (after a loss, or after the first attempt failed): when the gap began. */
  private gapStart: bigint | null = null
  private gapReason = ''
  private gapFailures = 0
  private gapLastError = ''
  /** When start() was called: the start of an outage before the first connection. */
  private startedNs: bigint | null = null
  /** Attempts since the last stable connection (drives the backoff). */
  private attempts = 0
  private ws: WebSocket | null = null
  private timers = new Set<NodeJS.Timeout>()
  private lastActivity = 0
  private stopped = false
  readonly clock: MonotonicUtcClock
  private readonly o: Required<Omit<SupervisorOptions, 'clock'>>

  constructor(
    readonly spec: FeedClientSpec,
    options: SupervisorOptions = {},
  ) {
    super()
    this.clock = options.clock ?? new MonotonicUtcClock()
    this.o = {
      staleMs: options.staleMs ?? 60_000,
      minBackoffMs: options.minBackoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      stableMs: options.stableMs ?? 10_000,
      pingMs: options.pingMs ?? 15_000,
      random: options.random ?? Math.random,
    }
  }

  start(): void {
    this.startedNs ??= this.clock.nowNs()
    this.connect()
  }

  private setState(s: ConnectionState, detail?: string): void {
    this.state = s
    this.emit('state', s, detail)
  }

  private timer(fn: () => void, ms: number, repeat = false): NodeJS.Timeout {
    const t = repeat ? setInterval(fn, ms) : setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
    return t
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  private connect(): void {
    if (this.stopped) return
    this.setState('connecting')
    this.attempts++
    let ws: WebSocket
    try {
      ws = this.spec.open ? this.spec.open() : new WebSocket(this.spec.url, {headers: this.spec.headers, handshakeTimeout: 15_000, maxPayload: MAX_FRAME_BYTES})
    } catch (error) {
      this.lost(`cannot connect: ${(error as Error).message}`, true)
      return
    }
    this.ws = ws
    ws.binaryType = 'nodebuffer'
    let opened = false
    ws.on('open', () => {
      opened = true
      const now = this.clock.nowNs()
      this.lastActivity = Date.now()
      for (const m of this.spec.subscribeMessages()) ws.send(m)
      if (this.gapStart !== null) this.emit('gap', this.closeGap(now, false))
      if (this.everConnected) this.reconnects++
      this.everConnected = true
      this.setState('connected')
      const attemptsAtOpen = this.attempts
      this.timer(() => {
        if (this.ws === ws && this.attempts === attemptsAtOpen) this.attempts = 0
      }, this.o.stableMs)
      if (this.spec.keepaliveMessages && this.spec.keepaliveMs) {
        this.timer(() => {
          if (ws.readyState === WebSocket.OPEN) for (const m of this.spec.keepaliveMessages!()) ws.send(m)
        }, this.spec.keepaliveMs, true)
      }
      this.timer(() => {
        if (ws.readyState !== WebSocket.OPEN) return
        if (Date.now() - this.lastActivity > this.o.staleMs) {
          ws.terminate()
          this.lost(`stale: no data for ${Math.round((Date.now() - this.lastActivity) / 1000)} s`)
          return
        }
        ws.ping()
      }, Math.min(this.o.pingMs, Math.max(50, this.o.staleMs / 2)), true)
    })
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const recvNs = this.clock.nowNs()
      this.lastActivity = Date.now()
      const frame: Frame = isBinary ? {data: toBytes(data), binary: true} : {data: String(data), binary: false}
      if (this.spec.control) {
        const c = this.spec.control(frame)
        if (typeof c === 'string') {
          ws.send(c)
          return
        }
        if (c) return
      }
      this.emit('frame', frame, recvNs)
    })
    ws.on('pong', () => {
      this.lastActivity = Date.now()
    })
    ws.on('error', (err) => {
      if (!opened) this.lost(`cannot connect: ${describe(err)}`, true)
      else if ((err as {code?: string}).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.lost(`the feed sent a message larger than ${MAX_FRAME_BYTES} bytes, the largest mdrec records`)
      }
    })
    ws.on('close', (code, reason) => {
      if (opened) this.lost(`closed by the feed (code ${code}${reason.length ? `, ${reason.toString()}` : ''})`)
      else this.lost(`cannot connect (code ${code})`, true)
    })
  }

  /** The connection was lost, or (`failedAttempt`) an attempt to make one failed: note the outage, retry after a backoff. */
  private lost(reason: string, failedAttempt = false): void {
    const ws = this.ws
    if (!ws) return
    this.ws = null
    ws.removeAllListeners('close')
    ws.removeAllListeners('message')
    ws.on('error', () => {})
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate()
    this.clearTimers()
    if (this.stopped) return
    this.lastError = reason
    if (this.gapStart === null) {
      // before the first connection the outage began when the recording did
      this.gapStart = this.everConnected ? this.clock.nowNs() : (this.startedNs ?? this.clock.nowNs())
      this.gapReason = this.everConnected ? reason : `before the first connection: ${reason}`
      this.gapFailures = 0
      this.gapLastError = ''
    }
    if (failedAttempt) {
      this.failedAttempts++
      this.gapFailures++
      this.gapLastError = reason
    }
    const exp = Math.min(this.o.maxBackoffMs, this.o.minBackoffMs * 2 ** Math.max(0, this.attempts - 1))
    const delay = Math.round(exp * (0.5 + this.o.random()))
    this.setState('backoff', `${reason}; retrying in ${delay} ms`)
    this.timer(() => this.connect(), delay)
  }

  /**
   * Send a message on the open connection (a feed changing its subscriptions
   * mid-session, e.g. KIS tiering); false when not connected. What
   * `subscribeMessages` returns on the next connect is the feed's business.
   */
  send(message: string | Uint8Array): boolean {
    const ws = this.ws
    if (!ws || this.state !== 'connected' || ws.readyState !== WebSocket.OPEN) return false
    ws.send(message)
    return true
  }

  /** Stop for good: closes the socket normally; reports an open gap ending now. */
  async stop(): Promise<GapEvent | null> {
    if (this.stopped) return null
    this.stopped = true
    this.clearTimers()
    const ws = this.ws
    this.ws = null
    if (ws) {
      ws.removeAllListeners('message')
      if (ws.readyState === WebSocket.OPEN) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            ws.terminate()
            resolve()
          }, 1000)
          ws.once('close', () => {
            clearTimeout(t)
            resolve()
          })
          ws.close(1000, 'mdrec stopping')
        })
      } else ws.terminate()
    }
    this.setState('stopped')
    if (this.gapStart === null && !this.everConnected && this.startedNs !== null) {
      // stopped while the first attempt was still under way: no data was possible either
      this.gapStart = this.startedNs
      this.gapReason = 'before the first connection: stopped while the first attempt was under way'
      this.gapFailures = 0
      this.gapLastError = ''
    }
    return this.gapStart === null ? null : this.closeGap(this.clock.nowNs(), true)
  }

  private closeGap(endNs: bigint, untilStop: boolean): GapEvent {
    const g: GapEvent = {startNs: this.gapStart!, endNs, reason: this.gapReason, attempts: this.gapFailures}
    if (this.gapLastError && !this.gapReason.endsWith(this.gapLastError)) g.lastError = this.gapLastError
    if (untilStop) g.untilStop = true
    this.gapStart = null
    return g
  }
}

function toBytes(d: RawData): Uint8Array {
  if (Buffer.isBuffer(d)) return d
  if (Array.isArray(d)) return Buffer.concat(d)
  return new Uint8Array(d as ArrayBuffer)
}

/** `ECONNREFUSED 127.0.0.1:8765`, `ENOTFOUND example.com`: the code first, without node's syscall prefix (`connect `, `getaddrinfo `). */
function describe(err: Error): string {
  const e = err as NodeJS.ErrnoException
  if (!e.code) return e.message
  let msg = e.message ?? ''
  if (e.syscall && msg.startsWith(`${e.syscall} `)) msg = msg.slice(e.syscall.length + 1)
  return msg.startsWith(e.code) ? msg : `${e.code}${msg && !msg.includes(e.code) ? ` ${msg}` : ''}`
}
