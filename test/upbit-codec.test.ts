import {describe, expect, it} from 'vitest'

import {upbitAdapter} from '../src/feeds/upbit/adapter.js'
import {decodeUpbitFrame, encodeMessage, upbitCodec, type UpbitRow} from '../src/feeds/upbit/codec.js'
import {UPBIT_COLUMNS} from '../src/feeds/upbit/fields.js'
import {formatNumber, tokenFor} from '../src/feeds/upbit/numbers.js'
import {syntheticUpbitTape} from '../src/feeds/upbit/synthetic.js'
import type {Frame, RowView} from '../src/feeds/types.js'
import {mulberry32 as prng} from '../src/util/prng.js'

const TE = new TextEncoder()
const bin = (s: string): Frame => ({data: TE.encode(s), binary: true})

/**
 * Frames as wss://api.upbit.com sent them (Upbit's documentation examples of
 * 2025, public captures of 2021–2026): Java BigDecimal scales, `0E-8`,
 * 17-digit values, sequential_id beyond 2^53, SIMPLE keys, exponents.
 */
const REAL = {
  ticker2025:
    '{"type":"ticker","code":"KRW-BTC","opening_price":158219000.00000000,"high_price":159278000.00000000,"low_price":157588000.00000000,"trade_price":158201000.00000000,"prev_closing_price":158200000.00000000,"acc_trade_price":95078733694.3792000000000000,"change":"RISE","change_price":1000.00000000,"signed_change_price":1000.00000000,"change_rate":0.0000063211,"signed_change_rate":0.0000063211,"ask_bid":"BID","trade_volume":0.00006321,"acc_trade_volume":600.02894052,"trade_date":"20250926","trade_time":"082645","trade_timestamp":1758875205145,"acc_ask_volume":341.67985038,"acc_bid_volume":258.34909014,"highest_52_week_price":169900000.00000000,"highest_52_week_date":"2025-08-14","lowest_52_week_price":80635000.00000000,"lowest_52_week_date":"2024-10-10","market_state":"ACTIVE","is_trading_suspended":false,"delisting_date":null,"market_warning":"NONE","timestamp":1758875205276,"acc_trade_price_24h":331187169240.21526,"acc_trade_volume_24h":2083.82485091,"stream_type":"SNAPSHOT"}',
  tickerEven:
    '{"type":"ticker","code":"KRW-BTC","opening_price":158219000.00000000,"high_price":159278000.00000000,"low_price":157588000.00000000,"trade_price":158200000.00000000,"prev_closing_price":158200000.00000000,"acc_trade_price":95088751392.9099200000000000,"change":"EVEN","change_price":0E-8,"signed_change_price":0E-8,"change_rate":0,"signed_change_rate":0,"ask_bid":"ASK","trade_volume":0.00011188,"acc_trade_volume":600.09226312,"trade_date":"20250926","trade_time":"082646","trade_timestamp":1758875206936,"acc_ask_volume":341.67996226,"acc_bid_volume":258.41230086,"highest_52_week_price":169900000.00000000,"highest_52_week_date":"2025-08-14","lowest_52_week_price":80635000.00000000,"lowest_52_week_date":"2024-10-10","market_state":"ACTIVE","is_trading_suspended":false,"delisting_date":null,"market_warning":"NONE","timestamp":1758875206974,"acc_trade_price_24h":331188513477.17233,"acc_trade_volume_24h":2083.83396972,"stream_type":"REALTIME"}',
  trade2026:
    '{"type":"trade","code":"KRW-BTC","timestamp":1788335180423,"trade_date":"2026-09-02","trade_time":"07:46:20","trade_timestamp":1788335180377,"trade_price":106691000.00000000,"trade_volume":0.00009372,"ask_bid":"ASK","prev_closing_price":107005000.00000000,"change":"FALL","change_price":314000.00000000,"sequential_id":17883351803770004,"best_ask_price":106705000,"best_ask_size":0.00906333,"best_bid_price":106691000,"best_bid_size":0.00702247,"stream_type":"SNAPSHOT"}',
  trade2021:
    '{"type":"trade","code":"KRW-BTC","timestamp":1621697844865,"trade_date":"2021-05-22","trade_time":"15:37:24","trade_timestamp":1621697844000,"trade_price":46769000.0,"trade_volume":0.00185096,"ask_bid":"BID","prev_closing_price":49112000.00000000,"change":"FALL","change_price":2343000.00000000,"sequential_id":1621697844000001,"stream_type":"REALTIME"}',
  orderbook:
    '{"type":"orderbook","code":"KRW-BTC","timestamp":1704067200000,"total_ask_size":1.23456789,"total_bid_size":2.34567891,"orderbook_units":[{"ask_price":152430000.0,"bid_price":152400000.0,"ask_size":0.17000000,"bid_size":0.23000000},{"ask_price":152440000.0,"bid_price":152390000.0,"ask_size":0.05000000,"bid_size":0.11000000}],"stream_type":"REALTIME","level":0}',
  orderbookSimple:
    '{"ty":"orderbook","cd":"KRW-BTC","tms":1704067200000,"tas":1.23456789,"tbs":2.34567891,"obu":[{"ap":152430000.0,"bp":152400000.0,"as":0.17,"bs":0.23},{"ap":152440000.0,"bp":152390000.0,"as":0.05,"bs":0.11}],"st":"REALTIME","lv":0}',
  orderbookExp:
    '{"type":"orderbook","code":"KRW-BTC","timestamp":1790274371166,"orderbook_units":[{"ask_price":1.15086E8,"bid_price":1.15068E8,"ask_size":0.00060539,"bid_size":0.00018},{"ask_price":1.15104E8,"bid_price":1.15035E8,"ask_size":0.00034855,"bid_size":0.02211077}]}',
  tradeOld2020:
    '{"type":"trade","code":"KRW-BTC","timestamp":1584508285812,"trade_date":"2020-03-18","trade_time":"05:11:25","trade_timestamp":1584508285000,"trade_price":6747000,"trade_volume":0.06499468,"ask_bid":"ASK","prev_closing_price":6774000,"change":"FALL","change_price":27000,"sequential_id":1584508285000002,"stream_type":"REALTIME"}',
  tickerWithRetiredFields:
    '{"type":"ticker","code":"BTC-ETH","opening_price":0.02295092,"high_price":0.02295092,"low_price":0.02161249,"trade_price":0.02161249,"prev_closing_price":0.02185802,"acc_trade_price":2.32732482,"change":"FALL","change_price":0.00024553,"signed_change_price":-0.00024553,"change_rate":0.0112329479,"signed_change_rate":-0.0112329479,"ask_bid":"ASK","trade_volume":2.12,"acc_trade_volume":106.11798418,"trade_date":"20200317","trade_time":"215843","trade_timestamp":1584482323000,"acc_ask_volume":90.16935908,"acc_bid_volume":15.9486251,"highest_52_week_price":0.03537414,"highest_52_week_date":"2019-04-08","lowest_52_week_price":0.01614901,"lowest_52_week_date":"2019-09-06","trade_status":null,"market_state":"ACTIVE","market_state_for_ios":null,"is_trading_suspended":false,"delisting_date":null,"market_warning":"NONE","timestamp":1584482323378,"acc_trade_price_24h":2.5955306323568927,"acc_trade_volume_24h":118.38798416,"stream_type":"SNAPSHOT"}',
}

