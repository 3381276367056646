import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {receiveRangeFlags, recordingsArg} from '../cli/flags.js'
import {plural} from '../util/units.js'
import {isMdrecError, MdrecError} from '../errors.js'
import {assertOneFeed, openInputs, resolveRange, missingSymbolsNote, whyNoRows} from '../store/inputs.js'
import {sliceRecording, type SliceResult} from '../store/slice.js'

export default class Slice extends BaseCommand<typeof Slice> {
  static override summary = 'Cut a smaller recording (a CI fixture) out of a big one.'
  static override description =
    'Keeps the rows received in [--from, --to) of the given symbols, with the metadata of the original and a note of where it came from. Streams; the output is a spec-conformant recording and is never overwritten.\n\n' +
    "Several files, a directory or a glob (quoted or not) are cut as one recording into one file, merged by receive time: the rotated parts of a run one after the other (by mdrec.run_id and mdrec.part), other files row by row (equal times in the order of the files, by start time); they must be of one feed. +offsets count from the earliest start among the files (a run's first part). A damaged input is an error (exit 1) and leaves no output. A symbol of several given (-s) that has no row is named on stderr (exit 0).\n\n" +
    'Exit codes: 0 written; 1 a bad or damaged input, an existing --out, or a selection with no row (the error says why: the range is before or after the recording, whose span it gives, or a symbol is not in it, with close matches; nothing is written unless --allow-empty); 2 a usage error, e.g. --from not before --to.'
  static override examples = [
    '<%= config.bin %> slice day.arrow -o fixture.arrow --from +10m --to +12m --symbol AAPL',
    '<%= config.bin %> slice day.arrow -o open.arrow --from 2025-11-24T14:30:00Z --to 2025-11-24T14:35:00Z',
    "<%= config.bin %> slice 'day.*.arrow' -o noon.arrow --from 2025-11-24T16:55:00Z --to 2025-11-24T17:05:00Z",
  ]
  static override strict = false
  static override args = recordingsArg('recording(s) to cut from: files, a directory or a glob')
  static override flags = {
    out: Flags.string({char: 'o', description: 'path of the new recording (must not exist)', required: true}),
    ...receiveRangeFlags(),
    symbol: Flags.string({char: 's', description: 'keep this symbol (repeatable, or a comma list; default all; exact, case-sensitive)', multiple: true, multipleNonGreedy: true, delimiter: ','}),
    'allow-empty': Flags.boolean({description: 'write the recording even when no row is selected (default: refuse, exit 1)'}),
  }

  public async run(): Promise<SliceResult> {
    const files = await openInputs(this.positional)
    assertOneFeed(files, 'slice')
    const range = resolveRange(this.flags.from, this.flags.to, files)
    const filter = {...range, symbols: this.flags.symbol}
    let r: SliceResult
    try {
      r = await sliceRecording(
        files.map((f) => f.path),
        this.flags.out,
        {...filter, refuseEmpty: !this.flags['allow-empty']},
      )
    } catch (error) {
      if (!isMdrecError(error) || error.code !== 'E_NO_ROWS') throw error
      const why = await whyNoRows(files, filter)
      throw new MdrecError('E_NO_ROWS', `no rows to slice: ${why}; nothing written to ${this.flags.out} (--allow-empty writes a 0-row recording)`)
    }
    if (!this.jsonEnabled()) this.log(`wrote ${plural(r.rows, 'row')} (${plural(r.bytes, 'byte')}) to ${r.out}`)
    // rows of some symbols but none of others (a misspelling among several): name those, as cat does
    if (r.missing.length > 0 && r.rows > 0) process.stderr.write(`note: ${await missingSymbolsNote(files, filter, r.missing)}\n`)
    return r
  }
}
