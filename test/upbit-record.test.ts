import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {encodeMessage, upbitCodec} from '../src/feeds/upbit/codec.js'
import {rowMessage, UpbitServer} from '../src/feeds/upbit/server.js'
import {syntheticUpbitTape} from '../src/feeds/upbit/synthetic.js'
import type {RowView} from '../src/feeds/types.js'
import {replay} from '../src/replay/engine.js'
import {openRecording} from '../src/store/reader.js'
import {runCli, spawnCli, type Running} from './helpers/cli.js'
import {expectPolarsAgrees} from './helpers/polars.js'
import {rowsOf} from './helpers/recording.js'

const CODES = ['KRW-BTC', 'KRW-ETH']
const TYPES = 'ticker,trade,orderbook.15'
const REQUEST = [{type: 'ticker', codes: CODES}, {type: 'trade', codes: CODES}, {type: 'orderbook', codes: CODES.map((c) => `${c}.15`)}]
const FIXTURE = new URL('../fixtures/upbit-krw.arrow', import.meta.url).pathname

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mdrec-upbit-'))
}

/** `mdrec ARGS`, killed after the test; `stderrText` is what it printed so far. */
function startCli(args: string[]): Running & {stderrText: () => string} {
  const r = spawnCli(args, {timeoutMs: 90_000})
  cleanups.push(r.kill)
  return {...r, stderrText: () => r.stderr() + r.stdout()}
}

/** `mdrec replay FILE --port 0 …` as a user runs it; resolves with the URL it prints. */
async function startReplay(file: string, extra: string[] = []): Promise<{url: string; port: number; stop: () => Promise<void>}> {
  const r = startCli(['replay', file, '--port', '0', ...extra])
  const end = Date.now() + 20_000
  let m: RegExpMatchArray | null = null
  while (!(m = r.stderrText().match(/ws:\/\/127\.0\.0\.1:(\d+)\/websocket\/v1/)) && Date.now() < end && r.child.exitCode === null) {
    await new Promise((res) => setTimeout(res, 20))
  }
  if (!m) throw new Error(`replay did not start: ${r.stderrText()}`)
  return {
    url: m[0],
    port: Number(m[1]),
    stop: async () => {
      r.child.kill('SIGINT')
      await r.out
    },
  }
}

/** A plain ws client with the recorder's subscription: what the feed sent, byte for byte. */
async function mirror(url: string): Promise<{frames: Buffer[]; close: () => void}> {
  const ws = new WebSocket(url, {perMessageDeflate: false})
  const frames: Buffer[] = []
  ws.on('message', (d: Buffer) => frames.push(Buffer.from(d)))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  ws.send(JSON.stringify([{ticket: 'mirror'}, ...REQUEST]))
  cleanups.push(() => ws.terminate())
  return {frames, close: () => ws.close()}
}

/** What a row replays as (its raw payload, or its columns re-encoded). */
function replayed(r: RowView): string {
  return Buffer.from(upbitCodec('DEFAULT').encode(r).data as Uint8Array).toString('utf8')
}

function dataRows(rows: RowView[]): RowView[] {
  return rows.filter((r) => r.kind !== 'reject' && r.kind !== 'status' && r.kind !== 'gap')
}

/** A row without its per-recording parts (receive time, seq), for comparing recordings. */
function content(r: RowView) {
  return {kind: r.kind, symbol: r.symbol, exch_ts: r.exch_ts, info: r.info, raw: r.raw && Buffer.from(r.raw).toString(), fields: r.fields}
}

