// npm run bench [-- store compact record replay upbit kis generic cat export yahoo]: runs the benchmarks in sequence,
// each printing its JSON result lines. The builds in dist/ must be current
// (npm run build).
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const all = ['store', 'compact', 'record', 'replay', 'upbit', 'kis', 'generic', 'cat', 'export', 'yahoo']
const chosen = process.argv.slice(2).filter((a) => all.includes(a))
let failed = false
for (const name of chosen.length ? chosen : all) {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(`./${name}.mjs`, import.meta.url))], {stdio: 'inherit'})
  if (r.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
