import {Flags} from '@oclif/core'

import {BaseCommand, writeStdout} from '../cli/base.js'
import {columns as columnsFlag, receiveRangeFlags, recordingsArg} from '../cli/flags.js'
import {MdrecError} from '../errors.js'
import {getFeed} from '../feeds/registry.js'
import {
  batchDisplayCells,
  csvBytes,
  csvHeader,
  ndjsonBytes,
  OUTPUT_FORMATS,
  type OutputFormat,
  TableFormatter,
} from '../store/format.js'
import {assertOneFeed, openInputs, resolveRange, SymbolsSeen, missingSymbolsNote, whyNoRows} from '../store/inputs.js'
import {mergeBatches} from '../store/merge.js'
import type {RecordingFile} from '../store/reader.js'
import type {StoreColumn} from '../store/schema.js'

/** Rows formatted per step: bounds the text held in memory (~10 MB of NDJSON) between writes. */
const ROWS_PER_WRITE = 16_384
/** Formatted bytes gathered before a write. */
const WRITE_BYTES = 1 << 20

export default class Cat extends BaseCommand<typeof Cat> {
  static override summary = 'Print the rows of a recording as a table, NDJSON or CSV.'
  static override description =
    'Streams the file: works on recordings larger than memory, and exits quietly when the reader closes the pipe (`| head`). Times are ISO-8601 UTC with ns; 64-bit integers print exactly; raw payloads print as base64.\n\n' +
    'Several files, a directory or a glob (quoted or not) print as one timeline, merged by receive time: the rotated parts of a run one after the other (by mdrec.run_id and mdrec.part), other files row by row (equal times in the order of the files, by start time). They must be of one feed. --from/--to offsets count from the earliest start among the files (a run\'s first part). A symbol of several given (-s) that has no row is named on stderr (`note: no rows for ZZZ: …`).\n\n' +
    'A damaged or cut file: every intact row is printed, then a one-line error names the file and byte offset, and the exit code is 1.\n\n' +
    'When nothing matches, cat prints no row (table and CSV: the header only), says why in one line on stderr (`note: no rows: …`: the range is before or after the recording, whose span it gives; a symbol is not in it, with close matches such as AAPL for aapl) and exits 0: an empty selection is an answer, not an error. --from not before --to is a usage error (exit 2).'
  static override examples = [
    '<%= config.bin %> cat AAPL.arrow --limit 20',
    '<%= config.bin %> cat AAPL.arrow --format ndjson --symbol AAPL --from +5m --to +10m',
    '<%= config.bin %> cat AAPL.arrow --format csv --columns recv_ts,symbol,price,day_volume > ticks.csv',
    "<%= config.bin %> cat 'day.*.arrow' --format ndjson",
    '<%= config.bin %> cat live.arrow --follow --format ndjson',
  ]
  static override enableJsonFlag = false
  static override strict = false
  static override args = recordingsArg('recording(s) to print: files, a directory or a glob')
  static override flags = {
    format: Flags.string({char: 'f', description: 'output format', options: [...OUTPUT_FORMATS], default: 'table'}),
    symbol: Flags.string({char: 's', description: 'only this symbol (repeatable, or a comma list; exact, case-sensitive)', multiple: true, multipleNonGreedy: true, delimiter: ','}),
    ...receiveRangeFlags('first receive time: ISO-8601 (2025-11-24T14:30:00Z) or an offset from the start (+90s)'),
    limit: Flags.integer({char: 'n', description: 'print at most N rows', min: 0}),
    columns: columnsFlag({char: 'c', description: 'comma-separated columns to print (default: all for ndjson/csv, a summary for table)'}),
    follow: Flags.boolean({char: 'F', description: 'keep printing rows as a live recording (the last file) grows, until the recorder closes it or Ctrl-C'}),
  }

