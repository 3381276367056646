/**
 * What a replay says of itself: its start line names every option that
 * shapes what clients get, and a subscription to a symbol the recording does
 * not hold is logged (with close matches) instead of silently sending
 * nothing, for every feed.
 */
import {afterEach, describe, expect, it, onTestFinished} from 'vitest'

import {requestText} from '../src/feeds/kis/codec.js'
import {postApproval} from '../src/feeds/kis/probe.js'
import {replay, type ReplayHandle} from '../src/replay/engine.js'
import {SymbolNotes} from '../src/replay/summary.js'
import {WebSocket} from 'ws'

import {CASES, collect, fixture, until} from './replay-clients.js'

const open: ReplayHandle[] = []
afterEach(async () => {
  for (const h of open.splice(0)) await h.close()
})

/** Per feed: subscribe messages naming one symbol the recording holds, one misspelt (`near`) and one it lacks (`absent`). */
const MISSES: Record<string, {held: string; near: string; absent: string; messages: (h: ReplayHandle) => Promise<string[]>}> = {
  yahoo: {held: 'NVDA', near: 'nvda', absent: 'ZZZZ', messages: async () => [JSON.stringify({subscribe: ['NVDA', 'nvda', 'ZZZZ']})]},
  upbit: {held: 'KRW-BTC', near: 'KRW-ETC', absent: 'USDT-DOGE', messages: async () => [JSON.stringify([{ticket: 't'}, {type: 'trade', codes: ['KRW-BTC', 'KRW-ETC', 'USDT-DOGE']}])]},
  kis: {
    held: '005930',
    near: '005931',
    absent: '123456',
    messages: async (h) => {
      const {json} = await postApproval(`http://127.0.0.1:${h.port}`, {grant_type: 'client_credentials', appkey: 'notes-test-app-key-0001', secretkey: 'notes-test-secret-0000'})
      return ['005930', '005931', '123456'].map((k) => requestText(json.approval_key as string, '1', 'H0STCNT0', k))
    },
  },
  generic: {held: 'prices', near: 'price', absent: 'weather', messages: async () => ['prices', 'price', 'weather'].map((channel) => JSON.stringify({type: 'subscribe', channel}))},
  binance: {held: 'BTCUSDT', near: 'BTCUSD', absent: 'DOGEEUR', messages: async () => [JSON.stringify({method: 'SUBSCRIBE', params: ['btcusdt@trade', 'btcusd@trade', 'dogeeur@trade'], id: 1})]},
}

describe('replay notes a subscription the recording cannot serve', () => {
  for (const c of CASES) {
    it(`${c.feed}: names the absent and misspelt symbols, with a close match, and not the held one`, {timeout: 30_000}, async () => {
      const lines: string[] = []
      const h = await replay(c.file, {port: 0, speed: 'max', atEnd: 'close', settleMs: 20, log: (l) => lines.push(l)})
      open.push(h)
      const m = MISSES[c.feed]
      const got = await collect(h.url, await m.messages(h), 0, c.isData)
      expect(got.length, 'the held symbol is still served').toBeGreaterThan(0)
      const notes = lines.filter((l) => /not in this recording/.test(l))
      expect(notes.length, lines.join('\n')).toBeGreaterThan(0)
      const text = notes.join('\n')
      // Binance's stream names are lower case (dogeeur@trade): the note names the symbol, upper case, as recorded
      expect(text).toContain(m.absent)
      expect(text).toContain(`${m.near}: did you mean ${m.held}`)
      expect(text).toContain(c.feed === 'generic' ? '(channels match exactly;' : '(symbols match exactly;')
      expect(text).not.toMatch(new RegExp(`subscribed to [^:]*\\b${m.held}\\b,`))
    })
  }

  it('says nothing when every symbol is held', async () => {
    const lines: string[] = []
    const h = await replay(CASES[0].file, {port: 0, speed: 'max', atEnd: 'close', settleMs: 20, log: (l) => lines.push(l)})
    open.push(h)
    await collect(h.url, [JSON.stringify({subscribe: ['NVDA', 'MSFT']})], 0, () => true)
    expect(lines.filter((l) => /not in this recording/.test(l))).toEqual([])
  })

  it('lists the recording’s symbols when nothing is close, caps a long list, and quotes what is not plain text', () => {
    const n = new SymbolNotes(['AAPL', 'MSFT', 'NVDA'])
    expect(n.line(1, ['AAPL'])).toBeNull()
    expect(n.line(2, ['QQQQQQ'])).toBe('client 2 subscribed to QQQQQQ, not in this recording: no rows of it are sent (symbols match exactly; it has 3 symbols: AAPL, MSFT, NVDA)')
    const many = Array.from({length: 25}, (_, i) => `X${i}YZW`)
    expect(n.line(3, many)).toContain(', … (25 in all)')
    expect(n.line(4, ['bad\u001b[2Jname'])).toContain('"bad\\u001b[2Jname"')
    expect(new SymbolNotes([]).line(5, ['ANY']), 'a recording without its subscription list is not checked').toBeNull()
  })
})

describe('replay start line', () => {
  it('names the speed, clock, loop, range and settle window', async () => {
    const lines: string[] = []
    const h = await replay(fixture('yahoo-us-equities.arrow'), {port: 0, speed: 10, loop: true, from: '+5s', to: '+20s', settleMs: 50, log: (l) => lines.push(l)})
    open.push(h)
    const start = lines.find((l) => l.startsWith('replaying '))!
    expect(start).toMatch(/\(yahoo, speed 10x, clock connection, looping until stopped, rows received from \S+Z to \S+Z, settle 50ms\) on ws:\/\/127\.0\.0\.1:\d+/)
    const once = await replay(fixture('yahoo-us-equities.arrow'), {port: 0, loop: 2, log: (l) => lines.push(l)})
    open.push(once)
    expect(lines.at(-1)).toMatch(/\(yahoo, speed 1x, clock connection, 3 plays, settle 100ms\)/)
  })
})

