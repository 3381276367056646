/**
 * What a replay at 'max' allocates, counted (never timed): the 64 KiB
 * buffers frames are packed into (FrameBurst in src/feeds/emulator.ts) are
 * reused once written, so their number is bounded by what is in flight, not
 * by the frames sent. The frames stay byte for byte the recorded ones (raw)
 * and encodeFrame's (re-encoded), also for a client that stops reading for a
 * while (writes then complete later, and a buffer must not be reused before).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from 'vitest'
import {WebSocket} from 'ws'

import {decodeFrame, encodeFrame} from '../src/feeds/yahoo/codec.js'
import {yahooReplay} from '../src/feeds/yahoo/replay.js'
import {syntheticSymbols, syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import type {PricingData} from '../src/feeds/yahoo/types.js'
import {replay, type ReplayHandle} from '../src/replay/engine.js'
import {createYahooWriter} from './helpers/recording.js'

const ROWS = 60_000
const SEED = 5
let dir = ''
let rawPath = ''
let encPath = ''
let expected: string[] = []
let messages: PricingData[] = []
const symbols = syntheticSymbols({seed: SEED, symbols: 20}).map((s) => s.id)
const open: ReplayHandle[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-max-buffers-'))
  rawPath = join(dir, 'raw.arrow')
  encPath = join(dir, 'enc.arrow')
  const meta = {endpoint: 'wss://streamer.finance.yahoo.com/?version=2', feedOptions: {envelope: 'v2'}}
  // several batches, so that batches are read (and decompressed) while frames are sent
  const raw = createYahooWriter(rawPath, {flushRows: 10_000, compactOnClose: false}, {...meta, rawMode: 'always'})
  const enc = createYahooWriter(encPath, {flushRows: 10_000, compactOnClose: false}, meta)
  for (const f of syntheticYahooTape({frames: ROWS, symbols: 20, seed: SEED})) {
    const {id, time, ...fields} = f.data
    const text = encodeFrame(f.data, 'v2')
    expected.push(text)
    messages.push(f.data)
    const row = {recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick' as const, info: null, fields}
    raw.append({...row, raw: Buffer.from(text)})
    enc.append({...row, raw: null})
  }
  await raw.close()
  await enc.close()
}, 120_000)

afterEach(async () => {
  vi.restoreAllMocks()
  for (const h of open.splice(0)) await h.close()
})

afterAll(() => {
  expected = []
  messages = []
  if (dir) rmSync(dir, {recursive: true, force: true})
})

/** Replay `path` at 'max' to one client (v2, or `version`) subscribed to every symbol; returns its frames. `stallMs`: it stops reading that long after the first frame. */
async function playMax(path: string, stallMs = 0, loop = 0, version = 'v2'): Promise<string[]> {
  const h = await replay(path, {port: 0, speed: 'max', atEnd: 'close', settleMs: 0, loop})
  open.push(h)
  const ws = new WebSocket(h.urlFor(version), {perMessageDeflate: false})
  const frames: string[] = []
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({subscribe: symbols})))
    ws.on('message', (data) => {
      frames.push(String(data))
      if (frames.length === 1 && stallMs > 0) {
        const sock = (ws as unknown as {_socket: {pause(): void; resume(): void}})._socket
        sock.pause()
        setTimeout(() => sock.resume(), stallMs)
      }
    })
    ws.on('close', () => resolve())
    ws.on('error', reject)
  })
  return frames
}

function sameFrames(got: string[]): void {
  expect(got.length).toBe(expected.length)
  let bad = -1
  for (let k = 0; k < got.length && bad < 0; k++) if (got[k] !== expected[k]) bad = k
  expect(bad, `frame ${bad} differs`).toBe(-1)
}

describe("replay at 'max': frame buffers", () => {
  it('reuses its 64 KiB frame buffers: at most 24 allocated for ~7 MB of frames, not one per 64 KiB', async () => {
    const orig = Buffer.allocUnsafe
    let chunks = 0
    vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((n: number) => {
      if (n === 64 * 1024) chunks++
      return orig(n)
    })
    const got = await playMax(encPath)
    sameFrames(got)
    const bytes = got.reduce((a, f) => a + f.length + 2, 0)
    expect(bytes).toBeGreaterThan(100 * 64 * 1024)
    // in flight at once: up to the backpressure high-water mark (1 MiB) in the socket, plus the burst being filled
    // main allocated 119 here (one per 64 KiB sent), with reuse 3 (the client keeps up)
    expect(chunks).toBeLessThanOrEqual(24)
  }, 60_000)

  for (const [name, path] of [
    ['raw', () => rawPath],
    ['re-encoded', () => encPath],
  ] as const) {
    it(`${name}: every frame as recorded, also when the client stops reading for a while (writes complete late)`, async () => {
      sameFrames(await playMax(path(), 300))
    }, 60_000)
  }

  it('re-encoded, to one client: written in place (RowEncoder.writer), every frame is encodeFrame of its row, v1 and v2, and with the loop shift', async () => {
    let writes = 0
    const encoder = yahooReplay.encoder.bind(yahooReplay)
    vi.spyOn(yahooReplay, 'encoder').mockImplementation((file) => {
      const enc = encoder(file)
      const writer = enc.writer!.bind(enc)
      enc.writer = (b, i, v, shift) => {
        writes++
        return writer(b, i, v, shift)
      }
      return enc
    })
    for (const env of ['v1', 'v2'] as const) {
      writes = 0
      const got = await playMax(encPath, 0, 1, env)
      expect(got.length).toBe(2 * ROWS)
      // the first row may have been encoded before the client subscribed (Target.prepare): every other frame was written in place
      expect(writes).toBeGreaterThanOrEqual(2 * ROWS - 1)
      const first = decodeFrame(got[ROWS], env)
      if (!first.ok) throw new Error(first.error.message)
      const period = first.value.data.time! - messages[0].time!
      expect(period > 0n).toBe(true)
      let bad = -1
      for (let k = 0; k < got.length && bad < 0; k++) {
        const m = messages[k % ROWS]
        if (got[k] !== encodeFrame(k < ROWS ? m : {...m, time: m.time! + period}, env)) bad = k
      }
      expect(bad, `${env}: frame ${bad} differs`).toBe(-1)
    }
  }, 60_000)
})
