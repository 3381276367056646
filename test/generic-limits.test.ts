/**
 * The channel service's limits and operational endpoints on the generic
 * emulator (docs/feeds/generic.md, "Limits and endpoints"): maximum
 * connections, allowed origins, server heartbeats, server pings with a pong
 * timeout, the client id in the path, GET /health and GET /stats — on the
 * server, through the replay engine, and through `mdrec replay` flags.
 */
import {afterEach, describe, expect, it} from 'vitest'

import {GenericServer, type GenericServerOptions} from '../src/feeds/generic/server.js'
import {replay} from '../src/replay/engine.js'
import {runCli, startCli} from './helpers/cli.js'
import {QueueClient, getJson} from './helpers/ws-client.js'

const GENERIC = new URL('../fixtures/generic-channels.arrow', import.meta.url).pathname
const YAHOO = new URL('../fixtures/yahoo-us-equities.arrow', import.meta.url).pathname
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function server(opts: GenericServerOptions = {}): Promise<GenericServer> {
  const s = await GenericServer.listen({port: 0, ...opts})
  cleanups.push(() => s.close())
  return s
}
const base = (s: {port: number}) => `http://127.0.0.1:${s.port}`
const open = (url: string, opts = {}) => QueueClient.open(url, cleanups, opts)

describe('generic emulator: limits', () => {
  it('refuses a connection over maxConnections: accepted, then closed with 1013 (try again later); a freed slot is usable again', async () => {
    const s = await server({maxConnections: 2})
    const a = await open(s.url())
    await open(s.url())
    const over = await open(s.url())
    expect(await over.closedWith()).toEqual({code: 1013, reason: 'try again later: at most 2 connections'})
    expect(over.messages).toEqual([])
    expect(s.clients.size).toBe(2)
    a.ws.close()
    await a.closedWith()
    await over.until(() => s.clients.size === 1, 'the slot to free')
    const again = await open(s.url())
    again.send({type: 'ping', timestamp: 1})
    expect(await again.next()).toBe('{"type":"pong","timestamp":1}')
    const st = (await getJson(`${base(s)}/stats`)).body
    expect(st.active_connections).toBe(2)
    expect(st.total_connections).toBe(3)
    expect(st.rejected_connections).toBe(1)
  })

  it('refuses a handshake from an origin not allowed with HTTP 403; allowed origins and clients without Origin connect', async () => {
    const s = await server({allowedOrigins: ['http://good.example', 'https://app.example:8443']})
    await expect(open(s.url(), {origin: 'http://evil.example'})).rejects.toThrow(/Unexpected server response: 403/)
    await expect(open(s.url(), {origin: 'http://good.example.evil'})).rejects.toThrow(/403/)
    const good = await open(s.url(), {origin: 'http://good.example'})
    const tls = await open(s.url(), {origin: 'https://app.example:8443'})
    const bare = await open(s.url()) // a non-browser client sends no Origin
    for (const c of [good, tls, bare]) {
      c.send({type: 'ping'})
      expect(await c.next()).toBe('{"type":"pong"}')
    }
    const st = (await getJson(`${base(s)}/stats`)).body
    expect(st.rejected_connections).toBe(2)
    expect(st.total_connections).toBe(3)
  })

  // The same rule for every way origins reach the server: the flag (below), replay()'s emulator options, the server's own.
  it('takes allowedOrigins as origins whoever passes them: https://App.example/ allows https://app.example; no origin is a usage error', async () => {
    const s = await server({allowedOrigins: ['https://App.example/']})
    const c = await open(s.url(), {origin: 'https://app.example'})
    c.ws.close()
    const h = await replay(GENERIC, {port: 0, emulator: {allowedOrigins: ['http://OK.example:80/', 'https://x.example:8443']}})
    cleanups.push(() => h.close())
    const d = await open(h.url, {origin: 'http://ok.example'})
    d.ws.close()
    const e = await open(h.url, {origin: 'https://x.example:8443'})
    e.ws.close()
    await expect(open(h.url, {origin: 'https://other.example'})).rejects.toThrow(/403/)
    await expect(server({allowedOrigins: ['not a url']})).rejects.toThrow('allowedOrigins "not a url": an origin is a scheme and a host')
    await expect(replay(GENERIC, {port: 0, emulator: {allowedOrigins: ['https://app.example/x']}})).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('allowedOrigins "https://app.example/x": an origin has no path, query or fragment; use https://app.example'),
    })
  })

  it('sends {"type":"heartbeat","timestamp":ms} to every client at the heartbeat interval', async () => {
    const s = await server({heartbeatMs: 100})
    const c = await open(s.url()) // no subscription needed
    const t0 = Date.now()
    const beats = [await c.nextJson(), await c.nextJson(), await c.nextJson()]
    for (const b of beats) {
      expect(Object.keys(b)).toEqual(['type', 'timestamp'])
      expect(b.type).toBe('heartbeat')
      expect(Number.isInteger(b.timestamp)).toBe(true)
      expect(Math.abs((b.timestamp as number) - Date.now())).toBeLessThan(10_000)
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150) // three beats take at least two intervals
  })

  it('pings every pingIntervalMs and closes with 1011 a client that does not pong within pongTimeoutMs', async () => {
    const s = await server({pingIntervalMs: 100, pongTimeoutMs: 250})
    const answering = await open(s.url())
    const silent = await open(s.url())
    answering.ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as {type: string; timestamp?: unknown}
      if (m.type === 'ping') answering.send({type: 'pong', timestamp: m.timestamp})
    })
    const ping = await silent.nextJson()
    expect(ping.type).toBe('ping')
    expect(Number.isInteger(ping.timestamp)).toBe(true)
    expect(await silent.closedWith(5000)).toEqual({code: 1011, reason: 'keepalive ping timeout'})
    // the answering client outlives several timeouts
    await new Promise((r) => setTimeout(r, 800))
    expect(answering.closed).toBeNull()
    expect(answering.messages.filter((m) => m.includes('"ping"')).length).toBeGreaterThanOrEqual(3)
    const st = (await getJson(`${base(s)}/stats`)).body
    expect(st.errors).toBeGreaterThanOrEqual(1)
  })

  it('takes the client id from /ws/{client_id}: other paths get 403, an id in use is refused with 1008', async () => {
    const s = await server({clientIdPath: true})
    expect(s.url()).toBe(`ws://127.0.0.1:${s.port}/ws/{client_id}`)
    const ids: Array<string | null> = []
    s.on('connection', (c) => ids.push(c.clientId))
    const alice = await open(`ws://127.0.0.1:${s.port}/ws/alice`)
    alice.send({type: 'subscribe', channel: 'prices'})
    expect(await alice.next()).toBe('{"type":"subscription_result","channel":"prices","success":true}')
    await open(`ws://127.0.0.1:${s.port}/ws/bob%20smith`)
    expect(ids).toEqual(['alice', 'bob smith'])
    for (const path of ['/', '/ws', '/ws/', '/ws/a/b', '/other/alice']) {
      await expect(open(`ws://127.0.0.1:${s.port}${path}`)).rejects.toThrow(/403/)
    }
    const dup = await open(`ws://127.0.0.1:${s.port}/ws/alice`)
    expect(await dup.closedWith()).toEqual({code: 1008, reason: 'client id "alice" is in use'})
    expect(alice.closed).toBeNull()
    const st = (await getJson(`${base(s)}/stats`)).body
    expect(st.clients).toEqual(['alice', 'bob smith'])
  })
})

