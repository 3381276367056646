import {copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {MdrecError} from '../src/errors.js'
import {messageStream, openRecording, readBatches, type ReadOptions} from '../src/store/reader.js'
import {repairRecording, verifyRecording} from '../src/store/verify.js'
import {makeBigYahooRecording} from './helpers/big-recording.js'
import {messageAt, type MessageAt} from './helpers/messages.js'

const ROWS = 1_050_000
const FLUSH = 50_000

let dir: string
let big: string
let msgs: MessageAt[] = []

/** Rows of a recording read with readBatches, and the error it ended with (if any). */
async function readAll(path: string, opts: ReadOptions = {}): Promise<{rows: number; batches: number; error?: MdrecError}> {
  let rows = 0
  let batches = 0
  try {
    const file = await openRecording(path)
    for await (const {batch} of readBatches(file, opts)) {
      rows += batch.numRows
      batches++
    }
  } catch (error) {
    if (!(error instanceof MdrecError)) throw error
    return {rows, batches, error}
  }
  return {rows, batches}
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-reader-large-'))
  big = join(dir, 'big.arrow')
  await makeBigYahooRecording(big, ROWS, {flushRows: FLUSH})
  for await (const m of messageStream(big)) {
    msgs.push(messageAt(m.framed))
  }
  msgs = msgs.filter((m) => m.kind !== 'eos')
}, 120_000)

afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('a 1,050,000-row recording in 21 batches of 50,000 rows', () => {
  test('verify, repair and readBatches count every row', async () => {
    const v = await verifyRecording(big)
    expect(v.problem).toBeUndefined()
    expect(v.ok).toBe(true)
    expect(v.complete).toBe(true)
    expect(v.rowsIntact).toBe(ROWS)
    expect(v.batches).toBe(ROWS / FLUSH)
    const r = await readAll(big)
    expect(r.error).toBeUndefined()
    expect(r.rows).toBe(ROWS)
    expect(r.batches).toBe(ROWS / FLUSH)
    const out = join(dir, 'big.repaired.arrow')
    const rep = await repairRecording(big, out)
    expect(rep.rowsIntact).toBe(ROWS)
    expect((await readAll(out)).rows).toBe(ROWS)
    rmSync(out)
  }, 120_000)

  test('cut at many offsets: verify and readBatches agree on the exact intact rows, repair keeps them', async () => {
    const size = readFileSync(big).byteLength
    const dicts = msgs.filter((m) => m.kind === 'dictionary')
    const records = msgs.filter((m) => m.kind === 'record')
    expect(records.length).toBe(ROWS / FLUSH)
    expect(dicts.length).toBeGreaterThan(0)
    const cuts = new Set<number>()
    const schema = msgs[0]
    cuts.add(4)
    cuts.add(schema.metaLength >> 1)
    for (const d of dicts.slice(0, 2)) for (const k of [0, 3, 7, d.metaLength >> 1, d.metaLength + (d.bodyLength >> 1)]) cuts.add(d.offset + k)
    for (const r of [records[0], records[1], records[7], records[13], records.at(-1)!]) {
      for (const k of [0, 5, r.metaLength >> 1, r.metaLength, r.metaLength + (r.bodyLength >> 1), r.metaLength + r.bodyLength - 1]) cuts.add(r.offset + k)
    }
    // batches straddling a 1 MiB boundary (the old reader's window)
    for (const r of records.slice(0, 8)) if (Math.floor(r.offset / 2 ** 20) !== Math.floor((r.offset + r.metaLength + r.bodyLength) / 2 ** 20)) cuts.add(r.offset + r.metaLength + 17)
    cuts.add(size - 8) // the end-of-stream marker is gone
    cuts.add(size - 4) // half of it
    cuts.add(size - 1)
    let k = 0
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      const p = join(dir, `cut-${k++}.arrow`)
      copyFileSync(big, p)
      truncateSync(p, cut)
      // Rows of the record batches that end at or before the cut.
      const expected = records.filter((r) => r.offset + r.metaLength + r.bodyLength <= cut).reduce((a, r) => a + r.rows, 0)
      const label = `cut at ${cut}`
      if (cut < schema.metaLength + schema.bodyLength) {
        await expect(verifyRecording(p), label).rejects.toMatchObject({code: 'E_TRUNCATED'})
        await expect(openRecording(p), label).rejects.toMatchObject({code: 'E_TRUNCATED'})
        rmSync(p)
        continue
      }
      const v = await verifyRecording(p)
      expect(v.rowsIntact, label).toBe(expected)
      expect(v.complete, label).toBe(false)
      const r = await readAll(p)
      expect(r.rows, label).toBe(expected)
      expect(r.rows, label).toBe(v.rowsIntact)
      const atBoundary = msgs.some((m) => m.offset === cut) || cut === size - 8
      if (atBoundary) {
        expect(v.problem, label).toBeUndefined()
        expect(r.error, label).toBeUndefined()
      } else {
        expect(v.problem?.offset, label).toBeGreaterThanOrEqual(0)
        expect(r.error?.code, label).toBe('E_TRUNCATED')
        expect(r.error?.message, label).toContain(p)
        expect(r.error?.message, label).toMatch(new RegExp(`byte ${v.problem!.offset}\\b`))
        // a cut before any complete batch: nothing to repair, so no advice to
        expect(r.error?.message, label).toContain(expected === 0 ? 'no row is recoverable' : `${expected} rows`)
        if (expected === 0) expect(r.error?.message, label).not.toContain('verify --repair')
      }
      if (k % 4 === 0 || cut === size - 4) {
        // Repair (every 4th cut: each one re-reads the file twice more).
        const out = join(dir, `cut-${k}.repaired.arrow`)
        const rep = await repairRecording(p, out)
        expect(rep.rowsIntact, label).toBe(expected)
        // nothing to recover: no 0-row copy
        expect(existsSync(out), label).toBe(expected > 0)
        if (expected === 0) {
          rmSync(p)
          continue
        }
        const back = await readAll(out)
        expect(back.error, label).toBeUndefined()
        expect(back.rows, label).toBe(expected)
        rmSync(out)
      }
      rmSync(p)
    }
    console.log(`reader-large: ${k} cuts of a ${size}-byte file checked`)
    expect(k).toBeGreaterThan(40)
  }, 600_000)

  test('a flipped byte in a middle batch: the batches before it read, then E_CORRUPT naming the offset', async () => {
    const target = msgs.filter((m) => m.kind === 'record')[10]
    const p = join(dir, 'flip.arrow')
    const bytes = readFileSync(big)
    bytes[target.offset + target.metaLength + (target.bodyLength >> 1)] ^= 0x10
    writeFileSync(p, bytes)
    const before = msgs.filter((m) => m.kind === 'record' && m.offset < target.offset).reduce((a, r) => a + r.rows, 0)
    const v = await verifyRecording(p)
    expect(v.ok).toBe(false)
    expect(v.rowsIntact).toBe(before)
    expect(v.problem?.offset).toBe(target.offset)
    const r = await readAll(p)
    expect(r.rows).toBe(before)
    expect(r.error?.code).toBe('E_CORRUPT')
    expect(r.error?.message).toContain(`byte ${target.offset}`)
    // decoding cooperatively (replay's readers) finds the same damage and says the same
    const coop = await readAll(p, {pause: () => new Promise((resolve) => setImmediate(resolve))})
    expect(coop.rows).toBe(before)
    expect(coop.error?.message).toBe(r.error?.message)
    rmSync(p)
  }, 120_000)

  test('decoding cooperatively (ReadOptions.pause) gives the event loop back inside each batch and yields the same batches', async () => {
    const file = await openRecording(big)
    let pauses = 0
    const pause = () => {
      pauses++
      return new Promise<void>((resolve) => setImmediate(resolve))
    }
    const sums = async (opts: ReadOptions) => {
      const out: string[] = []
      for await (const {batch} of readBatches(file, opts)) {
        const ts = batch.getChild('recv_ts')!.data[0].values as BigInt64Array
        const price = batch.getChild('price')!.data[0].values as Float32Array
        let a = 0n
        let b = 0
        for (let i = 0; i < batch.numRows; i++) {
          a += ts[i]
          b += price[i]
        }
        out.push(`${batch.numRows} ${a} ${b}`)
      }
      return out
    }
    const coop = await sums({pause})
    // a 50,000-row batch is ~80 compressed buffers, milliseconds of zstd: it pauses at least once in each
    expect(pauses).toBeGreaterThanOrEqual(ROWS / FLUSH)
    expect(coop).toEqual(await sums({}))
  }, 120_000)
})
