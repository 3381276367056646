import {afterEach, describe, expect, it} from 'vitest'

import {decryptPayload, kstDatetime, requestText} from '../src/feeds/kis/codec.js'
import {KisProbe, postApproval} from '../src/feeds/kis/probe.js'
import {KisServer, type KisServerOptions} from '../src/feeds/kis/server.js'

const APP_KEY = 'PSserverTESTappkey0123456789abcdefghij'
const APP_SECRET = 'serverTESTsecret/abcdefghijklmnopqrstuvwxyz0123456789+ABCDEFGHIJKLMNOPQRSTUVWXYZ='
const GRANT = {grant_type: 'client_credentials', appkey: APP_KEY, secretkey: APP_SECRET}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function server(o: KisServerOptions = {}): Promise<KisServer> {
  const s = await KisServer.listen({pingIntervalMs: 0, ...o})
  cleanups.push(() => s.close())
  return s
}

async function probe(url: string): Promise<KisProbe> {
  const p = await KisProbe.connect(url)
  cleanups.push(() => p.close())
  return p
}

async function approval(s: KisServer): Promise<string> {
  const r = await postApproval(s.restUrl, GRANT)
  expect(r.status).toBe(200)
  return r.json.approval_key
}

/** Every ack carries output.iv (16) and output.key (32) — a common client drops the subscription otherwise. */
function expectAck(a: Record<string, any>, trId: string, trKey: string, rtCd: string, msgCd: string, msg1: string | RegExp) {
  expect(Object.keys(a)).toEqual(['header', 'body'])
  expect(a.header).toEqual({tr_id: trId, tr_key: trKey, encrypt: a.header.encrypt})
  expect(Object.keys(a.body)).toEqual(['rt_cd', 'msg_cd', 'msg1', 'output'])
  expect(a.body.rt_cd).toBe(rtCd)
  expect(a.body.msg_cd).toBe(msgCd)
  if (typeof msg1 === 'string') expect(a.body.msg1).toBe(msg1)
  else expect(a.body.msg1).toMatch(msg1)
  expect(a.body.output.iv).toMatch(/^[A-Za-z0-9]{16}$/)
  expect(a.body.output.key).toMatch(/^[A-Za-z0-9]{32}$/)
}

describe('KIS emulator: /oauth2/Approval on the WebSocket port', () => {
  it('grants a random approval key for a well-formed body and refuses bad ones', async () => {
    const s = await server()
    const a = await postApproval(s.restUrl, GRANT)
    const b = await postApproval(s.restUrl, GRANT)
    expect(a.status).toBe(200)
    expect(Object.keys(a.json)).toEqual(['approval_key'])
    expect(a.json.approval_key).toMatch(/^[0-9a-f-]{36}$/)
    expect(b.json.approval_key).not.toBe(a.json.approval_key)
    expect(s.approvals.get(a.json.approval_key)).toBe(APP_KEY)

    const bad = await postApproval(s.restUrl, '{"grant_type":')
    expect(bad.status).toBe(400)
    const missing = await postApproval(s.restUrl, {grant_type: 'client_credentials', appkey: APP_KEY})
    expect(missing).toMatchObject({status: 400, json: {error_description: expect.stringContaining('secretkey')}})
    expect((await postApproval(s.restUrl, {...GRANT, grant_type: 'password'})).status).toBe(400)
    expect((await postApproval(s.restUrl, [1, 2])).status).toBe(400)
    // no error echoes the credentials
    for (const r of [bad, missing]) expect(JSON.stringify(r.json)).not.toContain(APP_SECRET)

    expect((await fetch(`${s.restUrl}/oauth2/Approval`)).status).toBe(405)
    // the REST token route (for --tiering's current price) wants its own body
    expect((await fetch(`${s.restUrl}/oauth2/tokenP`, {method: 'POST', body: '{}'})).status).toBe(400)
    expect((await fetch(`${s.restUrl}/oauth2/unknown`, {method: 'POST', body: '{}'})).status).toBe(404)
    expect((await fetch(`${s.restUrl}/`)).status).toBe(426)
  })

  it('with credentials configured, refuses other app keys with 403', async () => {
    const s = await server({credentials: {appKey: APP_KEY, appSecret: APP_SECRET}})
    expect((await postApproval(s.restUrl, GRANT)).status).toBe(200)
    const r = await postApproval(s.restUrl, {...GRANT, secretkey: 'wrong-secret'})
    expect(r).toMatchObject({status: 403, json: {error_code: 'EGW00103'}})
  })
})

