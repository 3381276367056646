/**
 * The base class of every mdrec command (the oclif template / heroku
 * pattern): it parses flags and args in `init()` into `this.flags` and
 * `this.args`, and turns errors into one line on stderr and an exit code.
 *
 * Exit codes:
 *   0  success, or stdout's reader went away (EPIPE, e.g. `mdrec cat f | head`)
 *   1  an unexpected error, or an MdrecError other than E_USAGE
 *   2  usage: a bad flag value, an unknown flag, a missing argument (oclif's
 *      parse errors and MdrecError('E_USAGE'))
 *
 * Errors: one line `Error: <message>` on stderr (oneLine: oclif's
 * several-line parse errors are joined, ending `(see mdrec <cmd> --help)`), always, with or without
 * `--json` (stderr is for people and logs; scripts branch on the exit code).
 * With `--json`, stdout also gets a JSON document, so a program reading stdout
 * always gets one to parse (npm's `--json` does the same: the error object on
 * stdout, the human lines on stderr; `gh` prints errors on stderr only, which
 * leaves a `--json` reader with an empty stdout):
 *   - for an error before any result: the error object, pretty-printed
 *     (two-space indent) the same way for every error, from a command or the
 *     top level (`mdrec cta --json`, src/cli/top-level.ts):
 *       {"error": {"name": "MdrecError", "code": "E_USAGE", "message": ..., "exitCode": 2}}
 *     (`message` is the stderr line without `Error: `; `name` is always
 *     "MdrecError", whichever library threw: branch on `code`);
 *   - for a result that reports damage (`info`, `verify` on a damaged file):
 *     the result itself (failAfterJson), not the error object.
 * The exit code is the same as without `--json`. A command that takes no
 * `--json` (`cat`, which writes data) given it still prints the error object
 * on stdout, and its line says what to use instead (`--format ndjson`).
 *
 * Set MDREC_DEBUG=1 to get stack traces on stderr.
 */
import {Command, Errors, type Interfaces, ux} from '@oclif/core'
import {distance} from 'fastest-levenshtein'
import {existsSync} from 'node:fs'
import {globSync, isDynamicPattern} from 'tinyglobby'

import {MdrecError, isMdrecError, type MdrecErrorCode} from '../errors.js'
import {inputGlobOptions} from '../util/glob.js'

export type Flags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type Args<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/** What an error means for the user: the code, the message to print and how to exit. */
export interface ClassifiedError {
  kind: 'exit' | 'epipe' | 'mdrec' | 'usage' | 'unexpected'
  code: MdrecErrorCode | string
  message: string
  exitCode: number
}

/** MDREC_DEBUG is set (not '', '0' or 'false'): print stack traces. */
export function debugEnabled(): boolean {
  const v = process.env.MDREC_DEBUG
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
}

function isEpipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE'
}

/** Sort any thrown value into one of the cases the CLI reports differently. */
export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof Errors.ExitError) {
    return {kind: 'exit', code: 'EEXIT', message: '', exitCode: err.oclif.exit ?? 0}
  }
  if (isEpipe(err)) return {kind: 'epipe', code: 'EPIPE', message: '', exitCode: 0}
  if (isMdrecError(err)) return {kind: 'mdrec', code: err.code, message: err.message, exitCode: err.exitCode}
  const oclifExit = (err as Partial<Errors.CLIError> | undefined)?.oclif?.exit
  if (err instanceof Error && typeof oclifExit === 'number') {
    // oclif's own errors: parse errors (unknown flag, missing arg, bad value) and this.error()
    return {kind: 'usage', code: oclifExit === 2 ? 'E_USAGE' : 'E_INTERNAL', message: err.message, exitCode: oclifExit}
  }
  const message = err instanceof Error ? err.message || err.name : String(err)
  return {kind: 'unexpected', code: 'E_INTERNAL', message, exitCode: 1}
}

/**
 * An error message as one line: oclif's parse errors span several
 * (`Parsing --from \n\t<why>\nSee more help with --help`,
 * `The following error occurred:\n  Missing required flag out\n…`). The
 * trailing help pointer becomes ` (see <help>)`.
 */
