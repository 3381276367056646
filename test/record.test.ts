import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {rowToPricing, yahooCodec} from '../src/feeds/yahoo/adapter.js'
import {encodeFrame} from '../src/feeds/yahoo/codec.js'
import {YahooServer} from '../src/feeds/yahoo/server.js'
import type {PricingData} from '../src/feeds/yahoo/types.js'
import type {RowView} from '../src/feeds/types.js'
import {defaultOutPath, Recorder} from '../src/record/recorder.js'
import {openRecording} from '../src/store/reader.js'
import {closedPort} from './helpers/ports.js'
import {runCli, startCli, type Running} from './helpers/cli.js'
import {expectPolarsAgrees} from './helpers/polars.js'
import {TestFeed, sleep} from './helpers/feed.js'
import {rowsOf} from './helpers/recording.js'

const SYMS = ['NVDA', 'TSLA', 'AAPL', 'AMD']
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mdrec-rec-'))
}

const startRecorder = (args: string[]): Running => startCli(['record', ...args], cleanups, {}, 90_000)

/** The PricingData a tick row holds, comparable with what the feed sent. */
function tickData(rows: RowView[]): PricingData[] {
  return rows.filter((r) => r.kind === 'tick').map((r) => strip(rowToPricing(r)))
}

function strip(d: PricingData): PricingData {
  return Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined && v !== null)) as PricingData
}

