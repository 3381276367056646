/**
 * The Replayer: the state of one replay. Owns the emulator's events
 * (connection, subscribe, unsubscribe, disconnect, slow client), the
 * timelines it makes (one per connection or the shared one) and the settle
 * rule that starts them, parked timelines and their takeover by a reconnect,
 * the readers (a warm spare for the next connection, the decoded batches
 * shared by every timeline) and the payloads encoded once for all of them,
 * the idle waits, sending with its accounting, the counters, the stats and
 * summary, and closing. `engine.ts` (`replay()`) makes one and returns its
 * {@link ReplayHandle}. Members without `private` that are documented
 * `@internal` are read or written by `timeline.ts` and `targets.ts`.
 */
import {MdrecError, isMdrecError} from '../errors.js'
import {nsToIso} from '../util/time.js'
import {plural} from '../util/units.js'
import type {Emulator, EmulatorClient, ReplayFeed, RowEncoder} from './feed.js'
import type {Prepared, ReplayOptions} from './options.js'
import {MergedSource, RowClass, SHARED_BATCH_BUDGET, SharedBatches, type ReplayBatch} from './rows.js'
import {LatencyHistogram, SETTLE_CAP_FACTOR, Waker, nowNs, type Backpressure} from './scheduler.js'
import {ClientTarget, SharedTarget} from './targets.js'
import {closingLine, playedLine, startLine} from './summary.js'
import {Timeline, type WarmSource} from './timeline.js'

/** Close code for the clients of a timeline that failed (a damaged file, …). */
const ERROR_CLOSE_CODE = 1011
/** Loop shifts whose encoded payloads a cached batch keeps (timelines in different plays of a loop). */
const MEMO_SHIFTS = 4

export interface ReplayStats {
  /** Clients connected now. */
  connected: number
  /** Connections accepted so far. */
  clients: number
  /** Timelines started (one per subscribed connection, or the shared one). */
  timelines: number
  /** Plays completed (across timelines). */
  plays: number
  framesSent: number
  bytesSent: number
  /** Frames not sent to a client by the 'drop' slow-client policy. */
  framesDropped: number
  /** Clients closed with 1013 by the 'disconnect' slow-client policy. */
  slowClientsClosed: number
  /** How far into the recording the most advanced timeline is (ms after its first row; null before any row). */
  positionMs: number | null
  /** Receive time of that row (ISO-8601, ns). */
  position: string | null
  /** Gap rows reached. */
  gaps: number
  /** Reject rows skipped. */
  rejects: number
  /** `clock: 'connection'`: record batches read and decoded from the files so far, shared by every timeline (a client alone reads each once per play). */
  batchesRead: number
  /** Decoded batches held for the timelines now, in bytes (with no timeline running: the first batch of each file and the one read ahead, kept for the next connection). */
  cacheBytes: number
  /** Lateness of sent frames (timed speeds only; null at 'max' or before the first frame). */
  p50LagMs: number | null
  p99LagMs: number | null
  maxLagMs: number | null
  elapsedMs: number
  /** Errors that ended a timeline early (a damaged file, …), so far. */
  errors: string[]
}

/** What a replay did, when it closed: its {@link ReplayStats} at the end. */
export type ReplaySummary = ReplayStats

export interface ReplayHandle {
  /** URL for clients: the recording's own wire variant (Yahoo: `?version=2` when recorded from v2). */
  readonly url: string
  /** URL for a given wire variant (Yahoo: 'v1' or 'v2'). */
  urlFor(variant: string): string
  readonly host: string
  readonly port: number
  readonly feed: string
  /** Resolves when the replay has played everything (`clock: 'shared'`) or when the handle is closed (`'connection'`). Rejects if the shared timeline fails. */
  readonly done: Promise<ReplaySummary>
  /** Close every client (code 1000) and the server; resolves the summary. Idempotent. */
  close(): Promise<ReplaySummary>
  stats(): ReplayStats
}

/**
 * One replay: made by `replay()` with the checked options and a listening
 * emulator; {@link begin}, then {@link handle} for the caller, {@link close}
 * to end it.
 */
