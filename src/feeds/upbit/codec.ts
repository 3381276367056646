/**
 * Upbit quotation codec: UTF-8 JSON messages (binary WebSocket frames) ↔ rows.
 *
 * ## Rows
 * One row per message: `symbol` is `code`, `exch_ts` is `timestamp` (ms),
 * `kind` follows `type` (ticker → tick, trade → trade, orderbook →
 * orderbook, candle.* → candle; anything else, error objects included, →
 * status), and every field of the four quotation types is a column by its
 * DEFAULT name (fields.ts); SIMPLE messages fill the same columns.
 * `sequential_id` is read from the text into a uint64, never through a JS
 * number.
 *
 * ## Exact re-encoding
 * A message re-encodes byte for byte from its row when:
 * - the members' order and the numbers' printed forms are recorded: the
 *   `layout` column holds them (null when they are exactly the real server's
 *   for that type, see fields.ts; numbers.ts describes the number tokens);
 * - members this schema does not know, or whose value does not fit their
 *   column (a string where a number belongs, a repeated key), are kept
 *   verbatim in `unknown_fields`, and the layout says where they go;
 * - the frame had no whitespace between tokens, no lone surrogate escapes,
 *   no number a double cannot print back (more than 17 significant digits),
 *   and every order book unit has the same layout.
 * `exact` is true only when re-encoding the row gives exactly the received
 * text (it is checked, not assumed) and the frame was binary, as Upbit sends
 * them; otherwise the recorder keeps `raw`.
 *
 * A JSON_LIST / SIMPLE_LIST frame (an array of messages) gives one row per
 * message and is never exact: its payload is kept on its first row, and
 * replay re-encodes each row on its own.
 */
import type {FeedCodec, Frame, FrameDecode, RowInput, RowKind, RowView} from '../types.js'
import {
  CANDLE_FIELDS,
  GENERIC_FIELDS,
  ORDERBOOK_FIELDS,
  TICKER_FIELDS,
  TRADE_FIELDS,
  UNIT_FIELDS,
  UPBIT_COLUMNS,
  fieldsOfType,
  keyMapsOf,
  kindOfType,
  type FieldSpec,
  type UpbitFormat,
} from './fields.js'
import {JsonError, jsonInt, parseJson, type JMember, type JNode, type JObj} from '../json.js'
import {formatNumber, tokenFor} from './numbers.js'
import {respell} from './private.js'

/** What a message needs to be encoded: the parts of a row. */
export type UpbitRow = Pick<RowView, 'symbol' | 'exch_ts' | 'fields'>

export type Unit = Record<string, number | null>

/** One member of a layout. */
export interface Entry {
  /** The key as it appeared (DEFAULT or SIMPLE spelling); '*' for an unknown member. */
  readonly key: string
  readonly spec: FieldSpec | null
  /** Number format (numbers.ts), or '#': the value's text is the next item of unknown_fields. */
  readonly token?: string
  /** orderbook_units: the layout of each unit. */
  readonly sub?: readonly Entry[]
}

export interface Layout {
  readonly text: string
  readonly table: readonly FieldSpec[]
  /** Keys in SIMPLE spelling. */
  readonly simple: boolean
  readonly entries: readonly Entry[]
}

const TABLES = [TICKER_FIELDS, TRADE_FIELDS, ORDERBOOK_FIELDS, CANDLE_FIELDS, GENERIC_FIELDS] as const

export function tableOf(type: unknown): readonly FieldSpec[] {
  return (typeof type === 'string' && fieldsOfType(type)) || GENERIC_FIELDS
}

// ---------------------------------------------------------------------------
// Layouts

function entryText(e: Entry): string {
  if (e.spec === null) return '*'
  if (e.sub !== undefined) return `${e.key}:[${e.sub.map(entryText).join(',')}]`
  return e.token !== undefined ? `${e.key}:${e.token}` : e.key
}

/** Same keys, tokens and unit layouts (cheaper than comparing the texts). */
function sameEntries(a: readonly Entry[], b: readonly Entry[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if (x.key !== y.key || x.token !== y.token || x.spec !== y.spec) return false
    if (x.sub !== y.sub && (x.sub === undefined || y.sub === undefined || !sameEntries(x.sub, y.sub))) return false
  }
  return true
}

