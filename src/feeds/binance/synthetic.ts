/**
 * Seeded, deterministic generator of realistic Binance spot market stream
 * traffic, for fixtures, tests and benchmarks.
 *
 * - Each symbol keeps a book of `depth` (20) levels a side on a 0.01 price
 *   grid around its price; prices print with 8 decimals and quantities on a
 *   0.00001 step with 8 decimals, as Binance prints them ("91234.56000000",
 *   "0.01234000").
 * - Arrivals (bursty exponential gaps, mean `meanGapMs`; Zipf-like across
 *   symbols, the first busiest) are trades (40 %: taker buys lift the best
 *   ask, sells hit the best bid, consuming the level) or book changes (a
 *   level added, resized or cancelled). Each book change takes the next
 *   update id; a trade gives a `trade` and an `aggTrade` message, and any
 *   change of the best levels a `bookTicker` (its `u` the update id).
 * - Every 100 ms a symbol whose book changed gets a `depthUpdate` (`U` the
 *   first, `u` the last update id of the interval, the changed levels with
 *   their new quantities, "0.00000000" for a removed one) and a partial book
 *   `depth5@100ms` (`lastUpdateId`, top 5). A symbol's first `depthUpdate`
 *   carries its whole book, so a book built from the diff stream alone is
 *   complete (what the emulator's REST snapshot relies on).
 * - Ids: trade ids from ~5.2 × 10^9, update ids from ~7.1 × 10^10 (the real
 *   feed's magnitudes); `E` is the message's ms time, `T` a trade's time.
 */
import {mulberry32} from '../../util/prng.js'
import type {BinanceEvent} from './streams.js'

export interface BinanceTapeOptions {
  /** PRNG seed; default 1. */
  seed?: number
  /** Symbols (uppercase), busiest first; default BTCUSDT, ETHUSDT. */
  symbols?: readonly string[]
  /** How many messages to generate. */
  frames: number
  /** Mean gap between arrivals (ms); default 20. */
  meanGapMs?: number
  /** Receive time of the first message; default 2025-11-24T10:40:00Z. */
  startNs?: bigint
  /** Levels a side; default 20. */
  depth?: number
  /** Stream types to produce (of trade, aggTrade, bookTicker, depth@100ms, depth5@100ms); default all. */
  types?: readonly string[]
}

export interface BinanceTapeFrame {
  recv_ts: bigint
  /** The stream name (`btcusdt@trade`). */
  stream: string
  symbol: string
  event: BinanceEvent
  /** The payload as Binance prints it (unwrapped). */
  payload: string
  /** depthUpdate: the ids and level texts (what the emulator's book applies). */
  diff?: {U: bigint; u: bigint; bids: string; asks: string}
}

export const DEFAULT_START_NS = 1763980800000000000n
const TYPES = ['trade', 'aggTrade', 'bookTicker', 'depth@100ms', 'depth5@100ms']

/** Rough prices (in 0.01) and typical trade sizes (in 0.00001) of some symbols. */
const KNOWN: Record<string, [number, number]> = {BTCUSDT: [9_123_456, 120], ETHUSDT: [312_345, 3_000], BNBUSDT: [61_234, 20_000]}

const px = (p: number) => `${Math.floor(p / 100)}.${String(p % 100).padStart(2, '0')}000000`
const qt = (q: number) => `${Math.floor(q / 100_000)}.${String(q % 100_000).padStart(5, '0')}000`

interface Sym {
  name: string
  lower: string
  bids: Map<number, number>
  asks: Map<number, number>
  size: number
  changed: {b: Map<number, number>; a: Map<number, number>}
  firstU: bigint | null
  sentFull: boolean
  best: string
}

