/**
 * Redis fan-out of the generic feed (docs/feeds/generic.md, "Redis fan-out"):
 * `mdrec replay --publish redis://HOST:PORT/PREFIX` publishes every frame of
 * the shared timeline to `PREFIX:<channel>`; `mdrec record --feed generic
 * --url redis://HOST:PORT/PREFIX` records them. Against a real redis-server
 * started by the test on a free port.
 */
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'
import {afterEach, describe, expect, it} from 'vitest'

import {genericCodec} from '../src/feeds/generic/adapter.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {runCli, startCli} from './helpers/cli.js'
import {redisSkipReason, startRedis, type RedisProcess} from './helpers/redis-server.js'

const FIXTURE = new URL('../fixtures/generic-channels.arrow', import.meta.url).pathname
const skip = redisSkipReason()
if (skip) console.warn(`generic-redis tests skipped: ${skip}`)
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})
const tmp = () => mkdtempSync(join(tmpdir(), 'mdrec-redis-'))

async function redis(args: string[] = []): Promise<RedisProcess> {
  const r = await startRedis({args})
  cleanups.push(() => r.stop())
  return r
}

/** A Redis subscriber that keeps every message (channel and exact bytes) of `pattern`. */
async function subscriber(port: number, pattern: string, password?: string): Promise<{got: Array<[string, Buffer]>; client: Redis}> {
  const client = new Redis({port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 1})
  cleanups.push(() => client.disconnect())
  await client.connect()
  const got: Array<[string, Buffer]> = []
  client.on('pmessageBuffer', (_p: Buffer, channel: Buffer, message: Buffer) => got.push([channel.toString(), message]))
  await client.psubscribe(pattern)
  return {got, client}
}

const cli = (args: string[], env: Record<string, string> = {}) => startCli(args, cleanups, env)

/** The frames a WebSocket client of the emulator receives for this recording, in order, with their channel. */
async function expectedFrames(path: string): Promise<Array<[string, string]>> {
  const codec = genericCodec()
  const out: Array<[string, string]> = []
  for await (const r of readRows(await openRecording(path))) {
    if (r.kind === 'gap' || r.kind === 'reject') continue
    out.push([r.symbol, codec.encode(r).data as string])
  }
  return out
}

/** `mdrec cat` NDJSON rows without receive time and seq (comparable across recordings), gap rows left out. */
async function catRows(path: string): Promise<string[]> {
  const r = await runCli(['cat', path, '-f', 'ndjson'], {timeoutMs: 60_000})
  expect(r.code, r.stderr).toBe(0)
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o.kind !== 'gap')
    .map(({recv_ts: _r, seq: _s, ...rest}) => JSON.stringify(rest))
}