function layoutText(entries: readonly Entry[]): string {
  let s = ''
  for (let i = 0; i < entries.length; i++) s += (i > 0 ? ',' : '') + entryText(entries[i])
  return s
}

function canonicalEntries(table: readonly FieldSpec[], simple: boolean): Entry[] {
  return table.map((f) => ({
    key: simple ? f.simple : f.name,
    spec: f,
    token: f.token,
    sub: f.slot === 'units' ? canonicalEntries(UNIT_FIELDS, simple) : undefined,
  }))
}

const CANONICAL = new Map<readonly FieldSpec[], [Layout, Layout]>()
for (const t of TABLES) {
  const mk = (simple: boolean): Layout => {
    const entries = canonicalEntries(t, simple)
    return {text: layoutText(entries), table: t, simple, entries}
  }
  CANONICAL.set(t, [mk(false), mk(true)])
}

const UNIT_CANON = [canonicalEntries(UNIT_FIELDS, false), canonicalEntries(UNIT_FIELDS, true)] as const

/** The real server's layout of a message type in DEFAULT or SIMPLE spelling. */
export function canonicalLayout(table: readonly FieldSpec[], simple: boolean): Layout {
  return CANONICAL.get(table)![simple ? 1 : 0]
}

const PARSED = new Map<string, Layout | null>()
const PARSED_MAX = 4096

/** A recorded layout string back as entries (cached); null if it does not parse against the table. */
export function parseLayout(text: string, table: readonly FieldSpec[]): Layout | null {
  const ck = `${TABLES.indexOf(table as never)}|${text}`
  const hit = PARSED.get(ck)
  if (hit !== undefined) return hit
  let out: Layout | null = null
  try {
    let pos = 0
    let simple: boolean | undefined
    const dflt = keyMapsOf(table, false)
    const simp = keyMapsOf(table, true)
    const udflt = keyMapsOf(UNIT_FIELDS, false)
    const usimp = keyMapsOf(UNIT_FIELDS, true)
    const list = (units: boolean): Entry[] => {
      const entries: Entry[] = []
      if (text[pos] === ']' || pos >= text.length) return entries
      for (;;) {
        let end = pos
        while (end < text.length && text[end] !== ',' && text[end] !== ':' && text[end] !== ']' && text[end] !== '[') end++
        const key = text.slice(pos, end)
        pos = end
        if (key === '*' && !units) {
          entries.push({key: '*', spec: null})
        } else {
          const d = (units ? udflt : dflt).byKey.get(key)
          const s = (units ? usimp : simp).byKey.get(key)
          if (!d && !s) throw new Error(`unknown key ${key}`)
          if (simple === undefined && !units) simple = !d
          const spec = (d ?? s)!
          let token: string | undefined
          let sub: Entry[] | undefined
          if (text[pos] === ':') {
            pos++
            if (text[pos] === '[') {
              pos++
              sub = list(true)
              if (text[pos] !== ']') throw new Error('unclosed [')
              pos++
            } else {
              let e2 = pos
              while (e2 < text.length && text[e2] !== ',' && text[e2] !== ']') e2++
              token = text.slice(pos, e2)
              pos = e2
            }
          }
          if (spec.slot === 'units' && sub === undefined) throw new Error('units without a layout')
          entries.push({key, spec, token, sub})
        }
        if (text[pos] === ',') {
          pos++
          continue
        }
        return entries
      }
    }
    const entries = list(false)
    if (pos !== text.length) throw new Error('trailing text')
    out = {text, table, simple: simple ?? false, entries}
  } catch {
    out = null
  }
  if (PARSED.size >= PARSED_MAX) PARSED.clear()
  PARSED.set(ck, out)
  return out
}

/** The layout a row was recorded with (its `layout` column, or the canonical one of the recording's spelling). */
export function layoutOf(row: UpbitRow, recordedSimple: boolean): Layout {
  const table = tableOf(row.fields.type)
  const t = row.fields.layout
  if (typeof t === 'string') {
    const l = parseLayout(t, table)
    if (l) return l
  }
  return canonicalLayout(table, recordedSimple)
}

// ---------------------------------------------------------------------------
// Encoding

