import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {openRecording, readRows} from '../src/store/reader.js'
import {closedPort} from './helpers/ports.js'
import {BIN} from './helpers/cli.js'
import {TestFeed, sleep} from './helpers/feed.js'
import {ScreenModel, spawnInPty} from './helpers/terminal.js'

// `mdrec record` on a real pseudo-terminal (python3's pty module): what the user SEES
// after the carriage returns and erase codes, not the raw byte stream.

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

const COLS = 120

interface Session {
  raw: () => string
  screen: () => string[]
  typeCtrlC: () => void
  exit: Promise<number | null>
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<void>
}

function recordInPty(args: string[], cols = COLS): Session {
  const child = spawnInPty([process.execPath, BIN, 'record', ...args], {cols, rows: 30, env: {...process.env, NO_COLOR: '1'}})
  let raw = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (d: string) => (raw += d))
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const exit = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(kill)
      resolve(code)
    }),
  )
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const screen = () => new ScreenModel(cols, 30).write(raw).lines()
  return {
    raw: () => raw,
    screen,
    typeCtrlC: () => child.stdin!.write('\x03'),
    exit,
    async waitFor(re, timeoutMs = 20_000) {
      const t0 = Date.now()
      while (!re.test(screen().join('\n'))) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${re} on the screen:\n${screen().join('\n')}`)
        if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before ${re} appeared:\n${screen().join('\n')}`)
        await sleep(50)
      }
    },
  }
}

/** The lines that are the status bar: elapsed time, rows and connection state on one line. */
const BAR_LINE = /\b\d[\d.]*(?:ms|s|m\d\ds)\b.*\brows?\b.*\bgaps?\b/

/** Type Ctrl-C, wait for the exit; the screen then, and its bar lines. */
async function interrupt(s: Session): Promise<{code: number | null; lines: string[]; shown: string; bars: string[]}> {
  s.typeCtrlC()
  const code = await s.exit
  const lines = s.screen()
  return {code, lines, shown: lines.join('\n'), bars: lines.filter((l) => BAR_LINE.test(l))}
}

