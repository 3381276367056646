// Issue 13: a closed file leaves out the feed columns null in every row
// (`mdrec.null_columns`, docs/FORMAT.md). The size target itself is checked
// in format-v2.test.ts (quiet tape <= 0.8x the zstd-3 lines); here, every
// mdrec reader still sees the full column list, with the same values as the
// live recording of the same rows, and a column left out of one input but
// holding values in another is kept.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {yahooCodec} from '../src/feeds/yahoo/adapter.js'
import {encodeFrame} from '../src/feeds/yahoo/codec.js'
import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {sliceRecording} from '../src/store/slice.js'
import {repairRecording, verifyRecording} from '../src/store/verify.js'
import {runCli} from './helpers/cli.js'
import {expectPolarsAgrees, readWithPolars} from './helpers/polars.js'
import {createYahooWriter} from './helpers/recording.js'

const dir = mkdtempSync(join(tmpdir(), 'mdrec-size-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Write bench/store's quiet tape (50 symbols, ~50 frames/s, seed 7) as the recorder does; `compact`: close to the closed file. */
async function quiet(path: string, frames: number, compact: boolean): Promise<void> {
  const codec = yahooCodec('v2')
  const w = createYahooWriter(path, {flushRows: 50, compactOnClose: compact, fsync: false})
  for (const f of syntheticYahooTape({frames, symbols: 50, meanGapMs: 20, seed: 7})) {
    const text = encodeFrame(f.data, 'v2')
    const r = codec.decode({data: text, binary: false}).rows[0]
    w.append({recv_ts: f.recv_ts, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, raw: r.exact ? null : Buffer.from(text), info: null, fields: r.fields})
  }
  await w.close()
}

describe('columns null throughout are left out of a closed file (issue 13)', () => {
  it('cat, info, verify, repair and slice read the closed file as the live one: every column, the same values', async () => {
    const live = join(dir, 'live.arrow')
    const closed = join(dir, 'closed.arrow')
    await quiet(live, 3_000, false)
    await quiet(closed, 3_000, true)
    const l = await openRecording(live)
    const c = await openRecording(closed)
    expect(l.nullColumns).toEqual([])
    expect(c.nullColumns.map((x) => x.name)).toContain('unknown_fields')
    expect(c.nullColumns.map((x) => x.name)).not.toContain('price')
    // the common columns are always stored; mdrec sees the full list, other readers the stored one
    expect(c.nullColumns.every((x) => x.at >= 7)).toBe(true)
    expect(c.columns).toEqual(l.columns)
    expect(c.schema.fields.map((f) => f.name)).toEqual(l.schema.fields.map((f) => f.name))
    expect(c.storedSchema.fields.length).toBe(l.schema.fields.length - c.nullColumns.length)
    expect(c.schema.metadata.has('mdrec.null_columns')).toBe(false)
    expect(readWithPolars(closed).columns).toEqual(c.storedSchema.fields.map((f) => f.name))
    expect(await expectPolarsAgrees(closed)).toBe(3_000)

    for (const format of ['ndjson', 'csv', 'table']) {
      const a = await runCli(['cat', live, '--format', format])
      const b = await runCli(['cat', closed, '--format', format])
      expect(b.code, b.stderr).toBe(0)
      expect(b.stdout, format).toBe(a.stdout)
    }
    const info = await runCli(['info', closed, '--json'])
    expect(info.code, info.stderr).toBe(0)
    expect(JSON.parse(info.stdout)[0].rows).toBe(3_000)

    const v = await verifyRecording(closed)
    expect(v.ok).toBe(true)
    const fixed = await repairRecording(closed, join(dir, 'repaired.arrow'))
    const r = await openRecording(fixed.out!)
    expect(r.nullColumns).toEqual(c.nullColumns)
    const rows = async (p: string) => {
      const out: string[] = []
      for await (const row of readRows(await openRecording(p))) out.push(JSON.stringify(row, (_, x) => (typeof x === 'bigint' ? String(x) : x)))
      return out
    }
    expect(await rows(fixed.out)).toEqual(await rows(live))
    const cut = join(dir, 'cut.arrow')
    await sliceRecording(closed, cut, {symbols: ['SYM0']})
    expect((await openRecording(cut)).columns).toEqual(l.columns)
  }, 120_000)

  it('a column left out of one part and holding values in the next is kept with its values (slice over the parts)', async () => {
    const runId = '3f1c2a9e-0000-4000-8000-000000000013'
    const parts = [join(dir, 'run.000.arrow'), join(dir, 'run.001.arrow')]
    const t0 = 1_764_000_000_000_000_000n
    for (const [p, path] of parts.entries()) {
      const w = createYahooWriter(path, {firstSeq: BigInt(p * 100), fsync: false}, {runId, part: p})
      for (let k = 0; k < 100; k++) {
        const fields: Record<string, unknown> = {price: 100 + k}
        if (p === 1 && k % 3 === 0) fields.bid = 99 + k // bid: null throughout part 0, values in part 1
        w.append({recv_ts: t0 + BigInt(p * 100 + k) * 1_000_000n, exch_ts: null, symbol: 'AAA', kind: 'tick', raw: null, info: null, fields})
      }
      await w.close()
    }
    expect((await openRecording(parts[0])).nullColumns.map((x) => x.name)).toContain('bid')
    expect((await openRecording(parts[1])).nullColumns.map((x) => x.name)).not.toContain('bid')
    const out = join(dir, 'run-slice.arrow')
    await sliceRecording(parts, out)
    const f = await openRecording(out)
    expect(f.nullColumns.map((x) => x.name)).not.toContain('bid')
    const bids: unknown[] = []
    for await (const row of readRows(f)) bids.push(row.fields.bid ?? null)
    expect(bids.filter((b) => b !== null)).toEqual(Array.from({length: 34}, (_, j) => 99 + 3 * j))
    expect(await expectPolarsAgrees(out)).toBe(200)
  }, 60_000)

  it('a file whose mdrec.null_columns does not describe columns is refused when opened', async () => {
    const path = join(dir, 'bad-null-columns.arrow')
    // position 3 is a common column's: never left out
    expect(() => createYahooWriter(join(dir, 'live-null-columns.arrow'), {}, {nullColumns: [{at: 8, name: 'currency', type: 'dict_utf8'}]})).toThrow(/closed files/)
    expect(() => createYahooWriter(join(dir, 'no-seq.arrow'), {closedFile: true}, {nullColumns: [{at: 4, name: 'seq', type: 'uint64'}]})).toThrow(/common column/)
    const w = createYahooWriter(path, {compactOnClose: false, closedFile: true, fsync: false}, {nullColumns: [{at: 3, name: 'x', type: 'int64'}]})
    w.append({recv_ts: 1n, exch_ts: null, symbol: 'A', kind: 'tick', raw: null, info: null, fields: {price: 1}})
    await w.close()
    await expect(openRecording(path)).rejects.toMatchObject({code: 'E_NOT_RECORDING', message: expect.stringContaining('mdrec.null_columns')})
  })
})
