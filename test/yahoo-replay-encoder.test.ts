/**
 * The Yahoo replay encoder writes a row without `raw` straight from its
 * batch's columns (PricingRowEncoder): its bytes are exactly encodeFrame of
 * the row's PricingData, for both envelopes, as recorded and with a loop's
 * time shift. Rows: the 300 Google-runtime vectors, edge values (-0, NaN,
 * negative and 64-bit extremes, non-ASCII and lone-surrogate strings, empty
 * strings, unknown fields, rows without id or time) and a synthetic tape, in
 * streamed (one batch per 64 rows) and closed (rows clustered by symbol) files.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {base64Length} from '../src/feeds/yahoo/base64.js'
import {PRICING_FIELDS, encodeFrame} from '../src/feeds/yahoo/codec.js'
import {yahooReplay} from '../src/feeds/yahoo/replay.js'
import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import type {PricingData} from '../src/feeds/yahoo/types.js'
import {ReplayBatch} from '../src/replay/rows.js'
import {openRecording, readBatches} from '../src/store/reader.js'
import {createYahooWriter} from './helpers/recording.js'

const vectors = readFileSync(new URL('./vectors/yahoo-pricing.ndjson', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as {fields: Record<string, string | number>})

function messageOf(fields: Record<string, string | number>): PricingData {
  const m: Record<string, unknown> = {}
  for (const fd of PRICING_FIELDS) {
    const v = fields[fd.name]
    if (v !== undefined) m[fd.name] = fd.kind === 'sint64' ? BigInt(v) : v
  }
  return m as PricingData
}

const EDGES: PricingData[] = [
  {id: 'NEG', price: -0, time: -1n, day_volume: -(2n ** 63n), quote_type: -1, market_hours: -2147483648, change: Number.NaN},
  {id: 'BIG', time: 2n ** 63n - 1n, day_volume: 2n ** 62n + 12345n, bid_size: -1n, ask_size: 1n, market_cap: -0, circulating_supply: 1e308},
  {id: 'ÄÖ€😀', short_name: 'caf\u00e9 \ud800 lone', exchange: '', currency: 'x'.repeat(200)},
  {id: 'UNK', price: 1.5, unknown_fields: new Uint8Array([0x90, 0x03, 0xac, 0x02, 0x9a, 0x03, 0x03, 0x61, 0x62, 0x63])},
  {price: 2.5, time: 1764000000000n}, // no id: the symbol column holds ''
  {id: 'NOTIME', price: 3.25, quote_type: 8},
  {id: 'EMPTY'},
]

let dir: string
const expected = new Map<bigint, PricingData>()
const files: string[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-yahoo-enc-'))
  const messages: PricingData[] = [...vectors.map((v) => messageOf(v.fields)), ...EDGES]
  for (const f of syntheticYahooTape({frames: 3000, symbols: 20, seed: 5, meanGapMs: 1})) messages.push(f.data)
  for (const [name, writer] of [
    ['streamed.arrow', {flushRows: 64, compactOnClose: false}],
    ['closed.arrow', {flushRows: 1000}],
  ] as const) {
    const path = join(dir, name)
    const w = createYahooWriter(path, writer)
    let t = 1_764_000_000_000_000_000n
    for (const m of messages) {
      const {id, time, ...fields} = m
      t += 1000n
      expected.set(t, m)
      w.append({recv_ts: t, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields: fields as Record<string, unknown>})
    }
    await w.close()
    files.push(path)
  }
}, 60_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('Yahoo replay encoder (rows without raw)', () => {
  it('writes exactly encodeFrame of each row, both envelopes, with and without a time shift', async () => {
    const SHIFT_NS = 86_400_123_456_789 // rounds to 86,400,123 ms
    for (const path of files) {
      const file = await openRecording(path)
      const enc = yahooReplay.encoder(file)
      let rows = 0
      let batches = 0
      for await (const {batch, idx} of readBatches(file)) {
        const b = new ReplayBatch(batch, idx, file, 0)
        batches++
        for (let k = 0; k < b.length; k++) {
          const i = b.at(k)
          const m = expected.get(b.recvTs(i))!
          expect(m).toBeDefined()
          for (const [v, env] of [
            [0, 'v1'],
            [1, 'v2'],
          ] as const) {
            for (const shift of [0, SHIFT_NS]) {
              const shifted = m.time !== undefined && shift !== 0 ? {...m, time: m.time + 86_400_123n} : m
              if (shifted.time !== undefined && shifted.time >= 2n ** 63n) {
                // shifted out of int64: both refuse it
                expect(() => encodeFrame(shifted, env)).toThrow(RangeError)
                expect(() => enc.encode(b, i, v, shift)).toThrow(RangeError)
                continue
              }
              const want = encodeFrame(shifted, env)
              const got = enc.encode(b, i, v, shift)
              const text = typeof got === 'string' ? got : Buffer.from(got.buffer, got.byteOffset, got.byteLength).toString('latin1')
              if (text !== want) expect({path, row: i, env, shift, got: text}).toEqual({path, row: i, env, shift, got: want})
            }
          }
          rows++
        }
      }
      expect(rows).toBe(expected.size)
      if (path.endsWith('streamed.arrow')) expect(batches).toBeGreaterThan(50)
    }
  })

  it('writes in place (writer) exactly the frame encode returns: both envelopes, with and without a time shift, rows with and without raw', async () => {
    const SHIFT_NS = 86_400_123_456_789
    // rows that keep their recorded v2 frame as raw (every other one), sent as is to v2 and re-wrapped for v1
    const mixed = join(dir, 'mixed.arrow')
    const w = createYahooWriter(mixed, {flushRows: 256, compactOnClose: false}, {feedOptions: {envelope: 'v2'}})
    let k = 0
    for (const f of syntheticYahooTape({frames: 2000, symbols: 20, seed: 6, meanGapMs: 1})) {
      const {id, time, ...fields} = f.data
      const raw = k++ % 2 === 0 ? Buffer.from(encodeFrame(f.data, 'v2')) : null
      w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw, info: null, fields: fields as Record<string, unknown>})
    }
    await w.close()
    const bytesOf = (f: Uint8Array | string) => (typeof f === 'string' ? Buffer.from(f) : Buffer.from(f.buffer, f.byteOffset, f.byteLength))
    let checked = 0
    let rawRows = 0
    for (const path of [...files, mixed]) {
      const file = await openRecording(path)
      const enc = yahooReplay.encoder(file)
      for await (const {batch, idx} of readBatches(file)) {
        const b = new ReplayBatch(batch, idx, file, 0)
        expect(b.hasRaw).toBe(path === mixed)
        for (let k = 0; k < b.length; k++) {
          const i = b.at(k)
          if (b.raw(i) !== null) {
            rawRows++
            expect(b.hasRaw).toBe(true)
          }
          for (const v of [0, 1]) {
            for (const shift of [0, SHIFT_NS]) {
              let want: Buffer
              try {
                want = Buffer.from(bytesOf(enc.encode(b, i, v, shift)))
              } catch (err) {
                expect(err).toBeInstanceOf(RangeError)
                expect(() => enc.writer!(b, i, v, shift)).toThrow(RangeError)
                continue
              }
              const wr = enc.writer!(b, i, v, shift)
              // written at an offset into a larger buffer: exactly its byteLength bytes, nothing around them
              const dst = Buffer.alloc(wr.byteLength + 10, 0xee)
              wr.writeTo(dst, 5)
              const got = dst.subarray(5, 5 + wr.byteLength)
              if (!got.equals(want)) expect({path, row: i, v, shift, got: got.toString('latin1')}).toEqual({path, row: i, v, shift, got: want.toString('latin1')})
              expect(dst.subarray(0, 5).every((x) => x === 0xee) && dst.subarray(5 + wr.byteLength).every((x) => x === 0xee)).toBe(true)
              checked++
            }
          }
        }
      }
    }
    expect(rawRows).toBe(1000)
    expect(checked).toBeGreaterThan(4 * (2 * expected.size + 2000) - 20)
  })

  it('base64Length is the length of the base64 text, for every length (as Buffer writes it)', () => {
    for (let n = 0; n < 3000; n++) expect(base64Length(n)).toBe(Buffer.alloc(n).toString('base64').length)
    expect(base64Length(2 ** 31 - 3)).toBe(Math.ceil((2 ** 31 - 3) / 3) * 4)
  })

  it('over a 1M-row recording (20 batches), every frame is encodeFrame of its row, byte for byte, and stays so after later frames', async () => {
    const N = 1_000_000
    const path = join(dir, 'million.arrow')
    const w = createYahooWriter(path, {flushRows: 50_000, compactOnClose: false})
    for (const f of syntheticYahooTape({frames: N, symbols: 50, seed: 9, meanGapMs: 1})) {
      const {id, time, ...fields} = f.data
      w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields: fields as Record<string, unknown>})
    }
    await w.close()
    const file = await openRecording(path)
    const enc = yahooReplay.encoder(file)
    // the same tape again, in step with the rows read (the file keeps arrival order): nothing held but a sample
    const tape = syntheticYahooTape({frames: N, symbols: 50, seed: 9, meanGapMs: 1})[Symbol.iterator]()
    const kept: {got: Uint8Array | string; want: string}[] = []
    const asText = (got: Uint8Array | string) => (typeof got === 'string' ? got : Buffer.from(got.buffer, got.byteOffset, got.byteLength).toString('latin1'))
    let rows = 0
    let batches = 0
    let bad = 0
    const t0 = Date.now()
    for await (const {batch, idx} of readBatches(file)) {
      const b = new ReplayBatch(batch, idx, file, 0)
      batches++
      for (let k = 0; k < b.length; k++) {
        const i = b.at(k)
        const m = tape.next().value!.data
        for (const [v, env] of [
          [0, 'v1'],
          [1, 'v2'],
        ] as const) {
          if (v === 0 && rows % 10 !== 0) continue // v1 on every tenth row (it is v2 without the envelope)
          const want = encodeFrame(m, env)
          const got = enc.encode(b, i, v, 0) as Uint8Array | string
          if (asText(got) !== want && bad++ < 3) expect({row: rows, env, got: asText(got)}).toEqual({row: rows, env, got: want})
          if (rows % 997 === 0) kept.push({got, want})
        }
        rows++
      }
      expect(Date.now() - t0).toBeLessThan(120_000)
    }
    expect(bad).toBe(0)
    expect(rows).toBe(N)
    expect(batches).toBe(20)
    // frames are views into shared buffers: the ones handed out earlier are not written over by later ones
    for (const {got, want} of kept) expect(asText(got)).toBe(want)
  }, 180_000)
})
