/**
 * Where things live in a dataset directory (docs/DATASETS.md):
 *
 *   DIR/feed=<feed>/date=<YYYY-MM-DD>/[symbol=<symbol>/]<host>.<run>.<first seq>-<last seq>.parquet
 *   DIR/_mdrec/runs/<run>.json    what of each run is exported (the manifest)
 *   DIR/_mdrec/runs/<run>.lock    held while one process exports that run
 *
 * Partition values are escaped the way Hive, Spark and pyarrow escape them
 * (percent-encoding of every byte outside `A-Z a-z 0-9 . _ -`), and the empty
 * symbol of gap and reject rows is Hive's null partition
 * `__HIVE_DEFAULT_PARTITION__`.
 */
import {createHash} from 'node:crypto'
import {hostname} from 'node:os'
import {join} from 'node:path'

import type {RecordingFile} from '../store/reader.js'

export const NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__'

/** A partition value as a path segment (Hive escaping; '' → the null partition). */
export function escapePartition(value: string): string {
  if (value === '') return NULL_PARTITION
  let out = ''
  for (const b of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(b)
    out += /[A-Za-z0-9._-]/.test(c) && b < 0x80 ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  // '.' and '..' are not directory names we may create
  return out === '.' || out === '..' ? out.replaceAll('.', '%2E') : out
}

/** This machine's name as it appears in file names: letters, digits and `-` only. */
export function hostLabel(host = hostname()): string {
  const s = host.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '')
  return s === '' ? 'host' : s.slice(0, 63)
}

/**
 * The key a recording's rows are known by in the dataset: its `mdrec.run_id`
 * (every part of a run, a live file and its closed or repaired self share
 * it, and `seq` numbers the run's rows), or, for a file that is not a
 * recorder's own (a `slice` output numbers its rows anew; files of old
 * versions have no run id), a hash of its metadata without the keys that
 * change when a file is closed.
 */
export function runKey(file: RecordingFile): string {
  const m = file.meta
  if (m.runId !== undefined && m.derivedFrom === undefined && /^[A-Za-z0-9-]{1,64}$/.test(m.runId)) return m.runId
  const stable = [...file.schema.metadata.entries()].filter(([k]) => k !== 'mdrec.end_time' && k !== 'mdrec.rows').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `x${createHash('sha256').update(JSON.stringify(stable)).digest('hex').slice(0, 32)}`
}

/** The UTC day of a time in ns since the epoch, as YYYY-MM-DD. */
export function utcDate(dayNumber: number): string {
  return new Date(dayNumber * 86_400_000).toISOString().slice(0, 10)
}

export const NS_PER_DAY = 86_400_000_000_000n

/** The partition directory (relative to the dataset root). */
export function partitionDir(feed: string, day: number, symbol: string | undefined): string {
  const parts = [`feed=${escapePartition(feed)}`, `date=${utcDate(day)}`]
  if (symbol !== undefined) parts.push(`symbol=${escapePartition(symbol)}`)
  return join(...parts)
}

const pad = (n: bigint) => n.toString().padStart(12, '0')

/** A data file's name: who wrote it (host), which run, and the seq range of the export step that wrote it. */
export function dataFileName(host: string, run: string, first: bigint, last: bigint): string {
  return `${host}.${run}.${pad(first)}-${pad(last)}.parquet`
}

export const META_DIR = join('_mdrec', 'runs')
