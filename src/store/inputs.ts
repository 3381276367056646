/**
 * Turning command-line inputs into an ordered list of recordings.
 *
 * An input is a file, a directory (its `*.arrow` files, not recursive) or a
 * glob (`'a.*.arrow'`, expanded here when the shell did not: quoted, or on a
 * shell without globbing). The recordings are ordered as one timeline: the
 * rotated parts of one `mdrec record` run by `mdrec.run_id` and `mdrec.part`,
 * other files by their start time, then name.
 */
import {distance} from 'fastest-levenshtein'
import type * as A from 'apache-arrow'
import {readdirSync, realpathSync, statSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {glob, isDynamicPattern} from 'tinyglobby'

import {MdrecError, type MdrecErrorCode} from '../errors.js'
import {inputGlobOptions} from '../util/glob.js'
import {nsToIso} from '../util/time.js'
import {type TimeSpec, plural, resolveTimeSpec} from '../util/units.js'
import {batchTimeRange} from './order.js'
import {openRecording, readBatches, recordingStartNs, type RecordingFile} from './reader.js'
import {COL} from './types.js'

/**
 * Expand inputs to file paths, in the order given (a directory's or a glob's
 * files by name), without duplicates (one file named twice, however spelled,
 * is read once). Throws E_NOT_FOUND (exit 1, as for a
 * missing plain path, which is left to openRecording) for a glob or directory
 * that holds no recording.
 */
export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = []
  const seen = new Set<string>()
  // the same file however it is spelled (a.arrow, ./a.arrow, a symlink to it): read once
  const add = (p: string) => {
    let key: string
    try {
      key = realpathSync(p)
    } catch {
      key = resolve(p) // missing: openRecording reports it
    }
    if (!seen.has(key)) {
      seen.add(key)
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
      if (names.length === 0) throw new MdrecError('E_NOT_FOUND', `${input}: is a directory with no .arrow recording in it; give .arrow files, a directory holding them, or a glob`)
      for (const n of names) add(join(input, n))
      continue
    }
    if (!st && isDynamicPattern(input)) {
      const found = (await glob(input, inputGlobOptions(input))).sort()
      if (found.length === 0) throw new MdrecError('E_NOT_FOUND', `${input}: the pattern matches no file`)
      for (const p of found) add(p)
      continue
    }
    add(input) // a file, or a missing path openRecording reports
  }
  return out
}

/** Open every input (see expandInputs) and order them as one timeline (see orderRecordings). */
/** Why a file given is not a recording mdrec can read at all (not Arrow, no mdrec metadata, a newer format, empty, a damaged schema). */
export interface Unreadable {
  code: MdrecErrorCode
  message: string
}

/**
 * The {@link Unreadable} `error` says of one file, or null when it is another
 * error (a missing path, I/O): such a file says nothing of the other files
 * given, so `info` and `verify` report it and go on with the rest.
 */
export function unreadableOf(error: unknown): Unreadable | null {
  const codes: readonly MdrecErrorCode[] = ['E_NOT_ARROW', 'E_NOT_RECORDING', 'E_FORMAT_VERSION', 'E_EMPTY_FILE', 'E_CORRUPT', 'E_TRUNCATED']
  return error instanceof MdrecError && codes.includes(error.code) ? {code: error.code, message: error.message} : null
}

/** `<path>: UNREADABLE: <why>`, the line `info` and `verify` print for such a file. */
export function unreadableLine(path: string, u: Unreadable): string {
  return `${path}: UNREADABLE: ${u.message.replace(`${path}: `, '')}`
}

/**
 * Open the recordings `inputs` name (files, directories, globs), ordered as
 * one timeline (see orderRecordings). With `onUnreadable`, a file that is not
 * a readable recording ({@link unreadableOf}) is handed to it and left out;
 * without, its error is thrown.
 */
export async function openInputs(inputs: readonly string[], onUnreadable?: (path: string, u: Unreadable) => void): Promise<RecordingFile[]> {
  const files: RecordingFile[] = []
  for (const p of await expandInputs(inputs)) {
    try {
      files.push(await openRecording(p))
    } catch (error) {
      const u = onUnreadable ? unreadableOf(error) : null
      if (u === null) throw error
      onUnreadable!(p, u)
    }
  }
  return orderRecordings(files)
}

/**
 * Order recordings as one timeline: the files of a run together, by part;
 * runs and lone files by when they started, then by name. Throws
 * E_MIXED_INPUTS (exit 1) when two files claim the same part of the same
 * run (e.g. a part and its `.repaired` copy).
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
      const repaired = [other, f.path].find((x) => x.endsWith('.repaired.arrow'))
      const hint = repaired === undefined ? '' : ` (${repaired} is verify --repair's copy: keep it and move the original away, or give the files by name)`
      throw new MdrecError('E_MIXED_INPUTS', `${other} and ${f.path} are both part ${f.meta.part ?? 0} of run ${id}; give only one of them${hint}`)
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
 * columns. Throws E_MIXED_INPUTS (exit 1: bad input, not a bad command line)
 * naming the first file and the first that differs, with their feeds.
 * `what` is the verb for the advice (`print` → "print one feed at a time").
 */
