/**
 * `mdrec record --feed kis --tiering`: more codes than KIS's 41 real-time
 * registrations. The first codes (given order, or `--priority FILE`) take
 * the WebSocket registrations; the rest are polled through the REST current
 * price (FHKST01010100) within KIS's per-second request limit; every
 * rebalance period the most active polled codes are promoted and the
 * quietest registered ones demoted (unregister, then register, on the same
 * connection, so the session never holds more than 41). Rows carry their
 * tier (`tier` column: ws | rest); promotions, demotions and rate-limit
 * refusals are status rows. See docs/feeds/kis.md, "Tiering".
 */
import {readFileSync} from 'node:fs'

import {MdrecError, fsError} from '../../errors.js'
import type {SideIO, SideSource} from '../contract.js'
import type {RowInput} from '../types.js'
import {requestText} from './codec.js'
import {KIS_PRICE_PATH, KIS_PRICE_TR, KIS_RATE_LIMIT_CODE, fetchAccessToken, parsePriceBody, priceFields} from './rest.js'

const TE = new TextEncoder()
/** Price requests in flight at once (they start paced; a slow answer does not hold the next one back). */
const MAX_IN_FLIGHT = 8
/** Pacing margin over 1000 / rate ms between request starts: timers never fire early, a server's clock may differ. */
const PACING_MARGIN = 1.05
const MAX_BACKOFF_MS = 10_000
/** A polled code is promoted only if its volume rate beats the registered one's by this factor (no churn on noise). */
const HYSTERESIS = 1.25
const REQUEST_TIMEOUT_MS = 10_000

/** `record --tiering`: how the codes are split between the WebSocket registrations and REST polling (docs/feeds/kis.md). */
export interface TieringOptions {
  /** How often each polled symbol is asked for, in ms (the feed's rate limit may make it slower). */
  pollIntervalMs: number
  /** How often the most active polled symbols are promoted and the quietest subscribed ones demoted, in ms. */
  rebalanceMs: number
  /** Symbols in priority order (the first take the subscriptions); default the order given. */
  priority?: string[]
}

export interface KisTieringConfig {
  /** Every code, in priority order (the first `capacity` start on the WebSocket). */
  codes: string[]
  /** The real-time TRs each registered code takes (one registration each). */
  types: string[]
  /** Codes the WebSocket holds: floor(41 / types.length). */
  capacity: number
  approvalKey: string
  restBase: string
  appKey: string
  appSecret: string
  accessToken: string
  /** REST requests per second (KIS: 20 real, 2 paper). */
  rate: number
  pollIntervalMs: number
  rebalanceMs: number
  /** Masks every credential in text quoted from a server or a library. */
  redact: (text: string) => string
  /** Called with a fresh access token (to be masked from then on). */
  onToken?: (token: string) => void
}

interface Activity {
  /** Last cumulative volume (ACML_VOL) seen, and when (ms, performance clock). */
  vol: bigint | null
  at: number
  /** The previous poll's (polled codes). */
  prevVol: bigint | null
  prevAt: number
  /** Registered codes: the volume when the current rebalance period began. */
  periodVol: bigint | null
}

/** Codes in priority order: those in `priority` first (its order), then the rest as given. */
export function orderByPriority(codes: string[], priority: string[] | undefined): string[] {
  if (!priority || priority.length === 0) return [...codes]
  const given = new Set(codes)
  const first = [...new Set(priority)].filter((c) => given.has(c))
  const ranked = new Set(first)
  return [...first, ...codes.filter((c) => !ranked.has(c))]
}

/**
 * A `--priority FILE`: one code per line, most important first; `#` starts a
 * comment, blank lines are skipped. A line that is not a KRX code is an
 * error naming the file and line.
 */
export function readPriorityFile(path: string): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw fsError(error, path, 'reading the --priority file')
  }
  const out: string[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    const code = line.replace(/#.*/, '').trim()
    if (code === '') return
    if (!/^(?:[0-9][0-9A-Z]{5}|Q[0-9]{6})$/.test(code)) {
      throw new MdrecError('E_USAGE', `${path}:${i + 1}: "${code.slice(0, 40)}" is not a KRX code (6 characters, e.g. 005930); the --priority file holds one code per line, most important first`)
    }
    out.push(code)
  })
  return out
}

