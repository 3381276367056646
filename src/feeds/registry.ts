/**
 * The one list of feeds: name → its {@link FeedDefinition} (both sides, its
 * record options and environment variables), one line per feed. Everything
 * that names the feeds (`mdrec record`'s --feed choices, feed flags and help,
 * the readers' codecs, the replay engine's emulators) comes from here.
 *
 * Adding a feed: docs/ARCHITECTURE.md, "Adding a feed".
 */
import {MdrecError} from '../errors.js'
import {parseFeedUrl} from '../util/redact.js'
import type {FeedDefinition, FeedOption, ReplayFeed} from './contract.js'
import {binanceFeed} from './binance/index.js'
import {genericFeed} from './generic/index.js'
import {kisFeed} from './kis/index.js'
import {upbitFeed} from './upbit/index.js'
import {yahooFeed} from './yahoo/index.js'

export type {ClientOptions, ClientSetup, FeedAdapter, FeedDefinition, FeedEnvVar, FeedOption, ReplayCompanion} from './contract.js'

const FEEDS: readonly FeedDefinition[] = [
  yahooFeed,
  upbitFeed,
  kisFeed,
  genericFeed,
  binanceFeed,
]

const BY_NAME = new Map(FEEDS.map((f) => [f.name, f]))

export const FEED_NAMES = FEEDS.map((f) => f.name)

export function getFeed(name: string): FeedDefinition {
  const f = BY_NAME.get(name)
  if (!f) throw new MdrecError('E_USAGE', `unknown feed "${name}"; known feeds: ${FEED_NAMES.join(', ')}`)
  return f
}

/** The replay side of a feed, or an MdrecError naming the feeds that have one. */
export function replayFeed(name: string): ReplayFeed {
  const f = BY_NAME.get(name)?.replay
  if (!f) {
    const replayable = FEEDS.filter((d) => d.replay).map((d) => d.name)
    throw new MdrecError('E_USAGE', `cannot replay a "${name}" recording: no emulator for that feed yet (replayable feeds: ${replayable.join(', ')})`)
  }
  return f
}

/** One `mdrec record` flag made of the feeds' options of one name. */
export interface FeedFlag {
  readonly name: string
  readonly kind: FeedOption['kind']
  /** The flag's help: the summary, then `<feed>: <description>` for each feed that says more. */
  readonly description: string
  readonly dependsOn?: readonly string[]
  readonly defaultHelp?: string
  readonly min?: number
  readonly allowNo?: boolean
  readonly helpValue?: string
  /** The help group: the first feed's name in capitals (`mdrec replay`'s GENERIC, UPBIT). */
  readonly helpGroup: string
  /** The feeds that take it, in registry order. */
  readonly feeds: readonly string[]
}

/** Every feed option as one flag per name, in registry order (`mdrec record` builds its feed flags from these). */
export function feedFlags(): FeedFlag[] {
  return flagsOf((f) => f.options)
}

/** Every feed's `mdrec replay` option ({@link ReplayFeed.options}) as one flag per name, in registry order (`mdrec replay` builds its feed flags from these). */
export function replayFlags(): FeedFlag[] {
  return flagsOf((f) => f.replay?.options ?? [])
}

function flagsOf(optionsOf: (f: FeedDefinition) => readonly FeedOption[]): FeedFlag[] {
  const by = new Map<string, Array<{feed: string; option: FeedOption}>>()
  for (const f of FEEDS) for (const option of optionsOf(f)) by.set(option.name, [...(by.get(option.name) ?? []), {feed: f.name, option}])
  return [...by].map(([name, list]) => {
    const first = list[0].option
    const kinds = new Set(list.map((d) => d.option.kind))
    if (kinds.size > 1) throw new Error(`feed option ${name}: declared with different kinds (${list.map((d) => `${d.feed}: ${d.option.kind}`).join(', ')})`)
    const details = list.filter((d) => d.option.description !== '').map((d) => `${d.feed}: ${d.option.description}`)
    const summary = list.find((d) => d.option.summary)?.option.summary
    const description = summary === undefined ? details.join('; ') : details.length === 0 ? summary : `${summary} (${details.join('; ')})`
    const {kind, dependsOn, defaultHelp, min, allowNo, helpValue} = first
    return {name, kind, description, dependsOn, defaultHelp, min, allowNo, helpValue, helpGroup: list[0].feed.toUpperCase(), feeds: list.map((d) => d.feed)}
  })
}

/** The value a feed gets for a flag as given: a list kind split at commas (trimmed, empties dropped). */
export function flagValue(ff: FeedFlag, value: unknown): unknown {
  if (ff.kind === 'list' && typeof value === 'string') return value.split(',').map((t) => t.trim()).filter(Boolean)
  return value
}

/** `mdrec replay --help`'s paragraphs on the feeds that say what replaying them does ({@link ReplayFeed.help}), in registry order. */
export function replayHelp(): string[] {
  return FEEDS.flatMap((f) => (f.replay?.help === undefined ? [] : [f.replay.help]))
}

/**
 * The `mdrec replay` option values (`given`, by name; undefined: not given,
 * false: not given unless the option takes --no-) that `feed`'s replay
 * side takes; one of another feed's is a usage error: "--X applies to Y
 * recordings only; FILE is a "feed" recording" (MdrecError E_USAGE).
 */
