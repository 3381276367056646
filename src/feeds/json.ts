/**
 * A strict JSON scanner (RFC 8259), shared by the JSON feeds (Upbit, Binance), that keeps what JSON.parse throws away:
 * each number's source text (Upbit's `sequential_id` exceeds 2^53, and the
 * printed form of every number is needed for byte-exact replay; Node 20's
 * JSON.parse has no source-text access for revivers), each member's source
 * span (unknown members are kept verbatim), and whether the text had any
 * whitespace between tokens (which the re-encoder does not reproduce).
 * Written by hand for those reasons.
 */

export type JNode = JNum | JStr | JBool | JNull | JArr | JObj

export interface JNum {
  readonly t: 'n'
  readonly text: string
  readonly v: number
}
export interface JStr {
  readonly t: 's'
  readonly v: string
  /** The string had a lone surrogate escape (it cannot be stored as UTF-8 and re-encoded unchanged). */
  readonly lone: boolean
}
export interface JBool {
  readonly t: 'b'
  readonly v: boolean
}
export interface JNull {
  readonly t: 'z'
  readonly v: null
}
export interface JArr {
  readonly t: 'a'
  readonly items: JNode[]
}
export interface JMember {
  readonly key: string
  readonly value: JNode
  /** Source span of `"key":value`. */
  readonly start: number
  readonly end: number
}
export interface JObj {
  readonly t: 'o'
  readonly members: JMember[]
}

export class JsonError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message)
  }
}

const MAX_DEPTH = 64
const TRUE: JBool = {t: 'b', v: true}
const FALSE: JBool = {t: 'b', v: false}
const NULL: JNull = {t: 'z', v: null}

export interface ParseResult {
  value: JNode
  /** Whitespace occurred between tokens somewhere. */
  spaced: boolean
}

/** Parses one JSON text. Throws JsonError (with the offending position) on anything RFC 8259 rejects. */
export function parseJson(src: string): ParseResult {
  const p = new Parser(src)
  p.skip()
  const value = p.value(0)
  p.skip()
  if (p.pos < src.length) throw new JsonError(`unexpected ${describe(src, p.pos)} after the JSON value`, p.pos)
  return {value, spaced: p.spaced}
}

function describe(src: string, pos: number): string {
  if (pos >= src.length) return 'end of text'
  return `character ${JSON.stringify(src[pos])} at offset ${pos}`
}

class Parser {
  pos = 0
  spaced = false
  constructor(readonly src: string) {}

  skip(): void {
    const s = this.src
    let p = this.pos
    const start = p
    for (;;) {
      const c = s.charCodeAt(p)
      if (c === 32 || c === 10 || c === 13 || c === 9) p++
      else break
    }
    if (p !== start) this.spaced = true
    this.pos = p
  }

  fail(what: string): never {
    throw new JsonError(`${what}: ${describe(this.src, this.pos)}`, this.pos)
  }

  value(depth: number): JNode {
    const s = this.src
    const c = s.charCodeAt(this.pos)
    if (c === 123) return this.object(depth + 1)
    if (c === 91) return this.array(depth + 1)
    if (c === 34) return this.string()
    if (c === 45 || (c >= 48 && c <= 57)) return this.number()
    if (c === 116 && s.startsWith('true', this.pos)) {
      this.pos += 4
      return TRUE
    }
    if (c === 102 && s.startsWith('false', this.pos)) {
      this.pos += 5
      return FALSE
    }
    if (c === 110 && s.startsWith('null', this.pos)) {
      this.pos += 4
      return NULL
    }
    return this.fail('expected a JSON value')
  }

  object(depth: number): JObj {
    const s = this.src
    const members: JMember[] = []
    if (this.open(depth, 125)) return {t: 'o', members}
    do {
      const start = this.pos
      if (s.charCodeAt(this.pos) !== 34) this.fail('expected a member name')
      const key = this.string().v
      this.skip()
      if (s.charCodeAt(this.pos) !== 58) this.fail("expected ':'")
      this.pos++
      this.skip()
      const value = this.value(depth)
      members.push({key, value, start, end: this.pos})
    } while (!this.next(125))
    return {t: 'o', members}
  }

  array(depth: number): JArr {
    const items: JNode[] = []
    if (this.open(depth, 93)) return {t: 'a', items}
    do items.push(this.value(depth))
    while (!this.next(93))
    return {t: 'a', items}
  }