export function oneLine(message: string, help: string): string {
  let m = message
  let hint = ''
  const more = /\s*See more help with --help\s*$/
  if (more.test(m)) {
    m = m.replace(more, '')
    hint = ` (see ${help})`
  } else if (/^Flag --?[\w-]+ expects a value\s*$/.test(m)) hint = ` (see ${help})` // oclif gives this parse error no pointer
  m = m
    // oclif adds this to a missing-argument error for any command with a repeatable flag, but mdrec's
    // repeatable flags take one value each (multipleNonGreedy): arguments may come after them
    .replace(/\s*Note: --[\w-]+ allows multiple values\.[\s\S]*?the beginning of arguments\./, '')
    .replace(/^\s*The following errors? occurred:\s*/, '')
    .replace(/^Parsing (--?[\w-]+)\s*\n\s*/, '$1: ')
    // oclif lists each missing argument as `name  description` on a line of its own: `name — description`
    .replace(/^(Missing \d+ required args?:)\s*\n([\s\S]*)$/, (_, head: string, rest: string) =>
      [head, rest.split('\n').map((l) => l.trim().replace(/^(\S+)\s{2,}(\S.*)$/, '$1 — $2')).filter(Boolean).join('; ')].join(' '),
    )
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ')
  return m + hint
}

/**
 * The name a user meant by `typed` among `names` (commands, or a command's
 * `--flags`), or undefined when none is close: a case-insensitive match,
 * the only name `typed` begins (`rec` → `record`), or the nearest within an
 * edit distance of 2 that is shorter than the name itself (`cta` → `cat`,
 * `--lmit` → `--limit`; not `ab` → `cat`).
 */
export function closestName(typed: string, names: readonly string[]): string | undefined {
  const t = typed.toLowerCase()
  const exact = names.find((c) => c.toLowerCase() === t)
  if (exact) return exact
  const prefixed = names.filter((c) => c.toLowerCase().startsWith(t))
  if (t.length >= 2 && prefixed.length === 1) return prefixed[0]
  const near = names
    .map((c) => ({c, d: distance(t, c.toLowerCase())}))
    .filter((x) => x.d <= 2 && x.d < x.c.length && x.d < t.length)
    .sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : 1))
  return near[0]?.c
}

/**
 * oclif's unknown-flag error (`Nonexistent flag: --lmit\nSee more help with
 * --help`) with the flag the user meant, when one of the command's is close:
 * `Nonexistent flag: --lmit; did you mean --limit?`. oclif's parser has no
 * such hint (and @oclif/plugin-not-found covers commands only). Any other
 * message is returned as is.
 */
export function withFlagHint(message: string, flags: readonly string[]): string {
  const m = /^(Nonexistent flags?: )(--?[^\s,]+)(.*)$/m.exec(message)
  if (!m) return message
  const meant = closestName(m[2], flags.map((f) => `--${f}`))
  if (meant === undefined || meant === m[2]) return message
  return message.replace(m[0], `${m[0]}; did you mean ${meant}?`)
}

/**
 * Mark an error thrown while parsing the command line as a usage error
 * (exit 2). oclif's own parse errors already are, but a plain `Error` thrown
 * by a flag's or arg's `parse` (e.g. `Flags.file({exists: true})`,
 * `Args.integer()`) carries no exit code and oclif would exit 1.
 */
function asUsageError(err: unknown): unknown {
  if (!(err instanceof Error) || isMdrecError(err)) return err
  const e = err as Error & {oclif?: {exit?: number}}
  if (typeof e.oclif?.exit === 'number') return err
  e.oclif = {...e.oclif, exit: 2}
  return e
}

/**
 * The error object `--json` puts on stdout (see the header):
 * `{"error": {"name", "code", "message", "exitCode"}}`, `message` being the
 * stderr line without `Error: ` and `name` always "MdrecError" (not the class
 * of whatever threw: oclif's parse errors are plain `Error`s).
 */
export function errorJson(code: string, message: string, exitCode: number): {error: Record<string, unknown>} {
  return {error: {name: 'MdrecError', code, message, exitCode}}
}

