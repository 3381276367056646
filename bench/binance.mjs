#!/usr/bin/env node
// bench/binance: the Binance spot feed, one JSON line per case
// (bench/lib/feed-bench.mjs measures; this file gives the feed's tape,
// subscription and recording).
//
//   npx tsc -p tsconfig.json && node bench/binance.mjs [record] [replay] [--frames N]
//
// record  frames/s recorded end to end (received, control hook, decoded with
//         the byte-exactness check, written, flushed) by mdrec's recorder with
//         --feed binance on the combined endpoint (/stream), streams trade,
//         aggTrade, bookTicker, depth@100ms and depth5@100ms of BTCUSDT and
//         ETHUSDT, against a plain `ws` client that only counts the same text
//         frames from the same push server (its own process), in the same
//         run; three rounds each, medians. The tape is the synthetic Binance
//         traffic (src/feeds/binance/synthetic.ts: trades ≈ 220 B, diff
//         depth with 20 levels a side ≈ 1 KB).
// replay  frames/s of `replay` at speed 'max' to one client (its own process)
//         of a recording of the same tape, rows re-encoded from their columns
//         (raw auto) and rows sent from raw (raw always), against a plain
//         `ws` server sending the same pre-encoded frames to the same client;
//         best of 3, from the first row's frame to the close (the replay's
//         subscribe reply and settle window are not counted).
import {fileURLToPath} from 'node:url'
import {opt} from './lib/args.mjs'
import {runFeedBench} from './lib/feed-bench.mjs'

const dist = new URL('../dist/', import.meta.url)
const SYMBOLS = ['BTCUSDT', 'ETHUSDT']
const TYPES = ['trade', 'aggTrade', 'bookTicker', 'depth@100ms', 'depth5@100ms']
const STREAMS = SYMBOLS.flatMap((s) => TYPES.map((t) => `${s.toLowerCase()}@${t}`))

await runFeedBench({
  name: 'binance',
  file: fileURLToPath(import.meta.url),
  frames: Number(opt('frames', 200_000)),
  path: '/stream',
  messages: [JSON.stringify({method: 'SUBSCRIBE', params: STREAMS, id: 1})],
  replayAck: 1,
  recordOptions: {feed: 'binance', symbols: SYMBOLS, feedOptions: {types: TYPES, format: 'combined'}},
  /** The synthetic tape as the combined endpoint sends it (text frames; a pool reused when more frames are needed). */
  async tape(n) {
    const {syntheticBinanceTape} = await import(new URL('feeds/binance/index.js', dist))
    const {wrap} = await import(new URL('feeds/binance/codec.js', dist))
    const out = []
    for (const f of syntheticBinanceTape({frames: Math.min(n, 100_000), seed: 3, symbols: SYMBOLS, meanGapMs: 1})) out.push({text: wrap(f.stream, f.payload), binary: false})
    return out
  },
  async writeRecording(path, tape, frames, mode) {
    const {RecordingWriter} = await import(new URL('store/writer.js', dist))
    const {binanceCodec} = await import(new URL('feeds/binance/codec.js', dist))
    const codec = binanceCodec(true, STREAMS)
    const w = RecordingWriter.create(
      path,
      {
        meta: {feed: 'binance', endpoint: 'wss://stream.binance.com:9443/stream', subscriptions: SYMBOLS, feedOptions: {endpoint: 'combined', streams: STREAMS}, toolVersion: 'bench', startTime: new Date(1763980800000).toISOString(), rawMode: mode},
        exchTsUnit: 'ms',
        columns: codec.columns,
      },
      {flushIntervalMs: 0, fsync: false},
    )
    let t = 1763980800000000000n
    for (let i = 0; i < frames; i++) {
      const text = tape[i % tape.length].text
      const d = codec.decode({data: text, binary: false})
      if (!d.ok || d.rows.length !== 1) throw new Error(`a synthetic frame did not decode to one row: ${text.slice(0, 100)}`)
      const r = d.rows[0]
      t += 10_000n
      w.append({recv_ts: t, exch_ts: r.exch_ts, symbol: r.symbol, kind: r.kind, raw: mode === 'always' || !r.exact ? Buffer.from(text) : null, info: null, fields: r.fields})
    }
    await w.close()
  },
})
