/**
 * Replay options: the {@link ReplayOptions} the library takes, and
 * {@link prepare}, which opens the recordings and checks every option
 * (everything that can fail before the engine listens), filling in the
 * defaults. The time range (`from`/`to`) is resolved by `resolveRange` in
 * `store/inputs.ts`, the one resolution every command shares. Used by
 * `engine.ts` (`replay()`) and read by `replayer.ts` (as {@link Prepared}).
 */
import {MdrecError} from '../errors.js'
import {checkOptionKeys, checkOptionTypes, type OptionKind} from '../util/options.js'
import {messageStream, openRecording, streamError, type RecordingFile, type StreamEnd} from '../store/reader.js'
import {resolveRange} from '../store/inputs.js'
import {parseSpeed, parseTimeSpec, type TimeSpec} from '../util/units.js'
import {replayFeed} from './feed.js'
import {DEFAULT_SETTLE_MS, MAX_SETTLE_MS, SETTLE_CAP_FACTOR} from './scheduler.js'

/** Default per-client send buffer limit, in bytes (`maxBufferedBytes`). */
const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024

/** The options of `replay()`; every one is optional (defaults below). */
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

/** Every key of ReplayOptions (checked at run time: JavaScript callers get no type check). */
const REPLAY_OPTION_KEYS = new Set<string>(
  Object.keys({
    speed: 0, port: 0, host: 0, loop: 0, from: 0, to: 0, clock: 0, gaps: 0, slowClient: 0, maxBufferedBytes: 0,
    atEnd: 0, settleMs: 0, emulator: 0, log: 0, onLateness: 0,
  } satisfies Record<keyof ReplayOptions, 0>),
)

/** The kinds of the ReplayOptions values whose checks below assume one (the rest are checked by value). */
const REPLAY_OPTION_KINDS: Readonly<Record<string, OptionKind | readonly OptionKind[]>> = {
  host: 'string',
  maxBufferedBytes: 'number',
  settleMs: 'number',
  emulator: 'object',
  log: 'function',
  onLateness: 'function',
}

/**
 * Open the recordings and validate the options (everything that can fail
 * before listening): all files of one feed, each option in range with its
 * default filled in, `emulator` holding only options the feed's emulator
 * takes, and `from`/`to` resolved against the recordings (a string is a
 * TimeSpec such as `+90s` or an ISO time). Throws `MdrecError` (`E_USAGE`,
 * or the reader's error for a file that cannot be opened).
 */
export async function prepare(files: string | string[], o: ReplayOptions) {
  checkOptionKeys('replay()', o, REPLAY_OPTION_KEYS)
  checkOptionTypes('replay()', o as unknown as Record<string, unknown>, REPLAY_OPTION_KINDS)
  const paths = typeof files === 'string' ? [files] : [...files]
  if (paths.length === 0) throw new MdrecError('E_USAGE', 'no recording given: name at least one .arrow file to replay')
  const recs: RecordingFile[] = []
  for (const p of paths) recs.push(await openRecording(p))
  // A damaged file is refused before anything listens: a client would otherwise be closed with 1011 at
  // the damage while the replay ran on (framing only: message headers, no body is read or decompressed).
  for (const r of recs) {
    let end: StreamEnd | undefined
    for await (const m of messageStream(r.path, {recordBodies: false}, (e) => (end = e))) void m
    if (end?.problem) throw streamError(r.path, end)
  }
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
  if (!(Number.isFinite(settleMs) && settleMs >= 0 && settleMs <= MAX_SETTLE_MS)) {
    throw new MdrecError('E_USAGE', `invalid settleMs ${String(settleMs)}: use a number of ms from 0 to ${MAX_SETTLE_MS} (0 starts a timeline at the first subscription)`)
  }
  const maxBufferedBytes = o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED
  if (!(Number.isFinite(maxBufferedBytes) && maxBufferedBytes > 0)) {
    throw new MdrecError('E_USAGE', `invalid maxBufferedBytes ${String(maxBufferedBytes)}: use a number of bytes greater than zero`)
  }

  // +offsets count from the recordings' earliest start, as in every command
  const spec = (v: bigint | TimeSpec | string | undefined) => (typeof v === 'string' ? parseTimeSpec(v) : v)
  const {from, to} = resolveRange(spec(o.from), spec(o.to), recs)
  const extra = Object.keys(o.emulator ?? {}).filter((k) => !(feed.emulatorOptions ?? []).includes(k))
  if (extra.length > 0) throw new MdrecError('E_USAGE', `the ${feed.name} emulator takes no option ${extra.join(', ')} (${feed.emulatorOptions?.length ? `its options: ${feed.emulatorOptions.join(', ')}` : 'it has none'})`)
  return {recs, feed, speed, port, host: o.host ?? '127.0.0.1', loop, clock, gaps, slowClient, atEnd, maxBufferedBytes, from, to, settleMs}
}

/** The checked options and opened recordings a replay runs with. */
export type Prepared = Awaited<ReturnType<typeof prepare>>
