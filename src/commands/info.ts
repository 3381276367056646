import {Args} from '@oclif/core'

import {BaseCommand} from '../cli/base.js'
import {openRecording} from '../store/reader.js'
import {recordingInfo, type RecordingInfo} from '../store/info.js'
import {formatBytes, formatDuration} from '../util/units.js'

export default class Info extends BaseCommand<typeof Info> {
  static override summary = 'Summarise recordings: feed, time span, rows by kind and symbol, gaps, size, compression.'
  static override description = 'Reads each file once, streaming. With --json, prints a JSON array with one object per file.'
  static override examples = ['<%= config.bin %> info AAPL.arrow', '<%= config.bin %> info a.arrow b.arrow --json']
  static override strict = false
  static override args = {file: Args.string({description: 'recording(s) to summarise', required: true})}

  public async run(): Promise<RecordingInfo[]> {
    const {argv} = await this.parse(Info)
    const out: RecordingInfo[] = []
    for (const path of argv as string[]) {
      const info = await recordingInfo(await openRecording(path))
      out.push(info)
      if (!this.jsonEnabled()) this.log(render(info))
    }
    return out
  }
}

function top(rec: Record<string, number>, n: number): string {
  const entries = Object.entries(rec)
  const shown = entries.slice(0, n).map(([k, v]) => `${k || '(none)'} ${v}`)
  if (entries.length > n) shown.push(`… ${entries.length - n} more`)
  return shown.join(', ')
}

function render(i: RecordingInfo): string {
  const lines = [
    `${i.path}`,
    `  feed          ${i.feed}  ${i.endpoint}`,
    `  subscriptions ${i.subscriptions.join(' ') || '(none)'}`,
    `  format        version ${i.formatVersion}, written by mdrec ${i.toolVersion}, raw ${i.rawMode}${i.complete ? '' : ', not closed (no end-of-stream marker: live, or the recorder stopped abruptly)'}`,
    `  time span     ${i.firstRow ?? '-'} → ${i.lastRow ?? '-'} (${formatDuration(i.durationMs)})`,
    `  rows          ${i.rows} (${top(i.rowsByKind, 8)})`,
    `  symbols       ${Object.keys(i.rowsBySymbol).length}: ${top(i.rowsBySymbol, 10)}`,
    `  gaps          ${i.gaps}${i.gaps ? ` (${formatDuration(i.gapMs)} disconnected)` : ''}, rejects ${i.rejects}`,
    `  size          ${formatBytes(i.bytesOnDisk)} on disk in ${i.batches} batches, ${i.rows ? (i.bytesOnDisk / i.rows).toFixed(1) : '-'} B/row, compression ${i.compressionRatio.toFixed(1)}x, ${i.rawRows} rows keep raw payloads`,
  ]
  return lines.join('\n')
}
