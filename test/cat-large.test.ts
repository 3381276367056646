/**
 * `mdrec cat` at real size: a 1,000,000-row Yahoo recording in 20 batches,
 * whole and cut at many offsets. What it checks: output text unchanged
 * (goldens taken from the row-at-a-time formatter before the column-wise one
 * replaced it), every intact row printed before the one-line error (to a pipe
 * and to a file), exit codes, no stack traces, bounded time.
 */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, createReadStream, mkdtempSync, openSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {yahooCodec} from '../src/feeds/yahoo/adapter.js'
import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import {csvHeader, csvLine, formatBatchCsv, formatBatchNdjson, ndjsonLine} from '../src/store/format.js'
import {messageStream, openRecording, readBatches, readRows} from '../src/store/reader.js'
import {RecordingWriter} from '../src/store/writer.js'
import {BIN, runCli} from './helpers/cli.js'
import {makeBigYahooRecording} from './helpers/cat-big.js'

const ROWS = 1_000_000
let dir: string
let big: string
/** Offsets of every message of `big`: [start, end, kind]. */
let messages: {start: number; end: number; kind: string}[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-cat-large-'))
  big = join(dir, 'big.arrow')
  await makeBigYahooRecording(big, ROWS, {flushRows: 50_000})
  let pos = 0
  for await (const m of messageStream(big)) {
    messages.push({start: pos, end: pos + m.bytes.byteLength, kind: m.framed.kind})
    pos += m.bytes.byteLength
  }
  // messageStream stops at the end-of-stream marker without yielding it
  const size = readFileSync(big).length
  if (pos < size) messages.push({start: pos, end: size, kind: 'eos'})
}, 120_000)

/** Run mdrec with stdout to a pipe (counting lines, hashing) or to a file; bounded in time. */
function runCounting(args: string[], opts: {toFile?: string; timeoutMs?: number} = {}): Promise<{code: number | null; lines: number; sha: string; stderr: string; firstLine: string}> {
  return new Promise((resolve, reject) => {
    const fd = opts.toFile ? openSync(opts.toFile, 'w') : null
    const child = spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', fd ?? 'pipe', 'pipe']})
    if (fd !== null) closeSync(fd)
    let lines = 0
    let firstLine = ''
    const hash = createHash('sha256')
    const count = (d: Buffer) => {
      hash.update(d)
      if (firstLine === '' && lines === 0) firstLine = d.subarray(0, Math.max(0, d.indexOf(10))).toString()
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++
    }
    child.stdout?.on('data', count)
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', async (code) => {
      clearTimeout(t)
      if (opts.toFile) {
        for await (const d of createReadStream(opts.toFile)) count(d as Buffer)
      }
      resolve({code, lines, sha: hash.digest('hex'), stderr, firstLine})
    })
  })
}

/** The one-line error: a single line, no stack trace, and the intact row count it states. */
function intactRows(stderr: string): number {
  expect(stderr.trim().split('\n')).toHaveLength(1)
  expect(stderr).not.toMatch(/\n\s+at /)
  // a cut inside the first batch: nothing is recoverable, and the error says so instead of a count
  if (/no complete batch before it, so no row is recoverable/.test(stderr)) return 0
  const m = /(\d+) rows? in \d+ complete batch(?:es)?/.exec(stderr)
  expect(m, stderr).not.toBeNull()
  return Number(m![1])
}

