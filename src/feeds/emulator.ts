/**
 * Pieces every feed emulator shares: the slow-client send policy, a
 * graceful shutdown, and {@link FeedServer} (the client set, address, close
 * paths and the wiring of a connected client's socket). Each feed's server
 * owns its protocol; these are the parts where the five servers would
 * otherwise say the same thing five times.
 */
import {EventEmitter} from 'node:events'
import {readFile} from 'node:fs/promises'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {WebSocket, WebSocketServer, type RawData} from 'ws'

import type {PayloadWriter} from './contract.js'

export interface SlowClientPolicy {
  /** Per-client send buffer limit before the policy applies (bytes). */
  maxBufferedBytes: number
  /** Close a client that stops reading with 1013 ('disconnect'), or drop its frames ('drop'). */
  slowClient: 'disconnect' | 'drop'
  log?: (line: string) => void
}

export interface PolicedClient {
  readonly id: number
  readonly ws: WebSocket
  dropped: number
}

const TEXT_FRAME = {binary: false}
const BINARY_FRAME = {binary: true}

/** What a frame carries: text, bytes, or bytes its producer writes in place ({@link PayloadWriter}: into a burst's buffer, no copy). */
export type Payload = string | Uint8Array | PayloadWriter

/**
 * Send one frame (text or binary, as the feed speaks) applying the slow-client
 * policy: a client whose unsent data passes the limit has the frame dropped,
 * or is closed with 1013 and a log line (and `server` emits 'slow'). Returns
 * false when the frame was not sent. `cb` is called once it is written.
 */
export function sendPoliced(
  server: EventEmitter,
  policy: SlowClientPolicy,
  client: PolicedClient,
  payload: Payload,
  binary: boolean,
  cb?: (err?: Error) => void,
): boolean {
  const ws = client.ws
  if (ws.readyState !== WebSocket.OPEN) return false
  // frames of this socket held in a burst go out first, so a frame sent now joins them (order is kept)
  const h = (ws as BurstSocket)[HELD]
  const burst = activeBurst ?? h?.burst ?? null
  let held = h !== undefined && h.burst === burst ? h.bytes : 0
  if (held > 0 && ws.bufferedAmount + held > policy.maxBufferedBytes) {
    // frames held in the burst are not the client's backlog yet: hand them to the socket now, and judge
    // the client by what its socket could not take (a limit below one burst closed readers at full pace)
    burst!.flush()
    held = 0
  }
  if (ws.bufferedAmount + held > policy.maxBufferedBytes) {
    if (policy.slowClient === 'drop') {
      if (client.dropped++ === 0) policy.log?.(stoppedLine(client, policy, 'dropping its frames while it is behind'))
      return false
    }
    policy.log?.(stoppedLine(client, policy, 'closing with 1013'))
    closeSlowClient(ws)
    server.emit('slow', client)
    return false
  }
  if (burst && burst.add(ws, payload, binary, cb)) return true
  if (!binary && typeof payload === 'string' && cb === undefined) ws.send(payload)
  else ws.send(typeof payload === 'string' || ArrayBuffer.isView(payload) ? payload : writtenBytes(payload), binary ? BINARY_FRAME : TEXT_FRAME, cb)
  return true
}

/** The log line of a client past the slow-client limit, with what the policy does (`then`); made only when logged. */
function stoppedLine(client: PolicedClient, policy: SlowClientPolicy, then: string): string {
  return `client ${client.id}: stopped reading (${client.ws.bufferedAmount} bytes buffered > ${policy.maxBufferedBytes}); ${then}`
}

/** A client's refused or ignored requests logged by {@link noteRefusal}; the rest are counted, and one line says so. */
export const REFUSALS_LOGGED = 5
const refusals = new WeakMap<object, number>()

/**
 * Log a request of `client` that its emulator refused (the feed's own error
 * reply went to the client) or ignored (as the feed does), as `client 3:
 * <what>`: without it a client's mistake (a bad stream name, a subscribe that
 * is not a list) shows on the replay's side only as silence. At most
 * {@link REFUSALS_LOGGED} per client, then one line saying the rest are not
 * logged (a client looping on a bad request cannot flood the log). `what` is
 * cut to 200 characters with control characters escaped, since it may echo
 * what the client sent; it must hold no secret (the feeds' error texts hold
 * none: no key, token or signature is echoed).
 */
