/**
 * A payload given as a PayloadWriter (src/feeds/contract.ts: written in
 * place, RowEncoder.writer's) goes out as the same text frame as the bytes
 * it writes given as a Uint8Array or a string: inside a FrameBurst (written
 * straight into the burst's buffer, between other frames of the burst), and
 * outside one (sent through ws), of every header size (7-bit, 16-bit and
 * 64-bit lengths); and a writer counts toward the slow-client limit like the
 * bytes it stands for (dropped unwritten under 'drop').
 */
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import type {PayloadWriter} from '../src/feeds/contract.js'
import {FrameBurst, sendPoliced} from '../src/feeds/emulator.js'
import {YahooServer, type YahooClient} from '../src/feeds/yahoo/server.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

/** A writer of `text`'s bytes that counts its writes. */
function writerOf(text: string): PayloadWriter & {writes: number} {
  const bytes = Buffer.from(text)
  return {
    byteLength: bytes.byteLength,
    writes: 0,
    writeTo(dst, at) {
      this.writes++
      dst.set(bytes, at)
    },
  }
}

/** A Yahoo server with one connected client; `received` collects its frames (text, and whether each was binary). */
async function setup(opts: {maxBufferedBytes?: number; slowClient?: 'drop' | 'disconnect'} = {}) {
  const srv = await YahooServer.listen({port: 0, ...opts})
  cleanups.push(() => srv.close())
  const joined = new Promise<YahooClient>((resolve) => srv.once('connection', resolve))
  const ws = new WebSocket(srv.url(2), {perMessageDeflate: false})
  cleanups.push(() => ws.terminate())
  const received: {text: string; binary: boolean}[] = []
  ws.on('message', (d, binary) => received.push({text: String(d), binary}))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const client = await joined
  const until = async (n: number) => {
    for (let k = 0; k < 500 && received.length < n; k++) await new Promise((r) => setTimeout(r, 10))
    return received
  }
  return {srv, client, received, until}
}

const TEXTS = ['short', 'x'.repeat(125), 'y'.repeat(126), `{"type":"pricing","message":"${'A'.repeat(300)}"}`, 'z'.repeat(65535), 'w'.repeat(70_000), 'ä€😀']

describe('a payload written in place (PayloadWriter)', () => {
  it('goes out inside a burst as the same text frames as the bytes and the string, interleaved with them, for every header size', async () => {
    const {srv, client, until} = await setup()
    const burst = new FrameBurst()
    const writers = TEXTS.map(writerOf)
    burst.open()
    try {
      for (let k = 0; k < TEXTS.length; k++) {
        expect(srv.send(client, Buffer.from(TEXTS[k]))).toBe(true)
        expect(srv.send(client, writers[k])).toBe(true)
        expect(srv.send(client, TEXTS[k])).toBe(true)
      }
    } finally {
      burst.close()
    }
    expect(burst.heldBytes(client.ws)).toBeGreaterThan(0) // held in the burst, not sent through ws
    burst.flush()
    const got = await until(3 * TEXTS.length)
    expect(got).toEqual(TEXTS.flatMap((t) => [t, t, t].map((text) => ({text, binary: false}))))
    expect(writers.map((w) => w.writes)).toEqual(TEXTS.map(() => 1))
  })

  it('goes out outside a burst (through ws) as the same text frames', async () => {
    const {srv, client, until} = await setup()
    let written = 0
    for (const t of TEXTS) expect(srv.send(client, writerOf(t), () => written++)).toBe(true)
    const got = await until(TEXTS.length)
    expect(got).toEqual(TEXTS.map((text) => ({text, binary: false})))
    expect(written).toBe(TEXTS.length)
  })

  it("frames held in a burst are handed to the socket before the slow-client limit is judged ('drop')", async () => {
    // held frames are not the client's backlog: past the limit with them, they are written, and only
    // what the socket could not take counts (a stalled client is dropped: test/replay-slow.test.ts)
    const {srv, client, until} = await setup({maxBufferedBytes: 1000, slowClient: 'drop'})
    const burst = new FrameBurst()
    const first = writerOf('a'.repeat(1000))
    const second = writerOf('b'.repeat(20))
    burst.open()
    try {
      expect(sendPoliced(srv, {maxBufferedBytes: 1000, slowClient: 'drop'}, client, first, false)).toBe(true)
      // 1004 bytes held (header and payload), past the limit: written to the socket, which takes them
      expect(sendPoliced(srv, {maxBufferedBytes: 1000, slowClient: 'drop'}, client, second, false)).toBe(true)
    } finally {
      burst.close()
    }
    burst.flush()
    expect(second.writes).toBe(1)
    expect(client.dropped).toBe(0)
    expect((await until(2)).map((m) => m.text)).toEqual(['a'.repeat(1000), 'b'.repeat(20)])
  })
})
