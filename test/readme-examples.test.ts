/**
 * README's shell examples that read recordings, and those of docs/** that
 * read a bundled fixture, run exactly as written (the
 * line through `sh`, with `mdrec` on PATH, from a directory holding the
 * checkout's `fixtures/`), each checked to print rows: a new user copying
 * them from the README sees output, not an empty selection. Every such
 * example must name a bundled fixture, so none of them depends on a file
 * the reader does not have. (The `mdrec/testing` and library examples are
 * run by as-dependency.test.ts; `record` needs a feed and is not run here.
 * A replay example's fixed `--port N` is run as `--port 0`: tests listen on
 * port 0 only.)
 */
import {spawn} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import type {ReplayHandle} from '../src/replay/engine.js'
import {globSync} from 'tinyglobby'

import {BIN, runCli, runProcess} from './helpers/cli.js'
import {redisSkipReason, startRedis, type RedisProcess} from './helpers/redis-server.js'
import {CASES} from './replay-clients.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const READERS = ['info', 'cat', 'slice', 'verify', 'replay']

/** The `mdrec …` lines of a markdown file's ```sh blocks, without their trailing `# comment`. */
function shellExamples(file: string): string[] {
  const out: string[] = []
  let inBlock = false
  let inSh = false
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    if (/^```/.test(line)) {
      inSh = !inBlock && /^```(sh|bash|shell)\s*$/.test(line)
      inBlock = !inBlock
      continue
    }
    if (inSh && line.startsWith('mdrec ')) out.push(line.replace(/\s+#\s.*$/, '').trim())
  }
  return out
}

const readsRecording = (l: string) => READERS.includes(l.split(/\s+/)[1])
/** README's examples that read a recording (each must name a bundled fixture). */
const readmeExamples = shellExamples('README.md').filter(readsRecording)
/** docs/**: the examples that read a bundled fixture (the others need a live feed, keys or the reader's own files). */
const docsExamples = globSync('docs/**/*.md', {cwd: ROOT})
  .sort()
  .flatMap((f) => shellExamples(f))
  .filter((l) => readsRecording(l) && /fixtures\/[\w-]+\.arrow/.test(l))
const examples = [...new Set([...readmeExamples, ...docsExamples])]

let cwd: string
let env: Record<string, string | undefined>

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'mdrec-readme-'))
  symlinkSync(join(ROOT, 'fixtures'), join(cwd, 'fixtures'))
  const bin = join(cwd, '.bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'mdrec'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`)
  chmodSync(join(bin, 'mdrec'), 0o755)
  env = {...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`}
})

/** Run `line` with sh in `cwd`, bounded in time. */
const sh = (line: string) => runProcess('/bin/sh', ['-c', line], {cwd, env})

/** A row as each format prints it: its receive time. */
const ROW = /\b20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/

describe("README's and docs' examples that read recordings", () => {
  it('are there, and each names a bundled fixture', () => {
    expect(readmeExamples.length).toBeGreaterThanOrEqual(6)
    for (const l of readmeExamples) expect(l, l).toMatch(/'?fixtures\/[\w*-]+\.arrow'?/)
    expect(docsExamples.length, 'docs/feeds/* show replays of the fixtures').toBeGreaterThanOrEqual(3)
  })

  for (const line of examples.filter((l) => !l.startsWith('mdrec replay '))) {
    it(line, async () => {
      const r = await sh(line)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).not.toMatch(/no rows|Error/)
      const cmd = line.split(/\s+/)[1]
      const redirect = /\s>\s*(\S+)\s*$/.exec(line)?.[1]
      const out = redirect ? readFileSync(join(cwd, redirect), 'utf8') : r.stdout
      if (cmd === 'cat') expect(out, out.slice(0, 500)).toMatch(ROW)
      if (cmd === 'info') expect(out).toMatch(/^ {2}rows {10}[1-9]\d*/m)
      if (cmd === 'verify') expect(out).toMatch(/: ok: [1-9]\d* rows?/)
      if (cmd === 'slice') {
        const o = /\s-o\s+(\S+)/.exec(line)![1]
        expect(out).toMatch(/^wrote [1-9]\d* rows?/)
        const info = JSON.parse((await runCli(['info', join(cwd, o), '--json'])).stdout)[0]
        expect(info.rows).toBeGreaterThan(0)
      }
    })
  }

  for (const line of examples.filter((l) => l.startsWith('mdrec replay '))) {
    it(`${line} (on port 0): serves a client the recorded frames`, async (ctx) => {
      const file = /fixtures\/[\w-]+\.arrow/.exec(line)![0]
      const c = CASES.find((x) => x.file.endsWith(file))!
      expect(c, `a client for ${file} in replay-clients.ts`).toBeDefined()
      // An example that publishes to Redis gets a real redis-server of its own, on a free port
      let cmd = line
      let redis: RedisProcess | undefined
      if (/redis:\/\/127\.0\.0\.1:6379\b/.test(line)) {
        const skip = redisSkipReason()
        if (skip) return ctx.skip(skip)
        redis = await startRedis()
        cmd = line.replace('127.0.0.1:6379', `127.0.0.1:${redis.port}`)
      }
      // tests listen only on port 0: a fixed --port N in an example becomes --port 0
      cmd = /--port\b/.test(cmd) ? cmd.replace(/--port\s+\d+/, '--port 0') : `${cmd} --port 0`
      const child = spawn('/bin/sh', ['-c', `exec ${cmd}`], {cwd, env, stdio: ['ignore', 'pipe', 'pipe']})
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = ''
          child.stdout.on('data', (d) => {
            out += d
            const m = /^(ws:\/\/\S+)\n/.exec(out)
            if (m) resolve(m[1])
          })
          child.on('close', () => reject(new Error(`replay exited before printing its URL: ${stderr}`)))
        })
        const messages = await c.atOnce({port: Number(new URL(url).port)} as ReplayHandle)
        const frame = await new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url)
          const t = setTimeout(() => (ws.terminate(), reject(new Error('no frame within 20 s'))), 20_000)
          ws.on('open', () => messages.forEach((m) => ws.send(m)))
          ws.on('message', (data, binary) => {
            const f = binary ? (data as Buffer).toString('latin1') : String(data)
            if (!c.isData(f)) return
            clearTimeout(t)
            ws.close()
            resolve(f)
          })
          ws.on('error', reject)
        })
        expect(frame.length).toBeGreaterThan(0)
      } finally {
        child.kill('SIGINT')
        expect(await exited, stderr).toBe(0)
        clearTimeout(killer)
        await redis?.stop()
      }
    }, 60_000)
  }
})