export class Replayer {
  /** @internal The timelines' waits for a due time (Timeline). */
  readonly waker = new Waker()
  private readonly hist = new LatencyHistogram()
  /** @internal One encoder per recording, by file index (SharedTarget, and {@link encodeShared}). */
  readonly encoders: RowEncoder[]
  /** @internal Multiplier of the recorded pace, or 'max' (Timeline, targets). */
  readonly speed: number | 'max'
  /** @internal Plays per timeline: 1 + loop (Infinity: until closed) (Timeline). */
  readonly plays: number
  /** @internal Status lines (Timeline, targets). */
  readonly log: (line: string) => void
  private readonly onLateness: ReplayOptions['onLateness']
  private readonly started = nowNs()
  private readonly timelines = new Set<Timeline>()
  private readonly runs = new Set<Promise<void>>()
  /** Connection clock: the timeline of each client. */
  private readonly byClient = new Map<EmulatorClient, Timeline<ClientTarget>>()
  /** @internal Connection clock: timelines whose client was closed at a gap, waiting for a reconnect (ClientTarget.gap adds them). */
  readonly parked: Timeline<ClientTarget>[] = []
  private shared: Timeline | null = null
  /** Shared clock: clients whose first subscription has been logged, and how many of them subscribed before it started. */
  private readonly joinedShared = new WeakSet<EmulatorClient>()
  private earlyShared = 0
  private readonly errors: string[] = []
  private closing: Promise<ReplaySummary> | null = null
  private closed = false
  private resolveDone!: (s: ReplaySummary) => void
  private rejectDone!: (e: unknown) => void
  private doneSettled = false
  private readonly done: Promise<ReplaySummary>
  /** @internal Backpressure high- and low-water marks at 'max', in bytes (targets). */
  readonly high: number
  readonly low: number
  // counters
  private connections = 0
  private timelinesStarted = 0
  /** @internal Counters the timelines add to: plays completed, gap rows reached, reject rows skipped. */
  playsDone = 0
  private framesSent = 0
  private bytesSent = 0
  private droppedGone = 0
  private slowClosed = 0
  gapsReached = 0
  rejects = 0
  /** Timelines waiting for their subscriptions to settle: when the window started, and its timer. */
  private readonly settling = new Map<Timeline, {first: number; timer: NodeJS.Timeout}>()
  /** Idle timelines waiting for a subscription change (see Idle). */
  private readonly idle = new Set<() => void>()
  /** @internal Changes of who can receive what (subscribe, unsubscribe, the emulator's 'interest', disconnect, a client parked at a gap or taken back): the timelines' receiver masks are recomputed after each, and a loop play that handed its receivers no row waits for one (Timeline). */
  wantsGen = 0
  /** @internal First and furthest receive times reached by any timeline (progress display; the timelines write them). */
  firstTs: bigint | null = null
  furthestTs: bigint | null = null

  constructor(
    /** @internal The checked options and the recordings (Timeline, targets). */
    readonly p: Prepared,
    /** @internal The feed's emulator: its clients, closing them (targets). */
    readonly emu: Emulator,
    o: ReplayOptions,
  ) {
    this.encoders = p.recs.map((f) => p.feed.encoder(f))
    this.batchCache = p.clock === 'connection' ? p.recs.map((f, k) => new SharedBatches(f, k, {from: p.from, to: p.to}, SHARED_BATCH_BUDGET, this.waker.pauser())) : null
    this.speed = p.speed
    this.plays = p.loop === true ? Number.POSITIVE_INFINITY : 1 + p.loop
    this.log = o.log ?? (() => {})
    this.onLateness = o.onLateness
    this.high = Math.max(16 * 1024, Math.min(1024 * 1024, Math.floor(p.maxBufferedBytes / 2)))
    this.low = Math.floor(this.high / 4)
    this.done = new Promise<ReplaySummary>((resolve, reject) => {
      this.resolveDone = resolve
      this.rejectDone = reject
    })
    this.done.catch(() => {}) // the caller may only ever call close()
  }

