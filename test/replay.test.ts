import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {MdrecError} from '../src/errors.js'
import type {RowInput} from '../src/feeds/types.js'
import {yahooCodec} from '../src/feeds/yahoo/adapter.js'
import {decodeFrame, encodeFrame, encodePricing} from '../src/feeds/yahoo/codec.js'
import {syntheticYahooTape, type TapeFrame} from '../src/feeds/yahoo/synthetic.js'
import type {PricingData, YahooEnvelope} from '../src/feeds/yahoo/types.js'
import {replay, type ReplayHandle, type ReplayOptions} from '../src/replay/engine.js'
import {RecordingWriter} from '../src/store/writer.js'
import {useReplay} from '../src/testing.js'
import {nsToIso} from '../src/util/time.js'

const TE = new TextEncoder()
const dir = mkdtempSync(join(tmpdir(), 'mdrec-replay-'))
let fileNo = 0

// ---------------------------------------------------------------------------
// Building recordings

interface Row {
  input: RowInput
  /** The PricingData this row carries (data rows only). */
  data?: PricingData
  /** The text frame the recorder received (data rows only). */
  frame?: string
}

function tickRow(f: TapeFrame, frame: string, keepRaw: boolean): Row {
  const {id, time, ...fields} = f.data
  return {
    input: {
      recv_ts: f.recv_ts,
      exch_ts: time ?? null,
      symbol: id ?? '',
      kind: f.data.quote_type === 7 ? 'status' : 'tick',
      raw: keepRaw ? TE.encode(frame) : null,
      info: null,
      fields: fields as Record<string, unknown>,
    },
    data: f.data,
    frame,
  }
}

/** A row whose recorded frame is canonical (the recorder leaves raw null). */
function canonical(f: TapeFrame, env: YahooEnvelope): Row {
  return tickRow(f, encodeFrame(f.data, env), false)
}

/** The same message with its protobuf fields out of order: decodes the same, re-encodes differently, so raw is kept. */
function nonCanonicalBytes(data: PricingData): Uint8Array {
  const a = encodePricing({price: data.price})
  const b = encodePricing({...data, price: undefined})
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64')
}

function gapRow(startNs: bigint, durationMs: number): Row {
  return {
    input: {
      recv_ts: startNs,
      exch_ts: null,
      symbol: '',
      kind: 'gap',
      raw: null,
      info: JSON.stringify({start: nsToIso(startNs), end: nsToIso(startNs + BigInt(durationMs) * 1_000_000n), duration_ms: durationMs, reason: 'test'}),
      fields: null,
    },
  }
}

function rejectRow(recvNs: bigint): Row {
  return {
    input: {recv_ts: recvNs, exch_ts: null, symbol: '', kind: 'reject', raw: TE.encode('not base64!'), info: '{"code":"BAD_BASE64"}', fields: null},
  }
}

async function writeRecording(rows: Row[], env: YahooEnvelope, flushRows = 64, feed = 'yahoo'): Promise<string> {
  const path = join(dir, `rec-${++fileNo}.arrow`)
  const w = RecordingWriter.create(
    path,
    {
      meta: {
        feed,
        endpoint: env === 'v2' ? 'wss://streamer.finance.yahoo.com/?version=2' : 'wss://streamer.finance.yahoo.com/',
        subscriptions: [...new Set(rows.map((r) => r.input.symbol).filter((s) => s !== ''))],
        feedOptions: {envelope: env},
        toolVersion: '0.0.0-test',
        startTime: nsToIso(rows[0].input.recv_ts - 1_000_000n),
        rawMode: 'auto',
      },
      exchTsUnit: 'ms',
      columns: yahooCodec(env).columns,
    },
    {flushIntervalMs: 0, flushRows, fsync: false, compactOnClose: false},
  )
  for (const r of rows) w.append(r.input)
  await w.close()
  return path
}

function tape(frames: number, opts: {symbols?: string[]; meanGapMs?: number; seed?: number; startNs?: bigint} = {}): TapeFrame[] {
  return [...syntheticYahooTape({frames, symbols: opts.symbols ?? ['AAPL', 'MSFT', 'TSLA'], meanGapMs: opts.meanGapMs ?? 2, seed: opts.seed ?? 1, startNs: opts.startNs})]
}

