import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {signUpbitToken} from '../src/feeds/upbit/auth.js'
import {encodeMessage, type UpbitRow} from '../src/feeds/upbit/codec.js'
import {groupLevels, rowMessage, UpbitServer, type UpbitServerOptions} from '../src/feeds/upbit/server.js'
import {syntheticUpbitTape, type UpbitTapeFrame} from '../src/feeds/upbit/synthetic.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

interface Got {
  text: string
  binary: boolean
  json: Record<string, unknown> | unknown[]
}

interface TestClient {
  ws: WebSocket
  got: Got[]
  send(msg: unknown): void
  /** Wait until `n` frames (in total) have arrived; bounded. */
  until(n: number, timeoutMs?: number): Promise<Got[]>
  closed: Promise<number>
}

async function server(opts: UpbitServerOptions = {}): Promise<UpbitServer> {
  const s = await UpbitServer.listen({markets: ['KRW-BTC', 'KRW-ETH'], ...opts})
  cleanups.push(() => s.close())
  return s
}

async function connect(url: string, headers?: Record<string, string>): Promise<TestClient> {
  const ws = new WebSocket(url, {perMessageDeflate: false, headers})
  const got: Got[] = []
  const waiters: Array<() => void> = []
  ws.on('message', (data: Buffer, isBinary) => {
    const text = data.toString('utf8')
    let json: Got['json'] = {}
    try {
      json = JSON.parse(text)
    } catch {
      // kept as text
    }
    got.push({text, binary: isBinary, json})
    for (const w of waiters.splice(0)) w()
  })
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  cleanups.push(() => {
    ws.terminate()
  })
  return {
    ws,
    got,
    closed,
    send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    async until(n, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs
      while (got.length < n) {
        const left = end - Date.now()
        if (left <= 0) throw new Error(`timed out with ${got.length} of ${n} frames: ${got.map((g) => g.text).join('\n')}`)
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left)
          waiters.push(() => {
            clearTimeout(t)
            resolve()
          })
        })
      }
      return got
    },
  }
}

