/**
 * `gaps: 'disconnect'` on connection clocks: the timeline parked at a gap goes
 * back to the client that was closed there (the same subscriptions), never to
 * an unrelated client that happens to connect meanwhile.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import {replay, type ReplayHandle} from '../src/replay/engine.js'
import {nsToIso} from '../src/util/time.js'
import {createYahooWriter} from './helpers/recording.js'

const SYMS = ['AAA', 'BBB', 'CCC']
const BEFORE = 30
const AFTER = 30
const GAP_MS = 1500

let dir = ''
let path = ''
/** Symbol of every data row, in order; the gap comes after the first BEFORE. */
let symbols: string[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-resume-'))
  path = join(dir, 'gap.arrow')
  const w = createYahooWriter(path, {flushRows: 16, fsync: false, compactOnClose: false})
  const tape = [...syntheticYahooTape({frames: BEFORE + AFTER, symbols: SYMS, seed: 3, meanGapMs: 3})]
  tape.forEach((f, k) => {
    const shift = k >= BEFORE ? BigInt(GAP_MS) * 1_000_000n : 0n
    if (k === BEFORE) {
      const start = tape[BEFORE - 1].recv_ts + 1_000_000n
      const info = JSON.stringify({start: nsToIso(start), end: nsToIso(start + shift), duration_ms: GAP_MS, reason: 'test'})
      w.append({recv_ts: start, exch_ts: null, symbol: '', kind: 'gap', raw: null, info, fields: null})
    }
    const {id, time, ...fields} = f.data
    w.append({recv_ts: f.recv_ts + shift, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
    symbols.push(id ?? '')
  })
  await w.close()
}, 30_000)

afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

const open: Array<{close(): unknown}> = []
afterEach(async () => {
  for (const h of open.splice(0).reverse()) await h.close()
})

interface Client {
  frames: number
  closed: Promise<number>
}

async function connect(h: ReplayHandle, subscribe: string[]): Promise<Client> {
  const ws = new WebSocket(h.url)
  const c: Client = {frames: 0, closed: new Promise((resolve) => ws.once('close', (code) => resolve(code)))}
  ws.on('message', () => c.frames++)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  // one symbol per message, a few ms apart, as yfinance does: the match is made once they have settled
  for (const s of subscribe) {
    ws.send(JSON.stringify({subscribe: [s]}))
    await new Promise((r) => setTimeout(r, 3))
  }
  open.push({close: () => ws.terminate()})
  return c
}

async function serve(): Promise<{h: ReplayHandle; lines: string[]}> {
  const lines: string[] = []
  const h = await replay(path, {port: 0, speed: 1, gaps: 'disconnect', atEnd: 'close', settleMs: 20, log: (l) => lines.push(l)})
  open.push(h)
  return {h, lines}
}

const count = (rows: string[], want: string[]) => rows.filter((s) => want.includes(s)).length

describe("gaps: 'disconnect', connection clock: who continues a parked timeline", () => {
  it('an unrelated client gets its own timeline from the start; the dropped client, reconnecting with the same subscriptions, continues after the gap', async () => {
    const {h, lines} = await serve()

    const a = await connect(h, SYMS)
    expect(await a.closed).toBe(1012)
    expect(a.frames).toBe(BEFORE)

    // an unrelated client (other subscriptions) connects while A's timeline is parked
    const other = await connect(h, ['AAA'])
    // A comes back with the same subscriptions
    const a2 = await connect(h, SYMS)

    // the unrelated client plays from the start: its AAA rows before the gap, then its own 1012
    expect(await other.closed).toBe(1012)
    expect(other.frames).toBe(count(symbols.slice(0, BEFORE), ['AAA']))
    // A continues after the gap, to the end of the recording
    expect(await a2.closed).toBe(1000)
    expect(a2.frames).toBe(AFTER)
    expect(lines.filter((l) => l.includes('continues timeline'))).toHaveLength(1)
    expect(lines.some((l) => /continues timeline/.test(l) && !l.includes('(same subscriptions)'))).toBe(false)
  }, 30_000)

  it('a client with different subscriptions never takes over a parked timeline, even as the only one connecting', async () => {
    const {h, lines} = await serve()
    const a = await connect(h, SYMS)
    expect(await a.closed).toBe(1012)
    const b = await connect(h, ['AAA', 'BBB'])
    expect(await b.closed).toBe(1012)
    expect(b.frames).toBe(count(symbols.slice(0, BEFORE), ['AAA', 'BBB']))
    expect(lines.some((l) => l.includes('continues timeline'))).toBe(false)
  }, 30_000)
})
