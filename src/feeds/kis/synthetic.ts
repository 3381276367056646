/**
 * Seeded, deterministic generator of realistic KIS real-time traffic, for
 * fixtures, tests and benchmarks: frames as the KIS server sends them.
 *
 * KRX (H0STCNT0 trades, H0STASP0 10-level books) for codes such as 005930
 * (Samsung Electronics) and 000660 (SK hynix):
 * - every symbol has a previous close, the previous day's volume and its
 *   listed shares; its book lives on the KRX price grid (호가단위: 1, 5, 10,
 *   50, 100, 500, 1000 won by price band) with 10 levels a side;
 * - a trade takes the best ask (buyer-initiated, CCLD_DVSN 1) or the best bid
 *   (5) for a log-normal size that shrinks with the price; it eats the top
 *   level, which moves the book when emptied; the book also drifts a tick
 *   now and then;
 * - every H0STCNT0 field is derived as KIS derives it: change and rate vs the
 *   previous close (sign codes 2/3/5), running open/high/low with their
 *   times, cumulative volume and value (ACML_TR_PBMN), VWAP
 *   (WGHN_AVRG_STCK_PRC), buy/sell counts and volumes, CTTR (buy vol / sell
 *   vol × 100), turnover (VOL_TNRT), rates with 2 decimals;
 * - some trade frames bundle 2–4 trades of one symbol (count > 1), as KIS
 *   does when trades come in bursts;
 * - H0STASP0 carries the book, totals and their changes, and the mid price
 *   fields (layout 59, 62 or 63 fields);
 * - Zipf-like symbol activity and bursty exponential inter-arrival times.
 * Overseas keys (DNASAAPL…) get HDFSCNT0/HDFSASP0 in the same way (ZDIV 4).
 * With a notice TR and `htsId`, occasional fills of the account
 * (H0STCNI0/H0STCNI9: fixed-width zero-padded fields, Korean names).
 *
 * Times: STCK_CNTG_HOUR/BSOP_HOUR are the receive time in KST less a few ms
 * of latency; the default start is 2025-06-12 09:00:01 KST.
 */
import {mulberry32, zipfPicker} from '../../util/prng.js'
import {formatHms, formatYmd, frameText} from './codec.js'
import {TR_BY_ID} from './layouts.js'

export interface KisSyntheticOptions {
  /** PRNG seed; default 1. */
  seed?: number
  /** KRX codes and/or overseas keys (activity rank = order), or how many of the built-in KRX codes; default 10. */
  symbols?: number | string[]
  /** TRs to generate; default ['H0STCNT0', 'H0STASP0']. Overseas keys use HDFSCNT0/HDFSASP0 when listed. */
  types?: string[]
  frames: number
  /** Mean inter-arrival time in ms; default 20. */
  meanGapMs?: number
  /** Receive time of the first frame; default 2025-06-12 09:00:01 KST. */
  startNs?: bigint
  /** H0STCNT0 layout: 46 (default) or 47 fields. */
  cntLayout?: number
  /** H0STASP0 layout: 59, 62 or 63 (default) fields. */
  aspLayout?: number
  /** Share of trade frames that bundle 2–4 trades; default 0.15. */
  bundleShare?: number
  /** Share of market frames that are trades when books are generated too; default 0.45. */
  tradeShare?: number
  /** HTS ID whose notices are generated (with a notice TR in `types`). */
  htsId?: string
  /** Share of frames that are notices; default 0.02. */
  noticeShare?: number
}

export interface KisTapeFrame {
  recv_ts: bigint
  trId: string
  /** The registration key it goes to (stock code, overseas key, or HTS ID). */
  key: string
  /** Each record's fields as sent (plaintext for encrypted TRs). */
  records: string[][]
  /** The frame; for encrypted TRs with the plaintext payload (`1|TR|NNN|…`), which a server encrypts per session. */
  text: string
}

/** 2025-06-12T09:00:01+09:00 (a Thursday, one second into the regular session) */
export const KIS_DEFAULT_START_NS = 1749686401000000000n

interface KrxInfo {
  code: string
  name: string
  prevClose: number
  prevVol: number
  shares: number
}