const GOLDEN: Record<string, string> = {
  'generic-channels.csv': 'c0c29415aefb8b8511dbbb20b5ef0049cef5cf094648b015db0a240cf18a4f16',
  'generic-channels.csvcols': 'cc8979999b7a9f017b6053229a16f5f9a17a8f48468e7e00abdbef1feee2f249',
  'generic-channels.ndjson': 'a38751225c73b346fa551082a8361b11738ff804bc44d02d2d2065358f716011',
  'generic-channels.ndjsonsym': '6a49af6a233b3aef3a6351f66ffbaa76278eb118b16f9259a0488ad67cfd650f',
  'generic-channels.table': '838396723dfcfc1131ff2674b51bf7853b2dd951f823f8ca94fd43b6b0bcaea4',
  'kis-krx.csv': '87ebe8e800610cec8a463349b8d01aac4abebf8000574357c114a52d8c5fc031',
  'kis-krx.csvcols': '795a2886479ea5106a702fc15cf3b8a4da6b7ed5b81e1083dbb28bade022efa7',
  'kis-krx.ndjson': 'aff395d52133854a39bd1686b7ae7c74f51eb5bbf5d1db706c1da878208324ab',
  'kis-krx.ndjsonsym': 'e036d0f9f3b75050760871a709874965467aaade4b64e3de0f29274a02923237',
  'kis-krx.table': 'f38c461ab344a8055985f56c3a511e244a7cb6bca6b642d43a5a9be288abe44a',
  'upbit-krw.csv': '64221c31f5b353aeb4d7a8e0b8f44bb8c9d5467cc8c5f9edc6336c2bad65a500',
  'upbit-krw.csvcols': '2f94a306050329c6cd9d4379648ccf74573535d4a85ccfce6d9ce3951072b1ff',
  'upbit-krw.ndjson': '6be116e57503a8dfbe43c276b8eda2ee08f3d5b6566681a4b6a54fe145ac378a',
  'upbit-krw.ndjsonsym': 'ee571ce4f7d7b6e31328f78a45fdf6331767ed4cef103d31ea76c43233632f87',
  'upbit-krw.table': '5880f559cbb2793f3f99ef97b8491f2c2c11fa6476b822cd122bb57fa294daec',
  'yahoo-crypto-v1.csv': 'fbe43b4f72344baef3f0cff6ea4f56442a9678ec8b6bd159519f210a3ddc5f53',
  'yahoo-crypto-v1.csvcols': '871661d084d1499eae9403947a6eccdd14dac22b3c76bf865e5c88641556f38b',
  'yahoo-crypto-v1.ndjson': '5e76b6b884e38e3cc3e1d777cacbde880dd5fc095c3ba913d3cbe791fef7251c',
  'yahoo-crypto-v1.ndjsonsym': '0d09a282c3a359d41f33326708a378fa96078fbc852e02e37d5ff85a1b30dfdd',
  'yahoo-crypto-v1.table': '385255463db930b81c051e41f63f24223cfbce22cbcce92510d476cd05a623e6',
  'yahoo-us-equities.csv': '7fba51d8590cbe06969c6b1f1e2dcd95aa88efc0de21d10b21c2cb70688b0759',
  'yahoo-us-equities.csvcols': 'bbf28076865663b6fd715528ef99f4bce2f3121fc13f5786244b964db1e77d72',
  'yahoo-us-equities.ndjson': '03e97c97caa0ce824c71a583023fc91f83aaef878c2804c23bfe8877ba1e39b0',
  'yahoo-us-equities.ndjsonsym': 'f4d02292328ad5b3eaf8c7aca9a33d7d8d950b40145ab24330cf1c60c0895729',
  'yahoo-us-equities.table': '69101168f21ccb81e01ca7902b6bbe3d37aee9d63d58f3874386dd83c7797bf3',
}
const SYMBOL: Record<string, string> = {
  'generic-channels': 'prices',
  'kis-krx': '000660',
  'upbit-krw': 'KRW-BTC',
  'yahoo-crypto-v1': 'SOL-USD',
  'yahoo-us-equities': 'AMZN',
}
const VARIANTS: Record<string, string[]> = {
  csv: ['-f', 'csv'],
  ndjson: ['-f', 'ndjson'],
  table: ['-f', 'table'],
  csvcols: ['-f', 'csv', '-c', 'recv_ts,symbol,kind,seq'],
}

