/** `mdrec replay` as a command: --json puts exactly one JSON document on stdout, the URL in it. */
import {spawn} from 'node:child_process'
import {describe, expect, it, onTestFinished} from 'vitest'

import {BIN} from './helpers/cli.js'
import {collect, fixture} from './replay-clients.js'

describe('mdrec replay --json', () => {
  it('prints one JSON document (with the URL) on stdout; the URL goes to stderr for clients', {timeout: 60_000}, async () => {
    const child = spawn(process.execPath, [BIN, 'replay', fixture('yahoo-us-equities.arrow'), '--json', '--port', '0', '--speed', 'max', '--clock', 'shared', '--settle', '20ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL on stderr: ${stderr}`)), 20_000)
      child.stderr.on('data', (d) => {
        stderr += d
        const m = /ws:\/\/\S+/.exec(stderr)
        if (m) {
          clearTimeout(t)
          resolve(m[0])
        }
      })
    })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    // the shared timeline plays once and the command exits
    const frames = await collect(url, [JSON.stringify({subscribe: ['NVDA']})], 0, () => true, 30_000).catch(() => null)
    const code = await exited
    expect(code).toBe(0)
    const doc = JSON.parse(stdout)
    expect(doc.url).toBe(url)
    expect(doc.framesSent).toBe(989)
    expect(frames === null || frames.length === 989).toBe(true)
  })
})

describe('mdrec replay with a range that holds nothing', () => {
  it('refuses before listening, saying why (exit 1); --from after --to is a usage error (exit 2)', async () => {
    const {runCli} = await import('./helpers/cli.js')
    const past = await runCli(['replay', fixture('yahoo-us-equities.arrow'), '--from', '+2m', '--port', '0'], {timeoutMs: 30_000})
    expect(past.code).toBe(1)
    expect(past.stdout).toBe('') // no URL: nothing is served
    expect(past.stderr.trim().split('\n')).toHaveLength(1)
    expect(past.stderr).toMatch(/no rows to replay: --from \S+ is after the recording's last row \(the recording spans /)
    const backwards = await runCli(['replay', fixture('yahoo-us-equities.arrow'), '--from', '+20s', '--to', '+10s', '--port', '0'], {timeoutMs: 30_000})
    expect(backwards.code).toBe(2)
    expect(backwards.stderr).toMatch(/--from \S+ is after --to/)
  }, 60_000)
})