/** Evenly spaced frames (exact timing tests). */
function evenTape(frames: number, gapMs: number, symbols = ['AAPL', 'MSFT', 'TSLA'], startNs = 1_763_980_800_000_000_000n): TapeFrame[] {
  return tape(frames, {symbols}).map((f, i) => {
    const recv_ts = startNs + BigInt(i) * BigInt(gapMs * 1_000_000)
    return {recv_ts, data: {...f.data, time: recv_ts / 1_000_000n}}
  })
}

// ---------------------------------------------------------------------------
// A test client

interface TestClient {
  ws: WebSocket
  frames: string[]
  times: number[]
  binary: number
  closed: Promise<{code: number; reason: string}>
  send(msg: unknown): void
}

async function connect(url: string, subscribe?: string[]): Promise<TestClient> {
  const ws = new WebSocket(url, {perMessageDeflate: false})
  const c: TestClient = {
    ws,
    frames: [],
    times: [],
    binary: 0,
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({code, reason: reason.toString()}))),
    send: (msg) => ws.send(JSON.stringify(msg)),
  }
  ws.on('message', (data: Buffer, isBinary) => {
    c.times.push(performance.now())
    c.frames.push(data.toString('utf8'))
    if (isBinary) c.binary++
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  if (subscribe) c.send({subscribe})
  return c
}

/** Poll `cond` until true, at most `ms` (bounded). */
async function waitFor(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

function idOf(frame: string, env: YahooEnvelope): string {
  const r = decodeFrame(frame, env)
  if (!r.ok) throw new Error(`undecodable frame ${frame}: ${r.error.message}`)
  return r.value.data.id ?? ''
}

const handles: ReplayHandle[] = []
async function start(files: string | string[], o: ReplayOptions = {}): Promise<ReplayHandle> {
  const h = await replay(files, {port: 0, ...o})
  handles.push(h)
  return h
}
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()))
})

const SYMS = ['AAPL', 'MSFT', 'TSLA']

// ---------------------------------------------------------------------------

describe('replay: payloads', () => {
  it('sends the recorded bytes to clients of either envelope (raw kept, raw re-wrapped, re-encoded)', async () => {
    const frames = tape(60)
    const rows: Row[] = []
    const expectV2: string[] = []
    const expectV1: string[] = []
    frames.forEach((f, i) => {
      if (i === 20) rows.push(gapRow(f.recv_ts - 1n, 5)) // silent: not sent
      if (i === 30) rows.push(rejectRow(f.recv_ts - 1n)) // never sent
      if (i === 40) {
        // a heartbeat-like status row without a symbol goes to every subscribed client
        const hb: TapeFrame = {recv_ts: f.recv_ts - 2n, data: {quote_type: 7, time: f.data.time}}
        const r = canonical(hb, 'v2')
        rows.push(r)
        expectV2.push(encodeFrame(hb.data, 'v2'))
        expectV1.push(encodeFrame(hb.data, 'v1'))
      }
      if (i % 3 === 0) {
        // non-canonical protobuf: raw kept; a v1 client gets the same protobuf bytes
        const bytes = nonCanonicalBytes(f.data)
        const frame = `{"type":"pricing","message":"${b64(bytes)}"}`
        rows.push(tickRow(f, frame, true))
        expectV2.push(frame)
        expectV1.push(b64(bytes))
      } else if (i % 5 === 0) {
        // canonical protobuf in a non-canonical JSON envelope: raw kept
        const frame = `{"message":"${encodeFrame(f.data, 'v1')}", "type":"pricing"}`
        rows.push(tickRow(f, frame, true))
        expectV2.push(frame)
        expectV1.push(encodeFrame(f.data, 'v1'))
      } else {
        rows.push(canonical(f, 'v2'))
        expectV2.push(encodeFrame(f.data, 'v2'))
        expectV1.push(encodeFrame(f.data, 'v1'))
      }
    })
    // sanity: the test really has both kinds of rows
    expect(rows.filter((r) => r.input.raw).length).toBeGreaterThan(10)
    expect(rows.filter((r) => !r.input.raw && r.input.kind === 'tick').length).toBeGreaterThan(10)
    const path = await writeRecording(rows, 'v2', 16)
    const h = await start(path, {speed: 'max', atEnd: 'close'})
    expect(h.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/\?version=2$/)
    const v2 = await connect(h.urlFor('v2'), SYMS)
    const v1 = await connect(h.urlFor('v1'), SYMS)
    expect((await v2.closed).code).toBe(1000)
    expect((await v1.closed).code).toBe(1000)
    expect(v2.frames).toEqual(expectV2)
    expect(v1.frames).toEqual(expectV1)
    expect(v1.binary + v2.binary).toBe(0) // Yahoo frames are text frames
    const s = h.stats()
    expect(s.rejects).toBe(2)
    expect(s.gaps).toBe(2)
    expect(s.framesSent).toBe(expectV1.length + expectV2.length)
  })

  it('replays a v1 recording to v2 clients by wrapping the recorded base64', async () => {
    const frames = tape(20)
    const rows = frames.map((f, i) => (i % 2 ? tickRow(f, b64(nonCanonicalBytes(f.data)), true) : canonical(f, 'v1')))
    const path = await writeRecording(rows, 'v1')
    const h = await start(path, {speed: 'max', atEnd: 'close'})
    expect(h.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/)
    const v2 = await connect(h.urlFor('v2'), SYMS)
    const v1 = await connect(h.url, SYMS)
    await Promise.all([v1.closed, v2.closed])
    expect(v1.frames).toEqual(rows.map((r) => r.frame))
    expect(v2.frames).toEqual(rows.map((r) => `{"type":"pricing","message":"${r.frame}"}`))
  })
})

