/**
 * Replay timing: an absolute monotonic timeline, a shared waker that sleeps
 * with `setTimeout` until just before a due time, naps (a blocking sleep of
 * the thread, with a turn of the event loop between naps) up to the last
 * fraction of a ms and spins that, lateness statistics, and backpressure for
 * `speed: 'max'`.
 *
 * Frame i of a play is due at `t0 + (recv_ts_i − recv_ts_0) / speed` on the
 * monotonic clock. Due times are computed from the recording, never by adding
 * up sleeps, so timer lateness never accumulates: a late wake-up makes the
 * frames it covers late, and the frames after it are on time again.
 */
import type {WebSocket} from 'ws'

const ORIGIN_MS = performance.now()

/**
 * Monotonic time in ns since this module was loaded, as a whole number.
 * Built on `performance.now()` (process.hrtime's clock, CLOCK_MONOTONIC, as
 * a double in ms: to the ns for months), not on `process.hrtime.bigint()`:
 * the waker reads the clock in its spins, and a BigInt per read was most of
 * a 1x replay's garbage (a scavenge every ~35 ms at 5k frames/s, against one
 * every ~100 ms without).
 */
export function nowNs(): number {
  return Math.round((performance.now() - ORIGIN_MS) * 1e6)
}

/**
 * The settle rule (every feed): a timeline starts once its subscriptions
 * have been quiet for this long (ms), so a client that subscribes one symbol
 * per message a few ms apart (yfinance, ccxt) has all of them in before the
 * first row is due. Each subscribe message restarts the window.
 */
export const DEFAULT_SETTLE_MS = 100
/** The longest settle window (ms) a replay takes. */
export const MAX_SETTLE_MS = 60_000
/** A timeline starts at most this many settle windows after its first subscription, however chatty the client. */
export const SETTLE_CAP_FACTOR = 10

/** Sleep with setTimeout until this close to the due time (Node's timers fire up to 1 ms late, later on a loaded machine); nap and spin the rest. */
export const SPIN_NS = 2_000_000
/**
 * The last stretch before a due time, spun synchronously within one
 * turn (a loop on the clock, nothing else runs meanwhile): the next turn
 * could land past the due time. Every wait still resolves in a turn of the
 * event loop, never in the call itself, so a timeline yields to I/O at every
 * wait however dense its rows.
 */
export const SYNC_SPIN_NS = 200_000
/**
 * Longest nap: between {@link SPIN_NS} and {@link SYNC_SPIN_NS} before a due
 * time the thread sleeps (Atomics.wait) in naps of at most this long, with a
 * turn of the event loop (I/O, other timelines) between two naps; the last
 * nap ends {@link SYNC_SPIN_NS} before the due time.
 */
export const NAP_MAX_NS = 1_000_000
/** A stretch shorter than this is turned through (setImmediate) rather than napped: a nap wakes some 50-100 µs late (the kernel's timer slack). */
const NAP_MIN_NS = 50_000
/** What {@link nap} waits on: nothing ever notifies it, so a nap is a plain sleep of the thread. */
const NAP_CELL = new Int32Array(new SharedArrayBuffer(4))

