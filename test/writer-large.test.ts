// Bounded, crash-safe writing: batches bounded by bytes as well as rows,
// real-size compaction, a failed write leaves no hole, and every derived
// file (compaction, slice, repair) appears whole or not at all.
import * as A from 'apache-arrow'
import {spawn} from 'node:child_process'
import * as fs from 'node:fs'
import {existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, describe, expect, it, vi} from 'vitest'

import {yahooCodec} from '../src/feeds/yahoo/adapter.js'
import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import type {RowInput} from '../src/feeds/types.js'
import {Recorder} from '../src/record/recorder.js'
import {openRecording, readBatches, readRows} from '../src/store/reader.js'
import {sliceRecording} from '../src/store/slice.js'
import {repairRecording, verifyRecording} from '../src/store/verify.js'
import {RecordingWriter, compactRecording, type WriterOptions} from '../src/store/writer.js'
import {TestFeed, sleep} from './helpers/feed.js'

// One failing write on demand (a full disk without a full disk): the writer's
// own fs calls go through this mock; everything else uses the real module.
const failing = vi.hoisted(() => ({nth: -1, count: 0}))
vi.mock('node:fs', async (orig) => {
  const real = (await orig()) as typeof import('node:fs')
  const writeSync = ((fd: number, buf: Uint8Array, off?: number, len?: number, pos?: number | null) => {
    if (typeof buf !== 'string' && failing.nth >= 0 && failing.count++ === failing.nth) {
      // write half of it, then fail like a disk that just filled up
      const half = Math.floor((len ?? buf.byteLength) / 2)
      real.writeSync(fd, buf, off ?? 0, half, pos ?? null)
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC', errno: -28, syscall: 'write'})
    }
    return (real.writeSync as (...a: unknown[]) => number)(fd, buf, off, len, pos)
  }) as typeof real.writeSync
  return {...real, default: {...real, writeSync}, writeSync}
})

const dirs: string[] = []
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'mdrec-wlarge-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, {recursive: true, force: true})
})

const META = {
  feed: 'yahoo',
  endpoint: 'ws://127.0.0.1:1/?version=2',
  subscriptions: [],
  feedOptions: {envelope: 'v2'},
  toolVersion: 'test',
  startTime: '2025-11-24T10:40:00.000000000Z',
  rawMode: 'auto' as const,
}

function yahooWriter(path: string, opts: WriterOptions): RecordingWriter {
  const codec = yahooCodec('v2')
  return RecordingWriter.create(path, {meta: META, exchTsUnit: codec.exchTsUnit, columns: codec.columns}, {flushIntervalMs: 0, fsync: false, ...opts})
}

/** A Yahoo recording of `rows` synthetic ticks, streamed (no frame kept in memory). */
async function bigRecording(path: string, rows: number, opts: WriterOptions): Promise<void> {
  const w = yahooWriter(path, opts)
  for (const f of syntheticYahooTape({frames: rows, symbols: 50, seed: 3})) {
    const {id, time, ...fields} = f.data
    w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
  }
  await w.close()
}

function rejectRow(i: number, bytes: number): RowInput {
  const raw = new Uint8Array(bytes)
  for (let k = 0; k < bytes; k += 4096) raw[k] = (i + k) & 0xff
  return {recv_ts: 1_000_000_000n + BigInt(i), exch_ts: null, symbol: '', kind: 'reject', raw, info: `{"code":"BAD_JSON","n":${i}}`, fields: null}
}

/** Uncompressed size of every Arrow buffer of a column (values, offsets, validity, children). */
function dataBytes(d: A.Data): number {
  let n = 0
  for (const b of [d.values, d.valueOffsets, d.nullBitmap] as (ArrayBufferView | undefined)[]) if (b) n += b.byteLength
  for (const c of d.children) n += dataBytes(c)
  return n
}

