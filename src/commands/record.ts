import {Args, Flags} from '@oclif/core'
import cliProgress from 'cli-progress'

import {BaseCommand} from '../cli/base.js'
import {duration, feedUrl, rotate} from '../cli/flags.js'
import {FEED_NAMES} from '../feeds/registry.js'
import {Recorder, type RecorderStats, type RecordSummary} from '../record/recorder.js'
import {RAW_MODES, type RawMode} from '../store/schema.js'
import {formatBytes, formatDuration} from '../util/units.js'

export default class Record extends BaseCommand<typeof Record> {
  static override summary = 'Record a live feed to a zstd-compressed Arrow recording.'
  static override description = `Connects, subscribes to SYMBOL..., decodes every message and appends the rows to the recording, flushing and fsyncing a batch every --flush-interval. Survives disconnects (reconnects with backoff; each outage is a gap row) and crashes (a killed recorder loses at most one flush interval; \`mdrec verify --repair\` recovers the rest).

Stops at the end of --duration, or on SIGINT/SIGTERM (Ctrl-C): flushes, closes the file, prints a summary, exits 0. A second Ctrl-C exits at once, still leaving a readable file.

The URL defaults to the feed's public endpoint; --url or the feed's variable (MDREC_YAHOO_URL, MDREC_UPBIT_URL, MDREC_KIS_URL, MDREC_GENERIC_URL) overrides it, ws:// included. The generic feed has no public endpoint: give --url.

Feeds: yahoo (the envelope follows the URL's ?version=: 2 for JSON, otherwise bare base64); upbit (--types ticker,trade,orderbook,candle.1m…, --format default|simple); kis (--types H0STCNT0,H0STASP0…, approval key from KIS_APP_KEY/KIS_APP_SECRET, --paper; at most 41 registrations); generic (SYMBOL... are channels).`
  static override examples = [
    '<%= config.bin %> record AAPL --duration 30m',
    '<%= config.bin %> record AAPL MSFT BTC-USD --out ticks.arrow --rotate 1h',
    '<%= config.bin %> record AAPL --url ws://127.0.0.1:8765/?version=2 --duration 90s --json',
    '<%= config.bin %> record KRW-BTC KRW-ETH --feed upbit --types ticker,trade,orderbook',
    'KIS_APP_KEY=… KIS_APP_SECRET=… <%= config.bin %> record 005930 000660 --feed kis --types H0STCNT0,H0STASP0',
    '<%= config.bin %> record prices trades --feed generic --url ws://127.0.0.1:9000/',
  ]
  static override strict = false
  static override args = {symbol: Args.string({description: 'symbols to subscribe to', required: true})}
  static override flags = {
    feed: Flags.string({description: 'feed protocol', options: FEED_NAMES, default: 'yahoo'}),
    duration: duration({char: 'd', description: 'stop after this long (90s, 30m, 1h30m, 2d); default: until Ctrl-C'}),
    out: Flags.string({char: 'o', description: 'output path (default ./<feed>-<symbols>-<UTC start>.arrow); never overwritten'}),
    url: feedUrl({description: "feed URL (default: the feed's public endpoint, or MDREC_<FEED>_URL); stored and shown without user info, query (Yahoo keeps ?version=), fragment or opaque path segments"}),
    'flush-interval': duration({description: 'write and fsync a batch at least this often', default: 1000, defaultHelp: async () => '1s'}),
    rotate: rotate({description: 'start a new file every duration (1h) or size (256MiB); files are numbered <out>.000.arrow, .001, …'}),
    raw: Flags.string({description: 'keep received payloads: auto (only when the decoded columns do not re-encode to the same bytes), always, never', options: [...RAW_MODES], default: 'auto'}),
    'stale-timeout': duration({description: 'reconnect when nothing has arrived for this long', default: 60_000, defaultHelp: async () => '60s'}),
    'reconnect-min': duration({description: 'first reconnect delay (doubles per failure, ±50% jitter)', default: 500, defaultHelp: async () => '500ms'}),
    'reconnect-max': duration({description: 'longest reconnect delay', default: 30_000, defaultHelp: async () => '30s'}),
    types: Flags.string({description: 'feed-specific message types, comma-separated (upbit: ticker,trade,orderbook,candle.1m…; kis: TR ids such as H0STCNT0,H0STASP0)'}),
    format: Flags.string({description: 'feed-specific wire format (upbit: default|simple)'}),
    paper: Flags.boolean({description: 'kis: use the paper-trading hosts'}),
    quiet: Flags.boolean({char: 'q', description: 'no progress output (errors still go to stderr)'}),
  }

