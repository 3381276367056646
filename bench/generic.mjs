#!/usr/bin/env node
// bench/generic: the generic channel JSON feed, one JSON line per case.
//
//   npx tsc -p tsconfig.json && node bench/generic.mjs [record] [replay] [--frames N]
//
// record  frames/s recorded end to end (received, control hook, decoded with
//         the exactness check, written, flushed) by mdrec's recorder with
//         --feed generic, against a plain `ws` client that only counts the
//         same frames from the same push server (its own process), in the
//         same run; three rounds each, medians.
// replay  frames/s of `replay` at speed 'max' of a generic recording (1 % of
//         rows with raw payloads, the rest re-encoded from their columns) to
//         one client, against a plain `ws` server sending the same
//         pre-encoded frames to the same client (its own process); best of 3.
import {fork} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {opt, log, med} from './lib/args.mjs'

const HERE = fileURLToPath(import.meta.url)
const dist = new URL('../dist/', import.meta.url)
const CHANNELS = ['prices', 'trades', 'orderbook', 'news']
const args = process.argv.slice(2)
const FRAMES = Number(opt('frames', 500_000))
const now = () => performance.timeOrigin + performance.now() // epoch ms, comparable across processes

/** The synthetic tape's frames, pre-encoded (a pool reused when more are needed). */
async function tapeTexts(n) {
  const {syntheticGenericTape} = await import(new URL('feeds/generic/synthetic.js', dist))
  const out = []
  for (const f of syntheticGenericTape({frames: Math.min(n, 200_000), seed: 3, meanGapMs: 1})) out.push(f.text)
  return out
}

// ---------------------------------------------------------------------------
// Child processes

/** Push server: to each client, on its first message, FRAMES frames as fast as the socket takes them, then close. */
async function pushServer() {
  const lib = await import('./lib/plain-ws.mjs')
  const {port} = await lib.pushServer(await tapeTexts(FRAMES), FRAMES)
  process.send({type: 'up', port})
}

/** Client: connects, subscribes to every channel (one message each), counts frames until the server closes. */
async function clientProcess() {
  const {WebSocket} = await import('ws')
  process.on('message', (msg) => {
    if (msg.type === 'exit') process.exit(0)
    const ws = new WebSocket(msg.url, {perMessageDeflate: false})
    let n = 0
    let last = 0
    let t0 = 0
    ws.on('message', () => {
      n++
      last = now()
    })
    ws.on('open', () => {
      t0 = now()
      for (const c of CHANNELS) ws.send(JSON.stringify({type: 'subscribe', channel: c}))
    })
    ws.on('close', () => process.send({type: 'done', n, t0, last}))
    ws.on('error', (e) => process.send({type: 'done', n, t0, last, error: e.message}))
  })
  process.send({type: 'up'})
}