function decodeOne(text: string, simple = false) {
  const d = decodeUpbitFrame(bin(text), simple)
  if (!d.ok) throw new Error(`rejected: ${d.code} ${d.message}`)
  expect(d.rows).toHaveLength(1)
  return d.rows[0]
}

function view(r: ReturnType<typeof decodeOne>): RowView {
  return {recv_ts: 0n, seq: 0n, raw: null, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, info: r.info, fields: r.fields}
}

describe('upbit number formats', () => {
  it('prints Java BigDecimal, Double and shortest forms digit for digit', () => {
    const cases: Array<[number, string, string]> = [
      [158219000, '8', '158219000.00000000'],
      [0, '8', '0E-8'],
      [0, '10z', '0'],
      [0.0000063211, '10z', '0.0000063211'],
      [1.2e-7, '8', '1.2E-7'],
      [1.2e-7, 'p8', '0.00000012'],
      [95078733694.3792, '16', '95078733694.3792000000000000'],
      [109950000, 'd', '109950000.0'],
      [0.0034, 's', '0.0034'],
      [106705000, 's', '106705000'],
      [1.2e-4, 'J', '1.2E-4'],
      [95000000, 'J', '9.5E7'],
      [95000, 'J', '95000.0'],
      [1.23e-8, 'E2', '1.23E-8'],
      [12000000, 'e1+', '1.2e+7'],
      [-0.00024553, '8', '-0.00024553'],
      [12000000, '-6', '1.2E+7'],
    ]
    for (const [v, token, text] of cases) {
      expect(formatNumber(v, token), `${v} ${token}`).toBe(text)
      expect(tokenFor(text, Number(text), token)).toBe(token)
    }
    // a value with more fraction digits than the scale, and 17-digit text a double cannot print back
    expect(formatNumber(0.123456789, '8')).toBeNull()
    expect(tokenFor('331187169240.21526', 331187169240.21526)).toBeNull()
    // derived from the text's shape when the preferred token does not print it
    expect(tokenFor('43957000.0', 43957000, '8')).toBe('d')
    expect(tokenFor('0.17000000', 0.17, 's')).toBe('8')
    expect(tokenFor('0E-8', 0, 's')).toBe('=0E-8')
    expect(tokenFor('1.15086E8', 115086000)).toBe('J')
  })
})

