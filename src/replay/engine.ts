/**
 * The replay engine: serves one or more recordings over the recorded feed's
 * own protocol, on the recorded timeline (scaled by `speed`), to any number of
 * clients.
 *
 * ## Clocks
 * - `clock: 'connection'` (default): every connection gets its own timeline.
 *   Its reader is opened when the client connects (all of them read through
 *   one {@link SharedBatches} cache per file, and share the payloads encoded
 *   from its batches, so hundreds of timelines decode and encode the file
 *   about once); its clock starts (t0), at
 *   the recording's first row, when its subscriptions have settled (below).
 *   So every client, e.g. every test run, sees the whole recording the same
 *   way. A client receives the rows of the symbols it is subscribed to at the
 *   moment each row is due. After the last row the connection stays open and silent
 *   (or is closed with 1000 when `atEnd: 'close'`). The server keeps accepting
 *   connections until closed, so `done` resolves only when the handle is
 *   closed.
 * - `clock: 'shared'`: one timeline and one reader for all clients, like a
 *   live feed. It starts when the first subscriptions have settled (not when
 *   the server starts, so the first client never misses the beginning);
 *   clients that subscribe later join mid-stream. Each row is encoded at most
 *   once per wire variant and fanned out. `done` resolves when the timeline
 *   has played everything (loops included); the server stays up until closed.
 *
 * ## Settle rule (the same for every feed)
 * Clients subscribe in several messages: yfinance one symbol per message,
 * ccxt a ticker request then ticker+trade a moment later, KIS one
 * registration per message, generic one channel per message. A timeline
 * therefore starts when its subscriptions have been quiet for `settleMs`
 * (default {@link DEFAULT_SETTLE_MS} ms; every subscribe message restarts the
 * window), and at most {@link SETTLE_CAP_FACTOR} windows after the first
 * subscription, so a chatty client still starts. Subscriptions that arrive
 * after the start join at the current position: the client gets the rows of
 * the new symbols that are due from then on (nothing is replayed for them).
 * The feeds' own acknowledgements go out at once.
 *
 * ## Idle
 * A row nobody can receive (no client, no subscription, no subscribed
 * symbol) is never waited for. The timeline passes over such rows in a tight
 * loop (a whole batch at once when none of the symbols it holds is received:
 * each batch's symbol set is computed once, with the batch, and shared by
 * every timeline through the decoded batch cache), then sleeps on a plain
 * timer until the next row someone can receive (or the last row of the
 * batches read), waking early when a subscription changes. So a replay
 * nobody can receive anything from costs one wake-up per record batch, plus
 * reading the file (its batches are still read and decompressed in time).
 * A subscription that arrives during such a sleep joins at the current
 * position: only rows already due are passed over. At 'max', a timeline with
 * no subscribed client waits for a subscription (so a shared timeline whose
 * clients have all gone plays on, and `done` resolves, only once someone
 * subscribes again). At every speed, a `loop`
 * play that sent nothing waits for a subscription change before the next
 * play (it would send nothing again), which then starts at once.
 *
 * ## Rows
 * Data rows (`tick`, `status`, and other feeds' data kinds) are sent. `reject`
 * rows (frames the recorder could not decode) are skipped and counted. `gap`
 * rows (the recorder was disconnected): with `gaps: 'silent'` the timeline
 * simply goes quiet, since the next row's receive time is after the gap; with
 * `gaps: 'disconnect'` the connections are closed with code 1012 (Service
 * Restart: "come back later", which reconnecting clients act on) when the gap
 * row is due. In `clock: 'connection'` the closed connection's timeline keeps
 * running for the gap's duration (at the replay speed) plus 10 s. A new
 * connection whose subscriptions, once settled, are the closed client's (the
 * same wire variant, the same number of symbols and the same ones among the
 * recording's symbols) takes it over, the oldest such timeline first: so the
 * client that reconnects continues after the gap, as on the real feed,
 * instead of starting the recording again. Any other connection gets a
 * timeline of its own from the start.
 *
 * ## Loop
 * `loop: N` plays the recording N more times (`true`: until closed). Each
 * play is shifted by one period: the recording's span (last − first receive
 * time) plus its mean inter-arrival time, rounded up to a whole ms. The
 * schedule and the payloads' own time fields are shifted alike (Yahoo:
 * `time` + period ms), so times keep increasing; looped rows are therefore
 * re-encoded, not the recorded bytes.
 *
 * ## Speed and backpressure
 * Timed speeds follow the absolute timeline of `scheduler.ts`. What can be
 * done before a row is due is done then: each record batch is prepared when
 * it is read (`rows.ts`), a client's first frame is encoded when it connects
 * (shared clock: when a client subscribes) and every later frame in the slack
 * before its due time, so at the due time only the write is left. A client that
 * stops reading meets the slow-client policy (close 1013, or drop frames)
 * once its send buffer passes `maxBufferedBytes`. `speed: 'max'` sends as
 * fast as the client reads: it waits while a socket's buffer is above a
 * high-water mark. In `clock: 'shared'` the fastest reader sets the pace: the
 * timeline waits only while every subscribed client is above the mark, so a
 * client that stops reading meets the slow-client policy like at any speed,
 * and the others carry on. What a client closed with 1013 sees: see
 * `closeSlowClient` in `feeds/emulator.ts`.
 */
