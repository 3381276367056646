import {EventEmitter} from 'node:events'
import {WebSocket, type RawData} from 'ws'

import type {Frame} from '../feeds/types.js'
import {MonotonicUtcClock} from '../util/time.js'
import {MAX_FRAME_BYTES} from '../store/writer.js'

/** How one feed is spoken to, as far as the connection goes. Feed adapters provide it. */
export interface FeedClientSpec {
  readonly feed: string
  /** URL to connect to (may carry query parameters the feed needs). */
  readonly url: string
  /** Extra upgrade headers (e.g. Authorization); never logged or recorded. */
  readonly headers?: Record<string, string>
  /** Messages sent after every (re)connect to subscribe everything. */
  subscribeMessages(): Array<string | Uint8Array>
  /** Messages the feed expects periodically to keep the subscription alive. */
  keepaliveMessages?(): Array<string | Uint8Array>
  readonly keepaliveMs?: number
  /**
   * Frames that belong to the protocol, not the data (acks, heartbeats):
   * return a reply to send, true to swallow it, or false to record it.
   */
  control?(frame: Frame): string | boolean
}

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

export interface GapEvent {
  startNs: bigint
  endNs: bigint
  reason: string
  attempts: number
}

/**
 * Keeps one WebSocket subscription alive: connects, subscribes, re-sends the
 * subscription as the feed expects, detects a stale connection, and
 * reconnects with capped exponential backoff plus jitter. Every frame is
 * timestamped on arrival from a monotonic clock anchored to UTC.
 *
 * Events: 'frame' (frame: Frame, recvNs: bigint), 'gap' (GapEvent),
 * 'state' (ConnectionState, detail?: string).
 */
export class ConnectionSupervisor extends EventEmitter {
  state: ConnectionState = 'connecting'
  reconnects = 0
  /** Set while disconnected after having been connected: when the gap began. */
  private gapStart: bigint | null = null
  private gapReason = ''
  private attempts = 0
  private ws: WebSocket | null = null
  private timers = new Set<NodeJS.Timeout>()
  private lastActivity = 0
  private everConnected = false
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
      ws = new WebSocket(this.spec.url, {headers: this.spec.headers, handshakeTimeout: 15_000, maxPayload: MAX_FRAME_BYTES})
    } catch (error) {
      this.lost(`cannot connect: ${(error as Error).message}`)
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
      if (this.gapStart !== null) {
        this.emit('gap', {startNs: this.gapStart, endNs: now, reason: this.gapReason, attempts: this.attempts} satisfies GapEvent)
        this.gapStart = null
      }
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
      if (!opened) this.lost(`cannot connect: ${describe(err)}`)
      else if ((err as {code?: string}).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.lost(`the feed sent a message larger than ${MAX_FRAME_BYTES} bytes, the largest mdrec records`)
      }
    })
    ws.on('close', (code, reason) => {
      if (opened) this.lost(`closed by the feed (code ${code}${reason.length ? `, ${reason.toString()}` : ''})`)
      else this.lost(`cannot connect (code ${code})`)
    })
  }

  private lost(reason: string): void {
    const ws = this.ws
    if (!ws) return
    this.ws = null
    ws.removeAllListeners('close')
    ws.removeAllListeners('message')
    ws.on('error', () => {})
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate()
    this.clearTimers()
    if (this.stopped) return
    if (this.everConnected && this.gapStart === null) {
      this.gapStart = this.clock.nowNs()
      this.gapReason = reason
    }
    const exp = Math.min(this.o.maxBackoffMs, this.o.minBackoffMs * 2 ** Math.max(0, this.attempts - 1))
    const delay = Math.round(exp * (0.5 + this.o.random()))
    this.setState('backoff', `${reason}; retrying in ${delay} ms`)
    this.timer(() => this.connect(), delay)
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
    if (this.gapStart !== null) {
      const g: GapEvent = {startNs: this.gapStart, endNs: this.clock.nowNs(), reason: this.gapReason, attempts: this.attempts}
      this.gapStart = null
      return g
    }
    return null
  }
}

function toBytes(d: RawData): Uint8Array {
  if (Buffer.isBuffer(d)) return d
  if (Array.isArray(d)) return Buffer.concat(d)
  return new Uint8Array(d as ArrayBuffer)
}

function describe(err: Error): string {
  const e = err as NodeJS.ErrnoException
  return e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` ${e.message}` : ''}` : e.message
}
