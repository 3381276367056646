/**
 * The replay contract every feed keeps (src/replay/feed.ts):
 * - the recordings are handed to the emulator when it starts
 *   (`listen(options, files)`), so two replays started in one process each
 *   serve their own recordings' markets (no "emulator listened last");
 * - what a row encoder returns is the feed's own frame, carrying its payload
 *   AND its routing: a copy of it (structuredClone: no identity, no
 *   prototype) is sent to the same clients, byte for byte, as the original
 *   (no side table keyed by the payload object).
 */
import {once} from 'node:events'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {binanceCodec} from '../src/feeds/binance/codec.js'
import {wrap} from '../src/feeds/binance/codec.js'
import {syntheticBinanceTape} from '../src/feeds/binance/synthetic.js'
import {subscribeMessage} from '../src/feeds/generic/codec.js'
import {requestText} from '../src/feeds/kis/codec.js'
import {KisProbe, postApproval} from '../src/feeds/kis/probe.js'
import {upbitCodec} from '../src/feeds/upbit/codec.js'
import {syntheticUpbitTape} from '../src/feeds/upbit/synthetic.js'
import {replay} from '../src/replay/engine.js'
import {replayFeed, type Emulator, type EmulatorClient} from '../src/replay/feed.js'
import {MergedSource, RowClass} from '../src/replay/rows.js'
import {openRecording, type RecordingFile} from '../src/store/reader.js'
import {RecordingWriter} from '../src/store/writer.js'

const FIX = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'mdrec-routing-'))

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** An Upbit recording of `codes` (synthetic tape, rows written through the store). */
async function upbitRecording(name: string, codes: string[]): Promise<string> {
  const path = join(dir, name)
  const codec = upbitCodec('DEFAULT')
  const w = RecordingWriter.create(
    path,
    {
      meta: {feed: 'upbit', endpoint: 'ws://127.0.0.1:1/websocket/v1', subscriptions: codes, feedOptions: {format: 'DEFAULT'}, toolVersion: 'test', startTime: '2025-11-24T10:40:00.000000000Z', rawMode: 'auto'},
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0},
  )
  for (const f of syntheticUpbitTape({frames: 200, codes, seed: 3})) {
    w.append({recv_ts: f.recv_ts, exch_ts: f.row.exch_ts, symbol: f.row.symbol, kind: f.kind, raw: null, info: null, fields: f.row.fields})
  }
  await w.close()
  return path
}

/** A Binance (combined endpoint) recording of `symbols`. */
async function binanceRecording(name: string, symbols: string[]): Promise<string> {
  const path = join(dir, name)
  const streams = symbols.flatMap((s) => ['trade', 'depth@100ms'].map((t) => `${s.toLowerCase()}@${t}`))
  const codec = binanceCodec(true, streams)
  const w = RecordingWriter.create(
    path,
    {
      meta: {feed: 'binance', endpoint: 'ws://127.0.0.1:1/stream', subscriptions: symbols, feedOptions: {endpoint: 'combined', streams}, toolVersion: 'test', startTime: '2025-11-24T10:40:00.000000000Z', rawMode: 'auto'},
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0},
  )
  for (const f of syntheticBinanceTape({frames: 200, symbols, seed: 5, types: ['trade', 'depth@100ms']})) {
    const text = wrap(f.stream, f.payload)
    const d = codec.decode({data: text, binary: false})
    if (!d.ok) throw new Error(d.message)
    for (const r of d.rows) w.append({...r, recv_ts: f.recv_ts, raw: r.exact ? null : Buffer.from(text)})
  }
  await w.close()
  return path
}

const EMU = {host: '127.0.0.1', port: 0, maxBufferedBytes: 8 * 1024 * 1024, slowClient: 'disconnect' as const}

async function getJson(url: string): Promise<unknown> {
  return (await fetch(url)).json()
}

