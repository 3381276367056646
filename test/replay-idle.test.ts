/**
 * Idle means idle: a replay whose clients can receive nothing uses under 2 %
 * of a core (process.cpuUsage over a window; the test's own client lives in
 * this process too and is counted).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import {replay, type ReplayHandle, type ReplayOptions} from '../src/replay/engine.js'
import {openRecording, readBatches} from '../src/store/reader.js'
import {createYahooWriter} from './helpers/recording.js'
import {fixture} from './replay-clients.js'

const YAHOO = fixture('yahoo-us-equities.arrow')
const WINDOW_MS = 700
const MAX_SHARE = 0.02
/** After the last client leaves, before measuring: a spinning replay stays busy long past it. */
const WIND_DOWN_MS = 1000

const open: Array<{close(): unknown}> = []
afterEach(async () => {
  for (const h of open.splice(0).reverse()) await h.close()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Share of one core this process used: the lowest of three windows of `ms`.
 * process.cpuUsage counts every thread, V8's concurrent garbage collector
 * included, and on this loaded machine a burst of 30-50 ms now and then
 * (GC, the test worker) lands in one window or two of three (seen with the
 * replay itself at 0.03 % in the others); a replay that spins or walks rows
 * is busy in all three.
 */
async function cpuShare(ms: number): Promise<number> {
  const shares: number[] = []
  for (let k = 0; k < 3; k++) {
    const u0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    await sleep(ms)
    const u = process.cpuUsage(u0)
    const wallUs = Number(process.hrtime.bigint() - t0) / 1000
    shares.push((u.user + u.system) / wallUs)
  }
  return Math.min(...shares)
}

async function serve(o: ReplayOptions, file = YAHOO): Promise<ReplayHandle> {
  const h = await replay(file, {port: 0, settleMs: 10, ...o})
  open.push(h)
  return h
}

async function client(h: ReplayHandle, symbols: string[]): Promise<{ws: WebSocket; frames: () => number}> {
  const ws = new WebSocket(h.url)
  let n = 0
  ws.on('message', () => n++)
  await new Promise((r, j) => {
    ws.once('open', r)
    ws.once('error', j)
  })
  ws.send(JSON.stringify({subscribe: symbols}))
  open.push({close: () => ws.terminate()})
  return {ws, frames: () => n}
}

describe('idle replay uses under 2 % of a core', () => {
  it('no client', async () => {
    await serve({speed: 1})
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE)
  })

  it('--loop --speed max, the only client subscribed to a symbol the recording does not hold', async () => {
    const h = await serve({speed: 'max', loop: true})
    const c = await client(h, ['NOPE'])
    await sleep(200)
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE)
    expect(c.frames()).toBe(0)
    // and a subscription change still gets it going
    c.ws.send(JSON.stringify({subscribe: ['NVDA']}))
    for (let i = 0; i < 100 && c.frames() === 0; i++) await sleep(20)
    expect(c.frames()).toBeGreaterThan(0)
  })

  it('1x, the only client subscribed to a symbol the recording does not hold', async () => {
    const h = await serve({speed: 1})
    await client(h, ['NOPE'])
    await sleep(200)
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE)
  })

  it('10x, --loop, shared clock, subscribed to nothing the recording holds: once a play has sent nothing, the loop waits', async () => {
    const h = await serve({speed: 10, loop: true, clock: 'shared'})
    await client(h, ['NOPE'])
    // While its first play runs (6 s at 10x) the timeline still reads and
    // decodes every batch to skip rows nobody can receive (measured 6-12 %
    // here; skipping whole batches would fix it). Once that play has sent
    // nothing, the loop must wait for a subscription change instead of
    // playing again (before the fix: 20 %, for ever).
    for (let i = 0; i < 300 && h.stats().plays === 0; i++) await sleep(50)
    expect(h.stats().plays).toBeGreaterThan(0)
    await sleep(300)
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE)
  }, 30_000)

  it('--speed max --clock shared --loop after its last client has gone', async () => {
    const h = await serve({speed: 'max', loop: true, clock: 'shared'})
    const c = await client(h, ['NVDA'])
    for (let i = 0; i < 100 && c.frames() === 0; i++) await sleep(20)
    expect(c.frames()).toBeGreaterThan(0)
    c.ws.terminate()
    // let it wind down first: the burst in flight ends and the shared batch
    // cache is released (about 30 ms of CPU once, measured), then it is idle
    await sleep(WIND_DOWN_MS)
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE)
  })

  it('1x --clock shared --loop after its last client has gone', async () => {
    const h = await serve({speed: 1, loop: true, clock: 'shared'})
    const c = await client(h, ['NVDA', 'TSLA'])
    await sleep(300)
    c.ws.terminate()
    await sleep(WIND_DOWN_MS)
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE)
  })

  it('end of the recording', async () => {
    const h = await serve({speed: 'max'})
    const c = await client(h, ['NVDA'])
    for (let i = 0; i < 200 && c.frames() < 989; i++) await sleep(20)
    expect(c.frames()).toBe(989)
    // the timeline reads on past NVDA's last row to the end of the file: let it get there
    for (let i = 0; i < 100 && h.stats().plays === 0; i++) await sleep(20)
    expect(h.stats().plays).toBe(1)
    await sleep(200)
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE)
  })
})