  /** @internal The recordings' feed (SharedTarget: its wire variants). */
  get feed(): ReplayFeed {
    return this.p.feed
  }

  /** Connection clock: a reader whose first rows are already read, for the next connection (see {@link warmSource}). */
  private spare: WarmSource | null = null

  /**
   * @internal (Timeline's constructor.) A reader with its first read
   * started. In `clock: 'connection'` one is kept ready for the next
   * connection, so its timeline can start the moment its subscriptions
   * settle instead of after the first batch is read and decompressed (tens
   * of ms for a large batch, on the event loop). The spare is read when the
   * replay starts and again when a client disconnects, not when one
   * connects: reading it then would hold up that client's own first frames.
   */
  warmSource(): WarmSource {
    if (this.p.clock !== 'connection') return this.freshSource()
    const s = this.spare ?? this.freshSource()
    this.spare = null
    return s
  }

  private refillSpare(): void {
    if (this.p.clock === 'connection' && this.spare === null && !this.closed) this.spare = this.freshSource()
  }

  /** Encode the first row once for every wire variant and drop it: the encoders' code is then warm when the first client's first frame is due. */
  private warmEncoders(w: WarmSource): void {
    void w.first.then(
      (ok) => {
        if (!ok) return
        const b = w.source.batch
        const i = w.source.row
        if (b.rowClass(i) !== RowClass.data) return
        try {
          for (let v = 0; v < this.feed.variants.length; v++) this.encoders[b.fileIndex].encode(b, i, v, 0)
        } catch {
          // a row the encoder rejects fails its timeline when it is due, not here
        }
      },
      () => {},
    )
  }

  private freshSource(): WarmSource {
    const abort = new AbortController()
    const source = this.openSource(abort.signal)
    const first = Promise.resolve(source.next())
    first.catch(() => {}) // surfaces when the timeline runs
    return {abort, source, first}
  }

  /** @internal A new merged reader of the recordings over the range (Timeline: each loop play after the first). */
  openSource(signal: AbortSignal): MergedSource {
    return new MergedSource(this.p.recs, {from: this.p.from, to: this.p.to, signal, shared: this.batchCache ?? undefined, pauser: () => this.waker.pauser()})
  }

  /**
   * Connection clock: the decoded batches of each file, shared by every
   * timeline (and loop play) instead of each reading and decompressing the
   * files on its own; with no timeline running, emptied but for the next
   * connection's warm start (see releaseIfIdle).
   */
  private readonly batchCache: SharedBatches[] | null

  /**
   * @internal (ClientTarget.)
   * Connection clock: the frame of batch row `i` for `variant`, encoded once
   * for every timeline that plays the same (cached) batch with the same loop
   * shift, kept with the batch (for the last {@link MEMO_SHIFTS} shifts) and
   * freed with it. Without the cache (shared clock: one timeline), or while
   * only one timeline runs ({@link sharesFrames} false), it is simply encoded.
   */
  encodeShared(b: ReplayBatch, i: number, variant: number, shiftNs: number): unknown {
    const enc = this.encoders[b.fileIndex]
    // One timeline: nobody to share with, and a payload kept per row (a view of the recorded bytes, or a string) until the
    // batch goes would fill the old generation: at 'max' the garbage collector then cost more than the sending (0.93 s per 500k frames).
    if (!this.sharesFrames) return enc.encode(b, i, variant, shiftNs)
    const memo = (b.memo ??= new Map())
    let byVariant = memo.get(shiftNs)
    if (byVariant === undefined) {
      if (memo.size >= MEMO_SHIFTS) memo.delete(memo.keys().next().value!)
      byVariant = []
      memo.set(shiftNs, byVariant)
    }
    const rows = (byVariant[variant] ??= new Array<unknown>(b.batch.numRows))
    let p = rows[i]
    if (p === undefined) p = rows[i] = enc.encode(b, i, variant, shiftNs)
    return p
  }

  /** @internal Whether {@link encodeShared} keeps frames for other timelines now (else ClientTarget may have a payload written in place). */
  get sharesFrames(): boolean {
    return this.batchCache !== null && this.timelines.size > 1
  }

