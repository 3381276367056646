/**
 * Bad input a new user met, each one a kind of fault fixed everywhere it
 * lives: a clear one-line error naming the input and what to do, no stack,
 * exit 2 for usage and 1 otherwise, nothing half written.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {prepareArgv} from '../src/cli/base.js'
import {parseDurationOrZero} from '../src/util/units.js'
import {partialPath, writeAtomically} from '../src/store/atomic.js'
import {runCli} from './helpers/cli.js'
import {closedPort} from './helpers/ports.js'
import {makeYahooRecording} from './helpers/recording.js'

const YAHOO = fileURLToPath(new URL('../fixtures/yahoo-us-equities.arrow', import.meta.url))

let dir: string
/** The Yahoo fixture cut inside its only batch: no row is recoverable. */
let cut: string
/** A multi-batch recording cut after some batches: rows are recoverable. */
let partly: string
/** A 3-byte text file, as /etc/hostname can be (too short for an Arrow message header). */
let tiny: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-bad-input-'))
  cut = join(dir, 'cut.arrow')
  writeFileSync(cut, readFileSync(YAHOO).subarray(0, 50_000))
  const whole = join(dir, 'whole.arrow')
  await makeYahooRecording(whole, 5000, {symbols: 4, writer: {flushRows: 500, compactOnClose: false}})
  partly = join(dir, 'partly.arrow')
  const b = readFileSync(whole)
  writeFileSync(partly, b.subarray(0, Math.floor(b.length * 0.6)))
  tiny = join(dir, 'hostname')
  writeFileSync(tiny, 'ab\n')
}, 60_000)

/** The one `Error: …` line on stderr (no stack trace). */
function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('Error: '))
  expect(lines, stderr).toHaveLength(1)
  expect(stderr).not.toMatch(/\n\s+at /)
  return lines[0]
}

describe('a recording with no recoverable row', () => {
  it('every reading command says so up front, with no advice to repair it', async () => {
    for (const args of [['info', cut], ['cat', cut], ['slice', cut, '-o', join(dir, 'cut-slice.arrow')], ['export', cut, '-o', join(dir, 'cut-ds')], ['replay', cut, '--port', '0']]) {
      const r = await runCli(args)
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1)
      const line = errorLine(r.stderr)
      expect(line, args[0]).toMatch(/cut\.arrow: truncated at byte \d+ .*no complete batch before it, so no row is recoverable/)
      expect(line, args[0]).not.toMatch(/verify --repair/)
    }
  })

  it('verify --repair writes no 0-row copy: it says nothing was recoverable, exit 1', async () => {
    for (let k = 0; k < 2; k++) {
      // the same the second time: no copy left behind to be refused as "already exists"
      const r = await runCli(['verify', '--repair', cut])
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/not repaired: no complete batch survived, so there is nothing to recover and no copy was written/)
      expect(errorLine(r.stderr)).toMatch(/cut\.arrow: damaged at byte \d+; nothing is recoverable: no complete batch precedes the damage, so no copy was written$/)
      expect(existsSync(join(dir, 'cut.repaired.arrow'))).toBe(false)
    }
    const plain = await runCli(['verify', cut])
    expect(errorLine(plain.stderr)).not.toMatch(/verify --repair/)
  })

  it('a file with rows before the damage still gets the advice, and its repair still writes them', async () => {
    const r = await runCli(['cat', partly, '-f', 'ndjson'])
    expect(errorLine(r.stderr)).toMatch(/\d+ rows? in \d+ complete batch(?:es)? before it\. Run `mdrec verify --repair .*partly\.arrow` to write a readable copy$/)
    const v = await runCli(['verify', '--repair', partly])
    expect(v.stdout).toMatch(/repaired: wrote [\d,]+ rows in \d+ batch(?:es)? to .*partly\.repaired\.arrow/)
  })

  it('info shows no time span, per-row figure or compression ratio for it', async () => {
    const r = await runCli(['info', cut])
    expect(r.stdout).toMatch(/^ {2}size {10}[\d.]+ KiB on disk in 0 batches, 0 rows keep raw payloads$/m)
    const j = JSON.parse((await runCli(['info', cut, '--json'])).stdout)[0]
    expect(j).toMatchObject({rows: 0, firstRow: null, lastRow: null, endTime: null, durationMs: null, compressionRatio: null})
  })
})

