/**
 * Rows for replay: the store's per-batch row accessor (store/rows.ts) with
 * replay's per-batch summary, the batch cache shared by timelines, and a
 * k-way merge of several recordings' streaming readers by receive time.
 *
 * Memory: each file contributes two decoded record batches at a time (the
 * current one and the one read ahead), whatever the recording's size; sources
 * that share a {@link SharedBatches} cache share its batches instead.
 */
import type * as A from 'apache-arrow'

import {readBatches, type RecordingFile} from '../store/reader.js'
import {BatchRows} from '../store/rows.js'
import {slicePause, type ReadPause} from './scheduler.js'

export interface BatchSummary {
  /** Symbol dictionary indices the selected rows use, ascending. */
  used: Uint32Array
  /** Positions (k, among the selected rows) of gap and reject rows, ascending. */
  special: Uint32Array
  /** Receive time of the last selected row (0n when none). */
  lastTs: bigint
}

/**
 * Which rows a timeline's receivers can take, for {@link MergedSource.skip}
 * and {@link MergedSource.peek}: `mask(batch)` is 1 at each symbol
 * dictionary index whose data rows someone would receive now; gap rows stop
 * a skip when `gapStops`.
 */
export interface Receivers {
  mask(b: ReplayBatch): Uint8Array
  gapStops: boolean
}

/** Rows passed over by {@link MergedSource.skip}, by class. */
export interface SkipTally {
  rows: number
  rejects: number
  gaps: number
  /** Receive time of the last row passed over (when `rows` > 0). */
  lastTs: bigint
}

const KIND_DATA = 0
const KIND_GAP = 1
const KIND_REJECT = 2
export const RowClass = {data: KIND_DATA, gap: KIND_GAP, reject: KIND_REJECT} as const

/**
 * One record batch of a recording as replay reads it: the store's row
 * accessor ({@link BatchRows}) plus what only replay needs: the index of its
 * file among the replayed ones, each row's class (data, gap, reject), the
 * per-batch {@link summary} a timeline skips batches by, and the encoded
 * payloads shared by timelines ({@link memo}).
 */
export class ReplayBatch extends BatchRows {
  private readonly kindClass: Int8Array
  /** Payloads already encoded from this batch, for timelines that share it (see `Replayer.encodeShared` in replayer.ts). */
  memo: Map<number, (string | Uint8Array | undefined)[][]> | null = null

  constructor(
    batch: A.RecordBatch,
    /** Selected batch rows (null: all). */
    idx: Uint32Array | null,
    file: RecordingFile,
    /** Index of the file among the replayed ones. */
    readonly fileIndex: number,
  ) {
    super(batch, file.feedColumns, idx)
    const names = this.kindName
    this.kindClass = new Int8Array(names.length)
    for (let j = 0; j < names.length; j++) {
      const name = names[j]
      this.kindClass[j] = name === 'gap' ? KIND_GAP : name === 'reject' ? KIND_REJECT : KIND_DATA
    }
  }

  /** Per selected row class and symbol, computed once (see {@link summary}). */
  private sum: BatchSummary | null = null

  /**
   * What the selected rows hold, computed once per batch (the batch is shared
   * by every timeline through {@link SharedBatches}, and so is this): which
   * symbol dictionary entries they use, and the positions (among the selected
   * rows) of the rows that are not data (gaps, rejects). A timeline uses it to
   * skip a whole batch none of its receivers can take.
   */
  summary(): BatchSummary {
    if (this.sum) return this.sum
    const present = new Uint8Array(this.symbolEntries)
    const special: number[] = []
    const n = this.length
    const sym = this.symIdx
    const kind = this.kindIdx
    const cls = this.kindClass
    for (let k = 0; k < n; k++) {
      const i = this.idx ? this.idx[k] : k
      present[sym[i]] = 1
      if (cls[kind[i]] !== KIND_DATA) special.push(k)
    }
    const used: number[] = []
    for (let d = 0; d < present.length; d++) if (present[d]) used.push(d)
    this.sum = {used: Uint32Array.from(used), special: Uint32Array.from(special), lastTs: n > 0 ? this.recv[this.at(n - 1)] : 0n}
    return this.sum
  }

