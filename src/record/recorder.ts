import {randomUUID} from 'node:crypto'
import {mkdirSync} from 'node:fs'
import {basename, dirname, extname, join} from 'node:path'

import {exportRecordings} from '../dataset/export.js'
import {MdrecError, fsError, isMdrecError} from '../errors.js'
import {URL_SCHEMES, checkUrlScheme, feedOptionValues, getFeed, type ClientSetup} from '../feeds/registry.js'
import type {FeedCodec, Frame, RowInput} from '../feeds/types.js'
import type {RawMode} from '../store/schema.js'
import {checkDestination, removeStalePartials} from '../store/atomic.js'
import {MAX_FRAME_BYTES, RecordingWriter, logStaleRemoved, type WriterOptions} from '../store/writer.js'
import {parseFeedUrl} from '../util/redact.js'
import {nsToIso} from '../util/time.js'
import {gapInfoText, type GapInfo} from '../store/gap.js'
import {checkOptionKeys, checkOptionTypes, type OptionKind} from '../util/options.js'
import {plural} from '../util/units.js'
import {VERSION} from '../version.js'
import type {SideSource} from './side.js'
import {ConnectionSupervisor, type ConnectionState, type GapEvent, type SupervisorOptions} from './supervisor.js'

export type RotatePolicy = {kind: 'time'; ms: number} | {kind: 'size'; bytes: number}

export interface RecordOptions {
  feed?: string
  symbols: string[]
  /**
   * The feed's own options, by the names the feed declares
   * (`getFeed(feed).options`; `mdrec record` makes a flag of each): e.g.
   * `{types: ['ticker', 'trade'], format: 'simple'}` for upbit,
   * `{types: ['H0STCNT0'], tiering: true, 'poll-interval': 1000}` for kis.
   * An option the feed does not take, or a value of the wrong kind, is a
   * usage error (MdrecError E_USAGE).
   */
  feedOptions?: Readonly<Record<string, unknown>>
  /** Feed URL; default: the feed's env variable, then its public endpoint. */
  url?: string
  /** Output path; default `./<feed>-<symbols>-<UTC start>.arrow`. */
  out?: string
  /** Stop after this long; default: until stop() or the signal. */
  durationMs?: number
  flushIntervalMs?: number
  rotate?: RotatePolicy
  raw?: RawMode
  /**
   * A dataset directory (docs/DATASETS.md): every file of the run is added
   * to it as Parquet when it is closed (each rotated part on rotation, the
   * last on stop), as `mdrec export FILE --out DIR` would. A failed export
   * is logged and counted (`RecordSummary.dataset.errors`); the recording
   * itself is kept either way.
   */
  dataset?: string
  /** With `dataset`: partition by symbol too. */
  datasetBySymbol?: boolean
  signal?: AbortSignal
  supervisor?: SupervisorOptions
  writer?: WriterOptions
  /** Status lines (connection changes, rotation); never carries secrets. */
  log?: (line: string) => void
}

/** Every RecordOptions key and the kind of its value, checked at run time (JavaScript callers get no type check). */
const RECORD_OPTION_KINDS = {
  feed: 'string',
  symbols: 'string[]',
  feedOptions: 'object',
  url: 'string',
  out: 'string',
  durationMs: 'number',
  flushIntervalMs: 'number',
  rotate: 'object',
  raw: 'string',
  dataset: 'string',
  datasetBySymbol: 'boolean',
  signal: 'object',
  supervisor: 'object',
  writer: 'object',
  log: 'function',
} as const satisfies Record<keyof RecordOptions, OptionKind>
const RECORD_OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(RECORD_OPTION_KINDS))