describe('a negative number on the command line', () => {
  it('--loop -1 is a usage error about --loop (exit 2), as is --loop=-1', async () => {
    for (const loop of [['--loop', '-1'], ['--loop=-1']]) {
      const r = await runCli(['replay', YAHOO, '--port', '0', ...loop])
      expect(r.code, r.stderr).toBe(2)
      expect(errorLine(r.stderr)).toBe('Error: --loop -1: the count of further plays must be a whole number, 0 or more (--loop alone: for ever)')
    }
  })

  it('where no flag takes it, it is a usage error in every command, not a missing file', async () => {
    for (const args of [['cat', YAHOO, '-5'], ['info', '-3'], ['slice', YAHOO, '-o', join(dir, 'neg.arrow'), '-2'], ['verify', '-1'], ['export', '-1', '-o', join(dir, 'neg-ds')], ['record', '-1'], ['replay', YAHOO, '-1']]) {
      const r = await runCli(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(errorLine(r.stderr)).toMatch(/^Error: -\d: a negative number where a file or argument was expected \(a flag's value goes right after the flag, e\.g\. --limit 5; a file named -\d: give it as \.\/-\d\)$/)
    }
  })

  it('prepareArgv: a bare optional flag gets its value; a flag that takes a value keeps the next token', () => {
    const valued = new Set(['--limit', '-n'])
    const optional = {loop: {bare: 'forever', expects: 'N ≥ 0'}}
    expect(prepareArgv(['f', '--loop'], valued, optional)).toEqual(['f', '--loop', 'forever'])
    expect(prepareArgv(['--loop', '--limit', '3', 'f'], valued, optional)).toEqual(['--loop', 'forever', '--limit', '3', 'f'])
    expect(prepareArgv(['--loop', '2', 'f'], valued, optional)).toEqual(['--loop', '2', 'f'])
    expect(prepareArgv(['f', '--limit', '-5', '-n', '-2'], valued, optional)).toEqual(['f', '--limit', '-5', '-n', '-2'])
    expect(prepareArgv(['--', '-5'], valued, optional)).toEqual(['--', '-5'])
    expect(() => prepareArgv(['--loop', '-0.5'], valued, optional)).toThrow('--loop -0.5: N ≥ 0')
    // a number that is not whole is the flag's too, not a file
    expect(() => prepareArgv(['--loop', '1.5', 'f'], valued, optional)).toThrow('--loop 1.5: N ≥ 0')
    // after a bare optional flag: a number is its value, an input that exists (a file, a directory, a glob that matches) a file, anything else a bad value
    const exists = (t: string) => t === 'f' || t === 'd/*.arrow'
    expect(prepareArgv(['--loop', 'f'], valued, optional, exists)).toEqual(['--loop', 'forever', 'f'])
    expect(prepareArgv(['--loop', 'd/*.arrow'], valued, optional, exists)).toEqual(['--loop', 'forever', 'd/*.arrow'])
    expect(() => prepareArgv(['f', '--loop', 'abc'], valued, optional, exists)).toThrow('--loop abc: N ≥ 0 (abc is no file, directory or matching glob either)')
  })

  it('a bare optional flag followed by a word that is neither a number nor an input is a usage error about the flag (exit 2), not a missing file', async () => {
    const r = await runCli(['replay', YAHOO, '--loop', 'abc', '--port', '0'])
    expect(r.code, r.stderr).toBe(2)
    expect(errorLine(r.stderr)).toBe(
      'Error: --loop abc: the count of further plays must be a whole number, 0 or more (--loop alone: for ever) (abc is no file, directory or matching glob either)',
    )
  })
})

describe('what a second new user found', () => {
  it('--settle 0 (documented: start at the first subscription) is accepted, bare or with a unit; a bare 1 is still refused', async () => {
    expect(parseDurationOrZero('0')).toBe(0)
    expect(parseDurationOrZero('0ms')).toBe(0)
    expect(parseDurationOrZero('0s')).toBe(0)
    expect(parseDurationOrZero('250ms')).toBe(250)
    expect(() => parseDurationOrZero('1')).toThrow(/a bare number is ambiguous \(1ms, 1s or 1m\?\)/)
    // through the command: the flags parse (a missing file is then the error, exit 1, not a usage error)
    const missing = join(dir, 'no-such.arrow')
    for (const settle of ['0', '0ms']) {
      const r = await runCli(['replay', missing, '--port', '0', '--settle', settle])
      expect(r.code, r.stderr).toBe(1)
      expect(errorLine(r.stderr)).toMatch(/no-such\.arrow: no such file or directory/)
    }
    const loop = await runCli(['replay', YAHOO, '--port', '0', '--loop', '1.5'])
    expect(loop.code, loop.stderr).toBe(2)
    expect(errorLine(loop.stderr)).toBe('Error: --loop 1.5: the count of further plays must be a whole number, 0 or more (--loop alone: for ever)')
  })

  it('--settle out of its range names the flag and the value as typed: negative (0 is allowed), over a minute', async () => {
    expect(() => parseDurationOrZero('-1s')).toThrow('invalid duration "-1s": must be 0 or more')
    expect(() => parseDurationOrZero('61s', 60_000)).toThrow('invalid duration "61s": at most 1m')
    expect(parseDurationOrZero('1m', 60_000)).toBe(60_000)
    for (const [settle, why] of [
      ['1h', 'Error: --settle: invalid duration "1h": at most 1m'],
      ['60001ms', 'Error: --settle: invalid duration "60001ms": at most 1m'],
      ['-1s', 'Error: --settle: invalid duration "-1s": must be 0 or more'],
    ]) {
      const r = await runCli(['replay', YAHOO, '--port', '0', '--settle', settle])
      expect(r.code, r.stderr).toBe(2)
      expect(errorLine(r.stderr)).toContain(why)
      expect(errorLine(r.stderr)).toContain('(see mdrec replay --help)')
    }
  })

  it('one file named twice, however spelled, is read once; a merge keeps every input\'s subscriptions', async () => {
    const a = join(dir, 'sub-a.arrow')
    const m = join(dir, 'sub-m.arrow')
    expect((await runCli(['slice', YAHOO, '-s', 'AAPL', '-o', a])).code).toBe(0)
    expect((await runCli(['slice', YAHOO, '-s', 'MSFT', '-o', m])).code).toBe(0)
    const twice = join(dir, 'twice.arrow')
    const r = await runCli(['slice', a, `${dir}/./sub-a.arrow`, '-o', twice])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^wrote 282 rows /)
    const am = join(dir, 'am.arrow')
    expect((await runCli(['slice', m, a, '-o', am])).code).toBe(0)
    const info = JSON.parse((await runCli(['info', am, '--json'])).stdout)
    expect(new Set(info[0].subscriptions)).toEqual(new Set(['AAPL', 'MSFT']))
  })

  it('a file that keeps its one batch but lost its footer: "1 complete batch", in the singular', async () => {
    const a = join(dir, 'one-batch.arrow')
    expect((await runCli(['slice', YAHOO, '-s', 'AAPL', '-o', a])).code).toBe(0)
    const whole = readFileSync(a)
    const nofoot = join(dir, 'one-batch-cut.arrow')
    writeFileSync(nofoot, whole.subarray(0, whole.length - 200))
    const r = await runCli(['info', nofoot])
    expect(r.stderr).toMatch(/282 rows in 1 complete batch before it/)
    // it was closed: not "live, or the recorder stopped abruptly", which sends the user looking for a recorder
    expect(r.stdout).toMatch(/^ {2}format {8}.*, a closed file cut short or damaged since \(see DAMAGED below\)$/m)
    expect(r.stdout).not.toMatch(/live/)
    expect(JSON.parse((await runCli(['info', nofoot, '--json'])).stdout)[0]).toMatchObject({closedFile: true, problem: expect.objectContaining({offset: expect.any(Number)})})
    // a recorder's stream cut inside a batch: not closed, and damaged
    const p = await runCli(['info', partly])
    expect(p.stdout).toMatch(/^ {2}format {8}.*, not closed, and damaged \(see DAMAGED below\): the recorder stopped abruptly, or the file was cut$/m)
  })
})

describe('--json', () => {
  it('given to cat, which writes data: a hint to --format ndjson, and the error object on stdout', async () => {
    const r = await runCli(['cat', YAHOO, '--json'])
    expect(r.code).toBe(2)
    expect(errorLine(r.stderr)).toMatch(/^Error: --json: cat writes data: use --format ndjson for JSON lines \(--json is for the commands that print a report: export, info, record, replay, slice, verify\)/)
    expect(JSON.parse(r.stdout).error).toMatchObject({code: 'E_USAGE', exitCode: 2})
  })

  it('every error document has the same shape, formatting and name, whoever threw', async () => {
    const cases = [
      ['cta', '--json'], // the top level: an unknown command
      ['replay', YAHOO, '--speed', 'bad', '--json'], // a flag's parse (oclif)
      ['cat', YAHOO, '--json'],
      ['info', join(dir, 'nope.arrow'), '--json'], // an MdrecError
      ['replay', YAHOO, '--port', '0', '--loop', '-1', '--json'],
    ]
    for (const args of cases) {
      const r = await runCli(args)
      expect(r.code, args.join(' ')).not.toBe(0)
      const doc = JSON.parse(r.stdout)
      expect(r.stdout, args.join(' ')).toBe(`${JSON.stringify(doc, null, 2)}\n`)
      expect(Object.keys(doc)).toEqual(['error'])
      expect(Object.keys(doc.error)).toEqual(['name', 'code', 'message', 'exitCode'])
      expect(doc.error.name, args.join(' ')).toBe('MdrecError')
      expect(doc.error.exitCode).toBe(r.code)
      expect(errorLine(r.stderr)).toBe(`Error: ${doc.error.message}`)
    }
  })
})

describe('an output path that cannot be written', () => {
  it('a missing directory is named with the path given, never the temporary (slice, verify --repair, record)', async () => {
    const out = join(dir, 'sub', 'dir', 'new.arrow')
    const url = `ws://127.0.0.1:${await closedPort()}/`
    const cases = [
      ['slice', YAHOO, '-o', out],
      ['verify', '--repair', partly, '-o', out],
      ['record', 'AAPL', '--url', url, '--duration', '1s', '-o', out],
    ]
    for (const args of cases) {
      const r = await runCli(args)
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1)
      expect(errorLine(r.stderr)).toBe(`Error: ${out}: the directory ${join(dir, 'sub', 'dir')} does not exist; create it or choose another --out path`)
    }
    expect(existsSync(join(dir, 'sub'))).toBe(false)
  })

  it('an existing directory is said to be one, with a file name asked for (slice, verify --repair, record)', async () => {
    const d = join(dir, 'adir')
    mkdirSync(d)
    const url = `ws://127.0.0.1:${await closedPort()}/`
    for (const args of [['slice', YAHOO, '-o', d], ['verify', '--repair', partly, '-o', d], ['record', 'AAPL', '--url', url, '--duration', '1s', '-o', d]]) {
      const r = await runCli(args)
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1)
      expect(errorLine(r.stderr)).toBe(`Error: ${d}: is a directory; give --out a file name, e.g. ${join(d, 'new.arrow')}`)
    }
    expect(readdirSync(d)).toEqual([])
  })

  it('the shared atomic write (export, its manifest) names the final path and leaves nothing', () => {
    const final = join(dir, 'nowhere', 'part.parquet')
    expect(() => writeAtomically(final, 'x', 'writing a dataset file', {overwrite: true})).toThrow(`${final}: the directory ${join(dir, 'nowhere')} does not exist`)
    const d = join(dir, 'adir2')
    mkdirSync(d)
    expect(() => partialPath(d)).toThrow(`${d}: is a directory; give --out a file name`)
    expect(readdirSync(d)).toEqual([])
  })
})

