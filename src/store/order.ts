import type * as A from 'apache-arrow'

import {COL} from './types.js'

/**
 * Arrival order of a batch's rows (format version 2). A closed v2 recording
 * stores the rows of each batch clustered by shape and symbol (clusterOrder:
 * zstd then sees each instrument's prices, sizes and times side by side);
 * `seq` increases in arrival order in every file mdrec writes, so
 * sorting a batch's rows by `seq` restores the order they arrived in.
 *
 * Returns the row indices of `batch` in arrival order (ascending `seq`), or
 * null when the rows are stored in that order already (every v1 file, every
 * live batch). O(n): one pass to check; when the rows are permuted, `seq`
 * spans a range close to n inside a batch (contiguous, except rows lost to
 * a failed write), so each row goes straight to its slot. A wide or
 * duplicated range (no file mdrec writes has one) falls back to a sort.
 *
 * Every reader that hands rows out in order must go through this:
 * readBatches composes it into the `idx` it yields, so cat, replay, slice,
 * compaction, readRows and messageStream-free consumers of readBatches get
 * arrival order; a consumer that walks `batch` itself without `idx` must
 * call it (batchTimeRange gives a batch's span without it).
 */
export function arrivalOrder(batch: A.RecordBatch): Uint32Array | null {
  const d = batch.getChildAt(COL.seq)?.data[0]
  if (!d) return null
  const n = d.length
  if (n < 2) return null
  const values = d.values as BigUint64Array
  // The uint64 seq as two uint32 words (little-endian): no BigInt per row.
  const w = new Uint32Array(values.buffer, values.byteOffset + d.offset * 8, n * 2)
  let sorted = true
  let minK = 0
  for (let i = 1; i < n; i++) {
    const h = w[2 * i + 1]
    const l = w[2 * i]
    const ph = w[2 * i - 1]
    if (h < ph || (h === ph && l < w[2 * i - 2])) sorted = false
    const mh = w[2 * minK + 1]
    if (h < mh || (h === mh && l < w[2 * minK])) minK = i
  }
  if (sorted) return null
  const minLo = w[2 * minK]
  const minHi = w[2 * minK + 1]
  const rel = new Float64Array(n)
  let maxRel = 0
  for (let i = 0; i < n; i++) {
    const r = (w[2 * i + 1] - minHi) * 4294967296 + (w[2 * i] - minLo)
    rel[i] = r
    if (r > maxRel) maxRel = r
  }
  if (maxRel < 4 * n) {
    const slots = new Int32Array(maxRel + 1).fill(-1)
    let dup = false
    for (let i = 0; i < n; i++) {
      const r = rel[i]
      if (slots[r] !== -1) {
        dup = true
        break
      }
      slots[r] = i
    }
    if (!dup) {
      const out = new Uint32Array(n)
      let k = 0
      for (let r = 0; r <= maxRel; r++) if (slots[r] !== -1) out[k++] = slots[r]
      return out
    }
  }
  const idx = Array.from({length: n}, (_, i) => i)
  idx.sort((a, b) => rel[a] - rel[b] || a - b)
  return Uint32Array.from(idx)
}

/**
 * The smallest and largest receive time (ns) of a batch's rows, whatever
 * their order: the span of the rows it holds. (The first and last rows in
 * arrival order are that span only in a file whose receive times never
 * decrease; a slice of several files made before they were merged by time
 * is not one.)
 */
export function batchTimeRange(batch: A.RecordBatch): [min: bigint, max: bigint] {
  const t = batch.getChildAt(COL.recv_ts)!.data[0]
  const ts = t.values as BigInt64Array
  let min = ts[t.offset]
  let max = min
  for (let i = t.offset + 1; i < t.offset + t.length; i++) {
    const v = ts[i]
    if (v < min) min = v
    else if (v > max) max = v
  }
  return [min, max]
}

/**
 * The order a closed v2 file stores a batch's rows in: by **shape** (which
 * columns from `kind` on are null: a trade and a quote, a ticker and an
 * order book, a tick and a gap row are different shapes; shapes in order of
 * first appearance), then by **symbol** (dictionary index), then arrival.
 * zstd then sees one kind of message's values and one instrument's prices,
 * sizes and times side by side, and each validity bitmap becomes a few long
 * runs (bench/store, Yahoo: the busy tape 0.677x → 0.646x of zstd-3 lines,
 * the quiet one 0.851x → 0.831x, against symbol clustering alone). Any order
 * is safe to store: readers restore arrival order by `seq` (arrivalOrder).
 *
 * `children`: the batch's column data in schema order (common columns
 * first: COL.symbol, then COL.kind and the rest take part). Two stable counting sorts (by
 * symbol, then by shape), O(n + symbols + shapes); a shape is a 32-bit hash
 * of the row's null pattern, so two shapes may share a slot, which costs
 * only compression. Null when the rows are in that order already.
 */
export function clusterOrder(children: readonly A.Data[]): Uint32Array | null {
  const bySymbol = symbolClusterOrder(children[COL.symbol])
  const n = children[COL.symbol].length
  let hash: Int32Array | null = null
  for (let c = COL.kind; c < children.length; c++) {
    const d = children[c]
    const bm = d.nullBitmap
    // a column with no null, or only nulls, is the same in every row's shape
    if (!bm || bm.length === 0 || d.nullCount === 0 || d.nullCount === d.length) continue
    hash ??= new Int32Array(n)
    const off = d.offset
    for (let i = 0; i < n; i++) {
      const j = off + i
      hash[i] = (Math.imul(hash[i], 31) + ((bm[j >> 3] >> (j & 7)) & 1) + 1) | 0
    }
  }
  if (hash === null) return bySymbol
  // dense shape ids in order of first appearance
  const ids = new Map<number, number>()
  const shape = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    let id = ids.get(hash[i])
    if (id === undefined) ids.set(hash[i], (id = ids.size))
    shape[i] = id
  }
  if (ids.size === 1) return bySymbol
  // stable counting sort by shape of the symbol order (or of arrival order)
  const start = new Uint32Array(ids.size + 1)
  for (let i = 0; i < n; i++) start[shape[i] + 1]++
  for (let k = 1; k < start.length; k++) start[k] += start[k - 1]
  const out = new Uint32Array(n)
  for (let k = 0; k < n; k++) {
    const i = bySymbol ? bySymbol[k] : k
    out[start[shape[i]]++] = i
  }
  return out
}

/**
 * The stable order that clusters a batch's rows by symbol (dictionary index
 * order), computed by counting sort from the symbol column's indices; null
 * when the rows are clustered already. What a closed v2 file stores.
 */
export function symbolClusterOrder(symbol: A.Data): Uint32Array | null {
  const v = symbol.values as Int32Array
  const off = symbol.offset
  const n = symbol.length
  let max = 0
  let sorted = true
  for (let i = 0; i < n; i++) {
    const x = v[off + i]
    if (x > max) max = x
    if (i > 0 && x < v[off + i - 1]) sorted = false
  }
  if (sorted) return null
  const start = new Uint32Array(max + 2)
  for (let i = 0; i < n; i++) start[v[off + i] + 1]++
  for (let k = 1; k < start.length; k++) start[k] += start[k - 1]
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[start[v[off + i]]++] = i
  return out
}