describe('replay: subscriptions', () => {
  it('sends only subscribed symbols, from the moment of subscribing, and stops at unsubscribe', async () => {
    // 150 frames 10 ms apart, at 2x: 0.75 s; symbols in turn
    const rows = evenTape(150, 10, SYMS).map((f, i) => canonical({recv_ts: f.recv_ts, data: {...f.data, id: SYMS[i % 3]}}, 'v2'))
    const path = await writeRecording(rows, 'v2')
    const h = await start(path, {speed: 2, atEnd: 'close'})
    const c = await connect(h.url, ['AAPL'])
    const ids = () => c.frames.map((f) => idOf(f, 'v2'))
    await waitFor(() => c.frames.length >= 5, 5000, 'AAPL frames')
    c.send({subscribe: ['MSFT', 'AAPL']}) // AAPL again: harmless, no duplicates
    await waitFor(() => ids().includes('MSFT'), 5000, 'MSFT frames')
    c.send({unsubscribe: ['AAPL']})
    await new Promise((r) => setTimeout(r, 150))
    const aaplAtCut = ids().filter((s) => s === 'AAPL').length
    const {code} = await c.closed
    expect(code).toBe(1000)
    const got = ids()
    expect(got).not.toContain('TSLA')
    expect(got.filter((s) => s === 'AAPL').length).toBe(aaplAtCut)
    expect(got.filter((s) => s === 'MSFT').length).toBeGreaterThan(3)
    // what was received is in recorded order and without duplicates
    const sent = rows.map((r) => r.frame!)
    let last = -1
    for (const f of c.frames) {
      const k = sent.indexOf(f, last + 1)
      expect(k).toBeGreaterThan(last)
      last = k
    }
    // the first MSFT frame was due after the subscription: the earlier MSFT rows were not sent
    const firstMsft = sent.indexOf(c.frames[got.indexOf('MSFT')])
    expect(firstMsft).toBeGreaterThan(sent.findIndex((f) => idOf(f, 'v2') === 'MSFT'))
  })

  it('is deterministic: the same file and subscriptions give the same bytes per client', async () => {
    const frames = tape(300, {meanGapMs: 1})
    const rows = frames.map((f, i) => (i % 4 ? canonical(f, 'v2') : tickRow(f, `{"type":"pricing","message":"${b64(nonCanonicalBytes(f.data))}"}`, true)))
    const path = await writeRecording(rows, 'v2', 50)
    const run = async (speed: number | 'max') => {
      const h = await start(path, {speed, atEnd: 'close'})
      const a = await connect(h.urlFor('v1'), ['AAPL', 'TSLA'])
      const b = await connect(h.urlFor('v2'), ['MSFT'])
      await Promise.all([a.closed, b.closed])
      await h.close()
      return [a.frames, b.frames]
    }
    const first = await run(20)
    const second = await run(20)
    const third = await run('max')
    expect(first[0].length).toBeGreaterThan(50)
    expect(first[1].length).toBeGreaterThan(20)
    expect(second).toEqual(first)
    expect(third).toEqual(first)
  })
})

