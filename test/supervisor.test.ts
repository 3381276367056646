import {afterEach, describe, expect, it} from 'vitest'

import {YahooServer} from '../src/feeds/yahoo/server.js'
import {ConnectionSupervisor, type GapEvent} from '../src/record/supervisor.js'
import {sleep} from './helpers/feed.js'

const stops: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const s of stops.splice(0)) await s()
})

describe('connection supervisor', () => {
  it('re-sends the subscription as a keep-alive, harmlessly', async () => {
    const server = await YahooServer.listen()
    stops.push(() => server.close())
    let subscribes = 0
    server.on('subscribe', () => subscribes++)
    const sub = JSON.stringify({subscribe: ['AAPL']})
    const sup = new ConnectionSupervisor({feed: 'yahoo', url: server.url(2), subscribeMessages: () => [sub], keepaliveMessages: () => [sub], keepaliveMs: 100})
    stops.push(() => sup.stop())
    sup.start()
    await sleep(1000)
    expect(subscribes).toBeGreaterThanOrEqual(6) // the first one plus a keep-alive every 100 ms
    const client = [...server.clients][0]
    expect([...client.symbols]).toEqual(['AAPL']) // re-subscribing did not duplicate the stream
  })

  it('reconnects a connection that went stale (no data, no pong) and reports the gap', async () => {
    const server = await YahooServer.listen()
    stops.push(() => server.close())
    let connections = 0
    server.on('connection', (c) => {
      connections++
      // the first connection goes silent: the server stops reading, so pings go unanswered
      if (connections === 1) server.once('subscribe', () => (c.ws as unknown as {_socket: {pause(): void}})._socket.pause())
    })
    const sub = JSON.stringify({subscribe: ['AAPL']})
    const sup = new ConnectionSupervisor(
      {feed: 'yahoo', url: server.url(2), subscribeMessages: () => [sub]},
      {staleMs: 300, pingMs: 100, minBackoffMs: 20, maxBackoffMs: 50},
    )
    stops.push(() => sup.stop())
    const gaps: GapEvent[] = []
    sup.on('gap', (g: GapEvent) => gaps.push(g))
    sup.start()
    for (let i = 0; i < 100 && gaps.length === 0; i++) await sleep(50)
    expect(connections).toBe(2)
    expect(gaps).toHaveLength(1)
    expect(gaps[0].reason).toMatch(/^stale: no data for/)
    expect(sup.reconnects).toBe(1)
    expect(sup.state).toBe('connected')
  })

  it('backs off exponentially with jitter, capped, while the feed refuses', async () => {
    const probe = await YahooServer.listen()
    const port = probe.port
    await probe.close() // nothing listens on this port now
    const sup = new ConnectionSupervisor(
      {feed: 'yahoo', url: `ws://127.0.0.1:${port}/`, subscribeMessages: () => []},
      {minBackoffMs: 20, maxBackoffMs: 160, random: () => 0.5},
    )
    stops.push(() => sup.stop())
    const delays: number[] = []
    sup.on('state', (s: string, detail?: string) => {
      const m = /retrying in (\d+) ms/.exec(detail ?? '')
      if (s === 'backoff' && m) delays.push(Number(m[1]))
    })
    sup.start()
    for (let i = 0; i < 100 && delays.length < 6; i++) await sleep(20)
    expect(delays.slice(0, 6)).toEqual([20, 40, 80, 160, 160, 160])
  })

  it('an outage before the first connection is a gap from start() to the connection, its failed attempts counted', async () => {
    const probe = await YahooServer.listen()
    const port = probe.port
    await probe.close() // refused until the server comes up below
    const sup = new ConnectionSupervisor({feed: 'yahoo', url: `ws://127.0.0.1:${port}/`, subscribeMessages: () => []}, {minBackoffMs: 20, maxBackoffMs: 40})
    stops.push(() => sup.stop())
    const gaps: GapEvent[] = []
    sup.on('gap', (g: GapEvent) => gaps.push(g))
    const before = sup.clock.nowNs()
    sup.start()
    for (let i = 0; i < 100 && sup.failedAttempts < 3; i++) await sleep(20)
    expect(sup.failedAttempts).toBeGreaterThanOrEqual(3)
    expect(sup.lastError).toMatch(/^cannot connect: ECONNREFUSED 127\.0\.0\.1:\d+$/)
    expect(gaps).toHaveLength(0) // still open
    const server = await YahooServer.listen({port})
    stops.push(() => server.close())
    for (let i = 0; i < 100 && gaps.length === 0; i++) await sleep(20)
    const after = sup.clock.nowNs()
    expect(gaps).toHaveLength(1)
    expect(gaps[0].startNs).toBeGreaterThanOrEqual(before)
    expect(gaps[0].startNs - before).toBeLessThan(50_000_000n) // it began when the recording did
    expect(gaps[0].endNs).toBeLessThanOrEqual(after)
    expect(gaps[0].reason).toMatch(/^before the first connection: cannot connect: ECONNREFUSED/)
    expect(gaps[0].attempts).toBe(sup.failedAttempts)
    expect(gaps[0].untilStop).toBeUndefined()
    expect(sup.state).toBe('connected')
    expect(sup.everConnected).toBe(true)
    expect(sup.reconnects).toBe(0) // the first connection is not a reconnect
    expect(await sup.stop()).toBeNull() // connected at the stop: no open gap
  })

  it('stopped before any connection: stop() returns the gap from start() to the stop, even with no failure yet', async () => {
    const probe = await YahooServer.listen()
    const port = probe.port
    await probe.close()
    const refused = new ConnectionSupervisor({feed: 'yahoo', url: `ws://127.0.0.1:${port}/`, subscribeMessages: () => []}, {minBackoffMs: 20, maxBackoffMs: 40})
    refused.start()
    for (let i = 0; i < 100 && refused.failedAttempts < 2; i++) await sleep(20)
    const g = await refused.stop()
    expect(g).toMatchObject({untilStop: true, attempts: refused.failedAttempts})
    expect(g!.reason).toMatch(/^before the first connection: cannot connect: ECONNREFUSED/)
    expect(g!.endNs).toBeGreaterThan(g!.startNs)

    // a server that accepts the TCP connection but never answers the upgrade: the first attempt is still under way
    const {createServer} = await import('node:net')
    // (reading, so it sees the client's close: the server's close() below waits for it — no socket is left behind)
    const silent = createServer((c) => c.resume())
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    stops.push(() => new Promise<void>((r) => silent.close(() => r())))
    const url = `ws://127.0.0.1:${(silent.address() as {port: number}).port}/`
    const pending = new ConnectionSupervisor({feed: 'yahoo', url, subscribeMessages: () => []})
    pending.start()
    await sleep(100)
    const g2 = await pending.stop()
    expect(g2).toMatchObject({untilStop: true, attempts: 0, reason: 'before the first connection: stopped while the first attempt was under way'})
  })
})
