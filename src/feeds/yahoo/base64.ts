/**
 * Base64 (standard alphabet, padded) for the Yahoo envelopes. Decoding is
 * validated, since Buffer.from(s, 'base64') silently skips characters outside
 * the alphabet and accepts the URL-safe one. Encoding into a given buffer is
 * hand-written because Node has no base64 encoder that writes into a buffer
 * (`toString('base64')` makes a string, which a frame would then copy again).
 */
import {allocBytes} from './wire.js'

const B64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
/** Base64 alphabet as char codes. */
const B64_ENC = new Uint8Array(64)
/** Char code (< 128) → 6-bit value, -1 outside the standard alphabet ('=' included). */
const B64_DEC = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) {
  B64_ENC[i] = B64_CHARS.charCodeAt(i)
  B64_DEC[B64_CHARS.charCodeAt(i)] = i
}
const PAD = 61 // '='

/** Length of the base64 text of `n` bytes. */
export function base64Length(n: number): number {
  return (((n + 2) / 3) | 0) * 4 // integer division (no float division and ceil); n < 2^31
}

/**
 * Decodes s[start, end) into new bytes (allocBytes: mind byteOffset), or
 * returns the reason it is not base64 as a string. Non-zero bits in the last
 * character before the padding are accepted (as most decoders, Python's
 * included, do); such a frame is then not canonical.
 */
export function base64Decode(s: string, start: number, end: number): Uint8Array | string {
  const len = end - start
  if (len % 4 !== 0) return `base64 length ${len} is not a multiple of 4`
  if (len === 0) return new Uint8Array(0)
  let pad = 0
  if (s.charCodeAt(end - 1) === PAD) pad = s.charCodeAt(end - 2) === PAD ? 2 : 1
  const out = allocBytes((len / 4) * 3 - pad)
  const full = end - 4 // the last quad is handled apart (padding)
  let o = 0
  let i = start
  for (; i < full; i += 4) {
    const v = quad(s.charCodeAt(i), s.charCodeAt(i + 1), s.charCodeAt(i + 2), s.charCodeAt(i + 3))
    if (v < 0) return badB64(s, i)
    out[o++] = v >> 16
    out[o++] = (v >> 8) & 255
    out[o++] = v & 255
  }
  // 'A' (65) stands in for padding
  const v = quad(s.charCodeAt(i), s.charCodeAt(i + 1), pad === 2 ? 65 : s.charCodeAt(i + 2), pad >= 1 ? 65 : s.charCodeAt(i + 3))
  if (v < 0) return badB64(s, i)
  out[o++] = v >> 16
  if (pad < 2) out[o++] = (v >> 8) & 255
  if (pad < 1) out[o++] = v & 255
  return out
}

/** The 24 bits four base64 char codes stand for, or -1 if one is outside the alphabet. */
function quad(c0: number, c1: number, c2: number, c3: number): number {
  if ((c0 | c1 | c2 | c3) > 127) return -1
  const v0 = B64_DEC[c0]
  const v1 = B64_DEC[c1]
  const v2 = B64_DEC[c2]
  const v3 = B64_DEC[c3]
  if ((v0 | v1 | v2 | v3) < 0) return -1
  return (v0 << 18) | (v1 << 12) | (v2 << 6) | v3
}

function badB64(s: string, from: number): string {
  let i = from
  while (i < s.length && s.charCodeAt(i) < 128 && B64_DEC[s.charCodeAt(i)] >= 0) i++
  const c = s.charCodeAt(i)
  return c === PAD ? `misplaced '=' padding at offset ${i}` : `character ${JSON.stringify(s.charAt(i))} at offset ${i} is not base64`
}

/** Base64 of `src[0, n)` written into `dst` at `at`; returns `dst`. */
export function base64Into(src: Uint8Array, n: number, dst: Uint8Array, at: number): Uint8Array {
  const E = B64_ENC
  let q = at
  let i = 0
  for (const end = n - 2; i < end; i += 3) {
    const v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2]
    dst[q] = E[v >>> 18]
    dst[q + 1] = E[(v >>> 12) & 63]
    dst[q + 2] = E[(v >>> 6) & 63]
    dst[q + 3] = E[v & 63]
    q += 4
  }
  if (i < n) {
    const two = i + 1 < n
    const v = (src[i] << 16) | (two ? src[i + 1] << 8 : 0)
    dst[q] = E[v >>> 18]
    dst[q + 1] = E[(v >>> 12) & 63]
    dst[q + 2] = two ? E[(v >>> 6) & 63] : PAD
    dst[q + 3] = PAD
  }
  return dst
}