import {setImmediate as yieldToLoop} from 'node:timers/promises'

import {MdrecError, isMdrecError} from '../errors.js'
import {openRecording, type RecordingFile} from '../store/reader.js'
import {nsToIso} from '../util/time.js'
import {parseSpeed, parseTimeSpec, plural, type TimeSpec} from '../util/units.js'
import {FrameBurst} from '../feeds/emulator.js'
import {replayFeed, type Emulator, type EmulatorClient, type ReplayFeed, type RowEncoder} from './feed.js'
import {MergedSource, RowClass, SharedBatches, type ReplayBatch, type Receivers, type SkipTally} from './rows.js'
import {Backpressure, DEFAULT_SETTLE_MS, LatencyHistogram, SETTLE_CAP_FACTOR, SPIN_NS, Waker, nowNs} from './scheduler.js'
import {parseGapInfo} from '../store/gap.js'
import {resolveRange} from '../store/inputs.js'

export interface ReplayOptions {
  /** Multiplier of the recorded pace (default 1), or 'max': as fast as the client reads. */
  speed?: number | 'max'
  /** TCP port (default 8765; 0 picks a free port, see `handle.port`). */
  port?: number
  /** Interface to listen on (default '127.0.0.1'). */
  host?: string
  /** Extra plays after the first (`true`: until closed). Default 0. */
  loop?: number | true
  /** First receive time to play: ns since the epoch, a TimeSpec, or a string such as `+90s` / an ISO time. */
  from?: bigint | TimeSpec | string
  /** Receive time to stop before (exclusive), same forms as `from`. */
  to?: bigint | TimeSpec | string
  /** One timeline per connection (default) or one shared by all clients. */
  clock?: 'connection' | 'shared'
  /** What a recorded gap does: go quiet (default) or close the connections with 1012. */
  gaps?: 'silent' | 'disconnect'
  /** A client whose send buffer passes `maxBufferedBytes`: close it with 1013 (default) or drop its frames. */
  slowClient?: 'disconnect' | 'drop'
  /** Per-client send buffer limit in bytes (default 8 MiB). */
  maxBufferedBytes?: number
  /** After the last row: keep connections open (default 'idle') or close them with 1000 ('close'). */
  atEnd?: 'idle' | 'close'
  /**
   * Settle window in ms (default {@link DEFAULT_SETTLE_MS}): a timeline starts once its
   * subscriptions have been quiet this long, at most {@link SETTLE_CAP_FACTOR} windows
   * after the first one; 0 starts it at the first subscription.
   */
  settleMs?: number
  /** Feed-specific emulator options, passed to the feed's emulator (generic: see `GenericEmulatorOptions`). */
  emulator?: Readonly<Record<string, unknown>>
  /** Status lines (listening, clients, gaps, errors). */
  log?: (line: string) => void
  /** Called for every frame sent on a timed schedule with its lateness (actual − scheduled send time, ns). For benchmarks. */
  onLateness?: (lateNs: number, clientId: number) => void
}

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
  /** Decoded batches held for the timelines now, in bytes (0 once no timeline runs). */
  cacheBytes: number
  /** Lateness of sent frames (timed speeds only; null at 'max' or before the first frame). */
  p50LagMs: number | null
  p99LagMs: number | null
  maxLagMs: number | null
  elapsedMs: number
}