/** Records the synthetic tape from the emulator, with odd frames mixed in (a text frame only when `textFrame`). */
async function recordFromEmulator(dir: string, textFrame = true) {
  const server = await UpbitServer.listen({markets: CODES})
  cleanups.push(() => server.close())
  const out = join(dir, 'a.arrow')
  const rec = startCli(['record', ...CODES, '--feed', 'upbit', '--types', TYPES, '--url', server.url(), '--out', out, '--flush-interval', '200ms', '--json'])
  const subscribed = new Promise((resolve) => server.once('subscribe', resolve))
  await subscribed
  const m = await mirror(server.url())
  await new Promise((r) => setTimeout(r, 100))
  const tape = [...syntheticUpbitTape({frames: 1200, seed: 21, codes: CODES, startNs: BigInt(Date.now()) * 1_000_000n})]
  const sample = encodeMessage(tape.find((f) => f.row.fields.type === 'trade')!.row, false)
  const odd = {
    text: sample, // sent as a text frame
    spaced: sample.replace('"code":', '"code": '), // whitespace: decodes, keeps raw
    jsonStringified: JSON.stringify(JSON.parse(sample)), // another number format: exact through the layout column
    malformed: '{"type":"trade","code":', // a reject row
    error: '{"error":{"name":"INVALID_PARAM","message":"codes field is empty."}}', // a status row
  }
  for (let i = 0; i < tape.length; i++) {
    server.publish(rowMessage(tape[i].row))
    if (i === 600) {
      if (textFrame) server.sendRaw(odd.text, false)
      server.sendRaw(odd.spaced)
      server.sendRaw(odd.jsonStringified)
      server.sendRaw(odd.malformed)
      server.sendRaw(odd.error)
      server.sendRaw('{"status":"UP"}')
    }
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5))
  }
  await new Promise((r) => setTimeout(r, 500))
  rec.child.kill('SIGINT')
  const res = await rec.out
  m.close()
  return {out, res, sent: m.frames, odd}
}

