/**
 * Parsers and formatters for the values users type: durations, sizes,
 * rotation rules, points in time, replay speeds and column lists.
 *
 * Pure functions with no CLI dependency, so the library can use them too.
 * Every parser throws `MdrecError('E_USAGE', ...)` whose message names the
 * bad value and shows the forms that are accepted.
 */
import {MdrecError} from '../errors.js'

// ---------------------------------------------------------------------------
// Durations

const DURATION_UNITS_MS = {d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1} as const
type DurationUnit = keyof typeof DURATION_UNITS_MS
const DURATION_ORDER: DurationUnit[] = ['d', 'h', 'm', 's', 'ms']

const DURATION_FORMS = 'use a number with a unit, like 90s, 30m, 1h30m, 2d or 1.5h (units: ms, s, m, h, d)'

/** `1h30m15s`: whole numbers, each unit at most once, largest first. */
const COMPOUND_DURATION_RE = /^(?:\d+(?:ms|s|m|h|d))+$/
const COMPOUND_PART_RE = /(\d+)(ms|s|m|h|d)/g
/** `1.5h`: a decimal is allowed only as a single number and unit. */
const DECIMAL_DURATION_RE = /^(\d+\.\d+)(ms|s|m|h|d)$/

function q(s: string): string {
  return JSON.stringify(s)
}

function usage(message: string): MdrecError {
  return new MdrecError('E_USAGE', message)
}

/** Parse a duration to ms, or return an error message (without throwing). */
function durationMs(raw: string, what: string): number | string {
  const s = raw.trim()
  const bad = (why: string) => `invalid ${what} ${q(raw)}: ${why}`
  if (s === '') return bad(DURATION_FORMS)
  if (s.startsWith('-')) return bad(`must be greater than zero; ${DURATION_FORMS}`)
  // Refused rather than read as seconds: `--duration 30` could as well mean 30 minutes.
  // (A speed takes a bare number because it has one unit, x.)
  if (/^\d+(?:\.\d+)?$/.test(s)) return bad(`a bare number is ambiguous (${s}ms, ${s}s or ${s}m?), add a unit; ${DURATION_FORMS}`)
  let ms: number
  const dec = DECIMAL_DURATION_RE.exec(s)
  if (dec) {
    ms = Math.round(Number(dec[1]) * DURATION_UNITS_MS[dec[2] as DurationUnit])
  } else if (COMPOUND_DURATION_RE.test(s)) {
    ms = 0
    let lastRank = -1
    for (const m of s.matchAll(COMPOUND_PART_RE)) {
      const unit = m[2] as DurationUnit
      const rank = DURATION_ORDER.indexOf(unit)
      if (rank <= lastRank) return bad(`write each unit once, largest first (like 1h30m15s); ${DURATION_FORMS}`)
      lastRank = rank
      ms += Number(m[1]) * DURATION_UNITS_MS[unit]
    }
  } else {
    return bad(DURATION_FORMS)
  }
  if (!Number.isSafeInteger(ms)) return bad('too large')
  return ms
}

/**
 * Parse a duration such as `90s`, `30m`, `1h30m`, `1h30m15s`, `2d`, `500ms`
 * or `1.5h` into milliseconds (rounded to a whole ms). Bare numbers are
 * rejected as ambiguous; the result must be at least 1 ms.
 */
export function parseDuration(s: string): number {
  const ms = durationMs(s, 'duration')
  if (typeof ms === 'string') throw usage(ms)
  if (ms <= 0) throw usage(`invalid duration ${q(s)}: must be greater than zero; ${DURATION_FORMS}`)
  return ms
}

/**
 * {@link parseDuration} for a wait that may be none (`--settle 0`): zero is
 * accepted, bare (`0`, which means the same in every unit) or with a unit;
 * more than `maxMs` is refused (the message gives the bound as a duration).
 */
export function parseDurationOrZero(s: string, maxMs = Number.POSITIVE_INFINITY): number {
  if (/^\s*0+(?:\.0+)?(?:ms|s|m|h|d)?\s*$/.test(s)) return 0
  if (s.trim().startsWith('-')) throw usage(`invalid duration ${q(s)}: must be 0 or more; ${DURATION_FORMS}`)
  const ms = durationMs(s, 'duration')
  if (typeof ms === 'string') throw usage(ms)
  if (ms > maxMs) throw usage(`invalid duration ${q(s)}: at most ${formatDurationSpec(maxMs)}`)
  return ms
}