function child(mode) {
  const c = fork(HERE, [mode, '--frames', String(FRAMES)], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const next = (type) => new Promise((resolve) => c.on('message', function on(m) {
    if (m.type === type) {
      c.off('message', on)
      resolve(m)
    }
  }))
  return {c, next}
}

// ---------------------------------------------------------------------------

async function benchRecord(dir) {
  const {Recorder} = await import(new URL('record/recorder.js', dist))
  const srv = child('--server')
  const {port} = await srv.next('up')
  const url = `ws://127.0.0.1:${port}/`
  const {plainClientRate} = await import('./lib/plain-ws.mjs')
  const plainClient = () => plainClientRate(url, [JSON.stringify({type: 'subscribe', channel: 'prices'})], FRAMES)
  const recorder = async (k) => {
    const t0 = performance.now()
    const rec = await Recorder.start({feed: 'generic', symbols: CHANNELS, url, out: join(dir, `rec-${k}.arrow`), flushIntervalMs: 1000, supervisor: {minBackoffMs: 60_000}})
    for (let i = 0; rec.stats().rows < FRAMES && i < 300_000; i++) await new Promise((r) => setTimeout(r, 2))
    const t1 = performance.now()
    const s = await rec.stop()
    if (s.rows - s.gaps !== FRAMES) throw new Error(`recorder wrote ${s.rows - s.gaps} rows of ${FRAMES}`)
    return {rate: FRAMES / ((t1 - t0) / 1000), bytes: s.bytes}
  }
  try {
    const plain = []
    const rec = []
    for (let round = 0; round < 3; round++) {
      log(`record round ${round + 1}/3`)
      plain.push(await plainClient())
      rec.push(await recorder(round))
    }
    const recRate = med(rec.map((r) => r.rate))
    const plainRate = med(plain)
    return {
      bench: 'generic-record',
      frames: FRAMES,
      recorder_frames_per_s: Math.round(recRate),
      plain_ws_client_frames_per_s: Math.round(plainRate),
      ratio: +(recRate / plainRate).toFixed(3),
      bytes_per_row: +(rec[0].bytes / FRAMES).toFixed(2),
      target: 'ratio >= 0.6',
      pass: recRate / plainRate >= 0.6,
    }
  } finally {
    srv.c.kill()
  }
}

async function benchReplay(dir) {
  const {WebSocketServer} = await import('ws')
  const {RecordingWriter} = await import(new URL('store/writer.js', dist))
  const {replay} = await import(new URL('replay/engine.js', dist))
  const {genericCodec} = await import(new URL('feeds/generic/adapter.js', dist))
  const {SUBSCRIBE_SETTLE_MS} = await import(new URL('feeds/generic/replay.js', dist))
  const {syntheticGenericTape} = await import(new URL('feeds/generic/synthetic.js', dist))
  const codec = genericCodec()
  const path = join(dir, 'replay.arrow')
  log(`writing ${FRAMES} rows`)
  const w = RecordingWriter.create(
    path,
    {
      meta: {feed: 'generic', endpoint: 'ws://127.0.0.1:8765/', subscriptions: CHANNELS, feedOptions: {}, toolVersion: 'bench', startTime: '2025-11-24T10:39:59.000000000Z', rawMode: 'auto'},
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0, fsync: false, compactOnClose: false},
  )
  const frames = []
  let rawRows = 0
  for (const f of syntheticGenericTape({frames: FRAMES, seed: 3, meanGapMs: 1})) {
    const d = codec.decode({data: f.text, binary: false})
    const r = d.rows[0]
    if (!r.exact) rawRows++
    w.append({recv_ts: f.recv_ts, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, raw: r.exact ? null : Buffer.from(f.text), info: r.info, fields: r.fields})
    frames.push(f.text)
  }
  await w.close()

  const cl = child('--client')
  await cl.next('up')
  const run = async (url) => {
    const done = cl.next('done')
    cl.c.send({type: 'connect', url})
    const r = await done
    if (r.error) throw new Error(r.error)
    return r
  }
  // `cork`: 1024 frames per writev, as the replay engine writes at 'max'
  const {plainServer: servePlain} = await import('./lib/plain-ws.mjs')
  const plainServer = (cork) => servePlain(frames, {cork})
  const plain = []
  const corked = []
  const rep = []
  try {
    for (let k = 0; k < 3; k++) {
      log(`replay round ${k + 1}/3`)
      for (const [cork, into] of [[false, plain], [true, corked]]) {
        const p = await plainServer(cork)
        const a = await run(p.url)
        await p.close()
        if (a.n !== FRAMES) throw new Error(`plain server: client got ${a.n} of ${FRAMES}`)
        into.push(FRAMES / ((a.last - a.t0) / 1000))
      }
      const h = await replay(path, {port: 0, speed: 'max', atEnd: 'close'})
      const b = await run(h.url)
      await h.close()
      // the emulator's subscription results come first
      if (b.n !== FRAMES + CHANNELS.length) throw new Error(`replay: client got ${b.n - CHANNELS.length} of ${FRAMES}`)
      rep.push(FRAMES / ((b.last - b.t0) / 1000))
    }
  } finally {
    cl.c.send({type: 'exit'})
  }
  const best = (a) => Math.max(...a)
  return {
    bench: 'generic-replay',
    frames: FRAMES,
    raw_rows: rawRows,
    replay_max_frames_per_s: Math.round(best(rep)),
    plain_ws_server_frames_per_s: Math.round(best(plain)),
    ratio: +(best(rep) / best(plain)).toFixed(3),
    target: 'ratio >= 0.9',
    pass: best(rep) / best(plain) >= 0.9,
    plain_ws_server_corked_frames_per_s: Math.round(best(corked)),
    ratio_vs_corked: +(best(rep) / best(corked)).toFixed(3),
    note: `the replay time includes the emulator's ${SUBSCRIBE_SETTLE_MS} ms subscribe settle wait`,
  }
}

if (args[0] === '--server') await pushServer()
else if (args[0] === '--client') await clientProcess()
else {
  const picked = args.filter((a) => a === 'record' || a === 'replay')
  const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-generic-'))
  try {
    for (const c of picked.length ? picked : ['record', 'replay']) {
      const r = c === 'record' ? await benchRecord(dir) : await benchReplay(dir)
      console.log(JSON.stringify(r))
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
