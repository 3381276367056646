import * as A from 'apache-arrow'
import {compressionRegistry} from 'apache-arrow/ipc/compression/registry'
import type {DataProps} from 'apache-arrow/data'
import {Message} from 'apache-arrow/ipc/metadata/message'
import {FileBlock, Footer} from 'apache-arrow/ipc/metadata/file'
import {Compressor, Decompressor} from 'zstd-napi'
import zstdBinding from 'zstd-napi/binding.js'

import {PARALLEL_FROM, zstdHelper, zstdParameters} from './zstd-pool.js'

/** zstd level for recordings; 3 is zstd's default balance of speed and ratio. */
export const DEFAULT_ZSTD_LEVEL = 3

const decompressor = new Decompressor()
/** The reader's zstd context (single-threaded use: one decompression at a time). */
const dctx = new zstdBinding.DCtx()

/**
 * Each buffer is a standard zstd frame with its content checksum on, so
 * `mdrec verify` detects a flipped byte inside a batch, not only a cut (4
 * bytes a buffer; every zstd reader checks or skips it).
 */
export function makeCompressor(level: number): Compressor {
  const c = new Compressor()
  c.setParameters(zstdParameters(level))
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
  private compressor: Compressor
  /** The zstd level of `compressor`. */
  private level: number
  private readonly compressors = new Map<number, Compressor>()
  /**
   * `file`: write the Arrow IPC *file* format (format version 2's closed
   * recordings): `ARROW1\0\0`, the stream (schema message included, as
   * pyarrow writes it), then end() adds the footer. arrow-js's own
   * RecordBatchFileWriter cannot be used: it derives from the writer whose
   * compression step is replaced here, and omits the schema message that
   * mdrec's stream reader (and `cat --follow`) start from. The footer itself
   * is arrow-js's (Footer.encode), fed with the blocks the base writer records.
   */
  constructor(
    level = DEFAULT_ZSTD_LEVEL,
    readonly file = false,
  ) {
    super({compressionType: A.CompressionType.ZSTD, autoDestroy: false})
    this.compressor = makeCompressor(level)
    this.compressors.set(level, this.compressor)
    this.level = level
  }

  /** Compress what is encoded next at zstd `level` (a closed file's small last batch takes a higher one). */
  useLevel(level: number): void {
    let c = this.compressors.get(level)
    if (!c) this.compressors.set(level, (c = makeCompressor(level)))
    this.compressor = c
    this.level = level
  }

  /** Start a stream with `schema` (writes the file magic in file mode, then the schema message). */
  begin(schema: A.Schema): Uint8Array {
    this.reset(undefined, schema)
    return this.drain()
  }

  protected override _writeSchema(schema: A.Schema): this {
    if (this.file) this._write(FILE_MAGIC)
    return super._writeSchema(schema)
  }

  /**
   * The bytes that close the stream: the end-of-stream marker and, in file
   * mode, the footer (schema, dictionary and record batch blocks), its int32
   * length and the trailing `ARROW1`.
   */
  end(): Uint8Array {
    if (!this.file) return EOS
    const self = this as unknown as {_schema: A.Schema; _recordBatchBlocks: FileBlock[]; _dictionaryBlocks: FileBlock[]}
    const footer = Footer.encode(new Footer(self._schema, A.MetadataVersion.V5, self._recordBatchBlocks, self._dictionaryBlocks))
    const len = new Uint8Array(4)
    new DataView(len.buffer).setInt32(0, footer.byteLength, true)
    return Buffer.concat([EOS, footer, len, ARROW_MAGIC])
  }

  /** Block counts and position, to forget a batch that failed to reach the file (see rollback). */
  mark(): [number, number, number] {
    const self = this as unknown as {_recordBatchBlocks: FileBlock[]; _dictionaryBlocks: FileBlock[]; _position: number}
    return [self._recordBatchBlocks.length, self._dictionaryBlocks.length, self._position]
  }

  rollback([r, d, pos]: [number, number, number]): void {
    const self = this as unknown as {_recordBatchBlocks: FileBlock[]; _dictionaryBlocks: FileBlock[]; _position: number}
    self._recordBatchBlocks.length = r
    self._dictionaryBlocks.length = d
    self._position = pos
  }

  /** Encode one batch (and any dictionary it needs first); returns its bytes. */
  encode(batch: A.RecordBatch): Uint8Array {
    this.write(batch)
    return this.drain()
  }

  /** Bytes written since the last drain, as one buffer. */
  drain(): Uint8Array {
    const c = this.takeParts()
    if (c.length === 1) return c[0]
    return Buffer.concat(c)
  }

  /**
   * Bytes written since the last drain, as the parts they were written in
   * (no concatenation). In file mode compressed parts view the reused
   * compression buffer: valid until the next write.
   */
  takeParts(): Uint8Array[] {
    const c = this.chunks
    this.chunks = []
    this.scratchUsed = 0
    return c
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
    const into = this.file ? this.scratchFor(buffers) : null
    const n = buffers.length
    const views = buffers.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength))
    const twinOf = twins(views)
    // Each stored buffer compressed (null: stored as it is); a share of them on the zstd helper's thread.
    const packed: (Uint8Array | null)[] = new Array<Uint8Array | null>(n).fill(null)
    const share = this.helperShare(views, twinOf)
    const shared = new Uint8Array(n)
    for (const i of share) shared[i] = 1
    for (let i = 0; i < n; i++) if (views[i].byteLength > 0 && twinOf[i] < 0 && !shared[i]) packed[i] = this.pack(views[i], into)
    if (share.length > 0) {
      const got = zstdHelper.finish()
      share.forEach((i, k) => (packed[i] = got ? this.keep(got[k], into) : this.pack(views[i], into)))
    }
    let offset = 0
    const out: ArrayBufferView[] = []
    const regions: InstanceType<typeof BufferRegionCtor>[] = []
    for (let i = 0; i < n; i++) {
      const bytes = views[i]
      if (bytes.byteLength === 0) {
        out.push(new Uint8Array(0), new Uint8Array(0))
        regions.push(new BufferRegionCtor(offset, 0))
        continue
      }
      if (twinOf[i] >= 0) {
        // Stored once: this buffer's region is its twin's (nothing more goes into the body).
        const twin = regions[twinOf[i]]
        out.push(new Uint8Array(0), new Uint8Array(0))
        regions.push(new BufferRegionCtor(twin.offset, twin.length))
        continue
      }
      const p = packed[i]
      const useCompressed = p !== null && p.byteLength < bytes.byteLength
      const body = useCompressed ? p : bytes
      const prefix = new Uint8Array(8)
      new DataView(prefix.buffer).setBigInt64(0, useCompressed ? BigInt(bytes.byteLength) : NOT_COMPRESSED, true)
      out.push(prefix, body)
      offset = (offset + 7) & ~7
      regions.push(new BufferRegionCtor(offset, 8 + body.byteLength))
      offset += 8 + body.byteLength
    }
    return {byteLength: (offset + 7) & ~7, bufferRegions: regions, buffers: out}
  }

  /** One buffer compressed on this thread (into the scratch buffer in file mode), or null when it looks incompressible. */
  private pack(bytes: Uint8Array, into: Buffer | null): Uint8Array | null {
    if (looksIncompressible(this.compressor, bytes)) return null
    if (!into) return this.compressor.compress(bytes)
    const at = this.scratchUsed
    const n = cctxOf(this.compressor).compress2(into.subarray(at, at + zstdBinding.compressBound(bytes.byteLength)), bytes)
    this.scratchUsed = at + n
    return into.subarray(at, at + n)
  }

  /** A frame the helper compressed, copied out of its shared memory (into the scratch buffer in file mode). */
  private keep(frame: Uint8Array, into: Buffer | null): Uint8Array {
    if (!into) return frame.slice()
    const at = this.scratchUsed
    into.set(frame, at)
    this.scratchUsed = at + frame.byteLength
    return into.subarray(at, at + frame.byteLength)
  }

  /**
   * The buffers (indices) handed to the zstd helper's thread, started: about
   * half of the bytes to compress, largest first to the lighter side, when a
   * message has at least PARALLEL_FROM of them. Buffers large enough to be
   * sampled for compressibility first stay on this thread.
   */
  private helperShare(views: readonly Uint8Array[], twinOf: Int32Array): number[] {
    if (!zstdHelper.enabled) return []
    const candidates: number[] = []
    let mine = 0
    let shareable = 0
    views.forEach((v, i) => {
      if (v.byteLength === 0 || twinOf[i] >= 0) return
      if (v.byteLength >= SAMPLE_FROM) mine += v.byteLength
      else {
        candidates.push(i)
        shareable += v.byteLength
      }
    })
    // (a batch of large payloads and little else keeps to one thread: the worker's own heap is not worth it)
    if (shareable < PARALLEL_FROM || candidates.length < 2) return []
    candidates.sort((a, b) => views[b].byteLength - views[a].byteLength)
    const share: number[] = []
    let theirs = 0
    for (const i of candidates) {
      if (theirs < mine) {
        share.push(i)
        theirs += views[i].byteLength
      } else mine += views[i].byteLength
    }
    share.sort((a, b) => a - b)
    return zstdHelper.start(
      share.map((i) => views[i]),
      this.level,
    )
      ? share
      : []
  }

  /**
   * Closed files (compaction, slice, repair; short-lived writers of large
   * batches) compress every batch into this one buffer, reused from batch to
   * batch and grown to exactly the largest batch's bound: its parts are
   * written before the next batch is encoded. Parts not taken yet (one
   * write compresses a record batch, then the dictionaries it needs) are
   * kept: the next message's go after them, or into a fresh buffer. zstd-napi's compress() gives
   * each buffer a fresh compressBound-sized output, which the garbage
   * collector frees late: compacting compressible 40 MB frames held about six
   * frames at once. A live recording (this.file false) keeps no such buffer
   * after a burst.
   */
  private scratch: Buffer | null = null
  /** Bytes of `scratch` holding parts not yet taken (takeParts). */
  private scratchUsed = 0
  private scratchFor(buffers: ArrayBufferView[]): Buffer {
    let need = 0
    for (const b of buffers) if (b.byteLength > 0) need += zstdBinding.compressBound(b.byteLength)
    if (this.scratch && this.scratch.length - this.scratchUsed >= need) return this.scratch
    this.scratch = Buffer.allocUnsafeSlow(this.scratchUsed === 0 ? need : Math.max(need, this.scratch?.length ?? 0))
    this.scratchUsed = 0
    return this.scratch
  }
}

