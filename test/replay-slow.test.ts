/**
 * Slow and stalled clients: a shared clock never waits for one client's
 * socket (at every speed, `max` included), and what a client closed for
 * being slow sees, and how soon the server lets go of it.
 *
 * The stalled client is a raw TCP socket: it completes the WebSocket
 * handshake, subscribes, and never reads again (socket paused), so its
 * kernel buffers fill and then the server's send buffer does.
 */
import {randomBytes} from 'node:crypto'
import {once} from 'node:events'
import {mkdtempSync, rmSync} from 'node:fs'
import {connect, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {SLOW_CLOSE_MS} from '../src/feeds/emulator.js'
import {replay, type ReplayHandle, type ReplayOptions} from '../src/replay/engine.js'
import {makeYahooRecording} from './helpers/recording.js'
import {until} from './replay-clients.js'

/** Rows in the recording: a play is ~10 MB of v2 frames, more than loopback's kernel buffers hold for a client that stops reading. */
const ROWS = 80_000
const SYMBOLS = ['S0', 'S1', 'S2', 'S3', 'S4']
const SUBSCRIBE = JSON.stringify({subscribe: SYMBOLS})
/** Slack for a loaded machine. */
const SLACK_MS = 3000

let dir: string
let file: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-slow-'))
  file = join(dir, 'big.arrow')
  await makeYahooRecording(file, ROWS, {symbols: SYMBOLS})
}, 60_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const open: ReplayHandle[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const h of open.splice(0)) await h.close()
})

async function serve(o: ReplayOptions, log: string[] = []): Promise<ReplayHandle> {
  const h = await replay(file, {port: 0, speed: 'max', clock: 'shared', maxBufferedBytes: 256 * 1024, log: (l) => log.push(`${performance.now().toFixed(0)} ${l}`), ...o})
  open.push(h)
  return h
}

/** A masked client text frame (RFC 6455 §5.2). */
function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = randomBytes(4)
  const n = payload.length
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n]) : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 0xff])
  const body = Buffer.alloc(n)
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ mask[i & 3]
  return Buffer.concat([head, mask, body])
}

/** A raw socket that handshakes, sends `message`, and then never reads. */
async function stalledClient(url: string, message: string): Promise<Socket> {
  const u = new URL(url)
  const sock = connect(Number(u.port), u.hostname)
  sockets.push(sock)
  await once(sock, 'connect')
  sock.write(
    `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  let head = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      sock.off('data', onData)
      sock.pause()
      resolve()
    }
    sock.on('data', onData)
    sock.once('error', reject)
  })
  expect(head.startsWith('HTTP/1.1 101')).toBe(true)
  sock.on('error', () => {})
  sock.write(clientTextFrame(message))
  return sock
}

/** A ws client that subscribes and counts the frames it receives. */
async function reader(url: string): Promise<{ws: WebSocket; count: () => number; closed: Promise<{code: number; reason: string}>}> {
  const ws = new WebSocket(url)
  let n = 0
  ws.on('message', () => n++)
  const closed = new Promise<{code: number; reason: string}>((resolve) => ws.once('close', (code, reason) => resolve({code, reason: String(reason)})))
  await once(ws, 'open')
  ws.send(SUBSCRIBE)
  return {ws, count: () => n, closed}
}


describe('a shared clock never waits for one client', () => {
  it('--speed max --loop: a stalled client is closed with 1013 and freed; the reading client gets the whole timeline', async () => {
    const log: string[] = []
    const h = await serve({loop: 1, settleMs: 300}, log)
    await stalledClient(h.url, SUBSCRIBE)
    const r = await reader(h.url)
    const summary = await Promise.race([
      h.done,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the shared timeline did not finish; reader has ${r.count()} frames; log:\n${log.join('\n')}`)), 45_000)),
    ])
    await until('the reader to get every frame', () => r.count() === 2 * ROWS, 10_000)
    expect(r.count()).toBe(2 * ROWS)
    expect(summary.slowClientsClosed).toBe(1)
    // the stalled one is freed soon after its 1013, not after ws's 30 s close timeout
    await until('the stalled client to be let go', () => h.stats().connected === 1, SLOW_CLOSE_MS + SLACK_MS)
    r.ws.close()
    // the closing line says what the policy cost
    await h.close()
    expect(log.find((l) => l.includes('replay closed:'))).toContain('1 slow client closed (1013)')
  }, 90_000)

  it('--speed max: a client joining while a stalled one holds the buffer gets frames at once', async () => {
    const h = await serve({loop: true, settleMs: 0})
    await stalledClient(h.url, SUBSCRIBE)
    await new Promise((r) => setTimeout(r, 500))
    const r = await reader(h.url)
    await until('frames for the late client', () => r.count() >= 20_000, 20_000)
    await until('the stalled client to be closed', () => h.stats().slowClientsClosed === 1, 20_000)
    r.ws.close()
  }, 60_000)

  it('--slow-client drop: the stalled client only loses frames; the reading client gets everything', async () => {
    const log: string[] = []
    const h = await serve({loop: 1, settleMs: 300, slowClient: 'drop'}, log)
    await stalledClient(h.url, SUBSCRIBE)
    const r = await reader(h.url)
    const summary = await h.done
    await until('the reader to get every frame', () => r.count() === 2 * ROWS, 10_000)
    expect(summary.framesDropped).toBeGreaterThan(0)
    expect(summary.slowClientsClosed).toBe(0)
    // said once, when the client's first frame is dropped (as 'disconnect' says when it closes one)
    expect(log.filter((l) => /client \d+: stopped reading \(\d+ bytes buffered > \d+\); dropping its frames while it is behind/.test(l))).toHaveLength(1)
    // the closing line says what the policy cost, as the disconnect policy's does
    await h.close()
    const closing = log.find((l) => l.includes('replay closed:'))
    expect(closing).toContain(`${summary.framesDropped} frames dropped for slow clients`)
    r.ws.close()
  }, 90_000)

  it('--speed 200 (timed): the stalled client is closed with 1013; the reading one gets everything', async () => {
    const h = await serve({speed: 200, loop: 1, settleMs: 300})
    await stalledClient(h.url, SUBSCRIBE)
    const r = await reader(h.url)
    await h.done
    await until('the reader to get every frame', () => r.count() === 2 * ROWS, 10_000)
    expect(h.stats().slowClientsClosed).toBe(1)
    r.ws.close()
  }, 60_000)
})