describe('cat: the text is exactly what it was (goldens of every fixture, every format)', () => {
  for (const fixture of Object.keys(SYMBOL)) {
    it(fixture, async () => {
      const path = new URL(`../fixtures/${fixture}.arrow`, import.meta.url).pathname
      const runs = Object.entries(VARIANTS).map(([v, args]) => [v, ['cat', path, ...args]] as const)
      runs.push(['ndjsonsym', ['cat', path, '-f', 'ndjson', '-n', '7', '--symbol', SYMBOL[fixture]]])
      for (const [v, args] of runs) {
        const r = await runCounting([...args])
        expect(r.code, r.stderr).toBe(0)
        expect(r.sha, `${fixture} ${v}`).toBe(GOLDEN[`${fixture}.${v}`])
      }
    }, 60_000)
  }

  it('the column-wise formatter equals the row-at-a-time one on raw payloads, gaps, rejects, nulls and odd strings', async () => {
    const path = join(dir, 'odd.arrow')
    const codec = yahooCodec('v2')
    const w = RecordingWriter.create(
      path,
      {
        meta: {feed: 'yahoo', endpoint: 'ws://x', subscriptions: [], feedOptions: {}, toolVersion: 't', startTime: '2025-11-24T10:40:00Z', rawMode: 'always'},
        exchTsUnit: codec.exchTsUnit,
        columns: codec.columns,
      },
      {flushIntervalMs: 0, flushRows: 997, compactOnClose: false, fsync: false},
    )
    let i = 0
    for (const f of syntheticYahooTape({frames: 5000, symbols: 12, seed: 7})) {
      const {id, time, ...fields} = f.data
      if (i % 101 === 5) {
        w.append({recv_ts: f.recv_ts, exch_ts: null, symbol: '', kind: 'gap', raw: null, info: '{"start":"x", "duration_ms":1.50,"reason":"a \\"quoted\\", reason"}', fields: null})
      } else if (i % 97 === 3) {
        w.append({recv_ts: f.recv_ts, exch_ts: null, symbol: 'we,ird "sym"\nx', kind: 'reject', raw: Uint8Array.of(0, 1, 2, 250), info: 'not json, at all', fields: {short_name: 'a,"b"', price: Number.NaN}})
      } else {
        w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: Uint8Array.from(Buffer.from(`frame ${i}`)), info: null, fields})
      }
      i++
    }
    await w.close()
    const file = await openRecording(path)
    let ref = ''
    for await (const row of readRows(file)) ref += ndjsonLine(row, file.columns)
    let fast = ''
    for await (const {batch, idx} of readBatches(file)) fast += formatBatchNdjson(batch, idx, file.columns)
    expect(fast).toBe(ref)
    ref = csvHeader(file.columns)
    for await (const row of readRows(file)) ref += csvLine(row, file.columns)
    fast = csvHeader(file.columns)
    for await (const {batch, idx} of readBatches(file)) fast += formatBatchCsv(batch, idx, file.columns)
    expect(fast).toBe(ref)
    // a selection (idx) formats the same rows as the reference filter
    ref = ''
    for await (const row of readRows(file, {symbols: ['MSFT', '']})) ref += ndjsonLine(row, file.columns)
    fast = ''
    for await (const {batch, idx} of readBatches(file, {symbols: ['MSFT', '']})) fast += formatBatchNdjson(batch, idx, file.columns)
    expect(fast).toBe(ref)
  }, 60_000)
})

describe('cat: 1,000,000 rows in 20 batches', () => {
  it('has the shape the other tests rely on', () => {
    expect(messages.filter((m) => m.kind === 'record')).toHaveLength(20)
    expect(messages.at(-1)?.kind).toBe('eos')
  })

  for (const fmt of ['ndjson', 'csv'] as const) {
    it(`prints every row as ${fmt}, to a pipe`, async () => {
      const r = await runCounting(['cat', big, '-f', fmt], {timeoutMs: 120_000})
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.lines).toBe(ROWS + (fmt === 'csv' ? 1 : 0))
    }, 130_000)
  }

  it('--limit and --symbol stay exact at size (the table too)', async () => {
    const r = await runCounting(['cat', big, '-f', 'ndjson', '-n', '123457'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.lines).toBe(123_457)
    const t = await runCounting(['cat', big, '-n', '1000'])
    expect(t.code, t.stderr).toBe(0)
    expect(t.lines).toBe(1001)
  }, 60_000)
})