/**
 * For each buffer of a message, the index of an earlier one with exactly
 * its bytes, or -1. A batch's columns often hold identical buffers: the
 * validity bitmaps of fields sent together (a quote's bid, ask and their
 * sizes), and the all-zero bitmaps and values of every column that is null
 * throughout. The Arrow format locates each buffer by offset and length in
 * the body, so one stored copy serves them all: every reader decompresses
 * each buffer it reads on its own (checked with nodejs-polars, arrow-js and
 * mdrec's reader). On the quiet Yahoo tape of bench/store (3,000 rows in
 * one batch) this is 5 % of the file.
 */
function twins(views: readonly Uint8Array[]): Int32Array {
  const twinOf = new Int32Array(views.length).fill(-1)
  const byLength = new Map<number, number[]>()
  views.forEach((v, i) => {
    if (v.byteLength === 0) return
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
    let same = byLength.get(v.byteLength)
    if (!same) byLength.set(v.byteLength, (same = []))
    for (const j of same) {
      if (b.equals(views[j])) {
        twinOf[i] = j
        return
      }
    }
    same.push(i)
  })
  return twinOf
}

/** zstd-napi's Compressor keeps its ZSTD_CCtx (with the level and checksum set by makeCompressor) in a private field; compress2 writes into a buffer we give it. */
function cctxOf(c: Compressor): {compress2(dst: Uint8Array, src: Uint8Array): number} {
  return (c as unknown as {cctx: {compress2(dst: Uint8Array, src: Uint8Array): number}}).cctx
}