/**
 * Block the thread for `ns` (≥ 0): Atomics.wait on a cell nobody notifies,
 * the one sub-ms sleep in Node (its timers count whole ms). A sleeping
 * thread costs no CPU, and on a loaded machine a thread woken from a sleep
 * gets the CPU back sooner than one that spun through its time slice (which
 * the scheduler preempts just as readily at the due time): so the last ms
 * before a due time is slept, not spun, and only {@link SYNC_SPIN_NS} is spun.
 *
 * Measured against the alternative (bench/replay.mjs client-timing, 5k
 * frames/s at 1x, this 2-core machine shared): spinning from 2 ms before a
 * due time (in 0.2 ms slices, a turn between) put the server's sends on time
 * (lateness p99 0.05-0.4 ms against 0.4-1.5 ms napping, ~500 involuntary
 * context switches per play against ~11,000: a woken nap waits 1-5 ms on the
 * run queue now and then), yet the client's arrivals came later (arrival
 * p99 1.77 and 1.79 ms against 1.45 and 1.37 napping, alternated runs;
 * arrival − send p99 1.5-2.6 ms against 0.9-1.1): the spinning thread holds
 * a core the client needs. Spinning the whole last 1.5 ms in one turn, as
 * the plain server does, gave the same: sends on time at the server (p99
 * 0.2 ms, ~500 switches), arrivals no better (p99 1.35-3.1 ms).
 *
 * Where the remaining tail comes from (`perf sched` on this 2-core VM,
 * Linux 6.18): a socket write wakes the client with a sync wakeup, which
 * the kernel places on the writer's CPU; the client then preempts this
 * thread (some 4,000 times per 3 s play at 5k frames/s), but almost always
 * briefly: over four plays, 17 of those waits passed 0.5 ms (25 ms in all).
 * The long waits are V8's own threads: ~220 preemptions, 59 waits over
 * 0.5 ms (147 ms in all, up to 6 ms), which make the late episodes (some 50
 * a play, 8-10 frames each, up to 4-5 ms late; the first row's too). They
 * are TurboFan compiling this send path again: V8 drops optimized code
 * that embeds an object once that object is collected (`--trace-deopt`:
 * "weak objects" at a full GC), and a play's batches, sockets and targets
 * die with it, so a replay's next play after a full GC recompiles (60-140
 * functions on V8's threads during the play). Tried, no better: those
 * threads at nice 19 (a 14 ms stall: the thread waited on a starved GC
 * helper), this thread at nice -10 (10,000 involuntary switches per play
 * down to 2,500, lateness the same), `--retain-maps-for-n-gc=1000` (the
 * same recompiles), V8's pool cut to one thread (`--v8-pool-size=1`:
 * p99 2.2-2.5 ms against the plain server's 1.8-2.0 in two runs, 5.0
 * against 3.8 in a third; within this VM's run-to-run noise). Only CPU affinity or the thread's scheduling attributes
 * (sched_setattr) would keep the V8 threads and the client off this CPU,
 * and Node has neither without a native addon.
 */
function nap(ns: number): void {
  Atomics.wait(NAP_CELL, 0, 0, ns / 1e6)
}

/**
 * A pause for a reader's work on the next batches (ReadOptions.pause, called
 * before each piece of it: a buffer decompressed, the batch built, its rows
 * selected, its ReplayBatch prepared): null to go on, or a Promise to await
 * first. A replay's readers use its waker's ({@link Waker.pauser}: pieces
 * run only while no row is due soon).
 */
export type ReadPause = () => Promise<void> | null

/**
 * The default {@link ReadPause} (a reader with no waker to ask): give the
 * event loop back (setImmediate) once {@link SLICE_NS} of work has passed
 * since the last time, so other work runs between the buffers of a batch
 * instead of waiting for all of it.
 */
export function slicePause(): ReadPause {
  let start = nowNs()
  const resume = (): void => {
    start = nowNs()
  }
  return () => (nowNs() - start < SLICE_NS ? null : new Promise<void>((resolve) => setImmediate(resolve)).then(resume))
}

interface Waiter {
  due: number
  resolve: () => void
  owner: object
}

/** A {@link Waker.slack} wait: released once no wait is due within `ns`, or at `until` (then `forced`). */
interface Slacker {
  ns: number
  until: number
  resolve: (forced: boolean) => void
}

/**
 * Background work (replay's reading and decoding of the next batches) runs
 * only while no row is due within this long (see {@link Waker.slack}): a
 * piece of it (one buffer decompressed, a batch built or prepared) takes up
 * to a few tenths of a ms.
 */
export const SLACK_NS = 500_000
/** Longest wait for {@link SLACK_NS} of slack: after it, background work runs one {@link SLICE_NS} slice anyway (dense rows leave no slack; the batch would otherwise come too late). */
export const SLACK_MAX_WAIT_NS = 5_000_000
/** Background work holds the event loop at most this long at a time (I/O, new clients, other timelines run between slices). */
export const SLICE_NS = 200_000

/**
 * Wakes timelines at their due times. One per replay: many timelines (one
 * per connection in `clock: 'connection'`) share one timer and one
 * wake-up loop instead of each spinning on its own.
 *
 * Precision: Node's timers fire 1 ms late or more, so a timer only brings us
 * to within {@link SPIN_NS} of the earliest due time. From there the thread
 * naps ({@link nap}, at most {@link NAP_MAX_NS} at a time, a turn of the
 * event loop between naps so I/O still runs) until {@link SYNC_SPIN_NS}
 * before it, then spins synchronously up to it (as a plain paced server
 * spins its last ms, but shorter). The spin is bounded: only the last
 * SYNC_SPIN_NS before a due time, a fraction of a ms per wake-up.
 */
