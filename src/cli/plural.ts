/**
 * `plural(1, 'batch')` → `'1 batch'`, `plural(2, 'batch')` → `'2 batches'`.
 * English's regular plurals only (+es after s, x, z, ch, sh; otherwise +s);
 * pass `many` for anything else. Hand-written: a whole inflection library
 * (pluralize) for the handful of nouns mdrec prints is not worth a dependency.
 */
export function plural(n: number, word: string, many?: string): string {
  return `${n} ${n === 1 ? word : (many ?? (/(?:s|x|z|ch|sh)$/.test(word) ? `${word}es` : `${word}s`))}`
}