// code, name, previous close (KRW), previous day's volume, listed shares (approximate, mid-2025)
const KRX: readonly KrxInfo[] = (
  [
    ['005930', '삼성전자', 59_800, 14_500_000, 5_919_637_922],
    ['000660', 'SK하이닉스', 271_500, 3_100_000, 728_002_365],
    ['373220', 'LG에너지솔루션', 301_000, 210_000, 234_000_000],
    ['207940', '삼성바이오로직스', 1_033_000, 60_000, 71_174_000],
    ['005380', '현대차', 214_000, 700_000, 204_757_766],
    ['035420', 'NAVER', 231_000, 900_000, 158_437_008],
    ['000270', '기아', 99_000, 1_200_000, 393_000_000],
    ['068270', '셀트리온', 168_000, 650_000, 217_000_000],
    ['105560', 'KB금융', 105_000, 1_100_000, 382_000_000],
    ['005490', 'POSCO홀딩스', 280_000, 350_000, 84_571_230],
    ['035720', '카카오', 58_700, 3_500_000, 442_000_000],
    ['055550', '신한지주', 60_000, 1_400_000, 509_000_000],
    ['012330', '현대모비스', 265_000, 180_000, 92_000_000],
    ['051910', 'LG화학', 230_000, 300_000, 70_592_343],
    ['006400', '삼성SDI', 190_000, 500_000, 68_764_530],
    ['028260', '삼성물산', 155_000, 300_000, 170_000_000],
    ['066570', 'LG전자', 75_000, 600_000, 163_647_814],
    ['003550', 'LG', 70_000, 200_000, 157_000_000],
    ['096770', 'SK이노베이션', 110_000, 400_000, 100_000_000],
    ['034730', 'SK', 150_000, 100_000, 72_000_000],
  ] as const
).map(([code, name, prevClose, prevVol, shares]) => ({code, name, prevClose, prevVol, shares}))

// key, previous close (USD)
const OVERSEAS: ReadonlyArray<readonly [string, number]> = [
  ['DNASAAPL', 201.45],
  ['DNASNVDA', 141.97],
  ['DNASTSLA', 319.11],
  ['DNASMSFT', 474.96],
  ['DNASAMZN', 212.1],
  ['DNYSKO', 71.2],
]

/** The built-in KRX codes, most active first. */
export const KIS_SYNTHETIC_CODES: readonly string[] = KRX.map((k) => k.code)

/** KRX tick size (호가단위, unified KOSPI/KOSDAQ grid since 2023) at price `p`. */
export function krxTick(p: number): number {
  if (p < 2_000) return 1
  if (p < 5_000) return 5
  if (p < 20_000) return 10
  if (p < 50_000) return 50
  if (p < 200_000) return 100
  if (p < 500_000) return 500
  return 1_000
}

const up = (p: number) => p + krxTick(p)
const down = (p: number) => p - krxTick(p - 1)