describe('replay: timing', () => {
  it('plays at 10x on the recorded schedule (generous bounds)', async () => {
    // 2 s of recording with bursts: 100 frames, each pair 1 ms apart, pairs 40 ms apart
    const base = 1_763_980_800_000_000_000n
    const rows = tape(100).map((f, i) => {
      const recv_ts = base + BigInt(Math.floor(i / 2) * 40 + (i % 2)) * 1_000_000n
      return canonical({recv_ts, data: {...f.data, time: recv_ts / 1_000_000n}}, 'v2')
    })
    const path = await writeRecording(rows, 'v2')
    const h = await start(path, {speed: 10, atEnd: 'close'})
    const c = await connect(h.url, SYMS)
    await c.closed
    expect(c.frames.length).toBe(100)
    const elapsed = c.times[99] - c.times[0]
    // scheduled: 49 * 40 ms + 1 ms = 1.961 s at 1x, 196 ms at 10x
    expect(elapsed).toBeGreaterThan(150)
    expect(elapsed).toBeLessThan(1000)
    // arrival − scheduled offset, per frame: nearly constant (the bounds allow for a loaded machine)
    const offsets = c.times.map((t, i) => t - Number(rows[i].input.recv_ts - base) / 1e6 / 10).sort((a, b) => a - b)
    expect(offsets[94] - offsets[5]).toBeLessThan(100)
    const s = h.stats()
    expect(s.p99LagMs).not.toBeNull()
    expect(s.p99LagMs!).toBeLessThan(100)
  })

  it('loops with times shifted so they keep increasing (payload time and schedule)', async () => {
    const rows = evenTape(20, 5, SYMS).map((f) => tickRow(f, `{"type":"pricing","message":"${b64(nonCanonicalBytes(f.data))}"}`, true))
    const path = await writeRecording(rows, 'v2')
    const h = await start(path, {speed: 5, loop: 2, atEnd: 'close'})
    const c = await connect(h.url, SYMS)
    await c.closed
    expect(c.frames.length).toBe(60)
    // period = span (95 ms) + mean gap (5 ms) = 100 ms
    const periodMs = 100n
    const times = c.frames.map((f) => {
      const r = decodeFrame(f, 'v2')
      if (!r.ok) throw new Error(r.error.message)
      return r.value.data
    })
    for (let k = 0; k < 60; k++) {
      const play = BigInt(Math.floor(k / 20))
      const orig = rows[k % 20].data!
      expect(times[k]).toEqual({...orig, time: orig.time! + play * periodMs})
      if (k > 0) expect(times[k].time! > times[k - 1].time!).toBe(true)
    }
    // the first play is the recorded bytes; looped plays are re-encoded
    expect(c.frames.slice(0, 20)).toEqual(rows.map((r) => r.frame))
    expect(c.frames[20]).not.toBe(rows[0].frame)
    // schedule: 3 plays of 100 ms at 5x ≈ 60 − 1 ms between the first and last frame
    const elapsed = c.times[59] - c.times[0]
    expect(elapsed).toBeGreaterThan(40)
    expect(elapsed).toBeLessThan(400)
    expect(h.stats().plays).toBe(3)
  })
})

describe('replay: several files', () => {
  it('merges recordings by receive time (ties: first file first), each with its own envelope', async () => {
    const base = 1_763_980_800_000_000_000n
    const fa = tape(40, {symbols: ['AAPL'], seed: 3}).map((f, i) => ({recv_ts: base + BigInt(i * 2) * 1_000_000n, data: f.data}))
    const fb = tape(40, {symbols: ['MSFT'], seed: 4}).map((f, i) => ({recv_ts: base + BigInt(i * 3) * 1_000_000n, data: f.data}))
    const ra = fa.map((f) => canonical(f, 'v2'))
    const rb = fb.map((f, i) => (i % 2 ? tickRow(f, b64(nonCanonicalBytes(f.data)), true) : canonical(f, 'v1')))
    const pa = await writeRecording(ra, 'v2', 7)
    const pb = await writeRecording(rb, 'v1', 5)
    const merged = [...ra.map((r, k) => ({r, file: 0, k})), ...rb.map((r, k) => ({r, file: 1, k}))].sort((x, y) =>
      x.r.input.recv_ts < y.r.input.recv_ts ? -1 : x.r.input.recv_ts > y.r.input.recv_ts ? 1 : x.file - y.file || x.k - y.k,
    )
    const expected = merged.map(({r, file}) => (file === 0 ? r.frame! : `{"type":"pricing","message":"${r.frame!}"}`))
    const h = await start([pa, pb], {speed: 'max', atEnd: 'close'})
    const c = await connect(h.urlFor('v2'), ['AAPL', 'MSFT'])
    await c.closed
    expect(c.frames).toEqual(expected)
  })

  it('refuses recordings of different feeds', async () => {
    const pa = await writeRecording(tape(3).map((f) => canonical(f, 'v2')), 'v2')
    const pb = await writeRecording(tape(3).map((f) => canonical(f, 'v2')), 'v2', 64, 'nosuchfeed')
    await expect(replay([pa, pb], {port: 0})).rejects.toThrow(/cannot merge recordings of different feeds/)
    await expect(replay(pb, {port: 0})).rejects.toThrow(/no emulator for that feed/)
  })
})

