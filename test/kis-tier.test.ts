/**
 * KIS tiering (issue 14, "more symbols than 41 registrations"): the emulator's
 * REST current-price endpoint and rate limit, and `record --tiering` over 120
 * codes — at most 41 registrations at every moment, every code has rows,
 * promotions are status rows, record → replay → record keeps the rows, the
 * rate-limit refusal is retried and recorded; without the flag > 41 is still
 * refused.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {kisCodec, planRegistrations} from '../src/feeds/kis/adapter.js'
import {requestText} from '../src/feeds/kis/codec.js'
import {KIS_PRICE_PATH, KIS_RATE_LIMIT_BODY, KIS_TOKEN_PATH} from '../src/feeds/kis/rest.js'
import type {KisServer} from '../src/feeds/kis/server.js'
import {KIS_DEFAULT_START_NS, kisSyntheticSymbols, syntheticKisTape, type KisTapeFrame} from '../src/feeds/kis/synthetic.js'
import type {RowView} from '../src/feeds/types.js'
import {record} from '../src/record/recorder.js'
import {replay, type ReplayHandle, type ReplayOptions} from '../src/replay/engine.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {RecordingWriter} from '../src/store/writer.js'
import {runCli} from './helpers/cli.js'

const APP_KEY = 'PStierTESTappkey7f3a9c0b1d2e4f5a6b7c8d9e0f'
const APP_SECRET = 'tierTESTsecret/Zq8vW2xY4kL6mN0pR3sT5uV7wX9yA1bC3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7d='
const TYPES = ['H0STCNT0']
/** 120 KRX codes: the 20 built-in ones, then 100 made-up six-digit codes. */
const CODES = [...syntheticCodes()]

function* syntheticCodes(): Generator<string> {
  const seen = new Set<string>()
  // the built-in codes first (most active), then 100 more
  for (const c of kisSyntheticSymbols(20)) {
    seen.add(c)
    yield c
  }
  for (let i = 0; seen.size < 120; i++) {
    const c = String(100_000 + i * 7919).padStart(6, '0').slice(-6)
    if (seen.has(c)) continue
    seen.add(c)
    yield c
  }
}

let dir: string
const cleanups: Array<() => Promise<unknown> | void> = []
const savedEnv = {key: process.env.KIS_APP_KEY, secret: process.env.KIS_APP_SECRET}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-kistier-'))
  process.env.KIS_APP_KEY = APP_KEY
  process.env.KIS_APP_SECRET = APP_SECRET
})
afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
  if (savedEnv.key === undefined) delete process.env.KIS_APP_KEY
  else process.env.KIS_APP_KEY = savedEnv.key
  if (savedEnv.secret === undefined) delete process.env.KIS_APP_SECRET
  else process.env.KIS_APP_SECRET = savedEnv.secret
})
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const TE = new TextEncoder()
let fileNo = 0

/** A synthetic KIS recording of `codes` (H0STCNT0), written straight through the store. */
function syntheticRecording(codes: string[], frames: number, meanGapMs: number): Promise<string> {
  return recordingOf(codes, syntheticKisTape({frames, symbols: codes, types: TYPES, meanGapMs, seed: 7}))
}

/** A KIS recording of `frames` (H0STCNT0 of `codes`), written straight through the store. */
async function recordingOf(codes: string[], frames: Iterable<KisTapeFrame>): Promise<string> {
  const path = join(dir, `synthetic${fileNo++}.arrow`)
  const codec = kisCodec(TYPES)
  const w = RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'kis',
        endpoint: 'ws://127.0.0.1:8765',
        subscriptions: codes,
        feedOptions: {types: TYPES, paper: false},
        toolVersion: 'test',
        startTime: '2025-06-12T00:00:00.000000000Z',
        rawMode: 'auto',
      },
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0},
  )
  for (const f of frames) {
    const d = codec.decode({data: f.text, binary: false})
    if (!d.ok) throw new Error(`${d.code}: ${d.message}`)
    const keep = d.rows.length !== 1 || !d.rows[0].exact
    d.rows.forEach((r, i) => w.append({...r, recv_ts: f.recv_ts, raw: keep && i === 0 ? TE.encode(f.text) : null}))
  }
  await w.close()
  return path
}

