#!/usr/bin/env node
/**
 * Replay benchmarks: one JSON line per case on stdout (progress on stderr).
 *
 *   npx tsc -p tsconfig.json          # the benchmark imports ../dist
 *   node bench/replay.mjs             # all cases (about 4-5 minutes)
 *   node bench/replay.mjs throughput accuracy
 *
 * Cases:
 *   throughput  replay at speed 'max' to one client vs a plain `ws` server
 *               sending the same pre-encoded frames to the same client, in the
 *               same run; for recorded-bytes rows (raw kept) and re-encoded rows.
 *   fanout      100 clients on one `clock: 'shared'` replay of a 5k frames/s
 *               recording at 1x (15 s): lateness of every send.
 *   accuracy    50k frames of a bursty synthetic tape (meanGapMs 1: ~50 s at
 *               1x) at 1x and 10x: lateness p50/p99/max, and drift (first vs
 *               last 1000 frames).
 *   memory      a large recording (MDREC_BENCH_MEMORY_ROWS, default 20M rows:
 *               ~390 MiB, ~35 s to write; 50M rows is ~1 GiB) written to a temp
 *               dir, replayed at 'max' to one client by a replay in its own
 *               process: that process's peak RSS.
 *
 * Clients run in a separate process (fork of this file), so the server's CPU
 * is its own. The machine's other load shows in the lateness figures: run
 * on a quiet machine.
 */
import {fork} from 'node:child_process'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const HERE = fileURLToPath(import.meta.url)
const now = () => performance.timeOrigin + performance.now() // epoch ms, comparable across processes

// ---------------------------------------------------------------------------
// Client process: opens n WebSocket clients, subscribes on request, counts
// frames until every client is closed by the server.

async function clientProcess() {
  const {WebSocket} = await import('ws')
  let clients = []
  let counts = []
  let first = 0
  let last = 0
  let closed = 0
  process.on('message', async (msg) => {
    if (msg.type === 'connect') {
      clients = []
      counts = new Array(msg.n).fill(0)
      first = 0
      last = 0
      closed = 0
      await Promise.all(
        Array.from({length: msg.n}, (_, k) => {
          const ws = new WebSocket(msg.url, {perMessageDeflate: false})
          clients.push(ws)
          ws.on('message', () => {
            const t = now()
            if (first === 0) first = t
            last = t
            counts[k]++
          })
          ws.on('close', () => {
            if (++closed === msg.n) process.send({type: 'done', counts, first, last})
          })
          return new Promise((resolve, reject) => {
            ws.once('open', resolve)
            ws.once('error', reject)
          })
        }),
      )
      process.send({type: 'ready'})
    } else if (msg.type === 'subscribe') {
      // msg.symbols: one list for every client, or one list per client
      const per = Array.isArray(msg.symbols[0])
      clients.forEach((ws, k) => ws.send(JSON.stringify({subscribe: per ? msg.symbols[k] : msg.symbols})))
    } else if (msg.type === 'exit') {
      process.exit(0)
    }
  })
  process.send({type: 'up'})
}

