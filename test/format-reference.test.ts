/**
 * The column-wise byte formatters (ndjsonBytes, csvBytes: what `cat -f
 * ndjson|csv` prints) against the straightforward row-at-a-time reference
 * (ndjsonLine, csvLine over readRows), row by row, on a multi-batch
 * recording holding every column type and the values that formatting gets
 * wrong: 64-bit integers past 2^53 and at their limits, negative and
 * zero times (before 1970, ms units), float32/float64 specials (NaN, ±∞,
 * -0, subnormals, the largest), non-ASCII and escaped strings (in the
 * dictionary too), empty strings, nulls in every column, all-null columns in
 * a batch, order-book lists. Also column subsets and row selections.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ColumnDef} from '../src/feeds/types.js'
import {csvBytes, csvLine, ndjsonBytes, ndjsonLine} from '../src/store/format.js'
import {openRecording, readBatches, readRows, type RecordingFile} from '../src/store/reader.js'
import type {StoreColumn} from '../src/store/schema.js'
import {RecordingWriter} from '../src/store/writer.js'
import {mulberry32} from '../src/util/prng.js'

const COLUMNS: ColumnDef[] = [
  {name: 'price', type: 'float32'},
  {name: 'value', type: 'float64'},
  {name: 'vol', type: 'int64'},
  {name: 'id', type: 'uint64'},
  {name: 'n32', type: 'int32'},
  {name: 'n8', type: 'int8'},
  {name: 'ok', type: 'bool'},
  {name: 'venue', type: 'dict_utf8'},
  {name: 'name', type: 'utf8'},
  {name: 'blob', type: 'binary'},
  {name: 'asks', type: 'list_struct_f64', fields: ['price', 'size']},
  {name: 'never', type: 'float32'},
]

const F32 = [0, -0, 1, -1, 0.1, 349.64, -0.45552897, 1e-45, 1.17549435e-38, 3.4028234663852886e38, 16777217, 123456.789, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** -20, 7e-10]
const F64 = [0, -0, 0.1 + 0.2, 1e21, 1e-7, -123.456, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY, -1e-300]
const I64 = [0n, 1n, -1n, 9007199254740991n, 9007199254740993n, -9007199254740993n, 2n ** 63n - 1n, -(2n ** 63n), 4294967296n, -4294967296n, 4294967295n, 48020848n, 1n << 52n, -(1n << 53n)]
const U64 = [0n, 1n, 2n ** 64n - 1n, 2n ** 63n, 9007199254740992n, 9007199254740993n, 4294967295n, 123n]
const I32 = [0, 1, -1, 2147483647, -2147483648, 10, -10, 99999]
const I8 = [0, 127, -128, 5, -7]
const STR = ['', 'plain', 'a,b', 'say "hi"', 'line\nbreak', 'cr\rx', 'tab\tx', 'back\\slash', 'ünïcödé', '日本語', '😀 emoji', '\u0001ctl', '\u007fdel', 'a"', ' lead', '0123456789012345678901234567890123456789', 'x'.repeat(300)]
const SYMS = ['AAPL', 'ü-sym', 'q"uote', 'com,ma', 'nl\nsym', '', 'BTC-USD', '7203.T']
const VENUES = ['NMS', 'Nasdaq, Inc.', 'é', '"q"', 'NYQ']
const KINDS = ['tick', 'tick', 'tick', 'gap', 'reject', 'status'] as const

let dir: string
const files: Record<string, RecordingFile> = {}
const ROWS = 12_000

async function make(path: string, exchUnit: 'ns' | 'ms', seed: number): Promise<RecordingFile> {
  const w = RecordingWriter.create(
    path,
    {
      meta: {feed: 'generic', endpoint: 'ws://127.0.0.1/', subscriptions: [], feedOptions: {}, toolVersion: 'test', startTime: '2025-11-24T10:40:00Z', rawMode: 'auto'},
      exchTsUnit: exchUnit,
      columns: COLUMNS,
    },
    {flushIntervalMs: 0, flushRows: 1000, compactOnClose: false, fsync: false},
  )
  const r = mulberry32(seed)
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]
  const maybe = <T>(v: T, pNull = 0.15): T | null => (r() < pNull ? null : v)
  // recv_ts from before 1970 to far ahead, mostly increasing within a second
  let t = -86_400_000_000_123n
  for (let i = 0; i < ROWS; i++) {
    t += BigInt(Math.floor(r() * 3_000_000_000)) + (i % 2500 === 0 ? 10n ** 17n : 0n)
    // rows 3000-3999 (batch 4): every feed column null in the whole batch
    const empty = i >= 3000 && i < 4000
    const fields = empty
      ? null
      : {
          price: maybe(pick(F32)),
          value: maybe(pick(F64)),
          vol: maybe(r() < 0.5 ? pick(I64) : BigInt(Math.floor(r() * 1e9)) - 500_000_000n),
          id: maybe(r() < 0.5 ? pick(U64) : BigInt(i)),
          n32: maybe(r() < 0.5 ? pick(I32) : Math.floor(r() * 2e6) - 1e6),
          n8: maybe(pick(I8)),
          ok: maybe(r() < 0.5),
          venue: maybe(pick(VENUES)),
          name: maybe(pick(STR)),
          blob: maybe(Uint8Array.from(Buffer.from(pick(STR)))),
          asks: maybe(r() < 0.5 ? [] : [{price: pick(F64), size: r()}, {price: 1.5, size: null}]),
          never: null,
        }
    const exch = r() < 0.2 ? null : exchUnit === 'ms' ? t / 1_000_000n - BigInt(Math.floor(r() * 5000)) : t - BigInt(Math.floor(r() * 5e9))
    w.append({
      recv_ts: t,
      exch_ts: exch,
      symbol: pick(SYMS),
      kind: pick(KINDS),
      raw: r() < 0.3 ? Uint8Array.from(Buffer.from(pick(STR))) : null,
      info: r() < 0.7 ? null : pick(['{"a":1, "b" : [1,2]}', 'null', 'not json', '"str"', '{"nested":{"x":"ü"}}', '', '12.50']),
      fields,
    })
  }
  await w.close()
  return openRecording(path)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-format-ref-'))
  files.ns = await make(join(dir, 'ns.arrow'), 'ns', 1)
  files.ms = await make(join(dir, 'ms.arrow'), 'ms', 2)
}, 120_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Both formatters' text, line by line: the first differing line is reported with its number. */
async function compare(file: RecordingFile, cols: readonly StoreColumn[], opts: {symbols?: string[]; from?: bigint} = {}): Promise<number> {
  const ref = {ndjson: [] as string[], csv: [] as string[]}
  for await (const row of readRows(file, opts)) {
    ref.ndjson.push(ndjsonLine(row, cols))
    ref.csv.push(csvLine(row, cols))
  }
  const fast = {ndjson: [] as string[], csv: [] as string[]}
  let batches = 0
  for await (const {batch, idx} of readBatches(file, opts)) {
    batches++
    for (const l of ndjsonBytes(batch, idx, cols).toString('utf8').split(/(?<=\n)(?=\{)/)) fast.ndjson.push(l)
    fast.csv.push(csvBytes(batch, idx, cols).toString('utf8'))
  }
  expect(batches).toBeGreaterThan(1)
  for (let i = 0; i < ref.ndjson.length; i++) if (fast.ndjson[i] !== ref.ndjson[i]) expect(fast.ndjson[i], `ndjson line ${i}`).toBe(ref.ndjson[i])
  expect(fast.ndjson.length).toBe(ref.ndjson.length)
  expect(fast.csv.join(''), 'csv').toBe(ref.csv.join(''))
  return ref.ndjson.length
}

describe('ndjsonBytes/csvBytes equal the row-at-a-time formatters', () => {
  for (const unit of ['ns', 'ms']) {
    it(`every column, every row (exch_ts in ${unit})`, async () => {
      const f = files[unit]
      expect(await compare(f, f.columns)).toBe(ROWS)
    }, 60_000)
  }
  it('column subsets in another order', async () => {
    const f = files.ns
    const by = (names: string[]) => names.map((n) => f.columns.find((c) => c.name === n)!)
    await compare(f, by(['name', 'recv_ts', 'never', 'price']))
    await compare(f, by(['never']))
    await compare(f, by(['symbol', 'vol', 'id', 'exch_ts', 'kind']))
  }, 60_000)
  it('selections (symbols, a time range)', async () => {
    const f = files.ns
    expect(await compare(f, f.columns, {symbols: ['ü-sym', 'com,ma']})).toBeGreaterThan(0)
    let from: bigint | undefined
    for await (const row of readRows(f)) {
      from = row.recv_ts
      if (row.seq > 6500n) break
    }
    expect(await compare(f, f.columns, {from})).toBeGreaterThan(0)
  }, 60_000)
})
