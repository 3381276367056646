/**
 * Turning command-line inputs into an ordered list of recordings.
 *
 * An input is a file, a directory (its `*.arrow` files, not recursive) or a
 * glob (`'a.*.arrow'`, expanded here when the shell did not: quoted, or on a
 * shell without globbing). The recordings are ordered as one timeline: the
 * rotated parts of one `mdrec record` run by `mdrec.run_id` and `mdrec.part`,
 * other files by their start time, then name.
 */
import {readdirSync, statSync} from 'node:fs'
import {isAbsolute, join} from 'node:path'
import {glob, isDynamicPattern} from 'tinyglobby'

import {MdrecError} from '../errors.js'
import {openRecording, recordingStartNs, type RecordingFile} from './reader.js'

/**
 * Expand inputs to file paths, in the order given (a directory's or a glob's
 * files by name), without duplicates. Throws E_USAGE for a glob or directory
 * that holds no recording, and the usual open errors (E_NOT_FOUND) for a
 * missing plain path (left to openRecording).
 */
export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = []
  const seen = new Set<string>()
  const add = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p)
      out.push(p)
    }
  }
  for (const input of inputs) {
    let st
    try {
      st = statSync(input)
    } catch {
      st = null
    }
    if (st?.isDirectory()) {
      const names = readdirSync(input)
        .filter((n) => n.endsWith('.arrow'))
        .sort()
      if (names.length === 0) throw new MdrecError('E_USAGE', `${input}: is a directory with no .arrow recording in it; give .arrow files, a directory holding them, or a glob`)
      for (const n of names) add(join(input, n))
      continue
    }
    if (!st && isDynamicPattern(input)) {
      const found = (await glob(input, {onlyFiles: true, expandDirectories: false, absolute: isAbsolute(input)})).sort()
      if (found.length === 0) throw new MdrecError('E_USAGE', `${input}: the pattern matches no file`)
      for (const p of found) add(p)
      continue
    }
    add(input) // a file, or a missing path openRecording reports
  }
  return out
}

/** Open every input (see expandInputs) and order them as one timeline (see orderRecordings). */
export async function openInputs(inputs: readonly string[]): Promise<RecordingFile[]> {
  const files: RecordingFile[] = []
  for (const p of await expandInputs(inputs)) files.push(await openRecording(p))
  return orderRecordings(files)
}

/**
 * Order recordings as one timeline: the files of a run together, by part;
 * runs and lone files by when they started, then by name. Throws E_USAGE
 * when two files claim the same part of the same run (e.g. a part and its
 * `.repaired` copy).
 */
export function orderRecordings(files: readonly RecordingFile[]): RecordingFile[] {
  const runStart = new Map<string, bigint>()
  const seenPart = new Map<string, string>()
  for (const f of files) {
    const id = f.meta.runId
    if (id === undefined) continue
    const s = recordingStartNs(f)
    const cur = runStart.get(id)
    if (cur === undefined || s < cur) runStart.set(id, s)
    const key = `${id}\0${f.meta.part ?? 0}`
    const other = seenPart.get(key)
    if (other !== undefined) {
      throw new MdrecError('E_USAGE', `${other} and ${f.path} are both part ${f.meta.part ?? 0} of run ${id}; give only one of them`)
    }
    seenPart.set(key, f.path)
  }
  const key = (f: RecordingFile) => ({
    start: f.meta.runId === undefined ? recordingStartNs(f) : runStart.get(f.meta.runId)!,
    run: f.meta.runId ?? '',
    part: f.meta.part ?? 0,
    own: recordingStartNs(f),
  })
  return [...files].sort((a, b) => {
    const x = key(a)
    const y = key(b)
    if (x.start !== y.start) return x.start < y.start ? -1 : 1
    if (x.run !== y.run) return x.run < y.run ? -1 : 1
    if (x.part !== y.part) return x.part - y.part
    if (x.own !== y.own) return x.own < y.own ? -1 : 1
    return a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  })
}

/**
 * Check that recordings can be read as one: the same feed and the same
 * columns. Throws E_USAGE naming the first file that differs.
 */
export function assertOneFeed(files: readonly RecordingFile[], what: string): void {
  const first = files[0]
  if (!first) return
  const sig = (f: RecordingFile) => f.columns.map((c) => `${c.name}:${JSON.stringify(c)}`).join('|')
  for (const f of files.slice(1)) {
    if (f.meta.feed !== first.meta.feed) {
      throw new MdrecError(
        'E_USAGE',
        `${first.path} (${first.meta.feed}) and ${f.path} (${f.meta.feed}) are recordings of different feeds; ${what} one feed at a time`,
      )
    }
    if (sig(f) !== sig(first)) {
      throw new MdrecError('E_USAGE', `${first.path} and ${f.path} have different columns; ${what} them separately`)
    }
  }
}

/** Recordings grouped into runs (files sharing mdrec.run_id), each in order; a file without a run id is its own group. */
export function groupRuns(ordered: readonly RecordingFile[]): RecordingFile[][] {
  const groups: RecordingFile[][] = []
  const byRun = new Map<string, RecordingFile[]>()
  for (const f of ordered) {
    const id = f.meta.runId
    if (id === undefined) {
      groups.push([f])
      continue
    }
    let g = byRun.get(id)
    if (!g) {
      byRun.set(id, (g = []))
      groups.push(g)
    }
    g.push(f)
  }
  return groups
}
