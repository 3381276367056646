/**
 * The timeline: one play-out of the merged rows on the recorded clock. Owns
 * the per-row loop (the hot path: due times, the slack in which a frame is
 * encoded ahead, waits, bursts and when they are flushed), passing over the
 * rows nobody can receive and sleeping until the next one someone can (see
 * "Idle" in `engine.ts`), the settle gate it waits behind, loops (each play
 * shifted by one period) and the receiver masks per batch. It hands each due
 * row to its {@link Target} and reads the replay-wide state of its
 * {@link Replayer} (imported for its type only: the Replayer makes
 * timelines, not the other way round).
 */
import {setImmediate as yieldToLoop} from 'node:timers/promises'

import {parseGapInfo} from '../store/gap.js'
import type {Replayer} from './replayer.js'
import {RowClass, type MergedSource, type ReplayBatch, type Receivers, type SkipTally} from './rows.js'
import {SPIN_NS, nowNs} from './scheduler.js'
import type {Target} from './targets.js'

/** Rows handled without returning to the event loop before yielding once. */
const BURST = 1024
/** On a timed schedule, frames held back in a catch-up burst are written every this many rows (a power of two). */
const CATCHUP_FLUSH = 32
/** A receive time after every row (a skip at 'max' passes every row nobody can receive). */
const END_TS = 2n ** 63n - 1n

/** A reader and its first read (see {@link Replayer.warmSource}). */
export interface WarmSource {
  abort: AbortController
  source: MergedSource
  first: Promise<boolean>
}

let nextTimelineId = 1

/**
 * One timeline: reads the rows (merged), waits for each row's due time, hands
 * it to its target (`T`: a ClientTarget per connection, or the SharedTarget);
 * loops. Made by the Replayer, which starts ({@link start}) and stops it.
 */
export class Timeline<T extends Target = Target> {
  readonly id = nextTimelineId++
  /** Set once by {@link stop}; the Replayer and the target read it. */
  stopped = false
  /** Set once by {@link start} (the subscriptions settled); the Replayer reads it. */
  begun = false
  private readonly abort: AbortController
  private source: MergedSource
  private readonly first: Promise<boolean>
  private openGate!: () => void
  private readonly gate = new Promise<void>((resolve) => {
    this.openGate = resolve
  })
  /**
   * @internal Set while parked (its client closed at a gap): stop at this
   * monotonic time (ns) unless a client attaches. Written by ClientTarget
   * (gap, attach), read by the loop.
   */
  parkedUntil = Number.POSITIVE_INFINITY

  constructor(
    private readonly r: Replayer,
    readonly target: T,
    warm: WarmSource = r.warmSource(),
  ) {
    this.abort = warm.abort
    this.source = warm.source
    this.first = warm.first
    this.first.then(
      (ok) => {
        this.firstOk = ok
      },
      () => {},
    )
  }

  /** What {@link prefetch} resolved to, once it has (null before). */
  private firstOk: boolean | null = null

  private readonly masks = new WeakMap<ReplayBatch, {gen: number; mask: Uint8Array}>()

  /**
   * Who can receive what, per batch (see {@link Receivers}): 1 at each symbol
   * dictionary index the batch uses whose rows the target would send now.
   * Recomputed for a batch when the subscriptions have changed (`wantsGen`),
   * over the symbols the batch uses only.
   */
  receivers(): Receivers {
    const r = this.r
    const target = this.target
    // the current batch's mask, without a WeakMap lookup per row
    let lastBatch: ReplayBatch | null = null
    let lastGen = -1
    let lastMask: Uint8Array | null = null
    return {
      gapStops: r.p.gaps === 'disconnect',
      mask: (b) => {
        const gen = r.wantsGen
        if (b === lastBatch && gen === lastGen) return lastMask!
        const m = this.masks.get(b)
        lastBatch = b
        lastGen = gen
        if (m !== undefined && m.gen === gen) return (lastMask = m.mask)
        const mask = m?.mask ?? new Uint8Array(b.symbolEntries)
        for (const d of b.summary().used) mask[d] = target.wants(b.symbolOf(d)) ? 1 : 0
        this.masks.set(b, {gen, mask})
        return (lastMask = mask)
      },
    }
  }

  /** The symbols of the recording seen so far (the symbol dictionaries of the batches being played). */
  recordedSymbols(): Set<string> {
    return this.source.symbols()
  }

  /** Read up to the first row. */
  prefetch(): Promise<boolean> {
    return this.first
  }

