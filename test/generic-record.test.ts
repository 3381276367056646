import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {genericAdapter} from '../src/feeds/generic/adapter.js'
import {encodeEnvelope, envelopeOfRow} from '../src/feeds/generic/codec.js'
import {DEFAULT_SETTLE_MS as SUBSCRIBE_SETTLE_MS} from '../src/replay/scheduler.js'
import {GenericServer, type GenericClient} from '../src/feeds/generic/server.js'
import {syntheticGenericTape, type GenericTapeFrame} from '../src/feeds/generic/synthetic.js'
import type {Frame, RowView} from '../src/feeds/types.js'
import {ConnectionSupervisor} from '../src/record/supervisor.js'
import {replay} from '../src/replay/engine.js'
import {openRecording} from '../src/store/reader.js'
import {runCli, startCli, type Running} from './helpers/cli.js'
import {expectPolarsAgrees} from './helpers/polars.js'
import {rowsOf} from './helpers/recording.js'

const CHANNELS = ['prices', 'trades', 'orderbook', 'news']
const FIXTURE = new URL('../fixtures/generic-channels.arrow', import.meta.url).pathname
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const tmp = () => mkdtempSync(join(tmpdir(), 'mdrec-generic-'))
// no MDREC_GENERIC_URL from the developer's shell
const ENV = {MDREC_GENERIC_URL: ''}

/** `mdrec ARGS` with `env`, killed after the test. */
const start = (args: string[], env: Record<string, string> = ENV): Running => startCli(args, cleanups, env, 90_000)

/** Resolves, with the client that made them, once `n` successful subscriptions have arrived. */
function subscriptions(s: GenericServer, n: number, ms = 20_000): Promise<GenericClient> {
  return new Promise((resolve, reject) => {
    let k = 0
    const t = setTimeout(() => reject(new Error(`only ${k} of ${n} subscriptions arrived`)), ms)
    s.on('subscribe', (c: GenericClient) => {
      if (++k === n) {
        clearTimeout(t)
        resolve(c)
      }
    })
  })
}

async function drained(s: GenericServer): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ([...s.clients].every((c) => c.ws.bufferedAmount === 0)) return
    await sleep(10)
  }
}

/** What a row holds, without its receive time and seq (comparable across recordings). */
function content(r: RowView) {
  return {
    kind: r.kind,
    symbol: r.symbol,
    exch_ts: r.exch_ts,
    info: r.info,
    raw: r.raw === null ? null : Buffer.from(r.raw).toString(),
    fields: r.fields,
  }
}

/** The text a client receives for a recorded row: the raw payload, else the envelope re-encoded. */
function frameOf(r: RowView): string {
  return r.raw !== null ? Buffer.from(r.raw).toString() : encodeEnvelope(envelopeOfRow(r.symbol, r.exch_ts, r.fields))
}

