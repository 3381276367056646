/**
 * Every per-client and per-request structure of the four emulators is
 * bounded, and a client that hits a bound gets the feed's own error:
 * Yahoo symbols (close 1008), generic channels (subscription_result
 * success:false), Upbit (type, code) pairs and code length (INVALID_PARAM),
 * KIS registrations (OPSP0008), approvals (oldest forgotten: OPSP0011) and
 * app key length (403 EGW00103), and replies piled up for a client that
 * sends requests but never reads (slow-client policy).
 */
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {GENERIC_MAX_CHANNELS, GenericServer} from '../src/feeds/generic/server.js'
import {KIS_MAX_REGISTRATIONS} from '../src/feeds/kis/adapter.js'
import {requestText} from '../src/feeds/kis/codec.js'
import {postApproval} from '../src/feeds/kis/probe.js'
import {KIS_MAX_APPKEY_LENGTH, KisServer} from '../src/feeds/kis/server.js'
import {UPBIT_MAX_PAIRS, UpbitServer} from '../src/feeds/upbit/server.js'
import {YAHOO_MAX_SYMBOLS, YahooServer} from '../src/feeds/yahoo/server.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

interface Conn {
  ws: WebSocket
  messages: string[]
  closed: Promise<{code: number; reason: string}>
  next(pred: (m: string) => boolean, ms?: number): Promise<string>
}