describe('the end of a connection\'s timeline', () => {
  it('is logged with what it sent: the connection stays open (atEnd idle), or is closed (atEnd close)', {timeout: 30_000}, async () => {
    const lines: string[] = []
    const h = await replay(fixture('yahoo-us-equities.arrow'), {port: 0, speed: 'max', settleMs: 0, log: (l) => lines.push(l)})
    open.push(h)
    const ws = new WebSocket(h.url)
    onTestFinished(() => ws.terminate())
    let got = 0
    ws.on('message', () => got++)
    ws.on('open', () => ws.send(JSON.stringify({subscribe: ['NVDA']})))
    await until('the end of the timeline to be logged', () => lines.some((l) => /has played everything/.test(l)), 20_000)
    // timeline ids count up in this process, across replays
    expect(lines.join('\n')).toMatch(/^client 1: its timeline \d+ has played everything \(989 frames sent\); the connection stays open$/m)
    // the line comes once the frames are handed to the socket: the client may still be reading them
    await until('every frame to arrive', () => got >= 989, 10_000)
    expect(got).toBe(989)
    expect(ws.readyState).toBe(WebSocket.OPEN)
    const closing: string[] = []
    const c = await replay(fixture('yahoo-us-equities.arrow'), {port: 0, speed: 'max', settleMs: 0, atEnd: 'close', loop: 1, log: (l) => closing.push(l)})
    open.push(c)
    await collect(c.url, [JSON.stringify({subscribe: ['NVDA']})], 0, () => true)
    expect(closing.join('\n')).toMatch(/^client 1: its timeline \d+ has played everything \(1978 frames sent\); closing it \(1000\)$/m)
  })
})

/** Per feed: a request its emulator refuses (the feed's own error reply) or ignores, and the log line it gets. */
const BAD: Record<string, {messages: (h: ReplayHandle) => Promise<string[]>; line: RegExp}> = {
  yahoo: {messages: async () => ['{"subscribe":"AAPL"}'], line: /^client \d+: ignored a message with no "subscribe" or "unsubscribe" list/},
  upbit: {messages: async () => [JSON.stringify([{ticket: 't'}, {type: 'candle', codes: ['KRW-BTC']}])], line: /^client \d+: request refused: INVALID_PARAM: type candle is not supported\.$/},
  // KIS answers a message that is not JSON with its own error (OPSP8xxx), and the connection goes on
  kis: {messages: async () => ['{not json'], line: /^client \d+: request refused \(OPSP\d+\): .+$/},
  generic: {messages: async () => [JSON.stringify({type: 'subscribe'})], line: /^client \d+: request refused: .+/},
  binance: {messages: async () => [JSON.stringify({method: 'SUBSCRIBE', params: ['btcusdt@trade', 'ethusdt@bookticker'], id: 7})], line: /^client \d+: request refused \(error 2\): Invalid request: invalid stream name "ethusdt@bookticker"$/},
}

describe('a request the emulator refuses or ignores is logged, not only answered', () => {
  for (const c of CASES) {
    it(`${c.feed}: one line naming the client and why; at most 5 per client, then one saying the rest are not logged`, {timeout: 30_000}, async () => {
      const lines: string[] = []
      const h = await replay(c.file, {port: 0, speed: 'max', settleMs: 20, log: (l) => lines.push(l)})
      open.push(h)
      const bad = BAD[c.feed]
      const one = await bad.messages(h)
      const ws = new WebSocket(h.url)
      onTestFinished(() => ws.terminate())
      await new Promise((resolve, reject) => {
        ws.once('open', resolve)
        ws.once('error', reject)
      })
      ws.send(one[0])
      await until('the refusal to be logged', () => lines.some((l) => bad.line.test(l)), 10_000)
      for (let i = 0; i < 7 && ws.readyState === WebSocket.OPEN; i++) ws.send(one[0])
      await until('the cap line', () => lines.some((l) => /more requests refused or ignored; not logged$/.test(l)) || ws.readyState !== WebSocket.OPEN, 10_000)
      if (ws.readyState === WebSocket.OPEN) expect(lines.filter((l) => bad.line.test(l))).toHaveLength(5)
    })
  }

  it('generic --client-id-path: a second connection with an id in use is logged as refused', {timeout: 30_000}, async () => {
    const lines: string[] = []
    const h = await replay(fixture('generic-channels.arrow'), {port: 0, emulator: {clientIdPath: true}, log: (l) => lines.push(l)})
    open.push(h)
    const url = `ws://127.0.0.1:${h.port}/ws/abc`
    const a = new WebSocket(url)
    onTestFinished(() => a.terminate())
    await new Promise((resolve) => a.once('open', resolve))
    const b = new WebSocket(url)
    onTestFinished(() => b.terminate())
    const code = await new Promise((resolve) => b.once('close', resolve))
    expect(code).toBe(1008)
    expect(lines).toContain('refused a connection: client id "abc" is in use; closing with 1008')
  })

  it('cuts a long reason and escapes control characters', async () => {
    const {noteRefusal} = await import('../src/feeds/emulator.js')
    const lines: string[] = []
    const client = {id: 9}
    noteRefusal((l) => lines.push(l), client, `bad ${'x'.repeat(300)}`)
    noteRefusal((l) => lines.push(l), client, 'bad \u001b[2J name')
    expect(lines[0]).toBe(`client 9: bad ${'x'.repeat(196)}…`)
    expect(lines[1]).toBe('client 9: bad \\u001b[2J name')
  })
})
