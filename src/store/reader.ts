import * as A from 'apache-arrow'
import {open, stat, type FileHandle} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'

import type {RowKind, RowView} from '../feeds/types.js'
import {MdrecError, fsError} from '../errors.js'
import {parseTimeSpec, resolveTimeSpec} from '../util/units.js'
import './ipc.js' // registers the zstd codec with arrow-js
import {checkBody, parseMessageHeader, type FramedMessage} from './ipc.js'
import {FORMAT_VERSION, metaFromMap, storeColumnsFromSchema, type RecordingMeta, type StoreColumn} from './schema.js'

export interface RecordingFile {
  path: string
  schema: A.Schema
  meta: RecordingMeta
  columns: StoreColumn[]
  /** Feed columns (everything after the common ones). */
  feedColumns: StoreColumn[]
  sizeBytes: number
  /** Byte length of the schema message. */
  schemaBytes: number
}

const READ_CHUNK = 1 << 20

/**
 * Open a recording: checks that `path` is a readable, non-empty Arrow IPC
 * stream whose schema carries mdrec metadata of a version this mdrec reads.
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
    let want = Math.min(st.size, 64 * 1024)
    for (;;) {
      const buf = Buffer.alloc(want)
      const {bytesRead} = await fh.read(buf, 0, want, 0)
      const head = buf.subarray(0, bytesRead)
      if (head.subarray(0, 6).toString('latin1') === 'ARROW1') {
        throw new MdrecError(
          'E_NOT_RECORDING',
          `${path}: is an Arrow IPC file (random-access format), not an mdrec recording (an Arrow IPC stream written by mdrec)`,
        )
      }
      const h = parseMessageHeader(head, 0)
      if (h === 'need') {
        if (bytesRead < st.size) {
          want = Math.min(st.size, want * 4)
          continue
        }
        throw new MdrecError('E_TRUNCATED', `${path}: the file ends inside its first message (${st.size} bytes); it is not a complete recording`)
      }
      if ('bad' in h || h.kind !== 'schema' || !h.message) {
        throw new MdrecError('E_NOT_ARROW', `${path}: not an Arrow IPC stream (${'bad' in h ? h.bad : 'first message is not a schema'}); expected an mdrec .arrow recording`)
      }
      const schema = h.message.header() as A.Schema
      const meta = metaFromMap(schema.metadata)
      if (!meta) {
        throw new MdrecError('E_NOT_RECORDING', `${path}: an Arrow stream, but not an mdrec recording (no mdrec.format_version in its schema metadata)`)
      }
      if (!(meta.formatVersion >= 1)) {
        throw new MdrecError('E_NOT_RECORDING', `${path}: invalid mdrec.format_version ${JSON.stringify(schema.metadata.get('mdrec.format_version'))}`)
      }
      if (meta.formatVersion > FORMAT_VERSION) {
        throw new MdrecError(
          'E_FORMAT_VERSION',
          `${path}: written in recording format version ${meta.formatVersion}; this mdrec reads up to version ${FORMAT_VERSION}. Upgrade mdrec to read it`,
        )
      }
      let columns: StoreColumn[]
      try {
        columns = storeColumnsFromSchema(schema)
      } catch (error) {
        throw new MdrecError('E_NOT_RECORDING', `${path}: ${(error as Error).message}`)
      }
      return {
        path,
        schema,
        meta,
        columns,
        feedColumns: columns.slice(7),
        sizeBytes: st.size,
        schemaBytes: h.metaLength + h.bodyLength,
      }
    }
  } finally {
    await fh.close()
  }
}

export interface MessageStreamOptions {
  /** Keep waiting for more messages at the end of the file until its end-of-stream marker (a live recording). */
  follow?: boolean
  /** How often to look for more bytes when following. */
  pollMs?: number
  signal?: AbortSignal
  /** Check every batch body (buffer bounds, zstd) before yielding it. */
  deep?: boolean
  /** Stop at this byte offset (exclusive) instead of the end of the file. */
  end?: number
}