/** Buffers at least this large are sampled before zstd sees all of them. */
const SAMPLE_FROM = 4 << 20
const SAMPLE_BYTES = 64 << 10

/**
 * True when three 64 KiB samples (start, middle, end) of a large buffer shrink
 * by less than 5 % under zstd: the buffer is then stored as it is (prefix -1)
 * without compressing all of it. A large incompressible payload (an already
 * compressed binary frame) would otherwise cost a full-size zstd output buffer
 * and the time to fill it, only to be thrown away; zstd itself has no such
 * early exit.
 */
function looksIncompressible(c: Compressor, bytes: Uint8Array): boolean {
  if (bytes.byteLength < SAMPLE_FROM) return false
  let raw = 0
  let packed = 0
  for (const at of [0, (bytes.byteLength - SAMPLE_BYTES) >> 1, bytes.byteLength - SAMPLE_BYTES]) {
    const sample = bytes.subarray(at, at + SAMPLE_BYTES)
    raw += sample.byteLength
    packed += c.compress(sample).byteLength
  }
  return packed > raw * 0.95
}

// BufferRegion is not exported from the package root; it is a plain {offset, length} class.
import {BufferRegion as BufferRegionCtor} from 'apache-arrow/ipc/metadata/message'

/** End-of-stream marker: continuation + zero length. */
export const EOS = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
/** `ARROW1`, which opens and ends an Arrow IPC file. */
export const ARROW_MAGIC = new Uint8Array([0x41, 0x52, 0x52, 0x4f, 0x57, 0x31])
/** The file's first 8 bytes: the magic padded to 8; the stream starts after them. */
export const FILE_MAGIC = new Uint8Array([0x41, 0x52, 0x52, 0x4f, 0x57, 0x31, 0, 0])
/** Bytes after the footer: its int32 length and the magic. */
export const FILE_TRAILER_BYTES = 10

/** True when `b` (a file's first bytes) opens an Arrow IPC file (format version 2's closed recordings). */
export function isFileMagic(b: Uint8Array | null): boolean {
  if (!b || b.byteLength < 6) return false
  for (let k = 0; k < 6; k++) if (b[k] !== ARROW_MAGIC[k]) return false
  return true
}

/** One footer block: where a message starts, its prefix + metadata bytes, its body bytes. */
export interface FooterBlock {
  offset: number
  metaLength: number
  bodyLength: number
}

/**
 * Verify (FbVerifier, as for every message) and decode an IPC file footer
 * flatbuffer. Returns its schema field names and its dictionary and record
 * batch blocks. Throws BadMessage.
 */
export function decodeFooter(b: Uint8Array): {fields: string[]; dictionaries: FooterBlock[]; records: FooterBlock[]} {
  const own = b.slice()
  new FbVerifier(own).root(FOOTER)
  let f
  try {
    f = Footer.decode(own)
  } catch (error) {
    bad(`the footer does not decode (${(error as Error).message})`)
  }
  const blocks = (it: Iterable<FileBlock | null>) => {
    const out: FooterBlock[] = []
    for (const x of it) if (x) out.push({offset: x.offset, metaLength: x.metaDataLength, bodyLength: x.bodyLength})
    return out
  }
  return {fields: f.schema.fields.map((x) => x.name), dictionaries: blocks(f.dictionaryBatches()), records: blocks(f.recordBatches())}
}

// ---------------------------------------------------------------------------
// Reading: one validated path for every message and batch.
//
// Nothing here trusts a length from the file. The message metadata (a
// flatbuffer) is verified before arrow-js decodes it (arrow-js has no verifier
// and, given a bad vector length, loops or allocates until the heap is gone);
// every buffer's compressed and uncompressed size is checked against the body,
// the batch's row count and the limits below before anything is allocated; and
// every decoded batch is checked structurally (offsets, dictionary indices,
// child lengths) before arrow-js's accessors ever see it. Hand-written because
// neither arrow-js nor flatbuffers' JS runtime validates untrusted input.

/** Largest message metadata (flatbuffer) a reader accepts: 16 MiB. mdrec writes a few KiB. */
export const MAX_METADATA_BYTES = 16 * 2 ** 20
/** Largest single uncompressed buffer a reader accepts: 1 GiB (batches are bounded to ~64 MiB uncompressed by the writer). */
export const MAX_BUFFER_BYTES = 2 ** 30
/** Largest total of a batch's uncompressed buffers, and largest message body on disk: 2 GiB. */
export const MAX_BATCH_BYTES = 2 ** 31
/** Most rows in one batch (or values in one nested column): int32 offsets address no more. */
export const MAX_BATCH_ROWS = 2 ** 31 - 1
/** Deepest nesting of tables in message metadata (schema fields within fields). */
const MAX_FB_DEPTH = 64
/** Most tables visited verifying one message's metadata (bounds shared sub-tables). */
const MAX_FB_TABLES = 1_000_000

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
  /**
   * The decoded metadata (null for the end-of-stream marker). Decoded from a
   * private copy of the metadata bytes, verified first: safe to keep.
   */
  message: Message | null
}

/** Why a message or batch cannot be read; the stream layer adds the file and offset. */
export class BadMessage extends Error {}

function bad(reason: string): never {
  throw new BadMessage(reason)
}

// --- flatbuffer verification ------------------------------------------------

