import {describe, expect, it} from 'vitest'

import {MdrecError} from '../src/errors.js'
import {
  formatBytes,
  formatDuration,
  parseColumns,
  parseDuration,
  parseRotate,
  parseSize,
  parseSpeed,
  parseTimeSpec,
  resolveTimeSpec,
} from '../src/util/units.js'

/** Assert fn throws MdrecError E_USAGE (exit 2) whose message quotes the bad value and contains `parts`. */
function expectUsage(fn: () => unknown, bad: string, ...parts: string[]): MdrecError {
  let caught: unknown
  try {
    fn()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(MdrecError)
  const e = caught as MdrecError
  expect(e.code).toBe('E_USAGE')
  expect(e.exitCode).toBe(2)
  expect(e.message).toContain(JSON.stringify(bad))
  for (const p of parts) expect(e.message).toContain(p)
  return e
}

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90 * S],
    ['30m', 30 * M],
    ['2d', 2 * D],
    ['1h30m', H + 30 * M],
    ['1h30m15s', H + 30 * M + 15 * S],
    ['1d2h3m4s5ms', D + 2 * H + 3 * M + 4 * S + 5],
    ['1h02m03s', H + 2 * M + 3 * S],
    ['1.5h', 1.5 * H],
    ['0.25s', 250],
    ['2.5ms', 3], // rounded to a whole ms
    [' 10s ', 10 * S],
  ])('%s -> %d ms', (s, ms) => {
    expect(parseDuration(s)).toBe(ms)
  })

  it('shows the valid forms for garbage', () => {
    const e = expectUsage(() => parseDuration('abc'), 'abc', '90s', '30m', '1h30m', '2d', 'units: ms, s, m, h, d')
    expect(e.message.startsWith('invalid duration "abc": ')).toBe(true)
  })

  it.each(['', '90', '1.5', '10 s', '1.5h30m', '1H', '10sec', '1m30h', '1h1h', 'h', '.5h', '1e3s', '5y'])(
    'rejects %j',
    (s) => {
      expectUsage(() => parseDuration(s), s, 'units: ms, s, m, h, d')
    },
  )

  it('says a bare number needs a unit', () => {
    expectUsage(() => parseDuration('90'), '90', 'bare number', 'unit')
  })

  it.each(['0s', '0ms', '0h0m', '0.0001s', '-5s'])('rejects zero or negative %j', (s) => {
    expectUsage(() => parseDuration(s), s, 'greater than zero')
  })

  it('rejects a value too large to be exact', () => {
    expectUsage(() => parseDuration('99999999999999999999d'), '99999999999999999999d', 'too large')
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [999.4, '999ms'],
    [999.6, '1s'],
    [1000, '1s'],
    [45_200, '45.2s'],
    [59_940, '59.9s'],
    [59_960, '1m00s'],
    [2 * M + 3 * S, '2m03s'],
    [H + 2 * M + 3 * S, '1h02m03s'],
    [2 * D + 3 * H + 4 * M + 5 * S, '2d03h04m05s'],
    [-1500, '-1.5s'],
  ])('%d -> %s', (ms, s) => {
    expect(formatDuration(ms)).toBe(s)
  })

  it('formats whole-second values so parseDuration reads them back', () => {
    for (const ms of [90 * S, H + 2 * M + 3 * S, 2 * D + 5 * S, 850]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms)
    }
  })
})

describe('parseSize', () => {
  it.each([
    ['1024B', 1024],
    ['1b', 1],
    ['10KiB', 10 * 1024],
    ['256MiB', 256 * 2 ** 20],
    ['1GiB', 2 ** 30],
    ['2TiB', 2 * 2 ** 40],
    ['500MB', 500e6],
    ['1KB', 1000],
    ['3GB', 3e9],
    ['1TB', 1e12],
    ['256mib', 256 * 2 ** 20],
    ['1gb', 1e9],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['256 MiB', 256 * 2 ** 20],
  ])('%s -> %d bytes', (s, n) => {
    expect(parseSize(s)).toBe(n)
  })

  it('shows the valid forms for garbage', () => {
    expectUsage(() => parseSize('lots'), 'lots', '256MiB', '500MB', 'KiB', 'GB')
  })

  it.each(['', 'MiB', '1024', '10XB', '-1MiB', '1,5GiB'])('rejects %j', (s) => {
    expectUsage(() => parseSize(s), s)
  })

  it.each([
    ['2G', '2GiB', '2GB'],
    ['10k', '10KiB', '10KB'],
    ['5Mi', '5MiB', '5MB'],
  ])('explains the ambiguous one-letter unit in %j', (s, bin, dec) => {
    expectUsage(() => parseSize(s), s, 'ambiguous', bin, dec)
  })

  it('rejects zero', () => {
    expectUsage(() => parseSize('0MiB'), '0MiB', 'greater than zero')
  })
})

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [1.23 * 2 ** 20, '1.23 MiB'],
    [256 * 2 ** 20, '256.00 MiB'],
    [2 ** 30 - 1, '1.00 GiB'], // 1023.999... MiB rounds up to the next unit
    [4.5 * 2 ** 30, '4.50 GiB'],
    [3 * 2 ** 40, '3.00 TiB'],
  ])('%d -> %s', (n, s) => {
    expect(formatBytes(n)).toBe(s)
  })
})

