/**
 * Replay targets: where a timeline's rows go. Owns the {@link Target}
 * contract the timeline drives, its two implementations ({@link ClientTarget}
 * for `clock: 'connection'`, one client per timeline, parked at a gap and
 * taken over by a reconnect; {@link SharedTarget} for `clock: 'shared'`,
 * each row encoded once per wire variant and fanned out), the socket corking
 * (each target's {@link FrameBurst}, flushed by the timeline), backpressure
 * at 'max', and what a gap row does under `gaps: 'disconnect'` (see the
 * module comment of `engine.ts`, "Rows"). Reads the replay-wide state and
 * helpers of {@link Replayer} (its internal members) and parks
 * {@link Timeline}s there; imports both for their types only.
 */
import {FrameBurst} from '../feeds/emulator.js'
import type {GapInfo} from '../store/gap.js'
import type {EmulatorClient, PayloadWriter} from './feed.js'
import type {Replayer} from './replayer.js'
import type {MergedSource, ReplayBatch} from './rows.js'
import {Backpressure, nowNs} from './scheduler.js'
import type {Timeline} from './timeline.js'

const OPEN = 1 // WebSocket.OPEN
/** Close code for the clients of a gap under `gaps: 'disconnect'` (Service Restart: "come back later"). */
const GAP_CLOSE_CODE = 1012
/** A parked timeline (its client closed at a gap) waits this long past the gap for a reconnect. */
const RESUME_GRACE_NS = 10e9

/** What a {@link Timeline} hands its rows to (one per timeline). */
export interface Target {
  /** Send the current row of `src` (held in the target's burst until {@link flush}); `due` is its scheduled time (NaN at 'max'). */
  deliver(src: MergedSource, shiftNs: number, due: number): void
  /**
   * Encode the current (data) row of `src` now, before it is due, for the
   * receivers there are now, so that {@link deliver} of the same row (same
   * batch, row and shift) only writes. Changes nothing that is sent: deliver
   * still decides who gets the row, and encodes what was not prepared. An
   * encoder's error is left for deliver (the row fails its timeline when due).
   */
  prepare(src: MergedSource, shiftNs: number): void
  /** At 'max': a promise while the receivers cannot take more (or there is nobody to send to yet), else null. */
  drained(): Promise<void> | null
  /** Whether a row of `symbol` would go to anyone now. */
  wants(symbol: string): boolean
  /** Whether anyone is subscribed at all (at 'max': else wait for a subscription). */
  receptive(): boolean
  /** Frames sent so far. */
  readonly sent: number
  /** A gap row is due (only under `gaps: 'disconnect'`): close the receivers with 1012; `g` is the row's parsed `info` ({@link GapInfo}, fields absent when damaged). */
  gap(g: Partial<GapInfo>): void
  /**
   * Hand the frames held in the burst to the kernel; called before every await.
   * Frames are packed per socket ({@link FrameBurst}) and written when the
   * timeline next awaits: at 'max' at most `BURST` rows later; on a
   * timed schedule before it waits for the next due time (so rows due at the
   * same moment go out in one write) and every `CATCHUP_FLUSH` rows
   * while catching up (both in `timeline.ts`).
   */
  flush(): void
  /** The timeline has played everything: under `atEnd: 'close'` close the receivers with 1000. */
  end(): void
  /** The timeline stops: write what is held and release every wait (backpressure, a parked reconnect). */
  stop(): void
}

/** Connection clock: the rows go to one client (or nobody, while parked after a gap). */
export class ClientTarget implements Target {
  /** @internal The client the rows go to; null while parked after a gap (read by the Replayer to tell whose timeline ends). */
  client: EmulatorClient | null
  sent = 0
  private bp: Backpressure | undefined
  private readonly burst = new FrameBurst()
  private attachWait: {promise: Promise<void>; resolve: () => void} | null = null
  /** While parked at a gap: the closed client's subscriptions, for {@link resumableBy}. */
  private parkedAs: Subscriptions | null = null
  /** @internal Its timeline, set by the Replayer right after both are made (a gap parks it). */
  timeline!: Timeline<ClientTarget>
  /** The row encoded ahead by {@link prepare} (batch null: none), and its frame. */
  private readyBatch: ReplayBatch | null = null
  private readyRow = 0
  private readyShift = 0
  private readyVariant = 0
  private readyPayload: unknown = undefined

