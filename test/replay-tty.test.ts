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

describe('replay on a terminal', () => {
  it('prints event lines on their own lines above the status line, and the status line fits the width', async () => {
    const cols = 100
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
    const screen = () => new ScreenModel(cols, 30).write(raw).lines()
    const waitFor = async (re: RegExp) => {
      const t0 = Date.now()
      while (!re.test(screen().join('\n'))) {
        if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${re}:\n${screen().join('\n')}`)
        await sleep(50)
      }
    }
    await waitFor(/waiting for a subscription/) // the URL is out and the status line is up
    const url = /ws:\/\/127\.0\.0\.1:\d+\/?/.exec(raw)![0]
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
})
