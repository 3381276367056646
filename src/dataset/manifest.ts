/**
 * A run's manifest, `DIR/_mdrec/runs/<run>.json`: which `seq` ranges of the
 * run are in the dataset, the run's metadata, and the step in progress.
 *
 * An export step writes the data files of one range of rows, then records
 * the range. Before writing any file it records the step as `pending` with
 * the files it will write; a later export that finds a pending step (the
 * process was killed) removes those files before anything else, so rows are
 * never in the dataset twice. The manifest itself is replaced atomically
 * (src/store/atomic.ts). One process exports a run at a time: it holds
 * `<run>.lock` (created exclusively; a lock left by a dead process on this
 * host is taken over).
 */
import {existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {MdrecError, fsError} from '../errors.js'
import {removeStalePartials, writeAtomically} from '../store/atomic.js'
import {META_DIR} from './layout.js'

export const MANIFEST_VERSION = 1

export interface RunManifest {
  mdrec_dataset: number
  /** The run key (layout.runKey). */
  run: string
  feed: string
  /** The run's recording metadata (`mdrec.*` keys), latest seen (a closed file's has `mdrec.end_time`). */
  metadata: Record<string, string>
  /** Exported `seq` ranges, inclusive, sorted and merged, as decimal strings (uint64). */
  exported: [string, string][]
  /** Rows and data files exported so far. */
  rows: number
  files: number
  /** Hosts that wrote the run's files. */
  hosts: string[]
  /** The step in progress: its range and the files (relative to the dataset root) it writes. */
  pending: {seq: [string, string]; files: string[]} | null
  updated: string
}

export function manifestPath(root: string, run: string): string {
  return join(root, META_DIR, `${run}.json`)
}

export function loadManifest(root: string, run: string, feed: string): RunManifest {
  const path = manifestPath(root, run)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {mdrec_dataset: MANIFEST_VERSION, run, feed, metadata: {}, exported: [], rows: 0, files: 0, hosts: [], pending: null, updated: ''}
    }
    throw fsError(error, path, 'reading the dataset manifest')
  }
  let m: RunManifest
  try {
    m = JSON.parse(text) as RunManifest
  } catch (error) {
    throw new MdrecError('E_CORRUPT', `${path}: not a valid mdrec dataset manifest (${(error as Error).message}); it records what of run ${run} is exported: restore it, or remove the run's files and it to export the run again`)
  }
  if (!(m.mdrec_dataset >= 1) || !Array.isArray(m.exported)) {
    throw new MdrecError('E_CORRUPT', `${path}: not a valid mdrec dataset manifest (no mdrec_dataset version or exported ranges)`)
  }
  if (m.mdrec_dataset > MANIFEST_VERSION) {
    throw new MdrecError('E_FORMAT_VERSION', `${path}: written by a newer mdrec (dataset manifest version ${m.mdrec_dataset}); upgrade mdrec to export into this dataset`)
  }
  if (m.feed !== feed) throw new MdrecError('E_USAGE', `${path}: run ${run} is a ${m.feed} recording in this dataset, but the input is ${feed}`)
  return m
}

/** Replace the manifest atomically. */
export function saveManifest(root: string, m: RunManifest): void {
  const path = manifestPath(root, m.run)
  m.updated = new Date().toISOString()
  writeAtomically(path, `${JSON.stringify(m, null, 1)}\n`, 'writing the dataset manifest', {overwrite: true})
}

/** Merge [a, b] into sorted, merged inclusive ranges. */
export function addRange(ranges: [string, string][], a: bigint, b: bigint): [string, string][] {
  const all = [...ranges.map(([x, y]) => [BigInt(x), BigInt(y)] as [bigint, bigint]), [a, b] as [bigint, bigint]].sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0))
  const out: [bigint, bigint][] = []
  for (const r of all) {
    const last = out.at(-1)
    if (last && r[0] <= last[1] + 1n) {
      if (r[1] > last[1]) last[1] = r[1]
    } else out.push([r[0], r[1]])
  }
  return out.map(([x, y]) => [x.toString(), y.toString()])
}

