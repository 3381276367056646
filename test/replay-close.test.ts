/**
 * Prompt closes at every speed: every emulator answers a client's close frame
 * while a `--speed max` burst is being written, and after the recording has
 * ended — for a Node `ws` client and for Python's `websockets` client (which
 * stops reading once 32 messages are queued unread, so it can only see the
 * connection end, not our close frame).
 */
import {execFileSync, spawn} from 'node:child_process'
import {createServer, connect, type Socket} from 'node:net'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {CLOSE_ANSWER_MS, CLOSE_DRAIN_MAX_MS, CLOSE_STALL_MS, kernelQueue} from '../src/feeds/emulator.js'
import {replay, type ReplayHandle, type ReplayOptions} from '../src/replay/engine.js'
import {CASES} from './replay-clients.js'

const PY_CLIENT = fileURLToPath(new URL('helpers/pyclose.py', import.meta.url))
/** Frames a client reads before it closes. */
const READ = 50
/** Python's close timeout in these tests (its default is 10 s): long enough that holding the connection shows. */
const PY_CLOSE_TIMEOUT_S = 2
/** How often the slow reader reads its socket once it has closed (ms): less often than the replay checks, often enough not to look stalled. */
const SLOW_READ_EVERY_MS = 2 * CLOSE_ANSWER_MS
/** For how long it reads each time (ms): a process that gets the CPU a fifth of the time. */
const SLOW_READ_FOR_MS = 20
/**
 * How long the slow reader stops reading before it closes (ms): long enough for
 * a `--speed max` burst to fill the kernel's buffers (here up to 4 MiB sent,
 * 32 MiB received) and leave frames queued in the replay.
 */
const SLOW_PAUSE_MS = 600
/** Slack for a loaded machine on top of what the protocol needs. */
const SLACK_MS = 400

/** A python3 that has `websockets`, or why there is none. */
function findPython(): {python: string} | {missing: string} {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(python, ['-c', 'import websockets'], {stdio: 'ignore', timeout: 10_000})
      return {python}
    } catch {}
  }
  return {missing: 'no python3 with the websockets package (Debian: apt install python3-websockets; pip install websockets)'}
}
const PY = findPython()
if ('missing' in PY && process.env.CI) throw new Error(`CI is set, so the Python close test must run: ${PY.missing}`)

const open: ReplayHandle[] = []
afterEach(async () => {
  for (const h of open.splice(0)) await h.close()
})

async function serve(file: string, o: ReplayOptions): Promise<ReplayHandle> {
  const h = await replay(file, {port: 0, speed: 'max', settleMs: 10, ...o})
  open.push(h)
  return h
}

/** Node ws client: subscribe, read `n` messages (Infinity: until none came for 300 ms, the end of the recording), close; ms from close() to the 'close' event, and the code. */
async function nodeClose(url: string, messages: string[], n: number): Promise<{ms: number; code: number}> {
  const ws = new WebSocket(url)
  let got = 0
  let resolveRead!: () => void
  const read = new Promise<void>((r) => (resolveRead = r))
  let quiet: NodeJS.Timeout | undefined
  ws.on('message', () => {
    if (++got === n) resolveRead()
    if (n === Number.POSITIVE_INFINITY) {
      clearTimeout(quiet)
      quiet = setTimeout(resolveRead, 300)
    }
  })
  await new Promise((r, j) => {
    ws.once('open', r)
    ws.once('error', j)
  })
  for (const m of messages) ws.send(m)
  await read
  const t0 = performance.now()
  const code = await new Promise<number>((resolve) => {
    ws.once('close', (c) => resolve(c))
    ws.close(1000, 'done')
  })
  return {ms: performance.now() - t0, code}
}

/**
 * Node ws client that reads slowly once it has closed, as on a loaded
 * machine: it reads its socket for {@link SLOW_READ_FOR_MS} ms every
 * {@link SLOW_READ_EVERY_MS} ms, after a pause of {@link SLOW_PAUSE_MS} that
 * lets the burst fill the kernel's buffers and the replay's own, so frames
 * are still queued in the replay when our close frame is. The replay must
 * see it drain them, so the handshake completes (1000) instead of the
 * connection being reset. With `stallMs`, this process (the replay's and the
 * client's: a GC pause, a busy machine) runs nothing for that long once the
 * replay has the close frame. The code and ms from close() to the 'close'
 * event.
 */
async function slowReaderClose(url: string, messages: string[], n: number, stallMs = 0): Promise<{ms: number; code: number}> {
  const ws = new WebSocket(url)
  let got = 0
  let resolveRead!: () => void
  const read = new Promise<void>((r) => (resolveRead = r))
  ws.on('message', () => {
    if (++got === n) resolveRead()
  })
  await new Promise((r, j) => {
    ws.once('open', r)
    ws.once('error', j)
  })
  for (const m of messages) ws.send(m)
  await read
  const sock = (ws as unknown as {_socket: Socket})._socket
  sock.pause()
  // the burst fills the socket's buffers meanwhile
  await new Promise((r) => setTimeout(r, SLOW_PAUSE_MS))
  const t0 = performance.now()
  const reads = setInterval(() => {
    sock.resume()
    setTimeout(() => sock.pause(), SLOW_READ_FOR_MS)
  }, SLOW_READ_EVERY_MS)
  try {
    const code = await new Promise<number>((resolve) => {
      ws.once('close', (c) => resolve(c))
      ws.close(1000, 'done')
      if (stallMs > 0)
        setTimeout(() => {
          const until = performance.now() + stallMs
          while (performance.now() < until);
        }, 20)
    })
    return {ms: performance.now() - t0, code}
  } finally {
    clearInterval(reads)
  }
}

/**
 * The Python client in its own process: close() duration (s) and the code it
 * saw, and how long after it started closing the replay had let go of the
 * connection (ms, polled from the replay's stats).
 */
