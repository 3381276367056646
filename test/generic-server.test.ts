import {request} from 'node:http'
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {GenericServer, type GenericServerOptions} from '../src/feeds/generic/server.js'
import {QueueClient} from './helpers/ws-client.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

async function server(opts: GenericServerOptions = {}): Promise<GenericServer> {
  const s = await GenericServer.listen(opts)
  cleanups.push(() => s.close())
  return s
}

/** A plain ws client that queues what it receives (test/helpers/ws-client.ts), terminated after each test. */
const Client = {open: (url: string) => QueueClient.open(url, cleanups)}

describe('generic emulator: requests and replies', () => {
  it('answers ping with pong echoing the timestamp exactly as sent', async () => {
    const s = await server()
    const c = await Client.open(s.url())
    c.send('{"type":"ping","timestamp":1763980800123}')
    expect(await c.next()).toBe('{"type":"pong","timestamp":1763980800123}')
    c.send({type: 'ping', timestamp: 'abc'})
    expect(await c.next()).toBe('{"type":"pong","timestamp":"abc"}')
    c.send({type: 'ping', timestamp: 1.5})
    expect(await c.next()).toBe('{"type":"pong","timestamp":1.5}')
    c.send({type: 'ping'})
    expect(await c.next()).toBe('{"type":"pong"}')
    // a pong from the client (answering in kind) gets no reply
    c.send({type: 'pong', timestamp: 1})
    await c.quiet()
  })

  it('confirms subscribe and unsubscribe; re-subscribing is harmless; broadcasts go to subscribers only', async () => {
    const s = await server()
    const subs: string[][] = []
    s.on('subscribe', (_c, added: string[]) => subs.push(added))
    const a = await Client.open(s.url())
    const b = await Client.open(s.url())
    a.send({type: 'subscribe', channel: 'prices'})
    expect(await a.next()).toBe('{"type":"subscription_result","channel":"prices","success":true}')
    a.send({type: 'subscribe', channel: 'prices'})
    expect(await a.next()).toBe('{"type":"subscription_result","channel":"prices","success":true}')
    b.send({type: 'subscribe', channel: 'trades'})
    expect(await b.next()).toBe('{"type":"subscription_result","channel":"trades","success":true}')
    expect(subs).toEqual([['prices'], [], ['trades']])

    expect(s.broadcast('price_update', 'prices', {p: 1}, 1763980800123)).toBe(1) // one stream for a, none for b
    expect(await a.next()).toBe('{"type":"price_update","channel":"prices","data":{"p":1},"timestamp":1763980800123}')
    expect(s.publish('trades', '{"type":"trade","channel":"trades","data":{},"timestamp":1}')).toBe(1)
    expect(await b.next()).toBe('{"type":"trade","channel":"trades","data":{},"timestamp":1}')
    expect(s.publish('news', '{}')).toBe(0)

    a.send({type: 'unsubscribe', channel: 'prices'})
    expect(await a.next()).toBe('{"type":"unsubscription_result","channel":"prices","success":true}')
    expect(s.broadcast('price_update', 'prices', {p: 2})).toBe(0)
    // unsubscribing again (or from a channel never subscribed) still succeeds: the client is not subscribed
    a.send({type: 'unsubscribe', channel: 'prices'})
    expect(await a.next()).toBe('{"type":"unsubscription_result","channel":"prices","success":true}')
    await a.quiet()
    await b.quiet()
  })

  it('sends the subscription result before any broadcast a subscribe listener starts', async () => {
    const s = await server()
    s.on('subscribe', (client) => s.send(client, '{"type":"t","channel":"c","data":1,"timestamp":1}'))
    const c = await Client.open(s.url())
    c.send({type: 'subscribe', channel: 'c'})
    expect(await c.next()).toBe('{"type":"subscription_result","channel":"c","success":true}')
    expect(await c.next()).toBe('{"type":"t","channel":"c","data":1,"timestamp":1}')
  })

  it('refuses unknown channels with success:false when given a channel list', async () => {
    const s = await server({channels: ['prices']})
    const c = await Client.open(s.url())
    c.send({type: 'subscribe', channel: 'nope'})
    expect(await c.nextJson()).toEqual({type: 'subscription_result', channel: 'nope', success: false, message: 'unknown channel'})
    expect(s.publish('nope', 'x')).toBe(0)
    c.send({type: 'subscribe', channel: 'prices'})
    expect(await c.nextJson()).toEqual({type: 'subscription_result', channel: 'prices', success: true})
    const p = await server({channels: (ch) => ch.startsWith('ok.')})
    const d = await Client.open(p.url())
    d.send({type: 'subscribe', channel: 'ok.1'})
    expect(await d.nextJson()).toMatchObject({success: true})
    d.send({type: 'subscribe', channel: 'bad'})
    expect(await d.nextJson()).toMatchObject({success: false})
  })

  it('answers malformed requests with an error message and keeps the connection', async () => {
    const s = await server()
    const c = await Client.open(s.url())
    const cases: Array<[string, string]> = [
      ['not json', 'bad JSON'],
      ['{"type":"subscribe"', 'bad JSON'],
      ['[1,2]', 'expected a JSON object, got an array'],
      ['"ping"', 'expected a JSON object, got a string'],
      ['null', 'expected a JSON object, got null'],
      ['{"channel":"prices"}', 'missing type'],
      ['{"type":7}', 'type must be a string, got a number'],
      ['{"type":"subscribe"}', 'missing channel'],
      ['{"type":"subscribe","channel":""}', 'missing channel'],
      ['{"type":"subscribe","channel":["a"]}', 'missing channel'],
      ['{"type":"unsubscribe"}', 'missing channel'],
      ['{"type":"hello"}', 'unknown type "hello"'],
    ]
    for (const [req, message] of cases) {
      c.send(req)
      expect(await c.nextJson(), req).toEqual({type: 'error', message})
    }
    // still open and working
    c.send({type: 'ping', timestamp: 1})
    expect(await c.next()).toBe('{"type":"pong","timestamp":1}')
    expect(c.closed).toBeNull()
  })

  it('closes with 1003 on a binary frame (text frames only)', async () => {
    const s = await server()
    const c = await Client.open(s.url())
    c.ws.send(Buffer.from('{"type":"ping","timestamp":1}'), {binary: true})
    expect(await c.closedWith()).toEqual({code: 1003, reason: 'text frames only'})
    expect(c.messages).toEqual([])
  })

  it('closes with 1009 on a message over the size limit (1 MiB by default, configurable)', async () => {
    const s = await server()
    const ok = await Client.open(s.url())
    const pad = (n: number) => JSON.stringify({type: 'ping', timestamp: 1, pad: 'x'.repeat(n - 38)})
    expect(pad(1024 * 1024).length).toBe(1024 * 1024)
    ok.send(pad(1024 * 1024)) // exactly at the limit: accepted
    expect(await ok.next()).toBe('{"type":"pong","timestamp":1}')
    const big = await Client.open(s.url())
    big.send(pad(1024 * 1024 + 1))
    expect((await big.closedWith()).code).toBe(1009)
    expect(big.messages).toEqual([])

    const small = await server({maxPayload: 100})
    const c = await Client.open(small.url())
    c.send(pad(100))
    expect(await c.next()).toBe('{"type":"pong","timestamp":1}')
    c.send(pad(101))
    expect((await c.closedWith()).code).toBe(1009)
  })

  it('closes a silent client with 1011 after the ping timeout, when one is set; pings keep a client open', async () => {
    const s = await server({pingTimeoutMs: 300})
    const silent = await Client.open(s.url())
    const pinging = await Client.open(s.url())
    const t0 = Date.now()
    const timer = setInterval(() => pinging.send({type: 'ping', timestamp: Date.now()}), 100)
    cleanups.push(() => clearInterval(timer))
    expect(await silent.closedWith(3000)).toEqual({code: 1011, reason: 'ping timeout'})
    const after = Date.now() - t0
    expect(after).toBeGreaterThanOrEqual(290)
    expect(after).toBeLessThan(1500)
    await new Promise((r) => setTimeout(r, 500))
    expect(pinging.closed).toBeNull()
    clearInterval(timer)
    expect((await pinging.closedWith(3000)).code).toBe(1011)
  })

  it('has no ping timeout by default and never pings on its own', async () => {
    const s = await server()
    const c = await Client.open(s.url())
    let wsPings = 0
    c.ws.on('ping', () => wsPings++)
    await c.quiet(700)
    expect(c.closed).toBeNull()
    expect(wsPings).toBe(0)
  })

  it('answers a plain HTTP request with 426 Upgrade Required', async () => {
    const s = await server()
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({host: '127.0.0.1', port: s.port, path: '/'}, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(426)
  })

  it('applies the slow-client policy: a client that stops reading is closed with 1013 (or its frames dropped)', async () => {
    for (const policy of ['disconnect', 'drop'] as const) {
      const s = await server({maxBufferedBytes: 64 * 1024, slowClient: policy})
      const c = await Client.open(s.url())
      c.send({type: 'subscribe', channel: 'x'})
      await c.next()
      const sc = [...s.clients][0]
      c.ws.pause() // stop reading
      const frame = JSON.stringify({type: 't', channel: 'x', data: 'y'.repeat(8192), timestamp: 1})
      let sent = 0
      for (let i = 0; i < 5000 && s.send(sc, frame); i++) sent++
      expect(sent).toBeLessThan(5000)
      if (policy === 'drop') {
        expect(sc.dropped).toBe(1)
        expect(s.send(sc, frame)).toBe(false)
        expect(sc.dropped).toBe(2)
        expect(sc.ws.readyState).toBe(WebSocket.OPEN)
      } else {
        expect(sc.ws.readyState).toBe(WebSocket.CLOSING)
      }
      c.ws.terminate()
    }
  })
})
