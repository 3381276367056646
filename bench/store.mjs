// bench/store: write and read throughput and bytes per row of the recording
// format, against tardis-style compressed line files of the same frames
// (`<receive time, µs> <frame>\n`, zstd level 3 as the target's reference,
// and at the closed file's own level for an equal-level comparison).
// Prints one JSON line per run: "large" (a busy tape, --frames frames, 65,536-row
// batches) and "quiet" (--quiet-frames frames of a ~50 frames/s feed flushed
// every simulated second, then closed).
//
//   node bench/store.mjs [--frames N] [--quiet-frames N] [--runs large,quiet]
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createGzip} from 'node:zlib'
import {CompressStream} from 'zstd-napi'

import {yahooCodec} from '../dist/feeds/yahoo/adapter.js'
import {encodeFrame} from '../dist/feeds/yahoo/codec.js'
import {syntheticYahooTape} from '../dist/feeds/yahoo/synthetic.js'
import {DEFAULT_ZSTD_LEVEL} from '../dist/store/ipc.js'
import {CLOSED_ZSTD_LEVEL, SMALL_BATCH_ZSTD_LEVEL} from '../dist/store/writer.js'
import {BatchRows, openRecording, readBatches} from '../dist/store/reader.js'
import {nsToIso} from '../dist/util/time.js'
import {createYahooWriter} from './lib/recording.mjs'
import {opt} from './lib/args.mjs'

const args = process.argv.slice(2)
const FRAMES = Number(opt('frames', 1_000_000))
const QUIET_FRAMES = Number(opt('quiet-frames', 3_000))
const RUNS = opt('runs', 'large,quiet').split(',')
const TE = new TextEncoder()

/** The workload: v2 frames (as received) with their receive times. */
function tape(meanGapMs, n) {
  const frames = []
  for (const f of syntheticYahooTape({frames: n, symbols: 50, meanGapMs, seed: 7})) {
    frames.push({recv_ts: f.recv_ts, text: encodeFrame(f.data, 'v2')})
  }
  return frames
}

async function compressedLines(frames, make) {
  const z = make()
  let bytes = 0
  z.on('data', (d) => (bytes += d.length))
  const done = new Promise((resolve, reject) => {
    z.on('end', resolve)
    z.on('error', reject)
  })
  let chunk = ''
  for (const f of frames) {
    chunk += `${f.recv_ts / 1000n} ${f.text}\n`
    if (chunk.length > 1 << 20) {
      if (!z.write(chunk)) await new Promise((r) => z.once('drain', r))
      chunk = ''
    }
  }
  z.end(chunk)
  await done
  return bytes
}

/** Record the frames as the recorder does (decode, exactness check, append); returns timing and sizes. */
function writeRecording(path, frames, raw, quiet) {
  const codec = yahooCodec('v2')
  const w = createYahooWriter(
    path,
    // the quiet run flushes on the simulated clock below, like the 1 s timer would
    {flushRows: quiet ? 1e9 : 65_536, compactOnClose: true},
    {startTime: nsToIso(frames[0].recv_ts), rawMode: raw},
  )
  let nextFlush = frames[0].recv_ts + 1_000_000_000n
  let liveBytes = 0
  const t0 = process.hrtime.bigint()
  for (const f of frames) {
    if (quiet && f.recv_ts >= nextFlush) {
      w.flush()
      nextFlush += 1_000_000_000n
    }
    const d = codec.decode({data: f.text, binary: false})
    const r = d.rows[0]
    const keep = raw === 'always' || (raw === 'auto' && !r.exact)
    w.append({recv_ts: f.recv_ts, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, raw: keep ? TE.encode(f.text) : null, info: null, fields: r.fields})
  }
  w.flush()
  const t1 = process.hrtime.bigint()
  liveBytes = w.stats.bytes
  return {w, seconds: Number(t1 - t0) / 1e9, liveBytes}
}

/** The decode + exactness check alone, over the same frames: subtracted to get the store's own write rate. */
function decodeOnly(frames) {
  const codec = yahooCodec('v2')
  let n = 0
  const t0 = process.hrtime.bigint()
  for (const f of frames) if (codec.decode({data: f.text, binary: false}).rows[0].exact) n++
  return {seconds: Number(process.hrtime.bigint() - t0) / 1e9, exact: n}
}