type FbField =
  | {t: 'scalar'; size: number}
  | {t: 'string'}
  | {t: 'vector'; elem: number}
  | {t: 'strings'}
  | {t: 'table'; of: () => FbTable}
  | {t: 'tables'; of: () => FbTable}
  | {t: 'union'; typeField: number; of: (type: number) => FbTable | undefined; name: string}
/** A table's fields by field id (Arrow's Schema.fbs / Message.fbs). */
type FbTable = FbField[]

const sc = (size: number): FbField => ({t: 'scalar', size})
const EMPTY: FbTable = []
const KEY_VALUE: FbTable = [{t: 'string'}, {t: 'string'}]
const INT: FbTable = [sc(4), sc(1)]
// Type union members by id: Null=1 Int FloatingPoint Binary Utf8 Bool Decimal Date Time Timestamp Interval
// List Struct_ Union FixedSizeBinary FixedSizeList Map Duration LargeBinary LargeUtf8 LargeList ...
const TYPE_TABLES: Record<number, FbTable> = {
  1: EMPTY, 2: INT, 3: [sc(2)], 4: EMPTY, 5: EMPTY, 6: EMPTY, 7: [sc(4), sc(4), sc(4)], 8: [sc(2)], 9: [sc(2), sc(4)],
  10: [sc(2), {t: 'string'}], 11: [sc(2)], 12: EMPTY, 13: EMPTY, 14: [sc(2), {t: 'vector', elem: 4}], 15: [sc(4)], 16: [sc(4)],
  17: [sc(1)], 18: [sc(2)], 19: EMPTY, 20: EMPTY, 21: EMPTY,
}
const DICTIONARY_ENCODING: FbTable = [sc(8), {t: 'table', of: () => INT}, sc(1), sc(2)]
const FIELD: FbTable = [
  {t: 'string'},
  sc(1),
  sc(1),
  {t: 'union', typeField: 2, of: (k) => TYPE_TABLES[k], name: 'field type'},
  {t: 'table', of: () => DICTIONARY_ENCODING},
  {t: 'tables', of: () => FIELD},
  {t: 'tables', of: () => KEY_VALUE},
]
const SCHEMA: FbTable = [sc(2), {t: 'tables', of: () => FIELD}, {t: 'tables', of: () => KEY_VALUE}, {t: 'vector', elem: 8}]
const RECORD_BATCH: FbTable = [sc(8), {t: 'vector', elem: 16}, {t: 'vector', elem: 16}, {t: 'table', of: () => [sc(1), sc(1)]}, {t: 'vector', elem: 8}]
const DICTIONARY_BATCH: FbTable = [sc(8), {t: 'table', of: () => RECORD_BATCH}, sc(1)]
const HEADERS: Record<number, FbTable> = {1: SCHEMA, 2: DICTIONARY_BATCH, 3: RECORD_BATCH}
// Footer: version, schema, dictionaries and recordBatches (vectors of 24-byte Block structs), custom_metadata.
const FOOTER: FbTable = [sc(2), {t: 'table', of: () => SCHEMA}, {t: 'vector', elem: 24}, {t: 'vector', elem: 24}, {t: 'tables', of: () => KEY_VALUE}]
const MESSAGE: FbTable = [sc(2), sc(1), {t: 'union', typeField: 1, of: (k) => HEADERS[k], name: 'message header'}, sc(8), {t: 'tables', of: () => KEY_VALUE}]

class FbVerifier {
  private tables = 0
  private readonly dv: DataView
  constructor(private readonly b: Uint8Array) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  }
  private i32(at: number): number {
    if (at < 0 || at + 4 > this.b.byteLength) bad(`metadata offset ${at} outside the ${this.b.byteLength}-byte metadata`)
    return this.dv.getInt32(at, true)
  }
  /** Absolute position of field `id` of the table at `pos`, or 0 when absent (the table is verified). */
  field(pos: number, id: number): number {
    const vt = pos - this.dv.getInt32(pos, true)
    const vtLen = this.dv.getInt16(vt, true)
    if (4 + 2 * id >= vtLen) return 0
    const fo = this.dv.getInt16(vt + 4 + 2 * id, true)
    return fo === 0 ? 0 : pos + fo
  }
  /** The root table's position. */
  root(spec: FbTable): number {
    const pos = this.i32(0)
    this.table(pos, spec, 0)
    return pos
  }
  private vector(at: number, elem: number): [start: number, n: number] {
    const v = at + this.i32(at)
    const n = this.i32(v)
    if (n < 0 || v + 4 + n * elem > this.b.byteLength) bad(`a metadata vector of ${n} items runs past the metadata's end`)
    return [v + 4, n]
  }
  table(pos: number, spec: FbTable, depth: number): void {
    if (++this.tables > MAX_FB_TABLES) bad('metadata has too many tables')
    if (depth > MAX_FB_DEPTH) bad(`metadata nested deeper than ${MAX_FB_DEPTH}`)
    const vt = pos - this.i32(pos)
    if (vt < 0 || vt + 4 > this.b.byteLength) bad(`a metadata vtable at ${vt} lies outside the metadata`)
    const vtLen = this.dv.getInt16(vt, true)
    const objLen = this.dv.getInt16(vt + 2, true)
    if (vtLen < 4 || vtLen & 1 || vt + vtLen > this.b.byteLength) bad(`a metadata vtable at ${vt} has a bad size ${vtLen}`)
    if (objLen < 4 || pos + objLen > this.b.byteLength) bad(`a metadata table at ${pos} runs past the metadata's end`)
    const nf = (vtLen - 4) >> 1
    for (let id = 0; id < spec.length && id < nf; id++) {
      const fo = this.dv.getInt16(vt + 4 + 2 * id, true)
      if (fo === 0) continue
      const f = spec[id]
      const size = f.t === 'scalar' ? f.size : 4
      if (fo < 4 || fo + size > objLen) bad(`a metadata field at ${pos}+${fo} lies outside its table`)
      const at = pos + fo
      switch (f.t) {
        case 'scalar':
          break
        case 'string':
          this.vector(at, 1)
          break
        case 'vector':
          this.vector(at, f.elem)
          break
        case 'strings': {
          const [start, n] = this.vector(at, 4)
          for (let k = 0; k < n; k++) this.vector(start + 4 * k, 1)
          break
        }
        case 'table':
          this.table(at + this.i32(at), f.of(), depth + 1)
          break
        case 'tables': {
          const [start, n] = this.vector(at, 4)
          const of = f.of()
          for (let k = 0; k < n; k++) {
            const e = start + 4 * k
            this.table(e + this.i32(e), of, depth + 1)
          }
          break
        }
        case 'union': {
          const tp = this.field(pos, f.typeField)
          const type = tp === 0 ? 0 : this.b[tp]
          const of = f.of(type)
          if (!of) bad(`unknown ${f.name} type ${type}`)
          this.table(at + this.i32(at), of, depth + 1)
          break
        }
      }
    }
  }
}