function hashCode(s: string): number {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

const KST_S = 9 * 3600

function kstParts(ns: bigint): {ymd: string; hms: string} {
  const s = Number(ns / 1_000_000_000n) + KST_S
  const days = Math.floor(s / 86_400)
  return {ymd: formatYmd(days), hms: formatHms(s - days * 86_400)}
}

function sign(diff: number): string {
  return diff > 0 ? '2' : diff < 0 ? '5' : '3'
}

function pct(x: number): string {
  return (Number.isFinite(x) ? x : 0).toFixed(2)
}

// ---------------------------------------------------------------------------
// KRX

class KrxSymbol {
  bid: number
  ask: number
  asks: number[] = []
  bids: number[] = []
  open = 0
  high = 0
  low = 0
  openHour = ''
  highHour = ''
  lowHour = ''
  vol = 0
  pbmn = 0
  selnCsnu = 0
  shnuCsnu = 0
  selnSmtn = 0
  shnuSmtn = 0
  lastAskTotal = 0
  lastBidTotal = 0
  constructor(
    readonly info: KrxInfo,
    private readonly rnd: () => number,
  ) {
    let p = info.prevClose
    const steps = Math.floor(rnd() * 7) - 3
    for (let k = 0; k < Math.abs(steps); k++) p = steps > 0 ? up(p) : down(p)
    this.bid = p
    this.ask = up(p)
    for (let k = 0; k < 10; k++) {
      this.asks.push(this.levelSize())
      this.bids.push(this.levelSize())
    }
  }

  /** Typical resting size: more shares for cheaper stocks. */
  levelSize(): number {
    const base = 4e8 / this.info.prevClose
    return Math.max(1, Math.round(base * Math.exp((this.rnd() - 0.5) * 2)))
  }

  tradeSize(): number {
    const base = 2e6 / this.info.prevClose
    // log-normal-ish: exp of a sum of uniforms
    const z = (this.rnd() + this.rnd() + this.rnd() - 1.5) * 2.2
    return Math.max(1, Math.round(base * Math.exp(z)))
  }

  /** The book moved a tick toward `near`'s side: a new front level on `near` (its last dropped), `far`'s front level gone (a new one at its back). */
  private shiftBook(near: number[], far: number[]): void {
    near.unshift(this.levelSize())
    near.pop()
    far.shift()
    far.push(this.levelSize())
  }

  drift(): void {
    const r = this.rnd()
    if (r < 0.04) {
      this.bid = up(this.bid)
      this.ask = up(this.ask)
      this.shiftBook(this.bids, this.asks)
    } else if (r < 0.08) {
      this.bid = down(this.bid)
      this.ask = down(this.ask)
      this.shiftBook(this.asks, this.bids)
    }
    // resting sizes change a little on a few levels
    for (let k = 0; k < 3; k++) {
      const side = this.rnd() < 0.5 ? this.asks : this.bids
      const lv = Math.floor(this.rnd() * 10)
      side[lv] = Math.max(1, Math.round(side[lv] * (0.7 + this.rnd() * 0.6)))
    }
  }

  /** One trade at `hms`: its H0STCNT0 record. */
  trade(hms: string, ymd: string, layout: number): string[] {
    const buy = this.rnd() < 0.5
    let size = this.tradeSize()
    const price = buy ? this.ask : this.bid
    const top = buy ? this.asks : this.bids
    size = Math.min(size, top[0])
    top[0] -= size
    if (top[0] <= 0) {
      // the level is gone: the book moves one tick
      if (buy) {
        this.asks.shift()
        this.asks.push(this.levelSize())
        this.ask = up(this.ask)
        this.bid = up(this.bid)
        this.bids.unshift(this.levelSize())
        this.bids.pop()
      } else {
        this.bids.shift()
        this.bids.push(this.levelSize())
        this.bid = down(this.bid)
        this.ask = down(this.ask)
        this.asks.unshift(this.levelSize())
        this.asks.pop()
      }
    }
    if (this.open === 0) {
      this.open = this.high = this.low = price
      this.openHour = this.highHour = this.lowHour = hms
    }
    if (price > this.high) {
      this.high = price
      this.highHour = hms
    }
    if (price < this.low) {
      this.low = price
      this.lowHour = hms
    }
    this.vol += size
    this.pbmn += price * size
    if (buy) {
      this.shnuCsnu++
      this.shnuSmtn += size
    } else {
      this.selnCsnu++
      this.selnSmtn += size
    }
    const i = this.info
    const diff = price - i.prevClose
    const prevSameTime = Math.round(this.vol * (0.8 + ((hashCode(i.code) % 40) / 100)))
    const rec = [
      i.code,
      hms,
      String(price),
      sign(diff),
      String(diff),
      pct((diff / i.prevClose) * 100),
      (this.pbmn / this.vol).toFixed(2),
      String(this.open),
      String(this.high),
      String(this.low),
      String(this.ask),
      String(this.bid),
      String(size),
      String(this.vol),
      String(this.pbmn),
      String(this.selnCsnu),
      String(this.shnuCsnu),
      String(this.shnuCsnu - this.selnCsnu),
      pct(this.selnSmtn > 0 ? (this.shnuSmtn / this.selnSmtn) * 100 : 0),
      String(this.selnSmtn),
      String(this.shnuSmtn),
      buy ? '1' : '5',
      pct((this.shnuSmtn / this.vol) * 100),
      pct((this.vol / i.prevVol) * 100),
      this.openHour,
      sign(price - this.open),
      String(price - this.open),
      this.highHour,
      sign(price - this.high),
      String(price - this.high),
      this.lowHour,
      sign(price - this.low),
      String(price - this.low),
      ymd,
      '20',
      'N',
      String(this.asks[0]),
      String(this.bids[0]),
      String(sum(this.asks)),
      String(sum(this.bids)),
      pct((this.vol / i.shares) * 100),
      String(prevSameTime),
      pct((this.vol / Math.max(1, prevSameTime)) * 100),
      '0',
      '',
      String(i.prevClose),
    ]
    if (layout >= 47) rec.push('1')
    return rec
  }

  /** The book at `hms`: its H0STASP0 record. */
  book(hms: string, layout: number): string[] {
    const askP: number[] = [this.ask]
    const bidP: number[] = [this.bid]
    for (let k = 1; k < 10; k++) {
      askP.push(up(askP[k - 1]))
      bidP.push(down(bidP[k - 1]))
    }
    const askTotal = sum(this.asks)
    const bidTotal = sum(this.bids)
    const rec = [
      this.info.code,
      hms,
      '0',
      ...askP.map(String),
      ...bidP.map(String),
      ...this.asks.map(String),
      ...this.bids.map(String),
      String(askTotal),
      String(bidTotal),
      '0',
      '0',
      '0',
      '0',
      '0',
      '0',
      '3',
      '0.00',
      String(this.vol),
      String(this.lastAskTotal === 0 ? 0 : askTotal - this.lastAskTotal),
      String(this.lastBidTotal === 0 ? 0 : bidTotal - this.lastBidTotal),
      '0',
      '0',
      '0',
    ]
    this.lastAskTotal = askTotal
    this.lastBidTotal = bidTotal
    if (layout >= 62) {
      const mid = (this.ask + this.bid) / 2
      rec.push(String(mid), this.rnd() < 0.2 ? String(Math.round(this.levelSize() / 10)) : '0', this.rnd() < 0.2 ? '1' : '0')
    }
    if (layout >= 63) rec.push('1')
    return rec
  }
}

function sum(a: number[]): number {
  let s = 0
  for (const x of a) s += x
  return s
}

function krxInfo(code: string): KrxInfo {
  const known = KRX.find((k) => k.code === code)
  if (known) return known
  const h = hashCode(code)
  const prevClose = krxRound(5_000 + (h % 200_000))
  return {code, name: `종목${code}`, prevClose, prevVol: 100_000 + (h % 2_000_000), shares: 50_000_000 + (h % 500_000_000)}
}

function krxRound(p: number): number {
  const t = krxTick(p)
  return Math.round(p / t) * t
}

// ---------------------------------------------------------------------------
// Overseas (ZDIV 4: prices with 4 decimals, in whole cents)

class OverseasSymbol {
  bid: number // cents
  ask: number
  bidSize: number
  askSize: number
  open = 0
  high = 0
  low = 0
  tvol = 0
  tamt = 0
  bivl = 0
  asvl = 0
  lastBidTot = 0
  lastAskTot = 0
  lastBidSize = 0
  lastAskSize = 0
  readonly prev: number
  constructor(
    readonly key: string,
    prevClose: number,
    private readonly rnd: () => number,
  ) {
    this.prev = Math.round(prevClose * 100)
    this.bid = this.prev + Math.floor(rnd() * 21) - 10
    this.ask = this.bid + 1
    this.bidSize = 1 + Math.floor(rnd() * 300)
    this.askSize = 1 + Math.floor(rnd() * 300)
  }
  private px(c: number): string {
    return (c / 100).toFixed(4)
  }
  private times(ns: bigint): string[] {
    const k = kstParts(ns)
    // US Eastern: KST − 13 h in summer (EDT), − 14 h in winter
    const month = Number(k.ymd.slice(4, 6))
    const off = (month >= 4 && month <= 10 ? 13 : 14) * 3600
    const s = Number(ns / 1_000_000_000n) + KST_S - off
    const days = Math.floor(s / 86_400)
    const x = {ymd: formatYmd(days), hms: formatHms(s - days * 86_400)}
    return [x.ymd, x.ymd, x.hms, k.ymd, k.hms]
  }
  drift(): void {
    const r = this.rnd()
    if (r < 0.1) {
      this.bid++
      this.ask++
    } else if (r < 0.2) {
      this.bid--
      this.ask--
    }
    this.bidSize = Math.max(1, this.bidSize + Math.floor(this.rnd() * 41) - 20)
    this.askSize = Math.max(1, this.askSize + Math.floor(this.rnd() * 41) - 20)
  }
  trade(ns: bigint): string[] {
    const buy = this.rnd() < 0.5
    const price = buy ? this.ask : this.bid
    const size = 1 + Math.floor(this.rnd() ** 3 * 400)
    if (this.open === 0) this.open = this.high = this.low = price
    this.high = Math.max(this.high, price)
    this.low = Math.min(this.low, price)
    this.tvol += size
    this.tamt += Math.round((price * size) / 100)
    if (buy) this.bivl += size
    else this.asvl += size
    const [tymd, xymd, xhms, kymd, khms] = this.times(ns)
    const diff = price - this.prev
    return [
      this.key,
      this.key.slice(4),
      '4',
      tymd,
      xymd,
      xhms,
      kymd,
      khms,
      this.px(this.open),
      this.px(this.high),
      this.px(this.low),
      this.px(price),
      sign(diff),
      this.px(diff),
      pct((diff / this.prev) * 100),
      this.px(this.bid),
      this.px(this.ask),
      String(this.bidSize),
      String(this.askSize),
      String(size),
      String(this.tvol),
      String(this.tamt),
      String(this.bivl),
      String(this.asvl),
      pct(this.asvl > 0 ? (this.bivl / this.asvl) * 100 : 0),
      '1',
    ]
  }
  quote(ns: bigint): string[] {
    const [, xymd, xhms, kymd, khms] = this.times(ns)
    const rec = [
      this.key,
      this.key.slice(4),
      '4',
      xymd,
      xhms,
      kymd,
      khms,
      String(this.bidSize),
      String(this.askSize),
      String(this.lastBidTot === 0 ? 0 : this.bidSize - this.lastBidTot),
      String(this.lastAskTot === 0 ? 0 : this.askSize - this.lastAskTot),
      this.px(this.bid),
      this.px(this.ask),
      String(this.bidSize),
      String(this.askSize),
      String(this.lastBidSize === 0 ? 0 : this.bidSize - this.lastBidSize),
      String(this.lastAskSize === 0 ? 0 : this.askSize - this.lastAskSize),
    ]
    this.lastBidTot = this.lastBidSize = this.bidSize
    this.lastAskTot = this.lastAskSize = this.askSize
    return rec
  }
}

// ---------------------------------------------------------------------------
// Notices

function noticeRecord(trId: string, htsId: string, order: number, fill: boolean, s: KrxSymbol, qty: number, hms: string, rnd: () => number): string[] {
  const z = (v: number, w: number) => String(v).padStart(w, '0')
  const buy = rnd() < 0.5
  const price = buy ? s.ask : s.bid
  if (trId.startsWith('H0GS')) {
    // overseas notice layout (25 fields); the synthetic account trades KRX-listed names only, so it is rarely used
    return [htsId, '5012345601', z(order, 10), z(0, 10), buy ? '02' : '01', '0', '00', s.info.code, z(fill ? qty : 0, 10), z(fill ? price : 0, 9), hms, '0', fill ? '2' : '1', '1', '06010', z(qty, 10), '홍길동', s.info.name, '0', '', '', '', '', '', z(fill ? price : 0, 12)]
  }
  return [
    htsId,
    '5012345601',
    z(order, 10),
    z(0, 10),
    buy ? '02' : '01',
    '0',
    '00',
    '0',
    s.info.code,
    z(fill ? qty : 0, 10),
    z(fill ? price : 0, 9),
    hms,
    '0',
    fill ? '2' : '1',
    '1',
    '06010',
    z(qty, 10),
    '홍길동',
    z(0, 9),
    '1',
    'N',
    '',
    '10',
    '',
    s.info.name,
    z(price, 9),
  ]
}

// ---------------------------------------------------------------------------

/** The market symbols of a tape (KRX codes and overseas keys), most active first. */
export function kisSyntheticSymbols(symbols: number | string[] = 10): string[] {
  if (Array.isArray(symbols)) return [...symbols]
  return KRX.slice(0, Math.max(1, Math.min(KRX.length, symbols))).map((k) => k.code)
}

export function* syntheticKisTape(o: KisSyntheticOptions): Generator<KisTapeFrame> {
  const rnd = mulberry32(o.seed ?? 1)
  const types = new Set(o.types ?? ['H0STCNT0', 'H0STASP0'])
  const cntLayout = o.cntLayout ?? 46
  const aspLayout = o.aspLayout ?? 63
  const meanGapNs = (o.meanGapMs ?? 20) * 1e6
  const bundleShare = o.bundleShare ?? 0.15
  const tradeShare = o.tradeShare ?? 0.45
  const noticeTr = [...types].find((t) => TR_BY_ID.get(t)?.keyForm === 'hts_id')
  const noticeShare = noticeTr && o.htsId ? (o.noticeShare ?? 0.02) : 0
  const names = kisSyntheticSymbols(o.symbols)
  const krx = new Map<string, KrxSymbol>()
  const overseas = new Map<string, OverseasSymbol>()
  for (const s of names) {
    if (s.startsWith('D') || s.startsWith('R')) {
      const known = OVERSEAS.find(([k]) => k === s)
      overseas.set(s, new OverseasSymbol(s, known ? known[1] : 20 + (hashCode(s) % 400), rnd))
    } else krx.set(s, new KrxSymbol(krxInfo(s), rnd))
  }
  const market = names.filter((s) => (krx.has(s) ? types.has('H0STCNT0') || types.has('H0STASP0') : types.has('HDFSCNT0') || types.has('HDFSASP0')))
  if (market.length === 0 && noticeShare === 0) return
  // Zipf-like activity by rank
  const pick = zipfPicker(market, 1.1, rnd)
  let t = o.startNs ?? KIS_DEFAULT_START_NS
  let order = 1000
  for (let n = 0; n < o.frames; n++) {
    // bursty: 80 % short gaps (0.4 × mean), 20 % long (3.4 × mean)
    const m = rnd() < 0.8 ? 0.4 : 3.4
    t += BigInt(Math.max(1000, Math.round(-Math.log(1 - rnd()) * meanGapNs * m)))
    const exch = kstParts(t - 3_000_000n)
    if (noticeShare > 0 && (market.length === 0 || rnd() < noticeShare) && krx.size > 0) {
      const s = [...krx.values()][Math.floor(rnd() * krx.size)]
      const qty = 1 + Math.floor(rnd() * 20)
      const rec = noticeRecord(noticeTr!, o.htsId!, order++, rnd() < 0.7, s, qty, exch.hms, rnd)
      yield {recv_ts: t, trId: noticeTr!, key: o.htsId!, records: [rec], text: frameText('1', noticeTr!, 1, rec.join('^'))}
      continue
    }
    if (market.length === 0) continue
    const sym = pick()
    const k = krx.get(sym)
    if (k) {
      k.drift()
      const trade = types.has('H0STCNT0') && (!types.has('H0STASP0') || rnd() < tradeShare)
      if (trade) {
        const count = rnd() < bundleShare ? 2 + Math.floor(rnd() * 3) : 1
        const records: string[][] = []
        for (let r = 0; r < count; r++) records.push(k.trade(exch.hms, exch.ymd, cntLayout))
        yield {recv_ts: t, trId: 'H0STCNT0', key: sym, records, text: frameText('0', 'H0STCNT0', count, records.map((x) => x.join('^')).join('^'))}
      } else {
        const rec = k.book(exch.hms, aspLayout)
        yield {recv_ts: t, trId: 'H0STASP0', key: sym, records: [rec], text: frameText('0', 'H0STASP0', 1, rec.join('^'))}
      }
      continue
    }
    const ov = overseas.get(sym)!
    ov.drift()
    const trade = types.has('HDFSCNT0') && (!types.has('HDFSASP0') || rnd() < tradeShare)
    const trId = trade ? 'HDFSCNT0' : 'HDFSASP0'
    const rec = trade ? ov.trade(t - 3_000_000n) : ov.quote(t - 3_000_000n)
    yield {recv_ts: t, trId, key: sym, records: [rec], text: frameText('0', trId, 1, rec.join('^'))}
  }
}
