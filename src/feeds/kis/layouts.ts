/**
 * KIS real-time TR layouts: the fields of one record of each TR, in frame
 * order, under their documented (upper-case) names, with the column type each
 * is stored as.
 *
 * Layouts are versioned by field count. KIS has appended fields over time
 * (H0STCNT0 46 → 47 with MARKET_CLS_CODE; H0STASP0 59 → 62 with the KRX mid
 * price fields → 63 with MARKET_CLS_CODE; H0GSCNI0 24 → 25 with CNTG_UNPR12),
 * always at the end, so a layout is the first N fields of its TR's longest
 * list. The decoder picks it per frame from `fields ÷ count` and records N
 * in the `layout` column; the encoder writes exactly N fields back.
 *
 * Sources (docs/feeds/kis.md): the field lists of KIS's open-trading-api
 * samples and OpenAPI workbook (H0STCNI0 follows the workbook order:
 * OODER_NO 4th, ODER_QTY 17th).
 */
import type {ColumnDef, ColumnType, RowKind} from '../types.js'

/**
 * How a field is stored:
 * - `int`: int64, the decimal integer as sent (KRX prices, volumes, counts, signed differences);
 * - `dec`: float64 for decimals (rates like PRDY_CTRT, weighted averages, overseas prices),
 *   re-encoded with `scale` decimals (a number, or the record's ZDIV field, or `plain`:
 *   JavaScript's shortest form);
 * - `i32`: int32 for small integers (ZDIV);
 * - `code`: dictionary-encoded utf8, kept as sent (sign and class codes, dates, symbols);
 * - `str`: utf8 kept as sent (HHMMSS times, order numbers, notice fields).
 * An empty numeric field is null and re-encodes as an empty string.
 */
export type FieldKind = 'int' | 'dec' | 'i32' | 'code' | 'str'

export interface FieldSpec {
  readonly name: string
  readonly kind: FieldKind
  /** `dec` only: decimals written back. */
  readonly scale?: number | 'ZDIV' | 'plain'
}

export interface TrSpec {
  readonly trId: string
  /** What the TR carries, for help texts and docs. */
  readonly title: string
  /** The longest layout's fields; a layout of N fields is the first N. */
  readonly fields: readonly FieldSpec[]
  /** Known field counts, oldest first. */
  readonly layouts: readonly number[]
  readonly kind: RowKind
  /** Whether KIS encrypts this TR's frames (AES-256-CBC with the ack's key/iv). */
  readonly encrypted: boolean
  /** Which symbols it takes as tr_key. */
  readonly keyForm: 'krx' | 'overseas' | 'hts_id'
  /** Real and paper-trading variants (notices differ: H0STCNI0 real, H0STCNI9 paper). */
  readonly venue: 'both' | 'real' | 'paper'
  /** exch_ts from these (YYYYMMDD, HHMMSS) fields, read as Korea Standard Time; null when the record has no date. */
  readonly exchTs: readonly [string, string] | null
  /** Time fields moved when a replay loop shifts times: [date, time] pairs roll the date at midnight; lone times wrap; lone dates follow the first pair's day change. */
  readonly shift: {readonly pairs: ReadonlyArray<readonly [string, string]>; readonly times: readonly string[]; readonly dates: readonly string[]}
}

const f = (name: string, kind: FieldKind, scale?: FieldSpec['scale']): FieldSpec => (scale === undefined ? {name, kind} : {name, kind, scale})
const ints = (...names: string[]) => names.map((n) => f(n, 'int'))
const codes = (...names: string[]) => names.map((n) => f(n, 'code'))
const strs = (...names: string[]) => names.map((n) => f(n, 'str'))
const levels = (prefix: string, kind: FieldKind) => Array.from({length: 10}, (_, i) => f(`${prefix}${i + 1}`, kind))