export interface ReplaySummary extends ReplayStats {
  /** Errors that ended a timeline early (a damaged file, …). */
  errors: string[]
}

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

const OPEN = 1 // WebSocket.OPEN
const GAP_CLOSE_CODE = 1012
const ERROR_CLOSE_CODE = 1011
/** Rows handled without returning to the event loop before yielding once. */
const BURST = 1024
/** On a timed schedule, frames held back in a catch-up burst are written every this many rows (a power of two). */
const CATCHUP_FLUSH = 32
/** A receive time after every row (a skip at 'max' passes every row nobody can receive). */
const END_TS = 2n ** 63n - 1n
/** A parked timeline (its client closed at a gap) waits this long past the gap for a reconnect. */
const RESUME_GRACE_NS = 10e9
const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024
/** Loop shifts whose encoded payloads a cached batch keeps (timelines in different plays of a loop). */
const MEMO_SHIFTS = 4

interface Target {
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
  gap(info: string | null): void
  /**
   * Hand the frames held in the burst to the kernel; called before every await.
   * Frames are packed per socket ({@link FrameBurst}) and written when the
   * timeline next awaits: at 'max' at most {@link BURST} rows later; on a
   * timed schedule before it waits for the next due time (so rows due at the
   * same moment go out in one write) and every {@link CATCHUP_FLUSH} rows
   * while catching up.
   */
  flush(): void
  end(): void
  stop(): void
}