// --- message framing --------------------------------------------------------

/** What the 8 (or 4) bytes at the start of a message say. */
export type MessagePrefix = {eos: true; prefix: number} | {eos: false; prefix: number; metaLength: number}

/**
 * Read a message's prefix (IPC stream format: 0xFFFFFFFF, int32 metadata
 * length; pre-0.15 streams have no 0xFFFFFFFF). `b` holds 4..8 bytes.
 * Returns 'need' when more bytes are needed; throws BadMessage when the
 * metadata length is negative or over MAX_METADATA_BYTES.
 */
export function parsePrefix(b: Uint8Array): MessagePrefix | 'need' {
  if (b.byteLength < 4) return 'need'
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let len = dv.getInt32(0, true)
  let prefix = 4
  if (len === -1) {
    if (b.byteLength < 8) return 'need'
    len = dv.getInt32(4, true)
    prefix = 8
  }
  if (len === 0) return {eos: true, prefix}
  if (len < 0 || len > MAX_METADATA_BYTES) bad(`invalid metadata length ${len} (a reader accepts 1 to ${MAX_METADATA_BYTES} bytes)`)
  return {eos: false, prefix, metaLength: len}
}

/**
 * Verify and decode message metadata. `meta` must be a buffer nobody will
 * overwrite (arrow-js decodes header fields lazily from it). Returns the
 * framing with the body length checked against MAX_BATCH_BYTES (the caller
 * checks it against the file). Throws BadMessage.
 */
export function decodeMetadata(meta: Uint8Array, offset: number, prefix: number): FramedMessage {
  const v = new FbVerifier(meta)
  const root = v.root(MESSAGE)
  const blAt = v.field(root, 3)
  const bodyLength = blAt === 0 ? 0n : new DataView(meta.buffer, meta.byteOffset + blAt, 8).getBigInt64(0, true)
  if (bodyLength < 0n || bodyLength > BigInt(MAX_BATCH_BYTES)) bad(`invalid body length ${bodyLength} (a reader accepts up to ${MAX_BATCH_BYTES} bytes)`)
  let message: Message
  let kind: MessageKind = 'other'
  let rows = 0
  try {
    message = Message.decode(meta)
    if (message.isSchema()) {
      kind = 'schema'
      message.header()
    } else if (message.isRecordBatch()) {
      kind = 'record'
      rows = message.header().length
    } else if (message.isDictionaryBatch()) {
      kind = 'dictionary'
      rows = message.header().data.length
    }
  } catch (error) {
    bad(`metadata does not decode (${(error as Error).message})`)
  }
  if (kind === 'other') bad('not a schema, dictionary or record batch message')
  return {kind, offset, metaLength: prefix + meta.byteLength, bodyLength: Number(bodyLength), rows, message}
}

/** A FramedMessage for the end-of-stream marker at `offset`. */
export function eosAt(offset: number, len: number): FramedMessage {
  return {kind: 'eos', offset, metaLength: len, bodyLength: 0, rows: 0, message: null}
}

// --- zstd buffers -----------------------------------------------------------

/**
 * The content size a zstd frame header states, or null when it states none.
 * Throws BadMessage when `b` does not start with a zstd frame header.
 */
export function zstdContentSize(b: Uint8Array): number | null {
  if (b.byteLength < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) bad('a compressed buffer does not start with a zstd frame')
  const fhd = b[4]
  if (fhd & 0x08) bad('a zstd frame header has its reserved bit set')
  const single = (fhd >> 5) & 1
  const fcsFlag = fhd >> 6
  const p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]
  const size = fcsFlag === 0 ? single : [1, 2, 4, 8][fcsFlag]
  if (size === 0) return null
  if (p + size > b.byteLength) bad('a zstd frame header is cut short')
  const dv = new DataView(b.buffer, b.byteOffset + p, size)
  if (size === 1) return dv.getUint8(0)
  if (size === 2) return dv.getUint16(0, true) + 256
  if (size === 4) return dv.getUint32(0, true)
  const big = dv.getBigUint64(0, true)
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(big)
}

// --- batch bodies -----------------------------------------------------------

interface NodeLike {
  length: number
  nullCount: number
}
interface RegionLike {
  offset: number
  length: number
}
interface BatchHeader {
  length: number
  nodes: NodeLike[]
  buffers: RegionLike[]
  compression: unknown
}

const bytesForBits = (n: number) => Math.ceil(n / 8)