export class Waker {
  private heap: Waiter[] = []
  private timer: NodeJS.Timeout | null = null
  private timerDue = Infinity
  private spinning = false
  private slackers: Slacker[] = []
  private slackTurn = false
  /** Timelines waiting for a batch to be read ({@link blocked}). */
  private blockedCount = 0

  /** Resolves at (or just after) monotonic time `due` (see {@link nowNs}), or when `cancel(owner)` is called. */
  wait(due: number, owner: object): Promise<void> {
    return new Promise<void>((resolve) => {
      this.push({due, resolve, owner})
      this.arm()
    })
  }

  /** Wake every wait of `owner` now (a timeline that is stopping). */
  cancel(owner: object): void {
    const keep: Waiter[] = []
    for (const w of this.heap) {
      if (w.owner === owner) w.resolve()
      else keep.push(w)
    }
    if (keep.length !== this.heap.length) {
      this.heap = []
      for (const w of keep) this.push(w)
    }
  }

  /** Wake everything and stop the timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const all = this.heap
    this.heap = []
    for (const w of all) w.resolve()
    const slack = this.slackers
    this.slackers = []
    for (const s of slack) s.resolve(true)
  }

  /**
   * A timeline waits for its next batch to be read: until `done()` is called,
   * reading is not background work any more (its pieces no longer wait for
   * slack, and the slack waits pending now are released at once).
   */
  blocked(): () => void {
    this.blockedCount++
    const all = this.slackers
    this.slackers = []
    for (const s of all) s.resolve(true)
    let once = false
    return () => {
      if (!once) this.blockedCount--
      once = true
    }
  }

  /** Whether no wait is due within `ns` of `now` (nothing waiting, or the earliest due time at least `ns` away). */
  clearFor(now: number, ns: number): boolean {
    return this.heap.length === 0 || this.heap[0].due - now >= ns
  }