describe('mdrec record against a local Yahoo feed', () => {
  it('records every field of every frame sent, keeps non-canonical payloads raw and malformed ones as rejects', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const dir = tmp()
    const out = join(dir, 'rec.arrow')
    const rec = startRecorder([...SYMS, '--url', feed.server.url(2), '--out', out, '--duration', '4s', '--flush-interval', '200ms', '--json'])
    await feed.waitForSubscribe()
    for (let i = 0; i < 500; i++) feed.publishNext()
    // a valid but non-canonical v2 frame (spaces in the envelope), and a malformed one
    const odd = encodeFrame(feed.sent[0], 'v2').replace('{"type":"pricing",', '{"type": "pricing", ')
    feed.sendRaw(odd)
    feed.sendRaw('{"type":"pricing","message":"!!!not base64!!!"}')
    for (let i = 0; i < 500; i++) feed.publishNext()
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout) // --json: one object on stdout and nothing else
    expect(summary).toMatchObject({rows: 1002, rejects: 1, gaps: 0, reconnects: 0, files: [out]})

    const rows = await rowsOf(out)
    expect(rows.map((x) => x.seq)).toEqual(rows.map((_, i) => BigInt(i)))
    const ticks = rows.filter((x) => x.kind === 'tick')
    const want = [...feed.sent.slice(0, 500), feed.sent[0], ...feed.sent.slice(500)].map(strip)
    expect(tickData(rows)).toEqual(want)
    // canonical frames carry no raw payload; the odd one keeps its bytes exactly
    expect(ticks.filter((x) => x.raw !== null)).toHaveLength(1)
    const oddRow = ticks[500]
    expect(Buffer.from(oddRow.raw!).toString()).toBe(odd)
    expect(yahooCodec('v2').encode(oddRow).data).toBe(odd)
    expect(yahooCodec('v2').encode(ticks[0]).data).toBe(encodeFrame(feed.sent[0], 'v2'))
    const reject = rows.find((x) => x.kind === 'reject')!
    expect(Buffer.from(reject.raw!).toString()).toBe('{"type":"pricing","message":"!!!not base64!!!"}')
    expect(JSON.parse(reject.info!).code).toBe('BAD_BASE64')
    // receive times increase and are close to now
    for (let i = 1; i < rows.length; i++) expect(rows[i].recv_ts >= rows[i - 1].recv_ts).toBe(true)
    expect(Math.abs(Number(rows[0].recv_ts / 1_000_000n) - Date.now())).toBeLessThan(60_000)
    const info = await openRecording(out)
    expect(info.meta).toMatchObject({feed: 'yahoo', endpoint: feed.server.url(2), subscriptions: SYMS, rawMode: 'auto'})
    expect(info.meta.endTime).toBeDefined()
    expect(await expectPolarsAgrees(out)).toBe(1002)
  })

  it('records the v1 envelope when the URL has no version=2', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const out = join(tmp(), 'v1.arrow')
    const rec = startRecorder([...SYMS, '--url', feed.server.url(1), '--out', out, '--duration', '2s', '--quiet'])
    await feed.waitForSubscribe()
    for (let i = 0; i < 200; i++) feed.publishNext()
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    const rows = await rowsOf(out)
    expect(tickData(rows)).toEqual(feed.sent.map(strip))
    expect(rows.every((x) => x.raw === null)).toBe(true)
    expect((await openRecording(out)).meta.feedOptions).toEqual({envelope: 'v1'})
  })

  it('survives SIGKILL: verify --repair recovers every row flushed before the kill', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const dir = tmp()
    const out = join(dir, 'killed.arrow')
    const rec = startRecorder([...SYMS, '--url', feed.server.url(2), '--out', out, '--flush-interval', '200ms', '--quiet'])
    await feed.waitForSubscribe()
    const sentAt: number[] = []
    const t0 = Date.now()
    while (Date.now() - t0 < 2000) {
      feed.publishNext()
      sentAt.push(Date.now())
      await sleep(2)
    }
    await feed.drained()
    const killAt = Date.now()
    rec.child.kill('SIGKILL')
    await rec.out
    const verify = await runCli(['verify', out, '--json'])
    const v = JSON.parse(verify.stdout)
    expect(v.complete).toBe(false) // no end-of-stream marker: it was killed
    const fixed = join(dir, 'fixed.arrow')
    const rep = await runCli(['verify', out, '--repair', '--out', fixed])
    expect(rep.code, rep.stderr).toBe(0)
    const rows = await rowsOf(fixed)
    // exactly a prefix of what was sent, in order, nothing invented
    expect(tickData(rows)).toEqual(feed.sent.slice(0, rows.length).map(strip))
    // at most one flush interval (200 ms) lost; allow 600 ms for delivery on a busy machine
    const mustHave = sentAt.filter((t) => t < killAt - 800).length
    expect(rows.length).toBeGreaterThanOrEqual(mustHave)
    expect(rows.length).toBeGreaterThan(100)
  })

  it('reconnects through 5 drops and a refusal, writing a gap row for each, losing and duplicating nothing', async () => {
    let feed = await TestFeed.start(SYMS)
    const port = feed.server.port
    cleanups.push(() => feed.server.close())
    const out = join(tmp(), 'drops.arrow')
    const rec = startRecorder([
      ...SYMS,
      '--url',
      `ws://127.0.0.1:${port}/?version=2`,
      '--out',
      out,
      '--flush-interval',
      '200ms',
      '--reconnect-min',
      '50ms',
      '--reconnect-max',
      '400ms',
      '--json',
    ])
    const sent: PricingData[] = []
    for (let drop = 0; drop < 5; drop++) {
      await feed.waitForSubscribe()
      for (let i = 0; i < 100; i++) feed.publishNext()
      await feed.drained()
      await sleep(150) // let the recorder read what the kernel holds
      if (drop === 2) {
        // refuse connections for a while: nobody listens on the port
        sent.push(...feed.sent)
        await feed.server.close()
        await sleep(1500)
        feed = new TestFeed(await YahooServer.listen({port}), SYMS, 100 + drop)
        cleanups.push(() => feed.server.close())
        continue
      }
      if (drop % 2 === 0) feed.server.terminateClients() // abrupt: no close frame
      else feed.server.closeClients(1001, 'going away')
    }
    await feed.waitForSubscribe()
    for (let i = 0; i < 100; i++) feed.publishNext()
    await feed.drained()
    await sleep(300)
    sent.push(...feed.sent)
    rec.child.kill('SIGINT')
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.reconnects).toBe(5)
    expect(summary.gaps).toBe(5)
    expect(summary.failedAttempts).toBeGreaterThan(0) // the refusal
    expect(summary.lastError).toMatch(/closed by the feed|cannot connect/)
    const rows = await rowsOf(out)
    expect(tickData(rows)).toEqual(sent.map(strip))
    const gaps = rows.filter((x) => x.kind === 'gap').map((x) => JSON.parse(x.info!))
    expect(gaps).toHaveLength(5)
    for (const g of gaps) {
      expect(Date.parse(g.end)).toBeGreaterThanOrEqual(Date.parse(g.start))
      expect(g.reason).toMatch(/closed by the feed|cannot connect/)
    }
    // the refusal gap lasted at least the 1.5 s nobody listened
    expect(Math.max(...gaps.map((g) => g.duration_ms))).toBeGreaterThan(1400)
    // gap rows sit in time order among the ticks
    for (let i = 1; i < rows.length; i++) expect(rows[i].recv_ts >= rows[i - 1].recv_ts).toBe(true)
  })

  it('offline (nothing listens): one gap row covering the whole run, attempts counted, the reason shown, exit 1, file kept', async () => {
    const port = await closedPort()
    const out = join(tmp(), 'offline.arrow')
    const t0 = Date.now()
    const rec = startRecorder(['AAPL', '--url', `ws://127.0.0.1:${port}/?version=2`, '--out', out, '--duration', '1500ms', '--reconnect-min', '50ms', '--reconnect-max', '200ms'])
    const r = await rec.out
    const t1 = Date.now()
    expect(r.code, r.stderr).toBe(1)
    // the reason, once (repeats of the same failure are counted, not printed)
    expect(r.stderr.match(/^connection: cannot connect: ECONNREFUSED 127\.0\.0\.1:\d+; retrying in \d+ ms$/gm)).toHaveLength(1)
    const err = new RegExp(`^Error: never connected to ws://127\\.0\\.0\\.1:${port}/\\?version=2 \\((\\d+) failed attempts; last: cannot connect: ECONNREFUSED 127\\.0\\.0\\.1:${port}\\); the recording ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds a gap row covering the outage \\([\\d.]+s\\)$`, 'm')
    expect(r.stderr).toMatch(err)
    const attempts = Number(err.exec(r.stderr)![1])
    expect(attempts).toBeGreaterThanOrEqual(3)
    expect(r.stdout).toMatch(new RegExp(`^  reconnects  0 \\(${attempts} failed attempts\\), gaps 1, rejects 0$`, 'm'))
    expect(r.stdout).toMatch(/^recorded no data in [\d.]+s: the file holds one gap row covering the outage$/m)
    // info: no per-row or compression figures for a file of a gap row alone
    const info = await runCli(['info', out])
    expect(info.stdout).toMatch(/^ {2}size {10}[\d.]+ KiB on disk in 1 batch, 0 rows keep raw payloads$/m)
    expect(JSON.parse((await runCli(['info', out, '--json'])).stdout)[0].compressionRatio).toBeNull()
    // the file is kept, complete, and its one row is the outage: from the start to the stop
    const v = JSON.parse((await runCli(['verify', out, '--json'])).stdout)
    expect(v.ok).toBe(true)
    const rows = await rowsOf(out)
    expect(rows.map((x) => x.kind)).toEqual(['gap'])
    const g = JSON.parse(rows[0].info!)
    expect(g).toMatchObject({reason: `before the first connection: cannot connect: ECONNREFUSED 127.0.0.1:${port}`, attempts, until_stop: true})
    expect(g.duration_ms).toBeGreaterThanOrEqual(1450)
    expect(Date.parse(g.start)).toBeGreaterThanOrEqual(t0 - 1000)
    expect(Date.parse(g.end)).toBeLessThanOrEqual(t1 + 3) // ms anchor; see the lost-feed test
    expect(rows[0].recv_ts).toBe(BigInt(Date.parse(g.start)) * 1_000_000n + BigInt(g.start.slice(23, 29)))
  })

  it('offline with --json: the error object names the outage; the file is kept', async () => {
    const port = await closedPort()
    const out = join(tmp(), 'offline-json.arrow')
    const r = await startRecorder(['AAPL', '--url', `ws://127.0.0.1:${port}/`, '--out', out, '--duration', '500ms', '--reconnect-min', '50ms', '--json']).out
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout).error).toMatchObject({code: 'E_FEED', exitCode: 1, message: expect.stringMatching(/^never connected to .*ECONNREFUSED.*holds a gap row covering the outage/)})
    expect((await rowsOf(out)).map((x) => x.kind)).toEqual(['gap'])
  })

  it('connects, loses the feed, and is stopped while disconnected: the last row is a gap up to the stop', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const out = join(tmp(), 'lost.arrow')
    const rec = startRecorder([...SYMS, '--url', feed.server.url(2), '--out', out, '--reconnect-min', '50ms', '--reconnect-max', '200ms', '--json'])
    await feed.waitForSubscribe()
    for (let i = 0; i < 100; i++) feed.publishNext()
    await feed.drained()
    await sleep(200)
    const lostAt = Date.now()
    await feed.server.close() // gone: every reconnect is refused
    await sleep(1000)
    const stopAt = Date.now()
    rec.child.kill('SIGINT')
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0) // it did record: not the never-connected failure
    const summary = JSON.parse(r.stdout)
    expect(summary).toMatchObject({rows: 101, gaps: 1, reconnects: 0, connected: true})
    expect(summary.failedAttempts).toBeGreaterThanOrEqual(2)
    const rows = await rowsOf(out)
    expect(tickData(rows)).toEqual(feed.sent.map(strip))
    const last = rows.at(-1)!
    expect(last.kind).toBe('gap')
    const g = JSON.parse(last.info!)
    expect(g.reason).toMatch(/^closed by the feed \(code 10\d\d/)
    expect(g.last_error).toMatch(/^cannot connect: ECONNREFUSED/)
    expect(g.until_stop).toBe(true)
    expect(g.attempts).toBe(summary.failedAttempts)
    expect(Date.parse(g.start)).toBeGreaterThanOrEqual(lostAt - 50)
    // The recorder's clock is Date.now() (whole ms) anchored once, then advanced by the
    // monotonic clock, so it can read up to ~1 ms behind this process's Date.now().
    expect(Date.parse(g.end)).toBeGreaterThanOrEqual(stopAt - 3)
    expect(g.duration_ms).toBeGreaterThan(900)
  })

  it('--duration needs a unit: a bare number could be seconds or minutes, and the help says so', async () => {
    const r = await runCli(['record', 'AAPL', '--duration', '30'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/invalid duration "30": a bare number is ambiguous \(30ms, 30s or 30m\?\), add a unit/)
    const help = await runCli(['record', '--help'])
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/a unit is required, since a bare 30 could mean 30s or 30m/)
  })

  it('stats() counts every row once while recording, while files close and after the stop (50,000 rows, rotated files)', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const dir = tmp()
    const rec = await Recorder.start({symbols: SYMS, url: feed.server.url(2), out: join(dir, 's.arrow'), rotate: {kind: 'size', bytes: 16 * 1024}, flushIntervalMs: 20})
    cleanups.push(() => void rec.stop().catch(() => {}))
    await feed.waitForSubscribe()
    let last = 0
    const t0 = Date.now()
    while (feed.sent.length < 50_000 && Date.now() - t0 < 60_000) {
      for (let i = 0; i < 2000; i++) feed.publishNext()
      await feed.drained()
      // a flush (every 20 ms) between bursts, so the file reaches its size and rotates however fast the machine
      // handles a burst: rotation is checked as rows are appended, against what has been flushed
      await sleep(25)
      const rows = rec.stats().rows
      expect(rows).toBeGreaterThanOrEqual(last) // never counted twice then dropped, nor the other way
      expect(rows).toBeLessThanOrEqual(feed.sent.length)
      last = rows
    }
    for (let i = 0; i < 500 && rec.stats().rows < feed.sent.length; i++) await sleep(10)
    const summary = await rec.stop()
    const after = rec.stats()
    expect(summary.rows).toBe(feed.sent.length)
    expect(after.rows).toBe(summary.rows) // the bar's last frame is drawn from this
    expect(after.bytesWritten).toBe(summary.bytesWritten)
    expect(summary.files.length, JSON.stringify(summary)).toBeGreaterThan(3)
    // `bytes` is the finished files' size (after compaction); `bytesWritten` what was written while recording
    expect(summary.bytes).toBe(summary.files.reduce((n, f) => n + statSync(f).size, 0))
    expect(summary.bytesWritten).toBeGreaterThan(0)
    expect(summary).toMatchObject({connected: true, failedAttempts: 0, lastError: null, gaps: 0})
  })

  it('rotates by size with no row lost or duplicated at the seams', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const dir = tmp()
    const out = join(dir, 'rot.arrow')
    const rec = startRecorder([...SYMS, '--url', feed.server.url(2), '--out', out, '--rotate', '24KiB', '--flush-interval', '100ms', '--json'])
    await feed.waitForSubscribe()
    const t0 = Date.now()
    while (Date.now() - t0 < 2500) {
      for (let i = 0; i < 20; i++) feed.publishNext()
      await sleep(10)
    }
    await feed.drained()
    await sleep(300)
    rec.child.kill('SIGTERM')
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.files.length).toBeGreaterThan(2)
    expect(summary.files[0]).toBe(join(dir, 'rot.000.arrow'))
    const all: RowView[] = []
    for (const f of summary.files) all.push(...(await rowsOf(f)))
    expect(tickData(all)).toEqual(feed.sent.map(strip))
    expect(summary.rows).toBe(feed.sent.length)
  })

  it('rotates by time', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const dir = tmp()
    const rec = startRecorder([...SYMS, '--url', feed.server.url(2), '--out', join(dir, 't.arrow'), '--rotate', '1s', '--duration', '3500ms', '--json'])
    await feed.waitForSubscribe()
    while (rec.child.exitCode === null) {
      feed.publishNext()
      await sleep(5)
      if (feed.sent.length > 5000) break
    }
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.files.map((f: string) => f.slice(dir.length + 1))).toEqual(['t.000.arrow', 't.001.arrow', 't.002.arrow', 't.003.arrow'])
    const all: RowView[] = []
    for (const f of summary.files) all.push(...(await rowsOf(f)))
    const got = tickData(all)
    expect(got).toEqual(feed.sent.slice(0, got.length).map(strip))
    expect(got.length).toBeGreaterThan(feed.sent.length - 20) // only frames in flight at the stop may be missing
  })

  it('a second Ctrl-C exits at once (130), leaving a readable file', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const out = join(tmp(), 'twice.arrow')
    const rec = startRecorder([...SYMS, '--url', feed.server.url(2), '--out', out, '--flush-interval', '100ms'])
    await feed.waitForSubscribe()
    for (let i = 0; i < 30; i++) {
      for (let k = 0; k < 50; k++) feed.publishNext()
      await sleep(10)
    }
    await sleep(300)
    rec.child.kill('SIGINT')
    // apart by more than SIGNAL_REPEAT_MS: closer, the two are one request (GNU timeout sends two at once)
    await sleep(200)
    rec.child.kill('SIGINT')
    const r = await rec.out
    expect([0, 130]).toContain(r.code) // the first may already have finished; usually the second wins
    const v = JSON.parse((await runCli(['verify', out, '--json'])).stdout)
    expect(v.ok).toBe(true)
    expect(v.rowsIntact).toBeGreaterThan(0)
  })

  it('refuses to overwrite, and reports a missing output directory clearly', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const dir = tmp()
    const missing = await runCli(['record', 'AAPL', '--url', feed.server.url(2), '--out', join(dir, 'no/such/dir/x.arrow')])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim()).toMatch(/^Error: .*no\/such\/dir\/x\.arrow: the directory .* does not exist; create it or choose another --out path$/)
    const existing = join(dir, 'exists.arrow')
    await runCli(['slice', '--help']) // warm
    execFileSync('touch', [existing])
    const again = await runCli(['record', 'AAPL', '--url', feed.server.url(2), '--out', existing])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already exists; mdrec never overwrites/)
    expect(statSync(existing).size).toBe(0)
  })
})

