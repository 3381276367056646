/**
 * Seeded, deterministic generator of realistic Upbit KRW-market traffic:
 * trades, the ticker that follows every trade, and full order book snapshots
 * (15 levels by default), for fixtures, tests and benchmarks.
 *
 * - Each market keeps a price on Upbit's KRW tick grid (1,000 KRW from
 *   2,000,000 up, 500, 100, 50, 10, 1, 0.1, … below), a book of `depth`
 *   levels a few ticks apart on each side with lognormal sizes (8 decimals),
 *   and the day's open / high / low / accumulated volume and value.
 * - Trades take the best ask (buyer-initiated, `ask_bid` BID) or the best bid
 *   (ASK), sometimes in bursts of several prints; the traded level shrinks and
 *   is consumed, moving the price. Every trade is followed 0–2 ms later by the
 *   market's ticker. Order books are sent a few times per second per market.
 * - Activity is Zipf-like across markets (the first is busiest); inter-arrival
 *   times are bursty (a two-component exponential mixture with mean
 *   `meanGapMs`); `timestamp` is 5–40 ms before the receive time and
 *   `trade_timestamp` a few ms before `timestamp`, both never decreasing
 *   within a market.
 * - `sequential_id` is the trade time in ms × 10^4 + a per-ms counter, as on
 *   the real feed (about 1.8 × 10^16: beyond 2^53).
 * - Values are what the real server prints at its scales (prices whole KRW
 *   or their tick's decimals, sizes 8 decimals, rates 10 decimals), so the
 *   messages encode in Upbit's own number format.
 * Rows come out in DEFAULT field names with `stream_type` REALTIME (the
 * emulator marks each subscriber's first message of a pair SNAPSHOT).
 */
import {mulberry32, zipfPicker} from '../../util/prng.js'
import type {RowKind} from '../types.js'
import type {Unit, UpbitRow} from './codec.js'

export interface UpbitTapeOptions {
  /** PRNG seed; default 1. */
  seed?: number
  /** Market codes, busiest first; default KRW-BTC, KRW-ETH. */
  codes?: readonly string[]
  /** How many messages to generate. */
  frames: number
  /** Mean inter-arrival time of events in ms (a trade and its ticker are one event); default 40. */
  meanGapMs?: number
  /** Receive time of the first message; default 2025-11-24T10:40:00Z. */
  startNs?: bigint
  /** Order book depth; default 15. */
  depth?: number
  /** Message types to produce; default ticker, trade, orderbook. */
  types?: readonly ('ticker' | 'trade' | 'orderbook')[]
  /** Share of events that are order book updates; default 0.35. */
  bookShare?: number
}

export interface UpbitTapeFrame {
  recv_ts: bigint
  kind: RowKind
  row: UpbitRow
}

export const DEFAULT_START_NS = 1763980800000000000n

/** Rough KRW prices, typical trade size (base units) of some markets. */
const KNOWN: Record<string, [number, number]> = {
  'KRW-BTC': [131_500_000, 0.004],
  'KRW-ETH': [4_420_000, 0.08],
  'KRW-XRP': [3_150, 400],
  'KRW-SOL': [205_000, 1.5],
  'KRW-DOGE': [232, 3000],
  'KRW-USDT': [1_468, 500],
}

/** Upbit's KRW market price unit for a price. */
export function krwTick(p: number): number {
  if (p >= 2_000_000) return 1000
  if (p >= 1_000_000) return 500
  if (p >= 500_000) return 100
  if (p >= 100_000) return 50
  if (p >= 10_000) return 10
  if (p >= 1_000) return 1
  if (p >= 100) return 0.1
  if (p >= 10) return 0.01
  if (p >= 1) return 0.001
  return 0.0001
}

const r8 = (x: number) => Math.round(x * 1e8) / 1e8
const r10 = (x: number) => Math.round(x * 1e10) / 1e10
const pad = (n: number, w = 2) => String(n).padStart(w, '0')

interface Level {
  price: number
  size: number
}

interface Market {
  code: string
  tick: number
  decimals: number
  typical: number
  prevClose: number
  open: number
  high: number
  low: number
  last: number
  accVol: number
  accValue: number
  vol24: number
  value24: number
  accAsk: number
  accBid: number
  hi52: number
  lo52: number
  asks: Level[]
  bids: Level[]
  lastSide: 'ASK' | 'BID'
  lastVolume: number
  seqMs: bigint
  seqN: bigint
  /** Latest `timestamp` sent (they never go back within a market). */
  lastTs: bigint
}

