import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'

import {MdrecError} from '../src/errors.js'
import {
  fetchApprovalKey,
  kisClient,
  KIS_PAPER_REST,
  KIS_PAPER_WS,
  KIS_REAL_REST,
  KIS_REAL_WS,
  planRegistrations,
  resolveKisUrls,
} from '../src/feeds/kis/adapter.js'
import {KisServer} from '../src/feeds/kis/server.js'
import {runCli} from './helpers/cli.js'

const APP_KEY = 'PSadapterTESTappkey0123456789abcdefghij'
const APP_SECRET = 'adapterTESTsecret/abcdefghijklmnopqrstuvwxyz0123456789+ABCDEFGHIJKLMNOPQRSTUVWXYZ='
const ENV = {KIS_APP_KEY: APP_KEY, KIS_APP_SECRET: APP_SECRET}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function usage(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(MdrecError)
    expect((error as MdrecError).code).toBe('E_USAGE')
    return (error as MdrecError).message
  }
  throw new Error('no error thrown')
}

async function feedError(p: Promise<unknown>): Promise<MdrecError> {
  try {
    await p
  } catch (error) {
    expect(error).toBeInstanceOf(MdrecError)
    return error as MdrecError
  }
  throw new Error('no error thrown')
}

const codes = (n: number) => Array.from({length: n}, (_, i) => String(100000 + i * 10).padStart(6, '0'))