  /**
   * Once the first row is read: encode it for the target's receivers (see
   * Target.prepare), so the first frame is only written when the clock starts.
   * Called when a client connects or subscribes before the start.
   */
  prepareFirst(): void {
    const go = (ok: boolean) => {
      const src = this.source
      if (ok && !this.begun && !this.stopped && src.batch.rowClass(src.row) === RowClass.data) this.target.prepare(src, 0)
    }
    if (this.firstOk !== null) go(this.firstOk)
    else void this.first.then(go, () => {}) // errors surface when it runs
  }

  /** Start the clock (the first subscription arrived). */
  start(): void {
    this.begun = true
    this.openGate()
  }

  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.openGate()
    this.r.waker.cancel(this)
    this.r.wakeIdle()
    this.abort.abort()
    void this.source.close()
  }

  /**
   * At 'max': null when someone is subscribed and the receivers can take more
   * (no await per row), else a wait until then (see Target.drained).
   */
  private untilReceptive(): Promise<void> | null {
    const target = this.target
    if (target.receptive()) {
      const w = target.drained()
      if (w === null) return null
      target.flush()
      return w
    }
    return this.waitReceptive()
  }

  private async waitReceptive(): Promise<void> {
    const target = this.target
    while (!target.receptive() && !this.stopped) {
      target.flush()
      await this.r.interest()
    }
    if (this.stopped) return
    const w = target.drained()
    if (w) {
      target.flush()
      await w
    }
  }

  /** Wait for the source's next batch, telling the waker: its reading is then no longer background work (see Waker.blocked). */
  private async reading(n: Promise<boolean>): Promise<boolean> {
    const done = this.r.waker.blocked()
    try {
      return await n
    } finally {
      done()
    }
  }

  async run(): Promise<void> {
    const r = this.r
    const target = this.target
    const speed = r.speed
    const timed = speed !== 'max'
    const rate = timed ? speed : 1
    let src = this.source
    let ok = await this.prefetch()
    await this.gate
    if (this.stopped) return
    const firstTs = ok ? src.ts : 0n
    if (ok && (r.firstTs === null || firstTs < r.firstTs)) r.firstTs = firstTs
    let period = 0
    let burst = 0
    /**
     * Timed: the due time of the frames held that are on time (the first row of a play, or a row
     * waited for, and the rows due at the same moment): they are written as soon as a row due later
     * comes, even one already due, rather than held in a catch-up burst for that row's encoding. NaN: none.
     */
    let onTimeDue = Number.NaN
    /** Found before a sleep while the subscriptions were at `aimGen`: every row before this receive time is nobody's, so after the sleep they are passed over at once. */
    let aim: bigint | null = null
    let aimGen = -1
    const rx = this.receivers()
    // who receives the first batch's rows, before the clock starts (not counted against the first row)
    if (ok) rx.mask(src.batch)
    let t0 = nowNs()
    try {
      for (let play = 0; play < r.plays && !this.stopped; play++) {
        if (play > 0) {
          // a play from cached batches starts without any I/O: let the event loop turn (closes, new clients) first
          target.flush()
          await yieldToLoop()
          if (this.stopped) break
          burst = 0
          src = r.openSource(this.abort.signal)
          this.source = src
          const n = src.next()
          target.flush()
          ok = n === true || n === false ? n : await this.reading(n)
        }
        const shift = play * period
        let first = true
        /** Rows handed to the target in this play (a feed's receivers may take a row without sending a frame: KIS's REST state). */
        let delivered = 0
        const genBefore = r.wantsGen
        let rows = 0
        let lastTs = firstTs
        while (ok && !this.stopped) {
          const b = src.batch
          const i = src.row
          const cls = b.rowClass(i)
          if (!(cls === RowClass.data ? rx.mask(b)[b.symbolIndex(i)] === 1 : cls === RowClass.gap && rx.gapStops)) {
            // Nobody can receive this row (see Idle): pass over it and the others like it without
            // waiting for each, then sleep until the next row someone can receive.
            if (!timed) {
              const w = this.untilReceptive()
              if (w) {
                await w
                burst = 0
                if (this.stopped) break
              }
            }
            const limit = !timed ? END_TS : aim !== null && aimGen === r.wantsGen ? aim - 1n : firstTs + BigInt(Math.floor((nowNs() - t0) * rate - shift))
            aim = null
            const tally: SkipTally = {rows: 0, rejects: 0, gaps: 0, lastTs: 0n}
            const n = src.skip(limit, rx, tally)
            if (n === true || n === false) ok = n
            else {
              target.flush()
              ok = await this.reading(n)
              burst = 0
            }
            rows += tally.rows
            r.rejects += tally.rejects
            r.gapsReached += tally.gaps
            if (tally.rows > 0 && tally.lastTs > lastTs) {
              lastTs = tally.lastTs
              if (r.furthestTs === null || lastTs > r.furthestTs) r.furthestTs = lastTs
            }
            if (!ok || this.stopped) continue
            if (!timed) {
              // rows passed over count towards the burst like rows sent: the event loop still turns
              // (a client's close is answered) every BURST rows
              burst += tally.rows
              if (burst >= BURST) {
                burst = 0
                target.flush()
                await yieldToLoop()
              }
              continue
            }
            const b2 = src.batch
            const i2 = src.row
            const cls2 = b2.rowClass(i2)
            if (cls2 === RowClass.data ? rx.mask(b2)[b2.symbolIndex(i2)] === 1 : cls2 === RowClass.gap && rx.gapStops) continue
            // Still nobody's: sleep (a plain timer, woken by a subscription change) until the next row
            // someone can receive, or until the last row of the batches read (then pass over them).
            const next = src.peek(rx)
            const nextDue = t0 + (Number(next.ts - firstTs) + shift) / rate
            let wake = next.receivable ? nextDue - SPIN_NS : nextDue
            if (wake > this.parkedUntil) wake = this.parkedUntil
            // woken by the timer (not by a subscription change), every row before `aim` is known to be nobody's
            aim = next.receivable ? next.ts : next.ts + 1n
            aimGen = r.wantsGen
            if (wake > nowNs()) {
              target.flush()
              await r.idleUntil(wake)
              burst = 0
            }
            if (!this.stopped && nowNs() > this.parkedUntil) {
              r.log(`timeline ${this.id}: no client reconnected after the gap; it ends`)
              this.stop()
            }
            continue
          }
          rows++
          const ts = src.ts
          if (ts > lastTs) {
            lastTs = ts
            if (r.furthestTs === null || ts > r.furthestTs) r.furthestTs = ts
          }
          let due = Number.NaN
          if (timed) {
            due = t0 + (Number(ts - firstTs) + shift) / rate
            let now = nowNs()
            if (due > now && cls === RowClass.data) {
              // encode in the slack before the due time (after writing what is due), so that only the write is left then
              target.flush()
              target.prepare(src, shift)
              now = nowNs()
            } else if (due > onTimeDue) {
              // this row is already due, but after the frames held, which are on time: write them before handling it
              target.flush()
              onTimeDue = Number.NaN
            }
            let waited = first
            first = false
            while (due > now) {
              target.flush()
              await r.waker.wait(due, this)
              if (this.stopped) break
              now = nowNs()
              burst = 0
              waited = true
            }
            if (this.stopped) break
            if (waited) onTimeDue = due
            if (now > this.parkedUntil) {
              r.log(`timeline ${this.id}: no client reconnected after the gap; it ends`)
              this.stop()
              break
            }
          } else {
            const w = this.untilReceptive()
            if (w) {
              await w
              burst = 0
              if (this.stopped) break
            }
          }
          if (cls === RowClass.gap) {
            r.gapsReached++
            target.gap(parseGapInfo(b.info(i)))
          } else {
            target.deliver(src, shift, due)
            delivered++
          }
          // On a timed schedule the frames on time (see onTimeDue) are written before a row due after them
          // is handled; a catch-up burst (frames already late) goes out every CATCHUP_FLUSH rows, not
          // once at its end.
          if (timed && (burst & (CATCHUP_FLUSH - 1)) === CATCHUP_FLUSH - 1) target.flush()
          if (++burst >= BURST) {
            burst = 0
            target.flush()
            await yieldToLoop()
            if (this.stopped) break
          }
          const n = src.next()
          if (n === true || n === false) ok = n
          else {
            target.flush()
            ok = await this.reading(n)
          }
        }
        target.flush()
        await src.close()
        if (this.stopped) break
        r.playsDone++
        if (play === 0) {
          if (rows === 0) {
            r.log(`timeline ${this.id}: nothing to play in the selected range`)
            break
          }
          const span = Number(lastTs - firstTs)
          const meanGap = rows > 1 ? span / (rows - 1) : 1e9
          period = Math.max(1e6, Math.ceil((span + meanGap) / 1e6) * 1e6)
        }
        if (play + 1 < r.plays && delivered === 0 && r.wantsGen === genBefore) {
          // A play that delivered nothing would deliver nothing again: wait for a change of who can receive what
          // (a subscription, the emulator's 'interest'; see Idle), then go on with the next play from now.
          while (r.wantsGen === genBefore && !this.stopped) await r.interest()
          if (this.stopped) break
          if (timed) t0 = nowNs() - ((play + 1) * period) / rate
        }
      }
    } finally {
      target.flush()
      await src.close()
    }
  }
}
