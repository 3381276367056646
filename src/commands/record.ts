import {Args, Flags} from '@oclif/core'
import cliProgress from 'cli-progress'

import {BaseCommand} from '../cli/base.js'
import {onStopSignals} from '../cli/signals.js'
import {MdrecError} from '../errors.js'
import {duration, feedFlag, feedUrl, rotate} from '../cli/flags.js'
import {FEED_NAMES, checkUrlScheme, feedEnvHelp, feedFlags, feedsHelp, flagValue, getFeed} from '../feeds/registry.js'
import {Recorder, type RecorderStats, type RecordSummary} from '../record/recorder.js'
import {RAW_MODES, type RawMode} from '../store/schema.js'
import {formatBytes, formatDuration, formatDurationSpec, plural} from '../util/units.js'

/** The feeds without a public endpoint, said once in the help. */
const NO_PUBLIC_ENDPOINT = FEED_NAMES.filter((name) => getFeed(name).defaultUrl === '')
  .map((name) => `The ${name} feed has no public endpoint: give --url.`)
  .join(' ')

/** The feed flags, made once at load from the feeds' declared options (one flag per option name). */
const FEED_FLAGS = feedFlags()

export default class Record extends BaseCommand<typeof Record> {
  static override summary = 'Record a live feed to a zstd-compressed Arrow recording.'
  static override description = `Connects, subscribes to SYMBOL..., decodes every message and appends the rows to the recording, flushing and fsyncing a batch every --flush-interval. Survives disconnects (reconnects with backoff; each outage is a gap row) and crashes (a killed recorder loses at most one flush interval; \`mdrec verify --repair\` recovers the rest).

Stops at the end of --duration, or on SIGINT/SIGTERM (Ctrl-C): flushes, closes the file, prints a summary, exits 0; a symbol given that got no row is named on stderr ("note: no rows for …": misspelt, or not trading). A second Ctrl-C exits at once, still leaving a readable file. A run that never connected (the feed unreachable the whole time) keeps its file, which holds one gap row covering the outage, and exits 1 naming the last connection error.

On a terminal a status bar shows elapsed time (/ --duration), rows and rows/s, bytes written so far, reconnects, gaps, rejects and the connection state with the last connection error; connection events are printed above it. Elsewhere the same status is a line every 10 s. The summary's file size is after compaction on close, so it differs from the bytes written while recording.

The URL defaults to the feed's public endpoint; --url or the feed's variable (${FEED_NAMES.map((name) => getFeed(name).urlEnv).join(', ')}) overrides it, ws:// included. ${NO_PUBLIC_ENDPOINT}

${feedsHelp()}

${feedEnvHelp()}`
  static override examples = [
    '<%= config.bin %> record AAPL --duration 30m',
    '<%= config.bin %> record AAPL MSFT BTC-USD --out ticks.arrow --rotate 1h',
    '<%= config.bin %> record AAPL MSFT --rotate 1h --dataset /data/md',
    '<%= config.bin %> record AAPL --url "ws://127.0.0.1:8765/?version=2" --duration 90s --json',
    '<%= config.bin %> record KRW-BTC KRW-ETH --feed upbit --types ticker,trade,orderbook',
    'KIS_APP_KEY=… KIS_APP_SECRET=… <%= config.bin %> record 005930 000660 --feed kis --types H0STCNT0,H0STASP0',
    'KIS_APP_KEY=… KIS_APP_SECRET=… <%= config.bin %> record $(cat kospi200.txt) --feed kis --tiering --poll-interval 5s --rebalance-every 5m',
    '<%= config.bin %> record prices trades --feed generic --url ws://127.0.0.1:9000/',
    "<%= config.bin %> record '*' --feed generic --url redis://127.0.0.1:6379/md",
  ]
  static override strict = false
  static override args = {symbol: Args.string({description: 'symbols to subscribe to', required: true})}
  static override flags = {
    feed: Flags.string({description: 'feed protocol', options: FEED_NAMES, default: 'yahoo'}),
    duration: duration({char: 'd', description: 'stop after this long (90s, 30m, 1h30m, 2d); a unit is required, since a bare 30 could mean 30s or 30m; default: until Ctrl-C'}),
    out: Flags.string({char: 'o', description: 'output path (default ./<feed>-<symbols>-<UTC start>.arrow, * as all); never overwritten'}),
    url: feedUrl("feed URL (default: the feed's public endpoint, or MDREC_<FEED>_URL); stored and shown without user info, query (Yahoo keeps ?version=), fragment or opaque path segments"),
    'flush-interval': duration({description: 'write and fsync a batch at least this often', default: 1000, defaultHelp: async () => '1s'}),
    rotate: rotate({description: 'start a new file every duration (1h) or size (256MiB; checked as each batch is written, at least once a second, so a part can pass it by up to a second of data); files are numbered <out>.000.arrow, .001, …'}),
    raw: Flags.string({description: 'keep received payloads: auto (only when the decoded columns do not re-encode to the same bytes), always, never', options: [...RAW_MODES], default: 'auto'}),
    'stale-timeout': duration({description: 'reconnect when nothing has arrived for this long', default: 60_000, defaultHelp: async () => '60s'}),
    'reconnect-min': duration({description: 'first reconnect delay (doubles per failure, ±50% jitter)', default: 500, defaultHelp: async () => '500ms'}),
    'reconnect-max': duration({description: 'longest reconnect delay', default: 30_000, defaultHelp: async () => '30s'}),
    ...Object.fromEntries(FEED_FLAGS.map((ff) => [ff.name, feedFlag(ff)])),
    dataset: Flags.string({description: 'also add every closed file (each rotated part, the last on stop) to this Parquet dataset directory, as `mdrec export` does; several recorders may share it'}),
    'dataset-partition-symbol': Flags.boolean({description: 'with --dataset: partition by symbol too', dependsOn: ['dataset']}),
    quiet: Flags.boolean({char: 'q', description: 'no progress output (errors still go to stderr)'}),
  }

