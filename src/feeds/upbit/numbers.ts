/**
 * Number formats of Upbit's JSON, as small tokens.
 *
 * Upbit prints its numbers the way its Java server holds them: BigDecimals
 * with a fixed scale (`158219000.00000000`, `0E-8`), sometimes the shortest
 * decimal (`331187169240.21526`), sometimes one forced decimal
 * (`109950000.0`). JSON.parse keeps only the double, so JSON.stringify gives
 * `158219000` back. To replay such frames byte for byte from their decoded
 * columns, each number's printed form is described by a token that, applied
 * to the double, prints the same text again:
 *
 * | token | form | example |
 * |---|---|---|
 * | `s` | shortest decimal, never an exponent | `0.0034`, `106705000` |
 * | `d` | shortest decimal, at least one fraction digit | `109950000.0` |
 * | `J` | Java `Double.toString` (exponent below 1e-3 and from 1e7) | `1.2E-4`, `9.5E7` |
 * | `8` | Java `BigDecimal.toString` at scale 8 (exponent when the adjusted exponent is below -6; zero `0E-8`) | `0.00006321` |
 * | `10z` | the same at scale 10, but zero printed `0` | `0.0000063211`, `0` |
 * | `p8` | exactly 8 fraction digits, never an exponent | `0.00000012` |
 * | `E2`, `e2+` | exponent form, 2 mantissa fraction digits, letter case, `+` on positive exponents | `1.23E-8` |
 * | `=0E-8` | this exact text (only for zero, whose scale the double cannot hold) | |
 *
 * Hand-written rather than a library: formatting must reproduce Java's
 * BigDecimal and Double printing exactly from a JS double, digit for digit,
 * which no JSON or decimal library does; the digits come from the engine's
 * own shortest round-trip conversion (Number.prototype.toExponential).
 */

/** The shortest decimal of a finite double: value = (neg ? -1 : 1) × digits × 10^exp; digits has no leading or trailing zeros ('0' for zero). */
interface Dec {
  neg: boolean
  digits: string
  exp: number
}

function dec(v: number): Dec | null {
  if (!Number.isFinite(v)) return null
  const neg = v < 0 || Object.is(v, -0)
  const s = (neg ? -v : v).toExponential() // shortest round-trip digits: "d.ddde±x"
  const e = s.indexOf('e')
  const mant = s.charCodeAt(1) === 46 ? s[0] + s.slice(2, e) : s.slice(0, e)
  let x = Number(s.slice(e + 1))
  let digits = mant
  let end = digits.length
  while (end > 1 && digits.charCodeAt(end - 1) === 48) end--
  digits = digits.slice(0, end)
  x -= digits.length - 1
  if (digits === '0') x = 0
  return {neg, digits, exp: x}
}

/** Plain decimal with exactly `f` fraction digits, or null when the value needs more. */
function plain(d: Dec, f: number): string | null {
  const {digits, exp} = d
  if (-exp > f && digits !== '0') return null
  let int: string
  let frac: string
  if (exp >= 0) {
    int = digits === '0' ? '0' : digits + '0'.repeat(exp)
    frac = ''
  } else {
    const k = -exp
    if (digits.length > k) {
      int = digits.slice(0, digits.length - k)
      frac = digits.slice(digits.length - k)
    } else {
      int = '0'
      frac = '0'.repeat(k - digits.length) + digits
    }
  }
  if (frac.length < f) frac += '0'.repeat(f - frac.length)
  return (d.neg ? '-' : '') + int + (f > 0 ? `.${frac}` : '')
}

function needed(d: Dec): number {
  return d.digits === '0' || d.exp >= 0 ? 0 : -d.exp
}

/** Exponent form: mantissa with `f` fraction digits; null when the value needs more. */
function expForm(d: Dec, f: number, letter: string, plus: boolean): string | null {
  if (d.digits === '0') return null
  if (d.digits.length > f + 1) return null
  const m = d.digits + '0'.repeat(f + 1 - d.digits.length)
  const x = d.exp + d.digits.length - 1
  return `${d.neg ? '-' : ''}${m[0]}${f > 0 ? `.${m.slice(1)}` : ''}${letter}${x < 0 ? '-' : plus ? '+' : ''}${Math.abs(x)}`
}

/** Java BigDecimal.toString of the value at `scale` (null when the value has more fraction digits). */
function bigDecimal(d: Dec, scale: number, zeroPlain: boolean): string | null {
  if (d.digits === '0') {
    if (zeroPlain || scale === 0) return d.neg ? null : '0'
    if (d.neg) return null // BigDecimal has no negative zero
    return -scale >= -6 && scale > 0 ? `0.${'0'.repeat(scale)}` : `0E${-scale < 0 ? '-' : '+'}${Math.abs(scale)}`
  }
  const shift = d.exp + scale // unscaled = digits × 10^shift
  if (shift < 0) return null
  const u = d.digits + '0'.repeat(shift)
  const adjusted = u.length - 1 - scale
  const sign = d.neg ? '-' : ''
  if (scale >= 0 && adjusted >= -6) {
    if (scale === 0) return sign + u
    if (u.length > scale) return `${sign}${u.slice(0, u.length - scale)}.${u.slice(u.length - scale)}`
    return `${sign}0.${'0'.repeat(scale - u.length)}${u}`
  }
  return `${sign}${u[0]}${u.length > 1 ? `.${u.slice(1)}` : ''}E${adjusted < 0 ? '-' : '+'}${Math.abs(adjusted)}`
}

/** Java Double.toString (JDK 19+: shortest digits). */
function javaDouble(d: Dec, v: number): string {
  if (d.digits === '0') return d.neg ? '-0.0' : '0.0'
  const a = Math.abs(v)
  if (a >= 1e-3 && a < 1e7) return plain(d, Math.max(1, needed(d)))!
  const x = d.exp + d.digits.length - 1
  return `${d.neg ? '-' : ''}${d.digits[0]}.${d.digits.length > 1 ? d.digits.slice(1) : '0'}E${x}`
}