/** A polled code's volume per second between its last two polls; null before two. */
function polledRate(a: Activity | undefined): number | null {
  if (!a || a.vol === null || a.prevVol === null || a.at <= a.prevAt) return null
  return Number(a.vol - a.prevVol) / ((a.at - a.prevAt) / 1000)
}

export class KisTiering implements SideSource {
  /** Codes on the WebSocket now. */
  readonly ws = new Set<string>()
  /** Codes polled over REST now, and when each is next due (ms, performance clock). */
  private readonly due = new Map<string, number>()
  private readonly act = new Map<string, Activity>()
  private io: SideIO | null = null
  private timer: NodeJS.Timeout | null = null
  private rebalancer: NodeJS.Timeout | null = null
  private stopped = false
  private inFlight = 0
  private readonly pending = new Set<Promise<void>>()
  private readonly abort = new AbortController()
  private pausedUntil = 0
  private nextStart = 0
  private backoffStep = 0
  private readonly spacingMs: number
  private readonly reported = new Set<string>()
  private token: string
  private tokenRefreshedAt = 0
  private periodStart = 0
  private rebalances = 0
  private readonly promotedAt = new Map<string, number>()
  /** Counts for the summary line and tests. */
  readonly counts = {polls: 0, rateLimited: 0, errors: 0, promotions: 0}

  constructor(private readonly c: KisTieringConfig) {
    this.token = c.accessToken
    this.spacingMs = (1000 / c.rate) * PACING_MARGIN
    c.codes.forEach((code, i) => {
      if (i < c.capacity) this.ws.add(code)
      else this.due.set(code, 0)
    })
  }

  /** The registrations to send on every (re)connect: the WebSocket tier's codes × types. */
  subscribeMessages(): string[] {
    const out: string[] = []
    for (const code of this.ws) for (const t of this.c.types) out.push(requestText(this.c.approvalKey, '1', t, code))
    return out
  }

  /** What the start line says: how the codes are split and how often a polled code is asked for. */
  describe(): string {
    const n = this.due.size
    const sweep = (n * this.spacingMs) / 1000
    const every = Math.max(this.c.pollIntervalMs / 1000, sweep)
    return (
      `kis tiering: ${this.ws.size} codes on the WebSocket (${this.ws.size * this.c.types.length} of 41 registrations), ${n} polled over REST` +
      (n > 0 ? ` at most ${this.c.rate} requests/s: each about every ${every.toFixed(1)} s` : '') +
      `; rebalancing every ${(this.c.rebalanceMs / 1000).toFixed(1)} s`
    )
  }

  /** A decoded WebSocket row (tier ws): its cumulative volume feeds the activity measure. */
  observe(symbol: string, fields: Record<string, unknown> | null): void {
    const v = fields?.ACML_VOL
    if (typeof v !== 'bigint') return
    this.see(symbol, v, false)
  }

  private see(code: string, vol: bigint, polled: boolean): void {
    const now = performance.now()
    let a = this.act.get(code)
    if (!a) {
      a = {vol: null, at: 0, prevVol: null, prevAt: 0, periodVol: null}
      this.act.set(code, a)
    }
    if (polled) {
      a.prevVol = a.vol
      a.prevAt = a.at
    }
    a.vol = vol
    a.at = now
    // first sight of a registered code mid-period: its baseline (the volume before is not known)
    if (a.periodVol === null) a.periodVol = vol
  }

  /** An ack the server sent: a refused registration of a promoted code sends it back to polling. */
  onAck(trId: string, trKey: string, ok: boolean, trType: 'register' | 'other'): void {
    if (ok || trType !== 'register' || !this.ws.has(trKey) || !this.c.types.includes(trId)) return
    this.ws.delete(trKey)
    this.due.set(trKey, 0)
    this.status(trKey, 'rest', {tiering: 'demote', code: trKey, from: 'ws', to: 'rest', reason: `registration of ${trId} refused`})
  }

  start(io: SideIO): void {
    this.io = io
    io.log(this.describe())
    this.periodStart = performance.now()
    this.schedule(0)
    if (this.due.size > 0 && this.ws.size > 0) {
      this.rebalancer = setInterval(() => this.rebalance(), this.c.rebalanceMs)
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.rebalancer) clearInterval(this.rebalancer)
    this.abort.abort()
    await Promise.allSettled([...this.pending])
  }

  // -------------------------------------------------------------------------
  // Polling

