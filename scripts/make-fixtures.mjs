// Re-creates fixtures/*.arrow the way a user would make their own: a feed
// (here the project's Yahoo emulator, publishing the synthetic tape at its
// real pace) recorded with `mdrec record --url`.
//
//   npm run build && node scripts/make-fixtures.mjs
import {spawn} from 'node:child_process'
import {existsSync, unlinkSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {encodeFrame} from '../dist/feeds/yahoo/codec.js'
import {YahooServer} from '../dist/feeds/yahoo/server.js'
import {syntheticYahooTape} from '../dist/feeds/yahoo/synthetic.js'

const root = new URL('..', import.meta.url)
const bin = fileURLToPath(new URL('bin/run.js', root))

const FIXTURES = [
  {
    file: 'fixtures/yahoo-us-equities.arrow',
    symbols: ['NVDA', 'TSLA', 'AAPL', 'AMD', 'AMZN', 'MSFT', 'META', 'GOOGL'],
    version: 2,
    seconds: 60,
    meanGapMs: 25,
  },
  {file: 'fixtures/yahoo-crypto-v1.arrow', symbols: ['BTC-USD', 'ETH-USD', 'SOL-USD'], version: 1, seconds: 20, meanGapMs: 100},
]

for (const fx of FIXTURES) {
  const out = fileURLToPath(new URL(fx.file, root))
  if (existsSync(out)) unlinkSync(out)
  const server = await YahooServer.listen()
  const rec = spawn(process.execPath, [bin, 'record', ...fx.symbols, '--url', server.url(fx.version), '--out', out, '--quiet'], {stdio: 'inherit'})
  await new Promise((resolve) => server.once('subscribe', resolve))
  const startNs = BigInt(Date.now()) * 1_000_000n
  const t0 = performance.now()
  for (const f of syntheticYahooTape({frames: 1e7, symbols: fx.symbols, meanGapMs: fx.meanGapMs, startNs, seed: 11})) {
    const dueMs = Number(f.recv_ts - startNs) / 1e6
    if (dueMs > fx.seconds * 1000) break
    const wait = dueMs - (performance.now() - t0)
    if (wait > 1) await new Promise((r) => setTimeout(r, wait))
    server.publish(f.data.id, {v1: () => encodeFrame(f.data, 'v1'), v2: () => encodeFrame(f.data, 'v2')})
  }
  await new Promise((r) => setTimeout(r, 300))
  rec.kill('SIGINT')
  await new Promise((resolve) => rec.on('close', resolve))
  await server.close()
  console.log(`wrote ${fx.file}`)
}
