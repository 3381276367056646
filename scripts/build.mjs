// npm run build / pretest / readme: compile src/ to dist/ and regenerate
// oclif.manifest.json (or, with `readme`, README's command reference).
//
//   node scripts/build.mjs             always build
//   node scripts/build.mjs --if-stale  build only when a source is newer than the last build
//                                      (`npm ci` has just built: `npm test` then starts at once)
//   node scripts/build.mjs readme      oclif readme --no-aliases
//
// A script rather than a shell line so that it runs the same on every OS and
// can silence oclif's "update available" notice for its own tool
// (OCLIF_SKIP_NEW_VERSION_CHECK: that notice is about the oclif dev tool, not
// about mdrec, and it costs a registry request on every build).
import {spawnSync} from 'node:child_process'
import {existsSync, readdirSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const STAMP = join(root, 'dist', '.build-stamp')
const env = {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'}

function run(bin, args) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules', ...bin), ...args], {cwd: root, env, stdio: 'inherit'})
  if (r.status !== 0) process.exit(r.status ?? 1)
}
const tsc = () => run(['typescript', 'bin', 'tsc'], ['-p', 'tsconfig.json'])
const oclif = (...args) => run(['oclif', 'bin', 'run.js'], args)

/** Newest mtime (ms) of the build's inputs: src/**, tsconfig.json, package.json. */
function newestInput() {
  let newest = 0
  const visit = (p) => {
    const st = statSync(p)
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e))
    else newest = Math.max(newest, st.mtimeMs)
  }
  for (const p of ['src', 'tsconfig.json', 'package.json']) visit(join(root, p))
  return newest
}

const mode = process.argv[2]
if (mode === 'readme') {
  oclif('readme', '--no-aliases')
} else {
  if (mode === '--if-stale') {
    const fresh =
      existsSync(STAMP) && existsSync(join(root, 'oclif.manifest.json')) && statSync(STAMP).mtimeMs >= newestInput()
    if (fresh) {
      console.log('dist/ is up to date with src/ (npm run build rebuilds it anyway)')
      process.exit(0)
    }
  } else if (mode !== undefined) {
    console.error(`build.mjs: unknown argument ${mode} (use --if-stale or readme)`)
    process.exit(2)
  }
  const started = Date.now()
  tsc()
  oclif('manifest')
  // The stamp's own mtime is the build's start: a source saved during the build counts as newer.
  writeFileSync(STAMP, `${new Date(started).toISOString()}\n`)
  utimesSync(STAMP, new Date(started), new Date(started))
}
