import {existsSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {basename, dirname, extname, join} from 'node:path'

import {MdrecError, fsError} from '../errors.js'
import {BadMessage, FILE_TRAILER_BYTES, decodeFooter, isFileMagic, type FooterBlock} from './ipc.js'
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
  const ipcFile = await startsWithMagic(path)
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

async function startsWithMagic(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch((error) => {
    throw fsError(error, path, 'verifying a recording')
  })
  try {
    const b = Buffer.alloc(8)
    const {bytesRead} = await fh.read(b, 0, 8, 0)
    return isFileMagic(b.subarray(0, bytesRead))
  } finally {
    await fh.close()
  }
}

/**
 * Check the footer of an IPC file whose stream (sound, with its end marker)
 * ends at `streamEnd`: the trailing int32 length and `ARROW1`, the footer
 * flatbuffer (verified like every message's metadata), its schema's columns,
 * and that its dictionary and record batch blocks are exactly the messages
 * the stream holds (a random-access reader reads what the stream reader
 * reads). Returns the footer's end, or the problem (`E_TRUNCATED` when the
 * footer is missing or cut, `E_CORRUPT` when it is wrong).
 */
async function checkFooter(
  path: string,
  size: number,
  streamEnd: number,
  fields: string[],
  dictionaries: FooterBlock[],
  records: FooterBlock[],
): Promise<{end: number} | {problem: NonNullable<VerifyResult['problem']>}> {
  const problem = (reason: string, code: 'E_TRUNCATED' | 'E_CORRUPT' = 'E_CORRUPT') => ({
    problem: {offset: streamEnd, reason: `the footer after the end-of-stream marker (byte ${streamEnd}): ${reason}`, code},
  })
  const tail = size - streamEnd
  if (tail < FILE_TRAILER_BYTES) return problem(`missing or cut short (${tail} bytes after the end-of-stream marker)`, 'E_TRUNCATED')
  const fh = await open(path, 'r').catch((error) => {
    throw fsError(error, path, 'verifying a recording')
  })
  try {
    const trailer = Buffer.alloc(FILE_TRAILER_BYTES)
    await fh.read(trailer, 0, FILE_TRAILER_BYTES, size - FILE_TRAILER_BYTES)
    if (!isFileMagic(trailer.subarray(4))) return problem('the file does not end with ARROW1 (missing or cut short)', 'E_TRUNCATED')
    const len = trailer.readInt32LE(0)
    if (!(len > 0 && len <= tail - FILE_TRAILER_BYTES)) return problem(`its stated length ${len} does not fit the ${tail - FILE_TRAILER_BYTES} bytes before the trailer`)
    const at = size - FILE_TRAILER_BYTES - len
    const b = Buffer.alloc(len)
    await fh.read(b, 0, len, at)
    let f
    try {
      f = decodeFooter(b)
    } catch (error) {
      if (!(error instanceof BadMessage)) throw error
      return problem(error.message)
    }
    if (f.fields.join('\0') !== fields.join('\0')) return problem(`its schema's ${f.fields.length} columns differ from the stream's ${fields.length}`)
    const same = (a: FooterBlock[], b: FooterBlock[]) =>
      a.length === b.length && a.every((x, k) => x.offset === b[k].offset && x.metaLength === b[k].metaLength && x.bodyLength === b[k].bodyLength)
    if (!same(f.records, records)) return problem(`its ${f.records.length} record batch blocks do not match the stream's ${records.length} record batches`)
    if (!same(f.dictionaries, dictionaries)) return problem(`its ${f.dictionaries.length} dictionary blocks do not match the stream's ${dictionaries.length} dictionary batches`)
    return {end: size}
  } finally {
    await fh.close()
  }
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
 * (E_EXISTS).
 */
export async function repairRecording(path: string, out = defaultRepairPath(path)): Promise<VerifyResult & {out: string}> {
  const v = await verifyRecording(path)
  if (existsSync(out)) throw new MdrecError('E_EXISTS', `${out}: already exists; mdrec never overwrites a file. Give another path with --out`)
  await rewriteRecording(path, out, {overwrite: false, tolerant: true, flag: '--out'})
  return {...v, out}
}
