/**
 * The footer of a closed (format version 2) recording: the Arrow IPC file
 * layout's footer after the end-of-stream marker, checked against the
 * messages the stream holds. Used by `verify` (which reports it) and `info`
 * (which names a missing or wrong footer as damage, as verify does).
 */
import {open} from 'node:fs/promises'

import {fsError} from '../errors.js'
import {BadMessage, FILE_TRAILER_BYTES, decodeFooter, isFileMagic, type FooterBlock} from './ipc.js'

/** What a damaged footer is: where it begins, why, and whether it is missing/cut (E_TRUNCATED) or wrong (E_CORRUPT). */
export interface FooterProblem {
  offset: number
  reason: string
  code: 'E_TRUNCATED' | 'E_CORRUPT'
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
export async function checkFooter(
  path: string,
  size: number,
  streamEnd: number,
  fields: string[],
  dictionaries: FooterBlock[],
  records: FooterBlock[],
): Promise<{end: number} | {problem: FooterProblem}> {
  const problem = (reason: string, code: FooterProblem['code'] = 'E_CORRUPT'): {problem: FooterProblem} => ({
    problem: {offset: streamEnd, reason: `the footer after the end-of-stream marker (byte ${streamEnd}): ${reason}`, code},
  })
  const tail = size - streamEnd
  if (tail < FILE_TRAILER_BYTES) return problem(`missing or cut short (${tail} bytes after the end-of-stream marker)`, 'E_TRUNCATED')
  const fh = await open(path, 'r').catch((error) => {
    throw fsError(error, path, 'reading a recording')
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
