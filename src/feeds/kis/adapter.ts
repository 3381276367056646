/**
 * The KIS feed for `mdrec record`: registrations planned and checked against
 * the 41-per-session limit before anything is sent, the approval key fetched
 * from the REST host, subscribe messages, PINGPONG answers, acks (learning the
 * notice key/iv, surfacing refusals), and the codec.
 *
 * Secrets: KIS_APP_KEY / KIS_APP_SECRET come from the environment and go only
 * into the approval request's body; the approval key goes only into the
 * subscribe messages. None of the three is put in the endpoint, the
 * metadata, a log line or an error message (masked by exact substring,
 * whatever its length, where a server echoes it back), and a server message
 * that contains one of them is not recorded (see {@link SecretGuard}).
 */
import {MdrecError} from '../../errors.js'
import type {ClientOptions, ClientSetup, FeedAdapter} from '../contract.js'
import type {FeedCodec, Frame, FrameDecode, RowView} from '../types.js'
import {
  decodeKisFrame,
  encodeRecordFields,
  frameText,
  parseControl,
  requestText,
  type CipherKey,
  type DecodeContext,
} from './codec.js'
import {TR_BY_ID, TR_IDS, TRS, kisColumns, trIdsOf, type TrSpec} from './layouts.js'
import {Redactor, connectUrl, parseFeedUrl, sanitizeEndpoint} from '../../util/redact.js'
import {oneLine, postJson} from './http.js'
import {KIS_REST_RATE, fetchAccessToken, tieredColumns} from './rest.js'
import {KisTiering, orderByPriority, readPriorityFile, type TieringOptions} from './tiering.js'

export const KIS_REAL_WS = 'ws://ops.koreainvestment.com:21000'
export const KIS_PAPER_WS = 'ws://ops.koreainvestment.com:31000'
export const KIS_REAL_REST = 'https://openapi.koreainvestment.com:9443'
export const KIS_PAPER_REST = 'https://openapivts.koreainvestment.com:29443'
export const KIS_WS_HOST = 'ops.koreainvestment.com'
export const KIS_URL_ENV = 'MDREC_KIS_URL'
export const KIS_REST_URL_ENV = 'MDREC_KIS_REST_URL'
export const KIS_APP_KEY_ENV = 'KIS_APP_KEY'
export const KIS_APP_SECRET_ENV = 'KIS_APP_SECRET'
export const KIS_APPROVAL_PATH = '/oauth2/Approval'
/** Real-time registrations per session (trades, quotes and notices together). */
export const KIS_MAX_REGISTRATIONS = 41

const TD = new TextDecoder('utf-8')

// ---------------------------------------------------------------------------
// Codec

/** State one recording's control handler and codec share: the key/iv acks hand out for encrypted TRs. */
export class KisSession implements DecodeContext {
  private readonly keys = new Map<string, CipherKey>()
  private latest: CipherKey | undefined
  constructor(readonly allowed: ReadonlySet<string>) {}

  /** The key/iv of `trId`'s ack, else the latest any ack gave (KIS hands out one pair per session). */
  keyFor(trId: string): CipherKey | undefined {
    return this.keys.get(trId) ?? this.latest
  }

  learn(trId: string, key: CipherKey): void {
    this.keys.set(trId, key)
    this.latest = key
  }
}

export type KisCodec = FeedCodec & {readonly trIds: readonly string[]; readonly session: KisSession}

/** The codec of a recording of `trIds`. Decoding encrypted notices needs the session its acks taught. */
export function kisCodec(trIds: Iterable<string>, session?: KisSession): KisCodec {
  const want = new Set(trIds)
  const ids = TR_IDS.filter((t) => want.has(t))
  const s = session ?? new KisSession(new Set(ids))
  return {
    feed: 'kis',
    trIds: ids,
    session: s,
    exchTsUnit: 's',
    columns: kisColumns(ids),
    decode(frame: Frame): FrameDecode {
      return decodeKisFrame(frame, s)
    },
    /**
     * The frame a row came from: the received bytes when kept, a status row's
     * message (its `info`), else the record re-encoded alone (count 001). An
     * encrypted row comes back as its plaintext frame (`1|TR|001|…`): the
     * recording holds no session key, an emulator encrypts it for its client.
     */
    encode(row: RowView): Frame {
      const enc = row.fields.encrypted === true
      if (row.raw && !enc) return {data: TD.decode(row.raw), binary: false}
      if (row.kind === 'status' && row.info !== null) return {data: row.info, binary: false}
      return {data: rowFrame(row.fields), binary: false}
    },
  }
}