export function noteRefusal(log: ((line: string) => void) | undefined, client: {readonly id: number}, what: string): void {
  if (!log) return
  const n = (refusals.get(client) ?? 0) + 1
  refusals.set(client, n)
  if (n > REFUSALS_LOGGED + 1) return
  if (n === REFUSALS_LOGGED + 1) return log(`client ${client.id}: more requests refused or ignored; not logged`)
  // eslint-disable-next-line no-control-regex
  const shown = (what.length > 200 ? `${what.slice(0, 200)}…` : what).replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1))
  log(`client ${client.id}: ${shown}`)
}

/** The bytes a writer writes, in a buffer of their own (a frame sent through ws). */
function writtenBytes(w: PayloadWriter): Buffer {
  const b = Buffer.allocUnsafe(w.byteLength)
  w.writeTo(b, 0)
  return b
}

/** The burst frames go to while one is open (see {@link FrameBurst.open}). */
let activeBurst: FrameBurst | null = null
const HELD = Symbol('mdrec.burst')
/**
 * A socket's frames held in a burst: whole frames (header + payload) in
 * `chunks`, the last one being filled. Kept on the socket and reused from
 * burst to burst (`burst` null: none held), so an on-time flush at 1x
 * allocates no bookkeeping.
 */
interface Held {
  burst: FrameBurst | null
  sock: RawSocket
  chunks: Buffer[]
  fill: number
  bytes: number
  cbs: ((err?: Error) => void)[] | null
}
type BurstSocket = WebSocket & {[HELD]?: Held}
interface RawSocket {
  cork(): void
  uncork(): void
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean
}
/** Largest buffer frames are packed into (a larger frame gets a buffer of its own). */
const BURST_CHUNK = 64 * 1024
/** Smallest first buffer of a socket in a burst. */
const FIRST_CHUNK_MIN = 256
/** Most {@link BURST_CHUNK} buffers kept for reuse (2 MiB). */
const SPARE_CHUNKS_MAX = 32
/**
 * {@link BURST_CHUNK} buffers whose write has completed, for the next bursts.
 * At 'max' a replay writes its whole recording through such buffers: one
 * new 64 KiB buffer per 64 KiB sent was ~60 MB of short-lived off-heap
 * memory per 500k frames, which V8 answers with a full garbage collection
 * every ~64 MB (its external-memory limit). Reused, the buffers in use are
 * those still being written (bounded by backpressure), plus these.
 */
const spareChunks: Buffer[] = []

/** A buffer for at least `size` bytes of frames: a spare one when a full-size one is asked for. */
function takeChunk(size: number): Buffer {
  if (size === BURST_CHUNK) {
    const b = spareChunks.pop()
    if (b !== undefined) return b
  }
  return Buffer.allocUnsafe(size)
}

/** Whether `b` is (a view of the start of) a buffer of its own of {@link BURST_CHUNK} bytes: one {@link takeChunk} made. */
function isChunk(b: Buffer): boolean {
  return b.byteOffset === 0 && b.buffer.byteLength === BURST_CHUNK
}

/** Keep the whole buffer `b` views for reuse; call once nothing refers to its bytes any more (its write completed, or it was never written). */
function releaseChunk(b: Buffer): void {
  if (spareChunks.length < SPARE_CHUNKS_MAX && isChunk(b)) spareChunks.push(b.byteLength === BURST_CHUNK ? b : Buffer.from(b.buffer, 0, BURST_CHUNK))
}

/**
 * Frames of a burst, packed per socket and handed to each socket with one
 * write when the burst is flushed.
 *
 * At `--speed max` a frame's cost is dominated by what is done per frame
 * (ws's sender: a header buffer, a cork/uncork and two writes per frame),
 * not by the bytes: so in a burst the frames (RFC 6455 §5.2 server frames:
 * FIN, text or binary opcode, unmasked — what ws itself writes with
 * `perMessageDeflate: false`, which every emulator sets) are written
 * straight into buffers (of up to 64 KiB) and the socket gets one write per buffer. ws
 * has no batched send; its `_socket` (not public API, stable across ws 6-8)
 * is written behind its back only between frames, and `bufferedAmount`
 * (socket bytes + ws's queue) still counts them once written. Frames held
 * for a socket that would pass the slow-client limit are written first
 * (sendPoliced), so only what the socket cannot take counts; a socket that is no
 * longer OPEN at the flush (closed with 1013 in the burst, for instance) gets
 * none of them, so nothing follows a close frame.
 */