describe('upbit number formats: the shape shortcut agrees with formatting', () => {
  it('tokenFor(text, v, token) is token exactly when formatNumber(v, token) is text, for 20,000 random numbers', () => {
    const rnd = prng(77)
    const tokens = ['s', 'd', 'J', '8', '10z', '16', 'p8', 'p2', '0', '2', 'E3']
    for (let i = 0; i < 20_000; i++) {
      const scale = 10 ** Math.floor(rnd() * 14 - 7)
      const v = Number((rnd() * scale * (rnd() < 0.1 ? -1 : 1)).toFixed(Math.floor(rnd() * 12)))
      const printed = formatNumber(v, tokens[Math.floor(rnd() * tokens.length)])
      if (printed === null) continue
      for (const t of tokens) expect(tokenFor(printed, Number(printed), t) === t, `${printed} ${t}`).toBe(formatNumber(Number(printed), t) === printed)
    }
  })
})

describe('upbit codec: real frames', () => {
  it('decodes every real frame into its columns and re-encodes it byte for byte', () => {
    for (const [name, text] of Object.entries(REAL)) {
      const r = decodeOne(text)
      expect(r.exact, name).toBe(true)
      expect(upbitCodec('DEFAULT').encode(view(r)).data, name).toEqual(TE.encode(text))
    }
  })

  it('reads a 2025 ticker: columns, exch_ts, the 17-digit 24 h value kept verbatim', () => {
    const r = decodeOne(REAL.ticker2025)
    expect(r).toMatchObject({kind: 'tick', symbol: 'KRW-BTC', exch_ts: 1758875205276n, info: null})
    expect(r.fields).toMatchObject({
      type: 'ticker',
      trade_price: 158201000,
      change: 'RISE',
      change_rate: 0.0000063211,
      trade_timestamp: 1758875205145n,
      is_trading_suspended: false,
      trade_date: '20250926',
      stream_type: 'SNAPSHOT',
      acc_trade_price_24h: 331187169240.21526,
    })
    expect(r.fields.delisting_date).toBeUndefined() // null on the wire
    expect(r.fields.unknown_fields).toBe('["331187169240.21526"]')
    expect(r.fields.layout).toContain('acc_trade_price_24h:#')
  })

  it('reads the real trade exactly in the real server layout (layout null), sequential_id beyond 2^53 exact', () => {
    const r = decodeOne(REAL.trade2026)
    expect(r.kind).toBe('trade')
    expect(r.fields.sequential_id).toBe(17883351803770004n)
    expect(Number.isSafeInteger(Number(r.fields.sequential_id))).toBe(false)
    expect(r.fields.layout).toBeUndefined()
    expect(r.fields.unknown_fields).toBeUndefined()
    expect(r.fields).toMatchObject({best_ask_price: 106705000, best_bid_size: 0.00702247, trade_date: '2026-09-02', trade_time: '07:46:20'})
  })

  it('fills the same columns from SIMPLE keys, and re-encodes either spelling', () => {
    const d = decodeOne(REAL.orderbook)
    const s = decodeOne(REAL.orderbookSimple, true)
    expect(s.fields.layout).toBeUndefined() // canonical in a SIMPLE recording
    expect(s.fields.orderbook_units).toEqual([
      {ask_price: 152430000, bid_price: 152400000, ask_size: 0.17, bid_size: 0.23},
      {ask_price: 152440000, bid_price: 152390000, ask_size: 0.05, bid_size: 0.11},
    ])
    expect(d.fields.orderbook_units).toEqual(s.fields.orderbook_units)
    expect(s.fields.level).toBe(0)
    const simpleOfDefault = encodeMessage(d as UpbitRow, false, {simple: true})
    expect(simpleOfDefault).toBe(REAL.orderbookSimple.replace(/"as":0\.(\d\d),"bs":0\.(\d\d)/g, '"as":0.$1000000,"bs":0.$2000000'))
    expect(encodeMessage(s as UpbitRow, true, {simple: false})).toBe(
      REAL.orderbook.replace(/"ask_size":0\.(\d\d)000000,"bid_size":0\.(\d\d)000000/g, '"ask_size":0.$1,"bid_size":0.$2'),
    )
  })

  it('keeps retired members (trade_status, market_state_for_ios) in unknown_fields, in place', () => {
    const r = decodeOne(REAL.tickerWithRetiredFields)
    expect(r.exact).toBe(true)
    expect(JSON.parse(r.fields.unknown_fields as string)).toEqual(['"trade_status":null', '"market_state_for_ios":null'])
    expect(r.symbol).toBe('BTC-ETH')
  })

  it('error objects are status rows with the error in info', () => {
    const text = '{"error":{"name":"NO_TICKET","message":"Ticket field must be contained."}}'
    const r = decodeOne(text)
    expect(r).toMatchObject({kind: 'status', symbol: '', exact: true})
    expect(JSON.parse(r.info!)).toEqual({error: {name: 'NO_TICKET', message: 'Ticket field must be contained.'}})
  })
})

