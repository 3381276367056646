import {spawnSync} from 'node:child_process'
import {basename, dirname} from 'node:path'
import {tmpdir} from 'node:os'
import {describe, expect, it} from 'vitest'

import {RUN_DIR_PREFIX} from './helpers/temp-root.js'

describe('test runs keep their temporary files in a directory of their own', () => {
  it('tmpdir() is the run directory, in this worker and in the processes tests start', () => {
    const dir = tmpdir()
    expect(basename(dir).startsWith(RUN_DIR_PREFIX)).toBe(true)
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(require("node:os").tmpdir())'], {encoding: 'utf8'})
    expect(child.stdout).toBe(dir)
    // the run directory sits in the system's temporary directory, removed with the run (globalSetup's teardown)
    expect(basename(dirname(dir))).not.toMatch(new RegExp(`^${RUN_DIR_PREFIX}`))
  })
})