describe('parseRotate', () => {
  it.each([
    ['1h', {kind: 'time', ms: H}],
    ['30m', {kind: 'time', ms: 30 * M}],
    ['1h30m', {kind: 'time', ms: H + 30 * M}],
    ['1.5m', {kind: 'time', ms: 90 * S}],
    ['256MiB', {kind: 'size', bytes: 256 * 2 ** 20}],
    ['1GB', {kind: 'size', bytes: 1e9}],
    ['100b', {kind: 'size', bytes: 100}],
  ])('%s', (s, spec) => {
    expect(parseRotate(s)).toEqual(spec)
  })

  it('lists both forms for garbage', () => {
    expectUsage(() => parseRotate('daily'), 'daily', 'duration', '1h', 'size', '256MiB')
  })

  it.each(['', '100', '-1h', '1x', '0s'])('rejects %j', (s) => {
    expectUsage(() => parseRotate(s), s)
  })

  it('explains an ambiguous one-letter size unit', () => {
    expectUsage(() => parseRotate('1G'), '1G', '1GiB', '1GB')
  })

  it('passes on the size error for a bad size', () => {
    expectUsage(() => parseRotate('0MiB'), '0MiB', 'greater than zero')
  })
})

describe('parseTimeSpec / resolveTimeSpec', () => {
  const base = BigInt(Date.UTC(2025, 10, 24, 14, 30, 0)) * 1_000_000n

  it('parses UTC', () => {
    expect(parseTimeSpec('2025-11-24T14:30:00Z')).toEqual({kind: 'absolute', ns: base})
  })

  it('keeps all 9 fractional digits exactly', () => {
    expect(parseTimeSpec('2025-11-24T14:30:00.123456789Z')).toEqual({kind: 'absolute', ns: base + 123_456_789n})
    expect(parseTimeSpec('2025-11-24T14:30:00.000000001Z')).toEqual({kind: 'absolute', ns: base + 1n})
    expect(parseTimeSpec('2025-11-24T14:30:00.5Z')).toEqual({kind: 'absolute', ns: base + 500_000_000n})
    expect(parseTimeSpec('2025-11-24T14:30:00.123456Z')).toEqual({kind: 'absolute', ns: base + 123_456_000n})
  })

  it('honours zone offsets', () => {
    expect(parseTimeSpec('2025-11-24T23:30:00+09:00')).toEqual({kind: 'absolute', ns: base})
    expect(parseTimeSpec('2025-11-24T09:30:00-05:00')).toEqual({kind: 'absolute', ns: base})
    expect(parseTimeSpec('2025-11-24T20:00:00.123456789+0530')).toEqual({kind: 'absolute', ns: base + 123_456_789n})
    expect(parseTimeSpec('2025-11-24T14:30:00+00:00')).toEqual({kind: 'absolute', ns: base})
  })

  it('accepts a minutes-only time, lowercase t/z and a space separator', () => {
    expect(parseTimeSpec('2025-11-24T14:30Z')).toEqual({kind: 'absolute', ns: base})
    expect(parseTimeSpec('2025-11-24t14:30:00z')).toEqual({kind: 'absolute', ns: base})
    expect(parseTimeSpec('2025-11-24 14:30:00Z')).toEqual({kind: 'absolute', ns: base})
  })

  it('crosses a date boundary with an offset', () => {
    const midnight = BigInt(Date.UTC(2025, 0, 1)) * 1_000_000n
    expect(parseTimeSpec('2025-01-01T09:00:00+09:00')).toEqual({kind: 'absolute', ns: midnight})
    expect(parseTimeSpec('2024-12-31T19:00:00-05:00')).toEqual({kind: 'absolute', ns: midnight})
  })

  it('handles leap days', () => {
    expect(parseTimeSpec('2024-02-29T00:00:00Z').ns).toBe(BigInt(Date.UTC(2024, 1, 29)) * 1_000_000n)
    expectUsage(() => parseTimeSpec('2025-02-29T00:00:00Z'), '2025-02-29T00:00:00Z', 'day 29')
    expectUsage(() => parseTimeSpec('1900-02-29T00:00:00Z'), '1900-02-29T00:00:00Z', 'day 29')
  })

  it('parses offsets from the start', () => {
    expect(parseTimeSpec('+90s')).toEqual({kind: 'offset', ns: 90_000_000_000n})
    expect(parseTimeSpec('+5m')).toEqual({kind: 'offset', ns: 300_000_000_000n})
    expect(parseTimeSpec('+1h30m')).toEqual({kind: 'offset', ns: 5_400_000_000_000n})
    expect(parseTimeSpec('+250ms')).toEqual({kind: 'offset', ns: 250_000_000n})
    expect(parseTimeSpec('+0s')).toEqual({kind: 'offset', ns: 0n})
  })

  it('resolves against the recording start', () => {
    const start = base + 7n
    expect(resolveTimeSpec(parseTimeSpec('+90s'), start)).toBe(start + 90_000_000_000n)
    expect(resolveTimeSpec(parseTimeSpec('+0s'), start)).toBe(start)
    expect(resolveTimeSpec(parseTimeSpec('2025-11-24T14:30:00.123456789Z'), start)).toBe(base + 123_456_789n)
  })

  it('rejects a date-time without a zone, asking for Z or an offset', () => {
    expectUsage(() => parseTimeSpec('2025-11-24T14:30:00'), '2025-11-24T14:30:00', 'no time zone', 'Z', '+09:00')
  })

  it('rejects a date without a time', () => {
    expectUsage(() => parseTimeSpec('2025-11-24'), '2025-11-24', '2025-11-24T00:00:00Z')
  })

  // The kind: a message that suggests a corrected form must not suggest one that is itself invalid;
  // what is out of range is said first.
  it.each([
    ['2026-13-01', 'month 13 is out of range'],
    ['2026-02-30', 'day 30 is out of range for 2026-02'],
    ['2026-13-01T10:00', 'month 13 is out of range'],
    ['2026-11-24T25:00:00', 'hour 25 is out of range'],
    ['2026-11-24T14:30:61', 'second 61 is out of range'],
  ])('names what is out of range in %j before suggesting a fuller form', (s, why) => {
    expectUsage(() => parseTimeSpec(s), s, why)
    expect(() => parseTimeSpec(s)).not.toThrow(/add a time of day|no time zone/)
  })

  it('shows both forms for garbage', () => {
    expectUsage(() => parseTimeSpec('yesterday'), 'yesterday', '2025-11-24T14:30:00Z', '+90s', "recording's start")
  })

  it.each([
    '',
    '1700000000',
    '-5m',
    '+abc',
    '+90',
    '2025-13-01T00:00:00Z',
    '2025-11-31T00:00:00Z',
    '2025-11-24T24:00:00Z',
    '2025-11-24T14:60:00Z',
    '2025-11-24T14:30:60Z',
    '2025-11-24T14:30:00.1234567891Z',
    '2025-11-24T14:30:00+24:00',
    '2025-11-24T14:30:00 UTC',
    '24-11-2025T14:30:00Z',
  ])('rejects %j', (s) => {
    expectUsage(() => parseTimeSpec(s), s)
  })
})