describe('upbit codec: exactness', () => {
  it('synthetic frames are all exact with the real layout, in DEFAULT and SIMPLE', () => {
    let n = 0
    for (const f of syntheticUpbitTape({frames: 3000, seed: 5, codes: ['KRW-BTC', 'KRW-ETH', 'KRW-XRP', 'KRW-DOGE']})) {
      for (const simple of [false, true]) {
        const text = encodeMessage(f.row, false, {simple})
        const r = decodeOne(text, simple)
        expect(r.exact, text).toBe(true)
        expect(r.fields.layout, text).toBeUndefined()
        expect(r.fields.unknown_fields).toBeUndefined()
        expect(r.kind).toBe(f.kind)
        n++
      }
    }
    expect(n).toBe(6000)
  })

  it('JSON.stringify-formatted frames (another key order or number form) are exact too, through the layout column', () => {
    const codec = upbitCodec('DEFAULT')
    let withLayout = 0
    for (const f of syntheticUpbitTape({frames: 500, seed: 9})) {
      const obj = JSON.parse(encodeMessage(f.row, false)) as Record<string, unknown>
      const text = JSON.stringify(Object.fromEntries(Object.entries(obj).reverse()))
      const r = decodeOne(text)
      expect(r.exact).toBe(true)
      if (r.fields.layout) withLayout++
      expect(Buffer.from(codec.encode(view(r)).data as Uint8Array).toString()).toBe(text)
    }
    expect(withLayout).toBe(500)
  })

  it('reports inexact frames honestly: text frames, whitespace, escapes, mixed unit layouts, >17 digits', () => {
    const codec = upbitCodec('DEFAULT')
    const base = REAL.trade2026
    const inexact = [
      {data: base, binary: false}, // a text frame: the emulator sends binary
      bin(base.replace('"code":', '"code": ')),
      bin(base.replace('"ASK"', '"\\u0041SK"')),
      bin(REAL.orderbook.replace('"ask_size":0.05000000', '"ask_size":0.05')),
      bin(REAL.orderbook.replace('"ask_size":0.17000000', '"ask_size":0.170000000000000000001')),
    ]
    for (const f of inexact) {
      const d = codec.decode(f)
      expect(d.ok).toBe(true)
      if (d.ok) expect(d.rows[0].exact, String(f.data)).toBe(false)
    }
  })

  it('a value that does not fit its column (a lone surrogate, a string price) is kept verbatim: still exact', () => {
    for (const text of [
      REAL.trade2026.replace('"trade_date":"2026-09-02"', '"trade_date":"\\ud800"'),
      REAL.trade2026.replace('"trade_price":106691000.00000000', '"trade_price":"106691000"'),
    ]) {
      const r = decodeOne(text)
      expect(r.exact).toBe(true)
      expect(r.fields.unknown_fields).toBeDefined()
      expect(r.fields.trade_date === undefined || r.fields.trade_price === undefined).toBe(true)
    }
  })

  it('a list frame (JSON_LIST) gives one row per message, never exact', () => {
    const d = decodeUpbitFrame(bin(`[${REAL.trade2026},${REAL.orderbook}]`), false)
    expect(d.ok).toBe(true)
    if (d.ok) {
      expect(d.rows.map((r) => r.kind)).toEqual(['trade', 'orderbook'])
      expect(d.rows.every((r) => !r.exact)).toBe(true)
    }
  })

  it('rejects what is not a message, with a typed code', () => {
    const cases: Array<[Frame, string]> = [
      [{data: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), binary: true}, 'BAD_UTF8'],
      [bin('{"type":"trade",'), 'BAD_JSON'],
      [bin('{"type":"trade"} x'), 'BAD_JSON'],
      [bin('{"a":01}'), 'BAD_JSON'],
      [bin('"hello"'), 'NOT_OBJECT'],
      [bin('[1,2]'), 'NOT_OBJECT'],
      [bin('[]'), 'EMPTY_LIST'],
      [bin(`${'['.repeat(100)}${']'.repeat(100)}`), 'BAD_JSON'],
    ]
    for (const [f, code] of cases) {
      const d = decodeUpbitFrame(f, false)
      expect(d.ok).toBe(false)
      if (!d.ok) {
        expect(d.code).toBe(code)
        expect(d.message.length).toBeGreaterThan(5)
      }
    }
  })

  it('declares one column per field, by its DEFAULT name, with orderbook_units as a list of structs', () => {
    const names = UPBIT_COLUMNS.map((c) => c.name)
    expect(new Set(names).size).toBe(names.length)
    for (const n of ['type', 'stream_type', 'trade_price', 'sequential_id', 'orderbook_units', 'candle_date_time_utc', 'acc_trade_price_24h', 'layout', 'unknown_fields']) {
      expect(names).toContain(n)
    }
    expect(UPBIT_COLUMNS.find((c) => c.name === 'sequential_id')!.type).toBe('uint64')
    expect(UPBIT_COLUMNS.find((c) => c.name === 'orderbook_units')).toMatchObject({type: 'list_struct_f64', fields: ['ask_price', 'bid_price', 'ask_size', 'bid_size']})
    expect(upbitAdapter.codecFor({feedOptions: {format: 'SIMPLE'}} as never)).toMatchObject({feed: 'upbit', exchTsUnit: 'ms'})
  })
})

