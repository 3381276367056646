/**
 * Run-time checks of a library call's options object. JavaScript callers
 * (and `as any`) get no type check, and a misspelt or misplaced option that
 * is silently ignored changes what a run does (a replay at 1x instead of
 * `max`, a recording without its duration): each is a usage error
 * (MdrecError E_USAGE) naming the call, the option and what it takes.
 */
import {MdrecError} from '../errors.js'

/**
 * Throws for a key of `o` not in `known`. `hint(key)` may give a better
 * message for a known mistake (e.g. a feed's option given beside
 * `feedOptions`).
 */
export function checkOptionKeys(call: string, o: object, known: ReadonlySet<string>, hint?: (key: string) => string | undefined): void {
  for (const key of Object.keys(o)) {
    if (known.has(key)) continue
    throw new MdrecError('E_USAGE', hint?.(key) ?? `${call}: unknown option ${key}; the options are ${[...known].join(', ')}`)
  }
}

/** The value kinds checkOptionTypes knows. */
export type OptionKind = 'string' | 'number' | 'boolean' | 'function' | 'object' | 'string[]'

/** Throws for a present (not undefined) option whose value is not of its kind in `kinds`. */
export function checkOptionTypes(call: string, o: Readonly<Record<string, unknown>>, kinds: Readonly<Record<string, OptionKind | readonly OptionKind[]>>): void {
  for (const [key, want] of Object.entries(kinds)) {
    const v = o[key]
    if (v === undefined) continue
    const allowed = typeof want === 'string' ? [want] : want
    if (allowed.some((k) => isKind(v, k))) continue
    const got = Array.isArray(v) ? 'an array' : v === null ? 'null' : `a ${typeof v} (${JSON.stringify(v)?.slice(0, 40) ?? String(v)})`
    throw new MdrecError('E_USAGE', `${call}: option ${key} takes ${allowed.map(describe).join(' or ')}, not ${got}`)
  }
}

function isKind(v: unknown, kind: OptionKind): boolean {
  switch (kind) {
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string')
    case 'number':
      return typeof v === 'number' && Number.isFinite(v)
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v)
    default:
      return typeof v === kind
  }
}

function describe(kind: OptionKind): string {
  return kind === 'string[]' ? 'an array of strings' : kind === 'object' ? 'an object' : `a ${kind}`
}
