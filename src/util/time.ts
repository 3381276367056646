/** Time helpers shared by the store, recorder and replay. All times are ns since the Unix epoch (UTC) as bigint. */

/** ISO-8601 UTC with 9 fractional digits: `2025-11-24T14:30:00.123456789Z`. */
export function nsToIso(ns: bigint): string {
  let frac = ns % 1_000_000_000n
  if (frac < 0n) frac += 1_000_000_000n
  const wholeMs = (ns - frac) / 1_000_000n
  const base = new Date(Number(wholeMs)).toISOString() // ...:SS.000Z
  return `${base.slice(0, 19)}.${frac.toString().padStart(9, '0')}Z`
}

/**
 * A clock that reads UTC in ns but advances with the monotonic clock, so
 * receive times never jump if the wall clock is adjusted while recording.
 * Anchored once, when created.
 */
export class MonotonicUtcClock {
  private readonly anchor: bigint
  constructor() {
    this.anchor = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint()
  }
  nowNs(): bigint {
    return this.anchor + process.hrtime.bigint()
  }
}

export function toNs(value: bigint, unit: 's' | 'ms' | 'us' | 'ns'): bigint {
  switch (unit) {
    case 's':
      return value * 1_000_000_000n
    case 'ms':
      return value * 1_000_000n
    case 'us':
      return value * 1_000n
    case 'ns':
      return value
  }
}
