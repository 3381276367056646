/**
 * Seeded, deterministic generator of realistic generic-channel traffic
 * (docs/feeds/generic.md): the broadcasts a crypto-style channel server sends to a
 * client subscribed to its channels. For fixtures, tests and benchmarks.
 *
 * Channels (default `prices`, `trades`, `orderbook`, `news`; any other name
 * gets a plain `update` stream):
 * - `prices`: `price_update` — `{symbol, bid, ask, last, volume_24h}`;
 * - `trades`: `trade` — `{id, symbol, price, size, side}`, ids increasing;
 * - `orderbook`: `orderbook_snapshot` (first per symbol, then now and then)
 *   and `orderbook_update` — `{symbol, bids:[[price,size]…], asks:[…]}`
 *   (size 0 removes a level), with a per-channel `seq` after `timestamp` in
 *   the envelope (so these frames have a non-default key layout);
 * - `news`: rare `announcement`s with non-ASCII text.
 *
 * Prices sit on each instrument's tick grid and random-walk a few ticks at a
 * time; the instrument is Zipf-distributed (BTC busiest); channel activity is
 * weighted (prices ≫ trades > orderbook ≫ news) and clustered; inter-arrival
 * times are bursty (a two-component exponential mixture with mean
 * `meanGapMs`). `timestamp` is integer ms, 0–3 ms before the receive time.
 *
 * Frames are `JSON.stringify` output (what a Node server sends) except a
 * `prettyShare` of them formatted as Python's `json.dumps` does by default
 * (`", "` / `": "` separators, non-ASCII escaped): valid JSON that mdrec
 * cannot re-encode byte for byte, so it keeps their `raw` payload.
 */

import {mulberry32} from '../../util/prng.js'

export interface GenericTapeOptions {
  /** PRNG seed; default 1. Same seed and options give the same tape. */
  seed?: number
  /** Channel names, in any order; default {@link DEFAULT_CHANNELS}. */
  channels?: string[]
  /** How many frames to generate. */
  frames: number
  /** Mean inter-arrival time in ms; default 5. */
  meanGapMs?: number
  /** Receive time of the first frame; default 1763980800000000000n (2025-11-24T10:40:00Z). */
  startNs?: bigint
  /** Share of frames formatted like Python's json.dumps (not JSON.stringify output); default 0.01. */
  prettyShare?: number
}

export interface GenericTapeFrame {
  /** When the frame is due / arrives, ns since the epoch. */
  recv_ts: bigint
  channel: string
  /** The envelope's `type`. */
  event: string
  /** The envelope as sent (parsed form). */
  message: Record<string, unknown>
  /** The frame's text. */
  text: string
  /** Whether `text` is `JSON.stringify(message)` (else Python-style formatting). */
  compact: boolean
}

export const DEFAULT_CHANNELS: readonly string[] = ['prices', 'trades', 'orderbook', 'news']
export const DEFAULT_START_NS = 1763980800000000000n

/** Instrument, rough price, price decimals (tick = 10^-d), size decimals. */
const INSTRUMENTS: ReadonlyArray<readonly [string, number, number, number]> = [
  ['BTC-USD', 87000, 2, 5],
  ['ETH-USD', 2900, 2, 4],
  ['SOL-USD', 130, 3, 3],
  ['XRP-USD', 2.1, 4, 1],
  ['DOGE-USD', 0.15, 5, 0],
  ['ADA-USD', 0.42, 4, 1],
  ['LINK-USD', 13, 3, 2],
  ['AVAX-USD', 14, 3, 2],
]

const CHANNEL_WEIGHT: Record<string, number> = {prices: 0.55, trades: 0.3, orderbook: 0.12, news: 0.008}
const OTHER_WEIGHT = 0.1
const ZIPF_S = 1.1
const REPEAT_CHANNEL = 0.2
const SNAPSHOT_SHARE = 0.02
const BOOK_DEPTH = 5
const SHORT_SHARE = 0.8
const SHORT_MEAN = 0.4
const LONG_MEAN = (1 - SHORT_SHARE * SHORT_MEAN) / (1 - SHORT_SHARE)