/** Parsed ranges, for the per-row check. */
export function parseRanges(ranges: [string, string][]): {from: bigint[]; to: bigint[]} {
  return {from: ranges.map((r) => BigInt(r[0])), to: ranges.map((r) => BigInt(r[1]))}
}

/**
 * Undo a step a killed export left: remove the files it may have written
 * (whole or as temporaries of a dead process) and clear it. Returns the
 * number of files removed.
 */
export function rollBackPending(root: string, m: RunManifest): number {
  if (!m.pending) return 0
  let removed = 0
  for (const rel of m.pending.files) {
    const final = join(root, rel)
    removed += removeStalePartials(final).length
    try {
      unlinkSync(final)
      removed++
    } catch {
      // never written
    }
  }
  m.pending = null
  saveManifest(root, m)
  return removed
}

/**
 * The dataset's layout, `DIR/_mdrec/dataset.json` (`{"mdrec_dataset": 1,
 * "partitioning": ["feed", "date"(, "symbol")]}`), written by the first
 * export: every later one must use the same partitioning, since engines
 * read a Hive dataset whose directories nest the same way throughout.
 * Throws E_USAGE naming the dataset's partitioning otherwise.
 */
export function checkLayout(root: string, bySymbol: boolean): void {
  const want = bySymbol ? ['feed', 'date', 'symbol'] : ['feed', 'date']
  const dir = join(root, '_mdrec')
  const path = join(dir, 'dataset.json')
  try {
    mkdirSync(dir, {recursive: true})
    writeFileSync(path, `${JSON.stringify({mdrec_dataset: MANIFEST_VERSION, partitioning: want})}\n`, {flag: 'wx'})
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(error, path, 'writing the dataset layout')
  }
  let have: unknown
  try {
    have = (JSON.parse(readFileSync(path, 'utf8')) as {partitioning?: unknown}).partitioning
  } catch (error) {
    throw new MdrecError('E_CORRUPT', `${path}: not a valid mdrec dataset layout (${(error as Error).message})`)
  }
  if (JSON.stringify(have) !== JSON.stringify(want)) {
    const has = Array.isArray(have) && have.includes('symbol')
    throw new MdrecError(
      'E_USAGE',
      `${root}: this dataset is partitioned by ${Array.isArray(have) ? have.join('/') : String(have)}; export into it ${has ? 'with' : 'without'} --partition-symbol (or into another directory)`,
    )
  }
}

export interface RunLock {
  release(): void
}

/**
 * Take `<run>.lock` in the dataset. Throws E_EXISTS when another live
 * process (or a process on another host) holds it.
 */
export function lockRun(root: string, run: string): RunLock {
  const dir = join(root, META_DIR)
  try {
    mkdirSync(dir, {recursive: true})
  } catch (error) {
    throw fsError(error, dir, 'creating the dataset directory')
  }
  const path = join(dir, `${run}.lock`)
  const me = {host: hostname(), pid: process.pid}
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(me), {flag: 'wx'})
      return {
        release: () => {
          try {
            unlinkSync(path)
          } catch {
            // already gone
          }
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(error, path, 'locking the run in the dataset')
    }
    let holder: {host?: string; pid?: number} = {}
    try {
      holder = JSON.parse(readFileSync(path, 'utf8')) as typeof holder
    } catch {
      // a lock being written, or garbage: treated as held below unless stale
    }
    const sameHost = holder.host === me.host
    if (sameHost && typeof holder.pid === 'number' && holder.pid !== process.pid && !alive(holder.pid) && existsSync(path)) {
      try {
        unlinkSync(path)
      } catch {
        // someone else took it over first
      }
      continue
    }
    throw new MdrecError(
      'E_EXISTS',
      `${path}: run ${run} is being exported by another process (pid ${holder.pid ?? '?'} on ${holder.host ?? '?'}); wait for it to finish${sameHost ? '' : `, or remove the lock if that process on ${holder.host ?? 'that host'} no longer runs`}`,
    )
  }
  throw new MdrecError('E_EXISTS', `${path}: could not take the lock of run ${run}; try again`)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
