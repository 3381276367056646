import {mkdtempSync, readFileSync, writeFileSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import type {ColumnDef, RowInput} from '../src/feeds/types.js'
import {MdrecError} from '../src/errors.js'
import {openRecording, readBatches, readRows} from '../src/store/reader.js'
import {sliceRecording} from '../src/store/slice.js'
import {RecordingWriter} from '../src/store/writer.js'
import {polarsStrings, readWithPolars} from './helpers/polars.js'

const COLS: ColumnDef[] = [
  {name: 'price', type: 'float32'},
  {name: 'volume', type: 'int64'},
  {name: 'note', type: 'utf8'},
  {name: 'flag', type: 'bool'},
  {name: 'ratio', type: 'float64'},
]

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mdrec-store-'))
}

function makeRows(n: number): RowInput[] {
  const syms = ['AAPL', 'MSFT', 'TSLA', 'NVDA']
  const rows: RowInput[] = []
  for (let i = 0; i < n; i++) {
    // a new symbol appears only after the first batches
    const sym = i < 500 ? syms[i % 2] : syms[i % 4]
    rows.push({
      recv_ts: 1_763_980_800_000_000_000n + BigInt(i) * 1_234_567n,
      exch_ts: i % 7 === 0 ? null : 1_763_980_800_000n + BigInt(i),
      symbol: sym,
      kind: i % 50 === 0 ? 'gap' : 'tick',
      raw: i % 3 === 0 ? new Uint8Array([i & 255, 1, 2]) : null,
      info: i % 50 === 0 ? JSON.stringify({i}) : null,
      fields:
        i % 50 === 0
          ? null
          : {
              price: Math.fround(100 + i / 100),
              volume: i % 5 === 0 ? undefined : 2n ** 62n + BigInt(i),
              note: i % 4 === 0 ? `n${i}` : null,
              flag: i % 2 === 0,
              ratio: i / 3,
            },
    })
  }
  return rows
}

function writeFile(path: string, rows: RowInput[], flushRows: number, compact = true) {
  const w = RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'test',
        endpoint: 'ws://127.0.0.1:1/',
        subscriptions: ['AAPL'],
        feedOptions: {},
        toolVersion: '0.0.0-test',
        startTime: '2025-11-24T10:00:00.000000000Z',
        rawMode: 'auto',
      },
      exchTsUnit: 'ms',
      columns: COLS,
    },
    {flushIntervalMs: 0, flushRows, compactOnClose: compact},
  )
  for (const r of rows) w.append(r)
  return w
}

describe('store: writer and reader', () => {
  it('round-trips every value, with symbols first seen mid-file, and polars reads the same', async () => {
    const dir = tmp()
    const path = join(dir, 'a.arrow')
    const rows = makeRows(2000)
    const w = writeFile(path, rows, 100, false)
    const stats = await w.close()
    expect(stats.rows).toBe(2000)
    expect(stats.batches).toBe(20)

    const file = await openRecording(path)
    expect(file.meta.feed).toBe('test')
    const back: Awaited<ReturnType<typeof readRows>> extends AsyncGenerator<infer R> ? R[] : never = []
    for await (const r of readRows(file)) back.push(r)
    expect(back.length).toBe(2000)
    for (let i = 0; i < rows.length; i++) {
      const a = rows[i]
      const b = back[i]
      expect(b.seq).toBe(BigInt(i))
      expect(b.recv_ts).toBe(a.recv_ts)
      expect(b.exch_ts).toBe(a.exch_ts)
      expect(b.symbol).toBe(a.symbol)
      expect(b.kind).toBe(a.kind)
      expect(b.raw === null ? null : [...b.raw]).toEqual(a.raw === null ? null : [...a.raw])
      expect(b.info).toBe(a.info)
      const f = a.fields ?? {}
      for (const c of COLS) expect(b.fields[c.name] ?? null).toEqual(f[c.name] ?? null)
    }

    const df = readWithPolars(path)
    expect(df.height).toBe(2000)
    const sym = df.getColumn('symbol').toArray()
    const price = df.getColumn('price').toArray()
    const vol = polarsStrings(df, 'volume')
    const seq = polarsStrings(df, 'seq')
    const recv = polarsStrings(df, 'recv_ts')
    for (let i = 0; i < rows.length; i++) {
      expect(sym[i]).toBe(rows[i].symbol)
      const f = rows[i].fields
      expect(price[i] ?? null).toEqual(f?.price ?? null)
      const v = f?.volume
      expect(vol[i]).toEqual(v === undefined ? null : String(v))
      expect(seq[i]).toBe(String(i))
      expect(recv[i]).toMatch(/^2025-11-24 /)
    }
  })

  it('compacts small batches on close, keeping every row and adding end time and row count', async () => {
    const dir = tmp()
    const path = join(dir, 'b.arrow')
    const rows = makeRows(3000)
    const w = writeFile(path, rows, 50, true)
    const before = w.rows
    const stats = await w.close()
    expect(before).toBe(3000)
    expect(stats.batches).toBe(1)
    const file = await openRecording(path)
    expect(file.meta.rows).toBe(3000)
    expect(file.meta.endTime).toMatch(/^2025-11-24T/)
    let n = 0
    for await (const {batch} of readBatches(file)) n += batch.numRows
    expect(n).toBe(3000)
    expect(readWithPolars(path).height).toBe(3000)
    expect(statSync(path).size).toBe(stats.bytes)
  })

  it('filters by time range and symbol', async () => {
    const dir = tmp()
    const path = join(dir, 'c.arrow')
    const rows = makeRows(1000)
    await writeFile(path, rows, 128, false).close()
    const file = await openRecording(path)
    const from = rows[100].recv_ts
    const to = rows[900].recv_ts
    const got: bigint[] = []
    for await (const r of readRows(file, {from, to, symbols: ['NVDA']})) got.push(r.seq)
    const want = rows.map((r, i) => ({r, i})).filter(({r}) => r.symbol === 'NVDA' && r.recv_ts >= from && r.recv_ts < to)
    expect(got).toEqual(want.map(({i}) => BigInt(i)))
  })

  it('never overwrites an existing file', () => {
    const dir = tmp()
    const path = join(dir, 'd.arrow')
    writeFileSync(path, 'keep me')
    expect(() => writeFile(path, [], 10)).toThrow(/already exists/)
    expect(readFileSync(path, 'utf8')).toBe('keep me')
  })

  it('reports a truncated tail with E_TRUNCATED after the complete batches', async () => {
    const dir = tmp()
    const path = join(dir, 'e.arrow')
    await writeFile(path, makeRows(1000), 100, false).close()
    const bytes = readFileSync(path)
    const cut = join(dir, 'cut.arrow')
    writeFileSync(cut, bytes.subarray(0, bytes.length - 300))
    const file = await openRecording(cut)
    let n = 0
    await expect(
      (async () => {
        for await (const {batch} of readBatches(file)) n += batch.numRows
      })(),
    ).rejects.toSatisfy((e: unknown) => e instanceof MdrecError && e.code === 'E_TRUNCATED')
    expect(n).toBe(900)
  })
})