async function rowsOf(path: string): Promise<RowView[]> {
  const rows: RowView[] = []
  for await (const r of readRows(await openRecording(path))) rows.push(r)
  return rows
}

interface Served {
  h: ReplayHandle
  server: () => KisServer
  /** The most registrations any session held at any moment. */
  maxRegistrations: () => number
  /** Registrations the emulator refused (OPSP0008 past 41, …): the recorder must never cause one. */
  refusals: () => string[]
}

async function serve(path: string, o: ReplayOptions = {}, restRate?: number): Promise<Served> {
  let srv: KisServer | null = null
  let max = 0
  const refused: string[] = []
  const h = await replay(path, {
    port: 0,
    ...o,
    emulator: {
      ...(restRate === undefined ? {} : {restRate}),
      onServer: (s: KisServer) => {
        srv = s
        s.on('register', (c: {registrations: Map<string, unknown>}) => {
          max = Math.max(max, c.registrations.size)
        })
        s.on('refuse', (_c: unknown, r: {trId: string; trKey: string; msgCd: string}) => refused.push(`${r.msgCd} ${r.trId} ${r.trKey}`))
      },
    },
  })
  cleanups.push(() => h.close())
  return {h, server: () => srv!, maxRegistrations: () => max, refusals: () => refused}
}

function info(r: RowView): Record<string, unknown> {
  return r.info ? (JSON.parse(r.info) as Record<string, unknown>) : {}
}

async function token(base: string): Promise<string> {
  const res = await fetch(`${base}${KIS_TOKEN_PATH}`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({grant_type: 'client_credentials', appkey: APP_KEY, appsecret: APP_SECRET}),
  })
  expect(res.status).toBe(200)
  const j = (await res.json()) as {access_token: string; token_type: string}
  expect(j.token_type).toBe('Bearer')
  return j.access_token
}