describe('what a client closed for being slow sees', () => {
  it('reading again within the grace: the frames sent before, then close 1013 "client too slow"', async () => {
    const log: string[] = []
    const h = await serve({loop: true, settleMs: 0}, log)
    const normal = await reader(h.url)
    const slow = await reader(h.url)
    const sock = (slow.ws as unknown as {_socket: Socket})._socket
    sock.pause()
    await until('the slow client to be closed', () => h.stats().slowClientsClosed === 1, 30_000)
    sock.resume()
    const {code, reason} = await slow.closed
    expect({code, reason}).toEqual({code: 1013, reason: 'client too slow'})
    expect(slow.count()).toBeGreaterThan(0)
    normal.ws.close()
  }, 60_000)

  it('never reading again: the connection is reset SLOW_CLOSE_MS after the 1013 is queued', async () => {
    const h = await serve({loop: true, settleMs: 0})
    const normal = await reader(h.url)
    const sock = await stalledClient(h.url, SUBSCRIBE)
    await until('the stalled client to be closed', () => h.stats().slowClientsClosed === 1, 30_000)
    const t0 = performance.now()
    await until('the stalled client to be let go', () => h.stats().connected === 1, SLOW_CLOSE_MS + SLACK_MS)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(SLOW_CLOSE_MS - 50)
    // the client sees the reset once it reads
    sock.resume()
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      sock.once('error', (e) => resolve(e))
      sock.once('close', () => resolve(null))
    })
    expect(err?.code ?? 'closed').toMatch(/ECONNRESET|closed/)
    normal.ws.close()
  }, 60_000)
})

describe('a small send-buffer limit at --speed max', () => {
  // Frames held in a burst, not yet handed to the socket, are no backlog of the client's: a client
  // reading at full pace gets every frame under a limit smaller than one burst (64 KiB), whether the
  // policy closes or drops. It was closed with 1013 before its first frame ("0 bytes buffered > 16384"),
  // or, with 'drop', silently got 432 of 2511.
  for (const slowClient of ['disconnect', 'drop'] as const) {
    it(`a reading client gets the whole recording (slowClient '${slowClient}', 16 KiB)`, {timeout: 60_000}, async () => {
      const {collect, fixture} = await import('./replay-clients.js')
      const h = await replay(fixture('yahoo-us-equities.arrow'), {port: 0, speed: 'max', atEnd: 'close', settleMs: 0, maxBufferedBytes: 16 * 1024, slowClient})
      try {
        const frames = await collect(h.url, [JSON.stringify({subscribe: ['NVDA', 'TSLA', 'AAPL', 'AMD', 'AMZN', 'MSFT', 'META', 'GOOGL']})], 0, () => true, 30_000)
        expect(frames.length).toBe(2511)
        expect(h.stats().slowClientsClosed).toBe(0)
        expect(h.stats().framesDropped).toBe(0)
      } finally {
        await h.close()
      }
    })
  }
})