const HEADLINES = [
  'Scheduled maintenance 02:00–02:30 UTC',
  'Trading resumed on all markets',
  'Nouvelle paire listée : SOL-EUR',
  '新規上場: ADA-JPY',
  'Margin requirements change → 5 %',
  'Withdrawals delayed — network congestion',
  'Größere Auszahlungen vorübergehend eingeschränkt',
  'Funding rate update ✅',
]

/** mulberry32 (src/util/prng.ts, the Yahoo tape's generator) on the seed mixed with 0x9e3779b9: floats in [0, 1). */
function tapeRandom(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`)
  return mulberry32((Math.trunc(seed) ^ 0x9e3779b9) >>> 0)
}

function weightedPicker(weights: number[], rnd: () => number): () => number {
  const cum: number[] = []
  let s = 0
  for (const w of weights) cum.push((s += w))
  return () => {
    const x = rnd() * s
    for (let i = 0; i < cum.length; i++) if (x < cum[i]) return i
    return cum.length - 1
  }
}

interface Instrument {
  symbol: string
  dec: number
  sizeDec: number
  ticks: number
  spread: number
  volume: number
  bids: Map<number, number>
  asks: Map<number, number>
  booked: boolean
}

const fixed = (v: number, d: number) => Number(v.toFixed(d))

/**
 * Python's json.dumps with its defaults: `", "` and `": "` separators and
 * ensure_ascii (every character outside space..~ escaped as \uXXXX, lowercase
 * hex). Written here because it is a formatting the synthetic tape imitates,
 * not something mdrec parses.
 */
export function pythonDumps(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    const s = JSON.stringify(v)
    if (typeof v !== 'string') return s
    return s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  }
  if (Array.isArray(v)) return `[${v.map(pythonDumps).join(', ')}]`
  return `{${Object.entries(v)
    .map(([k, x]) => `${pythonDumps(k)}: ${pythonDumps(x)}`)
    .join(', ')}}`
}

/** Generate `opts.frames` frames of a realistic, deterministic generic-channel tape. */
export function* syntheticGenericTape(opts: GenericTapeOptions): Generator<GenericTapeFrame> {
  const frames = opts.frames
  if (!Number.isInteger(frames) || frames < 0) throw new RangeError(`frames must be a non-negative integer, got ${frames}`)
  const meanGapMs = opts.meanGapMs ?? 5
  if (!(meanGapMs > 0) || !Number.isFinite(meanGapMs)) throw new RangeError(`meanGapMs must be > 0, got ${meanGapMs}`)
  const prettyShare = opts.prettyShare ?? 0.01
  if (!(prettyShare >= 0 && prettyShare <= 1)) throw new RangeError(`prettyShare must be in [0, 1], got ${prettyShare}`)
  const channels = opts.channels ?? [...DEFAULT_CHANNELS]
  if (channels.length === 0) throw new RangeError('channels must not be empty')
  if (new Set(channels).size !== channels.length) throw new RangeError('channels must be unique')
  const rnd = tapeRandom(opts.seed ?? 1)

  const instruments: Instrument[] = INSTRUMENTS.map(([symbol, price, dec, sizeDec]) => {
    const scale = 10 ** dec
    const ticks = Math.max(10, Math.round(price * (0.9 + 0.2 * rnd()) * scale))
    return {symbol, dec, sizeDec, ticks, spread: 1 + Math.floor(rnd() * 3), volume: fixed(price > 100 ? 5e3 * rnd() + 1e3 : 5e7 * rnd() + 1e6, 4), bids: new Map(), asks: new Map(), booked: false}
  })
  const pickInstrument = weightedPicker(instruments.map((_, k) => 1 / (k + 1) ** ZIPF_S), rnd)
  const pickChannel = weightedPicker(channels.map((c) => CHANNEL_WEIGHT[c] ?? OTHER_WEIGHT), rnd)
  let tradeId = 100_000_000 + Math.floor(rnd() * 1e6)
  let newsId = 1 + Math.floor(rnd() * 900)
  const seq = new Map<string, number>()
  const counter = new Map<string, number>()

  let t = opts.startNs ?? DEFAULT_START_NS
  let ch = -1
  const price = (ins: Instrument, ticks: number) => fixed(ticks / 10 ** ins.dec, ins.dec)
  const size = (ins: Instrument) => {
    const lots = [1, 1, 2, 5, 10, 25, 100][Math.floor(rnd() * 7)]
    const unit = ins.sizeDec === 0 ? 100 : 10 ** -Math.max(0, ins.sizeDec - 2)
    return fixed(lots * unit * (0.2 + rnd()), ins.sizeDec)
  }
  const walk = (ins: Instrument) => {
    const u = rnd()
    const step = u < 0.4 ? 0 : u < 0.8 ? 1 : u < 0.94 ? 2 : 3
    ins.ticks = Math.max(ins.spread + 1, ins.ticks + (rnd() < 0.5 ? -step : step))
  }
  const levels = (ins: Instrument, side: 'bids' | 'asks', n: number): Array<[number, number]> => {
    const book = ins[side]
    const out: Array<[number, number]> = []
    const best = side === 'bids' ? ins.ticks - ins.spread : ins.ticks + ins.spread
    for (let k = 0; k < n; k++) {
      const lvl = side === 'bids' ? best - k - Math.floor(rnd() * 2) : best + k + Math.floor(rnd() * 2)
      const remove = ins.booked && book.has(lvl) && rnd() < 0.15
      const s = remove ? 0 : size(ins)
      if (remove) book.delete(lvl)
      else book.set(lvl, s)
      out.push([price(ins, lvl), s])
    }
    return out
  }

  for (let i = 0; i < frames; i++) {
    if (i > 0) {
      const mean = rnd() < SHORT_SHARE ? SHORT_MEAN * meanGapMs : LONG_MEAN * meanGapMs
      const gapMs = -Math.log(1 - rnd()) * mean
      t += BigInt(Math.max(1000, Math.round(gapMs * 1e6)))
    }
    if (ch < 0 || rnd() >= REPEAT_CHANNEL) ch = pickChannel()
    const channel = channels[ch]
    const ins = instruments[pickInstrument()]
    walk(ins)
    const timestamp = Number(t / 1_000_000n) - Math.floor(rnd() * 4)
    let event: string
    let data: unknown
    let extra: Record<string, unknown> | null = null
    switch (channel) {
      case 'prices': {
        event = 'price_update'
        ins.volume = fixed(ins.volume + size(ins), 4)
        data = {symbol: ins.symbol, bid: price(ins, ins.ticks - ins.spread), ask: price(ins, ins.ticks + ins.spread), last: price(ins, ins.ticks), volume_24h: ins.volume}
        break
      }
      case 'trades': {
        event = 'trade'
        const buy = rnd() < 0.5
        data = {id: tradeId++, symbol: ins.symbol, price: price(ins, buy ? ins.ticks + ins.spread : ins.ticks - ins.spread), size: size(ins), side: buy ? 'buy' : 'sell'}
        break
      }
      case 'orderbook': {
        const snapshot = !ins.booked || rnd() < SNAPSHOT_SHARE
        event = snapshot ? 'orderbook_snapshot' : 'orderbook_update'
        if (snapshot) {
          ins.bids.clear()
          ins.asks.clear()
        }
        const n = snapshot ? BOOK_DEPTH : 1 + Math.floor(rnd() * 3)
        data = {symbol: ins.symbol, bids: levels(ins, 'bids', n), asks: levels(ins, 'asks', snapshot ? n : Math.floor(rnd() * 3))}
        ins.booked = true
        const s = (seq.get(channel) ?? 0) + 1
        seq.set(channel, s)
        extra = {seq: s}
        break
      }
      case 'news': {
        event = 'announcement'
        data = {
          id: `ann-${String(newsId++).padStart(6, '0')}`,
          title: HEADLINES[Math.floor(rnd() * HEADLINES.length)],
          symbols: [ins.symbol],
          severity: rnd() < 0.8 ? 'info' : 'warning',
        }
        break
      }
      default: {
        event = 'update'
        const n = (counter.get(channel) ?? 0) + 1
        counter.set(channel, n)
        data = {n, symbol: ins.symbol, value: price(ins, ins.ticks)}
      }
    }
    const message: Record<string, unknown> = {type: event, channel, data, timestamp, ...extra}
    const compact = rnd() >= prettyShare
    yield {recv_ts: t, channel, event, message, text: compact ? JSON.stringify(message) : pythonDumps(message), compact}
  }
}
