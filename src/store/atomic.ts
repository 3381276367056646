/**
 * Every file mdrec produces from another (compaction, slice, repair, export)
 * is written under a temporary name in the same directory and renamed when
 * complete, so a reader never sees a partial file under the final name and a
 * killed run never blocks the next one.
 *
 * The temporary name is `<final>.<pid>.mdrec-partial`: the pid lets the next
 * run (and `mdrec verify`) tell a temporary left by a killed process from one
 * another live process is still writing. Older mdrec versions used
 * `<final>.compact-tmp` for compaction; those count as stale too.
 */
import {closeSync, fsyncSync, linkSync, openSync, readdirSync, renameSync, unlinkSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {MdrecError, fsError} from '../errors.js'

const SUFFIX = '.mdrec-partial'
const LEGACY_SUFFIX = '.compact-tmp'

/** The temporary path this process writes `final` under. */
export function partialPath(final: string): string {
  return `${final}.${process.pid}${SUFFIX}`
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Temporaries for `final` left by processes that no longer run (and legacy
 * `.compact-tmp` files). Paths, in the same directory as `final`.
 */
export function stalePartials(final: string): string[] {
  const dir = dirname(final)
  const base = basename(final)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: string[] = []
  for (const name of names) {
    if (name === base + LEGACY_SUFFIX) {
      out.push(join(dir, name))
      continue
    }
    if (!name.startsWith(`${base}.`) || !name.endsWith(SUFFIX)) continue
    const pid = Number(name.slice(base.length + 1, name.length - SUFFIX.length))
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) out.push(join(dir, name))
  }
  return out
}

/** Remove the stale temporaries of `final` (see stalePartials); returns the paths removed. */
export function removeStalePartials(final: string): string[] {
  const removed: string[] = []
  for (const p of stalePartials(final)) {
    try {
      unlinkSync(p)
      removed.push(p)
    } catch {
      // gone already, or not ours to remove: leave it
    }
  }
  return removed
}

/** fsync a file by path (after the writer closed its descriptor). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** fsync a directory so a rename in it survives a crash (best effort where directories cannot be opened). */
export function fsyncDir(dir: string): void {
  let fd: number
  try {
    fd = openSync(dir, 'r')
  } catch {
    return
  }
  try {
    fsyncSync(fd)
  } catch {
    // some file systems refuse fsync on directories
  } finally {
    closeSync(fd)
  }
}

/**
 * Make the complete temporary `tmp` the file `final`: fsync it, then
 * `rename` over `final` (overwrite: compaction replacing its own input) or
 * link it to `final` and unlink the temporary (no overwrite: `link` fails
 * atomically when `final` exists, where a check-then-rename would race).
 * Then fsync the directory. Throws MdrecError (E_EXISTS, E_IO); on failure the
 * temporary is removed.
 */
export function commitPartial(tmp: string, final: string, opts: {overwrite: boolean; flag?: string}): void {
  try {
    fsyncPath(tmp)
    if (opts.overwrite) {
      renameSync(tmp, final)
    } else {
      try {
        linkSync(tmp, final)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EEXIST') {
          throw new MdrecError('E_EXISTS', `${final}: already exists; mdrec never overwrites a file. Choose another path${opts.flag ? ` with ${opts.flag}` : ''}`)
        }
        // File systems without hard links: fall back to rename (no-clobber is then best effort).
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV') renameSync(tmp, final)
        else throw error
      }
      try {
        unlinkSync(tmp)
      } catch {
        // renamed above
      }
    }
  } catch (error) {
    discardPartial(tmp)
    if (error instanceof MdrecError) throw error
    throw fsError(error, final, 'renaming the finished file into place')
  }
  fsyncDir(dirname(final))
}

/** Remove a temporary (after a failure). Never throws. */
export function discardPartial(tmp: string): void {
  try {
    unlinkSync(tmp)
  } catch {
    // already gone
  }
}
