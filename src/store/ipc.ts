import * as A from 'apache-arrow'
import {compressionRegistry} from 'apache-arrow/ipc/compression/registry'
import {Message} from 'apache-arrow/ipc/metadata/message'
import {Compressor, Decompressor} from 'zstd-napi'

/** zstd level for recordings; 3 is zstd's default balance of speed and ratio. */
export const DEFAULT_ZSTD_LEVEL = 3

const decompressor = new Decompressor()

/**
 * Each buffer is a standard zstd frame with its content checksum on, so
 * `mdrec verify` detects a flipped byte inside a batch, not only a cut (4
 * bytes a buffer; every zstd reader checks or skips it).
 */
export function makeCompressor(level: number): Compressor {
  const c = new Compressor()
  c.setParameters({compressionLevel: level, checksumFlag: true})
  return c
}
compressionRegistry.set(A.CompressionType.ZSTD, {
  // arrow-js only calls encode through the writer below, which passes its own compressor.
  encode: (b: Uint8Array) => makeCompressor(DEFAULT_ZSTD_LEVEL).compress(b),
  decode: (b: Uint8Array) => decompressor.decompress(b),
})

/** 8-byte little-endian int64 prefix that precedes every compressed body buffer. */
const NOT_COMPRESSED = -1n

/**
 * An arrow-js stream writer that emits spec-conformant ZSTD bodies and hands
 * its bytes back synchronously.
 *
 * apache-arrow 21.2.0 writes the *compressed* length in each buffer's 8-byte
 * prefix where the Arrow spec requires the *uncompressed* length (fixed
 * upstream in apache/arrow-js#470, unreleased): its files read in arrow-js and
 * nowhere else. `_compressBodyBuffers` is the one method with the bug; it is
 * replaced here with the same layout and the right prefix. `_write` is
 * replaced so bytes go to our own list instead of arrow-js's async queue,
 * letting the store write and fsync each batch exactly when it decides.
 */
export class IpcStreamEncoder extends A.RecordBatchStreamWriter {
  private chunks: Uint8Array[] = []
  private readonly compressor: Compressor
  constructor(level = DEFAULT_ZSTD_LEVEL) {
    super({compressionType: A.CompressionType.ZSTD, autoDestroy: false})
    this.compressor = makeCompressor(level)
  }

  /** Start a stream with `schema` (writes the schema message). */
  begin(schema: A.Schema): Uint8Array {
    this.reset(undefined, schema)
    return this.drain()
  }

  /** Encode one batch (and any dictionary it needs first); returns its bytes. */
  encode(batch: A.RecordBatch): Uint8Array {
    this.write(batch)
    return this.drain()
  }

  /** Bytes written since the last drain, as one buffer. */
  drain(): Uint8Array {
    const c = this.chunks
    this.chunks = []
    if (c.length === 1) return c[0]
    return Buffer.concat(c)
  }

  protected override _write(chunk: ArrayBufferView): this {
    if (this._started) {
      const b = chunk as ArrayBufferView
      if (b.byteLength > 0) {
        // arrow-js reuses some scratch arrays (Int32Array prefixes): copy small ones.
        const u = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
        this.chunks.push(u.byteLength <= 16 ? u.slice() : u)
        this._position += b.byteLength
      }
    }
    return this
  }

  protected override _compressBodyBuffers(buffers: ArrayBufferView[]): {
    byteLength: number
    bufferRegions: InstanceType<typeof BufferRegionCtor>[]
    buffers: ArrayBufferView[]
  } {
    let offset = 0
    const out: ArrayBufferView[] = []
    const regions: InstanceType<typeof BufferRegionCtor>[] = []
    for (const buf of buffers) {
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
      if (bytes.byteLength === 0) {
        out.push(new Uint8Array(0), new Uint8Array(0))
        regions.push(new BufferRegionCtor(offset, 0))
        continue
      }
      const packed = this.compressor.compress(bytes)
      const useCompressed = packed.byteLength < bytes.byteLength
      const body = useCompressed ? packed : bytes
      const prefix = new Uint8Array(8)
      new DataView(prefix.buffer).setBigInt64(0, useCompressed ? BigInt(bytes.byteLength) : NOT_COMPRESSED, true)
      out.push(prefix, body)
      offset = (offset + 7) & ~7
      regions.push(new BufferRegionCtor(offset, 8 + body.byteLength))
      offset += 8 + body.byteLength
    }
    return {byteLength: (offset + 7) & ~7, bufferRegions: regions, buffers: out}
  }
}

