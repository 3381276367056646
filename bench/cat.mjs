// Benchmark of `mdrec cat`'s formatting on a 1,000,000-row Yahoo tape (20
// batches): rows/s for NDJSON and CSV (all columns) against the read+scan
// rate of the same run (readBatches, touching every value of every column).
// Prints one JSON line per measurement, with the 1-minute load average
// (wall-clock rates on a shared machine fall with it; the CPU-time rates and
// ratios much less). Uses dist/ (npm run build first).
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import {csvBytes, ndjsonBytes} from '../dist/store/format.js'
import {openRecording, readBatches} from '../dist/store/reader.js'
import {writeYahooTape} from './lib/recording.mjs'

const ROWS = Number(process.env.CAT_BENCH_ROWS ?? 1_000_000)
const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-cat-'))
const path = join(dir, 'tape.arrow')
await writeYahooTape(path, ROWS, {symbols: 20}, {flushRows: 50_000})
const file = await openRecording(path)

/** Touch every value of every column (the read+scan baseline). */
function scan(batch) {
  let acc = 0
  for (const child of batch.data.children) {
    const v = child.values
    if (v) for (let i = 0; i < v.length; i++) acc += typeof v[i] === 'bigint' ? 1 : v[i] === v[i] ? 1 : 0
    if (child.dictionary) acc += child.dictionary.length
    for (const c of child.children) if (c.values) acc += c.values.length
  }
  return acc
}

async function measure(name, fn) {
  const t0 = process.hrtime.bigint()
  const c0 = process.cpuUsage()
  let rows = 0
  let bytes = 0
  for await (const {batch, idx} of readBatches(file)) {
    rows += idx ? idx.length : batch.numRows
    bytes += fn(batch, idx)
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  const c = process.cpuUsage(c0)
  const cpu = (c.user + c.system) / 1e6
  // cpu: this process's CPU time (all its threads), less sensitive than wall time to other load on the machine
  const line = {bench: 'cat', case: name, rows, seconds: +s.toFixed(3), rowsPerSec: Math.round(rows / s), cpuSeconds: +cpu.toFixed(3), rowsPerCpuSec: Math.round(rows / cpu), outputMB: +(bytes / 1e6).toFixed(1), load1: +loadavg()[0].toFixed(2)}
  console.log(JSON.stringify(line))
  return line
}

const base = await measure('read+scan', (b) => (scan(b), 0))
for (const [name, fn] of [
  ['ndjson', (b, i) => ndjsonBytes(b, i, file.columns).length],
  ['csv', (b, i) => csvBytes(b, i, file.columns).length],
]) {
  const r = await measure(name, fn)
  console.log(JSON.stringify({bench: 'cat', case: `${name}/read+scan`, ratio: +(r.seconds / base.seconds).toFixed(2), cpuRatio: +(r.cpuSeconds / base.cpuSeconds).toFixed(2), target: 'rowsPerSec >= 300000'}))
}
rmSync(dir, {recursive: true, force: true})
