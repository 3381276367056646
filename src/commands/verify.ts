import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {MdrecError} from '../errors.js'
import {defaultRepairPath, repairRecording, verifyRecording, type VerifyResult} from '../store/verify.js'

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Check every batch of a recording; with --repair, write a valid copy holding every complete batch.'
  static override description =
    'Exit code 0 when the file is sound, 1 when it is damaged or truncated (the report names the first bad byte and how many rows are intact). --repair never touches the original.'
  static override examples = [
    '<%= config.bin %> verify AAPL.arrow',
    '<%= config.bin %> verify AAPL.arrow --repair',
    '<%= config.bin %> verify AAPL.arrow --repair --out fixed.arrow',
  ]
  static override args = {file: Args.string({description: 'recording to check', required: true})}
  static override flags = {
    repair: Flags.boolean({description: 'write a valid copy with every complete batch (to --out, default <name>.repaired.arrow)'}),
    out: Flags.string({char: 'o', description: 'path of the repaired copy (never overwritten)', dependsOn: ['repair']}),
  }

  public async run(): Promise<VerifyResult & {out?: string}> {
    const {file} = this.args
    if (this.flags.repair) {
      const out = this.flags.out ?? defaultRepairPath(file)
      const r = await repairRecording(file, out)
      if (!this.jsonEnabled()) {
        this.log(describe(r))
        this.log(`repaired: wrote ${r.rowsIntact} rows in ${r.batches} batches to ${r.out}`)
      }
      return r
    }
    const r = await verifyRecording(file)
    if (!this.jsonEnabled()) this.log(describe(r))
    if (!r.ok) {
      if (this.jsonEnabled()) {
        this.logJson(r)
        this.exit(1)
      }
      throw new MdrecError('E_TRUNCATED', `${file}: damaged at byte ${r.problem!.offset}; run \`mdrec verify --repair ${file}\``)
    }
    return r
  }
}

function describe(r: VerifyResult): string {
  const head = r.ok ? 'ok' : 'DAMAGED'
  const lines = [
    `${r.path}: ${head}: ${r.rowsIntact} rows in ${r.batches} complete batches, ${r.validBytes} of ${r.sizeBytes} bytes sound`,
  ]
  if (r.problem) lines.push(`  first bad byte: ${r.problem.offset} (${r.problem.reason})`)
  if (!r.complete && !r.problem) lines.push('  no end-of-stream marker: still being written, or the recorder stopped abruptly (every batch is readable)')
  if (r.trailingBytes) lines.push(`  ${r.trailingBytes} bytes after the end-of-stream marker are ignored`)
  return lines.join('\n')
}
