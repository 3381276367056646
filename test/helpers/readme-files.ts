/**
 * The user files the README's and docs' examples name (`day.arrow`,
 * `'day.*.arrow'`, `AAPL.arrow`, `recordings/`, `kospi200.txt`, …), made
 * from the bundled fixtures and the synthetic tapes, so
 * readme-examples.test.ts can run those examples exactly as written.
 */
import {copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {upbitCodec} from '../../src/feeds/upbit/codec.js'
import {syntheticUpbitPrivateTape} from '../../src/feeds/upbit/synthetic.js'
import {syntheticYahooTape} from '../../src/feeds/yahoo/synthetic.js'
import {openRecording, readRows} from '../../src/store/reader.js'
import {createYahooWriter} from './recording.js'
import {createUpbitPrivateWriter} from './upbit-private.js'

/** 2025-11-24T14:30:00Z (the NYSE open that day), in ns. */
export const DAY_OPEN_NS = 1763994600000000000n
/** The regular session, 14:30 → 21:00 UTC, in ms. */
const SESSION_MS = 6.5 * 3600 * 1000

/**
 * A Yahoo (v2) recording of one synthetic trading day, 2025-11-24 14:30 →
 * ~21:00 UTC: `frames` ticks (default 12,000, ~2 s apart) of AAPL, MSFT,
 * NVDA, TSLA, AMZN and BTC-USD, so the examples' ranges (`+1h`…`+1h30m`,
 * `14:30`–`14:35`, `16:55`–`17:05`, `--symbol AAPL`) select rows.
 */
export async function makeTradingDay(path: string, frames = 12_000): Promise<void> {
  const w = createYahooWriter(path, {flushRows: 4000}, {subscriptions: ['AAPL', 'MSFT', 'NVDA', 'TSLA', 'AMZN', 'BTC-USD'], startTime: '2025-11-24T14:30:00.000000000Z'})
  const tape = syntheticYahooTape({frames, symbols: ['AAPL', 'MSFT', 'NVDA', 'TSLA', 'AMZN', 'BTC-USD'], seed: 11, meanGapMs: SESSION_MS / frames, startNs: DAY_OPEN_NS})
  for (const f of tape) {
    const {id, time, ...fields} = f.data
    w.append({recv_ts: f.recv_ts, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
  }
  await w.close()
}

/** An Upbit private-endpoint recording (myOrder, myAsset) of `frames` synthetic messages: what `mdrec record '*' --feed upbit --types myOrder,myAsset` writes. */
export async function makeUpbitPrivate(path: string, frames = 300): Promise<void> {
  const codec = upbitCodec('DEFAULT')
  const w = createUpbitPrivateWriter(path, {flushIntervalMs: 0})
  for (const f of syntheticUpbitPrivateTape({frames, seed: 5, codes: ['KRW-BTC', 'KRW-ETH']})) {
    const d = codec.decode({data: Buffer.from(f.text), binary: true})
    if (!d.ok) throw new Error(d.message)
    for (const r of d.rows) w.append({...r, recv_ts: f.recv_ts, raw: r.exact ? null : Buffer.from(f.text)})
  }
  await w.close()
}

/** The distinct symbols of a recording, in order of first appearance. */
export async function symbolsOf(path: string): Promise<string[]> {
  const seen = new Set<string>()
  for await (const r of readRows(await openRecording(path))) if (r.kind !== 'status' && r.symbol) seen.add(r.symbol)
  return [...seen]
}

/**
 * The files the examples name, in `dir`: `day.arrow` (a trading day, also
 * as `AAPL.arrow`, `a.arrow`, `b.arrow`, `live.arrow`), its two halves
 * `day.000.arrow`/`day.001.arrow` (cut by `slice` with `mdrec`), `recordings/`
 * (a copy of each bundled fixture), the fixtures under the names a
 * recorder gives them (`kis-005930_000660-….arrow`, `upbit-KRW-BTC_KRW-ETH-….arrow`, `binance-BTCUSDT-….arrow`),
 * `upbit-private.arrow`, and the code lists (`kospi200.txt`, `codes.txt`,
 * `watchlist.txt`: the KIS fixture's codes). `slice(args)` runs `mdrec slice ARGS` in `dir`.
 */
export async function makeExampleFiles(dir: string, fixtures: string, slice: (args: string[]) => Promise<void>): Promise<void> {
  const day = join(dir, 'day.arrow')
  await makeTradingDay(day)
  for (const n of ['AAPL.arrow', 'a.arrow', 'b.arrow', 'live.arrow']) copyFileSync(day, join(dir, n))
  await slice(['day.arrow', '-o', 'day.000.arrow', '--to', '2025-11-24T17:00:00Z'])
  await slice(['day.arrow', '-o', 'day.001.arrow', '--from', '2025-11-24T17:00:00Z'])
  mkdirSync(join(dir, 'recordings'))
  for (const f of ['yahoo-us-equities', 'upbit-krw', 'kis-krx', 'generic-channels']) copyFileSync(join(fixtures, `${f}.arrow`), join(dir, 'recordings', `${f}.arrow`))
  copyFileSync(join(fixtures, 'kis-krx.arrow'), join(dir, 'kis-005930_000660-….arrow'))
  copyFileSync(join(fixtures, 'upbit-krw.arrow'), join(dir, 'upbit-KRW-BTC_KRW-ETH-….arrow'))
  copyFileSync(join(fixtures, 'binance-spot.arrow'), join(dir, 'binance-BTCUSDT-….arrow'))
  await makeUpbitPrivate(join(dir, 'upbit-private.arrow'))
  const codes = await symbolsOf(join(fixtures, 'kis-krx.arrow'))
  for (const n of ['kospi200.txt', 'codes.txt']) writeFileSync(join(dir, n), `${codes.join('\n')}\n`)
  writeFileSync(join(dir, 'watchlist.txt'), `${codes.slice(0, 2).join('\n')}\n`)
}
