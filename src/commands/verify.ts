import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {recordingsArg} from '../cli/flags.js'
import {plural} from '../util/units.js'
import {MdrecError} from '../errors.js'
import {stalePartials} from '../store/atomic.js'
import {expandInputs, unreadableLine, unreadableOf, type Unreadable} from '../store/inputs.js'
import {defaultRepairPath, repairRecording, verifyRecording, type VerifyResult} from '../store/verify.js'

/** A file's report; `unreadable`: not a recording mdrec can read at all (not Arrow, no mdrec metadata, a newer format), so nothing to repair. */
export type VerifyReport = VerifyResult & {out?: string; stalePartials: string[]; unreadable?: Unreadable}

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
    '--repair writes a valid copy of each damaged or unclosed file (no end-of-stream marker; a sound, closed file needs none) and never touches the original. The exit code is still 1 when an original was damaged, even though the repair succeeded, so scripts notice the damage; an unclosed but sound file exits 0.\n\n' +
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
    let firstBad: VerifyReport | undefined
    for (const path of paths) {
      let r = await check(path)
      const damaged = !r.ok
      if ((damaged || !r.complete) && this.flags.repair && !r.unreadable) r = {...(await repairRecording(path, this.flags.out ?? defaultRepairPath(path))), stalePartials: r.stalePartials}
      reports.push(r)
      if (damaged) firstBad ??= r
      // a lone unreadable file: its error line says it all
      if (!this.jsonEnabled() && !(r.unreadable && paths.length === 1)) this.log(describe(r))
    }
    const result = paths.length === 1 && this.positional.length === 1 ? reports[0] : reports
    if (firstBad) {
      const bad = reports.filter((r) => !r.ok).length
      const more = bad > 1 ? ` (and ${plural(bad - 1, 'more damaged file', 'more damaged files')})` : ''
      if (firstBad.unreadable) this.failAfterJson(result, new MdrecError(firstBad.unreadable.code, `${firstBad.unreadable.message}${more}`))
      const next = firstBad.out
        ? firstBad.rowsIntact === 0 ? `nothing was recoverable: ${firstBad.out} holds 0 rows` : `a repaired copy is at ${firstBad.out}`
        : `run \`mdrec verify --repair ${firstBad.path}\``
      this.failAfterJson(result, new MdrecError('E_TRUNCATED', `${firstBad.path}: damaged at byte ${firstBad.problem?.offset ?? firstBad.validBytes}${more}; ${next}`))
    }
    return result
  }
}

function describe(r: VerifyReport): string {
  const head = r.ok ? 'ok' : 'DAMAGED'
  const lines = [
    r.unreadable
      ? unreadableLine(r.path, r.unreadable)
      : `${r.path}: ${head}: ${plural(r.rowsIntact, 'row')} in ${plural(r.batches, 'complete batch', 'complete batches')}, ${r.validBytes} of ${plural(r.sizeBytes, 'byte')} sound`,
  ]
  if (r.problem) lines.push(`  first bad byte: ${r.problem.offset} (${r.problem.reason})`)
  if (!r.complete && !r.problem) lines.push('  no end-of-stream marker: still being written, or the recorder stopped abruptly (every batch is readable)')
  if (r.trailingBytes) lines.push(`  ${plural(r.trailingBytes, 'byte')} after the end-of-stream marker are ignored`)
  for (const p of r.stalePartials) lines.push(`  a temporary from a killed run: ${p}; delete it`)
  if (r.out && r.rowsIntact === 0) lines.push(`repaired: no complete batch survived; ${r.out} is an empty recording (0 rows). A closed file keeps its rows in a few large batches, so a cut inside the first loses them all`)
  else if (r.out) lines.push(`repaired: wrote ${plural(r.rowsIntact, 'row')} in ${plural(r.batches, 'batch')} to ${r.out}`)
  return lines.join('\n')
}
