/** Stop signals as a person's Ctrl-C (src/cli/signals.ts): the first finishes, a later one quits, a duplicate delivery is neither. */
import {afterEach, describe, expect, it, vi} from 'vitest'

import {SIGNAL_REPEAT_MS, onStopSignals} from '../src/cli/signals.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('onStopSignals', () => {
  it('first, then again; a signal within SIGNAL_REPEAT_MS of the last counted is the same request; off removes the handlers', () => {
    let t = 1000
    vi.spyOn(performance, 'now').mockImplementation(() => t)
    const seen: string[] = []
    const before = process.listenerCount('SIGINT')
    const off = onStopSignals(
      (sig) => seen.push(`first ${sig}`),
      (sig) => seen.push(`again ${sig}`),
    )
    process.emit('SIGINT', 'SIGINT')
    t += 1 // timeout's second delivery, to its process group
    process.emit('SIGINT', 'SIGINT')
    t += SIGNAL_REPEAT_MS - 2
    process.emit('SIGTERM', 'SIGTERM')
    expect(seen).toEqual(['first SIGINT'])
    t += SIGNAL_REPEAT_MS
    process.emit('SIGTERM', 'SIGTERM')
    expect(seen).toEqual(['first SIGINT', 'again SIGTERM'])
    off()
    expect(process.listenerCount('SIGINT')).toBe(before)
  })
})