describe('parseSpeed', () => {
  it.each([
    ['1x', 1],
    ['10x', 10],
    ['0.25x', 0.25],
    ['10', 10],
    ['2.5', 2.5],
    ['.5x', 0.5],
    ['3X', 3],
    ['max', 'max'],
    ['MAX', 'max'],
  ])('%s -> %s', (s, v) => {
    expect(parseSpeed(s)).toBe(v)
  })

  it('shows the valid forms', () => {
    expectUsage(() => parseSpeed('fast'), 'fast', '1x', '10x', '0.25x', 'max')
  })

  it.each(['', 'x', '0', '0x', '0.0x', '-1x', '1e3', 'Infinity', '1xx', `${'9'.repeat(400)}x`])('rejects %j', (s) => {
    expectUsage(() => parseSpeed(s), s)
  })
})

describe('parseColumns', () => {
  it('splits and trims', () => {
    expect(parseColumns('price,volume')).toEqual(['price', 'volume'])
    expect(parseColumns(' price , volume,note ')).toEqual(['price', 'volume', 'note'])
    expect(parseColumns('price')).toEqual(['price'])
  })

  it.each(['', ' ', ',', 'price,,volume', 'price,', ',price'])('rejects %j', (s) => {
    expectUsage(() => parseColumns(s), s)
  })

  it('rejects a column listed twice', () => {
    expectUsage(() => parseColumns('price,volume,price'), 'price,volume,price', '"price"', 'twice')
  })
})

describe('gap row info (src/store/gap.ts)', () => {
  it('reads back what the recorder writes, and keeps only fields of the documented types', async () => {
    const {gapInfoText, parseGapInfo} = await import('../src/store/gap.js')
    const g = {start: '2025-11-24T10:40:00.000000000Z', end: '2025-11-24T10:40:01.500000000Z', duration_ms: 1500, reason: 'closed 1006', attempts: 3, last_error: 'ECONNREFUSED', until_stop: true as const}
    expect(parseGapInfo(gapInfoText(g))).toEqual(g)
    expect(parseGapInfo(null)).toEqual({})
    expect(parseGapInfo('not json')).toEqual({})
    expect(parseGapInfo('[1,2]')).toEqual({})
    expect(parseGapInfo('{"duration_ms":"12","start":5,"reason":"x","until_stop":"yes"}')).toEqual({reason: 'x'})
  })
})