describe('generic emulator: /health and /stats', () => {
  it('reports connections, channels, messages sent and received, and errors as JSON', async () => {
    const s = await server()
    const health = await getJson(`${base(s)}/health`)
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('healthy')
    expect(health.body.active_connections).toBe(0)
    const a = await open(s.url())
    const b = await open(s.url())
    a.send({type: 'subscribe', channel: 'prices'})
    a.send({type: 'subscribe', channel: 'trades'})
    b.send({type: 'subscribe', channel: 'prices'})
    b.send('not json') // an error reply
    b.send({type: 'nope'}) // another
    for (const c of [a, a, b, b, b]) await c.next()
    expect(s.broadcast('price_update', 'prices', {p: 1}, 1)).toBe(2)
    await a.next()
    await b.next()
    const st = (await getJson(`${base(s)}/stats`)).body
    expect(st).toMatchObject({
      active_connections: 2,
      total_connections: 2,
      rejected_connections: 0,
      channels: 2,
      channel_subscribers: {prices: 2, trades: 1},
      messages_received: 5,
      messages_sent: 7, // 3 results + 2 errors + 2 broadcasts
      errors: 2,
    })
    expect(typeof st.uptime_seconds).toBe('number')
    a.ws.close()
    await a.closedWith()
    await b.until(() => s.clients.size === 1, 'the close')
    const st2 = (await getJson(`${base(s)}/stats`)).body
    expect(st2.active_connections).toBe(1)
    expect(st2.total_connections).toBe(2)
    expect(st2.channel_subscribers).toEqual({prices: 1})
    expect((await getJson(`${base(s)}/health`)).body.active_connections).toBe(1)
    // other paths stay the plain-HTTP answer
    expect((await fetch(`${base(s)}/`)).status).toBe(426)
    expect((await fetch(`${base(s)}/stats`, {method: 'POST'})).status).toBe(405)
  })
})

