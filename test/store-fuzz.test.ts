/**
 * Damaged recordings: every reader (verify, readBatches/readRows as `cat`
 * uses them, recordingInfo, replay's batch accessor) must end with an
 * MdrecError naming the file and a byte offset, in bounded time and memory,
 * and verify's verdict must agree with what the readers read.
 *
 * Seeded: a failure prints `seed` and the case; rerun one with
 * MDREC_FUZZ_SEED=<seed> MDREC_FUZZ_CASE=<n>.
 */
import {copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {MdrecError} from '../src/errors.js'
import {ReplayBatch} from '../src/replay/rows.js'
import {recordingInfo, recordingProblem} from '../src/store/info.js'
import {BatchRows, messageStream, openRecording, readBatches} from '../src/store/reader.js'
import {verifyRecording, repairRecording} from '../src/store/verify.js'
import {mulberry32 as prng} from '../src/util/prng.js'
import {makeBigYahooRecording} from './helpers/big-recording.js'
import {messageAt, type MessageAt} from './helpers/messages.js'

const FIXTURES = ['yahoo-us-equities', 'yahoo-crypto-v1', 'generic-channels', 'upbit-krw', 'kis-krx'].map((n) => join(__dirname, '..', 'fixtures', `${n}.arrow`))
const CASES = Number(process.env.MDREC_FUZZ_CASES ?? 2000)
// A bound against hangs, not a speed test: 2,000 cases take 35-50 s on the 2-core build machine.
const BUDGET_MS = Number(process.env.MDREC_FUZZ_MS ?? 120_000)
const SEED = Number(process.env.MDREC_FUZZ_SEED ?? 0x5eed)
const ONLY = process.env.MDREC_FUZZ_CASE === undefined ? null : Number(process.env.MDREC_FUZZ_CASE)
const CALL_MS = 10_000
const RSS_LIMIT = 300 * 2 ** 20

interface Msg extends MessageAt {
  /** File offsets of the FieldNode and Buffer struct vectors' first elements (record and dictionary batches), and their counts. */
  nodesAt?: number
  nodes?: number
  buffersAt?: number
  buffers?: number
}
interface Base {
  name: string
  bytes: Buffer
  msgs: Msg[]
}

const EXTREME64 = [0n, -1n, 1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 3_000_000_000n, 2n ** 33n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n), -8n]
const EXTREME32 = [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 0x10000, 8, -268435448]

let dir: string
const bases: Base[] = []

/** Where the 16-byte structs `pairs` sit consecutively in `meta` (the metadata of a message), or -1. */
function locate(meta: Uint8Array, pairs: [number, number][]): number {
  if (pairs.length === 0) return -1
  const want = Buffer.concat(pairs.flatMap(([a, b]) => [i64(BigInt(a)), i64(BigInt(b))]))
  return findAll(meta, want, 0, meta.length)[0] ?? -1
}

async function scan(path: string): Promise<Msg[]> {
  const out: Msg[] = []
  for await (const m of messageStream(path)) {
    const f = m.framed
    const msg: Msg = messageAt(f)
    const h = f.message?.isRecordBatch() ? f.message.header() : f.message?.isDictionaryBatch() ? f.message.header().data : null
    if (h) {
      const meta = m.bytes.subarray(0, f.metaLength)
      const n = locate(meta, h.nodes.map((x) => [x.length, x.nullCount]))
      const b = locate(meta, h.buffers.map((x) => [x.offset, x.length]))
      if (n >= 0) Object.assign(msg, {nodesAt: f.offset + n, nodes: h.nodes.length})
      if (b >= 0) Object.assign(msg, {buffersAt: f.offset + b, buffers: h.buffers.length})
    }
    out.push(msg)
  }
  return out
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-store-fuzz-'))
  const multi = join(dir, 'multi.arrow')
  await makeBigYahooRecording(multi, 1600, {flushRows: 200, symbols: 8})
  // Many symbols: new ones keep appearing, so replacement dictionaries sit between batches.
  const dicts = join(dir, 'dicts.arrow')
  await makeBigYahooRecording(dicts, 1200, {flushRows: 100, symbols: 300, seed: 7})
  for (const p of [multi, dicts, ...FIXTURES]) bases.push({name: p, bytes: readFileSync(p), msgs: await scan(p)})
  expect(bases[0].msgs.filter((m) => m.kind === 'record').length).toBeGreaterThan(5)
  expect(bases[1].msgs.filter((m) => m.kind === 'dictionary').length).toBeGreaterThan(5)
  for (const b of bases) expect(b.msgs.filter((m) => m.nodesAt !== undefined && m.buffersAt !== undefined).length, b.name).toBeGreaterThan(0)
}, 60_000)

