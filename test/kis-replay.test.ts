import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'

import {kisCodec, KisSession} from '../src/feeds/kis/adapter.js'
import {decryptPayload, encryptPayload, frameText, hmsSeconds, requestText} from '../src/feeds/kis/codec.js'
import {TR_BY_ID} from '../src/feeds/kis/layouts.js'
import {KisProbe, postApproval} from '../src/feeds/kis/probe.js'
import {syntheticKisTape, type KisTapeFrame} from '../src/feeds/kis/synthetic.js'
import {replay, type ReplayHandle, type ReplayOptions} from '../src/replay/engine.js'
import type {RawMode} from '../src/store/schema.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {RecordingWriter} from '../src/store/writer.js'
import {expectPolarsAgrees} from './helpers/polars.js'

const dir = mkdtempSync(join(tmpdir(), 'mdrec-kis-replay-'))
let fileNo = 0
const TE = new TextEncoder()
const RECORDED_KEY = {key: 'R'.repeat(32), iv: 'r'.repeat(16)}
const TYPES = ['H0STCNT0', 'H0STASP0', 'H0STCNI0']

const cleanups: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function tape(frames: number, seed = 2): KisTapeFrame[] {
  return [...syntheticKisTape({frames, seed, symbols: ['005930', '000660'], types: TYPES, htsId: 'mdrectest', noticeShare: 0.05, meanGapMs: 2})]
}

/** The frame the recorded session received (notices encrypted with that session's key). */
function wire(f: KisTapeFrame): string {
  return TR_BY_ID.get(f.trId)!.encrypted ? frameText('1', f.trId, f.records.length, encryptPayload(f.records.map((r) => r.join('^')).join('^'), RECORDED_KEY)) : f.text
}

/** A recording of `frames` made the way the recorder makes it (decode, raw kept by the same rule). */
async function record(frames: KisTapeFrame[], rawMode: RawMode = 'auto', compactRows?: number): Promise<string> {
  const path = join(dir, `r${fileNo++}.arrow`)
  const session = new KisSession(new Set(TYPES))
  session.learn('H0STCNI0', RECORDED_KEY)
  const codec = kisCodec(TYPES, session)
  const w = RecordingWriter.create(
    path,
    {
      meta: {
        feed: 'kis',
        endpoint: 'ws://127.0.0.1:8765',
        subscriptions: ['005930', '000660', 'mdrectest'],
        feedOptions: {types: TYPES, paper: false},
        toolVersion: 'test',
        startTime: '2025-06-12T00:00:00.000000000Z',
        rawMode,
      },
      exchTsUnit: codec.exchTsUnit,
      columns: codec.columns,
    },
    {flushIntervalMs: 0, compactRows},
  )
  for (const f of frames) {
    const text = wire(f)
    const d = codec.decode({data: text, binary: false})
    if (!d.ok) throw new Error(`${d.code}: ${d.message}`)
    const keep = rawMode === 'never' ? false : rawMode === 'always' || d.rows.length !== 1 || !d.rows[0].exact
    d.rows.forEach((r, i) => w.append({...r, recv_ts: f.recv_ts, raw: keep && i === 0 ? TE.encode(text) : null}))
  }
  await w.close()
  return path
}

async function serve(path: string, o: ReplayOptions = {}): Promise<ReplayHandle> {
  const h = await replay(path, {port: 0, speed: 'max', atEnd: 'close', ...o})
  cleanups.push(() => h.close())
  return h
}

/** Connect, get an approval key from the replay's own port, register everything at once, and collect until the replay closes. */
async function client(h: ReplayHandle, regs: Array<[string, string]>): Promise<{probe: KisProbe; cipher: {key: string; iv: string}}> {
  const {json} = await postApproval(`http://127.0.0.1:${h.port}`, {grant_type: 'client_credentials', appkey: 'replay-test-app-key-000', secretkey: 'replay-test-secret-0000'})
  const probe = await KisProbe.connect(h.url)
  cleanups.push(() => probe.close())
  for (const [t, k] of regs) probe.ws.send(requestText(json.approval_key, '1', t, k))
  await probe.until((m) => m.filter((x) => x.includes('OPSP0000')).length === regs.length, 5000, 'the acks')
  const ack = JSON.parse(probe.messages.find((x) => x.includes('OPSP0000'))!)
  return {probe, cipher: ack.body.output}
}

const ALL_REGS: Array<[string, string]> = [
  ['H0STCNT0', '005930'],
  ['H0STASP0', '005930'],
  ['H0STCNT0', '000660'],
  ['H0STASP0', '000660'],
  ['H0STCNI0', 'mdrectest'],
]

/** What a client sees of a data frame: notices decrypted with its own session key. */
function plain(frame: string, cipher: {key: string; iv: string}): string {
  if (!frame.startsWith('1|')) return frame
  const [enc, tr, count, payload] = frame.split('|')
  const d = decryptPayload(payload, cipher)
  if (!d.ok) throw new Error(d.message)
  return `${enc}|${tr}|${count}|${d.text}`
}

