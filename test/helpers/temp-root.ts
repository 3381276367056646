/**
 * Vitest globalSetup: the run's temporary files go under one directory made
 * for the run (TMPDIR, which the test files' workers and every process a
 * test starts inherit), removed when the run ends. Tests make recordings of
 * a million rows, a gigabyte a run for some; a test that forgets to remove
 * its directory, or is killed before it can, would otherwise leave them in
 * the system's temporary directory for good.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** The prefix of a run's directory (test/temp-root.test.ts checks the run is inside one). */
export const RUN_DIR_PREFIX = 'mdrec-test-run-'

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX))
  const previous = process.env.TMPDIR
  process.env.TMPDIR = root
  return () => {
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    rmSync(root, {recursive: true, force: true})
  }
}