/**
 * A directory no file can be made in: a read-only tmpfs where mounting is
 * permitted (root ignores chmod), else a chmod 555 directory (not root); null
 * where neither works.
 */
function readOnlyDir(): string | null {
  const d = mkdtempSync(join(tmpdir(), 'mdrec-ro-'))
  if (process.getuid?.() !== 0) {
    chmodSync(d, 0o555)
    return d
  }
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', d], {stdio: 'ignore'})
    roMounts.push(d)
    return d
  } catch {
    return null
  }
}
const roMounts: string[] = []
afterAll(() => {
  for (const d of roMounts) execFileSync('umount', ['-l', d])
})

describe('an output directory that cannot be written (read-only)', () => {
  const ro = readOnlyDir()
  it.skipIf(ro === null)('the error names the path given, never its temporary (slice, verify --repair, the shared atomic write)', async () => {
    const out = join(ro!, 'x.arrow')
    for (const args of [['slice', YAHOO, '-o', out], ['verify', '--repair', partly, '-o', out]]) {
      const r = await runCli(args)
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1)
      expect(r.stderr).not.toMatch(/mdrec-partial/)
      expect(errorLine(r.stderr)).toMatch(new RegExp(`^Error: ${out.replace(/[.]/g, '\\.')}: (?:permission denied|read-only file system) \\(creating the recording\\)`))
    }
    expect(() => writeAtomically(out, 'x', 'writing a dataset file', {overwrite: true})).toThrow(new RegExp(`^${out.replace(/[.]/g, '\\.')}: `))
    expect(readdirSync(ro!)).toEqual([])
  })

  it.skipIf(ro === null)('verify --repair prints the damage report first (text and --json), then the repair error, exit 1', async () => {
    const out = join(ro!, 'fixed.arrow')
    const r = await runCli(['verify', partly, '--repair', '--out', out])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/partly\.arrow: DAMAGED: [\d,]+ rows in \d+ complete batches/)
    expect(r.stdout).not.toMatch(/repaired:/)
    expect(errorLine(r.stderr)).toMatch(/fixed\.arrow: (?:permission denied|read-only file system)/)
    const j = await runCli(['verify', partly, '--repair', '--out', out, '--json'])
    expect(j.code).toBe(1)
    const report = JSON.parse(j.stdout)
    expect(report).toMatchObject({ok: false, path: partly})
    expect(report.rowsIntact).toBeGreaterThan(0)
    expect(report.out).toBeUndefined()
  })
})

