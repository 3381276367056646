/**
 * Several recordings as one timeline, and a recording's stored span:
 * `cat`/`slice` of several files merge them by receive time (stable), the
 * span every writer stores (`mdrec.end_time`) is the largest receive time of
 * its rows whatever order they were written in, `info` and the --from/--to
 * checks read the rows' own span, and a --from/--to never loses a row of a
 * file whose receive times go backwards (a merge written file after file by
 * an older mdrec). And `-s` names every symbol asked for that has no row.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import {replay} from '../src/replay/engine.js'
import {recordingInfo} from '../src/store/info.js'
import {compactRecording, rewrite} from '../src/store/rewrite.js'
import {repairRecording} from '../src/store/verify.js'
import {openRecording, readBatches} from '../src/store/reader.js'
import {sliceRecording} from '../src/store/slice.js'
import {COL} from '../src/store/types.js'
import type {RecordingWriter} from '../src/store/writer.js'
import {nsToIso} from '../src/util/time.js'
import {runCli} from './helpers/cli.js'
import {createYahooWriter} from './helpers/recording.js'

const ROWS = 300_000
let dir: string
/** The tape: every row's receive time and symbol, in arrival order. */
const tape: {t: bigint; s: string}[] = []
let all: string // every row, one recording
let a: string // the rows of the symbols of set A (the tape's last row among them)
let m: string // the other rows
let old: string // A's rows, then M's: a merge written file after file (mdrec before merging by time)
let setA: Set<string>

function append(w: RecordingWriter, f: ReturnType<typeof syntheticYahooTape> extends Iterable<infer F> ? F : never): void {
  const {id, time, ...fields} = f.data
  w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-merge-span-'))
  all = join(dir, 'all.arrow')
  a = join(dir, 'a.arrow')
  m = join(dir, 'm.arrow')
  old = join(dir, 'old.arrow')
  const frames = [...syntheticYahooTape({frames: ROWS, symbols: 20, seed: 7})]
  for (const f of frames) tape.push({t: f.recv_ts, s: f.data.id ?? ''})
  const symbols = [...new Set(tape.map((r) => r.s))].sort()
  setA = new Set(symbols.slice(0, 10))
  setA.add(tape.at(-1)!.s) // the latest row is A's: a file written A then M ends on an earlier row
  const opts = {fsync: false, flushRows: 20_000}
  const wAll = createYahooWriter(all, opts)
  const wA = createYahooWriter(a, opts)
  const wM = createYahooWriter(m, opts)
  for (const f of frames) {
    append(wAll, f)
    append(setA.has(f.data.id ?? '') ? wA : wM, f)
  }
  await Promise.all([wAll.close(), wA.close(), wM.close()])
  const wOld = createYahooWriter(old, opts)
  for (const f of frames) if (setA.has(f.data.id ?? '')) append(wOld, f)
  for (const f of frames) if (!setA.has(f.data.id ?? '')) append(wOld, f)
  await wOld.close()
}, 120_000)

afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

const maxT = () => tape.reduce((x, r) => (r.t > x ? r.t : x), tape[0].t)
const minT = () => tape.reduce((x, r) => (r.t < x ? r.t : x), tape[0].t)

/** Receive times (ns) and symbols of a CSV `cat … -c recv_ts,symbol`. */
function csvRows(stdout: string): {t: string; s: string}[] {
  return stdout
    .trim()
    .split('\n')
    .slice(1)
    .filter((l) => l !== '')
    .map((l) => {
      const [t, s] = l.split(',')
      return {t, s}
    })
}