  private schedule(delayMs: number): void {
    if (this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.tick(), Math.max(0, delayMs))
  }

  private tick(): void {
    this.timer = null
    if (this.stopped || this.inFlight >= MAX_IN_FLIGHT) return
    const now = performance.now()
    const wait = Math.max(this.pausedUntil, this.nextStart) - now
    if (wait > 0) return this.schedule(wait)
    let code: string | null = null
    let min = Number.POSITIVE_INFINITY
    for (const [c, t] of this.due) {
      if (t < min) {
        min = t
        code = c
      }
    }
    if (code === null) return this.schedule(this.c.pollIntervalMs)
    if (min > now) return this.schedule(min - now)
    this.due.set(code, now + this.c.pollIntervalMs)
    this.nextStart = now + this.spacingMs
    this.inFlight++
    const p = this.poll(code).finally(() => {
      this.inFlight--
      this.pending.delete(p)
      if (!this.timer) this.schedule(this.nextStart - performance.now())
    })
    this.pending.add(p)
    this.schedule(this.spacingMs)
  }

  private async poll(code: string): Promise<void> {
    const url = `${this.c.restBase}${KIS_PRICE_PATH}?FID_COND_MRKT_DIV_CODE=J&FID_INPUT_ISCD=${code}`
    let status = 0
    let text = ''
    try {
      const res = await fetch(url, {
        headers: {
          'content-type': 'application/json; charset=utf-8',
          authorization: `Bearer ${this.token}`,
          appkey: this.c.appKey,
          appsecret: this.c.appSecret,
          tr_id: KIS_PRICE_TR,
          custtype: 'P',
        },
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      })
      status = res.status
      text = await res.text()
    } catch (error) {
      if (this.stopped) return
      const e = error as Error & {cause?: {code?: string}}
      const why = e?.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : (e?.cause?.code ?? e?.message ?? String(error))
      this.failure(code, {rest: 'error', code, error: this.c.redact(why).slice(0, 200)}, `cannot reach the KIS REST host: ${this.c.redact(why)}`)
      return
    }
    if (this.stopped) return
    const recv = this.io!.nowNs()
    const a = parsePriceBody(text)
    if (a?.msgCd === KIS_RATE_LIMIT_CODE) {
      this.backoffStep++
      this.counts.rateLimited++
      const delay = Math.round(Math.min(MAX_BACKOFF_MS, 250 * 2 ** (this.backoffStep - 1)) * (0.75 + Math.random() * 0.5))
      // the limit is per app key: every request waits, this code first
      this.pausedUntil = Math.max(this.pausedUntil, performance.now() + delay)
      if (this.due.has(code)) this.due.set(code, 0)
      this.status(code, null, {rest: 'rate_limited', code, http_status: status, msg_cd: a.msgCd, msg1: a.msg1, retry_in_ms: delay, attempt: this.backoffStep}, recv)
      return
    }
    if (a?.msgCd === 'EGW00123' && performance.now() - this.tokenRefreshedAt > 60_000) {
      // the access token expired (KIS's last a day): ask for a new one, then retry
      this.tokenRefreshedAt = performance.now()
      try {
        this.token = await fetchAccessToken(this.c.restBase, this.c.appKey, this.c.appSecret, this.c.redact)
        this.c.onToken?.(this.token)
        if (this.due.has(code)) this.due.set(code, 0)
        return
      } catch (error) {
        this.failure(code, {rest: 'error', code, error: (error as Error).message}, (error as Error).message)
        return
      }
    }
    if (!a || a.rtCd !== '0' || !a.output) {
      const said = a ? `${a.msgCd} ${a.msg1}`.trim() : `HTTP ${status}, not a JSON answer`
      this.failure(code, {rest: 'refused', code, http_status: status, msg_cd: a?.msgCd ?? null, msg1: a ? this.c.redact(a.msg1).slice(0, 200) : null}, `current price of ${code} refused: ${this.c.redact(said).slice(0, 200)}`)
      return
    }
    this.backoffStep = 0
    this.counts.polls++
    const fields = priceFields(a.output)
    const vol = fields.ACML_VOL
    if (typeof vol === 'bigint') this.see(code, vol, true)
    this.append({
      recv_ts: recv,
      exch_ts: null,
      symbol: code,
      kind: 'tick',
      // the whole answer: the columns keep only some of its fields
      raw: this.io!.raw === 'never' ? null : TE.encode(text),
      info: null,
      fields: {tr_id: KIS_PRICE_TR, tier: 'rest', ...fields},
    })
  }

