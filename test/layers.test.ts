/**
 * Layers import in one direction (docs/ARCHITECTURE.md): the store owns the
 * recording format and its types and imports no feed, recorder, replay
 * engine or command; the feeds own their contract (src/feeds/contract.ts)
 * and import no recorder or replay engine; nothing below commands/ and cli/
 * imports oclif. One registry (src/feeds/registry.ts) lists every feed once,
 * with both sides and its own record options and environment variables.
 * The replay engine stays split by concern: no file of src/replay over 600
 * lines, and no import cycle between its files (type-only imports aside).
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join, posix} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import Record from '../src/commands/record.js'
import {isMdrecError} from '../src/errors.js'
import {FEED_NAMES, feedOptionValues, getFeed} from '../src/feeds/registry.js'
import {runCli} from './helpers/cli.js'

const SRC = fileURLToPath(new URL('../src', import.meta.url))

/** Every `from '…'` / `import('…')` specifier of the .ts files under `dir`, with the file it is in. */
function importsUnder(dir: string): Array<{file: string; spec: string}> {
  const out: Array<{file: string; spec: string}> = []
  for (const e of readdirSync(join(SRC, dir), {withFileTypes: true, recursive: true})) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue
    const file = join(e.parentPath, e.name)
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*)'([^']+)'/g)) out.push({file: file.slice(SRC.length + 1), spec: m[1]})
  }
  return out
}

describe('layers', () => {
  it('src/store imports no feed, recorder, replay engine, command or CLI code', () => {
    const bad = importsUnder('store').filter(({spec}) => /^\.\.\/(feeds|record|replay|commands|cli)\//.test(spec))
    expect(bad).toEqual([])
  })

  it('src/feeds imports no recorder or replay engine code', () => {
    const bad = importsUnder('feeds')
      .filter(({spec}) => /^(\.\.\/)+(record|replay)\//.test(spec))
    expect(bad).toEqual([])
  })

  it("a feed's folder is imported from outside it only by the registry and the library API (no feed imports another feed's folder)", () => {
    const feeds = readdirSync(join(SRC, 'feeds'), {withFileTypes: true}).filter((e) => e.isDirectory()).map((e) => e.name)
    expect(feeds.length).toBeGreaterThanOrEqual(5)
    const API = ['feeds/registry.ts', 'index.ts', 'testing.ts']
    const bad = importsUnder('.')
      .filter(({spec}) => spec.startsWith('.'))
      .filter(({file, spec}) => {
        const target = posix.join(posix.dirname(file), spec)
        const feed = feeds.find((f) => target.startsWith(`feeds/${f}/`))
        return feed !== undefined && !file.startsWith(`feeds/${feed}/`) && !API.includes(file)
      })
      .map(({file, spec}) => `${file} imports ${spec}`)
    expect(bad).toEqual([])
  })

  it('src/cli (loaded by every command) loads no feed code: type-only imports of src/feeds (slice, verify… stay light: test/store-memory)', () => {
    const bad: string[] = []
    for (const e of readdirSync(join(SRC, 'cli'))) {
      if (!e.endsWith('.ts')) continue
      const text = readFileSync(join(SRC, 'cli', e), 'utf8')
      for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)) if (!m[1] && m[2].startsWith('../feeds/')) bad.push(`cli/${e} imports ${m[2]}`)
    }
    expect(bad).toEqual([])
  })

  it('nothing outside src/commands and src/cli imports oclif', () => {
    const bad = ['store', 'feeds', 'record', 'replay', 'dataset', 'util']
      .flatMap((d) => importsUnder(d))
      .filter(({spec}) => spec.startsWith('@oclif/'))
    expect(bad).toEqual([])
  })

  it('no file under src/replay is over 600 lines', () => {
    const long = readdirSync(join(SRC, 'replay'), {recursive: true, encoding: 'utf8'})
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({file: f, lines: readFileSync(join(SRC, 'replay', f), 'utf8').split('\n').length - 1}))
      .filter(({lines}) => lines > 600)
    expect(long).toEqual([])
  })

  it('the files of src/replay import each other without a cycle (type-only imports aside)', () => {
    const dir = join(SRC, 'replay')
    const deps = new Map<string, string[]>()
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(join(dir, f), 'utf8')
      const to: string[] = []
      for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:\{([^}]*)\}|\*(?:\s+as\s+\w+)?|\w+)\s+from\s+'\.\/([^']+)\.js'/gm)) {
        const names = m[2]?.split(',').map((n) => n.trim()).filter(Boolean)
        const typeOnly = m[1] !== undefined || (names !== undefined && names.length > 0 && names.every((n) => n.startsWith('type ')))
        if (!typeOnly) to.push(`${m[3]}.ts`)
      }
      deps.set(f, to)
    }
    const cycles: string[] = []
    const walk = (f: string, path: string[]): void => {
      if (path.includes(f)) {
        if (f === path[0]) cycles.push([...path, f].join(' → '))
        return
      }
      for (const d of deps.get(f) ?? []) walk(d, [...path, f])
    }
    for (const f of deps.keys()) walk(f, [])
    expect(cycles).toEqual([])
  })
})

