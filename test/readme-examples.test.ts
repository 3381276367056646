/**
 * Every `mdrec …` example of README.md (its ```sh blocks and the command
 * reference's EXAMPLES) and of docs/**\/*.md, run exactly as written: the
 * line through `sh`, with `mdrec` on PATH, in a fresh working directory
 * holding the checkout's `fixtures/` and the files the examples name
 * (helpers/readme-files.ts: `day.arrow`, `day.000.arrow`/`day.001.arrow`,
 * `AAPL.arrow`, `recordings/`, `kospi200.txt`, …), after the `export …` lines
 * of the example's block. Each is checked to do what it says: readers print
 * rows, `slice` and `export` write them, `replay` serves a client the
 * recorded frames, `record` records rows; and what an example's `# comment`
 * says it writes or prints (`./yahoo-AAPL_MSFT_BTC-USD-<UTC start>.arrow`,
 * `data/feed=yahoo/date=2025-11-24/…parquet`, `ws://127.0.0.1:<port>/…`) is there.
 *
 * What the test changes, and nothing else (tests talk only to 127.0.0.1 and
 * listen on port 0):
 * - a replay's fixed `--port N` is run as `--port 0` (added when absent);
 * - `record` connects to a local `mdrec replay` of the matching bundled
 *   fixture (a private Upbit example: of `upbit-private.arrow`): the feed's
 *   URL variable (the registry's `urlEnv`: MDREC_YAHOO_URL, MDREC_BINANCE_URL, …)
 *   is set to it, and an example's own
 *   `ws://127.0.0.1:NNNN` gets the replay's port instead of NNNN;
 * - `redis://127.0.0.1:6379` becomes a throwaway redis-server on a free port;
 * - the absolute `/data/md` becomes `<working directory>/data/md`;
 * - `KIS_APP_KEY=… KIS_APP_SECRET=…` and `UPBIT_ACCESS_KEY=… …` are run as
 *   written (the keys are the text `…`): the KIS emulator takes any
 *   non-empty pair, the Upbit one any well-formed signed token;
 * - a recorder (which runs for `--duration 30m`, or until Ctrl-C) and
 *   `cat --follow` get SIGINT once they have written rows; `cat live.arrow
 *   --follow` follows a recording that a recorder is writing.
 * The `mdrec/testing` and library examples are run by as-dependency.test.ts;
 * `help` and `autocomplete` examples print help text and are not run here.
 * Two record examples ask for data no bundled fixture holds (Upbit candles,
 * KIS account notices): they are run and checked to subscribe and close a
 * readable file (see NO_DATA).
 */
import {spawn} from 'node:child_process'
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {getFeed} from '../src/feeds/registry.js'
import type {ReplayHandle} from '../src/replay/engine.js'
import {recordingInfo} from '../src/store/info.js'
import {openRecording} from '../src/store/reader.js'
import {globSync} from 'tinyglobby'

import {BIN, runCli, runProcess, type CliResult} from './helpers/cli.js'
import {duckdb, listFiles} from './helpers/dataset.js'
import {makeExampleFiles} from './helpers/readme-files.js'
import {redisSkipReason, startRedis, type RedisProcess} from './helpers/redis-server.js'
import {CASES} from './replay-clients.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NOT_RUN = ['help', 'autocomplete']
/** A line that runs mdrec, after any `VAR=value` assignments. */
const MDREC_LINE = /^(?:[A-Z_]+=\S+\s+)*mdrec\s/

interface Example {
  /** Where it is written (file:line). */
  where: string
  /** The line, without its trailing `# comment`. */
  line: string
  /** The `export …` lines before it in its block. */
  exports: string[]
  /**
   * What its `# comment` says it writes or prints, as a pattern: the first
   * `….arrow`, `….parquet` or `ws://127.0.0.1…` the comment names, each
   * `<placeholder>` (and a local port) matching anything.
   */
  promise?: RegExp
}