function tape(frames = 400, codes = ['KRW-BTC', 'KRW-ETH']): UpbitTapeFrame[] {
  return [...syntheticUpbitTape({frames, seed: 7, codes})]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Round trip to the server: the request has been handled when the LIST_SUBSCRIPTIONS reply is back. */
async function settle(c: TestClient): Promise<void> {
  const n = c.got.length
  c.send({method: 'LIST_SUBSCRIPTIONS'})
  await c.until(n + 1)
}

describe('upbit emulator: requests and errors', () => {
  it('answers each documented bad request with its error object (binary frames) and keeps the previous set', async () => {
    const s = await server()
    const c = await connect(s.url())
    const bad: Array<[unknown, string, string]> = [
      ['not json', 'WRONG_FORMAT', 'Requested using wrong format'],
      [{ticket: 'x'}, 'WRONG_FORMAT', 'Requested using wrong format'],
      [[{type: 'ticker', codes: ['KRW-BTC']}], 'NO_TICKET', 'Ticket field must be contained.'],
      [[{ticket: ''}, {type: 'ticker', codes: ['KRW-BTC']}], 'NO_TICKET', 'Ticket field must be contained.'],
      [[{ticket: 't'}], 'NO_TYPE', 'type field not exists.'],
      [[{ticket: 't'}, {type: 'ticker'}], 'NO_CODES', 'codes field not exists.'],
      [[{ticket: 't'}, {type: 'ticker', codes: []}], 'INVALID_PARAM', 'codes field is empty.'],
      [[{ticket: 't'}, {type: 'tickers', codes: ['KRW-BTC']}], 'INVALID_PARAM', 'type tickers is not supported.'],
      [[{ticket: 't'}, {type: 'ticker', codes: ['KRW-BTC']}, {format: 'XML'}], 'INVALID_PARAM', 'format XML is not supported.'],
      [[{ticket: 't'}, {type: 'orderbook', codes: ['KRW-BTC.7']}], 'INVALID_PARAM', 'codes KRW-BTC.7 is not supported.'],
      [[{ticket: 't'}, {type: 'myOrder'}], 'INVALID_AUTH', 'Invalid authentication.'],
    ]
    c.send([{ticket: 'first'}, {type: 'ticker', codes: ['KRW-ETH']}])
    for (const [req, name, message] of bad) c.send(req)
    const got = await c.until(bad.length)
    got.forEach((g, i) => {
      expect(g.binary).toBe(true)
      expect(g.json, JSON.stringify(bad[i][0])).toEqual({error: {name: bad[i][1], message: bad[i][2]}})
    })
    c.send([{ticket: 'q'}, {method: 'LIST_SUBSCRIPTIONS'}])
    const [list] = (await c.until(bad.length + 1)).slice(-1)
    expect(list.json).toEqual({method: 'LIST_SUBSCRIPTIONS', result: [{type: 'ticker', codes: ['KRW-ETH']}], ticket: 'q'})
  })

  it('accepts myOrder on the private endpoint with a well-formed Bearer token', async () => {
    const s = await server()
    // (malformed tokens are refused with HTTP 401: test/upbit-private.test.ts)
    const c = await connect(`ws://127.0.0.1:${s.port}/websocket/v1/private`, {authorization: `Bearer ${signUpbitToken('access-key', 'secret-key')}`})
    c.send([{ticket: 't'}, {type: 'myOrder'}])
    await settle(c)
    expect(c.got[0].json).toMatchObject({method: 'LIST_SUBSCRIPTIONS'})
  })

  it('LIST_SUBSCRIPTIONS lists types, requested codes (with depth) and the orderbook level; a new request replaces the set', async () => {
    const s = await server()
    const c = await connect(s.url())
    c.send([{ticket: 'one'}, {type: 'ticker', codes: ['KRW-BTC', 'KRW-ETH']}, {type: 'orderbook', codes: ['KRW-BTC.5'], level: 10000}])
    c.send({method: 'LIST_SUBSCRIPTIONS'})
    c.send([{ticket: 'two'}, {type: 'trade', codes: ['KRW-ETH']}])
    c.send({method: 'LIST_SUBSCRIPTIONS'})
    const got = await c.until(2)
    expect(got[0].json).toEqual({
      method: 'LIST_SUBSCRIPTIONS',
      result: [
        {type: 'ticker', codes: ['KRW-BTC', 'KRW-ETH']},
        {type: 'orderbook', codes: ['KRW-BTC.5'], level: 10000},
      ],
      ticket: 'one',
    })
    expect(got[1].json).toEqual({method: 'LIST_SUBSCRIPTIONS', result: [{type: 'trade', codes: ['KRW-ETH']}], ticket: 'two'})
  })

  it('text PING: {"status":"UP"} at once and then every interval; protocol pings get pongs', async () => {
    const s = await server({statusIntervalMs: 100})
    const c = await connect(s.url())
    const pong = new Promise<Buffer>((resolve) => c.ws.once('pong', resolve))
    c.ws.ping(Buffer.from('hi'))
    expect((await pong).toString()).toBe('hi')
    c.send('PING')
    const t0 = Date.now()
    const got = await c.until(3, 3000)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150)
    for (const g of got) {
      expect(g.text).toBe('{"status":"UP"}')
      expect(g.binary).toBe(true)
    }
  })

  it('closes a connection idle for idleTimeoutMs', async () => {
    const s = await server({idleTimeoutMs: 300})
    const c = await connect(s.url())
    const t0 = Date.now()
    const code = await Promise.race([c.closed, sleep(5000).then(() => -1)])
    expect(code).toBe(1000)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250)
  })

  it('serves GET /v1/market/all (and ?isDetails=true) from its markets', async () => {
    const s = await server()
    const all = await (await fetch(`${s.restUrl()}/v1/market/all`)).json()
    expect(all).toEqual([
      {market: 'KRW-BTC', korean_name: '비트코인', english_name: 'Bitcoin'},
      {market: 'KRW-ETH', korean_name: '이더리움', english_name: 'Ethereum'},
    ])
    const details = (await (await fetch(`${s.restUrl()}/v1/market/all?isDetails=true`)).json()) as Array<Record<string, unknown>>
    expect(details[0]).toMatchObject({market: 'KRW-BTC', market_event: {warning: false}})
    const missing = await fetch(`${s.restUrl()}/v1/ticker`)
    expect(missing.status).toBe(404)
  })
})

