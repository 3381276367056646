/**
 * Shared oclif flag types for mdrec's commands. Each parses with the pure
 * functions in `../util/units.ts`.
 *
 * How oclif 4 reports a throw from a custom flag's `parse`: the parser
 * catches it, rewrites `message` to
 *   `Parsing --<flag> \n\t<original message>\nSee more help with --help`
 * and rethrows the same object. The exit code comes from `err.oclif.exit`;
 * a plain `Error` has none, so oclif's handler would exit 1. That is why
 * these flags throw a `CLIError` (whose `oclif.exit` is 2, oclif's usage exit
 * code) rather than a plain Error or the MdrecError itself.
 *
 * Usage: `static flags = {rotate: rotate({description: '...'})}`.
 */
import {Args, Errors, Flags, type Interfaces} from '@oclif/core'

import {isMdrecError} from '../errors.js'
import type {FeedFlag} from '../feeds/registry.js'
import {
  parseColumns,
  parseDuration,
  parseDurationOrZero,
  parseRotate,
  parseSize,
  parseSpeed,
  parseTimeSpec,
  type RotateSpec,
  type TimeSpec,
} from '../util/units.js'

/** Exit code for a bad flag value (same as oclif's default for parse errors and `E_USAGE`). */
export const USAGE_EXIT_CODE = 2

/** Run a units parser; turn its MdrecError into the CLIError oclif reports with exit code 2. */
export function parseFlagValue<T>(fn: (input: string) => T, input: string): T {
  try {
    return fn(input)
  } catch (error) {
    if (isMdrecError(error)) throw new Errors.CLIError(error.message, {exit: error.exitCode})
    throw error
  }
}

/** A flag whose value `parser` makes from the text given (its MdrecError: exit code 2, see parseFlagValue). */
function parsedFlag<T>(helpValue: string, parser: (input: string) => T): SingleFlag<T> {
  // Flags.custom<unknown>, cast: with T generic, TypeScript cannot resolve its single-value overload (NotArray<T>)
  return Flags.custom<unknown>({helpValue, parse: async (input) => parseFlagValue(parser, input)}) as SingleFlag<T>
}

type SingleFlag<T> = Interfaces.FlagDefinition<T, Interfaces.CustomOptions, {multiple: false; requiredOrDefaulted: false}>

/** A duration such as `90s`, `30m`, `1h30m`, `2d`; the value is in ms. */
export const duration = parsedFlag<number>('<duration>', parseDuration)

/** A duration that may be zero (`0` or `0ms`: no wait), at most `maxMs`; the value is in ms. */
export const durationOrZero = (maxMs = Number.POSITIVE_INFINITY) => parsedFlag<number>('<duration>', (s) => parseDurationOrZero(s, maxMs))

/** A size such as `256MiB`, `1GiB`, `500MB`; the value is in bytes. */
export const size = parsedFlag<number>('<size>', parseSize)

/** A rotation rule: a duration (`1h`) or a size (`256MiB`). */
export const rotate = parsedFlag<RotateSpec>('<duration|size>', parseRotate)

/** An ISO-8601 time with a zone, or `+<duration>` from the recording's start. Resolve with `resolveTimeSpec`. */
export const timeSpec = parsedFlag<TimeSpec>('<time|+offset>', parseTimeSpec)

/** A replay speed: `1x`, `10x`, `0.25x`, `10`, or `max`. */
export const speed = parsedFlag<number | 'max'>('<speed>', parseSpeed)

/**
 * A comma-separated list of column names (`--columns price,volume`).
 * `Flags.custom` refuses an array value type unless `multiple: true` (which
 * would mean repeating the flag), so it is declared as a readonly array and
 * typed for commands as a plain `string[]`.
 */
export const columns = parsedFlag<readonly string[]>('<col,col,...>', parseColumns) as unknown as Interfaces.FlagDefinition<string[]>

/**
 * A feed URL flag (`--url ws://…`). Its value is checked by the command,
 * which knows the feed (`checkUrlScheme` in src/feeds/registry.ts, before
 * anything starts): the error names the schemes that feed takes, only those
 * (`http://` for Yahoo: ws:// or wss://, not generic's redis://), and shows
 * the URL's sanitized form only (src/util/redact.ts). A check here could
 * only name every feed's schemes: this module, which every command loads,
 * loads no feed. The value is the URL as given — secrets included, the
 * connection needs them.
 */
export function feedUrl(description: string) {
  return Flags.string({description, helpValue: '<ws-url>'})
}

/**
 * --from and --to, a range [from, to) of receive times (resolve with
 * `resolveRange`), as the commands that read recordings declare them; cat
 * gives --from a longer description.
 */
export function receiveRangeFlags(fromDescription = 'first receive time: ISO-8601 or +offset from the start') {
  return {
    from: timeSpec({description: fromDescription}),
    to: timeSpec({description: 'end receive time (exclusive): ISO-8601 or +offset'}),
  }
}

/**
 * The positional of the commands that read recordings: files, directories or
 * globs, one or more (such a command sets `strict = false` and reads
 * `this.argv`).
 */
export function recordingsArg(description: string) {
  return {file: Args.string({description, required: true})}
}

/**
 * An oclif flag for the feeds' options of one name (`feedFlags` and
 * `replayFlags` in src/feeds/registry.ts), of the kind they declare: a
 * boolean (with --no- when declared), a duration, an integer (at least its
 * min), or a string (a list kind is split by `flagValue`).
 */
export function feedFlag(ff: FeedFlag, helpGroup?: string) {
  const dependsOn = ff.dependsOn ? [...ff.dependsOn] : undefined
  const common = {description: ff.description, dependsOn, helpGroup, defaultHelp: ff.defaultHelp === undefined ? undefined : async () => ff.defaultHelp!}
  if (ff.kind === 'boolean') return Flags.boolean({description: ff.description, dependsOn, helpGroup, allowNo: ff.allowNo})
  if (ff.kind === 'duration') return duration(common)
  if (ff.kind === 'integer') return Flags.integer({...common, min: ff.min, helpValue: ff.helpValue})
  return Flags.string({...common, helpValue: ff.helpValue})
}
