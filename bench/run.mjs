// npm run bench [-- NAME...]: runs every bench/*.mjs but this one (or the
// NAMEs given: store compact record replay upbit kis generic binance cat
// export yahoo …) in sequence, each printing its JSON result lines. A new
// bench file is picked up without being listed here. The builds in dist/
// must be current (npm run build).
import {spawnSync} from 'node:child_process'
import {readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const all = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .map((f) => f.slice(0, -4))
  .sort()
const asked = process.argv.slice(2)
const unknown = asked.filter((a) => !all.includes(a))
if (unknown.length > 0) {
  console.error(`bench: no bench named ${unknown.join(', ')}; the benches are ${all.join(', ')}`)
  process.exit(2)
}
let failed = false
for (const name of asked.length ? asked : all) {
  const r = spawnSync(process.execPath, [`${here}${name}.mjs`], {stdio: 'inherit'})
  if (r.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
