/**
 * A second thread for the writer's zstd. Hand-written: zstd-napi compresses
 * on the calling thread only (its `nbWorkers` splits one large frame into
 * jobs, not a batch's many independent buffers of a few hundred KiB), and
 * a batch is written synchronously (one write and fsync before `flush`
 * returns: crash safety, docs/ARCHITECTURE.md), so the work cannot simply
 * move to an asynchronous API. Instead {@link ZstdHelper.start} hands a
 * worker thread about half of a batch's bytes (copied into shared memory)
 * while the caller compresses the rest, and {@link ZstdHelper.finish}
 * blocks (Atomics.wait) until the worker is done. Both threads compress
 * with the same parameters ({@link zstdParameters}), so the bytes are
 * exactly what one thread would write.
 *
 * If the worker fails or does not answer within {@link WAIT_MS}, finish()
 * returns null: the caller compresses those buffers itself, and the helper
 * is not used again in this process. One helper per process (writers run
 * on one thread, one batch at a time); its worker does not keep the process
 * alive. Off on a single-core machine, or with MDREC_ZSTD_THREADS=1.
 */
import {createRequire} from 'node:module'
import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'

import zstdBinding from 'zstd-napi/binding.js'

/** The zstd parameters of every buffer mdrec writes (content checksum on: `verify` detects a flipped byte). */
export function zstdParameters(level: number): {compressionLevel: number; checksumFlag: boolean} {
  return {compressionLevel: level, checksumFlag: true}
}

/** A batch whose buffers to compress add up to fewer bytes than this is compressed on one thread (the hand-off costs ~0.1 ms). */
export const PARALLEL_FROM = 1 << 20
/** How long finish() waits for the worker before compressing its share itself. */
const WAIT_MS = 30_000

// The worker: CommonJS evaluated from a string, so it runs the same from src/ (tests) and dist/;
// zstd-napi is required by the absolute path this module resolves it to.
const WORKER_SOURCE = `
const {parentPort, workerData} = require('node:worker_threads')
const {Compressor} = require(workerData.zstd)
const byLevel = new Map()
parentPort.on('message', ({control, input, output, items, params}) => {
  const state = new Int32Array(control, 0, 1)
  const results = new Float64Array(control, 8)
  try {
    let c = byLevel.get(params.compressionLevel)
    if (!c) {
      c = new Compressor()
      c.setParameters(params)
      byLevel.set(params.compressionLevel, c)
    }
    const out = new Uint8Array(output)
    let at = 0
    for (let k = 0; k < items.length; k += 2) {
      const packed = c.compress(new Uint8Array(input, items[k], items[k + 1]))
      out.set(packed, at)
      results[k] = at
      results[k + 1] = packed.byteLength
      at += packed.byteLength
    }
    Atomics.store(state, 0, 2)
  } catch {
    Atomics.store(state, 0, 3)
  }
  Atomics.notify(state, 0)
})
`

const IDLE = 0
const BUSY = 1
const DONE = 2

export class ZstdHelper {
  private worker: Worker | null = null
  private broken = false
  private input = new SharedArrayBuffer(0)
  private output = new SharedArrayBuffer(0)
  private control = new SharedArrayBuffer(8)
  private pending: Uint8Array[] | null = null
  /** Batches the worker compressed a share of (tests check it is used). */
  jobs = 0

  /** Whether this process uses a second thread at all. */
  get enabled(): boolean {
    return !this.broken && threadsWanted() > 1
  }

  /**
   * Hand `buffers` to the worker (copied: the caller may reuse them once
   * start returns). False when the helper is off or busy: compress them
   * yourself. Call {@link finish} before starting another.
   */
  start(buffers: readonly Uint8Array[], level: number): boolean {
    if (!this.enabled || this.pending !== null || buffers.length === 0) return false
    try {
      this.worker ??= this.spawn()
    } catch {
      this.broken = true
      return false
    }
    let inBytes = 0
    let outBytes = 0
    for (const b of buffers) {
      inBytes += b.byteLength
      outBytes += zstdBinding.compressBound(b.byteLength)
    }
    if (this.input.byteLength < inBytes) this.input = new SharedArrayBuffer(inBytes)
    if (this.output.byteLength < outBytes) this.output = new SharedArrayBuffer(outBytes)
    if (this.control.byteLength < 8 + 16 * buffers.length) this.control = new SharedArrayBuffer(8 + 16 * buffers.length)
    const into = new Uint8Array(this.input)
    const items: number[] = []
    let at = 0
    for (const b of buffers) {
      into.set(b, at)
      items.push(at, b.byteLength)
      at += b.byteLength
    }
    Atomics.store(new Int32Array(this.control, 0, 1), 0, BUSY)
    this.worker.postMessage({control: this.control, input: this.input, output: this.output, items, params: zstdParameters(level)})
    this.pending = buffers.slice()
    this.jobs++
    return true
  }

  /**
   * Wait for the worker's share: the compressed frames, in the order
   * given to start (views of shared memory, valid until the next start:
   * copy them out). Null when the worker failed or timed out.
   */
  finish(): Uint8Array[] | null {
    const buffers = this.pending
    if (buffers === null) return null
    this.pending = null
    const state = new Int32Array(this.control, 0, 1)
    Atomics.wait(state, 0, BUSY, WAIT_MS)
    if (Atomics.load(state, 0) !== DONE) {
      this.retire()
      return null
    }
    Atomics.store(state, 0, IDLE)
    const results = new Float64Array(this.control, 8, 2 * buffers.length)
    const out: Uint8Array[] = []
    for (let k = 0; k < buffers.length; k++) out.push(new Uint8Array(this.output, results[2 * k], results[2 * k + 1]))
    return out
  }

  private spawn(): Worker {
    const zstd = createRequire(import.meta.url).resolve('zstd-napi')
    const w = new Worker(WORKER_SOURCE, {eval: true, workerData: {zstd}})
    w.unref()
    w.on('error', () => this.retire())
    w.on('exit', () => {
      if (this.worker === w) this.worker = null
    })
    return w
  }

  private retire(): void {
    this.broken = true
    const w = this.worker
    this.worker = null
    void w?.terminate()
  }
}

/** Threads for zstd: MDREC_ZSTD_THREADS (1 or 2), else 2 on a machine with two cores or more. */
function threadsWanted(): number {
  const env = process.env.MDREC_ZSTD_THREADS
  if (env === '1') return 1
  if (env === '2') return 2
  return availableParallelism() > 1 ? 2 : 1
}

/** The process's helper (see the module comment). */
export const zstdHelper = new ZstdHelper()