describe('upbit emulator: data', () => {
  it('routes by (type, code), marks each pair\'s first message SNAPSHOT, then sends as recorded, in binary frames', async () => {
    const s = await server()
    const c = await connect(s.url())
    c.send([{ticket: 't'}, {type: 'trade', codes: ['KRW-BTC']}, {type: 'ticker', codes: ['KRW-ETH']}])
    await settle(c)
    const frames = tape()
    const want: string[] = []
    for (const f of frames) {
      s.publish(rowMessage(f.row))
      const t = f.row.fields.type
      if ((t === 'trade' && f.row.symbol === 'KRW-BTC') || (t === 'ticker' && f.row.symbol === 'KRW-ETH')) want.push(encodeMessage(f.row, false))
    }
    const got = (await c.until(1 + want.length)).slice(1)
    expect(got.every((g) => g.binary)).toBe(true)
    expect(got.length).toBe(want.length)
    const firstOf = new Set<string>()
    got.forEach((g, i) => {
      const j = g.json as Record<string, unknown>
      const pair = `${j.type}|${j.code}`
      if (!firstOf.has(pair)) {
        firstOf.add(pair)
        expect(j.stream_type).toBe('SNAPSHOT')
        expect(g.text).toBe(want[i].replace('"stream_type":"REALTIME"', '"stream_type":"SNAPSHOT"'))
      } else expect(g.text).toBe(want[i])
    })
    expect(firstOf).toEqual(new Set(['trade|KRW-BTC', 'ticker|KRW-ETH']))
  })

  it('serves SIMPLE, JSON_LIST and SIMPLE_LIST', async () => {
    const s = await server()
    const frames = tape(60).filter((f) => f.row.symbol === 'KRW-BTC' && f.row.fields.type === 'trade').slice(0, 3)
    for (const format of ['SIMPLE', 'JSON_LIST', 'SIMPLE_LIST']) {
      const c = await connect(s.url())
      c.send([{ticket: 't'}, {type: 'trade', codes: ['KRW-BTC'], is_only_realtime: true}, {format}])
      await settle(c)
      for (const f of frames) s.publish(rowMessage(f.row))
      const got = (await c.until(1 + frames.length)).slice(1)
      got.forEach((g, i) => {
        const simple = format.startsWith('SIMPLE')
        const one = encodeMessage(frames[i].row, false, {simple})
        expect(g.text).toBe(format.endsWith('LIST') ? `[${one}]` : one)
      })
      const first = (Array.isArray(got[0].json) ? got[0].json[0] : got[0].json) as Record<string, unknown>
      expect(Array.isArray(got[0].json)).toBe(format.endsWith('LIST'))
      expect(first[format.startsWith('SIMPLE') ? 'ty' : 'type']).toBe('trade')
      c.ws.close()
    }
  })

  it('is_only_snapshot / isOnlySnapshot: one message per pair; is_only_realtime / isOnlyRealtime: no snapshot', async () => {
    const s = await server()
    const frames = tape(400)
    const spellings = [
      {type: 'trade', codes: ['KRW-BTC'], is_only_snapshot: true},
      {type: 'trade', codes: ['KRW-BTC'], isOnlySnapshot: true},
      {type: 'trade', codes: ['KRW-BTC'], is_only_realtime: true},
      {type: 'trade', codes: ['KRW-BTC'], isOnlyRealtime: true},
    ]
    const clients: TestClient[] = []
    for (const sub of spellings) {
      const c = await connect(s.url())
      c.send([{ticket: 't'}, sub])
      await settle(c)
      clients.push(c)
    }
    const n = frames.filter((f) => f.row.symbol === 'KRW-BTC' && f.row.fields.type === 'trade').length
    for (const f of frames) s.publish(rowMessage(f.row))
    await clients[2].until(1 + n)
    await clients[3].until(1 + n)
    await sleep(100)
    for (const c of clients.slice(0, 2)) {
      expect(c.got.length).toBe(2)
      expect((c.got[1].json as Record<string, unknown>).stream_type).toBe('SNAPSHOT')
    }
    for (const c of clients.slice(2)) {
      expect(c.got.length).toBe(1 + n)
      expect(c.got.slice(1).every((g) => (g.json as Record<string, unknown>).stream_type === 'REALTIME')).toBe(true)
    }
  })

  it('a later request gets the latest message of each new pair at once as its snapshot', async () => {
    const s = await server()
    const c = await connect(s.url())
    c.send([{ticket: 't'}, {type: 'trade', codes: ['KRW-BTC']}])
    await settle(c)
    const frames = tape(300)
    for (const f of frames) s.publish(rowMessage(f.row))
    const lastTicker = frames.filter((f) => f.row.symbol === 'KRW-BTC' && f.row.fields.type === 'ticker').at(-1)!
    const trades = frames.filter((f) => f.row.symbol === 'KRW-BTC' && f.row.fields.type === 'trade').length
    await c.until(1 + trades)
    c.send([{ticket: 't2'}, {type: 'trade', codes: ['KRW-BTC']}, {type: 'ticker', codes: ['KRW-BTC']}])
    const got = await c.until(1 + trades + 2)
    const snaps = got.slice(1 + trades)
    const ticker = snaps.find((g) => (g.json as Record<string, unknown>).type === 'ticker')!
    expect(ticker.text).toBe(encodeMessage(lastTicker.row, false).replace('"stream_type":"REALTIME"', '"stream_type":"SNAPSHOT"'))
    expect(snaps.every((g) => (g.json as Record<string, unknown>).stream_type === 'SNAPSHOT')).toBe(true)
  })

  it('cuts order books to the requested depth (CODE.N) and groups them by level', async () => {
    const s = await server()
    const book = tape(200).find((f) => f.row.fields.type === 'orderbook' && f.row.symbol === 'KRW-BTC')!
    const units = book.row.fields.orderbook_units as Array<Record<string, number>>
    expect(units).toHaveLength(15)
    const c5 = await connect(s.url())
    c5.send([{ticket: 't'}, {type: 'orderbook', codes: ['KRW-BTC.5']}])
    const c1 = await connect(s.url())
    c1.send([{ticket: 't'}, {type: 'orderbook', codes: ['KRW-BTC.1']}, {format: 'SIMPLE'}])
    const cl = await connect(s.url())
    cl.send([{ticket: 't'}, {type: 'orderbook', codes: ['KRW-BTC'], level: 10000}])
    for (const c of [c5, c1, cl]) await settle(c)
    s.publish(rowMessage(book.row))
    const b5 = (await c5.until(2))[1].json as Record<string, unknown>
    expect(b5.orderbook_units).toEqual(units.slice(0, 5))
    const b1 = (await c1.until(2))[1].json as Record<string, unknown>
    expect(b1.obu).toEqual([{ap: units[0].ask_price, bp: units[0].bid_price, as: units[0].ask_size, bs: units[0].bid_size}])
    const bl = (await cl.until(2))[1].json as Record<string, unknown>
    expect(bl.level).toBe(10000)
    const grouped = bl.orderbook_units as Array<Record<string, number>>
    expect(grouped).toEqual(groupLevels(units, 10000))
    for (const u of grouped) {
      expect(u.ask_price % 10000).toBe(0)
      expect(u.bid_price % 10000).toBe(0)
    }
    const sum = (k: string) => Math.round(units.reduce((a, u) => a + u[k], 0) * 1e8) / 1e8
    expect(Math.round(grouped.reduce((a, u) => a + u.ask_size, 0) * 1e8) / 1e8).toBe(sum('ask_size'))
  })

  it('a client that stops reading is closed with 1013', async () => {
    const s = await server({maxBufferedBytes: 64 * 1024})
    const slow = await connect(s.url())
    slow.send([{ticket: 't'}, {type: 'orderbook', codes: ['KRW-BTC']}])
    await settle(slow)
    slow.ws.pause()
    ;(slow.ws as unknown as {_socket: {pause(): void}})._socket.pause()
    const row = tape(100).find((f) => f.row.fields.type === 'orderbook')!.row as UpbitRow
    const msg = rowMessage(row)
    let closedBySlow = false
    s.once('slow', () => {
      closedBySlow = true
    })
    for (let i = 0; i < 20_000 && !closedBySlow; i++) {
      s.publish(msg)
      if (i % 200 === 0) await sleep(1)
    }
    expect(closedBySlow).toBe(true)
  })
})