  public async run(): Promise<RecordSummary> {
    const {argv} = await this.parse(Record)
    const f = this.flags
    // a bad URL: a usage error naming the schemes of this feed, or the feed a scheme (redis://) is for
    if (f.url !== undefined) checkUrlScheme(getFeed(f.feed), f.url)
    const quiet = f.quiet || this.jsonEnabled()
    const tty = Boolean(process.stderr.isTTY) && !quiet
    const say = (line: string) => {
      if (!quiet) process.stderr.write(`${line}\n`)
    }
    // Event lines go above the status bar once it is up (and plainly before).
    let bar: StatusBar | null = null
    const log = (line: string) => (bar ? bar.log(line) : say(line))
    const recorder = await Recorder.start({
      feed: f.feed,
      symbols: argv as string[],
      // every feed flag given, by its option name; the recorder refuses those the feed does not take
      feedOptions: Object.fromEntries(FEED_FLAGS.map((ff) => [ff.name, flagValue(ff, (f as {[flag: string]: unknown})[ff.name])])),
      url: f.url,
      out: f.out,
      durationMs: f.duration,
      flushIntervalMs: f['flush-interval'],
      rotate: f.rotate,
      raw: f.raw as RawMode,
      dataset: f.dataset,
      datasetBySymbol: f['dataset-partition-symbol'],
      supervisor: {staleMs: f['stale-timeout'], minBackoffMs: f['reconnect-min'], maxBackoffMs: f['reconnect-max']},
      log,
    })

    const offSignals = onStopSignals(
      (sig) => {
        log(`${sig}: finishing: flushing and closing the file (Ctrl-C again: exit at once)`)
        void recorder.stop().catch(() => {})
      },
      () => {
        recorder.abort()
        bar?.stop(recorder.stats())
        process.stderr.write('exiting at once; rows flushed so far are readable\n')
        process.exit(130)
      },
    )

    if (tty) bar = new StatusBar(recorder)
    const lines = !tty && !quiet ? startStatusLines(recorder, say) : null
    let summary: RecordSummary
    try {
      summary = await recorder.done
    } finally {
      // the last frame shows the final counts, the same the summary prints
      bar?.stop(recorder.stats())
      bar = null
      lines?.stop()
      offSignals()
    }
    if (!this.jsonEnabled()) {
      const written = summary.bytesWritten === summary.bytes ? '' : ` (after compaction; ${formatBytes(summary.bytesWritten)} written while recording)`
      this.log(
        [
          // the gap rows (one per outage) are not data: a run that never connected recorded none
          summary.rows > summary.gaps
            ? `recorded ${plural(summary.rows, 'row')} of ${plural(summary.symbols, 'symbol')} in ${formatDuration(summary.elapsedMs)}`
            : `recorded no data in ${formatDuration(summary.elapsedMs)}${summary.gaps ? `: the file holds ${summary.gaps === 1 ? 'one gap row covering the outage' : `${summary.gaps} gap rows covering the outages`}` : ''}`,
          `  ${summary.files.length === 1 ? 'file ' : 'files'}       ${summary.files.join(', ')}`,
          `  file size   ${formatBytes(summary.bytes)}${written}`,
          ...(summary.dataset ? [`  dataset     ${summary.dataset.dir}: ${plural(summary.dataset.rows, 'row')} in ${plural(summary.dataset.files, 'Parquet file')}${summary.dataset.errors.length ? `; not added: ${summary.dataset.errors.join(', ')}` : ''}`] : []),
          `  reconnects  ${summary.reconnects} (${plural(summary.failedAttempts, 'failed attempt')}), gaps ${summary.gaps}, rejects ${summary.rejects}`,
        ].join('\n'),
      )
    }
    if (summary.connected && summary.silentSymbols.length > 0) {
      // an empty result is said, not left to be found later (a misspelt symbol records nothing for the whole --duration)
      const list = summary.silentSymbols.join(', ')
      process.stderr.write(`note: no rows for ${list} in ${formatDuration(summary.elapsedMs)}: the feed sent nothing for ${summary.silentSymbols.length === 1 ? 'it' : 'them'}; check the spelling, or whether ${summary.silentSymbols.length === 1 ? 'it trades' : 'they trade'} now\n`)
    }
    if (!summary.connected) {
      const last = summary.lastError ? `${plural(summary.failedAttempts, 'failed attempt')}; last: ${summary.lastError}` : 'stopped while the first attempt was under way'
      throw new MdrecError(
        'E_FEED',
        `never connected to ${summary.endpoint} (${last}); the recording ${summary.files.join(', ')} holds a gap row covering the outage (${formatDuration(summary.elapsedMs)})`,
      )
    }
    return summary
  }
}

