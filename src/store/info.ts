import type * as A from 'apache-arrow'

import {MdrecError} from '../errors.js'
import {nsToIso} from '../util/time.js'
import {batchTimeRange} from './order.js'
import {checkFooter} from './footer.js'
import type {FooterBlock, FramedMessage} from './ipc.js'
import {readBatches, type RecordingFile, type StreamEnd, truncatedError} from './reader.js'
import {timestampAt} from './rows.js'
import type {RecordingMeta} from './schema.js'
import {COL} from './types.js'
import {parseGapInfo} from './gap.js'

export interface RecordingInfo {
  path: string
  formatVersion: number
  feed: string
  endpoint: string
  subscriptions: string[]
  toolVersion: string
  rawMode: string
  startTime: string
  /** The end time the metadata states (a closed file's last receive time); null for a file with no rows (a cut copy may state its original's). */
  endTime: string | null
  /** First and last receive times of the rows (ISO, ns). */
  firstRow: string | null
  lastRow: string | null
  /** lastRow - firstRow; null without rows. */
  durationMs: number | null
  rows: number
  rowsByKind: Record<string, number>
  rowsBySymbol: Record<string, number>
  /** Rows that carry their received payload in `raw`. */
  rawRows: number
  gaps: number
  gapMs: number
  rejects: number
  batches: number
  bytesOnDisk: number
  /** Body bytes before zstd / after (compressed buffers + headers). */
  uncompressedBytes: number
  /** uncompressedBytes / bytesOnDisk; null without data rows (a file of gap rows only, or none: the figure would describe the schema alone). */
  compressionRatio: number | null
  /** The end-of-stream marker is present (closed by the recorder). */
  complete: boolean
  /** The file begins with the IPC file magic (`ARROW1`): it was closed (compacted) once, so one without `complete`, or with a `problem`, was cut or damaged after, not left open by a recorder. */
  closedFile: boolean
  columns: string[]
  /** Where the file is damaged or cut (the summary counts the rows before it); absent when sound. */
  problem?: NonNullable<StreamEnd['problem']> & {path: string}
  /** A rotated run (several files sharing mdrec.run_id): its id. */
  runId?: string
  /** This file's index among its run's parts (mdrec.part). */
  part?: number
  /** A run's files, in order, each summarised (only for a run of several files). */
  parts?: RecordingInfo[]
}

/**
 * Scan a whole recording once (streaming) and summarise it. A damaged or cut
 * file is summarised up to the damage, which `problem` names (see
 * recordingProblem for the error to report).
 */