/** A JSON document as `--json` prints it on stdout: two-space indent (oclif's logJson, uncoloured), one newline after. */
export function jsonText(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`
}

/**
 * `--json` given to a command that takes none (`cat`): oclif's unknown-flag
 * error with what to use instead, or undefined for any other message. A
 * command that writes data (it has a `--format` with `ndjson`) points there.
 */
export function jsonFlagHint(message: string, id: string, formats: readonly string[] | undefined, jsonCommands: readonly string[]): string | undefined {
  if (!/^Nonexistent flags?: --json\b/.test(message)) return undefined
  const instead = formats?.includes('ndjson') ? `${id} writes data: use --format ndjson for JSON lines` : `${id} has no JSON output`
  return `--json: ${instead} (--json is for the commands that print a report: ${jsonCommands.join(', ')})`
}

/**
 * A token on the command line that is a negative number (`-1`, `-0.5`):
 * oclif reads it as a positional (`-1: no such file`) when no flag before it
 * takes a value.
 */
const NEGATIVE = /^-\d+(\.\d+)?$/

/**
 * Whether `token` names an input (store/inputs.ts `expandInputs`): a path
 * that exists (file or directory) or a glob that matches a file.
 */
export function namesInput(token: string): boolean {
  if (existsSync(token)) return true
  return isDynamicPattern(token) && globSync(token, inputGlobOptions(token)).length > 0
}

/**
 * Check the command line before oclif parses it, and give each flag of
 * `optional` (a flag whose value may be left out: `--loop [N]`) the value it
 * means when it is: `argv` with `optional[name]` inserted after a bare
 * `--name` (the next token is absent, a flag, or an input: `isInput`, a
 * file, directory or matching glob). The token after such a flag that is
 * neither a whole number nor an input is a bad value for the flag (E_USAGE,
 * not a missing file). Throws E_USAGE too for a negative number oclif would
 * take as a positional: after a flag of `optional` (`--loop -1`), or where
 * no flag takes it (`cat f -5`).
 * `valued`: the names (`--name`, `-c`) of the flags that take a value (the
 * token after them is theirs, negative or not; their parse checks it).
 */
export function prepareArgv(
  argv: readonly string[],
  valued: ReadonlySet<string>,
  optional: Readonly<Record<string, {bare: string; expects: string}>>,
  isInput: (token: string) => boolean = namesInput,
): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]
    out.push(t)
    if (t === '--') {
      out.push(...argv.slice(i + 1))
      break
    }
    const opt = t.startsWith('--') ? optional[t.slice(2)] : undefined
    if (opt) {
      const next = argv[i + 1]
      // a number that is not a whole one (-1, 1.5) would be taken as a file: it was meant for the flag
      if (next !== undefined && (NEGATIVE.test(next) || /^\d*\.\d+$/.test(next))) throw new MdrecError('E_USAGE', `${t} ${next}: ${opt.expects}`)
      if (next !== undefined && /^\d+$/.test(next)) continue
      if (next !== undefined && !next.startsWith('-') && !isInput(next)) {
        throw new MdrecError('E_USAGE', `${t} ${next}: ${opt.expects} (${next} is no file, directory or matching glob either)`)
      }
      out.push(opt.bare)
      continue
    }
    if (valued.has(t)) {
      if (i + 1 < argv.length) out.push(argv[++i])
      continue
    }
    if (NEGATIVE.test(t)) {
      throw new MdrecError(
        'E_USAGE',
        `${t}: a negative number where a file or argument was expected (a flag's value goes right after the flag, e.g. --limit 5; a file named ${t}: give it as ./${t})`,
      )
    }
  }
  return out
}

let epipeInstalled = false

/**
 * Write to stdout honouring backpressure: resolves once the text is handed
 * to the stream and the stream is below its high-water mark (recordings can
 * be far larger than memory).
 */
export function writeStdout(s: string | Uint8Array): Promise<void> {
  if (s.length === 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const ok = process.stdout.write(s, (err) => {
      if (err) reject(err)
    })
    if (ok) resolve()
    else process.stdout.once('drain', resolve)
  })
}

/**
 * Wait until everything written to `stream` has left the process (oclif ends
 * an erroring command with process.exit, which drops what a pipe has not
 * taken yet). Returns at once when nothing is pending or the stream is gone.
 */
export function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableLength === 0) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', check)
      stream.off('close', done)
      stream.off('error', done)
      resolve()
    }
    const check = () => {
      if (stream.writableLength === 0) done()
    }
    stream.on('drain', check)
    stream.once('close', done)
    stream.once('error', done)
    // An empty write completes after everything queued before it.
    stream.write('', () => check())
  })
}

/**
 * Make an EPIPE on stdout (its reader closed the pipe, as `head` does) end
 * the process quietly with exit code 0 instead of an unhandled 'error'
 * event. Other stdout errors still surface. Safe to call more than once.
 */
