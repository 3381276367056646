#!/usr/bin/env node
// bench/upbit: the Upbit feed, one JSON line per case.
//
//   npx tsc -p tsconfig.json && node bench/upbit.mjs [record] [replay] [--frames N]
//
// record  frames/s recorded end to end (received, control hook, decoded with
//         the byte-exactness check, written, flushed) by mdrec's recorder with
//         --feed upbit --types ticker,trade,orderbook, against a plain `ws`
//         client that only counts the same binary frames from the same push
//         server (its own process), in the same run; three rounds each,
//         medians. The tape is the synthetic KRW-BTC/KRW-ETH traffic
//         (trades ≈ 470 B, tickers ≈ 980 B, 15-level order books ≈ 1.6 KB).
// replay  frames/s of `replay` at speed 'max' to one client (its own process)
//         of a recording of the same tape, rows re-encoded from their columns
//         (raw auto: every frame exact) and rows sent from raw (raw always),
//         against a plain `ws` server sending the same pre-encoded frames to
//         the same client; best of 3.
import {fork} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {opt, log, med} from './lib/args.mjs'

const HERE = fileURLToPath(import.meta.url)
const dist = new URL('../dist/', import.meta.url)
const CODES = ['KRW-BTC', 'KRW-ETH']
const REQUEST = JSON.stringify([{ticket: 'bench'}, {type: 'ticker', codes: CODES}, {type: 'trade', codes: CODES}, {type: 'orderbook', codes: CODES}])
const args = process.argv.slice(2)
const FRAMES = Number(opt('frames', 200_000))

/** The synthetic tape, encoded as Upbit sends it (a pool reused when more frames are needed). */
async function tapeFrames(n) {
  const {syntheticUpbitTape} = await import(new URL('feeds/upbit/synthetic.js', dist))
  const {encodeMessage} = await import(new URL('feeds/upbit/codec.js', dist))
  const out = []
  for (const f of syntheticUpbitTape({frames: Math.min(n, 100_000), seed: 3, codes: CODES, meanGapMs: 1})) {
    out.push({recv_ts: f.recv_ts, text: encodeMessage(f.row, false)})
  }
  return out
}

// ---------------------------------------------------------------------------
// Child processes

/** Push server: sends FRAMES binary frames to each client after its request, as fast as the socket drains. */
async function pushServer() {
  const lib = await import('./lib/plain-ws.mjs')
  const pool = (await tapeFrames(FRAMES)).map((f) => Buffer.from(f.text))
  const {port} = await lib.pushServer(pool, FRAMES, {binary: true})
  process.send({port})
}

/** Counting client: connects, sends the request, counts frames until the server closes. */
async function countingClient() {
  const {WebSocket} = await import('ws')
  process.on('message', (m) => {
    if (m.type === 'exit') process.exit(0)
    const ws = new WebSocket(m.url, {perMessageDeflate: false})
    let n = 0
    let t0 = 0
    let first = 0
    ws.on('open', () => {
      t0 = performance.now()
      ws.send(REQUEST)
    })
    ws.on('message', () => {
      if (n++ === 0) first = performance.now()
    })
    ws.on('close', () => process.send({n, seconds: (performance.now() - t0) / 1000, firstMs: first - t0}))
    ws.on('error', (e) => process.send({error: e.message}))
  })
  process.send({up: true})
}