export interface StreamEnd {
  /** The end-of-stream marker was read. */
  eos: boolean
  /** Offset just past the last complete message. */
  validEnd: number
  messages: number
  batches: number
  rows: number
  /** Set when the bytes after `validEnd` are not a complete message. */
  problem?: {offset: number; reason: string}
}

/**
 * Walk a stream file message by message in constant memory (one message in
 * memory at a time), yielding each message's bytes. The result of the walk is
 * reported to `done` (eos, where it stopped and why). In follow mode a partial
 * message at the end is waited for, not reported.
 */
export async function* messageStream(
  path: string,
  opts: MessageStreamOptions = {},
  done?: (end: StreamEnd) => void,
): AsyncGenerator<{framed: FramedMessage; bytes: Uint8Array}> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (error) {
    throw fsError(error, path, 'reading a recording')
  }
  const end: StreamEnd = {eos: false, validEnd: 0, messages: 0, batches: 0, rows: 0}
  let buf = Buffer.alloc(READ_CHUNK)
  let start = 0 // unread bytes are buf[start, start + have)
  let have = 0
  let pos = 0 // file offset of buf[start]
  const limit = opts.end ?? Number.POSITIVE_INFINITY
  /** Read until `need` unread bytes are buffered or the file (as of now) ends. */
  const fill = async (need: number): Promise<void> => {
    if (start + need > buf.length) {
      // Move the unread tail to the front (once per buffer's worth of messages), growing if one message needs it.
      const next = need > buf.length ? Buffer.alloc(Math.max(need, buf.length * 2)) : buf
      buf.copy(next, 0, start, start + have)
      buf = next
      start = 0
    }
    while (have < need) {
      const room = Math.min(buf.length - start - have, limit - (pos + have))
      if (room <= 0) return
      const {bytesRead} = await fh.read(buf, start + have, room, pos + have)
      if (bytesRead === 0) return
      have += bytesRead
    }
  }
  try {
    for (;;) {
      if (opts.signal?.aborted) return
      if (have < 8) await fill(Math.min(8 + 65536, buf.length))
      const view = buf.subarray(start, start + have)
      const h = have === 0 ? 'need' : parseMessageHeader(view, pos)
      let bad: string | null = null
      let waitable = false
      if (h === 'need') {
        const before = have
        await fill(have + 65536)
        if (have > before) continue
        bad = have === 0 ? null : 'a partial message header'
        waitable = true
      } else if ('bad' in h) {
        bad = h.bad
      } else {
        const total = h.metaLength + h.bodyLength
        if (have < total) await fill(total)
        if (have >= total) {
          const bytes = buf.subarray(start, start + total)
          if (opts.deep && h.message && (h.kind === 'record' || h.kind === 'dictionary')) {
            const why = checkBody(h.message, bytes.subarray(h.metaLength))
            if (why) {
              end.problem = {offset: pos, reason: `${h.kind} batch at byte ${pos}: ${why}`}
              break
            }
          }
          end.messages++
          if (h.kind === 'record') {
            end.batches++
            end.rows += h.rows
          }
          start += total
          have -= total
          pos += total
          end.validEnd = pos
          if (h.kind === 'eos') {
            end.eos = true
            break
          }
          // Copy out of the read buffer (it is reused), and re-point the decoded
          // header at the copy: arrow-js decodes header fields lazily from it.
          const copy = new Uint8Array(bytes)
          const own = parseMessageHeader(copy, h.offset)
          yield {framed: typeof own === 'object' && !('bad' in own) ? own : h, bytes: copy}
          continue
        }
        bad = `a ${h.kind} message cut short (${have} of ${total} bytes present)`
        waitable = true
      }
      // At the end of what is on disk now.
      if (opts.follow && waitable) {
        try {
          await sleep(opts.pollMs ?? 100, undefined, {signal: opts.signal})
        } catch {
          return
        }
        continue
      }
      if (bad !== null) end.problem = {offset: pos, reason: bad}
      break
    }
  } finally {
    await fh.close()
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
  /** What a cut-off tail does: 'error' (default) throws E_TRUNCATED after the complete batches; 'stop' ends quietly. */
  onTruncated?: 'error' | 'stop'
  /** Called once at the end with how the stream ended. */
  onEnd?: (end: StreamEnd) => void
  /** Called with every message's framing and bytes as it is read (sizes for `info`). */
  onMessage?: (framed: FramedMessage, bytes: Uint8Array) => void
}