describe('the recordings are handed to the emulator when it starts', () => {
  /** Each feed's REST answer listing what it serves, and a second recording of other markets. */
  const LISTS = {
    upbit: {fixture: 'upbit-krw.arrow', own: ['KRW-BTC', 'KRW-ETH'], other: ['KRW-XRP', 'KRW-SOL'], make: upbitRecording, path: '/v1/market/all', names: (j: unknown) => (j as Array<{market: string}>).map((m) => m.market)},
    binance: {fixture: 'binance-spot.arrow', own: ['BTCUSDT', 'ETHUSDT'], other: ['BNBUSDT'], make: binanceRecording, path: '/api/v3/exchangeInfo', names: (j: unknown) => (j as {symbols: Array<{symbol: string}>}).symbols.map((s) => s.symbol)},
  }
  for (const [name, t] of Object.entries(LISTS)) {
    it(`${name}: two emulators started one after the other each list only their own markets (GET ${t.path}), whatever order the encoders are made in`, async () => {
      const a = await openRecording(FIX(t.fixture))
      const b = await openRecording(await t.make(`${name}-b.arrow`, t.other))
      const feed = replayFeed(name)
      const ea = await feed.listen({...EMU}, [a])
      cleanups.push(() => ea.close(1001, 'done'))
      const eb = await feed.listen({...EMU}, [b])
      cleanups.push(() => eb.close(1001, 'done'))
      feed.encoder(a)
      feed.encoder(b)
      const listed = async (e: Emulator) => t.names(await getJson(`http://127.0.0.1:${e.port}${t.path}`))
      expect(await listed(ea)).toEqual(t.own)
      expect(await listed(eb)).toEqual(t.other)
    })
  }

  it('two upbit replays started together in one process each serve their own markets and data', async () => {
    const pa = FIX('upbit-krw.arrow')
    const pb = await upbitRecording('upbit-c.arrow', ['KRW-DOGE'])
    const [ha, hb] = await Promise.all([replay(pa, {port: 0, speed: 'max', atEnd: 'close'}), replay(pb, {port: 0, speed: 'max', atEnd: 'close'})])
    cleanups.push(() => ha.close(), () => hb.close())
    const markets = async (port: number) => ((await getJson(`http://127.0.0.1:${port}/v1/market/all`)) as Array<{market: string}>).map((m) => m.market)
    expect(await markets(ha.port)).toEqual(['KRW-BTC', 'KRW-ETH'])
    expect(await markets(hb.port)).toEqual(['KRW-DOGE'])
    // b's client gets b's trades only
    const ws = new WebSocket(hb.url, {perMessageDeflate: false})
    cleanups.push(() => ws.terminate())
    const codes = new Set<string>()
    ws.on('message', (d: Buffer) => codes.add(String((JSON.parse(d.toString()) as {code?: string}).code)))
    await once(ws, 'open')
    ws.send(JSON.stringify([{ticket: 't'}, {type: 'trade', codes: ['KRW-DOGE', 'KRW-BTC']}]))
    await once(ws, 'close')
    expect([...codes]).toEqual(['KRW-DOGE'])
  }, 30_000)
})