describe('store: reading a file while it is written', () => {
  it('follows a live recording batch by batch until the writer closes it', async () => {
    const dir = tmp()
    const path = join(dir, 'live.arrow')
    const rows = makeRows(1000)
    const w = writeFile(path, rows.slice(0, 100), 1_000_000)
    w.flush()
    const file = await openRecording(path)
    const seen: bigint[] = []
    const reading = (async () => {
      for await (const r of readRows(file, {follow: true})) seen.push(r.seq)
    })()
    for (let k = 1; k < 10; k++) {
      await new Promise((r) => setTimeout(r, 30))
      for (const r of rows.slice(k * 100, k * 100 + 100)) w.append(r)
      w.flush()
    }
    // the reader has caught up with what was flushed, before the file is closed
    for (let i = 0; i < 100 && seen.length < 1000; i++) await new Promise((r) => setTimeout(r, 20))
    expect(seen.length).toBe(1000)
    await w.close()
    await reading // ends at the end-of-stream marker
    expect(seen).toEqual(rows.map((_, i) => BigInt(i)))
  })
})

describe('store: list<struct> columns (order book levels)', () => {
  it('round-trips levels through write, compaction and slice, and polars reads them', async () => {
    const dir = tmp()
    const path = join(dir, 'ob.arrow')
    const cols: ColumnDef[] = [{name: 'levels', type: 'list_struct_f64', fields: ['ask_price', 'bid_price', 'ask_size', 'bid_size']}]
    const w = RecordingWriter.create(
      path,
      {
        meta: {feed: 'test', endpoint: '', subscriptions: [], feedOptions: {}, toolVersion: 't', startTime: '2025-11-24T10:00:00.000000000Z', rawMode: 'auto'},
        exchTsUnit: 'ms',
        columns: cols,
      },
      {flushIntervalMs: 0, flushRows: 7},
    )
    const want: (Array<Record<string, number | null>> | null)[] = []
    for (let i = 0; i < 50; i++) {
      const levels = i % 9 === 0 ? null : Array.from({length: (i % 4) + 1}, (_, k) => ({ask_price: 100 + k + i / 10, bid_price: 99 - k, ask_size: k === 2 ? null : i * 0.5, bid_size: k}))
      want.push(levels)
      w.append({recv_ts: 1_000_000_000n + BigInt(i), exch_ts: null, symbol: 'KRW-BTC', kind: 'orderbook', raw: null, info: null, fields: {levels}})
    }
    await w.close()
    const got: unknown[] = []
    for await (const r of readRows(await openRecording(path))) got.push(r.fields.levels ?? null)
    expect(got).toEqual(want)
    const cut = join(dir, 'ob-slice.arrow')
    await sliceRecording(path, cut, {from: 1_000_000_010n})
    const sliced: unknown[] = []
    for await (const r of readRows(await openRecording(cut))) sliced.push(r.fields.levels ?? null)
    expect(sliced).toEqual(want.slice(10))
    const df = readWithPolars(path)
    expect(df.height).toBe(50)
    expect(df.getColumn('levels').dtype.toString()).toMatch(/List/)
  })
})
