import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {timeSpec} from '../cli/flags.js'
import {assertOneFeed, openInputs} from '../store/inputs.js'
import {recordingStartNs} from '../store/reader.js'
import {sliceRecording, type SliceResult} from '../store/slice.js'
import {resolveTimeSpec} from '../util/units.js'

export default class Slice extends BaseCommand<typeof Slice> {
  static override summary = 'Cut a smaller recording (a CI fixture) out of a big one.'
  static override description =
    'Keeps the rows received in [--from, --to) of the given symbols, with the metadata of the original and a note of where it came from. Streams; the output is a spec-conformant recording and is never overwritten.\n\n' +
    "Several files, a directory or a glob (quoted or not) are cut as one recording into one file: the rotated parts of a run in order (by mdrec.run_id and mdrec.part), other files by start time; they must be of one feed. +offsets count from the first file's start. A damaged input is an error (exit 1) and leaves no output."
  static override examples = [
    '<%= config.bin %> slice day.arrow -o fixture.arrow --from +10m --to +12m --symbol AAPL',
    '<%= config.bin %> slice day.arrow -o open.arrow --from 2025-11-24T14:30:00Z --to 2025-11-24T14:35:00Z',
    "<%= config.bin %> slice 'day.*.arrow' -o noon.arrow --from 2025-11-24T16:55:00Z --to 2025-11-24T17:05:00Z",
  ]
  static override strict = false
  static override args = {file: Args.string({description: 'recording(s) to cut from: files, a directory or a glob', required: true})}
  static override flags = {
    out: Flags.string({char: 'o', description: 'path of the new recording (must not exist)', required: true}),
    from: timeSpec({description: 'first receive time: ISO-8601 or +offset from the start'}),
    to: timeSpec({description: 'end receive time (exclusive): ISO-8601 or +offset'}),
    symbol: Flags.string({char: 's', description: 'keep this symbol (repeatable; default all)', multiple: true}),
  }

  public async run(): Promise<SliceResult> {
    const files = await openInputs(this.positional)
    assertOneFeed(files, 'slice')
    const start = recordingStartNs(files[0])
    const r = await sliceRecording(
      files.map((f) => f.path),
      this.flags.out,
      {
        from: this.flags.from && resolveTimeSpec(this.flags.from, start),
        to: this.flags.to && resolveTimeSpec(this.flags.to, start),
        symbols: this.flags.symbol,
      },
    )
    if (!this.jsonEnabled()) this.log(`wrote ${r.rows} rows (${r.bytes} bytes) to ${r.out}`)
    return r
  }
}