/** The text of `v` in the format `token`, or null when the token cannot print this value. */
export function formatNumber(v: number, token: string): string | null {
  const c = token.charCodeAt(0)
  if (c === 61 /* = */) return Number(token.slice(1)) === v && (v !== 0 || Object.is(v, -0) === token.startsWith('=-')) ? token.slice(1) : null
  // Fast paths: for 1e-6 <= |v| < 1e21, String(v) is the shortest decimal without an exponent, and a
  // BigDecimal of that magnitude prints without one too (its adjusted exponent is floor(log10 |v|) >= -6).
  const a = v < 0 ? -v : v
  if (a >= 1e-6 && a < 1e21) {
    if (c === 115 /* s */) return String(v)
    if (c === 100 /* d */ || (c === 74 /* J */ && a >= 1e-3 && a < 1e7)) {
      const s = String(v)
      return s.indexOf('.') < 0 ? `${s}.0` : s
    }
    const p = c === 112 /* p */
    if (p || (c >= 48 && c <= 57)) {
      const n = p ? Number(token.slice(1)) : token.endsWith('z') ? Number(token.slice(0, -1)) : Number(token)
      if (Number.isInteger(n) && n >= 0) {
        const s = String(v)
        const dot = s.indexOf('.')
        const frac = dot < 0 ? 0 : s.length - dot - 1
        if (frac > n) return null
        if (n === 0) return s
        return (dot < 0 ? `${s}.` : s) + '0'.repeat(n - frac)
      }
    }
  } else if (c === 115 && a === 0) return Object.is(v, -0) ? '-0' : '0'
  const d = dec(v)
  if (d === null) return null
  switch (c) {
    case 115: // s
      return plain(d, needed(d))
    case 100: // d
      return plain(d, Math.max(1, needed(d)))
    case 74: // J
      return javaDouble(d, v)
    case 112: // p<n>
      return plain(d, Number(token.slice(1)))
    case 69: // E<f>[+]
    case 101: {
      const plus = token.endsWith('+')
      return expForm(d, Number(token.slice(1, plus ? -1 : undefined)), token[0], plus)
    }
    default: {
      // <n> or <n>z: BigDecimal at scale n (n may be negative)
      const z = token.endsWith('z')
      const n = Number(z ? token.slice(0, -1) : token)
      if (!Number.isInteger(n)) return null
      return bigDecimal(d, n, z)
    }
  }
}

const NUM_SHAPE = /^-?(\d+)(?:\.(\d+))?(?:([eE])([+-]?)(\d+))?$/

/**
 * A token that prints `v` as exactly `text` (a JSON number whose value is
 * `v`): `preferred` when it does, else the first of a fixed list of
 * candidates chosen from the text's shape. Null when no token reproduces the
 * text (more significant digits than a double holds, or a zero in a form
 * no literal covers). Depends only on its arguments.
 */
export function tokenFor(text: string, v: number, preferred?: string): string | null {
  if (preferred !== undefined) {
    const q = quickMatch(text, v, preferred)
    if (q === true || (q === undefined && formatNumber(v, preferred) === text)) return preferred
  }
  const m = NUM_SHAPE.exec(text)
  if (!m) return null
  const fd = m[2]?.length ?? 0
  let candidates: string[]
  if (m[3] === undefined) {
    candidates = ['s', 'd', String(fd), `p${fd}`]
  } else {
    if (v === 0) return `=${text}`
    const mf = fd
    const x = Number(m[4] === '-' ? `-${m[5]}` : m[5])
    candidates = ['J', String(mf - x), `${m[3]}${mf}${m[4] === '+' ? '+' : ''}`]
  }
  for (const t of candidates) if (t !== preferred && formatNumber(v, t) === text) return t
  return null
}

/**
 * Whether `formatNumber(v, token) === text`, decided from the text's shape
 * alone where that is certain (undefined: not decided, format and compare):
 * a plain decimal of at most 15 significant digits is the shortest decimal
 * of its double (any 15-digit decimal survives a round trip through a
 * double), so its digits are what the token prints, and its fraction length
 * says whether the token pads it that way. Saves formatting each number of a
 * message twice on the recorder's hot path.
 */
function quickMatch(text: string, v: number, token: string): boolean | undefined {
  if (v === 0) return undefined
  const a = v < 0 ? -v : v
  if (a < 1e-6 || a >= 1e15) return undefined
  let i = text.charCodeAt(0) === 45 ? 1 : 0
  let frac = -1
  let first = -1
  let last = -1
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) frac = 0
    else if (c >= 48 && c <= 57) {
      if (frac >= 0) frac++
      if (c !== 48) {
        if (first < 0) first = i
        last = i
      }
    } else return undefined // an exponent
  }
  if (frac < 0) frac = 0
  // significant digits between the first and the last non-zero digit (the point excluded)
  let sig = last - first + 1
  if (frac > 0 && first < text.length - frac - 1 && last > text.length - frac - 1) sig--
  if (sig > 15) return undefined
  const c = token.charCodeAt(0)
  const lastZero = text.charCodeAt(text.length - 1) === 48
  if (c === 115 /* s */) return frac === 0 || !lastZero
  if (c === 100 /* d */) return frac === 1 || (frac > 1 && !lastZero)
  if (c === 112 /* p */) return frac === Number(token.slice(1))
  if (c >= 48 && c <= 57) {
    const n = Number(token.endsWith('z') ? token.slice(0, -1) : token)
    return Number.isInteger(n) ? frac === n : undefined
  }
  return undefined
}
