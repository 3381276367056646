// Re-creates fixtures/kis-krx.arrow the way a user would record KIS: the
// project's KIS emulator (approval key on its own port, acks, PINGPONG)
// publishing the synthetic KRX tape (src/feeds/kis/synthetic.ts: trades and
// 10-level books of Samsung Electronics, SK hynix, NAVER and Hyundai Motor)
// at its real pace, recorded with `mdrec record --feed kis --url`.
// The app key and secret are throwaway values: the emulator accepts any.
//
//   npx tsc -p tsconfig.json && node scripts/make-fixtures-kis.mjs
import {spawn} from 'node:child_process'
import {existsSync, unlinkSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {KisServer, syntheticKisTape} from '../dist/feeds/kis/index.js'

const root = new URL('..', import.meta.url)
const bin = fileURLToPath(new URL('bin/run.js', root))

const FIXTURE = {
  file: 'fixtures/kis-krx.arrow',
  symbols: ['005930', '000660', '035420', '005380'],
  types: ['H0STCNT0', 'H0STASP0'],
  seconds: 30,
  meanGapMs: 30,
}

const out = fileURLToPath(new URL(FIXTURE.file, root))
if (existsSync(out)) unlinkSync(out)
const server = await KisServer.listen()
const env = {...process.env, KIS_APP_KEY: 'fixture-app-key-not-a-real-key-000000', KIS_APP_SECRET: 'fixture-app-secret-not-a-real-secret-0000000000'}
const args = ['record', ...FIXTURE.symbols, '--feed', 'kis', '--types', FIXTURE.types.join(','), '--url', server.url(), '--out', out, '--quiet']
const rec = spawn(process.execPath, [bin, ...args], {stdio: 'inherit', env})
const want = FIXTURE.symbols.length * FIXTURE.types.length
await new Promise((resolve) => server.on('register', (c) => c.registrations.size === want && resolve()))
const startNs = BigInt(Date.now()) * 1_000_000n
const t0 = performance.now()
let sent = 0
let records = 0
for (const f of syntheticKisTape({frames: 1e7, symbols: FIXTURE.symbols, types: FIXTURE.types, meanGapMs: FIXTURE.meanGapMs, startNs, seed: 11})) {
  const dueMs = Number(f.recv_ts - startNs) / 1e6
  if (dueMs > FIXTURE.seconds * 1000) break
  const wait = dueMs - (performance.now() - t0)
  if (wait > 1) await new Promise((r) => setTimeout(r, wait))
  if (server.publish(f.trId, f.records) > 0) {
    sent++
    records += f.records.length
  }
}
await new Promise((r) => setTimeout(r, 300))
rec.kill('SIGINT')
await new Promise((resolve) => rec.on('close', resolve))
await server.close()
console.log(`wrote ${FIXTURE.file} (${sent} frames, ${records} records sent)`)
