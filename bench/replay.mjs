#!/usr/bin/env node
/**
 * Replay benchmarks: one JSON line per case on stdout (progress on stderr).
 *
 *   npx tsc -p tsconfig.json          # the benchmark imports ../dist
 *   node bench/replay.mjs             # all cases (about 4-5 minutes)
 *   node bench/replay.mjs throughput accuracy
 *   node bench/replay.mjs --case client-timing     # about 1.5 minutes
 *
 * Cases:
 *   throughput  replay at speed 'max' to one client vs a plain `ws` server
 *               sending the same pre-encoded frames to the same client, in the
 *               same run; for recorded-bytes rows (raw kept) and re-encoded rows.
 *               frames/s from the first frame to the last, for every server
 *               alike (the replay first waits its settle window,
 *               DEFAULT_SETTLE_MS = 100 ms, for more subscribe messages: not
 *               sending time). `withSettle` gives the rates from the subscribe
 *               on and each run's wait for its first frame.
 *   fanout      100 clients on one `clock: 'shared'` replay of a 5k frames/s
 *               recording at 1x (15 s): lateness of every send.
 *   accuracy    50k frames of a bursty synthetic tape (meanGapMs 1: ~50 s at
 *               1x) at 1x and 10x: lateness p50/p99/max, and drift (first vs
 *               last 1000 frames).
 *   client-timing
 *               timing as a client sees it: a client in another process
 *               stamps every arrival with process.hrtime (CLOCK_MONOTONIC, the
 *               same clock in every process); arrival error = arrival −
 *               (subscribe sent + (recv_ts − recv_ts₀) / speed). The replay
 *               (settle 0, so its timeline starts at the subscription) and a
 *               plain paced `ws` server (a timer to ~1 ms before each due
 *               time, then a spin) send the same frames to the same client
 *               in the same run. Each is one server per recording and speed,
 *               and each round a new client of it (as clients connect to a
 *               running `mdrec replay` one after another), alternately
 *               (twice each, or MDREC_BENCH_TIMING_ROUNDS times, in both
 *               orders, each after a full GC, after one untimed client of
 *               each server so that neither pays its first compilation of ws
 *               and of its own send path; the best round of each), at 1x and
 *               10x, over a busy
 *               (5k frames/s: one batch, and again in 5,000-row batches, so
 *               the next batch is read and decoded while one plays) and a
 *               quiet (50 frames/s) recording. Figures:
 *               the first frame's error, then p50/p99/max of the error after
 *               removing one constant offset (the smallest error: the
 *               delivery latency at best). Targets: p99 ≤ 1.2 × plain and
 *               ≤ 2 ms, p50 ≤ 0.3 ms, first frame ≤ 1 ms after the
 *               timeline starts (firstAfterStartMs; firstMs, the first
 *               frame's error from the subscribe sent, adds the subscribe's
 *               trip and the server's handling of it). Where the time
 *               goes, per round and side: startMs (subscribe sent → the
 *               server's timeline start t0, on the same monotonic clock: the
 *               subscribe's trip and the server waking for it),
 *               firstAfterStartMs (t0 → first arrival), serverLateP99Ms
 *               (send call − due time, at the server), transitP99Ms (the
 *               send call's return → the arrival, per frame) and invCs (involuntary
 *               context switches of this process, which runs both servers,
 *               during the play: the kernel took its CPU away while it could
 *               run). MDREC_BENCH_TIMING_ONLY=busy (or 'quiet', 'busy, 5k-row
 *               batches') and MDREC_BENCH_TIMING_SPEEDS=1 (or '1,10') pick
 *               one recording and speed, for a quick look at one row.
 *   idle        CPU share of the replay's process (process.cpuUsage over 2 s)
 *               while its clients can receive nothing: no client; one client
 *               subscribed only to a symbol the recording does not hold (1x,
 *               and --loop at max; and 10x on a 150k-row 5k frames/s
 *               recording while its play runs, where reading the file's
 *               batches is the floor); --clock shared --loop at max after its
 *               last client has gone. Target: under 2 % of a core each.
 *   connections 300 and 1,000 clients, each on its own timeline (`clock:
 *               'connection'`, the default) of one 1x replay of the bundled
 *               fixture yahoo-us-equities.arrow (2,511 rows over 60 s, 8
 *               symbols, every client subscribed to all), the replay in its
 *               own process: the server's lateness (every send), a sampling
 *               client's arrival error (arrival − (subscribe sent + recorded
 *               offset), in the harness process, minus its smallest error),
 *               and the replay process's RSS: idle before, peak, and 5 s
 *               after every client has left (then also after a forced full
 *               GC, with the V8 heap in use at each point, and the heap V8 has reserved). Targets: p99 ≤ 5 ms at the server
 *               and at the client, peak RSS ≤ 300 MiB, after ≤ idle + 60 MiB.
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
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import v8 from 'node:v8'
import vm from 'node:vm'

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
  let stamps = null
  let stamped = 0
  let sentAt = 0
  process.on('message', async (msg) => {
    if (msg.type === 'connect') {
      stamps = msg.stamp ? new Float64Array(msg.stamp) : null
      stamped = 0
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
            if (stamps !== null && stamped < stamps.length) stamps[stamped++] = Number(process.hrtime.bigint())
            const t = now()
            if (first === 0) first = t
            last = t
            counts[k]++
          })
          ws.on('close', () => {
            if (++closed === msg.n) process.send({type: 'done', counts, first, last, sentAt, stamps: stamps ? Array.from(stamps.subarray(0, stamped)) : null})
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
      sentAt = Number(process.hrtime.bigint())
      clients.forEach((ws, k) => ws.send(JSON.stringify({subscribe: per ? msg.symbols[k] : msg.symbols})))
    } else if (msg.type === 'drop') {
      for (const ws of clients) ws.terminate()
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
  /** `stamp`: record the arrival time (hrtime ns) of up to that many frames. */
  async connect(url, n, stamp = 0) {
    const ready = this.next('ready')
    this.child.send({type: 'connect', url, n, stamp})
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
  const all = ['throughput', 'fanout', 'accuracy', 'client-timing', 'idle', 'connections', 'memory']
  const picked = process.argv.slice(2).filter((a) => a !== '--case')
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

/** Write a synthetic Yahoo recording; returns the v2 frames when `collect` (with their recv_ts when `withTimes`). */
async function makeRecording(lib, path, {frames, meanGapMs, seed = 1, symbols = 50, keepRaw = false, collect = false, withTimes = false, flushRows}) {
  const {createYahooWriter, tickRow} = await import('./lib/recording.mjs')
  const w = createYahooWriter(
    path,
    flushRows ? {flushRows} : {},
    {
      endpoint: 'wss://streamer.finance.yahoo.com/?version=2',
      subscriptions: lib.syntheticSymbols({seed, symbols}).map((s) => s.id),
      startTime: '2025-11-24T10:39:59.000000000Z',
      rawMode: keepRaw ? 'always' : 'auto',
    },
  )
  const out = collect ? [] : null
  for (const f of lib.syntheticYahooTape({frames, symbols, meanGapMs, seed})) {
    let raw = null
    if (keepRaw || collect) {
      const text = lib.encodeFrame(f.data, 'v2')
      if (collect) out.push(withTimes ? {text, recv_ts: f.recv_ts} : text)
      if (keepRaw) raw = Buffer.from(text)
    }
    w.append(tickRow(f, raw))
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

/** A full garbage collection now (the bench runs without --expose-gc: V8's gc function, fetched once). */
function fullGc() {
  if (typeof globalThis.gc !== 'function') {
    v8.setFlagsFromString('--expose-gc')
    globalThis.gc = vm.runInNewContext('gc')
  }
  globalThis.gc()
}

/**
 * A plain paced `ws` server, the yardstick for timing: on a client's first
 * message, frame i goes out at (that moment + sched[i] ns): a timer to
 * about 1 ms before its due time, then a spin on process.hrtime. Closes with
 * 1000 after the last frame. Before each client, `arm(late)`: each frame's
 * lateness (once its send call has returned − due, ns, as the replay's
 * onLateness) goes into `late`.
 */
async function pacedServer(frames, sched) {
  const {WebSocketServer} = await import('ws')
  const wss = new WebSocketServer({port: 0, host: '127.0.0.1', perMessageDeflate: false})
  await new Promise((r) => wss.once('listening', r))
  const hr = () => Number(process.hrtime.bigint())
  let late = new Float64Array(0)
  let t0 = 0
  let sent = 0
  wss.on('connection', (ws) => {
    ws.once('message', async () => {
      t0 = hr()
      for (let i = 0; i < frames.length; i++) {
        const due = t0 + sched[i]
        const left = due - hr()
        if (left > 1.5e6) await new Promise((r) => setTimeout(r, Math.floor((left - 1e6) / 1e6)))
        while (hr() < due) {}
        ws.send(frames[i])
        late[sent++] = hr() - due
      }
      ws.close(1000)
    })
  })
  return {
    url: `ws://127.0.0.1:${wss.address().port}/`,
    close: () => new Promise((r) => wss.close(r)),
    arm(into) {
      late = into
      t0 = 0
      sent = 0
    },
    /** When the last client's timeline started (hrtime ns), and how many frames it was sent. */
    t0: () => t0,
    sends: () => sent,
  }
}

/** A plain `ws` server sending `frames` on the first subscribe (bench/lib/plain-ws.mjs), at the Yahoo v2 URL. */
async function plainServer(frames, cork = false) {
  const lib = await import('./lib/plain-ws.mjs')
  return lib.plainServer(frames, {cork, path: '/?version=2'})
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
    // the wait from the subscribe to the first frame (the replay's includes its settle window), and the rate from the first frame to the last
    const steady = (r) => (r.counts[0] - 1) / ((r.last - r.first) / 1000)
    const results = {plain: [], plainCorked: [], raw: [], reencoded: []}
    const firstMs = {plain: [], plainCorked: [], raw: [], reencoded: []}
    const steadyFps = {plain: [], plainCorked: [], raw: [], reencoded: []}
    // interleaved, best of 5 each (the machine is shared)
    for (let k = 0; k < 5; k++) {
      for (const [name, fn] of [
        ['plain', () => runPlain(false)],
        ['plainCorked', () => runPlain(true)],
        ['raw', () => runReplay(rawPath)],
        ['reencoded', () => runReplay(encPath)],
      ]) {
        const r = await fn()
        if (r.counts[0] !== N) throw new Error(`${name}: client got ${r.counts[0]} of ${N} frames`)
        results[name].push(rate(r))
        firstMs[name].push(+(r.first - r.t0).toFixed(1))
        steadyFps[name].push(Math.round(steady(r)))
        log(`${name}: ${Math.round(rate(r))} frames/s (first frame after ${(r.first - r.t0).toFixed(1)} ms, then ${Math.round(steady(r))} frames/s)`)
      }
    }
    // The headline rates run from the first frame to the last, for every server alike: a replay
    // first waits its settle window (DEFAULT_SETTLE_MS, 100 ms, for more subscribe messages), which
    // is not sending time and would be a third of a 500k-frame run; the figures with it are kept
    // under withSettle.
    const best = (a) => Math.round(Math.max(...a))
    const plain = best(steadyFps.plain)
    const corked = best(steadyFps.plainCorked)
    const row = (label, runs, name) => ({
      case: 'throughput',
      rows: label,
      frames: N,
      avgFrameBytes: +(bytes / N).toFixed(1),
      replayFps: best(steadyFps[name]),
      plainWsFps: plain,
      ratio: +(best(steadyFps[name]) / plain).toFixed(3),
      target: '>= 0.9',
      plainWsCorkedFps: corked,
      ratioVsCorked: +(best(steadyFps[name]) / corked).toFixed(3),
      runs: steadyFps[name],
      plainCorkedRuns: steadyFps.plainCorked,
      withSettle: {
        replayFps: best(runs),
        plainWsCorkedFps: best(results.plainCorked),
        ratioVsCorked: +(best(runs) / best(results.plainCorked)).toFixed(3),
        firstFrameMs: firstMs[name],
        plainCorkedFirstFrameMs: firstMs.plainCorked,
      },
      loadavg: loadavg().map((x) => +x.toFixed(2)),
    })
    return [row('raw (recorded bytes sent as is)', results.raw, 'raw'), row('re-encoded (raw null, canonical encodeFrame)', results.reencoded, 'reencoded')]
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

  async 'client-timing'(lib, dir, clients) {
    const out = []
    const rounds = Math.max(1, Number(process.env.MDREC_BENCH_TIMING_ROUNDS ?? 2))
    const recordings = [
      {name: 'busy', frames: 15_000, meanGapMs: 0.2, seed: 21},
      // the same in 5,000-row batches (a live recording flushed every second): the replay reads and
      // decodes the next batch while the current one plays (one batch above holds every row)
      {name: 'busy, 5k-row batches', frames: 15_000, meanGapMs: 0.2, seed: 21, flushRows: 5000},
      {name: 'quiet', frames: 300, meanGapMs: 20, seed: 22},
    ]
    const load = () => {
      const l = loadavg()
      return l.map((x) => +x.toFixed(2))
    }
    // One lateness hook for every mdrec run, as a user passes one long-lived callback. A hook made per
    // run is inlined into the replay's send path; once the run is over and collected, V8 drops every
    // piece of optimized code that embeds it (at the full GC before the next run), so each run paid for
    // compiling its whole send path again, on V8's threads, on this 2-core machine, during its play.
    const sink = {
      late: new Float64Array(0),
      sends: 0,
      t0: 0,
      // the first row is due at the timeline's start: its send time less its lateness is t0
      onLateness: (ns) => {
        if (sink.sends === 0) sink.t0 = Number(process.hrtime.bigint()) - ns
        if (sink.sends < sink.late.length) sink.late[sink.sends++] = ns
      },
    }
    const only = process.env.MDREC_BENCH_TIMING_ONLY
    const speeds = (process.env.MDREC_BENCH_TIMING_SPEEDS ?? '1,10').split(',').map(Number)
    for (const rec of recordings) {
      if (only && rec.name !== only) continue
      const path = join(dir, `timing-${rec.name.replace(/[^a-z0-9]+/g, '-')}.arrow`)
      const tape = await makeRecording(lib, path, {...rec, collect: true, withTimes: true})
      const frames = tape.map((f) => f.text)
      const t0 = tape[0].recv_ts
      const offsets = tape.map((f) => Number(f.recv_ts - t0))
      const spanS = offsets[offsets.length - 1] / 1e9
      const syms = symbolsOf(lib, rec.seed)
      for (const speed of speeds) {
        const sched = offsets.map((o) => o / speed)
        const sides = {}
        // A server's first client pays V8's first compilation of the code it runs: of ws (client handling,
        // sending), and of the replay's send path for mdrec. One untimed client of each server before the
        // first measured round, so neither side's figures hold it.
        const warmUp = [[-1, ['mdrec', 'plain']]]
        // Each side is one server, up for every round, and each round is a new client of it: as a user
        // runs `mdrec replay` and connects a test's client to it, one after another (each on its own
        // timeline). A replay started per round pays V8's compilation of its send path again in its play:
        // its per-replay objects (the emulator's callbacks, the replay's own state) are new to the code
        // optimized for the last one.
        const mdrecReplay = await lib.replay(path, {port: 0, speed, atEnd: 'close', settleMs: 0, onLateness: sink.onLateness})
        const plainServer = await pacedServer(frames, sched)
        const servers = {
          mdrec: {
            url: mdrecReplay.url,
            arm(late) {
              sink.late = late
              sink.sends = 0
              sink.t0 = 0
            },
            t0: () => sink.t0,
            sends: () => sink.sends,
          },
          plain: plainServer,
        }
        // alternate the two servers, in both orders, so the machine's load falls on both alike
        for (const [round, order] of [...warmUp, ...Array.from({length: rounds}, (_, k) => [k, k % 2 === 0 ? ['mdrec', 'plain'] : ['plain', 'mdrec']])]) {
          for (const side of order) {
            const srv = servers[side]
            // the server's side of the play: its timeline start t0 (hrtime ns) and each send's lateness (ns)
            const late = new Float64Array(frames.length)
            srv.arm(late)
            // collect the garbage of what came before (writing the recording, the previous run) so neither
            // side pays for it, and let the machine settle before the client connects
            fullGc()
            await new Promise((resolve) => setTimeout(resolve, 300))
            await clients.connect(srv.url, 1, frames.length)
            const cs0 = process.resourceUsage().involuntaryContextSwitches
            const r = await clients.run(syms)
            const invCs = process.resourceUsage().involuntaryContextSwitches - cs0
            const t0 = srv.t0()
            const sends = srv.sends()
            if (r.stamps.length !== frames.length) throw new Error(`client-timing ${side}: ${r.stamps.length} of ${frames.length} frames`)
            const err = new Float64Array(frames.length)
            for (let i = 0; i < err.length; i++) err[i] = r.stamps[i] - r.sentAt - sched[i]
            let min = Number.POSITIVE_INFINITY
            for (const e of err) if (e < min) min = e
            const first = err[0]
            for (let i = 0; i < err.length; i++) err[i] -= min
            const q = quantiles(err)
            if (round < 0) continue
            // send call returned → arrival, per frame: the server sent frame i at t0 + sched[i] + late[i]
            const transit = new Float64Array(Math.min(sends, r.stamps.length))
            for (let i = 0; i < transit.length; i++) transit[i] = r.stamps[i] - (t0 + sched[i] + late[i])
            ;(sides[side] ??= []).push({
              firstMs: ms(first),
              offsetMs: ms(min),
              p50Ms: ms(q.p50),
              p99Ms: ms(q.p99),
              maxMs: ms(q.max),
              startMs: ms(t0 - r.sentAt),
              firstAfterStartMs: ms(r.stamps[0] - t0),
              serverLateP99Ms: ms(quantiles(late, sends).p99),
              transitP99Ms: ms(quantiles(transit).p99),
              invCs,
            })
          }
        }
        await mdrecReplay.close()
        await plainServer.close()
        // the best round for each side (the others absorbed more of the machine's load)
        const best = (side) => sides[side].reduce((a, b) => (b.p99Ms < a.p99Ms ? b : a))
        const m = best('mdrec')
        const p = best('plain')
        const row = {
          case: 'client-timing',
          recording: rec.name,
          framesPerS: Math.round(frames.length / spanS),
          frames: frames.length,
          speed: `${speed}x`,
          mdrec: m,
          plain: p,
          rounds: sides,
          p99VsPlain: +(m.p99Ms / p.p99Ms).toFixed(2),
          target: 'p99 <= 1.2x plain and <= 2 ms, p50 <= 0.3 ms, first <= 1 ms after the timeline starts',
          meets: m.p99Ms <= 1.2 * p.p99Ms && m.p99Ms <= 2 && m.p50Ms <= 0.3 && m.firstAfterStartMs <= 1,
          // which of the targets mdrec misses, and whether the plain server (same frames, same client, same run) meets that absolute one
          misses: [
            m.p99Ms > 1.2 * p.p99Ms ? `p99 ${m.p99Ms} ms > 1.2x plain's ${p.p99Ms}` : null,
            m.p99Ms > 2 ? `p99 ${m.p99Ms} ms > 2 ms (plain: ${p.p99Ms})` : null,
            m.p50Ms > 0.3 ? `p50 ${m.p50Ms} ms > 0.3 ms (plain: ${p.p50Ms})` : null,
            m.firstAfterStartMs > 1 ? `first ${m.firstAfterStartMs} ms after the start > 1 ms (plain: ${p.firstAfterStartMs})` : null,
          ].filter(Boolean),
          loadavg: load(),
        }
        log(JSON.stringify(row))
        out.push(row)
      }
    }
    return out
  },

  async idle(lib, dir, clients) {
    const path = join(dir, 'idle.arrow')
    await makeRecording(lib, path, {frames: 20_000, meanGapMs: 0.2, seed: 31})
    const syms = symbolsOf(lib, 31)
    const share = async () => {
      const u0 = process.cpuUsage()
      const t0 = performance.now()
      await new Promise((r) => setTimeout(r, 2000))
      const u = process.cpuUsage(u0)
      return +((u.user + u.system) / 10 / (performance.now() - t0)).toFixed(2)
    }
    const settle = () => new Promise((r) => setTimeout(r, 300))
    const out = []
    const scenarios = [
      ['no client, 1x', {speed: 1}, null],
      ['one client subscribed to an absent symbol, 1x', {speed: 1}, ['NOPE']],
      ['one client subscribed to an absent symbol, --loop, max', {speed: 'max', loop: true}, ['NOPE']],
      ['--clock shared --loop, max, after its last client has gone', {speed: 'max', loop: true, clock: 'shared'}, syms],
    ]
    // 150k rows at 5k frames/s (30 s at 1x, 3 s at 10x, 3 batches): measured while the 10x play runs;
    // its floor is reading and decompressing the batches (about one a second at 10x)
    const busy = join(dir, 'idle-busy.arrow')
    await makeRecording(lib, busy, {frames: 150_000, meanGapMs: 0.2, seed: 32})
    scenarios.push(['one client subscribed to an absent symbol, 10x, 150k-row 5k frames/s recording, while the play runs', {speed: 10}, ['NOPE'], busy])
    for (const [name, o, subscribe, file = path] of scenarios) {
      const h = await lib.replay(file, {port: 0, settleMs: 10, ...o})
      let done = null
      if (subscribe) {
        await clients.connect(h.url, 1)
        done = clients.next('done')
        clients.child.send({type: 'subscribe', symbols: subscribe})
        await settle()
        if (o.clock === 'shared') {
          clients.child.send({type: 'drop'})
          await done
          done = null
        }
      }
      await settle()
      const pct = await share()
      await h.close()
      if (done) await done
      const row = {case: 'idle', scenario: name, cpuPct: pct, target: 'under 2 % of a core', meets: pct < 2, loadavg: loadavg().map((x) => +x.toFixed(2))}
      log(JSON.stringify(row))
      out.push(row)
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

CASES.connections = async (lib, dir, clients) => {
  const {WebSocket} = await import('ws')
  const path = fileURLToPath(new URL('../fixtures/yahoo-us-equities.arrow', import.meta.url))
  const rec = await lib.openRecording(path)
  const recv = []
  for await (const {batch, idx} of lib.readBatches(rec)) {
    const ts = batch.getChildAt(0).data[0].values
    if (idx) for (const i of idx) recv.push(ts[i])
    else for (const t of ts) recv.push(t)
  }
  const offsets = recv.map((t) => Number(t - recv[0]))
  const syms = rec.meta.subscriptions
  const out = []
  for (const n of (process.env.MDREC_BENCH_CLIENTS ?? '300,1000').split(',').map(Number)) {
    const server = fork(HERE, ['--connections-server', path], {stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc', ...(process.env.MDREC_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.MDREC_BENCH_PROF}`] : [])]})
    const fromServer = (type) => new Promise((resolve) => server.on('message', (m) => m.type === type && resolve(m)))
    const {url} = await fromServer('url')
    log(`${n} clients`)
    await clients.connect(url, n - 1)
    // the sampling client, in this process: arrival times on the monotonic clock
    const arrivals = new Float64Array(offsets.length)
    let got = 0
    const sampler = new WebSocket(url, {perMessageDeflate: false})
    sampler.on('message', () => {
      if (got < arrivals.length) arrivals[got++] = Number(process.hrtime.bigint())
    })
    const samplerClosed = new Promise((r) => sampler.once('close', r))
    await new Promise((r, j) => {
      sampler.once('open', r)
      sampler.once('error', j)
    })
    const run = clients.run(syms)
    const sentAt = Number(process.hrtime.bigint())
    sampler.send(JSON.stringify({subscribe: syms}))
    const r = await run
    await samplerClosed
    const left = performance.now()
    await new Promise((res) => setTimeout(res, 5000))
    const report = fromServer('report')
    server.send({type: 'report'})
    const rep = await report
    const err = new Float64Array(got)
    for (let i = 0; i < got; i++) err[i] = arrivals[i] - (sentAt + offsets[i])
    let min = Infinity
    for (const e of err) if (e < min) min = e
    for (let i = 0; i < got; i++) err[i] -= min
    const q = quantiles(err)
    const mib = (b) => +(b / 2 ** 20).toFixed(1)
    const received = r.counts.reduce((a, b) => a + b, 0) + got
    out.push({
      case: 'connections',
      clients: n,
      speed: '1x',
      recording: 'fixtures/yahoo-us-equities.arrow (2511 rows, 60 s)',
      received,
      expected: n * offsets.length,
      serverLagP50Ms: rep.lag.p50,
      serverLagP99Ms: rep.lag.p99,
      serverLagMaxMs: rep.lag.max,
      clientErrP50Ms: ms(q.p50),
      clientErrP99Ms: ms(q.p99),
      clientErrMaxMs: ms(q.max),
      clientFirstOffsetMs: ms(min),
      rssIdleMiB: mib(rep.rssIdle),
      rssPeakMiB: mib(rep.peak),
      rssAfterMiB: mib(rep.rssAfter),
      rssAfterGcMiB: mib(rep.rssAfterGc),
      heapIdleMiB: mib(rep.heapIdle),
      heapAfterMiB: mib(rep.heapAfter),
      heapAfterGcMiB: mib(rep.heapAfterGc),
      // V8's heap reserved (used or not): RSS after GC above idle beyond its growth is native memory
      heapTotalIdleMiB: mib(rep.heapTotalIdle),
      heapTotalAfterGcMiB: mib(rep.heapTotalAfterGc),
      afterS: +((performance.now() - left) / 1000).toFixed(1),
      batchesRead: rep.batchesRead,
      slowClientsClosed: rep.slowClientsClosed,
      target: 'p99 <= 5 ms (server and client), peak RSS <= 300 MiB, after <= idle + 60 MiB',
      meets: rep.lag.p99 <= 5 && ms(q.p99) <= 5 && mib(rep.peak) <= 300 && mib(rep.rssAfter) <= mib(rep.rssIdle) + 60,
      loadavg: loadavg().map((x) => +x.toFixed(2)),
    })
    log(JSON.stringify(out[out.length - 1]))
  }
  return out
}

/** The connections case's replay server (1x, connection clock): reports its URL, then lateness, RSS and stats when asked. */
async function connectionsServerProcess(path) {
  const lib = await loadLib()
  const {LatencyHistogram} = await import(new URL('../dist/replay/scheduler.js', import.meta.url))
  const hist = new LatencyHistogram()
  const h = await lib.replay(path, {port: 0, speed: 1, settleMs: 0, atEnd: 'close', onLateness: (ns) => hist.record(ns)})
  await new Promise((r) => setTimeout(r, 500))
  globalThis.gc()
  const {rss: rssIdle, heapUsed: heapIdle, heapTotal: heapTotalIdle} = process.memoryUsage()
  let peak = rssIdle
  const sampler = setInterval(() => {
    const r = process.memoryUsage().rss
    if (r > peak) peak = r
  }, 50)
  process.send({type: 'url', url: h.url})
  process.on('message', async () => {
    clearInterval(sampler)
    const after = process.memoryUsage()
    // what is still reachable: after a full collection (RSS alone also shows pages V8 has not given back yet)
    globalThis.gc()
    await new Promise((r) => setTimeout(r, 200))
    const afterGc = process.memoryUsage()
    const rssAfter = after.rss
    const s = h.stats()
    await h.close()
    process.send({type: 'report', rssIdle, heapIdle, peak, rssAfter, heapAfter: after.heapUsed, rssAfterGc: afterGc.rss, heapAfterGc: afterGc.heapUsed, heapTotalIdle, heapTotalAfterGc: afterGc.heapTotal, lag: hist.summaryMs(), batchesRead: s.batchesRead, slowClientsClosed: s.slowClientsClosed}, () => process.exit(0))
  })
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
} else if (process.argv[2] === '--connections-server') {
  await connectionsServerProcess(process.argv[3])
} else if (process.argv[2] === '--memory-server') {
  await memoryServerProcess(process.argv[3])
} else if (process.argv[2] === '--generate') {
  await generateProcess(process.argv[3], process.argv[4])
} else {
  await main()
}