describe('KIS emulator: registrations and acks', () => {
  it('accepts a WebSocket on any path and acknowledges with output.iv/key; notices are flagged encrypt Y', async () => {
    const s = await server()
    const key = await approval(s)
    for (const path of ['', '/', '/tryitout', '/tryitout/H0STCNT0']) {
      const p = await probe(s.url(path))
      expectAck(await p.register(key, 'H0STCNT0', '005930'), 'H0STCNT0', '005930', '0', 'OPSP0000', 'SUBSCRIBE SUCCESS')
      const n = await p.register(key, 'H0STCNI0', 'mdrecuser')
      expectAck(n, 'H0STCNI0', 'mdrecuser', '0', 'OPSP0000', 'SUBSCRIBE SUCCESS')
      expect(n.header.encrypt).toBe('Y')
      expect(p.binary.every((b) => !b)).toBe(true) // text frames only
    }
    expect([...s.clients].map((c) => c.path).sort()).toEqual(['/', '/', '/tryitout', '/tryitout/H0STCNT0'])
  })

  it('answers each documented request and error with its OPSP code', async () => {
    const s = await server()
    const key = await approval(s)
    const p = await probe(s.url())
    const raw = (o: unknown) => p.request(typeof o === 'string' ? o : JSON.stringify(o))
    const header = {approval_key: key, custtype: 'P', tr_type: '1', 'content-type': 'utf-8'}
    const input = {tr_id: 'H0STCNT0', tr_key: '005930'}

    expectAck(await p.register(key, 'H0STCNT0', '005930'), 'H0STCNT0', '005930', '0', 'OPSP0000', 'SUBSCRIBE SUCCESS')
    expectAck(await p.register(key, 'H0STCNT0', '005930'), 'H0STCNT0', '005930', '1', 'OPSP0002', 'ALREADY IN SUBSCRIBE')
    expectAck(await p.register(key, 'H0STCNT0', '005930', '2'), 'H0STCNT0', '005930', '0', 'OPSP0001', /^UNSUB/)
    expectAck(await p.register(key, 'H0STCNT0', '005930', '2'), 'H0STCNT0', '005930', '1', 'OPSP0003', /^UNSUBSCRIBE ERROR/)
    expectAck(await raw('{not json'), '', '', '9', 'OPSP9999', 'JSON PARSING ERROR : invalid json format')
    expectAck(await raw({body: {input}}), 'H0STCNT0', '005930', '9', 'OPSP9998', /header not found/)
    expectAck(await raw({header: {...header, custtype: undefined}, body: {input}}), 'H0STCNT0', '005930', '9', 'OPSP9997', /custtype not found/)
    expectAck(await raw({header: {...header, custtype: 'X'}, body: {input}}), 'H0STCNT0', '005930', '9', 'OPSP8998', /invalid custtype/)
    expectAck(await raw({header: {...header, tr_type: '3'}, body: {input}}), 'H0STCNT0', '005930', '9', 'OPSP8997', /invalid tr_type/)
    expectAck(await raw({header}), '', '', '9', 'OPSP9992', /body not found/)
    expectAck(await raw({header, body: {}}), '', '', '9', 'OPSP9991', /input not found/)
    expectAck(await raw({header, body: {input: {tr_id: 'NOPE', tr_key: '005930'}}}), 'NOPE', '005930', '1', 'OPSP8991', /invalid tr_id/)
    expectAck(await raw({header, body: {input: {tr_id: 'H0STCNT0'}}}), 'H0STCNT0', '', '9', 'OPSP9990', /tr_key not found/)
    expectAck(await raw({header, body: {input: {tr_id: 'H0STCNT0', tr_key: 'has space'}}}), 'H0STCNT0', 'has space', '1', 'OPSP8992', /invalid tr_key/)
    expectAck(await raw({header: {...header, approval_key: ''}, body: {input}}), 'H0STCNT0', '005930', '1', 'OPSP0011', /invalid approval/)
    // the session holds nothing after all that
    expect([...s.clients][0].registrations.size).toBe(0)
  })

  it('refuses the 42nd registration of a session with OPSP0008; other sessions have their own 41', async () => {
    const s = await server()
    const key = await approval(s)
    const p = await probe(s.url())
    const refusals: string[] = []
    s.on('refuse', (_c, r: {msgCd: string}) => refusals.push(r.msgCd))
    for (let i = 0; i < 41; i++) {
      const a = await p.register(key, i % 2 ? 'H0STASP0' : 'H0STCNT0', String(100000 + Math.floor(i / 2)).padStart(6, '0'))
      expect(a.body.msg_cd).toBe('OPSP0000')
    }
    expectAck(await p.register(key, 'H0STCNT0', '900000'), 'H0STCNT0', '900000', '1', 'OPSP0008', 'MAX SUBSCRIBE OVER')
    expect(refusals).toEqual(['OPSP0008'])
    // freeing one makes room again
    await p.register(key, 'H0STCNT0', '100000', '2')
    expect((await p.register(key, 'H0STCNT0', '900000')).body.msg_cd).toBe('OPSP0000')
    const q = await probe(s.url())
    expect((await q.register(key, 'H0STCNT0', '005930')).body.msg_cd).toBe('OPSP0000')
  })

  it('optionally checks approval keys (OPSP0011) and one session per app key (OPSP8996)', async () => {
    const s = await server({strictApproval: true, oneSessionPerAppKey: true})
    const key = await approval(s)
    const p = await probe(s.url())
    expect((await p.register('not-issued-here', 'H0STCNT0', '005930')).body.msg_cd).toBe('OPSP0011')
    expect((await p.register(key, 'H0STCNT0', '005930')).body.msg_cd).toBe('OPSP0000')
    const q = await probe(s.url())
    const other = await approval(s) // a second approval key of the same app key
    expectAck(await q.register(other, 'H0STCNT0', '000660'), 'H0STCNT0', '000660', '1', 'OPSP8996', 'ALREADY IN USE appkey')
    await p.close()
    await q.until(() => [...s.clients].length === 1, 3000, 'the first session to close').catch(() => {})
    expect((await q.register(other, 'H0STCNT0', '000660')).body.msg_cd).toBe('OPSP0000')
  })

  it('settles a burst of registrations into one subscribe event', async () => {
    const s = await server({subscribeSettleMs: 100})
    const key = await approval(s)
    const events: string[][] = []
    s.on('subscribe', (_c, keys: string[]) => events.push(keys))
    const p = await probe(s.url())
    for (const k of ['005930', '000660', '035420']) p.ws.send(requestText(key, '1', 'H0STCNT0', k))
    await p.until((m) => m.length === 3)
    expect(events).toEqual([])
    await new Promise((r) => setTimeout(r, 250))
    expect(events).toEqual([['005930', '000660', '035420']])
  })
})

