/**
 * The library's record() and replay() check their options at run time
 * (JavaScript callers get no type check): a misspelt option, a value of the
 * wrong kind, or a damaged recording is a usage or file error before
 * anything connects or listens, never silently ignored or a crash later.
 */
import {copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {Recorder} from '../src/record/recorder.js'
import {replay} from '../src/replay/engine.js'
import {runCli} from './helpers/cli.js'

const FIXTURE = new URL('../fixtures/yahoo-us-equities.arrow', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'mdrec-library-options-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as {code?: string; message?: string})

describe('record() options', () => {
  const start = (o: object) => failure(Recorder.start(o as Parameters<typeof Recorder.start>[0]))
  it('symbols as a string, durationMs as text: usage errors naming the option and what it takes', async () => {
    const symbols = await start({symbols: 'NVDA', url: 'ws://127.0.0.1:9/', durationMs: 500})
    expect(symbols?.code).toBe('E_USAGE')
    expect(symbols?.message).toContain('option symbols takes an array of strings')
    const duration = await start({symbols: ['NVDA'], url: 'ws://127.0.0.1:9/', durationMs: '5s'})
    expect(duration?.code).toBe('E_USAGE')
    expect(duration?.message).toContain('option durationMs takes a number')
  })
})

describe('replay() options and files', () => {
  it('a misspelt option is a usage error naming it', async () => {
    const e = await failure(replay(FIXTURE, {port: 0, sped: 'max'} as object))
    expect(e?.code).toBe('E_USAGE')
    expect(e?.message).toContain('unknown option sped')
  })
  it('a recording cut inside a message is refused before listening (library: E_TRUNCATED; CLI: one line, exit 1)', async () => {
    const cut = join(dir, 'cut.arrow')
    writeFileSync(cut, readFileSync(FIXTURE).subarray(0, 30_000))
    const e = await failure(replay(cut, {port: 0}))
    expect(e?.code).toBe('E_TRUNCATED')
    // cut inside the only batch: nothing recoverable, so no advice to repair it
    expect(e?.message).toContain('no complete batch before it, so no row is recoverable')
    expect(e?.message).not.toContain('verify --repair')
    const r = await runCli(['replay', cut, '--port', '0'])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain('truncated at byte')
    // a sound copy still replays
    const sound = join(dir, 'sound.arrow')
    copyFileSync(FIXTURE, sound)
    const h = await replay(sound, {port: 0})
    await h.close()
  })
})
