/**
 * Redis fan-out for the generic channel feed (docs/feeds/generic.md, "Redis
 * fan-out"): the way the channel service runs on several servers, each
 * broadcasting what arrives on Redis channels `PREFIX:<channel>` to its own
 * WebSocket clients.
 *
 * - {@link RedisPublisher} (`mdrec replay --publish redis://HOST:PORT/PREFIX`):
 *   an in-process WebSocket client of the replay's own emulator, subscribed
 *   to every channel of the recording, that PUBLISHes each frame it receives
 *   to `PREFIX:<channel>` — the frame's bytes exactly as the WebSocket sent
 *   them. Design choice: a loopback client, not a hook inside the engine.
 *   It sees the shared timeline exactly as every other client does (same
 *   encoder, same loop shifts, same pacing and backpressure at `--speed
 *   max`: while Redis has many publishes pending the client stops reading and
 *   the timeline waits), so "the envelope exactly as the WebSocket would send
 *   it" holds by construction and the engine needs no publish path of its
 *   own. The cost: one local WebSocket hop per frame, and the publisher is
 *   one connection of the emulator (it counts in /stats and in
 *   `--max-connections`). Frames go out in timeline order on one Redis
 *   connection, so every subscriber receives them in that order.
 * - {@link RedisSubscription} (`mdrec record --feed generic --url
 *   redis://HOST:PORT/PREFIX`): a Redis subscription shaped like the
 *   WebSocket the {@link ConnectionSupervisor} drives, so recording from
 *   Redis gets the very same connect, stale detection (a Redis PING every
 *   ping interval, its reply counted as activity), gap rows and
 *   reconnect-with-backoff as recording from a WebSocket.
 *
 * Which channels are recorded: each SYMBOL is a channel, SUBSCRIBEd as
 * `PREFIX:SYMBOL`; a SYMBOL with a glob character (`*`, `?`, `[`) is a
 * pattern, PSUBSCRIBEd as `PREFIX:SYMBOL` (`'*'`: every channel). Frames
 * without a string `channel` (a channel-less error the recording holds) are
 * published on `PREFIX:` (the prefix and an empty channel), which `*`
 * matches.
 *
 * Secrets: a password (and ACL user name) in the URL, or the password in
 * MDREC_REDIS_PASSWORD, is sent to Redis only; the URL is stored and shown
 * as `sanitizeEndpoint` makes it (no user info), and text from Redis or
 * ioredis is passed through the URL's {@link Redactor} before it is shown.
 */
import {EventEmitter} from 'node:events'
import {Redis, type RedisOptions} from 'ioredis'
import {WebSocket} from 'ws'

import {MdrecError} from '../../errors.js'
import {readBatches, type RecordingFile} from '../../store/reader.js'
import {COL} from '../../store/types.js'
import {Redactor, parseFeedUrl, sanitizeEndpoint} from '../../util/redact.js'
import {genericControl} from './adapter.js'
import {isPlainObject, parseJson, subscribeMessage} from './codec.js'

/** The schemes of a Redis URL (`rediss:` is Redis over TLS). */
export const REDIS_SCHEMES: readonly string[] = ['redis:', 'rediss:']
/** Where a Redis password can come from instead of the URL (a URL lands in shell history and `ps`). */
export const REDIS_PASSWORD_ENV = 'MDREC_REDIS_PASSWORD'
/** Publishes waiting for Redis's reply above which the publisher stops reading frames (and below a quarter of which it reads again). */
const PUBLISH_HIGH_WATER = 4096
/** Longest a connection attempt to Redis may take (ms), like the WebSocket handshake timeout. */
const CONNECT_TIMEOUT_MS = 15_000

/** A `redis://[user:password@]HOST:PORT/PREFIX` URL, taken apart. */
export interface RedisTarget {
  /** The ioredis options (the password included: for Redis only). */
  options: RedisOptions
  /** The channel prefix: channels are `PREFIX:<channel>`. */
  prefix: string
  /** What is stored and shown ({@link sanitizeEndpoint}: no user info). */
  endpoint: string
  /** Masks the URL's secrets (and an environment password) in text from Redis. */
  redactor: Redactor
}

