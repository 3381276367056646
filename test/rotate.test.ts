// Rotated parts of one run: one run id, part indices in order, seq continuous
// across parts, one start time (the run's) in every part.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {Recorder} from '../src/record/recorder.js'
import {openRecording, readBatches} from '../src/store/reader.js'
import {TestFeed, sleep} from './helpers/feed.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

describe('rotation', () => {
  it('size rotation: same run id, parts 0,1,2… and seq strictly continuous across parts', async () => {
    const syms = ['NVDA', 'TSLA', 'AAPL', 'AMD']
    const feed = await TestFeed.start(syms)
    const dir = mkdtempSync(join(tmpdir(), 'mdrec-rotate-'))
    dirs.push(dir)
    try {
      const logs: string[] = []
      const rec = await Recorder.start({
        feed: 'yahoo',
        symbols: syms,
        url: feed.server.url(2),
        out: join(dir, 'run.arrow'),
        rotate: {kind: 'size', bytes: 16 * 1024},
        flushIntervalMs: 50,
        log: (l) => logs.push(l),
      })
      await feed.waitForSubscribe()
      const t0 = Date.now()
      while (Date.now() - t0 < 1500 && feed.sent.length < 20_000) {
        for (let i = 0; i < 40; i++) feed.publishNext()
        await sleep(10)
      }
      await feed.drained()
      await sleep(200)
      const summary = await rec.stop()
      expect(summary.files.length).toBeGreaterThanOrEqual(4)
      expect(summary.rows).toBe(feed.sent.length)

      const runIds = new Set<string | undefined>()
      const starts = new Set<string>()
      let expectSeq = 0n
      for (const [part, f] of summary.files.entries()) {
        const file = await openRecording(f)
        runIds.add(file.meta.runId)
        starts.add(file.meta.startTime)
        expect(file.meta.part).toBe(part)
        let rows = 0
        for await (const {batch, idx} of readBatches(file)) {
          // readBatches' idx is the arrival order (a closed v2 file stores rows clustered by symbol)
          const s = batch.getChild('seq')!.data[0]
          const vals = (s.values as BigUint64Array).subarray(s.offset, s.offset + s.length)
          for (let k = 0; k < vals.length; k++) {
            expect(vals[idx ? idx[k] : k]).toBe(expectSeq)
            expectSeq++
          }
          rows += batch.numRows
        }
        expect(file.meta.rows).toBe(rows)
      }
      expect(expectSeq).toBe(BigInt(feed.sent.length))
      expect(runIds.size).toBe(1)
      const [runId] = runIds
      expect(runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      expect(starts.size).toBe(1)
    } finally {
      await feed.server.close()
    }
  }, 60_000)

  it('a single-file run carries a run id and no part index', async () => {
    const feed = await TestFeed.start(['AAPL'])
    const dir = mkdtempSync(join(tmpdir(), 'mdrec-rotate-'))
    dirs.push(dir)
    try {
      const rec = await Recorder.start({feed: 'yahoo', symbols: ['AAPL'], url: feed.server.url(2), out: join(dir, 'one.arrow'), flushIntervalMs: 50})
      await feed.waitForSubscribe()
      for (let i = 0; i < 100; i++) feed.publishNext()
      await feed.drained()
      await sleep(200)
      const summary = await rec.stop()
      const file = await openRecording(summary.files[0])
      expect(file.meta.runId).toMatch(/^[0-9a-f-]{36}$/)
      expect(file.meta.part).toBeUndefined()
    } finally {
      await feed.server.close()
    }
  }, 30_000)
})
