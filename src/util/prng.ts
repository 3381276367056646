/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): a tiny seeded PRNG for
 * the synthetic tapes and the tests' fuzzers, so every run of one seed
 * yields the same sequence. Hand-written (seven lines) rather than a
 * dependency: the tapes' exact output is part of the fixtures and tests.
 * Not for anything secret.
 *
 * `seed` is taken as its low 32 bits (`seed >>> 0`: a double beyond 2^32
 * wraps, as ToUint32 does). Returns a function yielding floats in [0, 1),
 * multiples of 2^-32.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A Zipf-like picker over `items` by rank: item k (0-based) is drawn with
 * weight 1 / (k + 1)^s. Each pick takes one `rnd()` value.
 */
export function zipfPicker<T>(items: readonly T[], s: number, rnd: () => number): () => T {
  const weights = items.map((_, k) => 1 / (k + 1) ** s)
  const total = weights.reduce((a, b) => a + b, 0)
  return () => {
    let r = rnd() * total
    for (let k = 0; k < items.length; k++) {
      r -= weights[k]
      if (r <= 0) return items[k]
    }
    return items[items.length - 1]
  }
}