function price(base: string, tok: string, code: string): Promise<Response> {
  return fetch(`${base}${KIS_PRICE_PATH}?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=${code}`, {
    headers: {'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${tok}`, appkey: APP_KEY, appsecret: APP_SECRET, tr_id: 'FHKST01010100', custtype: 'P'},
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('default: more than 41 registrations is still refused', () => {
  it('planRegistrations refuses 42 codes with the split advice', () => {
    expect(() => planRegistrations(CODES.slice(0, 42), TYPES, false)).toThrow(/42 symbols × 1 type = 42 registrations; KIS allows 41 per session/)
  })

  it('the CLI refuses > 41 without --tiering, and tiering flags without --tiering', async () => {
    const r = await runCli(['record', ...CODES.slice(0, 42), '--feed', 'kis', '--url', 'ws://127.0.0.1:9'], {env: {KIS_APP_KEY: APP_KEY, KIS_APP_SECRET: APP_SECRET}})
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/42 registrations; KIS allows 41 per session/)
    expect(r.stderr).toMatch(/--tiering/)
    const r2 = await runCli(['record', '005930', '--feed', 'kis', '--poll-interval', '1s'], {env: {KIS_APP_KEY: APP_KEY, KIS_APP_SECRET: APP_SECRET}})
    expect(r2.code).not.toBe(0)
    expect(r2.stderr).toMatch(/--tiering/)
    const r3 = await runCli(['record', 'AAPL', '--tiering'])
    expect(r3.code).not.toBe(0)
    expect(r3.stderr).toMatch(/--tiering is for --feed kis/)
  }, 60_000)
})

describe('the emulator serves the REST current price from the recording', () => {
  it('answers inquire-price with the latest state on the timeline, and refuses above the rate limit with KIS body', async () => {
    const codes = CODES.slice(0, 3)
    const path = await syntheticRecording(codes, 400, 5)
    const s = await serve(path, {speed: 'max', atEnd: 'idle'}, 4)
    const base = `http://127.0.0.1:${s.h.port}`
    const tok = await token(base)
    // no data without a token
    const bad = await fetch(`${base}${KIS_PRICE_PATH}?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=005930`, {headers: {tr_id: 'FHKST01010100'}})
    expect(bad.status).not.toBe(200)
    // a WebSocket session registered for one code drives the timeline
    const ws = new WebSocket(s.h.url)
    cleanups.push(() => ws.terminate())
    await new Promise((r) => ws.once('open', r))
    ws.send(requestText('approval', '1', 'H0STCNT0', codes[0]))
    // at 'max' the whole tape plays: the state is then the last row of each code
    const rows = await rowsOf(path)
    const last = new Map<string, RowView>()
    for (const r of rows) last.set(r.symbol, r)
    for (let i = 0; i < 100 && s.h.stats().plays < 1; i++) await sleep(50)
    await sleep(200)
    for (const code of codes) {
      const res = await price(base, tok, code)
      expect(res.status).toBe(200)
      const j = (await res.json()) as {rt_cd: string; output: Record<string, string>}
      expect(j.rt_cd).toBe('0')
      const f = last.get(code)!.fields
      expect(j.output.stck_prpr).toBe(String(f.STCK_PRPR))
      expect(j.output.acml_vol).toBe(String(f.ACML_VOL))
      expect(j.output.prdy_vrss_sign).toBe(String(f.PRDY_VRSS_SIGN))
    }
    // above 4 requests per second: KIS's own refusal
    await sleep(1100)
    const burst = await Promise.all(Array.from({length: 8}, () => price(base, tok, codes[1])))
    const refused = burst.filter((r) => r.status !== 200)
    expect(refused.length).toBeGreaterThanOrEqual(4)
    expect(await refused[0].text()).toBe(KIS_RATE_LIMIT_BODY)
    expect(refused[0].status).toBe(500)
  }, 30_000)
})

describe('a REST client appearing mid-play widens what the timeline passes', () => {
  it('rows of codes nobody registered pass (and update the price) from the first REST request on, though the timeline started before it', async () => {
    // A: rows at 0 s and 3 s; B: rows every 100 ms from 0.2 s to 2.7 s. One batch: its receivers were
    // worked out (A only) when the timeline started, before the REST request.
    const [a, b] = CODES.slice(0, 2)
    const tape = [...syntheticKisTape({frames: 400, symbols: [a, b], types: TYPES, meanGapMs: 5, seed: 7, bundleShare: 0})]
    const of = (code: string, n: number) => tape.filter((f) => f.key === code).slice(0, n)
    const at = (f: KisTapeFrame, ms: number): KisTapeFrame => ({...f, recv_ts: KIS_DEFAULT_START_NS + BigInt(ms) * 1_000_000n})
    const [a0, a1] = of(a, 2)
    const frames = [at(a0, 0), ...of(b, 26).map((f, k) => at(f, 200 + k * 100)), at(a1, 3000)]
    expect(frames.length).toBe(28)
    const path = await recordingOf([a, b], frames)
    const lastB = (await rowsOf(path)).filter((r) => r.symbol === b).at(-1)!
    const s = await serve(path, {atEnd: 'idle'})
    const base = `http://127.0.0.1:${s.h.port}`
    const ws = new WebSocket(s.h.url)
    cleanups.push(() => ws.terminate())
    await new Promise((r) => ws.once('open', r))
    const firstFrame = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no data frame within 5 s')), 5000)
      ws.on('message', (d: Buffer) => {
        const t = d.toString()
        if (!t.startsWith('0|')) return
        clearTimeout(timer)
        resolve(t)
      })
    })
    ws.send(requestText('approval', '1', 'H0STCNT0', a))
    expect((await firstFrame).split('|')[3].split('^')[0]).toBe(a)
    // the timeline runs (A's first row sent, the next one due at 3 s): now a REST client appears
    const tok = await token(base)
    await sleep(1200)
    // B's rows due since the request have passed: B has a current price long before A's next row
    const mid = (await (await price(base, tok, b)).json()) as {rt_cd: string; msg_cd: string}
    expect(mid.msg_cd).toBe('MCA00000')
    expect(mid.rt_cd).toBe('0')
    for (let i = 0; i < 100 && s.h.stats().plays < 1; i++) await sleep(50)
    expect(s.h.stats().plays).toBe(1)
    // and at the end B's price is its last row
    const end = (await (await price(base, tok, b)).json()) as {rt_cd: string; output?: Record<string, string>}
    expect(end.rt_cd).toBe('0')
    expect(end.output?.stck_prpr).toBe(String(lastB.fields.STCK_PRPR))
  }, 20_000)
})

describe('a REST client appearing while a loop play that handed its receivers nothing waits', () => {
  it('starts the next play: rows of codes nobody registered then pass and set the price', async () => {
    // The recording holds B only; the client registers A (absent): the first play hands the client
    // nothing, and such a play waits for a change of who can receive what before the next one. Then the
    // REST client's rows of B are taken into the REST state (no frame is sent): the plays go on.
    const [a, b] = CODES.slice(0, 2)
    const frames = [...syntheticKisTape({frames: 200, symbols: [b], types: TYPES, meanGapMs: 5, seed: 8, bundleShare: 0})]
    const path = await recordingOf([b], frames)
    const lastB = (await rowsOf(path)).filter((r) => r.symbol === b).at(-1)!
    const s = await serve(path, {speed: 'max', loop: 3, settleMs: 0})
    const base = `http://127.0.0.1:${s.h.port}`
    const ws = new WebSocket(s.h.url)
    cleanups.push(() => ws.terminate())
    await new Promise((r) => ws.once('open', r))
    ws.send(requestText('approval', '1', 'H0STCNT0', a))
    for (let i = 0; i < 100 && s.h.stats().plays < 1; i++) await sleep(50)
    expect(s.h.stats().plays).toBe(1)
    await sleep(300)
    expect(s.h.stats().plays).toBe(1) // waiting, not spinning through empty plays
    // a REST client appears: B's rows now pass (REST state), so the plays go on
    const tok = await token(base)
    for (let i = 0; i < 100 && s.h.stats().plays < 4; i++) await sleep(50)
    expect(s.h.stats().plays).toBe(4)
    const end = (await (await price(base, tok, b)).json()) as {rt_cd: string; output?: Record<string, string>}
    expect(end.rt_cd).toBe('0')
    expect(end.output?.stck_prpr).toBe(String(lastB.fields.STCK_PRPR))
  }, 20_000)
})

describe('record --tiering', () => {
  it('records 120 codes: ≤ 41 registrations at every moment, every code has rows, promotions, record → replay → record keeps the rows', async () => {
    const path = await syntheticRecording(CODES, 40_000, 20)
    // the tape: 40,000 frames over ~800 s; at 40× about 1,000 frames/s
    const s1 = await serve(path, {speed: 40})
    const a = join(dir, 'tiered-a.arrow')
    const logs: string[] = []
    const sumA = await record({
      feed: 'kis',
      symbols: CODES,
      feedOptions: {types: TYPES, tiering: true, 'poll-interval': 200, 'rebalance-every': 1000},
      url: s1.h.url,
      out: a,
      durationMs: 9000,
      log: (l) => logs.push(l),
    })
    expect(sumA.connected).toBe(true)
    expect(s1.maxRegistrations()).toBeGreaterThan(0)
    expect(s1.maxRegistrations()).toBeLessThanOrEqual(41)
    expect(s1.refusals()).toEqual([])
    const rowsA = await rowsOf(a)
    const data = rowsA.filter((r) => r.kind === 'trade' || r.kind === 'tick')
    const tiers = new Set(data.map((r) => r.fields.tier))
    expect([...tiers].sort()).toEqual(['rest', 'ws'])
    const withRows = new Set(data.map((r) => r.symbol))
    const missing = CODES.filter((c) => !withRows.has(c))
    expect(missing, `codes without rows: ${missing.join(' ')}`).toEqual([])
    const promotions = rowsA.filter((r) => r.kind === 'status' && info(r).tiering === 'promote')
    const demotions = rowsA.filter((r) => r.kind === 'status' && info(r).tiering === 'demote')
    expect(promotions.length).toBeGreaterThan(0)
    expect(demotions.length).toBe(promotions.length)
    // a promoted code's later rows come from the WebSocket
    const p0 = promotions[0]
    expect(data.some((r) => r.symbol === p0.symbol && r.recv_ts > p0.recv_ts && r.fields.tier === 'ws')).toBe(true)
    // no credential in the file or the log
    const bytes = readFileSync(a).toString('latin1')
    const tok = [...s1.server().tokens.keys()][0]
    expect(tok).toBeTruthy()
    for (const secret of [APP_KEY, APP_SECRET, tok]) {
      expect(bytes.includes(secret)).toBe(false)
      expect(logs.join('\n').includes(secret)).toBe(false)
    }
    await s1.h.close()

    // record → replay → record: the second recording's rows are rows (states) of the first
    const s2 = await serve(a, {speed: 1})
    const b = join(dir, 'tiered-b.arrow')
    // longer than A: after A's last row the state stays, and every polled code is asked for again (a sweep of 79 codes at 20/s is ~4 s)
    await record({feed: 'kis', symbols: CODES, feedOptions: {types: TYPES, tiering: true, 'poll-interval': 200, 'rebalance-every': 1000}, url: s2.h.url, out: b, durationMs: 15_000})
    expect(s2.maxRegistrations()).toBeLessThanOrEqual(41)
    expect(s2.refusals()).toEqual([])
    const rowsB = (await rowsOf(b)).filter((r) => r.kind === 'trade' || r.kind === 'tick')
    const key = (r: RowView) => `${r.symbol}|${String(r.fields.STCK_PRPR)}|${String(r.fields.ACML_VOL)}`
    const statesA = new Set(data.map(key))
    const foreign = rowsB.filter((r) => !statesA.has(key(r)))
    expect(foreign.length, `rows of B not in A: ${foreign.slice(0, 3).map(key).join(', ')}`).toBe(0)
    const inB = new Set(rowsB.map((r) => r.symbol))
    const lost = CODES.filter((c) => !inB.has(c))
    expect(lost, `codes of A without rows in B: ${lost.join(' ')}`).toEqual([])
  }, 120_000)

  it('retries the rate-limit refusal with backoff and records it as a status row', async () => {
    const codes = CODES.slice(0, 50)
    const path = await syntheticRecording(codes, 20_000, 20)
    // the emulator allows 3 requests/s; the recorder paces to KIS's 20/s
    const s = await serve(path, {speed: 20}, 3)
    const out = join(dir, 'ratelimited.arrow')
    await record({feed: 'kis', symbols: codes, feedOptions: {types: TYPES, tiering: true, 'poll-interval': 200, 'rebalance-every': 60_000}, url: s.h.url, out, durationMs: 4000})
    const rows = await rowsOf(out)
    const limited = rows.filter((r) => r.kind === 'status' && info(r).rest === 'rate_limited')
    expect(limited.length).toBeGreaterThan(0)
    expect(info(limited[0]).msg_cd).toBe('EGW00201')
    expect(info(limited[0]).retry_in_ms).toBeGreaterThan(0)
    // retried: the refused code is asked for again and answered
    expect(limited.some((l) => rows.some((r) => r.symbol === l.symbol && r.fields.tier === 'rest' && r.recv_ts > l.recv_ts))).toBe(true)
    // backoff: the waits grow while refusals follow each other
    const waits = limited.map((l) => Number(info(l).attempt))
    expect(Math.max(...waits)).toBeGreaterThan(1)
  }, 60_000)
})