  /**
   * Do now, when the batch has just been read, the per-batch work a timeline
   * would otherwise do at the batch's first row (when that row is already
   * due): the {@link summary} (one pass over the rows) and the symbol strings
   * of the dictionary entries the rows use (an Arrow dictionary lookup each).
   * Returns the batch.
   */
  prepare(): this {
    for (const d of this.summary().used) this.symbolOf(d)
    return this
  }

  /** 0 = data (sent), 1 = gap, 2 = reject: see {@link RowClass}. */
  rowClass(i: number): number {
    return this.kindClass[this.kindIdx[i]]
  }
}

export interface SourceOptions {
  from?: bigint
  to?: bigint
  signal?: AbortSignal
  /** One cache per file (same order as the files): read and decode each batch once for every source on the same files (see {@link SharedBatches}). */
  shared?: readonly SharedBatches[]
  /** Makes the pause of each reader the source opens (default {@link slicePause}). */
  pauser?: () => ReadPause
}

/** What {@link SharedBatches.get} returns for a batch it has read and let go of. */
export const EVICTED = Symbol('evicted')
/** What {@link SharedBatches.get} returns to a caller that was waiting for a read when the cache was {@link SharedBatches.reset}. */
export const RESET = Symbol('reset')

/** Decoded size of an Arrow Data (its buffers, children and dictionary), in bytes. */
function dataBytes(d: A.Data): number {
  let n = (d.values?.byteLength ?? 0) + (d.valueOffsets?.byteLength ?? 0) + (d.nullBitmap?.byteLength ?? 0) + (d.typeIds?.byteLength ?? 0)
  for (const c of d.children) n += dataBytes(c)
  if (d.dictionary) for (const c of d.dictionary.data) n += dataBytes(c)
  return n
}

/** Default budget of a {@link SharedBatches} cache: decoded batches kept, in bytes. */
export const SHARED_BATCH_BUDGET = 64 * 1024 * 1024

/**
 * The selected batches of one file, read and decoded once and shared by every
 * source (timeline) that reads the file with the same `from`/`to`: with
 * `clock: 'connection'` hundreds of timelines play the same recording at
 * different positions, and each reading and decompressing the file on its
 * own cost a core and hundreds of MB.
 *
 * One reader moves a frontier forward on demand (one read in flight, shared by
 * every caller). Batches behind it are kept while their decoded size fits
 * `budgetBytes` (least recently used first out; the batch just read always
 * stays); a batch asked for after it was let go is {@link EVICTED}, and that
 * caller reads on its own from then on (see FileCursor). {@link reset} drops
 * everything (no timeline left): memory returns to what it was before.
 * A damaged file's error is thrown to every caller that reaches it, after
 * every sound batch, as with a reader of its own.
 */
export class SharedBatches {
  private entries = new Map<number, {batch: ReplayBatch; bytes: number}>()
  private bytes = 0
  private frontier = 0
  private ended = false
  private error: unknown = null
  private it: AsyncGenerator<{batch: A.RecordBatch; idx: Uint32Array | null}> | null = null
  private reading: Promise<void> | null = null
  private gen = 0
  /** Batches read from the file (for tests and stats). */
  reads = 0

  constructor(
    readonly file: RecordingFile,
    readonly index: number,
    private readonly range: {from?: bigint; to?: bigint},
    readonly budgetBytes = SHARED_BATCH_BUDGET,
    /** The pause of its reader's work (see {@link ReadPause}). */
    private readonly pause: ReadPause = slicePause(),
  ) {}

  /** Decoded bytes held now. */
  get heldBytes(): number {
    return this.bytes
  }

  /** Batch `k` (0-based among the selected batches), null past the end, or {@link EVICTED}. */
  get(k: number): ReplayBatch | null | typeof EVICTED | Promise<ReplayBatch | null | typeof EVICTED | typeof RESET> {
    const e = this.entries.get(k)
    if (e) {
      // least recently used first out: move it to the end
      this.entries.delete(k)
      this.entries.set(k, e)
      return e.batch
    }
    if (k < this.frontier) return EVICTED
    return this.readUpTo(k)
  }

