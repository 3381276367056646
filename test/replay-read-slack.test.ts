/**
 * A timed replay reads and decodes its next record batches only in the slack
 * between due rows: no piece of that work (a compressed buffer decompressed,
 * a batch built, a ReplayBatch prepared) starts while a row is due within
 * {@link SLACK_NS} — else the rows due meanwhile wait for it (each piece is up
 * to a few tenths of a ms, a batch's build more).
 *
 * Behaviour only, never wall-clock figures: each piece of work is caught as it
 * starts (spies on the decoder and ReplayBatch), together with the due times
 * the timeline is waiting for (a spy on Waker.wait), and the test counts the
 * pieces that started with a row due within half the slack (but for forced
 * slices: see watch()). The recording
 * comes in bursts (20 rows 0.05 ms apart every 2 ms, in 5,000-row batches),
 * so slack comes every 2 ms and no piece ever has to be forced through.
 */
import {once} from 'node:events'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest'
import {WebSocket} from 'ws'

import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import {replay} from '../src/replay/engine.js'
import {MergedSource, ReplayBatch} from '../src/replay/rows.js'
import {SLACK_MAX_WAIT_NS, SLACK_NS, Waker, nowNs} from '../src/replay/scheduler.js'
import {BatchDecoder} from '../src/store/ipc.js'
import {openRecording} from '../src/store/reader.js'
import {createYahooWriter} from './helpers/recording.js'

const SYMBOLS = ['A', 'B', 'C']
const ROWS = 20_000
const BATCH_ROWS = 5000
let dir: string
let path: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-read-slack-'))
  path = join(dir, 'bursts.arrow')
  const w = createYahooWriter(path, {flushRows: BATCH_ROWS, compactOnClose: false})
  const t0 = 1_764_000_000_000_000_000n
  let k = 0
  for (const f of syntheticYahooTape({frames: ROWS, symbols: SYMBOLS, seed: 7})) {
    // bursts of 20 rows 0.05 ms apart, one every 2 ms (2 s at 1x)
    const recv = t0 + BigInt(Math.floor(k / 20) * 2_000_000 + (k % 20) * 50_000)
    const {id, time, ...fields} = f.data
    w.append({recv_ts: recv, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    k++
  }
  await w.close()
}, 60_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))
afterEach(() => {
  vi.restoreAllMocks()
})

/** A client subscribed to every symbol until the replay closes it: the frames it got. */
async function playAll(url: string): Promise<number> {
  const ws = new WebSocket(url)
  let got = 0
  ws.on('message', () => got++)
  const closed = once(ws, 'close')
  await once(ws, 'open')
  ws.send(JSON.stringify({subscribe: SYMBOLS}))
  await closed
  return got
}

/**
 * Spy on every piece of batch work, on the waker's waits and on its slack
 * waits; `near()` lists the pieces that started with a row due within
 * `withinNs`, but for those of a forced slice (after a slack wait gave up,
 * see SLACK_MAX_WAIT_NS: a loaded machine can leave a timeline behind, with
 * no slack, for that long) and those while the timeline waits for the batch
 * (Waker.blocked).
 */
