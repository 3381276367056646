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
