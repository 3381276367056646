/**
 * Idle means idle: a replay whose clients can receive nothing uses under 2 %
 * of a core (process.cpuUsage over a window; the test's own client lives in
 * this process too and is counted).
 */
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {replay, type ReplayHandle, type ReplayOptions} from '../src/replay/engine.js'
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
 * Share of one core this process used: the median of three windows of `ms`.
 * process.cpuUsage counts every thread, V8's concurrent garbage collector
 * included, and a background GC cycle now and then costs ~60 ms in one
 * window; a replay that spins is busy in all three.
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
  return shares.sort((a, b) => a - b)[1]
}

async function serve(o: ReplayOptions): Promise<ReplayHandle> {
  const h = await replay(YAHOO, {port: 0, settleMs: 10, ...o})
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
