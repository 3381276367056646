import {readFileSync} from 'node:fs'
import pl from 'nodejs-polars'

/**
 * Read a recording with nodejs-polars, an Arrow implementation independent of
 * arrow-js (Rust arrow2/polars-arrow). Path strings fail on valid files in
 * nodejs-polars, so the bytes are passed as a Buffer (DESIGN.md).
 */
export function readWithPolars(path: string): pl.DataFrame {
  const b = readFileSync(path)
  // a closed format-v2 recording is an Arrow IPC file (magic ARROW1); v1 and live recordings are streams
  return b.subarray(0, 6).toString('latin1') === 'ARROW1' ? pl.readIPC(b) : pl.readIPCStream(b)
}

/** A column's values as polars itself prints them (exact for 64-bit integers, which toArray() would round). */
export function polarsStrings(df: pl.DataFrame, name: string): (string | null)[] {
  return df.select(pl.col(name).cast(pl.Utf8)).getColumn(name).toArray() as (string | null)[]
}

/**
 * Read `path` with both arrow-js (mdrec's reader) and polars and assert that
 * every value of every column is the same; returns the row count.
 */
export async function expectPolarsAgrees(path: string): Promise<number> {
  const {openRecording, readRows} = await import('../../src/store/reader.js')
  const {displayValue} = await import('../../src/store/format.js')
  const {expect} = await import('vitest')
  const file = await openRecording(path)
  // a closed v2 file stores each batch's rows clustered by symbol; sorting by seq restores arrival order (docs/FORMAT.md)
  const df = readWithPolars(path).sort('seq')
  const ours: (string | null)[][] = file.columns.map(() => [])
  // list<struct> cells (order books) are compared as JSON: polars hands them to JS as arrays of objects but cannot cast them to text
  const lists = file.columns.map((c) => c.kind === 'plain' && c.type === 'list_struct_f64')
  for await (const row of readRows(file)) {
    file.columns.forEach((c, k) => ours[k].push(lists[k] ? (row.fields[c.name] == null ? null : JSON.stringify(row.fields[c.name])) : displayValue(row, c)))
  }
  expect(df.height).toBe(ours[0].length)
  // a closed file leaves out the columns null in every row (mdrec.null_columns): polars does not see them, mdrec reads them as null
  const absent = new Set(file.nullColumns.map((c) => c.name))
  expect(df.columns).toEqual(file.columns.filter((c) => !absent.has(c.name)).map((c) => c.name))
  file.columns.forEach((c, k) => {
    if (absent.has(c.name)) {
      expect(ours[k].every((v) => v === null), `${c.name}: left out, so null in every row`).toBe(true)
      return
    }
    if (lists[k]) {
      const theirs = df.getColumn(c.name).toArray() as unknown[]
      theirs.forEach((v, i) => expect(v == null ? null : JSON.stringify(v), `${c.name}[${i}]`).toBe(ours[k][i]))
      return
    }
    const binary = c.kind === 'plain' && c.type === 'binary'
    // nodejs-polars cannot hand binary to JS: have polars cast it to text (the payloads recorded here are UTF-8 frames)
    const theirs = binary
      ? (df.select(pl.col(c.name).cast(pl.Utf8)).getColumn(c.name).toArray() as unknown[])
      : (df.getColumn(c.name).toArray() as unknown[])
    const exact = binary ? (theirs as (string | null)[]) : polarsStrings(df, c.name)
    for (let i = 0; i < theirs.length; i++) {
      const mine = ours[k][i]
      if (mine === null) {
        expect(theirs[i] ?? null, `${c.name}[${i}]`).toBeNull()
        continue
      }
      if (c.name === 'recv_ts' || c.name === 'exch_ts') {
        // polars prints "2025-11-24 10:40:00.123456789"; ours is ISO with T and Z
        const t = exact[i]!.replace(' ', 'T').replace(/\+00:00$/, '')
        const [whole, frac = ''] = t.split('.')
        expect(`${whole}.${frac.padEnd(9, '0')}Z`, `${c.name}[${i}]`).toBe(mine)
      } else if (binary) {
        expect(theirs[i], `${c.name}[${i}]`).toBe(Buffer.from(mine, 'base64').toString('utf8'))
      } else if (c.kind === 'plain' && (c.type === 'float32' || c.type === 'float64')) {
        expect(Math.fround(theirs[i] as number) === Math.fround(Number(mine)) || theirs[i] === Number(mine), `${c.name}[${i}]`).toBe(true)
      } else {
        expect(exact[i], `${c.name}[${i}]`).toBe(mine)
      }
    }
  })
  return df.height
}
