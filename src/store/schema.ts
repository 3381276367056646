import * as A from 'apache-arrow'

import type {ColumnDef, ColumnType, TimeUnitName} from './types.js'
import {COMMON_COLUMNS, ROW_KINDS} from './types.js'

export {COMMON_COLUMNS}

/**
 * The recording format version. Bump it when a reader of the previous version
 * would misread a new file (docs/FORMAT.md keeps the history). Readers refuse
 * files with a higher major version.
 */
export const FORMAT_VERSION = 2

/** Schema-level metadata keys (Arrow custom_metadata). */
export const META = {
  formatVersion: 'mdrec.format_version',
  feed: 'mdrec.feed',
  endpoint: 'mdrec.endpoint',
  subscriptions: 'mdrec.subscriptions',
  feedOptions: 'mdrec.feed_options',
  toolVersion: 'mdrec.version',
  startTime: 'mdrec.start_time',
  endTime: 'mdrec.end_time',
  rawMode: 'mdrec.raw_mode',
  rows: 'mdrec.rows',
  derivedFrom: 'mdrec.derived_from',
  runId: 'mdrec.run_id',
  part: 'mdrec.part',
  nullColumns: 'mdrec.null_columns',
  timeOrdered: 'mdrec.time_ordered',
} as const

export type RawMode = 'auto' | 'always' | 'never'
export const RAW_MODES: readonly RawMode[] = ['auto', 'always', 'never']

/** What a recording says about itself (all strings in the file; parsed here). */
export interface RecordingMeta {
  formatVersion: number
  feed: string
  endpoint: string
  subscriptions: string[]
  feedOptions: Record<string, unknown>
  toolVersion: string
  /** ISO-8601 UTC with ns, when recording started. */
  startTime: string
  /** ISO-8601 UTC with ns: the largest receive time of any row; absent while the file is live or if the recorder died. */
  endTime?: string
  /**
   * The rows' receive times never decrease in arrival (`seq`) order
   * (`mdrec.time_ordered`, closed files written since it exists): a reader
   * may stop at the first row at or after a `--to`. Absent: not known.
   */
  timeOrdered?: boolean
  rawMode: RawMode
  /** Total rows; written when the file is closed. */
  rows?: number
  derivedFrom?: string
  /** One id for every file of one `mdrec record` run (its rotated parts share it). */
  runId?: string
  /** 0-based index of this file among its run's rotated parts (absent: the run has one file). */
  part?: number
  /**
   * Feed columns left out of a closed file because every row's value is null
   * (written by the rewrite path only; docs/FORMAT.md). The readers put them
   * back, all null, so every mdrec command sees the feed's full column list.
   */
  nullColumns?: NullColumn[]
}

/**
 * A column a closed file leaves out (null in every row): its position in the
 * full column list (0-based, common columns included), name and type.
 * Stored in `mdrec.null_columns` as JSON `[at, name, type]`, plus the struct
 * field names for `list_struct_f64`.
 */
export interface NullColumn {
  at: number
  name: string
  type: ColumnType
  fields?: readonly string[]
}

const COLUMN_TYPES: readonly ColumnType[] = ['utf8', 'dict_utf8', 'binary', 'bool', 'int8', 'int32', 'int64', 'uint64', 'float32', 'float64', 'list_struct_f64']

function nullColumnsToJson(cols: readonly NullColumn[]): string {
  return JSON.stringify(cols.map((c) => (c.fields ? [c.at, c.name, c.type, c.fields] : [c.at, c.name, c.type])))
}

/**
 * Parse `mdrec.null_columns`; undefined when absent. Throws Error (with the
 * reason) when present but not a list of `[at, name, type(, fields)]` with
 * increasing positions after the common columns and known types.
 */
function nullColumnsFromJson(s: string | undefined): NullColumn[] | undefined {
  if (s === undefined) return undefined
  const bad = (why: string): never => {
    throw new Error(`${META.nullColumns} is not a list of [position, name, type] (${why})`)
  }
  let v: unknown
  try {
    v = JSON.parse(s)
  } catch {
    return bad('not JSON')
  }
  if (!Array.isArray(v)) return bad('not a list')
  let last = COMMON_COLUMNS.length - 1
  return v.map((e: unknown): NullColumn => {
    if (!Array.isArray(e) || e.length < 3 || e.length > 4) return bad('an entry is not [position, name, type]')
    const [at, name, type, fields] = e as unknown[]
    if (!Number.isSafeInteger(at) || (at as number) <= last) return bad('positions must increase, after the common columns')
    last = at as number
    if (typeof name !== 'string' || !COLUMN_TYPES.includes(type as ColumnType)) return bad(`entry ${JSON.stringify(e)}`)
    if (type === 'list_struct_f64' && !(Array.isArray(fields) && fields.length > 0 && fields.every((x) => typeof x === 'string'))) return bad(`${name}: no struct fields`)
    return {at: at as number, name, type: type as ColumnType, ...(type === 'list_struct_f64' ? {fields: fields as string[]} : {})}
  })
}