async function batchShapes(path: string): Promise<{rows: number; bytes: number}[]> {
  const out: {rows: number; bytes: number}[] = []
  const file = await openRecording(path)
  // the columns the file stores (a closed file leaves out those null throughout; the reader's all-null stand-ins share one zero buffer)
  const absent = new Set(file.nullColumns.map((c) => c.at))
  for await (const {batch} of readBatches(file)) {
    let bytes = 0
    for (let i = 0; i < batch.numCols; i++) if (!absent.has(i)) for (const d of batch.getChildAt(i)!.data) bytes += dataBytes(d)
    out.push({rows: batch.numRows, bytes})
  }
  return out
}

async function seqs(path: string): Promise<bigint[]> {
  const out: bigint[] = []
  for await (const {batch, idx} of readBatches(await openRecording(path))) {
    // in arrival order: readBatches' idx restores it where a closed v2 file stores rows clustered by symbol
    const s = batch.getChild('seq')!.data[0]
    const vals = (s.values as BigUint64Array).subarray(s.offset, s.offset + s.length)
    for (let k = 0; k < vals.length; k++) out.push(vals[idx ? idx[k] : k])
  }
  return out
}

describe('batches bounded by bytes', () => {
  const BOUND = 1 << 20

  it('live flushes, compaction and slice keep every batch within the byte bound (a larger row alone)', async () => {
    const dir = tmp()
    const path = join(dir, 'big-rows.arrow')
    const w = yahooWriter(path, {batchBytes: BOUND, compactOnClose: false, flushRows: 100_000})
    const sizes = [300_000, 300_000, 300_000, 300_000, 3_000_000, 10, 10, 700_000, 700_000, 200_000]
    for (let i = 0; i < 40; i++) w.append(rejectRow(i, sizes[i % sizes.length]))
    await w.close()
    const check = (shapes: {rows: number; bytes: number}[]) => {
      expect(shapes.reduce((s, b) => s + b.rows, 0)).toBe(40)
      for (const b of shapes) if (b.rows > 1) expect(b.bytes).toBeLessThanOrEqual(BOUND)
      // the 3 MB rows are batches of their own
      expect(shapes.filter((b) => b.bytes > BOUND).every((b) => b.rows === 1)).toBe(true)
      expect(shapes.filter((b) => b.bytes > BOUND).length).toBe(4)
    }
    const live = await batchShapes(path)
    check(live)
    // live: 300 kB rows, three to a batch (a fourth would pass 1 MiB)
    expect(live[0].rows).toBe(3)

    const payloadsIntact = async (p: string, from = 0) => {
      let i = from
      for await (const r of readRows(await openRecording(p))) {
        const want = rejectRow(i++, sizes[(i - 1) % sizes.length]).raw!
        expect(r.raw!.length).toBe(want.length)
        expect(Buffer.from(r.raw!).equals(Buffer.from(want))).toBe(true)
      }
      expect(i).toBe(40)
    }
    await payloadsIntact(path)
    await compactRecording(path, {batchBytes: BOUND})
    check(await batchShapes(path))
    await payloadsIntact(path)
    expect(await seqs(path)).toEqual(Array.from({length: 40}, (_, i) => BigInt(i)))

    const cut = join(dir, 'cut.arrow')
    await sliceRecording(path, cut, {from: 1_000_000_005n, batchBytes: BOUND})
    const sliced = await batchShapes(cut)
    expect(sliced.reduce((s, b) => s + b.rows, 0)).toBe(35)
    await payloadsIntact(cut, 5)
    for (const b of sliced) if (b.rows > 1) expect(b.bytes).toBeLessThanOrEqual(BOUND)
  })

  it('refuses a single value over the largest frame with a clear error and keeps writing', async () => {
    const {MAX_FRAME_BYTES} = await import('../src/store/writer.js')
    expect(MAX_FRAME_BYTES).toBeGreaterThan(0)
    const path = join(tmp(), 'huge.arrow')
    const w = yahooWriter(path, {compactOnClose: false})
    w.append(rejectRow(0, 10))
    const huge = {...rejectRow(1, 0), raw: {length: MAX_FRAME_BYTES + 1} as unknown as Uint8Array}
    expect(() => w.append(huge)).toThrow(/larger than the largest value mdrec stores/)
    w.append(rejectRow(2, 10))
    await w.close()
    expect((await batchShapes(path)).reduce((s, b) => s + b.rows, 0)).toBe(2)
  })
})

