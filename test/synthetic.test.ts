import {describe, expect, it} from 'vitest'

import {syntheticSymbols, syntheticYahooTape, type TapeFrame} from '../src/feeds/yahoo/synthetic.js'

function take(opts: Parameters<typeof syntheticYahooTape>[0]): TapeFrame[] {
  return [...syntheticYahooTape(opts)]
}

describe('syntheticYahooTape', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = take({seed: 7, frames: 1000})
    const b = take({seed: 7, frames: 1000})
    const c = take({seed: 8, frames: 1000})
    expect(a).toHaveLength(1000)
    expect(b).toEqual(a)
    expect(c).not.toEqual(a)
    // also the default seed is stable
    expect(take({frames: 50})).toEqual(take({seed: 1, frames: 50}))
  })

  it('a longer tape starts with the shorter one', () => {
    const short = take({seed: 3, frames: 200})
    const long = take({seed: 3, frames: 400})
    expect(long.slice(0, 200)).toEqual(short)
  })

  it('starts at startNs and has strictly increasing recv_ts', () => {
    const start = 1_700_000_000_123_456_789n
    const frames = take({seed: 2, frames: 20_000, startNs: start})
    expect(frames[0].recv_ts).toBe(start)
    let increasing = true
    for (let i = 1; i < frames.length; i++) if (!(frames[i].recv_ts > frames[i - 1].recv_ts)) increasing = false
    expect(increasing).toBe(true)
    const tape = take({frames: 1})
    expect(tape[0].recv_ts).toBe(1763980800000000000n)
  })

  it('time is the receive time in ms minus 0-3 ms of latency', () => {
    const lats = new Set<bigint>()
    for (const {recv_ts, data} of take({seed: 5, frames: 5000})) lats.add(recv_ts / 1_000_000n - data.time!)
    expect([...lats].sort()).toEqual([0n, 1n, 2n, 3n])
  })

  it('produces consistent equity prices, changes and day statistics', () => {
    const universe = syntheticSymbols({seed: 11})
    expect(universe).toHaveLength(50)
    const byId = new Map(universe.map(s => [s.id, s]))
    const lastVol = new Map<string, bigint>()
    // plain checks collected into one list: 20,000 frames x 30 expect() calls would be slow
    const bad: string[] = []
    let i = 0
    const check = (ok: boolean, what: string) => {
      if (!ok) bad.push(`frame ${i}: ${what}`)
    }
    let withStats = 0
    for (const {data} of take({seed: 11, frames: 20_000})) {
      i++
      const sym = byId.get(data.id!)!
      check(sym !== undefined && sym.kind === 'equity', `unknown symbol ${data.id}`)
      const p = data.price!
      // whole cents, float32
      check(Math.fround(Math.round(p * 100) / 100) === p, `price ${p} not whole cents`)
      // constant fields, as real equity messages carry them
      check(data.quote_type === 8 && data.market_hours === 1 && data.price_hint === 2n, 'constant fields')
      check(data.exchange === sym.exchange && ['NMS', 'NYQ'].includes(data.exchange!), `exchange ${data.exchange}`)
      check(
        data.currency === undefined && data.short_name === undefined && data.previous_close === undefined,
        'equity frames carry no currency/short_name/previous_close',
      )
      // change derived from the (fixed) previous close, within float32 precision of the operands
      const change = data.change ?? 0
      const tol = Math.max(p, sym.previous_close) * 2 ** -22
      check(Math.abs(change - Math.fround(p - sym.previous_close)) <= tol, `change ${change} vs ${p} - ${sym.previous_close}`)
      check(Math.round((p - change) * 100) === sym.previous_close_ticks, 'price - change is the previous close')
      if (data.change === undefined) {
        check(data.change_percent === undefined, 'change_percent without change')
      } else {
        check(data.change !== 0, 'explicit zero change')
        const pct = Math.fround((change / sym.previous_close) * 100)
        const pctTol = (tol / sym.previous_close) * 100 + Math.abs(pct) * 2 ** -21
        check(Math.abs(data.change_percent! - pct) <= pctTol, `change_percent ${data.change_percent} vs ${pct}`)
      }
      // day statistics (absent on some updates, then all together)
      const hasStats = data.day_volume !== undefined
      check((data.day_high !== undefined) === hasStats && (data.day_low !== undefined) === hasStats, 'day stats together')
      if (hasStats) {
        withStats++
        check(data.day_high! >= p && p >= data.day_low! && data.day_low! > 0, `day range ${data.day_low}..${data.day_high} vs ${p}`)
        const prev = lastVol.get(data.id!)
        check(prev === undefined || data.day_volume! >= prev, `day_volume decreased for ${data.id}`)
        lastVol.set(data.id!, data.day_volume!)
      }
      // quotes
      if (data.bid !== undefined || data.ask !== undefined) {
        const bidTicks = Math.round((p - data.bid!) * 100)
        const askTicks = Math.round((data.ask! - p) * 100)
        check(bidTicks >= 1 && bidTicks <= 3 && askTicks >= 1 && askTicks <= 3, `spread ${data.bid}/${p}/${data.ask}`)
        check(data.bid_size! > 0n && data.ask_size! > 0n && data.last_size! > 0n, 'sizes')
      } else {
        check(data.bid_size === undefined && data.ask_size === undefined && data.last_size === undefined, 'sizes without quote')
      }
    }
    expect(bad.slice(0, 10)).toEqual([])
    expect(withStats / 20_000).toBeGreaterThan(0.75)
  })

  it('never sets a field to its proto3 default', () => {
    const bad: string[] = []
    for (const {data} of take({seed: 4, frames: 20_000, symbols: 80})) {
      for (const [k, v] of Object.entries(data)) {
        if (v === undefined || v === 0 || v === 0n || v === '') bad.push(`${data.id}.${k}=${String(v)}`)
      }
    }
    expect(bad).toEqual([])
  })

  it('follows a Zipf-like activity distribution', () => {
    const counts = new Map<string, number>()
    for (const {data} of take({seed: 9, frames: 20_000})) counts.set(data.id!, (counts.get(data.id!) ?? 0) + 1)
    const ids = syntheticSymbols({seed: 9}).map(s => s.id)
    const first = counts.get(ids[0]) ?? 0
    const fiftieth = counts.get(ids[49]) ?? 0
    expect(first).toBeGreaterThan(20 * Math.max(1, fiftieth))
    expect(fiftieth).toBeGreaterThan(0)
    expect(first / 20_000).toBeGreaterThan(0.15)
  })

  it('carries bid/ask on about quoteShare of the frames', () => {
    const frames = take({seed: 12, frames: 20_000})
    const share = frames.filter(f => f.data.bid !== undefined).length / frames.length
    expect(share).toBeGreaterThan(0.25)
    expect(share).toBeLessThan(0.35)
    const none = take({seed: 12, frames: 2000, quoteShare: 0})
    expect(none.some(f => f.data.ask !== undefined)).toBe(false)
  })

  it('has the requested mean inter-arrival time and is bursty', () => {
    for (const meanGapMs of [4, 0.5]) {
      const frames = take({seed: 13, frames: 50_000, meanGapMs})
      const total = Number(frames[frames.length - 1].recv_ts - frames[0].recv_ts) / 1e6
      const mean = total / (frames.length - 1)
      expect(Math.abs(mean - meanGapMs) / meanGapMs).toBeLessThan(0.1)
      // burstiness: more short gaps than a plain exponential would give
      let short = 0
      for (let i = 1; i < frames.length; i++) {
        if (Number(frames[i].recv_ts - frames[i - 1].recv_ts) / 1e6 < meanGapMs * 0.25) short++
      }
      expect(short / (frames.length - 1)).toBeGreaterThan(1 - Math.exp(-0.25) + 0.05)
    }
  })

  it('supports explicit symbol lists including crypto', () => {
    const frames = take({seed: 1, frames: 5000, symbols: ['AAPL', 'BTC-USD', 'ZZZZ']})
    const ids = new Set(frames.map(f => f.data.id))
    expect(ids).toEqual(new Set(['AAPL', 'BTC-USD', 'ZZZZ']))
    const btc = frames.find(f => f.data.id === 'BTC-USD')!.data
    expect(btc.quote_type).toBe(41)
    expect(btc.exchange).toBe('CCC')
    expect(btc.currency).toBe('USD')
    expect(btc.from_currency).toBe('BTC')
    expect(btc.time! % 1000n).toBe(0n)
    expect(btc.vol_24hr).toBe(btc.day_volume)
    expect(btc.price!).toBeGreaterThan(50_000)
    expect(frames.find(f => f.data.id === 'AAPL')!.data.exchange).toBe('NMS')
  })

  it('generates more symbols than its ticker list on request', () => {
    const universe = syntheticSymbols({symbols: 120})
    expect(new Set(universe.map(s => s.id)).size).toBe(120)
    expect(universe.some(s => s.id === 'BTC-USD')).toBe(true)
    for (const s of universe) expect(s.id).toMatch(/^[A-Z]{1,5}(-USD)?$/)
  })

  it('rejects bad options', () => {
    expect(() => take({frames: -1})).toThrow(RangeError)
    expect(() => take({frames: 1, symbols: 0})).toThrow(RangeError)
    expect(() => take({frames: 1, meanGapMs: 0})).toThrow(RangeError)
    expect(() => take({frames: 1, quoteShare: 2})).toThrow(RangeError)
  })
})
