/**
 * Redis fan-out at real size: a 1,000,000-row, 20-batch generic recording
 * published with `mdrec replay --speed max --publish`, received by two Redis
 * subscribers. Neither the rows nor the messages are kept in memory: each
 * side keeps a count and a SHA-256 over (channel, bytes) in order.
 */
import {createHash} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'
import {afterEach, describe, expect, it} from 'vitest'

import {genericCodec} from '../src/feeds/generic/adapter.js'
import {syntheticGenericTape} from '../src/feeds/generic/synthetic.js'
import {RecordingWriter} from '../src/store/writer.js'
import {startCli} from './helpers/cli.js'
import {redisSkipReason, startRedis} from './helpers/redis-server.js'

const ROWS = 1_000_000
const FLUSH_ROWS = 50_000
const skip = redisSkipReason()
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function hashFrame(h: ReturnType<typeof createHash>, channel: string, bytes: string | Buffer): void {
  h.update(channel)
  h.update('\0')
  h.update(bytes)
  h.update('\n')
}

describe.skipIf(skip !== null)('generic Redis fan-out at 1,000,000 rows', () => {
  it('two subscribers receive every frame, byte-identical and in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdrec-redis-big-'))
    const path = join(dir, 'big.arrow')
    const codec = genericCodec()
    const w = RecordingWriter.create(
      path,
      {
        meta: {feed: 'generic', endpoint: 'ws://127.0.0.1:8765/', subscriptions: ['prices', 'trades', 'orderbook', 'news'], feedOptions: {}, toolVersion: 'test', startTime: '2025-11-24T10:40:00.000000000Z', rawMode: 'auto'},
        exchTsUnit: codec.exchTsUnit,
        columns: codec.columns,
      },
      {flushRows: FLUSH_ROWS, fsync: false, compactOnClose: false},
    )
    const want = createHash('sha256')
    for (const f of syntheticGenericTape({frames: ROWS, seed: 5, meanGapMs: 1})) {
      const r = codec.decode({data: f.text, binary: false})
      if (!r.ok) throw new Error(r.message)
      const row = r.rows[0]
      w.append({recv_ts: f.recv_ts, exch_ts: row.exch_ts, symbol: row.symbol, kind: row.kind, raw: row.exact ? null : Buffer.from(f.text), info: row.info, fields: row.fields})
      hashFrame(want, `big:${f.channel}`, f.text) // what the WebSocket sends: the frame as recorded
    }
    await w.close()

    // this test's subscribers share two cores with the replay and Redis: Redis's default pubsub
    // output-buffer limit (32 MB) would cut a subscriber that falls behind at --speed max
    const redis = await startRedis({args: ['--client-output-buffer-limit', 'pubsub 0 0 0']})
    cleanups.push(() => redis.stop())
    const subs = await Promise.all(
      [0, 1].map(async () => {
        const c = new Redis({port: redis.port, host: '127.0.0.1', lazyConnect: true})
        cleanups.push(() => c.disconnect())
        await c.connect()
        const s = {client: c, n: 0, hash: createHash('sha256')}
        c.on('pmessageBuffer', (_p: Buffer, channel: Buffer, message: Buffer) => {
          s.n++
          hashFrame(s.hash, channel.toString(), message)
        })
        await c.psubscribe('big:*')
        return s
      }),
    )
    const t0 = Date.now()
    const p = startCli(['replay', path, '--port', '0', '--speed', 'max', '--publish', `redis://127.0.0.1:${redis.port}/big`, '--json', '-q'], cleanups, {}, 280_000)
    const res = await p.out
    expect(res.code, res.stderr).toBe(0)
    const seconds = (Date.now() - t0) / 1000
    expect(JSON.parse(res.stdout).published).toBe(ROWS)
    for (const s of subs) await s.client.ping() // delivered before the reply
    const digest = want.digest('hex')
    for (const s of subs) {
      expect(s.n).toBe(ROWS)
      expect(s.hash.digest('hex')).toBe(digest)
    }
    // a figure, not a check (2 shared cores: pessimistic)
    console.log(`published ${ROWS} frames to 2 Redis subscribers in ${seconds.toFixed(1)} s (${Math.round(ROWS / seconds)} frames/s, whole CLI run)`)
  }, 300_000)
})
