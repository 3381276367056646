/**
 * `info`, `slice`, `verify`, `verify --repair` and the library `replay()` on a
 * 1,000,000-row recording in 20 batches, whole and damaged; and a rotated run
 * of several parts given as several files, a directory and a glob.
 */
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import WebSocket from 'ws'

import {replay} from '../src/index.js'
import {syntheticSymbols} from '../src/feeds/yahoo/synthetic.js'
import {messageStream} from '../src/store/reader.js'
import {runCli} from './helpers/cli.js'
import {makeBigYahooRecording} from './helpers/cat-big.js'

const ROWS = 1_000_000
let dir: string
let big: string
let cut: string
let cutIntact = 0
let bodyCutAt = 0

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1)
  expect(stderr).not.toMatch(/\n\s+at /)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mdrec-commands-large-'))
  big = join(dir, 'big.arrow')
  await makeBigYahooRecording(big, ROWS, {flushRows: 50_000})
  // a copy cut inside the body of the 12th record batch
  let pos = 0
  let rec = 0
  for await (const m of messageStream(big)) {
    const len = m.bytes.byteLength
    if (m.framed.kind === 'record') {
      if (rec === 11) bodyCutAt = pos + Math.floor(len / 2)
      else if (rec < 11) cutIntact += m.framed.rows
      rec++
    }
    pos += len
  }
  cut = join(dir, 'cut.arrow')
  writeFileSync(cut, readFileSync(big).subarray(0, bodyCutAt))
}, 120_000)

describe('info at 1,000,000 rows', () => {
  it('summarises the whole file', async () => {
    const r = await runCli(['info', big, '--json'], {timeoutMs: 60_000})
    expect(r.code, r.stderr).toBe(0)
    const [i] = JSON.parse(r.stdout)
    expect(i.rows).toBe(ROWS)
    expect(i.batches).toBe(20)
    expect(i.complete).toBe(true)
  }, 70_000)

  it('on a cut copy: summarises the intact rows, then exits 1 with one line naming the file and offset', async () => {
    const r = await runCli(['info', cut], {timeoutMs: 60_000})
    expect(r.code).toBe(1)
    oneLine(r.stderr)
    expect(r.stderr).toContain(cut)
    expect(r.stderr).toMatch(/(damaged|truncated|corrupt)[^\n]* at byte \d+/)
    expect(r.stdout).toContain(`rows          ${cutIntact} `)
  }, 70_000)
})

describe('verify at 1,000,000 rows', () => {
  it('a sound file: exit 0', async () => {
    const r = await runCli(['verify', big], {timeoutMs: 60_000})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`${ROWS} rows in 20 complete batches`)
  }, 70_000)

  it('a cut copy: exit 1, the intact rows, one error line', async () => {
    const r = await runCli(['verify', cut], {timeoutMs: 60_000})
    expect(r.code).toBe(1)
    oneLine(r.stderr)
    expect(r.stdout).toContain(`DAMAGED: ${cutIntact} rows`)
  }, 70_000)

  it('--repair on a cut copy: writes every intact row, still exits 1 (the original is damaged), leaves no temporary', async () => {
    const out = join(dir, 'repaired.arrow')
    const r = await runCli(['verify', cut, '--repair', '--out', out], {timeoutMs: 60_000})
    expect(r.code).toBe(1)
    oneLine(r.stderr)
    expect(r.stdout).toContain(`repaired: wrote ${cutIntact} rows`)
    const v = await runCli(['verify', out, '--json'], {timeoutMs: 60_000})
    expect(v.code, v.stderr).toBe(0)
    expect(JSON.parse(v.stdout)).toMatchObject({ok: true, rowsIntact: cutIntact, complete: true})
    expect(readdirSync(dir).filter((n) => n.includes('mdrec-partial'))).toEqual([])
    // never overwritten
    const again = await runCli(['verify', cut, '--repair', '--out', out])
    expect(again.code).not.toBe(0)
    expect(again.stderr).toMatch(/already exists/)
  }, 130_000)

  it('--help says what --repair exits with', async () => {
    const r = await runCli(['verify', '--help'])
    expect(r.stdout).toMatch(/--repair[\s\S]*exit\s+code\s+(is\s+still\s+)?1/i)
  })

  it('reports a stale temporary left by a killed run', async () => {
    const d = mkdtempSync(join(tmpdir(), 'mdrec-stale-'))
    const f = join(d, 'x.arrow')
    copyFileSync(big, f)
    const stale = `${f}.999999.mdrec-partial`
    writeFileSync(stale, 'partial')
    const r = await runCli(['verify', f], {timeoutMs: 60_000})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`a temporary from a killed run: ${stale}; delete it`)
  }, 70_000)
})

