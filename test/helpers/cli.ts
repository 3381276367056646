import {type ChildProcess, spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  /** SIGKILL after this long (default 30 s). */
  timeoutMs?: number
  cwd?: string
}

/** A process started by startProcess/spawnCli, still running or not. */
export interface Running {
  child: ChildProcess
  /** Everything it printed, once it has exited (SIGKILLed after timeoutMs); rejects if it could not start. */
  out: Promise<CliResult>
  /** What it has printed so far. */
  stdout(): string
  stderr(): string
  /** SIGKILL it if it is still running (for afterEach clean-ups). */
  kill(): void
}

/** Start `file ARGS` with stdin closed, collecting its output, bounded in time. */
export function startProcess(file: string, args: string[], opts: RunOptions = {}): Running {
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: {...process.env, ...opts.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
  const out = new Promise<CliResult>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(t)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(t)
      resolve({code, signal, stdout, stderr})
    })
  })
  return {
    child,
    out,
    stdout: () => stdout,
    stderr: () => stderr,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
  }
}

/** Run `file ARGS` with stdin closed and collect its output, bounded in time. */
export function runProcess(file: string, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return startProcess(file, args, opts).out
}

/** Start `mdrec ARGS` as a user would (node bin/run.js), bounded in time (default 30 s). */
export function spawnCli(args: string[], opts: RunOptions = {}): Running {
  return startProcess(process.execPath, [BIN, ...args], opts)
}

/** Run `mdrec ARGS` as a user would (node bin/run.js), bounded in time. */
export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return spawnCli(args, opts).out
}

/** A running `mdrec` (see {@link startCli}). */
export interface RunningCli extends Running {
  /** Resolves once stdout + stderr so far match `re`; rejects after `ms` or when the process exits first. */
  line(re: RegExp, ms?: number): Promise<void>
}

/**
 * Start `mdrec ARGS` in the background (killed after `killMs`, and by the
 * function pushed on `cleanups` if still running when the test ends).
 */
export function startCli(args: string[], cleanups: Array<() => unknown>, env: Record<string, string> = {}, killMs = 120_000): RunningCli {
  const r = spawnCli(args, {env, timeoutMs: killMs})
  cleanups.push(r.kill)
  const line = async (re: RegExp, ms = 30_000): Promise<void> => {
    const end = Date.now() + ms
    while (!re.test(r.stdout() + r.stderr())) {
      if (Date.now() > end || r.child.exitCode !== null) throw new Error(`no ${re} in: ${r.stdout()}${r.stderr()}`)
      await new Promise((w) => setTimeout(w, 50))
    }
  }
  return {...r, line}
}