  /** Batches read from the files so far by the shared caches (connection clock), and the decoded bytes they hold now. */
  private cacheStats(): {reads: number; heldBytes: number} {
    let reads = 0
    let heldBytes = 0
    for (const c of this.batchCache ?? []) {
      reads += c.reads
      heldBytes += c.heldBytes
    }
    return {reads, heldBytes}
  }

  /**
   * No timeline left: empty the shared cache, then read the next
   * connection's warm start again (its first batch and the one ahead, as
   * when the replay started). A spare read before the reset would otherwise
   * keep batches the cache no longer counts, and one read after it would
   * fill the cache again: either way what the cache held with no client
   * depended on whether a client left before or after its play ended.
   */
  private releaseIfIdle(): void {
    if (this.timelines.size > 0 || !this.batchCache) return
    for (const c of this.batchCache) c.reset()
    this.dropSpare()
    this.refillSpare()
  }

  private dropSpare(): void {
    if (!this.spare) return
    this.spare.abort.abort()
    void this.spare.source.close()
    this.spare = null
  }

  async begin(): Promise<void> {
    const emu = this.emu
    emu.on('connection', (c: EmulatorClient) => this.onConnection(c))
    emu.on('subscribe', (c: EmulatorClient) => this.onSubscribe(c))
    emu.on('disconnect', (c: EmulatorClient) => this.onDisconnect(c))
    emu.on('unsubscribe', () => this.wantsGen++)
    emu.on('interest', () => {
      this.wantsGen++
      this.wakeIdle()
    })
    emu.on('slow', () => this.slowClosed++)
    this.refillSpare()
    if (this.spare) {
      this.warmEncoders(this.spare)
      // The first client's timeline can start the moment it subscribes: its first batch is read and
      // prepared before replay() resolves (a read error still surfaces when a timeline runs).
      await this.spare.first.catch(() => undefined)
    }
    if (this.p.clock === 'shared') {
      const t = new Timeline(this, new SharedTarget(this))
      this.shared = t
      // Read the first batch now: a file that cannot be read fails replay() itself.
      await t.prefetch()
      this.launch(t)
    }
    this.log(startLine({...this.p, feed: this.feed.name, url: this.url(this.feed.recordedVariant(this.p.recs[0]))}))
  }

  private url(variant: number): string {
    return this.emu.url(variant)
  }

  private onConnection(c: EmulatorClient): void {
    this.connections++
    this.log(`client ${c.id} connected (${this.feed.variants[c.variant]})`)
    if (this.p.clock !== 'connection' || this.closed) return
    const target = new ClientTarget(this, c)
    const t = new Timeline(this, target)
    target.timeline = t
    this.byClient.set(c, t)
    t.prepareFirst()
  }

  private onSubscribe(c: EmulatorClient): void {
    if (this.closed) return
    this.wantsGen++
    this.wakeIdle()
    if (c.subscriptions === 0) return
    if (this.p.clock === 'shared') {
      const t = this.shared!
      const first = !this.joinedShared.has(c)
      this.joinedShared.add(c)
      if (!t.begun) {
        t.prepareFirst()
        if (first) this.log(`client ${c.id} subscribed: the shared timeline starts once subscriptions settle`)
        this.startWhenSettled(t, `the shared timeline starts (${plural((this.earlyShared += first ? 1 : 0), 'client')} subscribed)`)
      } else if (first) this.log(`client ${c.id} subscribed: joins the shared timeline at ${this.furthestTs === null ? 'its start' : nsToIso(this.furthestTs)}`)
      return
    }
    const own = this.byClient.get(c)
    if (!own || own.begun) return
    this.startWhenSettled(own, `client ${c.id} subscribed: its timeline ${own.id} starts`, () => {
      // A reconnect after a gap takes over its parked timeline instead of starting the recording again (see Rows).
      const parked = this.parked.find((t) => !t.stopped && t.target.resumableBy(c))
      if (parked) {
        this.unpark(parked)
        own.stop()
        this.byClient.set(c, parked)
        parked.target.attach(c)
        this.log(`client ${c.id} subscribed: continues timeline ${parked.id} after its gap (same subscriptions)`)
        return false
      }
      this.launch(own)
      return true
    })
  }

