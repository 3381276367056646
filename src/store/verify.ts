import {closeSync, existsSync, openSync, writeSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {basename, dirname, extname, join} from 'node:path'

import {MdrecError, fsError} from '../errors.js'
import {commitPartial, discardPartial, partialPath, removeStalePartials} from './atomic.js'
import {EOS} from './ipc.js'
import {openRecording, readBatches, type StreamEnd} from './reader.js'

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
  /** Offset just past the last sound message. */
  validBytes: number
  /** The first byte of the first bad message, why, and E_TRUNCATED (the file ends inside it) or E_CORRUPT. */
  problem?: {offset: number; reason: string; code: 'E_TRUNCATED' | 'E_CORRUPT'}
  /** Bytes after the end-of-stream marker (ignored by readers). */
  trailingBytes?: number
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
  for await (const b of readBatches(file, {onTruncated: 'stop', onEnd: (e) => (end = e), recycle: true})) void b
  const e = end as unknown as StreamEnd
  const res: VerifyResult = {
    path,
    ok: !e.problem,
    complete: e.eos,
    sizeBytes: file.sizeBytes,
    messages: e.messages,
    batches: e.batches,
    rowsIntact: e.rows,
    validBytes: e.validEnd,
    problem: e.problem,
  }
  if (e.eos && e.validEnd < file.sizeBytes) res.trailingBytes = file.sizeBytes - e.validEnd
  return res
}

export function defaultRepairPath(path: string): string {
  const ext = extname(path)
  return join(dirname(path), `${basename(path, ext)}.repaired${ext || '.arrow'}`)
}

/**
 * Write a valid copy of `path` holding every complete, sound batch, ending
 * with an end-of-stream marker. The original is not touched; `out` must not
 * exist.
 */
export async function repairRecording(path: string, out = defaultRepairPath(path)): Promise<VerifyResult & {out: string}> {
  const v = await verifyRecording(path)
  if (existsSync(out)) throw new MdrecError('E_EXISTS', `${out}: already exists; mdrec never overwrites a file. Give another path with --out`)
  removeStalePartials(out)
  const tmp = partialPath(out)
  let fd: number
  try {
    fd = openSync(tmp, 'wx')
  } catch (error) {
    throw fsError(error, out, 'writing the repaired copy')
  }
  try {
    // Positioned writes: the copy's length is always exactly what was written.
    let at = 0
    const put = (b: Uint8Array) => {
      let off = 0
      while (off < b.length) off += writeSync(fd, b, off, b.length - off, at + off)
      at += b.length
    }
    if (v.validBytes > 0) {
      // One reused 1 MiB buffer: a stream's fresh chunk per read leaves the garbage collector tens of MB behind.
      const chunk = Buffer.allocUnsafeSlow(1 << 20)
      const fh = await open(path, 'r')
      try {
        while (at < v.validBytes) {
          const {bytesRead} = await fh.read(chunk, 0, Math.min(chunk.length, v.validBytes - at), at)
          if (bytesRead === 0) throw new MdrecError('E_IO', `${path}: the file shrank while being repaired (at byte ${at})`)
          put(chunk.subarray(0, bytesRead))
        }
      } finally {
        await fh.close()
      }
    }
    if (!v.complete || v.problem) put(EOS)
  } catch (error) {
    closeSync(fd)
    discardPartial(tmp)
    throw fsError(error, out, 'writing the repaired copy')
  }
  closeSync(fd)
  commitPartial(tmp, out, {overwrite: false, flag: '--out'})
  return {...v, out}
}
