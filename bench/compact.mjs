// bench/compact: peak resident memory of compaction, slice and repair of a
// recording of very large frames (default 46 frames of 50 MB, kept as `raw`
// on reject rows, as a live recorder flushed them: one batch each). Each step
// runs in its own process and reports its peak RSS (process.resourceUsage().maxRSS);
// the baselines are a bare node process and a plain streaming copy of the same file.
// Prints one JSON line.
//
//   node bench/compact.mjs [--frames 46] [--frame-mb 50]
import {spawnSync} from 'node:child_process'
import {randomFillSync} from 'node:crypto'
import {createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, truncateSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {fileURLToPath} from 'node:url'
import {opt} from './lib/args.mjs'

const args = process.argv.slice(2)

if (args[0] === '--child') {
  // One measured step: node bench/compact.mjs --child <step> <in> <out>
  const [, step, input, out] = args
  const t0 = process.hrtime.bigint()
  let result = {}
  if (step === 'idle') {
    // nothing: the bare node process
  } else if (step === 'copy') {
    await pipeline(createReadStream(input, {highWaterMark: 1 << 20}), createWriteStream(out))
  } else if (step === 'make') {
    const {createYahooWriter} = await import('./lib/recording.mjs')
    const frames = Number(opt('frames', 46))
    const bytes = Math.round(Number(opt('frame-mb', 50)) * 1e6)
    const w = createYahooWriter(out)
    const frame = new Uint8Array(bytes)
    for (let i = 0; i < frames; i++) {
      randomFillSync(frame) // incompressible: the worst case for memory and size
      w.append({recv_ts: 1_764_000_000_000_000_000n + BigInt(i) * 1_000_000_000n, exch_ts: null, symbol: '', kind: 'reject', raw: frame, info: '{"code":"BAD_JSON"}', fields: null})
      w.flush() // as a live recorder would, one flush interval per frame
    }
    await w.close()
  } else if (step === 'compact') {
    const {compactRecording} = await import('../dist/store/writer.js')
    result = await compactRecording(input)
  } else if (step === 'slice') {
    const {sliceRecording} = await import('../dist/store/slice.js')
    const r = await sliceRecording(input, out)
    result = {rows: r.rows, bytes: r.bytes}
  } else if (step === 'repair') {
    const {repairRecording} = await import('../dist/store/verify.js')
    const r = await repairRecording(input, out)
    result = {rowsIntact: r.rowsIntact, validBytes: r.validBytes}
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(JSON.stringify({rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1), seconds: +seconds.toFixed(2), ...result}))
  process.exit(0)
}

const self = fileURLToPath(import.meta.url)
function step(name, input = '', out = '') {
  const r = spawnSync(process.execPath, [self, '--child', name, input, out, ...args], {encoding: 'utf8', maxBuffer: 1 << 20})
  if (r.status !== 0) {
    const lines = (r.stderr || `exit ${r.status}`).trim().split('\n')
    return {error: `${name}: ${lines.find((l) => /Error|error:/.test(l)) ?? lines.at(-1)}`}
  }
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

const LIMIT_MB = 300
const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-compact-'))
try {
  const frames = Number(opt('frames', 46))
  const frameMb = Number(opt('frame-mb', 50))
  const src = join(dir, 'big.arrow')
  const made = step('make', '', src)
  const fileBytes = statSync(src).size
  const idle = step('idle')
  const copy = step('copy', src, join(dir, 'copy.arrow'))
  rmSync(join(dir, 'copy.arrow'), {force: true})
  const slice = step('slice', src, join(dir, 'slice.arrow'))
  rmSync(join(dir, 'slice.arrow'), {force: true})
  const compact = step('compact', src)
  // repair: the compacted file with its end cut off (the last batch is partial)
  truncateSync(src, statSync(src).size - 1000)
  const repair = step('repair', src, join(dir, 'repaired.arrow'))
  const peaks = [made, compact, slice, repair].map((s) => s.rss_mb ?? Infinity)
  const result = {
    bench: 'compact',
    frames,
    frame_bytes: Math.round(frameMb * 1e6),
    file_bytes: fileBytes,
    baseline_idle_rss_mb: idle.rss_mb,
    baseline_stream_copy_rss_mb: copy.rss_mb,
    baseline_stream_copy_seconds: copy.seconds,
    write_live_rss_mb: made.rss_mb,
    compact_rss_mb: compact.rss_mb,
    compact_seconds: compact.seconds,
    compact_batches: compact.batches,
    slice_rss_mb: slice.rss_mb,
    slice_seconds: slice.seconds,
    slice_rows: slice.rows,
    repair_rss_mb: repair.rss_mb,
    repair_seconds: repair.seconds,
    repair_rows: repair.rowsIntact,
    errors: [made, compact, slice, repair].filter((s) => s.error).map((s) => s.error),
    target: `peak RSS of write, compact, slice and repair < ${LIMIT_MB} MB`,
    pass: peaks.every((p) => p < LIMIT_MB) && compact.rows === frames && slice.rows === frames,
    load1: +loadavg()[0].toFixed(2),
  }
  console.log(JSON.stringify(result))
} finally {
  rmSync(dir, {recursive: true, force: true})
}