describe('large payloads and zstd', () => {
  it('stores a large incompressible payload as it is and still compresses a large compressible one, both exact', async () => {
    const {randomBytes} = await import('node:crypto')
    const path = join(tmp(), 'payloads.arrow')
    const w = yahooWriter(path, {compactOnClose: false})
    const noise = randomBytes(6 << 20)
    const text = Buffer.from('{"type":"trade","price":"95000000.0","size":"0.001"}'.repeat(130_000))
    w.append({...rejectRow(0, 0), raw: noise})
    w.append({...rejectRow(1, 0), raw: text})
    await w.close()
    const size = statSync(path).size
    // the noise is kept whole (≈6 MiB); the text shrinks to a small part of its 6.5 MB
    expect(size).toBeGreaterThan(noise.length)
    expect(size).toBeLessThan(noise.length + text.length / 4)
    const got: Buffer[] = []
    for await (const r of readRows(await openRecording(path))) got.push(Buffer.from(r.raw!))
    expect(got[0].equals(noise)).toBe(true)
    expect(got[1].equals(text)).toBe(true)
    expect((await verifyRecording(path)).ok).toBe(true)
  })
})

describe('a frame over the largest mdrec records', () => {
  it('ends the connection with a gap naming the limit, and recording goes on after the reconnect', async () => {
    const {MAX_FRAME_BYTES} = await import('../src/store/writer.js')
    const feed = await TestFeed.start(['AAPL'])
    try {
      const rec = await Recorder.start({feed: 'yahoo', symbols: ['AAPL'], url: feed.server.url(2), out: join(tmp(), 'huge-frame.arrow'), flushIntervalMs: 50})
      await feed.waitForSubscribe()
      feed.publishNext()
      feed.sendRaw('x'.repeat(MAX_FRAME_BYTES + 1))
      const resubscribed = feed.waitForSubscribe()
      await resubscribed
      for (let i = 0; i < 10; i++) feed.publishNext()
      await feed.drained()
      await sleep(300)
      const s = await rec.stop()
      const rows = []
      for await (const r of readRows(await openRecording(s.files[0]))) rows.push(r)
      const gaps = rows.filter((r) => r.kind === 'gap')
      expect(gaps.length).toBe(1)
      expect(JSON.parse(gaps[0].info!).reason).toMatch(/larger than 67108864 bytes, the largest mdrec records/)
      expect(rows.filter((r) => r.kind === 'tick').length).toBe(11)
    } finally {
      await feed.server.close()
    }
  }, 30_000)
})

describe('at real size', () => {
  it('1,000,000 rows in 25 live batches compact to exact 65,536-row batches, or byte-bounded ones', async () => {
    const dir = tmp()
    const path = join(dir, 'million.arrow')
    await bigRecording(path, 1_000_000, {flushRows: 40_000, compactOnClose: false})
    const live = await batchShapes(path)
    expect(live.length).toBe(25)
    expect(live.reduce((s, b) => s + b.rows, 0)).toBe(1_000_000)

    await compactRecording(path)
    const shapes = await batchShapes(path)
    expect(shapes.reduce((s, b) => s + b.rows, 0)).toBe(1_000_000)
    expect(shapes.length).toBe(Math.ceil(1_000_000 / 65_536))
    expect(shapes.slice(0, -1).every((b) => b.rows === 65_536)).toBe(true)
    expect((await openRecording(path)).meta.rows).toBe(1_000_000)
    const s = await seqs(path)
    expect(s.length).toBe(1_000_000)
    expect(s.every((v, i) => v === BigInt(i))).toBe(true)

    // the byte bound cuts first when it is the tighter one
    const bound = 2 << 20
    await compactRecording(path, {batchBytes: bound})
    const byBytes = await batchShapes(path)
    expect(byBytes.reduce((s2, b) => s2 + b.rows, 0)).toBe(1_000_000)
    expect(byBytes.length).toBeGreaterThan(20)
    for (const b of byBytes) expect(b.bytes).toBeLessThanOrEqual(bound)
    // ... and fills batches past half of it (no tiny batches but the last: a batch is written
    // early only at the end of an input batch holding half the bound, docs/FORMAT.md; the
    // writer's estimate counts validity as a byte a row, an upper bound)
    for (const b of byBytes.slice(0, -1)) expect(b.bytes).toBeGreaterThan(bound * 0.5)
    // two compactions of 1M rows, each clustering rows by symbol at zstd 7 (format v2): 127 s under a full-suite load of 11 on 2 cores
  }, 240_000)
})

