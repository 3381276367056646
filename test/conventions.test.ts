/**
 * CLI conventions: empty results are never silent, help and completion work
 * the usual ways, --json errors behave as README says, URLs with `?` are
 * quoted for zsh, and counts are pluralised.
 */
import {existsSync, mkdirSync, mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {beforeAll, describe, expect, it} from 'vitest'

import {plural} from '../src/util/units.js'
import {runCli} from './helpers/cli.js'
import {makeBigYahooRecording} from './helpers/big-recording.js'
import {makeYahooRecording} from './helpers/recording.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

let dir: string
let big: string
let one: string
let firstRow: string
let lastRow: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-conv-'))
  big = join(dir, 'big.arrow')
  // 1,000,000 rows in 20 batches, 50 symbols (AAPL among them)
  const made = await makeBigYahooRecording(big, 1_000_000, {flushRows: 50_000})
  expect(made.batches).toBe(20)
  one = join(dir, 'one.arrow')
  await makeYahooRecording(one, 1, {symbols: 1})
  const info = JSON.parse((await runCli(['info', big, '--json'])).stdout)[0]
  expect(info.rows).toBe(1_000_000)
  expect(info.rowsBySymbol.AAPL).toBeGreaterThan(0)
  firstRow = info.firstRow
  lastRow = info.lastRow
}, 120_000)

/** An ISO time `ms` milliseconds after `iso` (whole ms precision is enough here). */
function plusMs(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString()
}

