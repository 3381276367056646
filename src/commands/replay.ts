import {Flags} from '@oclif/core'

import {BaseCommand, jsonText} from '../cli/base.js'
import {durationOrZero, feedFlag, size, speed, receiveRangeFlags, recordingsArg} from '../cli/flags.js'
import {onStopSignals} from '../cli/signals.js'
import {MdrecError} from '../errors.js'
import {flagValue, replayFeed, replayFlags, replayHelp, replayOptionValues} from '../feeds/registry.js'
import {CLOSE_GRACE_MS, replay, type ReplayStats, type ReplaySummary} from '../replay/engine.js'
import {DEFAULT_SETTLE_MS, MAX_SETTLE_MS, SETTLE_CAP_FACTOR} from '../replay/scheduler.js'
import {assertOneFeed, expandInputs, resolveRange, whyNoRows} from '../store/inputs.js'
import {openRecording, readBatches, type RecordingFile} from '../store/reader.js'
import {formatDuration, plural} from '../util/units.js'

/** The feed flags, made once at load from the feeds' declared replay options (src/feeds/registry.ts: `replayFlags`), each in its feed's help group. */
const FEED_FLAGS = replayFlags()

/** After Ctrl-C, a close still running this long is waiting for a client that does not answer: say so (ms). */
const SLOW_STOP_NOTE_MS = 300
/** What --loop takes (its usage error). */
const LOOP_EXPECTS = 'the count of further plays must be a whole number, 0 or more (--loop alone: for ever)'

export default class Replay extends BaseCommand<typeof Replay> {
  static override summary = "Serve recordings over a local WebSocket that speaks the original feed's protocol."
  static override description = `Unmodified clients connect to it: the first line on stdout is the ws:// URL to use (with --port 0, the port picked).

--clock connection (default): every connection gets the recording from its start, its timeline starting once its subscriptions have settled (no subscribe message for --settle, at most ${SETTLE_CAP_FACTOR}× that after the first) — the same frames the same way on every run, also for clients that subscribe one symbol per message. A subscription after the start joins at the current position. --clock shared: one timeline for all, like a live market, started when the first subscriptions have settled; the server exits when it ends (after --loop plays).

--json: stdout holds exactly one JSON document, printed at exit: the summary with the URL in it ({"url":…,"framesSent":…}); stderr holds the URL as its first line (so a script can connect before the replay ends), then errors only: --json is quiet, as --quiet is, so the log lines (clients, subscriptions a recording lacks, refused requests) need a run without --json.

Several files, a directory or a glob (quoted or not) are merged by receive time (one file named twice is served once). Runs until Ctrl-C/SIGTERM, which closes clients with code 1000; one that does not answer is waited for (saying so on stderr) for at most 2 s, then cut off; a second Ctrl-C exits at once (130), printing the counts so far (--json: the one document, with "interrupted": true).

A --from/--to range that holds no row is refused before listening (exit 1, saying why: the recording's span, the range); --from not before --to is a usage error (exit 2).

${replayHelp().join('\n\n')}`
  static override examples = [
    '<%= config.bin %> replay fixtures/yahoo-us-equities.arrow',
    '<%= config.bin %> replay day.arrow --speed 10x --port 0',
    '<%= config.bin %> replay a.arrow b.arrow --clock shared --loop --speed max',
    '<%= config.bin %> replay day.arrow --from +1h --to +1h30m --gaps disconnect',
    '<%= config.bin %> replay fixtures/generic-channels.arrow --max-connections 100 --heartbeat 30s --ping-interval 20s --client-id-path',
    '<%= config.bin %> replay fixtures/generic-channels.arrow --publish redis://127.0.0.1:6379/md --loop',
    '<%= config.bin %> replay fixtures/upbit-krw.arrow --no-rate-limits',
  ]
  static override strict = false
  static override args = recordingsArg('recording(s) to serve: files, a directory or a glob')
  static override flags = {
    speed: speed({description: 'pace: 1x, 10x, 0.25x, or max (as fast as the client reads)', default: 1, defaultHelp: async () => '1x'}),
    port: Flags.integer({char: 'p', description: 'TCP port; 0 picks a free one', default: 8765, min: 0, max: 65_535}),
    host: Flags.string({description: 'interface to listen on', default: '127.0.0.1'}),
    loop: Flags.string({
      description: 'play again from the start N more times, or forever without N (times shifted so they keep increasing); the word after a bare --loop is N when a number, else a file',
      helpValue: '[N]',
    }),
    ...receiveRangeFlags(),
    clock: Flags.string({
      description: 'one timeline per connection, or one shared by all clients (default: connection; shared with --publish)',
      options: ['connection', 'shared'],
    }),
    gaps: Flags.string({description: 'at a recorded gap: go silent for its duration, or close the connections (1012)', options: ['silent', 'disconnect'], default: 'silent'}),
    'slow-client': Flags.string({description: 'a client that stops reading: close it with 1013, or drop its frames', options: ['disconnect', 'drop'], default: 'disconnect'}),
    'max-buffer': size({description: 'per-client send buffer limit before --slow-client applies', default: 8 * 1024 * 1024, defaultHelp: async () => '8MiB'}),
    settle: durationOrZero(MAX_SETTLE_MS)({
      description: `start a timeline once its subscriptions have been quiet this long (at most ${SETTLE_CAP_FACTOR}× after the first); 0 starts at the first subscription`,
      default: DEFAULT_SETTLE_MS,
      defaultHelp: async () => `${DEFAULT_SETTLE_MS}ms`,
    }),
    quiet: Flags.boolean({char: 'q', description: 'no progress output'}),
    ...Object.fromEntries(FEED_FLAGS.map((ff) => [ff.name, feedFlag(ff, ff.helpGroup)])),
  }