/** Whether `url` is a Redis URL (by its scheme). */
export function isRedisUrl(url: string): boolean {
  return /^rediss?:\/\//i.test(url.trim())
}

/**
 * Parse a Redis URL named `what` (`--publish`, `--url`). The path is the
 * channel prefix (required, percent-decoded, without a leading `/`); the
 * database number of other Redis URLs has no meaning here (Pub/Sub spans all
 * databases). Throws MdrecError('E_USAGE') showing only the sanitized URL.
 */
export function parseRedisTarget(url: string, what: string, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  const example = 'redis://127.0.0.1:6379/PREFIX'
  const u = parseFeedUrl(url, what, REDIS_SCHEMES, example)
  const endpoint = sanitizeEndpoint(url)
  let prefix: string
  try {
    prefix = decodeURIComponent(u.pathname.replace(/^\//, ''))
  } catch {
    throw new MdrecError('E_USAGE', `invalid ${what} "${endpoint}": the channel prefix is not valid percent-encoding`)
  }
  if (prefix === '') {
    throw new MdrecError('E_USAGE', `invalid ${what} "${endpoint}": give the channel PREFIX as the path (channels are PREFIX:<channel>), e.g. ${example}`)
  }
  if (u.search !== '' || u.hash !== '') {
    throw new MdrecError('E_USAGE', `invalid ${what} "${endpoint}": a Redis URL takes no query or fragment; use redis://[:PASSWORD@]HOST:PORT/PREFIX`)
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s)
    } catch {
      return s
    }
  }
  const password = u.password !== '' ? decode(u.password) : env[REDIS_PASSWORD_ENV] || undefined
  const redactor = new Redactor().addUrl(url).add(env[REDIS_PASSWORD_ENV] || undefined)
  return {
    options: {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port === '' ? 6379 : Number(u.port),
      username: u.username !== '' ? decode(u.username) : undefined,
      password,
      tls: u.protocol === 'rediss:' ? {servername: u.hostname} : undefined,
      connectTimeout: CONNECT_TIMEOUT_MS,
      lazyConnect: true,
    },
    prefix,
    endpoint,
    redactor,
  }
}

/** An ioredis error as one safe line: its code or message, the target's secrets masked. */
function why(err: unknown, t: RedisTarget): string {
  const e = err as NodeJS.ErrnoException
  const text = e?.code && !String(e.message ?? '').includes(e.code) ? `${e.code} ${e.message ?? ''}`.trim() : String(e?.message ?? err)
  return t.redactor.redact(text.replace(/^connect /, ''))
}

/** A Redis channel name as shown in a log line (masked like any text from outside). */
export function redisChannel(prefix: string, channel: string): string {
  return `${prefix}:${channel}`
}

/** The channel of a generic frame (its string `channel`), or '' when it has none. */
function channelOf(text: string): string {
  const p = parseJson(text)
  return p.ok && isPlainObject(p.value) && typeof p.value.channel === 'string' ? p.value.channel : ''
}

/**
 * Publishes the frames a replay serves to Redis (see the module doc).
 * `connect` first (fails before the replay listens when Redis cannot be
 * reached), then {@link attach} to the emulator, then {@link finish} after
 * the replay has closed its clients.
 */
export class RedisPublisher {
  /** Frames Redis has acknowledged. */
  published = 0
  /** Publishes that failed (logged, not retried). */
  failed = 0
  private pending = 0
  private ws: WebSocket | null = null
  private closed: Promise<void> = Promise.resolve()
  private drainWaiters: Array<() => void> = []
  private paused = false
  private readonly log: (line: string) => void

  private constructor(
    readonly target: RedisTarget,
    private readonly redis: Redis,
    log?: (line: string) => void,
  ) {
    this.log = log ?? (() => {})
  }

