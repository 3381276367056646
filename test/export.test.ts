/**
 * `mdrec export` and `record --dataset`, proved by two engines independent
 * of mdrec (DuckDB's node package, nodejs-polars): row counts, per-symbol
 * counts and sampled values equal `mdrec cat`'s on 1,000,000-row recordings
 * of 20 batches (Yahoo, and Upbit with order books); a rotated run and a
 * growing live file exported again and again (no duplicates); an export
 * killed with SIGKILL midway and run again (complete, no duplicates, no
 * partial file left).
 */
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import * as A from 'apache-arrow'
import pl from 'nodejs-polars'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {datasetSchema, takeBatch} from '../src/dataset/convert.js'
import {exportRecordings} from '../src/dataset/export.js'
import {escapePartition, hostLabel} from '../src/dataset/layout.js'
import {addRange, lockRun} from '../src/dataset/manifest.js'
import {Recorder} from '../src/record/recorder.js'
import {nsToIso} from '../src/util/time.js'
import {BIN, runCli} from './helpers/cli.js'
import {duckdb, isoToNs, listFiles, makeUpbitTape, makeYahooTape, reorderedBatches, type BigTape} from './helpers/dataset.js'
import {TestFeed, sleep} from './helpers/feed.js'
import {createYahooWriter} from './helpers/recording.js'

const ROWS = 1_000_000
const V1_FIXTURE = fileURLToPath(new URL('./vectors/yahoo-v1.arrow', import.meta.url))
let dir: string
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})
function tmp(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `mdrec-${name}-`))
  dirs.push(d)
  return d
}

const glob = (ds: string) => `read_parquet('${ds}/**/*.parquet', hive_partitioning=true)`

/** Per-symbol row counts as `mdrec cat` prints them. */
async function catCounts(file: string): Promise<Map<string, number>> {
  const r = await runCli(['cat', file, '-f', 'csv', '--columns', 'symbol'], {timeoutMs: 240_000})
  expect(r.code, r.stderr).toBe(0)
  const counts = new Map<string, number>()
  const lines = r.stdout.split('\n')
  for (let i = 1; i < lines.length; i++) if (lines[i] !== '') counts.set(lines[i], (counts.get(lines[i]) ?? 0) + 1)
  return counts
}