/** Byte width of one value of a fixed-width type, or 0 when `t` is not fixed-width. */
function fixedWidth(t: A.DataType): number {
  if (A.DataType.isInt(t) || A.DataType.isTime(t)) return t.bitWidth / 8
  if (A.DataType.isFloat(t)) return t.precision === A.Precision.HALF ? 2 : t.precision === A.Precision.SINGLE ? 4 : 8
  if (A.DataType.isDate(t)) return t.unit === A.DateUnit.DAY ? 4 : 8
  if (A.DataType.isTimestamp(t) || A.DataType.isDuration(t)) return 8
  if (A.DataType.isDecimal(t)) return t.bitWidth / 8
  if (A.DataType.isFixedSizeBinary(t)) return t.byteWidth
  if (A.DataType.isInterval(t)) return t.unit === A.IntervalUnit.YEAR_MONTH ? 4 : t.unit === A.IntervalUnit.DAY_TIME ? 8 : 16
  return 0
}

/**
 * Why `t` (a schema field's type) cannot be read by this reader, or null.
 * Covers every type mdrec writes and the other fixed-width and nested types
 * whose buffers the checks below understand.
 */
export function unsupportedType(t: A.DataType, depth = 0): string | null {
  if (depth > MAX_FB_DEPTH) return 'types nested too deep'
  if (A.DataType.isDictionary(t)) {
    const w = t.indices.bitWidth
    if (![8, 16, 32, 64].includes(w)) return `dictionary index width ${w}`
    return unsupportedType(t.dictionary, depth + 1)
  }
  if (A.DataType.isInt(t) || A.DataType.isTime(t)) return [8, 16, 32, 64].includes(t.bitWidth) ? null : `${t} with bit width ${t.bitWidth}`
  if (A.DataType.isDecimal(t)) return [128, 256].includes(t.bitWidth) ? null : `decimal bit width ${t.bitWidth}`
  if (A.DataType.isFixedSizeBinary(t)) return t.byteWidth > 0 && t.byteWidth <= 2 ** 20 ? null : `fixed-size binary of ${t.byteWidth} bytes`
  if (A.DataType.isFloat(t) || A.DataType.isDate(t) || A.DataType.isTimestamp(t) || A.DataType.isDuration(t) || A.DataType.isInterval(t)) return null
  if (A.DataType.isNull(t) || A.DataType.isBool(t) || A.DataType.isUtf8(t) || A.DataType.isBinary(t)) return null
  if (A.DataType.isList(t) || A.DataType.isStruct(t) || A.DataType.isFixedSizeList(t)) {
    if (A.DataType.isList(t) && t.children.length !== 1) return 'a list without one child'
    if (A.DataType.isFixedSizeList(t) && (t.children.length !== 1 || !(t.listSize >= 0) || t.listSize > 2 ** 20)) return 'a bad fixed-size list'
    for (const c of t.children) {
      const why = unsupportedType(c.type, depth + 1)
      if (why) return why
    }
    return null
  }
  return `type ${t} (this reader does not read it)`
}

/**
 * A bump allocator over one buffer, emptied per batch: where a recycled
 * batch's buffers are decompressed (reader's RecyclePool). Allocations are
 * 8-aligned. When one does not fit, a new buffer of twice the size (at
 * least the allocation) replaces the current one: earlier allocations keep
 * the old buffer alive as long as they are used, and after a few batches the
 * arena holds the largest batch without allocating.
 */
export class Arena {
  private buf: Buffer | null = null
  private used = 0
  /** Forget every allocation (their bytes will be overwritten). */
  reset(): void {
    this.used = 0
  }
  /** `n` bytes (uninitialised), 8-aligned. */
  alloc(n: number): Buffer {
    const at = (this.used + 7) & ~7
    if (!this.buf || at + n > this.buf.length) {
      this.buf = Buffer.allocUnsafeSlow(Math.max(n, 2 * (this.buf?.length ?? 0), 1 << 16))
      this.used = n
      return this.buf.subarray(0, n)
    }
    this.used = at + n
    return this.buf.subarray(at, at + n)
  }
}

/**
 * Decodes the record and dictionary batches of one stream against its schema:
 * checks, decompresses and structurally validates every buffer, then builds
 * arrow-js Data directly. Holds the current dictionaries. Throws BadMessage.
 */
export class BatchDecoder {
  /** Current dictionary values by dictionary id. */
  readonly dictionaries = new Map<number, A.Vector>()
  // per-batch state
  private body: Uint8Array = new Uint8Array(0)
  private nodes: NodeLike[] = []
  private regions: RegionLike[] = []
  private ni = 0
  private bi = 0
  private compressed = false
  private total = 0
  private arena: Arena | undefined
  /** This message's decompressed buffers by region offset: a region shared by several buffers (see twins) is decompressed once. */
  private readonly outs = new Map<number, {length: number; out: Uint8Array}>()

  constructor(readonly schema: A.Schema) {
    for (const f of schema.fields) {
      const why = unsupportedType(f.type)
      if (why) bad(`column ${JSON.stringify(f.name)}: ${why}`)
    }
  }

  /**
   * Decode a record batch message's body into a RecordBatch. With `arena`,
   * compressed buffers are decompressed into it (the batch lives as long as
   * the arena's bytes are not reused), else into fresh buffers.
   */
  record(message: Message, body: Uint8Array, arena?: Arena): A.RecordBatch {
    if (!message.isRecordBatch()) bad('not a record batch')
    const h = message.header() as unknown as BatchHeader
    const length = this.begin(h, body)
    this.arena = arena
    return this.build(length)
  }