  private async readUpTo(k: number): Promise<ReplayBatch | null | typeof EVICTED | typeof RESET> {
    const gen = this.gen
    while (this.frontier <= k) {
      if (this.error !== null) throw this.error
      if (this.ended) return null
      await (this.reading ??= this.readOne())
      // emptied while waiting: the caller decides whether to ask again (reading the file anew) or not (it was closed)
      if (gen !== this.gen) return RESET
    }
    return this.entries.get(k)?.batch ?? EVICTED
  }

  private async readOne(): Promise<void> {
    const gen = this.gen
    try {
      this.it ??= readBatches(this.file, {from: this.range.from, to: this.range.to, pause: this.pause})
      const r = await this.it.next()
      if (gen !== this.gen) return
      this.reads++
      if (r.done) {
        this.ended = true
        return
      }
      // no await unless the pause asks for one: a turn of microtasks between the pause's 'go on' and the
      // work would let a timeline's due row in before it, unseen by the pause
      const w = this.pause()
      if (w) await w
      if (gen !== this.gen) return
      const batch = new ReplayBatch(r.value.batch, r.value.idx, this.file, this.index).prepare()
      const bytes = dataBytes(r.value.batch.data)
      this.entries.set(this.frontier++, {batch, bytes})
      this.bytes += bytes
      for (const [k, e] of this.entries) {
        if (this.bytes <= this.budgetBytes || this.entries.size <= 1) break
        this.entries.delete(k)
        this.bytes -= e.bytes
      }
    } catch (error) {
      if (gen === this.gen) this.error = error
    } finally {
      if (gen === this.gen) this.reading = null
    }
  }

  /** Drop every batch and the reader (nobody is reading): the next get starts from the file's start. */
  reset(): void {
    this.gen++
    this.entries = new Map()
    this.bytes = 0
    this.frontier = 0
    this.ended = false
    this.error = null
    this.reading = null
    const it = this.it
    this.it = null
    void it?.return(undefined).catch(() => {})
  }
}

/** One file's rows in file order, a batch at a time: from a {@link SharedBatches} cache, or from a reader of its own. */
class FileCursor {
  batch: ReplayBatch | null = null
  k = 0
  i = 0
  ts = 0n
  done = false
  /** Ordinal (among the file's selected batches) of the next batch to load. */
  private ord = 0
  private own: AsyncGenerator<{batch: A.RecordBatch; idx: Uint32Array | null}> | null = null
  private ahead: Promise<ReplayBatch | null> | null = null
  /** Set by {@link close}: a fetch still in flight opens no reader. */
  private closed = false
  /** The pause of this cursor's own reader's work. */
  private readonly pause: ReadPause

  constructor(
    readonly file: RecordingFile,
    readonly index: number,
    private readonly opts: SourceOptions,
    private readonly shared: SharedBatches | undefined,
  ) {
    this.pause = opts.pauser?.() ?? slicePause()
  }

  /** Move past the current row; false when the batch is used up (call refill). */
  advance(): boolean {
    const b = this.batch!
    if (++this.k < b.length) {
      this.i = b.at(this.k)
      this.ts = b.recv[this.i]
      return true
    }
    this.batch = null
    return false
  }

  /** Pass over the rest of the current batch (call refill next). */
  drop(): void {
    this.batch = null
  }

