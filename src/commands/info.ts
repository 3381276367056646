import {BaseCommand} from '../cli/base.js'
import {recordingsArg} from '../cli/flags.js'
import {MdrecError} from '../errors.js'
import {groupRuns, openInputs, unreadableLine, type Unreadable} from '../store/inputs.js'
import {badFilesError, recordingProblem, runInfo, type RecordingInfo} from '../store/info.js'
import {formatBytes, formatDuration, plural} from '../util/units.js'

/** `info`'s entry for a file that is not a readable recording (not Arrow, no mdrec metadata, a newer format). */
export interface UnreadableInfo {
  path: string
  unreadable: Unreadable
}

export default class Info extends BaseCommand<typeof Info> {
  static override summary = 'Summarise recordings: feed, time span, rows by kind and symbol, gaps, size, compression.'
  static override description =
    'Reads each file once, streaming. Files, directories and globs (quoted or not) are accepted; the rotated parts of one run (same mdrec.run_id) are summarised together, in order, with a line per part. With --json, prints a JSON array with one object per recording (a run has `parts`).\n\n' +
    'A damaged or cut file is summarised up to the damage (a closed file whose footer is missing or wrong is damaged, as in verify); the exit code is then 1, with a one-line error naming the file and byte offset. A file that is not a recording mdrec can read is reported UNREADABLE and the others are still summarised (exit 1).'
  static override examples = [
    '<%= config.bin %> info AAPL.arrow',
    '<%= config.bin %> info a.arrow b.arrow --json',
    "<%= config.bin %> info 'day.*.arrow'",
  ]
  static override strict = false
  static override args = recordingsArg('recording(s) to summarise: files, directories or globs')

  public async run(): Promise<Array<RecordingInfo | UnreadableInfo>> {
    // a file that is not a readable recording is reported, and the others are still summarised
    const unreadable: UnreadableInfo[] = []
    const files = await openInputs(this.positional, (path, u) => unreadable.push({path, unreadable: u}))
    // every bad file, damaged ones first, for the one error line that names them all
    const bad: Array<{path: string; error: MdrecError}> = []
    const out: Array<RecordingInfo | UnreadableInfo> = []
    for (const run of groupRuns(files)) {
      const info = await runInfo(run)
      out.push(info)
      for (const p of info.parts ?? [info]) {
        const error = recordingProblem(p)
        if (error) bad.push({path: p.path, error})
      }
      if (!this.jsonEnabled()) this.log(render(info))
    }
    for (const u of unreadable) {
      out.push(u)
      bad.push({path: u.path, error: new MdrecError(u.unreadable.code, u.unreadable.message)})
      if (!this.jsonEnabled() && files.length + unreadable.length > 1) this.log(unreadableLine(u.path, u.unreadable))
    }
    const problem = badFilesError(bad, files.length + unreadable.length)
    if (problem) this.failAfterJson(out, problem)
    return out
  }
}

function top(rec: Record<string, number>, n: number): string {
  const entries = Object.entries(rec)
  const shown = entries.slice(0, n).map(([k, v]) => `${k} ${v}`)
  if (entries.length > n) shown.push(`… ${entries.length - n} more`)
  return shown.join(', ')
}

/** How the file ends, for the format line: nothing when closed and sound; a closed file cut or damaged since is not called live. */
function closedState(i: RecordingInfo): string {
  if (i.closedFile && (i.problem || !i.complete)) return ', a closed file cut short or damaged since (see DAMAGED below)'
  if (i.complete) return ''
  if (i.problem) return ', not closed, and damaged (see DAMAGED below): the recorder stopped abruptly, or the file was cut'
  return ', not closed (no end-of-stream marker: live, or the recorder stopped abruptly)'
}

/** The text report of one recording or run (a recording with no rows says so: `time span none (no rows)`, `rows 0`). */
function render(i: RecordingInfo): string {
  // rows with no symbol (gaps, status rows) are counted by kind, not as a symbol
  const bySymbol = Object.fromEntries(Object.entries(i.rowsBySymbol).filter(([k]) => k !== ''))
  const symbolCount = Object.keys(bySymbol).length
  const lines = [
    i.parts ? `run ${i.runId ?? '?'}: ${plural(i.parts.length, 'file')}` : `${i.path}`,
    `  feed          ${i.feed}  ${i.endpoint}`,
    `  subscriptions ${i.subscriptions.join(' ') || '(none)'}`,
    `  format        version ${i.formatVersion}, written by mdrec ${i.toolVersion}, raw ${i.rawMode}${closedState(i)}`,
    `  started       ${i.startTime} (--from/--to +offsets count from here)`,
    `  time span     ${i.firstRow === null || i.lastRow === null ? 'none (no rows)' : `${i.firstRow} → ${i.lastRow} (${formatDuration(i.durationMs ?? 0)})`}`,
    `  rows          ${i.rows}${i.rows ? ` (${top(i.rowsByKind, 8)})` : ''}`,
    `  symbols       ${symbolCount}${symbolCount ? `: ${top(bySymbol, 10)}` : ''}`,
    `  gaps          ${i.gaps}${i.gaps ? ` (${formatDuration(i.gapMs)} disconnected)` : ''}, rejects ${i.rejects}`,
    // per-row and compression figures only for data rows: of a gap row alone or none they would describe the schema
    `  size          ${formatBytes(i.bytesOnDisk)} on disk in ${plural(i.batches, 'batch')}, ${i.compressionRatio === null ? '' : `${(i.bytesOnDisk / i.rows).toFixed(1)} B/row, compression ${i.compressionRatio.toFixed(1)}x, `}${i.rawRows === 1 ? '1 row keeps' : `${i.rawRows} rows keep`} raw payloads`,
  ]
  if (i.problem) lines.push(`  DAMAGED       ${i.problem.path} at byte ${i.problem.offset} (${i.problem.reason}); the counts above are the rows before it`)
  if (i.parts) {
    lines.push('  parts')
    for (const p of i.parts) {
      lines.push(`    ${p.path}  part ${p.part ?? '-'}  ${plural(p.rows, 'row')}  ${p.firstRow === null || p.lastRow === null ? 'no rows' : `${p.firstRow} → ${p.lastRow}`}${p.complete ? '' : '  not closed'}${p.problem ? '  DAMAGED' : ''}`)
    }
  }
  return lines.join('\n')
}