export function replayOptionValues(feed: string, given: Readonly<Record<string, unknown>>, file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue
    const owners = FEEDS.filter((f) => f.replay?.options?.some((o) => o.name === name))
    const option = owners[0]?.replay?.options?.find((o) => o.name === name)
    if (!option) throw new MdrecError('E_USAGE', `unknown replay option "${name}"`)
    if (value === false && !option.allowNo) continue
    if (!owners.some((f) => f.name === feed)) {
      throw new MdrecError('E_USAGE', `--${value === false ? 'no-' : ''}${name} applies to ${owners.map((f) => f.name).join(' or ')} recordings only; ${file} is a "${feed}" recording`)
    }
    out[name] = value
  }
  return out
}

/** The URL schemes a feed's `mdrec record --url` takes by default. */
const WS_SCHEMES: readonly string[] = ['ws:', 'wss:']

/** Every scheme some feed's `--url` takes (ws:, wss: and what feeds declare in `urlSchemes`, e.g. generic's redis:): what `--url` accepts before the feed is known. */
export const URL_SCHEMES: readonly string[] = [...new Set([...WS_SCHEMES, ...FEEDS.flatMap((f) => f.urlSchemes ?? [])])]

/**
 * Check `url` for `feed` (`mdrec record --url`, and `record()`'s `url`): a
 * scheme another feed declares ({@link FeedDefinition.urlSchemes}) is a
 * usage error naming that feed, e.g. "redis:// is for --feed generic (Redis
 * channels PREFIX:<channel>); the yahoo feed takes a ws:// or wss:// URL";
 * any other bad URL is one naming the schemes `feed` takes, only those
 * (parseFeedUrl).
 */
export function checkUrlScheme(feed: FeedDefinition, url: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(url.trim())?.[1].toLowerCase()
  const takes = feed.urlSchemes ?? WS_SCHEMES
  const owners = scheme === undefined || takes.includes(scheme) ? [] : FEEDS.filter((f) => (f.urlSchemes ?? WS_SCHEMES).includes(scheme))
  if (owners.length > 0) {
    const what = owners.map((f) => f.urlSchemeHelp?.[scheme!]).find((h) => h !== undefined)
    throw new MdrecError(
      'E_USAGE',
      `${scheme}// is for --feed ${owners.map((f) => f.name).join(' or --feed ')}${what === undefined ? '' : ` (${what})`}; the ${feed.name} feed takes a ${takes.map((s) => `${s}//`).join(' or ')} URL`,
    )
  }
  parseFeedUrl(url, '--url', takes)
}

/** `mdrec record --help`'s "Feeds:" paragraph: every feed with its one-line summary. */
export function feedsHelp(): string {
  return `Feeds: ${FEEDS.map((f) => `${f.name} (${f.summary})`).join('; ')}.`
}

/** `mdrec record --help`'s environment paragraph: every variable a feed reads, and what for. */
export function feedEnvHelp(): string {
  return `Environment: ${FEEDS.flatMap((f) => f.env.map((e) => `${e.name} (${f.name}) ${e.purpose}`)).join('; ')}.`
}

const KIND_TEXT: Record<FeedOption['kind'], string> = {string: 'a string', list: 'a string[] (the comma-separated items)', boolean: 'a boolean', duration: 'a number of ms', integer: 'a whole number'}

/**
 * The options `mdrec record` passes to `feed` (`RecordOptions.feedOptions`),
 * checked against what the feeds declare: absent values (undefined, and
 * false for a boolean) are dropped; an option no feed declares, one of
 * another feed (the feed's own `refusal`, else "--X is for --feed Y"), a
 * value of the wrong kind and one given without the option it depends on
 * are usage errors (MdrecError E_USAGE).
 */
export function feedOptionValues(feed: FeedDefinition, given: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const foreign: string[] = []
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined || value === false) continue
    const option = feed.options.find((o) => o.name === name)
    if (!option) {
      if (!FEEDS.some((f) => f.options.some((o) => o.name === name))) {
        const known = [...new Set(FEEDS.flatMap((f) => f.options.map((o) => o.name)))]
        throw new MdrecError('E_USAGE', `unknown feed option "${name}" (feed options: ${known.join(', ')})`)
      }
      foreign.push(name)
      continue
    }
    const ok =
      option.kind === 'boolean'
        ? value === true
        : option.kind === 'duration'
          ? typeof value === 'number' && Number.isFinite(value) && value >= 0
          : option.kind === 'integer'
            ? Number.isSafeInteger(value) && (value as number) >= (option.min ?? Number.MIN_SAFE_INTEGER)
          : option.kind === 'list'
            ? Array.isArray(value) && value.every((v) => typeof v === 'string')
            : typeof value === 'string'
    if (!ok) throw new MdrecError('E_USAGE', `feed option ${name} of the ${feed.name} feed takes ${KIND_TEXT[option.kind]}, not ${JSON.stringify(value)}`)
    out[name] = value
  }
  if (foreign.length > 0) {
    const own = feed.refusal?.(foreign)
    if (own !== undefined) throw new MdrecError('E_USAGE', own)
    const name = foreign[0]
    const owners = FEEDS.filter((f) => f.options.some((o) => o.name === name)).map((f) => f.name)
    throw new MdrecError('E_USAGE', `--${name} is for --feed ${owners.join(' or --feed ')}; the ${feed.name} feed takes no --${name}`)
  }
  for (const name of Object.keys(out)) {
    const missing = feed.options.find((o) => o.name === name)?.dependsOn?.find((d) => out[d] === undefined)
    if (missing !== undefined) throw new MdrecError('E_USAGE', `--${name} needs --${missing}`)
  }
  return out
}
