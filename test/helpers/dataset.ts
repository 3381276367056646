/**
 * Helpers for the dataset tests: big synthetic recordings of Yahoo and Upbit
 * (order books), and two independent engines that read the Parquet dataset
 * (DuckDB's node package, nodejs-polars).
 */
import {DuckDBInstance} from '@duckdb/node-api'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {upbitCodec} from '../../src/feeds/upbit/codec.js'
import {syntheticUpbitTape} from '../../src/feeds/upbit/synthetic.js'
import {syntheticYahooTape} from '../../src/feeds/yahoo/synthetic.js'
import {openRecording, readBatches} from '../../src/store/reader.js'
import type {RecordingMeta} from '../../src/store/schema.js'
import {RecordingWriter, type WriterOptions} from '../../src/store/writer.js'
import {createYahooWriter} from './recording.js'

export interface BigTape {
  rows: number
  /** recv_ts of every `sampleEvery`-th row (sampled while writing; the rows themselves are not kept). */
  samples: bigint[]
}

/**
 * A multi-batch Yahoo recording of `rows` synthetic ticks, written without
 * keeping the rows in memory: a stream of flushRows-row batches as a live
 * recorder leaves it, or with `closed` compacted on close as a stopped
 * recorder leaves it (format version 2: 65,536-row batches whose rows are
 * stored clustered by symbol, not in arrival order).
 */
export async function makeYahooTape(path: string, rows: number, o: {flushRows?: number; symbols?: number; sampleEvery?: number; meta?: Partial<RecordingMeta>; firstSeq?: bigint; seed?: number; startNs?: bigint; closed?: boolean} = {}): Promise<BigTape> {
  const w = createYahooWriter(path, {flushRows: o.flushRows ?? 50_000, fsync: false, compactOnClose: o.closed ?? false, firstSeq: o.firstSeq}, o.meta)
  const samples: bigint[] = []
  let i = 0
  for (const f of syntheticYahooTape({frames: rows, symbols: o.symbols ?? 50, seed: o.seed ?? 1, startNs: o.startNs})) {
    const {id, time, ...fields} = f.data
    w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    if (o.sampleEvery && i % o.sampleEvery === 0) samples.push(f.recv_ts)
    i++
  }
  await w.close()
  return {rows, samples}
}

/** The same for Upbit (tickers, trades and 15-level order books of two markets). */
export async function makeUpbitTape(path: string, rows: number, o: {flushRows?: number; sampleEvery?: number; writer?: WriterOptions} = {}): Promise<BigTape> {
  const codec = upbitCodec('DEFAULT')
  const w = RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'upbit',
        endpoint: 'ws://127.0.0.1:9/websocket/v1',
        subscriptions: ['KRW-BTC', 'KRW-ETH'],
        feedOptions: {format: 'DEFAULT', types: ['ticker', 'trade', 'orderbook.15']},
        toolVersion: 'test',
        startTime: '2025-11-24T10:40:00.000000000Z',
        rawMode: 'auto',
        runId: '3f1c2a9e-0000-4000-8000-00000000beef',
      },
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushRows: o.flushRows ?? 50_000, fsync: false, compactOnClose: false, flushIntervalMs: 0, ...o.writer},
  )
  const samples: bigint[] = []
  let i = 0
  for (const f of syntheticUpbitTape({frames: rows, seed: 5, meanGapMs: 5})) {
    w.append({recv_ts: f.recv_ts, exch_ts: f.row.exch_ts, symbol: f.row.symbol, kind: f.kind, raw: null, info: null, fields: f.row.fields})
    if (o.sampleEvery && i % o.sampleEvery === 0) samples.push(f.recv_ts)
    i++
  }
  await w.close()
  return {rows, samples}
}

let duck: Promise<Awaited<ReturnType<DuckDBInstance['connect']>>> | null = null

/** Rows of a DuckDB query as JSON-safe objects (64-bit integers as strings). */
export async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
  duck ??= DuckDBInstance.create(':memory:').then((i) => i.connect())
  const c = await duck
  const r = await c.runAndReadAll(sql)
  return r.getRowObjectsJson() as Record<string, unknown>[]
}

/**
 * How many batches of the recording at `path` store their rows in another
 * order than arrival (readBatches yields a non-null `idx` for them), of how
 * many.
 */
export async function reorderedBatches(path: string): Promise<{reordered: number; batches: number}> {
  let reordered = 0
  let batches = 0
  for await (const {idx} of readBatches(await openRecording(path))) {
    batches++
    if (idx) reordered++
  }
  return {reordered, batches}
}

/** Every file under `dir` (relative paths), recursively. */
export function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = []
  for (const e of readdirSync(join(dir, rel), {withFileTypes: true})) {
    const p = rel ? join(rel, e.name) : e.name
    if (e.isDirectory()) out.push(...listFiles(dir, p))
    else out.push(p)
  }
  return out.sort()
}

/** ISO-8601 with ns (as `mdrec cat` prints) → ns since the epoch. */
export function isoToNs(iso: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(iso)
  if (!m) throw new Error(`not an ISO time: ${iso}`)
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))
}
