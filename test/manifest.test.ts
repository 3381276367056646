import {execFileSync} from 'node:child_process'
import {cpSync, mkdtempSync, readFileSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const oclifBin = join(root, 'node_modules', 'oclif', 'bin', 'run.js')

/** The committed version of a file (what a clone gets), or the working copy outside git. */
function committed(file: string): string {
  try {
    return execFileSync('git', ['show', `HEAD:${file}`], {cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
  } catch {
    return readFileSync(join(root, file), 'utf8')
  }
}

describe('generated files are committed up to date', () => {
  it('oclif.manifest.json matches the commands', () => {
    // generate into a scratch copy so the check does not rewrite the file it checks
    const dir = mkdtempSync(join(tmpdir(), 'mdrec-manifest-'))
    cpSync(join(root, 'package.json'), join(dir, 'package.json'))
    cpSync(join(root, 'dist'), join(dir, 'dist'), {recursive: true})
    symlinkSync(join(root, 'bin'), join(dir, 'bin'))
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
    execFileSync(process.execPath, [oclifBin, 'manifest'], {cwd: dir, stdio: 'ignore', env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'}})
    const fresh = JSON.parse(readFileSync(join(dir, 'oclif.manifest.json'), 'utf8'))
    expect(JSON.parse(committed('oclif.manifest.json')), 'run `npm run build` and commit oclif.manifest.json').toEqual(fresh)
  })

  it("README's command reference matches the commands", () => {
    const out = execFileSync(process.execPath, [oclifBin, 'readme', '--no-aliases', '--dry-run'], {
      cwd: root,
      encoding: 'utf8',
      env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'}, // no "oclif update available" notice
    })
    const section = (s: string) => s.slice(s.indexOf('<!-- commands -->\n'), s.indexOf('<!-- commandsstop -->'))
    expect(section(committed('README.md')), 'run `npm run readme` and commit README.md').toBe(section(out))
  })
})