describe('KIS emulator: PINGPONG and data frames', () => {
  it('sends PINGPONG at its interval and accepts a text echo or a protocol pong', async () => {
    const s = await server({pingIntervalMs: 100})
    const p = await probe(s.url())
    await p.until((m) => m.filter((x) => x.includes('PINGPONG')).length >= 3, 3000, 'three PINGPONGs')
    const ping = p.messages.find((x) => x.includes('PINGPONG'))!
    expect(ping).toMatch(/^\{"header":\{"tr_id":"PINGPONG","datetime":"\d{14}"\}\}$/)
    const dt = JSON.parse(ping).header.datetime as string
    expect(Math.abs(Number(dt.slice(8, 12)) - Number(kstDatetime(Date.now()).slice(8, 12)))).toBeLessThanOrEqual(1)
    const client = [...s.clients][0]
    const n = p.messages.length
    p.ws.send(ping) // answered with a text echo: no reply, counted
    p.ws.pong() // answered with a protocol pong: counted too
    await new Promise((r) => setTimeout(r, 150))
    expect(p.messages.slice(n).every((x) => x.includes('PINGPONG'))).toBe(true)
    expect(client.pongs).toBe(2)
    expect(p.closed).toBeNull()
  })

  it('publishes `<enc>|<TR>|<NNN>|<records joined by ^>` to sessions registered for the TR and key only; notices encrypted per session', async () => {
    const s = await server()
    const key = await approval(s)
    const a = await probe(s.url())
    const b = await probe(s.url())
    await a.register(key, 'H0STCNT0', '005930')
    await a.register(key, 'H0STCNI0', 'mdrecuser')
    const ackB = await b.register(key, 'H0STCNI0', 'mdrecuser')
    await b.register(key, 'H0STASP0', '005930')
    const ackA = JSON.parse(a.messages[1])
    const recs = [
      ['005930', '093354', '71900'],
      ['005930', '093354', '72000'],
    ]
    expect(s.publish('H0STCNT0', recs)).toBe(1)
    expect(s.publish('H0STCNT0', [['000660', '093354', '1']])).toBe(0)
    const notice = ['mdrecuser', '5012345601', '홍길동']
    expect(s.publish('H0STCNI0', [notice])).toBe(2)
    await a.until((m) => a.data().length === 2)
    await b.until((m) => b.data().length === 1)
    expect(a.data()[0]).toBe('0|H0STCNT0|002|005930^093354^71900^005930^093354^72000')
    const [ea, eb] = [a.data()[1], b.data()[0]]
    expect(ea).toMatch(/^1\|H0STCNI0\|001\|[A-Za-z0-9+/]+=*$/)
    expect(ea).not.toBe(eb) // each session has its own key/iv
    expect(decryptPayload(ea.split('|')[3], ackA.body.output)).toEqual({ok: true, text: notice.join('^')})
    expect(decryptPayload(eb.split('|')[3], ackB.body.output)).toEqual({ok: true, text: notice.join('^')})
    expect(decryptPayload(eb.split('|')[3], ackA.body.output)).not.toEqual({ok: true, text: notice.join('^')})
  })

  it("closes a client that stops reading with 1013 ('disconnect'), or drops its frames ('drop')", async () => {
    for (const policy of ['disconnect', 'drop'] as const) {
      const s = await server({maxBufferedBytes: 64 * 1024, slowClient: policy})
      const key = await approval(s)
      const p = await probe(s.url())
      await p.register(key, 'H0STCNT0', '005930')
      const client = [...s.clients][0]
      ;(p.ws as unknown as {_socket: {pause(): void}})._socket.pause()
      const rec = ['005930', '093354', 'x'.repeat(4000)]
      for (let i = 0; i < 2000 && s.clients.size > 0 && client.dropped === 0; i++) {
        s.publish('H0STCNT0', [rec])
        if (i % 50 === 0) await new Promise((r) => setImmediate(r))
      }
      if (policy === 'drop') expect(client.dropped).toBeGreaterThan(0)
      else {
        ;(p.ws as unknown as {_socket: {resume(): void}})._socket.resume()
        await p.until(() => p.closed !== null, 10_000, 'the 1013 close')
        expect(p.closed!.code).toBe(1013)
      }
      expect(client.ws.bufferedAmount).toBeLessThan(8 * 1024 * 1024)
    }
  })
})
