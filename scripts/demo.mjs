// npm run demo: the main job on the bundled default, offline. Replays a
// fixture on a local port with `mdrec replay`, records it back with
// `mdrec record --url`, then prints `mdrec info` of the new file.
//
// Commands are shown as `npx mdrec …`: in a checkout, after `npm ci`, that
// runs this package's own bin (./bin/run.js) with no `npm link` needed.
import {spawn, spawnSync} from 'node:child_process'
import {mkdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = `${root}bin/run.js`
const fixture = `${root}fixtures/yahoo-us-equities.arrow`
const symbols = ['NVDA', 'TSLA', 'AAPL', 'AMD', 'AMZN', 'MSFT', 'META', 'GOOGL']

const show = (args) => console.log(`\n$ npx mdrec ${args.join(' ')}`)

const replayArgs = ['replay', 'fixtures/yahoo-us-equities.arrow', '--port', '0', '--speed', '10x']
show(replayArgs)
const replay = spawn(process.execPath, [bin, ...replayArgs.slice(0, 1), fixture, ...replayArgs.slice(2)], {stdio: ['ignore', 'pipe', 'inherit']})
const url = await new Promise((resolve, reject) => {
  let buf = ''
  replay.stdout.on('data', (d) => {
    buf += d
    const nl = buf.indexOf('\n')
    if (nl >= 0) resolve(buf.slice(0, nl).trim())
  })
  replay.once('exit', (code) => reject(new Error(`mdrec replay exited with ${code}`)))
})

mkdirSync(`${root}demo-out`, {recursive: true})
const out = `demo-out/demo-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.arrow`
const recordArgs = ['record', ...symbols, '--url', url, '--duration', '8s', '--out', out]
show(recordArgs)
const rec = spawnSync(process.execPath, [bin, ...recordArgs], {stdio: 'inherit', cwd: root})
// the replay prints its closing line on SIGINT: let it, before the next command's header
const replayDone = new Promise((resolve) => replay.once('close', resolve))
replay.kill('SIGINT')
await Promise.race([replayDone, new Promise((resolve) => setTimeout(resolve, 5000))])
if (rec.status !== 0) process.exit(rec.status ?? 1)

show(['info', out])
const info = spawnSync(process.execPath, [bin, 'info', out], {stdio: 'inherit', cwd: root})
console.log(`\nNext: npx mdrec cat ${out} --limit 20   ·   npx mdrec replay ${out}   ·   npx mdrec --help   (or ./bin/run.js …)`)
process.exit(info.status ?? 1)
