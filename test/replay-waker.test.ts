/**
 * The replay's waker (src/replay/scheduler.ts): a wait resolves at or after
 * its due time, always in a turn of the event loop (never in the call, so a
 * timeline yields to I/O at every wait), and the last stretch before the due
 * time is spun in one turn rather than left to further turns (which can land
 * past it). Between the timer and that stretch the thread naps rather than
 * turning the event loop round and round (a spin costs CPU, and a loaded
 * machine preempts a spinning process at the due time), with a turn between
 * naps so I/O still runs. Behaviour only: turns counted, never wall-clock
 * bounds.
 */
import {PerformanceObserver, constants} from 'node:perf_hooks'

import {describe, expect, it} from 'vitest'

import {NAP_MAX_NS, SLACK_NS, SPIN_NS, SYNC_SPIN_NS, Waker, nowNs} from '../src/replay/scheduler.js'

/** Counts event-loop turns (a self-renewing setImmediate) until stopped. */
function turnCounter(): {turns: () => number; stop: () => void} {
  let turns = 0
  let stopped = false
  const tick = (): void => {
    if (stopped) return
    turns++
    setImmediate(tick)
  }
  setImmediate(tick)
  return {turns: () => turns, stop: () => (stopped = true)}
}

describe('Waker', () => {
  it('a wait due within the synchronous stretch resolves in the next turn, at or after its due time', async () => {
    const w = new Waker()
    try {
      for (let k = 0; k < 20; k++) {
        const counter = turnCounter()
        const due = nowNs() + SYNC_SPIN_NS * 0.8
        let resolvedInCall = true
        const p = w.wait(due, {})
        resolvedInCall = false
        await p
        const at = nowNs()
        counter.stop()
        expect(resolvedInCall).toBe(false)
        expect(at).toBeGreaterThanOrEqual(due)
        // the turn that found it due within the stretch spun to it (the counter's own tick may come first)
        expect(counter.turns()).toBeLessThanOrEqual(1)
      }
    } finally {
      w.close()
    }
  })

  it('a wait already due resolves in a turn of the event loop, not in the call', async () => {
    const w = new Waker()
    try {
      let turned = false
      setImmediate(() => (turned = true))
      await w.wait(nowNs() - 1000, {})
      expect(turned).toBe(true)
    } finally {
      w.close()
    }
  })

  it('waits due at different times resolve in due order, each at or after its due time', async () => {
    const w = new Waker()
    try {
      const t = nowNs()
      const dues = [5e6, 1e5, 3e6, 2.5e6, 5e4, 0].map((d) => t + d)
      const order: number[] = []
      await Promise.all(
        dues.map((due, k) =>
          w.wait(due, {}).then(() => {
            expect(nowNs()).toBeGreaterThanOrEqual(due)
            order.push(k)
          }),
        ),
      )
      expect(order).toEqual([5, 4, 1, 3, 2, 0])
    } finally {
      w.close()
    }
  })

  it('a wait within the spin window naps: a few turns of the event loop, not one after another up to the due time', async () => {
    const w = new Waker()
    try {
      // due before the timer's reach (SPIN_NS), longer than one nap: napped twice or more, with the
      // event loop turning between naps (I/O still runs), and not spun through turn after turn
      const ahead = Math.min(SPIN_NS, NAP_MAX_NS + (SPIN_NS - NAP_MAX_NS) / 2)
      let turns = 0
      for (let k = 0; k < 20; k++) {
        const counter = turnCounter()
        const due = nowNs() + ahead
        await w.wait(due, {})
        counter.stop()
        expect(nowNs()).toBeGreaterThanOrEqual(due)
        expect(counter.turns()).toBeGreaterThanOrEqual(1)
        turns += counter.turns()
      }
      // a spinning waker turns the loop every few µs: hundreds of turns per wait
      expect(turns / 20).toBeLessThanOrEqual(6)
    } finally {
      w.close()
    }
  })

  it('slack: with nothing waiting it resolves in a later turn (not forced); with a wait due within its slack, only after that wait', async () => {
    const w = new Waker()
    try {
      let turned = false
      setImmediate(() => (turned = true))
      expect(await w.slack(SLACK_NS, 1e9)).toBe(false)
      expect(turned).toBe(true)
      for (let k = 0; k < 10; k++) {
        const order: string[] = []
        const due = nowNs() + SLACK_NS / 2
        const a = w.wait(due, {}).then(() => order.push('row'))
        const b = w.slack(SLACK_NS, 1e9).then((forced) => order.push(forced ? 'forced' : 'work'))
        await Promise.all([a, b])
        expect(order).toEqual(['row', 'work'])
      }
      // a wait further away than the slack leaves room now
      const owner = {}
      const far = w.wait(nowNs() + 50 * SPIN_NS, owner)
      expect(await w.slack(SLACK_NS, 1e9)).toBe(false)
      w.cancel(owner)
      await far
    } finally {
      w.close()
    }
  })

  it('slack: rows due one after another leave none, and it gives up after its longest wait (forced)', async () => {
    const w = new Waker()
    const owner = {}
    let stop = false
    // a wait always due within the slack, renewed as each resolves
    const rows = (async () => {
      while (!stop) await w.wait(nowNs() + SLACK_NS / 4, owner)
    })()
    try {
      const t0 = nowNs()
      expect(await w.slack(SLACK_NS, 20e6)).toBe(true)
      expect(nowNs() - t0).toBeGreaterThanOrEqual(20e6)
    } finally {
      stop = true
      w.close()
      await rows
    }
  })

  it("the waker's clock (read in every spin) makes less garbage than a BigInt per read", async () => {
    let scavenges = 0
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if ((e.detail as {kind?: number} | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++
    })
    obs.observe({entryTypes: ['gc']})
    const count = async (read: () => number): Promise<number> => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      scavenges = 0
      let last = 0
      for (let k = 0; k < 2_000_000; k++) {
        const t = read()
        if (t > last) last = t
      }
      // the observer hears of them in a later turn
      await new Promise((resolve) => setTimeout(resolve, 20))
      return scavenges
    }
    try {
      const origin = process.hrtime.bigint()
      const bigint = await count(() => Number(process.hrtime.bigint() - origin))
      const ours = await count(nowNs)
      expect(bigint).toBeGreaterThan(0)
      expect(ours).toBeLessThanOrEqual(bigint * 0.75)
    } finally {
      obs.disconnect()
    }
  })
})