export class FrameBurst {
  private held: BurstSocket[] = []
  /** The list swapped in for `held` at a flush (reused: no array per flush). */
  private spare: BurstSocket[] = []
  /**
   * Size of a socket's first buffer: what the fullest socket held at the
   * last flush (at least {@link FIRST_CHUNK_MIN}, at most {@link BURST_CHUNK}).
   * An on-time flush at 1x holds a frame or a few: a buffer that size is a
   * slice of Node's 8 KiB Buffer pool, where a fixed 4 KB one took half a pool
   * per flush (1,000 clients at 1x: gigabytes of 8 KiB mallocs a minute, and
   * the fragmented heap stayed in the RSS after they left). A burst at 'max'
   * starts with a buffer its size. Further buffers grow fourfold up to
   * BURST_CHUNK.
   */
  private firstChunk = FIRST_CHUNK_MIN

  /** Send frames through this burst until {@link close}: `sendPoliced` queues them here. */
  open(): void {
    activeBurst = this
  }

  close(): void {
    if (activeBurst === this) activeBurst = null
  }

  /** Bytes held for `ws` (not yet written). */
  heldBytes(ws: WebSocket): number {
    const h = (ws as BurstSocket)[HELD]
    return h && h.burst === this ? h.bytes : 0
  }

  /**
   * Queue one frame; false when the socket cannot be written to directly (the
   * caller sends it through ws). A {@link PayloadWriter} writes its payload
   * straight into the buffer after the frame's header.
   */
  add(ws: WebSocket, payload: Payload, binary: boolean, cb?: (err?: Error) => void): boolean {
    const b = ws as BurstSocket
    let h = b[HELD]
    if (h === undefined) {
      const sock = (ws as unknown as {_socket?: Partial<RawSocket>})._socket
      if (!sock || typeof sock.write !== 'function' || typeof sock.cork !== 'function') return false
      h = {burst: null, sock: sock as RawSocket, chunks: [], fill: 0, bytes: 0, cbs: null}
      b[HELD] = h
    }
    if (h.burst === null) {
      h.burst = this
      this.held.push(b)
    } else if (h.burst !== this) return false
    const n = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength
    const size = n + (n < 126 ? 2 : n < 65536 ? 4 : 10)
    let buf = h.chunks.length > 0 ? h.chunks[h.chunks.length - 1] : null
    if (buf === null || h.fill + size > buf.length) {
      const want = buf === null ? this.firstChunk : Math.min(BURST_CHUNK, buf.length * 4)
      buf = takeChunk(Math.max(want, size))
      if (h.chunks.length > 0) h.chunks[h.chunks.length - 1] = h.chunks[h.chunks.length - 1].subarray(0, h.fill)
      h.chunks.push(buf)
      h.fill = 0
    }
    let o = h.fill
    buf[o++] = binary ? 0x82 : 0x81
    if (n < 126) buf[o++] = n
    else if (n < 65536) {
      buf[o++] = 126
      buf.writeUInt16BE(n, o)
      o += 2
    } else {
      buf[o++] = 127
      buf.writeUInt32BE(Math.floor(n / 2 ** 32), o)
      buf.writeUInt32BE(n >>> 0, o + 4)
      o += 8
    }
    if (typeof payload === 'string') o += buf.write(payload, o, 'utf8')
    else {
      if (ArrayBuffer.isView(payload)) buf.set(payload, o)
      else payload.writeTo(buf, o)
      o += n
    }
    h.fill = o
    h.bytes += size
    if (cb) (h.cbs ??= []).push(cb)
    return true
  }