  /** Connect to Redis (one attempt, bounded by the connect timeout); MdrecError('E_FEED') naming the endpoint when that fails. */
  static async connect(target: RedisTarget, log?: (line: string) => void): Promise<RedisPublisher> {
    let connected = false
    const redis = new Redis({
      ...target.options,
      // after the first connection: retry with a capped backoff, publishes queued meanwhile (the order is kept)
      retryStrategy: (times) => (connected ? Math.min(200 * 2 ** Math.min(times, 6), 10_000) : null),
      maxRetriesPerRequest: null,
    })
    let lastError = ''
    redis.on('error', (err) => {
      const line = why(err, target)
      if (connected && line !== lastError) log?.(`publish: ${target.endpoint}: ${line}`)
      lastError = line
    })
    try {
      await redis.connect()
    } catch (error) {
      redis.disconnect()
      throw new MdrecError('E_FEED', `cannot publish to ${target.endpoint}: ${lastError || why(error, target)}; check that Redis runs there and the password (the URL's, or ${REDIS_PASSWORD_ENV})`)
    }
    connected = true
    redis.on('reconnecting', () => log?.(`publish: ${target.endpoint}: connection lost; reconnecting (frames are queued meanwhile)`))
    return new RedisPublisher(target, redis, log)
  }

  /**
   * Connect to the replay's emulator at `wsUrl` (a `{client_id}` in it
   * becomes `mdrec-publisher`) and subscribe to `channels`; resolves once
   * connected. From then on every frame it receives is published (protocol
   * replies, pings and heartbeats excepted: what `genericControl` keeps out
   * of a recording stays out of Redis; server pings are answered).
   */
  async attach(wsUrl: string, channels: readonly string[]): Promise<void> {
    const ws = new WebSocket(wsUrl.replace('{client_id}', 'mdrec-publisher'), {perMessageDeflate: false})
    this.ws = ws
    const control = genericControl()
    const prefix = this.target.prefix
    this.closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
    ws.on('message', (data, isBinary) => {
      if (isBinary) return // the emulator sends text frames only
      const bytes = data as Buffer
      const text = bytes.toString('utf8')
      const c = control({data: text, binary: false})
      if (typeof c === 'string') {
        ws.send(c) // a server ping (--ping-interval): the publisher is a well-behaved client
        return
      }
      if (c) return
      this.publish(redisChannel(prefix, channelOf(text)), bytes)
    })
    ws.on('close', (code, reason) => {
      if (code !== 1000 && code !== 1001) this.log(`publish: the emulator closed the publishing connection (code ${code}${reason.length ? `, ${reason.toString()}` : ''})`)
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    }).catch((error: Error) => {
      throw new MdrecError('E_IO', `cannot connect the Redis publisher to the replay at ${wsUrl}: ${error.message}`)
    })
    ws.on('error', (err) => this.log(`publish: ${err.message}`))
    for (const ch of channels) ws.send(subscribeMessage(ch))
  }

  private publish(channel: string, payload: Buffer): void {
    this.pending++
    if (this.pending >= PUBLISH_HIGH_WATER && !this.paused && this.ws) {
      this.paused = true
      this.ws.pause()
    }
    this.redis.publish(channel, payload).then(
      () => this.settled(true),
      (error: unknown) => {
        if (this.failed === 0) this.log(`publish: ${this.target.endpoint}: ${why(error, this.target)} (further failures are counted, not logged)`)
        this.settled(false)
      },
    )
  }

  private settled(ok: boolean): void {
    this.pending--
    if (ok) this.published++
    else this.failed++
    if (this.paused && this.pending <= PUBLISH_HIGH_WATER / 4) {
      this.paused = false
      this.ws?.resume()
    }
    if (this.pending === 0) for (const w of this.drainWaiters.splice(0)) w()
  }

  /**
   * After the replay closed its clients: wait for the publishing connection
   * to end (every frame before its close has been received) and for Redis to
   * acknowledge every publish (bounded by `ms`), then disconnect. Resolves
   * the number of frames published.
   */
  async finish(ms = 30_000): Promise<number> {
    const t = setTimeout(() => this.ws?.terminate(), ms)
    await this.closed
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms)
        this.drainWaiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    clearTimeout(t)
    await this.redis.quit().catch(() => this.redis.disconnect())
    return this.published
  }

  /** Stop at once (an error path): drop the loopback connection and Redis. */
  abort(): void {
    this.ws?.terminate()
    this.redis.disconnect()
  }
}

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3

/**
 * A Redis subscription with the shape of the `ws` WebSocket that
 * {@link ConnectionSupervisor} drives (its `FeedClientSpec.open`): 'open' once
 * subscribed, 'message' (bytes, false) per Pub/Sub message, 'pong' for the
 * reply to a Redis PING (sent by `ping()`), 'error' and 'close' (code 1006
 * when the connection was lost). One connection attempt per instance: the
 * supervisor makes a new one for every reconnect, with its own backoff.
 */
