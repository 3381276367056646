import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {createConnection} from 'node:net'

import {closedPort} from './ports.js'

/** Debian's redis-server (installed by .ci/run). */
export const REDIS_SERVER = '/usr/bin/redis-server'

/**
 * Why Redis tests cannot run here, or null when they can. Missing
 * redis-server skips them only outside CI: with `CI` set, a missing server
 * fails the tests (the CI script installs it).
 */
export function redisSkipReason(): string | null {
  if (existsSync(REDIS_SERVER)) return null
  if (process.env.CI) return null // let the tests fail loudly in CI
  return `${REDIS_SERVER} is not installed (apt-get install redis-server; .ci/run installs it)`
}

export interface RedisProcess {
  port: number
  child: ChildProcess
  /** Stop it (SIGTERM, then SIGKILL after 5 s); resolves when it has exited. */
  stop(): Promise<void>
}

/**
 * Start a throwaway redis-server on 127.0.0.1 on a free port (or `port`),
 * without persistence (`--save '' --appendonly no`); resolves once it
 * accepts connections (bounded: 15 s).
 */
export async function startRedis(opts: {port?: number; args?: string[]} = {}): Promise<RedisProcess> {
  const port = opts.port ?? (await closedPort())
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const end = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${out}`)
    if (await accepts(port)) break
    if (Date.now() > end) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not accept connections on ${port} within 15 s: ${out}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    port,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    },
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({port, host: '127.0.0.1'})
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