const H0STCNT0: TrSpec = {
  trId: 'H0STCNT0',
  title: 'domestic (KRX) real-time trade',
  fields: [
    f('MKSC_SHRN_ISCD', 'code'),
    f('STCK_CNTG_HOUR', 'str'),
    f('STCK_PRPR', 'int'),
    f('PRDY_VRSS_SIGN', 'code'),
    f('PRDY_VRSS', 'int'),
    f('PRDY_CTRT', 'dec', 2),
    f('WGHN_AVRG_STCK_PRC', 'dec', 2),
    ...ints('STCK_OPRC', 'STCK_HGPR', 'STCK_LWPR', 'ASKP1', 'BIDP1', 'CNTG_VOL', 'ACML_VOL', 'ACML_TR_PBMN', 'SELN_CNTG_CSNU', 'SHNU_CNTG_CSNU', 'NTBY_CNTG_CSNU'),
    f('CTTR', 'dec', 2),
    ...ints('SELN_CNTG_SMTN', 'SHNU_CNTG_SMTN'),
    f('CCLD_DVSN', 'code'),
    f('SHNU_RATE', 'dec', 2),
    f('PRDY_VOL_VRSS_ACML_VOL_RATE', 'dec', 2),
    f('OPRC_HOUR', 'str'),
    f('OPRC_VRSS_PRPR_SIGN', 'code'),
    f('OPRC_VRSS_PRPR', 'int'),
    f('HGPR_HOUR', 'str'),
    f('HGPR_VRSS_PRPR_SIGN', 'code'),
    f('HGPR_VRSS_PRPR', 'int'),
    f('LWPR_HOUR', 'str'),
    f('LWPR_VRSS_PRPR_SIGN', 'code'),
    f('LWPR_VRSS_PRPR', 'int'),
    ...codes('BSOP_DATE', 'NEW_MKOP_CLS_CODE', 'TRHT_YN'),
    ...ints('ASKP_RSQN1', 'BIDP_RSQN1', 'TOTAL_ASKP_RSQN', 'TOTAL_BIDP_RSQN'),
    f('VOL_TNRT', 'dec', 2),
    f('PRDY_SMNS_HOUR_ACML_VOL', 'int'),
    f('PRDY_SMNS_HOUR_ACML_VOL_RATE', 'dec', 2),
    ...codes('HOUR_CLS_CODE', 'MRKT_TRTM_CLS_CODE'),
    f('VI_STND_PRC', 'int'),
    // 47-field layout
    f('MARKET_CLS_CODE', 'code'),
  ],
  layouts: [46, 47],
  kind: 'trade',
  encrypted: false,
  keyForm: 'krx',
  venue: 'both',
  exchTs: ['BSOP_DATE', 'STCK_CNTG_HOUR'],
  shift: {pairs: [['BSOP_DATE', 'STCK_CNTG_HOUR']], times: ['OPRC_HOUR', 'HGPR_HOUR', 'LWPR_HOUR'], dates: []},
}

const H0STASP0: TrSpec = {
  trId: 'H0STASP0',
  title: 'domestic (KRX) 10-level order book',
  fields: [
    f('MKSC_SHRN_ISCD', 'code'),
    f('BSOP_HOUR', 'str'),
    f('HOUR_CLS_CODE', 'code'),
    ...levels('ASKP', 'int'),
    ...levels('BIDP', 'int'),
    ...levels('ASKP_RSQN', 'int'),
    ...levels('BIDP_RSQN', 'int'),
    ...ints('TOTAL_ASKP_RSQN', 'TOTAL_BIDP_RSQN', 'OVTM_TOTAL_ASKP_RSQN', 'OVTM_TOTAL_BIDP_RSQN', 'ANTC_CNPR', 'ANTC_CNQN', 'ANTC_VOL', 'ANTC_CNTG_VRSS'),
    f('ANTC_CNTG_VRSS_SIGN', 'code'),
    f('ANTC_CNTG_PRDY_CTRT', 'dec', 2),
    ...ints('ACML_VOL', 'TOTAL_ASKP_RSQN_ICDC', 'TOTAL_BIDP_RSQN_ICDC', 'OVTM_TOTAL_ASKP_ICDC', 'OVTM_TOTAL_BIDP_ICDC'),
    f('STCK_DEAL_CLS_CODE', 'code'),
    // 62-field layout: the KRX mid price (half a tick when the spread is one tick of an odd price grid: a decimal)
    f('MID_PRC', 'dec', 'plain'),
    f('MIDP_TOTAL_RSQN', 'int'),
    f('MIDP_CLS_CODE', 'code'),
    // 63-field layout
    f('MARKET_CLS_CODE', 'code'),
  ],
  layouts: [59, 62, 63],
  kind: 'orderbook',
  encrypted: false,
  keyForm: 'krx',
  venue: 'both',
  // BSOP_HOUR has no date: exch_ts stays null rather than guessing the day
  exchTs: null,
  shift: {pairs: [], times: ['BSOP_HOUR'], dates: []},
}