  /** Write every socket's held frames (one write per buffer, in one writev). Safe to call at any time. */
  flush(): void {
    const list = this.held
    if (list.length === 0) return
    this.held = this.spare
    let most = 0
    for (const ws of list) {
      const h = ws[HELD]!
      const chunks = h.chunks
      const cbs = h.cbs
      const last = chunks.length - 1
      if (h.bytes > most) most = h.bytes
      h.burst = null
      h.cbs = null
      h.bytes = 0
      if (ws.readyState !== WebSocket.OPEN) {
        for (const c of chunks) releaseChunk(c)
        chunks.length = 0
        if (cbs) for (const cb of cbs) cb(new Error('closed'))
        continue
      }
      const sock = h.sock
      const lastChunk = chunks[last].subarray(0, h.fill)
      chunks[last] = lastChunk
      const done =
        cbs === null
          ? undefined
          : (err?: Error | null) => {
              for (const cb of cbs) cb(err ?? undefined)
            }
      if (last > 0) sock.cork()
      // 64 KiB buffers are reused once written (the socket refers to a buffer until its write's callback)
      for (let k = 0; k < last; k++) {
        const c = chunks[k]
        sock.write(c, isChunk(c) ? () => releaseChunk(c) : undefined)
      }
      if (isChunk(lastChunk)) {
        sock.write(lastChunk, (err) => {
          releaseChunk(lastChunk)
          done?.(err)
        })
      } else sock.write(lastChunk, done)
      if (last > 0) sock.uncork()
      chunks.length = 0
    }
    list.length = 0
    this.spare = list
    this.firstChunk = Math.min(BURST_CHUNK, Math.max(FIRST_CHUNK_MIN, most))
  }
}

/** How long {@link FeedServer.close} (a replay's close, Ctrl-C) waits for a client to answer its close frame before cutting it off (ms). */
export const CLOSE_GRACE_MS = 2000

/** How long a client closed for being slow has to read up to our 1013 close frame before its connection is reset (ms). */
export const SLOW_CLOSE_MS = 1000

/**
 * Close a client that stopped reading: what it sees, and when the server lets go.
 *
 * The 1013 close frame ("client too slow") is queued behind every frame
 * already sent to it (up to the send-buffer limit in the server, plus what the
 * kernel buffers hold), and nothing is sent after it. A client that reads
 * again within {@link SLOW_CLOSE_MS} receives those frames, then the close
 * frame with 1013. After that the connection is reset (RST) and its buffers
 * are freed, instead of after ws's 30 s close timeout: a client that still
 * has not read sees the connection reset (ECONNRESET) when it next reads
 * or writes, never our close code.
 */
export function closeSlowClient(ws: WebSocket, graceMs = SLOW_CLOSE_MS): void {
  ws.close(1013, 'client too slow')
  const timer = resetAfter(ws, graceMs)
  ws.once('close', () => clearTimeout(timer))
}

/** Reset (RST) the connection now unless it has closed (ws's terminate() where the socket has no resetAndDestroy). */
function resetNow(ws: WebSocket): void {
  if (ws.readyState === WebSocket.CLOSED) return
  const sock = (ws as unknown as {_socket?: {resetAndDestroy?: () => void}})._socket
  if (sock && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy()
  else ws.terminate()
}

/** {@link resetNow} in `ms` (an unref'd timer). */
function resetAfter(ws: WebSocket, ms: number): NodeJS.Timeout {
  const timer = setTimeout(() => resetNow(ws), ms)
  timer.unref()
  return timer
}

/**
 * Close every client with `code`, stop listening, and resolve once all
 * connections are gone. Clients that do not finish the close handshake within
 * `graceMs` are cut off (a client that stopped reading would otherwise hold
 * the shutdown for ws's 30 s timeout); plain HTTP keep-alive sockets are
 * closed too.
 */
export async function closeGracefully(
  http: Server,
  wss: WebSocketServer,
  clients: Iterable<{ws: WebSocket}>,
  code: number,
  reason: string,
  graceMs: number,
): Promise<void> {
  for (const c of clients) c.ws.close(code, reason)
  const cut = setTimeout(() => {
    for (const c of clients) c.ws.terminate()
  }, graceMs)
  await new Promise<void>((resolve) => wss.close(() => resolve()))
  clearTimeout(cut)
  const closed = new Promise<void>((resolve) => http.close(() => resolve()))
  http.closeAllConnections()
  await closed
}

/**
 * Listen on `host:port` (default 127.0.0.1, a free port); a listen error
 * (EADDRINUSE…) rejects instead of crashing through ws's re-emitted 'error'.
 */
export async function listenOn(http: Server, wss: WebSocketServer, port = 0, host = '127.0.0.1'): Promise<void> {
  wss.on('error', () => {}) // the http server's errors, re-emitted by ws: a listen error rejects below
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, host, () => {
      http.off('error', reject)
      resolve()
    })
  })
}

