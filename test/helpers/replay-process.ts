import {spawn} from 'node:child_process'

import {BIN} from './cli.js'

/**
 * `mdrec replay FILE --port 0 ARGS…` as a separate process (as a user runs
 * it), resolved once it prints a URL matching `url` (group 1: the port);
 * `stop` sends SIGINT and waits for it to exit (SIGKILL after 5 s). Throws
 * with what it printed when no URL appears within 20 s.
 */
export async function startReplayProcess(file: string, args: string[], url: RegExp): Promise<{port: number; url: string; stop: () => Promise<void>}> {
  const child = spawn(process.execPath, [BIN, 'replay', file, '--port', '0', ...args], {stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const end = Date.now() + 20_000
  let m: RegExpMatchArray | null = null
  while (!(m = out.match(url)) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 20))
  const closed = new Promise((resolve) => child.on('close', resolve))
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGINT')
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    await closed
    clearTimeout(t)
  }
  if (!m) {
    await stop()
    throw new Error(`mdrec replay did not start: ${out}`)
  }
  return {port: Number(m[1]), url: m[0], stop}
}