  public async run(): Promise<RecordSummary> {
    const {argv} = await this.parse(Record)
    const f = this.flags
    const quiet = f.quiet || this.jsonEnabled()
    const tty = Boolean(process.stderr.isTTY) && !quiet
    const say = (line: string) => {
      if (!quiet) process.stderr.write(`${line}\n`)
    }
    const recorder = await Recorder.start({
      feed: f.feed,
      symbols: argv as string[],
      types: f.types?.split(',').map((t) => t.trim()).filter(Boolean),
      format: f.format,
      paper: f.paper,
      url: f.url,
      out: f.out,
      durationMs: f.duration,
      flushIntervalMs: f['flush-interval'],
      rotate: f.rotate,
      raw: f.raw as RawMode,
      supervisor: {staleMs: f['stale-timeout'], minBackoffMs: f['reconnect-min'], maxBackoffMs: f['reconnect-max']},
      // on a terminal the bar shows the connection state; other lines go above it only before it starts
      log: (line) => {
        if (!tty || line.startsWith('recording ')) say(line)
      },
    })

    let interrupts = 0
    const onSignal = (sig: NodeJS.Signals) => {
      interrupts++
      if (interrupts === 1) {
        say(`${sig}: finishing (flushing and closing the file; press Ctrl-C again to exit at once)`)
        void recorder.stop().catch(() => {})
      } else {
        recorder.abort()
        process.stderr.write('exiting at once; rows flushed so far are readable\n')
        process.exit(130)
      }
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)

    const progress = tty ? startBar(recorder) : startStatusLines(recorder, quiet ? null : say)
    let summary: RecordSummary
    try {
      summary = await recorder.done
    } finally {
      progress.stop()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    if (!this.jsonEnabled()) {
      this.log(
        [
          `recorded ${summary.rows} rows of ${summary.symbols} symbols in ${formatDuration(summary.elapsedMs)}`,
          `  files       ${summary.files.join(', ')}`,
          `  bytes       ${formatBytes(summary.bytes)}`,
          `  reconnects  ${summary.reconnects}, gaps ${summary.gaps}, rejects ${summary.rejects}`,
        ].join('\n'),
      )
    }
    return summary
  }
}

function statusLine(s: RecorderStats): string {
  const rate = s.elapsedMs > 0 ? (s.rows / s.elapsedMs) * 1000 : 0
  const total = s.durationMs === null ? '' : ` / ${formatDuration(s.durationMs)}`
  return `${formatDuration(s.elapsedMs)}${total}  rows ${s.rows} (${rate.toFixed(1)}/s)  ${formatBytes(s.bytes)}  ${s.state}  reconnects ${s.reconnects}  gaps ${s.gaps}  rejects ${s.rejects}`
}

function startStatusLines(recorder: Recorder, say: ((l: string) => void) | null): {stop(): void} {
  if (!say) return {stop() {}}
  // Not a TTY (CI, a pipe): a plain status line at most every 10 s.
  const t = setInterval(() => say(statusLine(recorder.stats())), 10_000)
  t.unref()
  return {stop: () => clearInterval(t)}
}

function startBar(recorder: Recorder): {stop(): void} {
  const s0 = recorder.stats()
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{bar} {elapsed}{total} | {rows} rows {rate}/s | {bytes} | {state} | reconnects {reconnects} gaps {gaps} rejects {rejects}',
      hideCursor: true,
      clearOnComplete: false,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  )
  const payload = (s: RecorderStats) => ({
    elapsed: formatDuration(s.elapsedMs),
    total: s.durationMs === null ? '' : ` / ${formatDuration(s.durationMs)}`,
    rows: s.rows,
    rate: s.elapsedMs > 0 ? ((s.rows / s.elapsedMs) * 1000).toFixed(1) : '0',
    bytes: formatBytes(s.bytes),
    state: s.state,
    reconnects: s.reconnects,
    gaps: s.gaps,
    rejects: s.rejects,
  })
  // Without a duration the bar cannot fill: it shows activity, not a fraction.
  const total = s0.durationMs ?? 1
  bar.start(total, 0, payload(s0))
  const t = setInterval(() => {
    const s = recorder.stats()
    bar.update(s.durationMs === null ? 0 : Math.min(s.elapsedMs, total), payload(s))
  }, 250)
  return {
    stop() {
      clearInterval(t)
      const s = recorder.stats()
      bar.update(s.durationMs === null ? 0 : Math.min(s.elapsedMs, total), payload(s))
      bar.stop()
    },
  }
}