describe('mdrec record/replay --feed generic through the CLI', () => {
  it('records every broadcast, status and malformed frame; replaying that recording and recording it again gives the same rows', async () => {
    const srv = await GenericServer.listen({channels: CHANNELS})
    cleanups.push(() => srv.close())
    const dir = tmp()
    const first = join(dir, 'first.arrow')
    // the failed subscription is answered before the tape starts, so it is the first row
    const nosuch = new Promise<void>((resolve) => srv.on('request', (_c: unknown, m: {channel?: unknown}) => m.channel === 'nosuch' && resolve()))
    const rec = start(['record', ...CHANNELS, 'nosuch', '--feed', 'generic', '--url', srv.url(), '--out', first, '--flush-interval', '200ms'])
    const c = await subscriptions(srv, CHANNELS.length)
    await nosuch
    const sent: GenericTapeFrame[] = []
    const unsent: string[] = []
    for (const f of syntheticGenericTape({frames: 3000, seed: 21, prettyShare: 0.05, startNs: BigInt(Date.now()) * 1_000_000n})) {
      if (srv.publish(f.channel, f.text) !== 1) unsent.push(`${sent.length}: ${srv.clients.size} clients, state ${c.ws.readyState}, buffered ${c.ws.bufferedAmount}`)
      sent.push(f)
      if (sent.length === 1500) {
        // off-protocol frames in the middle of the stream
        srv.send(c, 'not json at all')
        c.ws.send(Buffer.from('{"type":"trade"}'), {binary: true})
        srv.send(c, '{"type":"error","message":"rate limit: slow down"}')
        srv.send(c, '{"channel":"prices","data":{}}')
      }
    }
    expect(unsent.slice(0, 3)).toEqual([])
    await drained(srv)
    await sleep(300)
    rec.child.kill('SIGINT')
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/recorded 3005 rows of/)
    expect(r.stdout).toMatch(/rejects 3/)
    expect(r.stderr).toContain('generic: subscribing to channel nosuch failed: unknown channel')
    expect(r.stderr).toContain('generic: the server reported an error: rate limit: slow down')

    const rows = await rowsOf(first)
    expect(rows.map((x) => x.seq)).toEqual(rows.map((_, i) => BigInt(i)))
    // the failed subscription first, then the tape with the off-protocol frames where they were sent
    expect(rows[0]).toMatchObject({kind: 'status', symbol: 'nosuch', info: '{"event":"subscription_result","channel":"nosuch","success":false,"message":"unknown channel"}'})
    const data = rows.filter((x) => x.kind !== 'status' && x.kind !== 'reject')
    expect(data).toHaveLength(3000)
    data.forEach((row, i) => {
      const f = sent[i]
      expect(row.symbol).toBe(f.channel)
      expect(row.fields.event).toBe(f.event)
      expect(JSON.parse(row.fields.data as string)).toEqual(f.message.data)
      expect(row.exch_ts).toBe(BigInt(f.message.timestamp as number))
      expect(row.kind).toBe({price_update: 'tick', trade: 'trade', orderbook_snapshot: 'orderbook', orderbook_update: 'orderbook', announcement: 'tick'}[f.event])
      // raw only where the text is not JSON.stringify output, and the row gives back the exact text either way
      expect(row.raw === null).toBe(f.compact)
      expect(frameOf(row)).toBe(f.text)
    })
    expect(sent.filter((f) => !f.compact).length).toBeGreaterThan(100)
    const odd = rows.slice(1501, 1505)
    expect(odd.map((x) => x.kind)).toEqual(['reject', 'reject', 'status', 'reject'])
    expect(odd.map((x) => x.info && JSON.parse(x.info).code)).toEqual(['BAD_JSON', 'BINARY_FRAME', undefined, 'NO_TYPE'])
    expect(odd.map((x) => Buffer.from(x.raw ?? []).toString())).toEqual(['not json at all', '{"type":"trade"}', '', '{"channel":"prices","data":{}}'])
    expect(JSON.parse(odd[2].info!)).toEqual({event: 'error', message: 'rate limit: slow down'})
    const meta = (await openRecording(first)).meta
    expect(meta).toMatchObject({feed: 'generic', endpoint: srv.url(), subscriptions: [...CHANNELS, 'nosuch'], feedOptions: {}, rawMode: 'auto'})
    expect(await expectPolarsAgrees(first)).toBe(3005)

    // replay it over the CLI and record the replay as a client would
    const rp = start(['replay', first, '--port', '0', '--speed', 'max', '--quiet'])
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('replay printed no URL')), 20_000)
      rp.child.stdout!.on('data', (d: Buffer) => {
        const line = String(d).split('\n')[0]
        if (line.startsWith('ws://')) {
          clearTimeout(t)
          resolve(line)
        }
      })
    })
    const second = join(dir, 'second.arrow')
    const again = await runCli(['record', ...CHANNELS, 'nosuch', '--feed', 'generic', '--url', url, '--out', second, '--duration', '4s'], {env: ENV})
    expect(again.code, again.stderr).toBe(0)
    rp.child.kill('SIGINT')
    expect((await rp.out).code).toBe(0)
    const replayed = await rowsOf(second)
    // rejects are not replayed; everything else comes back identical, in order
    expect(replayed.map(content)).toEqual(rows.filter((x) => x.kind !== 'reject').map(content))
    expect(again.stderr).toContain('generic: subscribing to channel nosuch failed: unknown channel')
  })

  it('mdrec info and cat show a generic recording sensibly', async () => {
    const info = await runCli(['info', FIXTURE])
    expect(info.code, info.stderr).toBe(0)
    expect(info.stdout).toMatch(/feed\s+generic\s+ws:\/\/127\.0\.0\.1:\d+\//)
    expect(info.stdout).toMatch(/subscriptions prices trades orderbook news/)
    expect(info.stdout).toMatch(/rows\s+1617 \(tick \d+, trade \d+, orderbook \d+\)/)
    expect(info.stdout).toMatch(/symbols\s+4: prices \d+, trades \d+, orderbook \d+, news \d+/)
    expect(info.stdout).toMatch(/\d+ rows keep raw payloads/)

    const table = await runCli(['cat', FIXTURE, '--limit', '5'])
    expect(table.code, table.stderr).toBe(0)
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0].split(/\s+/)).toEqual(['recv_ts', 'symbol', 'kind', 'event', 'data'])
    expect(lines).toHaveLength(6)
    for (const l of lines.slice(1)) expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+(prices|trades|orderbook|news)\s+(tick|trade|orderbook)\s+\w+\s+\{"/)

    const nd = await runCli(['cat', FIXTURE, '--format', 'ndjson', '--symbol', 'orderbook', '--limit', '3'])
    expect(nd.code, nd.stderr).toBe(0)
    const objs = nd.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(objs).toHaveLength(3)
    for (const o of objs) {
      expect(o).toMatchObject({symbol: 'orderbook', kind: 'orderbook', extra: expect.stringMatching(/^\{"seq":\d+\}$/), layout: '["type","channel","data","timestamp","seq"]'})
      expect(JSON.parse(o.data)).toMatchObject({symbol: expect.any(String), bids: expect.any(Array)})
      expect(o.exch_ts).toMatch(/Z$/)
    }
    expect(await expectPolarsAgrees(FIXTURE)).toBe(1617)
  })

  it('needs a URL, and rejects --types/--format/--paper, with usage errors (exit 2)', async () => {
    const none = await runCli(['record', 'prices', '--feed', 'generic'], {env: ENV})
    expect(none.code).toBe(2)
    expect(none.stderr.trim()).toBe(
      "Error: the generic feed has no public endpoint: give the server's URL with --url ws://HOST:PORT/PATH or set MDREC_GENERIC_URL",
    )
    for (const flag of [['--types', 'ticker'], ['--format', 'simple'], ['--paper']]) {
      const r = await runCli(['record', 'prices', '--feed', 'generic', '--url', 'ws://127.0.0.1:9/', ...flag], {env: ENV})
      expect(r.code, flag.join(' ')).toBe(2)
      expect(r.stderr).toMatch(/the generic feed takes no --types, --format or --paper/)
    }
  })

  it('takes the URL from MDREC_GENERIC_URL and keeps credentials in it out of the recording and the logs', async () => {
    const srv = await GenericServer.listen()
    cleanups.push(() => srv.close())
    const out = join(tmp(), 'env.arrow')
    const secretUrl = `ws://127.0.0.1:${srv.port}/stream?token=hunter2-secret&x=1`
    const rec = start(['record', 'prices', '--feed', 'generic', '--out', out, '--duration', '1500ms'], {MDREC_GENERIC_URL: secretUrl})
    await subscriptions(srv, 1)
    srv.broadcast('price_update', 'prices', {p: 1}, 1763980800123)
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    const meta = (await openRecording(out)).meta
    expect(meta.endpoint).toBe(`ws://127.0.0.1:${srv.port}/stream`)
    expect(readFileSync(out).includes('hunter2')).toBe(false)
    expect(r.stderr + r.stdout).not.toContain('hunter2')
    expect((await rowsOf(out)).map((x) => x.fields.data)).toEqual(['{"p":1}'])
  })
})