describe('a failed write leaves no hole', () => {
  it('after ENOSPC mid-batch, later batches and the end marker follow the last good batch directly', async () => {
    const path = join(tmp(), 'enospc.arrow')
    const w = yahooWriter(path, {compactOnClose: false, flushRows: 1000})
    const rows = [...syntheticYahooTape({frames: 5000, symbols: 5, seed: 9})]
    const toRow = (f: (typeof rows)[number], sym?: string): RowInput => {
      const {id, time, ...fields} = f.data
      return {recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: sym ?? id ?? '', kind: 'tick', raw: null, info: null, fields}
    }
    for (const f of rows.slice(0, 2000)) w.append(toRow(f)) // two good batches
    const goodBytes = w.stats.bytes
    const before = readFileSync(path)
    failing.count = 0
    failing.nth = 0 // the next write fails halfway
    let err: unknown
    try {
      // new symbols: the failed batch carried a dictionary message too
      for (const f of rows.slice(2000, 3000)) w.append(toRow(f, `NEW${f.data.id}`))
    } catch (error) {
      err = error
    } finally {
      failing.nth = -1
    }
    expect(String(err)).toMatch(/no space left on device/)
    expect(statSync(path).size).toBe(goodBytes)
    for (const f of rows.slice(3000, 5000)) w.append(toRow(f, `NEW${f.data.id}`))
    await w.close()
    const bytes = readFileSync(path)
    expect(bytes.subarray(0, goodBytes).equals(before)).toBe(true)
    // no run of zeros where the failed half batch was
    let zeros = 0
    let longest = 0
    for (const b of bytes) longest = Math.max(longest, (zeros = b === 0 ? zeros + 1 : 0))
    expect(longest).toBeLessThan(64)
    const v = await verifyRecording(path)
    expect(v.ok).toBe(true)
    expect(v.complete).toBe(true)
    expect(v.validBytes).toBe(bytes.length)
    let n = 0
    const syms = new Set<string>()
    for await (const {batch} of readBatches(await openRecording(path))) {
      n += batch.numRows
      for (const s of batch.getChild('symbol')!) syms.add(s as string)
    }
    expect(n).toBe(4000)
    expect([...syms].some((s) => s.startsWith('NEW'))).toBe(true)
  })
})