describe('replay: slow clients and gaps', () => {
  async function bigRecording(): Promise<string> {
    // 400 frames of 64 KiB (25 MiB): more than the kernel's socket buffers hold
    const pad = 'A'.repeat(64 * 1024 - 40)
    const rows = evenTape(400, 1, ['AAPL']).map((f) => tickRow(f, `{"type":"pricing","message":"${pad}"}`, true))
    return writeRecording(rows, 'v2', 50)
  }

  it('closes a client that stops reading with 1013, its buffer bounded by maxBufferedBytes', async () => {
    const path = await bigRecording()
    const lines: string[] = []
    const limit = 512 * 1024
    const h = await start(path, {speed: 20, maxBufferedBytes: limit, log: (l) => lines.push(l)})
    const c = await connect(h.url)
    ;(c.ws as unknown as {_socket: {pause(): void; resume(): void}})._socket.pause()
    c.send({subscribe: ['AAPL']})
    await waitFor(() => h.stats().slowClientsClosed === 1, 10_000, 'the slow-client close')
    const line = lines.find((l) => l.includes('closing with 1013'))!
    const buffered = Number(/\((\d+) bytes buffered/.exec(line)![1])
    expect(buffered).toBeLessThanOrEqual(limit + 64 * 1024)
    const sentAtClose = h.stats().framesSent
    expect(sentAtClose).toBeLessThan(400)
    await new Promise((r) => setTimeout(r, 100))
    expect(h.stats().framesSent).toBe(sentAtClose) // nothing more is queued for it
    ;(c.ws as unknown as {_socket: {resume(): void}})._socket.resume()
    const {code} = await c.closed
    expect(code).toBe(1013)
  })

  it("drops frames for a slow client with slowClient: 'drop'", async () => {
    const path = await bigRecording()
    const h = await start(path, {speed: 20, maxBufferedBytes: 512 * 1024, slowClient: 'drop', atEnd: 'close'})
    const c = await connect(h.url)
    ;(c.ws as unknown as {_socket: {pause(): void}})._socket.pause()
    c.send({subscribe: ['AAPL']})
    await waitFor(() => h.stats().framesDropped > 0, 10_000, 'dropped frames')
    ;(c.ws as unknown as {_socket: {resume(): void}})._socket.resume()
    const {code} = await c.closed
    expect(code).toBe(1000)
    const s = h.stats()
    expect(s.framesDropped + c.frames.length).toBe(400)
  })

  it("gaps: 'disconnect' closes with 1012 at the gap, and a reconnect continues after it", async () => {
    const frames = evenTape(20, 5, SYMS)
    const rows: Row[] = []
    frames.forEach((f, i) => {
      const shifted = i >= 10 ? {recv_ts: f.recv_ts + 300_000_000n, data: f.data} : f
      if (i === 10) rows.push(gapRow(frames[9].recv_ts + 1_000_000n, 300))
      rows.push(canonical(shifted, 'v2'))
    })
    const path = await writeRecording(rows, 'v2')
    const lines: string[] = []
    const h = await start(path, {speed: 1, gaps: 'disconnect', atEnd: 'close', log: (l) => lines.push(l)})
    const a = await connect(h.url, SYMS)
    const closeA = await a.closed
    expect(closeA.code).toBe(1012)
    expect(a.frames).toEqual(rows.slice(0, 10).map((r) => r.frame))
    const b = await connect(h.url, SYMS)
    const closeB = await b.closed
    expect(closeB.code).toBe(1000)
    expect(b.frames).toEqual(rows.slice(11).map((r) => r.frame))
    expect(lines.some((l) => l.includes('continues timeline'))).toBe(true)
  })

  it("gaps: 'disconnect' with the shared clock closes every client", async () => {
    const frames = evenTape(10, 5, SYMS)
    const rows = [...frames.slice(0, 5).map((f) => canonical(f, 'v2')), gapRow(frames[4].recv_ts + 1n, 50), ...frames.slice(5).map((f) => canonical(f, 'v2'))]
    const path = await writeRecording(rows, 'v2')
    const h = await start(path, {speed: 1, gaps: 'disconnect', clock: 'shared'})
    const a = await connect(h.url)
    const b = await connect(h.urlFor('v1'))
    a.send({subscribe: SYMS})
    b.send({subscribe: SYMS})
    const [ca, cb] = await Promise.all([a.closed, b.closed])
    expect(ca.code).toBe(1012)
    expect(cb.code).toBe(1012)
    expect(a.frames.length).toBe(5)
    const summary = await h.done
    expect(summary.gaps).toBe(1)
  })
})

describe('replay: shared clock', () => {
  it('fans one timeline out to clients of both envelopes; done resolves when it ends', async () => {
    // the first row is for a symbol nobody subscribes to, 100 ms before the others: both clients
    // subscribe before the rows they expect are due (a shared timeline does not wait for anyone)
    const frames = tape(201, {meanGapMs: 1}).map((f, i) => (i === 0 ? {recv_ts: f.recv_ts - 100_000_000n, data: {...f.data, id: 'ZZZZ'}} : f))
    const all = frames.map((f, i) => (i % 3 ? canonical(f, 'v2') : tickRow(f, `{"type":"pricing","message":"${b64(nonCanonicalBytes(f.data))}"}`, true)))
    const rows = all.slice(1)
    const path = await writeRecording(all, 'v2', 40)
    const h = await start(path, {speed: 4, clock: 'shared'})
    // both connect before anyone subscribes; the timeline starts at the first subscription
    const a = await connect(h.urlFor('v2'))
    const b = await connect(h.urlFor('v1'))
    b.send({subscribe: SYMS})
    a.send({subscribe: SYMS})
    const summary = await h.done
    await waitFor(() => a.frames.length === 200 && b.frames.length === 200, 5000, 'all frames')
    expect(a.frames).toEqual(rows.map((r) => r.frame))
    expect(b.frames).toEqual(rows.map((r) => {
      const d = decodeFrame(r.frame!, 'v2')
      if (!d.ok) throw new Error('bad')
      return b64(d.value.bytes)
    }))
    expect(summary.timelines).toBe(1)
    expect(summary.framesSent).toBe(400)
    expect(summary.plays).toBe(1)
    // progress: how far into the recording the timeline got (the last row)
    const last = all[all.length - 1].input.recv_ts
    expect(summary.positionMs).toBe(Number(last - all[0].input.recv_ts) / 1e6)
    expect(summary.position).toBe(nsToIso(last))
  })
})

describe('replay: shared clock log', () => {
  it('a client that subscribes after the shared timeline started is logged once, with where it joins', async () => {
    const path = await writeRecording(tape(400, {meanGapMs: 5}).map((f) => canonical(f, 'v2')), 'v2', 100)
    const lines: string[] = []
    const h = await start(path, {speed: 1, clock: 'shared', settleMs: 0, log: (l) => lines.push(l)})
    const a = await connect(h.url)
    a.send({subscribe: SYMS})
    await waitFor(() => a.frames.length > 0, 5000, "the first client's first frame")
    const b = await connect(h.url)
    b.send({subscribe: SYMS.slice(0, 1)})
    b.send({subscribe: SYMS.slice(1)})
    await waitFor(() => lines.some((l) => l.startsWith('client 2 subscribed')), 5000, "the second client's line")
    await new Promise((r) => setTimeout(r, 100))
    const joined = lines.filter((l) => l.startsWith('client 2 subscribed'))
    expect(joined).toHaveLength(1)
    expect(joined[0]).toMatch(/^client 2 subscribed: joins the shared timeline at \d{4}-\d\d-\d\dT[\d:.]+Z$/)
    expect(lines.filter((l) => l.startsWith('client 1 subscribed'))).toEqual(['client 1 subscribed: the shared timeline starts once subscriptions settle'])
    expect(lines.filter((l) => l.startsWith('the shared timeline starts'))).toEqual(['the shared timeline starts (1 client subscribed)'])
  })

  it('every client that subscribes before the shared timeline starts is logged, once each, then the start', async () => {
    const path = await writeRecording(tape(400, {meanGapMs: 5}).map((f) => canonical(f, 'v2')), 'v2', 100)
    const lines: string[] = []
    const h = await start(path, {speed: 1, clock: 'shared', settleMs: 300, log: (l) => lines.push(l)})
    const clients = [await connect(h.url), await connect(h.url), await connect(h.url)]
    for (const [k, c] of clients.entries()) c.send({subscribe: [SYMS[k]]})
    clients[0].send({subscribe: SYMS.slice(1)})
    await waitFor(() => lines.some((l) => l.startsWith('the shared timeline starts')), 5000, 'the start line')
    const subscribed = lines.filter((l) => /^client \d+ subscribed/.test(l))
    expect(subscribed).toEqual([1, 2, 3].map((id) => `client ${id} subscribed: the shared timeline starts once subscriptions settle`))
    expect(lines.filter((l) => l.startsWith('the shared timeline starts'))).toEqual(['the shared timeline starts (3 clients subscribed)'])
  })
})

describe('replay: options and errors', () => {
  it('rejects bad input with MdrecErrors', async () => {
    const path = await writeRecording(tape(3).map((f) => canonical(f, 'v2')), 'v2')
    await expect(replay(join(dir, 'missing.arrow'), {port: 0})).rejects.toMatchObject({code: 'E_NOT_FOUND'})
    await expect(replay(path, {port: 0, speed: 0})).rejects.toMatchObject({code: 'E_USAGE'})
    await expect(replay(path, {port: 0, loop: -1})).rejects.toMatchObject({code: 'E_USAGE'})
    await expect(replay(path, {port: 0, clock: 'wall' as never})).rejects.toThrow(/invalid clock "wall"/)
    await expect(replay(path, {port: 0, from: '+1s', to: '+1s'})).rejects.toThrow(/--to must be after --from/)
    await expect(replay([], {port: 0})).rejects.toBeInstanceOf(MdrecError)
    const h = await start(path, {port: 0})
    await expect(replay(path, {port: h.port})).rejects.toMatchObject({code: 'E_IO', message: expect.stringMatching(/port is in use/)})
  })

  it('plays only the from/to range', async () => {
    const rows = evenTape(50, 10, SYMS).map((f) => canonical(f, 'v2'))
    const path = await writeRecording(rows, 'v2')
    // startTime in the metadata is 1 ms before the first row: +101ms..+201ms is rows 10..19
    const h = await start(path, {speed: 'max', from: '+101ms', to: rows[20].input.recv_ts, atEnd: 'close'})
    const c = await connect(h.url, SYMS)
    await c.closed
    expect(c.frames).toEqual(rows.slice(10, 20).map((r) => r.frame))
  })

  it('close() ends connections with 1000 and resolves the summary', async () => {
    const rows = evenTape(100, 20, SYMS).map((f) => canonical(f, 'v2'))
    const path = await writeRecording(rows, 'v2')
    const h = await replay(path, {port: 0})
    const c = await connect(h.url, SYMS)
    await waitFor(() => c.frames.length >= 2, 5000, 'frames')
    const summary = await h.close()
    expect((await c.closed).code).toBe(1000)
    expect(summary.framesSent).toBeGreaterThanOrEqual(2)
    expect(summary.clients).toBe(1)
    expect(summary.errors).toEqual([])
    expect(await h.done).toEqual(summary) // connection clock: done resolves at close
    expect(await h.close()).toBe(summary)
  })
})

describe('testing helpers', () => {
  const path = join(dir, 'fixture-helpers.arrow')
  const rows = evenTape(30, 1, SYMS).map((f) => canonical(f, 'v2'))
  beforeAll(async () => {
    const p = await writeRecording(rows, 'v2')
    const {renameSync} = await import('node:fs')
    renameSync(p, path)
  })
  const feed = useReplay(path, {speed: 'max', atEnd: 'close'}, {beforeAll, afterAll})

  it('useReplay serves the fixture for the suite', async () => {
    expect(feed.url()).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/\?version=2$/)
    const c = await connect(feed.url('v1'), SYMS)
    await c.closed
    expect(c.frames).toEqual(rows.map((r) => encodeFrame(r.data!, 'v1')))
    expect(feed.handle().stats().clients).toBe(1)
  })

  it('useReplay without hooks or globals says what to do', () => {
    expect(() => useReplay(path)).toThrow(/pass them/)
  })
})
