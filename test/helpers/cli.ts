import {spawn, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Run `mdrec ARGS` as a user would (node bin/run.js), bounded in time. */
export function runCli(args: string[], opts: {env?: Record<string, string>; timeoutMs?: number; cwd?: string} = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: {...process.env, ...opts.env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(t)
      resolve({code, signal, stdout, stderr})
    })
  })
}

/** A running `mdrec` (see {@link startCli}). */
export interface RunningCli {
  child: ChildProcess
  /** Resolves at exit with everything printed. */
  out: Promise<{code: number | null; stdout: string; stderr: string}>
  /** Resolves once stdout + stderr so far match `re`; rejects after `ms` or when the process exits first. */
  line(re: RegExp, ms?: number): Promise<void>
  /** stdout so far. */
  stdout(): string
}

/**
 * Start `mdrec ARGS` in the background (killed after `killMs`, and by the
 * function pushed on `cleanups` if still running when the test ends).
 */
export function startCli(args: string[], cleanups: Array<() => unknown>, env: Record<string, string> = {}, killMs = 120_000): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...env}})
  let stdout = ''
  let stderr = ''
  const waiters: Array<() => void> = []
  const wake = () => waiters.splice(0).forEach((w) => w())
  child.stdout.on('data', (d) => {
    stdout += d
    wake()
  })
  child.stderr.on('data', (d) => {
    stderr += d
    wake()
  })
  const kill = setTimeout(() => child.kill('SIGKILL'), killMs)
  const out = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(kill)
      resolve({code, stdout, stderr})
    }),
  )
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const line = async (re: RegExp, ms = 30_000): Promise<void> => {
    const end = Date.now() + ms
    while (!re.test(stdout + stderr)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`no ${re} in: ${stdout}${stderr}`)
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100)
        waiters.push(() => {
          clearTimeout(t)
          r()
        })
      })
    }
  }
  return {child, out, line, stdout: () => stdout}
}
