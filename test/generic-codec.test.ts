import {describe, expect, it} from 'vitest'

import {isMdrecError} from '../src/errors.js'
import {GENERIC_PING_MS, GENERIC_URL_ENV, genericAdapter, genericCodec, genericControl, redactEndpoint} from '../src/feeds/generic/adapter.js'
import {decodeText, encodeEnvelope, envelopeOfRow, kindOfEvent} from '../src/feeds/generic/codec.js'
import {pythonDumps, syntheticGenericTape} from '../src/feeds/generic/synthetic.js'
import {ROW_KINDS, type Frame, type FrameDecode, type RowView} from '../src/feeds/types.js'
import {mulberry32 as prng} from '../src/util/prng.js'
import {fuzz} from './helpers/fuzz.js'

const codec = genericCodec()
const text = (data: string): Frame => ({data, binary: false})

type Row = Extract<FrameDecode, {ok: true}>['rows'][number]

function decodeOk(t: string): Row {
  const r = codec.decode(text(t))
  if (!r.ok) throw new Error(`expected a row, got ${r.code}: ${r.message}`)
  expect(r.rows).toHaveLength(1)
  return r.rows[0]
}

function rejectCode(f: Frame): string {
  const r = codec.decode(f)
  if (r.ok) throw new Error(`expected a rejection for ${String(f.data).slice(0, 80)}`)
  expect(r.message.length).toBeGreaterThan(0)
  return r.code
}

/** A recorded row as replay reads it back (raw null: the recorder keeps raw only for non-exact frames). */
function view(r: Row, raw: Uint8Array | null = null): RowView {
  const fields: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r.fields ?? {})) if (v !== null && v !== undefined) fields[k] = v
  return {recv_ts: 1n, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, seq: 0n, raw, info: r.info, fields}
}

function reencode(r: Row): string {
  return codec.encode(view(r)).data as string
}