function child(role, onMessage) {
  const c = fork(HERE, [`--role=${role}`, '--frames', String(FRAMES)], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  c.on('message', onMessage)
  return c
}

// ---------------------------------------------------------------------------
// Cases

async function recordCase(dir) {
  const {Recorder} = await import(new URL('record/recorder.js', dist))
  const port = await new Promise((resolve) => {
    const c = child('push', (m) => m.port && resolve(m.port))
    process.on('exit', () => c.kill())
    cleanup.push(() => c.kill())
  })
  const url = `ws://127.0.0.1:${port}/websocket/v1`
  const {plainClientRate} = await import('./lib/plain-ws.mjs')
  const plain = () => plainClientRate(url, [REQUEST], FRAMES)
  const recorder = async (k) => {
    const t0 = performance.now()
    const rec = await Recorder.start({
      feed: 'upbit',
      symbols: CODES,
      feedOptions: {types: ['ticker', 'trade', 'orderbook']},
      url,
      out: join(dir, `rec-${k}.arrow`),
      flushIntervalMs: 1000,
      supervisor: {minBackoffMs: 60_000},
    })
    while (rec.stats().rows < FRAMES) await new Promise((r) => setTimeout(r, 2))
    const rate = FRAMES / ((performance.now() - t0) / 1000)
    const s = await rec.stop()
    if (s.rows - s.gaps !== FRAMES) throw new Error(`recorder wrote ${s.rows} rows of ${FRAMES}`)
    return {rate, bytes: s.bytes}
  }
  const p = []
  const r = []
  for (let round = 0; round < 3; round++) {
    p.push(await plain())
    r.push(await recorder(round))
    log(`record round ${round}: plain ${Math.round(p.at(-1))}/s, recorder ${Math.round(r.at(-1).rate)}/s`)
  }
  const recRate = med(r.map((x) => x.rate))
  const plainRate = med(p)
  return {
    bench: 'upbit-record',
    frames: FRAMES,
    recorder_frames_per_s: Math.round(recRate),
    plain_ws_client_frames_per_s: Math.round(plainRate),
    ratio: +(recRate / plainRate).toFixed(3),
    bytes_per_row: +(r[0].bytes / FRAMES).toFixed(1),
  }
}

async function replayCase(dir) {
  const {RecordingWriter} = await import(new URL('store/writer.js', dist))
  const {upbitCodec} = await import(new URL('feeds/upbit/codec.js', dist))
  const {replay} = await import(new URL('replay/engine.js', dist))
  const codec = upbitCodec('DEFAULT')
  const pool = await tapeFrames(FRAMES)
  const payloads = pool.map((f) => Buffer.from(f.text))
  // two recordings of FRAMES rows: raw auto (every frame exact: re-encoded at replay) and raw always
  const files = {}
  for (const mode of ['auto', 'always']) {
    const path = join(dir, `replay-${mode}.arrow`)
    const w = RecordingWriter.create(
      path,
      {
        meta: {feed: 'upbit', endpoint: 'wss://api.upbit.com/websocket/v1', subscriptions: CODES, feedOptions: {format: 'DEFAULT'}, toolVersion: 'bench', startTime: new Date(1763980800000).toISOString(), rawMode: mode},
        exchTsUnit: 'ms',
        columns: codec.columns,
      },
      {flushIntervalMs: 0, fsync: false},
    )
    let t = pool[0].recv_ts
    for (let i = 0; i < FRAMES; i++) {
      const d = codec.decode({data: payloads[i % pool.length], binary: true})
      const r = d.rows[0]
      if (!r.exact) throw new Error('a synthetic frame is not exact')
      t += 10_000n
      w.append({recv_ts: t, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, raw: mode === 'always' ? payloads[i % pool.length] : null, info: null, fields: r.fields})
    }
    await w.close()
    files[mode] = path
  }
  const client = await new Promise((resolve) => {
    const c = child('client', (m) => m.up && resolve(c))
    cleanup.push(() => c.kill())
  })
  const run = (url) =>
    new Promise((resolve, reject) => {
      client.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)))
      client.send({type: 'run', url})
    })
  // the plain server: the same payloads, binary, as fast as the socket drains
  const {pushServer: startPushServer} = await import('./lib/plain-ws.mjs')
  const plainSrv = await startPushServer(payloads, FRAMES, {binary: true})
  const plainUrl = `ws://127.0.0.1:${plainSrv.port}/websocket/v1`
  const best = async (f) => {
    let b = 0
    for (let k = 0; k < 3; k++) b = Math.max(b, await f())
    return b
  }
  const plainRate = await best(async () => {
    const m = await run(plainUrl)
    if (m.n !== FRAMES) throw new Error(`plain server: client got ${m.n} of ${FRAMES}`)
    return m.n / m.seconds
  })
  const out = []
  for (const mode of ['auto', 'always']) {
    const rate = await best(async () => {
      const h = await replay(files[mode], {port: 0, speed: 'max', atEnd: 'close'})
      const m = await run(h.url)
      await h.close()
      if (m.n !== FRAMES) throw new Error(`replay ${mode}: client got ${m.n} of ${FRAMES}`)
      return m.n / m.seconds
    })
    log(`replay ${mode}: ${Math.round(rate)}/s vs plain ${Math.round(plainRate)}/s`)
    out.push({
      bench: 'upbit-replay',
      rows: mode === 'auto' ? 're-encoded from columns (raw auto, all exact)' : 'recorded raw payloads (raw always)',
      frames: FRAMES,
      replay_frames_per_s: Math.round(rate),
      plain_ws_server_frames_per_s: Math.round(plainRate),
      ratio: +(rate / plainRate).toFixed(3),
    })
  }
  await plainSrv.close()
  client.send({type: 'exit'})
  return out
}

const cleanup = []

async function main() {
  const role = args.find((a) => a.startsWith('--role='))?.slice(7)
  if (role === 'push') return pushServer()
  if (role === 'client') return countingClient()
  const picked = args.filter((a) => a === 'record' || a === 'replay')
  const cases = picked.length > 0 ? picked : ['record', 'replay']
  const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-upbit-'))
  try {
    for (const c of cases) {
      const res = c === 'record' ? await recordCase(dir) : await replayCase(dir)
      for (const r of [res].flat()) console.log(JSON.stringify(r))
    }
  } finally {
    for (const f of cleanup) f()
    rmSync(dir, {recursive: true, force: true})
  }
}

await main()