export async function recordingInfo(file: RecordingFile): Promise<RecordingInfo> {
  const meta: RecordingMeta = file.meta
  const byKind = new Map<string, number>()
  const bySym = new Map<string, number>()
  let rows = 0
  let rawRows = 0
  let first: bigint | null = null
  let last: bigint | null = null
  let gapMs = 0
  let uncompressed = 0
  let end: StreamEnd | undefined
  // the stream's message blocks, which a closed file's footer must list (checked below, as verify does)
  const dictionaries: FooterBlock[] = []
  const records: FooterBlock[] = []
  const onMessage = (f: FramedMessage, bytes: Uint8Array) => {
    uncompressed += bodyUncompressedBytes(f as Parameters<typeof bodyUncompressedBytes>[0], bytes)
    const b = {offset: f.offset, metaLength: f.metaLength, bodyLength: f.bodyLength}
    if (f.kind === 'record') records.push(b)
    else if (f.kind === 'dictionary') dictionaries.push(b)
  }
  for await (const {batch} of readBatches(file, {onMessage, onEnd: (e) => (end = e), onTruncated: 'stop'})) {
    const n = batch.numRows
    rows += n
    // the smallest and largest receive time of any row, whatever the order they are stored or arrived in
    const [t0, t1] = batchTimeRange(batch)
    if (first === null || t0 < first) first = t0
    if (last === null || t1 > last) last = t1
    countDict(batch.getChildAt(COL.symbol)!.data[0], bySym)
    const kinds = batch.getChildAt(COL.kind)!.data[0]
    countDict(kinds, byKind)
    const raw = batch.getChildAt(COL.raw)!.data[0]
    rawRows += n - raw.nullCount
    // gap durations from the info JSON of gap rows
    const kv = kinds.values as Int8Array
    const dict = kinds.dictionary as A.Vector<A.Utf8>
    const infoCol = batch.getChildAt(COL.info)!
    for (let i = 0; i < n; i++) {
      if (dict.get(kv[kinds.offset + i]) !== 'gap') continue
      // a gap row without details counts, without a duration
      gapMs += parseGapInfo(infoCol.get(i) as string | null).duration_ms ?? 0
    }
  }
  const e = end as StreamEnd | undefined
  // a closed file whose footer is missing, cut or wrong: every row is read, but verify calls it damaged, and so does info
  if (e?.eos && !e.problem && file.ipcFile) {
    const f = await checkFooter(file.path, file.sizeBytes, e.validEnd, file.storedSchema.fields.map((x) => x.name), dictionaries, records)
    if ('problem' in f) e.problem = f.problem
  }
  const headerAndBodies = file.sizeBytes
  return {
    path: file.path,
    formatVersion: meta.formatVersion,
    feed: meta.feed,
    endpoint: meta.endpoint,
    subscriptions: meta.subscriptions,
    toolVersion: meta.toolVersion,
    rawMode: meta.rawMode,
    startTime: meta.startTime,
    endTime: rows === 0 ? null : meta.endTime ?? null,
    firstRow: first === null ? null : nsToIso(first),
    lastRow: last === null ? null : nsToIso(last),
    durationMs: first === null || last === null ? null : Number(last - first) / 1e6,
    rows,
    rowsByKind: Object.fromEntries([...byKind].sort((a, b) => b[1] - a[1])),
    rowsBySymbol: Object.fromEntries([...bySym].sort((a, b) => b[1] - a[1])),
    rawRows,
    gaps: byKind.get('gap') ?? 0,
    gapMs,
    rejects: byKind.get('reject') ?? 0,
    batches: e?.batches ?? 0,
    bytesOnDisk: file.sizeBytes,
    uncompressedBytes: uncompressed,
    compressionRatio: hasData(rows, byKind.get('gap') ?? 0) && headerAndBodies > 0 ? uncompressed / headerAndBodies : null,
    complete: e?.eos ?? false,
    closedFile: file.ipcFile,
    columns: file.columns.map((c) => c.name),
    ...(e?.problem ? {problem: {path: file.path, ...e.problem}} : {}),
    ...(meta.runId === undefined ? {} : {runId: meta.runId}),
    ...(meta.part === undefined ? {} : {part: meta.part}),
  }
}

/** The error a damaged recording reports (the same one line `mdrec cat` gives), or null when sound. */
export function recordingProblem(info: RecordingInfo): MdrecError | null {
  const damaged = info.problem ? info : info.parts?.find((p) => p.problem)
  if (!damaged?.problem) return null
  return truncatedError(damaged.problem.path, {
    eos: false,
    validEnd: damaged.problem.offset,
    messages: 0,
    batches: damaged.batches,
    rows: damaged.rows,
    problem: (({path: _path, ...p}) => p)(damaged.problem),
  })
}

/**
 * The one error for the bad files among `total` given (`info`, `verify`):
 * one bad file's own error, or for several one line naming them all (each
 * one's report says where and why), with the first one's code.
 */
export function badFilesError(bad: ReadonlyArray<{path: string; error: MdrecError}>, total: number): MdrecError | null {
  if (bad.length === 0) return null
  if (bad.length === 1) return bad[0].error
  const paths = [...new Set(bad.map((b) => b.path))]
  return new MdrecError(
    bad[0].error.code,
    `${paths.length} of ${total} files are damaged or unreadable: ${paths.join(', ')}; each one's report says where and why`,
  )
}

/**
 * Summarise the files of one rotated run (in order) as one recording, with
 * each file's own summary in `parts`. One file: its summary as it is.
 */
