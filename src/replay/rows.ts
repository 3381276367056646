/**
 * Rows for replay: a per-batch accessor that reads the Arrow buffers directly
 * (no per-value `Vector.get`), and a k-way merge of several recordings'
 * streaming readers by receive time.
 *
 * Memory: each file contributes two decoded record batches at a time (the
 * current one and the one read ahead), whatever the recording's size; sources
 * that share a {@link SharedBatches} cache share its batches instead.
 */
import * as A from 'apache-arrow'
import {makeVector} from 'apache-arrow'

import type {RowKind, RowView} from '../feeds/types.js'
import {BatchRows, listToPlain, readBatches, type RecordingFile} from '../store/reader.js'
import type {StoreColumn} from '../store/schema.js'

const UTF8 = new TextDecoder('utf-8')

type Getter = (i: number) => unknown

function validity(data: A.Data): ((i: number) => boolean) | null {
  const bm = data.nullBitmap
  if (!data.nullCount || !bm || bm.length === 0) return null
  const off = data.offset
  return (i) => {
    const j = off + i
    return ((bm[j >> 3] >> (j & 7)) & 1) === 1
  }
}

/** A reader for one plain column of a batch; returns undefined for null (`checkNulls` false: the caller checks the validity bitmap). */
function plainGetter(data: A.Data, type: Pick<StoreColumn & {kind: 'plain'}, 'type'>, checkNulls = true): Getter {
  const valid = checkNulls ? validity(data) : null
  const off = data.offset
  let get: Getter
  switch (type.type) {
    case 'utf8': {
      const offsets = data.valueOffsets as Int32Array
      const values = data.values as Uint8Array
      get = (i) => {
        const s = offsets[off + i]
        const e = offsets[off + i + 1]
        if (e - s <= 24) {
          // short strings (tickers, exchanges, currencies): ASCII fast path
          let str = ''
          for (let k = s; k < e; k++) {
            const c = values[k]
            if (c >= 0x80) return UTF8.decode(values.subarray(s, e))
            str += String.fromCharCode(c)
          }
          return str
        }
        return UTF8.decode(values.subarray(s, e))
      }
      break
    }
    case 'binary': {
      const offsets = data.valueOffsets as Int32Array
      const values = data.values as Uint8Array
      get = (i) => values.subarray(offsets[off + i], offsets[off + i + 1])
      break
    }
    case 'bool': {
      const values = data.values as Uint8Array
      get = (i) => {
        const j = off + i
        return ((values[j >> 3] >> (j & 7)) & 1) === 1
      }
      break
    }
    case 'list_struct_f64': {
      // rare and small (order book levels): arrow-js's own accessor is fine here
      const vec = makeVector(data)
      get = (i) => listToPlain(vec.get(i) as A.Vector)
      break
    }
    default: {
      const values = data.values as ArrayLike<number | bigint>
      get = (i) => values[off + i]
    }
  }
  if (!valid) return get
  return (i) => (valid(i) ? get(i) : undefined)
}

/** A reader for any column of a batch (plain, dictionary-encoded string, timestamp); undefined for null. */
function columnGetter(data: A.Data, col: StoreColumn, checkNulls = true): Getter {
  if (col.kind === 'plain') return plainGetter(data, col, checkNulls)
  const valid = checkNulls ? validity(data) : null
  const off = data.offset
  let get: Getter
  if (col.kind === 'dict') {
    const indices = data.values as Int32Array | Int8Array
    const dict = data.dictionary as A.Vector
    const cache: (string | undefined)[] = []
    get = (i) => {
      const k = indices[off + i]
      let v = cache[k]
      if (v === undefined) {
        v = (dict.get(k) as string | null) ?? ''
        cache[k] = v
      }
      return v
    }
  } else {
    const values = data.values as BigInt64Array
    get = (i) => values[off + i]
  }
  if (!valid) return get
  return (i) => (valid(i) ? get(i) : undefined)
}