/**
 * Format ms for people: `850ms` below a second, `45.2s` below a minute,
 * then `2m03s`, `1h02m03s`, `2d03h04m05s` (which `parseDuration` accepts back).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 0) return `-${formatDuration(-ms)}`
  if (ms < 1000 && Math.round(ms) < 1000) return `${Math.round(ms)}ms`
  const tenths = Math.round(ms / 100)
  if (tenths < 600) {
    const whole = Math.floor(tenths / 10)
    const frac = tenths % 10
    return frac === 0 ? `${whole}s` : `${whole}.${frac}s`
  }
  let rest = Math.round(ms / 1000)
  const d = Math.floor(rest / 86_400)
  rest -= d * 86_400
  const h = Math.floor(rest / 3600)
  rest -= h * 3600
  const m = Math.floor(rest / 60)
  const sec = rest - m * 60
  const p2 = (n: number) => String(n).padStart(2, '0')
  if (d > 0) return `${d}d${p2(h)}h${p2(m)}m${p2(sec)}s`
  if (h > 0) return `${h}h${p2(m)}m${p2(sec)}s`
  return `${m}m${p2(sec)}s`
}

/**
 * A count and its noun, singular for exactly 1: `plural(1, 'row')` is
 * `1 row`, `plural(270, 'row')` is `270 rows`, `plural(2, 'batch')` is
 * `2 batches`. English's regular plurals only (+es after s, x, z, ch, sh;
 * otherwise +s); pass `many` for anything else. Hand-written: an inflection
 * library for the handful of nouns mdrec prints is not worth a dependency.
 */
export function plural(n: number, one: string, many?: string): string {
  return `${n} ${n === 1 ? one : (many ?? (/(?:s|x|z|ch|sh)$/.test(one) ? `${one}es` : `${one}s`))}`
}

/**
 * A duration as a user would type it, whole units only and zero units left
 * out: `30m` (not `30m00s`), `1h30m`, `1m30s`, `2d`, `1500ms`; for limits
 * such as `--duration` shown next to an elapsed time. `parseDuration` reads
 * it back exactly.
 */
export function formatDurationSpec(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0 || !Number.isInteger(ms)) return formatDuration(ms)
  let rest = ms
  let out = ''
  for (const unit of DURATION_ORDER) {
    const n = Math.floor(rest / DURATION_UNITS_MS[unit])
    rest -= n * DURATION_UNITS_MS[unit]
    if (n > 0) out += `${n}${unit}`
  }
  return out
}

// ---------------------------------------------------------------------------
// Sizes

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
}

const SIZE_FORMS =
  'use a number with a unit, like 256MiB, 1GiB, 500MB or 1024B (units: B; KiB, MiB, GiB, TiB = powers of 1024; KB, MB, GB, TB = powers of 1000)'

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i

function sizeBytes(raw: string, what: string): number | string {
  const s = raw.trim()
  const bad = (why: string) => `invalid ${what} ${q(raw)}: ${why}`
  if (s.startsWith('-')) return bad(`must be greater than zero; ${SIZE_FORMS}`)
  if (/^\d+(?:\.\d+)?$/.test(s)) return bad(`a bare number is ambiguous, add a unit; ${SIZE_FORMS}`)
  const m = SIZE_RE.exec(s)
  if (!m) return bad(SIZE_FORMS)
  const unit = m[2].toLowerCase()
  const mult = SIZE_UNITS[unit]
  if (mult === undefined) {
    if (/^[kmgt]i?$/.test(unit)) {
      const u = unit[0].toUpperCase()
      return bad(`unit ${q(m[2])} is ambiguous; write ${m[1]}${u}iB (powers of 1024) or ${m[1]}${u}B (powers of 1000)`)
    }
    return bad(`unknown unit ${q(m[2])}; ${SIZE_FORMS}`)
  }
  const bytes = Math.round(Number(m[1]) * mult)
  if (!Number.isSafeInteger(bytes)) return bad('too large')
  if (bytes <= 0) return bad(`must be greater than zero; ${SIZE_FORMS}`)
  return bytes
}

/**
 * Parse a size such as `256MiB`, `1GiB`, `500MB`, `10KiB`, `1024B` or
 * `1.5GiB` into bytes (rounded to a whole byte). Units are case-insensitive;
 * `KiB`..`TiB` are binary, `KB`..`TB` decimal. Bare numbers and one-letter
 * units (`2G`) are rejected as ambiguous.
 */