export function installEpipeHandler(): void {
  if (epipeInstalled) return
  epipeInstalled = true
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
}

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true
  static override baseFlags = {}
  /**
   * Flags whose value may be left out (declared as string flags): the value
   * a bare flag gets, and what a value must be (the usage error for a
   * negative one). See prepareArgv. A getter, so oclif's manifest leaves it out.
   */
  static get optionalValue(): Readonly<Record<string, {bare: string; expects: string}>> {
    return {}
  }

  protected flags!: Flags<T>
  protected args!: Args<T>
  /** Every positional argument, in order (for commands with `strict = false` taking several files). */
  protected positional: string[] = []
  /** The --json result is on stdout already: catch() adds only the stderr line. */
  private jsonResultPrinted = false

  public override async init(): Promise<void> {
    await super.init()
    installEpipeHandler()
    const ctor = this.ctor as unknown as typeof BaseCommand
    const valued = new Set<string>()
    const defs: Record<string, Interfaces.Flag<unknown>> = {...ctor.baseFlags, ...this.ctor.flags}
    for (const [name, f] of Object.entries(defs)) {
      if (f.type !== 'option') continue
      valued.add(`--${name}`)
      if (f.char) valued.add(`-${f.char}`)
    }
    this.argv = prepareArgv(this.argv, valued, ctor.optionalValue)
    let parsed
    try {
      parsed = await this.parse({
        args: this.ctor.args,
        baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
        enableJsonFlag: this.ctor.enableJsonFlag,
        flags: this.ctor.flags,
        strict: this.ctor.strict,
      })
    } catch (error) {
      throw asUsageError(error)
    }
    this.flags = parsed.flags as Flags<T>
    this.args = parsed.args as Args<T>
    this.positional = (parsed.argv as unknown[]).map(String)
  }

  /**
   * Report an error and exit. Replaces oclif's default, which prints a boxed
   * message (and stack traces in development) and exits 1 for anything that
   * is not an oclif CLIError.
   */
  protected override async catch(err: Error & {exitCode?: number}): Promise<never> {
    const c = classifyError(err)
    // oclif ends the process with process.exit: first let stdout drain, so
    // every line a command printed reaches its reader (a pipe or a file).
    await drained(process.stdout)
    if (c.kind === 'exit') throw err // this.exit(n) from run(): let oclif end the process
    if (c.kind === 'epipe') this.exit(0)
    try {
      if (ux.action.running) ux.action.stop('failed')
    } catch {}
    // a command without --json given it (cat) prints the error object too: a --json reader always gets one
    const json = this.ctor.enableJsonFlag ? this.jsonEnabled() : this.argv.includes('--json')
    if (json && !this.jsonResultPrinted) process.stdout.write(jsonText(this.toErrorJson(err)))
    let line = `Error: ${this.oneLineMessage(c.message)}`
    if (c.kind === 'unexpected' && !debugEnabled()) line += ' (set MDREC_DEBUG=1 for a stack trace)'
    process.stderr.write(`${line}\n`)
    if (debugEnabled() && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`)
    await drained(process.stdout)
    await drained(process.stderr)
    // Throws ExitError: oclif's handler prints nothing for it and exits with c.exitCode.
    this.exit(c.exitCode)
  }

  /**
   * With --json, print `result` (a report that names damage) on stdout, then
   * fail with `err`: its one line goes to stderr and its exit code is used,
   * and no error object is added to stdout. Without --json, just throws `err`.
   */
  protected failAfterJson(result: unknown, err: Error): never {
    if (this.jsonEnabled()) {
      this.logJson(result)
      this.jsonResultPrinted = true
    }
    throw err
  }

  private oneLineMessage(message: string): string {
    const flags = Object.entries({...this.ctor.baseFlags, ...this.ctor.flags}).filter(([, f]) => !f.hidden).map(([name]) => name)
    if (this.ctor.enableJsonFlag) flags.push('json') // oclif adds --json at parse time, outside `flags`
    const help = `${this.config.bin} ${this.id ?? ''} --help`.replace(/\s+/g, ' ')
    const jsonCommands = this.config.commands.filter((c) => c.enableJsonFlag && !c.hidden).map((c) => c.id).sort()
    const noJson = this.ctor.enableJsonFlag ? undefined : jsonFlagHint(message, this.id ?? '', (this.ctor.flags.format as {options?: string[]} | undefined)?.options, jsonCommands)
    if (noJson) return `${noJson} (see ${help})`
    return oneLine(withFlagHint(message, flags), help)
  }

  protected override toErrorJson(err: unknown): {error: Record<string, unknown>} {
    const c = classifyError(err)
    const json = errorJson(c.code, this.oneLineMessage(c.message), c.exitCode)
    if (debugEnabled() && err instanceof Error) json.error.stack = err.stack
    return json
  }
}