  /** Consumes a container's opening bracket and the space after it; true if `close` follows at once (consumed: it is empty). */
  private open(depth: number, close: number): boolean {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`)
    this.pos++
    this.skip()
    if (this.src.charCodeAt(this.pos) !== close) return false
    this.pos++
    return true
  }

  /** After a member or item: true at the container's `close` (consumed), false after a ',' (consumed, with the space after it). */
  private next(close: number): boolean {
    this.skip()
    const c = this.src.charCodeAt(this.pos)
    if (c === 44) {
      this.pos++
      this.skip()
      return false
    }
    if (c === close) {
      this.pos++
      return true
    }
    return this.fail(`expected ',' or '${String.fromCharCode(close)}'`)
  }

  string(): JStr {
    const s = this.src
    const open = this.pos
    let p = open + 1
    // fast path: no escapes
    for (;;) {
      const c = s.charCodeAt(p)
      if (c === 34) {
        this.pos = p + 1
        return {t: 's', v: s.slice(open + 1, p), lone: hasLoneSurrogate(s, open + 1, p)}
      }
      if (c === 92) break
      if (c < 32 || p >= s.length) {
        this.pos = p
        this.fail(p >= s.length ? 'unterminated string' : 'unescaped control character in a string')
      }
      p++
    }
    let out = s.slice(open + 1, p)
    for (;;) {
      if (p >= s.length) {
        this.pos = p
        this.fail('unterminated string')
      }
      const c = s.charCodeAt(p)
      if (c === 34) {
        this.pos = p + 1
        return {t: 's', v: out, lone: hasLoneSurrogate(out, 0, out.length)}
      }
      if (c < 32) {
        this.pos = p
        this.fail('unescaped control character in a string')
      }
      if (c !== 92) {
        out += s[p++]
        continue
      }
      const e = s.charCodeAt(p + 1)
      p += 2
      switch (e) {
        case 34:
          out += '"'
          break
        case 92:
          out += '\\'
          break
        case 47:
          out += '/'
          break
        case 98:
          out += '\b'
          break
        case 102:
          out += '\f'
          break
        case 110:
          out += '\n'
          break
        case 114:
          out += '\r'
          break
        case 116:
          out += '\t'
          break
        case 117: {
          const hex = s.slice(p, p + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = p
            this.fail('bad \\u escape')
          }
          out += String.fromCharCode(parseInt(hex, 16))
          p += 4
          break
        }
        default:
          this.pos = p - 1
          this.fail('bad escape')
      }
    }
  }

  number(): JNum {
    const s = this.src
    const start = this.pos
    let p = start
    if (s.charCodeAt(p) === 45) p++
    const d0 = s.charCodeAt(p)
    if (d0 === 48) p++
    else if (d0 >= 49 && d0 <= 57) {
      while (isDigit(s.charCodeAt(p))) p++
    } else {
      this.pos = p
      this.fail('expected a digit')
    }
    if (s.charCodeAt(p) === 46) {
      p++
      if (!isDigit(s.charCodeAt(p))) {
        this.pos = p
        this.fail('expected a digit after the decimal point')
      }
      while (isDigit(s.charCodeAt(p))) p++
    }
    const ec = s.charCodeAt(p)
    if (ec === 101 || ec === 69) {
      p++
      const sc = s.charCodeAt(p)
      if (sc === 43 || sc === 45) p++
      if (!isDigit(s.charCodeAt(p))) {
        this.pos = p
        this.fail('expected a digit in the exponent')
      }
      while (isDigit(s.charCodeAt(p))) p++
    }
    this.pos = p
    const text = s.slice(start, p)
    return {t: 'n', text, v: Number(text)}
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

function hasLoneSurrogate(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c <= 0xdbff && i + 1 < to) {
      const n = s.charCodeAt(i + 1)
      if (n >= 0xdc00 && n <= 0xdfff) {
        i++
        continue
      }
    }
    return true
  }
  return false
}

const INT = /^(?:0|-?[1-9]\d*)$/
const UINT = /^(?:0|[1-9]\d*)$/
const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
const U64_MAX = 2n ** 64n - 1n

/**
 * A number node as an exact 64-bit integer (uint64 when `unsigned`, else
 * int64), read from its text as the sender printed it; undefined for a
 * non-number, a fraction or exponent, a leading zero, or a value out of range.
 */
export function jsonInt(n: JNode, unsigned: boolean): bigint | undefined {
  if (n.t !== 'n' || !(unsigned ? UINT : INT).test(n.text)) return undefined
  const b = BigInt(n.text)
  if (unsigned ? b > U64_MAX : b < I64_MIN || b > I64_MAX) return undefined
  return b
}