async function readScan(path) {
  const file = await openRecording(path)
  const t0 = process.hrtime.bigint()
  let rows = 0
  let sum = 0
  for await (const {batch} of readBatches(file)) {
    // scan: touch the price column of every row
    const price = batch.getChild('price').data[0].values
    for (let i = 0; i < price.length; i++) sum += price[i]
    rows += batch.numRows
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  return {rows, seconds: s, checksum: sum}
}

/** Re-encode every row and compare with the frame received: replay must be byte-exact. */
async function exactMismatches(path, frames) {
  const file = await openRecording(path)
  const codec = yahooCodec('v2')
  let i = 0
  let bad = 0
  for await (const {batch, idx} of readBatches(file)) {
    // idx: arrival order (a closed v2 file stores each batch's rows clustered by symbol)
    const rows = new BatchRows(batch, file.feedColumns)
    for (let k = 0; k < batch.numRows; k++) {
      const f = codec.encode(rows.row(idx ? idx[k] : k))
      if (f.data !== frames[i++].text) bad++
    }
  }
  return bad + (frames.length - i)
}

const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-store-'))
try {
  for (const run of RUNS) {
    const quiet = run === 'quiet'
    const frames = tape(quiet ? 20 : 4, quiet ? QUIET_FRAMES : FRAMES)
    const gzipBytes = await compressedLines(frames, () => createGzip())
    const zstdLines = await compressedLines(frames, () => new CompressStream({compressionLevel: DEFAULT_ZSTD_LEVEL}))
    // the level the closed file's batches use: a quiet file's one small batch takes SMALL_BATCH_ZSTD_LEVEL
    const closedLevel = quiet ? SMALL_BATCH_ZSTD_LEVEL : CLOSED_ZSTD_LEVEL
    const zstdLinesClosedLevel = await compressedLines(frames, () => new CompressStream({compressionLevel: closedLevel}))
    const result = {bench: 'store', run, frames: frames.length, batch_rows: quiet ? '~50 live (1 s flushes at 50 frames/s), one batch closed' : 65_536, closed_zstd_level: closedLevel}
    for (const raw of ['auto', 'always', 'never']) {
      const path = join(dir, `${run}-${raw}.arrow`)
      const {w, seconds, liveBytes} = writeRecording(path, frames, raw, quiet)
      const closeT0 = process.hrtime.bigint()
      await w.close()
      const closeSeconds = Number(process.hrtime.bigint() - closeT0) / 1e9
      const bytes = statSync(path).size
      result[`bytes_per_row_${raw}`] = +(bytes / frames.length).toFixed(2)
      if (raw === 'auto') {
        const dec = decodeOnly(frames)
        result.record_pipeline_rows_per_s = Math.round(frames.length / seconds)
        result.decode_rows_per_s = Math.round(frames.length / dec.seconds)
        result.write_rows_per_s = Math.round(frames.length / Math.max(1e-9, seconds - dec.seconds))
        result.close_seconds = +closeSeconds.toFixed(2)
        if (quiet) result.live_bytes_per_row_auto = +(liveBytes / frames.length).toFixed(2)
        const r = await readScan(path)
        result.read_scan_rows_per_s = Math.round(r.rows / r.seconds)
        result.replay_mismatches = await exactMismatches(path, frames)
        result.auto_bytes = bytes
        // feed columns null throughout, which the closed file leaves out (docs/FORMAT.md)
        result.null_columns_left_out = (await openRecording(path)).nullColumns.length
      }
      if (!process.env.KEEP) rmSync(path)
    }
    result.zstd_lines_bytes = zstdLines
    result[`zstd${closedLevel}_lines_bytes`] = zstdLinesClosedLevel
    result.gzip_lines_bytes = gzipBytes
    result.zstd_lines_bytes_per_row = +(zstdLines / frames.length).toFixed(2)
    result.gzip_lines_bytes_per_row = +(gzipBytes / frames.length).toFixed(2)
    result.auto_vs_zstd_lines = +(result.auto_bytes / zstdLines).toFixed(3)
    result.auto_vs_zstd_lines_same_level = +(result.auto_bytes / zstdLinesClosedLevel).toFixed(3)
    // The quiet run simulates one flush per second of tape (60 flushes of ~50 rows for 3,000 frames)
    // as fast as the CPU goes: its write rate measures per-batch overhead that a real 50 frames/s feed
    // spends once a second, so the throughput targets apply to the large run.
    result.target = quiet
      ? 'auto <= 0.8 x zstd-3 lines (after close); replay_mismatches 0'
      : 'auto <= 0.8 x zstd-3 lines; write >= 500k rows/s; read+scan >= 2M rows/s; replay_mismatches 0'
    result.pass =
      result.auto_vs_zstd_lines <= 0.8 &&
      result.replay_mismatches === 0 &&
      (quiet || (result.write_rows_per_s >= 500_000 && result.read_scan_rows_per_s >= 2_000_000))
    console.log(JSON.stringify(result))
  }
} finally {
  if (!process.env.KEEP) rmSync(dir, {recursive: true, force: true}); else console.error(dir)
}
