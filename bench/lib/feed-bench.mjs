// What the per-feed benches (bench/upbit.mjs, bench/binance.mjs) share: the
// push-server and counting-client child processes, the record case (mdrec's
// recorder against a plain `ws` client on the same push server) and the
// replay case (`replay --speed max` against a plain `ws` server sending the
// same frames to the same client), and the main that runs the picked cases.
// A feed's bench file gives its tape, its subscribe messages and how it
// writes a recording; everything measured is measured here, the same way.
import {fork} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {log, med} from './args.mjs'

const dist = new URL('../../dist/', import.meta.url)

/**
 * The counting client (its own process): on {type: 'run', url, messages},
 * connects, sends `messages` once open, counts frames until the server
 * closes, and answers {n, seconds} where `seconds` runs from the first frame
 * after the first `skip` (subscribe replies) to the close, so a replay's
 * settle window (the wait for more subscribe messages before its timeline
 * starts) is not counted as sending time.
 */
async function countingClient() {
  const {WebSocket} = await import('ws')
  process.on('message', (m) => {
    if (m.type === 'exit') process.exit(0)
    const ws = new WebSocket(m.url, {perMessageDeflate: false})
    let n = 0
    let first = 0
    ws.on('open', () => {
      for (const msg of m.messages) ws.send(msg)
    })
    ws.on('message', () => {
      if (n++ === m.skip) first = performance.now()
    })
    ws.on('close', () => process.send({n, seconds: (performance.now() - first) / 1000}))
    ws.on('error', (e) => process.send({error: e.message}))
  })
  process.send({up: true})
}

/**
 * Run a feed bench. `bench`: {name, file (the bench's own path, forked for
 * its child roles), frames, tape(n) → [{text, binary}] (the frames as the
 * feed sends them), messages (what a client sends to subscribe),
 * recordOptions ({feed, symbols, feedOptions}), path (the URL path the
 * recorder connects to on the push server; a replay's URL is its own),
 * writeRecording(path, tape, frames, rawMode) (a recording of `frames` rows
 * cycling through the tape, with raw kept per `rawMode` 'auto' | 'always'),
 * replayAck (frames a replay sends beside the
 * rows: subscribe replies)}. Cases `record` and `replay` (argv picks, default
 * both) print one JSON line each.
 */
export async function runFeedBench(bench) {
  const args = process.argv.slice(2)
  const role = args.find((a) => a.startsWith('--role='))?.slice(7)
  if (role === 'push') return pushRole(bench)
  if (role === 'client') return countingClient()
  const picked = args.filter((a) => a === 'record' || a === 'replay')
  const cleanup = []
  const dir = mkdtempSync(join(tmpdir(), `mdrec-bench-${bench.name}-`))
  try {
    for (const c of picked.length > 0 ? picked : ['record', 'replay']) {
      const res = c === 'record' ? await recordCase(bench, dir, cleanup) : await replayCase(bench, dir, cleanup)
      for (const r of [res].flat()) console.log(JSON.stringify(r))
    }
  } finally {
    for (const f of cleanup) f()
    rmSync(dir, {recursive: true, force: true})
  }
}

async function pushRole(bench) {
  const lib = await import('./plain-ws.mjs')
  const tape = await bench.tape(bench.frames)
  const pool = tape.map((f) => (f.binary ? Buffer.from(f.text) : f.text))
  const {port} = await lib.pushServer(pool, bench.frames, tape[0].binary ? {binary: true} : undefined)
  process.send({port})
}