  constructor(
    private readonly r: Replayer,
    client: EmulatorClient,
  ) {
    this.client = client
    this.bp = r.speed === 'max' ? new Backpressure(client.ws, r.high, r.low) : undefined
  }

  deliver(src: MergedSource, shiftNs: number, due: number): void {
    const c = this.client
    if (c === null) return
    const b = src.batch
    const i = src.row
    if (!c.wants(b.symbol(i))) return
    const r = this.r
    const enc = r.encoders[b.fileIndex]
    let payload: unknown
    let w: PayloadWriter | null = null
    if (this.readyBatch === b && this.readyRow === i && this.readyShift === shiftNs && this.readyVariant === c.variant) {
      payload = this.readyPayload
      this.readyBatch = null
      this.readyPayload = undefined
    } else if (enc.writer !== undefined && r.emu.sendWritten !== undefined && !r.sharesFrames) {
      // a frame for this client alone: its payload is written straight into the burst, not made and copied there
      w = enc.writer(b, i, c.variant, shiftNs)
    } else payload = r.encodeShared(b, i, c.variant, shiftNs)
    this.burst.open()
    try {
      if (w !== null ? this.sendWritten(c, w, due) : r.send(c, payload, due, this.bp)) this.sent++
    } finally {
      this.burst.close()
    }
  }

  /** {@link Replayer.send} of a payload written in place (RowEncoder.writer; the emulator has sendWritten). */
  private sendWritten(c: EmulatorClient, w: PayloadWriter, due: number): boolean {
    const len = w.byteLength
    if (!this.r.emu.sendWritten!(c, w, this.bp?.callbackFor(len))) return false
    this.r.counted(c, len, due)
    return true
  }

  prepare(src: MergedSource, shiftNs: number): void {
    const c = this.client
    if (c === null) return
    const b = src.batch
    const i = src.row
    if (this.readyBatch === b && this.readyRow === i && this.readyShift === shiftNs && this.readyVariant === c.variant) return
    try {
      this.readyPayload = this.r.encodeShared(b, i, c.variant, shiftNs)
    } catch {
      this.readyBatch = null
      return // deliver encodes it again and fails the timeline when the row is due
    }
    this.readyBatch = b
    this.readyRow = i
    this.readyShift = shiftNs
    this.readyVariant = c.variant
  }

  wants(symbol: string): boolean {
    return this.client !== null && this.client.wants(symbol)
  }

  receptive(): boolean {
    // parked (no client): drained() waits for the reconnect
    return this.client === null || this.client.subscriptions > 0
  }

  flush(): void {
    this.burst.flush()
  }

  drained(): Promise<void> | null {
    if (this.client === null) {
      // 'max' while parked: wait for the reconnect rather than racing through the rows.
      if (!this.attachWait) {
        let resolve!: () => void
        const promise = new Promise<void>((res) => {
          resolve = res
        })
        this.attachWait = {promise, resolve}
      }
      return this.attachWait.promise
    }
    return this.bp && this.bp.blocked ? this.bp.drained() : null
  }