describe('slice at 1,000,000 rows', () => {
  it('cuts the middle of the file exactly, streaming', async () => {
    const out = join(dir, 'mid.arrow')
    const r = await runCli(['slice', big, '-o', out, '--from', '+20m', '--to', '+40m', '--json'], {timeoutMs: 60_000})
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s.rows).toBeGreaterThan(0)
    const c = await runCli(['cat', big, '--from', '+20m', '--to', '+40m', '-f', 'csv', '-c', 'seq'], {timeoutMs: 60_000})
    expect(c.stdout.trim().split('\n').length - 1).toBe(s.rows)
  }, 130_000)

  it('from a cut copy: one error line, no file under the final name and no temporary', async () => {
    const out = join(dir, 'from-cut.arrow')
    const r = await runCli(['slice', cut, '-o', out], {timeoutMs: 60_000})
    expect(r.code).toBe(1)
    oneLine(r.stderr)
    expect(r.stderr).toContain(cut)
    expect(existsSync(out)).toBe(false)
    expect(readdirSync(dir).filter((n) => n.startsWith('from-cut'))).toEqual([])
  }, 70_000)
})

describe('info, verify and slice on copies cut at every kind of place', () => {
  it('inside the schema, a record header, a body, the end marker: exit 1, one line naming the file, no output file', async () => {
    const msgs: {start: number; end: number; kind: string}[] = []
    let pos = 0
    for await (const m of messageStream(big)) {
      msgs.push({start: pos, end: pos + m.bytes.byteLength, kind: m.framed.kind})
      pos += m.bytes.byteLength
    }
    const rec = msgs.filter((m) => m.kind === 'record')
    const cutsAt = {
      schema: Math.floor(msgs[0].end / 2),
      'record header': rec[3].start + 12,
      body: rec[15].start + Math.floor((rec[15].end - rec[15].start) / 4),
      'end marker': pos + 4,
    }
    const bytes = readFileSync(big)
    for (const [name, at] of Object.entries(cutsAt)) {
      const p = join(dir, `cut-${name.replace(' ', '-')}.arrow`)
      writeFileSync(p, bytes.subarray(0, at))
      const out = join(dir, `slice-of-${name.replace(' ', '-')}.arrow`)
      for (const args of [['info', p], ['verify', p], ['slice', p, '-o', out]]) {
        const r = await runCli(args, {timeoutMs: 60_000})
        expect(r.code, `${args[0]} cut in the ${name}: ${r.stderr}`).toBe(1)
        oneLine(r.stderr)
        expect(r.stderr).toContain(p)
      }
      expect(existsSync(out)).toBe(false)
    }
  }, 400_000)
})

describe('replay() at 1,000,000 rows', () => {
  async function countFrames(path: string): Promise<number> {
    const h = await replay(path, {port: 0, speed: 'max', atEnd: 'close'})
    try {
      const ws = new WebSocket(h.url)
      let n = 0
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('replay did not finish in 120 s')), 120_000)
        ws.on('open', () => ws.send(JSON.stringify({subscribe: syntheticSymbols({symbols: 20}).map((s) => s.id)})))
        ws.on('message', () => n++)
        ws.on('close', () => {
          clearTimeout(t)
          resolve()
        })
        ws.on('error', reject)
      })
      return n
    } finally {
      await h.close()
    }
  }

  it('sends every row of the whole file', async () => {
    expect(await countFrames(big)).toBe(ROWS)
  }, 130_000)

  it('a cut copy: sends the intact rows, then stops (no hang)', async () => {
    let n = -1
    try {
      n = await countFrames(cut)
    } catch (error) {
      expect(String(error)).toMatch(/damaged|truncated/)
      return
    }
    expect(n).toBe(cutIntact)
  }, 130_000)
})