describe('generic codec: broadcasts', () => {
  it('stores type, channel, data and an ms timestamp, and re-encodes JSON.stringify output exactly', () => {
    const msg = {type: 'price_update', channel: 'prices', data: {symbol: 'BTC-USD', bid: 87012.5, ask: 87013, n: [1, 2]}, timestamp: 1763980800123}
    const t = JSON.stringify(msg)
    const r = decodeOk(t)
    expect(r).toEqual({
      exch_ts: 1763980800123n,
      symbol: 'prices',
      kind: 'tick',
      info: null,
      fields: {event: 'price_update', data: '{"symbol":"BTC-USD","bid":87012.5,"ask":87013,"n":[1,2]}', timestamp_json: null, extra: null, layout: null},
      exact: true,
    })
    expect(reencode(r)).toBe(t)
    expect(codec.exchTsUnit).toBe('ms')
    expect(codec.columns.map((c) => c.name)).toEqual(['event', 'data', 'timestamp_json', 'extra', 'layout'])
  })

  it('keeps key order, extra keys and odd values so every JSON.stringify layout is exact', () => {
    const cases: Array<[string, Partial<Row['fields'] & object>, string]> = [
      ['{"channel":"c","type":"t","timestamp":1763980800123,"data":{}}', {layout: '["channel","type","timestamp","data"]'}, 'c'],
      ['{"type":"orderbook_update","channel":"orderbook","data":{"bids":[[1.5,2]]},"timestamp":1763980800123,"seq":42}', {extra: '{"seq":42}'}, 'orderbook'],
      ['{"type":"t","data":{"a":1}}', {layout: '["type","data"]'}, ''], // no channel, no timestamp
      ['{"type":"t","channel":"c"}', {data: null, layout: '["type","channel"]'}, 'c'], // no data
      ['{"type":"t","channel":"c","data":null,"timestamp":null}', {data: 'null', timestamp_json: 'null'}, 'c'], // null data is not absent data
      ['{"type":"t","channel":"c","data":[1,"x",true],"timestamp":1763980800123}', {data: '[1,"x",true]'}, 'c'],
      ['{"type":"t","channel":"c","data":"just text","timestamp":1763980800123}', {data: '"just text"'}, 'c'],
      ['{"type":"t","channel":7,"data":{},"timestamp":1763980800123}', {extra: '{"channel":7}'}, ''], // a non-string channel
      ['{"type":"t","channel":"","data":{},"timestamp":1763980800123}', {}, ''], // an empty channel is a channel
      ['{"type":"t","channel":"c","data":{},"timestamp":1763980800123,"__proto__":{"x":1}}', {extra: '{"__proto__":{"x":1}}'}, 'c'],
      ['{"type":"t","channel":"c","data":{"__proto__":1,"é":"日本 🚀"},"timestamp":1763980800123}', {data: '{"__proto__":1,"é":"日本 🚀"}'}, 'c'],
      ['{"type":"t","channel":"c","data":{"b":1,"a":2},"timestamp":1763980800123,"channel2":"d","type2":["x"]}', {extra: '{"channel2":"d","type2":["x"]}'}, 'c'],
    ]
    for (const [t, want, symbol] of cases) {
      const r = decodeOk(t)
      expect(r.symbol, t).toBe(symbol)
      expect(r.exact, t).toBe(true)
      expect(r.fields, t).toMatchObject(want)
      expect(reencode(r), t).toBe(t)
    }
  })

  it('takes a timestamp as exch_ts only when it is an integer number of ms; keeps any other as JSON text', () => {
    const at = (ts: string) => decodeOk(`{"type":"t","channel":"c","data":{},"timestamp":${ts}}`)
    expect(at('1763980800123').exch_ts).toBe(1763980800123n)
    expect(at('100000000000').exch_ts).toBe(100000000000n) // 1973-03-03: the window's start
    for (const ts of ['1763980800', '1763980800.123', '1763980800123456', '99999999999', '-5', '0', '"2025-11-24T10:40:00Z"', '"1763980800123"', 'true', '{"s":1}']) {
      const r = at(ts)
      expect(r.exch_ts, ts).toBeNull()
      expect(r.fields!.timestamp_json, ts).toBe(ts)
      expect(r.exact, ts).toBe(true)
      expect(reencode(r)).toBe(`{"type":"t","channel":"c","data":{},"timestamp":${ts}}`)
    }
  })

  it('keeps data, extra values and odd timestamps exactly as received, so they need no raw payload', () => {
    const verbatim: Array<[string, string]> = [
      ['{"p":1.50}', '{"type":"t","channel":"c","data":{"p":1.50},"timestamp":1763980800123}'], // JSON.stringify would write 1.5
      ['{"s":"caf\\u00e9"}', '{"type":"t","channel":"c","data":{"s":"caf\\u00e9"},"timestamp":1763980800123}'], // an escape JSON.stringify would not write
      ['{"b":1,"1":2}', '{"type":"t","channel":"c","data":{"b":1,"1":2},"timestamp":1763980800123}'], // JS would move the integer key first
      ['{"a":1,"a":2}', '{"type":"t","channel":"c","data":{"a":1,"a":2},"timestamp":1763980800123}'], // a duplicate key inside data
      ['{"id":12345678901234567890}', '{"type":"t","channel":"c","data":{"id":12345678901234567890},"timestamp":1763980800123}'], // beyond 2^53
      ['{ "p" : [ 1 , 2 ] }', '{"type":"t","channel":"c","data":{ "p" : [ 1 , 2 ] },"timestamp":1763980800123}'], // spaces inside data
    ]
    for (const [data, t] of verbatim) {
      const r = decodeOk(t)
      expect(r.fields!.data, t).toBe(data)
      expect(r.exact, t).toBe(true)
      expect(reencode(r)).toBe(t)
    }
    const r = decodeOk('{"type":"t","channel":"c","data":{},"timestamp":1.7639808e9,"seq":0.10}')
    expect(r.fields).toMatchObject({timestamp_json: '1.7639808e9', extra: '{"seq":0.10}'})
    expect(r.exact).toBe(true)
  })

  it('reports exact=false where the envelope itself is not JSON.stringify output, and replays such frames from raw', () => {
    const odd = [
      '{"type": "t", "channel": "c", "data": {}, "timestamp": 1763980800123}', // Python json.dumps separators
      '{"type":"t","channel":"c","data":{}, "timestamp":1763980800123}', // one space
      '{"type":"t","channel":"c","data":{},"timestamp":1763980800123}\n', // trailing newline
      ' {"type":"t","channel":"c","data":{},"timestamp":1763980800123}',
      '{"type":"t","channel":"caf\\u00e9","data":{},"timestamp":1763980800123}', // an escaped channel
      '{"type":"tr\\u0061de","channel":"c","data":{},"timestamp":1763980800123}', // an escaped type
      '{"ty\\u0070e":"t","channel":"c","data":{},"timestamp":1763980800123}', // an escaped key
      '{"type":"t","channel":"c","data":{},"timestamp":1.763980800123e12}', // ms, written as a float
      '{"type":"t","channel":"c","data":1,"data":2,"timestamp":1763980800123}', // a duplicate envelope key
      '{"type":"t","type":"t","channel":"c","data":1,"timestamp":1763980800123}',
      pythonDumps({type: 'trade', channel: 'trades', data: {price: 1.5, note: 'Größe'}, timestamp: 1763980800123}),
    ]
    for (const t of odd) {
      const r = decodeOk(t)
      expect(r.exact, t).toBe(false)
      // with its raw payload the row replays byte for byte
      expect(codec.encode(view(r, Buffer.from(t))).data).toBe(t)
      // without it, a compact envelope of the same JSON value
      const canon = reencode(r)
      expect(canon).not.toBe(t)
      expect(JSON.parse(canon)).toEqual(JSON.parse(t))
      const again = decodeOk(canon)
      expect(again.exact).toBe(true)
      expect(again.fields).toEqual(r.fields)
    }
  })

  it('maps well-known event names to kinds and protocol messages to status rows with their details in info', () => {
    expect(kindOfEvent('trade')).toBe('trade')
    expect(kindOfEvent('Trades')).toBe('trade')
    expect(kindOfEvent('quote')).toBe('quote')
    expect(kindOfEvent('orderbook_update')).toBe('orderbook')
    expect(kindOfEvent('depth')).toBe('orderbook')
    expect(kindOfEvent('kline')).toBe('candle')
    expect(kindOfEvent('candle.1m')).toBe('candle')
    expect(kindOfEvent('price_update')).toBe('tick')
    expect(kindOfEvent('bookkeeping')).toBe('tick')
    expect(kindOfEvent('error')).toBe('status')

    const err = decodeOk('{"type":"error","message":"missing channel"}')
    expect(err).toMatchObject({kind: 'status', symbol: '', exact: true, info: '{"event":"error","message":"missing channel"}'})
    const failed = decodeOk('{"type":"subscription_result","channel":"nope","success":false,"message":"unknown channel"}')
    expect(failed.kind).toBe('status')
    expect(failed.symbol).toBe('nope')
    expect(JSON.parse(failed.info!)).toEqual({event: 'subscription_result', channel: 'nope', success: false, message: 'unknown channel'})
    expect(reencode(failed)).toBe('{"type":"subscription_result","channel":"nope","success":false,"message":"unknown channel"}')
    expect(decodeOk('{"type":"pong","timestamp":1763980800123}')).toMatchObject({kind: 'status', exch_ts: 1763980800123n})
  })
})