export function metaToMap(meta: RecordingMeta): Map<string, string> {
  const m = new Map<string, string>()
  m.set(META.formatVersion, String(meta.formatVersion))
  m.set(META.feed, meta.feed)
  m.set(META.endpoint, meta.endpoint)
  m.set(META.subscriptions, JSON.stringify(meta.subscriptions))
  m.set(META.feedOptions, JSON.stringify(meta.feedOptions))
  m.set(META.toolVersion, meta.toolVersion)
  m.set(META.startTime, meta.startTime)
  if (meta.endTime !== undefined) m.set(META.endTime, meta.endTime)
  m.set(META.rawMode, meta.rawMode)
  if (meta.rows !== undefined) m.set(META.rows, String(meta.rows))
  if (meta.derivedFrom !== undefined) m.set(META.derivedFrom, meta.derivedFrom)
  if (meta.runId !== undefined) m.set(META.runId, meta.runId)
  if (meta.part !== undefined) m.set(META.part, String(meta.part))
  if (meta.nullColumns !== undefined && meta.nullColumns.length > 0) m.set(META.nullColumns, nullColumnsToJson(meta.nullColumns))
  if (meta.timeOrdered) m.set(META.timeOrdered, 'true')
  return m
}

function parseJson<T>(s: string | undefined, fallback: T): T {
  if (s === undefined) return fallback
  try {
    return JSON.parse(s) as T
  } catch {
    return fallback
  }
}

/** Parse metadata; returns null when the schema carries no mdrec format version. Throws Error for a bad `mdrec.null_columns` (the columns would be wrong). */
export function metaFromMap(m: Map<string, string>): RecordingMeta | null {
  const v = m.get(META.formatVersion)
  if (v === undefined) return null
  const rows = m.get(META.rows)
  const raw = m.get(META.rawMode) as RawMode | undefined
  return {
    formatVersion: Number(v),
    feed: m.get(META.feed) ?? 'unknown',
    endpoint: m.get(META.endpoint) ?? '',
    subscriptions: parseJson<string[]>(m.get(META.subscriptions), []),
    feedOptions: parseJson<Record<string, unknown>>(m.get(META.feedOptions), {}),
    toolVersion: m.get(META.toolVersion) ?? '',
    startTime: m.get(META.startTime) ?? '',
    endTime: m.get(META.endTime),
    rawMode: raw && RAW_MODES.includes(raw) ? raw : 'auto',
    rows: rows === undefined ? undefined : Number(rows),
    derivedFrom: m.get(META.derivedFrom),
    runId: m.get(META.runId),
    part: m.get(META.part) === undefined || !Number.isInteger(Number(m.get(META.part))) ? undefined : Number(m.get(META.part)),
    nullColumns: nullColumnsFromJson(m.get(META.nullColumns)),
    ...(m.get(META.timeOrdered) === 'true' ? {timeOrdered: true} : {}),
  }
}

const TIME_UNITS: Record<TimeUnitName, A.TimeUnit> = {
  s: A.TimeUnit.SECOND,
  ms: A.TimeUnit.MILLISECOND,
  us: A.TimeUnit.MICROSECOND,
  ns: A.TimeUnit.NANOSECOND,
}

export function timeUnitName(u: A.TimeUnit): TimeUnitName {
  return (Object.keys(TIME_UNITS) as TimeUnitName[]).find((k) => TIME_UNITS[k] === u) ?? 'ns'
}

/** Dictionary ids: fixed so every file of a feed has the same schema. */
export const SYMBOL_DICT_ID = 0
export const KIND_DICT_ID = 1

export function arrowType(t: Exclude<ColumnType, 'dict_utf8'>, fields: readonly string[] = []): A.DataType {
  switch (t) {
    case 'list_struct_f64':
      return new A.List(new A.Field('item', new A.Struct(fields.map((f) => new A.Field(f, new A.Float64(), true))), true))
    case 'utf8':
      return new A.Utf8()
    case 'binary':
      return new A.Binary()
    case 'bool':
      return new A.Bool()
    case 'int8':
      return new A.Int8()
    case 'int32':
      return new A.Int32()
    case 'int64':
      return new A.Int64()
    case 'uint64':
      return new A.Uint64()
    case 'float32':
      return new A.Float32()
    case 'float64':
      return new A.Float64()
  }
}

/**
 * The store's own view of every column, common and feed-specific: the
 * accumulators and readers switch on `kind`, not on Arrow classes.
 */
export type StoreColumn =
  | {name: string; kind: 'timestamp'; unit: TimeUnitName; nullable: boolean}
  | {name: string; kind: 'dict'; indexBits: 8 | 32; dictId: number; fixed?: readonly string[]; nullable?: boolean}
  | {name: string; kind: 'plain'; type: Exclude<ColumnType, 'dict_utf8'>; nullable: boolean; fields?: readonly string[]}