/** One row alone as a data frame (`1|…` with a plaintext payload for encrypted TRs). */
export function rowFrame(fields: Record<string, unknown>): string {
  const tr = TR_BY_ID.get(String(fields.tr_id))
  if (!tr) return ''
  const n = layoutOf(tr, fields)
  const strs: string[] = []
  encodeRecordFields(tr, n, fields, strs)
  return frameText(fields.encrypted === true ? '1' : '0', tr.trId, 1, strs.join('^'))
}

export function layoutOf(tr: TrSpec, fields: Record<string, unknown>): number {
  const n = fields.layout
  return typeof n === 'number' && tr.layouts.includes(n) ? n : tr.layouts[tr.layouts.length - 1]
}

// ---------------------------------------------------------------------------
// Planning registrations

export interface Registration {
  trId: string
  trKey: string
}

type KeyForm = TrSpec['keyForm']

const KRX_CODE = /^(?:[0-9][0-9A-Z]{5}|Q[0-9]{6})$/
/** Exchange codes of overseas tr_keys (`D`/`R` + exchange + symbol). */
export const OVERSEAS_EXCHANGES = ['NAS', 'NYS', 'AMS', 'BAQ', 'BAY', 'BAA', 'HKS', 'TSE', 'SHS', 'SZS', 'SHI', 'SZI', 'HSX', 'HNX'] as const
const OVERSEAS_KEY = /^[DR]([A-Z]{3})[A-Za-z0-9.\-/]+$/
const HTS_ID = /^[A-Za-z0-9_.@-]{1,32}$/

function formOf(symbol: string): KeyForm | null {
  if (KRX_CODE.test(symbol)) return 'krx'
  const m = OVERSEAS_KEY.exec(symbol)
  if (m && (OVERSEAS_EXCHANGES as readonly string[]).includes(m[1])) return 'overseas'
  if (HTS_ID.test(symbol)) return 'hts_id'
  return null
}