/** See {@link ReplayBatch.summary}. */
/**
 * How replay's readers give the event loop back while a batch decompresses
 * (ReadOptions.pause): a timeline's due sends run between the buffers of the
 * next batch instead of waiting for all of it.
 */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

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
 * Read access to one record batch of a recording, by batch row index. Built
 * once per batch; symbols and kinds are decoded once per dictionary entry.
 */
export class ReplayBatch {
  readonly recv: BigInt64Array
  private readonly exch: A.Data
  private readonly exchValid: ((i: number) => boolean) | null
  private readonly symIdx: Int32Array
  private readonly symDict: A.Vector
  private readonly symCache: (string | undefined)[] = []
  private readonly kindIdx: Int8Array
  private readonly kindDict: A.Vector
  private readonly kindClass: Int8Array
  private readonly kindName: RowKind[]
  private readonly rawGet: Getter
  private readonly infoGet: Getter
  private readonly fieldNames: string[]
  private readonly fieldGets: Getter[]
  /** Per field column: its validity bitmap (null: no nulls in this batch) and its offset. */
  private readonly fieldNulls: (Uint8Array | null)[]
  private readonly fieldOffsets: number[]
  private view: BatchRows | null = null
  /** Payloads already encoded from this batch, for timelines that share it (see the replay engine's `encodeShared`). */
  memo: Map<number, (string | Uint8Array | undefined)[][]> | null = null

  constructor(
    readonly batch: A.RecordBatch,
    /** Selected batch rows (null: all). */
    readonly idx: Uint32Array | null,
    private readonly file: RecordingFile,
    /** Index of the file among the replayed ones. */
    readonly fileIndex: number,
  ) {
    const col = (i: number) => batch.getChildAt(i)!.data[0]
    const r = col(0)
    this.recv = (r.values as BigInt64Array).subarray(r.offset, r.offset + r.length)
    this.exch = col(1)
    this.exchValid = validity(this.exch)
    const s = col(2)
    this.symIdx = (s.values as Int32Array).subarray(s.offset, s.offset + s.length)
    this.symDict = s.dictionary as A.Vector
    const k = col(3)
    this.kindIdx = (k.values as Int8Array).subarray(k.offset, k.offset + k.length)
    this.kindDict = k.dictionary as A.Vector
    const nk = this.kindDict.length
    this.kindClass = new Int8Array(nk)
    this.kindName = new Array<RowKind>(nk)
    for (let j = 0; j < nk; j++) {
      const name = this.kindDict.get(j) as RowKind
      this.kindName[j] = name
      this.kindClass[j] = name === 'gap' ? KIND_GAP : name === 'reject' ? KIND_REJECT : KIND_DATA
    }
    this.rawGet = plainGetter(col(5), {type: 'binary'})
    this.infoGet = plainGetter(col(6), {type: 'utf8'})
    // Only the columns with a value in this batch (a Yahoo equities batch has 15 of its 32 all null), each
    // with its validity bitmap checked inline in fields(): the per-frame cost of re-encoded replay.
    this.fieldNames = []
    this.fieldGets = []
    this.fieldNulls = []
    this.fieldOffsets = []
    file.feedColumns.forEach((c, j) => {
      const d = col(7 + j)
      if (d.length > 0 && d.nullCount === d.length) return
      this.fieldNames.push(c.name)
      this.fieldGets.push(columnGetter(d, c, false))
      const bm = d.nullCount > 0 && d.nullBitmap && d.nullBitmap.length > 0 ? d.nullBitmap : null
      this.fieldNulls.push(bm)
      this.fieldOffsets.push(d.offset)
    })
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
    const present = new Uint8Array(this.symDict.length)
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

  /** Number of entries in the symbol dictionary (indices of {@link symbolIndex}). */
  get symbolEntries(): number {
    return this.symDict.length
  }

  /** Symbol dictionary index of batch row i. */
  symbolIndex(i: number): number {
    return this.symIdx[i]
  }

  /** The symbol of dictionary entry `d`. */
  symbolOf(d: number): string {
    let s = this.symCache[d]
    if (s === undefined) {
      s = (this.symDict.get(d) as string | null) ?? ''
      this.symCache[d] = s
    }
    return s
  }

  /** Number of selected rows. */
  get length(): number {
    return this.idx ? this.idx.length : this.batch.numRows
  }

  /** Batch row index of the k-th selected row. */
  at(k: number): number {
    return this.idx ? this.idx[k] : k
  }

  private posOf: Int32Array | null = null
  /**
   * The batch row that arrived right after batch row `i` (or -1: none in this
   * batch). A closed (format v2) file stores a batch's rows clustered by
   * symbol, so rows that arrived together (one KIS frame's bundled records)
   * need not be neighbours in the batch: this walks arrival order.
   */
  nextInArrival(i: number): number {
    if (!this.idx) return i + 1 < this.batch.numRows ? i + 1 : -1
    if (!this.posOf) {
      this.posOf = new Int32Array(this.batch.numRows).fill(-1)
      for (let k = 0; k < this.idx.length; k++) this.posOf[this.idx[k]] = k
    }
    const k = this.posOf[i]
    return k >= 0 && k + 1 < this.idx.length ? this.idx[k + 1] : -1
  }

  recvTs(i: number): bigint {
    return this.recv[i]
  }

  /** 0 = data (sent), 1 = gap, 2 = reject: see {@link RowClass}. */
  rowClass(i: number): number {
    return this.kindClass[this.kindIdx[i]]
  }

  kind(i: number): RowKind {
    return this.kindName[this.kindIdx[i]]
  }

  symbol(i: number): string {
    return this.symbolOf(this.symIdx[i])
  }

  /** The recorded payload bytes, or null. A view into the batch: do not modify. */
  raw(i: number): Uint8Array | null {
    return (this.rawGet(i) as Uint8Array | undefined) ?? null
  }

  info(i: number): string | null {
    return (this.infoGet(i) as string | undefined) ?? null
  }

  /** exch_ts in the column's unit, or null. */
  exchTs(i: number): bigint | null {
    if (this.exchValid && !this.exchValid(i)) return null
    return (this.exch.values as BigInt64Array)[this.exch.offset + i]
  }

  /** The feed columns of row i that are not null, by name (a new object). */
  fields(i: number): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    const names = this.fieldNames
    const gets = this.fieldGets
    const nulls = this.fieldNulls
    const offs = this.fieldOffsets
    for (let c = 0; c < gets.length; c++) {
      const bm = nulls[c]
      if (bm !== null) {
        const j = offs[c] + i
        if (((bm[j >> 3] >> (j & 7)) & 1) === 0) continue
      }
      const v = gets[c](i)
      if (v !== undefined) out[names[c]] = v
    }
    return out
  }

