/**
 * Errors that no mdrec command catches (BaseCommand.catch handles those of
 * mdrec's own commands), made as one line as theirs are:
 *
 * - oclif's `command_not_found` hook: `mdrec bogus` (a command that does not
 *   exist) becomes one line on stderr naming it, with the closest command
 *   when one is close, and a pointer to `mdrec --help`; exit 2 (a usage
 *   error, as for an unknown flag). Without it oclif prints
 *   ` ›   Error: command bogus:x.arrow not found` (its own style, the
 *   arguments glued on). `@oclif/plugin-not-found` is not used: it asks
 *   "Did you mean …? (y/n)" on a terminal and prints two lines.
 * - `runCli` (bin/run.js): oclif's `execute` with errors from the plugins'
 *   commands (`mdrec help bogus`, `mdrec autocomplete fish`) printed the
 *   same way.
 *
 * With `--json`, stdout also gets the error object, the same document as for
 * every other error (see base.ts: errorJson, jsonText). MDREC_DEBUG=1 adds the stack.
 */
import {Config, Errors, flush, handle, type Hook, run} from '@oclif/core'
import {closestName, debugEnabled, errorJson, jsonText, oneLine} from './base.js'

/**
 * The one-line message for an unknown command. `id` is oclif's (words joined
 * by ':', arguments after an unknown word included: `bogus:x.arrow`); the
 * command typed is its words up to the first that is neither a command nor a
 * topic.
 */
export function unknownCommandMessage(id: string, config: Pick<Config, 'bin' | 'commands' | 'findCommand' | 'findTopic'>): string {
  const words = id.split(':')
  let n = 1
  while (n < words.length && (config.findTopic(words.slice(0, n).join(':')) || config.findCommand(words.slice(0, n).join(':')))) n++
  const typed = words.slice(0, n).join(' ')
  const visible = config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', ' '))
  if (typed.startsWith('-')) {
    return `${config.bin} ${typed}: unknown option; a command comes first, one of ${[...visible].sort().join(', ')} (see ${config.bin} --help)`
  }
  const meant = closestName(typed, visible)
  const hint = meant
    ? `did you mean ${config.bin} ${meant}?`
    : `the commands are ${[...visible].sort().join(', ')}`
  return `${config.bin} ${typed}: no such command; ${hint} (see ${config.bin} --help)`
}

/** Print `Error: <message>` on stderr (and with --json the error object on stdout). */
function report(message: string, exitCode: number, argv: readonly string[]): void {
  if (argv.includes('--json')) process.stdout.write(jsonText(errorJson(exitCode === 2 ? 'E_USAGE' : 'E_INTERNAL', message, exitCode)))
  process.stderr.write(`Error: ${message}\n`)
}

const hook: Hook.CommandNotFound = async function (opts) {
  report(unknownCommandMessage(opts.id, opts.config), 2, opts.argv ?? [])
  this.exit(2) // oclif prints nothing more for an exit
}

export default hook

/**
 * Run mdrec with `argv` (bin/run.js): oclif's `execute` (run, flush, handle)
 * but an error that reaches the top is printed as one line: `Command X not
 * found.` (oclif's help) as for an unknown command, others through oneLine.
 * Exit code: the error's (oclif's usage errors 2), else 1.
 */
export async function runCli(argv: string[], root: string): Promise<void> {
  const config = await Config.load(root)
  try {
    await run(argv, config)
    await flush()
  } catch (error) {
    if (error instanceof Errors.ExitError) return handle(error)
    const err = error instanceof Error ? error : new Error(String(error))
    const exitCode = (err as Partial<Errors.CLIError>).oclif?.exit ?? 1
    const missing = /^Command (.+) not found\.$/.exec(err.message)
    const message = missing ? unknownCommandMessage(missing[1].replaceAll(' ', ':'), config) : oneLine(err.message, `${config.bin} --help`)
    report(message, exitCode, argv)
    if (debugEnabled() && err.stack) process.stderr.write(`${err.stack}\n`)
    return handle(new Errors.ExitError(exitCode))
  }
}