describe('generic codec: rejections', () => {
  it('turns malformed frames into typed rejections', () => {
    expect(rejectCode({data: Buffer.from('{"type":"t"}'), binary: true})).toBe('BINARY_FRAME')
    expect(rejectCode(text(''))).toBe('BAD_JSON')
    expect(rejectCode(text('{"type":"t",'))).toBe('BAD_JSON')
    expect(rejectCode(text('not json'))).toBe('BAD_JSON')
    expect(rejectCode(text('[1,2]'))).toBe('NOT_OBJECT')
    expect(rejectCode(text('null'))).toBe('NOT_OBJECT')
    expect(rejectCode(text('42'))).toBe('NOT_OBJECT')
    expect(rejectCode(text('"str"'))).toBe('NOT_OBJECT')
    expect(rejectCode(text('{"channel":"c","data":{}}'))).toBe('NO_TYPE')
    expect(rejectCode(text('{"type":5,"channel":"c"}'))).toBe('NO_TYPE')
    expect(rejectCode(text('{"type":null}'))).toBe('NO_TYPE')
    // nested deeper than JSON.stringify's recursion allows: kept as received when it can be...
    const nest = `${'['.repeat(200_000)}${']'.repeat(200_000)}`
    const deep = decodeOk(`{"type":"t","data":${nest}}`)
    expect(deep.exact).toBe(true)
    expect(deep.fields!.data).toBe(nest)
    // ...and a typed rejection where it would have to be re-serialised (a duplicate envelope key)
    expect(rejectCode(text(`{"type":"t","data":1,"data":${nest}}`))).toBe('UNENCODABLE')
  })

  it('never throws on 10,000 random and mutated frames (seeded), yielding a row or a typed rejection', () => {
    const rnd = prng(20251124)
    const {pick, randomText, editChars} = fuzz(rnd)
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 {}[]":,.-+eE\\/utnfl\u00e9\u65e5\ud83d\ude80\ud800\n\t'
    const keys = ['type', 'channel', 'data', 'timestamp', 'seq', '__proto__', '1', 'é', '']
    const randomValue = (depth: number): unknown => {
      const u = rnd()
      if (depth > 3 || u < 0.3) return pick([null, true, false, 0, -1, 1.5, 1e21, 1763980800123, 'x', '日本', '', '\u0000'])
      if (u < 0.5) return Array.from({length: Math.floor(rnd() * 4)}, () => randomValue(depth + 1))
      const o: Record<string, unknown> = {}
      for (let k = Math.floor(rnd() * 5); k > 0; k--) Object.defineProperty(o, pick(keys), {value: randomValue(depth + 1), enumerable: true, configurable: true, writable: true})
      return o
    }
    const tape = [...syntheticGenericTape({frames: 200, seed: 9, prettyShare: 0.2})].map((f) => f.text)
    const counts: Record<string, number> = {}
    let rows = 0
    let exact = 0
    for (let i = 0; i < 10_000; i++) {
      let frame: string
      switch (i % 5) {
        case 0: // random characters
          frame = randomText(alphabet, 100)
          break
        case 1: {
          // a real frame with characters replaced, inserted or deleted
          frame = editChars(pick(tape), alphabet)
          break
        }
        case 2: {
          // an envelope with random keys and values
          const o = randomValue(0)
          if (o && typeof o === 'object' && !Array.isArray(o) && rnd() < 0.7) (o as Record<string, unknown>).type = pick(['t', 'trade', 'error', 'pong', 5, null])
          frame = rnd() < 0.5 ? JSON.stringify(o) : pythonDumps(o)
          break
        }
        case 3: // a real frame cut short
          frame = pick(tape).slice(0, Math.floor(rnd() * 200))
          break
        default: // a real frame, as sent
          frame = pick(tape)
      }
      const f: Frame = rnd() < 0.02 ? {data: Buffer.from(frame), binary: true} : text(frame)
      let r!: FrameDecode
      expect(() => {
        r = codec.decode(f)
      }, frame).not.toThrow()
      if (r.ok) {
        rows++
        expect(r.rows).toHaveLength(1)
        const row = r.rows[0]
        expect(ROW_KINDS).toContain(row.kind)
        expect(typeof row.fields!.event).toBe('string')
        const again = reencode(row)
        if (row.exact) {
          exact++
          expect(again, frame).toBe(frame)
        }
        // the canonical form decodes to the same row, exactly
        const back = decodeOk(again)
        expect(back.exact).toBe(true)
        expect(back.fields).toEqual(row.fields)
        expect(back.symbol).toBe(row.symbol)
        expect(back.exch_ts).toBe(row.exch_ts)
      } else {
        counts[r.code] = (counts[r.code] ?? 0) + 1
        expect(['BINARY_FRAME', 'BAD_JSON', 'NOT_OBJECT', 'NO_TYPE', 'UNENCODABLE']).toContain(r.code)
        expect(r.message.length).toBeGreaterThan(0)
      }
    }
    // both outcomes well represented
    expect(rows).toBeGreaterThan(2500)
    expect(exact).toBeGreaterThan(1500)
    expect(counts.BAD_JSON).toBeGreaterThan(1500)
    expect(counts.NOT_OBJECT).toBeGreaterThan(50)
    expect(counts.NO_TYPE).toBeGreaterThan(50)
    expect(counts.BINARY_FRAME).toBeGreaterThan(50)
  })
})