afterAll(() => rmSync(dir, {recursive: true, force: true}))

function findAll(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number[] {
  const out: number[] = []
  outer: for (let i = from; i + needle.length <= to; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    out.push(i)
  }
  return out
}
function i64(v: bigint): Uint8Array {
  const b = Buffer.alloc(8)
  b.writeBigInt64LE(BigInt.asIntN(64, v))
  return b
}

/** One mutated copy of `base`; returns the bytes and a description. */
function mutate(base: Base, rnd: () => number): {bytes: Buffer; what: string} {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]
  const int = (n: number) => Math.floor(rnd() * n)
  const src = base.bytes
  const b = Buffer.from(src)
  const msg = pick(base.msgs.filter((m) => m.kind !== 'eos'))
  const metaStart = msg.offset + 8
  const metaEnd = msg.offset + msg.metaLength
  const bodyStart = metaEnd
  const bodyEnd = metaEnd + msg.bodyLength
  const kind = int(14)
  switch (kind) {
    case 0: {
      const n = 1 + int(4)
      const at: number[] = []
      for (let k = 0; k < n; k++) {
        const p = int(b.length)
        b[p] ^= 1 << int(8)
        at.push(p)
      }
      return {bytes: b, what: `flip bits at ${at.join(',')}`}
    }
    case 1: {
      const p = int(b.length)
      const ins = Buffer.from(Array.from({length: 1 + int(8)}, () => int(256)))
      return {bytes: Buffer.concat([src.subarray(0, p), ins, src.subarray(p)]), what: `insert ${ins.length} bytes at ${p}`}
    }
    case 2: {
      const p = int(b.length)
      const n = 1 + int(16)
      return {bytes: Buffer.concat([src.subarray(0, p), src.subarray(p + n)]), what: `delete ${n} bytes at ${p}`}
    }
    case 3: {
      const n = 8 + int(512)
      const p = int(Math.max(1, b.length - n))
      const q = int(Math.max(1, b.length - n))
      const x = Buffer.from(src.subarray(p, p + n))
      src.subarray(q, q + n).copy(b, p)
      x.copy(b, q)
      return {bytes: b, what: `swap ${n} bytes at ${p} and ${q}`}
    }
    case 4: {
      const p = int(b.length)
      return {bytes: b.subarray(0, p), what: `cut at ${p}`}
    }
    case 5: {
      const v = pick(EXTREME32)
      b.writeInt32LE(v, msg.offset + 4)
      return {bytes: b, what: `metadata length of the ${msg.kind} at ${msg.offset} = ${v}`}
    }
    case 6: {
      // An aligned 8- or 4-byte word of the metadata (vtable entries, offsets, lengths, counts, buffer regions).
      const words = Math.max(1, (metaEnd - metaStart) >> 2)
      const p = metaStart + 4 * int(words)
      if (rnd() < 0.5 && p + 8 <= metaEnd) {
        const v = pick(EXTREME64)
        i64(v).forEach((x, k) => (b[p + k] = x))
        return {bytes: b, what: `int64 at ${p} (${msg.kind} metadata) = ${v}`}
      }
      const v = pick(EXTREME32)
      b.writeInt32LE(v, p)
      return {bytes: b, what: `int32 at ${p} (${msg.kind} metadata) = ${v}`}
    }
    case 7:
    case 8: {
      // The body length or the row count (also the top field nodes' lengths): find its value in the metadata.
      const value = kind === 7 ? BigInt(msg.bodyLength) : BigInt(msg.rows)
      const hits = findAll(src, i64(value), metaStart, metaEnd)
      if (hits.length === 0) return {bytes: b.subarray(0, b.length - 1), what: `cut last byte (no ${kind === 7 ? 'body length' : 'row count'} found)`}
      const p = pick(hits)
      const v = pick(EXTREME64)
      i64(v).forEach((x, k) => (b[p + k] = x))
      return {bytes: b, what: `${kind === 7 ? 'body length' : 'row count/node length'} at ${p} (${msg.kind} at ${msg.offset}) = ${v}`}
    }
    case 9:
    case 10: {
      // A compressed buffer's 8-byte uncompressed-length prefix, or its zstd frame content size.
      const frames = findAll(src, Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), bodyStart, bodyEnd)
      if (frames.length === 0) return {bytes: b.subarray(0, b.length - 2), what: 'cut 2 bytes (no zstd frame)'}
      const f = pick(frames)
      if (kind === 9) {
        const v = pick(EXTREME64)
        i64(v).forEach((x, k) => (b[f - 8 + k] = x))
        return {bytes: b, what: `compressed-length prefix at ${f - 8} = ${v}`}
      }
      const fhd = src[f + 4]
      const fcsFlag = fhd >> 6
      const single = (fhd >> 5) & 1
      const dictFlag = fhd & 3
      const fcsSize = fcsFlag === 0 ? single : [1, 2, 4, 8][fcsFlag]
      const at = f + 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]
      if (fcsSize === 0) return {bytes: b.subarray(0, b.length - 3), what: 'cut 3 bytes (no frame content size)'}
      const v = pick([0, 255, 1])
      for (let k = 0; k < fcsSize; k++) b[at + k] = v === 1 ? int(256) : v
      return {bytes: b, what: `zstd frame content size at ${at} (${fcsSize} bytes) = ${v === 1 ? 'random' : v}`}
    }
    case 12:
    case 13: {
      // One field node's length or null count, one buffer region's offset or length, or a vector's item count.
      const batches = base.msgs.filter((m) => m.nodesAt !== undefined && m.buffersAt !== undefined)
      if (batches.length === 0) return {bytes: b.subarray(0, b.length - 4), what: 'cut 4 bytes (no batch vectors found)'}
      const m = pick(batches)
      const [at, count, what] = kind === 12 ? [m.nodesAt!, m.nodes!, 'field node'] : [m.buffersAt!, m.buffers!, 'buffer region']
      if (rnd() < 0.2) {
        const v = pick(EXTREME32)
        b.writeInt32LE(v, at - 4)
        return {bytes: b, what: `${what} count at ${at - 4} (${m.kind} at ${m.offset}) = ${v}`}
      }
      const k = int(count)
      const half = int(2)
      const v = pick(EXTREME64)
      i64(v).forEach((x, j) => (b[at + 16 * k + 8 * half + j] = x))
      return {bytes: b, what: `${what} ${k} ${half ? 'second' : 'first'} field at ${at + 16 * k + 8 * half} (${m.kind} at ${m.offset}) = ${v}`}
    }
    default: {
      // A whole message's bytes swapped with another's (a block out of order), or a message duplicated.
      const other = pick(base.msgs.filter((m) => m.kind !== 'eos'))
      const a = src.subarray(msg.offset, msg.offset + msg.metaLength + msg.bodyLength)
      const c = src.subarray(other.offset, other.offset + other.metaLength + other.bodyLength)
      if (rnd() < 0.5) return {bytes: Buffer.concat([src.subarray(0, bodyEnd), c, src.subarray(bodyEnd)]), what: `the message at ${other.offset} repeated after the one at ${msg.offset}`}
      const [x, y] = msg.offset < other.offset ? [msg, other] : [other, msg]
      if (x === y) return {bytes: Buffer.concat([src.subarray(0, bodyEnd), a, src.subarray(bodyEnd)]), what: `the message at ${x.offset} twice`}
      const xe = x.offset + x.metaLength + x.bodyLength
      const ye = y.offset + y.metaLength + y.bodyLength
      return {
        bytes: Buffer.concat([src.subarray(0, x.offset), src.subarray(y.offset, ye), src.subarray(xe, y.offset), src.subarray(x.offset, xe), src.subarray(ye)]),
        what: `messages at ${x.offset} and ${y.offset} swapped`,
      }
    }
  }
}

