import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {duration, size, speed, receiveRangeFlags, recordingsArg} from '../cli/flags.js'
import {MdrecError} from '../errors.js'
import {RedisPublisher, parseRedisTarget, recordedChannels} from '../feeds/generic/redis.js'
import {replay, type ReplayStats, type ReplaySummary} from '../replay/engine.js'
import {DEFAULT_SETTLE_MS, SETTLE_CAP_FACTOR} from '../replay/scheduler.js'
import {assertOneFeed, resolveRange, whyNoRows} from '../store/inputs.js'
import {openRecording, readBatches, type RecordingFile} from '../store/reader.js'
import {formatDuration, plural} from '../util/units.js'

export default class Replay extends BaseCommand<typeof Replay> {
  static override summary = "Serve recordings over a local WebSocket that speaks the original feed's protocol."
  static override description = `Unmodified clients connect to it: the first line on stdout is the ws:// URL to use (with --port 0, the port picked). For Yahoo, clients choose the envelope as with the real streamer (?version=2 for JSON), subscribe with {"subscribe":[...]}, and receive, byte for byte, the frames recorded for the symbols they subscribed to.

--clock connection (default): every connection gets the recording from its start, its timeline starting once its subscriptions have settled (no subscribe message for --settle, at most ${SETTLE_CAP_FACTOR}× that after the first) — the same frames the same way on every run, also for clients that subscribe one symbol per message. A subscription after the start joins at the current position. --clock shared: one timeline for all, like a live market, started when the first subscriptions have settled; the server exits when it ends (after --loop plays).

--json: stdout holds exactly one JSON document, printed at exit: the summary with the URL in it ({"url":…,"framesSent":…}); the URL is also logged on stderr (first line) unless --quiet.

Several FILEs are merged by receive time. Runs until Ctrl-C/SIGTERM, which closes clients with code 1000.

A --from/--to range that holds no row is refused before listening (exit 1, saying why: the recording's span, the range); --from not before --to is a usage error (exit 2).

Generic recordings only (the channel service's limits, docs/feeds/generic.md; refused for other feeds): --max-connections (one more is closed with 1013), --allowed-origins (another Origin: HTTP 403), --heartbeat, --ping-interval/--ping-timeout (a client that does not pong is closed with 1011), --client-id-path (clients connect to /ws/{client_id}), and --publish redis://HOST:PORT/PREFIX: every frame of the shared timeline (--clock shared, implied) is also PUBLISHed to the Redis channel PREFIX:<channel>, exactly as the WebSocket sends it (password in the URL or MDREC_REDIS_PASSWORD; never shown). GET /health and GET /stats answer on the same port.

Upbit recordings: Upbit's WebSocket limits are enforced (5 connections/s per IP or access key, 5 messages/s and 100/min per connection: HTTP 429 or a TOO_MANY_REQ error, docs/feeds/upbit.md); --no-rate-limits turns them off. The private endpoint (/websocket/v1/private) serves recorded myOrder/myAsset messages to clients with a well-formed bearer JWT; with UPBIT_SECRET_KEY (and UPBIT_ACCESS_KEY) in the environment their signature (and key) is verified, never shown.`
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
  static override args = recordingsArg('recording(s) to serve')
  static override flags = {
    speed: speed({description: 'pace: 1x, 10x, 0.25x, or max (as fast as the client reads)', default: 1, defaultHelp: async () => '1x'}),
    port: Flags.integer({char: 'p', description: 'TCP port; 0 picks a free one', default: 8765, min: 0, max: 65_535}),
    host: Flags.string({description: 'interface to listen on', default: '127.0.0.1'}),
    loop: Flags.string({
      description: 'play again from the start N more times, or forever without N (times shifted so they keep increasing)',
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
    settle: duration({
      description: `start a timeline once its subscriptions have been quiet this long (at most ${SETTLE_CAP_FACTOR}× after the first); 0 starts at the first subscription`,
      default: DEFAULT_SETTLE_MS,
      defaultHelp: async () => `${DEFAULT_SETTLE_MS}ms`,
    }),
    quiet: Flags.boolean({char: 'q', description: 'no progress output'}),
    'max-connections': Flags.integer({description: 'generic: connections open at once; one more is accepted and closed with 1013 (try again later)', min: 1, helpGroup: 'GENERIC'}),
    'allowed-origins': Flags.string({
      description: 'generic: comma-separated origins (https://app.example) allowed to connect; another Origin gets HTTP 403 (clients sending none are allowed)',
      helpGroup: 'GENERIC',
    }),
    heartbeat: duration({description: 'generic: send {"type":"heartbeat","timestamp":ms} to every client this often', helpGroup: 'GENERIC'}),
    'ping-interval': duration({description: 'generic: send {"type":"ping","timestamp":ms} to every client this often', helpGroup: 'GENERIC'}),
    'ping-timeout': duration({description: 'generic: close with 1011 a client that has not answered a ping with a pong this long (default: --ping-interval)', helpGroup: 'GENERIC'}),
    'client-id-path': Flags.boolean({description: 'generic: clients connect to /ws/{client_id}; other paths get HTTP 403, an id in use is closed with 1008', helpGroup: 'GENERIC'}),
    publish: Flags.string({
      description: 'generic: also PUBLISH every frame of the shared timeline to the Redis channel PREFIX:<channel> (password: in the URL or MDREC_REDIS_PASSWORD)',
      helpValue: 'redis://HOST:PORT/PREFIX',
      helpGroup: 'GENERIC',
    }),
    'rate-limits': Flags.boolean({
      description: "upbit: enforce Upbit's WebSocket connection and message limits (HTTP 429 / TOO_MANY_REQ); on unless --no-rate-limits",
      allowNo: true,
      helpGroup: 'UPBIT',
    }),
  }

  /** The flags that apply to generic recordings only (refused for other feeds). */
  static readonly genericFlags = ['max-connections', 'allowed-origins', 'heartbeat', 'ping-interval', 'ping-timeout', 'client-id-path', 'publish'] as const

  /** `--loop` takes an optional count: a bare `--loop` (next token not a number) means forever. */
  public override async init(): Promise<void> {
    const i = this.argv.indexOf('--loop')
    if (i >= 0 && !/^\d+$/.test(this.argv[i + 1] ?? '')) this.argv.splice(i + 1, 0, 'forever')
    await super.init()
  }

  public async run(): Promise<ReplaySummary & {url: string; published?: number}> {
    const {argv} = await this.parse(Replay)
    const files = argv as string[]
    const f = this.flags
    let loop: number | true | undefined
    if (f.loop !== undefined) {
      if (f.loop === 'forever') loop = true
      else if (/^\d+$/.test(f.loop)) loop = Number(f.loop)
      else throw new MdrecError('E_USAGE', `invalid --loop "${f.loop}": use --loop (forever) or --loop N (N more plays)`)
    }
    const opened = await Promise.all(files.map((p) => openRecording(p)))
    assertOneFeed(opened, 'replay') // before the engine would refuse them as a usage error: bad input is exit 1
    const first = opened[0]
    const given = Replay.genericFlags.filter((name) => f[name] !== undefined && f[name] !== false)
    if (given.length > 0 && first.meta.feed !== 'generic') {
      throw new MdrecError('E_USAGE', `--${given[0]} applies to generic recordings only; ${files[0]} is a "${first.meta.feed}" recording`)
    }
    if (f['rate-limits'] !== undefined && first.meta.feed !== 'upbit') {
      throw new MdrecError('E_USAGE', `--${f['rate-limits'] ? '' : 'no-'}rate-limits applies to upbit recordings only; ${files[0]} is a "${first.meta.feed}" recording`)
    }
    if (f['ping-timeout'] !== undefined && f['ping-interval'] === undefined) {
      throw new MdrecError('E_USAGE', '--ping-timeout needs --ping-interval (the server pings at that interval; a client has --ping-timeout to answer)')
    }
    const target = f.publish === undefined ? null : parseRedisTarget(f.publish, '--publish')
    if (target && f.clock === 'connection') {
      throw new MdrecError('E_USAGE', '--publish serves one timeline to Redis: use --clock shared (the default with --publish), not --clock connection')
    }
    const clock = (f.clock ?? (target ? 'shared' : 'connection')) as 'connection' | 'shared'
    const range = resolveRange(f.from, f.to, opened)
    if (range.from !== undefined || range.to !== undefined) {
      // A range that holds no row would serve nothing, silently: say why and stop (exit 1).
      if (!(await anyRowIn(opened, range))) {
        throw new MdrecError('E_NO_ROWS', `no rows to replay: ${await whyNoRows(opened, range)}; nothing to serve`)
      }
    }
    const quiet = f.quiet || this.jsonEnabled()
    const tty = Boolean(process.stderr.isTTY) && !quiet
    // On a terminal the status line is redrawn in place: an event line first
    // erases it, takes its own line, and the status is drawn again below it.
    let status = ''
    const say = (line: string) => {
      if (quiet) return
      if (tty && status) process.stderr.write(`\r\u001B[K${line}\n${status}`)
      else process.stderr.write(`${line}\n`)
    }
    const fit = (line: string) => {
      const width = process.stderr.columns ?? 0
      return width > 3 && line.length > width - 3 ? `${line.slice(0, width - 4)}…` : line
    }
    // --publish: Redis is reached before listening (a wrong address or password stops here)
    const publisher = target ? await RedisPublisher.connect(target, say) : null
    const channels = target ? await recordedChannels(await Promise.all(files.map((p) => openRecording(p))), range) : []
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
        emulator: first.meta.feed === 'generic' ? genericEmulatorFlags(f) : first.meta.feed === 'upbit' ? upbitEmulatorFlags(f['rate-limits'], process.env, say) : undefined,
        log: say,
      })
      if (publisher) {
        await publisher.attach(handle.url, channels)
        say(`publishing ${plural(channels.length, 'channel')} to ${target!.endpoint} as ${target!.prefix}:<channel>`)
      }
    } catch (error) {
      publisher?.abort()
      await handle?.close()
      throw error
    }
    // The first line on stdout: where clients connect. With --json stdout holds only the final document (which has the URL).
    if (this.jsonEnabled()) {
      if (!f.quiet) process.stderr.write(`${handle.url}\n`)
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
    let stopping = false
    const stop = () => {
      if (stopping) process.exit(130)
      stopping = true
      void handle.close()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    try {
      await handle.done
    } finally {
      clearInterval(progress)
      if (tty && status) process.stderr.write('\n')
      status = ''
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    const summary = await handle.close()
    if (!publisher) return {url: handle.url, ...summary}
    const published = await publisher.finish()
    say(`published ${plural(published, 'frame')} to ${target!.endpoint}${publisher.failed > 0 ? ` (${publisher.failed} failed)` : ''}`)
    return {url: handle.url, ...summary, published}
  }
}

/** The generic emulator's options from the flags (undefined ones left out). */
function genericEmulatorFlags(f: {
  'max-connections'?: number
  'allowed-origins'?: string
  heartbeat?: number
  'ping-interval'?: number
  'ping-timeout'?: number
  'client-id-path'?: boolean
}): Record<string, unknown> {
  const o: Record<string, unknown> = {
    maxConnections: f['max-connections'],
    allowedOrigins: f['allowed-origins']
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    heartbeatMs: f.heartbeat,
    pingIntervalMs: f['ping-interval'],
    pongTimeoutMs: f['ping-timeout'],
    clientIdPath: f['client-id-path'] || undefined,
  }
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]
  return o
}

/** The Upbit emulator's options: rate limits on unless --no-rate-limits; the keys that verify private-endpoint tokens from the environment (never shown). */
function upbitEmulatorFlags(rateLimits: boolean | undefined, env: NodeJS.ProcessEnv, say: (line: string) => void): Record<string, unknown> {
  const o: Record<string, unknown> = {rateLimits: rateLimits ?? true}
  if (env.UPBIT_SECRET_KEY) o.secretKey = env.UPBIT_SECRET_KEY
  if (env.UPBIT_ACCESS_KEY) o.accessKey = env.UPBIT_ACCESS_KEY
  const using = ['UPBIT_SECRET_KEY', 'UPBIT_ACCESS_KEY'].filter((k) => env[k])
  if (using.length > 0) say(`private endpoint: tokens are checked against ${using.join(' and ')}`)
  return o
}

function statusLine(s: ReplayStats): string {
  const lag = s.p99LagMs === null ? '' : `  behind schedule p50 ${s.p50LagMs!.toFixed(2)} ms p99 ${s.p99LagMs.toFixed(2)} ms`
  const at = s.positionMs === null ? 'waiting for a subscription' : `at +${formatDuration(s.positionMs)} (${s.position})`
  return `${formatDuration(s.elapsedMs)}  ${at}  ${plural(s.connected, 'client')} (${s.clients} so far)  ${plural(s.framesSent, 'frame')} sent  ${plural(s.plays, 'play')}${lag}`
}

/** Whether any file holds a row received in [from, to) (stops at the first one found). */
async function anyRowIn(files: readonly RecordingFile[], range: {from?: bigint; to?: bigint}): Promise<boolean> {
  for (const file of files) {
    for await (const _ of readBatches(file, {from: range.from, to: range.to, onTruncated: 'stop'})) return true
  }
  return false
}
