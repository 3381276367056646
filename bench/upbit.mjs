#!/usr/bin/env node
// bench/upbit: the Upbit feed, one JSON line per case (bench/lib/feed-bench.mjs
// measures; this file gives the feed's tape, request and recording).
//
//   npx tsc -p tsconfig.json && node bench/upbit.mjs [record] [replay] [--frames N]
//
// record  frames/s recorded end to end (received, control hook, decoded with
//         the byte-exactness check, written, flushed) by mdrec's recorder with
//         --feed upbit --types ticker,trade,orderbook, against a plain `ws`
//         client that only counts the same binary frames from the same push
//         server (its own process), in the same run; three rounds each,
//         medians. The tape is the synthetic KRW-BTC/KRW-ETH traffic
//         (trades ≈ 470 B, tickers ≈ 980 B, 15-level order books ≈ 1.6 KB).
// replay  frames/s of `replay` at speed 'max' to one client (its own process)
//         of a recording of the same tape, rows re-encoded from their columns
//         (raw auto: every frame exact) and rows sent from raw (raw always),
//         against a plain `ws` server sending the same pre-encoded frames to
//         the same client; best of 3, from the first frame to the close.
import {fileURLToPath} from 'node:url'
import {opt} from './lib/args.mjs'
import {runFeedBench} from './lib/feed-bench.mjs'

const dist = new URL('../dist/', import.meta.url)
const CODES = ['KRW-BTC', 'KRW-ETH']

await runFeedBench({
  name: 'upbit',
  file: fileURLToPath(import.meta.url),
  frames: Number(opt('frames', 200_000)),
  path: '/websocket/v1',
  messages: [JSON.stringify([{ticket: 'bench'}, {type: 'ticker', codes: CODES}, {type: 'trade', codes: CODES}, {type: 'orderbook', codes: CODES}])],
  recordOptions: {feed: 'upbit', symbols: CODES, feedOptions: {types: ['ticker', 'trade', 'orderbook']}},
  /** The synthetic tape, encoded as Upbit sends it (binary frames; a pool reused when more frames are needed). */
  async tape(n) {
    const {syntheticUpbitTape} = await import(new URL('feeds/upbit/synthetic.js', dist))
    const {encodeMessage} = await import(new URL('feeds/upbit/codec.js', dist))
    const out = []
    for (const f of syntheticUpbitTape({frames: Math.min(n, 100_000), seed: 3, codes: CODES, meanGapMs: 1})) out.push({text: encodeMessage(f.row, false), binary: true})
    return out
  },
  async writeRecording(path, tape, frames, mode) {
    const {RecordingWriter} = await import(new URL('store/writer.js', dist))
    const {upbitCodec} = await import(new URL('feeds/upbit/codec.js', dist))
    const codec = upbitCodec('DEFAULT')
    const w = RecordingWriter.create(
      path,
      {
        meta: {feed: 'upbit', endpoint: 'wss://api.upbit.com/websocket/v1', subscriptions: CODES, feedOptions: {format: 'DEFAULT'}, toolVersion: 'bench', startTime: new Date(1763980800000).toISOString(), rawMode: mode},
        exchTsUnit: 'ms',
        columns: codec.columns,
      },
      {flushIntervalMs: 0, fsync: false},
    )
    let t = 1763980800000000000n
    for (let i = 0; i < frames; i++) {
      const bytes = Buffer.from(tape[i % tape.length].text)
      const r = codec.decode({data: bytes, binary: true}).rows[0]
      if (!r.exact) throw new Error('a synthetic frame is not exact')
      t += 10_000n
      w.append({recv_ts: t, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, raw: mode === 'always' ? bytes : null, info: null, fields: r.fields})
    }
    await w.close()
  },
})