export interface EncodeOptions {
  /** Key spelling to write (default: the layout's own). */
  simple?: boolean
  /** Replace `stream_type` (the emulator marks snapshots). */
  streamType?: string
  /** Replace `orderbook_units` (the emulator cuts the depth or groups levels). */
  units?: readonly Unit[] | null
}

function numText(v: unknown, token: string | undefined, verbatim: () => string | undefined): string {
  if (token === '#') {
    const t = verbatim()
    if (t !== undefined) return t
  }
  if (typeof v !== 'number') return 'null'
  return (token !== undefined ? formatNumber(v, token) : null) ?? formatNumber(v, 's') ?? 'null'
}

const NONE = () => undefined

/** The verbatim texts of a row's unknown_fields (a JSON array of strings), or [] when absent or unreadable. */
function verbatims(u: unknown): string[] {
  if (typeof u !== 'string') return []
  try {
    const a = JSON.parse(u) as unknown
    return Array.isArray(a) ? a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : []
  } catch {
    return []
  }
}

function strText(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : 'null'
}

function unitsText(units: unknown, sub: readonly Entry[], simple: boolean): string {
  if (!Array.isArray(units)) return 'null'
  let s = '['
  for (let i = 0; i < units.length; i++) {
    const u = units[i] as Unit | null
    s += i > 0 ? ',{' : '{'
    for (let k = 0; k < sub.length; k++) {
      const e = sub[k]
      const f = e.spec!
      s += `${k > 0 ? ',' : ''}"${simple ? f.simple : f.name}":${numText(u?.[f.name], e.token, NONE)}`
    }
    s += '}'
  }
  return `${s}]`
}

/** One message's JSON text from a row, in `layout` (see EncodeOptions for the changes the emulator makes). */
export function encodeWithLayout(row: UpbitRow, layout: Layout, opts: EncodeOptions = {}): string {
  const simple = opts.simple ?? layout.simple
  const f = row.fields
  const verb = verbatims(f.unknown_fields)
  let vi = 0
  const next = () => (vi < verb.length ? verb[vi++] : undefined)
  let s = '{'
  const entries = layout.entries
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
    if (i > 0) s += ','
    const spec = e.spec
    if (spec === null) {
      const v = next()
      // a kept member of a private message (myOrder, myAsset) takes the client's spelling (private.ts)
      s += v === undefined ? '"?":null' : simple !== layout.simple ? respell(v, f.type, simple) : v
      continue
    }
    s += `"${simple ? spec.simple : spec.name}":`
    switch (spec.slot) {
      case 'type':
        s += strText(f.type)
        break
      case 'code':
        s += row.symbol === '' ? 'null' : JSON.stringify(row.symbol)
        break
      case 'timestamp':
        s += row.exch_ts === null ? 'null' : String(row.exch_ts)
        break
      case 'f64':
        s += numText(f[spec.name], e.token, next)
        break
      case 'i64':
      case 'u64': {
        const v = f[spec.name]
        s += typeof v === 'bigint' || typeof v === 'number' ? String(v) : 'null'
        break
      }
      case 'str':
        s += strText(spec.name === 'stream_type' && opts.streamType !== undefined ? opts.streamType : f[spec.name])
        break
      case 'bool': {
        const v = f[spec.name]
        s += typeof v === 'boolean' ? String(v) : 'null'
        break
      }
      case 'units':
        s += unitsText(opts.units !== undefined ? opts.units : f[spec.name], e.sub ?? UNIT_CANON[simple ? 1 : 0], simple)
        break
    }
  }
  return `${s}}`
}

/** One message's JSON text from a row recorded in `recordedSimple` spelling (its own layout). */
export function encodeMessage(row: UpbitRow, recordedSimple: boolean, opts: EncodeOptions = {}): string {
  return encodeWithLayout(row, layoutOf(row, recordedSimple), opts)
}

// ---------------------------------------------------------------------------
// Decoding

type DecodedRow = Omit<RowInput, 'recv_ts' | 'raw'> & {exact: boolean}


interface ItemState {
  fields: Record<string, unknown>
  symbol: string
  exch: bigint | null
  /** Every value re-encodes as received (so far). */
  clean: boolean
  /** unknown_fields: verbatim texts, in layout order. */
  verb: string[]
}