describe('kis registrations', () => {
  it('pairs every symbol with the TRs its form takes', () => {
    expect(planRegistrations(['005930', '000660'], ['H0STCNT0', 'H0STASP0'], false).registrations).toEqual([
      {trId: 'H0STCNT0', trKey: '005930'},
      {trId: 'H0STASP0', trKey: '005930'},
      {trId: 'H0STCNT0', trKey: '000660'},
      {trId: 'H0STASP0', trKey: '000660'},
    ])
    const mixed = planRegistrations(['005930', 'DNASAAPL', 'myhtsid'], ['H0STCNT0', 'HDFSCNT0', 'HDFSASP0', 'H0STCNI0'], false)
    expect(mixed.registrations.map((r) => `${r.trId}:${r.trKey}`)).toEqual(['H0STCNT0:005930', 'HDFSCNT0:DNASAAPL', 'HDFSASP0:DNASAAPL', 'H0STCNI0:myhtsid'])
    // defaults: the trade TR of each form; duplicates collapse
    expect(planRegistrations(['005930', '005930', 'DNYSKO'], undefined, false)).toEqual({
      registrations: [
        {trId: 'H0STCNT0', trKey: '005930'},
        {trId: 'HDFSCNT0', trKey: 'DNYSKO'},
      ],
      types: ['H0STCNT0', 'HDFSCNT0'],
    })
  })

  it('enforces the 41-registration limit before anything is sent, saying how to split', () => {
    expect(planRegistrations(codes(20), ['H0STCNT0', 'H0STASP0'], false).registrations).toHaveLength(40)
    expect(planRegistrations(codes(41), ['H0STCNT0'], false).registrations).toHaveLength(41)
    expect(usage(() => planRegistrations(codes(21), ['H0STCNT0', 'H0STASP0'], false))).toBe(
      '21 symbols × 2 types = 42 registrations; KIS allows 41 per session: split into two recordings of at most 20 symbols (each with its own app key: KIS allows one session per app key), or add --tiering to register the first 20 symbols and poll the rest over REST',
    )
    expect(usage(() => planRegistrations(codes(42), undefined, false))).toMatch(/^42 symbols × 1 type = 42 registrations; .* split into two recordings of at most 41 symbols/)
    expect(usage(() => planRegistrations([...codes(30), 'DNASAAPL'], ['H0STCNT0', 'H0STASP0', 'HDFSCNT0'], false))).toMatch(
      /^61 registrations \(31 symbols, each with the types its form takes\); KIS allows 41 per session: split into two recordings of at most 20 symbols/,
    )
  })

  it('names the bad input and the valid forms', () => {
    expect(usage(() => planRegistrations([], undefined, false))).toMatch(/no symbols/)
    expect(usage(() => planRegistrations(['005930'], ['H0STCNT1'], false))).toMatch(/unknown kis type "H0STCNT1".*H0STCNT0 \(domestic/)
    expect(usage(() => planRegistrations(['has space'], undefined, false))).toMatch(/invalid kis symbol "has space": use a KRX code \(6 digits, e\.g\. 005930\)/)
    expect(usage(() => planRegistrations(['myhtsid'], undefined, false))).toMatch(/pass --types H0STCNI0/)
    expect(usage(() => planRegistrations(['myhtsid'], undefined, true))).toMatch(/pass --types H0STCNI9/)
    expect(usage(() => planRegistrations(['myhtsid'], ['H0STCNI0'], true))).toMatch(/with --paper use H0STCNI9/)
    expect(usage(() => planRegistrations(['myhtsid'], ['H0STCNI9'], false))).toMatch(/add --paper, or use H0STCNI0/)
    expect(usage(() => planRegistrations(['005930'], ['HDFSCNT0'], false))).toMatch(/symbol "005930" is a KRX code .* none of --types HDFSCNT0 takes one \(H0STCNT0, H0STASP0 do\)/)
    expect(usage(() => planRegistrations(['005930'], ['H0STCNT0', 'HDFSCNT0'], false))).toMatch(/--types HDFSCNT0 takes an overseas key/)
  })
})

describe('kis URLs', () => {
  it('defaults to the real hosts, --paper to the paper hosts, an emulator URL to its own host:port', () => {
    expect(resolveKisUrls(undefined, {}, false)).toEqual({wsUrl: KIS_REAL_WS, restBase: KIS_REAL_REST, paper: false})
    expect(resolveKisUrls(undefined, {}, true)).toEqual({wsUrl: KIS_PAPER_WS, restBase: KIS_PAPER_REST, paper: true})
    expect(resolveKisUrls('ws://ops.koreainvestment.com:31000/tryitout', {}, false)).toMatchObject({restBase: KIS_PAPER_REST, paper: true})
    expect(resolveKisUrls('ws://127.0.0.1:8765/tryitout/H0STCNT0', {}, false)).toEqual({wsUrl: 'ws://127.0.0.1:8765/tryitout/H0STCNT0', restBase: 'http://127.0.0.1:8765', paper: false})
    expect(resolveKisUrls('wss://kis.example:443', {}, false).restBase).toBe('https://kis.example')
    expect(resolveKisUrls(undefined, {MDREC_KIS_URL: 'ws://localhost:9000'}, false)).toMatchObject({wsUrl: 'ws://localhost:9000', restBase: 'http://localhost:9000'})
    expect(resolveKisUrls(undefined, {MDREC_KIS_REST_URL: 'http://127.0.0.1:1234/'}, false)).toMatchObject({wsUrl: KIS_REAL_WS, restBase: 'http://127.0.0.1:1234'})
    expect(usage(() => resolveKisUrls('ws://ops.koreainvestment.com:21000', {}, true))).toMatch(/--paper conflicts/)
    expect(usage(() => resolveKisUrls('http://127.0.0.1:1', {}, false))).toMatch(/invalid --url .* ws:\/\/ or wss:\/\//)
    expect(usage(() => resolveKisUrls(undefined, {MDREC_KIS_REST_URL: 'ftp://x'}, false))).toMatch(/invalid MDREC_KIS_REST_URL/)
  })
})

describe('kis client setup', () => {
  it('fetches the approval key from the emulator and keeps every secret out of the setup', async () => {
    const s = await KisServer.listen({pingIntervalMs: 0})
    cleanups.push(() => s.close())
    const logs: string[] = []
    const setup = await kisClient({symbols: ['005930', '000660'], types: ['H0STCNT0', 'H0STASP0'], url: s.url(), env: ENV, log: (l) => logs.push(l)})
    const [approvalKey] = [...s.approvals.keys()]
    expect(s.approvals.get(approvalKey)).toBe(APP_KEY)
    expect(setup.endpoint).toBe(s.url())
    expect(setup.feedOptions).toEqual({types: ['H0STCNT0', 'H0STASP0'], paper: false, registrations: 4, approval_url: `${s.restUrl}/oauth2/Approval`})
    const subs = setup.spec.subscribeMessages().map(String)
    expect(subs.map((m) => JSON.parse(m))).toEqual(
      ['005930', '000660'].flatMap((k) =>
        ['H0STCNT0', 'H0STASP0'].map((t) => ({
          header: {approval_key: approvalKey, custtype: 'P', tr_type: '1', 'content-type': 'utf-8'},
          body: {input: {tr_id: t, tr_key: k}},
        })),
      ),
    )
    const visible = JSON.stringify({endpoint: setup.endpoint, feedOptions: setup.feedOptions, logs})
    for (const secret of [APP_KEY, APP_SECRET, approvalKey]) expect(visible).not.toContain(secret)
    expect(setup.codec.columns.map((c) => c.name)).toContain('MID_PRC')
  })

  it('says which environment variables are missing, before any network access', async () => {
    const none = await feedError(kisClient({symbols: ['005930'], url: 'ws://127.0.0.1:1', env: {}}))
    expect(none).toMatchObject({code: 'E_USAGE'})
    expect(none.message).toMatch(/^the kis feed needs KIS_APP_KEY and KIS_APP_SECRET in the environment/)
    const one = await feedError(kisClient({symbols: ['005930'], url: 'ws://127.0.0.1:1', env: {KIS_APP_KEY: APP_KEY}}))
    expect(one.message).toMatch(/needs KIS_APP_SECRET in/)
    expect(one.message).not.toContain(APP_KEY)
    expect((await feedError(kisClient({symbols: ['005930'], format: 'simple', env: ENV}))).message).toMatch(/no --format/)
  })

  it('reports approval failures with the URL and status, never the credentials', async () => {
    // a refusing emulator
    const s = await KisServer.listen({pingIntervalMs: 0, credentials: {appKey: 'someone-else-0123456789', appSecret: 'x'.repeat(40)}})
    cleanups.push(() => s.close())
    const refused = await feedError(kisClient({symbols: ['005930'], url: s.url(), env: ENV}))
    expect(refused.code).toBe('E_FEED')
    expect(refused.message).toMatch(/^KIS refused the approval key request \(HTTP 403 from http:\/\/127\.0\.0\.1:\d+\/oauth2\/Approval\): error_code EGW00103/)

    // a hostile server that echoes the request in its error
    const echo = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        res.writeHead(400, {'content-type': 'application/json'})
        res.end(JSON.stringify({error_code: 'BAD', error_description: `rejected ${body}`}))
      })
    })
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => echo.close(() => r())))
    const base = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`
    const e = await feedError(fetchApprovalKey(base, APP_KEY, APP_SECRET))
    expect(e.message).toMatch(/HTTP 400 .*error_description rejected .*"appkey":"\*\*\*","secretkey":"\*\*\*"/)
    expect(e.message).not.toContain(APP_KEY)
    expect(e.message).not.toContain(APP_SECRET)

    // nobody listening (a port that was just free)
    const tmp = createServer()
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', () => r()))
    const freePort = (tmp.address() as AddressInfo).port
    await new Promise<void>((r) => tmp.close(() => r()))
    const gone = await feedError(fetchApprovalKey(`http://127.0.0.1:${freePort}`, APP_KEY, APP_SECRET))
    expect(gone.message).toBe(`cannot reach the KIS approval endpoint http://127.0.0.1:${freePort}/oauth2/Approval: ECONNREFUSED; check the network, or set MDREC_KIS_REST_URL`)
  })
})

describe('kis usage errors through the CLI', () => {
  it('exits 2 naming the missing variables, and with the split hint past 41 registrations', async () => {
    const env = {KIS_APP_KEY: '', KIS_APP_SECRET: ''}
    const r = await runCli(['record', '005930', '--feed', 'kis', '--url', 'ws://127.0.0.1:1', '--duration', '1s'], {env})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/KIS_APP_KEY and KIS_APP_SECRET/)
    const many = await runCli(['record', ...codes(21), '--feed', 'kis', '--types', 'H0STCNT0,H0STASP0', '--url', 'ws://127.0.0.1:1'], {env: ENV})
    expect(many.code).toBe(2)
    expect(many.stderr).toContain('21 symbols × 2 types = 42 registrations; KIS allows 41 per session: split into two recordings of at most 20 symbols')
    expect(many.stderr + many.stdout).not.toContain(APP_SECRET)
  })
})
