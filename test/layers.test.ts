/**
 * Layers import in one direction (docs/ARCHITECTURE.md): the store owns the
 * recording format and its types and imports no feed, recorder, replay
 * engine or command; nothing below commands/ and cli/ imports oclif.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

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

  it('nothing outside src/commands and src/cli imports oclif', () => {
    const bad = ['store', 'feeds', 'record', 'replay', 'dataset', 'util']
      .flatMap((d) => importsUnder(d))
      .filter(({spec}) => spec.startsWith('@oclif/'))
    expect(bad).toEqual([])
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