/** Decodes one member into the state; null when it is to be kept as an unknown member. */
function member(spec: FieldSpec, key: string, v: JNode, st: ItemState, simple: boolean): Entry | null {
  switch (spec.slot) {
    case 'type':
      if (v.t !== 's' || v.lone) return null
      st.fields.type = v.v
      return {key, spec}
    case 'code':
      if (v.t === 'z') return {key, spec}
      if (v.t !== 's' || v.lone || v.v === '') return null
      st.symbol = v.v
      return {key, spec}
    case 'timestamp': {
      if (v.t === 'z') return {key, spec}
      const b = jsonInt(v, false)
      if (b === undefined) return null
      st.exch = b
      return {key, spec}
    }
    case 'i64':
    case 'u64': {
      if (v.t === 'z') return {key, spec}
      const b = jsonInt(v, spec.slot === 'u64')
      if (b === undefined) return null
      st.fields[spec.name] = b
      return {key, spec}
    }
    case 'f64': {
      if (v.t === 'z') return {key, spec, token: spec.token}
      if (v.t !== 'n') return null
      st.fields[spec.name] = v.v
      const token = tokenFor(v.text, v.v, spec.token)
      if (token !== null) return {key, spec, token}
      // More digits than a double holds (Upbit's acc_trade_price_24h often has 17): the column
      // keeps the nearest double, unknown_fields the text, so the message still re-encodes exactly.
      st.verb.push(v.text)
      return {key, spec, token: '#'}
    }
    case 'str':
      if (v.t === 'z') return {key, spec}
      if (v.t !== 's' || v.lone) return null
      st.fields[spec.name] = v.v
      return {key, spec}
    case 'bool':
      if (v.t === 'z') return {key, spec}
      if (v.t !== 'b') return null
      st.fields[spec.name] = v.v
      return {key, spec}
    case 'units': {
      if (v.t === 'z') return {key, spec, sub: UNIT_CANON[simple ? 1 : 0]}
      if (v.t !== 'a' || !v.items.every((x) => x.t === 'o')) return null
      const maps = keyMapsOf(UNIT_FIELDS, simple)
      const units: Unit[] = []
      let sub: Entry[] | null = null
      for (const item of v.items as JObj[]) {
        const unit: Unit = {}
        const entries: Entry[] = []
        for (const m of item.members) {
          const us = maps.byKey.get(m.key)
          const uv = m.value
          if (!us || us.name in unit || (uv.t !== 'n' && uv.t !== 'z')) {
            st.clean = false // a unit member that has no column: it cannot be re-encoded
            continue
          }
          if (uv.t === 'z') {
            unit[us.name] = null
            entries.push({key: m.key, spec: us, token: us.token})
            continue
          }
          unit[us.name] = uv.v
          let token = tokenFor(uv.text, uv.v, us.token)
          if (token === null) {
            st.clean = false
            token = us.token ?? 's'
          }
          entries.push({key: m.key, spec: us, token})
        }
        units.push(unit)
        if (sub === null) sub = entries
        else if (!sameEntries(entries, sub)) st.clean = false
      }
      st.fields[spec.name] = units
      return {key, spec, sub: sub ?? UNIT_CANON[simple ? 1 : 0]}
    }
  }
}

interface DecodedItem {
  row: DecodedRow
  layout: Layout
  clean: boolean
}

