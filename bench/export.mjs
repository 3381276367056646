// bench/export: `mdrec export` on 1,000,000-row recordings (Yahoo, 50
// symbols; Upbit with 15-level order books), closed and compacted as a
// recorder leaves them. One JSON line per case: rows/s, CPU seconds and peak
// RSS of the export (its own process), and the dataset's size against the
// recording's; the baseline is the read rate of the same file (readBatches,
// every batch decoded) in the same run.
//
//   npm run build && node bench/export.mjs [--rows N] [--cases yahoo,yahoo-by-symbol,upbit-by-symbol]
import {fork} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {opt} from './lib/args.mjs'

const HERE = fileURLToPath(import.meta.url)
const args = process.argv.slice(2)
const ROWS = Number(opt('rows', 1_000_000))
const CASES = opt('cases', 'yahoo,yahoo-by-symbol,upbit-by-symbol').split(',')

/** Bytes of every .parquet file under `dir`. */
function datasetBytes(dir) {
  let n = 0
  for (const e of readdirSync(dir, {withFileTypes: true, recursive: true})) {
    if (e.isFile() && e.name.endsWith('.parquet')) n += statSync(join(e.parentPath ?? e.path, e.name)).size
  }
  return n
}

async function makeRecording(feed, path) {
  const {RecordingWriter} = await import('../dist/store/writer.js')
  const meta = {endpoint: 'ws://127.0.0.1/', subscriptions: [], toolVersion: 'bench', startTime: '2025-11-24T10:40:00Z', rawMode: 'auto', runId: `bench-${feed}`}
  if (feed === 'yahoo') {
    const {yahooCodec} = await import('../dist/feeds/yahoo/adapter.js')
    const {syntheticYahooTape} = await import('../dist/feeds/yahoo/synthetic.js')
    const codec = yahooCodec('v2')
    const w = RecordingWriter.create(path, {meta: {...meta, feed, feedOptions: {envelope: 'v2'}}, exchTsUnit: codec.exchTsUnit, columns: codec.columns}, {flushIntervalMs: 0, flushRows: 50_000, fsync: false})
    for (const f of syntheticYahooTape({frames: ROWS, symbols: 50, seed: 7})) {
      const {id, time, ...fields} = f.data
      w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    }
    await w.close()
  } else {
    const {upbitCodec} = await import('../dist/feeds/upbit/codec.js')
    const {syntheticUpbitTape} = await import('../dist/feeds/upbit/synthetic.js')
    const codec = upbitCodec('DEFAULT')
    const w = RecordingWriter.create(path, {meta: {...meta, feed, feedOptions: {format: 'DEFAULT'}}, exchTsUnit: codec.exchTsUnit, columns: codec.columns}, {flushIntervalMs: 0, flushRows: 50_000, fsync: false})
    for (const f of syntheticUpbitTape({frames: ROWS, seed: 5, meanGapMs: 5})) {
      w.append({recv_ts: f.recv_ts, exch_ts: f.row.exch_ts, symbol: f.row.symbol, kind: f.kind, raw: null, info: null, fields: f.row.fields})
    }
    await w.close()
  }
}

/** Child: export (or only read) `path`, report time, CPU and peak RSS of this process. */
async function child() {
  const [, , , mode, path, out, bySymbol] = process.argv
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let rows = 0
  if (mode === 'read') {
    const {openRecording, readBatches} = await import('../dist/store/reader.js')
    for await (const {batch} of readBatches(await openRecording(path))) rows += batch.numRows
  } else {
    const {exportRecordings} = await import('../dist/dataset/export.js')
    rows = (await exportRecordings([path], out, {partitionBySymbol: bySymbol === '1'})).rows
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const c = process.cpuUsage(cpu0)
  process.send({rows, seconds, cpuSeconds: (c.user + c.system) / 1e6, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024)})
}

function run(...a) {
  return new Promise((resolve, reject) => {
    const p = fork(HERE, ['child', ...a], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    let result = null
    p.on('message', (m) => (result = m))
    p.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`child exited ${code}`))))
  })
}

if (process.argv[2] === 'child') {
  await child()
} else {
  const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-export-'))
  try {
    const made = new Map()
    for (const name of CASES) {
      const feed = name.startsWith('upbit') ? 'upbit' : 'yahoo'
      const path = join(dir, `${feed}.arrow`)
      if (!made.has(feed)) {
        await makeRecording(feed, path)
        made.set(feed, await run('read', path))
      }
      const out = join(dir, `ds-${name}`)
      const r = await run('export', path, out, name.endsWith('by-symbol') ? '1' : '0')
      const base = made.get(feed)
      const recordingBytes = statSync(path).size
      const dsBytes = datasetBytes(out)
      console.log(
        JSON.stringify({
          bench: 'export',
          case: name,
          rows: r.rows,
          seconds: +r.seconds.toFixed(2),
          rowsPerSec: Math.round(r.rows / r.seconds),
          cpuSeconds: +r.cpuSeconds.toFixed(2),
          maxRssMiB: r.maxRssMiB,
          recordingBytes,
          datasetBytes: dsBytes,
          sizeRatio: +(dsBytes / recordingBytes).toFixed(3),
          baseline: {what: 'readBatches of the same file', rowsPerSec: Math.round(base.rows / base.seconds), maxRssMiB: base.maxRssMiB},
          note: 'shared 2-core machine: rates are pessimistic',
        }),
      )
      rmSync(out, {recursive: true, force: true})
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