/** A snapshot while recording (`Recorder.stats()`). */
export interface RecorderStats {
  elapsedMs: number
  durationMs: number | null
  /** Rows of every file so far, gap and reject rows included (each row counted once, also while a file closes). */
  rows: number
  /** Bytes written to the files so far (fsynced batches, before compaction on close). */
  bytesWritten: number
  state: ConnectionState
  /** Connections made again after a loss. */
  reconnects: number
  /** Connection attempts that failed, over the whole run (refused, DNS, handshake). */
  failedAttempts: number
  /** Why the last attempt failed or the last connection was lost, secrets masked; null before any. */
  lastError: string | null
  /** Whether a connection was ever open. */
  connected: boolean
  gaps: number
  rejects: number
  files: string[]
  symbols: number
}

export interface RecordSummary extends Omit<RecorderStats, 'state' | 'elapsedMs' | 'durationMs'> {
  feed: string
  endpoint: string
  startedAt: string
  endedAt: string
  elapsedMs: number
  /** Size of the finished files in bytes: after compaction on close (compare `bytesWritten`). */
  bytes: number
  /** With `--dataset`: the directory, the rows and Parquet files added to it, and the files whose export failed. */
  dataset?: {dir: string; rows: number; files: number; errors: string[]}
  /**
   * Symbols given (patterns such as `*` left out) that no row was recorded
   * for, compared without regard to case (Binance streams are lowercase,
   * its payloads uppercase): a misspelt symbol, or one that did not trade.
   */
  silentSymbols: string[]
}

const TE = new TextEncoder()

function frameBytes(f: Frame): Uint8Array {
  return typeof f.data === 'string' ? TE.encode(f.data) : f.data
}

/** A frame's payload size in bytes (UTF-8 for text; counted only when it could be over the limit). */
function frameSize(f: Frame): number {
  if (typeof f.data !== 'string') return f.data.byteLength
  return f.data.length * 3 <= MAX_FRAME_BYTES ? f.data.length : Buffer.byteLength(f.data)
}

/**
 * `<feed>-<symbols>-<UTC start, basic ISO 8601>.arrow`, e.g.
 * `yahoo-AAPL_MSFT-20261130T201127Z.arrow`: symbols joined by `_`, characters
 * a file name should not hold as `-`, `*` (every symbol) as `all`, more than
 * 60 characters cut and suffixed with `+<count>`.
 */