export function* syntheticBinanceTape(o: BinanceTapeOptions): Generator<BinanceTapeFrame> {
  const rnd = mulberry32(o.seed ?? 1)
  const names = o.symbols ?? ['BTCUSDT', 'ETHUSDT']
  const depth = o.depth ?? 20
  const mean = o.meanGapMs ?? 20
  const start = o.startNs ?? DEFAULT_START_NS
  const types = new Set(o.types ?? TYPES)
  const startMs = Number(start / 1_000_000n)
  let updateId = 71_234_567_890n + BigInt(Math.floor(rnd() * 1e6))
  let tradeId = 5_234_567_890n + BigInt(Math.floor(rnd() * 1e6))
  let aggId = 1_834_567_890n + BigInt(Math.floor(rnd() * 1e6))
  const weights = names.map((_, k) => 1 / (k + 1))
  const total = weights.reduce((a, b) => a + b, 0)
  const lognormal = (m: number) => Math.max(1, Math.round(m * Math.exp((rnd() + rnd() + rnd() - 1.5) * 1.2)))
  const syms: Sym[] = names.map((name, k) => {
    const [p0, s0] = KNOWN[name] ?? [100_00 * (k + 1), 100_000]
    const s: Sym = {name, lower: name.toLowerCase(), bids: new Map(), asks: new Map(), size: s0, changed: {b: new Map(), a: new Map()}, firstU: null, sentFull: false, best: ''}
    for (let i = 0; i < depth; i++) {
      s.bids.set(p0 - 1 - i * (1 + Math.floor(rnd() * 3)), lognormal(s0 * 3))
      s.asks.set(p0 + 1 + i * (1 + Math.floor(rnd() * 3)), lognormal(s0 * 3))
    }
    return s
  })
  const bestBid = (s: Sym) => Math.max(...s.bids.keys())
  const bestAsk = (s: Sym) => Math.min(...s.asks.keys())
  const setLevel = (s: Sym, side: 'b' | 'a', p: number, q: number) => {
    const m = side === 'b' ? s.bids : s.asks
    if (q <= 0) m.delete(p)
    else m.set(p, q)
    s.changed[side].set(p, Math.max(0, q))
    updateId++
    s.firstU ??= updateId
  }
  let n = 0
  let t = 0 // ms since start
  let nextTick = 100
  const frame = (ms: number, s: Sym, type: string, event: BinanceEvent, payload: string, diff?: BinanceTapeFrame['diff']): BinanceTapeFrame => ({
    recv_ts: start + BigInt(Math.round(ms * 1000)) * 1000n + 3_000_000n,
    stream: `${s.lower}@${type}`,
    symbol: s.name,
    event,
    payload,
    diff,
  })
  const ticker = function* (ms: number, s: Sym): Generator<BinanceTapeFrame> {
    const b = bestBid(s)
    const a = bestAsk(s)
    const key = `${b}/${s.bids.get(b)}/${a}/${s.asks.get(a)}`
    if (key === s.best || !types.has('bookTicker')) return
    s.best = key
    yield frame(ms, s, 'bookTicker', 'bookTicker', `{"u":${updateId},"s":"${s.name}","b":"${px(b)}","B":"${qt(s.bids.get(b)!)}","a":"${px(a)}","A":"${qt(s.asks.get(a)!)}"}`)
  }
  while (n < o.frames) {
    const gap = rnd() < 0.8 ? -Math.log(1 - rnd()) * mean * 0.4 : -Math.log(1 - rnd()) * mean * 3.4
    const arrival = t + gap
    while (nextTick <= arrival && n < o.frames) {
      const E = startMs + nextTick
      for (const s of syms) {
        if (s.firstU === null) continue
        const full = !s.sentFull
        const lv = (m: Map<number, number>, bids: boolean) =>
          JSON.stringify([...m].sort((x, y) => (bids ? y[0] - x[0] : x[0] - y[0])).map(([p, q]) => [px(p), qt(q)]))
        const bidsText = full ? lv(s.bids, true) : lv(s.changed.b, true)
        const asksText = full ? lv(s.asks, false) : lv(s.changed.a, false)
        const U = s.firstU
        if (types.has('depth@100ms')) {
          yield frame(nextTick, s, 'depth@100ms', 'depthUpdate', `{"e":"depthUpdate","E":${E},"s":"${s.name}","U":${U},"u":${updateId},"b":${bidsText},"a":${asksText}}`, {U, u: updateId, bids: bidsText, asks: asksText})
          n++
        }
        s.sentFull = true
        s.changed.b.clear()
        s.changed.a.clear()
        s.firstU = null
        if (types.has('depth5@100ms') && n < o.frames) {
          const top = (m: Map<number, number>, bids: boolean) =>
            JSON.stringify([...m].sort((x, y) => (bids ? y[0] - x[0] : x[0] - y[0])).slice(0, 5).map(([p, q]) => [px(p), qt(q)]))
          yield frame(nextTick, s, 'depth5@100ms', 'depth', `{"lastUpdateId":${updateId},"bids":${top(s.bids, true)},"asks":${top(s.asks, false)}}`)
          n++
        }
      }
      nextTick += 100
    }
    if (n >= o.frames) break
    t = arrival
    const E = startMs + Math.floor(t)
    let r = rnd() * total
    let k = 0
    while (k < syms.length - 1 && (r -= weights[k]) > 0) k++
    const s = syms[k]
    if (rnd() < 0.4) {
      const buy = rnd() < 0.5
      const p = buy ? bestAsk(s) : bestBid(s)
      const m = buy ? s.asks : s.bids
      const avail = m.get(p)!
      const q = Math.min(avail, lognormal(s.size))
      setLevel(s, buy ? 'a' : 'b', p, avail - q)
      if (m.size < 3) setLevel(s, buy ? 'a' : 'b', buy ? p + 1 + Math.floor(rnd() * 3) : p - 1 - Math.floor(rnd() * 3), lognormal(s.size * 3))
      tradeId++
      aggId++
      const T = E - Math.floor(rnd() * 3)
      if (types.has('trade')) {
        yield frame(t, s, 'trade', 'trade', `{"e":"trade","E":${E},"s":"${s.name}","t":${tradeId},"p":"${px(p)}","q":"${qt(q)}","T":${T},"m":${!buy},"M":true}`)
        n++
      }
      if (types.has('aggTrade') && n < o.frames) {
        yield frame(t, s, 'aggTrade', 'aggTrade', `{"e":"aggTrade","E":${E},"s":"${s.name}","a":${aggId},"p":"${px(p)}","q":"${qt(q)}","f":${tradeId},"l":${tradeId},"T":${T},"m":${!buy},"M":true}`)
        n++
      }
    } else {
      const bid = rnd() < 0.5
      const m = bid ? s.bids : s.asks
      const ref = bid ? bestBid(s) : bestAsk(s)
      const off = Math.floor(rnd() * depth)
      const p = bid ? ref - off : ref + off
      // never cross the book
      if ((bid && p >= bestAsk(s)) || (!bid && p <= bestBid(s))) continue
      const cur = m.get(p) ?? 0
      const q = cur > 0 && rnd() < 0.3 && m.size > 5 ? 0 : lognormal(s.size * 3)
      setLevel(s, bid ? 'b' : 'a', p, q)
      if (m.size > depth * 2) {
        const far = bid ? Math.min(...m.keys()) : Math.max(...m.keys())
        setLevel(s, bid ? 'b' : 'a', far, 0)
      }
    }
    if (n < o.frames) for (const f of ticker(t, s)) {
      yield f
      n++
    }
  }
}