describe.skipIf(skip !== null)('generic Redis fan-out', () => {
  it('replay --publish sends every frame of the shared timeline to PREFIX:<channel>; two subscribers get byte-identical sequences', async () => {
    const r = await redis()
    const a = await subscriber(r.port, 'md:*')
    const b = await subscriber(r.port, 'md:*')
    const p = cli(['replay', FIXTURE, '--port', '0', '--speed', 'max', '--publish', `redis://127.0.0.1:${r.port}/md`, '--json'])
    const res = await p.out
    expect(res.code, res.stderr).toBe(0)
    const summary = JSON.parse(res.stdout)
    const want = await expectedFrames(FIXTURE)
    expect(want.length).toBeGreaterThan(1000)
    expect(summary.published).toBe(want.length)
    await a.client.ping() // a round trip on each: everything published before has been delivered
    await b.client.ping()
    expect(a.got.length).toBe(want.length)
    expect(b.got.length).toBe(want.length)
    for (let i = 0; i < want.length; i++) {
      expect(a.got[i][0]).toBe(`md:${want[i][0]}`)
      expect(a.got[i][1].toString('utf8')).toBe(want[i][1])
      expect(Buffer.compare(a.got[i][1], b.got[i][1])).toBe(0)
      expect(b.got[i][0]).toBe(a.got[i][0])
    }
  }, 120_000)

  it('record → publish → record keeps the rows (mdrec cat); the recording says where it came from', async () => {
    const r = await redis()
    const dir = tmp()
    const out = join(dir, 'from-redis.arrow')
    const rec = cli(['record', '*', '--feed', 'generic', '--url', `redis://127.0.0.1:${r.port}/md`, '--out', out, '--flush-interval', '100ms'])
    await rec.line(/connection: connected/)
    const pub = await cli(['replay', FIXTURE, '--port', '0', '--speed', '20x', '--publish', `redis://127.0.0.1:${r.port}/md`, '-q']).out
    expect(pub.code, pub.stderr).toBe(0)
    // the recorder has everything once Redis has delivered it: wait for a ping round trip through a second client
    const probe = new Redis({port: r.port, host: '127.0.0.1'})
    cleanups.push(() => probe.disconnect())
    await probe.ping()
    await new Promise((res) => setTimeout(res, 500))
    rec.child.kill('SIGINT')
    const done = await rec.out
    expect(done.code, done.stderr).toBe(0)
    expect(await catRows(out)).toEqual(await catRows(FIXTURE))
    const [info] = JSON.parse((await runCli(['info', out, '--json'])).stdout)
    expect(info.endpoint).toBe(`redis://127.0.0.1:${r.port}/md`)
    expect(info.feed).toBe('generic')
  }, 180_000)

  it('records given channels only (SUBSCRIBE PREFIX:<channel>); a lost Redis is a gap, and recording resumes after it', async () => {
    const r = await redis()
    const dir = tmp()
    const out = join(dir, 'prices.arrow')
    const rec = cli(['record', 'prices', '--feed', 'generic', '--url', `redis://127.0.0.1:${r.port}/md`, '--out', out, '--flush-interval', '100ms', '--reconnect-min', '100ms', '--reconnect-max', '300ms'])
    await rec.line(/connection: connected/)
    const pubA = new Redis({port: r.port, host: '127.0.0.1'})
    cleanups.push(() => pubA.disconnect())
    await pubA.publish('md:prices', '{"type":"price_update","channel":"prices","data":{"p":1.50},"timestamp":1}')
    await pubA.publish('md:trades', '{"type":"trade","channel":"trades","data":{},"timestamp":2}')
    await pubA.ping()
    pubA.disconnect()
    await new Promise((res) => setTimeout(res, 300))
    await r.stop()
    await rec.line(/the Redis connection was lost/)
    const r2 = await startRedis({port: r.port})
    cleanups.push(() => r2.stop())
    await rec.line(/connection: connected[\s\S]*connection: connected/, 30_000)
    const pubB = new Redis({port: r2.port, host: '127.0.0.1'})
    cleanups.push(() => pubB.disconnect())
    await pubB.publish('md:prices', '{"type":"price_update","channel":"prices","data":{"p":2},"timestamp":3}')
    await pubB.ping()
    await new Promise((res) => setTimeout(res, 400))
    rec.child.kill('SIGINT')
    const done = await rec.out
    expect(done.code, done.stderr).toBe(0)
    const rows: Array<{kind: string; symbol: string; data: unknown}> = []
    for await (const row of readRows(await openRecording(out))) rows.push({kind: row.kind, symbol: row.symbol, data: row.fields.data})
    expect(rows.map((x) => x.kind)).toEqual(['tick', 'gap', 'tick'])
    expect(rows[0].data).toBe('{"p":1.50}') // exactly as published
    expect(rows[2].data).toBe('{"p":2}')
  }, 120_000)

  it('a quiet Redis subscription is not stale: the Redis PING at the ping interval keeps it (no reconnect, no gap)', async () => {
    const r = await redis()
    const out = join(tmp(), 'quiet.arrow')
    const rec = cli(['record', 'prices', '--feed', 'generic', '--url', `redis://127.0.0.1:${r.port}/md`, '--out', out, '--stale-timeout', '400ms'])
    await rec.line(/connection: connected/)
    await new Promise((res) => setTimeout(res, 2000)) // five stale timeouts without a message
    const pub = new Redis({port: r.port, host: '127.0.0.1'})
    cleanups.push(() => pub.disconnect())
    await pub.publish('md:prices', '{"type":"price_update","channel":"prices","data":{"p":3},"timestamp":5}')
    await pub.ping()
    await new Promise((res) => setTimeout(res, 300))
    rec.child.kill('SIGINT')
    const done = await rec.out
    expect(done.code, done.stderr).toBe(0)
    expect(done.stdout).toMatch(/reconnects\s+0 \(0 failed attempts\), gaps 0/)
    expect(done.stderr).not.toMatch(/stale/)
    const kinds: string[] = []
    for await (const row of readRows(await openRecording(out))) kinds.push(row.kind)
    expect(kinds).toEqual(['tick'])
  }, 60_000)

  it('keeps a Redis password out of output, logs, errors and the recording', async () => {
    const secret = 'Zq9-redis-pass-7731'
    const r = await redis(['--requirepass', secret])
    const dir = tmp()
    const out = join(dir, 'secret.arrow')
    const rec = cli(['record', '*', '--feed', 'generic', '--url', `redis://:${secret}@127.0.0.1:${r.port}/md`, '--out', out, '--flush-interval', '100ms'])
    await rec.line(/connection: connected/)
    const pub = await cli(['replay', FIXTURE, '--port', '0', '--speed', 'max', '--publish', `redis://:${secret}@127.0.0.1:${r.port}/md`, '--json']).out
    expect(pub.code, pub.stderr).toBe(0)
    await new Promise((res) => setTimeout(res, 500))
    rec.child.kill('SIGINT')
    const done = await rec.out
    expect(done.code, done.stderr).toBe(0)
    for (const text of [pub.stdout, pub.stderr, done.stdout, done.stderr, readFileSync(out).toString('latin1')]) expect(text).not.toContain(secret)
    expect(JSON.parse(pub.stdout).published).toBeGreaterThan(1000)
    // the password from the environment works the same
    const viaEnv = await cli(['replay', FIXTURE, '--port', '0', '--speed', 'max', '--publish', `redis://127.0.0.1:${r.port}/md`, '-q'], {MDREC_REDIS_PASSWORD: secret}).out
    expect(viaEnv.code, viaEnv.stderr).toBe(0)
    // a wrong password: a one-line error without it
    const wrong = `${secret}-wrong`
    const bad = await cli(['replay', FIXTURE, '--port', '0', '--publish', `redis://:${wrong}@127.0.0.1:${r.port}/md`]).out
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/redis:\/\/127\.0\.0\.1:\d+\/md/)
    expect(bad.stderr).not.toContain(wrong)
    expect(bad.stderr).not.toContain(secret)
    expect(bad.stderr).not.toMatch(/\n\s+at /)
  }, 180_000)

  it('refuses bad --publish and redis --url values clearly', async () => {
    const noPrefix = await runCli(['replay', FIXTURE, '--port', '0', '--publish', 'redis://127.0.0.1:6379'])
    expect(noPrefix.code).toBe(2)
    expect(noPrefix.stderr).toMatch(/--publish.*PREFIX/)
    const scheme = await runCli(['replay', FIXTURE, '--port', '0', '--publish', 'http://127.0.0.1:6379/x'])
    expect(scheme.code).toBe(2)
    expect(scheme.stderr).toMatch(/redis:\/\//)
    const conn = await runCli(['replay', FIXTURE, '--port', '0', '--clock', 'connection', '--publish', 'redis://127.0.0.1:6379/x'])
    expect(conn.code).toBe(2)
    expect(conn.stderr).toMatch(/--clock shared\b/)
    const yahoo = await runCli(['record', 'AAPL', '--url', 'redis://127.0.0.1:6379/x', '-d', '1s'])
    expect(yahoo.code).toBe(2)
    expect(yahoo.stderr).toMatch(/generic/)
  }, 60_000)
})
