/**
 * A replay lets go of every file handle it opened: once a handle is closed
 * (after timelines that ended, looped, were left by their client, or never
 * started), no descriptor of the recording is still open. A reader left
 * behind would be closed by the garbage collector instead, with Node's
 * "Closing file descriptor N on garbage collection" warning.
 *
 * Counts the process's descriptors that point at the recording
 * (/proc/self/fd, Linux; skipped elsewhere).
 */
import {once} from 'node:events'
import {copyFileSync, existsSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {replay, type ReplayOptions} from '../src/replay/engine.js'
import {makeYahooRecording} from './helpers/recording.js'

const ROWS = 20_000
/** 20 batches: reads are in flight when timelines end, loop and close. */
const BATCH_ROWS = 1000
const SYMBOLS = ['A', 'B', 'C', 'D', 'E']
const PROC = existsSync('/proc/self/fd')

let dir: string
let file: string
beforeAll(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'mdrec-fds-')))
  file = join(dir, 'fds.arrow')
  await makeYahooRecording(file, ROWS, {symbols: SYMBOLS, writer: {flushRows: BATCH_ROWS, compactOnClose: false}})
}, 60_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Descriptors of this process open on `path`. */
function openOn(path: string): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++
    } catch {} // the directory's own descriptor, gone by now
  }
  return n
}

/** Wait (bounded: 2 s) for the descriptors on `path` to close; the count left. */
async function settled(path: string): Promise<number> {
  const end = Date.now() + 2000
  while (openOn(path) > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  return openOn(path)
}

/** A client that subscribes to `symbols`, reads `n` frames (Infinity: until the server closes) and leaves. */
async function client(url: string, symbols: string[], n: number): Promise<number> {
  const ws = new WebSocket(url)
  let count = 0
  const closed = once(ws, 'close')
  const read = new Promise<void>((resolve) => {
    ws.on('message', () => {
      if (++count === n) resolve()
    })
    ws.once('close', () => resolve())
  })
  await once(ws, 'open')
  ws.send(JSON.stringify({subscribe: symbols}))
  await read
  ws.close()
  await closed
  return count
}

const CASES: [string, Partial<ReplayOptions>, string[], number][] = [
  ['played to the end (max, connection clock)', {speed: 'max', atEnd: 'close'}, SYMBOLS, Number.POSITIVE_INFINITY],
  ['looped (max, --loop 2)', {speed: 'max', loop: 2, atEnd: 'close'}, SYMBOLS, Number.POSITIVE_INFINITY],
  ['left by its client mid-play', {speed: 'max'}, SYMBOLS, 3000],
  ['a client of a symbol the recording does not hold', {speed: 'max', loop: true}, ['NOPE'], 0],
  ['shared clock, looped', {speed: 'max', clock: 'shared', loop: 1, atEnd: 'close'}, SYMBOLS, Number.POSITIVE_INFINITY],
  ['1x, left at once', {speed: 1}, SYMBOLS, 1],
]

describe.skipIf(!PROC)('a closed replay holds no descriptor of its recording', () => {
  CASES.forEach(([name, o, symbols, n], k) => {
    it(name, async () => {
      // a copy per case: a descriptor one case leaves open does not show in the next
      const path = join(dir, `case-${k}.arrow`)
      copyFileSync(file, path)
      const h = await replay(path, {port: 0, settleMs: 0, ...o})
      const got = n === 0 ? (void client(h.url, symbols, 1), 0) : await client(h.url, symbols, n)
      if (n === 0) await new Promise((r) => setTimeout(r, 100))
      else if (n !== Number.POSITIVE_INFINITY) expect(got).toBeGreaterThanOrEqual(n)
      // the disconnect's fresh spare reader is in flight now
      await h.close()
      expect(await settled(path)).toBe(0)
    }, 30_000)
  })
})