export function defaultOutPath(feed: string, symbols: string[], startMs: number): string {
  const stamp = new Date(startMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  let syms = symbols
    .map((s) => (s === '*' ? 'all' : s))
    .join('_')
    .replace(/[^A-Za-z0-9._^=-]/g, '-')
  if (syms.length > 60) syms = `${syms.slice(0, 60)}+${symbols.length}`
  return `${feed}-${syms}-${stamp}.arrow`
}

function partPath(path: string, n: number): string {
  const ext = extname(path) || '.arrow'
  return join(dirname(path), `${basename(path, extname(path))}.${String(n).padStart(3, '0')}${ext}`)
}

/**
 * Records one feed to a recording (or a rotated series of them): the
 * connection supervisor delivers timestamped frames, the feed codec decodes
 * them into rows, the writer batches and fsyncs them.
 */
export class Recorder {
  readonly feed: string
  readonly endpoint: string
  private readonly codec: FeedCodec
  private readonly sup: ConnectionSupervisor
  private writer: RecordingWriter
  private readonly files: string[] = []
  private readonly closing: Promise<unknown>[] = []
  private readonly startMs = Date.now()
  private readonly startNs: bigint
  /** Rows and bytes of closed files; `open` holds the current writer and any still closing. */
  private rowsDone = 0
  private bytesDone = 0
  private writtenDone = 0
  private readonly open = new Set<RecordingWriter>()
  private gaps = 0
  private rejects = 0
  private readonly symbolsSeen = new Set<string>()
  private part = 0
  private rotateTimer: NodeJS.Timeout | null = null
  private durationTimer: NodeJS.Timeout | null = null
  private stopping: Promise<RecordSummary> | null = null
  private failure: MdrecError | null = null
  private resolveDone!: (s: RecordSummary) => void
  private rejectDone!: (e: unknown) => void
  readonly done: Promise<RecordSummary>
  private readonly raw: RawMode
  /** Masks the feed's secrets in text that came from outside (close reasons, gap reasons). */
  private readonly redact: (text: string) => string
  private readonly basePath: string
  /** One id for every file of this run (`mdrec.run_id`). */
  readonly runId = randomUUID()
  private readonly newWriter: (path: string, part: number | undefined, firstSeq: bigint) => RecordingWriter
  /** With --dataset: the exports of closed files, one after another, and what they added. */
  private exporting: Promise<void> = Promise.resolve()
  private readonly datasetStats = {rows: 0, files: 0, errors: [] as string[]}

  /** Resolve the feed's client side (which may talk to the feed's REST API first), then start recording. */
  static async start(o: RecordOptions): Promise<Recorder> {
    const adapter = getFeed(o.feed ?? 'yahoo')
    // A plain-JS caller's misplaced or misspelt option is an error, not silently ignored (a feed's own options go in feedOptions).
    checkOptionKeys('record()', o, RECORD_OPTION_KEYS, (key) =>
      adapter.options.some((d) => d.name === key) ? `record(): ${key} is an option of the ${adapter.name} feed: pass it as feedOptions: {${key}: …}` : undefined,
    )
    checkOptionTypes('record()', o as unknown as Record<string, unknown>, RECORD_OPTION_KINDS)
    if (!Array.isArray(o.symbols) || o.symbols.length === 0) throw new MdrecError('E_USAGE', 'no symbols given: name at least one, e.g. `mdrec record AAPL`')
    if (o.durationMs !== undefined && o.durationMs < 0) throw new MdrecError('E_USAGE', `record(): durationMs ${o.durationMs} is negative`)
    // a URL the feed does not take: the usage error names the feed's own schemes (or the feed a scheme is for)
    if (o.url !== undefined) checkUrlScheme(adapter, o.url)
    const options = feedOptionValues(adapter, o.feedOptions)
    const setup = await adapter.client({...options, symbols: o.symbols, url: o.url, env: process.env, log: o.log})
    validateUrl(setup.spec.url)
    return new Recorder(o, adapter.name, setup)
  }

  private constructor(
    private readonly o: RecordOptions,
    feed: string,
    setup: ClientSetup,
  ) {
    this.feed = feed
    this.codec = setup.codec
    this.endpoint = setup.endpoint
    this.redact = setup.redact
    this.raw = o.raw ?? 'auto'
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve
      this.rejectDone = reject
    })
    this.done.catch(() => {})
    this.sup = new ConnectionSupervisor(setup.spec, o.supervisor)
    this.startNs = this.sup.clock.nowNs()
    this.basePath = o.out ?? defaultOutPath(this.feed, o.symbols, this.startMs)
    const first = o.rotate ? partPath(this.basePath, 0) : this.basePath
    // Every part carries the run's start time (so `+offset` times mean the
    // same in each), its run id and index, and continues the run's `seq`.
    const startTime = nsToIso(this.startNs)
    this.newWriter = (path: string, part: number | undefined, firstSeq: bigint) =>
      RecordingWriter.create(
        path,
        {
          meta: {
            feed: this.feed,
            endpoint: this.endpoint,
            subscriptions: o.symbols,
            feedOptions: setup.feedOptions,
            toolVersion: VERSION,
            startTime,
            rawMode: this.raw,
            runId: this.runId,
            part,
          },
          exchTsUnit: this.codec.exchTsUnit,
          columns: this.codec.columns,
        },
        {flushIntervalMs: o.flushIntervalMs ?? 1000, ...o.writer, firstSeq, log: o.log, onError: (e) => this.fail(e)},
      )
    // Refuse up front a path taken (a file or a directory) or in a missing directory, naming it and what to do.
    checkDestination(first, {flag: '--out'})
    if (o.dataset !== undefined) {
      try {
        mkdirSync(o.dataset, {recursive: true})
      } catch (error) {
        throw fsError(error, o.dataset, 'creating the --dataset directory')
      }
    }
    // Temporaries left by a run killed while compacting this output (its final file is whole).
    logStaleRemoved(removeStalePartials(first), o.log)
    this.writer = this.newWriter(first, o.rotate ? 0 : undefined, 0n)
    this.open.add(this.writer)
    this.files.push(first)

    this.sup.on('frame', (frame: Frame, recvNs: bigint) => this.onFrame(frame, recvNs))
    this.sup.on('gap', (g: GapEvent) => this.onGap(g))
    let lastFailure = ''
    this.sup.on('state', (s: ConnectionState, detail?: string) => {
      // every attempt starts with 'connecting': the backoff line before it already says so;
      // and 'stopped' follows the stop the user (or --duration) asked for
      if (s === 'connecting' || s === 'stopped') return
      if (s === 'connected') lastFailure = ''
      if (s === 'backoff' && detail) {
        // one line per outage and per new reason; the status shows the running count of failed attempts
        const why = detail.replace(/; retrying in \d+ ms$/, '')
        if (why === lastFailure) return
        lastFailure = why
      }
      // a server's close reason can echo what the client sent: mask secrets in it
      // backoff: `connection: cannot connect: ECONNREFUSED …; retrying in 400 ms`
      o.log?.(`connection: ${s === 'backoff' && detail ? setup.redact(detail) : `${s}${detail ? ` (${setup.redact(detail)})` : ''}`}`)
    })
    if (o.rotate?.kind === 'time') {
      this.rotateTimer = setInterval(() => this.rotate(), o.rotate.ms)
    }
    if (o.durationMs !== undefined) this.durationTimer = setTimeout(() => void this.stop(), o.durationMs)
    if (o.signal) {
      if (o.signal.aborted) queueMicrotask(() => void this.stop())
      else o.signal.addEventListener('abort', () => void this.stop(), {once: true})
    }
    o.log?.(`recording ${o.symbols.join(' ')} from ${this.endpoint} to ${first}`)
    this.sup.start()
    this.side = setup.side ?? null
    this.side?.start({
      append: (row) => this.appendSide(row),
      send: (m) => this.sup.send(m),
      nowNs: () => this.sup.clock.nowNs(),
      raw: this.raw,
      log: (line) => o.log?.(line),
    })
  }

  /** A feed's side source (KIS tiering), if any. */
  private side: SideSource | null = null

  /** A row from the side source: written like a decoded frame's. */
  private appendSide(row: RowInput): void {
    this.guard(() => {
      if (row.kind === 'reject') this.rejects++
      if (row.kind !== 'status' && row.symbol !== '') this.symbolsSeen.add(row.symbol)
      this.writer.append(row)
      if (this.o.rotate?.kind === 'size' && this.writer.stats.bytes >= this.o.rotate.bytes) this.rotate()
    })
  }

  private guard(fn: () => void): void {
    if (this.failure || this.stopping) return
    try {
      fn()
    } catch (error) {
      this.fail(error)
    }
  }

  private fail(error: unknown): void {
    this.failure = isMdrecError(error) ? error : new MdrecError('E_INTERNAL', (error as Error).message, {cause: error})
    void this.stop()
  }

  private onFrame(frame: Frame, recvNs: bigint): void {
    this.guard(() => {
      const size = frameSize(frame)
      // A frame over the limit is kept as a reject with a note, without its payload (see MAX_FRAME_BYTES).
      const tooLarge = size > MAX_FRAME_BYTES
      const d = tooLarge
        ? ({ok: false, code: 'TOO_LARGE', message: `a frame of ${size} bytes is larger than the largest mdrec stores (${MAX_FRAME_BYTES} bytes); its payload was not kept`} as const)
        : this.codec.decode(frame)
      if (!d.ok) {
        this.rejects++
        this.writer.append({
          recv_ts: recvNs,
          exch_ts: null,
          symbol: '',
          kind: 'reject',
          raw: tooLarge ? null : frameBytes(frame),
          info: JSON.stringify({code: d.code, message: d.message, binary: frame.binary}),
          fields: null,
        })
      } else {
        const rows = d.rows
        const bytes = this.raw === 'never' ? null : this.raw === 'always' || rows.length !== 1 || !rows[0].exact ? frameBytes(frame) : null
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]
          this.symbolsSeen.add(r.symbol)
          // A multi-row frame keeps its payload once, on its first row.
          const row: RowInput = {
            recv_ts: recvNs,
            exch_ts: r.exch_ts,
            symbol: r.symbol,
            kind: r.kind,
            raw: i === 0 ? bytes : null,
            info: r.info,
            fields: r.fields,
          }
          this.writer.append(row)
        }
      }
      if (this.o.rotate?.kind === 'size' && this.writer.stats.bytes >= this.o.rotate.bytes) this.rotate()
    })
  }

  private onGap(g: GapEvent): void {
    this.guard(() => {
      this.gaps++
      this.writer.append(gapRow(g, this.redact))
      this.writer.flush()
    })
  }

  /** Start the next file; the current one is closed (and compacted) in the background. */
  private rotate(): void {
    this.guard(() => {
      const old = this.writer
      this.part++
      const next = partPath(this.basePath, this.part)
      this.writer = this.newWriter(next, this.part, old.nextSeq)
      this.open.add(this.writer)
      this.files.push(next)
      this.o.log?.(`rotated: now writing ${next}`)
      this.closing.push(this.closeWriter(old))
    })
  }

  private async closeWriter(w: RecordingWriter): Promise<void> {
    // After a write failure (a full disk) keep the file as it is: no rewrite.
    const compact = this.failure ? false : undefined
    // the last batch first, so the bytes written before compaction are known
    if (compact !== false) w.flush()
    const written = w.stats.bytes
    const s = await w.close({compact})
    // moved from `open` to the totals in one step: stats() counts each file once
    this.open.delete(w)
    this.rowsDone += s.rows
    this.bytesDone += s.bytes
    this.writtenDone += compact === false ? s.bytes : written
    if (this.o.dataset !== undefined) {
      const dir = this.o.dataset
      this.exporting = this.exporting.then(() => this.exportClosed(w.path, dir))
    }
  }

  /** Add a closed file to the --dataset directory; a failure is logged, never thrown (the recording is whole). */
  private async exportClosed(path: string, dir: string): Promise<void> {
    try {
      const r = await exportRecordings([path], dir, {partitionBySymbol: this.o.datasetBySymbol, log: this.o.log})
      this.datasetStats.rows += r.rows
      this.datasetStats.files += r.files.length
      this.o.log?.(`dataset: added ${plural(r.rows, 'row')} of ${path} to ${dir} (${plural(r.files.length, 'file')})`)
    } catch (error) {
      const why = isMdrecError(error) ? error.message : (error as Error).message
      this.datasetStats.errors.push(path)
      this.o.log?.(`dataset: could not add ${path} to ${dir}: ${why}; the recording is kept: run \`mdrec export ${path} --out ${dir}\` to add it`)
    }
  }

  stats(): RecorderStats {
    let rows = this.rowsDone
    let written = this.writtenDone
    for (const w of this.open) {
      rows += w.rows
      written += w.stats.bytes
    }
    const lastError = this.sup.lastError
    return {
      elapsedMs: Date.now() - this.startMs,
      durationMs: this.o.durationMs ?? null,
      rows,
      bytesWritten: written,
      state: this.sup.state,
      reconnects: this.sup.reconnects,
      failedAttempts: this.sup.failedAttempts,
      lastError: lastError === null ? null : this.redact(lastError),
      connected: this.sup.everConnected,
      gaps: this.gaps,
      rejects: this.rejects,
      files: [...this.files],
      symbols: this.symbolsSeen.size,
    }
  }

  /** Stop recording: flush the last batch, close (and compact) the file, resolve `done`. */
  stop(): Promise<RecordSummary> {
    this.stopping ??= this.finish()
    return this.stopping
  }

  private async finish(): Promise<RecordSummary> {
    if (this.rotateTimer) clearInterval(this.rotateTimer)
    if (this.durationTimer) clearTimeout(this.durationTimer)
    try {
      // the side source first: its last rows go into the file before it closes
      await this.side?.stop()
      const openGap = await this.sup.stop()
      if (openGap && !this.failure) {
        this.gaps++
        this.writer.append(gapRow(openGap, this.redact))
      }
      this.closing.push(this.closeWriter(this.writer))
      await Promise.all(this.closing)
      await this.exporting
    } catch (error) {
      this.failure ??= isMdrecError(error) ? error : new MdrecError('E_INTERNAL', (error as Error).message, {cause: error})
    }
    const s = this.stats()
    const summary: RecordSummary = {
      feed: this.feed,
      endpoint: this.endpoint,
      startedAt: nsToIso(this.startNs),
      endedAt: nsToIso(this.sup.clock.nowNs()),
      elapsedMs: s.elapsedMs,
      rows: this.rowsDone,
      bytes: this.bytesDone,
      bytesWritten: this.writtenDone,
      reconnects: s.reconnects,
      failedAttempts: s.failedAttempts,
      lastError: s.lastError,
      connected: s.connected,
      gaps: s.gaps,
      rejects: s.rejects,
      files: s.files,
      symbols: s.symbols,
      silentSymbols: silentSymbols(this.o.symbols, this.symbolsSeen),
      ...(this.o.dataset === undefined ? {} : {dataset: {dir: this.o.dataset, ...this.datasetStats, errors: [...this.datasetStats.errors]}}),
    }
    if (this.failure) this.rejectDone(this.failure)
    else this.resolveDone(summary)
    if (this.failure) throw this.failure
    return summary
  }

  /** Give up at once (second Ctrl-C): rows already flushed stay readable; pending rows are lost. */
  abort(): void {
    if (this.rotateTimer) clearInterval(this.rotateTimer)
    if (this.durationTimer) clearTimeout(this.durationTimer)
    void this.side?.stop()
    void this.sup.stop()
    this.writer.abort()
  }
}

