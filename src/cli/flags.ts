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
import {Errors, Flags, type Interfaces} from '@oclif/core'

import {isMdrecError} from '../errors.js'
import {FEED_URL_SCHEMES, parseFeedUrl} from '../util/redact.js'
import {
  parseColumns,
  parseDuration,
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

/** A duration such as `90s`, `30m`, `1h30m`, `2d`; the value is in ms. */
export const duration = Flags.custom<number>({
  helpValue: '<duration>',
  parse: async (input) => parseFlagValue(parseDuration, input),
})

/** A size such as `256MiB`, `1GiB`, `500MB`; the value is in bytes. */
export const size = Flags.custom<number>({
  helpValue: '<size>',
  parse: async (input) => parseFlagValue(parseSize, input),
})

/** A rotation rule: a duration (`1h`) or a size (`256MiB`). */
export const rotate = Flags.custom<RotateSpec>({
  helpValue: '<duration|size>',
  parse: async (input) => parseFlagValue(parseRotate, input),
})

/** An ISO-8601 time with a zone, or `+<duration>` from the recording's start. Resolve with `resolveTimeSpec`. */
export const timeSpec = Flags.custom<TimeSpec>({
  helpValue: '<time|+offset>',
  parse: async (input) => parseFlagValue(parseTimeSpec, input),
})

/** A replay speed: `1x`, `10x`, `0.25x`, `10`, or `max`. */
export const speed = Flags.custom<number | 'max'>({
  helpValue: '<speed>',
  parse: async (input) => parseFlagValue(parseSpeed, input),
})

/**
 * A comma-separated list of column names (`--columns price,volume`).
 * `Flags.custom` refuses an array value type unless `multiple: true` (which
 * would mean repeating the flag), so it is declared as a readonly array and
 * typed for commands as a plain `string[]`.
 */
export const columns = Flags.custom<readonly string[]>({
  helpValue: '<col,col,...>',
  parse: async (input) => parseFlagValue(parseColumns, input),
}) as unknown as Interfaces.FlagDefinition<string[]>

/**
 * A feed URL (`--url ws://…`): checked here so a bad one is reported before
 * anything starts, naming only its sanitized form (no user info, query,
 * fragment or opaque path segment: see src/util/redact.ts). The value is the
 * URL as given — secrets included, the connection needs them.
 */
export const feedUrl = Flags.custom<string>({
  helpValue: '<ws-url>',
  parse: async (input) =>
    parseFlagValue((u) => {
      parseFeedUrl(u, '--url', FEED_URL_SCHEMES)
      return u
    }, input),
})
