/**
 * The writer's second zstd thread (src/store/zstd-pool.ts): a large batch's
 * buffers are compressed half on a worker thread, and the file is byte for
 * byte what one thread writes, live and closed; when the worker's share does
 * not come back, the writer compresses it itself and the file is the same.
 */
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it, vi} from 'vitest'

import {zstdHelper} from '../src/store/zstd-pool.js'
import {makeBigYahooRecording} from './helpers/big-recording.js'
import {createYahooWriter} from './helpers/recording.js'
import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'

const dir = mkdtempSync(join(tmpdir(), 'mdrec-zstd-helper-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const saved = process.env.MDREC_ZSTD_THREADS
afterEach(() => {
  vi.restoreAllMocks()
  if (saved === undefined) delete process.env.MDREC_ZSTD_THREADS
  else process.env.MDREC_ZSTD_THREADS = saved
})

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

/** 200,000 rows in 50,000-row batches, live (no compaction) or closed (compacted into 65,536-row batches). */
async function write(name: string, threads: '1' | '2', closed: boolean): Promise<string> {
  process.env.MDREC_ZSTD_THREADS = threads
  const path = join(dir, name)
  if (!closed) await makeBigYahooRecording(path, 200_000, {flushRows: 50_000})
  else {
    const w = createYahooWriter(path, {flushRows: 50_000, compactOnClose: true})
    for (const f of syntheticYahooTape({frames: 200_000, symbols: 50, seed: 1})) {
      const {id, time, ...fields} = f.data
      w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    }
    await w.close()
  }
  return sha(path)
}

describe('the zstd helper thread', () => {
  for (const closed of [false, true]) {
    it(`${closed ? 'a closed file (compaction)' : 'a live file'}: the helper takes a share of every large batch, and the bytes equal one thread's`, async () => {
      const before = zstdHelper.jobs
      const two = await write(`two-${closed}.arrow`, '2', closed)
      expect(zstdHelper.jobs - before).toBeGreaterThanOrEqual(4)
      const after = zstdHelper.jobs
      const one = await write(`one-${closed}.arrow`, '1', closed)
      expect(zstdHelper.jobs).toBe(after)
      expect(two).toBe(one)
    }, 120_000)
  }

  it("when the worker's share does not come back, the writer compresses it itself: same bytes", async () => {
    const one = await write('one-fallback.arrow', '1', false)
    const finish = vi.spyOn(zstdHelper, 'finish').mockReturnValue(null)
    const fallback = await write('fallback.arrow', '2', false)
    expect(finish).toHaveBeenCalled()
    expect(fallback).toBe(one)
  }, 120_000)
})
