import {readFileSync} from 'node:fs'
import pl from 'nodejs-polars'

/**
 * Read a recording with nodejs-polars, an Arrow implementation independent of
 * arrow-js (Rust arrow2/polars-arrow). Path strings fail on valid files in
 * nodejs-polars, so the bytes are passed as a Buffer (DESIGN.md).
 */
export function readWithPolars(path: string): pl.DataFrame {
  return pl.readIPCStream(readFileSync(path))
}

/** A column's values as polars itself prints them (exact for 64-bit integers, which toArray() would round). */
export function polarsStrings(df: pl.DataFrame, name: string): (string | null)[] {
  return df.select(pl.col(name).cast(pl.Utf8)).getColumn(name).toArray() as (string | null)[]
}
