/**
 * `mdrec record --feed binance` from the project's Binance emulator and
 * `mdrec replay` of what it wrote, on the combined and the raw endpoint: a
 * client subscribed like the recorder receives, from the replay, the bytes
 * the feed sent (odd frames included, rejects and protocol replies not);
 * the replay's REST depth snapshot matches the diff stream's update ids.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {binanceCodec} from '../src/feeds/binance/codec.js'
import {BinanceServer, textMessage, compareDecimal} from '../src/feeds/binance/server.js'
import {syntheticBinanceTape} from '../src/feeds/binance/synthetic.js'
import type {RowView} from '../src/feeds/types.js'
import {openRecording} from '../src/store/reader.js'
import {runCli, startCli} from './helpers/cli.js'
import {rowsOf} from './helpers/recording.js'
import {getJson, QueueClient} from './helpers/ws-client.js'

const SYMBOLS = ['BTCUSDT', 'ETHUSDT']
const TYPES = ['trade', 'aggTrade', 'bookTicker', 'depth@100ms', 'depth5@100ms']
const STREAMS = SYMBOLS.flatMap((s) => TYPES.map((t) => `${s.toLowerCase()}@${t}`))

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function subscribed(url: string): Promise<QueueClient> {
  const c = await QueueClient.open(url, cleanups)
  c.send({method: 'SUBSCRIBE', params: STREAMS, id: 1})
  expect(await c.next()).toBe('{"result":null,"id":1}')
  return c
}

/** Records the synthetic tape (1,500 messages) from the emulator on one endpoint, odd frames mixed in. */
async function record(dir: string, combined: boolean) {
  const server = await BinanceServer.listen({symbols: SYMBOLS})
  cleanups.push(() => server.close())
  const out = join(dir, `${combined ? 'c' : 'r'}.arrow`)
  const rec = startCli(['record', ...SYMBOLS, '--feed', 'binance', '--types', TYPES.join(','), '--format', combined ? 'combined' : 'raw', '--url', `ws://127.0.0.1:${server.port}`, '--out', out, '--flush-interval', '200ms', '--json'], cleanups)
  await new Promise((resolve) => server.once('subscribe', resolve))
  const mirror = await subscribed(server.url(combined))
  const tape = [...syntheticBinanceTape({frames: 1500, seed: 5, symbols: SYMBOLS, startNs: BigInt(Date.now()) * 1_000_000n})]
  const trade = tape.find((f) => f.event === 'trade')!
  const w = (p: string) => (combined ? `{"stream":"${trade.stream}","data":${p}}` : p)
  const odd = {
    spaced: w(trade.payload.replace('"p":', '"p": ')), // decodes, keeps raw
    oldLayout: w(trade.payload.replace(/,"T":/, ',"b":88,"a":50,"T":')), // Binance's older trade layout: keeps raw
    malformed: '{"stream":"btcusdt@trade","data":{', // a reject
    error: '{"error":{"code":2,"msg":"Invalid request: invalid stream name"},"id":7}', // a status row
  }
  for (let i = 0; i < tape.length; i++) {
    const f = tape[i]
    server.publish(textMessage(f.stream, f.symbol, f.payload, f.diff))
    if (i === 700) for (const t of Object.values(odd)) server.sendRaw(t)
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5))
  }
  await mirror.until(() => mirror.messages.length >= tape.length + 5, 'every frame at the mirror', 20_000)
  await new Promise((r) => setTimeout(r, 400))
  rec.child.kill('SIGINT')
  const res = await rec.out
  return {out, res, sent: mirror.messages.slice(1), odd, tape}
}

function replayed(r: RowView, combined: boolean): string {
  return binanceCodec(combined, STREAMS).encode(r).data as string
}

/** `mdrec replay FILE --port 0 …`; the URL it prints. */
async function startReplay(file: string, extra: string[]): Promise<{url: string; base: string}> {
  const r = startCli(['replay', file, '--port', '0', ...extra], cleanups)
  const end = Date.now() + 20_000
  let m: RegExpMatchArray | null = null
  const text = () => r.stderr() + r.stdout()
  while (!(m = text().match(/ws:\/\/127\.0\.0\.1:(\d+)\/(?:stream|ws)/)) && Date.now() < end && r.child.exitCode === null) await new Promise((res) => setTimeout(res, 20))
  if (!m) throw new Error(`replay did not start: ${text()}`)
  return {url: m[0], base: `http://127.0.0.1:${m[1]}`}
}

