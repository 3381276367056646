import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {columns as columnsFlag, timeSpec} from '../cli/flags.js'
import {MdrecError} from '../errors.js'
import {getFeed} from '../feeds/registry.js'
import {csvHeader, csvLine, ndjsonLine, OUTPUT_FORMATS, type OutputFormat, TableFormatter} from '../store/format.js'
import {openRecording, readRows, recordingStartNs, type RecordingFile} from '../store/reader.js'
import type {StoreColumn} from '../store/schema.js'
import {resolveTimeSpec} from '../util/units.js'

export default class Cat extends BaseCommand<typeof Cat> {
  static override summary = 'Print the rows of a recording as a table, NDJSON or CSV.'
  static override description =
    'Streams the file: works on recordings larger than memory, and exits quietly when the reader closes the pipe (`| head`). Times are ISO-8601 UTC with ns; 64-bit integers print exactly; raw payloads print as base64.'
  static override examples = [
    '<%= config.bin %> cat AAPL.arrow --limit 20',
    '<%= config.bin %> cat AAPL.arrow --format ndjson --symbol AAPL --from +5m --to +10m',
    '<%= config.bin %> cat AAPL.arrow --format csv --columns recv_ts,symbol,price,day_volume > ticks.csv',
    '<%= config.bin %> cat live.arrow --follow --format ndjson',
  ]
  static override enableJsonFlag = false
  static override args = {file: Args.string({description: 'recording to print', required: true})}
  static override flags = {
    format: Flags.string({char: 'f', description: 'output format', options: [...OUTPUT_FORMATS], default: 'table'}),
    symbol: Flags.string({char: 's', description: 'only this symbol (repeatable)', multiple: true}),
    from: timeSpec({description: 'first receive time: ISO-8601 (2025-11-24T14:30:00Z) or an offset from the start (+90s)'}),
    to: timeSpec({description: 'end receive time (exclusive): ISO-8601 or +offset'}),
    limit: Flags.integer({char: 'n', description: 'print at most N rows', min: 0}),
    columns: columnsFlag({char: 'c', description: 'comma-separated columns to print (default: all for ndjson/csv, a summary for table)'}),
    follow: Flags.boolean({char: 'F', description: 'keep printing rows as a live recording grows, until the recorder closes it or Ctrl-C'}),
  }

  public async run(): Promise<void> {
    const file = await openRecording(this.args.file)
    const cols = pickColumns(file, this.flags.columns, this.flags.format as OutputFormat)
    const start = recordingStartNs(file)
    const from = this.flags.from && resolveTimeSpec(this.flags.from, start)
    const to = this.flags.to && resolveTimeSpec(this.flags.to, start)
    const limit = this.flags.limit ?? Number.POSITIVE_INFINITY
    const format = this.flags.format as OutputFormat
    const table = format === 'table' ? new TableFormatter(cols, this.flags.follow ? 20 : 200) : null
    let chunk = format === 'csv' ? csvHeader(cols) : ''
    let n = 0
    const follow = this.flags.follow
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    if (follow) {
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
    }
    if (limit > 0) {
      for await (const row of readRows(file, {from, to, symbols: this.flags.symbol, follow, signal: stop.signal})) {
        chunk += table ? table.push(row) : format === 'csv' ? csvLine(row, cols) : ndjsonLine(row, cols)
        // following: print each batch as it lands rather than waiting for 64 KiB
        if (chunk.length > 65536 || (follow && chunk.length > 0)) {
          await write(chunk)
          chunk = ''
        }
        if (++n >= limit) break
      }
    }
    if (table) chunk += table.end()
    await write(chunk)
  }
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

/** Write to stdout honouring backpressure (recordings can be far larger than memory). */
function write(s: string): Promise<void> {
  if (s === '') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const ok = process.stdout.write(s, (err) => {
      if (err) reject(err)
    })
    if (ok) resolve()
    else process.stdout.once('drain', resolve)
  })
}
