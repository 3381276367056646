// Re-creates fixtures/upbit-krw.arrow the way a user would record their own:
// the project's Upbit emulator publishing the synthetic KRW-BTC / KRW-ETH
// tape (tickers, trades, 15-level order books) at its real pace, recorded
// with `mdrec record --feed upbit --url`.
//
//   npm run build && node scripts/make-fixtures-upbit.mjs
import {spawn} from 'node:child_process'
import {existsSync, unlinkSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {UpbitServer, rowMessage, syntheticUpbitTape} from '../dist/feeds/upbit/index.js'

const root = new URL('..', import.meta.url)
const bin = fileURLToPath(new URL('bin/run.js', root))

const FIXTURES = [
  {file: 'fixtures/upbit-krw.arrow', codes: ['KRW-BTC', 'KRW-ETH'], types: 'ticker,trade,orderbook.15', seconds: 30, meanGapMs: 60},
]

for (const fx of FIXTURES) {
  const out = fileURLToPath(new URL(fx.file, root))
  if (existsSync(out)) unlinkSync(out)
  const server = await UpbitServer.listen({markets: fx.codes})
  const rec = spawn(process.execPath, [bin, 'record', ...fx.codes, '--feed', 'upbit', '--types', fx.types, '--url', server.url(), '--out', out, '--quiet'], {
    stdio: 'inherit',
  })
  await new Promise((resolve) => server.once('subscribe', resolve))
  const startNs = BigInt(Date.now()) * 1_000_000n
  const t0 = performance.now()
  for (const f of syntheticUpbitTape({frames: 1e7, codes: fx.codes, meanGapMs: fx.meanGapMs, startNs, seed: 11})) {
    const dueMs = Number(f.recv_ts - startNs) / 1e6
    if (dueMs > fx.seconds * 1000) break
    const wait = dueMs - (performance.now() - t0)
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    server.publish(rowMessage(f.row))
  }
  await new Promise((r) => setTimeout(r, 300))
  rec.kill('SIGINT')
  await new Promise((resolve) => rec.on('close', resolve))
  await server.close()
  console.log(`wrote ${fx.file}`)
}