describe('the stored span is the rows\' span', () => {
  it('a slice of several files stores the largest receive time as its end, and info and --from read the rows', async () => {
    const out = join(dir, 'am.arrow')
    const r = await sliceRecording([a, m], out)
    expect(r.rows).toBe(ROWS)
    const f = await openRecording(out)
    expect(f.meta.endTime).toBe(nsToIso(maxT()))
    expect(f.meta.timeOrdered).toBe(true)
    const info = await recordingInfo(f)
    expect(info.lastRow).toBe(nsToIso(maxT()))
    expect(info.firstRow).toBe(nsToIso(minT()))
    // the latest row, found by a --from just before it
    const from = maxT() - 1000n
    const want = tape.filter((x) => x.t >= from).length
    expect(want).toBeGreaterThan(0)
    const c = await runCli(['cat', out, '--from', nsToIso(from), '-f', 'csv', '-c', 'recv_ts,symbol'])
    expect(c.code).toBe(0)
    expect(csvRows(c.stdout)).toHaveLength(want)
    expect(c.stderr).toBe('')
  }, 120_000)

  it('a file written out of time order stores its largest receive time, and compaction keeps it (the writer)', async () => {
    expect((await openRecording(old)).meta.endTime).toBe(nsToIso(maxT()))
    expect((await openRecording(old)).meta.timeOrdered).toBeUndefined()
    const p = join(dir, 'gap.arrow')
    const w = createYahooWriter(p, {fsync: false})
    // a gap row carries the gap's start, after rows received later (a side source's)
    w.append({recv_ts: 5_000_000_000n, exch_ts: null, symbol: 'X', kind: 'tick', raw: null, info: null, fields: null})
    w.append({recv_ts: 3_000_000_000n, exch_ts: null, symbol: '', kind: 'gap', raw: null, info: null, fields: null})
    await w.close()
    const f = await openRecording(p)
    expect(f.meta.endTime).toBe(nsToIso(5_000_000_000n))
    expect(f.meta.timeOrdered).toBeUndefined()
    expect((await recordingInfo(f)).firstRow).toBe(nsToIso(3_000_000_000n))
  })

  it('compaction and repair of a file whose stored end is stale (an older mdrec\'s merge) store its rows\' end', async () => {
    // an old-style file: old.arrow's rows, its end_time the last-written row's, no time_ordered
    const stale = join(dir, 'stale.arrow')
    const f = await openRecording(old)
    let lastWritten = 0n
    for await (const {batch, idx} of readBatches(f)) {
      const t = batch.getChildAt(COL.recv_ts)!.data[0].values as BigInt64Array
      lastWritten = t[idx ? idx[idx.length - 1] : batch.numRows - 1]
    }
    expect(lastWritten).toBeLessThan(maxT())
    await rewrite({inputs: [f], out: stale, seq: 'keep', overwrite: false, meta: (c) => ({...f.meta, endTime: nsToIso(lastWritten), rows: c.rows, timeOrdered: undefined})})
    expect((await openRecording(stale)).meta.endTime).toBe(nsToIso(lastWritten))
    const repaired = join(dir, 'stale.repaired.arrow')
    await repairRecording(stale, repaired)
    expect((await openRecording(repaired)).meta.endTime).toBe(nsToIso(maxT()))
    await compactRecording(stale)
    expect((await openRecording(stale)).meta.endTime).toBe(nsToIso(maxT()))
  }, 120_000)

  it('--from/--to lose no row of a file whose receive times go backwards (written before merging by time)', async () => {
    const info = await recordingInfo(await openRecording(old))
    expect(info.lastRow).toBe(nsToIso(maxT()))
    const span = maxT() - minT()
    const from = minT() + span / 2n
    const to = minT() + (span * 3n) / 4n
    const want = tape.filter((x) => x.t >= from && x.t < to).length
    const c = await runCli(['cat', old, '--from', nsToIso(from), '--to', nsToIso(to), '-f', 'csv', '-c', 'recv_ts,symbol'])
    expect(c.code).toBe(0)
    const got = csvRows(c.stdout)
    expect(got).toHaveLength(want)
    const [lo, hi] = [nsToIso(from), nsToIso(to)]
    expect(got.every((x) => x.t >= lo && x.t < hi)).toBe(true)
    // the latest row (M's rows come after it in the file)
    const late = await runCli(['cat', old, '--from', nsToIso(maxT()), '-f', 'csv', '-c', 'recv_ts'])
    expect(late.stderr).toBe('')
    const last = maxT()
    expect(csvRows(late.stdout)).toHaveLength(tape.filter((x) => x.t >= last).length)
    // and slice (the rewrite path) copies them all
    const out = join(dir, 'old-cut.arrow')
    const s = await sliceRecording(old, out, {from, to})
    expect(s.rows).toBe(want)
    // the library's reader, which replay reads through, too
    let read = 0
    for await (const {batch, idx} of readBatches(await openRecording(old), {from, to})) read += idx ? idx.length : batch.numRows
    expect(read).toBe(want)
  }, 120_000)

  it('replay --from/--to sends every row in the range of such a file', async () => {
    const span = maxT() - minT()
    const from = minT() + span / 2n
    const to = minT() + (span * 3n) / 4n
    const want = tape.filter((x) => x.t >= from && x.t < to).length
    const h = await replay(old, {port: 0, speed: 'max', atEnd: 'close', from, to})
    try {
      const ws = new WebSocket(h.url)
      let n = 0
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('replay did not finish in 60 s')), 60_000)
        ws.on('open', () => ws.send(JSON.stringify({subscribe: [...new Set(tape.map((r) => r.s))]})))
        ws.on('message', () => n++)
        ws.on('close', () => {
          clearTimeout(t)
          resolve()
        })
        ws.on('error', reject)
      })
      expect(n).toBe(want)
    } finally {
      await h.close()
    }
    // the latest row, which the file holds before M's rows: replay starts there rather than refusing
    const late = await replay(old, {port: 0, speed: 'max', atEnd: 'close', from: maxT()})
    await late.close()
  }, 120_000)
})

