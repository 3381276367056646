/**
 * The Binance emulator's protocol: raw and combined endpoints, streams in
 * the URL, SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY /
 * GET_PROPERTY with ids echoed, Binance's error replies, the 1024-stream and
 * 5-messages-per-second limits, pings answered, REST errors and the depth
 * snapshot waiting for a symbol's first update.
 */
import {afterEach, describe, expect, it} from 'vitest'

import {BinanceServer, textMessage} from '../src/feeds/binance/server.js'
import {getJson, QueueClient} from './helpers/ws-client.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function server(o: ConstructorParameters<typeof Object>[0] = {}): Promise<BinanceServer> {
  const s = await BinanceServer.listen({symbols: ['BTCUSDT'], ...(o as object)})
  cleanups.push(() => s.close())
  return s
}

const TRADE = '{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.00000000","q":"2.00000000","T":1,"m":true,"M":true}'

describe('binance emulator', () => {
  it('serves the raw and combined endpoints, with streams named in the URL', async () => {
    const s = await server()
    const raw = await QueueClient.open(`${s.url(false)}/btcusdt@trade`, cleanups)
    const comb = await QueueClient.open(`${s.url(true)}?streams=btcusdt@trade/ethusdt@trade`, cleanups)
    const ccxtLike = await QueueClient.open(`${s.url(false)}/0`, cleanups) // not a stream: subscribes nothing
    await new Promise((r) => setTimeout(r, 50))
    s.publish(textMessage('btcusdt@trade', 'BTCUSDT', TRADE))
    expect(await raw.next()).toBe(TRADE)
    expect(await comb.next()).toBe(`{"stream":"btcusdt@trade","data":${TRADE}}`)
    await ccxtLike.quiet(100)
    comb.send({method: 'LIST_SUBSCRIPTIONS', id: 3})
    expect(await comb.next()).toBe('{"result":["btcusdt@trade","ethusdt@trade"],"id":3}')
  })

  it('SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS and properties, ids echoed as sent', async () => {
    const s = await server()
    const c = await QueueClient.open(s.url(false), cleanups)
    c.send({method: 'SUBSCRIBE', params: ['btcusdt@trade', 'btcusdt@depth@100ms'], id: 1})
    expect(await c.next()).toBe('{"result":null,"id":1}')
    c.send('{"method":"LIST_SUBSCRIPTIONS","id":"abc123"}')
    expect(await c.next()).toBe('{"result":["btcusdt@trade","btcusdt@depth@100ms"],"id":"abc123"}')
    c.send({method: 'UNSUBSCRIBE', params: ['btcusdt@depth@100ms'], id: 2})
    expect(await c.next()).toBe('{"result":null,"id":2}')
    c.send({method: 'GET_PROPERTY', params: ['combined'], id: 4})
    expect(await c.next()).toBe('{"result":false,"id":4}')
    await new Promise((r) => setTimeout(r, 1100)) // Binance allows 5 messages a second
    c.send({method: 'SET_PROPERTY', params: ['combined', true], id: 5})
    expect(await c.next()).toBe('{"result":null,"id":5}')
    s.publish(textMessage('btcusdt@trade', 'BTCUSDT', TRADE))
    expect(await c.next()).toBe(`{"stream":"btcusdt@trade","data":${TRADE}}`)
    c.send('{"method":"LIST_SUBSCRIPTIONS","id":18446744073709551615}') // beyond int64
    expect(await c.next()).toBe('{"error":{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"},"id":null}')
  })

  it("answers bad requests with Binance's error objects and keeps the subscriptions", async () => {
    const s = await server()
    const c = await QueueClient.open(s.url(true), cleanups)
    const cases: Array<[unknown, RegExp]> = [
      ['{"method":', /^\{"error":\{"code":3,"msg":"Invalid JSON: .*"\},"id":null\}$/],
      [{method: 'FOO', id: 1}, /^\{"error":\{"code":2,"msg":"Invalid request: unknown variant \\"FOO\\", expected one of SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY"\},"id":1\}$/],
      [{method: 'SUBSCRIBE', params: 'btcusdt@trade', id: 2}, /^\{"error":\{"code":2,"msg":"Invalid request: params must be an array of stream names"\},"id":2\}$/],
      [{method: 'SUBSCRIBE', params: ['BTCUSDT@trade'], id: 3}, /^\{"error":\{"code":2,"msg":"Invalid request: invalid stream name \\"BTCUSDT@trade\\""\},"id":3\}$/],
      [{method: 'SUBSCRIBE', params: [], id: {}}, /"msg":"Invalid request: request ID must be an unsigned integer"/],
      [{method: 'SET_PROPERTY', params: ['speed', true], id: 4}, /^\{"error":\{"code":0,"msg":"Unknown property"\},"id":4\}$/],
    ]
    for (const [req, want] of cases) {
      await new Promise((r) => setTimeout(r, 210)) // within 5 messages a second
      c.send(req)
      expect(await c.next()).toMatch(want)
    }
    expect(c.closed).toBeNull()
  })

  it('refuses a subscription past the stream limit, and disconnects a client sending more than 5 messages a second', async () => {
    const s = await server({maxStreams: 3})
    const c = await QueueClient.open(s.url(true), cleanups)
    c.send({method: 'SUBSCRIBE', params: ['a@trade', 'b@trade', 'c@trade', 'd@trade'], id: 1})
    expect(await c.next()).toBe('{"error":{"code":2,"msg":"Invalid request: too many streams: a connection listens to at most 3"},"id":1}')
    c.send({method: 'LIST_SUBSCRIPTIONS', id: 2})
    expect(await c.next()).toBe('{"result":[],"id":2}')
    for (let i = 0; i < 6; i++) c.send({method: 'LIST_SUBSCRIPTIONS', id: 10 + i})
    expect(await c.closedWith()).toEqual({code: 1008, reason: 'Too many messages'})
    // the default is Binance's 1024
    const s2 = await server()
    const d = await QueueClient.open(s2.url(true), cleanups)
    d.send({method: 'SUBSCRIBE', params: Array.from({length: 1025}, (_, i) => `s${i}@trade`), id: 1})
    expect(await d.next()).toMatch(/at most 1024/)
  })

  it('answers pings with pongs', async () => {
    const s = await server()
    const c = await QueueClient.open(s.url(true), cleanups)
    const pong = new Promise<Buffer>((resolve) => c.ws.once('pong', resolve))
    c.ws.ping('hello')
    expect(String(await pong)).toBe('hello')
  })

  it('REST: exchangeInfo, depth errors, and a snapshot that waits for the first update', async () => {
    const s = await server({snapshotWaitMs: 3000})
    const info = await getJson(`${s.restUrl()}/api/v3/exchangeInfo`)
    expect(info.body.symbols).toMatchObject([{symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT', status: 'TRADING'}])
    expect(await getJson(`${s.restUrl()}/api/v3/depth`)).toMatchObject({status: 400, body: {code: -1102}})
    expect(await getJson(`${s.restUrl()}/api/v3/depth?symbol=BTCUSDT&limit=x`)).toMatchObject({status: 400, body: {code: -1100}})
    expect(await getJson(`${s.restUrl()}/api/v3/nope`)).toMatchObject({status: 404})
    const pending = getJson(`${s.restUrl()}/api/v3/depth?symbol=BTCUSDT&limit=2`)
    await new Promise((r) => setTimeout(r, 100))
    const bids = '[["100.00","1.0"],["99.00","2.0"],["101.00","3.0"]]'
    s.publish(textMessage('btcusdt@depth', 'BTCUSDT', '{}', {U: 9007199254740993n, u: 9007199254740995n, bids, asks: '[["102.00","1.0"]]'}))
    const snap = await pending
    expect(snap.status).toBe(200)
    expect(snap.body).toEqual({lastUpdateId: 9007199254740995, bids: [['101.00', '3.0'], ['100.00', '1.0']], asks: [['102.00', '1.0']]})
    // older updates are ignored; a removal deletes the level
    s.publish(textMessage('btcusdt@depth', 'BTCUSDT', '{}', {U: 1n, u: 2n, bids: '[["1.00","1.0"]]', asks: '[]'}))
    s.publish(textMessage('btcusdt@depth', 'BTCUSDT', '{}', {U: 9007199254740996n, u: 9007199254740996n, bids: '[["101.00","0.00000000"]]', asks: '[]'}))
    const res = await fetch(`${s.restUrl()}/api/v3/depth?symbol=BTCUSDT`)
    expect(await res.text()).toBe('{"lastUpdateId":9007199254740996,"bids":[["100.00","1.0"],["99.00","2.0"]],"asks":[["102.00","1.0"]]}')
  })

  it('keeps at most maxBookLevels levels a side (the farthest go)', async () => {
    const s = await server({maxBookLevels: 2})
    const levels = (ps: number[]) => JSON.stringify(ps.map((p) => [`${p}.50`, '1.00']))
    s.publish(textMessage('btcusdt@depth', 'BTCUSDT', '{}', {U: 1n, u: 1n, bids: levels([9, 10, 8, 100]), asks: levels([200, 101, 150, 1000])}))
    const snap = await getJson(`${s.restUrl()}/api/v3/depth?symbol=BTCUSDT`)
    expect(snap.body).toEqual({lastUpdateId: 1, bids: [['100.50', '1.00'], ['10.50', '1.00']], asks: [['101.50', '1.00'], ['150.50', '1.00']]})
  })
})