function watch(withinNs: number): {pieces: () => number; near: () => string[]; slices: () => {free: number; forced: number}} {
  const pending = new Set<{due: number}>()
  let pieces = 0
  const near: string[] = []
  let inForced = false
  const slices = {free: 0, forced: 0}
  const slack = Waker.prototype.slack
  vi.spyOn(Waker.prototype, 'slack').mockImplementation(function (this: Waker, ns: number, maxNs: number) {
    // the pieces after a forced release, up to the next slack wait, are that forced slice's
    inForced = false
    return slack.call(this, ns, maxNs).then((forced) => {
      inForced = forced
      slices[forced ? 'forced' : 'free']++
      return forced
    })
  })
  // while the timeline waits for the batch (Waker.blocked) its reading is not background work
  let blockedNow = 0
  const blocked = Waker.prototype.blocked
  vi.spyOn(Waker.prototype, 'blocked').mockImplementation(function (this: Waker) {
    blockedNow++
    const done = blocked.call(this)
    let once = false
    return () => {
      if (!once) blockedNow--
      once = true
      done()
    }
  })
  // The waker's last 'no row due within the slack' (Waker.clearFor true, as the pause and the slack
  // release decide): a piece is judged at that decision, with the waits pending when it starts. A row
  // due within the slack that was asked for after the decision is caught; time the process spent
  // descheduled between the decision and the piece (a loaded machine: 1-5 ms now and then) is not the
  // replay's doing.
  let decidedAt = Number.NEGATIVE_INFINITY
  const clearFor = Waker.prototype.clearFor
  vi.spyOn(Waker.prototype, 'clearFor').mockImplementation(function (this: Waker, now: number, ns: number) {
    const clear = clearFor.call(this, now, ns)
    if (clear) decidedAt = now
    return clear
  })
  const look = (what: string): void => {
    pieces++
    if (inForced || blockedNow > 0) return
    const at = decidedAt
    let due = Number.POSITIVE_INFINITY
    for (const p of pending) if (p.due < due) due = p.due
    if (due - at < withinNs) near.push(`${what} with a row due ${((due - at) / 1e6).toFixed(3)} ms after the decision to go on (${((due - nowNs()) / 1e6).toFixed(3)} ms from now)`)
  }
  const wait = Waker.prototype.wait
  vi.spyOn(Waker.prototype, 'wait').mockImplementation(function (this: Waker, due: number, owner: object) {
    const token = {due}
    pending.add(token)
    const p = wait.call(this, due, owner)
    void p.then(() => pending.delete(token))
    return p
  })
  // a piece: a buffer decompressed (BatchDecoder.region, but for the already decompressed buffers the build reads through it), a build
  const proto = BatchDecoder.prototype as unknown as Record<string, (...a: unknown[]) => unknown>
  let building = false
  const region = proto.region
  vi.spyOn(proto, 'region' as never).mockImplementation(function (this: unknown, ...a: unknown[]) {
    if (!building) look('region')
    return region.apply(this, a)
  } as never)
  const build = proto.build
  vi.spyOn(proto, 'build' as never).mockImplementation(function (this: unknown, ...a: unknown[]) {
    look('build')
    building = true
    try {
      return build.apply(this, a)
    } finally {
      building = false
    }
  } as never)
  const prepare = ReplayBatch.prototype.prepare
  vi.spyOn(ReplayBatch.prototype, 'prepare').mockImplementation(function (this: ReplayBatch) {
    look('prepare')
    return prepare.call(this)
  })
  return {pieces: () => pieces, near: () => near, slices: () => slices}
}

describe('a timed replay reads its next batches in the slack between due rows', () => {
  for (const clock of ['connection', 'shared'] as const) {
    it(`clock '${clock}', 1x: no piece of a batch's reading starts with a row due within half the slack; every frame arrives`, async () => {
      const h = await replay(path, {port: 0, speed: 1, clock, settleMs: 0, atEnd: 'close'})
      try {
        // what replay() reads before it resolves (the first batches) is not in the count
        await new Promise((resolve) => setTimeout(resolve, 200))
        const w = watch(SLACK_NS / 2)
        expect(await playAll(h.url)).toBe(ROWS)
        // the batches after the first two are read while the rows before them play
        expect(w.pieces()).toBeGreaterThan(20)
        expect(w.near()).toEqual([])
        expect(w.slices().free).toBeGreaterThan(0)
      } finally {
        await h.close()
      }
    }, 30_000)
  }
})

describe('a timeline waiting for its next batch is not kept waiting for slack', () => {
  it('with rows due one after another (no slack ever), a source read to its end whenever it waits for a batch: no slack wait lasts its longest wait', async () => {
    const waker = new Waker()
    const owner = {}
    let stop = false
    // other timelines' rows: a wait always due within the slack
    const others = (async () => {
      while (!stop) await waker.wait(nowNs() + SLACK_NS / 4, owner)
    })()
    const long: number[] = []
    const slack = Waker.prototype.slack
    vi.spyOn(Waker.prototype, 'slack').mockImplementation(function (this: Waker, ns: number, maxNs: number) {
      const t0 = nowNs()
      return slack.call(this, ns, maxNs).then((forced) => {
        if (nowNs() - t0 >= SLACK_MAX_WAIT_NS) long.push(nowNs() - t0)
        return forced
      })
    })
    const src = new MergedSource([await openRecording(path)], {pauser: () => waker.pauser()})
    try {
      let rows = 0
      for (;;) {
        const n = src.next()
        let ok: boolean
        if (n === true || n === false) ok = n
        else {
          // as a timeline does (Timeline.reading)
          const done = waker.blocked()
          try {
            ok = await n
          } finally {
            done()
          }
        }
        if (!ok) break
        rows++
      }
      expect(rows).toBe(ROWS)
      expect(long).toEqual([])
    } finally {
      stop = true
      waker.close()
      await others
      await src.close()
    }
  }, 30_000)

  it("a timeline at 'max' outruns the reading: it tells the waker while it waits for a batch", async () => {
    const blocked = vi.spyOn(Waker.prototype, 'blocked')
    const h = await replay(path, {port: 0, speed: 'max', settleMs: 0, atEnd: 'close'})
    try {
      expect(await playAll(h.url)).toBe(ROWS)
      expect(blocked).toHaveBeenCalled()
    } finally {
      await h.close()
    }
  }, 30_000)
})