type Outcome = {rows: number; error?: MdrecError}

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  try {
    return await f()
  } finally {
    const ms = performance.now() - t0
    if (ms > CALL_MS) throw new Error(`${what} took ${Math.round(ms)} ms`)
  }
}

function asMdrec(error: unknown, what: string): MdrecError {
  if (!(error instanceof MdrecError)) throw new Error(`${what}: not an MdrecError: ${(error as Error)?.stack ?? String(error)}`)
  return error
}

/** Read like `cat`: every row of every batch, every column's value. */
async function catAll(path: string): Promise<Outcome> {
  let rows = 0
  try {
    const file = await openRecording(path)
    for await (const {batch, idx} of readBatches(file)) {
      const r = new BatchRows(batch, file.feedColumns)
      const n = idx ? idx.length : batch.numRows
      for (let k = 0; k < n; k++) r.row(idx ? idx[k] : k)
      rows += n
    }
    return {rows}
  } catch (error) {
    return {rows, error: asMdrec(error, 'cat')}
  }
}

/** Read like `replay`: its own buffer accessors over every row. */
async function replayAll(path: string): Promise<Outcome> {
  let rows = 0
  try {
    const file = await openRecording(path)
    for await (const {batch, idx} of readBatches(file)) {
      const b = new ReplayBatch(batch, idx, file, 0)
      for (let k = 0; k < b.length; k++) b.rowView(b.at(k))
      rows += b.length
    }
    return {rows}
  } catch (error) {
    return {rows, error: asMdrec(error, 'replay')}
  }
}