/** The rows `mdrec cat` prints (NDJSON) received at exactly `ns`. */
async function catAt(file: string, ns: bigint): Promise<Record<string, unknown>[]> {
  const r = await runCli(['cat', file, '-f', 'ndjson', '--from', nsToIso(ns), '--to', nsToIso(ns + 1n)], {timeoutMs: 60_000})
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** DuckDB's and polars' per-symbol counts of a dataset (null symbol: gap rows' Hive null partition). */
async function engineCounts(ds: string): Promise<{duck: Map<string, number>; polars: Map<string, number>}> {
  const duck = new Map<string, number>()
  for (const r of await duckdb(`SELECT symbol, count(*) AS n FROM ${glob(ds)} GROUP BY symbol`)) duck.set(String(r.symbol ?? ''), Number(r.n))
  const df = pl.scanParquet(`${ds}/**/*.parquet`, {hivePartitioning: true}).select('symbol').collectSync()
  const g = df.groupBy('symbol').len()
  const polars = new Map<string, number>()
  const syms = g.getColumn('symbol').toArray() as (string | null)[]
  const ns = g.getColumn(g.columns[1]).toArray() as number[]
  syms.forEach((s, i) => polars.set(s ?? '', Number(ns[i])))
  return {duck, polars}
}

/**
 * Rows of the dataset's files that do not follow their file's previous row
 * in arrival order (seq must increase down every file): 0 when every file
 * holds its rows in arrival order.
 */
async function outOfOrder(ds: string): Promise<number> {
  const [r] = await duckdb(
    `SELECT count(*) AS n FROM (SELECT seq, lag(seq) OVER (PARTITION BY filename ORDER BY file_row_number) AS prev FROM read_parquet('${ds}/**/*.parquet', hive_partitioning=true, filename=true, file_row_number=true)) WHERE prev >= seq`,
  )
  return Number(r.n)
}

/** Every row of a Yahoo dataset, keyed by seq (DuckDB reads the ns timestamps as µs: the other tests check ns with polars). */
async function datasetRows(ds: string): Promise<Map<string, Record<string, unknown>>> {
  const rows = await duckdb(`SELECT CAST(seq AS VARCHAR) AS seq, CAST(epoch_us(recv_ts) AS VARCHAR) AS recv_us, symbol, price, CAST(day_volume AS VARCHAR) AS day_volume FROM ${glob(ds)}`)
  return new Map(rows.map((r) => [String(r.seq), r]))
}

/** Every row of `file` as cat prints it must be in the dataset once, with the same values. */
async function expectSameRowsAsCat(file: string, ds: string): Promise<number> {
  const r = await runCli(['cat', file, '-f', 'ndjson'], {timeoutMs: 120_000})
  expect(r.code, r.stderr).toBe(0)
  const want = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  const got = await datasetRows(ds)
  expect(got.size).toBe(want.length)
  for (const w of want) {
    const g = got.get(String(w.seq))
    expect(g, `seq ${w.seq}`).toBeDefined()
    // price is float32: cat prints its shortest decimal, DuckDB the float widened to a double
    const f32 = (v: unknown) => (v === null || v === undefined ? null : Math.fround(Number(v)))
    expect({recv_us: g!.recv_us, symbol: g!.symbol ?? '', price: f32(g!.price), day_volume: g!.day_volume ?? null}, `seq ${w.seq}`).toEqual({
      recv_us: String(isoToNs(String(w.recv_ts)) / 1000n),
      symbol: w.symbol,
      price: f32(w.price),
      day_volume: w.day_volume ?? null,
    })
  }
  return want.length
}

const sortedEntries = (m: Map<string, number>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

describe('export at real size: DuckDB and polars read what `mdrec cat` prints', () => {
  let yahoo: string
  let upbit: string
  let ytape: BigTape
  let utape: BigTape
  let dsY: string
  let dsU: string

  beforeAll(async () => {
    dir = tmp('export')
    yahoo = join(dir, 'yahoo.arrow')
    upbit = join(dir, 'upbit.arrow')
    // closed as a stopped recorder leaves it: format version 2, every batch's rows clustered by symbol
    ytape = await makeYahooTape(yahoo, ROWS, {flushRows: 50_000, sampleEvery: 111_111, closed: true})
    expect(await reorderedBatches(yahoo)).toEqual({reordered: 16, batches: 16})
    utape = await makeUpbitTape(upbit, ROWS, {flushRows: 50_000, sampleEvery: 111_111})
    dsY = join(dir, 'dsY')
    dsU = join(dir, 'dsU')
    const ry = await runCli(['export', yahoo, '--out', dsY, '--json'], {timeoutMs: 300_000})
    expect(ry.code, ry.stderr).toBe(0)
    expect(JSON.parse(ry.stdout)).toMatchObject({rows: ROWS, skipped: 0, inputs: 1})
    const ru = await runCli(['export', upbit, '--out', dsU, '--partition-symbol'], {timeoutMs: 300_000})
    expect(ru.code, ru.stderr).toBe(0)
    expect(ru.stdout).toMatch(/^exported 1,?000,?000 rows in \d+ files/)
  }, 900_000)

  it('row and per-symbol counts equal cat (Yahoo, 50 symbols; Upbit by symbol partition); no duplicate seq', async () => {
    for (const [file, ds] of [
      [yahoo, dsY],
      [upbit, dsU],
    ] as const) {
      const cat = await catCounts(file)
      const {duck, polars} = await engineCounts(ds)
      expect(sortedEntries(duck)).toEqual(sortedEntries(cat))
      expect(sortedEntries(polars)).toEqual(sortedEntries(cat))
      const [t] = await duckdb(`SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM ${glob(ds)}`)
      expect(t).toEqual({n: String(ROWS), d: String(ROWS), lo: '0', hi: String(ROWS - 1)})
      // every file holds its rows in arrival order, also from the closed file that stores them by symbol
      expect(await outOfOrder(ds)).toBe(0)
    }
  }, 600_000)

  it('types: ns UTC timestamps, uint64/int64 exact, order books as list<struct>, metadata kept', async () => {
    const f = readdirSync(join(dsU, 'feed=upbit')).map((d) => join(dsU, 'feed=upbit', d))
    expect(f.length).toBeGreaterThan(0)
    const one = listFiles(dsU).find((p) => p.endsWith('.parquet'))!
    const schema = await duckdb(`SELECT name, type, converted_type AS ct, logical_type::VARCHAR AS lt FROM parquet_schema('${join(dsU, one)}')`)
    const lt = (n: string) => String(schema.find((r) => r.name === n)?.lt)
    const physical = (n: string) => {
      const r = schema.find((x) => x.name === n)
      return `${String(r?.type)} ${String(r?.ct)}`
    }
    expect(lt('recv_ts')).toMatch(/TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=<null>, MICROS=<null>, NANOS=NanoSeconds\(\)\)\)/)
    expect(lt('exch_ts')).toMatch(/NANOS=NanoSeconds/)
    expect(physical('sequential_id')).toBe('INT64 UINT_64')
    expect(physical('seq')).toBe('INT64 UINT_64')
    expect(lt('seq')).toMatch(/IntType\(.*isSigned=0\)/)
    const cols = await duckdb(`DESCRIBE SELECT * FROM ${glob(dsU)}`)
    const type = (n: string) => cols.find((r) => r.column_name === n)?.column_type
    expect(type('seq')).toBe('UBIGINT')
    expect(type('sequential_id')).toBe('UBIGINT')
    expect(type('trade_timestamp')).toBe('BIGINT')
    expect(type('recv_ts')).toBe('TIMESTAMP WITH TIME ZONE')
    expect(type('orderbook_units')).toBe('STRUCT(ask_price DOUBLE, bid_price DOUBLE, ask_size DOUBLE, bid_size DOUBLE)[]')
    expect(type('feed')).toBe('VARCHAR')
    expect(type('date')).toBe('DATE')
    // ZSTD pages, and the run's metadata inside every file
    const codecs = await duckdb(`SELECT DISTINCT compression FROM parquet_metadata('${join(dsU, one)}')`)
    expect(codecs.map((r) => r.compression)).toEqual(['ZSTD'])
    const kv = await duckdb(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${join(dsU, one)}')`)
    const meta = new Map(kv.map((r) => [String(r.k), String(r.v)]))
    expect(meta.get('mdrec.run_id')).toBe('3f1c2a9e-0000-4000-8000-00000000beef')
    expect(meta.get('mdrec.feed')).toBe('upbit')
    expect(meta.get('mdrec.export.source')).toBe('upbit.arrow')
    // file names: host, run id, seq range; the run's manifest beside the data
    expect(one).toMatch(new RegExp(`^feed=upbit/date=\\d{4}-\\d\\d-\\d\\d/symbol=KRW-(BTC|ETH)/${hostLabel()}\\.3f1c2a9e-0000-4000-8000-00000000beef\\.\\d{12}-\\d{12}\\.parquet$`))
    const manifest = JSON.parse(readFileSync(join(dsU, '_mdrec', 'runs', '3f1c2a9e-0000-4000-8000-00000000beef.json'), 'utf8'))
    expect(manifest).toMatchObject({feed: 'upbit', rows: ROWS, exported: [['0', String(ROWS - 1)]], pending: null})
    expect(manifest.metadata['mdrec.subscriptions']).toBe('["KRW-BTC","KRW-ETH"]')
  }, 120_000)

  it('sampled rows: the same values in DuckDB, polars and cat (64-bit integers and ns exact)', async () => {
    const lfY = pl.scanParquet(`${dsY}/**/*.parquet`, {hivePartitioning: true})
    const lfU = pl.scanParquet(`${dsU}/**/*.parquet`, {hivePartitioning: true})
    let checked = 0
    for (const [file, ds, tape, lf, cols] of [
      [yahoo, dsY, ytape, lfY, ['price', 'day_volume', 'exchange', 'market_hours', 'change_percent']],
      [upbit, dsU, utape, lfU, ['sequential_id', 'trade_price', 'trade_timestamp', 'orderbook_units', 'change', 'total_ask_size']],
    ] as const) {
      expect(tape.samples.length).toBeGreaterThanOrEqual(9)
      for (const ns of tape.samples) {
        const rows = await catAt(file, ns)
        expect(rows.length).toBeGreaterThan(0)
        for (const c of rows) {
          const seq = String(c.seq)
          const [d] = await duckdb(
            `SELECT seq::VARCHAR AS seq, symbol, kind, epoch_us(recv_ts)::VARCHAR AS recv_us, epoch_ms(exch_ts)::VARCHAR AS exch_ms, ${cols.map((k) => `${k}`).join(', ')} FROM ${glob(ds)} WHERE seq = ${seq}`,
          )
          expect(d.seq).toBe(seq)
          expect(d.symbol).toBe(c.symbol)
          expect(d.kind).toBe(c.kind)
          expect(d.recv_us).toBe(String(isoToNs(String(c.recv_ts)) / 1000n))
          expect(d.exch_ms).toBe(c.exch_ts === undefined ? null : String(isoToNs(String(c.exch_ts)) / 1_000_000n))
          const p = lf
            .filter(pl.col('seq').eq(pl.lit(Number(seq))))
            .select(pl.col('seq').cast(pl.Utf8), pl.col('recv_ts').cast(pl.Int64).cast(pl.Utf8).alias('recv_ns'), pl.col('symbol'), ...cols.map((k) => pl.col(k)))
            .collectSync()
          expect(p.height).toBe(1)
          const prow = p.toRecords()[0] as Record<string, unknown>
          expect(prow.seq).toBe(seq)
          expect(prow.recv_ns).toBe(String(isoToNs(String(c.recv_ts))))
          expect(prow.symbol).toBe(c.symbol)
          for (const k of cols) {
            const want = c[k] ?? null
            if (k === 'orderbook_units') {
              expect(JSON.stringify(d[k]), k).toBe(JSON.stringify(want))
              expect(JSON.stringify(prow[k]), k).toBe(JSON.stringify(want))
            } else if (k === 'sequential_id' || k === 'day_volume' || k === 'trade_timestamp') {
              // 64-bit integers: cat prints them as strings, exactly
              expect(d[k] === null ? null : String(d[k]), k).toBe(want)
              const exact = lf.filter(pl.col('seq').eq(pl.lit(Number(seq)))).select(pl.col(k).cast(pl.Utf8)).collectSync().getColumn(k).toArray()[0]
              expect(exact, k).toBe(want)
            } else if (typeof want === 'number') {
              const f32 = k === 'price' || k === 'change_percent'
              const norm = (v: unknown) => (f32 ? Math.fround(Number(v)) : Number(v))
              expect(norm(d[k]), k).toBe(norm(want))
              expect(norm(prow[k]), k).toBe(norm(want))
            } else {
              expect(d[k], k).toBe(want)
              expect(prow[k] ?? null, k).toBe(want)
            }
          }
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(18)
  }, 600_000)

  it('exporting the same recording again adds nothing', async () => {
    const before = listFiles(dsY)
    const r = await runCli(['export', yahoo, '--out', dsY, '--json'], {timeoutMs: 300_000})
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({rows: 0, skipped: ROWS, files: []})
    expect(listFiles(dsY)).toEqual(before)
  }, 300_000)

  it('an export killed with SIGKILL midway, then run again: complete, no duplicate, no partial file', async () => {
    const ds = join(dir, 'dsKill')
    // by symbol: a step writes 50 files one after another, so the kill lands between two of them
    const child = spawn(process.execPath, [BIN, 'export', yahoo, '--out', ds, '--partition-symbol', '--rows-per-file', '50000'], {stdio: 'ignore'})
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)))
    // kill once steps are done and the next one is half written: some of its files are in place, some not
    const t0 = Date.now()
    let killedAt: {rows: number; pending: boolean} | null = null
    while (Date.now() - t0 < 120_000) {
      const runs = existsSync(join(ds, '_mdrec', 'runs')) ? readdirSync(join(ds, '_mdrec', 'runs')).filter((n) => n.endsWith('.json')) : []
      if (runs.length === 1) {
        let m: {rows: number; pending: {files: string[]} | null} | null = null
        try {
          m = JSON.parse(readFileSync(join(ds, '_mdrec', 'runs', runs[0]), 'utf8'))
        } catch {
          // replaced while read
        }
        const written = m?.pending ? m.pending.files.filter((f) => existsSync(join(ds, f))).length : 0
        if (m && m.rows >= 100_000 && m.pending && written > 0 && written < m.pending.files.length) {
          child.kill('SIGKILL')
          killedAt = {rows: m.rows, pending: true}
          break
        }
      }
      await sleep(2)
    }
    expect(killedAt, 'the export was seen half-way through a step').not.toBeNull()
    expect(await exited).toBe('SIGKILL')
    // what a reader sees now: whole files only (DuckDB reads every one), each row once, fewer than all
    const [mid] = await duckdb(`SELECT count(*) AS n, count(DISTINCT seq) AS d FROM ${glob(ds)}`)
    expect(mid.n).toBe(mid.d)
    expect(Number(mid.n)).toBeLessThan(ROWS)
    expect(Number(mid.n)).toBeGreaterThanOrEqual(killedAt!.rows)

    // steps of another size this time, as when a live recording grew meanwhile: the killed step's files have names no new step reuses
    const again = await runCli(['export', yahoo, '--out', ds, '--partition-symbol', '--rows-per-file', '70000', '--json'], {timeoutMs: 300_000})
    expect(again.code, again.stderr).toBe(0)
    const res = JSON.parse(again.stdout)
    expect(res.rows + res.skipped).toBe(ROWS)
    const [all] = await duckdb(`SELECT count(*) AS n, count(DISTINCT seq) AS d FROM ${glob(ds)}`)
    expect(all).toEqual({n: String(ROWS), d: String(ROWS)})
    const files = listFiles(ds)
    expect(files.filter((f) => f.includes('mdrec-partial'))).toEqual([])
    expect(files.filter((f) => f.endsWith('.lock'))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(ds, files.find((f) => f.startsWith('_mdrec/runs/') && f.endsWith('.json'))!), 'utf8'))
    expect(manifest).toMatchObject({pending: null, rows: ROWS, exported: [['0', String(ROWS - 1)]]})
    // polars agrees
    const n = pl.scanParquet(`${ds}/**/*.parquet`, {hivePartitioning: true}).select('seq').collectSync().height
    expect(n).toBe(ROWS)
  }, 600_000)
})

describe('export is incremental and idempotent', () => {
  it('a rotated run: one part, then all parts (a glob), then all again: every row once', async () => {
    const d = tmp('export-rot')
    const runId = '0b7c5e2a-1111-4222-8333-444455556666'
    const paths: string[] = []
    let seq = 0n
    let start = 1_764_000_000_000_000_000n
    for (let part = 0; part < 3; part++) {
      const p = join(d, `run.${String(part).padStart(3, '0')}.arrow`)
      // parts 0 and 2 closed (rows stored by symbol), part 1 a stream as a killed recorder leaves it
      await makeYahooTape(p, 30_000, {flushRows: 7_000, symbols: 8, seed: part + 1, firstSeq: seq, startNs: start, meta: {runId, part}, closed: part !== 1})
      seq += 30_000n
      start += 3_600_000_000_000n
      paths.push(p)
    }
    const ds = join(d, 'ds')
    const r1 = await exportRecordings([paths[1]], ds)
    expect(r1).toMatchObject({rows: 30_000, skipped: 0})
    const r2 = await exportRecordings([join(d, 'run.*.arrow')], ds)
    expect(r2).toMatchObject({rows: 60_000, skipped: 30_000, inputs: 3})
    const before = listFiles(ds)
    const r3 = await exportRecordings([d], ds)
    expect(r3).toMatchObject({rows: 0, skipped: 90_000, files: []})
    expect(listFiles(ds)).toEqual(before)
    const [t] = await duckdb(`SELECT count(*) AS n, count(DISTINCT seq) AS d, max(seq) AS hi FROM ${glob(ds)}`)
    expect(t).toEqual({n: '90000', d: '90000', hi: '89999'})
    expect(JSON.parse(readFileSync(join(ds, '_mdrec', 'runs', `${runId}.json`), 'utf8')).exported).toEqual([['0', '89999']])
    expect(await outOfOrder(ds)).toBe(0)
    // every file names the run; parts are told apart by their seq ranges
    for (const f of before.filter((x) => x.endsWith('.parquet'))) expect(f).toContain(`.${runId}.`)
  }, 120_000)

  it('a live recording exported as it grows, then after it is closed: every row once', async () => {
    const d = tmp('export-live')
    const path = join(d, 'live.arrow')
    const ds = join(d, 'ds')
    const w = createYahooWriter(path, {flushRows: 1_000_000, compactOnClose: true}, {runId: '9a9a9a9a-0000-4000-8000-000000000001'})
    const {syntheticYahooTape} = await import('../src/feeds/yahoo/synthetic.js')
    const tape = syntheticYahooTape({frames: 30_000, symbols: 6, seed: 9})
    const feed = (n: number) => {
      for (let i = 0; i < n; i++) {
        const f = tape.next().value!
        const {id, time, ...fields} = f.data
        w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
      }
      w.flush()
    }
    const logs: string[] = []
    feed(10_000)
    const a = await exportRecordings([path], ds, {log: (l) => logs.push(l)})
    expect(a).toMatchObject({rows: 10_000, incomplete: [path]})
    expect(logs.join('\n')).toMatch(/not closed/)
    feed(15_000)
    const b = await exportRecordings([path], ds)
    expect(b).toMatchObject({rows: 15_000, skipped: 10_000})
    feed(5_000)
    await w.close() // compaction rewrites the batches; seq stays
    const c = await exportRecordings([path], ds)
    expect(c).toMatchObject({rows: 5_000, skipped: 25_000, incomplete: []})
    const [t] = await duckdb(`SELECT count(*) AS n, count(DISTINCT seq) AS d FROM ${glob(ds)}`)
    expect(t).toEqual({n: '30000', d: '30000'})
    expect(await reorderedBatches(path)).toEqual({reordered: 1, batches: 1})
    expect(await outOfOrder(ds)).toBe(0)
    expect(await expectSameRowsAsCat(path, ds)).toBe(30_000)
  }, 120_000)
})

describe('export walks every batch in arrival order', () => {
  it('a closed v2 file (symbols interleaved, stored clustered), a stream and the v1 fixture: files in seq order, every row as cat prints it, again adds nothing', async () => {
    const d = tmp('export-order')
    const closed = join(d, 'closed.arrow')
    const stream = join(d, 'stream.arrow')
    await makeYahooTape(closed, 150_000, {flushRows: 9_000, symbols: 12, seed: 4, closed: true, meta: {runId: '7e7e7e7e-0000-4000-8000-000000000001'}})
    await makeYahooTape(stream, 40_000, {flushRows: 9_000, symbols: 12, seed: 4, meta: {runId: '7e7e7e7e-0000-4000-8000-000000000002'}})
    // what the test is about: the closed file's batches store rows in another order than arrival; the stream's and v1's do not
    expect(await reorderedBatches(closed)).toEqual({reordered: 3, batches: 3})
    expect((await reorderedBatches(stream)).reordered).toBe(0)
    expect((await reorderedBatches(V1_FIXTURE)).reordered).toBe(0)
    for (const [file, rows] of [
      [closed, 150_000],
      [stream, 40_000],
      [V1_FIXTURE, 2511],
    ] as const) {
      for (const partitionBySymbol of [false, true]) {
        const ds = join(d, `ds-${file.split('/').pop()}-${partitionBySymbol}`)
        // small steps: a partition's rows of one batch span several files
        expect(await exportRecordings([file], ds, {partitionBySymbol, maxRows: 20_000})).toMatchObject({rows, skipped: 0})
        expect(await outOfOrder(ds), `${file} by symbol: ${partitionBySymbol}`).toBe(0)
        expect(await expectSameRowsAsCat(file, ds)).toBe(rows)
        expect(await exportRecordings([file], ds, {partitionBySymbol})).toMatchObject({rows: 0, skipped: rows, files: []})
      }
    }
  }, 180_000)
})

describe('export: layout and errors', () => {
  it('partition values are Hive-escaped and read back by both engines; the empty symbol is the null partition', async () => {
    const d = tmp('export-esc')
    const path = join(d, 'esc.arrow')
    const syms = ['^GSPC', 'EURUSD=X', 'BTC-USD', 'A B/ü', '005930']
    const w = createYahooWriter(path)
    const {syntheticYahooTape} = await import('../src/feeds/yahoo/synthetic.js')
    const counts = new Map<string, number>()
    for (const f of syntheticYahooTape({frames: 500, symbols: syms, seed: 2})) {
      const {id, time, ...fields} = f.data
      w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
      counts.set(id ?? '', (counts.get(id ?? '') ?? 0) + 1)
    }
    w.append({recv_ts: 1_764_100_000_000_000_000n, exch_ts: null, symbol: '', kind: 'gap', raw: null, info: '{"reason":"test"}', fields: null})
    counts.set('', 1)
    await w.close()
    const ds = join(d, 'ds')
    await exportRecordings([path], ds, {partitionBySymbol: true})
    const dirsSeen = new Set(listFiles(ds).filter((f) => f.endsWith('.parquet')).map((f) => f.split('/')[2]))
    expect(dirsSeen).toEqual(new Set(['symbol=%5EGSPC', 'symbol=EURUSD%3DX', 'symbol=BTC-USD', 'symbol=A%20B%2F%C3%BC', 'symbol=005930', 'symbol=__HIVE_DEFAULT_PARTITION__']))
    const {duck, polars} = await engineCounts(ds)
    expect(sortedEntries(duck)).toEqual(sortedEntries(counts))
    expect(sortedEntries(polars)).toEqual(sortedEntries(counts))
    expect(escapePartition('..')).toBe('%2E%2E')
  }, 60_000)

  it('a second exporter of the same run is refused while the first holds the run', async () => {
    const d = tmp('export-lock')
    const lock = lockRun(d, 'r1')
    try {
      expect(() => lockRun(d, 'r1')).toThrow(/being exported by another process/)
    } finally {
      lock.release()
    }
    lockRun(d, 'r1').release()
    // a lock left by a dead process on this host is taken over
    writeFileSync(join(d, '_mdrec', 'runs', 'r2.lock'), JSON.stringify({host: (await import('node:os')).hostname(), pid: 2 ** 22 + 12345}))
    lockRun(d, 'r2').release()
  })

  it('a dataset keeps one partitioning: exporting by symbol into a feed/date dataset is refused', async () => {
    const d = tmp('export-layout')
    const p = join(d, 'a.arrow')
    await makeYahooTape(p, 200, {symbols: 3})
    await exportRecordings([p], join(d, 'ds'))
    await expect(exportRecordings([p], join(d, 'ds'), {partitionBySymbol: true})).rejects.toThrow(/partitioned by feed\/date; export into it without --partition-symbol/)
  })

  it('conversion: s/ms timestamps become ns exactly (negative and large values too), rows taken in any order', () => {
    const vals = [0n, 1n, -1n, 1_764_000_000_123n, -62_135_596_800_000n, 9_223_372_036_854n, 4_294_967_295n, 4_294_967_296n]
    const data = A.makeData({type: new A.TimestampMillisecond('UTC'), length: vals.length, data: BigInt64Array.from(vals)})
    const u64 = BigUint64Array.from(vals.map((v, i) => BigInt.asUintN(64, v * 7919n + BigInt(i))))
    const seq = A.makeData({type: new A.Uint64(), length: vals.length, data: u64})
    const schema = new A.Schema([new A.Field('t', data.type, true), new A.Field('u', seq.type, false)])
    const batch = new A.RecordBatch(schema, A.makeData({type: new A.Struct(schema.fields), length: vals.length, children: [data, seq]}))
    const cols = [
      {name: 't', kind: 'timestamp', unit: 'ms', nullable: true},
      {name: 'u', kind: 'plain', type: 'uint64', nullable: false},
    ] as const
    const out = datasetSchema(schema, cols, new Set(), new Map())
    // the last: a permutation of all rows with the first and last at its ends (arrival order of a clustered batch)
    for (const idx of [Uint32Array.from(vals.keys()), Uint32Array.from([7, 2, 5, 0]), Uint32Array.from([0, 2, 1, 3, 5, 4, 6, 7])]) {
      const got = takeBatch(batch, cols, new Set(), out, idx)
      expect([...(got.getChildAt(0)!.data[0].values as BigInt64Array)]).toEqual([...idx].map((i) => BigInt.asIntN(64, vals[i] * 1_000_000n)))
      expect([...(got.getChildAt(1)!.data[0].values as BigUint64Array)]).toEqual([...idx].map((i) => u64[i]))
    }
  })

  it('seq ranges merge', () => {
    expect(addRange([], 5n, 9n)).toEqual([['5', '9']])
    expect(addRange([['5', '9']], 0n, 4n)).toEqual([['0', '9']])
    expect(addRange([['0', '3'], ['10', '12']], 5n, 8n)).toEqual([['0', '3'], ['5', '8'], ['10', '12']])
    expect(addRange([['0', '3'], ['10', '12']], 4n, 9n)).toEqual([['0', '12']])
  })

  it('a file that is not a recording: one line, exit 1, nothing written; --out a file: usage error', async () => {
    const d = tmp('export-bad')
    const bad = join(d, 'bad.arrow')
    writeFileSync(bad, 'not arrow at all')
    const r = await runCli(['export', bad, '--out', join(d, 'ds')])
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(bad)
    expect(existsSync(join(d, 'ds'))).toBe(false)
    const good = join(d, 'good.arrow')
    await makeYahooTape(good, 100, {symbols: 2})
    const r2 = await runCli(['export', good, '--out', bad])
    expect(r2.code).not.toBe(0)
    expect(r2.stderr.trim().split('\n')).toHaveLength(1)
    expect(r2.stderr).not.toMatch(/\n\s+at /)
  }, 60_000)
})

describe('record --dataset', () => {
  it('two recorders with rotation share one dataset: each part is added on rotation and on stop, files name host and run', async () => {
    const d = tmp('record-dataset')
    const ds = join(d, 'ds')
    const feeds = [await TestFeed.start(['NVDA', 'TSLA']), await TestFeed.start(['AAPL', 'AMD', 'MSFT'])]
    try {
      const logs: string[] = []
      const recs = await Promise.all(
        feeds.map((feed, k) =>
          Recorder.start({
            feed: 'yahoo',
            symbols: k === 0 ? ['NVDA', 'TSLA'] : ['AAPL', 'AMD', 'MSFT'],
            url: feed.server.url(2),
            out: join(d, `rec${k}.arrow`),
            rotate: {kind: 'size', bytes: 16 * 1024},
            flushIntervalMs: 50,
            dataset: ds,
            log: (l) => logs.push(l),
          }),
        ),
      )
      await Promise.all(feeds.map((f) => f.waitForSubscribe()))
      const t0 = Date.now()
      while (Date.now() - t0 < 1500 && feeds[0].sent.length < 8_000) {
        for (const f of feeds) for (let i = 0; i < 30; i++) f.publishNext()
        await sleep(10)
      }
      await Promise.all(feeds.map((f) => f.drained()))
      await sleep(200)
      const summaries = await Promise.all(recs.map((r) => r.stop()))
      for (const [k, s] of summaries.entries()) {
        expect(s.files.length).toBeGreaterThanOrEqual(3)
        expect(s.rows).toBe(feeds[k].sent.length)
        expect(s.dataset).toMatchObject({dir: ds, rows: s.rows, errors: []})
        const byRun = await duckdb(`SELECT count(*) AS n, count(DISTINCT seq) AS d FROM read_parquet('${ds}/**/*.parquet', hive_partitioning=true, filename=true) WHERE filename LIKE '%.${recs[k].runId}.%'`)
        expect(byRun[0]).toEqual({n: String(s.rows), d: String(s.rows)})
      }
      expect(logs.some((l) => l.startsWith('dataset: added'))).toBe(true)
      const parquet = listFiles(ds).filter((f) => f.endsWith('.parquet'))
      for (const f of parquet) expect(f).toMatch(new RegExp(`/${hostLabel()}\\.(${recs[0].runId}|${recs[1].runId})\\.\\d{12}-\\d{12}\\.parquet$`))
      const [t] = await duckdb(`SELECT count(*) AS n FROM ${glob(ds)}`)
      expect(Number(t.n)).toBe(summaries[0].rows + summaries[1].rows)
    } finally {
      for (const f of feeds) await f.server.close()
    }
  }, 120_000)
})

describe('a closed recording that was cut is damaged, not live', () => {
  it('export adds its whole batches, then fails with E_TRUNCATED naming the file (CLI: one line, exit 1)', async () => {
    const d = tmp('export-cut')
    const closed = join(d, 'closed.arrow')
    // compaction stores 65,536-row batches: four of them, the cut in the last
    await makeYahooTape(closed, 200_000, {flushRows: 9_000, symbols: 6, seed: 5, closed: true, meta: {runId: '5c5c5c5c-0000-4000-8000-000000000001'}})
    const cut = join(d, 'cut.arrow')
    const bytes = readFileSync(closed)
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.9)))
    const ds = join(d, 'ds')
    const err = await exportRecordings([cut], ds).then(
      () => null,
      (e: unknown) => e as {code?: string; message: string},
    )
    expect(err?.code).toBe('E_TRUNCATED')
    expect(err?.message).toContain(cut)
    // the sound batches before the cut were exported first
    const [t] = await duckdb(`SELECT count(*) AS n FROM ${glob(ds)}`)
    expect(Number(t.n)).toBeGreaterThan(0)
    expect(Number(t.n)).toBeLessThan(200_000)
    const cli = await runCli(['export', cut, '--out', join(d, 'ds-cli')])
    expect(cli.code).toBe(1)
    expect(cli.stderr.trim().split('\n').filter((l) => /^Error/.test(l))).toHaveLength(1)
    expect(cli.stderr).not.toMatch(/\n\s+at /)
  }, 120_000)
})
