// bench/record: frames/s recorded end to end (received, decoded, written,
// flushed) by mdrec's recorder, against a plain `ws` client that only counts
// the same frames from the same server, in the same run.
//
//   node bench/record.mjs [--frames N]
//   node bench/record.mjs --soak [--minutes 10] [--rate 5000]   resident memory over a long recording
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {Recorder} from '../dist/record/recorder.js'
import {plainClientRate} from './lib/plain-ws.mjs'
import {opt} from './lib/args.mjs'

const args = process.argv.slice(2)

async function startServer(env) {
  const child = spawn(process.execPath, [new URL('./lib/push-server.mjs', import.meta.url).pathname], {
    env: {...process.env, ...env},
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(JSON.parse(String(d)).port))
    child.once('exit', (c) => reject(new Error(`push server exited ${c}`)))
  })
  return {url: `ws://127.0.0.1:${port}/?version=2`, stop: () => child.kill()}
}

const SUB = JSON.stringify({subscribe: ['ALL']})

/** A plain ws client that counts frames until the server closes: frames/s. */
const plainClient = (url, frames) => plainClientRate(url, [SUB], frames)

/** mdrec's recorder: rate = rows flushed to disk / time from subscribe to the last flush. */
async function recorder(url, frames, dir) {
  const out = join(dir, `rec-${Date.now()}.arrow`)
  const t0 = performance.now()
  const rec = await Recorder.start({symbols: ['ALL'], url, out, flushIntervalMs: 1000, supervisor: {minBackoffMs: 60_000}})
  // wait until every frame is a row, then stop (flush + close), timing up to the last flush
  while (rec.stats().rows < frames) await new Promise((r) => setTimeout(r, 2))
  const tRows = performance.now()
  const closeT0 = performance.now()
  const summary = await rec.stop()
  const closeS = (performance.now() - closeT0) / 1000
  if (summary.rows - summary.gaps !== frames) throw new Error(`recorder wrote ${summary.rows - summary.gaps} ticks of ${frames}`)
  return {rate: frames / ((tRows - t0) / 1000), closeS, bytes: summary.bytes}
}

async function throughput() {
  const frames = Number(opt('frames', 500_000))
  const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-rec-'))
  try {
    // Two servers: a plain ws server (one send, one syscall per frame, as most
    // servers do), and one that corks its socket and writes bursts with one
    // writev — far faster than any decoding client, so it measures the client.
    for (const cork of [false, true]) {
      const srv = await startServer({FRAMES: String(frames), CORK: cork ? '1' : '0'})
      try {
        const plain = []
        const rec = []
        // alternate, three rounds each, and report the medians
        for (let round = 0; round < 3; round++) {
          plain.push(await plainClient(srv.url, frames))
          rec.push(await recorder(srv.url, frames, dir))
        }
        const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
        const plainRate = med(plain)
        const recRate = med(rec.map((r) => r.rate))
        console.log(
          JSON.stringify({
            bench: 'record',
            server: cork ? 'corked (bursts in one writev)' : 'plain ws (one send per frame)',
            frames,
            recorder_frames_per_s: Math.round(recRate),
            plain_ws_client_frames_per_s: Math.round(plainRate),
            ratio: +(recRate / plainRate).toFixed(3),
            close_seconds: +med(rec.map((r) => r.closeS)).toFixed(2),
            bytes_per_row: +(rec[0].bytes / frames).toFixed(2),
            target: 'ratio >= 0.6',
            pass: recRate / plainRate >= 0.6,
          }),
        )
      } finally {
        srv.stop()
      }
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

async function soak() {
  const minutes = Number(opt('minutes', 10))
  const rate = Number(opt('rate', 5000))
  const frames = Math.ceil(minutes * 60 * rate) + rate
  const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-soak-'))
  const srv = await startServer({FRAMES: String(frames), RATE: String(rate)})
  try {
    const rec = await Recorder.start({symbols: ['ALL'], url: srv.url, out: join(dir, 'soak.arrow'), supervisor: {minBackoffMs: 60_000}})
    const samples = []
    const t0 = Date.now()
    while (Date.now() - t0 < minutes * 60_000) {
      await new Promise((r) => setTimeout(r, 10_000))
      samples.push({t_s: Math.round((Date.now() - t0) / 1000), rss_mb: +(process.memoryUsage().rss / 2 ** 20).toFixed(1), rows: rec.stats().rows})
    }
    const s = await rec.stop()
    const at = (sec) => samples.reduce((best, x) => (Math.abs(x.t_s - sec) < Math.abs(best.t_s - sec) ? x : best))
    const m1 = at(60)
    const mEnd = samples[samples.length - 1]
    console.log(
      JSON.stringify({
        bench: 'record-soak',
        minutes,
        rate_frames_per_s: rate,
        rows: s.rows,
        rss_mb_minute_1: m1.rss_mb,
        rss_mb_end: mEnd.rss_mb,
        rss_growth_mb: +(mEnd.rss_mb - m1.rss_mb).toFixed(1),
        rss_max_mb: Math.max(...samples.map((x) => x.rss_mb)),
        target: 'rss growth between minute 1 and the end within 20 MB',
        pass: Math.abs(mEnd.rss_mb - m1.rss_mb) <= 20,
      }),
    )
  } finally {
    srv.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}

if (args.includes('--soak')) await soak()
else await throughput()
