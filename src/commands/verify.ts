import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {recordingsArg} from '../cli/flags.js'
import {plural} from '../util/units.js'
import {MdrecError} from '../errors.js'
import {stalePartials} from '../store/atomic.js'
import {expandInputs, unreadableLine, unreadableOf, type Unreadable} from '../store/inputs.js'
import {badFilesError} from '../store/info.js'
import {defaultRepairPath, repairRecording, verifyRecording, type VerifyResult, type Written} from '../store/verify.js'

/** A file's report; `unreadable`: not a recording mdrec can read at all (not Arrow, no mdrec metadata, a newer format), so nothing to repair. */
export type VerifyReport = VerifyResult & {out?: string; written?: Written; stalePartials: string[]; unreadable?: Unreadable}

/** verifyRecording, or for a file that is not a readable recording a report that says so (the next files are still checked). */
async function check(path: string): Promise<VerifyReport> {
  try {
    return {...(await verifyRecording(path)), stalePartials: stalePartials(path)}
  } catch (error) {
    const unreadable = unreadableOf(error)
    if (unreadable === null) throw error
    return {
      path,
      ok: false,
      complete: false,
      sizeBytes: 0,
      messages: 0,
      batches: 0,
      rowsIntact: 0,
      validBytes: 0,
      ipcFile: false,
      stalePartials: stalePartials(path),
      unreadable,
    }
  }
}

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Check every batch of recordings; with --repair, write a valid copy holding every complete batch.'
  static override description =
    'Checks each file given (files, directories or globs, quoted or not) and reports each. Exit code 0 when every file is sound, 1 when any is damaged or truncated (the report names the first bad byte and how many rows are intact). A file that is not a recording mdrec can read (not Arrow, no mdrec metadata, a newer format) is reported UNREADABLE and the other files are still checked. With --json: one object for one file, an array for several.\n\n' +
    '--repair writes a valid copy of each damaged or unclosed file (no end-of-stream marker; a sound, closed file needs none) holding every complete batch, and never touches the original; a file with no complete batch has nothing to recover, and no copy is written. The exit code is still 1 when an original was damaged, even though the repair succeeded, so scripts notice the damage; an unclosed but sound file exits 0.\n\n' +
    'Also reports temporaries left by a killed mdrec (`<file>.<pid>.mdrec-partial`, `<file>.compact-tmp`), which can be deleted.'
  static override examples = [
    '<%= config.bin %> verify AAPL.arrow',
    "<%= config.bin %> verify 'day.*.arrow'",
    '<%= config.bin %> verify AAPL.arrow --repair',
    '<%= config.bin %> verify AAPL.arrow --repair --out fixed.arrow',
  ]
  static override strict = false
  static override args = recordingsArg('recording(s) to check: files, directories or globs')
  static override flags = {
    repair: Flags.boolean({
      description: 'write a valid copy of each damaged file with every complete batch (to --out, default <name>.repaired.arrow); exit code 1 still says the original was damaged',
    }),
    out: Flags.string({char: 'o', description: 'path of the repaired copy (never overwritten; one input file only)', dependsOn: ['repair']}),
  }

  public async run(): Promise<VerifyReport | VerifyReport[]> {
    const paths = await expandInputs(this.positional)
    if (this.flags.out && paths.length > 1) {
      throw new MdrecError('E_USAGE', `--out names one repaired copy, but ${paths.length} files were given; leave --out out to write <name>.repaired.arrow beside each`)
    }
    const reports: VerifyReport[] = []
    const resultOf = (): VerifyReport | VerifyReport[] => (paths.length === 1 && this.positional.length === 1 ? reports[0] : reports)
    for (const path of paths) {
      const r = await check(path)
      reports.push(r)
      // the report comes first: a repair that fails (its error follows) must not hide the damage
      // a lone unreadable file: its error line says it all
      if (!this.jsonEnabled() && !(r.unreadable && paths.length === 1)) this.log(describe(r, this.flags.repair))
      if ((r.ok && r.complete) || !this.flags.repair || r.unreadable) continue
      try {
        reports[reports.length - 1] = {...(await repairRecording(path, this.flags.out ?? defaultRepairPath(path), r)), stalePartials: r.stalePartials}
      } catch (error) {
        this.failAfterJson(resultOf(), error as Error)
      }
      const done = reports.at(-1)!
      if (!this.jsonEnabled() && done.out && done.written) this.log(repairedLine(done.out, done.written))
    }
    const result = resultOf()
    const bad = reports.filter((r) => !r.ok).map((r) => ({path: r.path, error: problemOf(r, this.flags.repair)}))
    const problem = badFilesError(bad, reports.length)
    if (problem) this.failAfterJson(result, problem)
    return result
  }
}

/** The error a bad file's report stands for: what is wrong, and what to do (or what --repair did). */
function problemOf(r: VerifyReport, repair: boolean): MdrecError {
  if (r.unreadable) return new MdrecError(r.unreadable.code, r.unreadable.message)
  const next = r.rowsIntact === 0
    ? `nothing is recoverable: no complete batch precedes the damage${repair ? ', so no copy was written' : ''}`
    : r.out ? `a repaired copy is at ${r.out}` : `run \`mdrec verify --repair ${r.path}\``
  return new MdrecError('E_TRUNCATED', `${r.path}: damaged at byte ${r.problem?.offset ?? r.validBytes}; ${next}`)
}

function describe(r: VerifyReport, repair: boolean): string {
  const head = r.ok ? 'ok' : 'DAMAGED'
  const lines = [
    r.unreadable
      ? unreadableLine(r.path, r.unreadable)
      : `${r.path}: ${head}: ${plural(r.rowsIntact, 'row')} in ${plural(r.batches, 'complete batch', 'complete batches')}, ${r.validBytes} of ${plural(r.sizeBytes, 'byte')} sound`,
  ]
  if (r.problem) lines.push(`  first bad byte: ${r.problem.offset} (${r.problem.reason})`)
  if (!r.complete && !r.problem && !r.unreadable) lines.push('  no end-of-stream marker: still being written, or the recorder stopped abruptly (every batch is readable)')
  if (r.trailingBytes) lines.push(`  ${plural(r.trailingBytes, 'byte')} after the end-of-stream marker are ignored`)
  for (const p of r.stalePartials) lines.push(`  a temporary from a killed run: ${p}; delete it`)
  if (repair && r.rowsIntact === 0 && !r.unreadable && !(r.ok && r.complete)) {
    lines.push(`not repaired: no complete batch${r.ok ? ' was written yet' : ' survived'}, so there is nothing to recover and no copy was written${r.ok ? '' : '. A closed file keeps its rows in a few large batches, so a cut inside the first loses them all'}`)
  }
  return lines.join('\n')
}

/** What a repair wrote, as `mdrec verify` of the copy counts it (the copy is rewritten as a few large batches). */
function repairedLine(out: string, w: Written): string {
  return `repaired: wrote ${plural(w.rows, 'row')} in ${plural(w.batches, 'batch')} to ${out}`
}
