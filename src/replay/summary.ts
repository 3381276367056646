/** The lines a replay logs of itself: when it listens, when a client subscribes to what the recording lacks, and when it closes. */
import {closeSymbols, heldSymbolsText} from '../store/inputs.js'
import {nsToIso} from '../util/time.js'
import {formatDuration, plural} from '../util/units.js'

/** The counts of a replay's summary its closing line is made of (ReplayStats). */
export interface ClosingCounts {
  readonly framesSent: number
  readonly clients: number
  /** Frames not sent to a client by the 'drop' slow-client policy. */
  readonly framesDropped: number
  /** Clients closed with 1013 by the 'disconnect' slow-client policy. */
  readonly slowClientsClosed: number
}

/**
 * The line a replay logs when it closes: what it sent, to how many clients,
 * and what the slow-client policy cost, if anything
 * (`replay closed: 198191 frames sent to 2 clients; 121809 frames dropped for slow clients`).
 */
export function closingLine(s: ClosingCounts): string {
  const cost = [
    s.framesDropped > 0 ? `${plural(s.framesDropped, 'frame')} dropped for slow clients` : '',
    s.slowClientsClosed > 0 ? `${plural(s.slowClientsClosed, 'slow client')} closed (1013)` : '',
  ].filter(Boolean)
  return `replay closed: ${plural(s.framesSent, 'frame')} sent to ${plural(s.clients, 'client')}${cost.length > 0 ? `; ${cost.join(', ')}` : ''}`
}

/** What {@link startLine} says of a replay: its files, feed, URL and the options that shape what clients get. */
export interface StartFacts {
  readonly recs: readonly {readonly path: string}[]
  readonly feed: string
  readonly url: string
  readonly speed: number | 'max'
  readonly clock: string
  /** Extra plays (0: play once), or true: until stopped. */
  readonly loop: number | true
  /** The receive-time range played (ns since the epoch; undefined: from the start, to the end). */
  readonly from?: bigint
  readonly to?: bigint
  readonly settleMs: number
}

/**
 * The line a replay logs when it listens: what it plays, how, and where
 * (`replaying a.arrow (yahoo, speed 10x, clock connection, looping until
 * stopped, rows received from 2026-…Z to the end, settle 100ms) on ws://…`).
 */
export function startLine(s: StartFacts): string {
  const parts = [s.feed, `speed ${s.speed === 'max' ? 'max' : `${s.speed}x`}`, `clock ${s.clock}`]
  if (s.loop === true) parts.push('looping until stopped')
  else if (s.loop > 0) parts.push(`${plural(s.loop + 1, 'play')}`)
  if (s.from !== undefined || s.to !== undefined) {
    parts.push(`rows received from ${s.from === undefined ? 'the start' : nsToIso(s.from)} to ${s.to === undefined ? 'the end' : nsToIso(s.to)}`)
  }
  parts.push(`settle ${formatDuration(s.settleMs)}`)
  return `replaying ${s.recs.map((f) => f.path).join(', ')} (${parts.join(', ')}) on ${s.url}`
}

/**
 * The line for a connection's timeline that has played everything (loops
 * included): `client 3: its timeline 3 has played everything (438 frames
 * sent); the connection stays open`, or `; closing it (1000)` under
 * `atEnd: 'close'`. Without it a client's silence at the end reads as a stall.
 */
export function playedLine(client: number, timeline: number, sent: number, atEnd: 'idle' | 'close'): string {
  return `client ${client}: its timeline ${timeline} has played everything (${plural(sent, 'frame')} sent); ${atEnd === 'close' ? 'closing it (1000)' : 'the connection stays open'}`
}

/** Names a client sent, shown at most this many per line. */
const NAMES_SHOWN = 10

/** A name a client sent, as a log line shows it: as is when plain printable ASCII of at most 40 characters, else quoted (JSON) and cut, so no control character reaches the terminal. */
function shown(name: string): string {
  return /^[\x21-\x7e]{1,40}$/.test(name) ? name : `${JSON.stringify(name.slice(0, 40))}${name.length > 40 ? '…' : ''}`
}

/**
 * Notes a subscription to symbols the recording does not hold, which would
 * otherwise be silent: the client simply gets nothing of them. The
 * recording's symbols are those it was recorded subscribed to (the
 * `mdrec.subscriptions` of every file, narrowed by `mdrec slice`); a
 * recording without that list is not checked.
 */
export class SymbolNotes {
  private readonly known: ReadonlySet<string>

  /** `noun`: what the feed calls its symbols (generic: 'channel'). */
  constructor(
    subscriptions: readonly string[],
    private readonly noun = 'symbol',
  ) {
    this.known = new Set(subscriptions.filter((s) => s !== ''))
  }

  /**
   * The line for client `client`'s newly subscribed symbols `added` (the
   * emulator's 'subscribe' event), or null when each is in the recording:
   * `client 2 subscribed to APPL, not in this recording: no rows of it are
   * sent (symbols match exactly; APPL: did you mean AAPL?)`.
   */
  line(client: number, added: readonly string[]): string | null {
    if (this.known.size === 0) return null
    const unknown = added.filter((s) => !this.known.has(s))
    if (unknown.length === 0) return null
    const some = unknown.slice(0, NAMES_SHOWN)
    const names = `${some.map(shown).join(', ')}${unknown.length > some.length ? `, … (${unknown.length} in all)` : ''}`
    const near = some.map((s) => ({s, near: closeSymbols(s, this.known)})).filter((x) => x.near.length > 0)
    const hint = near.length > 0 ? near.map((x) => `${shown(x.s)}: did you mean ${x.near.join(' or ')}?`).join('; ') : heldSymbolsText(this.known, this.noun)
    return `client ${client} subscribed to ${names}, not in this recording: no rows of ${unknown.length === 1 ? 'it' : 'them'} are sent (${this.noun}s match exactly; ${hint})`
  }
}