export interface SelectedBatch {
  batch: A.RecordBatch
  /** Indices of the selected rows, or null for all rows. */
  idx: Uint32Array | null
}

/** Stream a recording's record batches, filtered by time range and symbols. */
export async function* readBatches(file: RecordingFile, opts: ReadOptions = {}): AsyncGenerator<SelectedBatch> {
  let ended: StreamEnd | undefined
  const messages = messageStream(file.path, {follow: opts.follow, signal: opts.signal}, (e) => {
    ended = e
  })
  async function* bytesOnly(): AsyncGenerator<Uint8Array> {
    for await (const m of messages) {
      opts.onMessage?.(m.framed, m.bytes)
      yield m.bytes
    }
  }
  // arrow-js's stream reader reads the next message's header before it hands
  // out a batch: fine for a finished file, but following a live one it would
  // hold back the newest batch until the next flush. Following decodes each
  // batch on its own instead (schema + current dictionaries + the batch).
  const reader: AsyncIterable<A.RecordBatch> = opts.follow ? followBatches(messages, opts) : await A.RecordBatchReader.from(bytesOnly())
  const wanted = opts.symbols && opts.symbols.length > 0 ? new Set(opts.symbols) : null
  try {
    for await (const batch of reader) {
      if (batch.numRows === 0) continue
      const ts = batch.getChildAt(0)!.data[0].values as BigInt64Array
      if (opts.to !== undefined && ts[0] >= opts.to) break
      if (opts.from !== undefined && ts[ts.length - 1] < opts.from) continue
      let keepSym: Uint8Array | null = null
      let symIdx: Int32Array | null = null
      if (wanted) {
        const symData = batch.getChildAt(2)!.data[0]
        const dict = symData.dictionary as A.Vector<A.Utf8>
        keepSym = new Uint8Array(dict.length)
        let any = false
        for (let k = 0; k < dict.length; k++) if (wanted.has(dict.get(k) ?? '')) {
          keepSym[k] = 1
          any = true
        }
        if (!any) continue
        symIdx = (symData.values as Int32Array).subarray(symData.offset, symData.offset + batch.numRows)
      }
      const needTime =
        (opts.from !== undefined && ts[0] < opts.from) || (opts.to !== undefined && ts[ts.length - 1] >= opts.to)
      if (!keepSym && !needTime) {
        yield {batch, idx: null}
        continue
      }
      const idx = new Uint32Array(batch.numRows)
      let n = 0
      for (let i = 0; i < batch.numRows; i++) {
        if (keepSym && !keepSym[symIdx![i]]) continue
        if (needTime) {
          const t = ts[i]
          if ((opts.from !== undefined && t < opts.from) || (opts.to !== undefined && t >= opts.to)) continue
        }
        idx[n++] = i
      }
      if (n > 0) yield {batch, idx: idx.subarray(0, n)}
    }
  } finally {
    await messages.return(undefined)
  }
  const e = ended as StreamEnd | undefined
  opts.onEnd?.(e ?? {eos: false, validEnd: 0, messages: 0, batches: 0, rows: 0})
  if (e?.problem && (opts.onTruncated ?? 'error') === 'error') throw truncatedError(file.path, e)
}

