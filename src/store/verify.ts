import {basename, dirname, extname, join} from 'node:path'

import {checkDestination} from './atomic.js'
import type {FooterBlock} from './ipc.js'
import {checkFooter} from './footer.js'
import {openRecording, readBatches, type StreamEnd} from './reader.js'
import {rewriteRecording} from './rewrite.js'

export interface VerifyResult {
  path: string
  ok: boolean
  /** The end-of-stream marker is present (the recorder closed the file). */
  complete: boolean
  sizeBytes: number
  messages: number
  batches: number
  /** Rows in complete, sound batches. */
  rowsIntact: number
  /** Offset just past the last sound message (in a closed v2 file with a sound footer: the file's end). */
  validBytes: number
  /** The first byte of the first bad message, why, and E_TRUNCATED (the file ends inside it) or E_CORRUPT. */
  problem?: {offset: number; reason: string; code: 'E_TRUNCATED' | 'E_CORRUPT'}
  /** Bytes after the end-of-stream marker (a v2 file: after the footer), ignored by readers. */
  trailingBytes?: number
  /** The file is an Arrow IPC file (a closed format-v2 recording): magic, stream, footer. */
  ipcFile: boolean
}

/**
 * Check every message of a recording by reading it exactly as `cat`, `info`
 * and `replay` do (readBatches: framing, verified metadata, every length
 * against the file and the limits, zstd frames and checksums, offsets,
 * dictionary indices): what verify calls sound, every reader reads in full,
 * and `rowsIntact` is what they read before the first bad message.
 * Throws the MdrecError of openRecording when the schema itself is bad.
 */
export async function verifyRecording(path: string): Promise<VerifyResult> {
  const file = await openRecording(path)
  let end: StreamEnd | undefined
  const dictionaries: FooterBlock[] = []
  const records: FooterBlock[] = []
  const onMessage = (f: {kind: string; offset: number; metaLength: number; bodyLength: number}) => {
    const b = {offset: f.offset, metaLength: f.metaLength, bodyLength: f.bodyLength}
    if (f.kind === 'record') records.push(b)
    else if (f.kind === 'dictionary') dictionaries.push(b)
  }
  for await (const b of readBatches(file, {onTruncated: 'stop', onEnd: (e) => (end = e), onMessage, recycle: true})) void b
  const e = end as unknown as StreamEnd
  const ipcFile = file.ipcFile
  let footerEnd = e.validEnd
  if (ipcFile && e.eos && !e.problem) {
    const f = await checkFooter(path, file.sizeBytes, e.validEnd, file.storedSchema.fields.map((x) => x.name), dictionaries, records)
    if ('problem' in f) e.problem = f.problem
    else footerEnd = f.end
  }
  const res: VerifyResult = {
    path,
    ok: !e.problem,
    complete: e.eos,
    sizeBytes: file.sizeBytes,
    messages: e.messages,
    batches: e.batches,
    rowsIntact: e.rows,
    validBytes: footerEnd,
    problem: e.problem,
    ipcFile,
  }
  if (e.eos && !e.problem && footerEnd < file.sizeBytes) res.trailingBytes = file.sizeBytes - footerEnd
  return res
}


export function defaultRepairPath(path: string): string {
  const ext = extname(path)
  return join(dirname(path), `${basename(path, ext)}.repaired${ext || '.arrow'}`)
}

/**
 * Write a valid copy of `path` holding every complete, sound batch, as a
 * closed format-version-2 recording (the IPC file format, with its footer;
 * rows clustered by shape and symbol inside each batch, `seq` kept; see
 * rewriteRecording). The original is not touched; `out` must not exist
 * (E_EXISTS; a directory: E_IS_DIRECTORY) and its directory must (E_NOT_FOUND).
 * When no row is intact there is nothing to recover: no copy is written
 * (a 0-row file would only look like a recording), and the result has no `out`.
 * `checked`: the verifyRecording result of `path`, when the caller has it
 * (verify prints its report before repairing). `written`: what the copy holds.
 */
export async function repairRecording(path: string, out = defaultRepairPath(path), checked?: VerifyResult): Promise<VerifyResult & {out?: string; written?: Written}> {
  const v = checked ?? (await verifyRecording(path))
  if (v.rowsIntact === 0) return v
  checkDestination(out, {flag: '--out'})
  const w = await rewriteRecording(path, out, {overwrite: false, tolerant: true, flag: '--out'})
  return {...v, out, written: {rows: w.rows, batches: w.batches, bytes: w.bytes}}
}

/** What a repair wrote: the copy's rows, batches (it is rewritten as a few large batches) and size. */
export interface Written {
  rows: number
  batches: number
  bytes: number
}