describe('generic emulator options through replay', () => {
  it('the engine passes emulator options to the generic emulator', async () => {
    const h = await replay(GENERIC, {port: 0, speed: 'max', emulator: {maxConnections: 1, heartbeatMs: 100}})
    cleanups.push(() => h.close())
    const c = await open(h.url)
    expect((await c.nextJson()).type).toBe('heartbeat')
    const over = await open(h.url)
    expect((await over.closedWith()).code).toBe(1013)
    expect((await getJson(`http://127.0.0.1:${h.port}/health`)).body.status).toBe('healthy')
  })

  it('refuses a bad emulator option naming it', async () => {
    await expect(replay(GENERIC, {port: 0, emulator: {maxConnections: -1}})).rejects.toThrow(/maxConnections/)
    await expect(replay(GENERIC, {port: 0, emulator: {bogus: 1}})).rejects.toThrow(/bogus/)
    // other feeds' emulators take none: refused, not ignored
    await expect(replay(YAHOO, {port: 0, emulator: {maxConnections: 2}})).rejects.toThrow(/the yahoo emulator takes no option maxConnections/)
  })

  it('mdrec replay --feed generic flags: limits, heartbeat, pings, client id path, /stats', async () => {
    const p = startCli(
      ['replay', GENERIC, '--port', '0', '--max-connections', '1', '--allowed-origins', 'http://ok.example', '--heartbeat', '100ms', '--ping-interval', '100ms', '--ping-timeout', '300ms', '--client-id-path'],
      cleanups,
    )
    await p.line(/^ws:\/\/\S+\n/)
    const url = p.stdout().split('\n')[0]
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\/\{client_id\}$/)
    const port = Number(/:(\d+)\//.exec(url)![1])
    await expect(open(`ws://127.0.0.1:${port}/ws/x`, {origin: 'http://bad.example'})).rejects.toThrow(/403/)
    const c = await open(`ws://127.0.0.1:${port}/ws/x`, {origin: 'http://ok.example'})
    const seen = new Set<unknown>()
    await c.until(() => {
      for (const m of c.messages) seen.add(JSON.parse(m).type)
      return seen.has('heartbeat') && seen.has('ping')
    }, 'a heartbeat and a ping', 10_000)
    const over = await open(`ws://127.0.0.1:${port}/ws/y`)
    expect((await over.closedWith()).code).toBe(1013)
    expect((await c.closedWith(10_000)).code).toBe(1011) // never answered a ping
    const st = (await getJson(`http://127.0.0.1:${port}/stats`)).body
    expect(st.total_connections).toBe(1)
    expect(st.rejected_connections).toBe(2)
  }, 60_000)

  // An origin is what a browser sends in Origin: scheme, host and port, nothing else. A value that is no
  // origin would never match (every browser client refused); one written as a URL (a trailing slash)
  // is taken as its origin.
  it('--allowed-origins: a value that is no origin is a usage error naming it; https://app.example/ means https://app.example', async () => {
    for (const [value, why] of [
      ['not a url', '--allowed-origins "not a url": an origin is a scheme and a host (and a port), like https://app.example'],
      ['https://app.example/x', '--allowed-origins "https://app.example/x": an origin has no path, query or fragment; use https://app.example'],
    ]) {
      const r = await runCli(['replay', GENERIC, '--port', '0', '--allowed-origins', value])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(why)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    const p = startCli(['replay', GENERIC, '--port', '0', '--allowed-origins', 'https://App.example/,http://ok.example:8080'], cleanups)
    await p.line(/^ws:\/\/\S+\n/)
    const url = p.stdout().split('\n')[0]
    const c = await open(url, {origin: 'https://app.example'})
    c.ws.close()
    const d = await open(url, {origin: 'http://ok.example:8080'})
    d.ws.close()
    await expect(open(url, {origin: 'https://other.example'})).rejects.toThrow(/403/)
  }, 60_000)

  it('refuses the generic-only flags for other feeds, clearly', async () => {
    for (const flag of [['--max-connections', '3'], ['--heartbeat', '1s'], ['--client-id-path'], ['--allowed-origins', 'http://a'], ['--ping-interval', '1s'], ['--publish', 'redis://127.0.0.1:1/p']]) {
      const r = await runCli(['replay', YAHOO, '--port', '0', ...flag])
      expect(r.code, flag.join(' ')).toBe(2)
      expect(r.stderr).toContain(flag[0])
      expect(r.stderr).toMatch(/generic recordings only.*"yahoo"/)
      expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    }
  }, 120_000)
})
