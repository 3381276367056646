/**
 * Seeded, deterministic generator of a realistic Yahoo Finance streamer tape.
 *
 * Used by the benchmarks, the fixtures and the demo. It is meant to look like
 * a real recording, not like noise, because it is the workload of a
 * compression benchmark:
 *
 * - Zipf-like activity: the k-th symbol (0-based) is picked with weight
 *   1 / (k + 1)^1.1, and trades cluster (a frame repeats the previous symbol
 *   now and then; the marginal distribution stays Zipf).
 * - Every symbol has a fixed previous close and a price on a tick grid
 *   (whole cents for US equities) that random-walks a few ticks at a time;
 *   `change`, `change_percent`, running `day_high` / `day_low` and the
 *   cumulative `day_volume` are derived from it exactly like the real feed.
 * - Bursty exponential inter-arrival times (a two-component mixture whose mean
 *   is `meanGapMs`); `recv_ts` is strictly increasing.
 * - Field sets copy what real streamer messages carry (see
 *   `test/vectors/yahoo-pricing.ndjson`): US equities send no currency,
 *   short name or previous close; `last_size` comes together with the
 *   bid/ask quote; some updates carry no day statistics. Proto3 defaults are
 *   never set explicitly (the canonical encoder would omit them).
 *
 * Float fields hold float32 values (passed through `Math.fround`), sint64
 * fields are `bigint`, as in {@link PricingData}.
 */
import {mulberry32} from '../../util/prng.js'
import type {PricingData} from './types.js'

export interface SyntheticTapeOptions {
  /** PRNG seed; default 1. Same seed and options give the same tape. */
  seed?: number
  /**
   * How many symbols (default 50: real-looking US equity tickers first, then
   * crypto pairs such as BTC-USD, then generated tickers), or an explicit
   * list (`XXX-USD` names are crypto, anything else a US equity). The list
   * order is the activity rank.
   */
  symbols?: number | string[]
  /** How many frames to generate. */
  frames: number
  /** Mean inter-arrival time in ms; default 4. */
  meanGapMs?: number
  /** Receive time of the first frame; default 1763980800000000000n (2025-11-24T10:40:00Z). */
  startNs?: bigint
  /** Share of equity frames that also carry bid/ask/bid_size/ask_size (and last_size); default 0.3. */
  quoteShare?: number
}

export interface TapeFrame {
  recv_ts: bigint
  data: PricingData
}

/** The fixed, per-symbol part of a synthetic tape (what the generator derives from the seed). */
export interface SyntheticSymbol {
  id: string
  kind: 'equity' | 'crypto'
  exchange: string
  quote_type: number
  /** Decimals of the tick grid (Yahoo's `priceHint`): 2 = whole cents. */
  price_hint: bigint
  /** Previous close as a float32 value (never on the wire for equities; the base of `change`). */
  previous_close: number
  /** Previous close in ticks of 10^-price_hint. */
  previous_close_ticks: number
}

export const DEFAULT_START_NS = 1763980800000000000n

/** Zipf exponent of symbol activity. */
const ZIPF_S = 1.1
/** Probability that a frame is for the same symbol as the previous one. */
const REPEAT_SYMBOL = 0.2
/** Share of equity frames without day_volume/day_high/day_low (as in the real feed). */
const NO_DAY_STATS = 0.15
/** Gap mixture: SHORT_SHARE of the gaps have mean SHORT_MEAN*m, the rest LONG_MEAN*m (overall mean m). */
const SHORT_SHARE = 0.8
const SHORT_MEAN = 0.4
const LONG_MEAN = (1 - SHORT_SHARE * SHORT_MEAN) / (1 - SHORT_SHARE) // 3.4
/** Variance and mean absolute value of the walk step (P(0)=.4, P(±1)=.4, P(±2)=.14, P(±3)=.06). */
const WALK_VAR = 0.4 + 0.14 * 4 + 0.06 * 9
const WALK_ABS = 0.4 + 0.14 * 2 + 0.06 * 3

