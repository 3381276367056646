import * as A from 'apache-arrow'
import {open, stat, type FileHandle} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'

import {COL, FEED_COL0, type RowView} from './types.js'
import {MdrecError, fsError} from '../errors.js'
import {parseTimeSpec, plural, resolveTimeSpec} from '../util/units.js'
import './ipc.js' // registers the zstd codec with arrow-js
import {Arena, BadMessage, BatchDecoder, decodeMetadata, eosAt, FILE_MAGIC, isFileMagic, parsePrefix, type FramedMessage} from './ipc.js'
import {arrivalOrder, batchTimeRange} from './order.js'
import {BatchRows} from './rows.js'
import {ColumnRestorer, fullSchema} from './absent.js'
import {FORMAT_VERSION, metaFromMap, storeColumnsFromSchema, type NullColumn, type RecordingMeta, type StoreColumn} from './schema.js'

// The row accessor lives in store/rows.ts; these names stay importable from the reader.
export {BatchRows, listToPlain, timestampAt} from './rows.js'

export interface RecordingFile {
  path: string
  /** The recording's columns, every one (readers put back the columns the file leaves out, see `nullColumns`); metadata without `mdrec.null_columns`. */
  schema: A.Schema
  /** The schema as the file stores it (fewer columns than `schema` when `nullColumns` is not empty). */
  storedSchema: A.Schema
  /** Columns the file leaves out because they are null in every row (docs/FORMAT.md); readBatches yields them all null. */
  nullColumns: NullColumn[]
  meta: RecordingMeta
  columns: StoreColumn[]
  /** Feed columns (everything after the common ones). */
  feedColumns: StoreColumn[]
  sizeBytes: number
  /** Byte length of the schema message. */
  schemaBytes: number
  /** The file begins with the IPC file magic (`ARROW1`): a closed, version-2 recording, whose footer follows its stream. */
  ipcFile: boolean
}

/** Bytes read ahead for small reads (message prefixes and metadata). */
const READ_AHEAD = 1 << 16

/**
 * Positional reads of a file that hand out buffers nobody else holds: a
 * caller may keep and decode what it gets, whatever is read next (the read-
 * ahead buffer is only ever copied from). A read beyond the file's size (as
 * of a fresh stat) returns null instead of allocating: no length taken from
 * the file allocates more than the file holds.
 */
class FileBytes {
  private ahead = Buffer.alloc(READ_AHEAD)
  private aheadAt = 0
  private aheadLen = 0
  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    public size: number,
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {
    this.size = Math.min(size, limit)
  }

  /** Bytes available from `pos`, after a fresh stat when fewer than `want` were known. */
  async available(pos: number, want: number): Promise<number> {
    if (this.size - pos < want) await this.refresh()
    return Math.max(0, this.size - pos)
  }

  private async refresh(): Promise<void> {
    try {
      this.size = Math.min((await this.fh.stat()).size, this.limit)
    } catch (error) {
      throw fsError(error, this.path, 'reading a recording')
    }
  }

  /**
   * `len` bytes at `pos` in a fresh buffer (or in `into`, when given and at
   * least `len` long: its first `len` bytes), or null when the file ends
   * before them.
   */
  async read(pos: number, len: number, into?: Buffer): Promise<Buffer | null> {
    if (pos + len > this.size) {
      await this.refresh()
      if (pos + len > this.size) return null
    }
    if (into && into.length >= len) {
      const out = into.subarray(0, len)
      return (await this.readInto(out, pos)) === len ? out : null
    }
    if (pos >= this.aheadAt && pos + len <= this.aheadAt + this.aheadLen) {
      return Buffer.from(this.ahead.subarray(pos - this.aheadAt, pos - this.aheadAt + len))
    }
    if (len >= READ_AHEAD >> 1) {
      const out = Buffer.allocUnsafeSlow(len)
      return (await this.readInto(out, pos)) === len ? out : null
    }
    this.aheadAt = pos
    this.aheadLen = await this.readInto(this.ahead.subarray(0, Math.min(READ_AHEAD, this.size - pos)), pos)
    if (this.aheadLen < len) return null
    return Buffer.from(this.ahead.subarray(0, len))
  }