const FORM_TEXT: Record<KeyForm, string> = {
  krx: 'a KRX code (6 digits, e.g. 005930)',
  overseas: 'an overseas key (D + exchange + symbol, e.g. DNASAAPL)',
  hts_id: 'an HTS ID (the tr_key of order/fill notices)',
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten']

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function trList(): string {
  return TRS.map((t) => `${t.trId} (${t.title})`).join(', ')
}

/**
 * Pair every symbol with the types its form takes (KRX codes with the
 * domestic TRs, overseas keys with the overseas ones, HTS IDs with the
 * notices), check everything, and enforce the 41-registration limit.
 */
export function planRegistrations(
  symbols: string[],
  types: string[] | undefined,
  paper: boolean,
  opts: {tiering?: boolean} = {},
): {registrations: Registration[]; types: string[]} {
  const syms = [...new Set(symbols.map((s) => s.trim()).filter(Boolean))]
  if (syms.length === 0) throw new MdrecError('E_USAGE', 'no symbols given: name at least one, e.g. `mdrec record 005930 --feed kis`')
  const forms = new Map<string, KeyForm>()
  for (const s of syms) {
    const form = formOf(s)
    if (!form) throw new MdrecError('E_USAGE', `invalid kis symbol "${s}": use ${FORM_TEXT.krx}, ${FORM_TEXT.overseas}, or ${FORM_TEXT.hts_id}`)
    forms.set(s, form)
  }
  let trs: TrSpec[]
  if (types && types.length > 0) {
    trs = []
    for (const t of new Set(types)) {
      const tr = TR_BY_ID.get(t)
      if (!tr) throw new MdrecError('E_USAGE', `unknown kis type "${t}": use TR ids, comma-separated, among ${trList()}`)
      if (tr.venue === 'real' && paper) throw new MdrecError('E_USAGE', `${t} is the real-account notice TR; with --paper use ${t.slice(0, -1)}9`)
      if (tr.venue === 'paper' && !paper) throw new MdrecError('E_USAGE', `${t} is the paper-account notice TR: add --paper, or use ${t.slice(0, -1)}0 for a real account`)
      trs.push(tr)
    }
  } else {
    trs = []
    const present = new Set(forms.values())
    if (present.has('krx')) trs.push(TR_BY_ID.get('H0STCNT0')!)
    if (present.has('overseas')) trs.push(TR_BY_ID.get('HDFSCNT0')!)
    if (present.has('hts_id')) {
      const s = syms.find((x) => forms.get(x) === 'hts_id')!
      throw new MdrecError(
        'E_USAGE',
        `"${s}" is not ${FORM_TEXT.krx} or ${FORM_TEXT.overseas}; to record the order/fill notices of HTS ID ${s} pass --types ${paper ? 'H0STCNI9' : 'H0STCNI0'}`,
      )
    }
  }
  const regs: Registration[] = []
  let maxPer = 0
  for (const s of syms) {
    const mine = trs.filter((t) => t.keyForm === forms.get(s))
    if (mine.length === 0) {
      throw new MdrecError(
        'E_USAGE',
        `symbol "${s}" is ${FORM_TEXT[forms.get(s)!]} but none of --types ${trs.map((t) => t.trId).join(',')} takes one (${TRS.filter((t) => t.keyForm === forms.get(s)).map((t) => t.trId).join(', ')} do)`,
      )
    }
    maxPer = Math.max(maxPer, mine.length)
    for (const t of mine) regs.push({trId: t.trId, trKey: s})
  }
  for (const t of trs) {
    if (!regs.some((r) => r.trId === t.trId)) {
      throw new MdrecError('E_USAGE', `--types ${t.trId} takes ${FORM_TEXT[t.keyForm]}, and no symbol given is one`)
    }
  }
  if (opts.tiering) {
    const other = syms.find((x) => forms.get(x) !== 'krx')
    if (other !== undefined) throw new MdrecError('E_USAGE', `--tiering polls the domestic current price: every symbol must be ${FORM_TEXT.krx}, and "${other}" is not`)
    const bad = trs.find((t) => t.keyForm !== 'krx')
    if (bad) throw new MdrecError('E_USAGE', `--tiering records KRX codes: --types ${bad.trId} takes ${FORM_TEXT[bad.keyForm]}; use H0STCNT0 and/or H0STASP0`)
  } else if (regs.length > KIS_MAX_REGISTRATIONS) {
    const uniform = regs.length === syms.length * trs.length
    const what = uniform
      ? `${plural(syms.length, 'symbol')} × ${plural(trs.length, 'type')} = ${regs.length} registrations`
      : `${regs.length} registrations (${plural(syms.length, 'symbol')}, each with the types its form takes)`
    const per = Math.floor(KIS_MAX_REGISTRATIONS / maxPer)
    const parts = Math.ceil(syms.length / per)
    throw new MdrecError(
      'E_USAGE',
      `${what}; KIS allows ${KIS_MAX_REGISTRATIONS} per session: split into ${NUMBER_WORDS[parts] ?? parts} recordings of at most ${plural(per, 'symbol')} (each with its own app key: KIS allows one session per app key), or add --tiering to register the first ${plural(per, 'symbol')} and poll the rest over REST`,
    )
  }
  return {registrations: regs, types: trs.map((t) => t.trId)}
}

// ---------------------------------------------------------------------------
// URLs

function parseUrl(url: string, what: string, schemes: string[], example: string): URL {
  return parseFeedUrl(url, what, schemes, example)
}

/**
 * The WebSocket URL and the REST base the approval key comes from:
 * MDREC_KIS_REST_URL if set; the official REST host (real or paper) for the
 * official WebSocket host; otherwise the WebSocket's own host:port over
 * http(s) — an emulator (`mdrec replay`) serves /oauth2/Approval on its port.
 */
export function resolveKisUrls(given: string | undefined, env: NodeJS.ProcessEnv, paperFlag: boolean): {wsUrl: string; restBase: string; paper: boolean} {
  const fromEnv = env[KIS_URL_ENV]
  const wsUrl = given ?? (fromEnv ? fromEnv : paperFlag ? KIS_PAPER_WS : KIS_REAL_WS)
  const u = parseUrl(wsUrl, given !== undefined ? '--url' : fromEnv ? KIS_URL_ENV : 'URL', ['ws:', 'wss:'], 'ws://127.0.0.1:8765')
  let paper = paperFlag
  let restBase: string
  if (u.hostname === KIS_WS_HOST) {
    if (paperFlag && u.port === '21000') {
      throw new MdrecError('E_USAGE', `--paper conflicts with ${sanitizeEndpoint(wsUrl)} (port 21000 is the real-trading server; the paper one is ${KIS_PAPER_WS})`)
    }
    if (u.port === '31000') paper = true
    restBase = paper ? KIS_PAPER_REST : KIS_REAL_REST
  } else {
    restBase = `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`
  }
  const restEnv = env[KIS_REST_URL_ENV]
  if (restEnv) {
    parseUrl(restEnv, KIS_REST_URL_ENV, ['http:', 'https:'], KIS_REAL_REST)
    restBase = restEnv
  }
  return {wsUrl, restBase: restBase.replace(/\/+$/, ''), paper}
}

// ---------------------------------------------------------------------------
// Approval key

/**
 * The KIS credentials (app key, app secret, approval key) and the URLs'
 * secrets, masked in text that came from elsewhere (server answers, fetch
 * errors) before it is shown, whatever their length; a frame holding one is
 * not recorded. The rule (exact substring, no minimum length in messages;
 * in frames 8+ characters anywhere, shorter ones as a whole JSON string) is
 * {@link Redactor}'s.
 */
export class SecretGuard extends Redactor {
  constructor(values: Array<string | undefined> = []) {
    super(values)
  }
  /** Whether a frame's text holds a credential (see {@link Redactor.heldIn}). */
  contains(text: string): boolean {
    return this.heldIn(text)
  }
}


/**
 * `POST {restBase}/oauth2/Approval` with the app key and secret; returns the
 * approval key. Errors name the URL and the HTTP status and what KIS said,
 * with every credential value replaced by `***`.
 */
export async function fetchApprovalKey(
  restBase: string,
  appKey: string,
  appSecret: string,
  opts: {timeoutMs?: number; guard?: SecretGuard} = {},
): Promise<string> {
  const url = `${restBase}${KIS_APPROVAL_PATH}`
  const timeoutMs = opts.timeoutMs ?? 15_000
  const guard = opts.guard ?? new SecretGuard([appKey, appSecret])
  guard.addUrl(url)
  // the URL as messages show it (MDREC_KIS_REST_URL may carry user info)
  const shown = sanitizeEndpoint(url)
  const {res, text} = await postJson(url, shown, 'approval', {grant_type: 'client_credentials', appkey: appKey, secretkey: appSecret}, (t) => guard.redact(t), timeoutMs)
  let json: Record<string, unknown> | null = null
  try {
    const v = JSON.parse(text) as unknown
    if (v && typeof v === 'object') json = v as Record<string, unknown>
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    const said = json
      ? ['error_code', 'error_description', 'msg_cd', 'msg1', 'message', 'error'].map((k) => (typeof json![k] === 'string' ? `${k} ${json![k] as string}` : null)).filter(Boolean).join(', ')
      : text
    // redact before clipping: a clipped credential would leave its prefix behind
    const detail = said ? `: ${oneLine(guard.redact(said))}` : ''
    throw new MdrecError(
      'E_FEED',
      `KIS refused the approval key request (HTTP ${res.status} from ${shown})${detail}; check ${KIS_APP_KEY_ENV} and ${KIS_APP_SECRET_ENV} (paper-trading keys need --paper)`,
    )
  }
  const key = json?.approval_key
  if (typeof key !== 'string' || key === '') {
    throw new MdrecError('E_FEED', `the KIS approval endpoint ${shown} answered HTTP ${res.status} without an approval_key; is ${sanitizeEndpoint(restBase)} a KIS REST host?`)
  }
  return key
}

// ---------------------------------------------------------------------------
// Control handling

/**
 * The supervisor's `control` for KIS: PINGPONG is answered with its echo and
 * not recorded; acks teach the session their key/iv and are recorded as
 * status rows (refusals also logged); a message that contains a credential is
 * dropped with a log line instead of being recorded.
 */
export function kisControl(
  session: KisSession,
  guard: SecretGuard,
  log?: (line: string) => void,
  onAck?: (trId: string, trKey: string, ok: boolean, text: string) => void,
): (frame: Frame) => string | boolean {
  return (frame) => {
    const text = typeof frame.data === 'string' ? frame.data : TD.decode(frame.data)
    if (guard.contains(text)) {
      log?.(`kis: a ${text.charCodeAt(0) === 123 ? 'control message' : 'frame'} from the server contained a credential value; not recorded`)
      return true
    }
    if (frame.binary || text.charCodeAt(0) !== 123) return false
    const m = parseControl(text)
    if ('error' in m) return false
    if (m.trId === 'PINGPONG') return text
    if (m.key) session.learn(m.trId, m.key)
    if (m.rtCd !== null) onAck?.(m.trId, m.trKey ?? '', m.rtCd === '0', `${m.msgCd ?? ''} ${m.msg1 ?? ''}`)
    if (m.rtCd !== null && m.rtCd !== '0') {
      // redact before clipping: a clipped credential would leave its prefix behind
      log?.(`kis refused ${guard.redact(m.trId)}${m.trKey ? ` ${guard.redact(m.trKey)}` : ''}: ${oneLine(guard.redact(`${m.msgCd ?? '?'} ${m.msg1 ?? ''}`), 120)}`)
    }
    return false
  }
}

// ---------------------------------------------------------------------------
// The adapter

/** The usage error for --format given to the kis feed. */
export const KIS_NO_FORMAT = 'the kis feed takes no --format (KIS has one wire format); use --types to pick TRs'

/**
 * What `mdrec record --feed kis` passes: its options as declared in
 * index.ts (`poll-interval` and `rebalance-every` in ms, `priority` a file
 * path: a file of codes, one per line); --format is other feeds'.
 */
export interface KisClientOptions extends ClientOptions {
  types?: string[]
  paper?: boolean
  tiering?: boolean
  'poll-interval'?: number
  'rebalance-every'?: number
  priority?: string
  format?: string
}

/** --tiering with its --poll-interval (default 1 s), --rebalance-every (default 60 s) and --priority file; undefined without --tiering. */
function tieringOf(opts: KisClientOptions): TieringOptions | undefined {
  if (!opts.tiering) return undefined
  return {pollIntervalMs: opts['poll-interval'] ?? 1000, rebalanceMs: opts['rebalance-every'] ?? 60_000, priority: opts.priority === undefined ? undefined : readPriorityFile(opts.priority)}
}

export async function kisClient(opts: KisClientOptions): Promise<ClientSetup> {
  if (opts.format !== undefined) throw new MdrecError('E_USAGE', KIS_NO_FORMAT)
  const tiering = tieringOf(opts)
  const {wsUrl, restBase, paper} = resolveKisUrls(opts.url, opts.env, opts.paper ?? false)
  const plan = planRegistrations(opts.symbols, opts.types, paper, {tiering: tiering !== undefined})
  const appKey = opts.env[KIS_APP_KEY_ENV]
  const appSecret = opts.env[KIS_APP_SECRET_ENV]
  const missing = [[KIS_APP_KEY_ENV, appKey], [KIS_APP_SECRET_ENV, appSecret]].filter(([, v]) => !v).map(([k]) => k)
  if (missing.length > 0) {
    throw new MdrecError(
      'E_USAGE',
      `the kis feed needs ${missing.join(' and ')} in the environment (your KIS Open API app key and secret; mdrec exchanges them for an approval key and never stores them)`,
    )
  }
  const guard = new SecretGuard([appKey, appSecret])
  guard.addUrl(wsUrl)
  const approvalKey = await fetchApprovalKey(restBase, appKey!, appSecret!, {guard})
  guard.add(approvalKey)
  const approvalUrl = sanitizeEndpoint(`${restBase}${KIS_APPROVAL_PATH}`)
  opts.log?.(`kis: approval key obtained from ${approvalUrl}; ${plural(plan.registrations.length, 'registration')} to send`)
  const session = new KisSession(new Set(plan.types))
  const codec = kisCodec(plan.types, session)
  if (tiering) return tieredClient({opts, tiering, plan, paper, wsUrl, restBase, appKey: appKey!, appSecret: appSecret!, approvalKey, approvalUrl, guard, session, codec})
  const subscribe = plan.registrations.map((r) => requestText(approvalKey, '1', r.trId, r.trKey))
  return {
    codec,
    // no query parameter is kept: replay needs none
    endpoint: sanitizeEndpoint(wsUrl),
    redact: (text) => guard.redact(text),
    feedOptions: {types: plan.types, paper, registrations: plan.registrations.length, approval_url: approvalUrl},
    spec: {
      feed: 'kis',
      url: connectUrl(wsUrl),
      subscribeMessages: () => subscribe,
      control: kisControl(session, guard, opts.log),
    },
  }
}

/**
 * The client of a tiered recording (`--tiering`): the access token for the
 * REST current price, the {@link KisTiering} that polls and rebalances, its
 * registrations as the subscription, and a codec whose rows say `tier: ws`.
 */
async function tieredClient(a: {
  opts: ClientOptions
  tiering: TieringOptions
  plan: {registrations: Registration[]; types: string[]}
  paper: boolean
  wsUrl: string
  restBase: string
  appKey: string
  appSecret: string
  approvalKey: string
  approvalUrl: string
  guard: SecretGuard
  session: KisSession
  codec: KisCodec
}): Promise<ClientSetup> {
  const {opts, tiering, plan, guard} = a
  for (const [name, ms] of [['--poll-interval', tiering.pollIntervalMs], ['--rebalance-every', tiering.rebalanceMs]] as const) {
    if (!Number.isFinite(ms) || ms < 50) throw new MdrecError('E_USAGE', `${name} must be at least 50ms (got ${ms} ms)`)
  }
  const token = await fetchAccessToken(a.restBase, a.appKey, a.appSecret, (t) => guard.redact(t))
  guard.add(token)
  const codes = orderByPriority([...new Set(plan.registrations.map((r) => r.trKey))], tiering.priority)
  const capacity = Math.floor(KIS_MAX_REGISTRATIONS / plan.types.length)
  const rate = a.paper ? KIS_REST_RATE.paper : KIS_REST_RATE.real
  const tier = new KisTiering({
    codes,
    types: plan.types,
    capacity,
    approvalKey: a.approvalKey,
    restBase: a.restBase,
    appKey: a.appKey,
    appSecret: a.appSecret,
    accessToken: token,
    rate,
    pollIntervalMs: tiering.pollIntervalMs,
    rebalanceMs: tiering.rebalanceMs,
    redact: (t) => guard.redact(t),
    onToken: (t) => guard.add(t),
  })
  const base = a.codec
  const codec: KisCodec = {
    ...base,
    columns: tieredColumns(base.columns),
    decode(frame) {
      const d = base.decode(frame)
      if (d.ok) {
        for (const r of d.rows) {
          if (r.kind === 'status' || !r.fields) continue
          r.fields.tier = 'ws'
          tier.observe(r.symbol, r.fields)
        }
      }
      return d
    },
  }
  return {
    codec,
    endpoint: sanitizeEndpoint(a.wsUrl),
    redact: (text) => guard.redact(text),
    feedOptions: {
      types: plan.types,
      paper: a.paper,
      registrations: Math.min(codes.length, capacity) * plan.types.length,
      approval_url: a.approvalUrl,
      tiering: {codes: codes.length, ws_codes: Math.min(codes.length, capacity), poll_interval_ms: tiering.pollIntervalMs, rebalance_ms: tiering.rebalanceMs, rest_rate: rate},
    },
    side: tier,
    spec: {
      feed: 'kis',
      url: connectUrl(a.wsUrl),
      subscribeMessages: () => tier.subscribeMessages(),
      control: kisControl(a.session, guard, opts.log, (trId, trKey, ok, text) => tier.onAck(trId, trKey, ok, /UNSUB|ALREADY/.test(text) ? 'other' : 'register')),
    },
  }
}

export const KIS_DISPLAY_COLUMNS = ['tr_id', 'tier', 'STCK_PRPR', 'CNTG_VOL', 'ASKP1', 'BIDP1', 'ASKP_RSQN1', 'BIDP_RSQN1', 'LAST', 'EVOL', 'PBID1', 'PASK1', 'CNTG_QTY', 'CNTG_UNPR']

export const kisAdapter: FeedAdapter = {
  name: 'kis',
  defaultUrl: KIS_REAL_WS,
  urlEnv: KIS_URL_ENV,
  displayColumns: KIS_DISPLAY_COLUMNS,
  client: kisClient,
  codecFor(meta) {
    const c = kisCodec(trIdsOf(meta.feedOptions.types))
    return meta.feedOptions.tiering ? {...c, columns: tieredColumns(c.columns)} : c
  },
}