  public async run(): Promise<void> {
    const files = await openInputs(this.positional)
    assertOneFeed(files, 'print')
    const first = files[0]
    const format = this.flags.format as OutputFormat
    const cols = pickColumns(first, this.flags.columns, format)
    const {from, to} = resolveRange(this.flags.from, this.flags.to, files)
    const limit = this.flags.limit ?? Number.POSITIVE_INFINITY
    const follow = this.flags.follow
    const table = format === 'table' ? new TableFormatter(cols, follow ? 20 : 200) : null
    // formatted text not yet written: several files merged by time come as many short runs of rows, each written alone cost more than formatting it
    const pending: Array<string | Buffer> = format === 'csv' ? [csvHeader(cols)] : []
    let pendingBytes = 0
    const flush = async () => {
      const out = pending.length === 1 ? pending[0] : pending.every((x) => typeof x === 'string') ? pending.join('') : Buffer.concat(pending.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)))
      pending.length = 0
      pendingBytes = 0
      if (out !== undefined && out.length > 0) await writeStdout(out)
    }
    let n = 0
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    if (follow) {
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
    }
    const seen = new SymbolsSeen(this.flags.symbol)
    try {
      // recycle: each batch is formatted before the next is read
      const opts = {from, to, symbols: this.flags.symbol, follow, signal: stop.signal, recycle: true}
      for await (const {batch, idx} of mergeBatches(files, opts)) {
        const rows = idx ? idx.length : batch.numRows
        for (let lo = 0; lo < rows && n < limit; lo += ROWS_PER_WRITE) {
          const hi = Math.min(rows, lo + ROWS_PER_WRITE, lo + (limit - n))
          const sel = idx ? idx.subarray(lo, hi) : lo === 0 && hi === rows ? null : range(lo, hi)
          seen.add(batch, sel)
          let text: string | Buffer
          if (table) {
            text = ''
            for (const cells of batchDisplayCells(batch, sel, cols)) text += table.pushDisplayCells(cells)
          } else text = format === 'csv' ? csvBytes(batch, sel, cols) : ndjsonBytes(batch, sel, cols)
          pending.push(text)
          pendingBytes += text.length
          n += hi - lo
          // following, every row goes out as it comes
          if (follow || pendingBytes >= WRITE_BYTES) await flush()
        }
        if (n >= limit) break
      }
    } finally {
      // Whatever was formatted goes out before an error is reported: the rows
      // printed are exactly the rows the error calls intact.
      await flush()
      if (table) await writeStdout(table.end())
    }
    if (n === 0 && limit > 0) {
      // Never silent: say why nothing was printed (a second, light scan; only in this case).
      process.stderr.write(`note: no rows: ${await whyNoRows(files, {from, to, symbols: this.flags.symbol})}\n`)
    } else if (n < limit && seen.missing().length > 0) {
      // some symbols printed, others not (a misspelling among several): say so for those (cut short by --limit, nothing is known)
      process.stderr.write(`note: ${await missingSymbolsNote(files, {from, to}, seen.missing())}\n`)
    }
  }
}

function range(lo: number, hi: number): Uint32Array {
  const out = new Uint32Array(hi - lo)
  for (let i = 0; i < out.length; i++) out[i] = lo + i
  return out
}

function pickColumns(file: RecordingFile, wanted: string[] | undefined, format: OutputFormat): StoreColumn[] {
  const byName = new Map(file.columns.map((c) => [c.name, c]))
  if (wanted) {
    const bad = wanted.filter((w) => !byName.has(w))
    if (bad.length) {
      throw new MdrecError('E_USAGE', `unknown column${bad.length > 1 ? 's' : ''} ${bad.join(', ')}; this recording has: ${file.columns.map((c) => c.name).join(', ')}`)
    }
    return wanted.map((w) => byName.get(w)!)
  }
  if (format !== 'table') return file.columns
  let display: readonly string[] = []
  try {
    display = getFeed(file.meta.feed).displayColumns
  } catch {
    display = file.feedColumns.slice(0, 6).map((c) => c.name)
  }
  return ['recv_ts', 'symbol', 'kind', ...display].filter((n) => byName.has(n)).map((n) => byName.get(n)!)
}
