import WebSocket from 'ws'
import {afterEach, describe, expect, it} from 'vitest'

import {BIN} from './helpers/cli.js'
import {sleep} from './helpers/feed.js'
import {ScreenModel, spawnInPty} from './helpers/terminal.js'

// `mdrec replay` on a real pseudo-terminal (python3's pty module): event lines
// ("client 1 connected") must take lines of their own, never glued onto the
// status line that is redrawn in place.

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** `mdrec replay` of the Yahoo fixture at 1x, looping, on a pseudo-terminal `cols` wide (30 rows); `raw()` is all it wrote so far. */
function replayOnTerminal(cols: number) {
  const child = spawnInPty([process.execPath, BIN, 'replay', 'fixtures/yahoo-us-equities.arrow', '--port', '0', '--speed', '1x', '--loop'], {
    cols,
    rows: 30,
    env: {...process.env, NO_COLOR: '1'},
  })
  let raw = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (d: string) => (raw += d))
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000)
  cleanups.push(() => {
    clearTimeout(kill)
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  return {child, raw: () => raw}
}

describe('replay on a terminal', () => {
  it('prints event lines on their own lines above the status line, and the status line fits the width', async () => {
    const cols = 100
    const t = replayOnTerminal(cols)
    const screen = () => new ScreenModel(cols, 30).write(t.raw()).lines()
    const waitFor = async (re: RegExp) => {
      const t0 = Date.now()
      while (!re.test(screen().join('\n'))) {
        if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${re}:\n${screen().join('\n')}`)
        await sleep(50)
      }
    }
    await waitFor(/waiting for a subscription/) // the URL is out and the status line is up
    const url = /ws:\/\/127\.0\.0\.1:\d+\/?/.exec(t.raw())![0]
    const ws = new WebSocket(url)
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify({subscribe: ['NVDA']}))
    await sleep(1500) // an event line, then at least one status redraw
    ws.close()
    await sleep(1200)
    const lines = screen().filter((l) => l.trim() !== '')
    const events = lines.filter((l) => /client \d+ (connected|subscribed|disconnected)/.test(l))
    expect(events.length, lines.join('\n')).toBeGreaterThan(0)
    // no event text glued onto a status line, and no status text glued onto an event line
    for (const l of events) expect(l, lines.join('\n')).not.toMatch(/frames? sent|so far/)
    const statuses = lines.filter((l) => /so far/.test(l))
    expect(statuses.length, lines.join('\n')).toBe(1) // redrawn in place: one status line on the screen
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(cols)
  }, 60_000)

  // The status line drawn again under an event line is read afresh, not the one drawn up to a second
  // before (which said '0 clients' under 'client 1 connected'); after the closing line nothing is drawn.
  it('the status under an event line has the counts after the event, and nothing is drawn after the closing line', async () => {
    const cols = 120
    const t = replayOnTerminal(cols)
    const exited = new Promise<number | null>((resolve) => t.child.on('close', resolve))
    const waitFor = async (re: RegExp) => {
      const t0 = Date.now()
      while (!re.test(t.raw())) {
        if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${re}:\n${t.raw()}`)
        await sleep(20)
      }
    }
    await waitFor(/waiting for a subscription/)
    const url = /ws:\/\/127\.0\.0\.1:\d+\/?/.exec(t.raw())![0]
    const ws = new WebSocket(url)
    await new Promise((r) => ws.once('open', r))
    // what is written with an event line: the line, then the status drawn under it (same write)
    const under = (event: RegExp) => {
      const m = new RegExp(`${event.source}\\r?\\n([^\\r\\n]*)`).exec(t.raw())
      return m?.[1] ?? null
    }
    await waitFor(/client 1 connected[^\n]*\n[^\r\n]*so far/)
    expect(under(/client 1 connected[^\n]*/)).toMatch(/ 1 client \(1 so far\)/)
    ws.send(JSON.stringify({subscribe: ['NVDA']}))
    await sleep(1200)
    ws.close()
    await waitFor(/client 1 disconnected[^\n]*\n[^\r\n]*so far/)
    expect(under(/client 1 disconnected/)).toMatch(/ 0 clients \(1 so far\)/)
    t.child.stdin!.write('\x03')
    expect(await exited).toBe(0)
    const closing = t.raw().lastIndexOf('replay closed:')
    expect(closing, t.raw()).toBeGreaterThan(0)
    // the closing line ends the output: no status drawn after it
    expect(t.raw().slice(closing)).not.toMatch(/so far/)
    expect(t.raw().slice(closing).trimEnd()).toMatch(/^replay closed: \d+ frames? sent to 1 client$/)
  }, 60_000)
})
