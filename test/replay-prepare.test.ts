/**
 * Work done ahead of the schedule: what a timed replay can do before a row is
 * due is done then, so that at the due time only the write is left.
 *
 * - Every record batch is prepared (its summary: symbols used, gap and
 *   reject rows; the symbol strings) as soon as it is read, the first one
 *   before a timeline starts and each next one while the rows before it
 *   play, not when its first row is due.
 * - A client's first frame is encoded when it connects (before it
 *   subscribes), and each later frame in the slack before its due time.
 *
 * Behaviour only (what was done before what), never wall-clock figures: the
 * timing itself is measured by `node bench/replay.mjs client-timing`.
 */
import {once} from 'node:events'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest'
import {WebSocket} from 'ws'

import {yahooReplay} from '../src/feeds/yahoo/replay.js'
import {replay} from '../src/replay/engine.js'
import type {RowEncoder} from '../src/replay/feed.js'
import {MergedSource, ReplayBatch, SharedBatches} from '../src/replay/rows.js'
import {nowNs} from '../src/replay/scheduler.js'
import {BatchDecoder} from '../src/store/ipc.js'
import {openRecording} from '../src/store/reader.js'
import {makeYahooRecording} from './helpers/recording.js'
import {until} from './replay-clients.js'

const SYMBOLS = ['A', 'B', 'C']
let dir: string
/** 4,000 rows in 4 batches. */
let batched: string
/** 30 rows, 25 ms apart on average (about 0.75 s at 1x). */
let paced: string
let pacedTs: bigint[]

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-prepare-'))
  batched = join(dir, 'batched.arrow')
  paced = join(dir, 'paced.arrow')
  await makeYahooRecording(batched, 4000, {symbols: SYMBOLS, writer: {flushRows: 1000, compactOnClose: false}})
  const {sent} = await makeYahooRecording(paced, 30, {symbols: SYMBOLS, meanGapMs: 25, writer: {compactOnClose: false}})
  pacedTs = sent.map((f) => f.recv_ts)
}, 60_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))
afterEach(() => {
  vi.restoreAllMocks()
})

describe('record batches are prepared when read', () => {
  for (const shared of [false, true]) {
    it(`${shared ? 'through the shared cache' : 'with a reader of its own'}: the first batch before the first row is read, the next one while the first plays`, async () => {
      const summarized = new Set<ReplayBatch>()
      const orig = ReplayBatch.prototype.summary
      vi.spyOn(ReplayBatch.prototype, 'summary').mockImplementation(function (this: ReplayBatch) {
        summarized.add(this)
        return orig.call(this)
      })
      const rec = await openRecording(batched)
      const cache = shared ? [new SharedBatches(rec, 0, {})] : undefined
      const src = new MergedSource([rec], {shared: cache})
      try {
        expect(await src.next()).toBe(true)
        const first = src.batch
        expect(summarized.has(first)).toBe(true)
        // the batch after it is read ahead (and prepared) without the source moving on
        await until('the next batch to be prepared', () => summarized.size >= 2, 10_000)
        expect(src.batch).toBe(first)
        expect(src.row).toBe(first.at(0))
      } finally {
        await src.close()
        cache?.[0].reset() // a cache's reader (and file) is closed by its owner, as the replay does
      }
    })
  }
})

describe('record batches are decompressed a buffer at a time, giving the event loop back between them', () => {
  for (const shared of [false, true]) {
    it(`${shared ? 'through the shared cache' : 'with a reader of its own'}: every batch goes through BatchDecoder.recordCooperative, none through the one-go record()`, async () => {
      const coop = vi.spyOn(BatchDecoder.prototype, 'recordCooperative')
      const oneGo = vi.spyOn(BatchDecoder.prototype, 'record')
      const rec = await openRecording(batched)
      const cache = shared ? [new SharedBatches(rec, 0, {})] : undefined
      const src = new MergedSource([rec], {shared: cache})
      try {
        let rows = 0
        while (await src.next()) rows++
        expect(rows).toBe(4000)
        expect(coop.mock.calls.length).toBeGreaterThanOrEqual(4)
        expect(oneGo).not.toHaveBeenCalled()
      } finally {
        await src.close()
        cache?.[0].reset() // a cache's reader (and file) is closed by its owner, as the replay does
      }
    })
  }
})

describe('replay() resolves ready to play', () => {
  for (const clock of ['connection', 'shared'] as const) {
    it(`clock '${clock}': the first record batch is read when replay() resolves`, async () => {
      const h = await replay(batched, {port: 0, speed: 1, clock})
      try {
        if (clock === 'connection') expect(h.stats().batchesRead).toBeGreaterThanOrEqual(1)
        // nothing is played before a client subscribes
        expect(h.stats().framesSent).toBe(0)
      } finally {
        await h.close()
      }
    })
  }
})

describe('frames are encoded before they are due', () => {
  for (const clock of ['connection', 'shared'] as const) {
  it(`clock '${clock}', a client at 1x: ${clock === 'connection' ? 'its first frame is encoded before it subscribes, ' : ''}most frames are encoded before their due time; it gets every frame`, async () => {
    // every encode: the row (by receive time) and when (monotonic ns)
    const calls: {ts: bigint; at: number}[] = []
    const makeEncoder = yahooReplay.encoder.bind(yahooReplay)
    vi.spyOn(yahooReplay, 'encoder').mockImplementation((f) => {
      const enc = makeEncoder(f)
      const wrapped: RowEncoder = {
        encode(b, i, variant, shiftNs) {
          calls.push({ts: b.recvTs(i), at: nowNs()})
          return enc.encode(b, i, variant, shiftNs)
        },
      }
      return wrapped
    })
    // the due time of each send: the moment it is sent minus its lateness
    const dues: number[] = []
    const h = await replay(paced, {
      port: 0,
      speed: 1,
      clock,
      settleMs: 0,
      atEnd: 'close',
      onLateness: (late) => {
        dues.push(nowNs() - late)
      },
    })
    try {
      // the replay warms its encoders with the first row as it starts: let that pass
      await new Promise((resolve) => setTimeout(resolve, 300))
      const connectAt = nowNs()
      const ws = new WebSocket(h.url)
      let got = 0
      ws.on('message', () => got++)
      const closed = once(ws, 'close')
      await once(ws, 'open')
      if (clock === 'connection') {
        const firstEncoded = () => calls.find((c) => c.ts === pacedTs[0] && c.at > connectAt)
        await until('the first frame to be encoded for the connected client', () => firstEncoded() !== undefined, 10_000)
        const subscribedAt = nowNs()
        expect(firstEncoded()!.at).toBeLessThan(subscribedAt)
      }
      ws.send(JSON.stringify({subscribe: SYMBOLS}))
      await closed
      expect(got).toBe(pacedTs.length)
      expect(dues.length).toBe(pacedTs.length)
      let ahead = 0
      for (let k = 1; k < pacedTs.length; k++) {
        const first = calls.find((c) => c.ts === pacedTs[k])
        if (first !== undefined && first.at < dues[k]) ahead++
      }
      // a row the timeline reaches only after it is due (a busy machine) is encoded when sent
      expect(ahead).toBeGreaterThanOrEqual((pacedTs.length - 1) / 2)
    } finally {
      await h.close()
    }
  }, 30_000)
  }
})
