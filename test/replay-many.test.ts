/**
 * Many clients on connection clocks share the work of reading and decoding
 * the recording (one decoded-batch cache per file): every client still gets
 * the whole recording, byte for byte the same; the file is read about once,
 * not once per client; and once they leave the cache holds what it held
 * before the first came (the first batch and the one read ahead, for the next
 * connection's warm start), whichever way they left.
 */
import {createHash} from 'node:crypto'
import {once} from 'node:events'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {replay} from '../src/replay/engine.js'
import {EVICTED, MergedSource, SharedBatches} from '../src/replay/rows.js'
import {openRecording} from '../src/store/reader.js'
import {makeYahooRecording} from './helpers/recording.js'
import {until} from './replay-clients.js'

const ROWS = 20_000
/** Rows per batch: 20 batches. */
const BATCH_ROWS = 1000
const CLIENTS = 50
const SYMBOLS = ['A', 'B', 'C', 'D', 'E']

let dir: string
let file: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-many-'))
  file = join(dir, 'many.arrow')
  await makeYahooRecording(file, ROWS, {symbols: SYMBOLS, writer: {flushRows: BATCH_ROWS, compactOnClose: false}})
}, 60_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Decoded size of the first two batches: what the cache holds with no client (the warm start's batch and the one read ahead). */
async function idleBytes(): Promise<number> {
  const c = new SharedBatches(await openRecording(file), 0, {})
  await c.get(0)
  await c.get(1)
  const bytes = c.heldBytes
  c.reset() // closes its reader (and the file), as the replay does with no timeline left
  return bytes
}

/** A client that subscribes to everything and hashes every frame until `n` have arrived. */
async function client(url: string, n: number): Promise<{count: number; digest: string}> {
  const ws = new WebSocket(url)
  const h = createHash('sha256')
  let count = 0
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => {
      if (count >= n) return // frames already in flight when it closes
      h.update(d as Buffer)
      if (++count === n) resolve()
    })
    ws.once('close', () => reject(new Error(`closed after ${count} frames`)))
  })
  await once(ws, 'open')
  ws.send(JSON.stringify({subscribe: SYMBOLS}))
  await done
  ws.close()
  return {count, digest: h.digest('hex')}
}


describe('connection clocks share one decoded-batch cache', () => {
  it(`${CLIENTS} clients at max: each gets all ${ROWS} frames, identical; the file is decoded about once; the cache goes back to its idle size when they leave`, async () => {
    const idle = await idleBytes()
    const h = await replay(file, {port: 0, speed: 'max', settleMs: 0})
    try {
      await until('the warm start to be read', () => h.stats().cacheBytes === idle, 30_000)
      const solo = await client(h.url, ROWS)
      await until('the solo client to leave', () => h.stats().connected === 0, 30_000)
      await until(`the cache to hold ${idle} bytes`, () => h.stats().cacheBytes === idle, 30_000)
      const readsSolo = h.stats().batchesRead
      // one play: the batches, one read that finds the end, and the next warm start's two
      expect(readsSolo).toBeLessThanOrEqual(ROWS / BATCH_ROWS + 4)

      const before = h.stats().batchesRead
      const all = await Promise.all(Array.from({length: CLIENTS}, () => client(h.url, ROWS)))
      for (const r of all) expect(r).toEqual(solo)
      const reads = h.stats().batchesRead - before
      // shared: not one read of the file per client (50 × 21 without the cache)
      expect(reads).toBeLessThanOrEqual(3 * (ROWS / BATCH_ROWS + 2))
      await until('the clients to leave', () => h.stats().connected === 0, 30_000)
      await until(`the cache to hold ${idle} bytes`, () => h.stats().cacheBytes === idle, 30_000)
    } finally {
      await h.close()
    }
  }, 120_000)

  it('clients that leave in the middle of the recording leave the cache as it was before they came', async () => {
    const idle = await idleBytes()
    const h = await replay(file, {port: 0, speed: 'max', settleMs: 0})
    try {
      for (const n of [1, BATCH_ROWS * 5 + 1, ROWS / 2]) {
        await Promise.all(Array.from({length: 3}, () => client(h.url, n)))
        await until('the clients to leave', () => h.stats().connected === 0, 30_000)
        await until(`the cache to hold ${idle} bytes after clients left at frame ${n}`, () => h.stats().cacheBytes === idle, 30_000)
      }
    } finally {
      await h.close()
    }
  }, 120_000)

  it('a batch the cache has let go of is read by the late cursor on its own: same rows', async () => {
    const rec = await openRecording(file)
    // a budget of one byte keeps only the batch just read
    const cache = [new SharedBatches(rec, 0, {}, 1)]
    const rows = async (src: MergedSource): Promise<bigint[]> => {
      const out: bigint[] = []
      for (let ok = await src.next(); ok; ) {
        out.push(src.ts)
        const n = src.next()
        ok = n === true || n === false ? n : await n
      }
      await src.close()
      return out
    }
    const first = await rows(new MergedSource([rec], {shared: cache}))
    expect(first.length).toBe(ROWS)
    expect(cache[0].get(0)).toBe(EVICTED)
    const late = await rows(new MergedSource([rec], {shared: cache}))
    expect(late).toEqual(first)
    const own = await rows(new MergedSource([rec]))
    expect(own).toEqual(first)
    cache[0].reset()
    expect(cache[0].heldBytes).toBe(0)
  }, 60_000)
})