describe('derived files appear whole or not at all', () => {
  const root = resolve(__dirname, '..')
  const child = (dir: string, body: string): string => {
    const p = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`)
    writeFileSync(p, body)
    return p
  }
  /** Run `script`, SIGKILL it as soon as its partial output exists with some bytes. */
  async function killHalfway(script: string, dir: string, prefix: string): Promise<boolean> {
    const c = spawn(process.execPath, [script], {stdio: 'ignore'})
    const exited = new Promise<void>((r) => c.on('exit', () => r()))
    const t0 = Date.now()
    let killed = false
    while (Date.now() - t0 < 30_000 && c.exitCode === null) {
      const partial = readdirSync(dir).find((n) => n.startsWith(prefix) && n.endsWith('.mdrec-partial'))
      if (partial && statSync(join(dir, partial)).size > 100_000) {
        c.kill('SIGKILL')
        killed = true
        break
      }
      await new Promise((r) => setTimeout(r, 5))
    }
    await exited
    return killed
  }

  // The children run dist/ (like the CLI tests): build before running this file.
  it('a slice or compaction killed halfway leaves the final name absent or whole, and a rerun succeeds', async () => {
    const dir = tmp()
    const src = join(dir, 'src.arrow')
    await bigRecording(src, 250_000, {flushRows: 20_000, compactOnClose: false})
    const before = readFileSync(src)
    const dist = (m: string) => JSON.stringify(join(root, 'dist', m))

    // slice, killed halfway
    const out = join(dir, 'out.arrow')
    const sliceScript = child(dir, `import {sliceRecording} from ${dist('store/slice.js')}\nawait sliceRecording(${JSON.stringify(src)}, ${JSON.stringify(out)}, {})\n`)
    expect(await killHalfway(sliceScript, dir, 'out.arrow.')).toBe(true)
    expect(existsSync(out)).toBe(false)
    expect(readdirSync(dir).some((n) => n.startsWith('out.arrow.') && n.endsWith('.mdrec-partial'))).toBe(true)
    const r = await sliceRecording(src, out)
    expect(r.rows).toBe(250_000)
    expect(r.staleRemoved.length).toBe(1)
    expect(readdirSync(dir).filter((n) => n.includes('mdrec-partial'))).toEqual([])
    expect((await batchShapes(out)).reduce((n, b) => n + b.rows, 0)).toBe(250_000)
    // no overwrite, nothing left behind
    await expect(sliceRecording(src, out)).rejects.toThrow(/already exists/)
    expect(readdirSync(dir).filter((n) => n.includes('mdrec-partial'))).toEqual([])

    // compaction, killed halfway: the input stays exactly as it was
    const compactScript = child(dir, `import {compactRecording} from ${dist('store/writer.js')}\nawait compactRecording(${JSON.stringify(src)})\n`)
    expect(await killHalfway(compactScript, dir, 'src.arrow.')).toBe(true)
    expect(readFileSync(src).equals(before)).toBe(true)
    // a legacy temporary counts as stale too
    writeFileSync(`${src}.compact-tmp`, 'left by an older mdrec')
    const logs: string[] = []
    await compactRecording(src, {log: (l) => logs.push(l)})
    expect(logs.join('\n')).toMatch(/removed 2 stale temporary files/)
    expect(readdirSync(dir).filter((n) => n.startsWith('src.arrow.'))).toEqual([])
    expect((await batchShapes(src)).reduce((n, b) => n + b.rows, 0)).toBe(250_000)
    expect((await openRecording(src)).meta.rows).toBe(250_000)
  }, 120_000)

  it('repair writes through a temporary name and never overwrites', async () => {
    const dir = tmp()
    const src = join(dir, 'cut.arrow')
    await bigRecording(src, 5000, {flushRows: 1000, compactOnClose: false})
    fs.truncateSync(src, statSync(src).size - 100)
    const out = join(dir, 'cut.repaired.arrow')
    writeFileSync(`${out}.999999999.mdrec-partial`, 'stale')
    const r = await repairRecording(src, out)
    expect(r.out).toBe(out)
    expect(readdirSync(dir).filter((n) => n.includes('mdrec-partial'))).toEqual([])
    const v = await verifyRecording(out)
    expect(v.ok && v.complete).toBe(true)
    await expect(repairRecording(src, out)).rejects.toThrow(/already exists/)
    expect(readdirSync(dir).filter((n) => n.includes('mdrec-partial'))).toEqual([])
  })

  it('a failed slice leaves nothing behind', async () => {
    const dir = tmp()
    const src = join(dir, 's.arrow')
    await bigRecording(src, 5000, {flushRows: 1000, compactOnClose: false})
    fs.truncateSync(src, statSync(src).size - 100) // the last batch is cut: reading fails at the end
    await expect(sliceRecording(src, join(dir, 'o.arrow'))).rejects.toThrow(/truncated/)
    expect(readdirSync(dir).sort()).toEqual(['s.arrow'])
  })
})

