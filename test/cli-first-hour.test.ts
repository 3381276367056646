/**
 * What a new user meets in the first hour (issue 11): a mistyped command is
 * one line with a suggestion, recordings of different feeds are bad input
 * (exit 1, naming both files and feeds) for every command taking several
 * files, and `info` of a recording with no rows says so plainly.
 */
import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from './helpers/cli.js'
import {createYahooWriter} from './helpers/recording.js'

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}.arrow`, import.meta.url))
const YAHOO = fixture('yahoo-us-equities')
const UPBIT = fixture('upbit-krw')

let dir: string
let empty: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-first-hour-'))
  empty = join(dir, 'empty.arrow')
  await createYahooWriter(empty).close() // a complete recording with no rows
})

/** One `Error: …` line on stderr, no stack trace. */
function oneErrorLine(stderr: string): string {
  const lines = stderr.trim().split('\n')
  expect(lines, stderr).toHaveLength(1)
  expect(stderr).not.toMatch(/\n\s+at /)
  expect(lines[0]).toMatch(/^Error: /)
  return lines[0]
}

describe('an unknown command', () => {
  it('is one line naming it and pointing to mdrec --help, exit 2', async () => {
    const r = await runCli(['bogus', 'x.arrow'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toBe('')
    const line = oneErrorLine(r.stderr)
    expect(line).toMatch(/\bbogus\b/)
    expect(line).toContain('mdrec --help')
    expect(line).not.toMatch(/›/) // not oclif's boxed style
  })

  for (const [typed, meant] of [['cta', 'cat'], ['replya', 'replay'], ['verfy', 'verify'], ['Info', 'info'], ['rec', 'record']]) {
    it(`mdrec ${typed} suggests mdrec ${meant}`, async () => {
      const r = await runCli([typed])
      expect(r.code, r.stderr).toBe(2)
      const line = oneErrorLine(r.stderr)
      expect(line).toContain(typed)
      expect(line).toContain(`did you mean mdrec ${meant}?`)
      expect(line).toContain('mdrec --help')
    })
  }

  for (const [args, meant] of [
    [['cat', 'x.arrow', '--lmit', '3'], '--limit'],
    [['replay', '--sped', '10x', 'x.arrow'], '--speed'],
    [['record', 'AAPL', '--duraton', '1s'], '--duration'],
    [['info', '--JSON', 'x.arrow'], '--json'],
  ] as const) {
    it(`mdrec ${args.join(' ')} suggests ${meant}`, async () => {
      const r = await runCli([...args])
      expect(r.code, r.stderr).toBe(2)
      const line = oneErrorLine(r.stderr)
      expect(line).toMatch(new RegExp(`^Error: Nonexistent flag: ${args.find((a) => a.startsWith('--'))}; did you mean ${meant}\\? \\(see mdrec ${args[0]} --help\\)$`))
    })
  }

  it('a flag given no value points to the help, as other usage errors do', async () => {
    const r = await runCli(['cat', YAHOO, '--limit'])
    expect(r.code, r.stderr).toBe(2)
    expect(oneErrorLine(r.stderr)).toBe('Error: Flag --limit expects a value (see mdrec cat --help)')
  })

  it('an unknown flag nothing is close to gets no suggestion', async () => {
    const r = await runCli(['cat', 'x.arrow', '--zzzzzzzz'])
    expect(r.code, r.stderr).toBe(2)
    expect(oneErrorLine(r.stderr)).toBe('Error: Nonexistent flag: --zzzzzzzz (see mdrec cat --help)')
  })

  it('the same from mdrec help bogus; an option before any command is named as an option', async () => {
    const h = await runCli(['help', 'bogus'])
    expect(h.code, h.stderr).toBe(2)
    expect(oneErrorLine(h.stderr)).toMatch(/^Error: mdrec bogus: no such command; .*mdrec --help/)
    const o = await runCli(['--bogus'])
    expect(o.code, o.stderr).toBe(2)
    expect(oneErrorLine(o.stderr)).toMatch(/^Error: mdrec --bogus: unknown option; a command comes first, one of .*\bcat\b.*\(see mdrec --help\)$/)
  })

  it('errors of the plugins\' commands are one line too', async () => {
    const r = await runCli(['autocomplete', 'fish'])
    expect(r.code, r.stderr).toBe(2)
    expect(oneErrorLine(r.stderr)).toMatch(/fish/)
  })

  it('with --json: the error object on stdout as for other usage errors', async () => {
    const r = await runCli(['bogus', '--json'])
    expect(r.code).toBe(2)
    const j = JSON.parse(r.stdout)
    expect(j.error).toMatchObject({code: 'E_USAGE', exitCode: 2})
    expect(oneErrorLine(r.stderr)).toBe(`Error: ${j.error.message}`)
  })
})

describe('recordings of different feeds given together', () => {
  const cases: [string, string[]][] = [
    ['cat', []],
    ['slice', ['-o', 'OUT']],
    ['replay', ['--port', '0']],
  ]
  for (const [cmd, extra] of cases) {
    it(`${cmd}: exit 1, naming both files and their feeds`, async () => {
      const args = extra.map((a) => (a === 'OUT' ? join(dir, `mixed-${cmd}.arrow`) : a))
      const r = await runCli([cmd, YAHOO, UPBIT, ...args], {timeoutMs: 20_000})
      expect(r.signal).toBeNull() // replay refused before listening, not killed
      expect(r.code, r.stderr).toBe(1)
      const line = oneErrorLine(r.stderr)
      expect(line).toContain(`${YAHOO} (yahoo)`)
      expect(line).toContain(`${UPBIT} (upbit)`)
      expect(line).toMatch(/different feeds/)
    })
  }

  it('info and verify report each file on its own (exit 0)', async () => {
    for (const cmd of ['info', 'verify']) {
      const r = await runCli([cmd, YAHOO, UPBIT])
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0)
      expect(r.stdout).toContain(YAHOO)
      expect(r.stdout).toContain(UPBIT)
    }
  })

  it('verify and info: a file that is not a recording is reported and the rest are still checked (exit 1; --json keeps every report)', async () => {
    const {copyFileSync, mkdirSync, writeFileSync} = await import('node:fs')
    const d = join(dir, 'one-bad')
    mkdirSync(d)
    copyFileSync(UPBIT, join(d, 'a.arrow'))
    writeFileSync(join(d, 'b.arrow'), 'not a recording\n')
    copyFileSync(YAHOO, join(d, 'c.arrow'))
    const r = await runCli(['verify', d])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/a\.arrow: ok/)
    expect(r.stdout).toMatch(/b\.arrow: UNREADABLE: not an Arrow IPC stream/)
    expect(r.stdout).toMatch(/c\.arrow: ok: 2511 rows/)
    expect(oneErrorLine(r.stderr)).toMatch(/b\.arrow: not an Arrow IPC stream/)
    const j = await runCli(['verify', d, '--json'])
    expect(j.code).toBe(1)
    const reports = JSON.parse(j.stdout) as Array<{path: string; ok: boolean; unreadable?: {code: string}}>
    expect(reports.map((x) => [x.path.slice(d.length + 1), x.ok, x.unreadable?.code ?? null])).toEqual([
      ['a.arrow', true, null],
      ['b.arrow', false, 'E_NOT_ARROW'],
      ['c.arrow', true, null],
    ])
    // info the same: both recordings summarised, the other file named, exit 1
    const i = await runCli(['info', d])
    expect(i.code).toBe(1)
    expect(i.stdout).toContain(join(d, 'a.arrow'))
    expect(i.stdout).toContain(join(d, 'c.arrow'))
    expect(i.stdout).toMatch(/b\.arrow: UNREADABLE: not an Arrow IPC stream/)
    const ij = JSON.parse((await runCli(['info', d, '--json'])).stdout) as Array<{path: string; rows?: number; unreadable?: {code: string}}>
    expect(ij.map((x) => [x.path.slice(d.length + 1), x.rows ?? null, x.unreadable?.code ?? null])).toEqual([
      ['c.arrow', 2511, null],
      ['a.arrow', 831, null],
      ['b.arrow', null, 'E_NOT_ARROW'],
    ])
  })

  it("a part and verify --repair's copy of it in one directory: the error says which one is the copy and what to do", async () => {
    const {copyFileSync, mkdirSync} = await import('node:fs')
    const d = join(dir, 'with-repaired')
    mkdirSync(d)
    const w = createYahooWriter(join(d, 'day.arrow'), {}, {runId: 'r-1', part: 0})
    w.append({recv_ts: 1_763_980_800_000_000_000n, exch_ts: null, symbol: 'AAPL', kind: 'tick', raw: null, info: null, fields: {price: 1}})
    await w.close()
    copyFileSync(join(d, 'day.arrow'), join(d, 'day.repaired.arrow'))
    const r = await runCli(['info', d])
    expect(r.code).toBe(1)
    expect(oneErrorLine(r.stderr)).toMatch(/both part 0 of run r-1; give only one of them \(.*day\.repaired\.arrow is verify --repair's copy: keep it and move the original away, or give the files by name\)$/)
  })

  it('a glob that matches nothing is bad input too (exit 1), like a missing file', async () => {
    const r = await runCli(['cat', join(dir, 'zzz*.arrow')])
    expect(r.code).toBe(1)
    expect(oneErrorLine(r.stderr)).toMatch(/zzz\*\.arrow: the pattern matches no file/)
  })
})

describe('info of a recording with no rows', () => {
  it('says the time range is none and rows 0, with no dashes or empty parentheses', async () => {
    const r = await runCli(['info', empty])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^ {2}time span {5}none \(no rows\)$/m)
    expect(r.stdout).toMatch(/^ {2}rows {10}0$/m)
    expect(r.stdout).toMatch(/^ {2}symbols {7}0$/m)
    expect(r.stdout).not.toMatch(/- → -|\(\)|: $|-\s*B\/row/m)
    const j = JSON.parse((await runCli(['info', empty, '--json'])).stdout)[0]
    expect(j).toMatchObject({rows: 0, firstRow: null, lastRow: null})
  })
})

describe('a repeatable --symbol among the file arguments', () => {
  const rows = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as {symbol: string; recv_ts: string})

  it('-s before the file takes one value, so the file is still the file (cat and slice)', async () => {
    const r = await runCli(['cat', '-s', 'AAPL', YAHOO, '-f', 'ndjson', '--limit', '3'])
    expect(r.code, r.stderr).toBe(0)
    expect(rows(r.stdout).map((x) => x.symbol)).toEqual(['AAPL', 'AAPL', 'AAPL'])
    const out = join(dir, 'aapl-first.arrow')
    const s = await runCli(['slice', '-s', 'AAPL', YAHOO, '-o', out])
    expect(s.code, s.stderr).toBe(0)
    expect(JSON.parse((await runCli(['info', out, '--json'])).stdout)[0].rowsBySymbol).toEqual({AAPL: 282})
  })

  it('a file after -s VALUE is read, not taken for a second symbol (it was dropped without a word)', async () => {
    const copy = join(dir, 'aapl-copy.arrow')
    expect((await runCli(['slice', YAHOO, '-s', 'AAPL', '-o', copy])).code).toBe(0)
    const other = join(dir, 'nvda.arrow')
    expect((await runCli(['slice', YAHOO, '-s', 'NVDA', '-o', other])).code).toBe(0)
    // two files, -s between them: both files are read (their rows merge by time)
    const r = await runCli(['cat', copy, '-s', 'AAPL', other, '-f', 'ndjson'])
    expect(r.code, r.stderr).toBe(0)
    expect(rows(r.stdout).length).toBe(282)
    const both = await runCli(['cat', copy, '-s', 'AAPL', '-s', 'NVDA', other, '-f', 'ndjson'])
    expect(both.code, both.stderr).toBe(0)
    expect(rows(both.stdout).length).toBe(282 + 989)
  })

  it('every repeatable flag of every command takes one value each, so arguments may follow it; a missing file is not blamed on it', async () => {
    const {readdirSync} = await import('node:fs')
    const cmds = readdirSync(fileURLToPath(new URL('../src/commands', import.meta.url))).filter((f) => f.endsWith('.ts'))
    const greedy: string[] = []
    for (const f of cmds) {
      const C = (await import(`../src/commands/${f.slice(0, -'.ts'.length)}.ts`)).default as {flags?: Record<string, {multiple?: boolean; multipleNonGreedy?: boolean}>}
      for (const [name, fl] of Object.entries(C.flags ?? {})) if (fl.multiple && !fl.multipleNonGreedy) greedy.push(`${f} --${name}`)
    }
    expect(greedy).toEqual([])
    const r = await runCli(['cat'])
    expect(r.code).toBe(2)
    expect(oneErrorLine(r.stderr)).toBe('Error: Missing 1 required arg: file — recording(s) to print: files, a directory or a glob (see mdrec cat --help)')
  })

  it('-s takes a comma list, as --columns and --types do', async () => {
    const r = await runCli(['cat', YAHOO, '-s', 'AAPL,NVDA', '-f', 'ndjson'])
    expect(r.code, r.stderr).toBe(0)
    const syms = new Set(rows(r.stdout).map((x) => x.symbol))
    expect([...syms].sort()).toEqual(['AAPL', 'NVDA'])
    expect(rows(r.stdout).length).toBe(282 + 989)
  })
})

describe('counts and repairs as a user reads them', () => {
  it('info counts symbols as the record summary does: a gap row (no symbol) is a row by kind, not a symbol', async () => {
    const path = join(dir, 'with-gap.arrow')
    const w = createYahooWriter(path)
    const t = 1_763_980_800_000_000_000n
    w.append({recv_ts: t, exch_ts: null, symbol: 'AAPL', kind: 'tick', raw: null, info: null, fields: {price: 1}})
    w.append({recv_ts: t + 1n, exch_ts: null, symbol: '', kind: 'gap', raw: null, info: '{"reason":"test"}', fields: null})
    w.append({recv_ts: t + 2n, exch_ts: null, symbol: 'NVDA', kind: 'tick', raw: null, info: null, fields: {price: 2}})
    await w.close()
    const r = await runCli(['info', path])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/symbols {7}2: (AAPL 1, NVDA 1|NVDA 1, AAPL 1)\n/)
    expect(r.stdout).toMatch(/gaps {10}1/)
  })

  it('verify --repair of a closed file cut inside its only batch says nothing was recoverable and writes no 0-row copy', async () => {
    const {readFileSync, writeFileSync} = await import('node:fs')
    const b = readFileSync(fixture('binance-spot'))
    const cut = join(dir, 'cut-closed.arrow')
    writeFileSync(cut, b.subarray(0, b.length - 5000))
    const r = await runCli(['verify', '--repair', cut])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('not repaired: no complete batch survived, so there is nothing to recover and no copy was written')
    expect(oneErrorLine(r.stderr)).toMatch(/cut-closed\.arrow: damaged at byte \d+; nothing is recoverable: no complete batch precedes the damage, so no copy was written$/)
    expect(existsSync(join(dir, 'cut-closed.repaired.arrow'))).toBe(false)
  })
})