function decodeObject(obj: JObj, src: string, recordedSimple: boolean): DecodedItem {
  let typeVal: string | null = null
  let simple = false
  for (const m of obj.members) {
    if ((m.key === 'type' || m.key === 'ty') && m.value.t === 's' && !m.value.lone) {
      typeVal = m.value.v
      simple = m.key === 'ty'
      break
    }
  }
  const known = typeVal !== null ? fieldsOfType(typeVal) : undefined
  const table = known ?? GENERIC_FIELDS
  const maps = keyMapsOf(table, simple)
  const st: ItemState = {fields: {}, symbol: '', exch: null, clean: true, verb: []}
  const entries: Entry[] = []
  const seen = new Set<string>()
  let error: JMember | undefined
  for (const m of obj.members) {
    const spec = maps.byKey.get(m.key)
    const e = spec !== undefined && !seen.has(spec.name) ? member(spec, m.key, m.value, st, simple) : null
    if (e !== null) {
      seen.add(spec!.name)
      entries.push(e)
      continue
    }
    if (m.key === 'error' && known === undefined) error = m
    st.verb.push(src.slice(m.start, m.end))
    entries.push({key: '*', spec: null})
  }
  const canon = canonicalLayout(table, recordedSimple)
  let layout: Layout
  if (sameEntries(entries, canon.entries)) layout = canon
  else {
    layout = {text: layoutText(entries), table, simple, entries}
    st.fields.layout = layout.text
  }
  if (st.verb.length > 0) st.fields.unknown_fields = JSON.stringify(st.verb)
  const kind: RowKind = known !== undefined ? kindOfType(typeVal!) : 'status'
  return {
    row: {
      exch_ts: st.exch,
      symbol: st.symbol,
      kind,
      info: error ? `{${src.slice(error.start, error.end)}}` : null,
      fields: st.fields,
      exact: false,
    },
    layout,
    clean: st.clean,
  }
}

const UTF8 = new TextDecoder('utf-8', {fatal: true})

export type UpbitRejectCode = 'BAD_UTF8' | 'BAD_JSON' | 'NOT_OBJECT' | 'EMPTY_LIST'

/**
 * Decodes one frame (binary or text) into rows; never throws. A frame whose
 * JSON is not an object or a non-empty array of objects is rejected.
 */
export function decodeUpbitFrame(frame: Frame, recordedSimple: boolean): FrameDecode {
  try {
    let text: string
    if (typeof frame.data === 'string') text = frame.data
    else {
      try {
        text = UTF8.decode(frame.data)
      } catch {
        return {ok: false, code: 'BAD_UTF8', message: `the ${frame.data.byteLength}-byte frame is not valid UTF-8`}
      }
    }
    let parsed: ReturnType<typeof parseJson>
    try {
      parsed = parseJson(text)
    } catch (error) {
      if (error instanceof JsonError) return {ok: false, code: 'BAD_JSON', message: `not JSON: ${error.message}`}
      throw error
    }
    const v = parsed.value
    if (v.t === 'o') {
      const d = decodeObject(v, text, recordedSimple)
      d.row.exact = frame.binary && !parsed.spaced && d.clean && encodeWithLayout(d.row as UpbitRow, d.layout) === text
      return {ok: true, rows: [d.row]}
    }
    if (v.t === 'a') {
      if (v.items.length === 0) return {ok: false, code: 'EMPTY_LIST', message: 'an empty list of messages'}
      const k = v.items.findIndex((x) => x.t !== 'o')
      if (k >= 0) return {ok: false, code: 'NOT_OBJECT', message: `list item ${k} is ${kindName(v.items[k])}, not a message object`}
      return {ok: true, rows: v.items.map((x) => decodeObject(x as JObj, text, recordedSimple).row)}
    }
    return {ok: false, code: 'NOT_OBJECT', message: `the frame is ${kindName(v)}, not a message object or a list of them`}
  } catch (error) {
    return {ok: false, code: 'BAD_JSON', message: `undecodable frame: ${(error as Error)?.message ?? String(error)}`}
  }
}

function kindName(n: JNode): string {
  return {n: 'a number', s: 'a string', b: 'a boolean', z: 'null', a: 'an array', o: 'an object'}[n.t]
}


const TE = new TextEncoder()

/** The codec of a recording made with `format` (DEFAULT or SIMPLE keys). */
export function upbitCodec(format: UpbitFormat = 'DEFAULT'): FeedCodec & {format: UpbitFormat; simple: boolean} {
  const simple = format === 'SIMPLE' || format === 'SIMPLE_LIST'
  return {
    feed: 'upbit',
    format,
    simple,
    exchTsUnit: 'ms',
    columns: UPBIT_COLUMNS,
    decode(frame: Frame): FrameDecode {
      return decodeUpbitFrame(frame, simple)
    },
    encode(row: RowView): Frame {
      if (row.raw) return {data: row.raw, binary: true}
      return {data: TE.encode(encodeMessage(row, simple)), binary: true}
    },
  }
}
