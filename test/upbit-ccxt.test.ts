/**
 * Compatibility: the ccxt npm package's Upbit client (`ccxt.pro.upbit`)
 * pointed at `mdrec replay` of the Upbit fixture, through the constructor's
 * `urls` option (the WebSocket and the REST base for GET /v1/market/all),
 * receives the fixture's tickers, trades and order books. ccxt runs offline:
 * every REST call it makes is checked to go to the replay.
 */
import ccxt from 'ccxt'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {RowView} from '../src/feeds/types.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {offline} from './helpers/ccxt.js'
import {startReplayProcess} from './helpers/replay-process.js'

const FIXTURE = new URL('../fixtures/upbit-krw.arrow', import.meta.url).pathname

let stop: () => Promise<void> = async () => {}
let port = 0
let rows: RowView[] = []

beforeAll(async () => {
  for await (const r of readRows(await openRecording(FIXTURE))) rows.push(r)
  ;({port, stop} = await startReplayProcess(FIXTURE, ['--speed', '1'], /ws:\/\/127\.0\.0\.1:(\d+)\/websocket\/v1/))
}, 30_000)

afterAll(async () => {
  await stop()
})

describe('ccxt.pro.upbit against mdrec replay of fixtures/upbit-krw.arrow', () => {
  it('loads markets from the replay only, and receives the recorded tickers, trades and order books', async () => {
    const base = `http://127.0.0.1:${port}`
    const ex = new ccxt.pro.upbit({urls: {api: {public: base, private: base, ws: `ws://127.0.0.1:${port}/websocket/v1`}}})
    const fetched = offline(ex, base)
    try {
      // ccxt needs its proxy agent loaded for plain ws:// in some versions; harmless otherwise
      await (ex as unknown as {loadHttpProxyAgent?: () => Promise<unknown>}).loadHttpProxyAgent?.()
      await ex.loadMarkets()
      expect(fetched).toEqual([`${base}/v1/market/all`])
      expect(ex.symbols).toEqual(['BTC/KRW', 'ETH/KRW'])

      const byKind = (kind: string, code: string) => rows.filter((r) => r.kind === kind && r.symbol === code)

      // tickers: every one ccxt sees is a recorded one, values as recorded
      const tickers = byKind('tick', 'KRW-BTC')
      for (let k = 0; k < 3; k++) {
        const t = await ex.watchTicker('BTC/KRW')
        const row = tickers.find((r) => r.fields.trade_timestamp === BigInt(t.timestamp!) && r.fields.trade_price === t.last)
        expect(row, `ticker ${t.timestamp} ${t.last}`).toBeDefined()
        expect(t.open).toBe(row!.fields.opening_price)
        expect(t.high).toBe(row!.fields.high_price)
        expect(t.low).toBe(row!.fields.low_price)
        expect(t.baseVolume).toBe(row!.fields.acc_trade_volume_24h)
        expect(t.quoteVolume).toBe(row!.fields.acc_trade_price_24h)
        expect(t.percentage).toBeCloseTo((row!.fields.signed_change_rate as number) * 100, 8)
        if (k === 0) expect(t.info.stream_type).toBe('SNAPSHOT')
      }

      // trades: ids are the exact sequential_id (beyond 2^53), prices, amounts and sides as recorded
      const trades = byKind('trade', 'KRW-BTC')
      const seen = new Set<string>()
      for (let k = 0; k < 3; k++) {
        const list = await ex.watchTrades('BTC/KRW')
        for (const tr of list) {
          const row = trades.find((r) => String(r.fields.sequential_id) === tr.id)
          expect(row, `trade ${tr.id}`).toBeDefined()
          expect(tr.price).toBe(row!.fields.trade_price)
          expect(tr.amount).toBe(row!.fields.trade_volume)
          expect(tr.side).toBe(row!.fields.ask_bid === 'ASK' ? 'sell' : 'buy')
          expect(BigInt(tr.timestamp!)).toBe(row!.exch_ts)
          seen.add(tr.id!)
        }
      }
      expect(seen.size).toBeGreaterThan(0)

      // order books: 15 levels per side, as recorded
      const books = byKind('orderbook', 'KRW-BTC')
      for (let k = 0; k < 2; k++) {
        const ob = await ex.watchOrderBook('BTC/KRW')
        const row = books.find((r) => r.exch_ts === BigInt(ob.timestamp!))
        expect(row, `book ${ob.timestamp}`).toBeDefined()
        const units = row!.fields.orderbook_units as Array<Record<string, number>>
        expect(ob.asks).toEqual(units.map((u) => [u.ask_price, u.ask_size]))
        expect(ob.bids).toEqual(units.map((u) => [u.bid_price, u.bid_size]))
      }

      // the other market on the same connection
      const eth = await ex.watchTicker('ETH/KRW')
      expect(byKind('tick', 'KRW-ETH').some((r) => r.fields.trade_price === eth.last && r.fields.trade_timestamp === BigInt(eth.timestamp!))).toBe(true)
      expect(fetched).toEqual([`${base}/v1/market/all`])
    } finally {
      await ex.close()
    }
  }, 60_000)
})