describe('generic recorder keep-alive and server pings', () => {
  it('pings with a timestamp, swallows pongs and acks, and answers a server ping', async () => {
    const srv = await GenericServer.listen()
    cleanups.push(() => srv.close())
    const requests: Array<Record<string, unknown>> = []
    srv.on('request', (_c, m: Record<string, unknown>) => requests.push(m))
    const setup = await genericAdapter.client({symbols: ['a', 'b'], url: srv.url(), env: {}})
    const sup = new ConnectionSupervisor({...setup.spec, keepaliveMs: 100})
    cleanups.push(async () => {
      await sup.stop()
    })
    const frames: Frame[] = []
    sup.on('frame', (f: Frame) => frames.push(f))
    sup.start()
    await subscriptions(srv, 2)
    for (let i = 0; i < 100 && requests.filter((m) => m.type === 'ping').length < 3; i++) await sleep(20)
    const pings = requests.filter((m) => m.type === 'ping')
    expect(pings.length).toBeGreaterThanOrEqual(3)
    for (const p of pings) expect(Math.abs((p.timestamp as number) - Date.now())).toBeLessThan(10_000)
    // the server pings: the recorder answers with the timestamp echoed
    for (const c of srv.clients) srv.send(c, '{"type":"ping","timestamp":42}')
    for (let i = 0; i < 100 && !requests.some((m) => m.type === 'pong'); i++) await sleep(20)
    expect(requests.find((m) => m.type === 'pong')).toEqual({type: 'pong', timestamp: 42})
    srv.broadcast('t', 'a', 1, 1763980800123)
    for (let i = 0; i < 100 && frames.length === 0; i++) await sleep(20)
    // subscription results, pongs and the server's ping never reached the recorder as frames
    expect(frames.map((f) => f.data)).toEqual(['{"type":"t","channel":"a","data":1,"timestamp":1763980800123}'])
    expect(requests.slice(0, 2)).toEqual([
      {type: 'subscribe', channel: 'a'},
      {type: 'subscribe', channel: 'b'},
    ])
  })
})