  /**
   * For work that is not due at any time (reading and decoding the next
   * batches): resolves, in a later turn of the event loop, once no wait is
   * due within `ns` (false), or once `maxNs` has passed without such a
   * moment (true: forced). Between the timer and a due time the waker
   * releases it in place of a nap; it never turns the event loop by itself
   * while nothing is due (idle stays idle).
   */
  slack(ns: number, maxNs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.slackers.push({ns, until: nowNs() + maxNs, resolve})
      this.armSlack()
    })
  }

  /**
   * A pause for background work (ReadOptions.pause: called before each piece
   * of it): null (go on at once) while no row is due within
   * {@link SLACK_NS} and the current slice is under {@link SLICE_NS}, else a
   * {@link slack} wait, after which a new slice starts. A forced slice (no
   * slack came within {@link SLACK_MAX_WAIT_NS}) runs its whole
   * {@link SLICE_NS}. While a timeline waits for a batch ({@link blocked}),
   * slices follow one another with a turn of the event loop between them.
   * One per reader.
   */
  pauser(): ReadPause {
    let sliceStart = Number.NEGATIVE_INFINITY
    let forced = false
    const begin = (f: boolean): void => {
      sliceStart = nowNs()
      forced = f
    }
    const turn = (): Promise<boolean> => new Promise<boolean>((resolve) => setImmediate(() => resolve(true)))
    return () => {
      const now = nowNs()
      if (now - sliceStart < SLICE_NS && (forced || this.blockedCount > 0 || this.clearFor(now, SLACK_NS))) return null
      return (this.blockedCount > 0 ? turn() : this.slack(SLACK_NS, SLACK_MAX_WAIT_NS)).then(begin)
    }
  }

  /** Release the slack waits there is room for now (unless `expiredOnly`), or whose time is up; returns how many. */
  private releaseSlack(now: number, expiredOnly = false): number {
    const all = this.slackers
    if (all.length === 0) return 0
    let kept = 0
    for (const s of all) {
      if (!expiredOnly && this.clearFor(now, s.ns)) s.resolve(false)
      else if (now >= s.until) s.resolve(true)
      else all[kept++] = s
    }
    const n = all.length - kept
    all.length = kept
    return n
  }

  /** Look at the slack waits in the next turn, unless the wake-up loop (which looks at them every turn) runs. */
  private armSlack(): void {
    if (this.slackTurn || this.spinning || this.slackers.length === 0) return
    this.slackTurn = true
    setImmediate(() => {
      this.slackTurn = false
      this.releaseSlack(nowNs())
      // Left waiting: a row is due within their slack, so the timer is about to start the wake-up loop,
      // which releases them (or has started it meanwhile).
      if (this.slackers.length > 0 && !this.spinning && this.timer === null) this.armSlack()
    })
  }

  get pending(): number {
    return this.heap.length
  }

  private arm(): void {
    if (this.heap.length === 0 || this.spinning) return
    const due = this.heap[0].due
    const left = due - nowNs()
    if (left <= SPIN_NS) {
      if (this.timer) {
        clearTimeout(this.timer)
        this.timer = null
        this.timerDue = Infinity
      }
      this.spin()
      return
    }
    if (this.timer && this.timerDue <= due) return
    if (this.timer) clearTimeout(this.timer)
    this.timerDue = due
    this.timer = setTimeout(() => {
      this.timer = null
      this.timerDue = Infinity
      this.arm()
    }, Math.floor((left - SPIN_NS) / 1e6))
  }

  /** The time {@link resolveDue} last read (ns, {@link nowNs}). */
  private now = 0

  /** In a wake-up turn: spin synchronously up to the earliest due time if it is within {@link SYNC_SPIN_NS}, then resolve every waiter due by then (the time then in {@link now}); returns how many. */
  private resolveDue(): number {
    const h = this.heap
    let now = nowNs()
    if (h.length > 0 && h[0].due > now && h[0].due - now <= SYNC_SPIN_NS) {
      const due = h[0].due
      while (now < due) now = nowNs()
    }
    this.now = now
    let n = 0
    while (h.length > 0 && h[0].due <= now) {
      this.pop().resolve()
      n++
    }
    return n
  }

  /**
   * The wake-up loop, from {@link SPIN_NS} before the earliest due time: one
   * turn of the event loop (setImmediate) at a time. A turn resolves what is
   * due (spinning the last {@link SYNC_SPIN_NS}); one that resolved nothing
   * naps towards the earliest due time, and after the last nap spins to it
   * and resolves it in the same turn (another turn first could land past it).
   * A turn that resolved a waiter never naps: its timeline runs (a microtask
   * after the turn) and asks for its next row's wait before the next turn.
   */
  private spin(): void {
    this.spinning = true
    const turn = (): void => {
      const h = this.heap
      if (this.resolveDue() > 0) {
        // a timeline runs after this turn and asks for its next wait: whether there is slack is known next turn
        this.releaseSlack(this.now, true)
      } else if (h.length > 0) {
        const left = h[0].due - this.now
        // background work waiting for slack runs now (in this turn's microtasks) rather than a nap
        if (this.releaseSlack(this.now) > 0) {
          // its next turn comes after the work
        } else if (left > SYNC_SPIN_NS + NAP_MIN_NS && left <= SPIN_NS) {
          const last = left - SYNC_SPIN_NS <= NAP_MAX_NS
          nap(last ? left - SYNC_SPIN_NS : NAP_MAX_NS)
          if (last) this.resolveDue()
        }
      }
      if (h.length > 0 && h[0].due - this.now <= SPIN_NS) {
        setImmediate(turn)
        return
      }
      this.spinning = false
      this.arm()
      this.armSlack()
    }
    setImmediate(turn)
  }

  private push(w: Waiter): void {
    const h = this.heap
    h.push(w)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p].due <= w.due) break
      h[i] = h[p]
      i = p
    }
    h[i] = w
  }

  private pop(): Waiter {
    const h = this.heap
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      const n = h.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && h[r].due < h[l].due ? r : l
        if (h[c].due >= last.due) break
        h[i] = h[c]
        i = c
      }
      h[i] = last
    }
    return top
  }
}