// Real file systems for the I/O failures: a read-only and a tiny tmpfs (needs root, as CI runs).
const canMount = (() => {
  if (process.getuid?.() !== 0) return false
  const d = mkdtempSync(join(tmpdir(), 'mdrec-mnt-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], {stdio: 'ignore'})
    execFileSync('umount', [d], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!canMount)('mdrec record on failing file systems (tmpfs mounts; skipped where mount is not permitted)', () => {
  function mountTmpfs(opts: string): string {
    const d = mkdtempSync(join(tmpdir(), 'mdrec-mnt-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', d])
    cleanups.push(() => {
      execFileSync('umount', ['-l', d])
    })
    return d
  }

  it('a read-only output directory: clear error, exit 1', async () => {
    const d = mountTmpfs('ro,size=1m')
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const r = await runCli(['record', 'AAPL', '--url', feed.server.url(2), '--out', join(d, 'x.arrow')])
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toMatch(/^Error: .*x\.arrow: read-only file system \(creating the recording\)$/)
  })

  it('the disk fills: clear error, exit 1, and what was flushed stays readable', async () => {
    const d = mountTmpfs('size=96k')
    mkdirSync(join(d, 'out'))
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const out = join(d, 'out', 'full.arrow')
    const rec = startRecorder([...SYMS, '--url', feed.server.url(2), '--out', out, '--flush-interval', '100ms', '--quiet'])
    await feed.waitForSubscribe()
    const t0 = Date.now()
    while (rec.child.exitCode === null && Date.now() - t0 < 30_000) {
      for (let i = 0; i < 50; i++) feed.publishNext()
      await sleep(5)
    }
    const r = await rec.out
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toMatch(/^Error: .*full\.arrow: no space left on device \(writing the recording\); free space or write elsewhere$/)
    expect(existsSync(out)).toBe(true)
    const v = JSON.parse((await runCli(['verify', out, '--json'])).stdout)
    expect(v.ok).toBe(true)
    expect(v.rowsIntact).toBeGreaterThan(0)
    const rows = await rowsOf(out)
    expect(tickData(rows)).toEqual(feed.sent.slice(0, rows.length).map(strip))
    expect(readdirSync(join(d, 'out'))).toEqual(['full.arrow'])
  })
})

describe('mdrec record: a symbol that sends nothing', () => {
  it('is named on stderr at the end (a misspelt symbol would otherwise record nothing, silently); the others are not', async () => {
    const feed = await TestFeed.start(SYMS)
    cleanups.push(() => feed.server.close())
    const out = join(tmp(), 'silent.arrow')
    const rec = startRecorder(['AAPL', 'NVDA', 'FOOBAR', '--url', feed.server.url(2), '--out', out, '--duration', '3s', '--flush-interval', '100ms'])
    await feed.waitForSubscribe()
    const t0 = Date.now()
    while (rec.child.exitCode === null && Date.now() - t0 < 30_000) {
      for (let i = 0; i < 20; i++) feed.publishNext()
      await sleep(20)
    }
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^note: no rows for FOOBAR in \S+: the feed sent nothing for it; check the spelling, or whether it trades now$/m)
    expect(r.stderr).not.toMatch(/no rows for .*(AAPL|NVDA)/)
  })
})

describe('record() as a library', () => {
  it("a feed's option given beside feedOptions, or an unknown option, is a usage error before anything connects", async () => {
    const err = (o: object) => Recorder.start(o as Parameters<typeof Recorder.start>[0]).then(() => null, (e: unknown) => e as {code?: string; message?: string})
    const misplaced = await err({feed: 'upbit', symbols: ['KRW-BTC'], types: ['trade'], url: 'ws://127.0.0.1:9/'})
    expect(misplaced?.code).toBe('E_USAGE')
    expect(misplaced?.message).toContain('feedOptions: {types: …}')
    const typo = await err({feed: 'yahoo', symbols: ['AAPL'], durationMS: 1000, url: 'ws://127.0.0.1:9/'})
    expect(typo?.code).toBe('E_USAGE')
    expect(typo?.message).toContain('unknown option durationMS')
  })
})

describe('default output name', () => {
  it('names the feed, the symbols and the UTC start; every symbol (*) is "all", and nothing a file name should not hold', () => {
    const t = Date.UTC(2026, 10, 30, 20, 11, 27, 500)
    expect(defaultOutPath('yahoo', ['AAPL', 'MSFT'], t)).toBe('yahoo-AAPL_MSFT-20261130T201127Z.arrow')
    expect(defaultOutPath('upbit', ['*'], t)).toBe('upbit-all-20261130T201127Z.arrow')
    expect(defaultOutPath('generic', ['a/b', 'c d'], t)).toBe('generic-a-b_c-d-20261130T201127Z.arrow')
  })
})

describe('a wildcard symbol where the feed has none', () => {
  it("every feed refuses '*' (and generic a pattern) over a WebSocket with a usage error naming it, instead of recording nothing", async () => {
    const {FEED_NAMES, getFeed} = await import('../src/feeds/registry.js')
    for (const name of FEED_NAMES) {
      for (const symbol of name === 'generic' ? ['*', 'trades.*', 'book?'] : ['*', 'AA*']) {
        const err = await getFeed(name)
          .client({symbols: ['ok', symbol].filter((s) => name === 'generic' || s !== 'ok'), url: 'ws://127.0.0.1:1/', env: {}, log: () => {}} as never)
          .then(
            () => null,
            (e: unknown) => e as {code?: string; message: string},
          )
        expect(err, `${name} ${symbol}`).not.toBeNull()
        expect(err!.code, `${name} ${symbol}`).toBe('E_USAGE')
        expect(err!.message, `${name} ${symbol}`).toContain(`"${symbol}"`)
      }
    }
  })
})