export function parseSize(s: string): number {
  const n = sizeBytes(s, 'size')
  if (typeof n === 'string') throw usage(n)
  return n
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']

/** Format bytes for people: `512 B`, `1.00 KiB`, `1.23 MiB`, `4.50 GiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} B`
  if (n < 0) return `-${formatBytes(-n)}`
  if (n < 1024) return `${Math.round(n)} B`
  let i = 0
  let v = n
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024
    i++
  }
  let text = v.toFixed(2)
  if (Number(text) >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024
    i++
    text = v.toFixed(2)
  }
  return `${text} ${BYTE_UNITS[i]}`
}

// ---------------------------------------------------------------------------
// Rotation

export type RotateSpec = {kind: 'time'; ms: number} | {kind: 'size'; bytes: number}

const ROTATE_FORMS =
  'use a duration like 1h, 30m or 1h30m (units: ms, s, m, h, d) or a size like 256MiB, 1GiB or 500MB (units: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)'

/**
 * Parse a rotation rule: a duration (`1h`, `30m`) rotates by time, a size
 * (`256MiB`, `1GB`) rotates by bytes written. Durations use lowercase units
 * (`m` is minutes); sizes always end in `B`.
 */
export function parseRotate(s: string): RotateSpec {
  const t = s.trim()
  const bad = (why: string) => usage(`invalid rotation ${q(s)}: ${why}`)
  if (t === '') throw bad(ROTATE_FORMS)
  if (t.startsWith('-')) throw bad(`must be greater than zero; ${ROTATE_FORMS}`)
  if (/^\d+(?:\.\d+)?$/.test(t)) throw bad(`a bare number is ambiguous, add a unit; ${ROTATE_FORMS}`)
  // A size unit always ends in b/B; a duration never does.
  if (/b$/i.test(t)) {
    const n = sizeBytes(s, 'rotation size')
    if (typeof n === 'string') throw usage(n)
    return {kind: 'size', bytes: n}
  }
  if (/^\d+(?:\.\d+)?\s*[kmgt]i?$/i.test(t) && !/^\d+(?:\.\d+)?m$/.test(t)) {
    const n = sizeBytes(s, 'rotation size') // explains the ambiguous one-letter unit
    throw usage(typeof n === 'string' ? n : `invalid rotation ${q(s)}: ${ROTATE_FORMS}`)
  }
  const ms = durationMs(s, 'rotation')
  if (typeof ms === 'string') throw bad(ROTATE_FORMS)
  if (ms <= 0) throw bad(`must be greater than zero; ${ROTATE_FORMS}`)
  return {kind: 'time', ms}
}

// ---------------------------------------------------------------------------
// Points in time

export type TimeSpec = {kind: 'absolute'; ns: bigint} | {kind: 'offset'; ns: bigint}

const TIME_FORMS =
  "use an ISO-8601 time with a zone, like 2025-11-24T14:30:00Z, 2025-11-24T14:30:00.123456789Z or 2025-11-24T23:30:00+09:00, or an offset from the recording's start, like +90s, +5m or +1h30m"

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/

/** Why an ISO date-time's fields (as written, two digits each; the year four) are not a real time, or null. */
function outOfRange(ys: string, mos: string, ds: string, hs: string, mis: string, ss: string | undefined): string | null {
  const year = Number(ys)
  const month = Number(mos)
  const day = Number(ds)
  if (month < 1 || month > 12) return `month ${mos} is out of range (01-12)`
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  const maxDay = month === 2 ? (leap ? 29 : 28) : [31, 0, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
  if (day < 1 || day > maxDay) return `day ${ds} is out of range for ${ys}-${mos} (01-${maxDay})`
  if (Number(hs) > 23) return `hour ${hs} is out of range (00-23)`
  if (Number(mis) > 59) return `minute ${mis} is out of range (00-59)`
  if (ss !== undefined && Number(ss) > 59) return `second ${ss} is out of range (00-59)`
  return null
}

/**
 * Parse a point in time: an ISO-8601 date-time with `Z` or an offset
 * (fractional seconds up to 9 digits are kept exactly, in ns), or an offset
 * from the recording's start, `+90s`, `+5m`, `+1h30m` (`+0s` is the start).
 * A date-time without a zone is rejected rather than guessed.
 */
export function parseTimeSpec(s: string): TimeSpec {
  const t = s.trim()
  const bad = (why: string) => usage(`invalid time ${q(s)}: ${why}`)
  if (t.startsWith('+')) {
    const ms = durationMs(t.slice(1), 'time offset')
    if (typeof ms === 'string') throw bad(`an offset from the start needs a duration after +, like +90s, +5m or +1h30m (units: ms, s, m, h, d)`)
    return {kind: 'offset', ns: BigInt(ms) * 1_000_000n}
  }
  if (t.startsWith('-')) {
    throw bad(`offsets count forward from the recording's start, like +90s; ${TIME_FORMS}`)
  }
  // Fields out of range are named before a fuller form is suggested: the suggestion must itself parse.
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t)
  if (dateOnly) {
    const why = outOfRange(dateOnly[1], dateOnly[2], dateOnly[3], '00', '00', undefined)
    if (why) throw bad(why)
    throw bad(`add a time of day and a zone, like ${t}T00:00:00Z; ${TIME_FORMS}`)
  }
  const m = ISO_RE.exec(t)
  if (!m) {
    if (/^\d+(?:\.\d+)?$/.test(t)) throw bad(`a bare number is ambiguous; ${TIME_FORMS}`)
    throw bad(TIME_FORMS)
  }
  const [, ys, mos, ds, hs, mis, ss, frac, z, sign, ohs, oms] = m
  const why = outOfRange(ys, mos, ds, hs, mis, ss)
  if (why) throw bad(why)
  if (!z && !sign) {
    throw bad(`no time zone; add Z for UTC (like ${t}Z) or an offset from UTC (like ${t}+09:00)`)
  }
  const year = Number(ys)
  const month = Number(mos)
  const day = Number(ds)
  const hour = Number(hs)
  const minute = Number(mis)
  const second = ss === undefined ? 0 : Number(ss)
  if (frac !== undefined && frac.length > 9) throw bad('at most 9 fractional digits (nanoseconds) are supported')
  let offsetMin = 0
  if (sign) {
    const oh = Number(ohs)
    const om = Number(oms)
    if (oh > 23 || om > 59) throw bad(`zone offset ${sign}${ohs}:${oms} is out of range`)
    offsetMin = (sign === '-' ? -1 : 1) * (oh * 60 + om)
  }
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day) // setUTCFullYear keeps years 0-99 literal
  date.setUTCHours(hour, minute, second, 0)
  const fracNs = frac === undefined ? 0n : BigInt(frac.padEnd(9, '0'))
  const ns = BigInt(date.getTime()) * 1_000_000n + fracNs - BigInt(offsetMin) * 60_000_000_000n
  return {kind: 'absolute', ns}
}