/** Open the recordings and validate the options (everything that can fail before listening). */
async function prepare(files: string | string[], o: ReplayOptions) {
  const paths = typeof files === 'string' ? [files] : [...files]
  if (paths.length === 0) throw new MdrecError('E_USAGE', 'no recording given: name at least one .arrow file to replay')
  const recs: RecordingFile[] = []
  for (const p of paths) recs.push(await openRecording(p))
  const feedName = recs[0].meta.feed
  const other = recs.find((r) => r.meta.feed !== feedName)
  if (other) {
    throw new MdrecError(
      'E_USAGE',
      `cannot merge recordings of different feeds: ${recs[0].path} is "${feedName}", ${other.path} is "${other.meta.feed}"; replay them separately`,
    )
  }
  const feed = replayFeed(feedName)

  let speed = o.speed ?? 1
  if (typeof speed === 'string' && speed !== 'max') speed = parseSpeed(speed)
  if (speed !== 'max' && !(typeof speed === 'number' && Number.isFinite(speed) && speed > 0)) {
    throw new MdrecError('E_USAGE', `invalid speed ${String(speed)}: use a number greater than zero (1 = recorded pace, 10 = ten times faster) or 'max'`)
  }
  const port = o.port ?? 8765
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MdrecError('E_USAGE', `invalid port ${String(port)}: use an integer from 0 to 65535 (0 picks a free port)`)
  }
  const loop = o.loop ?? 0
  if (loop !== true && !(Number.isInteger(loop) && loop >= 0)) {
    throw new MdrecError('E_USAGE', `invalid loop ${String(loop)}: use a whole number of extra plays (0 = play once) or true to loop until closed`)
  }
  const oneOf = <T extends string>(name: string, v: T | undefined, allowed: readonly T[], dflt: T): T => {
    if (v === undefined) return dflt
    if (!allowed.includes(v)) throw new MdrecError('E_USAGE', `invalid ${name} ${JSON.stringify(v)}: use ${allowed.map((a) => `'${a}'`).join(' or ')}`)
    return v
  }
  const clock = oneOf('clock', o.clock, ['connection', 'shared'], 'connection')
  const gaps = oneOf('gaps', o.gaps, ['silent', 'disconnect'], 'silent')
  const slowClient = oneOf('slowClient', o.slowClient, ['disconnect', 'drop'], 'disconnect')
  const atEnd = oneOf('atEnd', o.atEnd, ['idle', 'close'], 'idle')
  const settleMs = o.settleMs ?? DEFAULT_SETTLE_MS
  if (!(Number.isFinite(settleMs) && settleMs >= 0 && settleMs <= 60_000)) {
    throw new MdrecError('E_USAGE', `invalid settle ${String(settleMs)}: use a number of ms from 0 to 60000 (0 starts a timeline at the first subscription)`)
  }
  const maxBufferedBytes = o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED
  if (!(Number.isFinite(maxBufferedBytes) && maxBufferedBytes > 0)) {
    throw new MdrecError('E_USAGE', `invalid maxBufferedBytes ${String(maxBufferedBytes)}: use a number of bytes greater than zero`)
  }

  // +offsets count from the recordings' earliest start, as in every command
  const spec = (v: bigint | TimeSpec | string | undefined) => (typeof v === 'string' ? parseTimeSpec(v) : v)
  const {from, to} = resolveRange(spec(o.from), spec(o.to), recs)
  return {recs, feed, speed, port, host: o.host ?? '127.0.0.1', loop, clock, gaps, slowClient, atEnd, maxBufferedBytes, from, to, settleMs}
}

type Prepared = Awaited<ReturnType<typeof prepare>>

/**
 * Replay recordings over their feed's protocol. Opens and checks the files,
 * starts listening, reads the first record batch, and returns once clients
 * can connect (and a timeline can start the moment its client subscribes).
 *
 * ```ts
 * const r = await replay('aapl.arrow', {port: 0, speed: 10})
 * // point a Yahoo client at r.url, subscribe, receive the recorded frames
 * const summary = await r.close()
 * ```
 */
export async function replay(files: string | string[], options: ReplayOptions = {}): Promise<ReplayHandle> {
  const p = await prepare(files, options)
  const extra = Object.keys(options.emulator ?? {}).filter((k) => !(p.feed.emulatorOptions ?? []).includes(k))
  if (extra.length > 0) throw new MdrecError('E_USAGE', `the ${p.feed.name} emulator takes no option ${extra.join(', ')} (${p.feed.emulatorOptions?.length ? `its options: ${p.feed.emulatorOptions.join(', ')}` : 'it has none'})`)
  let emu: Emulator
  try {
    emu = await p.feed.listen({
      host: p.host,
      port: p.port,
      maxBufferedBytes: p.maxBufferedBytes,
      slowClient: p.slowClient,
      feed: options.emulator,
      log: options.log,
    }, p.recs)
  } catch (error) {
    throw listenError(error, p.host, p.port)
  }
  const r = new Replayer(p, emu, options)
  try {
    await r.begin()
  } catch (error) {
    await r.close()
    throw error
  }
  return r.handle()
}

