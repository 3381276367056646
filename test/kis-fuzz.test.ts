import {describe, expect, it} from 'vitest'

import {kisCodec, KisSession, layoutOf} from '../src/feeds/kis/adapter.js'
import {ackText, encodeRecordFields, encryptPayload, frameText, KIS_REJECT_CODES, pingpongText} from '../src/feeds/kis/codec.js'
import {TR_BY_ID, TR_IDS} from '../src/feeds/kis/layouts.js'
import {syntheticKisTape} from '../src/feeds/kis/synthetic.js'
import {ROW_KINDS, type ColumnType, type Frame, type RowView} from '../src/feeds/types.js'
import {mulberry32} from '../src/util/prng.js'

const KEY = {key: 'K'.repeat(16) + 'k'.repeat(16), iv: 'I'.repeat(8) + 'i'.repeat(8)}

const JS_TYPE: Partial<Record<ColumnType, string>> = {
  utf8: 'string',
  dict_utf8: 'string',
  binary: 'object',
  bool: 'boolean',
  int8: 'number',
  int32: 'number',
  int64: 'bigint',
  uint64: 'bigint',
  float32: 'number',
  float64: 'number',
}

describe('KIS decoder fuzz', () => {
  it('10,000 random and mutated frames: never throws; rows of the right types, honest exactness, or a typed rejection', () => {
    const rnd = mulberry32(20250612)
    const int = (n: number) => Math.floor(rnd() * n)
    const types = [...TR_IDS]
    // a corpus of valid traffic of every kind
    const corpus: string[] = []
    for (const f of syntheticKisTape({frames: 400, seed: 9, symbols: ['005930', '000660', 'DNASAAPL', 'DNYSKO'], types: ['H0STCNT0', 'H0STASP0', 'HDFSCNT0', 'HDFSASP0', 'H0STCNI0'], htsId: 'fuzzuser', noticeShare: 0.1})) {
      corpus.push(TR_BY_ID.get(f.trId)!.encrypted ? frameText('1', f.trId, f.records.length, encryptPayload(f.records.map((r) => r.join('^')).join('^'), KEY)) : f.text)
    }
    for (const layout of [59, 62]) for (const f of syntheticKisTape({frames: 20, seed: layout, types: ['H0STASP0'], aspLayout: layout})) corpus.push(f.text)
    for (const f of syntheticKisTape({frames: 20, seed: 47, types: ['H0STCNT0'], cntLayout: 47})) corpus.push(f.text)
    corpus.push(
      ackText({trId: 'H0STCNT0', trKey: '005930', encrypt: false, rtCd: '0', msgCd: 'OPSP0000', msg1: 'SUBSCRIBE SUCCESS', ...KEY}),
      ackText({trId: 'H0STASP0', trKey: '000660', encrypt: false, rtCd: '1', msgCd: 'OPSP0008', msg1: 'MAX SUBSCRIBE OVER', ...KEY}),
      pingpongText(Date.UTC(2025, 5, 12)),
    )
    const ALPHABET = '0123456789|^{}":,.-+ eE\\ABCDHSTNPQZ가나\u0000\uffff'
    const mutate = (s: string): string => {
      switch (int(12)) {
        case 0: {
          const i = int(s.length + 1)
          return s.slice(0, i) + ALPHABET[int(ALPHABET.length)] + s.slice(i + 1)
        }
        case 1:
          return s.slice(0, int(s.length + 1))
        case 2: {
          const i = int(s.length + 1)
          return s.slice(0, i) + ALPHABET[int(ALPHABET.length)] + s.slice(i)
        }
        case 3: {
          // drop or add a field
          const parts = s.split('^')
          if (rnd() < 0.5 && parts.length > 1) parts.splice(int(parts.length), 1)
          else parts.splice(int(parts.length + 1), 0, String(int(1e6)))
          return parts.join('^')
        }
        case 4:
          return s.replace(/\|\d{3}\|/, `|${String(int(1000)).padStart(int(5), '0')}|`)
        case 5:
          return s.replace(/\|H0[A-Z0-9]{6}\|/, `|${TR_IDS[int(TR_IDS.length)]}|`)
        case 6:
          return s.replace(/^\d/, String(int(4)))
        case 7: {
          // a long numeric field
          const parts = s.split('^')
          parts[int(parts.length)] = '9'.repeat(1 + int(400)) + (rnd() < 0.5 ? '.5' : '')
          return parts.join('^')
        }
        case 8:
          return s + s.slice(s.indexOf('|', s.indexOf('|', s.indexOf('|') + 1) + 1) + 1)
        case 9:
          return s.replace(/"(rt_cd|tr_id|output|header)"/, `"${ALPHABET[int(10)]}"`)
        case 10: {
          const parts = s.split('^')
          parts[int(parts.length)] = ['', '-', '-0', '00', '1.', '.5', '+1', 'NaN', '1e9', '20250230', '246060'][int(11)]
          return parts.join('^')
        }
        default:
          return s.replace(/[A-Za-z0-9+/]{4}(?=={0,2}$)/, 'AAAA')
      }
    }
    const randomBytes = (): Uint8Array => Uint8Array.from({length: int(300)}, () => int(256))
    const randomText = (): string => Array.from({length: int(200)}, () => ALPHABET[int(ALPHABET.length)]).join('')

    let rowsOk = 0
    let exactChecked = 0
    const codes = new Map<string, number>()
    for (let n = 0; n < 10_000; n++) {
      const session = new KisSession(new Set(types))
      // most frames arrive after the notice ack
      if (rnd() < 0.9) session.learn('H0STCNI0', KEY)
      const codec = kisCodec(types, session)
      const r = rnd()
      let frame: Frame
      if (r < 0.1) frame = {data: randomBytes(), binary: true}
      else if (r < 0.2) frame = {data: randomText(), binary: false}
      else {
        let s = corpus[int(corpus.length)]
        const k = r < 0.3 ? 0 : 1 + int(3)
        for (let j = 0; j < k; j++) s = mutate(s)
        frame = {data: s, binary: rnd() < 0.05}
      }
      let d
      try {
        d = codec.decode(frame)
      } catch (error) {
        throw new Error(`decode threw on frame ${n}: ${String(frame.data).slice(0, 120)}: ${String(error)}`)
      }
      if (!d.ok) {
        expect(KIS_REJECT_CODES).toContain(d.code)
        expect(d.code).not.toBe('DECODE_ERROR')
        expect(d.message.length).toBeGreaterThan(0)
        codes.set(d.code, (codes.get(d.code) ?? 0) + 1)
        continue
      }
      rowsOk++
      expect(d.rows.length).toBeGreaterThan(0)
      const cols = new Map(codec.columns.map((c) => [c.name, c.type]))
      for (const row of d.rows) {
        expect(ROW_KINDS).toContain(row.kind)
        expect(typeof row.symbol).toBe('string')
        expect(row.exch_ts === null || typeof row.exch_ts === 'bigint').toBe(true)
        for (const [name, v] of Object.entries(row.fields ?? {})) {
          expect(cols.has(name), name).toBe(true)
          if (v !== null && v !== undefined) expect(typeof v, name).toBe(JS_TYPE[cols.get(name)!])
        }
      }
      // exactness is honest: what the decoder calls exact re-encodes to the frame's bytes
      if (d.rows[0].exact && typeof frame.data === 'string') {
        const first = d.rows[0]
        if (first.kind === 'status' && first.info !== null) {
          expect(first.info).toBe(frame.data)
        } else {
          const tr = TR_BY_ID.get(String(first.fields!.tr_id))!
          const strs: string[] = []
          for (const row of d.rows) encodeRecordFields(tr, layoutOf(tr, row.fields!), row.fields!, strs)
          expect(frameText('0', tr.trId, d.rows.length, strs.join('^'))).toBe(frame.data)
          if (d.rows.length === 1) {
            const view: RowView = {recv_ts: 0n, seq: 0n, raw: null, ...first, fields: first.fields!}
            expect(codec.encode(view).data).toBe(frame.data)
          }
        }
        exactChecked++
      }
    }
    // the run covered both outcomes and many kinds of rejection
    expect(rowsOk).toBeGreaterThan(2000)
    expect(exactChecked).toBeGreaterThan(500)
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(2000)
    expect(codes.size).toBeGreaterThanOrEqual(8)
  })
})