const DOMESTIC_NOTICE_FIELDS: readonly FieldSpec[] = [
  ...codes('CUST_ID', 'ACNT_NO'),
  ...strs('ODER_NO', 'OODER_NO'),
  ...codes('SELN_BYOV_CLS', 'RCTF_CLS', 'ODER_KIND', 'ODER_COND', 'STCK_SHRN_ISCD'),
  ...strs('CNTG_QTY', 'CNTG_UNPR', 'STCK_CNTG_HOUR'),
  ...codes('RFUS_YN', 'CNTG_YN', 'ACPT_YN', 'BRNC_NO'),
  f('ODER_QTY', 'str'),
  f('ACNT_NAME', 'code'),
  f('ORD_COND_PRC', 'str'),
  ...codes('ORD_EXG_GB', 'POPUP_YN'),
  f('FILLER', 'str'),
  ...codes('CRDT_CLS', 'CRDT_LOAN_DATE', 'CNTG_ISNM40'),
  f('ODER_PRC', 'str'),
]

const OVERSEAS_NOTICE_FIELDS: readonly FieldSpec[] = [
  ...codes('CUST_ID', 'ACNT_NO'),
  ...strs('ODER_NO', 'OODER_NO'),
  ...codes('SELN_BYOV_CLS', 'RCTF_CLS', 'ODER_KIND2', 'STCK_SHRN_ISCD'),
  ...strs('CNTG_QTY', 'CNTG_UNPR', 'STCK_CNTG_HOUR'),
  ...codes('RFUS_YN', 'CNTG_YN', 'ACPT_YN', 'BRNC_NO'),
  f('ODER_QTY', 'str'),
  ...codes('ACNT_NAME', 'CNTG_ISNM', 'ODER_COND', 'DEBT_GB', 'DEBT_DATE'),
  ...strs('START_TM', 'END_TM'),
  f('TM_DIV_TP', 'code'),
  // 25-field layout
  f('CNTG_UNPR12', 'str'),
]

/**
 * Order/fill notices are the account holder's own events: every field is kept
 * as the exact text KIS sends (fixed-width, zero-padded), because a replay
 * must re-encrypt the same plaintext for its client's key.
 */
function notice(trId: string, title: string, fields: readonly FieldSpec[], layouts: number[], venue: TrSpec['venue']): TrSpec {
  return {
    trId,
    title,
    fields,
    layouts,
    kind: 'status',
    encrypted: true,
    keyForm: 'hts_id',
    venue,
    exchTs: null,
    shift: {pairs: [], times: ['STCK_CNTG_HOUR'], dates: []},
  }
}

const HDFSCNT0: TrSpec = {
  trId: 'HDFSCNT0',
  title: 'overseas real-time (delayed) trade',
  fields: [
    ...codes('RSYM', 'SYMB'),
    f('ZDIV', 'i32'),
    ...codes('TYMD', 'XYMD'),
    f('XHMS', 'str'),
    f('KYMD', 'code'),
    f('KHMS', 'str'),
    ...['OPEN', 'HIGH', 'LOW', 'LAST'].map((n) => f(n, 'dec', 'ZDIV')),
    f('SIGN', 'code'),
    f('DIFF', 'dec', 'ZDIV'),
    f('RATE', 'dec', 2),
    f('PBID', 'dec', 'ZDIV'),
    f('PASK', 'dec', 'ZDIV'),
    ...ints('VBID', 'VASK', 'EVOL', 'TVOL', 'TAMT', 'BIVL', 'ASVL'),
    f('STRN', 'dec', 2),
    f('MTYP', 'code'),
  ],
  layouts: [26],
  kind: 'trade',
  encrypted: false,
  keyForm: 'overseas',
  venue: 'both',
  exchTs: ['KYMD', 'KHMS'],
  shift: {pairs: [['XYMD', 'XHMS'], ['KYMD', 'KHMS']], times: [], dates: ['TYMD']},
}

