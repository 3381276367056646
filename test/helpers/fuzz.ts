/**
 * Random input for the decoders' fuzz tests, all drawn from one seeded
 * generator (`mulberry32` of src/util/prng.ts) so that a seed replays a run
 * exactly. Each function draws from `rnd` in a fixed order.
 */
export interface Fuzz {
  /** One element of `a`, uniformly. */
  pick<T>(a: ArrayLike<T>): T
  /** Up to `maxLength - 1` characters (code units) of `alphabet`. */
  randomText(alphabet: string, maxLength: number): string
  /** `text` (by code point) with 1 to 3 characters replaced (40%), inserted (30%) or deleted (30%), new ones from `alphabet`. */
  editChars(text: string, alphabet: string): string
}

export function fuzz(rnd: () => number): Fuzz {
  const pick = <T>(a: ArrayLike<T>): T => a[Math.floor(rnd() * a.length)]
  return {
    pick,
    randomText: (alphabet, maxLength) => Array.from({length: Math.floor(rnd() * maxLength)}, () => pick(alphabet)).join(''),
    editChars: (text, alphabet) => {
      const chars = [...text]
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const at = Math.floor(rnd() * chars.length)
        const op = rnd()
        if (op < 0.4) chars[at] = pick(alphabet)
        else if (op < 0.7) chars.splice(at, 0, pick(alphabet))
        else chars.splice(at, 1)
      }
      return chars.join('')
    },
  }
}