export class RedisSubscription extends EventEmitter {
  static readonly CONNECTING = CONNECTING
  static readonly OPEN = OPEN
  readyState = CONNECTING
  /** Set by the supervisor; messages are Buffers either way. */
  binaryType = 'nodebuffer'
  private readonly redis: Redis

  constructor(
    readonly target: RedisTarget,
    channels: readonly string[],
    patterns: readonly string[],
  ) {
    super()
    const redis = new Redis({...target.options, retryStrategy: () => null, maxRetriesPerRequest: 0, autoResubscribe: false, enableOfflineQueue: false})
    this.redis = redis
    // the connection's own error (ECONNREFUSED, WRONGPASS) rather than connect()'s "Connection is closed."
    let lastError: Error | null = null
    redis.on('error', (err) => (lastError = err))
    const failed = (error: unknown) => {
      if (this.readyState !== CONNECTING) return
      const err = lastError ?? (error instanceof Error ? error : new Error(String(error)))
      // masked here: the supervisor shows this text (the recorder masks it again, harmlessly)
      this.emit('error', Object.assign(new Error(target.redactor.redact(err.message)), {code: (err as NodeJS.ErrnoException).code}))
      this.terminate()
    }
    redis.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.emit('message', message, false))
    redis.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => this.emit('message', message, false))
    redis.on('end', () => {
      if (this.readyState === CONNECTING) failed(new Error('the connection closed while connecting'))
      else this.ended(1006, this.readyState === CLOSING ? '' : 'the Redis connection was lost')
    })
    const p = target.prefix
    redis
      .connect()
      .then(async () => {
        if (channels.length > 0) await redis.subscribe(...channels.map((c) => redisChannel(p, c)))
        if (patterns.length > 0) await redis.psubscribe(...patterns.map((c) => redisChannel(p, c)))
        if (this.readyState !== CONNECTING) return
        this.readyState = OPEN
        this.emit('open')
      })
      .catch(failed)
  }

  private ended(code: number, reason: string): void {
    if (this.readyState === CLOSED) return
    this.readyState = CLOSED
    this.emit('close', code, Buffer.from(reason))
  }

  /** Nothing is sent on a subscription (subscribing is done on connect). */
  send(_data: unknown): void {}

  /** A Redis PING; its reply is a 'pong' (liveness for the supervisor's stale check). */
  ping(): void {
    if (this.readyState !== OPEN) return
    this.redis.ping().then(
      () => this.emit('pong'),
      () => {},
    )
  }

  close(_code?: number, _reason?: string): void {
    if (this.readyState >= CLOSING) return
    this.readyState = CLOSING
    this.redis.quit().catch(() => this.redis.disconnect())
  }

  terminate(): void {
    if (this.readyState === CLOSED) return
    this.readyState = CLOSING
    this.redis.disconnect()
    this.ended(1006, '')
  }
}

/** Split record SYMBOLs into Redis channels and patterns (a glob character makes a pattern). */
export function redisSubscriptions(symbols: readonly string[]): {channels: string[]; patterns: string[]} {
  const channels: string[] = []
  const patterns: string[] = []
  for (const s of new Set(symbols)) (/[*?[]/.test(s) ? patterns : channels).push(s)
  return {channels, patterns}
}

/**
 * The channels the rows of `files` (within [from, to)) belong to, '' left
 * out, sorted: what the publisher subscribes to. Reads the files once (every
 * batch's symbol dictionary, no per-row work).
 */
export async function recordedChannels(files: readonly RecordingFile[], range: {from?: bigint; to?: bigint} = {}): Promise<string[]> {
  const seen = new Set<string>()
  for (const file of files) {
    for await (const {batch} of readBatches(file, {from: range.from, to: range.to})) {
      const dict = batch.getChildAt(COL.symbol)!.data[0].dictionary
      if (!dict) continue
      for (let k = 0; k < dict.length; k++) {
        const s = dict.get(k) as string | null
        if (s) seen.add(s)
      }
    }
  }
  return [...seen].sort()
}
