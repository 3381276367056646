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
})