/**
 * Lateness histogram (actual send time − scheduled time) in constant memory:
 * exact to the µs below 2.048 ms, then 128 sub-buckets per power of two
 * (< 0.8 % relative error), up to ~1.5 days.
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(LINEAR + 26 * SUB)
  count = 0
  maxNs = 0
  sumNs = 0

  record(ns: number): void {
    if (ns < 0) ns = 0
    this.count++
    this.sumNs += ns
    if (ns > this.maxNs) this.maxNs = ns
    this.counts[bucketOf(Math.floor(ns / 1000))]++
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i]
    this.count += other.count
    this.sumNs += other.sumNs
    if (other.maxNs > this.maxNs) this.maxNs = other.maxNs
  }

  /** The q-quantile (0..1) in ns (bucket upper bound, capped at the maximum), or null when empty. */
  quantileNs(q: number): number | null {
    if (this.count === 0) return null
    const want = Math.max(1, Math.ceil(q * this.count))
    let acc = 0
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i]
      if (acc >= want) return Math.min(bucketUpperUs(i) * 1000, this.maxNs)
    }
    return this.maxNs
  }

  summaryMs(): {p50: number; p99: number; max: number; mean: number} | null {
    if (this.count === 0) return null
    const r = (ns: number) => Math.round(ns / 1000) / 1000
    return {
      p50: r(this.quantileNs(0.5)!),
      p99: r(this.quantileNs(0.99)!),
      max: r(this.maxNs),
      mean: r(this.sumNs / this.count),
    }
  }
}

const LINEAR = 2048 // µs
const SUB = 128
const SUB_BITS = 7

function bucketOf(us: number): number {
  if (us < LINEAR) return us
  const e = Math.min(Math.floor(Math.log2(us)), 11 + 25) // 2^11 = LINEAR
  const sub = Math.min(SUB - 1, Math.floor(us / 2 ** (e - SUB_BITS)) - SUB)
  return LINEAR + (e - 11) * SUB + Math.max(0, sub)
}

function bucketUpperUs(i: number): number {
  if (i < LINEAR) return i + 1
  const k = i - LINEAR
  const e = 11 + Math.floor(k / SUB)
  const sub = k % SUB
  return (SUB + sub + 1) * 2 ** (e - SUB_BITS)
}

/**
 * Backpressure for one WebSocket (`speed: 'max'`): a send callback is
 * attached to a frame every `checkpointBytes` of payload; when the socket's
 * `bufferedAmount` is at or above `high`, {@link drained} waits until a
 * checkpoint has been flushed to the kernel and the buffer is below `low`
 * (or the socket closed). Public ws API only (bufferedAmount, send callback).
 */
export class Backpressure {
  private sinceCheckpoint = 0
  private waiting: (() => void) | null = null
  private pending: Promise<void> | null = null
  private readonly onCheckpoint = (): void => {
    const w = this.waiting
    if (w && (this.ws.bufferedAmount < this.low || this.ws.readyState !== 1)) {
      this.waiting = null
      w()
    }
  }

  constructor(
    private readonly ws: WebSocket,
    readonly high: number,
    readonly low: number,
    private readonly checkpointBytes = Math.max(1024, Math.floor(low / 2)),
  ) {}

  /** Whether the sender should wait before sending more. */
  get blocked(): boolean {
    return this.ws.bufferedAmount >= this.high && this.ws.readyState === 1
  }

  /** The callback to pass with a frame of `bytes` payload bytes (undefined for most frames). */
  callbackFor(bytes: number): (() => void) | undefined {
    this.sinceCheckpoint += bytes
    if (this.sinceCheckpoint < this.checkpointBytes) return undefined
    this.sinceCheckpoint = 0
    return this.onCheckpoint
  }

  /** End a pending {@link drained} wait now (the sender is stopping). */
  cancel(): void {
    const w = this.waiting
    this.waiting = null
    w?.()
  }

  /**
   * Resolves when the buffer is below `low` or the socket is no longer open.
   * While one wait is pending, every call returns that same promise (so a
   * sender that races several sockets' waits adds no listeners).
   */
  drained(): Promise<void> {
    if (!this.blocked) return Promise.resolve()
    this.pending ??= new Promise<void>((resolve) => {
      this.waiting = resolve
      // A close ends the wait too (pending write callbacks are then called with an error, or not at all).
      this.ws.once('close', this.onCheckpoint)
    }).finally(() => {
      this.ws.off('close', this.onCheckpoint)
      this.pending = null
    })
    return this.pending
  }
}