// Ticker, exchange, rough activity order (most active first).
const EQUITIES: ReadonlyArray<readonly [string, string]> = [
  ['NVDA', 'NMS'], ['TSLA', 'NMS'], ['AAPL', 'NMS'], ['AMD', 'NMS'], ['AMZN', 'NMS'],
  ['MSFT', 'NMS'], ['META', 'NMS'], ['PLTR', 'NMS'], ['GOOGL', 'NMS'], ['INTC', 'NMS'],
  ['SOFI', 'NMS'], ['F', 'NYQ'], ['BAC', 'NYQ'], ['AVGO', 'NMS'], ['MU', 'NMS'],
  ['GOOG', 'NMS'], ['SMCI', 'NMS'], ['COIN', 'NMS'], ['HOOD', 'NMS'], ['MSTR', 'NMS'],
  ['NFLX', 'NMS'], ['UBER', 'NYQ'], ['PFE', 'NYQ'], ['T', 'NYQ'], ['JPM', 'NYQ'],
  ['WFC', 'NYQ'], ['ORCL', 'NYQ'], ['XOM', 'NYQ'], ['CSCO', 'NMS'], ['WMT', 'NYQ'],
  ['BA', 'NYQ'], ['DIS', 'NYQ'], ['C', 'NYQ'], ['VZ', 'NYQ'], ['KO', 'NYQ'],
  ['GM', 'NYQ'], ['CMCSA', 'NMS'], ['PYPL', 'NMS'], ['QCOM', 'NMS'], ['AMAT', 'NMS'],
  ['V', 'NYQ'], ['MA', 'NYQ'], ['UNH', 'NYQ'], ['LLY', 'NYQ'], ['CVX', 'NYQ'],
  ['JNJ', 'NYQ'], ['PG', 'NYQ'], ['MRK', 'NYQ'], ['ABBV', 'NYQ'], ['NKE', 'NYQ'],
  ['SBUX', 'NMS'], ['PEP', 'NMS'], ['COST', 'NMS'], ['ADBE', 'NMS'], ['CRM', 'NYQ'],
  ['INTU', 'NMS'], ['MRNA', 'NMS'], ['GS', 'NYQ'], ['MS', 'NYQ'], ['HD', 'NYQ'],
  ['MCD', 'NYQ'], ['IBM', 'NYQ'], ['GE', 'NYQ'], ['CAT', 'NYQ'],
]

// Ticker, rough price in USD, price hint, circulating supply.
const CRYPTO: ReadonlyArray<readonly [string, number, number, number]> = [
  ['BTC-USD', 87000, 2, 19_950_000],
  ['ETH-USD', 2900, 2, 120_700_000],
  ['SOL-USD', 130, 2, 556_000_000],
  ['XRP-USD', 2.1, 4, 60_200_000_000],
  ['DOGE-USD', 0.15, 5, 151_500_000_000],
  ['BNB-USD', 850, 2, 137_700_000],
  ['ADA-USD', 0.42, 4, 36_600_000_000],
  ['LTC-USD', 85, 2, 76_500_000],
  ['AVAX-USD', 14, 2, 429_000_000],
  ['LINK-USD', 13, 2, 680_000_000],
  ['DOT-USD', 2.5, 4, 1_640_000_000],
  ['TRX-USD', 0.28, 4, 94_700_000_000],
  ['XLM-USD', 0.25, 4, 32_300_000_000],
  ['BCH-USD', 530, 2, 19_950_000],
  ['SHIB-USD', 0.0000085, 8, 589_000_000_000_000],
]

const PRICE_HINT = [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n] as const

/** splitmix32-style finaliser, to turn any seed into a well-mixed 32-bit state. */
function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0
  x = Math.imul(x, 0x21f0aaad)
  x = (x ^ (x >>> 15)) >>> 0
  x = Math.imul(x, 0x735a2d97)
  return (x ^ (x >>> 15)) >>> 0
}