describe('mdrec record --feed upbit', () => {
  it('records every message of a local Upbit feed exactly; odd frames keep raw, malformed ones are rejects', async () => {
    const dir = tmp()
    const {out, res, sent, odd} = await recordFromEmulator(dir)
    expect(res.code, res.stderr).toBe(0)
    const summary = JSON.parse(res.stdout)
    expect(summary).toMatchObject({feed: 'upbit', rejects: 1, gaps: 0, reconnects: 0, files: [out]})
    const rows = await rowsOf(out)
    expect(summary.rows).toBe(rows.length)
    // the mirror client got the same frames as the recorder (minus its own status UP, which the recorder swallows)
    const mirrored = sent.map((b) => b.toString('utf8')).filter((t) => t !== '{"status":"UP"}')
    const recorded = rows.filter((r) => r.kind !== 'gap').map((r) => (r.kind === 'reject' ? Buffer.from(r.raw!).toString() : replayed(r)))
    expect(recorded).toEqual(mirrored)
    // canonical messages keep no payload; the text frame, the spaced one and the reject keep theirs
    const withRaw = rows.filter((r) => r.raw !== null).map((r) => Buffer.from(r.raw!).toString())
    expect(withRaw.sort()).toEqual([odd.text, odd.spaced, odd.malformed].sort())
    const stringified = rows.find((r) => r.fields.layout !== undefined && r.fields.layout !== null && r.kind === 'trade')!
    expect(replayed(stringified)).toBe(odd.jsonStringified)
    const reject = rows.find((r) => r.kind === 'reject')!
    expect(JSON.parse(reject.info!)).toMatchObject({code: 'BAD_JSON', binary: true})
    const status = rows.find((r) => r.kind === 'status')!
    expect(JSON.parse(status.info!)).toEqual({error: {name: 'INVALID_PARAM', message: 'codes field is empty.'}})
    // first message of each (type, code) is the snapshot
    const first = new Map<string, unknown>()
    for (const r of dataRows(rows)) if (!first.has(`${r.fields.type}|${r.symbol}`)) first.set(`${r.fields.type}|${r.symbol}`, r.fields.stream_type)
    expect([...first.values()].every((s) => s === 'SNAPSHOT')).toBe(true)
    expect(first.size).toBe(6)
    const book = rows.find((r) => r.kind === 'orderbook')!
    expect(book.fields.orderbook_units).toHaveLength(15)
    const info = await openRecording(out)
    expect(info.meta).toMatchObject({feed: 'upbit', endpoint: expect.stringMatching(/\/websocket\/v1$/), subscriptions: CODES, feedOptions: {format: 'DEFAULT', types: ['ticker', 'trade', 'orderbook.15']}})
    expect(await expectPolarsAgrees(out)).toBe(rows.length)
  }, 60_000)

  it('record → mdrec replay → record again gives the same rows', async () => {
    const dir = tmp()
    // (a text frame would come back as a binary one: the emulator sends binary frames, as Upbit does)
    const {out: a, res} = await recordFromEmulator(dir, false)
    expect(res.code, res.stderr).toBe(0)
    const r = await startReplay(a, ['--speed', 'max'])
    cleanups.push(r.stop)
    const b = join(dir, 'b.arrow')
    const rec = await runCli(['record', ...CODES, '--feed', 'upbit', '--types', TYPES, '--url', r.url, '--out', b, '--duration', '4s', '--quiet'], {timeoutMs: 30_000})
    expect(rec.code, rec.stderr).toBe(0)
    const rowsA = (await rowsOf(a)).filter((x) => x.kind !== 'reject' && x.kind !== 'status')
    const rowsB = await rowsOf(b)
    expect(rowsB.length).toBe(rowsA.length)
    expect(rowsB.map(content)).toEqual(rowsA.map(content))
  }, 60_000)

  it('mdrec replay of the fixture at 10x; the same rows come back through the recorder', async () => {
    const dir = tmp()
    const r = await startReplay(FIXTURE, ['--speed', '10'])
    cleanups.push(r.stop)
    const b = join(dir, 'fx.arrow')
    const rec = await runCli(['record', ...CODES, '--feed', 'upbit', '--types', TYPES, '--url', r.url, '--out', b, '--duration', '5s', '--quiet'], {timeoutMs: 30_000})
    expect(rec.code, rec.stderr).toBe(0)
    const want = await rowsOf(FIXTURE)
    const got = await rowsOf(b)
    expect(got.map(content)).toEqual(want.map(content))
    // the replay kept the recorded pace, scaled: the fixture's span at 10x
    const span = (rows: RowView[]) => Number(rows.at(-1)!.recv_ts - rows[0].recv_ts) / 1e6
    expect(span(got)).toBeGreaterThan(span(want) / 10 - 300)
    expect(span(got)).toBeLessThan(span(want) / 10 + 1500)
  }, 60_000)

  it('mdrec info and mdrec cat show the rows sensibly', async () => {
    const info = await runCli(['info', FIXTURE])
    expect(info.code, info.stderr).toBe(0)
    expect(info.stdout).toMatch(/feed\s+upbit/)
    expect(info.stdout).toMatch(/trade \d+, tick \d+, orderbook \d+/)
    expect(info.stdout).toMatch(/KRW-BTC \d+, KRW-ETH \d+|KRW-ETH \d+, KRW-BTC \d+/)
    expect(info.stdout).toMatch(/0 rows keep raw payloads/)
    const cat = await runCli(['cat', FIXTURE, '-n', '40'])
    expect(cat.code, cat.stderr).toBe(0)
    const lines = cat.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/symbol\s+kind\s+type\s+trade_price\s+trade_volume\s+ask_bid\s+change_rate\s+orderbook_units\s+stream_type/)
    expect(lines.length).toBe(41)
    expect(cat.stdout).toMatch(/orderbook\s+orderbook\s+15 lv {2}ask \d+ × [\d.]+ \| bid \d+\S*\s+(SNAPSHOT|REALTIME)/)
    const nd = await runCli(['cat', FIXTURE, '-f', 'ndjson', '-n', '300'])
    const objs = nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const trade = objs.find((o) => o.kind === 'trade')!
    expect(String(trade.sequential_id)).toMatch(/^\d{17}$/) // exact, as a string
    const book = objs.find((o) => o.kind === 'orderbook')!
    expect(book.orderbook_units).toHaveLength(15)
  }, 30_000)

  it('refuses bad --types, --format, codes and --paper with usage errors naming the valid values', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['KRW-BTC', '--types', 'ticker,depth'], /invalid --types value "depth" for upbit: use a comma-separated list of ticker, trade, orderbook, candle\.1s.*orderbook\.15/],
      [['KRW-BTC', '--types', 'orderbook.7'], /invalid --types value "orderbook\.7"/],
      [['KRW-BTC', '--format', 'json_list'], /invalid --format "json_list" for upbit: use default or simple/],
      [['krw-btc'], /invalid upbit market code "krw-btc" \(codes are uppercase: KRW-BTC\)/],
      [['KRW-BTC', '--paper'], /no paper-trading/],
    ]
    for (const [args, msg] of cases) {
      const r = await runCli(['record', ...args, '--feed', 'upbit', '--url', 'ws://127.0.0.1:9/websocket/v1', '--duration', '1s'])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(msg)
    }
  }, 60_000)
})