class Clients {
  static async start() {
    const c = new Clients()
    c.child = fork(HERE, ['--client'], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    c.waiting = new Map()
    c.child.on('message', (m) => {
      const w = c.waiting.get(m.type)
      if (w) {
        c.waiting.delete(m.type)
        w(m)
      }
    })
    await c.next('up')
    return c
  }
  next(type) {
    return new Promise((resolve) => this.waiting.set(type, resolve))
  }
  async connect(url, n) {
    const ready = this.next('ready')
    this.child.send({type: 'connect', url, n})
    await ready
  }
  /** Subscribe every client (one symbol list, or one per client); resolves {counts, first, last, t0} once the server has closed them all. */
  run(symbols) {
    const done = this.next('done')
    const t0 = now()
    this.child.send({type: 'subscribe', symbols})
    return done.then((d) => ({...d, t0}))
  }
  stop() {
    this.child.send({type: 'exit'})
  }
}

// ---------------------------------------------------------------------------

async function loadLib() {
  const dist = new URL('../dist/', import.meta.url)
  return {
    ...(await import(new URL('index.js', dist))),
    ...(await import(new URL('store/writer.js', dist))),
    ...(await import(new URL('feeds/yahoo/adapter.js', dist))),
    ...(await import(new URL('feeds/yahoo/codec.js', dist))),
    ...(await import(new URL('feeds/yahoo/synthetic.js', dist))),
  }
}

async function main() {
  const lib = await loadLib()
  const all = ['throughput', 'fanout', 'accuracy', 'memory']
  const picked = process.argv.slice(2)
  for (const p of picked) if (!all.includes(p)) throw new Error(`unknown case ${p}; cases: ${all.join(', ')}`)
  const cases = picked.length > 0 ? picked : all
  const dir = mkdtempSync(join(tmpdir(), 'mdrec-bench-replay-'))
  const clients = await Clients.start()
  try {
    for (const c of cases) {
      const t = performance.now()
      log(`--- ${c}`)
      const result = await CASES[c](lib, dir, clients)
      for (const r of [result].flat()) console.log(JSON.stringify({bench: 'replay', ...r, wallS: +((performance.now() - t) / 1000).toFixed(1)}))
    }
  } finally {
    clients.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}

function log(s) {
  process.stderr.write(`${s}\n`)
}

/** Write a synthetic Yahoo recording; returns the v2 frames when `collect`. */
async function makeRecording(lib, path, {frames, meanGapMs, seed = 1, symbols = 50, keepRaw = false, collect = false}) {
  const w = lib.RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'yahoo',
        endpoint: 'wss://streamer.finance.yahoo.com/?version=2',
        subscriptions: lib.syntheticSymbols({seed, symbols}).map((s) => s.id),
        feedOptions: {envelope: 'v2'},
        toolVersion: 'bench',
        startTime: '2025-11-24T10:39:59.000000000Z',
        rawMode: keepRaw ? 'always' : 'auto',
      },
      exchTsUnit: 'ms',
      columns: lib.yahooCodec('v2').columns,
    },
    {flushIntervalMs: 0, fsync: false, compactOnClose: false},
  )
  const out = collect ? [] : null
  for (const {recv_ts, data} of lib.syntheticYahooTape({frames, symbols, meanGapMs, seed})) {
    const {id, time, ...fields} = data
    let raw = null
    if (keepRaw || collect) {
      const text = lib.encodeFrame(data, 'v2')
      if (collect) out.push(text)
      if (keepRaw) raw = Buffer.from(text)
    }
    w.append({recv_ts, exch_ts: time ?? null, symbol: id, kind: 'tick', raw, info: null, fields})
  }
  await w.close()
  return out
}

function symbolsOf(lib, seed = 1, symbols = 50) {
  return lib.syntheticSymbols({seed, symbols}).map((s) => s.id)
}

function quantiles(arr, n = arr.length) {
  const a = Float64Array.from(arr.subarray ? arr.subarray(0, n) : arr.slice(0, n)).sort()
  const q = (p) => a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))]
  let sum = 0
  for (const v of a) sum += v
  return {p50: q(0.5), p99: q(0.99), p999: q(0.999), max: a[a.length - 1], mean: sum / a.length}
}

const ms = (ns) => +(ns / 1e6).toFixed(3)

/**
 * A plain `ws` server: on the first subscribe, send every frame (honouring
 * bufferedAmount), then close. `cork`: write 1024 frames per writev, as the
 * replay engine does at 'max'.
 */
async function plainServer(frames, cork = false) {
  const {WebSocketServer} = await import('ws')
  const wss = new WebSocketServer({port: 0, host: '127.0.0.1', perMessageDeflate: false})
  await new Promise((r) => wss.once('listening', r))
  const HIGH = 1024 * 1024
  wss.on('connection', (ws) => {
    ws.once('message', async () => {
      const sock = ws._socket
      for (let i = 0; i < frames.length; i++) {
        if (cork && i % 1024 === 0) {
          if (i > 0) sock.uncork()
          if (ws.bufferedAmount >= HIGH) await new Promise((r) => sock.once('drain', r))
          sock.cork()
        } else if (!cork && ws.bufferedAmount >= HIGH) await new Promise((r) => sock.once('drain', r))
        ws.send(frames[i])
      }
      if (cork) sock.uncork()
      ws.close(1000)
    })
  })
  return {url: `ws://127.0.0.1:${wss.address().port}/?version=2`, close: () => new Promise((r) => wss.close(r))}
}