describe('empty results say why on stderr', () => {
  it('cat with a range after the recording: exit 0, nothing on stdout, the span on stderr', async () => {
    const r = await runCli(['cat', big, '--format', 'ndjson', '--from', plusMs(lastRow, 120_000)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/no rows/)
    expect(r.stderr).toMatch(/after the recording's last row/)
    expect(r.stderr).toContain(firstRow)
    expect(r.stderr).toContain(lastRow)
  })

  it('cat with a range before the recording', async () => {
    const r = await runCli(['cat', big, '--format', 'csv', '--to', plusMs(firstRow, -60_000)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(1) // the CSV header only
    expect(r.stderr).toMatch(/before the recording's first row/)
    expect(r.stderr).toContain(firstRow)
  })

  it('cat with a symbol not in the recording names the close match', async () => {
    const r = await runCli(['cat', big, '-s', 'aapl'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/no rows/)
    expect(r.stderr).toMatch(/aapl is not in/)
    expect(r.stderr).toMatch(/did you mean AAPL\?/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('--from after --to is a usage error (exit 2) for cat and slice', async () => {
    for (const cmd of [['cat', big], ['slice', big, '-o', join(dir, 'never.arrow')]]) {
      const r = await runCli([...cmd, '--from', '+10s', '--to', '+5s'])
      expect(r.code, `${cmd[0]}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(/^Error: --from .* is after --to/)
      expect(r.stdout).toBe('')
    }
    expect(existsSync(join(dir, 'never.arrow'))).toBe(false)
  })

  it('slice past the end refuses to write a 0-row file (exit 1) unless --allow-empty', async () => {
    const out = join(dir, 'empty-slice.arrow')
    const from = plusMs(lastRow, 120_000)
    const r = await runCli(['slice', big, '-o', out, '--from', from])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/^Error: no rows to slice: --from .* is after the recording's last row/)
    expect(r.stderr).toMatch(/--allow-empty/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(existsSync(out)).toBe(false)
    const ok = await runCli(['slice', big, '-o', out, '--from', from, '--allow-empty', '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({rows: 0})
    expect(existsSync(out)).toBe(true)
  })

  it('slice of an absent symbol names the close match', async () => {
    const out = join(dir, 'nosym.arrow')
    const r = await runCli(['slice', big, '-o', out, '-s', 'aapl'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/did you mean AAPL\?/)
    expect(existsSync(out)).toBe(false)
  })
})

describe('help and completion', () => {
  const env = () => ({HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache'), XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data')})

  for (const args of [['help'], ['--help'], ['-h']]) {
    it(`mdrec ${args.join(' ')} lists the commands`, async () => {
      const r = await runCli(args)
      expect(r.code, r.stderr).toBe(0)
      for (const c of ['cat', 'info', 'record', 'replay', 'slice', 'verify', 'autocomplete']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'))
    })
  }

  for (const args of [['help', 'record'], ['record', '-h'], ['record', '--help'], ['cat', '-h']]) {
    it(`mdrec ${args.join(' ')} shows the command's help`, async () => {
      const r = await runCli(args)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`USAGE\\n  \\$ mdrec ${args.includes('cat') ? 'cat' : 'record'} `))
      expect(r.stdout).toMatch(/FLAGS/)
    })
  }

  it('mdrec autocomplete bash prints setup instructions, offline', async () => {
    mkdirSync(join(dir, 'home'), {recursive: true})
    const r = await runCli(['autocomplete', 'bash'], {env: {...env(), HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', npm_config_offline: 'true'}})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/mdrec autocomplete script bash/)
    const s = await runCli(['autocomplete', 'script', 'bash'], {env: env()})
    expect(s.code, s.stderr).toBe(0)
    expect(s.stdout).toMatch(/MDREC_AC_BASH_SETUP_PATH/)
  })
})

describe('--json errors: the JSON object on stdout and the one line on stderr', () => {
  it('usage errors are one line too (oclif writes "Parsing --flag \\n\\t…\\nSee more help with --help")', async () => {
    for (const args of [['cat', big, '--from', 'yesterday'], ['info', big, '--nosuch'], ['slice', big], ['cat', big, '--format', 'xml']]) {
      const r = await runCli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^Error: .*\\(see mdrec ${args[0]} --help\\)\\n$`))
    }
  })

  it('a usage error', async () => {
    const r = await runCli(['slice', join(dir, 'nope.arrow'), '-o', join(dir, 'x.arrow'), '--json'])
    expect(r.code).toBe(1)
    const j = JSON.parse(r.stdout)
    expect(j.error).toMatchObject({code: 'E_NOT_FOUND', exitCode: 1})
    expect(r.stderr.trim().split('\n')).toEqual([`Error: ${j.error.message}`])
    const u = await runCli(['info', big, '--json', '--nosuch'])
    expect(u.code).toBe(2)
    expect(JSON.parse(u.stdout).error.code).toBe('E_USAGE')
    expect(u.stderr).toMatch(/^Error: Nonexistent flag: --nosuch/)
  })

  it('a damaged file: the report on stdout, the one line on stderr', async () => {
    const cut = join(dir, 'cut.arrow')
    const bytes = readFileSync(big)
    const {writeFileSync} = await import('node:fs')
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)))
    for (const cmd of ['info', 'verify']) {
      const r = await runCli([cmd, cut, '--json'])
      expect(r.code, cmd).toBe(1)
      expect(() => JSON.parse(r.stdout), cmd).not.toThrow()
      expect(r.stderr, cmd).toMatch(/^Error: .*cut\.arrow.* byte \d+/)
      expect(r.stderr.trim().split('\n'), cmd).toHaveLength(1)
    }
  })
})

describe('docs: URLs with ? are quoted in shell code blocks (zsh globs an unquoted ?)', () => {
  /** Lines of shell code blocks in a markdown file, with their line numbers. */
  function shellLines(path: string): {n: number; line: string}[] {
    const out: {n: number; line: string}[] = []
    let inBlock = false
    let inShell = false
    readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
      const fence = /^\s*```(\w*)/.exec(line)
      if (fence) {
        // a fence opens a block (shell or not) or closes the open one
        inShell = !inBlock && ['sh', 'sh-session', 'bash', 'zsh', 'shell', 'console', ''].includes(fence[1])
        inBlock = !inBlock
        return
      }
      if (inShell) out.push({n: i + 1, line})
    })
    return out
  }

  /** URLs holding `?` that are not inside '…' or "…". */
  function unquotedQueryUrls(line: string): string[] {
    const bare = line.replace(/'[^']*'|"[^"]*"/g, '')
    return bare.match(/\b(?:https?|wss?):\/\/\S*\?\S*/g) ?? []
  }

  it('README.md and docs/**/*.md', async () => {
    const {globSync} = await import('tinyglobby')
    const files = ['README.md', ...globSync('docs/**/*.md', {cwd: ROOT})]
    const bad: string[] = []
    for (const f of files) {
      for (const {n, line} of shellLines(join(ROOT, f))) {
        if (unquotedQueryUrls(line).length) bad.push(`${f}:${n}: ${line.trim()}`)
      }
    }
    expect(bad).toEqual([])
  })

  it('every command example', async () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {examples?: string[]}>}
    const bad: string[] = []
    for (const [id, c] of Object.entries(manifest.commands)) {
      for (const ex of c.examples ?? []) if (unquotedQueryUrls(ex).length) bad.push(`${id}: ${ex}`)
    }
    expect(bad).toEqual([])
  })
})

describe('docs/feeds/upbit.md: the ccxt recipe is the code test/upbit-ccxt.test.ts runs', () => {
  it('same constructor options and calls, loadHttpProxyAgent included', () => {
    const doc = readFileSync(join(ROOT, 'docs/feeds/upbit.md'), 'utf8')
    const recipe = /```js\n([\s\S]*?)```/.exec(doc.slice(doc.indexOf('ccxt (`ccxt.pro.upbit`')))?.[1] ?? ''
    const test = readFileSync(join(ROOT, 'test/upbit-ccxt.test.ts'), 'utf8')
    expect(recipe).toMatch(/await ex\.loadHttpProxyAgent\?\.\(\)\n/)
    expect(recipe.indexOf('loadHttpProxyAgent')).toBeLessThan(recipe.indexOf('loadMarkets'))
    expect(recipe).toContain("new ccxt.pro.upbit({urls: {api: {public: base, private: base, ws: 'ws://127.0.0.1:8766/websocket/v1'}}})")
    expect(test).toContain('new ccxt.pro.upbit({urls: {api: {public: base, private: base, ws: `ws://127.0.0.1:${port}/websocket/v1`}}})')
    expect(test).toContain('.loadHttpProxyAgent?.()')
    for (const call of recipe.match(/ex\.\w+\(/g) ?? []) if (!call.includes('loadHttpProxyAgent')) expect(test, call).toContain(call)
  })
})

describe('plurals', () => {
  it('plural()', () => {
    expect(plural(1, 'batch')).toBe('1 batch')
    expect(plural(2, 'batch')).toBe('2 batches')
    expect(plural(0, 'row')).toBe('0 rows')
    expect(plural(1, 'row')).toBe('1 row')
    expect(plural(3, 'file')).toBe('3 files')
    expect(plural(1_000_000, 'row')).toBe('1000000 rows')
  })

  it('info, verify and slice of a 1-row, 1-batch recording say "1 row" and "1 batch"', async () => {
    const outs: string[] = []
    outs.push((await runCli(['info', one])).stdout)
    outs.push((await runCli(['verify', one])).stdout)
    const rep = await runCli(['verify', one, '--repair', '--out', join(dir, 'one-rep.arrow')])
    outs.push(rep.stdout)
    outs.push((await runCli(['slice', one, '-o', join(dir, 'one-slice.arrow')])).stdout)
    const text = outs.join('\n')
    expect(text).toMatch(/\b1 row\b/)
    expect(text).toMatch(/\b1 (complete )?batch\b/)
    expect(text).not.toMatch(/\b1 (rows|batches|complete batches|files|symbols|bytes)\b/)
  })
})
