/**
 * Binance codec: every synthetic message of both endpoints decodes into
 * columns that re-encode to the received text (so `--raw auto` keeps no
 * payload), ids beyond 2^53 stay exact, decimal strings stay as printed, and
 * malformed frames become rejects or inexact rows without throwing.
 */
import {describe, expect, it} from 'vitest'

import {binanceCodec, encodePayload, wrap} from '../src/feeds/binance/codec.js'
import {inferStream, parseStream, type StreamName} from '../src/feeds/binance/streams.js'
import {syntheticBinanceTape} from '../src/feeds/binance/synthetic.js'
import type {RowView} from '../src/feeds/types.js'
import {mulberry32} from '../src/util/prng.js'
import {fuzz} from './helpers/fuzz.js'

const STREAMS = ['btcusdt', 'ethusdt'].flatMap((s) => ['trade', 'aggTrade', 'bookTicker', 'depth@100ms', 'depth5@100ms'].map((t) => `${s}@${t}`))

function view(r: {exch_ts: bigint | null; symbol: string; kind: RowView['kind']; info: string | null; fields: Record<string, unknown> | null}): RowView {
  return {recv_ts: 0n, seq: 0n, raw: null, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, info: r.info, fields: r.fields ?? {}}
}

describe('binance codec', () => {
  for (const combined of [true, false]) {
    it(`decodes and re-encodes every synthetic message exactly (${combined ? 'combined' : 'raw'} endpoint)`, () => {
      const codec = binanceCodec(combined, STREAMS)
      const kinds = new Map<string, number>()
      for (const f of syntheticBinanceTape({frames: 5000, seed: 3})) {
        const text = combined ? wrap(f.stream, f.payload) : f.payload
        const d = codec.decode({data: text, binary: false})
        expect(d.ok).toBe(true)
        if (!d.ok) continue
        const row = d.rows[0]
        expect(row.exact, text).toBe(true)
        // partial books in the raw endpoint name no symbol or stream: there are two depth5 streams here
        if (combined || f.event !== 'depth') {
          expect(row.symbol).toBe(f.symbol)
          expect(row.fields!.stream).toBe(f.stream)
        } else expect([row.symbol, row.fields!.stream]).toEqual(['', undefined])
        expect(codec.encode(view(row)).data).toBe(text)
        kinds.set(f.event, (kinds.get(f.event) ?? 0) + 1)
      }
      expect([...kinds.keys()].sort()).toEqual(['aggTrade', 'bookTicker', 'depth', 'depthUpdate', 'trade'])
    })
  }

  it("keeps Binance's documented examples exact, ids beyond 2^53 and decimals as printed", () => {
    const codec = binanceCodec(false, ['bnbbtc@depth'])
    const msgs = [
      '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":18446744073709551615,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}',
      '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}',
      '{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}',
      '{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":9007199254740993,"u":9007199254740995,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}',
    ]
    for (const m of msgs) {
      const d = codec.decode({data: m, binary: false})
      expect(d.ok && d.rows[0].exact, m).toBe(true)
      if (d.ok) expect(encodePayload(view(d.rows[0]))).toBe(m)
    }
    const t = codec.decode({data: msgs[0], binary: false})
    expect(t.ok && t.rows[0].fields!.trade_id).toBe(18446744073709551615n)
    expect(t.ok && t.rows[0].fields!.price).toBe('0.001')
    const u = codec.decode({data: msgs[3], binary: false})
    expect(u.ok && [u.rows[0].fields!.first_update_id, u.rows[0].fields!.last_update_id]).toEqual([9007199254740993n, 9007199254740995n])
    expect(u.ok && u.rows[0].fields!.stream).toBe('bnbbtc@depth')
  })

  it('keeps the payload of messages it cannot re-encode, and records protocol replies and unknown messages as status rows', () => {
    const codec = binanceCodec(true, ['btcusdt@trade'])
    const inexact = [
      '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","b":88,"a":50,"T":1,"m":true,"M":true}}', // old trade layout
      '{"stream":"btcusdt@trade", "data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true,"M":true}}', // whitespace
      '{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true,"M":true}', // not wrapped on the combined endpoint
      '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":-1,"p":1,"q":"1","T":1,"m":true,"M":true}}', // a negative id, a number price
    ]
    for (const m of inexact) {
      const d = codec.decode({data: m, binary: false})
      expect(d.ok, m).toBe(true)
      if (d.ok) expect(d.rows[0].exact, m).toBe(false)
    }
    const err = codec.decode({data: '{"error":{"code":2,"msg":"Invalid request"},"id":1}', binary: false})
    expect(err.ok && err.rows[0].kind).toBe('status')
    expect(err.ok && JSON.parse(err.rows[0].info!)).toEqual({error: {code: 2, msg: 'Invalid request'}, id: 1})
    for (const [m, code] of [['not json', 'BAD_JSON'], ['[1,2]', 'NOT_OBJECT'], ['"x"', 'NOT_OBJECT']] as const) {
      const d = codec.decode({data: m, binary: false})
      expect(d.ok ? 'ok' : d.code).toBe(code)
    }
    expect(codec.decode({data: new Uint8Array([0xff, 0xfe]), binary: true})).toMatchObject({ok: false, code: 'BAD_JSON'})
    const bin = codec.decode({data: Buffer.from('{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","T":1,"m":true,"M":true}}'), binary: true})
    expect(bin.ok && bin.rows[0].exact).toBe(false) // a binary frame keeps its payload
  })

  it('fuzz: edited messages never throw; every result is a reject, or a row that is exact only if it re-encodes to the frame', () => {
    const rnd = mulberry32(42)
    const fz = fuzz(rnd)
    const frames = [...syntheticBinanceTape({frames: 400, seed: 9})].map((f) => wrap(f.stream, f.payload))
    const codec = binanceCodec(true, STREAMS)
    const end = Date.now() + 10_000
    let rejects = 0
    let n = 0
    for (; n < 20_000 && Date.now() < end; n++) {
      const text = fz.editChars(fz.pick(frames), '{}[]":,0123456789.-eE tfnulabs\\')
      const d = codec.decode({data: text, binary: false})
      if (!d.ok) {
        rejects++
        expect(d.code).toMatch(/^(BAD_JSON|NOT_OBJECT)$/)
        continue
      }
      const r = d.rows[0]
      if (r.exact) expect(codec.encode(view(r)).data).toBe(text)
    }
    expect(n).toBeGreaterThan(1000)
    expect(rejects).toBeGreaterThan(0)
  })

  it('a loop shift moves E and T by whole ms; ids stay', () => {
    const codec = binanceCodec(false, [])
    const m = '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782135,"m":true,"M":true}'
    const d = codec.decode({data: m, binary: false})
    expect(d.ok && encodePayload(view(d.rows[0]), 60_000)).toBe(m.replace('1672515782136', '1672515842136').replace('1672515782135', '1672515842135'))
  })

  it('parses stream names and infers a raw-endpoint message\'s stream from the subscriptions', () => {
    expect(parseStream('btcusdt@depth20@100ms')).toMatchObject({symbol: 'btcusdt', event: 'depth', levels: 20})
    expect(parseStream('btcusdt@depth@1000ms')).toMatchObject({event: 'depthUpdate'})
    for (const bad of ['BTCUSDT@trade', 'btcusdt@depth7', 'btcusdt@kline_1m', 'btcusdt', '@trade']) expect(parseStream(bad)).toBeNull()
    const subs = ['btcusdt@depth@100ms', 'btcusdt@depth5', 'ethusdt@depth10'].map(parseStream) as StreamName[]
    expect(inferStream('depthUpdate', 'BTCUSDT', 0, subs)).toBe('btcusdt@depth@100ms')
    expect(inferStream('depth', '', 5, subs)).toBe('btcusdt@depth5')
    expect(inferStream('depth', '', 10, subs)).toBe('ethusdt@depth10')
    expect(inferStream('depth', '', 20, subs)).toBeNull()
  })
})

describe('binance endpoint from the URL and --format', () => {
  it('--url with a path decides (a contradicting --format is refused); MDREC_BINANCE_URL gets the path --format names', async () => {
    const {endpointUrl} = await import('../src/feeds/binance/adapter.js')
    expect(endpointUrl('ws://127.0.0.1:9/', undefined)).toEqual({url: 'ws://127.0.0.1:9/stream', endpoint: 'combined'})
    expect(endpointUrl('ws://127.0.0.1:9', 'raw')).toEqual({url: 'ws://127.0.0.1:9/ws', endpoint: 'raw'})
    expect(() => endpointUrl('ws://127.0.0.1:9/stream', 'raw')).toThrow(/contradicts the URL's path \/stream/)
    expect(endpointUrl('ws://127.0.0.1:9/stream', 'raw', true)).toEqual({url: 'ws://127.0.0.1:9/ws', endpoint: 'raw'})
    expect(endpointUrl('ws://127.0.0.1:9/ws', undefined, true)).toEqual({url: 'ws://127.0.0.1:9/ws', endpoint: 'raw'})
  })
})