  /** The whole row as the store's RowView (slower; for generic encoders). */
  rowView(i: number): RowView {
    this.view ??= new BatchRows(this.batch, this.file.feedColumns)
    return this.view.row(i)
  }
}

export interface SourceOptions {
  from?: bigint
  to?: bigint
  signal?: AbortSignal
  /** One cache per file (same order as the files): read and decode each batch once for every source on the same files (see {@link SharedBatches}). */
  shared?: readonly SharedBatches[]
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
      this.it ??= readBatches(this.file, {from: this.range.from, to: this.range.to, pause: yieldToLoop})
      const r = await this.it.next()
      if (gen !== this.gen) return
      this.reads++
      if (r.done) {
        this.ended = true
        return
      }
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

  constructor(
    readonly file: RecordingFile,
    readonly index: number,
    private readonly opts: SourceOptions,
    private readonly shared: SharedBatches | undefined,
  ) {}

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
      this.own = readBatches(this.file, {from: this.opts.from, to: this.opts.to, signal: this.opts.signal, pause: yieldToLoop})
      for (let skip = 0; skip < ord; skip++) if ((await this.own.next()).done) return null
    }
    if (this.closed) return null
    this.own ??= readBatches(this.file, {from: this.opts.from, to: this.opts.to, signal: this.opts.signal, pause: yieldToLoop})
    const r = await this.own.next()
    return r.done ? null : new ReplayBatch(r.value.batch, r.value.idx, this.file, this.index).prepare()
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