  /**
   * Batch number `ord`: from the shared cache while it has it, else from this
   * cursor's own reader (opened at `ord` the first time); prepared (see
   * {@link ReplayBatch.prepare}) as soon as it is read.
   */
  private async fetch(ord: number): Promise<ReplayBatch | null> {
    if (this.shared && !this.own) {
      let r = await this.shared.get(ord)
      // the cache was emptied while this waited: ask again, unless this cursor is closed (it would open a reader nobody closes)
      while (r === RESET && !this.closed) r = await this.shared.get(ord)
      if (this.closed) return null
      if (r !== EVICTED && r !== RESET) return r
      // let go of by the cache: read on our own from here (decoding the batches before it once)
      this.own = readBatches(this.file, {from: this.opts.from, to: this.opts.to, signal: this.opts.signal, pause: this.pause})
      for (let skip = 0; skip < ord; skip++) if ((await this.own.next()).done) return null
    }
    if (this.closed) return null
    this.own ??= readBatches(this.file, {from: this.opts.from, to: this.opts.to, signal: this.opts.signal, pause: this.pause})
    const r = await this.own.next()
    if (r.done) return null
    const w = this.pause() // as in readOne: awaited only when it asks to wait
    if (w) await w
    return new ReplayBatch(r.value.batch, r.value.idx, this.file, this.index).prepare()
  }

  /**
   * Load the next batch. The one after it is asked for right away, so its
   * file read, decompression and {@link ReplayBatch.prepare} happen while the
   * timeline waits for due times rather than when its first row is due (two
   * batches per file in memory, or shared with other cursors through the
   * cache).
   */
  async refill(): Promise<void> {
    for (;;) {
      if (this.opts.signal?.aborted) {
        this.done = true
        this.batch = null
        return
      }
      const b = await (this.ahead ?? this.fetch(this.ord))
      this.ahead = null
      this.ord++
      if (b === null) {
        this.done = true
        this.batch = null
        return
      }
      if (b.length === 0) continue
      this.batch = b
      this.k = 0
      this.i = b.at(0)
      this.ts = b.recv[this.i]
      const next = this.fetch(this.ord)
      next.catch(() => {}) // reported when awaited
      this.ahead = next
      return
    }
  }

  async close(): Promise<void> {
    this.closed = true
    await this.own?.return(undefined)
  }
}

/**
 * The rows of one or more recordings merged by receive time (ties: the file
 * given first wins; rows of one file keep their file order). Call
 * {@link next} to move to the next row, then read it through `batch`/`row`/`ts`.
 * `next` returns a boolean synchronously while the current batches last and a
 * Promise only when a batch must be read, so the per-row cost has no await.
 */
export class MergedSource {
  private readonly cursors: FileCursor[]
  private live: FileCursor[] = []
  private cur: FileCursor | null = null
  private started = false
  private closed = false
  /** The current row's batch, batch row index and receive time. */
  batch!: ReplayBatch
  row = 0
  ts = 0n

  constructor(files: readonly RecordingFile[], opts: SourceOptions = {}) {
    this.cursors = files.map((f, k) => new FileCursor(f, k, opts, opts.shared?.[k]))
  }

  /** Move to the next row: true when there is one, false at the end. */
  next(): boolean | Promise<boolean> {
    if (!this.started) return this.start()
    const c = this.cur
    if (c === null) return false
    if (!c.advance()) return this.refill(c)
    return this.choose()
  }

  private async start(): Promise<boolean> {
    this.started = true
    await Promise.all(this.cursors.map((c) => c.refill()))
    this.live = this.cursors.filter((c) => !c.done)
    return this.choose()
  }

  private async refill(c: FileCursor): Promise<boolean> {
    await c.refill()
    if (c.done) this.live = this.live.filter((x) => x !== c)
    return this.choose()
  }

  private choose(): boolean {
    const live = this.live
    if (live.length === 0 || this.closed) {
      this.cur = null
      return false
    }
    let best = live[0]
    for (let k = 1; k < live.length; k++) if (live[k].ts < best.ts) best = live[k]
    this.cur = best
    this.batch = best.batch!
    this.row = best.i
    this.ts = best.ts
    return true
  }