/**
 * The status as one line: `4.3s / 30m | connected | 270 rows 54.0/s |
 * written 12.08 KiB | reconnects 1, gaps 1, rejects 0`. While not connected the
 * state says why: `disconnected, 6 failed attempts: ECONNREFUSED 127.0.0.1:8765`.
 */
export function statusText(s: RecorderStats, compact = false): string {
  const rate = s.elapsedMs > 0 ? (s.rows / s.elapsedMs) * 1000 : 0
  const total = s.durationMs === null ? '' : ` / ${formatDurationSpec(s.durationMs)}`
  // the connection first: while offline its reason matters most, and a narrow terminal cuts the end
  if (compact) {
    // a narrow terminal: no bytes written, and the connection (whose error can be long) last, so the counts stay
    return [
      `${formatDuration(s.elapsedMs)}${total}`,
      `${plural(s.rows, 'row')} ${rate.toFixed(0)}/s`,
      `reconn ${s.reconnects} gaps ${s.gaps} rej ${s.rejects}`,
      connectionText(s),
    ].join(' | ')
  }
  return [
    `${formatDuration(s.elapsedMs)}${total}`,
    connectionText(s),
    `${plural(s.rows, 'row')} ${rate.toFixed(1)}/s`,
    `written ${formatBytes(s.bytesWritten)}`,
    `reconnects ${s.reconnects}, gaps ${s.gaps}, rejects ${s.rejects}`,
  ].join(' | ')
}