async function infoAll(path: string): Promise<Outcome> {
  try {
    // info summarises a damaged file up to the damage and reports it (what `mdrec info` prints before exiting 1)
    const info = await recordingInfo(await openRecording(path))
    const problem = recordingProblem(info)
    return problem ? {rows: info.rows, error: asMdrec(problem, 'info')} : {rows: info.rows}
  } catch (error) {
    return {rows: -1, error: asMdrec(error, 'info')}
  }
}

function namesFileAndOffset(e: MdrecError, path: string, label: string): void {
  expect(e.message, label).toContain(path)
  expect(e.message, label).toMatch(/byte \d+/)
  expect(e.message.startsWith(`${path}: `), label).toBe(true)
}

const tally = new Map<string, number>()

async function runCase(n: number, path: string): Promise<void> {
  const rnd = prng((SEED ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0)
  const base = bases[Math.floor(rnd() * bases.length)]
  const {bytes, what} = mutate(base, rnd)
  const label = `seed ${SEED} case ${n}: ${base.name.split('/').pop()} ${what}`
  writeFileSync(path, bytes)
  let verdict: {ok: boolean; rows: number; at?: number} | {error: MdrecError}
  try {
    const v = await timed(`${label} verify`, () => verifyRecording(path))
    verdict = {ok: v.ok, rows: v.rowsIntact, at: v.problem?.offset}
    if (!v.ok) {
      expect(v.problem, label).toBeDefined()
      expect(v.problem!.offset, label).toBeGreaterThanOrEqual(0)
    }
  } catch (error) {
    const e = asMdrec(error, `${label} verify`)
    namesFileAndOffset(e, path, label)
    verdict = {error: e}
  }
  const cat = await timed(`${label} cat`, () => catAll(path))
  // Replay's accessors on every 4th case (they read the same decoded batches as cat; this keeps 2,000 cases near a minute).
  const replay = n % 4 === 0 ? await timed(`${label} replay`, () => replayAll(path)) : cat
  const info = await timed(`${label} info`, () => infoAll(path))
  for (const [who, o] of [['cat', cat], ['replay', replay], ['info', info]] as const) {
    if (o.error) namesFileAndOffset(o.error, path, `${label} ${who}`)
  }
  if ('error' in verdict) {
    // The file does not open: neither does any reader.
    expect(cat.error?.code, label).toBe(verdict.error.code)
    expect(cat.rows, label).toBe(0)
    expect(info.error, label).toBeDefined()
  } else {
    // Sound: every reader reads every row without an error; damaged: each reads the intact rows, then errs.
    for (const o of [cat, replay, info]) {
      if (verdict.ok) expect(o.error, label).toBeUndefined()
      else expect(o.error, label).toBeDefined()
      expect(o.rows, label).toBe(verdict.rows)
    }
    if (!verdict.ok) {
      // no row intact: said so, with no advice to repair
      expect(cat.error!.message, label).toContain(verdict.rows === 0 ? 'no row is recoverable' : `${verdict.rows} rows`)
      expect(cat.error!.message, label).toContain(`at byte ${verdict.at} (`)
      expect(info.error!.message, label).toContain(`at byte ${verdict.at} (`)
    }
  }
  const outcome = 'error' in verdict ? `open ${verdict.error.code}` : verdict.ok ? 'sound' : `${cat.error?.code} after ${cat.rows > 0 ? 'some' : 'no'} rows`
  tally.set(outcome, (tally.get(outcome) ?? 0) + 1)
  const rss = process.memoryUsage().rss
  expect(rss, `${label}: rss ${rss}`).toBeLessThan(RSS_LIMIT)
}

describe('damaged recordings', () => {
  test('reported cases: 3 bytes inserted into upbit-krw, a 3e9 / 2^33 / 2^53 dictionary body length', async () => {
    const up = readFileSync(FIXTURES[3])
    const p = join(dir, 'upbit-insert.arrow')
    writeFileSync(p, Buffer.concat([up.subarray(0, 8798), Buffer.from([0x41, 0x42, 0x43]), up.subarray(8798)]))
    const v = await timed('verify', () => verifyRecording(p))
    expect(v.ok).toBe(false)
    const cat = await timed('cat', () => catAll(p))
    expect(cat.rows).toBe(v.rowsIntact)
    namesFileAndOffset(cat.error!, p, 'upbit insert')
    const info = await timed('info', () => infoAll(p))
    namesFileAndOffset(info.error!, p, 'upbit insert')

    const y = bases.find((b) => b.name === FIXTURES[1])!
    const dict = y.msgs.find((m) => m.kind === 'dictionary')!
    const at = findAll(y.bytes, i64(BigInt(dict.bodyLength)), dict.offset + 8, dict.offset + dict.metaLength)[0]
    expect(at).toBeGreaterThan(0)
    for (const v of [3_000_000_000n, 2n ** 33n, 2n ** 53n, 2n ** 62n]) {
      const q = join(dir, `yahoo-dict-${v}.arrow`)
      const b = Buffer.from(y.bytes)
      b.writeBigInt64LE(v, at)
      writeFileSync(q, b)
      const r = await timed('verify', () => verifyRecording(q))
      expect(r.ok).toBe(false)
      expect(r.rowsIntact).toBe(0)
      expect(r.problem!.offset).toBe(dict.offset)
      const c = await timed('cat', () => catAll(q))
      expect(c.rows).toBe(0)
      namesFileAndOffset(c.error!, q, String(v))
      expect(c.error!.message).toContain(`byte ${dict.offset}`)
      const out = join(dir, `yahoo-dict-${v}.repaired.arrow`)
      // nothing to recover: no 0-row copy is written
      const rep = await repairRecording(q, out)
      expect(rep.rowsIntact).toBe(0)
      expect(rep.out).toBeUndefined()
      expect(existsSync(out)).toBe(false)
    }
  }, 60_000)

  test(`fuzz: ${CASES} mutated multi-batch files (bit flips, insertions, cuts, swapped blocks, extreme lengths)`, async () => {
    const t0 = performance.now()
    const p = join(dir, 'case.arrow')
    let n = 0
    let peak = 0
    for (; n < CASES; n++) {
      if (ONLY !== null && n !== ONLY) continue
      if (performance.now() - t0 > BUDGET_MS) break
      await runCase(n, p)
      peak = Math.max(peak, process.memoryUsage().rss)
    }
    const ms = performance.now() - t0
    console.log(`store fuzz: ${n} cases in ${Math.round(ms)} ms, peak rss ${Math.round(peak / 2 ** 20)} MiB, seed ${SEED}; ${JSON.stringify(Object.fromEntries(tally))}`)
    if (ONLY === null) expect(n).toBe(CASES)
  }, 300_000)
})