describe('upbit codec: fuzz', () => {
  it('10,000 random and mutated frames: never throws, rows or a typed rejection, exact rows re-encode to the input', () => {
    const rnd = prng(20261123)
    const seeds = [...Object.values(REAL), ...[...syntheticUpbitTape({frames: 40, seed: 2})].map((f) => encodeMessage(f.row, false))]
    const codes = new Set(['BAD_UTF8', 'BAD_JSON', 'NOT_OBJECT', 'EMPTY_LIST'])
    const alphabet = '{}[]":,.-+eE0123456789 truefalsnul\\/u\n'
    const codec = upbitCodec('DEFAULT')
    let ok = 0
    let rejected = 0
    let exact = 0
    for (let i = 0; i < 10_000; i++) {
      let bytes: Uint8Array
      const mode = i % 4
      if (mode === 0) {
        // random bytes
        bytes = new Uint8Array(Math.floor(rnd() * 64))
        for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(rnd() * 256)
      } else if (mode === 1) {
        // random JSON-ish text
        let s = ''
        const n = Math.floor(rnd() * 80)
        for (let k = 0; k < n; k++) s += alphabet[Math.floor(rnd() * alphabet.length)]
        bytes = TE.encode(s)
      } else {
        // a real or synthetic frame with a few bytes changed, cut, or spliced
        const src = TE.encode(seeds[Math.floor(rnd() * seeds.length)])
        bytes = new Uint8Array(src)
        const edits = 1 + Math.floor(rnd() * 4)
        for (let k = 0; k < edits; k++) {
          const at = Math.floor(rnd() * bytes.length)
          const op = rnd()
          if (op < 0.5) bytes[at] = alphabet.charCodeAt(Math.floor(rnd() * alphabet.length))
          else if (op < 0.7) bytes = bytes.subarray(0, at)
          else if (op < 0.85) bytes[at] = Math.floor(rnd() * 256)
          else bytes = new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + 1)])
        }
      }
      const frame: Frame = {data: bytes, binary: mode !== 1 || rnd() < 0.5}
      let d!: ReturnType<typeof codec.decode>
      expect(() => {
        d = codec.decode(frame)
      }).not.toThrow()
      if (d.ok) {
        ok++
        expect(d.rows.length).toBeGreaterThan(0)
        for (const r of d.rows) {
          expect(['tick', 'trade', 'orderbook', 'candle', 'status']).toContain(r.kind)
          if (r.exact) {
            exact++
            expect(codec.encode(view(r as ReturnType<typeof decodeOne>)).data).toEqual(bytes)
          }
        }
      } else {
        rejected++
        expect(codes.has(d.code), d.code).toBe(true)
      }
    }
    expect(ok + rejected).toBe(10_000)
    expect(ok).toBeGreaterThan(500)
    expect(exact).toBeGreaterThan(100)
  })
})