describe('mdrec record --feed binance → mdrec replay', () => {
  for (const combined of [true, false]) {
    it(`${combined ? 'combined' : 'raw'} endpoint: records every message exactly and replays the same bytes; the REST snapshot follows the diff stream`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mdrec-binance-'))
      const {out, res, sent, odd, tape} = await record(dir, combined)
      expect(res.code, res.stderr).toBe(0)
      expect(JSON.parse(res.stdout)).toMatchObject({feed: 'binance', rejects: 1, gaps: 0, reconnects: 0})
      const rows = await rowsOf(out)
      const recorded = rows.filter((r) => r.kind !== 'gap').map((r) => (r.kind === 'reject' ? Buffer.from(r.raw!).toString() : replayed(r, combined)))
      expect(recorded).toEqual(sent)
      const withRaw = rows.filter((r) => r.raw !== null).map((r) => Buffer.from(r.raw!).toString())
      expect(withRaw.sort()).toEqual([odd.spaced, odd.oldLayout, odd.malformed, odd.error].sort())
      expect(rows.find((r) => r.kind === 'status')!.info).toBe(odd.error)
      const file = await openRecording(out)
      expect(file.meta).toMatchObject({feed: 'binance', endpoint: `ws://127.0.0.1:${new URL(file.meta.endpoint).port}/${combined ? 'stream' : 'ws'}`, feedOptions: {endpoint: combined ? 'combined' : 'raw', streams: STREAMS}})

      // replay: a client subscribed like the recorder gets the feed's bytes (not the reject, not the error reply)
      const r = await startReplay(out, ['--speed', 'max'])
      expect(r.url.endsWith(combined ? '/stream' : '/ws')).toBe(true)
      const want = sent.filter((t) => t !== odd.malformed && t !== odd.error)
      const c = await subscribed(r.url)
      await c.until(() => c.messages.length >= want.length + 1, 'the replayed frames', 30_000)
      expect(c.messages.slice(1)).toEqual(want)
      if (combined) {
        // a client of the other endpoint gets the payloads as printed, out of their wrappers (the odd ones' recorded bytes cut too)
        const bare = await subscribed(r.url.replace(/\/stream$/, '/ws'))
        await bare.until(() => bare.messages.length >= want.length + 1, 'the unwrapped frames', 30_000)
        expect(bare.messages.slice(1)).toEqual(want.map((t) => t.slice(t.indexOf(',"data":') + 8, -1)))
      }

      // the REST snapshot is the book after the last diff sent, at its update id
      for (const sym of SYMBOLS) {
        const diffs = tape.filter((f) => f.symbol === sym && f.diff)
        const book = {bids: new Map<string, string>(), asks: new Map<string, string>()}
        for (const f of diffs) {
          for (const [p, q] of JSON.parse(f.diff!.bids) as string[][]) if (/^0\.0+$/.test(q)) book.bids.delete(p); else book.bids.set(p, q)
          for (const [p, q] of JSON.parse(f.diff!.asks) as string[][]) if (/^0\.0+$/.test(q)) book.asks.delete(p); else book.asks.set(p, q)
        }
        const snap = await getJson(`${r.base}/api/v3/depth?symbol=${sym}&limit=1000`)
        expect(snap.status).toBe(200)
        expect(BigInt(snap.body.lastUpdateId)).toBe(diffs.at(-1)!.diff!.u)
        expect(snap.body.bids).toEqual([...book.bids].sort((x, y) => compareDecimal(y[0], x[0])))
        expect(snap.body.asks).toEqual([...book.asks].sort((x, y) => compareDecimal(x[0], y[0])))
      }
      const bad = await getJson(`${r.base}/api/v3/depth?symbol=XRPUSDT`)
      expect(bad).toEqual({status: 400, body: {code: -1121, msg: 'Invalid symbol.'}})
      const info = await getJson(`${r.base}/api/v3/exchangeInfo`)
      expect(info.body.symbols.map((s: {symbol: string}) => s.symbol)).toEqual(SYMBOLS)
    }, 90_000)
  }

  it('record refuses bad options with one line', async () => {
    for (const [args, msg] of [
      [['--types', 'kline_1m'], /invalid --types value "kline_1m" for binance/],
      [['--format', 'json'], /invalid --format "json" for binance/],
      [['--url', 'ws://127.0.0.1:1/ws', '--format', 'combined'], /contradicts the URL's path \/ws/],
    ] as const) {
      const res = await runCli(['record', 'BTCUSDT', '--feed', 'binance', ...args, '--duration', '1s'], {timeoutMs: 20_000})
      expect(res.code).not.toBe(0)
      expect(res.stderr.trim().split('\n')).toHaveLength(1)
      expect(res.stderr).toMatch(msg)
    }
  }, 60_000)
})