/** The pattern of the first file or local URL a comment names (see {@link Example.promise}). */
function promiseOf(comment: string): RegExp | undefined {
  const token = /(ws:\/\/127\.0\.0\.1[^\s'`]+|(?:[^\s'`,<]|<[^>]*>)+\.(?:arrow|parquet))/.exec(comment)?.[1]
  if (!token) return undefined
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const local = /^ws:\/\/127\.0\.0\.1:(\d+)/.exec(token)
  // tests listen on port 0: a local URL's fixed port is a placeholder too
  const text = local ? token.replace(`:${local[1]}`, ':<port>') : token.replace(/^\.\//, '')
  return new RegExp(`^${text.split(/<[^>]+>/).map(escape).join('.+?')}$`)
}

/** The `mdrec …` lines of a markdown file's ```sh blocks, and in README its command reference's EXAMPLES. */
function examplesOf(file: string): Example[] {
  const out: Example[] = []
  let inBlock = false
  let inSh = false
  let inReference = false
  let inExamples = false
  let exports: string[] = []
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  lines.forEach((raw, i) => {
    if (raw.startsWith('<!-- commands -->')) inReference = true
    if (raw.startsWith('<!-- commandsstop -->')) inReference = false
    if (/^```/.test(raw)) {
      inSh = !inBlock && /^```(sh|bash|shell)\s*$/.test(raw)
      inBlock = !inBlock
      inExamples = false
      exports = []
      return
    }
    if (!inBlock) return
    let line: string | undefined
    if (inSh) {
      if (/^export\s/.test(raw)) exports.push(raw.replace(/\s+#\s.*$/, '').trim())
      if (MDREC_LINE.test(raw)) line = raw
    } else if (inReference && /^EXAMPLES$/.test(raw)) {
      inExamples = true
    } else if (inExamples) {
      // oclif prints `$ mdrec …`, and an example that starts with assignments as written
      const m = /^\s+(?:\$\s+)?(\S.*)$/.exec(raw)
      if (m && MDREC_LINE.test(m[1])) line = m[1]
    }
    if (line) {
      const comment = /\s+#\s(.*)$/.exec(line)?.[1]
      out.push({where: `${file}:${i + 1}`, line: line.replace(/\s+#\s.*$/, '').trim(), exports: [...exports], promise: comment ? promiseOf(comment) : undefined})
    }
  })
  return out
}

/** The mdrec command of a line (`record`, `cat`, …). */
const commandOf = (line: string) => line.replace(/^(?:[A-Z_]+=\S+\s+)*mdrec\s+/, '').split(/\s+/)[0]

const all = ['README.md', ...globSync('docs/**/*.md', {cwd: ROOT}).sort()].flatMap(examplesOf)
/** Each distinct example once (the same line in README and docs runs once), help and autocomplete aside. */
const examples = ((): Example[] => {
  const byText = new Map<string, Example>()
  for (const e of all.filter((x) => !NOT_RUN.includes(commandOf(x.line)))) {
    const key = `${e.exports.join('\n')}\n${e.line}`
    const seen = byText.get(key)
    if (!seen) byText.set(key, e)
    else seen.promise ??= e.promise // what either place's comment promises is checked
  }
  return [...byText.values()]
})()
const ofCommand = (...cmds: string[]) => examples.filter((e) => cmds.includes(commandOf(e.line)))

let base: string
let seed: string
let env: Record<string, string | undefined>

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'mdrec-readme-'))
  const bin = join(base, '.bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'mdrec'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`)
  chmodSync(join(bin, 'mdrec'), 0o755)
  env = {...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`}
  seed = join(base, 'seed')
  mkdirSync(seed)
  await makeExampleFiles(seed, join(ROOT, 'fixtures'), async (args) => {
    const r = await runCli(['slice', ...args], {cwd: seed})
    if (r.code !== 0) throw new Error(`mdrec slice ${args.join(' ')}: ${r.stderr}`)
  })
}, 120_000)

afterAll(() => rmSync(base, {recursive: true, force: true}))

/** A fresh working directory: `fixtures/` and a copy of the files the examples name. */
function workdir(): string {
  const dir = mkdtempSync(join(base, 'ex-'))
  cpSync(seed, dir, {recursive: true})
  symlinkSync(join(ROOT, 'fixtures'), join(dir, 'fixtures'))
  return dir
}
const SEEDED = () => new Set(readdirSync(seed))

/** The script sh runs for an example: its block's exports, then the line, with the absolute /data/md in `dir`. */
const script = (ex: Example, dir: string, line = ex.line) => [...ex.exports, line.replaceAll('/data/md', `${dir}/data/md`)].join('\n')

/** Run an example with sh in `dir`, bounded in time. */
const sh = (text: string, dir: string, extra: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> =>
  runProcess('/bin/sh', ['-c', text], {cwd: dir, env: {...env, ...extra}, timeoutMs})

/** A long-running example in its own process group (SIGINT reaches sh and mdrec alike), bounded in time. */
function shInBackground(text: string, dir: string, extra: Record<string, string> = {}, killMs = 60_000) {
  const child = spawn('/bin/sh', ['-c', text], {cwd: dir, env: {...env, ...extra}, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const signal = (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, s)
  }
  /** Ctrl-C for what the example started (sh's children; sh itself then exits with their status). */
  const interrupt = () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    for (const pid of startedBy(child.pid!)) process.kill(pid, 'SIGINT')
  }
  const killer = setTimeout(() => signal('SIGKILL'), killMs)
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer)
      resolve(code)
    }),
  )
  return {child, exited, signal, interrupt, stdout: () => stdout, stderr: () => stderr}
}

/** The processes `sh -c` runs: its children, or itself once it has exec'd the command (Linux /proc). */
function startedBy(pid: number): number[] {
  const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  if (!['sh', 'dash', 'bash'].includes(comm)) return [pid]
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms: number, stepMs = 200): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`no ${what} within ${ms / 1000} s`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

interface Info {
  path: string
  feed: string
  rows: number
  rowsByKind: Record<string, number>
}
/** `mdrec info --json` of recordings in `dir`, read in this process (for polling a live recording without starting a process each time). */
const infoHere = (dir: string, files: string[]): Promise<Info[]> => Promise.all(files.map(async (f) => recordingInfo(await openRecording(join(dir, f)))))
/** Rows that are data: not gap rows, nor status rows (acks, errors), except in an Upbit private recording, whose messages are `status` rows (docs/feeds/upbit.md). */
const dataRows = (i: Info, upbitPrivate = false) => i.rows - (upbitPrivate ? 0 : (i.rowsByKind.status ?? 0)) - (i.rowsByKind.gap ?? 0)

/** The recordings a run left in `dir`: not among the files that were there `before`. */
const newRecordings = (dir: string, before: Set<string>) => listFiles(dir).filter((f) => f.endsWith('.arrow') && !before.has(f) && !f.startsWith('fixtures/'))

/** A row as each format prints it: its receive time. */
const ROW = /\b20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/

/** The replay's URL: the first line it prints. */
async function replayUrl(r: ReturnType<typeof shInBackground>): Promise<string> {
  await until('replay URL', () => /^ws:\/\/\S+\n/.test(r.stdout()) || r.child.exitCode !== null, 30_000)
  const m = /^(ws:\/\/\S+)\n/.exec(r.stdout())
  if (!m) throw new Error(`replay exited before printing its URL: ${r.stderr()}`)
  return m[1]
}

describe("README's and docs' examples", () => {
  it('are all found and each is run below', () => {
    const readme = all.filter((e) => e.where.startsWith('README.md'))
    expect(readme.filter((e) => commandOf(e.line) === 'record').length, 'README shows record').toBeGreaterThanOrEqual(10)
    expect(readme.filter((e) => commandOf(e.line) === 'export').length, 'README shows export').toBeGreaterThanOrEqual(4)
    expect(all.filter((e) => e.where.startsWith('docs/')).length, 'docs show examples').toBeGreaterThanOrEqual(20)
    // the comments that name what an example writes or prints: two recordings, a dataset file, three replay URLs
    expect(examples.filter((e) => e.promise).map((e) => commandOf(e.line)).sort()).toEqual(['export', 'record', 'record', 'replay', 'replay', 'replay'])
    const kinds = new Set(examples.map((e) => commandOf(e.line)))
    expect([...kinds].sort()).toEqual(['cat', 'export', 'info', 'record', 'replay', 'slice', 'verify'])
  })

  for (const ex of ofCommand('info', 'cat', 'slice', 'verify', 'export')) {
    it(`${ex.line}  (${ex.where})`, async () => {
      const dir = workdir()
      const cmd = commandOf(ex.line)
      if (/\s--follow\b/.test(ex.line)) {
        // a live recording: a recorder writes it (from a replay of the Yahoo fixture) while the example follows it
        const file = ex.line.split(/\s+/).find((w) => w.endsWith('.arrow'))!
        rmSync(join(dir, file))
        const replay = shInBackground('exec mdrec replay fixtures/yahoo-us-equities.arrow --port 0 --loop --speed 10x', dir)
        let recorder: ReturnType<typeof shInBackground> | undefined
        let r: ReturnType<typeof shInBackground> | undefined
        try {
          const url = await replayUrl(replay)
          recorder = shInBackground(`exec mdrec record AAPL MSFT NVDA --out ${file}`, dir, {MDREC_YAHOO_URL: url})
          await until(`${file}`, () => existsSync(join(dir, file)), 30_000)
          const follow = (r = shInBackground(script(ex, dir), dir))
          // it keeps printing the rows the recorder appends, until Ctrl-C
          await until('rows', () => follow.stdout().split('\n').filter((l) => ROW.test(l)).length >= 20 || follow.child.exitCode !== null, 40_000)
          expect(follow.child.exitCode, follow.stderr()).toBe(null)
          follow.interrupt()
          expect(await follow.exited, follow.stderr()).toBe(0)
        } finally {
          r?.signal('SIGKILL')
          recorder?.interrupt()
          replay.interrupt()
          await recorder?.exited
          await replay.exited
        }
        return
      }
      const r = await sh(script(ex, dir), dir)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).not.toMatch(/no rows|Error/)
      const redirect = /\s>\s*(\S+)\s*$/.exec(ex.line)?.[1]
      const out = redirect ? readFileSync(join(dir, redirect), 'utf8') : r.stdout
      if (cmd === 'cat') expect(out, out.slice(0, 500)).toMatch(ROW)
      if (cmd === 'info' && /--json/.test(ex.line)) {
        const infos = JSON.parse(out) as Info[]
        expect(infos.length).toBeGreaterThan(0)
        for (const i of infos) expect(i.rows, i.path).toBeGreaterThan(0)
      } else if (cmd === 'info') expect(out).toMatch(/^ {2}rows {10}[1-9]\d*/m)
      if (cmd === 'verify' && /--repair/.test(ex.line)) expect(out).toMatch(/[1-9]\d* rows?/)
      else if (cmd === 'verify') expect(out).toMatch(/: ok: [1-9]\d* rows?/)
      if (cmd === 'slice') {
        const o = /\s-o\s+(\S+)/.exec(ex.line)![1]
        expect(out).toMatch(/^wrote [1-9]\d* rows?/)
        expect((await infoHere(dir, [o]))[0].rows).toBeGreaterThan(0)
      }
      if (cmd === 'export') await checkExport(ex, dir)
      if (ex.promise) expect(listFiles(dir), `${ex.promise}`).toContainEqual(expect.stringMatching(ex.promise))
    }, 90_000)
  }

})

// Replays and recorders spend most of their time waiting for frames: a few at a time (vitest's maxConcurrency, 5), each with its own replay, Redis and directory
describe.concurrent("README's and docs' replay examples", () => {
  for (const ex of ofCommand('replay')) {
    it(`${ex.line}  (${ex.where}; on port 0): serves a client the recorded frames`, async (ctx) => {
      const dir = workdir()
      const file = ex.line.split(/\s+/).find((w) => w.endsWith('.arrow'))!
      const [info] = await infoHere(dir, [file])
      // An example that publishes to Redis gets a real redis-server of its own, on a free port
      let line = ex.line
      let redis: RedisProcess | undefined
      if (/redis:\/\/127\.0\.0\.1:6379\b/.test(line)) {
        const skip = redisSkipReason()
        if (skip) return ctx.skip(skip)
        redis = await startRedis()
        line = line.replace('127.0.0.1:6379', `127.0.0.1:${redis.port}`)
      }
      // tests listen only on port 0: a fixed --port N in an example becomes --port 0
      line = /--port\b/.test(line) ? line.replace(/--port\s+\d+/, '--port 0') : `${line} --port 0`
      const r = shInBackground(script(ex, dir, line), dir)
      try {
        const url = await replayUrl(r)
        if (ex.promise) expect(url).toMatch(ex.promise)
        if (file === 'upbit-private.arrow') {
          // the private endpoint: what serves it is the recorder of the private types (a signed upgrade)
          const rec = await runCli(['record', '*', '--feed', 'upbit', '--types', 'myOrder,myAsset', '--url', url, '--duration', '3s', '--out', 'back.arrow'], {
            cwd: dir,
            env: {UPBIT_ACCESS_KEY: 'readme-access-key', UPBIT_SECRET_KEY: 'readme-secret-key'},
          })
          expect(rec.code, rec.stderr).toBe(0)
          expect(dataRows((await infoHere(dir, ['back.arrow']))[0], true)).toBeGreaterThan(0)
          return
        }
        const c = CASES.find((x) => x.feed === info.feed)!
        expect(c, `a client for the ${info.feed} feed in replay-clients.ts`).toBeDefined()
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
        r.interrupt()
        const code = await r.exited
        await redis?.stop() // before the check: a failed check leaves no redis-server behind
        expect(code, r.stderr()).toBe(0)
      }
    }, 90_000)
  }

})

describe.concurrent("README's and docs' record examples", () => {
  for (const ex of ofCommand('record')) {
    const noData = NO_DATA.find(([re]) => re.test(ex.line))?.[1]
    it(`${ex.line}  (${ex.where}; from a local replay)${noData ? ': subscribes and closes a readable file' : ': records rows'}`, async (ctx) => {
      const dir = workdir()
      // an --out the examples also read (upbit-private.arrow) is this example's to write: `record` never overwrites
      const out = /\s(?:-o|--out)\s+(\S+)/.exec(ex.line)?.[1]
      if (out && SEEDED().has(out)) rmSync(join(dir, out))
      const before = new Set(listFiles(dir))
      const feed = /--feed\s+(\w+)/.exec(ex.line)?.[1] ?? 'yahoo'
      const isPrivate = feed === 'upbit' && /myOrder|myAsset/.test(ex.line)
      const source = isPrivate ? join(seed, 'upbit-private.arrow') : `fixtures/${FIXTURE[feed]}.arrow`
      let line = ex.line
      let redis: RedisProcess | undefined
      const publish: string[] = []
      if (/redis:\/\/127\.0\.0\.1:6379\b/.test(line)) {
        const skip = redisSkipReason()
        if (skip) return ctx.skip(skip)
        redis = await startRedis()
        line = line.replace('127.0.0.1:6379', `127.0.0.1:${redis.port}`)
        publish.push('--publish', `redis://127.0.0.1:${redis.port}/md`)
      }
      const replay = shInBackground(['exec mdrec replay', source, '--port 0 --loop --speed 10x', ...publish].join(' '), dir, {}, 90_000)
      let rec: ReturnType<typeof shInBackground> | undefined
      try {
        const url = await replayUrl(replay)
        // the example's own ws://127.0.0.1:NNNN is the local replay; otherwise the feed's URL variable points at it
        line = line.replace(/ws:\/\/127\.0\.0\.1:\d+/, `ws://127.0.0.1:${new URL(url).port}`)
        rec = shInBackground(script(ex, dir, line), dir, {[getFeed(feed).urlEnv]: url})
        const r = rec
        if (noData) {
          // nothing of its kind in the fixture: it connects, subscribes and is stopped
          await until('connection', () => /connection: connected/.test(r.stderr()) || r.child.exitCode !== null, 30_000)
          await new Promise((w) => setTimeout(w, 2000))
        } else {
          await until(
            'recorded rows',
            async () => {
              if (r.child.exitCode !== null) return true
              const files = newRecordings(dir, before).filter((f) => !f.includes('mdrec-partial'))
              return files.length > 0 && (await infoHere(dir, files).catch(() => [])).some((i) => dataRows(i, isPrivate) > 0)
            },
            40_000,
            1000,
          )
        }
        expect(r.child.exitCode, `${r.stdout()}${r.stderr()}`).toBe(null)
        r.interrupt()
        expect(await r.exited, r.stderr()).toBe(0)
        const files = newRecordings(dir, before)
        expect(files.length, r.stderr()).toBeGreaterThan(0)
        if (ex.promise) expect(files).toContainEqual(expect.stringMatching(ex.promise))
        const infos = await infoHere(dir, files)
        for (const i of infos) expect(i.feed).toBe(feed)
        const rows = infos.reduce((n, i) => n + dataRows(i, isPrivate), 0)
        if (noData) expect(rows, noData).toBe(0)
        else expect(rows).toBeGreaterThan(0)
        if (/H0STCNI0/.test(ex.line)) expect(infos[0].rowsByKind.status, "the registration's ack").toBeGreaterThan(0)
        if (/--json/.test(ex.line)) expect(JSON.parse(r.stdout()).rows).toBe(infos.reduce((n, i) => n + i.rows, 0))
        const dataset = /--dataset\s+(\S+)/.exec(ex.line)?.[1].replaceAll('/data/md', `${dir}/data/md`)
        if (dataset) {
          const parquet = listFiles(dataset).filter((f) => f.endsWith('.parquet'))
          expect(parquet.length, r.stdout()).toBeGreaterThan(0)
          for (const p of parquet) expect(p).toMatch(new RegExp(`^feed=${feed}/date=\\d{4}-\\d\\d-\\d\\d/`))
          const [{n}] = await duckdb(`SELECT count(*)::INTEGER AS n FROM read_parquet('${dataset}/**/*.parquet', union_by_name = true)`)
          expect(n).toBe(infos.reduce((s, i) => s + i.rows, 0))
        }
      } finally {
        rec?.signal('SIGKILL')
        replay.interrupt()
        await replay.exited
        await redis?.stop()
      }
    }, 120_000)
  }
})

/** The bundled fixture each feed's record examples are run against. */
const FIXTURE: Record<string, string> = {yahoo: 'yahoo-us-equities', upbit: 'upbit-krw', kis: 'kis-krx', generic: 'generic-channels', binance: 'binance-spot'}
/** Record examples whose kind of data no bundled fixture holds: run, but checked only to subscribe and close a readable file. */
const NO_DATA: Array<[RegExp, string]> = [
  [/--types candle\./, 'fixtures/upbit-krw.arrow holds no candles (ticker, trade and orderbook only)'],
  [/--types H0STCNI0/, "fixtures/kis-krx.arrow holds no account notices (H0STCNT0 and H0STASP0 only): the emulator acks the registration"],
]

/** `mdrec export INPUTS --out DIR …`: Parquet files under DIR/feed=…/date=…/ (and symbol=… with --partition-symbol) holding every row of the inputs. */
async function checkExport(ex: Example, dir: string): Promise<void> {
  const m = /^mdrec export (.+?) (?:--out|-o) (\S+)/.exec(ex.line)!
  const out = m[2] === '/data/md' ? join(dir, 'data/md') : join(dir, m[2])
  expect(existsSync(out), out).toBe(true)
  const parquet = listFiles(out).filter((f) => f.endsWith('.parquet'))
  expect(parquet.length).toBeGreaterThan(0)
  const layout = /--partition-symbol/.test(ex.line) ? /^feed=\w+\/date=\d{4}-\d\d-\d\d\/symbol=[^/]+\/[^/]+\.parquet$/ : /^feed=\w+\/date=\d{4}-\d\d-\d\d\/[^/]+\.parquet$/
  for (const p of parquet) expect(p).toMatch(layout)
  // as many rows as `mdrec info` counts in the inputs (named as the example names them)
  const info = await sh(`mdrec info ${m[1]} --json`, dir)
  expect(info.code, info.stderr).toBe(0)
  const rows = (JSON.parse(info.stdout) as Info[]).reduce((n, i) => n + i.rows, 0)
  const [{n}] = await duckdb(`SELECT count(*)::INTEGER AS n FROM read_parquet('${out}/**/*.parquet', union_by_name = true)`)
  expect(n).toBe(rows)
}