function seedState(seed: number, stream: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`)
  const t = Math.trunc(seed)
  const lo = t >>> 0
  const hi = Math.floor(t / 4294967296) >>> 0
  return mix32((mix32(lo ^ stream) + Math.imul(hi, 0x9e3779b9)) >>> 0)
}

function syntheticTicker(rnd: () => number, taken: Set<string>): string {
  const A = 'ABCDEFGHIJKLMNOPRSTUVWXYZ' // no Q: avoids odd-looking tickers
  for (;;) {
    const len = rnd() < 0.45 ? 3 : 4
    let s = ''
    for (let i = 0; i < len; i++) s += A[Math.floor(rnd() * A.length)]
    if (!taken.has(s)) return s
  }
}

interface SymbolSpec {
  id: string
  crypto: boolean
  exchange: string
  hint: number
  basePrice: number // dollars, before the seeded jitter (NaN: draw 20-500)
  supply: number
}

function resolveSymbols(symbols: number | string[] | undefined, rnd: () => number): SymbolSpec[] {
  const eq = new Map(EQUITIES.map(([t, x]) => [t, x]))
  const cr = new Map(CRYPTO.map(c => [c[0], c]))
  const spec = (id: string): SymbolSpec => {
    const c = cr.get(id)
    if (c) return {id, crypto: true, exchange: 'CCC', hint: c[2], basePrice: c[1], supply: c[3]}
    if (id.endsWith('-USD')) {
      const p = Math.exp(Math.log(0.5) + rnd() * Math.log(400))
      return {id, crypto: true, exchange: 'CCC', hint: p < 10 ? 4 : 2, basePrice: p, supply: Math.round(1e8 + rnd() * 1e10)}
    }
    let exchange = eq.get(id)
    if (!exchange) {
      let h = 0
      for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0
      exchange = (h & 1) === 0 ? 'NMS' : 'NYQ'
    }
    return {id, crypto: false, exchange, hint: 2, basePrice: NaN, supply: 0}
  }
  if (Array.isArray(symbols)) {
    if (symbols.length === 0) throw new RangeError('symbols must not be empty')
    if (new Set(symbols).size !== symbols.length) throw new RangeError('symbols must be unique')
    return symbols.map(spec)
  }
  const n = symbols ?? 50
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`symbols must be a positive integer, got ${n}`)
  const out: SymbolSpec[] = []
  for (let i = 0; i < n && i < EQUITIES.length; i++) out.push(spec(EQUITIES[i][0]))
  for (let i = 0; out.length < n && i < CRYPTO.length; i++) out.push(spec(CRYPTO[i][0]))
  const taken = new Set(out.map(s => s.id))
  while (out.length < n) {
    const id = syntheticTicker(rnd, taken)
    taken.add(id)
    out.push(spec(id))
  }
  return out
}

/** Internal mutable per-symbol state. */
interface SymState {
  sym: SyntheticSymbol
  crypto: boolean
  scale: number // 10^hint
  step: number // ticks per walk step
  anchor: number // ticks the walk reverts to
  revert: number // mean-reversion strength per step of deviation
  pcTicks: number
  ticks: number
  high: number // ticks
  low: number // ticks
  volume: number // shares (equity) or USD (crypto)
  // constants on the wire
  openPrice: number
  supply: number
  shortName: string
  fromCurrency: string
}

function buildUniverse(seed: number, symbols: number | string[] | undefined): SymState[] {
  const rnd = mulberry32(seedState(seed, 0x5eed5eed))
  const specs = resolveSymbols(symbols, rnd)
  return specs.map((s, k) => {
    const scale = 10 ** s.hint
    let pcTicks: number
    if (Number.isNaN(s.basePrice)) {
      // log-uniform 20..500 USD, whole cents
      pcTicks = Math.round(Math.exp(Math.log(20) + rnd() * Math.log(25)) * 100)
    } else {
      pcTicks = Math.max(1, Math.round(s.basePrice * (0.85 + 0.3 * rnd()) * scale))
    }
    // today's move so far: roughly N(0, 1.5 %) (N(0, 3 %) for crypto)
    const z = rnd() + rnd() + rnd() + rnd() - 2 // ~N(0, 0.58)
    const sd = s.crypto ? 0.05 : 0.026
    let ticks = Math.max(1, Math.round(pcTicks * (1 + z * sd)))
    if (ticks === pcTicks) ticks += 1 // start with a non-zero change
    const range = (a: number) => Math.round(a * (0.002 + 0.012 * rnd()))
    const high = Math.max(ticks, pcTicks) + range(ticks)
    const low = Math.max(1, Math.min(ticks, pcTicks) - range(ticks))
    const step = s.crypto ? Math.max(1, Math.round(ticks * 0.00005)) : 1
    // Mean reversion keeps the walk within a realistic intraday range even for
    // the busiest symbol over a long tape: the stationary deviation from the
    // anchor is about 0.6 % of the price.
    const sdSteps = Math.max(4, (ticks * 0.006) / step)
    const revert = WALK_VAR / (2 * WALK_ABS * sdSteps * sdSteps)
    const volume = s.crypto
      ? Math.floor((5e10 / (k + 1) ** 1.2) * (0.5 + rnd()))
      : Math.floor((6e7 / (k + 1) ** 0.8) * (0.4 + rnd()))
    const sym: SyntheticSymbol = {
      id: s.id,
      kind: s.crypto ? 'crypto' : 'equity',
      exchange: s.exchange,
      quote_type: s.crypto ? 41 : 8,
      price_hint: PRICE_HINT[s.hint],
      previous_close: Math.fround(pcTicks / scale),
      previous_close_ticks: pcTicks,
    }
    const base = s.id.endsWith('-USD') ? s.id.slice(0, -4) : s.id
    return {
      sym,
      crypto: s.crypto,
      scale,
      step,
      anchor: ticks,
      revert,
      pcTicks,
      ticks,
      high,
      low,
      volume: Math.max(1, volume),
      openPrice: Math.fround(pcTicks / scale),
      supply: s.supply,
      shortName: `${base} USD`,
      fromCurrency: base,
    }
  })
}

/**
 * The fixed per-symbol universe (ids, exchanges, previous closes) that
 * {@link syntheticYahooTape} uses for the same `seed` and `symbols`.
 */
export function syntheticSymbols(opts: Pick<SyntheticTapeOptions, 'seed' | 'symbols'> = {}): SyntheticSymbol[] {
  return buildUniverse(opts.seed ?? 1, opts.symbols).map(s => ({...s.sym}))
}

/** Generate `opts.frames` frames of a realistic, deterministic Yahoo tape. */
export function* syntheticYahooTape(opts: SyntheticTapeOptions): Generator<TapeFrame> {
  const frames = opts.frames
  if (!Number.isInteger(frames) || frames < 0) throw new RangeError(`frames must be a non-negative integer, got ${frames}`)
  const seed = opts.seed ?? 1
  const meanGapMs = opts.meanGapMs ?? 4
  if (!(meanGapMs > 0) || !Number.isFinite(meanGapMs)) throw new RangeError(`meanGapMs must be > 0, got ${meanGapMs}`)
  const quoteShare = opts.quoteShare ?? 0.3
  if (!(quoteShare >= 0 && quoteShare <= 1)) throw new RangeError(`quoteShare must be in [0, 1], got ${quoteShare}`)

  const universe = buildUniverse(seed, opts.symbols)
  const n = universe.length
  const rnd = mulberry32(seedState(seed, 0x7a9e7a9e))

  // Zipf CDF
  const cdf = new Float64Array(n)
  let acc = 0
  for (let k = 0; k < n; k++) {
    acc += 1 / (k + 1) ** ZIPF_S
    cdf[k] = acc
  }
  for (let k = 0; k < n; k++) cdf[k] /= acc
  cdf[n - 1] = 1

  // Time base: startNs = baseMs * 1e6 + remNs (0 <= remNs < 1e6), plus a number offset in ns.
  let baseNs = opts.startNs ?? DEFAULT_START_NS
  let remNs = 0
  let baseMs = 0
  const rebase = () => {
    const r = ((baseNs % 1_000_000n) + 1_000_000n) % 1_000_000n
    remNs = Number(r)
    baseMs = Number((baseNs - r) / 1_000_000n)
  }
  rebase()
  let offsetNs = 0
  const shortNs = meanGapMs * SHORT_MEAN * 1e6
  const longNs = meanGapMs * LONG_MEAN * 1e6

  let prev = -1
  for (let i = 0; i < frames; i++) {
    // arrival time (the first frame is at startNs exactly)
    if (i > 0) {
      const mean = rnd() < SHORT_SHARE ? shortNs : longNs
      const gap = Math.floor(-Math.log(1 - rnd()) * mean)
      offsetNs += gap < 1 ? 1 : gap
      if (offsetNs > 2 ** 50) {
        baseNs += BigInt(offsetNs)
        offsetNs = 0
        rebase()
      }
    }

    // symbol: Zipf, with some clustering
    let k: number
    if (prev >= 0 && rnd() < REPEAT_SYMBOL) {
      k = prev
    } else {
      const u = rnd()
      let lo = 0
      let hi = n - 1
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (cdf[mid] < u) lo = mid + 1
        else hi = mid
      }
      k = lo
    }
    prev = k
    const s = universe[k]

    // price walk: -3..+3 steps, mostly 0/±1, reverting to the anchor
    const w = rnd()
    let d = w < 0.4 ? 0 : w < 0.8 ? 1 : w < 0.94 ? 2 : 3
    if (d !== 0) {
      let down = 0.5 + s.revert * ((s.ticks - s.anchor) / s.step)
      down = down < 0.05 ? 0.05 : down > 0.95 ? 0.95 : down
      if (rnd() < down) d = -d
    }
    let ticks = s.ticks + d * s.step
    if (ticks < 1) ticks = s.ticks - d * s.step
    s.ticks = ticks
    if (ticks > s.high) s.high = ticks
    if (ticks < s.low) s.low = ticks

    // trade size
    const z = rnd()
    let size: number
    if (s.crypto) {
      size = Math.floor(-Math.log(1 - z) * 20000) + 1 // USD notional
    } else if (z < 0.4) {
      size = 1 + Math.floor(rnd() * rnd() * 99) // odd lot, skewed small
    } else if (z < 0.8) {
      size = 100 * (1 + Math.floor(rnd() * 5))
    } else if (z < 0.97) {
      size = 1 + Math.floor(rnd() * 500)
    } else {
      size = 100 * (10 + Math.floor(rnd() * rnd() * 90)) // block: 1,000-9,900
    }
    s.volume += size

    const recvNs = remNs + offsetNs
    const recv_ts = baseNs + BigInt(offsetNs)
    const lat = Math.floor(rnd() * 4) // 0..3 ms
    const scale = s.scale
    const sym = s.sym
    const chg = ticks - s.pcTicks

    if (s.crypto) {
      const ms = baseMs + Math.floor(recvNs / 1e6) - lat
      const price = Math.fround(ticks / scale)
      const data: PricingData = {
        id: sym.id,
        price,
        time: BigInt(ms - (((ms % 1000) + 1000) % 1000)), // whole seconds
        currency: 'USD',
        exchange: 'CCC',
        quote_type: 41,
        market_hours: 1,
      }
      if (chg !== 0) data.change_percent = Math.fround((chg / s.pcTicks) * 100)
      const vol = BigInt(s.volume)
      data.day_volume = vol
      data.day_high = Math.fround(s.high / scale)
      data.day_low = Math.fround(s.low / scale)
      if (chg !== 0) data.change = Math.fround(chg / scale)
      data.short_name = s.shortName
      data.open_price = s.openPrice
      data.price_hint = sym.price_hint
      data.vol_24hr = vol
      data.vol_all_currencies = vol
      data.from_currency = s.fromCurrency
      data.last_market = 'CoinMarketCap'
      data.circulating_supply = s.supply
      data.market_cap = price * s.supply
      yield {recv_ts, data}
      continue
    }

    const data: PricingData = {
      id: sym.id,
      price: Math.fround(ticks / scale),
      time: BigInt(baseMs + Math.floor(recvNs / 1e6) - lat),
      exchange: sym.exchange,
      quote_type: 8,
      market_hours: 1,
    }
    if (chg !== 0) data.change_percent = Math.fround((chg / s.pcTicks) * 100)
    const stats = rnd() >= NO_DAY_STATS
    if (stats) {
      data.day_volume = BigInt(s.volume)
      data.day_high = Math.fround(s.high / scale)
      data.day_low = Math.fround(s.low / scale)
    }
    if (chg !== 0) data.change = Math.fround(chg / scale)
    if (rnd() < quoteShare) {
      data.last_size = BigInt(size)
      const bidTicks = ticks - 1 - Math.floor(rnd() * 3)
      const askTicks = ticks + 1 + Math.floor(rnd() * 3)
      if (bidTicks >= 1) {
        data.bid = Math.fround(bidTicks / scale)
        data.bid_size = BigInt(quoteSize(rnd))
      }
      data.ask = Math.fround(askTicks / scale)
      data.ask_size = BigInt(quoteSize(rnd))
    }
    data.price_hint = sym.price_hint
    yield {recv_ts, data}
  }
}

/** Displayed size at the touch: round lots of 100 mostly, sometimes an odd amount. */
function quoteSize(rnd: () => number): number {
  const u = rnd()
  if (u < 0.85) return 100 * (1 + Math.floor(rnd() * rnd() * 20))
  return 1 + Math.floor(rnd() * 999)
}
