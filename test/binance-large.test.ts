/**
 * At real size: 1,000,000 synthetic Binance messages (combined endpoint, 10
 * symbols) decoded and written through the store as `mdrec record` does
 * (raw kept only when inexact: none here) in 25 batches of 40,000 rows (the
 * live layout, not compacted); read back in arrival order, the rows
 * re-encode to exactly the messages sent (a SHA-256 over every message, so
 * no frame is kept in memory), and the replay encoder gives the same bytes
 * on the combined endpoint and the bare payload on the raw one. Bounded in
 * count and time (the machine is shared: a slow run is not a failure
 * unless it passes the test's timeout).
 */
import {createHash} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {binanceCodec, encodePayload, wrap} from '../src/feeds/binance/codec.js'
import {binanceReplay} from '../src/feeds/binance/replay.js'
import {syntheticBinanceTape} from '../src/feeds/binance/synthetic.js'
import {ReplayBatch} from '../src/replay/rows.js'
import {openRecording, readBatches} from '../src/store/reader.js'
import {RecordingWriter} from '../src/store/writer.js'

const N = 1_000_000
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT', 'TRXUSDT', 'LINKUSDT', 'ETHBTC']
const TYPES = ['trade', 'aggTrade', 'bookTicker', 'depth@100ms', 'depth5@100ms']
const STREAMS = SYMBOLS.flatMap((s) => TYPES.map((t) => `${s.toLowerCase()}@${t}`))

describe('binance at 1,000,000 messages', () => {
  it('records exactly (no raw payloads), reads back and replays every message byte for byte', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'mdrec-binance-big-')), 'big.arrow')
    const codec = binanceCodec(true, STREAMS)
    const w = RecordingWriter.create(
      path,
      {
        meta: {feed: 'binance', endpoint: 'ws://127.0.0.1:1/stream', subscriptions: SYMBOLS, feedOptions: {endpoint: 'combined', streams: STREAMS}, toolVersion: 'test', startTime: '2025-11-24T10:40:00.000000000Z', rawMode: 'auto'},
        exchTsUnit: codec.exchTsUnit,
        columns: codec.columns,
      },
      {flushIntervalMs: 0, flushRows: 40_000, fsync: false, compactOnClose: false},
    )
    const sent = createHash('sha256')
    let inexact = 0
    for (const f of syntheticBinanceTape({frames: N, symbols: SYMBOLS, seed: 77, meanGapMs: 2})) {
      const text = wrap(f.stream, f.payload)
      sent.update(text).update('\n')
      const d = codec.decode({data: text, binary: false})
      if (!d.ok) throw new Error(d.message)
      const r = d.rows[0]
      if (!r.exact) inexact++
      w.append({recv_ts: f.recv_ts, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, info: r.info, fields: r.fields, raw: r.exact ? null : Buffer.from(text)})
    }
    await w.close()
    expect(inexact).toBe(0)

    const file = await openRecording(path)
    const enc = binanceReplay.encoder(file)
    const got = createHash('sha256')
    let rows = 0
    let batches = 0
    for await (const b of readBatches(file)) {
      batches++
      const rb = new ReplayBatch(b.batch, b.idx, file, 0)
      for (let k = 0; k < rb.length; k++) {
        const i = rb.at(k)
        if (rb.raw(i) !== null) throw new Error(`row ${rows} kept its payload`)
        const text = codec.encode(rb.rowView(i)).data as string
        got.update(text).update('\n')
        if (rows % 97 === 0) {
          expect(Buffer.from(enc.encode(rb, i, 1, 0).bytes).toString()).toBe(text)
          expect(Buffer.from(enc.encode(rb, i, 0, 0).bytes).toString()).toBe(encodePayload(rb.rowView(i)))
        }
        rows++
      }
    }
    expect(rows).toBe(N)
    expect(batches).toBe(25)
    expect(got.digest('hex')).toBe(sent.digest('hex'))
  }, 300_000)
})