export function assertOneFeed(files: readonly RecordingFile[], what: string): void {
  const first = files[0]
  if (!first) return
  const sig = (f: RecordingFile) => f.columns.map((c) => `${c.name}:${JSON.stringify(c)}`).join('|')
  for (const f of files.slice(1)) {
    if (f.meta.feed !== first.meta.feed) {
      throw new MdrecError(
        'E_MIXED_INPUTS',
        `${first.path} (${first.meta.feed}) and ${f.path} (${f.meta.feed}) are recordings of different feeds; ${what} one feed at a time`,
      )
    }
    if (sig(f) !== sig(first)) {
      throw new MdrecError('E_MIXED_INPUTS', `${first.path} and ${f.path} have different columns; ${what} them separately`)
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

/** A selection of rows: receive times in [from, to) (ns since the epoch) and symbols (none: all). */
export interface RowFilter {
  from?: bigint
  to?: bigint
  symbols?: readonly string[]
}

/**
 * The origin of `+offset` times for recordings read as one: the earliest
 * start time in their metadata (ns since the epoch), or null when none has
 * one. For a run's rotated parts that is the first part's start.
 */
export function runStartNs(files: readonly RecordingFile[]): bigint | null {
  let start: bigint | null = null
  for (const f of files) {
    const s = recordingStartNs(f)
    if (s !== 0n && (start === null || s < start)) start = s
  }
  return start
}

/**
 * Resolve `--from`/`--to` (ISO-8601, or `+offset` from `runStartNs(files)`)
 * to ns since the epoch; every command and the replay engine resolve them
 * here, so an offset means the same instant everywhere. A bigint is taken as
 * already resolved. Throws E_USAGE (exit 2) for an offset when no recording
 * has a start time, and when --from is not before --to: the range
 * [from, to) would be empty whatever the recording holds.
 */
export function resolveRange(
  from: TimeSpec | bigint | undefined,
  to: TimeSpec | bigint | undefined,
  files: readonly RecordingFile[],
): {from?: bigint; to?: bigint} {
  let start: bigint | null | undefined
  const resolve = (name: string, v: TimeSpec | bigint | undefined): bigint | undefined => {
    if (v === undefined || typeof v === 'bigint') return v
    if (v.kind === 'offset') {
      if (start === undefined) start = runStartNs(files)
      if (start === null) throw new MdrecError('E_USAGE', `--${name} +offset: the recording has no start time in its metadata; give an ISO-8601 time`)
    }
    return resolveTimeSpec(v, start ?? 0n)
  }
  const f = resolve('from', from)
  const t = resolve('to', to)
  if (f !== undefined && t !== undefined && f >= t) {
    const how = f === t ? 'is the same time as' : 'is after'
    throw new MdrecError('E_USAGE', `--from ${nsToIso(f)} ${how} --to ${nsToIso(t)}: --to must be after --from`)
  }
  return {from: f, to: t}
}

/** What a set of recordings holds: rows, first and last receive time (ns), symbols. */
export interface RecordingSpan {
  rows: number
  first: bigint | null
  last: bigint | null
  symbols: Set<string>
}

/**
 * Scan recordings (streaming, every batch; a damaged tail ends the scan
 * quietly) for their span and symbols. Reads only the receive-time column
 * and the symbol dictionaries.
 */
export async function recordingSpan(files: readonly RecordingFile[]): Promise<RecordingSpan> {
  const span: RecordingSpan = {rows: 0, first: null, last: null, symbols: new Set()}
  for (const f of files) {
    for await (const {batch} of readBatches(f, {onTruncated: 'stop'})) {
      const n = batch.numRows
      const [t0, t1] = batchTimeRange(batch) // every row: receive times need not increase in arrival order
      if (span.first === null || t0 < span.first) span.first = t0
      if (span.last === null || t1 > span.last) span.last = t1
      span.rows += n
      const dict = batch.getChildAt(COL.symbol)!.data[0].dictionary as A.Vector<A.Utf8> | undefined
      if (dict) for (let k = 0; k < dict.length; k++) span.symbols.add(dict.get(k) ?? '')
    }
  }
  return span
}

/**
 * Which of the symbols asked for (`-s`) the rows handed out so far hold:
 * `missing()` are those without a row, to be named on stderr when others
 * had rows (a misspelling among several; when none had, whyNoRows says it
 * all). Looks at a batch's rows only while some symbol is still missing.
 */
export class SymbolsSeen {
  private readonly left: Set<string>

  constructor(wanted: readonly string[] | undefined) {
    this.left = new Set(wanted ?? [])
  }

  /** Note the rows `idx` of `batch` (null: all of them). */
  add(batch: A.RecordBatch, idx: ArrayLike<number> | null): void {
    if (this.left.size === 0) return
    const d = batch.getChildAt(COL.symbol)!.data[0]
    const dict = d.dictionary as A.Vector<A.Utf8>
    const v = d.values as Int32Array
    const hit = new Uint8Array(dict.length)
    const n = idx ? idx.length : d.length
    for (let k = 0; k < n; k++) hit[v[d.offset + (idx ? idx[k] : k)]] = 1
    for (let k = 0; k < hit.length; k++) if (hit[k]) this.left.delete(dict.get(k) ?? '')
  }

  missing(): string[] {
    return [...this.left]
  }
}

/**
 * Symbols of `have` close to `want`: a case-insensitive match first, else
 * those within an edit distance of 2 (nearest first, at most 3).
 */
export function closeSymbols(want: string, have: Iterable<string>): string[] {
  const all = [...have].filter((s) => s !== '')
  const ci = all.filter((s) => s.toLowerCase() === want.toLowerCase())
  if (ci.length) return ci
  const near = all
    .map((s) => ({s, d: distance(want.toUpperCase(), s.toUpperCase())}))
    .filter((x) => x.d <= 2)
    .sort((a, b) => a.d - b.d || (a.s < b.s ? -1 : 1))
  return near.slice(0, 3).map((x) => x.s)
}

/** `it has 8 symbols: AAPL, AMD, …`: the first ten of `have` in order, for a note on a symbol not found (`noun`: the feed's word for a symbol). */
export function heldSymbolsText(have: Iterable<string>, noun = 'symbol'): string {
  const all = [...have].filter((s) => s !== '').sort()
  return `it has ${plural(all.length, noun)}: ${all.slice(0, 10).join(', ')}${all.length > 10 ? ', …' : ''}`
}

/**
 * The note for a selection where some of the symbols asked for have rows and
 * others have none (a misspelling among several): `no rows for ZZZ: symbol ZZZ
 * is not in the recording (…)`, naming only those, so it does not read as if
 * nothing was selected. `missing` are the symbols without a row.
 */
export async function missingSymbolsNote(files: readonly RecordingFile[], filter: RowFilter, missing: readonly string[]): Promise<string> {
  return `no rows for ${missing.join(', ')}: ${await whyNoRows(files, {...filter, symbols: [...missing]})}`
}

/**
 * Why `filter` selects no row of `files`, as one line for stderr: the
 * recording is empty; a symbol is not in it (with close matches: `aapl` →
 * `did you mean AAPL?`); the range is after or before the recording's span,
 * or falls in it without a row. Scans the files once (recordingSpan).
 */
export async function whyNoRows(files: readonly RecordingFile[], filter: RowFilter): Promise<string> {
  const span = await recordingSpan(files)
  if (span.rows === 0 || span.first === null || span.last === null) return `${files.length > 1 ? 'the recordings hold' : 'the recording holds'} no rows`
  const spans = `the recording spans ${nsToIso(span.first)} → ${nsToIso(span.last)}`
  const reasons: string[] = []
  const wanted = filter.symbols?.length ? filter.symbols : undefined
  const present = wanted?.filter((s) => span.symbols.has(s)) ?? []
  for (const s of wanted ?? []) {
    if (span.symbols.has(s)) continue
    const near = closeSymbols(s, span.symbols)
    const hint = near.length
      ? `did you mean ${near.join(' or ')}?`
      : heldSymbolsText(span.symbols)
    reasons.push(`symbol ${s} is not in the recording (symbols match exactly; ${hint})`)
  }
  if (!wanted || present.length) {
    const of = present.length ? ` of ${present.join(', ')}` : ''
    if (filter.from !== undefined && filter.from > span.last) {
      reasons.push(`--from ${nsToIso(filter.from)} is after the recording's last row (${spans})`)
    } else if (filter.to !== undefined && filter.to <= span.first) {
      reasons.push(`--to ${nsToIso(filter.to)} is before the recording's first row (${spans})`)
    } else if (filter.from !== undefined || filter.to !== undefined) {
      const range = `[${filter.from === undefined ? 'start' : nsToIso(filter.from)}, ${filter.to === undefined ? 'end' : nsToIso(filter.to)})`
      reasons.push(`no row${of} was received in ${range} (${spans})`)
    }
  }
  return reasons.length ? reasons.join('; ') : `no row matches (${spans})`
}
