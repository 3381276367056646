import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {KisServer} from '../src/feeds/kis/server.js'
import {syntheticKisTape} from '../src/feeds/kis/synthetic.js'
import type {RowView} from '../src/feeds/types.js'
import {displayValue} from '../src/store/format.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {runCli, startCli, type Running} from './helpers/cli.js'
import {expectPolarsAgrees} from './helpers/polars.js'
import {rowsOf} from './helpers/recording.js'

// Test credentials, long and unlike anything else in a recording, so finding them anywhere means a leak.
const APP_KEY = 'PSrecordTESTappkey7f3a9c0b1d2e4f5a6b7c8d9e'
const APP_SECRET = 'recordTESTsecret/Zq8vW2xY4kL6mN0pR3sT5uV7wX9yA1bC3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7d='
const ENV = {KIS_APP_KEY: APP_KEY, KIS_APP_SECRET: APP_SECRET}
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/
const SYMS = ['005930', '000660', 'mdrectest']
const TYPES = 'H0STCNT0,H0STASP0,H0STCNI0'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const start = (args: string[]): Running => startCli(args, cleanups, ENV, 60_000)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function waitFor(server: KisServer, registrations: number, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fewer than ${registrations} registrations arrived`)), timeoutMs)
    const check = () => {
      if ([...server.clients].some((c) => c.registrations.size >= registrations)) {
        clearTimeout(t)
        server.off('register', check)
        resolve()
      }
    }
    server.on('register', check)
    check()
  })
}

async function drained(server: KisServer): Promise<void> {
  for (let i = 0; i < 200 && ![...server.clients].every((c) => c.ws.bufferedAmount === 0); i++) await sleep(10)
  await sleep(300) // let the recorder read what the kernel holds
}

/** A data row as comparable text: kind, symbol, exch_ts, every column; the payload when kept (not for encrypted rows: each session has its own key). */
function comparable(r: RowView): string {
  const f = Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)]))
  const raw = r.raw && r.fields.encrypted !== true ? Buffer.from(r.raw).toString() : null
  return JSON.stringify({kind: r.kind, symbol: r.symbol, exch_ts: String(r.exch_ts), f, raw})
}

const isAck = (r: RowView) => r.kind === 'status' && r.info !== null

/** Every value of a recording as text (decompressed), and its metadata. */
async function everything(path: string): Promise<string> {
  const file = await openRecording(path)
  const parts = [JSON.stringify(file.meta)]
  for await (const row of readRows(file)) {
    for (const c of file.columns) parts.push(displayValue(row, c) ?? '')
    if (row.raw) parts.push(Buffer.from(row.raw).toString('utf8'))
  }
  return parts.join('\n')
}

describe('mdrec record --feed kis (CLI, against the emulator)', () => {
  it('records, replays and records again: the same rows; no secret anywhere in the files or the output', async () => {
    const srv = await KisServer.listen({pingIntervalMs: 250})
    cleanups.push(() => srv.close())
    const dir = mkdtempSync(join(tmpdir(), 'mdrec-kis-'))
    const a = join(dir, 'a.arrow')
    const b = join(dir, 'b.arrow')
    const recA = start(['record', ...SYMS, '--feed', 'kis', '--types', TYPES, '--url', srv.url(), '--out', a, '--flush-interval', '200ms'])
    await waitFor(srv, 5)
    let frames = 0
    let records = 0
    for (const f of syntheticKisTape({frames: 600, symbols: ['005930', '000660'], types: TYPES.split(','), htsId: 'mdrectest', noticeShare: 0.04, seed: 5})) {
      expect(srv.publish(f.trId, f.records)).toBe(1)
      records += f.records.length
      if (++frames % 100 === 0) await sleep(5)
    }
    // an older 59-field order book, a frame of an unknown TR and garbage: both layouts decode, the rest are rejects
    const old = [...syntheticKisTape({frames: 1, symbols: ['000660'], types: ['H0STASP0'], aspLayout: 59, seed: 8})][0]
    srv.publish('H0STASP0', old.records)
    srv.sendRaw('0|H0XXXXX0|001|000660^1^2')
    srv.sendRaw('not a kis frame')
    srv.sendRaw(`0|H0STCNT0|002|${old.records[0].join('^')}`)
    await sleep(700) // at least two PINGPONGs answered
    await drained(srv)
    recA.child.kill('SIGINT')
    const ra = await recA.out
    expect(ra.code, ra.stderr).toBe(0)
    expect([...srv.clients].length === 0 || [...srv.clients].every((c) => c.pongs >= 2)).toBe(true)

    const A = await rowsOf(a)
    const kinds = (rows: RowView[]) => rows.reduce<Record<string, number>>((m, r) => ((m[r.kind] = (m[r.kind] ?? 0) + 1), m), {})
    expect(kinds(A)).toMatchObject({reject: 3})
    expect(A.filter(isAck).map((r) => `${r.fields.tr_id} ${r.symbol} ${JSON.parse(r.info!).body.msg_cd}`)).toEqual([
      'H0STCNT0 005930 OPSP0000',
      'H0STASP0 005930 OPSP0000',
      'H0STCNT0 000660 OPSP0000',
      'H0STASP0 000660 OPSP0000',
      'H0STCNI0 mdrectest OPSP0000',
    ])
    const data = A.filter((r) => !isAck(r) && r.kind !== 'reject')
    expect(data.length).toBe(records + 1)
    expect(data.filter((r) => r.fields.encrypted === true).length).toBeGreaterThan(5) // notices were decrypted
    expect(data.filter((r) => (r.fields.frame_records as number) > 1).length).toBeGreaterThan(30) // bundles were split
    expect(new Set(data.filter((r) => r.kind === 'orderbook').map((r) => r.fields.layout))).toEqual(new Set([59, 63]))
    expect(A.filter((r) => r.kind === 'reject').map((r) => JSON.parse(r.info!).code)).toEqual(['UNKNOWN_TR', 'BAD_FRAME', 'BAD_FIELD_COUNT'])
    expect(await expectPolarsAgrees(a)).toBe(A.length)

    // replay A over the KIS protocol and record it again, as a user would
    const rp = start(['replay', a, '--port', '0', '--speed', 'max'])
    for (let i = 0; i < 300 && !rp.stdout().includes('\n'); i++) await sleep(20)
    const url = rp.stdout().split('\n')[0]
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    const recB = start(['record', ...SYMS, '--feed', 'kis', '--types', TYPES, '--url', url, '--out', b, '--duration', '3s'])
    const rb = await recB.out
    expect(rb.code, rb.stderr).toBe(0)
    rp.child.kill('SIGINT')
    const rr = await rp.out
    expect(rr.code, rr.stderr).toBe(0)

    const B = await rowsOf(b)
    expect(B.filter(isAck)).toHaveLength(5)
    expect(B.filter((r) => r.kind === 'reject')).toHaveLength(0)
    const dataB = B.filter((r) => !isAck(r))
    expect(dataB.map(comparable)).toEqual(data.map(comparable))
    // bundled frames came back bundled, byte for byte
    expect(dataB.filter((r) => r.raw !== null && r.fields.encrypted !== true).length).toBe(data.filter((r) => r.raw !== null && r.fields.encrypted !== true).length)

    // secrets: not in the files (bytes, and every decompressed value and the metadata), not in any output
    const approvalKeys = [...srv.approvals.keys()]
    expect(approvalKeys).toHaveLength(1)
    for (const path of [a, b]) {
      const bytes = readFileSync(path)
      const content = await everything(path)
      for (const secret of [APP_KEY, APP_SECRET, ...approvalKeys]) {
        expect(bytes.includes(Buffer.from(secret))).toBe(false)
        expect(content).not.toContain(secret)
      }
      // B's approval key came from the replay's emulator: no approval key at all (mdrec.run_id is a UUID by design)
      const runId = (await openRecording(path)).meta.runId!
      expect(runId).toMatch(UUID)
      expect(content.replaceAll(runId, '')).not.toMatch(UUID)
    }
    for (const r of [ra, rb, rr]) {
      const text = r.stdout + r.stderr
      for (const secret of [APP_KEY, APP_SECRET, ...approvalKeys]) expect(text).not.toContain(secret)
      expect(text).not.toMatch(UUID)
    }
    expect(ra.stderr).toContain(`kis: approval key obtained from ${srv.restUrl}/oauth2/Approval`)

    // info and cat show the rows sensibly
    const info = await runCli(['info', a, '--json'])
    expect(info.code, info.stderr).toBe(0)
    const [meta] = JSON.parse(info.stdout)
    expect(meta).toMatchObject({feed: 'kis', endpoint: srv.url(), subscriptions: SYMS, rejects: 3})
    expect(Object.keys(meta.rowsByKind).sort()).toEqual(['orderbook', 'reject', 'status', 'trade'])
    expect(meta.columns).toEqual(expect.arrayContaining(['tr_id', 'layout', 'frame_records', 'STCK_PRPR', 'ASKP10', 'MID_PRC', 'CUST_ID']))
    const cat = await runCli(['cat', a, '--symbol', '005930', '--limit', '12'])
    expect(cat.code, cat.stderr).toBe(0)
    const lines = cat.stdout.trim().split('\n')
    expect(lines[0].split(/\s+/)).toEqual(['recv_ts', 'symbol', 'kind', 'tr_id', 'STCK_PRPR', 'CNTG_VOL', 'ASKP1', 'BIDP1', 'ASKP_RSQN1', 'BIDP_RSQN1', 'CNTG_QTY', 'CNTG_UNPR'])
    expect(lines).toHaveLength(13)
    expect(lines.some((l) => /\s005930\s+trade\s+H0STCNT0\s+\d+\s+\d+\s+\d+\s+\d+/.test(l))).toBe(true)
    const nd = await runCli(['cat', a, '--format', 'ndjson', '--symbol', '000660', '--limit', '40'])
    const trade = nd.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((o) => o.kind === 'trade')
    expect(trade).toMatchObject({tr_id: 'H0STCNT0', layout: 46, MKSC_SHRN_ISCD: '000660', STCK_PRPR: expect.any(String), PRDY_CTRT: expect.any(Number), encrypted: false})
    expect(trade.exch_ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000000Z$/)
    const verify = await runCli(['verify', a])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  })

  it("surfaces the server's refusals: a status row with the ack, and a log line", async () => {
    const srv = await KisServer.listen({pingIntervalMs: 0, maxRegistrations: 3})
    cleanups.push(() => srv.close())
    const out = join(mkdtempSync(join(tmpdir(), 'mdrec-kis-')), 'refused.arrow')
    const rec = start(['record', '005930', '000660', '--feed', 'kis', '--types', 'H0STCNT0,H0STASP0', '--url', srv.url(), '--out', out, '--duration', '1500ms'])
    const r = await rec.out
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('kis refused H0STASP0 000660: OPSP0008 MAX SUBSCRIBE OVER')
    const rows = await rowsOf(out)
    const refusal = rows.find((x) => x.kind === 'status' && x.info?.includes('OPSP0008'))!
    expect(refusal).toMatchObject({symbol: '000660', fields: {tr_id: 'H0STASP0'}})
    expect(JSON.parse(refusal.info!).body).toMatchObject({rt_cd: '1', msg_cd: 'OPSP0008', msg1: 'MAX SUBSCRIBE OVER'})
    expect(rows.filter((x) => x.kind === 'status')).toHaveLength(4)
  })
})