function listenError(error: unknown, host: string, port: number): MdrecError {
  if (isMdrecError(error)) return error // the feed refused its options: already says what to do
  const e = error as NodeJS.ErrnoException
  const where = `${host}:${port}`
  switch (e?.code) {
    case 'EADDRINUSE':
      return new MdrecError('E_IO', `cannot listen on ${where}: the port is in use; choose another port (0 picks a free one)`, {cause: error})
    case 'EACCES':
      return new MdrecError('E_IO', `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose a port above 1023`, {cause: error})
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new MdrecError('E_USAGE', `cannot listen on ${where}: no such local address; use 127.0.0.1, 0.0.0.0 or an address of this machine`, {cause: error})
    default:
      return new MdrecError('E_IO', `cannot listen on ${where}: ${e?.message ?? String(error)}`, {cause: error})
  }
}

class Replayer {
  readonly waker = new Waker()
  readonly hist = new LatencyHistogram()
  readonly encoders: RowEncoder[]
  readonly speed: number | 'max'
  readonly plays: number
  readonly log: (line: string) => void
  readonly onLateness: ReplayOptions['onLateness']
  readonly started = nowNs()
  readonly timelines = new Set<Timeline>()
  private readonly runs = new Set<Promise<void>>()
  /** Connection clock: the timeline of each client. */
  private readonly byClient = new Map<EmulatorClient, Timeline>()
  /** Connection clock: timelines whose client was closed at a gap, waiting for a reconnect. */
  readonly parked: Timeline[] = []
  private shared: Timeline | null = null
  readonly errors: string[] = []
  private closing: Promise<ReplaySummary> | null = null
  closed = false
  private resolveDone!: (s: ReplaySummary) => void
  private rejectDone!: (e: unknown) => void
  private doneSettled = false
  readonly done: Promise<ReplaySummary>
  readonly high: number
  readonly low: number
  // counters
  connections = 0
  timelinesStarted = 0
  playsDone = 0
  framesSent = 0
  bytesSent = 0
  droppedGone = 0
  slowClosed = 0
  gapsReached = 0
  rejects = 0
  /** Timelines waiting for their subscriptions to settle: when the window started, and its timer. */
  private readonly settling = new Map<Timeline, {first: number; timer: NodeJS.Timeout}>()
  /** Idle timelines waiting for a subscription change (see Idle). */
  private readonly idle = new Set<() => void>()
  /** Subscription changes so far (a loop play that sent nothing waits for the next one). */
  subscriptionChanges = 0
  /** Changes of who can receive what (subscribe, unsubscribe, disconnect, a client parked at a gap or taken back): the timelines' receiver masks are recomputed after each. */
  wantsGen = 0
  /** First and furthest receive times reached by any timeline (progress display). */
  firstTs: bigint | null = null
  furthestTs: bigint | null = null