/**
 * A busy recording: 300,000 rows at 5,000 frames/s (60 s at 1x, 6 s at 10x)
 * in 6 record batches of 50,000, 50 symbols. A timeline whose client can
 * receive none of them must skip whole batches and sleep, not walk rows.
 */
describe('idle on a busy recording (300k rows, 5k frames/s)', () => {
  let dir = ''
  let busy = ''
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdrec-idle-'))
    busy = join(dir, 'busy.arrow')
    // written straight from the tape generator (no rows kept in memory)
    const w = createYahooWriter(busy, {flushRows: 50_000, fsync: false, compactOnClose: false})
    const symbols = Array.from({length: 50}, (_, k) => `SYM${k}`)
    for (const f of syntheticYahooTape({frames: 300_000, symbols, seed: 9, meanGapMs: 0.2})) {
      const {id, time, ...fields} = f.data
      w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    }
    await w.close()
  }, 60_000)
  afterAll(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('10x, the only client subscribed to a symbol the recording does not hold, while the play runs', async () => {
    // Reading the file itself (zstd and Arrow decoding by the store's reader, ~20 ms of CPU per
    // 50,000-row batch, one batch a second at 10x) is the floor: measured here, in this process,
    // and allowed on top of the 2 %. Before the fix the timeline walked every row: 6-12 % above it.
    // The machine's other load inflates both alike: the reading cost is the larger of a read just before
    // and one just after, with half as much again for the collection of the batches the replay keeps.
    const f = await openRecording(busy)
    const readShare = async () => {
      const u0 = process.cpuUsage()
      for await (const _ of readBatches(f)) void _
      const u = process.cpuUsage(u0)
      return (u.user + u.system) / (60e6 / 10) // µs of reading / µs of a 10x play (60 s recording)
    }
    const before = await readShare()
    const h = await serve({speed: 10}, busy)
    await client(h, ['NOPE'])
    await sleep(300)
    const share = await cpuShare(WINDOW_MS)
    const after = await readShare()
    expect(share).toBeLessThan(MAX_SHARE + 1.5 * Math.max(before, after))
    // the share above was measured while the 6 s play ran
    expect(h.stats().plays).toBe(0)
  }, 30_000)

  it('1x, the only client subscribed to a symbol the recording does not hold', async () => {
    const h = await serve({speed: 1}, busy)
    await client(h, ['NOPE'])
    await sleep(300)
    // A batch lasts 10 s at 1x: the timeline sleeps through it (measured 0.03 %). Walking its rows
    // with a wake-up every 20 ms cost 0.9-4.8 % (median over 2 %-ish windows ~1.3 %): a quarter
    // of the 2 % tells the two apart.
    expect(await cpuShare(WINDOW_MS)).toBeLessThan(MAX_SHARE / 4)
  }, 30_000)

  it('10x --loop, shared clock: a later subscription to a recorded symbol still gets its rows from the current position', async () => {
    const h = await serve({speed: 10, loop: true, clock: 'shared'}, busy)
    const c = await client(h, ['NOPE'])
    await sleep(500)
    expect(c.frames()).toBe(0)
    c.ws.send(JSON.stringify({subscribe: ['SYM7']}))
    for (let i = 0; i < 100 && c.frames() === 0; i++) await sleep(20)
    expect(c.frames()).toBeGreaterThan(0)
  }, 30_000)
})
