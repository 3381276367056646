/**
 * When a timed timeline writes its frames (src/replay/timeline.ts): the
 * first frame of a play (and a frame the timeline waited for) goes to the
 * socket before the timeline handles a row due after it, even one already due
 * (rows a µs apart), so it does not wait for the encoding of the rows after
 * it; a timeline that has fallen behind still writes its catch-up in bursts of
 * several frames (one write for many frames). Behaviour only: the server's
 * socket writes are counted and split into WebSocket frames, never timed.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {syntheticSymbols, syntheticYahooTape} from '../src/feeds/yahoo/synthetic.js'
import {replay, type ReplayHandle} from '../src/replay/engine.js'
import {createYahooWriter} from './helpers/recording.js'

const ROWS = 2000
/** Receive times 1 µs apart: at 1x every row after the first is already due when the timeline reaches it. */
const STEP_NS = 1000n

let dir = ''
let dense = ''
const open: ReplayHandle[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-writes-'))
  dense = join(dir, 'dense.arrow')
  const w = createYahooWriter(dense)
  let k = 0n
  const start = 1_764_000_000_000_000_000n
  for (const f of syntheticYahooTape({frames: ROWS, symbols: 1, seed: 3})) {
    const {id, time, ...fields} = f.data
    w.append({recv_ts: start + k++ * STEP_NS, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
  }
  await w.close()
}, 60_000)

afterEach(async () => {
  for (const h of open.splice(0)) await h.close()
})

afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

/** Server frames (RFC 6455 §5.2, unmasked) in one written buffer, assuming it holds whole frames. */
function framesIn(buf: Uint8Array): number {
  let n = 0
  let o = 0
  while (o + 2 <= buf.length) {
    let len = buf[o + 1] & 0x7f
    let head = 2
    if (len === 126) {
      len = (buf[o + 2] << 8) | buf[o + 3]
      head = 4
    } else if (len === 127) {
      len = Number(Buffer.from(buf.subarray(o + 2, o + 10)).readBigUInt64BE())
      head = 10
    }
    o += head + len
    n++
  }
  return n
}

/**
 * Play the dense recording at 1x to one client; returns the data frames in
 * each socket write the server made to that client, in order (the upgrade
 * response and the close frame left out).
 */
async function writesOfOnePlay(): Promise<number[]> {
  const h = await replay(dense, {port: 0, speed: 1, atEnd: 'close', settleMs: 0})
  open.push(h)
  const ws = new WebSocket(h.url)
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const clientPort = (ws as unknown as {_socket: Socket})._socket.localPort
  const writes: number[] = []
  const write = Socket.prototype.write
  // every write to this client's server-side socket, as the timeline's bursts make them
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === clientPort && chunk instanceof Uint8Array && chunk[0] === 0x81) writes.push(framesIn(chunk))
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest)
  } as typeof Socket.prototype.write
  let got = 0
  try {
    await new Promise<void>((resolve, reject) => {
      ws.on('message', () => got++)
      ws.once('close', () => resolve())
      ws.once('error', reject)
      ws.send(JSON.stringify({subscribe: syntheticSymbols({seed: 3, symbols: 1}).map((s) => s.id)}))
    })
  } finally {
    Socket.prototype.write = write
  }
  expect(got).toBe(ROWS)
  expect(writes.reduce((a, b) => a + b, 0)).toBe(ROWS)
  return writes
}

describe('timed replay: when frames are written', () => {
  it('the first frame of a play is written alone, before the rows due right after it are handled', {timeout: 60_000}, async () => {
    for (let run = 0; run < 3; run++) {
      const writes = await writesOfOnePlay()
      expect(writes[0], `run ${run}: frames in the first write`).toBe(1)
    }
  })

  it('a timeline that has fallen behind writes its catch-up in bursts (one write for many frames)', {timeout: 60_000}, async () => {
    const writes = await writesOfOnePlay()
    // 2,000 rows due within 2 ms: the timeline is behind after a few of them
    expect(writes.length).toBeLessThanOrEqual(ROWS / 8)
  })
})