async function* followBatches(
  messages: AsyncGenerator<{framed: FramedMessage; bytes: Uint8Array}>,
  opts: ReadOptions,
): AsyncGenerator<A.RecordBatch> {
  let schema: Uint8Array | null = null
  const dicts = new Map<number, Uint8Array[]>()
  for await (const m of messages) {
    opts.onMessage?.(m.framed, m.bytes)
    const msg = m.framed.message
    if (m.framed.kind === 'schema') schema = m.bytes
    else if (m.framed.kind === 'dictionary' && msg?.isDictionaryBatch()) {
      const h = msg.header()
      if (h.isDelta) dicts.get(h.id)?.push(m.bytes)
      else dicts.set(h.id, [m.bytes])
    } else if (m.framed.kind === 'record' && schema) {
      const parts = [schema, ...[...dicts.values()].flat(), m.bytes]
      const one = A.RecordBatchReader.from(Buffer.concat(parts))
      for (const batch of one) yield batch
    }
  }
}

export function truncatedError(path: string, e: StreamEnd): MdrecError {
  return new MdrecError(
    'E_TRUNCATED',
    `${path}: damaged or truncated at byte ${e.problem!.offset} (${e.problem!.reason}); ${e.rows} rows in ${e.batches} complete batches before it. Run \`mdrec verify --repair ${path}\` to write a readable copy`,
  )
}

/** Column accessors for one batch, built once per batch and reused per row. */
export class BatchRows {
  private readonly cols: {name: string; vec: A.Vector}[]
  private readonly recv: BigInt64Array
  private readonly exch: A.Data
  private readonly sym: A.Vector
  private readonly kind: A.Vector
  private readonly seq: A.Vector
  private readonly raw: A.Vector
  private readonly info: A.Vector
  constructor(
    readonly batch: A.RecordBatch,
    feedColumns: readonly StoreColumn[],
  ) {
    const get = (i: number): A.Vector => batch.getChildAt(i)!
    const r = get(0).data[0]
    this.recv = (r.values as BigInt64Array).subarray(r.offset, r.offset + r.length)
    this.exch = get(1).data[0]
    this.sym = get(2)
    this.kind = get(3)
    this.seq = get(4)
    this.raw = get(5)
    this.info = get(6)
    this.cols = feedColumns.map((c, k) => ({name: c.name, vec: get(7 + k)}))
  }
  recvTs(i: number): bigint {
    return this.recv[i]
  }
  symbol(i: number): string {
    return this.sym.get(i) as string
  }
  row(i: number): RowView {
    const fields: Record<string, unknown> = {}
    for (const c of this.cols) {
      const v = c.vec.get(i)
      if (v !== null && v !== undefined) fields[c.name] = v instanceof A.Vector ? listToPlain(v) : v
    }
    return {
      recv_ts: this.recv[i],
      exch_ts: timestampAt(this.exch, i),
      symbol: this.sym.get(i) as string,
      kind: this.kind.get(i) as RowKind,
      seq: this.seq.get(i) as bigint,
      raw: (this.raw.get(i) as Uint8Array | null) ?? null,
      info: (this.info.get(i) as string | null) ?? null,
      fields,
    }
  }
}

/** A list cell (arrow-js Vector of StructRows) as plain objects. */
export function listToPlain(v: A.Vector): unknown[] {
  const out: unknown[] = []
  for (const item of v) {
    const toJSON = item && typeof item === 'object' ? (item as {toJSON?: () => unknown}).toJSON : undefined
    out.push(typeof toJSON === 'function' ? toJSON.call(item) : item)
  }
  return out
}

/**
 * A timestamp's stored integer (in its column's unit) or null. Read from the
 * buffer because arrow-js's `get` turns timestamps into lossy ms numbers.
 */
export function timestampAt(data: A.Data, i: number): bigint | null {
  const j = data.offset + i
  const bm = data.nullBitmap
  if (data.nullCount > 0 && bm && bm.length > 0 && ((bm[j >> 3] >> (j & 7)) & 1) === 0) return null
  return (data.values as BigInt64Array)[j]
}

/** Convenience: every selected row of a recording, as RowViews. */
export async function* readRows(file: RecordingFile, opts: ReadOptions = {}): AsyncGenerator<RowView> {
  for await (const {batch, idx} of readBatches(file, opts)) {
    const rows = new BatchRows(batch, file.feedColumns)
    const n = idx ? idx.length : batch.numRows
    for (let k = 0; k < n; k++) yield rows.row(idx ? idx[k] : k)
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