  /**
   * Pass over the rows nobody can receive (see {@link Receivers}) whose
   * receive time is at or before `limit`, counting them in `tally`; stops at
   * a row someone can receive, at the first row after `limit`, or at the end
   * (like {@link next}: true at a row, false at the end, a Promise when a
   * batch must be read). Call it only at a row (after `next` gave true).
   * A batch none of whose symbols is received and whose last row is at or
   * before `limit` is passed over whole, without looking at its rows.
   */
  skip(limit: bigint, rx: Receivers, tally: SkipTally): boolean | Promise<boolean> {
    for (;;) {
      const c = this.cur
      if (c === null) return false
      // rows of c may be passed while they come before every other file's current row
      let other: FileCursor | null = null
      for (const o of this.live) if (o !== c && (other === null || o.ts < other.ts)) other = o
      let bound = limit
      let boundIncl = true
      if (other !== null && other.ts <= bound) {
        bound = other.ts
        boundIncl = c.index < other.index
      }
      const b = c.batch!
      const mask = rx.mask(b)
      const sum = b.summary()
      const n = b.length
      if (sum.lastTs < bound || (boundIncl && sum.lastTs === bound)) {
        let wanted = false
        for (const d of sum.used) {
          if (mask[d]) {
            wanted = true
            break
          }
        }
        if (!wanted) {
          let stop = -1
          let rejects = 0
          let gaps = 0
          for (const k of sum.special) {
            if (k < c.k) continue
            if (b.rowClass(b.at(k)) === KIND_GAP) {
              if (rx.gapStops) {
                stop = k
                break
              }
              gaps++
            } else rejects++
          }
          if (stop < 0) {
            tally.rows += n - c.k
            tally.lastTs = sum.lastTs
            tally.rejects += rejects
            tally.gaps += gaps
            c.drop()
            // keep passing over rows once the next batch is in
            return this.refill(c).then((ok) => (ok ? this.skip(limit, rx, tally) : false))
          }
        }
      }
      // row by row
      const recv = b.recv
      let byOther = false
      for (;;) {
        const i = c.i
        const ts = recv[i]
        if (ts > bound || (ts === bound && !boundIncl)) {
          // past the limit, or another file's row comes first (then go on from there)
          byOther = ts <= limit && other !== null
          break
        }
        const cls = b.rowClass(i)
        if (cls === KIND_DATA) {
          if (mask[b.symbolIndex(i)]) break
        } else if (cls === KIND_GAP) {
          if (rx.gapStops) break
          tally.gaps++
        } else tally.rejects++
        tally.rows++
        tally.lastTs = ts
        if (!c.advance()) {
          const r = this.refill(c)
          return r.then((ok) => (ok ? this.skip(limit, rx, tally) : false))
        }
      }
      this.choose()
      if (!byOther || this.cur === c) return true
    }
  }

  /**
   * The receive time of the next row someone can receive within the batches
   * already read (without moving), and whether there is one: else the last
   * receive time of the current batches (the earliest of them), up to which
   * nothing is received.
   */
  peek(rx: Receivers): {ts: bigint; receivable: boolean} {
    let best: bigint | null = null
    let receivable = false
    for (const c of this.live) {
      const b = c.batch
      if (!b) continue
      const mask = rx.mask(b)
      const sum = b.summary()
      let found: bigint | null = null
      let anyWanted = rx.gapStops && sum.special.length > 0
      if (!anyWanted) for (const d of sum.used) if (mask[d]) {
        anyWanted = true
        break
      }
      if (anyWanted) {
        for (let k = c.k; k < b.length; k++) {
          const i = b.at(k)
          const cls = b.rowClass(i)
          if ((cls === KIND_DATA && mask[b.symbolIndex(i)]) || (cls === KIND_GAP && rx.gapStops)) {
            found = b.recv[i]
            break
          }
        }
      }
      const ts = found ?? sum.lastTs
      if (best === null || ts < best || (ts === best && found !== null)) {
        best = ts
        receivable = found !== null
      }
    }
    return {ts: best ?? 0n, receivable}
  }

  /** Every symbol in the dictionaries of the current batches (the file's symbols up to here). */
  symbols(): Set<string> {
    const out = new Set<string>()
    for (const c of this.live) {
      const b = c.batch
      if (b) for (let d = 0; d < b.symbolEntries; d++) out.add(b.symbolOf(d))
    }
    return out
  }

  /** Stop reading and close the files (safe to call more than once). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.cur = null
    await Promise.all(this.cursors.map((c) => c.close().catch(() => {})))
  }
}