  /** `--loop` takes an optional count: a bare `--loop` (next token not a number) means forever. */
  static override get optionalValue() {
    return {loop: {bare: 'forever', expects: LOOP_EXPECTS}}
  }

  public async run(): Promise<ReplaySummary & {url: string; published?: number}> {
    const {argv} = await this.parse(Replay)
    const f = this.flags
    let loop: number | true | undefined
    if (f.loop !== undefined) {
      if (f.loop === 'forever') loop = true
      else if (/^\d+$/.test(f.loop)) loop = Number(f.loop)
      else throw new MdrecError('E_USAGE', `--loop ${f.loop}: ${LOOP_EXPECTS}`)
    }
    // files, directories and globs, as every command takes them (one file named twice is served once)
    const files = await expandInputs(argv as string[])
    const opened = await Promise.all(files.map((p) => openRecording(p)))
    assertOneFeed(opened, 'replay') // before the engine would refuse them as a usage error: bad input is exit 1
    const first = opened[0]
    const quiet = f.quiet || this.jsonEnabled()
    const tty = Boolean(process.stderr.isTTY) && !quiet
    // On a terminal the status line is redrawn in place: an event line first
    // erases it, takes its own line, and the status is drawn again below it.
    let status = ''
    /** The running replay, once it listens: the status under an event line is read from it afresh. */
    let live: {stats(): ReplayStats} | null = null
    const say = (line: string) => {
      if (quiet) return
      if (tty && status) {
        // the counts after the event, not those drawn up to a second ago
        if (live) status = fit(statusLine(live.stats()))
        process.stderr.write(`\r\u001B[K${line}\n${status}`)
      } else process.stderr.write(`${line}\n`)
    }
    const fit = (line: string) => {
      const width = process.stderr.columns ?? 0
      return width > 3 && line.length > width - 3 ? `${line.slice(0, width - 4)}…` : line
    }
    // the feed flags given, by option name: another feed's is a usage error; the feed turns its own into its emulator's options
    const given = replayOptionValues(
      first.meta.feed,
      Object.fromEntries(FEED_FLAGS.map((ff) => [ff.name, flagValue(ff, (f as {[flag: string]: unknown})[ff.name])])),
      files[0],
    )
    const feed = replayFeed(first.meta.feed)
    const emulator = feed.emulatorFlags?.(given, process.env, (line) => say(line))
    // what the feed runs beside its emulator (generic --publish: Redis fan-out), and the clock it needs
    const companion = feed.companion?.(given, process.env)
    if (companion?.clock !== undefined && f.clock !== undefined && f.clock !== companion.clock) {
      throw new MdrecError('E_USAGE', companion.clockConflict ?? `--clock ${f.clock}: this replay needs --clock ${companion.clock}`)
    }
    const clock = (f.clock ?? companion?.clock ?? 'connection') as 'connection' | 'shared'
    const range = resolveRange(f.from, f.to, opened)
    if (range.from !== undefined || range.to !== undefined) {
      // A range that holds no row would serve nothing, silently: say why and stop (exit 1).
      if (!(await anyRowIn(opened, range))) {
        throw new MdrecError('E_NO_ROWS', `no rows to replay: ${await whyNoRows(opened, range)}; nothing to serve`)
      }
    }
    // before listening: a companion reaches what it serves (--publish: a wrong Redis address or password stops here)
    await companion?.open(await Promise.all(files.map((p) => openRecording(p))), range, say)
    let handle
    try {
      handle = await replay(files, {
        speed: f.speed,
        port: f.port,
        host: f.host,
        loop,
        from: range.from,
        to: range.to,
        clock,
        gaps: f.gaps as 'silent' | 'disconnect',
        slowClient: f['slow-client'] as 'disconnect' | 'drop',
        maxBufferedBytes: f['max-buffer'],
        settleMs: f.settle,
        emulator,
        log: say,
      })
      await companion?.attach(handle.url)
    } catch (error) {
      companion?.abort()
      await handle?.close()
      throw error
    }
    // The first line on stdout: where clients connect. With --json stdout holds only the final document (which has the URL).
    if (this.jsonEnabled()) {
      process.stderr.write(`${handle.url}\n`)
    } else process.stdout.write(`${handle.url}\n`)

    const progress = setInterval(
      () => {
        const line = statusLine(handle.stats())
        if (!tty) return say(line)
        status = fit(line)
        process.stderr.write(`\r${status}\u001B[K`)
      },
      tty ? 1000 : 10_000,
    )
    progress.unref()
    live = handle
    // Stopping: the status line is erased and not drawn again; what follows (the closing line) ends the output.
    const endStatus = () => {
      clearInterval(progress)
      live = null
      if (tty && status) process.stderr.write('\r\u001B[K')
      status = ''
    }
    const quitNow = () => {
      // quit now, but tell what was served: the summary so far (with --json, the one document stdout promises)
      const now = {url: handle.url, ...handle.stats(), interrupted: true}
      if (this.jsonEnabled()) process.stdout.write(jsonText(now))
      else say(`replay stopped at once (second Ctrl-C): ${plural(now.framesSent, 'frame')} sent to ${plural(now.clients, 'client')}`)
      process.exit(130)
    }
    const stop = () => {
      endStatus()
      const clients = handle.stats().connected
      const closing = handle.close()
      // every client is sent a close frame and answers at once, but one that stopped reading holds the
      // close until it is cut off: say so rather than seem to hang
      const slow = setTimeout(
        () => say(`stopping: waiting up to ${CLOSE_GRACE_MS / 1000} s for ${clients === 1 ? 'a client' : 'clients'} to answer the close (Ctrl-C again to quit now)`),
        SLOW_STOP_NOTE_MS,
      )
      slow.unref()
      const done = () => clearTimeout(slow)
      closing.then(done, done)
    }
    const offSignals = onStopSignals(stop, quitNow)
    try {
      await handle.done
    } finally {
      endStatus()
      offSignals()
    }
    const summary = await handle.close()
    if (!companion) return {url: handle.url, ...summary}
    const {published} = await companion.finish()
    return {url: handle.url, ...summary, published}
  }
}

function statusLine(s: ReplayStats): string {
  const lag = s.p99LagMs === null ? '' : `  behind schedule p50 ${s.p50LagMs!.toFixed(2)} ms p99 ${s.p99LagMs.toFixed(2)} ms`
  const at = s.positionMs === null ? 'waiting for a subscription' : `at +${formatDuration(s.positionMs)} (${s.position})`
  return `${formatDuration(s.elapsedMs)}  ${at}  ${plural(s.connected, 'client')} (${s.clients} so far)  ${plural(s.framesSent, 'frame')} sent${s.plays > 0 ? `  ${plural(s.plays, 'play')} completed` : ''}${lag}`
}

/** Whether any file holds a row received in [from, to) (stops at the first one found). */
async function anyRowIn(files: readonly RecordingFile[], range: {from?: bigint; to?: bigint}): Promise<boolean> {
  for (const file of files) {
    for await (const _ of readBatches(file, {from: range.from, to: range.to, onTruncated: 'stop'})) return true
  }
  return false
}
