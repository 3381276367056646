/**
 * The settle rule, for every feed: a client that spreads its subscriptions
 * over several messages a few ms apart gets, run after run, byte for byte the
 * stream of a client that subscribes all at once.
 */
import {afterEach, describe, expect, it} from 'vitest'

import {replay, type ReplayHandle} from '../src/replay/engine.js'
import {CASES, collect} from './replay-clients.js'

const RUNS = 20
/** Spacing of the spread client's messages: a few ms (yfinance, ccxt), and long enough that 8 KIS registrations span more than the old fixed 50 ms wait. */
const GAP_MS = 12
/**
 * The settle window for the 20-run comparison: wider than the default (100 ms) because this
 * machine is shared and loaded (load 10+ on 2 cores), and a client stalled for longer than the
 * window between two of its messages is, by the rule, a late subscriber.
 */
const SETTLE_MS = 300

const open: ReplayHandle[] = []
afterEach(async () => {
  for (const h of open.splice(0)) await h.close()
})

describe('settle rule: spread subscriptions give the same stream as one subscribe', () => {
  for (const c of CASES) {
    it(`${c.feed}: ${RUNS} runs, spread (${GAP_MS} ms apart) = at once, every run`, {timeout: 120_000}, async () => {
      const h = await replay(c.file, {port: 0, speed: 'max', atEnd: 'close', settleMs: SETTLE_MS})
      open.push(h)
      let reference: string[] | null = null
      for (let run = 0; run < RUNS; run++) {
        // one after the other: the clients share this process's event loop with the server, whose
        // 'max' bursts would delay the other client's timers (real clients run in their own process)
        const spread = await collect(h.url, await c.spread(h), GAP_MS, c.isData)
        const atOnce = await collect(h.url, await c.atOnce(h), 0, c.isData)
        reference ??= atOnce
        expect(atOnce.length, `run ${run}: at once`).toBe(reference.length)
        expect(spread.length, `run ${run}: spread`).toBe(reference.length)
        expect(atOnce, `run ${run}: at once`).toEqual(reference)
        expect(spread, `run ${run}: spread`).toEqual(reference)
      }
      expect(reference!.length).toBeGreaterThan(100)
    })
  }

  it('yahoo: NVDA, +TSLA, +AAPL, +MSFT 5 ms apart gives every frame of each symbol', {timeout: 60_000}, async () => {
    const h = await replay(CASES[0].file, {port: 0, speed: 'max', atEnd: 'close'})
    open.push(h)
    const frames = await collect(h.url, await CASES[0].spread(h), 5, () => true)
    expect(frames.length).toBe(989 + 511 + 282 + 156)
  })

  it('a subscription after the start joins at the current position', {timeout: 60_000}, async () => {
    const h = await replay(CASES[0].file, {port: 0, speed: 'max', atEnd: 'close', settleMs: 20})
    open.push(h)
    const all = await collect(h.url, [JSON.stringify({subscribe: ['NVDA', 'MSFT']})], 0, () => true)
    // MSFT 300 ms after NVDA: far past the settle window, so only NVDA's timeline start counts
    const late = await collect(h.url, [JSON.stringify({subscribe: ['NVDA']}), JSON.stringify({subscribe: ['MSFT']})], 300, () => true)
    expect(late.length).toBeLessThanOrEqual(all.length)
    expect(late.length).toBeGreaterThanOrEqual(989)
  })

  it('rejects a bad settle window', async () => {
    await expect(replay(CASES[0].file, {port: 0, settleMs: -1})).rejects.toThrow(/invalid settle/)
  })
})