  /**
   * record(), cooperatively: the batch's buffers are decompressed one by one
   * first, then the batch is built from them (every check of record() still
   * runs). `pause` is called before each buffer and before the build: a
   * Promise is awaited first (the caller gives the event loop back, or waits
   * for a moment when its paced work leaves room), null goes on at once. A
   * reader that shares its thread with a paced sender (replay's read-ahead)
   * then holds the event loop for one buffer at a time at most, not a whole
   * batch (a 65,536-row Yahoo batch is ~80 buffers and 10–20 ms of zstd on
   * this project's 2-core machine).
   */
  async recordCooperative(message: Message, body: Uint8Array, arena: Arena | undefined, pause: () => Promise<void> | null): Promise<A.RecordBatch> {
    if (!message.isRecordBatch()) bad('not a record batch')
    const h = message.header() as unknown as BatchHeader
    const length = this.begin(h, body)
    this.arena = arena
    if (this.compressed) {
      for (let i = 0; i < this.regions.length; i++) {
        if (this.regions[i].length === 0) continue
        const w = pause()
        if (w) await w
        try {
          this.region(i, 0)
        } catch (error) {
          // left for build(), which checks it again if the batch uses it (an unused validity bitmap is never decompressed)
          if (!(error instanceof BadMessage)) throw error
        }
      }
    }
    const w = pause()
    if (w) await w
    return this.build(length)
  }

  private build(length: number): A.RecordBatch {
    const children = this.schema.fields.map((f, k) => {
      const d = this.visit(f.type)
      if (d.length !== length) bad(`column ${k} has ${d.length} values, the batch ${length} rows`)
      return d
    })
    this.end()
    return new A.RecordBatch(this.schema, A.makeData({type: new A.Struct(this.schema.fields), length, nullCount: 0, children}))
  }

  /** Decode a dictionary batch message and make it the current dictionary for its id (or append a delta). */
  dictionary(message: Message, body: Uint8Array): void {
    if (!message.isDictionaryBatch()) bad('not a dictionary batch')
    const h = message.header()
    const type = this.schema.dictionaries.get(h.id)
    if (!type) bad(`dictionary id ${h.id} is not in the schema`)
    const length = this.begin(h.data as unknown as BatchHeader, body)
    const data = this.visit(type)
    if (data.length !== length) bad(`dictionary ${h.id} has ${data.length} values, its batch says ${length}`)
    this.end()
    const old = this.dictionaries.get(h.id)
    const vec = new A.Vector([data])
    this.dictionaries.set(h.id, (old && h.isDelta ? old.concat(vec) : vec).memoize())
  }