/** Deterministic tape of Upbit messages; see the module comment. */
export function* syntheticUpbitTape(opts: UpbitTapeOptions): Generator<UpbitTapeFrame> {
  const rnd = mulberry32((opts.seed ?? 1) * 2654435761)
  const codes = opts.codes ?? ['KRW-BTC', 'KRW-ETH']
  const depth = opts.depth ?? 15
  const types = new Set(opts.types ?? ['ticker', 'trade', 'orderbook'])
  const meanGap = opts.meanGapMs ?? 40
  const bookShare = types.has('orderbook') ? (types.has('trade') || types.has('ticker') ? (opts.bookShare ?? 0.35) : 1) : 0
  const gauss = () => {
    let u = 0
    while (u === 0) u = rnd()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd())
  }
  const round = (m: Market, x: number) => (m.decimals === 0 ? Math.round(x) : Number(x.toFixed(m.decimals)))
  const size = (m: Market) => r8(Math.max(1e-8, m.typical * Math.exp(gauss() * 1.1)))
  const markets: Market[] = codes.map((code) => {
    const [p0, typical] = KNOWN[code] ?? [1000 * Math.exp(rnd() * 8), 10 ** Math.floor(rnd() * 4)]
    const tick = krwTick(p0)
    const decimals = tick >= 1 ? 0 : Math.round(-Math.log10(tick))
    const snap = (x: number) => Number((Math.round(x / tick) * tick).toFixed(decimals))
    const last = snap(p0 * (1 + (rnd() - 0.5) * 0.02))
    const prevClose = snap(last * (1 + (rnd() - 0.5) * 0.04))
    const m: Market = {
      code,
      tick,
      decimals,
      typical,
      prevClose,
      open: prevClose,
      high: Math.max(prevClose, last),
      low: Math.min(prevClose, last),
      last,
      accVol: r8(typical * 2000 * (1 + rnd())),
      accValue: 0,
      vol24: 0,
      value24: 0,
      accAsk: 0,
      accBid: 0,
      hi52: snap(p0 * 1.35),
      lo52: snap(p0 * 0.55),
      asks: [],
      bids: [],
      lastSide: 'BID',
      lastVolume: typical,
      seqMs: 0n,
      seqN: 0n,
      lastTs: 0n,
    }
    m.accValue = Math.round(m.accVol * last * 1e4) / 1e4
    m.accAsk = r8(m.accVol * 0.52)
    m.accBid = r8(m.accVol - m.accAsk)
    m.vol24 = r8(m.accVol * 2.3)
    m.value24 = Math.round(m.vol24 * last * 1e5) / 1e5
    rebuild(m)
    return m
  })

  function rebuild(m: Market): void {
    // best ask one tick above the last price or at it, then levels 1–3 ticks apart
    let a = m.last + m.tick * (rnd() < 0.5 ? 1 : 0)
    let b = a - m.tick * (1 + Math.floor(rnd() * 2))
    m.asks = []
    m.bids = []
    for (let i = 0; i < depth; i++) {
      m.asks.push({price: round(m, a), size: size(m)})
      m.bids.push({price: round(m, b), size: size(m)})
      a += m.tick * (1 + Math.floor(rnd() * 3))
      b -= m.tick * (1 + Math.floor(rnd() * 3))
    }
  }

  // Zipf-like market choice
  const pick = zipfPicker(markets, 1.1, rnd)

  let t = opts.startNs ?? DEFAULT_START_NS
  let emitted = 0
  const emit = function* (m: Market, kind: RowKind, fields: Record<string, unknown>, exchMs: bigint, at: bigint): Generator<UpbitTapeFrame> {
    if (emitted >= opts.frames) return
    emitted++
    yield {recv_ts: at, kind, row: {symbol: m.code, exch_ts: exchMs, fields}}
  }
  let prev: Market | null = null
  while (emitted < opts.frames) {
    const gap = rnd() < 0.8 ? -Math.log(1 - rnd()) * meanGap * 0.4 : -Math.log(1 - rnd()) * meanGap * 3.4
    t += BigInt(Math.max(1000, Math.round(gap * 1e6)))
    const m: Market = prev !== null && rnd() < 0.25 ? prev : pick()
    prev = m
    const recvMs = t / 1_000_000n
    let tsMs = recvMs - BigInt(5 + Math.floor(rnd() * 35))
    if (tsMs < m.lastTs) tsMs = m.lastTs
    m.lastTs = tsMs
    if (rnd() < bookShare) {
      // size jitter, now and then a level replaced
      for (let j = 0; j < 3; j++) {
        const side = rnd() < 0.5 ? m.asks : m.bids
        const lv = side[Math.floor(Math.abs(gauss()) * 3) % side.length]
        lv.size = size(m)
      }
      yield* emit(m, 'orderbook', bookFields(m, depth), tsMs, t)
      continue
    }
    // a trade (sometimes a burst of prints at one timestamp) and its ticker
    const prints = rnd() < 0.15 ? 2 + Math.floor(rnd() * 3) : 1
    const side: 'ASK' | 'BID' = rnd() < 0.5 ? 'ASK' : 'BID'
    let tradeMs = tsMs - BigInt(Math.floor(rnd() * 8))
    if (tradeMs < m.seqMs) tradeMs = m.seqMs
    let at = t
    for (let k = 0; k < prints && emitted < opts.frames; k++) {
      const book = side === 'BID' ? m.asks : m.bids
      const lv = book[0]
      const vol = r8(Math.min(lv.size, Math.max(1e-8, m.typical * Math.exp(gauss() * 1.3) * 0.5)))
      m.last = lv.price
      m.lastSide = side
      m.lastVolume = vol
      m.high = Math.max(m.high, m.last)
      m.low = Math.min(m.low, m.last)
      m.accVol = r8(m.accVol + vol)
      m.vol24 = r8(m.vol24 + vol)
      const value = m.last * vol
      m.accValue = Math.round((m.accValue + value) * 1e4) / 1e4
      m.value24 = Math.round((m.value24 + value) * 1e5) / 1e5
      if (side === 'ASK') m.accAsk = r8(m.accAsk + vol)
      else m.accBid = r8(m.accBid + vol)
      lv.size = r8(lv.size - vol)
      if (lv.size <= 0 || rnd() < 0.1) {
        // the level is gone: the book moves a tick or a few
        book.shift()
        const far = book[book.length - 1]
        const dir = side === 'BID' ? 1 : -1
        book.push({price: round(m, far.price + dir * m.tick * (1 + Math.floor(rnd() * 3))), size: size(m)})
        if (rnd() < 0.3) {
          m.last = book[0].price
          rebuild(m)
        }
      }
      if (tradeMs === m.seqMs) m.seqN++
      else {
        m.seqMs = tradeMs
        m.seqN = 0n
      }
      if (types.has('trade')) yield* emit(m, 'trade', tradeFields(m, tradeMs), tsMs, at)
      at += 200_000n
    }
    m.lastTs = tsMs + 1n
    if (types.has('ticker')) yield* emit(m, 'tick', tickerFields(m, tradeMs), tsMs + 1n, at + BigInt(Math.floor(rnd() * 2_000_000)))
    t = at + 2_000_000n
  }

  function change(m: Market) {
    const d = m.last - m.prevClose
    const cp = round(m, Math.abs(d))
    const rate = r10(Math.abs(d) / m.prevClose)
    return {
      change: d > 0 ? 'RISE' : d < 0 ? 'FALL' : 'EVEN',
      change_price: cp,
      signed_change_price: d < 0 ? -cp : cp,
      change_rate: rate,
      signed_change_rate: d < 0 ? -rate : rate,
    }
  }

  function dateParts(ms: bigint) {
    const d = new Date(Number(ms))
    return {
      Y: d.getUTCFullYear(),
      M: pad(d.getUTCMonth() + 1),
      D: pad(d.getUTCDate()),
      h: pad(d.getUTCHours()),
      m: pad(d.getUTCMinutes()),
      s: pad(d.getUTCSeconds()),
    }
  }

  function tickerFields(m: Market, tradeMs: bigint): Record<string, unknown> {
    const c = change(m)
    const p = dateParts(tradeMs)
    return {
      type: 'ticker',
      opening_price: m.open,
      high_price: m.high,
      low_price: m.low,
      trade_price: m.last,
      prev_closing_price: m.prevClose,
      acc_trade_price: m.accValue,
      change: c.change,
      change_price: c.change_price,
      signed_change_price: c.signed_change_price,
      change_rate: c.change_rate,
      signed_change_rate: c.signed_change_rate,
      ask_bid: m.lastSide,
      trade_volume: m.lastVolume,
      acc_trade_volume: m.accVol,
      trade_date: `${p.Y}${p.M}${p.D}`,
      trade_time: `${p.h}${p.m}${p.s}`,
      trade_timestamp: tradeMs,
      acc_ask_volume: m.accAsk,
      acc_bid_volume: m.accBid,
      highest_52_week_price: m.hi52,
      highest_52_week_date: '2025-10-06',
      lowest_52_week_price: m.lo52,
      lowest_52_week_date: '2024-12-20',
      market_state: 'ACTIVE',
      is_trading_suspended: false,
      market_warning: 'NONE',
      acc_trade_price_24h: m.value24,
      acc_trade_volume_24h: m.vol24,
      stream_type: 'REALTIME',
    }
  }

  function tradeFields(m: Market, tradeMs: bigint): Record<string, unknown> {
    const c = change(m)
    const p = dateParts(tradeMs)
    return {
      type: 'trade',
      trade_date: `${p.Y}-${p.M}-${p.D}`,
      trade_time: `${p.h}:${p.m}:${p.s}`,
      trade_timestamp: tradeMs,
      trade_price: m.last,
      trade_volume: m.lastVolume,
      ask_bid: m.lastSide,
      prev_closing_price: m.prevClose,
      change: c.change,
      change_price: c.change_price,
      sequential_id: tradeMs * 10_000n + m.seqN,
      best_ask_price: m.asks[0].price,
      best_ask_size: m.asks[0].size,
      best_bid_price: m.bids[0].price,
      best_bid_size: m.bids[0].size,
      stream_type: 'REALTIME',
    }
  }

  function bookFields(m: Market, n: number): Record<string, unknown> {
    const units: Unit[] = []
    let ta = 0
    let tb = 0
    for (let i = 0; i < n; i++) {
      units.push({ask_price: m.asks[i].price, bid_price: m.bids[i].price, ask_size: m.asks[i].size, bid_size: m.bids[i].size})
      ta += m.asks[i].size
      tb += m.bids[i].size
    }
    return {type: 'orderbook', total_ask_size: r8(ta), total_bid_size: r8(tb), orderbook_units: units, stream_type: 'REALTIME', level: 0}
  }
}