  /** A failed poll: a status row and a log line the first time per code and reason; the code stays polled. */
  private failure(code: string, info: Record<string, unknown>, line: string): void {
    this.counts.errors++
    const key = `${code}|${String(info.msg_cd ?? info.error ?? info.http_status)}`
    if (this.reported.has(key)) return
    if (this.reported.size < 10_000) this.reported.add(key)
    this.status(code, null, info)
    const lineKey = `line|${String(info.msg_cd ?? info.error)}`
    if (!this.reported.has(lineKey)) {
      this.reported.add(lineKey)
      this.io?.log(`kis tiering: ${line} (further such failures are counted, not logged)`)
    }
  }

  // -------------------------------------------------------------------------
  // Rebalancing

  private rebalance(): void {
    if (this.stopped || !this.io) return
    const now = performance.now()
    const seconds = Math.max(0.001, (now - this.periodStart) / 1000)
    this.rebalances++
    const cands: Array<[string, number]> = []
    for (const code of this.due.keys()) {
      const r = polledRate(this.act.get(code))
      if (r !== null && r > 0) cands.push([code, r])
    }
    const victims: Array<[string, number]> = []
    for (const code of this.ws) {
      // a code promoted at the last rebalance has had no full period to show its activity
      if (this.promotedAt.get(code) === this.rebalances - 1) continue
      const a = this.act.get(code)
      victims.push([code, a && a.vol !== null && a.periodVol !== null ? Number(a.vol - a.periodVol) / seconds : 0])
    }
    cands.sort((x, y) => y[1] - x[1])
    victims.sort((x, y) => x[1] - y[1])
    const maxSwaps = Math.max(1, Math.floor(this.c.capacity / 8))
    const swaps: Array<[[string, number], [string, number]]> = []
    for (let i = 0; i < cands.length && i < victims.length && swaps.length < maxSwaps; i++) {
      if (cands[i][1] > victims[i][1] * HYSTERESIS) swaps.push([cands[i], victims[i]])
      else break
    }
    // unregister every demoted code first, then register the promoted ones:
    // the server takes them in order, so the session never holds more than 41
    const msgs: string[] = []
    for (const [, [out]] of swaps) for (const t of this.c.types) msgs.push(requestText(this.c.approvalKey, '2', t, out))
    for (const [[inn]] of swaps) for (const t of this.c.types) msgs.push(requestText(this.c.approvalKey, '1', t, inn))
    let sent = true
    for (const m of msgs) {
      if (!this.io.send(m)) {
        sent = false
        break
      }
    }
    if (sent && swaps.length > 0) {
      const round = (x: number) => Math.round(x * 100) / 100
      for (const [[inn, rIn], [out, rOut]] of swaps) {
        this.ws.delete(out)
        this.due.set(out, 0)
        const ao = this.act.get(out)
        if (ao) ao.prevVol = null
        this.due.delete(inn)
        this.ws.add(inn)
        this.promotedAt.set(inn, this.rebalances)
        this.counts.promotions++
        this.status(out, 'rest', {tiering: 'demote', code: out, from: 'ws', to: 'rest', volume_per_s: round(rOut), replaced_by: inn})
        this.status(inn, 'ws', {tiering: 'promote', code: inn, from: 'rest', to: 'ws', volume_per_s: round(rIn), replaces: out})
      }
      this.io.log(`kis tiering: promoted ${swaps.map(([[c]]) => c).join(' ')}, demoted ${swaps.map(([, [c]]) => c).join(' ')}`)
    }
    // the next period's baseline: each registered code's cumulative volume now
    // (a promoted code's comes from its last poll: the same counter)
    for (const code of this.ws) {
      const a = this.act.get(code)
      if (a) a.periodVol = a.vol
    }
    this.periodStart = now
  }

  private status(code: string, tier: 'ws' | 'rest' | null, info: Record<string, unknown>, recv?: bigint): void {
    this.append({recv_ts: recv ?? this.io!.nowNs(), exch_ts: null, symbol: code, kind: 'status', raw: null, info: JSON.stringify(info), fields: {tier}})
  }

  private append(row: RowInput): void {
    if (!this.stopped) this.io?.append(row)
  }
}