export async function runInfo(files: readonly RecordingFile[]): Promise<RecordingInfo> {
  const parts: RecordingInfo[] = []
  for (const f of files) parts.push(await recordingInfo(f))
  if (parts.length === 1) return parts[0]
  const first = parts[0]
  const last = parts.at(-1)!
  const sum = (k: 'rows' | 'rawRows' | 'gaps' | 'gapMs' | 'rejects' | 'batches' | 'bytesOnDisk' | 'uncompressedBytes') =>
    parts.reduce((a, p) => a + p[k], 0)
  const merge = (k: 'rowsByKind' | 'rowsBySymbol') => {
    const m = new Map<string, number>()
    for (const p of parts) for (const [name, n] of Object.entries(p[k])) m.set(name, (m.get(name) ?? 0) + n)
    return Object.fromEntries([...m].sort((a, b) => b[1] - a[1]))
  }
  const firsts = parts.map((p) => p.firstRow).filter((t): t is string => t !== null)
  const lasts = parts.map((p) => p.lastRow).filter((t): t is string => t !== null)
  const firstRow = firsts.length ? firsts.reduce((a, b) => (b < a ? b : a)) : null
  const lastRow = lasts.length ? lasts.reduce((a, b) => (b > a ? b : a)) : null
  const bytes = sum('bytesOnDisk')
  const uncompressed = sum('uncompressedBytes')
  const problem = parts.find((p) => p.problem)?.problem
  return {
    ...first,
    endTime: [...parts].reverse().find((p) => p.endTime !== null)?.endTime ?? null,
    firstRow,
    lastRow,
    durationMs: firstRow && lastRow ? (Date.parse(lastRow) - Date.parse(firstRow)) : null,
    rows: sum('rows'),
    rowsByKind: merge('rowsByKind'),
    rowsBySymbol: merge('rowsBySymbol'),
    rawRows: sum('rawRows'),
    gaps: sum('gaps'),
    gapMs: sum('gapMs'),
    rejects: sum('rejects'),
    batches: sum('batches'),
    bytesOnDisk: bytes,
    uncompressedBytes: uncompressed,
    compressionRatio: hasData(sum('rows'), sum('gaps')) && bytes > 0 ? uncompressed / bytes : null,
    complete: parts.every((p) => p.complete),
    ...(problem ? {problem} : {}),
    parts,
  }
}

/** A recording holds data rows: rows other than the gap rows the recorder writes for an outage. */
export function hasData(rows: number, gaps: number): boolean {
  return rows > gaps
}

function countDict(data: A.Data, into: Map<string, number>): void {
  const dict = data.dictionary as A.Vector<A.Utf8>
  const counts = new Float64Array(dict.length)
  const v = data.values as Int32Array | Int8Array
  for (let i = 0; i < data.length; i++) counts[v[data.offset + i]]++
  for (let k = 0; k < counts.length; k++) {
    if (counts[k] === 0) continue
    const s = dict.get(k) ?? ''
    into.set(s, (into.get(s) ?? 0) + counts[k])
  }
}

/** Uncompressed size of a batch body: the sum of its buffers' stated lengths. */
function bodyUncompressedBytes(
  framed: {metaLength: number; bodyLength: number; message: import('apache-arrow/ipc/metadata/message').Message | null},
  bytes: Uint8Array,
): number {
  const m = framed.message
  if (!m) return bytes.byteLength
  const header = m.isDictionaryBatch() ? m.header().data : m.isRecordBatch() ? m.header() : null
  if (!header) return bytes.byteLength
  if (header.compression == null) return bytes.byteLength
  let total = framed.metaLength
  const body = bytes.subarray(framed.metaLength)
  for (const r of header.buffers) {
    const len = Number(r.length)
    if (len < 8) continue
    const v = new DataView(body.buffer, body.byteOffset + Number(r.offset), 8).getBigInt64(0, true)
    total += v === -1n ? len - 8 : Number(v)
  }
  return total
}