// ---------------------------------------------------------------------------
// The private endpoint: myOrder and myAsset

export interface UpbitPrivateTapeOptions {
  /** PRNG seed; default 1. */
  seed?: number
  /** Markets orders are placed in; default KRW-BTC. */
  codes?: readonly string[]
  /** How many messages to generate. */
  frames: number
  /** Mean time between events in ms; default 200. */
  meanGapMs?: number
  /** Receive time of the first message; default 2025-11-24T10:40:00Z. */
  startNs?: bigint
}

export interface UpbitPrivateFrame {
  recv_ts: bigint
  /** The message as Upbit sends it (DEFAULT keys, Upbit's member order, binary frame of UTF-8 JSON). */
  text: string
}

/**
 * Deterministic tape of an account's private messages, as the private
 * endpoint sends them: limit orders that are placed (`state` wait), filled
 * in one or more trades (`trade`, each followed by a myAsset message with
 * the new KRW and coin balances) and finished (`done`) or cancelled
 * (`cancel`). Members in Upbit's order with its value forms (numbers as the
 * shortest decimal, `null` for what does not apply, uuids), `timestamp` a
 * few ms after the event's `trade_timestamp`/`order_timestamp`,
 * `stream_type` REALTIME.
 */
export function* syntheticUpbitPrivateTape(opts: UpbitPrivateTapeOptions): Generator<UpbitPrivateFrame> {
  const rnd = mulberry32((opts.seed ?? 1) * 2246822519)
  const codes = opts.codes ?? ['KRW-BTC']
  const gap = opts.meanGapMs ?? 200
  let t = opts.startNs ?? DEFAULT_START_NS
  let emitted = 0
  const hex = (n: number) => Array.from({length: n}, () => Math.floor(rnd() * 16).toString(16)).join('')
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(rnd() * 4)]}${hex(3)}-${hex(12)}`
  const balances = new Map<string, number>([['KRW', 25_000_000]])
  const num = (x: number) => String(x)
  const step = () => {
    t += BigInt(Math.max(1_000_000, Math.round(-Math.log(1 - rnd()) * gap * 1e6)))
    return t
  }
  while (emitted < opts.frames) {
    const code = codes[Math.floor(rnd() * codes.length)]
    const coin = code.split('-')[1] ?? code
    const [p0, typical] = KNOWN[code] ?? [10_000, 1]
    const tick = krwTick(p0)
    const price = Math.round((p0 * (1 + (rnd() - 0.5) * 0.01)) / tick) * tick
    const volume = r8(typical * (0.5 + rnd()))
    const side = rnd() < 0.5 ? 'BID' : 'ASK'
    const id = uuid()
    const orderMs = step() / 1_000_000n
    const identifier = rnd() < 0.3 ? `bot-${hex(6)}` : null
    let executed = 0
    let funds = 0
    let fees = 0
    let trades = 0
    const fee = (x: number) => Math.round(x * 0.0005 * 1e8) / 1e8
    const order = (state: string, tradeUuid: string | null, p: number, v: number, tradeMs: bigint | null, at: bigint, tradeFee: number | null, maker: boolean | null): string => {
      const remaining = r8(volume - executed)
      const reserved = side === 'BID' ? fee(price * volume) : 0
      const o: Array<[string, unknown]> = [
        ['type', 'myOrder'],
        ['code', code],
        ['uuid', id],
        ['ask_bid', side],
        ['order_type', 'limit'],
        ['state', state],
        ['trade_uuid', tradeUuid],
        ['price', p],
        ['avg_price', executed > 0 ? Math.round((funds / executed) * 1e8) / 1e8 : 0],
        ['volume', v],
        ['remaining_volume', state === 'cancel' || state === 'done' ? 0 : remaining],
        ['executed_volume', r8(executed)],
        ['trades_count', trades],
        ['reserved_fee', reserved],
        ['remaining_fee', side === 'BID' ? Math.max(0, Math.round((reserved - fees) * 1e8) / 1e8) : 0],
        ['paid_fee', Math.round(fees * 1e8) / 1e8],
        ['locked', side === 'BID' ? Math.round(price * remaining * 1e4) / 1e4 : remaining],
        ['executed_funds', Math.round(funds * 1e4) / 1e4],
        ['time_in_force', null],
        ['trade_fee', tradeFee],
        ['is_maker', maker],
        ['identifier', identifier],
        ['smp_type', null],
        ['prevented_volume', 0],
        ['prevented_locked', 0],
        ['trade_timestamp', tradeMs],
        ['order_timestamp', orderMs],
        ['timestamp', at / 1_000_000n - BigInt(1 + Math.floor(rnd() * 4))],
        ['stream_type', 'REALTIME'],
      ]
      return `{${o.map(([k, x]) => `"${k}":${typeof x === 'number' ? num(x) : typeof x === 'bigint' ? String(x) : JSON.stringify(x)}`).join(',')}}`
    }
    const asset = (at: bigint, tradeMs: bigint): string => {
      const list = ['KRW', coin].map((c) => `{"currency":"${c}","balance":${num(balances.get(c) ?? 0)},"locked":${num(c === 'KRW' && side === 'BID' ? Math.round(price * (volume - executed) * 1e4) / 1e4 : 0)}}`)
      return `{"type":"myAsset","asset_uuid":"${uuid()}","assets":[${list.join(',')}],"asset_timestamp":${tradeMs},"timestamp":${at / 1_000_000n},"stream_type":"REALTIME"}`
    }
    const out: UpbitPrivateFrame[] = [{recv_ts: t, text: order('wait', null, price, volume, null, t, null, null)}]
    const fills = rnd() < 0.25 ? 0 : 1 + Math.floor(rnd() * 3)
    for (let k = 0; k < fills; k++) {
      const v = k === fills - 1 ? r8(volume - executed) : r8((volume - executed) * (0.2 + rnd() * 0.5))
      if (v <= 0) break
      executed = r8(executed + v)
      funds += price * v
      const f = fee(price * v)
      fees += f
      trades++
      const dKrw = side === 'BID' ? -(price * v + f) : price * v - f
      balances.set('KRW', Math.round(((balances.get('KRW') ?? 0) + dKrw) * 1e4) / 1e4)
      balances.set(coin, r8((balances.get(coin) ?? 0) + (side === 'BID' ? v : -v)))
      const at = step()
      const tradeMs = at / 1_000_000n - 5n
      out.push({recv_ts: at, text: order('trade', uuid(), price, v, tradeMs, at, f, rnd() < 0.5)})
      out.push({recv_ts: at + 300_000n, text: asset(at + 300_000n, tradeMs)})
    }
    const endAt = step()
    out.push({recv_ts: endAt, text: order(executed >= volume ? 'done' : 'cancel', null, price, volume, null, endAt, null, null)})
    for (const f of out) {
      if (emitted >= opts.frames) return
      emitted++
      yield f
    }
  }
}