describe('upbit replay', () => {
  it('loops with times shifted: timestamps, trade dates and sequential ids move by the loop period', async () => {
    const h = await replay(FIXTURE, {port: 0, speed: 'max', loop: 1, atEnd: 'close'})
    cleanups.push(async () => {
      await h.close()
    })
    const ws = new WebSocket(h.url, {perMessageDeflate: false})
    const got: string[] = []
    let binary = 0
    ws.on('message', (d: Buffer, isBinary) => {
      if (isBinary) binary++
      got.push(d.toString())
    })
    await new Promise<void>((resolve) => ws.once('open', () => resolve()))
    ws.send(JSON.stringify([{ticket: 'loop'}, {type: 'trade', codes: CODES}]))
    await new Promise<void>((resolve) => ws.once('close', () => resolve()))
    const n = (await rowsOf(FIXTURE)).filter((r) => r.kind === 'trade').length
    expect(got.length).toBe(n * 2)
    expect(binary).toBe(got.length)
    // sequential_id is beyond 2^53: read it from the text, not through JSON.parse
    const sid = (t: string) => BigInt(/"sequential_id":(\d+)/.exec(t)![1])
    const obj = got.map((t) => JSON.parse(t) as Record<string, unknown>)
    const delta = Number(obj[n].timestamp) - Number(obj[0].timestamp)
    expect(delta).toBeGreaterThan(0)
    for (let i = 0; i < n; i++) {
      const a = obj[i]
      const b = obj[n + i]
      expect(Number(b.timestamp) - Number(a.timestamp)).toBe(delta)
      expect(Number(b.trade_timestamp) - Number(a.trade_timestamp)).toBe(delta)
      expect(sid(got[n + i]) - sid(got[i])).toBe(BigInt(delta) * 10_000n)
      expect(new Date(Number(b.trade_timestamp)).toISOString().slice(0, 19)).toBe(`${b.trade_date}T${b.trade_time}`)
      expect(b.trade_price).toBe(a.trade_price)
    }
    // within a play, each market's ids are unique and increasing
    for (const play of [got.slice(0, n), got.slice(n)]) {
      for (const code of CODES) {
        const ids = play.filter((t) => t.includes(`"code":"${code}"`)).map(sid)
        for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true)
      }
    }
  }, 30_000)

  it('serves /v1/market/all from the recording and keeps recorded status rows to itself', async () => {
    const h = await replay(FIXTURE, {port: 0, speed: 'max'})
    cleanups.push(async () => {
      await h.close()
    })
    const markets = (await (await fetch(`http://127.0.0.1:${h.port}/v1/market/all`)).json()) as Array<{market: string}>
    expect(markets.map((m) => m.market)).toEqual(CODES)
  })
})