/** The address a listening server is on, as it goes in a URL (IPv6 in brackets). */
export function addressOf(http: Server): {host: string; port: number} {
  const a = http.address() as AddressInfo
  return {host: a.address.includes(':') ? `[${a.address}]` : a.address, port: a.port}
}

/** How often a closing connection is checked, once the client's close frame has arrived (ms): see answerClosesPromptly. */
export const CLOSE_ANSWER_MS = 50
/** How long a closing client may read nothing of what is queued before our close frame before it is taken to have stopped reading and the connection is reset (ms). */
export const CLOSE_STALL_MS = 250
/** How long a client that is still reading what was queued before our close frame may take to reach it (ms). */
export const CLOSE_DRAIN_MAX_MS = 5000

/** The parts of ws's socket answerClosesPromptly reads: `_handle.writeQueueSize` is libuv's count of bytes handed to the socket but not yet to the kernel (Node-internal, so read defensively). */
interface ClosingSocket {
  destroy(): void
  localPort?: number
  remotePort?: number
  _handle?: {writeQueueSize?: unknown} | null
}

/**
 * Bytes the kernel holds for a socket, sent but not yet acknowledged or not
 * yet sent (`tx_queue` in Linux's /proc/net/tcp and tcp6, found by the
 * connection's two ports); Infinity where that cannot be read (not Linux,
 * no /proc). Node has no API for it (nor for SO_SNDBUF or TCP_INFO), and it
 * is the only count that moves as soon as a slow client reads.
 */
export async function kernelQueue(socket: ClosingSocket | undefined): Promise<number> {
  if (process.platform !== 'linux' || !socket?.localPort || !socket.remotePort) return Infinity
  const ports = `:${hex4(socket.localPort)} `
  const peer = `:${hex4(socket.remotePort)} `
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'latin1').catch(() => '')
    for (const line of text.split('\n')) {
      // "  sl  local_address rem_address   st tx_queue:rx_queue ..."; 06 is TIME_WAIT (an earlier connection)
      const f = line.trim().split(/\s+/)
      if (f.length < 5 || f[3] === '06' || !`${f[1]} `.endsWith(ports) || !`${f[2]} `.endsWith(peer)) continue
      return Number.parseInt(f[4]!.split(':')[0]!, 16)
    }
  }
  return Infinity
}

function hex4(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0')
}

/** Bytes in a socket's own write queue, or 0 where Node does not show it. */
function handleQueue(socket: ClosingSocket | undefined): number {
  const n = socket?._handle?.writeQueueSize
  return typeof n === 'number' ? n : 0
}

/**
 * Answer a client's close frame promptly, whatever is still queued for it.
 *
 * ws answers a close frame by queueing its own close frame behind every byte
 * already buffered for the socket, and ends the TCP connection only once the
 * client has closed its side too — or after its 30 s close timeout. A client
 * that stops reading when it closes (Python's `websockets` stops reading
 * once 32 messages are queued unread, as after a `--speed max` burst) would
 * hold the connection that long. So, once the client's close frame is in and
 * ours is queued, the connection is checked every {@link CLOSE_ANSWER_MS}:
 *
 * - our close frame has been handed to the kernel: the socket is closed
 *   (not reset), so the kernel still delivers what it holds, our close
 *   frame last, to a client that reads, and the replay lets go at once;
 * - the bytes queued before it went down (in ws's buffer, in the socket's
 *   own write queue, or in the kernel's: see kernelQueue) within the last {@link CLOSE_STALL_MS} of
 *   checks (the client is reading, only slowly: a loaded machine): check
 *   again, for at most {@link CLOSE_DRAIN_MAX_MS} in all. Only the on-time
 *   part of each interval counts toward the stall: when this process itself
 *   was held up (a GC pause, a busy machine), a check made late has not
 *   given the client more time to read;
 * - else (the client stopped reading): the connection is reset (RST), which
 *   a client sees at once as the end of the connection.
 *
 * Closes the server starts (gaps, slow clients, end of recording, shutdown)
 * keep ws's own handshake.
 *
 * ws does not publish "a close frame arrived" nor "ours was written": it
 * calls the socket's own `close()` when one arrives, with
 * `_closeFrameReceived` set, and sets `_closeFrameSent` once its close frame
 * is written (ws 7–8; without the first field this does nothing and ws's
 * 30 s timeout applies).
 */
