// Re-creates fixtures/generic-channels.arrow the way a user would record
// their own server: the project's generic channel emulator, publishing the
// synthetic tape (src/feeds/generic/synthetic.ts) at its real pace, recorded
// with `mdrec record --feed generic --url`.
//
//   npx tsc -p tsconfig.json && node scripts/make-fixtures-generic.mjs
import {spawn} from 'node:child_process'
import {existsSync, unlinkSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {GenericServer, syntheticGenericTape} from '../dist/feeds/generic/index.js'

const root = new URL('..', import.meta.url)
const bin = fileURLToPath(new URL('bin/run.js', root))

const FIXTURE = {
  file: 'fixtures/generic-channels.arrow',
  channels: ['prices', 'trades', 'orderbook', 'news'],
  seconds: 30,
  meanGapMs: 20,
}

const out = fileURLToPath(new URL(FIXTURE.file, root))
if (existsSync(out)) unlinkSync(out)
const server = await GenericServer.listen({channels: FIXTURE.channels})
const rec = spawn(process.execPath, [bin, 'record', ...FIXTURE.channels, '--feed', 'generic', '--url', server.url(), '--out', out, '--quiet'], {
  stdio: 'inherit',
})
// one subscription_result per channel, then publish
let subscribed = 0
await new Promise((resolve) => server.on('subscribe', () => ++subscribed === FIXTURE.channels.length && resolve()))
const startNs = BigInt(Date.now()) * 1_000_000n
const t0 = performance.now()
let sent = 0
for (const f of syntheticGenericTape({frames: 1e7, channels: FIXTURE.channels, meanGapMs: FIXTURE.meanGapMs, startNs, seed: 11})) {
  const dueMs = Number(f.recv_ts - startNs) / 1e6
  if (dueMs > FIXTURE.seconds * 1000) break
  const wait = dueMs - (performance.now() - t0)
  if (wait > 1) await new Promise((r) => setTimeout(r, wait))
  sent += server.publish(f.channel, f.text)
}
await new Promise((r) => setTimeout(r, 300))
rec.kill('SIGINT')
await new Promise((resolve) => rec.on('close', resolve))
await server.close()
console.log(`wrote ${FIXTURE.file} (${sent} frames sent)`)