/** How a test client of each feed connects and subscribes to everything the recording has. */
const CLIENTS: Record<string, {fixture: string; connect: (emu: Emulator, file: RecordingFile) => Promise<{received: Buffer[]}>}> = {
  yahoo: {
    fixture: 'yahoo-us-equities.arrow',
    async connect(emu, file) {
      const ws = await open(emu.url(1))
      ws.send(JSON.stringify({subscribe: file.meta.subscriptions}))
      return collect(ws)
    },
  },
  generic: {
    fixture: 'generic-channels.arrow',
    async connect(emu, file) {
      const ws = await open(emu.url(0))
      for (const c of file.meta.subscriptions) ws.send(subscribeMessage(c))
      return collect(ws)
    },
  },
  upbit: {
    fixture: 'upbit-krw.arrow',
    async connect(emu, file) {
      const ws = await open(emu.url(0))
      const codes = file.meta.subscriptions
      ws.send(JSON.stringify([{ticket: 't'}, {type: 'ticker', codes}, {type: 'trade', codes}, {type: 'orderbook', codes: codes.map((c) => `${c}.15`)}]))
      return collect(ws)
    },
  },
  binance: {
    fixture: 'binance-spot.arrow',
    async connect(emu, file) {
      const ws = await open(`${emu.url(1)}?streams=${(file.meta.feedOptions.streams as string[]).join('/')}`)
      return collect(ws)
    },
  },
  kis: {
    fixture: 'kis-krx.arrow',
    async connect(emu, file) {
      const {json} = await postApproval(`http://127.0.0.1:${emu.port}`, {grant_type: 'client_credentials', appkey: 'routing-test-app-key-0000', secretkey: 'routing-test-secret-00000'})
      const probe = await KisProbe.connect(emu.url(0))
      cleanups.push(() => probe.close())
      const regs = file.meta.subscriptions.flatMap((k) => (file.meta.feedOptions.types as string[]).map((t) => [t, k] as const))
      for (const [t, k] of regs) probe.ws.send(requestText(json.approval_key, '1', t, k))
      await probe.until((m) => m.filter((x) => x.includes('OPSP0000')).length === regs.length, 5000, 'the acks')
      const received: Buffer[] = []
      probe.ws.on('message', (d: Buffer) => {
        const t = d.toString()
        if (/^[01]\|/.test(t)) received.push(Buffer.from(t))
      })
      return {received}
    },
  },
}

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, {perMessageDeflate: false})
  cleanups.push(() => ws.terminate())
  await once(ws, 'open')
  return ws
}

function collect(ws: WebSocket): {received: Buffer[]} {
  const received: Buffer[] = []
  ws.on('message', (d: Buffer) => received.push(Buffer.from(d)))
  return {received}
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('a row encoder returns the frame with its routing', () => {
  for (const name of Object.keys(CLIENTS)) {
    it(`${name}: a copy of each encoded frame (structuredClone) reaches the same client as the frame itself, byte for byte`, async () => {
      const c = CLIENTS[name]
      const file = await openRecording(FIX(c.fixture))
      const feed = replayFeed(name)
      const emu = await feed.listen({...EMU}, [file])
      cleanups.push(() => emu.close(1001, 'done'))
      const enc = feed.encoder(file)
      const clients: EmulatorClient[] = []
      emu.on('connection', (x: EmulatorClient) => clients.push(x))
      // two clients subscribed alike: one gets the frames, the other copies of them
      const got = [await c.connect(emu, file), await c.connect(emu, file)]
      await until(() => clients.length === 2 && clients.every((x) => x.subscriptions > 0), 5000, 'the subscriptions')
      const [orig, copy] = clients
      const sent = [0, 0]
      const src = new MergedSource([file])
      let rows = 0
      while (await src.next()) {
        const b = src.batch
        const i = src.row
        if (b.rowClass(i) !== RowClass.data || !orig.wants(b.symbol(i))) continue
        rows++
        const frame = enc.encode(b, i, orig.variant, 0)
        if (emu.send(orig, frame)) sent[0]++
        if (emu.send(copy, structuredClone(frame))) sent[1]++
      }
      expect(rows).toBeGreaterThan(50)
      expect(sent[0]).toBeGreaterThan(50)
      expect(sent[1]).toBe(sent[0])
      await until(() => got[0].received.length >= sent[0] && got[1].received.length >= sent[1], 10_000, 'the frames')
      if (name === 'kis') {
        // notices are encrypted with each session's own key: compare the plain frames
        const plain = (bs: Buffer[]) => bs.map((x) => x.toString()).filter((t) => t.startsWith('0|'))
        expect(plain(got[1].received)).toEqual(plain(got[0].received))
      } else expect(got[1].received.map((x) => x.toString('latin1'))).toEqual(got[0].received.map((x) => x.toString('latin1')))
    }, 30_000)
  }
})