const HDFSASP0: TrSpec = {
  trId: 'HDFSASP0',
  title: 'overseas level-1 quote',
  fields: [
    ...codes('RSYM', 'SYMB'),
    f('ZDIV', 'i32'),
    f('XYMD', 'code'),
    f('XHMS', 'str'),
    f('KYMD', 'code'),
    f('KHMS', 'str'),
    ...ints('BVOL', 'AVOL', 'BDVL', 'ADVL'),
    f('PBID1', 'dec', 'ZDIV'),
    f('PASK1', 'dec', 'ZDIV'),
    ...ints('VBID1', 'VASK1', 'DBID1', 'DASK1'),
  ],
  layouts: [17],
  kind: 'quote',
  encrypted: false,
  keyForm: 'overseas',
  venue: 'both',
  exchTs: ['KYMD', 'KHMS'],
  shift: {pairs: [['XYMD', 'XHMS'], ['KYMD', 'KHMS']], times: [], dates: []},
}

/** Every TR mdrec knows, in the canonical order of a recording's columns. */
export const TRS: readonly TrSpec[] = [
  H0STCNT0,
  H0STASP0,
  HDFSCNT0,
  HDFSASP0,
  notice('H0STCNI0', 'domestic order/fill notice (real account, encrypted)', DOMESTIC_NOTICE_FIELDS, [26], 'real'),
  notice('H0STCNI9', 'domestic order/fill notice (paper account, encrypted)', DOMESTIC_NOTICE_FIELDS, [26], 'paper'),
  notice('H0GSCNI0', 'overseas order/fill notice (real account, encrypted)', OVERSEAS_NOTICE_FIELDS, [24, 25], 'real'),
  notice('H0GSCNI9', 'overseas order/fill notice (paper account, encrypted)', OVERSEAS_NOTICE_FIELDS, [24, 25], 'paper'),
]

export const TR_BY_ID: ReadonlyMap<string, TrSpec> = new Map(TRS.map((t) => [t.trId, t]))
export const TR_IDS: readonly string[] = TRS.map((t) => t.trId)

const KIND_TO_COLUMN: Record<FieldKind, ColumnType> = {int: 'int64', dec: 'float64', i32: 'int32', code: 'dict_utf8', str: 'utf8'}

export function columnType(kind: FieldKind): ColumnType {
  return KIND_TO_COLUMN[kind]
}

/** Columns every KIS recording has before the TR fields. */
export const KIS_META_COLUMNS: readonly ColumnDef[] = [
  {name: 'tr_id', type: 'dict_utf8', description: 'the TR of the row (data frames, acks)'},
  {name: 'layout', type: 'int32', description: "fields per record: the TR's layout version (e.g. H0STASP0 59, 62 or 63)"},
  {name: 'frame_records', type: 'int32', description: "the frame's record count (its 3-digit count field); >1 when KIS bundled records"},
  {name: 'frame_record', type: 'int32', description: 'this record\'s 0-based position in its frame'},
  {name: 'encrypted', type: 'bool', description: "the frame's enc flag (1: AES-256-CBC, decrypted with the session's ack key/iv)"},
]

/**
 * The feed columns of a recording of `trIds`: the meta columns, then each
 * TR's fields in TR order, a field shared by several TRs (ASKP1 in H0STCNT0
 * and H0STASP0, the notices' common fields) once, at its first appearance.
 */
export function kisColumns(trIds: Iterable<string>): ColumnDef[] {
  const want = new Set(trIds)
  const out: ColumnDef[] = [...KIS_META_COLUMNS]
  const seen = new Map<string, ColumnType>(out.map((c) => [c.name, c.type]))
  for (const tr of TRS) {
    if (!want.has(tr.trId)) continue
    for (const fs of tr.fields) {
      const type = columnType(fs.kind)
      const had = seen.get(fs.name)
      if (had !== undefined) {
        // a programming error in the tables above, caught by the tests
        if (had !== type) throw new Error(`KIS layout conflict: ${fs.name} is ${had} in one TR and ${type} in ${tr.trId}`)
        continue
      }
      seen.set(fs.name, type)
      out.push({name: fs.name, type, description: `${tr.trId} field ${tr.fields.indexOf(fs) + 1}`})
    }
  }
  return out
}

/** The TRs a recording's columns can hold, from its metadata (`feed_options.types`), defaulting to all. */
export function trIdsOf(types: unknown): string[] {
  if (Array.isArray(types)) {
    const known = types.filter((t): t is string => typeof t === 'string' && TR_BY_ID.has(t))
    if (known.length > 0) return known
  }
  return [...TR_IDS]
}