/** Every .ts file under src, as [path relative to src, text]. */
function sources(): Array<[string, string]> {
  return readdirSync(SRC, {withFileTypes: true, recursive: true})
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => {
      const file = join(e.parentPath, e.name)
      return [file.slice(SRC.length + 1), readFileSync(file, 'utf8')] as [string, string]
    })
}

/**
 * Ways of reaching a common column by its position instead of by the store's
 * names (COL.recv_ts, …, FEED_COL0 in src/store/types.ts): a column or
 * accumulator index written as a number literal.
 */
const COLUMN_BY_NUMBER: RegExp[] = [
  /getChildAt\(\s*\d/, // batch.getChildAt(0), getChildAt(7 + j)
  /(?<![.\w])(?:col|get|data)\(\s*\d+\s*[)+]/, // local column getters: col(0), data(7 + j)
  /(?<![\d.])7 \+ \w/, // 7 + k: the first feed column
  /\.slice\(7\)/, // the feed columns after the common ones
  /\b(?:columns|accs|source)\[\d\]/, // file.columns[1], source[4]
  /\ba\[\d\]\.push/, // the writer's accumulators
]

describe('the store names its common columns', () => {
  it('no common column is addressed by number outside the store’s named constants', () => {
    const bad: string[] = []
    for (const [file, text] of sources()) {
      text.split('\n').forEach((line, k) => {
        if (COLUMN_BY_NUMBER.some((re) => re.test(line))) bad.push(`${file}:${k + 1}: ${line.trim()}`)
      })
    }
    expect(bad).toEqual([])
  })

  it('COL and FEED_COL0 match the common columns of every recording', async () => {
    const {COL, FEED_COL0, COMMON_COLUMNS} = await import('../src/store/types.js')
    const {storeColumns} = await import('../src/store/schema.js')
    const cols = storeColumns('ms', [{name: 'price', type: 'float64'}])
    for (const name of COMMON_COLUMNS) expect(cols[COL[name]].name).toBe(name)
    expect(FEED_COL0).toBe(COMMON_COLUMNS.length)
    expect(cols[FEED_COL0].name).toBe('price')
  })
})

describe('one rewrite path, one row accessor', () => {
  it('src/store/writer.ts does not import the reader (compaction and slice rewrite through src/store/rewrite.ts)', () => {
    const bad = importsUnder('store').filter(({file, spec}) => file === 'store/writer.ts' && /^\.\/(reader|slice|verify|info|inputs)\.js$/.test(spec))
    expect(bad).toEqual([])
    // nor the rewrite path at load time (only its types, and a dynamic import when a file is compacted on close)
    const writer = readFileSync(join(SRC, 'store/writer.ts'), 'utf8')
    expect(writer).not.toMatch(/^import\s+(?!type\b)[^\n]*?from\s+'\.\/rewrite\.js'/m)
    // slice, compaction and repair share the rewrite path
    const users = importsUnder('store').filter(({spec}) => spec === './rewrite.js').map(({file}) => file)
    expect(users).toEqual(expect.arrayContaining(['store/slice.ts', 'store/verify.ts']))
  })

  it('nothing under src/feeds imports src/replay/rows (the row accessor is the store’s)', () => {
    const bad = importsUnder('feeds').filter(({spec}) => /replay\/rows\.js$/.test(spec))
    expect(bad).toEqual([])
  })
})

/** The flags of `mdrec record` that are not one feed's own (the rest come from the feeds' declared options). */
const COMMON_RECORD_FLAGS = ['feed', 'duration', 'out', 'url', 'flush-interval', 'rotate', 'raw', 'stale-timeout', 'reconnect-min', 'reconnect-max', 'dataset', 'dataset-partition-symbol', 'quiet', 'json']

describe('the feed registry', () => {
  it('lists each feed once, with both sides', () => {
    expect(new Set(FEED_NAMES).size).toBe(FEED_NAMES.length)
    for (const name of FEED_NAMES) {
      const f = getFeed(name)
      expect(f.name).toBe(name)
      expect(typeof f.client, name).toBe('function')
      expect(typeof f.codecFor, name).toBe('function')
      expect(f.replay?.name, name).toBe(name)
      expect(typeof f.replay?.listen, name).toBe('function')
      expect(f.summary.length, name).toBeGreaterThan(0)
      expect(f.env.map((e) => e.name), name).toContain(f.urlEnv)
    }
  })

  it("the feeds' declared options are exactly the record command's feed flags, with the same kind", () => {
    const declared = new Map<string, string>()
    for (const name of FEED_NAMES) {
      for (const o of getFeed(name).options) {
        const kind = declared.get(o.name)
        if (kind !== undefined) expect(o.kind, `${name} --${o.name}`).toBe(kind)
        declared.set(o.name, o.kind)
      }
    }
    const flags = Object.keys(Record.flags).filter((n) => !COMMON_RECORD_FLAGS.includes(n))
    expect(flags.sort()).toEqual([...declared.keys()].sort())
    for (const [name, kind] of declared) expect(Record.flags[name as keyof typeof Record.flags].type, name).toBe(kind === 'boolean' ? 'boolean' : 'option')
  })

  it("each feed gets its declared options and refuses every other feed's, with a usage error", () => {
    const sample = {string: 'x', list: ['x'], boolean: true, duration: 1000} as const
    const all = new Map(FEED_NAMES.flatMap((n) => getFeed(n).options.map((o) => [o.name, o] as const)))
    for (const name of FEED_NAMES) {
      const f = getFeed(name)
      const own = Object.fromEntries(f.options.map((o) => [o.name, sample[o.kind]]))
      expect(feedOptionValues(f, own), name).toEqual(own)
      for (const [option, o] of all) {
        if (f.options.some((d) => d.name === option)) continue
        let error: unknown
        try {
          feedOptionValues(f, {[option]: sample[o.kind]})
        } catch (e) {
          error = e
        }
        expect(isMdrecError(error) && error.code, `${name} --${option}`).toBe('E_USAGE')
      }
    }
  })

  it("record --help names every feed and every feed's environment variables", async () => {
    const r = await runCli(['record', '--help'])
    expect(r.code).toBe(0)
    const help = r.stdout.replaceAll(/\s+/g, ' ')
    for (const name of FEED_NAMES) {
      expect(help, name).toContain(`${name} (`)
      for (const e of getFeed(name).env) expect(help, `${name}: ${e.name}`).toContain(e.name)
    }
  })
})

/** The five feeds' names, as a command would spell them in a string (any case: "Generic recordings only…" too). */
const FEED_WORD = new RegExp(`\\b(${FEED_NAMES.join('|')})\\b`, 'i')
/**
 * What a command may still say of a feed: its `static examples` (stripped
 * before the check), record's default feed, and prose that only the record
 * command's --url help words (Yahoo's kept query parameter).
 */
const FEED_WORD_ALLOWED = [/default: 'yahoo'/, /\(Yahoo keeps \?version=\)/]

/** The string literals (quotes and template text) of `text`, its `static … examples = [ … ]` block left out. */
function stringLiterals(text: string): string[] {
  const code = text.replace(/static\s+(?:override\s+)?examples\s*=\s*\[[\s\S]*?\n\s*\]/g, '')
  return [...code.matchAll(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g)].map((m) => m[0])
}

describe('commands name no feed', () => {
  it('src/commands/*.ts import nothing from a feed’s folder, only src/feeds/registry.ts and contract.ts', () => {
    const bad = importsUnder('commands').filter(({spec}) => spec.startsWith('../feeds/') && !/^\.\.\/feeds\/(registry|contract)\.js$/.test(spec))
    expect(bad).toEqual([])
  })

  it('no string or flag definition of a command names a feed (beside the examples and the default feed)', () => {
    const bad: string[] = []
    for (const e of readdirSync(join(SRC, 'commands'), {withFileTypes: true})) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue
      const text = readFileSync(join(SRC, 'commands', e.name), 'utf8')
      const allowed = FEED_WORD_ALLOWED.reduce((t, re) => t.replace(re, ''), text)
      for (const s of stringLiterals(allowed)) if (FEED_WORD.test(s)) bad.push(`commands/${e.name}: ${s.slice(0, 100)}`)
      // and no flag is put in a feed's help group by hand
      for (const m of allowed.matchAll(/helpGroup:\s*'([^']+)'/g)) bad.push(`commands/${e.name}: helpGroup '${m[1]}'`)
    }
    expect(bad).toEqual([])
  })

  it("replay's feed flags are exactly the feeds' declared replay options, with the kind and help group declared", async () => {
    const {default: Replay} = await import('../src/commands/replay.js')
    const declared = new Map<string, {kind: string; feeds: string[]}>()
    for (const name of FEED_NAMES) {
      for (const o of (getFeed(name).replay as {options?: ReadonlyArray<{name: string; kind: string}>} | undefined)?.options ?? []) {
        const d = declared.get(o.name)
        if (d) expect(o.kind, `${name} --${o.name}`).toBe(d.kind)
        declared.set(o.name, {kind: o.kind, feeds: [...(d?.feeds ?? []), name]})
      }
    }
    expect(declared.size).toBeGreaterThan(0)
    const flags = Replay.flags as Record<string, {type: string; helpGroup?: string}>
    const grouped = Object.keys(flags).filter((n) => flags[n].helpGroup !== undefined)
    expect(grouped.sort()).toEqual([...declared.keys()].sort())
    for (const [name, d] of declared) {
      expect(flags[name].type, name).toBe(d.kind === 'boolean' ? 'boolean' : 'option')
      expect(flags[name].helpGroup, name).toBe(d.feeds[0].toUpperCase())
    }
  })
})
