// The repository stands on its own: no tracked file reads or cites the
// developers' notes kept outside it. A fresh clone with nothing beside it
// must build, test and document itself (`.ci/run` runs the suite in such a
// clone; this test names the offending lines in any checkout).
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {dirname, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SELF = 'test/standalone.test.ts'

/** Tracked files (git ls-files), or null outside a git checkout (an npm-packed copy). */
function trackedFiles(): string[] | null {
  try {
    return execFileSync('git', ['ls-files', '-z'], {cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
      .split('\0')
      .filter((f) => f !== '')
  } catch {
    return null
  }
}

function textOf(file: string): string | null {
  let buf: Buffer
  try {
    buf = readFileSync(resolve(ROOT, file))
  } catch {
    return null // deleted in the working tree but still in the index
  }
  if (buf.subarray(0, 8000).includes(0)) return null // binary (the .arrow fixtures)
  return buf.toString('utf8')
}

// A path to the notes directory (`/shared`, `../shared`, `shared/vectors`)
// or the notes' file name. Docs that state the rule do so without these
// words, so only this file is exempt.
const OUTSIDE = /(^|[^\w-])(\.\.\/)*\/?shared\/|(^|[^\w-])\/shared\b|\.\.\/shared\b|protocols\.md/
// `new URL('…', import.meta.url)` with a relative literal: must stay inside the repository.
const URL_LITERAL = /new URL\(\s*['"`](\.{1,2}\/[^'"`]*)['"`]\s*,\s*import\.meta\.url\s*\)/g

const files = trackedFiles()

describe.skipIf(files === null)('the repository stands alone', () => {
  it('no tracked file reads or cites the notes outside the repository', () => {
    const hits: string[] = []
    for (const f of files!) {
      if (f === SELF) continue
      const text = textOf(f)
      if (text === null) continue
      text.split('\n').forEach((line, i) => {
        if (OUTSIDE.test(line)) hits.push(`${f}:${i + 1}: ${line.trim()}`)
      })
    }
    expect(hits).toEqual([])
  })

  it('no tracked source resolves a path outside the repository from its own location', () => {
    const hits: string[] = []
    for (const f of files!) {
      if (f === SELF || !/\.(ts|mjs|js|cjs)$/.test(f)) continue
      const text = textOf(f)
      if (text === null) continue
      for (const m of text.matchAll(URL_LITERAL)) {
        const target = resolve(ROOT, dirname(f), m[1])
        const rel = relative(ROOT, target)
        if (rel === '..' || rel.startsWith(`..${sep}`)) hits.push(`${f}: new URL('${m[1]}') → ${target}`)
      }
    }
    expect(hits).toEqual([])
  })

  it('the check itself catches each form', () => {
    for (const bad of [
      "new URL('../../shared/vectors/x.ndjson', import.meta.url)",
      ' * (docs: /shared/protocols.md §4)',
      '// see protocols.md §3',
      '# a clone of main with ../shared beside it',
      'see shared/vectors/README.md',
    ]) {
      expect(OUTSIDE.test(bad), bad).toBe(true)
    }
    for (const good of ['--clock shared', "clock: 'shared'", 'src/feeds/emulator.ts (shared by every emulator)', 'sharedClock/']) {
      expect(OUTSIDE.test(good), good).toBe(false)
    }
  })
})
