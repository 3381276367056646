import * as A from 'apache-arrow'
import {spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {yahooCodec} from '../src/feeds/yahoo/adapter.js'
import {RecordingWriter} from '../src/store/writer.js'
import {BIN, runCli} from './helpers/cli.js'
import {polarsStrings, readWithPolars} from './helpers/polars.js'
import {makeYahooRecording} from './helpers/recording.js'

let dir: string
let good: string
let small: string
const bad: Record<string, string> = {}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-cli-'))
  good = join(dir, 'good.arrow')
  // 20k rows in batches of 1000, not compacted: a realistic multi-batch file
  await makeYahooRecording(good, 20_000, {symbols: 8, writer: {flushRows: 1000, compactOnClose: false}})
  small = join(dir, 'small.arrow')
  await makeYahooRecording(small, 300, {symbols: 3})

  bad.missing = join(dir, 'nope.arrow')
  bad.directory = join(dir, 'adir')
  mkdirSync(bad.directory)
  bad.empty = join(dir, 'empty.arrow')
  writeFileSync(bad.empty, '')
  bad.text = join(dir, 'notes.txt')
  writeFileSync(bad.text, 'hello, this is not arrow\n'.repeat(10))
  bad.truncated = join(dir, 'truncated.arrow')
  const bytes = readFileSync(good)
  writeFileSync(bad.truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)))
  bad.foreign = join(dir, 'foreign.arrow')
  writeFileSync(bad.foreign, A.tableToIPC(A.tableFromArrays({a: Float64Array.from([1, 2, 3])}), 'stream'))
  bad.arrowFile = join(dir, 'file-format.arrow')
  writeFileSync(bad.arrowFile, A.tableToIPC(A.tableFromArrays({a: Float64Array.from([1, 2, 3])}), 'file'))
  bad.newer = join(dir, 'newer.arrow')
  const codec = yahooCodec('v2')
  const w = RecordingWriter.create(bad.newer, {
    meta: {formatVersion: 99, feed: 'yahoo', endpoint: '', subscriptions: [], feedOptions: {}, toolVersion: '9.0.0', startTime: '', rawMode: 'auto'},
    exchTsUnit: codec.exchTsUnit,
    columns: codec.columns,
  }, {compactOnClose: false})
  await w.close()
}, 60_000)

const EXPECT: Record<string, RegExp> = {
  missing: /no such file/,
  directory: /is a directory/,
  empty: /empty/,
  text: /not an Arrow IPC stream/,
  truncated: /truncated|damaged/,
  foreign: /not an mdrec recording/,
  arrowFile: /Arrow IPC file .*not an mdrec recording/,
  newer: /format version 99.*Upgrade mdrec/,
}

function oneCleanLine(stderr: string): void {
  const lines = stderr.trim().split('\n')
  expect(lines.length, stderr).toBe(1)
  expect(stderr).not.toMatch(/\n\s+at /) // no stack trace
  expect(lines[0]).toMatch(/^Error: /)
}

describe('bad input to every command: one clear line, non-zero exit, no stack', () => {
  for (const name of Object.keys(EXPECT)) {
    for (const cmd of [['info'], ['cat'], ['slice', '-o', 'OUT'], ['verify']]) {
      it(`${cmd[0]} on ${name}`, async () => {
        const args = cmd.map((a) => (a === 'OUT' ? join(dir, `out-${name}-${cmd[0]}.arrow`) : a))
        const r = await runCli([...args, bad[name]])
        if (name === 'truncated' && cmd[0] === 'cat') {
          // cat prints the rows it can read, then reports the cut
          expect(r.stdout.length).toBeGreaterThan(0)
        }
        expect(r.code, r.stderr).not.toBe(0)
        oneCleanLine(r.stderr)
        expect(r.stderr).toMatch(EXPECT[name])
        if (cmd[0] === 'slice') expect(() => statSync(args[2])).toThrow() // no partial output left
      })
    }
  }

  it('bad flag values are rejected with the valid forms shown, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['cat', good, '--format', 'xml'], /Expected --format=xml to be one of: table, ndjson, csv/],
      [['cat', good, '--from', 'yesterday'], /invalid time "yesterday".*\+90s/s],
      [['cat', good, '--from', '2025-11-24T10:00:00'], /no time zone/],
      [['cat', good, '--limit', '-3'], /--limit/],
      [['cat', good, '--columns', 'price,nosuch'], /unknown column nosuch; this recording has: recv_ts/],
      [['slice', good], /Missing required flag out/],
      [['record', 'AAPL', '--duration', '10'], /invalid duration "10".*90s, 30m, 1h30m, 2d/s],
      [['record', 'AAPL', '--rotate', 'often'], /invalid rotation "often"/],
      [['record', 'AAPL', '--raw', 'sometimes'], /one of: auto, always, never/],
      [['record', 'AAPL', '--url', 'http://example.com/'], /ws:\/\/ or wss:\/\//],
      [['record', 'AAPL', '--feed', 'nasdaq'], /one of: yahoo/],
      [['record'], /Missing 1 required arg/],
    ]
    for (const [args, re] of cases) {
      const r = await runCli(args)
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(re)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
  })
})

