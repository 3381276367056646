/**
 * Compatibility: the ccxt npm package's Binance client (`ccxt.pro.binance`)
 * pointed at `mdrec replay fixtures/binance-spot.arrow` through the
 * constructor's `urls` (the spot WebSocket base and the public REST base),
 * with options that keep it to spot markets and off the sapi endpoints,
 * receives the fixture's trades, book tickers (watchBidsAsks) and a
 * synchronized order book (watchOrderBook: ccxt fetches /api/v3/depth and
 * applies the diff updates by U/u). ccxt runs offline: every REST call it
 * makes is checked to go to the replay.
 */
import ccxt from 'ccxt'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {RowView} from '../src/feeds/types.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {offline} from './helpers/ccxt.js'
import {startReplayProcess} from './helpers/replay-process.js'

const FIXTURE = new URL('../fixtures/binance-spot.arrow', import.meta.url).pathname

let stop: () => Promise<void> = async () => {}
let port = 0
const rows: RowView[] = []

beforeAll(async () => {
  for await (const r of readRows(await openRecording(FIXTURE))) rows.push(r)
  ;({port, stop} = await startReplayProcess(FIXTURE, ['--speed', '1'], /ws:\/\/127\.0\.0\.1:(\d+)\/stream/))
}, 30_000)

afterAll(async () => {
  await stop()
})

/** The book after every recorded diff update of `symbol` up to update id `u`, as [price, qty] numbers sorted as ccxt sorts them. */
function bookAt(symbol: string, u: bigint): {bids: number[][]; asks: number[][]} {
  const bids = new Map<string, string>()
  const asks = new Map<string, string>()
  for (const r of rows) {
    if (r.symbol !== symbol || r.fields.event !== 'depthUpdate' || (r.fields.last_update_id as bigint) > u) continue
    for (const [m, text] of [[bids, r.fields.bids], [asks, r.fields.asks]] as const) {
      for (const [p, q] of JSON.parse(text as string) as string[][]) if (Number(q) === 0) m.delete(p); else m.set(p, q)
    }
  }
  const side = (m: Map<string, string>, desc: boolean) => [...m].map(([p, q]) => [Number(p), Number(q)]).sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0]))
  return {bids: side(bids, true), asks: side(asks, false)}
}

describe('ccxt.pro.binance against mdrec replay of fixtures/binance-spot.arrow', () => {
  it('loads markets from the replay only, and receives the recorded trades, book tickers and a synchronized order book', async () => {
    const base = `http://127.0.0.1:${port}`
    const ex = new ccxt.pro.binance({
      urls: {api: {public: `${base}/api/v3`, ws: {spot: `ws://127.0.0.1:${port}/ws`}}},
      // spot only, no margin (sapi) calls: what a client without keys needs
      options: {fetchMarkets: {types: ['spot']}, fetchMargins: false, fetchCurrencies: false},
    })
    const fetched = offline(ex, base)
    try {
      // ccxt needs its proxy agent loaded for plain ws:// URLs
      await (ex as unknown as {loadHttpProxyAgent?: () => Promise<unknown>}).loadHttpProxyAgent?.()
      await ex.loadMarkets()
      expect(fetched).toEqual([`${base}/api/v3/exchangeInfo`])
      expect(ex.symbols).toEqual(['BTC/USDT', 'ETH/USDT'])

      // trades: ids, prices, amounts, sides and times as recorded (prices compared as the recorded decimal strings)
      const trades = rows.filter((r) => r.kind === 'trade' && r.fields.event === 'trade' && r.symbol === 'BTCUSDT')
      const seen = new Set<string>()
      for (let k = 0; k < 3; k++) {
        for (const tr of await ex.watchTrades('BTC/USDT')) {
          const row = trades.find((r) => String(r.fields.trade_id) === tr.id)
          expect(row, `trade ${tr.id}`).toBeDefined()
          expect(tr.info.p).toBe(row!.fields.price)
          expect(tr.info.q).toBe(row!.fields.qty)
          expect(tr.price).toBe(Number(row!.fields.price))
          expect(tr.amount).toBe(Number(row!.fields.qty))
          expect(tr.side).toBe(row!.fields.buyer_maker ? 'sell' : 'buy')
          expect(BigInt(tr.timestamp!)).toBe(row!.fields.trade_time)
          seen.add(tr.id!)
        }
      }
      expect(seen.size).toBeGreaterThan(0)

      // book tickers (ccxt's watchBidsAsks is the bookTicker stream)
      const quotes = rows.filter((r) => r.kind === 'quote' && r.symbol === 'BTCUSDT')
      for (let k = 0; k < 3; k++) {
        const t = (await ex.watchBidsAsks(['BTC/USDT']))['BTC/USDT']
        const row = quotes.find((r) => String(r.fields.last_update_id) === String(t.info.u))
        expect(row, `bookTicker ${t.info.u}`).toBeDefined()
        expect([t.bid, t.bidVolume, t.ask, t.askVolume]).toEqual([row!.fields.bid_price, row!.fields.bid_qty, row!.fields.ask_price, row!.fields.ask_qty].map(Number))
      }

      // order book: the REST snapshot and the diff updates ccxt applied give the recorded book at its nonce
      for (let k = 0; k < 3; k++) {
        const ob = await ex.watchOrderBook('BTC/USDT')
        const nonce = BigInt(ob.nonce!)
        expect(rows.some((r) => r.fields.event === 'depthUpdate' && r.fields.last_update_id === nonce)).toBe(true)
        const want = bookAt('BTCUSDT', nonce)
        expect(ob.bids).toEqual(want.bids)
        expect(ob.asks).toEqual(want.asks)
        expect(ob.bids.length).toBeGreaterThan(10)
      }
      expect(fetched.filter((u) => !u.includes('/api/v3/depth?symbol=BTCUSDT'))).toEqual([`${base}/api/v3/exchangeInfo`])
    } finally {
      await ex.close()
    }
  }, 60_000)
})