describe('cat: a damaged copy prints exactly the intact rows, then one error line', () => {
  /** Cut points: inside the schema, a dictionary header, a record header, a body (early and late), the end marker. */
  function cuts(): {name: string; at: number}[] {
    const rec = messages.filter((m) => m.kind === 'record')
    const dict = messages.filter((m) => m.kind === 'dictionary')
    const eos = messages.at(-1)!
    return [
      {name: 'inside the schema', at: Math.floor(messages[0].end / 2)},
      {name: 'inside a dictionary batch header', at: dict[1]?.start + 6 || dict[0].start + 6},
      {name: 'inside a record batch header', at: rec[2].start + 20},
      {name: 'inside an early body', at: rec[1].start + Math.floor((rec[1].end - rec[1].start) * 0.7)},
      {name: 'inside a late body', at: rec[17].start + Math.floor((rec[17].end - rec[17].start) / 3)},
      {name: 'inside the end marker', at: eos.start + 4},
    ]
  }

  it('at every kind of cut, ndjson and csv, to a pipe and to a file', async () => {
    const bytes = readFileSync(big)
    for (const {name, at} of cuts()) {
      const cut = join(dir, `cut-${at}.arrow`)
      writeFileSync(cut, bytes.subarray(0, at))
      for (const fmt of ['ndjson', 'csv'] as const) {
        for (const dest of ['pipe', 'file'] as const) {
          const r = await runCounting(['cat', cut, '-f', fmt], {toFile: dest === 'file' ? join(dir, `out-${at}.${fmt}`) : undefined, timeoutMs: 120_000})
          const what = `${name} (${at}) ${fmt} to a ${dest}`
          if (name === 'inside the schema') {
            expect(r.code, what).not.toBe(0)
            expect(r.stderr.trim().split('\n'), what).toHaveLength(1)
            expect(r.stderr, what).toMatch(new RegExp(`${cut}.*(first message|truncated)`))
            continue
          }
          expect(r.code, `${what}: ${r.stderr}`).toBe(1)
          expect(r.stderr, what).toContain(cut)
          const intact = intactRows(r.stderr)
          expect(r.lines - (fmt === 'csv' ? 1 : 0), what).toBe(intact)
        }
      }
    }
  }, 600_000)

  it('a flipped byte inside a body: the rows before it, then one error line naming the file and offset', async () => {
    const bytes = Buffer.from(readFileSync(big))
    const rec = messages.filter((m) => m.kind === 'record')[4]
    const at = rec.start + Math.floor((rec.end - rec.start) / 2)
    bytes[at] ^= 0xff
    const flipped = join(dir, 'flipped.arrow')
    writeFileSync(flipped, bytes)
    const r = await runCounting(['cat', flipped, '-f', 'csv'], {timeoutMs: 120_000})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(flipped)
    const intact = intactRows(r.stderr)
    expect(r.lines - 1).toBe(intact)
    expect(intact).toBeLessThanOrEqual(4 * 50_000)
  }, 130_000)

  it('a recorder killed mid-write (SIGKILL): cat prints what the error says is intact', async () => {
    const live = join(dir, 'killed.arrow')
    // A child writes batches of 5,000 rows with fsync; killed once the file has grown.
    const child = spawn(process.execPath, ['-e', `
      const {yahooCodec} = await import(${JSON.stringify(new URL('../dist/feeds/yahoo/adapter.js', import.meta.url).href)});
      const {syntheticYahooTape} = await import(${JSON.stringify(new URL('../dist/feeds/yahoo/synthetic.js', import.meta.url).href)});
      const {RecordingWriter} = await import(${JSON.stringify(new URL('../dist/store/writer.js', import.meta.url).href)});
      const codec = yahooCodec('v2');
      const w = RecordingWriter.create(${JSON.stringify(live)}, {meta: {feed: 'yahoo', endpoint: 'ws://x', subscriptions: [], feedOptions: {}, toolVersion: 't', startTime: '2025-11-24T10:40:00Z', rawMode: 'auto'}, exchTsUnit: codec.exchTsUnit, columns: codec.columns}, {flushIntervalMs: 0, flushRows: 5000, compactOnClose: false});
      for (const f of syntheticYahooTape({frames: 50_000_000, symbols: 20})) { const {id, time, ...fields} = f.data; w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields}) }
    `], {stdio: 'ignore', env: {...process.env}})
    const deadline = Date.now() + 30_000
    const {statSync} = await import('node:fs')
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
      try {
        if (statSync(live).size > 3_000_000) break
      } catch {}
    }
    child.kill('SIGKILL')
    await new Promise((r) => child.once('close', r))
    // what is on disk: complete batches, perhaps a cut one at the end
    let onDisk = 0
    for await (const m of messageStream(live)) if (m.framed.kind === 'record') onDisk += m.framed.rows
    expect(onDisk).toBeGreaterThan(0)
    for (const fmt of ['ndjson', 'csv'] as const) {
      const r = await runCounting(['cat', live, '-f', fmt], {timeoutMs: 120_000})
      if (r.code === 0) {
        // killed between two writes: every batch is complete, no error
        expect(r.stderr).toBe('')
        expect(r.lines - (fmt === 'csv' ? 1 : 0)).toBe(onDisk)
        continue
      }
      expect(r.code).toBe(1)
      expect(r.lines - (fmt === 'csv' ? 1 : 0)).toBe(intactRows(r.stderr))
    }
  }, 130_000)
})
