import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {recordingsArg} from '../cli/flags.js'
import {exportRecordings, type ExportResult} from '../dataset/export.js'
import {plural} from '../util/units.js'

export default class Export extends BaseCommand<typeof Export> {
  static override summary = 'Write recordings as a Hive-partitioned Parquet dataset (DuckDB, Spark, Trino, polars, pandas).'
  static override description =
    'Writes the rows of the given recordings (files, a directory, a glob: one recording, several, the rotated parts of a run) under --out as feed=<feed>/date=<YYYY-MM-DD>/ (and symbol=<symbol>/ with --partition-symbol) Parquet files, ZSTD-compressed: timestamps ns UTC, 64-bit integers exact, order books lists of structs, each run\'s mdrec metadata inside every file and in --out/_mdrec/runs/<run>.json. Streams, in bounded memory.\n\n' +
    'Incremental and idempotent: rows already in the dataset (by run and seq) are skipped, so exporting again — a live recording as it grows, a run whose parts arrive one by one — adds only what is new. Files are named <host>.<run>.<first seq>-<last seq>.parquet and appear whole (written under a temporary name, then renamed); an export that was killed is cleaned up by the next. Several machines may export their own runs into one shared directory. See docs/DATASETS.md for queries.\n\n' +
    'Exit codes: 0 written (also when nothing was new, and when a recording ends early because it is still being written or its recorder was killed: its whole batches are exported and a line on stderr names it; export again to add the rest); 1 a bad or damaged input, a closed recording that was cut included (its sound rows are exported first), or another process exporting the same run; 2 a usage error (also --partition-symbol differing from the partitioning of the dataset).'
  static override examples = [
    '<%= config.bin %> export day.arrow --out data/',
    "<%= config.bin %> export 'day.*.arrow' --out data/ --partition-symbol",
    '<%= config.bin %> export recordings/ --out /data/md',
  ]
  static override strict = false
  static override args = recordingsArg('recording(s) to export: files, a directory or a glob')
  static override flags = {
    out: Flags.string({char: 'o', description: 'the dataset directory (created when missing; shared with earlier exports)', required: true}),
    'partition-symbol': Flags.boolean({description: 'also partition by symbol (symbol=<symbol>/ directories; the symbol is then in the path, not in the files)'}),
    'rows-per-file': Flags.integer({description: 'rows per export step: at most one file per partition per step', min: 1, default: 1 << 20}),
  }

  public async run(): Promise<ExportResult> {
    const r = await exportRecordings(this.positional, this.flags.out, {
      partitionBySymbol: this.flags['partition-symbol'],
      maxRows: this.flags['rows-per-file'],
      log: (line) => this.logToStderr(line),
    })
    if (!this.jsonEnabled()) {
      const skipped = r.skipped > 0 ? `; ${plural(r.skipped, 'row')} already there` : ''
      this.log(`exported ${plural(r.rows, 'row')} in ${plural(r.files.length, 'file')} (${plural(r.bytes, 'byte')}) from ${plural(r.inputs, 'recording')} to ${r.out}${skipped}`)
    }
    return r
  }
}