describe('a rotated run of several parts', () => {
  const PART_ROWS = 120_000
  const PARTS = 3
  let runDir: string
  const parts: string[] = []
  beforeAll(async () => {
    runDir = join(dir, 'run')
    mkdirSync(runDir)
    // continuous tape split in three: each part starts after the previous one ends
    let startNs = 1763980800000000000n
    for (let p = 0; p < PARTS; p++) {
      const path = join(runDir, `a.${String(p).padStart(3, '0')}.arrow`)
      await makeBigYahooRecording(path, PART_ROWS, {flushRows: 40_000, seed: p + 1, startNs, meta: {runId: 'run-1', part: p, startTime: new Date(Number(startNs / 1_000_000n)).toISOString()}})
      parts.push(path)
      startNs += 3_600_000_000_000n
    }
  }, 120_000)

  const forms = (): Record<string, string[]> => ({
    'several files (out of order)': [parts[2], parts[0], parts[1]],
    'a directory': [runDir],
    'a quoted glob': [join(runDir, 'a.*.arrow')],
  })

  it('cat prints the parts in order as one recording', async () => {
    for (const [form, args] of Object.entries(forms())) {
      const r = await runCli(['cat', ...args, '-f', 'csv', '-c', 'recv_ts,seq'], {timeoutMs: 60_000})
      expect(r.code, `${form}: ${r.stderr}`).toBe(0)
      const lines = r.stdout.trim().split('\n')
      expect(lines.length - 1, form).toBe(PARTS * PART_ROWS)
      const ts = lines.slice(1).map((l) => l.slice(0, 30))
      for (let i = 1; i < ts.length; i += 997) expect(ts[i] >= ts[i - 1], form).toBe(true)
      expect(ts[PART_ROWS] > ts[PART_ROWS - 1]).toBe(true)
    }
  }, 200_000)

  it('info summarises the run and lists its parts', async () => {
    for (const [form, args] of Object.entries(forms())) {
      const r = await runCli(['info', ...args, '--json'], {timeoutMs: 60_000})
      expect(r.code, `${form}: ${r.stderr}`).toBe(0)
      const out = JSON.parse(r.stdout)
      expect(out, form).toHaveLength(1)
      expect(out[0].rows).toBe(PARTS * PART_ROWS)
      expect(out[0].runId).toBe('run-1')
      expect(out[0].parts.map((p: {path: string}) => p.path)).toEqual(parts)
      const text = await runCli(['info', ...args])
      for (const p of parts) expect(text.stdout).toContain(p)
    }
  }, 200_000)

  it('slice cuts across the parts into one file', async () => {
    let k = 0
    for (const [form, args] of Object.entries(forms())) {
      const out = join(dir, `across-${k++}.arrow`)
      // the last 30 minutes of part 0 to the first 30 minutes of part 2
      const r = await runCli(['slice', ...args, '-o', out, '--json'], {timeoutMs: 60_000})
      expect(r.code, `${form}: ${r.stderr}`).toBe(0)
      expect(JSON.parse(r.stdout).rows, form).toBe(PARTS * PART_ROWS)
      const c = await runCli(['cat', out, '-f', 'csv', '-c', 'seq'], {timeoutMs: 60_000})
      expect(c.stdout.trim().split('\n').length - 1).toBe(PARTS * PART_ROWS)
    }
  }, 200_000)

  it('verify checks and reports each file; a damaged part makes it exit 1', async () => {
    for (const [form, args] of Object.entries(forms())) {
      const r = await runCli(['verify', ...args], {timeoutMs: 60_000})
      expect(r.code, `${form}: ${r.stderr}`).toBe(0)
      for (const p of parts) expect(r.stdout).toContain(`${p}: ok`)
    }
    const d2 = join(dir, 'run-damaged')
    mkdirSync(d2)
    for (const p of parts) copyFileSync(p, join(d2, p.slice(runDir.length + 1)))
    const victim = join(d2, 'a.001.arrow')
    const b = readFileSync(victim)
    writeFileSync(victim, b.subarray(0, Math.floor(b.length * 0.6)))
    const r = await runCli(['verify', d2], {timeoutMs: 60_000})
    expect(r.code).toBe(1)
    oneLine(r.stderr)
    expect(r.stdout).toContain(`${join(d2, 'a.000.arrow')}: ok`)
    expect(r.stdout).toContain(`${victim}: DAMAGED`)
    expect(r.stdout).toContain(`${join(d2, 'a.002.arrow')}: ok`)
  }, 200_000)

  it('mixing feeds is a clear error; a glob that matches nothing too', async () => {
    const upbit = new URL('../fixtures/upbit-krw.arrow', import.meta.url).pathname
    for (const cmd of ['cat', 'slice']) {
      const args = cmd === 'slice' ? ['-o', join(dir, 'mixed.arrow')] : []
      const r = await runCli([cmd, parts[0], upbit, ...args])
      expect(r.code, cmd).toBe(1)
      oneLine(r.stderr)
      expect(r.stderr).toMatch(/different feeds/)
    }
    const r = await runCli(['cat', join(runDir, 'zzz*.arrow')])
    expect(r.code).toBe(1)
    oneLine(r.stderr)
    expect(r.stderr).toMatch(/matches no file/)
  }, 60_000)
})
