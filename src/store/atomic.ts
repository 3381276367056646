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
import {closeSync, fsyncSync, linkSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {MdrecError, fsError} from '../errors.js'

const SUFFIX = '.mdrec-partial'
const LEGACY_SUFFIX = '.compact-tmp'

/**
 * The temporary path this process writes `final` under, once `final` is
 * checked to be a path a file can be made at (checkDestination with
 * `overwrite`: its directory exists, and it is not a directory), so that an
 * error names `final`, the path the user gave, never the temporary.
 */
export function partialPath(final: string, flag = '--out'): string {
  checkDestination(final, {overwrite: true, flag})
  return `${final}.${process.pid}${SUFFIX}`
}

/**
 * The error for a new file at `final` where something is: a directory (give
 * a file name inside it) or a file (mdrec never overwrites one). `flag`: the
 * option that named it, for what to do.
 */
export function existsError(final: string, flag = '--out'): MdrecError {
  let dir = false
  try {
    dir = statSync(final).isDirectory()
  } catch {
    // gone again: say it existed
  }
  if (dir) return new MdrecError('E_IS_DIRECTORY', `${final}: is a directory; give ${flag} a file name, e.g. ${join(final, 'new.arrow')}`)
  return new MdrecError('E_EXISTS', `${final}: already exists; mdrec never overwrites a file. Choose another ${flag} path`)
}

/**
 * Check, before any work, that a file can be written at `final` (a path the
 * user gave with `flag`): its directory exists and is one, `final` is not a
 * directory, and unless `overwrite` no file is there (existsError). Every
 * error names `final` (not a temporary of it) and what to do.
 */
export function checkDestination(final: string, opts: {overwrite?: boolean; flag?: string} = {}): void {
  const flag = opts.flag ?? '--out'
  const dir = dirname(final)
  let there = true
  try {
    const st = statSync(final)
    if (st.isDirectory() || !opts.overwrite) throw existsError(final, flag)
  } catch (error) {
    if (error instanceof MdrecError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(error, final, 'checking the output path')
    there = false
  }
  if (there) return
  let st
  try {
    st = statSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new MdrecError('E_NOT_FOUND', `${final}: the directory ${dir} does not exist; create it or choose another ${flag} path`)
    if (code === 'ENOTDIR') throw new MdrecError('E_NOT_FOUND', `${final}: a parent of this path is not a directory; choose another ${flag} path`)
    throw fsError(error, final, 'checking the output path')
  }
  if (!st.isDirectory()) throw new MdrecError('E_NOT_FOUND', `${final}: ${dir} is not a directory; choose another ${flag} path`)
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
        if (code === 'EEXIST') throw existsError(final, opts.flag)
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

/**
 * Write `bytes` to the temporary of `final` (partialPath) and commit it
 * (commitPartial); on failure nothing is left, and the error names `final`
 * (`doing`: what for, e.g. 'writing a dataset file').
 */
export function writeAtomically(final: string, bytes: string | Uint8Array, doing: string, opts: {overwrite: boolean; flag?: string}): void {
  const tmp = partialPath(final, opts.flag)
  try {
    writeFileSync(tmp, bytes)
  } catch (error) {
    discardPartial(tmp)
    throw fsError(error, final, doing)
  }
  commitPartial(tmp, final, opts)
}

/** Remove a temporary (after a failure). Never throws. */
export function discardPartial(tmp: string): void {
  try {
    unlinkSync(tmp)
  } catch {
    // already gone
  }
}