const CASES = {
  async throughput(lib, dir, clients) {
    const N = 500_000
    const syms = symbolsOf(lib)
    const rawPath = join(dir, 'tp-raw.arrow')
    const encPath = join(dir, 'tp-enc.arrow')
    log(`writing ${N} rows twice`)
    const frames = await makeRecording(lib, rawPath, {frames: N, meanGapMs: 1, keepRaw: true, collect: true})
    await makeRecording(lib, encPath, {frames: N, meanGapMs: 1})
    const bytes = frames.reduce((a, f) => a + f.length, 0)
    const runPlain = async (cork) => {
      const srv = await plainServer(frames, cork)
      await clients.connect(srv.url, 1)
      const r = await clients.run(syms)
      await srv.close()
      return r
    }
    const runReplay = async (path) => {
      const h = await lib.replay(path, {port: 0, speed: 'max', atEnd: 'close'})
      await clients.connect(h.url, 1)
      const r = await clients.run(syms)
      await h.close()
      return r
    }
    const rate = (r) => r.counts[0] / ((r.last - r.t0) / 1000)
    const results = {plain: [], plainCorked: [], raw: [], reencoded: []}
    // interleaved, best of 3 each (the machine is shared)
    for (let k = 0; k < 3; k++) {
      for (const [name, fn] of [
        ['plain', () => runPlain(false)],
        ['plainCorked', () => runPlain(true)],
        ['raw', () => runReplay(rawPath)],
        ['reencoded', () => runReplay(encPath)],
      ]) {
        const r = await fn()
        if (r.counts[0] !== N) throw new Error(`${name}: client got ${r.counts[0]} of ${N} frames`)
        results[name].push(rate(r))
        log(`${name}: ${Math.round(rate(r))} frames/s`)
      }
    }
    const best = (a) => Math.round(Math.max(...a))
    const plain = best(results.plain)
    const corked = best(results.plainCorked)
    const row = (label, runs) => ({
      case: 'throughput',
      rows: label,
      frames: N,
      avgFrameBytes: +(bytes / N).toFixed(1),
      replayFps: best(runs),
      plainWsFps: plain,
      ratio: +(best(runs) / plain).toFixed(3),
      target: '>= 0.9',
      plainWsCorkedFps: corked,
      ratioVsCorked: +(best(runs) / corked).toFixed(3),
      runs: runs.map(Math.round),
      plainRuns: results.plain.map(Math.round),
    })
    return [row('raw (recorded bytes sent as is)', results.raw), row('re-encoded (raw null, canonical encodeFrame)', results.reencoded)]
  },

  async fanout(lib, dir, clients) {
    const SECONDS = 10
    const N = 5000 * SECONDS
    const C = 100
    const path = join(dir, 'fanout.arrow')
    const syms = symbolsOf(lib)
    log(`writing ${N} rows (5k frames/s for ${SECONDS} s)`)
    await makeRecording(lib, path, {frames: N, meanGapMs: 0.2})
    const out = []
    // a seeded choice of 5 distinct symbols per client
    let seed = 42
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const five = Array.from({length: C}, () => {
      const pick = new Set()
      while (pick.size < 5) pick.add(syms[Math.floor(rnd() * syms.length)])
      return [...pick]
    })
    for (const [label, subscribe] of [
      ['5 random of 50 symbols per client', () => five],
      ['all 50 symbols (every frame to every client)', () => syms],
    ]) {
      const late = new Float64Array(N * C)
      let n = 0
      const h = await lib.replay(path, {
        port: 0,
        speed: 1,
        clock: 'shared',
        atEnd: 'close',
        maxBufferedBytes: 64 * 1024 * 1024,
        onLateness: (ns) => {
          if (n < late.length) late[n++] = ns
        },
      })
      await clients.connect(h.url, C)
      const r = await clients.run(subscribe())
      const s = await h.done
      await h.close()
      const q = quantiles(late, n)
      const total = r.counts.reduce((a, b) => a + b, 0)
      out.push({
        case: 'fanout',
        subscriptions: label,
        clients: C,
        recordingFps: 5000,
        seconds: SECONDS,
        sends: n,
        received: total,
        sendsPerSec: Math.round(n / SECONDS),
        lagP50Ms: ms(q.p50),
        lagP99Ms: ms(q.p99),
        lagP999Ms: ms(q.p999),
        lagMaxMs: ms(q.max),
        slowClientsClosed: s.slowClientsClosed,
      })
      log(JSON.stringify(out[out.length - 1]))
    }
    return out
  },

  async accuracy(lib, dir, clients) {
    const N = 50_000
    const path = join(dir, 'accuracy.arrow')
    const syms = symbolsOf(lib)
    log(`writing ${N} rows (meanGapMs 1)`)
    await makeRecording(lib, path, {frames: N, meanGapMs: 1, seed: 7})
    const out = []
    for (const speed of [1, 10]) {
      const late = new Float64Array(N)
      let n = 0
      const h = await lib.replay(path, {
        port: 0,
        speed,
        atEnd: 'close',
        onLateness: (ns) => {
          if (n < N) late[n++] = ns
        },
      })
      await clients.connect(h.url, 1)
      const r = await clients.run(syms)
      await h.close()
      if (n !== N) throw new Error(`accuracy: ${n} of ${N} frames sent`)
      const q = quantiles(late)
      const head = quantiles(late.subarray(0, 1000))
      const tail = quantiles(late.subarray(N - 1000))
      out.push({
        case: 'accuracy',
        speed: `${speed}x`,
        frames: N,
        playedS: +((r.last - r.t0) / 1000).toFixed(2),
        lagP50Ms: ms(q.p50),
        lagP99Ms: ms(q.p99),
        lagMaxMs: ms(q.max),
        target: 'p50 <= 0.3 ms, p99 <= 2 ms',
        first1000: {p50Ms: ms(head.p50), meanMs: ms(head.mean), p99Ms: ms(head.p99)},
        last1000: {p50Ms: ms(tail.p50), meanMs: ms(tail.mean), p99Ms: ms(tail.p99)},
        driftMeanMs: ms(tail.mean - head.mean),
      })
      log(JSON.stringify(out[out.length - 1]))
    }
    return out
  },

  async memory(lib, dir, clients) {
    const N = Number(process.env.MDREC_BENCH_MEMORY_ROWS ?? 20_000_000)
    const path = join(dir, 'memory.arrow')
    const syms = symbolsOf(lib)
    log(`writing ${N} rows`)
    const tw = performance.now()
    await generateElsewhere(path, {frames: N, meanGapMs: 1, seed: 11})
    const writeS = (performance.now() - tw) / 1000
    const size = statSync(path).size
    log(`wrote ${(size / 2 ** 20).toFixed(0)} MiB in ${writeS.toFixed(0)} s`)
    // the replay runs in its own process: its RSS is the replay's, not this harness's
    const server = fork(HERE, ['--memory-server', path], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    const fromServer = (type) => new Promise((resolve) => server.on('message', (m) => m.type === type && resolve(m)))
    const {url} = await fromServer('url')
    const rss = fromServer('rss')
    await clients.connect(url, 1)
    const r = await clients.run(syms)
    server.send({type: 'close'})
    const {rssBefore, peak} = await rss
    if (r.counts[0] !== N) throw new Error(`memory: client got ${r.counts[0]} of ${N} frames`)
    const playS = (r.last - r.t0) / 1000
    return {
      case: 'memory',
      rows: N,
      fileMiB: +(size / 2 ** 20).toFixed(1),
      bytesPerRow: +(size / N).toFixed(1),
      writeS: +writeS.toFixed(1),
      replayS: +playS.toFixed(1),
      replayFps: Math.round(N / playS),
      rssBeforeMiB: +(rssBefore / 2 ** 20).toFixed(1),
      rssPeakMiB: +(peak / 2 ** 20).toFixed(1),
      target: 'rss < 300 MiB',
    }
  },
}

/** Write a recording in a child process, so the server process's RSS is its own. */
function generateElsewhere(path, opts) {
  return new Promise((resolve, reject) => {
    const child = fork(HERE, ['--generate', path, JSON.stringify(opts)], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`generator exited with ${code}`))))
  })
}

/** The memory case's replay server: reports its URL, then its RSS (before, peak) once told to close. */
async function memoryServerProcess(path) {
  const lib = await loadLib()
  const rssBefore = process.memoryUsage().rss
  let peak = rssBefore
  const sampler = setInterval(() => {
    const r = process.memoryUsage().rss
    if (r > peak) peak = r
  }, 100)
  const h = await lib.replay(path, {port: 0, speed: 'max', atEnd: 'close'})
  process.send({type: 'url', url: h.url})
  process.on('message', async () => {
    await h.close()
    clearInterval(sampler)
    process.send({type: 'rss', rssBefore, peak}, () => process.exit(0))
  })
}

async function generateProcess(path, opts) {
  const lib = await loadLib()
  await makeRecording(lib, path, JSON.parse(opts))
}

// (after every declaration: classes and consts are not hoisted)
if (process.argv[2] === '--client') {
  await clientProcess()
} else if (process.argv[2] === '--memory-server') {
  await memoryServerProcess(process.argv[3])
} else if (process.argv[2] === '--generate') {
  await generateProcess(process.argv[3], process.argv[4])
} else {
  await main()
}