function pyClose(
  h: ReplayHandle,
  python: string,
  messages: string[],
  n: number,
  maxQueue: number,
): Promise<{close_s: number; code: number; serverMs: number}> {
  return new Promise((resolve, reject) => {
    const p = spawn(python, [PY_CLIENT, h.url, JSON.stringify(messages), String(n), String(PY_CLOSE_TIMEOUT_S), String(maxQueue)], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    let serverMs = Number.NaN
    p.stdout.on('data', (d) => {
      out += d
      if (out.includes('"closing"') && Number.isNaN(serverMs)) {
        serverMs = Number.POSITIVE_INFINITY
        const before = h.stats().connected
        const t0 = performance.now()
        const poll = setInterval(() => {
          if (h.stats().connected < before) {
            serverMs = performance.now() - t0
            clearInterval(poll)
          } else if (performance.now() - t0 > 60_000) clearInterval(poll)
        }, 2)
      }
    })
    p.stderr.on('data', (d) => (err += d))
    const t = setTimeout(() => p.kill('SIGKILL'), 90_000)
    p.on('close', (code) => {
      clearTimeout(t)
      if (code !== 0) reject(new Error(`python client exited ${code}: ${err}`))
      else resolve({...JSON.parse(out.trim().split('\n').pop()!), serverMs})
    })
  })
}

describe('the kernel send queue a closing connection is watched by', () => {
  it.skipIf(process.platform !== 'linux')('counts what a paused client has not read, and goes down as soon as it reads some (Linux)', {timeout: 20_000}, async () => {
    const server = createServer()
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const client = connect((server.address() as {port: number}).port, '127.0.0.1')
    client.pause()
    const sock = await accepted
    try {
      sock.write(Buffer.alloc(16 << 20))
      await new Promise((r) => setTimeout(r, 200))
      const full = await kernelQueue(sock)
      expect(full).toBeGreaterThan(0)
      expect(full).toBeLessThan(Infinity)
      // read a little: the kernel's count goes down well before Node's own buffer moves
      const read = new Promise<void>((r) => client.once('data', () => r()))
      client.resume()
      await read
      client.pause()
      await new Promise((r) => setTimeout(r, 100))
      expect(await kernelQueue(sock)).toBeLessThan(full)
    } finally {
      client.destroy()
      sock.destroy()
      server.close()
    }
  })
})

describe('prompt closes', () => {
  for (const c of CASES) {
    describe(c.feed, () => {
      it('Node ws client: during a --speed max burst, and after the recording ended', {timeout: 60_000}, async () => {
        const h = await serve(c.file, {loop: true})
        const burst = await nodeClose(h.url, await c.atOnce(h), READ)
        expect(burst.code).toBe(1000)
        expect(burst.ms).toBeLessThan(CLOSE_ANSWER_MS + SLACK_MS)

        const ended = await serve(c.file, {})
        const after = await nodeClose(ended.url, await c.atOnce(ended), Number.POSITIVE_INFINITY)
        expect(after.code).toBe(1000)
        expect(after.ms).toBeLessThan(CLOSE_ANSWER_MS + SLACK_MS)
      })

      it('Node ws client that reads slowly once it has closed (a loaded machine): still gets our close frame', {timeout: 60_000}, async () => {
        const h = await serve(c.file, {loop: true})
        const slow = await slowReaderClose(h.url, await c.atOnce(h), READ)
        expect(slow.code).toBe(1000)
        expect(slow.ms).toBeLessThan(CLOSE_DRAIN_MAX_MS + SLACK_MS)
      })

      it('…and the replay process stalls meanwhile (a GC pause, a busy machine): its own lateness is not taken for the client stopping', {timeout: 60_000}, async () => {
        const h = await serve(c.file, {loop: true})
        const slow = await slowReaderClose(h.url, await c.atOnce(h), READ, 2 * CLOSE_STALL_MS)
        expect(slow.code).toBe(1000)
        expect(slow.ms).toBeLessThan(CLOSE_DRAIN_MAX_MS + SLACK_MS)
      })

      it.skipIf('missing' in PY)(
        `Python websockets client: the replay lets go at once, during a --speed max burst and after the end${'missing' in PY ? ` (skipped: ${PY.missing})` : ''}`,
        {timeout: 120_000},
        async () => {
          const python = (PY as {python: string}).python
          const h = await serve(c.file, {loop: true})
          // Default max_queue (32): after the burst its queue is full and its transport has stopped
          // reading, so it can see neither our close frame nor the connection's end before its own
          // close timeouts (3 of them in websockets 10.4); the replay must let go at once all the same.
          const stuck = await pyClose(h, python, await c.atOnce(h), READ, 32)
          expect(stuck.serverMs).toBeLessThan(CLOSE_STALL_MS + CLOSE_ANSWER_MS + SLACK_MS)
          expect(stuck.close_s).toBeLessThan(3 * PY_CLOSE_TIMEOUT_S + SLACK_MS / 1000)
          // a client that keeps reading gets our close frame: the handshake completes at once
          const reading = await pyClose(h, python, await c.atOnce(h), READ, 0)
          expect(reading.code).toBe(1000)
          expect(reading.close_s * 1000).toBeLessThan(CLOSE_ANSWER_MS + SLACK_MS)
          // after the recording has ended
          const ended = await serve(c.file, {})
          const after = await pyClose(ended, python, await c.atOnce(ended), -1, 32)
          expect(after.code).toBe(1000)
          expect(after.close_s * 1000).toBeLessThan(CLOSE_ANSWER_MS + SLACK_MS)
          expect(after.serverMs).toBeLessThan(CLOSE_ANSWER_MS + SLACK_MS)
        },
      )
    })
  }
})