describe('cat and slice of several files: one timeline', () => {
  it('cat merges files by receive time, ties in the order of the files', async () => {
    // all.arrow overlaps a.arrow row for row: every row of a comes right after its twin in all
    const c = await runCli(['cat', all, a, '-f', 'csv', '-c', 'recv_ts,symbol'])
    expect(c.code).toBe(0)
    const got = csvRows(c.stdout)
    const want: {t: string; s: string}[] = []
    for (const r of tape) {
      const row = {t: nsToIso(r.t), s: r.s}
      want.push(row)
      if (setA.has(r.s)) want.push(row)
    }
    // stable merge of two time-ordered streams; the tape's own order where times tie
    expect(got.length).toBe(want.length)
    let backwards = 0
    for (let i = 1; i < got.length; i++) if (got[i].t < got[i - 1].t) backwards++
    expect(backwards).toBe(0)
    expect(got).toEqual(want)
  }, 120_000)

  it('cat a m and slice a m come out in time order', async () => {
    const c = await runCli(['cat', m, a, '-f', 'csv', '-c', 'recv_ts,symbol'])
    const got = csvRows(c.stdout)
    expect(got).toEqual(tape.map((r) => ({t: nsToIso(r.t), s: r.s})))
    const out = join(dir, 'ma.arrow')
    await sliceRecording([m, a], out)
    const times: bigint[] = []
    for await (const {batch, idx} of readBatches(await openRecording(out))) {
      const t = batch.getChildAt(COL.recv_ts)!.data[0].values as BigInt64Array
      const n = idx ? idx.length : batch.numRows
      for (let k = 0; k < n; k++) times.push(t[idx ? idx[k] : k])
    }
    expect(times).toEqual(tape.map((r) => r.t))
  }, 120_000)
})

describe('-s names every symbol without a row', () => {
  it('slice and cat note a misspelt symbol among several, exit 0', async () => {
    const sym = [...setA][0]
    const out = join(dir, 's4.arrow')
    const s = await runCli(['slice', all, '-o', out, '-s', `${sym},ZZZZ`])
    expect(s.code).toBe(0)
    expect(s.stdout).toMatch(/^wrote /)
    expect(s.stderr).toMatch(/^note: no rows for ZZZZ: symbol ZZZZ is not in the recording/)
    const c = await runCli(['cat', all, '-s', `${sym.toLowerCase()},${sym}`, '-f', 'csv', '-c', 'symbol'])
    expect(c.code).toBe(0)
    expect(csvRows(c.stdout).length).toBe(tape.filter((r) => r.s === sym).length)
    expect(c.stderr).toContain(`note: no rows for ${sym.toLowerCase()}: symbol ${sym.toLowerCase()} is not in the recording (symbols match exactly; did you mean ${sym}?)`)
  }, 120_000)
})