/** The symbols of `given` (not patterns) with no row in `seen`, compared in upper case. */
export function silentSymbols(given: readonly string[], seen: ReadonlySet<string>): string[] {
  const upper = new Set([...seen].map((x) => x.toUpperCase()))
  return given.filter((x) => !/[*?[]/.test(x) && !upper.has(x.toUpperCase()))
}

function gapRow(g: GapEvent, redact: (text: string) => string): RowInput {
  const info: GapInfo = {
    start: nsToIso(g.startNs),
    end: nsToIso(g.endNs),
    duration_ms: Number(g.endNs - g.startNs) / 1e6,
    reason: redact(g.reason),
    attempts: g.attempts,
  }
  if (g.lastError !== undefined) info.last_error = redact(g.lastError)
  if (g.untilStop) info.until_stop = true
  return {recv_ts: g.startNs, exch_ts: null, symbol: '', kind: 'gap', raw: null, info: gapInfoText(info), fields: null}
}

/** A ws://, wss:// or (generic feed) redis:// URL, or E_USAGE showing only its sanitized form (a URL may carry a token). */
function validateUrl(url: string): void {
  parseFeedUrl(url, '--url', URL_SCHEMES)
}

/**
 * Record until the duration ends, the signal aborts, or a fatal error
 * (rejects with an MdrecError). A feed that was never reachable is not an
 * error here: the summary has `connected: false`, `failedAttempts` and
 * `lastError`, and the file holds one gap row covering the run (the CLI
 * turns that into exit 1).
 */
export async function record(opts: RecordOptions): Promise<RecordSummary> {
  const r = await Recorder.start(opts)
  return r.done
}
