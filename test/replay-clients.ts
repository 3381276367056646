/**
 * Clients that behave like the ones people use, for the replay tests: they
 * subscribe in one message or spread over several a few ms apart (yfinance
 * one symbol per message, ccxt ticker then ticker+trade, KIS one registration
 * per message, generic one channel per message), and collect the data frames
 * they receive until the replay closes the connection.
 */
import {fileURLToPath} from 'node:url'
import {WebSocket} from 'ws'

import {requestText} from '../src/feeds/kis/codec.js'
import {postApproval} from '../src/feeds/kis/probe.js'
import type {ReplayHandle} from '../src/replay/engine.js'

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

export interface FeedCase {
  feed: 'yahoo' | 'upbit' | 'kis' | 'generic'
  file: string
  /** The subscribe messages, spread over several (each a complete message of the feed's protocol). */
  spread(h: ReplayHandle): Promise<string[]>
  /** The same subscriptions in as few messages as the protocol allows. */
  atOnce(h: ReplayHandle): Promise<string[]>
  /** Whether a received frame is recorded data (not an ack or keep-alive). */
  isData(frame: string): boolean
}

const KIS_TYPES = ['H0STCNT0', 'H0STASP0']
const KIS_KEYS = ['005930', '000660', '035420', '005380']

let kisApp = 0
/** An approval key of a fresh app key (the emulator allows one session per app key, like KIS). */
async function kisApproval(h: ReplayHandle): Promise<string> {
  const appkey = `replay-test-app-key-${String(kisApp++ % 1000).padStart(3, '0')}`
  const {json} = await postApproval(`http://127.0.0.1:${h.port}`, {grant_type: 'client_credentials', appkey, secretkey: 'replay-test-secret-0000'})
  return json.approval_key as string
}

const BINANCE_STREAMS = ['btcusdt@trade', 'btcusdt@bookTicker', 'ethusdt@trade', 'btcusdt@depth@100ms']

export const CASES: FeedCase[] = [
  {
    feed: 'yahoo',
    file: fixture('yahoo-us-equities.arrow'),
    // yfinance: one more symbol per message
    spread: async () => ['NVDA', 'TSLA', 'AAPL', 'MSFT'].map((_, i, a) => JSON.stringify({subscribe: a.slice(0, i + 1)})),
    atOnce: async () => [JSON.stringify({subscribe: ['NVDA', 'TSLA', 'AAPL', 'MSFT']})],
    isData: () => true,
  },
  {
    feed: 'upbit',
    file: fixture('upbit-krw.arrow'),
    // ccxt: watchTicker, then watchTrades re-sends the whole set
    spread: async () => [
      JSON.stringify([{ticket: 'ccxt'}, {type: 'ticker', codes: ['KRW-BTC']}]),
      JSON.stringify([{ticket: 'ccxt'}, {type: 'ticker', codes: ['KRW-BTC']}, {type: 'trade', codes: ['KRW-BTC']}]),
    ],
    atOnce: async () => [JSON.stringify([{ticket: 'ccxt'}, {type: 'ticker', codes: ['KRW-BTC']}, {type: 'trade', codes: ['KRW-BTC']}])],
    isData: () => true,
  },
  {
    feed: 'kis',
    file: fixture('kis-krx.arrow'),
    spread: async (h) => {
      const key = await kisApproval(h)
      return KIS_KEYS.flatMap((k) => KIS_TYPES.map((t) => requestText(key, '1', t, k)))
    },
    // KIS has one registration per message: "at once" is all of them back to back
    atOnce: async (h) => {
      const key = await kisApproval(h)
      return KIS_KEYS.flatMap((k) => KIS_TYPES.map((t) => requestText(key, '1', t, k)))
    },
    isData: (f) => f.startsWith('0|') || f.startsWith('1|'),
  },
  {
    feed: 'generic',
    file: fixture('generic-channels.arrow'),
    spread: async () => ['prices', 'trades', 'orderbook', 'news'].map((channel) => JSON.stringify({type: 'subscribe', channel})),
    atOnce: async () => ['prices', 'trades', 'orderbook', 'news'].map((channel) => JSON.stringify({type: 'subscribe', channel})),
    isData: (f) => !f.startsWith('{"type":"subscription_result"') && !f.startsWith('{"type":"pong"'),
  },
  {
    feed: 'binance',
    file: fixture('binance-spot.arrow'),
    // ccxt: one SUBSCRIBE per watch call (trades, then bid/ask, then the book), each with its own id
    spread: async () => BINANCE_STREAMS.map((stream, i) => JSON.stringify({method: 'SUBSCRIBE', params: [stream], id: i + 1})),
    atOnce: async () => [JSON.stringify({method: 'SUBSCRIBE', params: BINANCE_STREAMS, id: 1})],
    isData: (f) => !f.startsWith('{"result"') && !f.startsWith('{"error"'),
  },
]

/**
 * Connect to `url`, send `messages` `gapMs` apart (0: all in one go), and
 * collect the data frames (text, or binary as latin1) until the server closes
 * the connection; rejects after `timeoutMs`.
 */
export function collect(url: string, messages: string[], gapMs: number, isData: (f: string) => boolean, timeoutMs = 20_000): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    const ws = new WebSocket(url)
    const got: string[] = []
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`no close from ${url} within ${timeoutMs} ms (${got.length} frames)`))
    }, timeoutMs)
    ws.on('message', (data, binary) => {
      const f = binary ? (data as Buffer).toString('latin1') : String(data)
      if (isData(f)) got.push(f)
    })
    ws.on('open', async () => {
      for (let i = 0; i < messages.length; i++) {
        if (i > 0 && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs))
        if (ws.readyState === WebSocket.OPEN) ws.send(messages[i])
      }
    })
    ws.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    ws.on('close', () => {
      clearTimeout(timer)
      resolve(got)
    })
  })
}

/** Poll `cond` every 10 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