describe('generic replay', () => {
  it('serves the fixture to a plain ws client byte for byte, holding the start until channels subscribed one by one are in', async () => {
    const rows = (await rowsOf(FIXTURE)).filter((r) => r.kind !== 'reject' && r.kind !== 'gap')
    const h = await replay(FIXTURE, {port: 0, speed: 'max', atEnd: 'close', loop: 1})
    cleanups.push(async () => {
      await h.close()
    })
    expect(h.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/)
    const ws = new WebSocket(h.url, {perMessageDeflate: false})
    cleanups.push(() => ws.terminate())
    const got: string[] = []
    let binary = 0
    ws.on('message', (d, isBinary) => {
      if (isBinary) binary++
      got.push(String(d))
    })
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
    await new Promise((resolve) => ws.once('open', resolve))
    // subscribe one channel per round trip, as a careful client does
    for (const ch of CHANNELS) {
      ws.send(JSON.stringify({type: 'subscribe', channel: ch}))
      const n = got.length
      for (let i = 0; i < 100 && got.length === n; i++) await sleep(2)
      expect(got[got.length - 1]).toBe(`{"type":"subscription_result","channel":"${ch}","success":true}`)
    }
    expect(await closed).toBe(1000)
    expect(binary).toBe(0)
    const frames = got.slice(CHANNELS.length)
    expect(frames).toHaveLength(2 * rows.length)
    // the first play: exactly what the recorded server sent
    expect(frames.slice(0, rows.length)).toEqual(rows.map(frameOf))
    // the second play: timestamps shifted by one period, in JSON.stringify form
    const period = JSON.parse(frames[rows.length]).timestamp - Number(rows[0].exch_ts)
    expect(period).toBeGreaterThan(29_000)
    rows.forEach((r, i) => {
      const msg = JSON.parse(frames[rows.length + i])
      expect(msg.timestamp).toBe(Number(r.exch_ts) + period)
      expect({...msg, timestamp: 0}).toEqual({...JSON.parse(frameOf(r)), timestamp: 0})
    })
    expect(SUBSCRIBE_SETTLE_MS).toBeGreaterThan(0)
  })
})