describe('generic synthetic tape', () => {
  it('is deterministic, time-ordered, and JSON.stringify output except its Python-style share', () => {
    const a = [...syntheticGenericTape({frames: 3000, seed: 4})]
    expect([...syntheticGenericTape({frames: 3000, seed: 4})]).toEqual(a)
    expect([...syntheticGenericTape({frames: 3000, seed: 5})]).not.toEqual(a)
    for (let i = 1; i < a.length; i++) expect(a[i].recv_ts > a[i - 1].recv_ts).toBe(true)
    for (const f of a) {
      const lat = Number(f.recv_ts / 1_000_000n) - (f.message.timestamp as number)
      expect(lat >= 0 && lat <= 3).toBe(true)
      expect(f.text === JSON.stringify(f.message)).toBe(f.compact)
      expect(JSON.parse(f.text)).toEqual(f.message)
    }
    const byChannel = (c: string) => a.filter((f) => f.channel === c).length
    expect(byChannel('prices')).toBeGreaterThan(byChannel('trades'))
    expect(byChannel('trades')).toBeGreaterThan(byChannel('orderbook'))
    expect(byChannel('orderbook')).toBeGreaterThan(byChannel('news'))
    expect(byChannel('news')).toBeGreaterThan(0)
    expect(new Set(a.map((f) => f.event))).toEqual(new Set(['price_update', 'trade', 'orderbook_snapshot', 'orderbook_update', 'announcement']))
    expect(a.filter((f) => f.channel === 'orderbook').every((f) => typeof f.message.seq === 'number')).toBe(true)
    const other = [...syntheticGenericTape({frames: 50, channels: ['alerts'], seed: 1})]
    expect(other.every((f) => f.event === 'update' && f.channel === 'alerts')).toBe(true)
  })

  it('is exact exactly where it is JSON.stringify output (measured over 20,000 frames)', () => {
    let compact = 0
    let exact = 0
    let rawNeeded = 0
    for (const f of syntheticGenericTape({frames: 20_000, seed: 7})) {
      const r = decodeOk(f.text)
      if (f.compact) compact++
      if (r.exact) exact++
      else rawNeeded++
      expect(r.exact).toBe(f.compact)
      expect(r.symbol).toBe(f.channel)
      expect(r.exch_ts).toBe(BigInt(f.message.timestamp as number))
    }
    // default prettyShare 1 %: ~99 % of frames need no raw payload
    expect(exact).toBe(compact)
    expect(exact / 20_000).toBeGreaterThan(0.98)
    expect(rawNeeded).toBeGreaterThan(100)
    for (const f of syntheticGenericTape({frames: 2000, seed: 8, prettyShare: 0})) expect(decodeOk(f.text).exact).toBe(true)
  })
})

