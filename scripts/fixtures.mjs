// npm run fixtures: re-creates every bundled fixture by running each
// scripts/make-fixtures*.mjs in turn (one per feed, each recording that
// feed's emulator with `mdrec record`), so adding a feed's script is enough.
// The builds in dist/ must be current (npm run build).
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const scripts = readdirSync(dir).filter((f) => /^make-fixtures.*\.mjs$/.test(f)).sort()
for (const f of scripts) {
  console.error(`fixtures: ${f}`)
  const r = spawnSync(process.execPath, [`${dir}${f}`], {stdio: 'inherit'})
  if (r.status !== 0) process.exit(r.status ?? 1)
}