export function storeColumns(exchTsUnit: TimeUnitName, feedColumns: readonly ColumnDef[]): StoreColumn[] {
  const cols: StoreColumn[] = [
    {name: 'recv_ts', kind: 'timestamp', unit: 'ns', nullable: false},
    {name: 'exch_ts', kind: 'timestamp', unit: exchTsUnit, nullable: true},
    {name: 'symbol', kind: 'dict', indexBits: 32, dictId: SYMBOL_DICT_ID},
    {name: 'kind', kind: 'dict', indexBits: 8, dictId: KIND_DICT_ID, fixed: ROW_KINDS},
    {name: 'seq', kind: 'plain', type: 'uint64', nullable: false},
    {name: 'raw', kind: 'plain', type: 'binary', nullable: true},
    {name: 'info', kind: 'plain', type: 'utf8', nullable: true},
  ]
  let dictId = KIND_DICT_ID + 1
  for (const c of feedColumns) {
    if ((COMMON_COLUMNS as readonly string[]).includes(c.name)) throw new Error(`feed column ${c.name} clashes with a common column`)
    if (c.type === 'dict_utf8') cols.push({name: c.name, kind: 'dict', indexBits: 32, dictId: dictId++, nullable: true})
    else if (c.type === 'list_struct_f64') {
      if (!c.fields?.length) throw new Error(`feed column ${c.name}: list_struct_f64 needs fields`)
      cols.push({name: c.name, kind: 'plain', type: c.type, nullable: true, fields: c.fields})
    } else cols.push({name: c.name, kind: 'plain', type: c.type, nullable: true})
  }
  return cols
}

/** The feed columns of a file, as the ColumnDefs that would write it again (slice, compact). */
export function columnDefs(feedColumns: readonly StoreColumn[]): ColumnDef[] {
  return feedColumns.map((c) => ({
    name: c.name,
    type: c.kind === 'dict' ? 'dict_utf8' : c.kind === 'plain' ? c.type : 'int64',
    ...(c.kind === 'plain' && c.fields ? {fields: c.fields} : {}),
  }))
}

export function arrowField(c: StoreColumn): A.Field {
  switch (c.kind) {
    case 'timestamp':
      return new A.Field(c.name, new A.Timestamp(TIME_UNITS[c.unit], 'UTC'), c.nullable)
    case 'dict': {
      const idx = c.indexBits === 8 ? new A.Int8() : new A.Int32()
      return new A.Field(c.name, new A.Dictionary(new A.Utf8(), idx, c.dictId, false), c.nullable ?? false)
    }
    case 'plain':
      return new A.Field(c.name, arrowType(c.type, c.fields), c.nullable)
  }
}

export function arrowSchema(cols: readonly StoreColumn[], meta: RecordingMeta): A.Schema {
  return new A.Schema(cols.map(arrowField), metaToMap(meta))
}

/** Recover the store's column view from a file's schema (for readers and slice/compact). */
export function storeColumnsFromSchema(schema: A.Schema): StoreColumn[] {
  return schema.fields.map((f): StoreColumn => {
    const t = f.type
    if (A.DataType.isTimestamp(t)) return {name: f.name, kind: 'timestamp', unit: timeUnitName(t.unit), nullable: f.nullable}
    if (A.DataType.isDictionary(t)) {
      return {
        name: f.name,
        kind: 'dict',
        indexBits: t.indices.bitWidth === 8 ? 8 : 32,
        dictId: t.id,
        fixed: f.name === 'kind' ? ROW_KINDS : undefined,
        nullable: f.nullable,
      }
    }
    if (A.DataType.isList(t)) {
      const item = t.children[0]?.type
      if (item && A.DataType.isStruct(item) && item.children.every((c) => A.DataType.isFloat(c.type) && c.type.precision === A.Precision.DOUBLE)) {
        return {name: f.name, kind: 'plain', type: 'list_struct_f64', nullable: f.nullable, fields: item.children.map((c) => c.name)}
      }
    }
    return {name: f.name, kind: 'plain', type: columnTypeOf(t, f.name), nullable: f.nullable}
  })
}

function columnTypeOf(t: A.DataType, name: string): Exclude<ColumnType, 'dict_utf8' | 'list_struct_f64'> {
  if (A.DataType.isUtf8(t)) return 'utf8'
  if (A.DataType.isBinary(t)) return 'binary'
  if (A.DataType.isBool(t)) return 'bool'
  if (A.DataType.isFloat(t)) return t.precision === A.Precision.SINGLE ? 'float32' : 'float64'
  if (A.DataType.isInt(t)) {
    if (t.bitWidth === 64) return t.isSigned ? 'int64' : 'uint64'
    if (t.bitWidth === 8 && t.isSigned) return 'int8'
    if (t.bitWidth === 32 && t.isSigned) return 'int32'
  }
  throw new Error(`column ${name}: unsupported type ${String(t)}`)
}
