// Re-creates fixtures/binance-spot.arrow the way a user would record their own:
// the project's Binance emulator publishing the synthetic BTCUSDT / ETHUSDT
// tape (trades, aggregate trades, book tickers, 100 ms diff depth, 5-level
// partial books) at its real pace, recorded with
// `mdrec record --feed binance --url` from the combined endpoint.
//
//   npm run build && node scripts/make-fixtures-binance.mjs
import {spawn} from 'node:child_process'
import {existsSync, unlinkSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {BinanceServer, syntheticBinanceTape, textMessage} from '../dist/feeds/binance/index.js'

const root = new URL('..', import.meta.url)
const bin = fileURLToPath(new URL('bin/run.js', root))

const FIXTURES = [
  {file: 'fixtures/binance-spot.arrow', symbols: ['BTCUSDT', 'ETHUSDT'], types: 'trade,aggTrade,bookTicker,depth@100ms,depth5@100ms', seconds: 30, meanGapMs: 40},
]

for (const fx of FIXTURES) {
  const out = fileURLToPath(new URL(fx.file, root))
  if (existsSync(out)) unlinkSync(out)
  const server = await BinanceServer.listen({symbols: fx.symbols})
  const rec = spawn(process.execPath, [bin, 'record', ...fx.symbols, '--feed', 'binance', '--types', fx.types, '--url', server.url(true), '--out', out, '--quiet'], {
    stdio: 'inherit',
  })
  await new Promise((resolve) => server.once('subscribe', resolve))
  const startNs = BigInt(Date.now()) * 1_000_000n
  const t0 = performance.now()
  for (const f of syntheticBinanceTape({frames: 1e7, symbols: fx.symbols, meanGapMs: fx.meanGapMs, startNs, seed: 17})) {
    const dueMs = Number(f.recv_ts - startNs) / 1e6
    if (dueMs > fx.seconds * 1000) break
    const wait = dueMs - (performance.now() - t0)
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    server.publish(textMessage(f.stream, f.symbol, f.payload, f.diff))
  }
  await new Promise((r) => setTimeout(r, 300))
  rec.kill('SIGINT')
  await new Promise((resolve) => rec.on('close', resolve))
  await server.close()
  console.log(`wrote ${fx.file}`)
}
