/**
 * Peak memory of the steps that stream a whole recording (verify, verify
 * --repair, slice, compaction) on a recording of large incompressible
 * frames: each runs in its own process (the CLI, or dist/ for compaction)
 * whose peak resident size (maxRSS) is compared with the same process doing
 * nothing (`mdrec --version`, a bare node).
 * A reader that allocates a fresh buffer per message leaves each frame to
 * the garbage collector, which frees them late: four to five frames were
 * resident at once. The bound is three frames over the bare process (two
 * read buffers used in turn, plus slack). Uses dist/ (build first).
 */
import {spawnSync} from 'node:child_process'
import {randomFillSync} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createYahooWriter} from './helpers/recording.js'
import {BIN} from './helpers/cli.js'

const FRAMES = 20
const FRAME_BYTES = 40_000_000
const DIST = new URL('../dist/', import.meta.url).pathname

let dir: string
let src: string
/** Peak RSS of a bare node process, and of the CLI doing nothing (`--version`): the baselines. */
let idleMb: number
let cliIdleMb: number

/** Run node with `args`, report its peak RSS in MB (a preload writes process.resourceUsage().maxRSS at exit). */
function peakMb(args: string[]): {mb: number; status: number | null; stderr: string} {
  const out = join(dir, `rss-${Math.random().toString(36).slice(2)}.txt`)
  // without vitest's NODE_ENV=test, under which oclif loads more (about 50 MB): measure what users run
  const {NODE_ENV: _, ...env} = process.env
  const r = spawnSync(process.execPath, ['--require', join(dir, 'rss.cjs'), ...args], {encoding: 'utf8', timeout: 90_000, env: {...env, RSS_OUT: out}})
  const mb = Number(readFileSync(out, 'utf8')) / 1024
  rmSync(out)
  return {mb, status: r.status, stderr: r.stderr}
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-memory-'))
  writeFileSync(join(dir, 'rss.cjs'), "process.on('exit', () => require('node:fs').writeFileSync(process.env.RSS_OUT, String(process.resourceUsage().maxRSS)))\n")
  src = join(dir, 'big.arrow')
  const w = createYahooWriter(src, {fsync: false, compactOnClose: false})
  const frame = new Uint8Array(FRAME_BYTES)
  for (let i = 0; i < FRAMES; i++) {
    randomFillSync(frame) // incompressible: stored as it is, one frame a batch
    w.append({recv_ts: 1_764_000_000_000_000_000n + BigInt(i) * 1_000_000_000n, exch_ts: null, symbol: '', kind: 'reject', raw: frame, info: '{"code":"BAD_JSON"}', fields: null})
  }
  await w.close()
  idleMb = peakMb(['-e', '0']).mb
  cliIdleMb = peakMb([BIN, '--version']).mb
}, 120_000)

afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe(`peak memory on ${FRAMES} frames of ${FRAME_BYTES / 1e6} MB`, () => {
  const bound = (cli = true) => (cli ? cliIdleMb : idleMb) + (3 * FRAME_BYTES) / 2 ** 20

  it('has the shape the bound relies on', () => {
    expect(statSync(src).size).toBeGreaterThan(FRAMES * FRAME_BYTES)
  })

  it('verify', () => {
    const r = peakMb([BIN, 'verify', src])
    expect(r.status, r.stderr).toBe(0)
    expect(r.mb, `verify peak ${r.mb.toFixed(1)} MB, idle CLI ${cliIdleMb.toFixed(1)} MB`).toBeLessThan(bound())
  }, 120_000)

  it('slice', () => {
    const r = peakMb([BIN, 'slice', src, '--out', join(dir, 'slice.arrow')])
    expect(r.status, r.stderr).toBe(0)
    expect(r.mb, `slice peak ${r.mb.toFixed(1)} MB, idle CLI ${cliIdleMb.toFixed(1)} MB`).toBeLessThan(bound())
    rmSync(join(dir, 'slice.arrow'))
  }, 120_000)

  it('compaction (counting pass and copy)', () => {
    const script = `import {compactRecording} from ${JSON.stringify(join(DIST, 'store/writer.js'))}; const r = await compactRecording(${JSON.stringify(src)}); if (r.rows !== ${FRAMES}) throw new Error('rows ' + r.rows)`
    const r = peakMb(['--input-type=module', '-e', script])
    expect(r.status, r.stderr).toBe(0)
    expect(r.mb, `compaction peak ${r.mb.toFixed(1)} MB, bare node ${idleMb.toFixed(1)} MB`).toBeLessThan(bound(false))
  }, 120_000)

  it('verify --repair of a cut file', () => {
    truncateSync(src, statSync(src).size - 1000)
    const r = peakMb([BIN, 'verify', src, '--repair', '--out', join(dir, 'repaired.arrow')])
    expect(r.status, r.stderr).not.toBeNull()
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(statSync(join(dir, 'repaired.arrow')).size).toBeGreaterThan((FRAMES - 1) * FRAME_BYTES)
    expect(r.mb, `repair peak ${r.mb.toFixed(1)} MB, idle CLI ${cliIdleMb.toFixed(1)} MB`).toBeLessThan(bound())
  }, 120_000)
})

describe('recycled read buffers: every payload byte survives compaction and slice', () => {
  // Payloads of 1.5 MB, one per input batch: the writer holds a view of each
  // (no copy) until the next input batch's first row, while the reader
  // reads that batch into its other buffer. A reader that reused one buffer
  // would overwrite the payload before the writer copies it.
  const N = 24
  /** Payload i: 1.5 MB of xorshift noise (incompressible: read into the recycled message buffer) and, from row 12 on, a compressible run of 400 kB (decompressed into the recycled arena). */
  const payload = (i: number) => {
    const b = Buffer.alloc(1_500_000 + i * 1000)
    const u = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2)
    let x = (i + 1) * 2654435761
    for (let k = i >= 12 ? 100_000 : 0; k < u.length; k++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      u[k] = x
    }
    if (i >= 12) u.fill(i, 0, 100_000)
    return b
  }
  async function expectPayloads(path: string, from = 0): Promise<void> {
    const {openRecording, readBatches} = await import('../src/store/reader.js')
    const file = await openRecording(path)
    let i = from
    for await (const {batch, idx} of readBatches(file)) {
      const raw = batch.getChildAt(5)!
      for (let k = 0; k < (idx ? idx.length : batch.numRows); k++) {
        const got = raw.get(idx ? idx[k] : k) as Uint8Array
        expect(Buffer.compare(Buffer.from(got), payload(i)), `payload ${i}`).toBe(0)
        i++
      }
    }
    expect(i).toBe(N)
  }

  it('compaction and slice of 24 rows of 1.5 MB, each its own batch', async () => {
    const {compactRecording} = await import('../src/store/writer.js')
    const {sliceRecording} = await import('../src/store/slice.js')
    const path = join(dir, 'payloads.arrow')
    const w = createYahooWriter(path, {fsync: false, compactOnClose: false})
    for (let i = 0; i < N; i++) {
      w.append({recv_ts: 1_764_000_000_000_000_000n + BigInt(i), exch_ts: null, symbol: 'X', kind: 'reject', raw: payload(i), info: null, fields: null})
      w.flush()
    }
    await w.close()
    await sliceRecording(path, join(dir, 'payloads-slice.arrow'), {from: 1_764_000_000_000_000_003n})
    await expectPayloads(join(dir, 'payloads-slice.arrow'), 3)
    const c = await compactRecording(path)
    expect(c.batches).toBeLessThan(N)
    await expectPayloads(path)
  }, 60_000)
})
