/**
 * Helpers for test suites that point a feed client at a recorded fixture
 * (`import {useReplay, startReplay, fixture} from 'mdrec/testing'`).
 *
 * Fixture paths are resolved like any path, against the process's working
 * directory; the recordings bundled with mdrec are named with
 * {@link fixture} (`fixture('yahoo-us-equities')`), which resolves them
 * from the installed package wherever it is.
 *
 * Both listen on 127.0.0.1 and a free port (`port: 0`) unless told otherwise,
 * so suites can run in parallel. Every other option is {@link replay}'s, with
 * its defaults: `clock: 'connection'` (each connection sees the whole
 * recording from its first subscription, the same way every run) and the
 * recorded pace (`speed: 1`; pass `speed: 'max'` or `10` for faster tests).
 */
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {MdrecError} from './errors.js'
import {replay, type ReplayHandle, type ReplayOptions} from './replay/engine.js'

/**
 * Absolute path of the `fixtures/` directory that ships with mdrec (with a
 * trailing separator), resolved from this module's own location: the same
 * from a checkout (`src/`, `dist/`) and from `node_modules/mdrec`.
 */
export const FIXTURES_DIR: string = fileURLToPath(new URL('../fixtures/', import.meta.url))

/** Names of the bundled fixtures (`yahoo-us-equities`, …), sorted; `fixtures/README.md` describes each. */
export function fixtureNames(): string[] {
  return readdirSync(FIXTURES_DIR)
    .filter((f) => f.endsWith('.arrow'))
    .map((f) => f.slice(0, -'.arrow'.length))
    .sort()
}

/**
 * Absolute path of a bundled fixture by name, with or without `.arrow`:
 * `fixture('yahoo-us-equities')` → `<mdrec>/fixtures/yahoo-us-equities.arrow`.
 * Throws `MdrecError` E_NOT_FOUND naming the fixtures there are when there
 * is no such fixture (a path is not a name: pass your own paths directly).
 */
export function fixture(name: string): string {
  const base = name.endsWith('.arrow') ? name.slice(0, -'.arrow'.length) : name
  const path = join(FIXTURES_DIR, `${base}.arrow`)
  if (base === '' || /[/\\]/.test(base) || !existsSync(path)) {
    throw new MdrecError('E_NOT_FOUND', `no bundled fixture named ${JSON.stringify(name)}; the fixtures are ${fixtureNames().join(', ')} (in ${FIXTURES_DIR})`)
  }
  return path
}

/**
 * Start a replay of a recording (a path, or several merged by receive time;
 * {@link fixture} names a bundled one) on 127.0.0.1 and a free port. Close it
 * with `handle.close()`.
 */
export function startReplay(fixture: string | string[], options: ReplayOptions = {}): Promise<ReplayHandle> {
  return replay(fixture, {port: 0, host: '127.0.0.1', ...options})
}

/** The two suite-level hooks of vitest, jest, mocha or node:test (`before`/`after`). */
export interface SuiteHooks {
  beforeAll(fn: () => unknown, timeout?: number): void
  afterAll(fn: () => unknown, timeout?: number): void
}

export interface ReplayFixture {
  /** The replay's URL (the recording's wire variant), or the URL of `variant` (Yahoo: 'v1' / 'v2'). Call inside tests. */
  url(variant?: string): string
  /** The running replay (stats, close). Call inside tests. */
  handle(): ReplayHandle
}

/**
 * Replay `fixture` for the tests of the enclosing suite: starts it in
 * `beforeAll` and closes it in `afterAll`, and returns accessors to call
 * inside tests.
 *
 * The hooks are taken from the third argument when given, else from the
 * globals (vitest with `globals: true`, jest), so the helper depends on no
 * test runner:
 *
 * ```ts
 * import {beforeAll, afterAll, it, expect} from 'vitest'
 * import WebSocket from 'ws'
 * import {useReplay, fixture} from 'mdrec/testing'
 *
 * const feed = useReplay(fixture('yahoo-us-equities'), {speed: 'max'}, {beforeAll, afterAll})
 * it('gets ticks', async () => {
 *   const ws = new WebSocket(feed.url('v2'))
 *   // ...subscribe, assert on the frames...
 * })
 * ```
 *
 * `fixture` is a path (relative to the working directory) or paths, as for
 * {@link startReplay}.
 */
export function useReplay(fixture: string | string[], options: ReplayOptions = {}, hooks?: SuiteHooks): ReplayFixture {
  const g = globalThis as Partial<SuiteHooks>
  const beforeAll = hooks?.beforeAll ?? g.beforeAll
  const afterAll = hooks?.afterAll ?? g.afterAll
  if (typeof beforeAll !== 'function' || typeof afterAll !== 'function') {
    throw new MdrecError(
      'E_USAGE',
      "useReplay needs the test runner's beforeAll/afterAll: pass them, useReplay(file, options, {beforeAll, afterAll}), or enable the runner's globals (vitest: test.globals = true)",
    )
  }
  let h: ReplayHandle | null = null
  const get = (): ReplayHandle => {
    if (!h) throw new MdrecError('E_USAGE', 'the replay is not running: use url()/handle() inside tests, after beforeAll has run')
    return h
  }
  beforeAll(async () => {
    h = await startReplay(fixture, options)
  })
  afterAll(async () => {
    const running = h
    h = null
    await running?.close()
  })
  return {
    url: (variant?: string) => (variant === undefined ? get().url : get().urlFor(variant)),
    handle: get,
  }
}