// BufferRegion is not exported from the package root; it is a plain {offset, length} class.
import {BufferRegion as BufferRegionCtor} from 'apache-arrow/ipc/metadata/message'

/** End-of-stream marker: continuation + zero length. */
export const EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])

export type MessageKind = 'schema' | 'dictionary' | 'record' | 'eos' | 'other'

export interface FramedMessage {
  kind: MessageKind
  /** Byte offset of the message's first byte (its continuation marker). */
  offset: number
  /** Bytes of prefix + metadata (8-aligned). */
  metaLength: number
  bodyLength: number
  /** Rows in a record or dictionary batch. */
  rows: number
  message: Message | null
}

/**
 * Parse the framing of the message starting at `buf[0]` (IPC stream format:
 * 0xFFFFFFFF, int32 metadata length, flatbuffer Message, body).
 * Returns 'need' when `buf` holds less than the prefix and metadata, or a
 * reason string when the bytes cannot be an Arrow message.
 */
export function parseMessageHeader(buf: Uint8Array, offset: number): FramedMessage | 'need' | {bad: string} {
  if (buf.byteLength < 8) return buf.byteLength >= 4 && readI32(buf, 0) === 0 ? eosAt(offset, 4) : 'need'
  let metaLen = readI32(buf, 0)
  let prefix = 8
  if (metaLen === -1) {
    metaLen = readI32(buf, 4)
  } else {
    // Pre-0.15 streams have no continuation marker.
    prefix = 4
  }
  if (metaLen === 0) return eosAt(offset, prefix)
  if (metaLen < 0 || metaLen > 64 * 1024 * 1024) return {bad: `invalid metadata length ${metaLen}`}
  if (buf.byteLength < prefix + metaLen) return 'need'
  let message: Message
  try {
    message = Message.decode(buf.subarray(prefix, prefix + metaLen))
  } catch (error) {
    return {bad: `metadata does not decode (${(error as Error).message})`}
  }
  const bodyLength = Number(message.bodyLength)
  if (!Number.isFinite(bodyLength) || bodyLength < 0) return {bad: `invalid body length ${bodyLength}`}
  let kind: MessageKind = 'other'
  let rows = 0
  if (message.isSchema()) kind = 'schema'
  else if (message.isRecordBatch()) {
    kind = 'record'
    rows = message.header().length
  } else if (message.isDictionaryBatch()) {
    kind = 'dictionary'
    rows = message.header().data.length
  }
  return {kind, offset, metaLength: prefix + metaLen, bodyLength, rows, message}
}

function eosAt(offset: number, len: number): FramedMessage {
  return {kind: 'eos', offset, metaLength: len, bodyLength: 0, rows: 0, message: null}
}

function readI32(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)
}

/**
 * Check that every buffer of a record/dictionary batch body lies inside the
 * body and (for compressed buffers) decompresses to the length its prefix
 * states. Returns a reason, or null when the body is sound.
 */
export function checkBody(message: Message, body: Uint8Array): string | null {
  const header = message.isDictionaryBatch() ? message.header().data : message.isRecordBatch() ? message.header() : null
  if (!header) return null
  const compressed = header.compression != null
  for (const [i, region] of header.buffers.entries()) {
    const start = Number(region.offset)
    const len = Number(region.length)
    if (start < 0 || len < 0 || start + len > body.byteLength) return `buffer ${i} lies outside the body`
    if (!compressed || len === 0) continue
    if (len < 8) return `buffer ${i} is shorter than its length prefix`
    const view = new DataView(body.buffer, body.byteOffset + start, 8)
    const want = view.getBigInt64(0, true)
    if (want === NOT_COMPRESSED) continue
    try {
      const got = decompressor.decompress(body.subarray(start + 8, start + len))
      if (BigInt(got.byteLength) !== want) return `buffer ${i} decompresses to ${got.byteLength} bytes, its prefix says ${want}`
    } catch (error) {
      return `buffer ${i} does not decompress (${(error as Error).message})`
    }
  }
  return null
}
