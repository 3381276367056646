/**
 * `mdrec record --feed kis --tiering` as a user runs it: the flags reach the
 * tiering (--priority decides who takes the registrations, --poll-interval
 * and --rebalance-every land in feed_options), `cat` shows the tier, and a
 * bad --priority file is a one-line error naming file and line.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {kisCodec} from '../src/feeds/kis/adapter.js'
import {kisSyntheticSymbols, syntheticKisTape} from '../src/feeds/kis/synthetic.js'
import {orderByPriority, readPriorityFile} from '../src/feeds/kis/tiering.js'
import {replay} from '../src/replay/engine.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {RecordingWriter} from '../src/store/writer.js'
import {runCli} from './helpers/cli.js'

const ENV = {KIS_APP_KEY: 'PScliTIERappkey0123456789abcdef01234', KIS_APP_SECRET: 'cliTIERsecret/0123456789abcdefghijklmnopqrstuvwxyz='}
const TYPES = ['H0STCNT0']
let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-kistier-cli-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** 45 codes: the 20 built-in ones, then 25 made up. */
const CODES = [...kisSyntheticSymbols(20), ...Array.from({length: 25}, (_, i) => String(200_001 + i * 37))]

async function synthetic(path: string): Promise<void> {
  const codec = kisCodec(TYPES)
  const w = RecordingWriter.create(
    path,
    {
      meta: {feed: 'kis', endpoint: 'ws://127.0.0.1:8765', subscriptions: CODES, feedOptions: {types: TYPES, paper: false}, toolVersion: 'test', startTime: '2025-06-12T00:00:00.000000000Z', rawMode: 'auto'},
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0},
  )
  for (const f of syntheticKisTape({frames: 10_000, symbols: CODES, types: TYPES, meanGapMs: 20, seed: 3})) {
    const d = codec.decode({data: f.text, binary: false})
    if (!d.ok) throw new Error(d.message)
    d.rows.forEach((r, i) => w.append({...r, recv_ts: f.recv_ts, raw: i === 0 && (d.rows.length > 1 || !r.exact) ? new TextEncoder().encode(f.text) : null}))
  }
  await w.close()
}

describe('--priority', () => {
  it('ranks the given codes: listed ones first in file order, then the rest as given', () => {
    const p = join(dir, 'prio.txt')
    writeFileSync(p, '# most important first\n000660\n\n  005930  # Samsung\n999999\n')
    expect(readPriorityFile(p)).toEqual(['000660', '005930', '999999'])
    expect(orderByPriority(['005930', '035420', '000660'], readPriorityFile(p))).toEqual(['000660', '005930', '035420'])
  })

  it('a line that is not a code is an error naming file and line', () => {
    const p = join(dir, 'bad.txt')
    writeFileSync(p, '005930\nSamsung Electronics\n')
    expect(() => readPriorityFile(p)).toThrow(`${p}:2: "Samsung Electronics" is not a KRX code`)
  })
})

describe('mdrec record --tiering (CLI)', () => {
  it('records 45 codes: the --priority codes take the registrations, the flags land in feed_options, cat shows the tier', async () => {
    const src = join(dir, 'src.arrow')
    await synthetic(src)
    const h = await replay(src, {port: 0, speed: 20})
    try {
      // the five least active codes first: they take registrations, and are then the quietest
      const prio = join(dir, 'watch.txt')
      const first = CODES.slice(-5)
      writeFileSync(prio, `${first.join('\n')}\n`)
      const out = join(dir, 'cli.arrow')
      const r = await runCli(
        ['record', ...CODES, '--feed', 'kis', '--url', h.url, '--tiering', '--priority', prio, '--poll-interval', '200ms', '--rebalance-every', '1s', '--duration', '5s', '--out', out],
        {env: ENV, timeoutMs: 60_000},
      )
      expect(r.stderr).toMatch(/kis tiering: 41 codes on the WebSocket \(41 of 41 registrations\), 4 polled over REST/)
      expect(r.code, r.stderr).toBe(0)
      const file = await openRecording(out)
      expect(file.meta.feedOptions.tiering).toEqual({codes: 45, ws_codes: 41, poll_interval_ms: 200, rebalance_ms: 1000, rest_rate: 20})
      const rows = []
      for await (const row of readRows(file)) rows.push(row)
      // the last four given codes were pushed out of the registrations by the priority file
      const polledFirst = CODES.slice(36, 40)
      const firstTier = new Map<string, unknown>()
      for (const row of rows) if (row.kind !== 'status' && !firstTier.has(row.symbol)) firstTier.set(row.symbol, row.fields.tier)
      for (const c of polledFirst) expect(firstTier.get(c), c).toBe('rest')
      // the priority codes were registered: none is polled before a demote row moves it
      for (const c of first) {
        const demoted = rows.find((row) => row.kind === 'status' && row.symbol === c && row.info?.includes('"tiering":"demote"'))
        const polled = rows.find((row) => row.symbol === c && row.fields.tier === 'rest')
        if (polled) expect(demoted && demoted.recv_ts <= polled.recv_ts, c).toBe(true)
      }
      const cat = await runCli(['cat', out, '--limit', '5'])
      expect(cat.code).toBe(0)
      expect(cat.stdout).toMatch(/tier/)
      for (const secret of Object.values(ENV)) expect(r.stderr + r.stdout).not.toContain(secret)
    } finally {
      await h.close()
    }
  }, 90_000)
})