  private async readInto(b: Buffer, pos: number): Promise<number> {
    let got = 0
    try {
      while (got < b.length) {
        const {bytesRead} = await this.fh.read(b, got, b.length - got, pos + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
    } catch (error) {
      throw fsError(error, this.path, 'reading a recording')
    }
    return got
  }
}

/**
 * The pool of the last recycling walk to end, kept for a second (for the
 * next one: verify, then repair; a counting pass, then the copy) and then
 * left to the garbage collector. A walk takes it whole or makes its own, so
 * no two walks running at once share one; the turn continues from where the
 * last walk left it, so its last two batches stay intact until the next walk
 * has read two more (the ReadOptions.recycle promise, across walks).
 */
let sparePool: RecyclePool | null = null
let spareTimer: NodeJS.Timeout | null = null
function takePool(): RecyclePool {
  const p = sparePool ?? new RecyclePool()
  sparePool = null
  return p
}
function givePool(p: RecyclePool): void {
  sparePool = p
  if (spareTimer) clearTimeout(spareTimer)
  spareTimer = setTimeout(() => {
    sparePool = null
    spareTimer = null
  }, 1000)
  spareTimer.unref()
}

/** A message read (with the arena its batch decodes into, when recycled), or why not. */
type ReadAt = {framed: FramedMessage; bytes: Uint8Array; arena?: Arena} | {need: string} | 'end'

/** Record-batch messages at least this large are read into a recycled buffer (ReadOptions.recycle); smaller ones are copied out of the read-ahead. */
const RECYCLE_FROM = READ_AHEAD >> 1

/**
 * Two sets of buffers used in turn, one set per record batch: the message's
 * bytes and the arena its buffers are decompressed into (ReadOptions.recycle).
 * Each grows to the largest batch seen and is then reused, so a walk over
 * large batches holds two of them, not however many the garbage collector
 * has not yet freed (V8 frees large buffers late: four or five 50 MB frames
 * were resident at once). Hand-written: Node has no pool of reusable large
 * buffers.
 */
export class RecyclePool {
  private readonly bodies: [Buffer | null, Buffer | null] = [null, null]
  private readonly arenas = [new Arena(), new Arena()]
  private turn = 0
  /** Start the next batch: its (emptied) arena, and a buffer for its message of `len` bytes (none for 0). */
  next(len: number): {body: Buffer | undefined; arena: Arena} {
    this.turn ^= 1
    let b = this.bodies[this.turn]
    // With 1/64 slack (at least 64 KiB): messages of nearly equal size (large frames whose batches'
    // metadata or small buffers differ by a few bytes) then reuse one buffer instead of each growing it.
    if (len > 0 && (!b || b.length < len)) this.bodies[this.turn] = b = Buffer.allocUnsafeSlow(len + Math.max(len >> 6, 1 << 16))
    const arena = this.arenas[this.turn]
    arena.reset()
    return {body: len > 0 ? b! : undefined, arena}
  }
}

/**
 * Read and verify the message at `pos`: its prefix, its metadata (verified,
 * then decoded from a private copy), its body length against what the file
 * holds, then the whole message into a fresh buffer. Returns 'end' at the
 * file's end, {need} when the file ends inside the message, or throws
 * BadMessage when the bytes cannot be a message.
 */
async function readMessageAt(src: FileBytes, pos: number, pool?: RecyclePool, skipRecordBodies = false): Promise<ReadAt> {
  const avail = await src.available(pos, 8)
  if (avail === 0) return 'end'
  const head = await src.read(pos, Math.min(8, avail))
  if (!head) return {need: 'a partial message header'}
  const p = parsePrefix(head)
  if (p === 'need') return {need: `a partial message header (${avail} bytes)`}
  if (p.eos) return {framed: eosAt(pos, p.prefix), bytes: head.subarray(0, p.prefix)}
  const meta = await src.read(pos + p.prefix, p.metaLength)
  if (!meta) return {need: `the file ends inside the message's metadata (${p.metaLength} bytes stated, ${avail - p.prefix} present)`}
  const framed = decodeMetadata(meta, pos, p.prefix)
  const total = framed.metaLength + framed.bodyLength
  const cutShort = async (): Promise<ReadAt> => ({
    need: `a ${framed.kind} message cut short (${framed.bodyLength}-byte body stated, ${Math.max(0, (await src.available(pos, total)) - framed.metaLength)} bytes present)`,
  })
  if (skipRecordBodies && framed.kind === 'record') {
    // The body must be in the file, but nobody looks at it: no buffer for it (MessageStreamOptions.recordBodies).
    return (await src.available(pos, total)) >= total ? {framed, bytes: meta.subarray(0, 0)} : cutShort()
  }
  // Only record batches are recycled (a dictionary's values live on in the
  // decoder); small messages are read as they were, their buffers decompressed into the arena.
  const recycled = pool && framed.kind === 'record' && (await src.available(pos, total)) >= total ? pool.next(total >= RECYCLE_FROM ? total : 0) : null
  const bytes = await src.read(pos, total, recycled?.body)
  if (!bytes) return cutShort()
  return {framed, bytes, arena: recycled?.arena}
}

export interface MessageStreamOptions {
  /** Keep waiting for more messages at the end of the file until its end-of-stream marker (a live recording). */
  follow?: boolean
  /** How often to look for more bytes when following. */
  pollMs?: number
  signal?: AbortSignal
  /** Decode and check every batch (the same checks every reader makes) before yielding it. */
  deep?: boolean
  /** Stop at this byte offset (exclusive) instead of the end of the file. */
  end?: number
  /** See ReadOptions.recycle (decoding walks only). */
  recycle?: boolean
  /** See ReadOptions.pause (decoding walks only). */
  pause?: () => Promise<void> | null
  /**
   * false: record batch messages are framed and their metadata verified, and
   * the file must hold their whole body, but the body is not read: such a
   * message is yielded with empty `bytes`. For walks that want only the
   * schema and dictionaries (inputFacts): reading every body into a
   * fresh buffer left several 40 MB frames to the garbage collector at once.
   * Not with `deep`. Default true.
   */
  recordBodies?: boolean
}

export interface StreamEnd {
  /** The end-of-stream marker was read. */
  eos: boolean
  /** Offset just past the last complete, sound message. */
  validEnd: number
  /** Sound messages read (schema, dictionaries, batches, end marker). */
  messages: number
  /** Sound record batches read, and their rows. */
  batches: number
  rows: number
  /**
   * Set when the bytes after `validEnd` are not a complete, sound message:
   * `E_TRUNCATED` when the file ends inside a message, `E_CORRUPT` when a
   * message or batch is damaged. `offset` is the message's first byte.
   */
  problem?: {offset: number; reason: string; code: 'E_TRUNCATED' | 'E_CORRUPT'}
}

/** One sound message: its framing, its bytes (a fresh buffer), and the batch when decoding. */
export interface StreamMessage {
  framed: FramedMessage
  bytes: Uint8Array
  /** The decoded record batch (deep/decoding walks only). */
  batch: A.RecordBatch | null
}

/**
 * The one reading path: walk a stream file message by message (one message
 * in memory at a time, plus the current dictionaries), verifying each
 * message's framing and metadata and, with `decode`, decoding and checking
 * every batch (BatchDecoder). Every sound message is yielded before the walk
 * stops at the first bad one; how it ended is written into `end`. In follow
 * mode a partial message at the end is waited for, not reported.
 */
async function* walk(path: string, opts: MessageStreamOptions & {decode: boolean}, end: StreamEnd): AsyncGenerator<StreamMessage> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (error) {
    throw fsError(error, path, 'reading a recording')
  }
  try {
    let size: number
    try {
      size = (await fh.stat()).size
    } catch (error) {
      throw fsError(error, path, 'reading a recording')
    }
    const src = new FileBytes(fh, path, size, opts.end)
    const pool = opts.recycle && opts.decode ? takePool() : undefined
    let decoder: BatchDecoder | null = null
    // A closed v2 recording is an IPC file: its stream starts after the 8-byte magic (and ends at its end-of-stream marker, before the footer).
    const start = isFileMagic(await src.read(0, Math.min(FILE_MAGIC.byteLength, size))) ? FILE_MAGIC.byteLength : 0
    let pos = start
    try {
      for (;;) {
        if (opts.signal?.aborted) return
        let r: ReadAt
        let batch: A.RecordBatch | null = null
        try {
          r = await readMessageAt(src, pos, pool, opts.recordBodies === false && !opts.decode)
          if (r !== 'end' && !('need' in r)) {
            const {framed, bytes, arena} = r
            if (pos === start && framed.kind !== 'schema') throw new BadMessage('the first message is not a schema')
            if (pos > start && framed.kind === 'schema') throw new BadMessage('a second schema message')
            if (opts.decode && framed.message) {
              const body = bytes.subarray(framed.metaLength)
              if (framed.kind === 'schema') decoder = new BatchDecoder(framed.message.header() as A.Schema)
              else if (framed.kind === 'record') {
                batch = opts.pause ? await decoder!.recordCooperative(framed.message, body, arena, opts.pause) : decoder!.record(framed.message, body, arena)
              }
              else if (framed.kind === 'dictionary') decoder!.dictionary(framed.message, body)
            }
          }
        } catch (error) {
          if (!(error instanceof BadMessage)) throw error
          const what = pos === start ? 'schema message' : 'message'
          end.problem = {offset: pos, reason: `${what} at byte ${pos}: ${error.message}`, code: 'E_CORRUPT'}
          return
        }
        if (r === 'end' || 'need' in r) {
          if (opts.follow) {
            try {
              await sleep(opts.pollMs ?? 100, undefined, {signal: opts.signal})
            } catch {
              return
            }
            continue
          }
          if (r !== 'end') end.problem = {offset: pos, reason: `the file ends inside the message at byte ${pos}: ${r.need}`, code: 'E_TRUNCATED'}
          return
        }
        const {framed, bytes} = r
        end.messages++
        pos += framed.metaLength + framed.bodyLength
        end.validEnd = pos
        if (framed.kind === 'eos') {
          end.eos = true
          return
        }
        if (framed.kind === 'record') {
          end.batches++
          end.rows += framed.rows
        }
        yield {framed, bytes, batch}
      }
    } finally {
      if (pool) givePool(pool)
    }
  } finally {
    await fh.close()
  }
}

/**
 * Walk a stream file message by message in constant memory (one message in
 * memory at a time), yielding each sound message's framing and bytes (a
 * fresh buffer the caller may keep). With `deep`, every batch is decoded and
 * checked exactly as the readers do. How the walk ended is reported to `done`.
 */
export async function* messageStream(
  path: string,
  opts: MessageStreamOptions = {},
  done?: (end: StreamEnd) => void,
): AsyncGenerator<{framed: FramedMessage; bytes: Uint8Array}> {
  const end: StreamEnd = {eos: false, validEnd: 0, messages: 0, batches: 0, rows: 0}
  try {
    for await (const m of walk(path, {...opts, decode: opts.deep ?? false}, end)) yield {framed: m.framed, bytes: m.bytes}
  } finally {
    done?.(end)
  }
}

export interface ReadOptions {
  /** Inclusive lower bound on recv_ts (ns). */
  from?: bigint
  /** Exclusive upper bound on recv_ts (ns). */
  to?: bigint
  /** Keep only these symbols. */
  symbols?: readonly string[]
  follow?: boolean
  signal?: AbortSignal
  /**
   * What a damaged or cut-off tail does: 'error' (default) throws, after every
   * sound batch before it, an MdrecError (E_TRUNCATED or E_CORRUPT) naming
   * the file, the byte offset and the rows before it; 'stop' ends quietly
   * (the reason is in onEnd's `problem`).
   */
  onTruncated?: 'error' | 'stop'
  /** Called once at the end with how the stream ended. */
  onEnd?: (end: StreamEnd) => void
  /** Called with every sound message's framing and bytes as it is read (sizes for `info`). */
  onMessage?: (framed: FramedMessage, bytes: Uint8Array) => void
  /**
   * Read large record batches (32 KiB and more) into two sets of buffers used
   * in turn instead of fresh ones: memory stays at two batches however large
   * and many they are. The caller promises to use a yielded batch, and any
   * view of its buffers (values, offsets, `onMessage`'s bytes), no longer
   * than until it asks for the batch after the next one, from this walk or a
   * recycling walk started after it ended: the buffers are then overwritten.
   * Default false (every batch is the caller's to keep).
   */
  recycle?: boolean
  /**
   * Decode each record batch cooperatively (BatchDecoder.recordCooperative):
   * `pause` is called before each compressed buffer is decompressed, before
   * the batch is built and before its rows are selected; when it returns a
   * Promise, that is awaited first (null: go on at once). A caller that
   * shares the event loop with paced work (replay) then does this work in
   * pieces, when the paced work leaves room: e.g. `() => new Promise((r) =>
   * setImmediate(r))` gives the event loop back before each piece. Default:
   * none (each batch decoded in one go, which is faster overall).
   */
  pause?: () => Promise<void> | null
}

export interface SelectedBatch {
  batch: A.RecordBatch
  /** Indices of the selected rows, or null for all rows. */
  idx: Uint32Array | null
}

/**
 * Stream a recording's record batches, filtered by time range and symbols.
 * Every batch is decoded and checked (BatchDecoder) before it is yielded, and
 * no batch is read ahead: every sound batch before a damaged one is yielded,
 * then the error is thrown.
 */
export async function* readBatches(file: RecordingFile, opts: ReadOptions = {}): AsyncGenerator<SelectedBatch> {
  const end: StreamEnd = {eos: false, validEnd: 0, messages: 0, batches: 0, rows: 0}
  const wanted = opts.symbols && opts.symbols.length > 0 ? new Set(opts.symbols) : null
  const restorer = file.nullColumns.length > 0 ? new ColumnRestorer(file.schema, file.nullColumns) : null
  const ordered = file.meta.timeOrdered === true || opts.follow === true
  for await (const m of walk(file.path, {follow: opts.follow, signal: opts.signal, decode: true, recycle: opts.recycle, pause: opts.pause}, end)) {
    opts.onMessage?.(m.framed, m.bytes)
    if (!m.batch || m.batch.numRows === 0) continue
    if (opts.pause) {
      const w = opts.pause()
      if (w) await w
    }
    const batch = restorer ? restorer.restore(m.batch) : m.batch
    const n = batch.numRows
    const ts = batch.getChildAt(COL.recv_ts)!.data[0].values as BigInt64Array
    // v2 closed files store a batch's rows clustered by shape and symbol: `order` is their arrival order (null: stored so).
    const order = arrivalOrder(batch)
    // The batch's span: its first and last rows in arrival order where receive times never decrease
    // in arrival order (`mdrec.time_ordered`, and a file being followed: a recorder's rows), else its
    // rows' least and largest times (a merge written by an older mdrec went file after file). Only
    // then does a batch starting at or after `to` end the walk; otherwise it is passed over.
    let first: bigint
    let last: bigint
    if (ordered || (opts.from === undefined && opts.to === undefined)) {
      first = ts[order ? order[0] : 0]
      last = ts[order ? order[n - 1] : n - 1]
    } else [first, last] = batchTimeRange(batch)
    if (opts.to !== undefined && first >= opts.to) {
      if (ordered) break
      continue
    }
    if (opts.from !== undefined && last < opts.from) continue
    let keepSym: Uint8Array | null = null
    let symIdx: ArrayLike<number> | null = null
    if (wanted) {
      const symData = batch.getChildAt(COL.symbol)!.data[0]
      const dict = symData.dictionary as A.Vector<A.Utf8>
      keepSym = new Uint8Array(dict.length)
      let any = false
      for (let k = 0; k < dict.length; k++) if (wanted.has(dict.get(k) ?? '')) {
        keepSym[k] = 1
        any = true
      }
      if (!any) continue
      symIdx = symData.values as ArrayLike<number>
    }
    const needTime = (opts.from !== undefined && first < opts.from) || (opts.to !== undefined && last >= opts.to)
    if (!keepSym && !needTime) {
      yield {batch, idx: order}
      continue
    }
    const idx = new Uint32Array(n)
    let k = 0
    for (let j = 0; j < n; j++) {
      const i = order ? order[j] : j
      if (keepSym && !keepSym[symIdx![i]]) continue
      if (needTime) {
        const t = ts[i]
        if ((opts.from !== undefined && t < opts.from) || (opts.to !== undefined && t >= opts.to)) continue
      }
      idx[k++] = i
    }
    if (k > 0) yield {batch, idx: idx.subarray(0, k)}
  }
  opts.onEnd?.(end)
  if (end.problem && (opts.onTruncated ?? 'error') === 'error') throw streamError(file.path, end)
}

/** True when `b` (a file's first bytes, fewer than 8) begins the Arrow file magic or a stream message's 0xFFFFFFFF continuation marker. */
function startsLikeArrow(b: Uint8Array): boolean {
  return b.every((x, k) => x === FILE_MAGIC[k]) || b.subarray(0, 4).every((x) => x === 0xff)
}

/** The MdrecError for a stream that ended at `e.problem`: the file, the offset, why, and what is intact before it. */
export function streamError(path: string, e: StreamEnd): MdrecError {
  const p = e.problem!
  return new MdrecError(
    p.code,
    `${path}: ${p.code === 'E_TRUNCATED' ? 'truncated' : 'damaged'} at byte ${p.offset} (${p.reason}); ` +
      (e.rows === 0
        ? 'no complete batch before it, so no row is recoverable (a closed file keeps its rows in a few large batches: a cut inside the first loses them all)'
        : `${plural(e.rows, 'row')} in ${plural(e.batches, 'complete batch')} before it. Run \`mdrec verify --repair ${path}\` to write a readable copy`),
  )
}

/** @deprecated the same as streamError (kept for callers of the old name). */
export const truncatedError = streamError

/**
 * Open a recording: checks that `path` is a readable, non-empty Arrow IPC
 * stream whose first message is a sound schema carrying mdrec metadata of a
 * version this mdrec reads, with the common columns' types and only column
 * types the reader reads. Throws MdrecError (E_NOT_FOUND, E_IS_DIRECTORY,
 * E_EMPTY_FILE, E_NOT_ARROW, E_NOT_RECORDING, E_FORMAT_VERSION, E_TRUNCATED
 * when the file ends inside the schema, E_IO).
 */
export async function openRecording(path: string): Promise<RecordingFile> {
  let st
  try {
    st = await stat(path)
  } catch (error) {
    throw fsError(error, path, 'opening a recording')
  }
  if (st.isDirectory()) throw new MdrecError('E_IS_DIRECTORY', `${path}: is a directory; give the path of a .arrow recording`)
  if (st.size === 0) throw new MdrecError('E_EMPTY_FILE', `${path}: the file is empty (0 bytes); it holds no recording`)
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (error) {
    throw fsError(error, path, 'opening a recording')
  }
  try {
    const src = new FileBytes(fh, path, st.size)
    // Format version 2's closed recordings are IPC files: the schema message follows the 8-byte magic.
    const head = await src.read(0, Math.min(FILE_MAGIC.byteLength, st.size))
    const at = isFileMagic(head) ? FILE_MAGIC.byteLength : 0
    let r: ReadAt
    let schema: A.Schema
    try {
      r = await readMessageAt(src, at)
      if (r === 'end' || 'need' in r) {
        // too short for a message header, and not the start of the Arrow magic or of a message's continuation marker
        if (at === 0 && st.size < FILE_MAGIC.byteLength && !startsLikeArrow(head!)) {
          throw new MdrecError('E_NOT_ARROW', `${path}: not an Arrow IPC stream or file (${st.size} bytes, too short for one message and not starting with the Arrow magic); expected an mdrec .arrow recording`)
        }
        throw new MdrecError('E_TRUNCATED', `${path}: the file ends inside its first message at byte ${at} (${r === 'end' ? 'no bytes' : r.need}; ${st.size} bytes); it is not a complete recording`)
      }
      if (r.framed.kind !== 'schema' || !r.framed.message) throw new BadMessage('the first message is not a schema')
      schema = r.framed.message.header() as A.Schema
    } catch (error) {
      if (!(error instanceof BadMessage)) throw error
      if (at > 0) {
        // mdrec's closed files carry the schema message after the magic (other writers, arrow-js's among them, may not)
        throw new MdrecError('E_NOT_RECORDING', `${path}: is an Arrow IPC file (random-access format) but not an mdrec recording (at byte ${at}: ${error.message})`)
      }
      throw new MdrecError('E_NOT_ARROW', `${path}: not an Arrow IPC stream or file (at byte ${at}: ${error.message}); expected an mdrec .arrow recording`)
    }
    let meta: RecordingMeta | null
    try {
      meta = metaFromMap(schema.metadata)
    } catch (error) {
      throw new MdrecError('E_NOT_RECORDING', `${path}: the schema at byte ${at}: ${(error as Error).message}`)
    }
    if (!meta) {
      throw new MdrecError('E_NOT_RECORDING', `${path}: ${at ? 'is an Arrow IPC file (random-access format)' : 'an Arrow stream,'} but not an mdrec recording (no mdrec.format_version in its schema metadata at byte ${at})`)
    }
    if (!(meta.formatVersion >= 1)) {
      throw new MdrecError('E_NOT_RECORDING', `${path}: invalid mdrec.format_version ${JSON.stringify(schema.metadata.get('mdrec.format_version'))} (schema at byte ${at})`)
    }
    if (meta.formatVersion > FORMAT_VERSION) {
      throw new MdrecError(
        'E_FORMAT_VERSION',
        `${path}: written in recording format version ${meta.formatVersion}; this mdrec reads up to version ${FORMAT_VERSION}. Upgrade mdrec to read it`,
      )
    }
    const why = commonColumnsProblem(schema)
    if (why) throw new MdrecError('E_NOT_RECORDING', `${path}: the schema at byte ${at} is not an mdrec recording's (${why})`)
    let columns: StoreColumn[]
    const {nullColumns = [], ...rest} = meta
    let full = schema
    try {
      new BatchDecoder(schema) // refuses column types the reader does not read
      if (nullColumns.length > 0) full = fullSchema(schema, nullColumns).schema
      columns = storeColumnsFromSchema(full)
    } catch (error) {
      throw new MdrecError('E_NOT_RECORDING', `${path}: the schema at byte ${at}: ${(error as Error).message}`)
    }
    return {
      path,
      schema: full,
      storedSchema: schema,
      nullColumns,
      meta: rest,
      columns,
      feedColumns: columns.slice(FEED_COL0),
      sizeBytes: st.size,
      schemaBytes: r.framed.metaLength + r.framed.bodyLength,
      ipcFile: at > 0,
    }
  } finally {
    await fh.close()
  }
}

/**
 * Why the first seven columns are not mdrec's common columns (the readers
 * index into them by position and type), or null.
 */
function commonColumnsProblem(schema: A.Schema): string | null {
  const f = schema.fields
  const want: [string, (t: A.DataType) => boolean, string][] = [
    ['recv_ts', (t) => A.DataType.isTimestamp(t), 'timestamp'],
    ['exch_ts', (t) => A.DataType.isTimestamp(t), 'timestamp'],
    ['symbol', (t) => A.DataType.isDictionary(t) && A.DataType.isUtf8(t.dictionary) && t.indices.bitWidth === 32, 'dictionary<int32, utf8>'],
    ['kind', (t) => A.DataType.isDictionary(t) && A.DataType.isUtf8(t.dictionary) && t.indices.bitWidth === 8, 'dictionary<int8, utf8>'],
    ['seq', (t) => A.DataType.isInt(t) && t.bitWidth === 64, 'uint64'],
    ['raw', (t) => A.DataType.isBinary(t), 'binary'],
    ['info', (t) => A.DataType.isUtf8(t), 'utf8'],
  ]
  if (f.length < want.length) return `${f.length} columns, at least ${want.length} expected`
  for (const [k, [name, ok, type]] of want.entries()) {
    if (f[k].name !== name || !ok(f[k].type)) return `column ${k} is ${f[k].name}: ${f[k].type}, expected ${name}: ${type}`
  }
  return null
}

/** Convenience: every selected row of a recording, as RowViews. */
export async function* readRows(file: RecordingFile, opts: ReadOptions = {}): AsyncGenerator<RowView> {
  for await (const {batch, idx} of readBatches(file, opts)) {
    const rows = new BatchRows(batch, file.feedColumns, idx)
    for (let k = 0; k < rows.length; k++) yield rows.row(rows.at(k))
  }
}

/** When the recording started (its metadata), in ns: the origin of `+offset` times. */
export function recordingStartNs(file: RecordingFile): bigint {
  try {
    return resolveTimeSpec(parseTimeSpec(file.meta.startTime), 0n)
  } catch {
    return 0n
  }
}