  private begin(h: BatchHeader, body: Uint8Array): number {
    const length = h.length
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_BATCH_ROWS) bad(`invalid row count ${length}`)
    this.body = body
    this.arena = undefined
    this.nodes = h.nodes
    this.regions = h.buffers
    this.ni = 0
    this.bi = 0
    this.total = 0
    this.outs.clear()
    this.compressed = h.compression != null
    return length
  }

  private end(): void {
    if (this.ni !== this.nodes.length) bad(`${this.nodes.length} field nodes where the schema has ${this.ni}`)
    if (this.bi !== this.regions.length) bad(`${this.regions.length} buffers where the schema has ${this.bi}`)
    this.body = new Uint8Array(0)
    this.arena = undefined
    this.outs.clear()
  }

  private node(): NodeLike {
    if (this.ni >= this.nodes.length) bad(`fewer field nodes (${this.nodes.length}) than the schema needs`)
    const n = this.nodes[this.ni++]
    if (!Number.isSafeInteger(n.length) || n.length < 0 || n.length > MAX_BATCH_ROWS) bad(`field node ${this.ni - 1}: invalid length ${n.length}`)
    if (!Number.isSafeInteger(n.nullCount) || n.nullCount < 0 || n.nullCount > n.length) bad(`field node ${this.ni - 1}: invalid null count ${n.nullCount} for ${n.length} values`)
    return n
  }

  /**
   * The next buffer, at least `need` bytes long once uncompressed; `use`
   * false only checks its region (a validity bitmap of a column without
   * nulls, which arrow-js never reads). Checks the region against the body,
   * the uncompressed-length prefix against `need` and the limits, and the
   * zstd frame's content size against the prefix, before decompressing.
   */
  private buffer(need: number, use = true): Uint8Array {
    const i = this.bi
    if (i >= this.regions.length) bad(`fewer buffers (${this.regions.length}) than the schema needs`)
    this.bi++
    if (!use) {
      this.region(i, need, false)
      return new Uint8Array(0)
    }
    return this.region(i, need)
  }

  /** Buffer `i` of the message, decompressed once (see buffer; `use` false only checks it). */
  private region(i: number, need: number, use = true): Uint8Array {
    const {offset, length} = this.regions[i]
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.body.byteLength) {
      bad(`buffer ${i} (${offset}+${length}) lies outside the ${this.body.byteLength}-byte body`)
    }
    if (need > MAX_BUFFER_BYTES) bad(`buffer ${i} would need ${need} bytes (a reader accepts up to ${MAX_BUFFER_BYTES})`)
    if (!use) return new Uint8Array(0)
    if (length === 0) {
      if (need > 0) bad(`buffer ${i} is empty where ${need} bytes are needed`)
      return new Uint8Array(0)
    }
    let out: Uint8Array
    const twin = this.outs.get(offset)
    if (twin !== undefined && twin.length === length) {
      // a region this message already decompressed and checked (identical buffers are stored once)
      if (twin.out.byteLength < need) bad(`buffer ${i} holds ${twin.out.byteLength} bytes where ${need} are needed`)
      return twin.out
    }
    if (!this.compressed) {
      out = this.body.subarray(offset, offset + length)
    } else {
      if (length < 8) bad(`buffer ${i} is shorter than its length prefix`)
      const raw = this.body.subarray(offset + 8, offset + length)
      const stated = new DataView(this.body.buffer, this.body.byteOffset + offset, 8).getBigInt64(0, true)
      if (stated === -1n) {
        out = raw
      } else {
        if (stated < BigInt(need)) bad(`buffer ${i}: its prefix states ${stated} uncompressed bytes where ${need} are needed`)
        if (stated > BigInt(MAX_BUFFER_BYTES)) bad(`buffer ${i}: its prefix states ${stated} uncompressed bytes (a reader accepts up to ${MAX_BUFFER_BYTES})`)
        const want = Number(stated)
        const fcs = zstdContentSize(raw)
        if (fcs === null) bad(`buffer ${i}: its zstd frame does not state its content size`)
        if (fcs !== want) bad(`buffer ${i}: its zstd frame states ${fcs} bytes, its prefix ${want}`)
        if (this.total + want > MAX_BATCH_BYTES) bad(`the batch's buffers exceed ${MAX_BATCH_BYTES} bytes uncompressed`)
        // Into a buffer of exactly the checked size: zstd-napi's decompress() sizes
        // its output from every frame in the input, which the file controls.
        out = this.arena ? this.arena.alloc(want) : Buffer.allocUnsafeSlow(want)
        let got: number
        try {
          got = dctx.decompress(out, raw)
        } catch (error) {
          bad(`buffer ${i} does not decompress (zstd: ${(error as Error).message})`)
        }
        if (got !== want) bad(`buffer ${i} decompresses to ${got} bytes, its prefix states ${want}`)
      }
    }
    if (out.byteLength < need) bad(`buffer ${i} holds ${out.byteLength} bytes where ${need} are needed`)
    this.total += out.byteLength
    // Typed-array views need aligned offsets; a body slice at an odd offset is copied.
    if (out.byteOffset % 8 !== 0) out = out.slice()
    this.outs.set(offset, {length, out})
    return out
  }

  /** Offsets buffer of `n` values: non-negative, non-decreasing; returns it and its last offset. */
  private offsets(n: number): [Int32Array, number] {
    const b = this.buffer(n === 0 ? 0 : (n + 1) * 4)
    if (n === 0 && b.byteLength < 4) return [new Int32Array(1), 0]
    const o = new Int32Array(b.buffer, b.byteOffset, n + 1)
    if (o[0] < 0) bad(`buffer ${this.bi - 1}: negative offset ${o[0]}`)
    for (let k = 0; k < n; k++) if (o[k + 1] < o[k]) bad(`buffer ${this.bi - 1}: offsets decrease at value ${k}`)
    return [o, o[n]]
  }

  private validity(n: NodeLike): Uint8Array {
    return this.buffer(n.nullCount > 0 ? bytesForBits(n.length) : 0, n.nullCount > 0)
  }

  private visit(type: A.DataType): A.Data {
    const n = this.node()
    const {length, nullCount} = n
    if (A.DataType.isNull(type)) return A.makeData({type, length})
    const nullBitmap = this.validity(n)
    if (A.DataType.isBool(type)) return A.makeData({type, length, nullCount, nullBitmap, data: this.buffer(bytesForBits(length))})
    if (A.DataType.isUtf8(type) || A.DataType.isBinary(type)) {
      const [valueOffsets, last] = this.offsets(length)
      const data = this.buffer(last)
      return A.makeData({type, length, nullCount, nullBitmap, valueOffsets, data} as DataProps<A.Utf8>)
    }
    if (A.DataType.isList(type)) {
      const [valueOffsets, last] = this.offsets(length)
      const child = this.visit(type.children[0].type)
      if (child.length < last) bad(`a list's offsets reach ${last}, its values hold ${child.length}`)
      return A.makeData({type, length, nullCount, nullBitmap, valueOffsets, child})
    }
    if (A.DataType.isFixedSizeList(type)) {
      const child = this.visit(type.children[0].type)
      if (child.length < length * type.listSize) bad(`a fixed-size list needs ${length * type.listSize} values, it holds ${child.length}`)
      return A.makeData({type, length, nullCount, nullBitmap, child})
    }
    if (A.DataType.isStruct(type)) {
      const children = type.children.map((c) => {
        const d = this.visit(c.type)
        if (d.length < length) bad(`a struct field has ${d.length} values, the struct ${length}`)
        return d
      })
      return A.makeData({type, length, nullCount, nullBitmap, children})
    }
    if (A.DataType.isDictionary(type)) {
      const width = type.indices.bitWidth / 8
      const data = this.buffer(length * width)
      const dictionary = this.dictionaries.get(type.id)
      if (!dictionary) bad(`a batch uses dictionary ${type.id} before any dictionary batch defines it`)
      checkIndices(type.indices, data, length, nullCount > 0 ? nullBitmap : null, dictionary.length)
      return A.makeData({type, length, nullCount, nullBitmap, data, dictionary} as DataProps<A.Dictionary>)
    }
    const width = fixedWidth(type)
    if (width === 0) bad(`type ${type} is not readable`)
    return A.makeData({type, length, nullCount, nullBitmap, data: this.buffer(length * width)} as DataProps<A.Int>)
  }
}

/** Every non-null index of a dictionary column lies in [0, dictLength). */
function checkIndices(t: A.Int, b: Uint8Array, length: number, bitmap: Uint8Array | null, dictLength: number): void {
  const Ctor = t.ArrayType as unknown as {new (buf: ArrayBufferLike, off: number, len: number): ArrayLike<number | bigint>}
  const v = new Ctor(b.buffer, b.byteOffset, length)
  if (!bitmap && t.bitWidth < 64) {
    // Fast path (no nulls, number indices): one min/max pass; find the culprit only when it fails.
    const a = v as ArrayLike<number>
    let lo = 0
    let hi = -1
    for (let i = 0; i < length; i++) {
      const x = a[i]
      if (x < lo) lo = x
      if (x > hi) hi = x
    }
    if (lo >= 0 && hi < dictLength) return
  }
  for (let i = 0; i < length; i++) {
    if (bitmap && ((bitmap[i >> 3] >> (i & 7)) & 1) === 0) continue
    const x = Number(v[i])
    if (!(x >= 0 && x < dictLength)) bad(`dictionary index ${v[i]} at value ${i} is outside the ${dictLength}-entry dictionary`)
  }
}