describe('mdrec record on a terminal', () => {
  it('one bar line with elapsed / total, event lines on their own lines, the Ctrl-C message whole, the summary below the bar with the same counts', async () => {
    const feed = await TestFeed.start(['NVDA'])
    cleanups.push(() => feed.server.close())
    const out = join(mkdtempSync(join(tmpdir(), 'mdrec-tty-')), 'tty.arrow')
    const s = recordInPty(['NVDA', '--url', feed.server.url(2), '--out', out, '--duration', '30m', '--reconnect-min', '50ms'])
    await feed.waitForSubscribe()
    for (let i = 0; i < 150; i++) {
      feed.publishNext()
      if (i % 10 === 0) await sleep(5)
    }
    await feed.drained()
    // lose the connection once: the event is a line of its own, above the bar
    const resubscribed = feed.waitForSubscribe()
    feed.server.closeClients(1001, 'going away')
    await resubscribed
    for (let i = 0; i < 120; i++) {
      feed.publishNext()
      if (i % 10 === 0) await sleep(5)
    }
    await feed.drained()
    await s.waitFor(/reconnects 1\b/)
    await sleep(400) // a few more bar frames
    const {code, lines, shown, bars} = await interrupt(s)
    expect(code, shown).toBe(0)

    // exactly one bar line: the frames overwrote each other
    expect(bars, shown).toHaveLength(1)
    const bar = bars[0]
    // elapsed and total are apart and readable: "4.3s / 30m"
    expect(bar, shown).toMatch(/(?:^|\s)\d+(?:\.\d)?(?:ms|s) \/ 30m \|/)
    expect(bar.length).toBeLessThan(COLS)

    // the summary is below the bar, not written over it
    const summaryAt = lines.findIndex((l) => /^recorded \d+ rows?\b/.test(l))
    expect(summaryAt, shown).toBeGreaterThan(lines.indexOf(bar))
    const summaryRows = Number(/^recorded (\d+) rows?/.exec(lines[summaryAt])![1])
    // the last bar frame counts what the summary counts (ticks plus the gap row)
    expect(summaryRows).toBe(feed.sent.length + 1)
    expect(Number(/\b(\d+) rows?\b/.exec(bar)![1]), shown).toBe(summaryRows)
    expect(bar).toMatch(/reconnects 1\b/)
    expect(bar).toMatch(/\bgaps 1\b/)

    // the Ctrl-C message is whole, on its own line
    expect(lines.some((l) => /^SIGINT: finishing\b.*\bat once\)?$/.test(l)), shown).toBe(true)
    // the lost connection was told on a line of its own
    const lost = lines.filter((l) => /closed by the feed \(code 1001, going away\)/.test(l))
    expect(lost.length, shown).toBeGreaterThan(0)
    for (const l of lost) expect(BAR_LINE.test(l), l).toBe(false)
    // every line written while the bar was up starts where a line starts (no bar fragment glued in front)
    for (const l of lines) if (!BAR_LINE.test(l)) expect(l, shown).not.toMatch(/rows? [\d.]+\/s/)

    // plurals and labelled byte counts
    expect(shown).not.toMatch(/\b1 (rows|symbols|gaps|reconnects|rejects|files)\b/)
    expect(bar).toMatch(/written/)
    expect(lines.slice(summaryAt).join('\n')).toMatch(/file size/)

    const rows: string[] = []
    for await (const r of readRows(await openRecording(out))) rows.push(r.kind)
    expect(rows.length).toBe(summaryRows)
  })

  it('without --duration, on an 80-column terminal: no empty bar, the compact line within the width with reconnects, gaps and rejects, the Ctrl-C message whole', async () => {
    const feed = await TestFeed.start(['NVDA'])
    cleanups.push(() => feed.server.close())
    const out = join(mkdtempSync(join(tmpdir(), 'mdrec-tty-')), 'tty2.arrow')
    const s = recordInPty(['NVDA', '--url', feed.server.url(2), '--out', out], 80)
    await feed.waitForSubscribe()
    feed.publishNext()
    await s.waitFor(/\b1 row\b/)
    const {code, shown, bars} = await interrupt(s)
    expect(code, shown).toBe(0)
    expect(bars, shown).toHaveLength(1)
    expect(bars[0]).not.toMatch(/░{5,}/) // a bar that can never fill is not drawn
    expect(bars[0]).toMatch(/^\d+(?:\.\d)?(?:ms|s) \|/)
    expect(bars[0]).toMatch(/\b1 row\b/)
    expect(bars[0].length).toBeLessThan(80) // cut, not wrapped onto a second line
    expect(bars[0]).toMatch(/\breconn 0 gaps 0 rej 0\b/) // the compact form keeps the counts an outage shows in
    expect(shown).toMatch(/^SIGINT: finishing\b.*\bat once\)$/m)
    expect(shown).toMatch(/^recorded 1 row of 1 symbol\b/m)
  })

  it('offline: the bar shows the reason and the attempts, and a run that never connected ends with a clear message and exit 1', async () => {
    const port = await closedPort()
    const out = join(mkdtempSync(join(tmpdir(), 'mdrec-tty-')), 'offline.arrow')
    const s = recordInPty(['AAPL', '--url', `ws://127.0.0.1:${port}/?version=2`, '--out', out, '--duration', '30m', '--reconnect-min', '50ms', '--reconnect-max', '100ms'], 160)
    await s.waitFor(/ECONNREFUSED/)
    await s.waitFor(/\b[3-9]\d* failed attempts\b|\b\d{2,} failed attempts\b/)
    const bar = s.screen().filter((l) => BAR_LINE.test(l))
    expect(bar).toHaveLength(1)
    expect(bar[0]).toMatch(/ECONNREFUSED/)
    const {code, shown} = await interrupt(s)
    expect(code, shown).toBe(1)
    expect(shown).toMatch(new RegExp(`^Error: never connected to ws://127\\.0\\.0\\.1:${port}/\\?version=2 \\(\\d+ failed attempts; last: cannot connect: ECONNREFUSED[^)]*\\)`, 'm'))
    expect(shown).toMatch(/holds a gap row covering the outage/)
    const kinds: string[] = []
    for await (const r of readRows(await openRecording(out))) kinds.push(r.kind)
    expect(kinds).toEqual(['gap'])
  })
})