  gap(g: Partial<GapInfo>): void {
    const c = this.client
    if (c === null || this.r.p.gaps !== 'disconnect') return
    this.flush()
    const t = this.timeline
    this.r.log(`client ${c.id}: gap in the recording${gapWhen(g)}; closing with ${GAP_CLOSE_CODE}`)
    this.parkedAs = subscriptionsOf(c, this.timeline.recordedSymbols())
    this.r.emu.closeClient(c, GAP_CLOSE_CODE, 'gap in the recording')
    this.client = null
    this.bp = undefined
    this.r.wantsGen++
    {
      const gapNs = gapDurationNs(g)
      const speed = this.r.speed === 'max' ? Number.POSITIVE_INFINITY : this.r.speed
      t.parkedUntil = nowNs() + gapNs / speed + RESUME_GRACE_NS
      this.r.parked.push(t)
      if (this.r.speed === 'max') {
        const until = t.parkedUntil
        setTimeout(() => {
          if (this.client === null && t.parkedUntil === until) {
            t.stop()
            this.attachWait?.resolve()
          }
        }, (until - nowNs()) / 1e6).unref()
      }
    }
  }

  /** @internal Whether `c` is the client this timeline was parked for: same wire variant and same subscriptions (see Rows). */
  resumableBy(c: EmulatorClient): boolean {
    const was = this.parkedAs
    if (was === null || c.variant !== was.variant || c.subscriptions !== was.count) return false
    for (const [symbol, wanted] of was.wants) if (c.wants(symbol) !== wanted) return false
    return true
  }

  /** @internal A reconnect takes over this parked target (the Replayer, once `c`'s subscriptions have settled and {@link resumableBy} said yes). */
  attach(c: EmulatorClient): void {
    this.parkedAs = null
    this.client = c
    this.r.wantsGen++
    this.bp = this.r.speed === 'max' ? new Backpressure(c.ws, this.r.high, this.r.low) : undefined
    this.timeline.parkedUntil = Number.POSITIVE_INFINITY
    const w = this.attachWait
    this.attachWait = null
    w?.resolve()
  }

  end(): void {
    const c = this.client
    if (c && this.r.p.atEnd === 'close') this.r.emu.closeClient(c, 1000, 'end of recording')
  }

  stop(): void {
    this.flush()
    this.bp?.cancel()
    const w = this.attachWait
    this.attachWait = null
    w?.resolve()
  }
}

/** Shared clock: each row is encoded at most once per variant and fanned out to the subscribed clients. */
export class SharedTarget implements Target {
  sent = 0
  /** The current row's frame per wire variant (encoded by {@link prepare} or deliver); which row it is for (batch null: none). */
  private readonly cache: unknown[]
  private cacheBatch: ReplayBatch | null = null
  private cacheRow = 0
  private cacheShift = 0
  private readonly bps = new Map<EmulatorClient, Backpressure>()
  private readonly burst = new FrameBurst()

  constructor(private readonly r: Replayer) {
    this.cache = new Array(r.feed.variants.length).fill(undefined)
  }

  flush(): void {
    this.burst.flush()
  }

  deliver(src: MergedSource, shiftNs: number, due: number): void {
    const b = src.batch
    const i = src.row
    const sym = b.symbol(i)
    const cache = this.cache
    const enc = this.r.encoders[b.fileIndex]
    const max = this.r.speed === 'max'
    if (this.cacheBatch !== null && (this.cacheBatch !== b || this.cacheRow !== i || this.cacheShift !== shiftNs)) cache.fill(undefined)
    this.cacheBatch = null
    this.burst.open()
    try {
      for (const c of this.r.emu.clients) {
        if (!c.wants(sym)) continue
        let payload = cache[c.variant]
        if (payload === undefined) payload = cache[c.variant] = enc.encode(b, i, c.variant, shiftNs)
        if (this.r.send(c, payload, due, max ? this.bp(c) : undefined)) this.sent++
      }
    } finally {
      this.burst.close()
      cache.fill(undefined)
    }
  }