async function connect(url: string): Promise<Conn> {
  const ws = new WebSocket(url, {perMessageDeflate: false})
  cleanups.push(() => ws.terminate())
  const messages: string[] = []
  let wake: (() => void) | null = null
  ws.on('message', (d) => {
    messages.push(String(d))
    wake?.()
  })
  ws.on('error', () => {})
  const closed = new Promise<{code: number; reason: string}>((resolve) => ws.once('close', (code, r) => resolve({code, reason: String(r)})))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  let seen = 0
  const next = async (pred: (m: string) => boolean, ms = 5000): Promise<string> => {
    const end = Date.now() + ms
    for (;;) {
      while (seen < messages.length) {
        const m = messages[seen++]
        if (pred(m)) return m
      }
      const left = end - Date.now()
      if (left <= 0) throw new Error(`timed out; got ${messages.length} messages, last ${messages.at(-1)?.slice(0, 200)}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
  }
  return {ws, messages, closed, next}
}

describe('yahoo', () => {
  it(`a client subscribing past ${YAHOO_MAX_SYMBOLS} symbols (500 messages of 2,000 asked for) is closed with 1008`, async () => {
    const s = await YahooServer.listen({maxPayload: 1024 * 1024})
    cleanups.push(() => s.close(1000, 'end'))
    const c = await connect(s.url())
    for (let m = 0; m < 500 && c.ws.readyState === WebSocket.OPEN; m++) {
      c.ws.send(JSON.stringify({subscribe: Array.from({length: 2000}, (_, k) => `S${m}-${k}`)}))
    }
    expect(await c.closed).toEqual({code: 1008, reason: `more than ${YAHOO_MAX_SYMBOLS} symbols subscribed`})
    for (const cl of s.clients) expect(cl.symbols.size).toBeLessThanOrEqual(YAHOO_MAX_SYMBOLS)
  })

  it('a symbol longer than 64 characters closes with 1008', async () => {
    const s = await YahooServer.listen()
    cleanups.push(() => s.close(1000, 'end'))
    const c = await connect(s.url())
    c.ws.send(JSON.stringify({subscribe: ['x'.repeat(60_000)]}))
    expect((await c.closed).code).toBe(1008)
  })
})

describe('generic', () => {
  it(`channel ${GENERIC_MAX_CHANNELS + 1} is refused with success:false; a 60 KB name too, not echoed whole`, async () => {
    const s = await GenericServer.listen()
    cleanups.push(() => s.close(1000, 'end'))
    const c = await connect(s.url())
    for (let k = 0; k <= GENERIC_MAX_CHANNELS; k++) c.ws.send(JSON.stringify({type: 'subscribe', channel: `ch${k}`}))
    const last = JSON.parse(await c.next((m) => m.includes(`"ch${GENERIC_MAX_CHANNELS}"`)))
    expect(last).toEqual({type: 'subscription_result', channel: `ch${GENERIC_MAX_CHANNELS}`, success: false, message: `too many channels (limit ${GENERIC_MAX_CHANNELS})`})
    expect([...s.clients][0].channels.size).toBe(GENERIC_MAX_CHANNELS)
    // re-subscribing one it has is still fine
    c.ws.send(JSON.stringify({type: 'subscribe', channel: 'ch0'}))
    expect(JSON.parse(await c.next((m) => m.includes('"ch0"'))).success).toBe(true)
    c.ws.send(JSON.stringify({type: 'subscribe', channel: 'y'.repeat(60_000)}))
    const long = await c.next((m) => m.includes('too long'))
    expect(long.length).toBeLessThan(1000)
    expect(JSON.parse(long).success).toBe(false)
  })
})

describe('upbit', () => {
  it(`a request for more than ${UPBIT_MAX_PAIRS} pairs gets INVALID_PARAM and the previous set stays`, async () => {
    const s = await UpbitServer.listen({maxPayload: 1024 * 1024})
    cleanups.push(() => s.close(1000, 'end'))
    const c = await connect(s.url())
    c.ws.send(JSON.stringify([{ticket: 't'}, {type: 'ticker', codes: ['KRW-BTC']}]))
    await new Promise((r) => setTimeout(r, 50))
    const codes = Array.from({length: UPBIT_MAX_PAIRS + 1}, (_, k) => `KRW-C${k}`)
    c.ws.send(JSON.stringify([{ticket: 't'}, {type: 'ticker', codes}]))
    const err = JSON.parse(await c.next((m) => m.includes('"error"')))
    expect(err.error.name).toBe('INVALID_PARAM')
    expect(err.error.message).toContain(`at most ${UPBIT_MAX_PAIRS}`)
    expect([...s.clients][0].list().map((x) => x.code)).toEqual(['KRW-BTC'])
  })

  it('a 60 KB code gets INVALID_PARAM with a short echo', async () => {
    const s = await UpbitServer.listen()
    cleanups.push(() => s.close(1000, 'end'))
    const c = await connect(s.url())
    c.ws.send(JSON.stringify([{ticket: 't'}, {type: 'ticker', codes: ['K'.repeat(60_000)]}]))
    const err = await c.next((m) => m.includes('"error"'))
    expect(err.length).toBeLessThan(1000)
    expect(JSON.parse(err).error.name).toBe('INVALID_PARAM')
  })

  it('error replies to a client that never reads are bounded by the slow-client policy (closed with 1013)', async () => {
    const s = await UpbitServer.listen({maxBufferedBytes: 64 * 1024})
    cleanups.push(() => s.close(1000, 'end'))
    const c = await connect(s.url())
    ;(c.ws as unknown as {_socket: {pause(): void}})._socket.pause()
    let slow = 0
    s.on('slow', () => slow++)
    // LIST_SUBSCRIPTIONS of 3,000 codes: a 30-byte request, a ~40 KB reply
    c.ws.send(JSON.stringify([{ticket: 't'}, {type: 'ticker', codes: Array.from({length: 3000}, (_, k) => `KRW-C${k}`)}]))
    const end = Date.now() + 20_000
    for (let k = 0; k < 2000 && slow === 0 && Date.now() < end; k++) {
      c.ws.send('{"method":"LIST_SUBSCRIPTIONS"}')
      if (k % 50 === 49) await new Promise((r) => setTimeout(r, 5))
    }
    expect(slow).toBe(1)
  }, 30_000)
})

describe('kis', () => {
  it(`registration ${KIS_MAX_REGISTRATIONS + 1} of a session is refused with OPSP0008`, async () => {
    const s = await KisServer.listen({pingIntervalMs: 0})
    cleanups.push(() => s.close(1000, 'end'))
    const c = await connect(s.url())
    for (let k = 0; k <= KIS_MAX_REGISTRATIONS; k++) c.ws.send(requestText('approval', '1', 'H0STCNT0', String(100000 + k)))
    const ack = await c.next((m) => m.includes(String(100000 + KIS_MAX_REGISTRATIONS)))
    expect(JSON.parse(ack).body.msg_cd).toBe('OPSP0008')
    expect([...s.clients][0].registrations.size).toBe(KIS_MAX_REGISTRATIONS)
  })

  it('approval keys are bounded: the oldest is forgotten (OPSP0011 with strictApproval), long app keys get 403', async () => {
    const s = await KisServer.listen({pingIntervalMs: 0, strictApproval: true, maxApprovals: 20})
    cleanups.push(() => s.close(1000, 'end'))
    const base = `http://127.0.0.1:${s.port}`
    const keys: string[] = []
    for (let k = 0; k < 30; k++) {
      const {status, json} = await postApproval(base, {grant_type: 'client_credentials', appkey: `app-${k}`, secretkey: 'secret'})
      expect(status).toBe(200)
      keys.push(json.approval_key)
    }
    expect(s.approvals.size).toBe(20)
    const c = await connect(s.url())
    c.ws.send(requestText(keys[0], '1', 'H0STCNT0', '005930'))
    expect(JSON.parse(await c.next((m) => m.includes('005930'))).body.msg_cd).toBe('OPSP0011')
    c.ws.send(requestText(keys[29], '1', 'H0STCNT0', '000660'))
    expect(JSON.parse(await c.next((m) => m.includes('000660'))).body.msg_cd).toBe('OPSP0000')

    const long = await postApproval(base, {grant_type: 'client_credentials', appkey: 'k'.repeat(60_000), secretkey: 'secret'})
    expect(long.status).toBe(403)
    expect(long.json.error_code).toBe('EGW00103')
    expect(JSON.stringify(long.json).length).toBeLessThan(KIS_MAX_APPKEY_LENGTH * 10)
    expect(s.approvals.size).toBe(20)
  })
})