export function answerClosesPromptly(ws: WebSocket, graceMs = CLOSE_ANSWER_MS, stallMs = CLOSE_STALL_MS, drainMaxMs = CLOSE_DRAIN_MAX_MS): void {
  const close = ws.close
  const state = ws as unknown as {_closeFrameReceived?: boolean; _closeFrameSent?: boolean; _socket?: ClosingSocket}
  let timer: NodeJS.Timeout | null = null
  let watching = false
  ws.close = function (this: WebSocket, code?: number, data?: string | Buffer): void {
    close.call(this, code, data)
    if (watching || !state._closeFrameReceived) return
    watching = true
    const t0 = performance.now()
    let last = t0
    let stalled = 0
    let queued = ws.bufferedAmount
    let inHandle = handleQueue(state._socket)
    let inKernel = Infinity
    void kernelQueue(state._socket).then((k) => (inKernel = Math.min(inKernel, k)))
    const decide = async (): Promise<void> => {
      const now = performance.now()
      const buffered = ws.bufferedAmount
      const handle = handleQueue(state._socket)
      const kernel = await kernelQueue(state._socket)
      if (ws.readyState === WebSocket.CLOSED) return
      if (state._closeFrameSent) {
        state._socket?.destroy()
        return
      }
      // progress, coarsest count first: fewer bytes queued in ws; else fewer in the socket's own write
      // queue; else fewer in the kernel's. ws's count moves only when the kernel frees about a third of
      // its send buffer (up to ~1.4 MB, which a slow reader on a loaded machine takes a second to read);
      // the kernel's moves with every acknowledged segment.
      const progressed =
        buffered < queued || (buffered === queued && (handle < inHandle || (handle === inHandle && kernel < inKernel)))
      queued = buffered
      inHandle = handle
      inKernel = kernel
      // only the on-time part of each interval counts: a check this process made late (a GC pause,
      // a busy machine) is not the client's lateness
      stalled = progressed ? 0 : stalled + Math.min(now - last, graceMs)
      last = now
      if (stalled < stallMs && now - t0 < drainMaxMs) arm()
      else resetNow(ws)
    }
    // decided after the loop's I/O phase: a check that fires late because this process was busy
    // first sees the writes the socket took meanwhile, so our own stall is not taken for the client's
    const arm = (): void => {
      timer = setTimeout(() => {
        timer = null
        setImmediate(() => void decide())
      }, graceMs)
      timer.unref()
    }
    arm()
  }
  ws.once('close', () => {
    if (timer) clearTimeout(timer)
  })
}

/** Answer a plain HTTP request on a WebSocket path: 426, naming the emulator (`what`: "a Yahoo streamer emulator"). */
export function upgradeRequired(res: ServerResponse, what: string): void {
  res.writeHead(426, {'content-type': 'text/plain'})
  res.end(`Upgrade to a WebSocket: this is ${what}\n`)
}

/** Where and how {@link FeedServer.start} listens. */
export interface StartOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** Default 0: a free port. */
  port?: number
  /** Largest client message accepted (bytes); ws closes a connection that sends a larger one with 1009. */
  maxPayload: number
}

/** A client message as text: a text frame's, or a binary frame's bytes read as UTF-8. */
export function textOf(data: RawData, isBinary: boolean): string {
  return isBinary ? (data as Buffer).toString('utf8') : String(data)
}

/** What a server does with a connected client's socket events (see {@link FeedServer.admit}). */
export interface ClientHandlers {
  /** A message, as text (a binary frame's bytes read as UTF-8; `isBinary` tells which it was). */
  message(text: string, isBinary: boolean): void
  /** Traffic from the client (a message, a ping or a pong), before the message is handled; false: ignore the message. */
  activity?(): boolean | void
  /** The connection closed: before the client leaves `clients` and 'disconnect' is emitted. */
  left?(): void
}