  constructor(
    readonly p: Prepared,
    readonly emu: Emulator,
    o: ReplayOptions,
  ) {
    this.encoders = p.recs.map((f) => p.feed.encoder(f))
    this.batchCache = p.clock === 'connection' ? p.recs.map((f, k) => new SharedBatches(f, k, {from: p.from, to: p.to})) : null
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

  get feed(): ReplayFeed {
    return this.p.feed
  }

  /** Connection clock: a reader whose first rows are already read, for the next connection (see {@link warmSource}). */
  private spare: WarmSource | null = null

  /**
   * A reader with its first read started. In `clock: 'connection'` one is
   * kept ready for the next connection, so its timeline can start the moment
   * its subscriptions settle instead of after the first batch is read and
   * decompressed (tens of ms for a large batch, on the event loop). The
   * spare is read when the replay starts and again when a client
   * disconnects, not when one connects: reading it then would hold up that
   * client's own first frames.
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

  openSource(signal: AbortSignal): MergedSource {
    return new MergedSource(this.p.recs, {from: this.p.from, to: this.p.to, signal, shared: this.batchCache ?? undefined})
  }

  /**
   * Connection clock: the decoded batches of each file, shared by every
   * timeline (and loop play) instead of each reading and decompressing the
   * files on its own; emptied when no timeline is running.
   */
  private readonly batchCache: SharedBatches[] | null

  /**
   * Connection clock: the frame of batch row `i` for `variant`, encoded once
   * for every timeline that plays the same (cached) batch with the same loop
   * shift, kept with the batch (for the last {@link MEMO_SHIFTS} shifts) and
   * freed with it. Without the cache (shared clock: one timeline), or while
   * only one timeline runs, it is simply encoded.
   */
  encodeShared(b: ReplayBatch, i: number, variant: number, shiftNs: number): unknown {
    const enc = this.encoders[b.fileIndex]
    // One timeline: nobody to share with, and keeping a payload per row (a view of the recorded
    // bytes, or a string) until the batch goes would fill the old generation: at 'max' the
    // garbage collector then cost more than the sending (measured: 0.93 s of GC per 500k frames).
    if (this.batchCache === null || this.timelines.size <= 1) return enc.encode(b, i, variant, shiftNs)
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

  /** Batches read from the files so far by the shared caches (connection clock), and the decoded bytes they hold now. */
  cacheStats(): {reads: number; heldBytes: number} {
    let reads = 0
    let heldBytes = 0
    for (const c of this.batchCache ?? []) {
      reads += c.reads
      heldBytes += c.heldBytes
    }
    return {reads, heldBytes}
  }

  private releaseIfIdle(): void {
    if (this.timelines.size > 0 || !this.batchCache) return
    for (const c of this.batchCache) c.reset()
  }

  async begin(): Promise<void> {
    const emu = this.emu
    emu.on('connection', (c: EmulatorClient) => this.onConnection(c))
    emu.on('subscribe', (c: EmulatorClient) => this.onSubscribe(c))
    emu.on('disconnect', (c: EmulatorClient) => this.onDisconnect(c))
    emu.on('unsubscribe', () => {
      this.wantsGen++
    })
    emu.on('slow', () => {
      this.slowClosed++
    })
    const names = this.p.recs.map((f) => f.path).join(', ')
    this.refillSpare()
    if (this.spare) {
      this.warmEncoders(this.spare)
      // The first client's timeline can start the moment it subscribes: its first batch is read and
      // prepared before replay() resolves (a read error still surfaces when a timeline runs).
      await this.spare.first.then(
        () => {},
        () => {},
      )
    }
    if (this.p.clock === 'shared') {
      const t = new Timeline(this, new SharedTarget(this))
      this.shared = t
      // Read the first batch now: a file that cannot be read fails replay() itself.
      await t.prefetch()
      this.launch(t)
    }
    this.log(
      `replaying ${names} (${this.feed.name}, speed ${this.speed === 'max' ? 'max' : `${this.speed}x`}, clock ${this.p.clock}) on ${this.url(this.feed.recordedVariant(this.p.recs[0]))}`,
    )
  }

  url(variant: number): string {
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
    this.subscriptionChanges++
    this.wantsGen++
    this.wakeIdle()
    if (c.subscriptions === 0) return
    if (this.p.clock === 'shared') {
      const t = this.shared!
      if (!t.begun) {
        t.prepareFirst()
        this.startWhenSettled(t, `client ${c.id} subscribed: the shared timeline starts`)
      }
      return
    }
    const own = this.byClient.get(c)
    if (!own || own.begun) return
    this.startWhenSettled(own, `client ${c.id} subscribed: its timeline ${own.id} starts`, () => {
      // A reconnect after a gap takes over its parked timeline instead of starting the recording again (see Rows).
      const parked = this.parked.find((t) => !t.stopped && (t.target as ClientTarget).resumableBy(c))
      if (parked) {
        this.unpark(parked)
        own.stop()
        this.byClient.set(c, parked)
        ;(parked.target as ClientTarget).attach(c)
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
    if (waitNs === 0) {
      this.settling.delete(t)
      go()
      return
    }
    this.settling.set(t, {first, timer: setTimeout(go, Math.ceil(waitNs / 1e6))})
  }

  /** Resolves at the next subscription change, or when a timeline stops or the replay closes. */
  interest(): Promise<void> {
    return new Promise<void>((resolve) => this.idle.add(resolve))
  }

  /** Resolves at monotonic time `untilNs` (a plain timer: no spin) or at the next subscription change, whichever is first. */
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

  /** Resolves when `p` does or at the next subscription change, whichever is first (the waiter is removed either way). */
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
    if (t && (t.target as ClientTarget).client === c) t.stop()
  }

  launch(t: Timeline): void {
    this.timelinesStarted++
    this.timelines.add(t)
    const run = t.run().then(
      () => this.timelineEnded(t),
      (error) => this.timelineFailed(t, error),
    )
    this.runs.add(run)
    void run.finally(() => this.runs.delete(run))
  }

  unpark(t: Timeline): void {
    const k = this.parked.indexOf(t)
    if (k >= 0) this.parked.splice(k, 1)
  }

  private timelineEnded(t: Timeline): void {
    this.timelines.delete(t)
    this.releaseIfIdle()
    this.unpark(t)
    if (t.stopped) return
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

  /** Send one frame (the feed's, as its encoder made it) to one client, with accounting and lateness; false when not sent. */
  send(c: EmulatorClient, frame: unknown, due: number, bp: Backpressure | undefined): boolean {
    const len = this.emu.size(frame)
    const cb = bp?.callbackFor(len)
    if (!this.emu.send(c, frame, cb)) return false
    this.framesSent++
    this.bytesSent += len
    if (due === due) {
      const late = nowNs() - due
      this.hist.record(late)
      this.onLateness?.(late, c.id)
    }
    return true
  }

  stats(): ReplayStats {
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
    }
  }

  summary(): ReplaySummary {
    return {...this.stats(), errors: [...this.errors]}
  }

  close(): Promise<ReplaySummary> {
    this.closing ??= (async () => {
      this.closed = true
      for (const t of [...this.timelines, ...this.byClient.values(), ...this.parked]) {
        t.target.stop()
        t.stop()
      }
      this.shared?.stop()
      if (this.spare) {
        this.spare.abort.abort()
        void this.spare.source.close()
        this.spare = null
      }
      for (const s of this.settling.values()) clearTimeout(s.timer)
      this.settling.clear()
      this.waker.close()
      this.wakeIdle()
      for (const c of this.batchCache ?? []) c.reset()
      await this.emu.close(1000, 'replay closed')
      await Promise.allSettled([...this.runs])
      const s = this.summary()
      this.log(`replay closed: ${plural(s.framesSent, 'frame')} sent to ${plural(s.clients, 'client')}`)
      // the same summary object: computed again, its elapsedMs could differ by a ms
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

/** A reader and its first read (see {@link Replayer.warmSource}). */
interface WarmSource {
  abort: AbortController
  source: MergedSource
  first: Promise<boolean>
}

let nextTimelineId = 1

/** One timeline: reads the rows (merged), waits for each row's due time, hands it to its target; loops. */
class Timeline {
  readonly id = nextTimelineId++
  stopped = false
  begun = false
  private readonly abort: AbortController
  private source: MergedSource
  private readonly first: Promise<boolean>
  private openGate!: () => void
  private readonly gate = new Promise<void>((resolve) => {
    this.openGate = resolve
  })
  /** Set while parked (its client closed at a gap): stop at this monotonic time unless a client attaches. */
  parkedUntil = Number.POSITIVE_INFINITY

  constructor(
    private readonly r: Replayer,
    readonly target: Target,
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
    let t0 = nowNs()
    const firstTs = ok ? src.ts : 0n
    if (ok && (r.firstTs === null || firstTs < r.firstTs)) r.firstTs = firstTs
    let period = 0
    let burst = 0
    /** Found before a sleep while the subscriptions were at `aimGen`: every row before this receive time is nobody's, so after the sleep they are passed over at once. */
    let aim: bigint | null = null
    let aimGen = -1
    const rx = this.receivers()
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
          ok = n === true || n === false ? n : await n
        }
        const shift = play * period
        const sentBefore = target.sent
        const changesBefore = r.subscriptionChanges
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
              ok = await n
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
            }
            while (due > now) {
              target.flush()
              await r.waker.wait(due, this)
              if (this.stopped) break
              now = nowNs()
              burst = 0
            }
            if (this.stopped) break
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
            target.gap(b.info(i))
          } else {
            target.deliver(src, shift, due)
          }
          // On a timed schedule a catch-up burst goes out every CATCHUP_FLUSH rows, not once at its end:
          // the frames held back are already late.
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
            ok = await n
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
        if (play + 1 < r.plays && target.sent === sentBefore && r.subscriptionChanges === changesBefore) {
          // A play that sent nothing would send nothing again: wait for a subscription change (see Idle),
          // then go on with the next play from now.
          while (r.subscriptionChanges === changesBefore && !this.stopped) await r.interest()
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

/** Connection clock: the rows go to one client (or nobody, while parked after a gap). */
class ClientTarget implements Target {
  client: EmulatorClient | null
  sent = 0
  private bp: Backpressure | undefined
  private readonly burst = new FrameBurst()
  private attachWait: {promise: Promise<void>; resolve: () => void} | null = null
  /** While parked at a gap: the closed client's subscriptions, for {@link resumableBy}. */
  private parkedAs: Subscriptions | null = null
  timeline!: Timeline
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
    let payload: unknown
    if (this.readyBatch === b && this.readyRow === i && this.readyShift === shiftNs && this.readyVariant === c.variant) {
      payload = this.readyPayload
      this.readyBatch = null
      this.readyPayload = undefined
    } else payload = this.r.encodeShared(b, i, c.variant, shiftNs)
    this.burst.open()
    try {
      if (this.r.send(c, payload, due, this.bp)) this.sent++
    } finally {
      this.burst.close()
    }
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

  gap(info: string | null): void {
    const c = this.client
    if (c === null || this.r.p.gaps !== 'disconnect') return
    this.flush()
    const t = this.timeline
    this.r.log(`client ${c.id}: gap in the recording${gapWhen(info)}; closing with ${GAP_CLOSE_CODE}`)
    this.parkedAs = subscriptionsOf(c, this.timeline.recordedSymbols())
    this.r.emu.closeClient(c, GAP_CLOSE_CODE, 'gap in the recording')
    this.client = null
    this.bp = undefined
    this.r.wantsGen++
    {
      const gapNs = gapDurationNs(info)
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

  /** Whether `c` is the client this timeline was parked for: same wire variant and same subscriptions (see Rows). */
  resumableBy(c: EmulatorClient): boolean {
    const was = this.parkedAs
    if (was === null || c.variant !== was.variant || c.subscriptions !== was.count) return false
    for (const [symbol, wanted] of was.wants) if (c.wants(symbol) !== wanted) return false
    return true
  }

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
class SharedTarget implements Target {
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

  gap(info: string | null): void {
    if (this.r.p.gaps !== 'disconnect') return
    this.flush()
    let n = 0
    for (const c of this.r.emu.clients) {
      this.r.emu.closeClient(c, GAP_CLOSE_CODE, 'gap in the recording')
      n++
    }
    this.r.log(`gap in the recording${gapWhen(info)}: closed ${n} clients with ${GAP_CLOSE_CODE}`)
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

function gapDurationNs(info: string | null): number {
  const d = parseGapInfo(info).duration_ms
  return d !== undefined && d > 0 ? d * 1e6 : 0
}

function gapWhen(info: string | null): string {
  const g = parseGapInfo(info)
  const parts: string[] = []
  if (g.start !== undefined) parts.push(`at ${g.start}`)
  if (g.duration_ms !== undefined) parts.push(`${Math.round(g.duration_ms)} ms long`)
  return parts.length > 0 ? ` (${parts.join(', ')})` : ''
}