/** The absolute time (ns since the Unix epoch) a spec names, given the recording's start. */
export function resolveTimeSpec(spec: TimeSpec, startNs: bigint): bigint {
  return spec.kind === 'absolute' ? spec.ns : startNs + spec.ns
}

// ---------------------------------------------------------------------------
// Replay speed

const SPEED_FORMS =
  'use a multiplier like 1x, 10x or 0.25x (a bare 10 means 10x), or max to replay as fast as possible'

/** Parse a replay speed: `1x`, `10x`, `0.25x`, bare `10` (= 10x), or `max`. */
export function parseSpeed(s: string): number | 'max' {
  const t = s.trim()
  if (t.toLowerCase() === 'max') return 'max'
  const m = /^(\d+(?:\.\d+)?|\.\d+)x?$/i.exec(t)
  if (!m) throw usage(`invalid speed ${q(s)}: ${SPEED_FORMS}`)
  const v = Number(m[1])
  if (!Number.isFinite(v) || v <= 0) throw usage(`invalid speed ${q(s)}: must be greater than zero; ${SPEED_FORMS}`)
  return v
}

// ---------------------------------------------------------------------------
// Column lists

/** Parse a comma-separated column list: `price,volume, note`. Entries are trimmed; empty entries and repeats are rejected. */
export function parseColumns(s: string): string[] {
  const parts = s.split(',').map((p) => p.trim())
  if (parts.every((p) => p === '')) {
    throw usage(`invalid column list ${q(s)}: give one or more column names separated by commas, like price,volume`)
  }
  if (parts.some((p) => p === '')) {
    throw usage(`invalid column list ${q(s)}: it has an empty entry; separate names by single commas, like price,volume`)
  }
  const seen = new Set<string>()
  for (const p of parts) {
    if (seen.has(p)) throw usage(`invalid column list ${q(s)}: column ${q(p)} is listed twice`)
    seen.add(p)
  }
  return parts
}