function child(bench, role, cleanup, onMessage) {
  const c = fork(bench.file, [`--role=${role}`, '--frames', String(bench.frames)], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  c.on('message', onMessage)
  cleanup.push(() => c.kill())
  return c
}

/** frames/s recorded end to end by mdrec's recorder against a plain client on the same push server; three rounds each, medians. */
async function recordCase(bench, dir, cleanup) {
  const {Recorder} = await import(new URL('record/recorder.js', dist))
  const {plainClientRate} = await import('./plain-ws.mjs')
  const port = await new Promise((resolve) => child(bench, 'push', cleanup, (m) => m.port && resolve(m.port)))
  const url = `ws://127.0.0.1:${port}${bench.path}`
  const recorder = async (k) => {
    const t0 = performance.now()
    const rec = await Recorder.start({
      ...bench.recordOptions,
      url,
      out: join(dir, `rec-${k}.arrow`),
      flushIntervalMs: 1000,
      supervisor: {minBackoffMs: 60_000},
    })
    while (rec.stats().rows < bench.frames) await new Promise((r) => setTimeout(r, 2))
    const rate = bench.frames / ((performance.now() - t0) / 1000)
    const s = await rec.stop()
    if (s.rows - s.gaps !== bench.frames) throw new Error(`recorder wrote ${s.rows} rows of ${bench.frames}`)
    return {rate, bytes: s.bytes}
  }
  const p = []
  const r = []
  for (let round = 0; round < 3; round++) {
    p.push(await plainClientRate(url, bench.messages, bench.frames))
    r.push(await recorder(round))
    log(`record round ${round}: plain ${Math.round(p.at(-1))}/s, recorder ${Math.round(r.at(-1).rate)}/s`)
  }
  const recRate = med(r.map((x) => x.rate))
  const plainRate = med(p)
  return {
    bench: `${bench.name}-record`,
    frames: bench.frames,
    recorder_frames_per_s: Math.round(recRate),
    plain_ws_client_frames_per_s: Math.round(plainRate),
    ratio: +(recRate / plainRate).toFixed(3),
    bytes_per_row: +(r[0].bytes / bench.frames).toFixed(1),
  }
}

/** frames/s of `replay --speed max` to one client, rows re-encoded (raw auto) and sent from raw (raw always), against a plain server; best of 3. */
async function replayCase(bench, dir, cleanup) {
  const {replay} = await import(new URL('replay/engine.js', dist))
  const tape = await bench.tape(bench.frames)
  const pool = tape.map((f) => (f.binary ? Buffer.from(f.text) : f.text))
  const files = {}
  for (const mode of ['auto', 'always']) {
    files[mode] = join(dir, `replay-${mode}.arrow`)
    await bench.writeRecording(files[mode], tape, bench.frames, mode)
  }
  const client = await new Promise((resolve) => {
    const c = child(bench, 'client', cleanup, (m) => m.up && resolve(c))
  })
  const run = (url, expect, skip = 0) =>
    new Promise((resolve, reject) => {
      client.once('message', (m) => {
        if (m.error) return reject(new Error(m.error))
        if (m.n !== expect) return reject(new Error(`${url}: client got ${m.n} of ${expect} frames`))
        resolve(bench.frames / m.seconds)
      })
      client.send({type: 'run', url, messages: bench.messages, skip})
    })
  const best = async (f) => {
    let b = 0
    for (let k = 0; k < 3; k++) b = Math.max(b, await f())
    return b
  }
  const {pushServer} = await import('./plain-ws.mjs')
  const plainSrv = await pushServer(pool, bench.frames, tape[0].binary ? {binary: true} : undefined)
  const plainRate = await best(() => run(`ws://127.0.0.1:${plainSrv.port}${bench.path}`, bench.frames))
  const out = []
  for (const mode of ['auto', 'always']) {
    const rate = await best(async () => {
      const h = await replay(files[mode], {port: 0, speed: 'max', atEnd: 'close'})
      try {
        return await run(h.url, bench.frames + (bench.replayAck ?? 0), bench.replayAck ?? 0)
      } finally {
        await h.close()
      }
    })
    log(`replay ${mode}: ${Math.round(rate)}/s vs plain ${Math.round(plainRate)}/s`)
    out.push({
      bench: `${bench.name}-replay`,
      rows: mode === 'auto' ? 're-encoded from columns (raw auto, all exact)' : 'recorded raw payloads (raw always)',
      frames: bench.frames,
      replay_frames_per_s: Math.round(rate),
      plain_ws_server_frames_per_s: Math.round(plainRate),
      ratio: +(rate / plainRate).toFixed(3),
    })
  }
  await plainSrv.close()
  client.send({type: 'exit'})
  return out
}