  /**
   * The settle rule (module comment): (re)start `t`'s quiet window; start it
   * when the window passes or the cap is reached, after `settled` (if given)
   * has said yes.
   */
  private startWhenSettled(t: Timeline, line: string, settled?: () => boolean): void {
    const settleNs = this.p.settleMs * 1e6
    const s = this.settling.get(t)
    const now = nowNs()
    const first = s?.first ?? now
    if (s) clearTimeout(s.timer)
    const waitNs = Math.max(0, Math.min(settleNs, first + SETTLE_CAP_FACTOR * settleNs - now))
    const go = () => {
      this.settling.delete(t)
      if (t.stopped || t.begun || this.closed) return
      if (settled && !settled()) return
      this.log(line)
      t.start()
    }
    if (waitNs === 0) go()
    else this.settling.set(t, {first, timer: setTimeout(go, Math.ceil(waitNs / 1e6))})
  }

  /** @internal (Timeline.) Resolves at the next subscription change, or when a timeline stops or the replay closes. */
  interest(): Promise<void> {
    return new Promise<void>((resolve) => this.idle.add(resolve))
  }

  /** @internal (Timeline.) Resolves at monotonic time `untilNs` (a plain timer: no spin) or at the next subscription change, whichever is first. */
  idleUntil(untilNs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.idle.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, Math.floor((untilNs - nowNs()) / 1e6)))
      this.idle.add(done)
    })
  }

  /** @internal (SharedTarget.) Resolves when `p` does or at the next subscription change, whichever is first (the waiter is removed either way). */
  untilInterestOr(p: Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.idle.delete(done)
        resolve()
      }
      this.idle.add(done)
      void p.then(done, done)
    })
  }

  /** @internal Resolve every idle wait ({@link interest}, {@link idleUntil}, {@link untilInterestOr}): a subscription (or the emulator's 'interest') changed, a timeline stopped (Timeline), or the replay closes. */
  wakeIdle(): void {
    if (this.idle.size === 0) return
    const all = [...this.idle]
    this.idle.clear()
    for (const w of all) w()
  }

  private onDisconnect(c: EmulatorClient): void {
    this.droppedGone += c.dropped
    this.wantsGen++
    this.log(`client ${c.id} disconnected`)
    this.refillSpare()
    const t = this.byClient.get(c)
    this.byClient.delete(c)
    if (t && t.target.client === c) t.stop()
  }

  private launch(t: Timeline): void {
    this.timelinesStarted++
    this.timelines.add(t)
    const run = t.run().then(
      () => this.timelineEnded(t),
      (error) => this.timelineFailed(t, error),
    )
    this.runs.add(run)
    void run.finally(() => this.runs.delete(run))
  }

  private unpark(t: Timeline): void {
    const k = (this.parked as readonly Timeline[]).indexOf(t)
    if (k >= 0) this.parked.splice(k, 1)
  }

  private timelineEnded(t: Timeline): void {
    this.timelines.delete(t)
    this.releaseIfIdle()
    this.unpark(t)
    if (t.stopped) return
    const c = t === this.shared ? null : (t.target as ClientTarget).client
    if (c) this.log(playedLine(c.id, t.id, t.target.sent, this.p.atEnd))
    t.target.end()
    if (t === this.shared) {
      this.log(`the shared timeline has played everything (${plural(this.framesSent, 'frame')} sent)`)
      this.settle()
    }
  }

  private timelineFailed(t: Timeline, error: unknown): void {
    this.timelines.delete(t)
    this.releaseIfIdle()
    this.unpark(t)
    if (t.stopped || this.closed) return
    const e = isMdrecError(error) ? error : new MdrecError('E_INTERNAL', `replay failed: ${(error as Error)?.message ?? String(error)}`, {cause: error})
    this.errors.push(e.message)
    this.log(`error: ${e.message}`)
    t.target.stop()
    t.stop()
    if (t === this.shared) {
      for (const c of this.emu.clients) this.emu.closeClient(c, ERROR_CLOSE_CODE, 'replay error')
      if (!this.doneSettled) {
        this.doneSettled = true
        this.rejectDone(e)
      }
      void this.close()
    } else {
      const c = (t.target as ClientTarget).client
      if (c) this.emu.closeClient(c, ERROR_CLOSE_CODE, 'replay error')
    }
  }

  private settle(s?: ReplaySummary): void {
    if (this.doneSettled) return
    this.doneSettled = true
    this.resolveDone(s ?? this.summary())
  }

  /** @internal (targets.) Send one frame (the feed's, as its encoder made it) to one client, with accounting and lateness; false when not sent. */
  send(c: EmulatorClient, frame: unknown, due: number, bp: Backpressure | undefined): boolean {
    const len = this.emu.size(frame)
    if (!this.emu.send(c, frame, bp?.callbackFor(len))) return false
    this.counted(c, len, due)
    return true
  }

  /** @internal (targets.) Count a frame of size `len` sent to `c`, and its lateness (`due`: its due time, NaN at 'max'). */
  counted(c: EmulatorClient, len: number, due: number): void {
    this.framesSent++
    this.bytesSent += len
    if (due === due) {
      const late = nowNs() - due
      this.hist.record(late)
      this.onLateness?.(late, c.id)
    }
  }

  private stats(): ReplayStats {
    let connected = 0
    let dropped = this.droppedGone
    for (const c of this.emu.clients) {
      connected++
      dropped += c.dropped
    }
    const q = (x: number | null) => (x === null ? null : Math.round(x / 1000) / 1000)
    const cache = this.cacheStats()
    return {
      connected,
      clients: this.connections,
      timelines: this.timelinesStarted,
      plays: this.playsDone,
      framesSent: this.framesSent,
      bytesSent: this.bytesSent,
      framesDropped: dropped,
      slowClientsClosed: this.slowClosed,
      positionMs: this.firstTs === null || this.furthestTs === null ? null : Number(this.furthestTs - this.firstTs) / 1e6,
      position: this.furthestTs === null ? null : nsToIso(this.furthestTs),
      gaps: this.gapsReached,
      rejects: this.rejects,
      batchesRead: cache.reads,
      cacheBytes: cache.heldBytes,
      p50LagMs: q(this.hist.quantileNs(0.5)),
      p99LagMs: q(this.hist.quantileNs(0.99)),
      maxLagMs: this.hist.count === 0 ? null : q(this.hist.maxNs),
      elapsedMs: Math.round((nowNs() - this.started) / 1e6),
      errors: [...this.errors],
    }
  }

  private summary(): ReplaySummary {
    return this.stats()
  }

  close(): Promise<ReplaySummary> {
    this.closing ??= (async () => {
      this.closed = true
      for (const t of [...this.timelines, ...this.byClient.values(), ...this.parked]) {
        t.target.stop()
        t.stop()
      }
      this.shared?.stop()
      this.dropSpare()
      for (const s of this.settling.values()) clearTimeout(s.timer)
      this.settling.clear()
      this.waker.close()
      this.wakeIdle()
      for (const c of this.batchCache ?? []) c.reset()
      await this.emu.close(1000, 'replay closed')
      await Promise.allSettled([...this.runs])
      const s = this.summary()
      this.log(closingLine(s)) // settled with the same summary object: computed again, its elapsedMs could differ by a ms
      this.settle(s)
      return s
    })()
    return this.closing
  }

  handle(): ReplayHandle {
    const feed = this.feed
    const recorded = feed.recordedVariant(this.p.recs[0])
    return {
      url: this.url(recorded),
      urlFor: (variant: string) => {
        const v = feed.variants.indexOf(variant)
        if (v < 0) throw new MdrecError('E_USAGE', `unknown ${feed.name} wire variant "${variant}": use ${feed.variants.join(' or ')}`)
        return this.url(v)
      },
      host: this.emu.host,
      port: this.emu.port,
      feed: feed.name,
      done: this.done,
      close: () => this.close(),
      stats: () => this.stats(),
    }
  }
}