  prepare(src: MergedSource, shiftNs: number): void {
    const b = src.batch
    const i = src.row
    const cache = this.cache
    if (this.cacheBatch !== b || this.cacheRow !== i || this.cacheShift !== shiftNs) {
      cache.fill(undefined)
      this.cacheBatch = b
      this.cacheRow = i
      this.cacheShift = shiftNs
    }
    const sym = b.symbol(i)
    const enc = this.r.encoders[b.fileIndex]
    for (const c of this.r.emu.clients) {
      if (cache[c.variant] !== undefined || !c.wants(sym)) continue
      try {
        cache[c.variant] = enc.encode(b, i, c.variant, shiftNs)
      } catch {
        return // deliver encodes it again and fails the timeline when the row is due
      }
    }
  }

  wants(symbol: string): boolean {
    for (const c of this.r.emu.clients) if (c.wants(symbol)) return true
    return false
  }

  receptive(): boolean {
    for (const c of this.r.emu.clients) if (c.subscriptions > 0 && c.ws.readyState === OPEN) return true
    return false
  }

  private bp(c: EmulatorClient): Backpressure {
    let bp = this.bps.get(c)
    if (!bp) {
      bp = new Backpressure(c.ws, this.r.high, this.r.low)
      this.bps.set(c, bp)
      c.ws.once('close', () => this.bps.delete(c))
    }
    return bp
  }

  /**
   * At 'max' the shared timeline goes at the pace of its fastest reader: it
   * waits only while every open, subscribed client is above the high-water
   * mark, and then only until one of them drains or the subscriptions change
   * (a new client joins). A client that falls behind the others therefore
   * keeps receiving frames until its buffer passes `maxBufferedBytes`, where
   * the slow-client policy applies (1013, or dropped frames): one stalled
   * socket never holds the timeline for the others.
   */
  drained(): Promise<void> | null {
    let waits: Promise<void>[] | null = null
    for (const c of this.r.emu.clients) {
      if (c.subscriptions === 0 || c.ws.readyState !== OPEN) continue
      const bp = this.bp(c)
      if (!bp.blocked) return null
      ;(waits ??= []).push(bp.drained())
    }
    if (waits === null) return null
    return this.r.untilInterestOr(Promise.race(waits))
  }

  gap(g: Partial<GapInfo>): void {
    if (this.r.p.gaps !== 'disconnect') return
    this.flush()
    let n = 0
    for (const c of this.r.emu.clients) {
      this.r.emu.closeClient(c, GAP_CLOSE_CODE, 'gap in the recording')
      n++
    }
    this.r.log(`gap in the recording${gapWhen(g)}: closed ${n} clients with ${GAP_CLOSE_CODE}`)
  }

  end(): void {
    if (this.r.p.atEnd !== 'close') return
    for (const c of this.r.emu.clients) this.r.emu.closeClient(c, 1000, 'end of recording')
  }

  stop(): void {
    this.flush()
    for (const bp of this.bps.values()) bp.cancel()
  }
}

/** A client's subscriptions as far as the recording can tell: its wire variant, how many symbols, and which of the recording's symbols. */
interface Subscriptions {
  variant: number
  count: number
  wants: Map<string, boolean>
}

function subscriptionsOf(c: EmulatorClient, symbols: Iterable<string>): Subscriptions {
  const wants = new Map<string, boolean>()
  for (const s of symbols) wants.set(s, c.wants(s))
  return {variant: c.variant, count: c.subscriptions, wants}
}

/** A gap's length in ns (0 when its `duration_ms` is missing or not positive). */
function gapDurationNs(g: Partial<GapInfo>): number {
  const d = g.duration_ms
  return d !== undefined && d > 0 ? d * 1e6 : 0
}

/** ` (at <start>, <n> ms long)` for the log line, with the fields the gap row has ('' for none). */
function gapWhen(g: Partial<GapInfo>): string {
  const parts: string[] = []
  if (g.start !== undefined) parts.push(`at ${g.start}`)
  if (g.duration_ms !== undefined) parts.push(`${Math.round(g.duration_ms)} ms long`)
  return parts.length > 0 ? ` (${parts.join(', ')})` : ''
}