describe('generic adapter', () => {
  const noEnv = {} as NodeJS.ProcessEnv

  it('needs --url or MDREC_GENERIC_URL', async () => {
    const e = await genericAdapter.client({symbols: ['prices'], env: noEnv}).catch((x: unknown) => x)
    expect(isMdrecError(e) && e.code).toBe('E_USAGE')
    expect((e as Error).message).toMatch(/no public endpoint.*--url ws:\/\/.*MDREC_GENERIC_URL/)
    const empty = await genericAdapter.client({symbols: ['prices'], env: {[GENERIC_URL_ENV]: ''}}).catch((x: unknown) => x)
    expect(isMdrecError(empty) && empty.code).toBe('E_USAGE')
    const fromEnv = await genericAdapter.client({symbols: ['prices'], env: {[GENERIC_URL_ENV]: 'ws://127.0.0.1:9/a'}})
    expect(fromEnv.spec.url).toBe('ws://127.0.0.1:9/a')
    const given = await genericAdapter.client({symbols: ['prices'], url: 'ws://127.0.0.1:8/b', env: {[GENERIC_URL_ENV]: 'ws://127.0.0.1:9/a'}})
    expect(given.spec.url).toBe('ws://127.0.0.1:8/b')
  })

  it('rejects --types, --format and --paper', async () => {
    for (const extra of [{types: ['ticker']}, {format: 'simple'}, {paper: true}]) {
      const e = await genericAdapter.client({symbols: ['prices'], url: 'ws://127.0.0.1:9/', env: noEnv, ...extra}).catch((x: unknown) => x)
      expect(isMdrecError(e) && e.code, JSON.stringify(extra)).toBe('E_USAGE')
      expect((e as Error).message).toMatch(/takes no --types, --format or --paper/)
    }
  })

  it('subscribes one message per channel, pings with a timestamp, and never stores credentials from the URL', async () => {
    const s = await genericAdapter.client({symbols: ['prices', 'trades', 'prices'], url: 'ws://u:pw@127.0.0.1:9/ws?token=s3cret&x=1', env: noEnv})
    expect(s.spec.subscribeMessages()).toEqual(['{"type":"subscribe","channel":"prices"}', '{"type":"subscribe","channel":"trades"}'])
    const [ping] = s.spec.keepaliveMessages!() as string[]
    const p = JSON.parse(ping)
    expect(p.type).toBe('ping')
    expect(Math.abs(p.timestamp - Date.now())).toBeLessThan(5000)
    expect(s.spec.keepaliveMs).toBe(GENERIC_PING_MS)
    expect(s.spec.url).toBe('ws://u:pw@127.0.0.1:9/ws?token=s3cret&x=1') // the connection needs it
    expect(s.endpoint).toBe('ws://127.0.0.1:9/ws') // user info and query removed (docs/FORMAT.md, Endpoints)
    expect(s.endpoint).not.toMatch(/s3cret|pw/)
    expect(s.feedOptions).toEqual({})
    expect(redactEndpoint('ws://127.0.0.1:9')).toBe('ws://127.0.0.1:9') // untouched when there is nothing to hide
    expect(redactEndpoint('wss://h/x?api_key=1&signature=2&channel=3')).toBe('wss://h/x')
    expect(redactEndpoint('wss://h/v2/0123456789abcdef0123456789abcdef')).toBe('wss://h/v2/*') // a key as a path segment
  })

  it("control: swallows pongs and successful results, answers a server ping, records and logs failures and errors", () => {
    const lines: string[] = []
    const control = genericControl((l) => lines.push(l))
    expect(control(text('{"type":"pong","timestamp":5}'))).toBe(true)
    expect(control(text('{"type":"subscription_result","channel":"a","success":true}'))).toBe(true)
    expect(control(text('{"type":"unsubscription_result","channel":"a","success":true}'))).toBe(true)
    expect(control(text('{"type":"ping","timestamp":1763980800123}'))).toBe('{"type":"pong","timestamp":1763980800123}')
    expect(control(text('{"type":"ping","timestamp":"abc"}'))).toBe('{"type":"pong","timestamp":"abc"}')
    expect(control(text('{"type":"ping"}'))).toBe('{"type":"pong"}')
    expect(lines).toEqual([])
    expect(control(text('{"type":"subscription_result","channel":"nope","success":false,"message":"unknown channel"}'))).toBe(false)
    expect(control(text('{"type":"subscription_result","channel":"x"}'))).toBe(false)
    expect(control(text('{"type":"error","message":"bad JSON"}'))).toBe(false)
    expect(lines).toEqual([
      'generic: subscribing to channel nope failed: unknown channel',
      'generic: subscribing to channel x failed (no "success" in the result)',
      'generic: the server reported an error: bad JSON',
    ])
    // data and malformed frames go to the codec
    expect(control(text('{"type":"trade","channel":"trades","data":{},"timestamp":1}'))).toBe(false)
    expect(control(text('not json'))).toBe(false)
    expect(control(text('[1]'))).toBe(false)
    expect(control({data: Buffer.from('{"type":"pong"}'), binary: true})).toBe(false)
    expect(lines).toHaveLength(3)
  })

  it('reads recordings with the same codec and envelope helpers', () => {
    const c = genericAdapter.codecFor({feed: 'generic', feedOptions: {}} as never)
    const t = '{"type":"t","channel":"c","data":{"x":1},"timestamp":1763980800123,"seq":1}'
    const r = c.decode(text(t))
    expect(r.ok && r.rows[0].exact).toBe(true)
    expect(encodeEnvelope(envelopeOfRow('c', 1763980800123n, {event: 't', data: '{"x":1}', extra: '{"seq":1}', layout: '["type","channel","data","timestamp","seq"]'}))).toBe(t)
    // a damaged layout/extra never throws: the columns still give a frame
    expect(JSON.parse(encodeEnvelope(envelopeOfRow('c', null, {event: 't', data: '1', extra: 'not json', layout: '{oops'})))).toEqual({type: 't', channel: 'c', data: 1, timestamp: null})
    expect(decodeText('{"type":"t"}').ok).toBe(true)
  })
})