describe('verify --repair\'s summary', () => {
  it('says what the copy holds, as verify of the copy counts it', async () => {
    const out = join(dir, 'summary.repaired.arrow')
    const r = await runCli(['verify', partly, '--repair', '--out', out])
    expect(r.code).toBe(1)
    const said = /repaired: wrote ([\d,]+) rows? in ([\d,]+) batch(?:es)? to /.exec(r.stdout)
    expect(said, r.stdout).not.toBeNull()
    const v = JSON.parse((await runCli(['verify', out, '--json'])).stdout)
    expect(v.ok).toBe(true)
    expect([Number(said![1].replace(/,/g, '')), Number(said![2].replace(/,/g, ''))]).toEqual([v.rowsIntact, v.batches])
    const j = JSON.parse((await runCli(['verify', partly, '--repair', '--out', join(dir, 'summary2.arrow'), '--json'])).stdout)
    expect(j.written).toMatchObject({rows: v.rowsIntact, batches: v.batches})
  })
})

describe('a file that is not a recording', () => {
  it('too short for a message header and not Arrow: the clear "not an Arrow" message, in every command', async () => {
    for (const cmd of ['info', 'cat', 'verify']) {
      const r = await runCli([cmd, tiny])
      expect(r.code).toBe(1)
      expect(errorLine(r.stderr)).toBe(`Error: ${tiny}: not an Arrow IPC stream or file (3 bytes, too short for one message and not starting with the Arrow magic); expected an mdrec .arrow recording`)
    }
    const four = join(dir, 'four')
    writeFileSync(four, 'box\n')
    expect(errorLine((await runCli(['info', four])).stderr)).toMatch(/: not an Arrow IPC stream or file .*; expected an mdrec \.arrow recording$/)
    // the start of the Arrow magic is a cut Arrow file, not another kind of file
    const arr = join(dir, 'arr.arrow')
    writeFileSync(arr, 'ARR')
    expect(errorLine((await runCli(['info', arr])).stderr)).toMatch(/ends inside its first message/)
  })

  it('info and verify of several files: the error line names every bad one', async () => {
    for (const cmd of ['info', 'verify']) {
      const r = await runCli([cmd, cut, YAHOO, tiny, partly])
      expect(r.code).toBe(1)
      const line = errorLine(r.stderr)
      expect(line, cmd).toMatch(/^Error: 3 of 4 files are damaged or unreadable: /)
      for (const f of [cut, tiny, partly]) expect(line, cmd).toContain(f)
    }
  })
})

describe('record --url', () => {
  it('names the schemes of the chosen feed only', async () => {
    const r = await runCli(['record', 'AAPL', '--url', 'http://127.0.0.1:1/'])
    expect(r.code).toBe(2)
    expect(errorLine(r.stderr)).toBe('Error: invalid --url "http://127.0.0.1:1/": the scheme must be ws:// or wss://')
    const redis = await runCli(['record', 'AAPL', '--url', 'redis://127.0.0.1:1/'])
    expect(redis.code).toBe(2)
    expect(errorLine(redis.stderr)).toMatch(/^Error: redis:\/\/ is for --feed generic .*; the yahoo feed takes a ws:\/\/ or wss:\/\/ URL$/)
    const generic = await runCli(['record', 'a', '--feed', 'generic', '--url', 'http://127.0.0.1:1/'])
    expect(generic.code).toBe(2)
    expect(errorLine(generic.stderr)).toMatch(/the scheme must be ws:\/\/ or wss:\/\/ or redis:\/\/ or rediss:\/\/$/)
  })
})