describe('info', () => {
  it('summarises a recording, and --json gives one object per file', async () => {
    const r = await runCli(['info', good, small, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toHaveLength(2)
    expect(j[0]).toMatchObject({feed: 'yahoo', formatVersion: 2, rows: 20_000, batches: 20, complete: true})
    expect(Object.values(j[0].rowsBySymbol as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(20_000)
    expect(j[0].rowsByKind).toEqual({tick: 20_000})
    expect(j[0].compressionRatio).toBeGreaterThan(2)
    expect(j[0].durationMs).toBeGreaterThan(0)
    const t = await runCli(['info', good])
    expect(t.stdout).toMatch(/rows\s+20000/)
    expect(t.stdout).toMatch(/compression/)
  })
})

describe('cat', () => {
  it('prints ndjson with exact 64-bit values, filtered by symbol and limited', async () => {
    const r = await runCli(['cat', good, '--format', 'ndjson', '--symbol', 'NVDA', '--limit', '50'])
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(rows).toHaveLength(50)
    for (const row of rows) {
      expect(row.symbol).toBe('NVDA')
      expect(typeof row.seq).toBe('string')
      expect(row.recv_ts).toMatch(/^2025-11-24T\d\d:\d\d:\d\d\.\d{9}Z$/)
    }
  })

  it('filters by an offset time range', async () => {
    const all = await runCli(['cat', good, '--format', 'csv', '--columns', 'recv_ts'])
    const times = all.stdout.trim().split('\n').slice(1)
    expect(times).toHaveLength(20_000)
    const r = await runCli(['cat', good, '--format', 'csv', '--columns', 'recv_ts', '--from', '+10s', '--to', '+20s'])
    const got = r.stdout.trim().split('\n').slice(1)
    const from = Date.parse('2025-11-24T10:40:10Z')
    const to = Date.parse('2025-11-24T10:40:20Z')
    const want = times.filter((t) => Date.parse(t) >= from && Date.parse(t) < to)
    expect(want.length).toBeGreaterThan(100)
    expect(got).toEqual(want)
  })

  it('exits 0 quietly when the reader closes the pipe (| head)', async () => {
    const child = spawn(process.execPath, [BIN, 'cat', good, '--format', 'ndjson'], {stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const firstChunk = await new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(String(d))))
    child.stdout.destroy() // like head exiting after its lines
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
    expect(firstChunk.length).toBeGreaterThan(0)
    expect(code).toBe(0)
    expect(stderr).toBe('')
  })
})

describe('slice', () => {
  it('cuts a time range and symbol into a spec-conformant recording with the metadata kept', async () => {
    const out = join(dir, 'slice-ok.arrow')
    const r = await runCli(['slice', good, '-o', out, '--from', '+5s', '--to', '+15s', '--symbol', 'NVDA', '--symbol', 'TSLA', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    const want = await runCli(['cat', good, '--format', 'csv', '--columns', 'recv_ts,symbol,price', '--from', '+5s', '--to', '+15s', '-s', 'NVDA', '-s', 'TSLA'])
    const wantRows = want.stdout.trim().split('\n').slice(1)
    expect(res.rows).toBe(wantRows.length)
    const got = await runCli(['cat', out, '--format', 'csv', '--columns', 'recv_ts,symbol,price'])
    expect(got.stdout.trim().split('\n').slice(1)).toEqual(wantRows)
    const info = JSON.parse((await runCli(['info', out, '--json'])).stdout)[0]
    expect(info.feed).toBe('yahoo')
    expect(info.endpoint).toBe('ws://127.0.0.1:8765/?version=2')
    // an independent reader agrees
    const df = readWithPolars(out)
    expect(df.height).toBe(wantRows.length)
    expect(polarsStrings(df, 'symbol').every((s) => s === 'NVDA' || s === 'TSLA')).toBe(true)
    // never overwrites
    const again = await runCli(['slice', good, '-o', out])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already exists/)
  })
})

describe('verify', () => {
  it('reports a sound file', async () => {
    const r = await runCli(['verify', good, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ok: true, complete: true, rowsIntact: 20_000, batches: 20})
  })

  it('finds the first bad byte of a truncated file and --repair recovers every complete batch', async () => {
    const r = await runCli(['verify', bad.truncated, '--json'])
    expect(r.code).toBe(1)
    const v = JSON.parse(r.stdout)
    expect(v.ok).toBe(false)
    expect(v.problem.offset).toBe(v.validBytes)
    expect(v.rowsIntact % 1000).toBe(0)
    expect(v.rowsIntact).toBeGreaterThan(5000)

    const out = join(dir, 'repaired.arrow')
    const fix = await runCli(['verify', bad.truncated, '--repair', '--out', out])
    expect(fix.code, fix.stderr).toBe(1) // the original is damaged, even though the repair succeeded
    expect(fix.stdout).toMatch(new RegExp(`wrote ${v.rowsIntact} rows`))
    const again = await runCli(['verify', out, '--json'])
    expect(JSON.parse(again.stdout)).toMatchObject({ok: true, complete: true, rowsIntact: v.rowsIntact})
    // the repaired rows are exactly the first rows of the original
    const a = await runCli(['cat', good, '--format', 'csv', '--limit', String(v.rowsIntact)])
    const b = await runCli(['cat', out, '--format', 'csv'])
    expect(b.stdout).toBe(a.stdout)
    expect(readWithPolars(out).height).toBe(v.rowsIntact)
    // the original is untouched
    expect(statSync(bad.truncated).size).toBe(Math.floor(readFileSync(good).length * 0.6))
  })

  it('detects a corrupted batch body, not only a cut', async () => {
    const bytes = Buffer.from(readFileSync(good))
    // flip bytes in the middle of the file (inside some batch's compressed buffers)
    const mid = Math.floor(bytes.length / 2)
    for (let i = 0; i < 64; i++) bytes[mid + i] ^= 0x5a
    const p = join(dir, 'corrupt.arrow')
    writeFileSync(p, bytes)
    const r = await runCli(['verify', p, '--json'])
    expect(r.code).toBe(1)
    const v = JSON.parse(r.stdout)
    expect(v.problem.offset).toBeLessThanOrEqual(mid + 64)
    expect(v.rowsIntact).toBeLessThan(20_000)
  })
})
