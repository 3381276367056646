/**
 * The private streams at real size: a 1,000,000-row, 25-batch recording of
 * synthetic myOrder/myAsset messages (built from the generator, nothing kept
 * in memory but hashes) is replayed at --speed max to a DEFAULT and a SIMPLE
 * subscriber on the private endpoint. The DEFAULT one receives every
 * message byte for byte (SHA-256 over the sequence), the SIMPLE one the same
 * count with abbreviated keys. Bounded in count and time.
 */
import {createHash} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {signUpbitToken} from '../src/feeds/upbit/auth.js'
import {upbitCodec} from '../src/feeds/upbit/codec.js'
import {syntheticUpbitPrivateTape} from '../src/feeds/upbit/synthetic.js'
import {replay} from '../src/replay/engine.js'
import {createUpbitPrivateWriter} from './helpers/upbit-private.js'

const ROWS = 1_000_000
const FLUSH_ROWS = 40_000

async function build(path: string): Promise<{hash: string; rows: number}> {
  const codec = upbitCodec('DEFAULT')
  const w = createUpbitPrivateWriter(path, {flushRows: FLUSH_ROWS, fsync: false, compactOnClose: false})
  const h = createHash('sha256')
  let rows = 0
  for (const f of syntheticUpbitPrivateTape({frames: ROWS, seed: 9, codes: ['KRW-BTC', 'KRW-ETH', 'KRW-XRP', 'KRW-SOL'], meanGapMs: 1})) {
    const d = codec.decode({data: Buffer.from(f.text), binary: true})
    if (!d.ok || d.rows.length !== 1) throw new Error(`undecodable synthetic message: ${f.text}`)
    const r = d.rows[0]
    if (!r.exact) throw new Error(`not exact: ${f.text}`)
    w.append({...r, recv_ts: f.recv_ts, raw: null})
    h.update(f.text).update('\n')
    rows++
  }
  await w.close()
  return {hash: h.digest('hex'), rows}
}

/** A private subscriber: counts frames and hashes them until the replay closes the connection. */
function subscriber(url: string, format: 'DEFAULT' | 'SIMPLE'): Promise<{count: number; hash: string; first: string | null}> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}/private`, {headers: {Authorization: `Bearer ${signUpbitToken('big-access-key', 'big-secret-key')}`}, perMessageDeflate: false})
    const h = createHash('sha256')
    let count = 0
    let first: string | null = null
    ws.on('open', () => ws.send(JSON.stringify([{ticket: 'big'}, {type: 'myOrder'}, {type: 'myAsset'}, {format}])))
    ws.on('message', (d: Buffer) => {
      count++
      first ??= d.toString('utf8')
      h.update(d).update('\n')
    })
    ws.on('close', () => resolve({count, hash: h.digest('hex'), first}))
    ws.on('error', reject)
  })
}

describe('upbit private streams at real size', () => {
  it(`${ROWS.toLocaleString('en')} rows in ${ROWS / FLUSH_ROWS} batches: DEFAULT byte for byte, SIMPLE complete`, {timeout: 900_000}, async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mdrec-upbit-big-')), 'private.arrow')
    const built = await build(file)
    expect(built.rows).toBe(ROWS)
    const h = await replay(file, {port: 0, speed: 'max', atEnd: 'close', clock: 'shared'})
    try {
      const [d, s] = await Promise.all([subscriber(h.url, 'DEFAULT'), subscriber(h.url, 'SIMPLE')])
      expect(d.count).toBe(ROWS)
      expect(d.hash).toBe(built.hash)
      expect(s.count).toBe(ROWS)
      expect(Object.keys(JSON.parse(s.first!))).toContain('ty')
      expect(Object.keys(JSON.parse(s.first!))).not.toContain('type')
    } finally {
      await h.close()
    }
  })
})
