import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {timeSpec} from '../cli/flags.js'
import {openRecording, recordingStartNs} from '../store/reader.js'
import {sliceRecording, type SliceResult} from '../store/slice.js'
import {resolveTimeSpec} from '../util/units.js'

export default class Slice extends BaseCommand<typeof Slice> {
  static override summary = 'Cut a smaller recording (a CI fixture) out of a big one.'
  static override description =
    'Keeps the rows received in [--from, --to) of the given symbols, with the metadata of the original and a note of where it came from. Streams; the output is a spec-conformant recording and is never overwritten.'
  static override examples = [
    '<%= config.bin %> slice day.arrow -o fixture.arrow --from +10m --to +12m --symbol AAPL',
    '<%= config.bin %> slice day.arrow -o open.arrow --from 2025-11-24T14:30:00Z --to 2025-11-24T14:35:00Z',
  ]
  static override args = {file: Args.string({description: 'recording to cut from', required: true})}
  static override flags = {
    out: Flags.string({char: 'o', description: 'path of the new recording (must not exist)', required: true}),
    from: timeSpec({description: 'first receive time: ISO-8601 or +offset from the start'}),
    to: timeSpec({description: 'end receive time (exclusive): ISO-8601 or +offset'}),
    symbol: Flags.string({char: 's', description: 'keep this symbol (repeatable; default all)', multiple: true}),
  }

  public async run(): Promise<SliceResult> {
    const file = await openRecording(this.args.file)
    const start = recordingStartNs(file)
    const r = await sliceRecording(this.args.file, this.flags.out, {
      from: this.flags.from && resolveTimeSpec(this.flags.from, start),
      to: this.flags.to && resolveTimeSpec(this.flags.to, start),
      symbols: this.flags.symbol,
    })
    if (!this.jsonEnabled()) this.log(`wrote ${r.rows} rows (${r.bytes} bytes) to ${r.out}`)
    return r
  }
}