describe('kis replay', () => {
  it('sends the recorded frames byte for byte, bundles whole; notices re-encrypted with each client’s own key', async () => {
    const frames = tape(800)
    expect(frames.filter((f) => f.records.length > 1).length).toBeGreaterThan(20)
    const h = await serve(await record(frames))
    const [a, b] = [await client(h, ALL_REGS), await client(h, ALL_REGS)]
    for (const c of [a, b]) {
      await c.probe.until(() => c.probe.closed !== null, 15_000, 'the end of the replay')
      expect(c.probe.data().map((x) => plain(x, c.cipher))).toEqual(frames.map((f) => f.text))
    }
    // the two clients got different ciphertexts for the same notices
    const notices = (c: typeof a) => c.probe.data().filter((x) => x.startsWith('1|'))
    expect(notices(a).length).toBeGreaterThan(10)
    expect(notices(a)[0]).not.toBe(notices(b)[0])
    expect(notices(a)[0]).not.toBe(wire(frames.find((f) => f.trId === 'H0STCNI0')!))
  })

  // A CI fixture compares whole streams: the session's key/iv (in every ack, and the notices' ciphertext) and
  // the approval key are derived from what the client did, not drawn at random, so a run repeats byte for byte.
  it('two runs of the same client flow get the same bytes, acks and encrypted notices included', async () => {
    const path = await record(tape(400))
    const run = async () => {
      const h = await serve(path)
      const c = await client(h, ALL_REGS)
      await c.probe.until(() => c.probe.closed !== null, 15_000, 'the end of the replay')
      await h.close()
      return c.probe.messages
    }
    const [one, two] = [await run(), await run()]
    expect(one.filter((x) => x.includes('OPSP0000'))).toHaveLength(ALL_REGS.length)
    expect(one.some((x) => x.startsWith('1|'))).toBe(true)
    expect(two).toEqual(one)
  })

  it('sends a client only the TRs and keys it registered', async () => {
    const frames = tape(400)
    const h = await serve(await record(frames))
    const {probe} = await client(h, [['H0STCNT0', '005930']])
    await probe.until(() => probe.closed !== null, 15_000, 'the end of the replay')
    const want = frames.filter((f) => f.trId === 'H0STCNT0' && f.key === '005930').map((f) => f.text)
    expect(want.length).toBeGreaterThan(20)
    expect(probe.data()).toEqual(want)
  })

  it('without raw payloads (--raw never) regroups bundles from the columns; only a batch boundary splits one', async () => {
    const frames = tape(300)
    for (const [rawMode, rows] of [
      ['never', 7],
      ['never', 65_536],
      ['auto', 7],
    ] as const) {
      const h = await serve(await record(frames, rawMode, rows))
      const {probe, cipher} = await client(h, ALL_REGS)
      await probe.until(() => probe.closed !== null, 15_000, 'the end of the replay')
      const got = probe.data().map((x) => plain(x, cipher))
      const records = (list: string[]) => list.flatMap((x) => x.split('|')[3]).join('^')
      expect(records(got)).toBe(records(frames.map((f) => f.text)))
      if (rawMode === 'never' && rows === 7) {
        // 7-row batches cut some bundles in two: more frames, the same records in the same order
        expect(got.length).toBeGreaterThan(frames.length)
      } else expect(got).toEqual(frames.map((f) => f.text))
      await h.close()
    }
  })

  it('loops with every time field moved forward by whole seconds', async () => {
    const frames = tape(200).filter((f) => f.trId === 'H0STCNT0')
    const h = await serve(await record(frames), {loop: 1})
    const {probe} = await client(h, ALL_REGS.slice(0, 4))
    await probe.until(() => probe.closed !== null, 15_000, 'the end of the replay')
    const got = probe.data()
    expect(got).toHaveLength(2 * frames.length)
    expect(got.slice(0, frames.length)).toEqual(frames.map((f) => f.text))
    const span = Number(frames[frames.length - 1].recv_ts - frames[0].recv_ts) / 1e9
    const timeIdx = [1, 24, 27, 30] // STCK_CNTG_HOUR, OPRC_HOUR, HGPR_HOUR, LWPR_HOUR
    let shift: number | null = null
    frames.forEach((f, i) => {
      const second = got[frames.length + i].split('|')[3].split('^')
      const first = f.records.flat()
      expect(second).toHaveLength(first.length)
      for (let k = 0; k < first.length; k++) {
        const at = k % first.length % (first.length / f.records.length)
        if (timeIdx.includes(at)) {
          const d = hmsSeconds(second[k]) - hmsSeconds(first[k])
          shift ??= d
          expect(d).toBe(shift)
        } else expect(second[k]).toBe(first[k])
      }
    })
    expect(shift).toBeGreaterThanOrEqual(Math.ceil(span))
    expect(shift).toBeLessThanOrEqual(Math.ceil(span) + 2)
  })

  it('the fixture: read by polars, replayed whole (bundles as recorded) to a client registered for its subscriptions', async () => {
    const path = fileURLToPath(new URL('../fixtures/kis-krx.arrow', import.meta.url))
    const file = await openRecording(path)
    expect(file.meta).toMatchObject({feed: 'kis', feedOptions: {types: ['H0STCNT0', 'H0STASP0'], paper: false}})
    let frames = 0
    let rows = 0
    for await (const r of readRows(file)) {
      rows++
      if (r.kind !== 'status' && r.fields.frame_record === 0) frames++
    }
    expect(await expectPolarsAgrees(path)).toBe(rows)
    const h = await serve(path)
    const regs = file.meta.subscriptions.flatMap((k) => ['H0STCNT0', 'H0STASP0'].map((t) => [t, k] as [string, string]))
    const {probe} = await client(h, regs)
    await probe.until(() => probe.closed !== null, 15_000, 'the end of the replay')
    expect(probe.data()).toHaveLength(frames)
    expect(probe.data().filter((x) => !/^0\|H0ST(CNT|ASP)0\|\d{3}\|/.test(x))).toEqual([])
    expect(probe.data().some((x) => x.startsWith('0|H0STCNT0|002|') || x.startsWith('0|H0STCNT0|003|'))).toBe(true)
  })
})