/**
 * The status bar's line for a terminal `width` columns wide: `bar` and the
 * full figures when they fit, else the figures alone, else their compact
 * form, cut short only as a last resort, so reconnects, gaps and rejects
 * (what matters during an outage) stay on an 80-column terminal.
 */
export function statusLine(s: RecorderStats, width: number, bar: string): string {
  const full = statusText(s)
  if (bar.length + full.length <= width) return bar + full
  if (full.length <= width) return full
  return truncate(statusText(s, true), width)
}

function connectionText(s: RecorderStats): string {
  if (s.state === 'connected' || s.state === 'stopped') return s.state
  const state = s.state === 'connecting' ? 'connecting' : 'disconnected'
  if (s.lastError === null) return state
  return `${state}, ${plural(s.failedAttempts, 'failed attempt')}: ${s.lastError.replace(/^cannot connect: /, '')}`
}

function startStatusLines(recorder: Recorder, say: (l: string) => void): {stop(): void} {
  // Not a TTY (CI, a pipe): a plain status line at most every 10 s.
  const t = setInterval(() => say(statusText(recorder.stats())), 10_000)
  t.unref()
  return {stop: () => clearInterval(t)}
}

/**
 * The status bar on a terminal, drawn by cli-progress. Its MultiBar (with a
 * single bar) is used because it can print lines above the bar (`log`),
 * which SingleBar cannot: text written past a bar lands on the bar's line.
 * The line is built by our own format function (cli-progress's `{total}`
 * and `{value}` tokens are its own, so payload keys of those names are
 * shadowed) and cut short of the terminal's width, so it never wraps;
 * wrapping stays on for the lines printed above it.
 */
class StatusBar {
  private readonly multi: cliProgress.MultiBar
  private readonly bar: cliProgress.SingleBar
  private readonly timer: NodeJS.Timeout
  private stopped = false

  constructor(private readonly recorder: Recorder) {
    const s0 = recorder.stats()
    this.multi = new cliProgress.MultiBar(
      {
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        linewrap: true,
        barsize: 12,
        format: (options, params, payload: {stats: RecorderStats}) => {
          const s = payload.stats
          // Without --duration the bar could never fill: no bar, only the figures.
          const fill = s.durationMs === null ? '' : `${cliProgress.Format.BarFormat(params.progress, options)} `
          // 3 columns short of the width: the terminal echoes a typed Ctrl-C as `^C` after the
          // line, and two characters past the last column would wrap and leave a stale frame
          return statusLine(s, params.maxWidth - 3, fill)
        },
      },
      cliProgress.Presets.shades_classic,
    )
    this.bar = this.multi.create(s0.durationMs ?? 1, 0, {stats: s0})
    this.timer = setInterval(() => this.update(this.recorder.stats()), 250)
  }

  private update(s: RecorderStats): void {
    this.bar.update(s.durationMs === null ? 0 : Math.min(s.elapsedMs, s.durationMs), {stats: s})
  }

  /** A line above the bar (shown at the next redraw, within 100 ms). */
  log(line: string): void {
    if (this.stopped) process.stderr.write(`${line}\n`)
    else this.multi.log(`${line}\n`)
  }

  /** Draw the last frame from `final`, print pending lines, and leave the cursor on the line below. */
  stop(final: RecorderStats): void {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.timer)
    this.update(final)
    this.multi.update() // flushes lines logged since the last redraw
    this.multi.stop()
  }
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`
}