/**
 * The half every feed's server shares: the connected clients, the address
 * it listens on, and its close paths. A feed's server adds its protocol: it
 * builds a client when a socket connects and hands it to {@link admit}.
 * Events: 'connection' (client), 'disconnect' (client), and 'slow' (client,
 * from {@link sendPoliced}); the feed's own events on top.
 */
export abstract class FeedServer<C extends PolicedClient> extends EventEmitter {
  readonly clients = new Set<C>()
  /** Id of the next client. */
  protected nextId = 1

  constructor(
    readonly http: Server,
    readonly wss: WebSocketServer,
  ) {
    super()
  }

  /**
   * Start a feed's server: an HTTP server (its requests go to
   * {@link onHttp}) with a WebSocket server on it, uncompressed (frames go
   * out as written: {@link FrameBurst} relies on it), whose upgrades are
   * checked by {@link verifyUpgrade} and whose connections go to
   * {@link accept}; listening on `o.host:o.port` (a listen error rejects).
   * `make` builds the server from the two before it listens.
   */
  protected static async start<S extends FeedServer<PolicedClient>>(o: StartOptions, make: (http: Server, wss: WebSocketServer) => S): Promise<S> {
    let srv: S | null = null
    const http = createServer((req, res) => srv!.onHttp(req, res))
    const wss = new WebSocketServer({server: http, perMessageDeflate: false, maxPayload: o.maxPayload, verifyClient: (info, cb) => srv!.verifyUpgrade(info.req, cb)})
    const s = (srv = make(http, wss))
    wss.on('connection', (ws, req) => s.accept(ws, req))
    await listenOn(http, wss, o.port, o.host)
    return s
  }

  /** A plain HTTP request (REST endpoints; default: 426, see {@link upgradeRequired}). */
  protected onHttp(_req: IncomingMessage, res: ServerResponse): void {
    upgradeRequired(res, 'a market-data feed emulator')
  }

  /** Accept (`cb(true)`) or refuse (`cb(false, status, body, headers)`) a WebSocket upgrade; default: accept. */
  protected verifyUpgrade(_req: IncomingMessage, cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void): void {
    cb(true)
  }

  /** A socket connected: build its client, and {@link admit} it (or close it). */
  protected abstract accept(ws: WebSocket, req: IncomingMessage): void

  get port(): number {
    return addressOf(this.http).port
  }

  get host(): string {
    return addressOf(this.http).host
  }

  /**
   * Take a connected client in: add it to `clients` and emit 'connection';
   * its messages (text), pings and pongs go to `on`; when it closes it leaves
   * `clients` and 'disconnect' is emitted; a socket error ends that client only.
   */
  protected admit(client: C, on: ClientHandlers): void {
    const ws = client.ws
    this.clients.add(client)
    this.emit('connection', client)
    const activity = on.activity
    ws.on('message', (data, isBinary) => {
      if (activity?.() === false) return
      on.message(textOf(data, isBinary), isBinary)
    })
    if (activity) {
      ws.on('ping', activity)
      ws.on('pong', activity)
    }
    ws.on('close', () => {
      on.left?.()
      this.clients.delete(client)
      this.emit('disconnect', client)
    })
    ws.on('error', () => {
      // a client's socket error ends that client only
    })
  }

  /** Close every client connection (code 1000 normal by default). */
  closeClients(code = 1000, reason = ''): void {
    for (const c of this.clients) c.ws.close(code, reason)
  }

  /** Drop every client at once, without a close handshake (a network failure). */
  terminateClients(): void {
    for (const c of this.clients) c.ws.terminate()
  }

  /** Stop the server's own timers (called first by {@link close}). */
  protected stopTimers(): void {}

  /**
   * Close every client with `code`, stop listening, and resolve once all
   * connections are gone. Clients that do not finish the close handshake
   * within `graceMs` (e.g. one that stopped reading) are cut off.
   */
  async close(code = 1001, reason = 'server shutting down', graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.stopTimers()
    await closeGracefully(this.http, this.wss, this.clients, code, reason, graceMs)
  }
}
