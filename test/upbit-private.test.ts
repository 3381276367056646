/**
 * Upbit's private endpoint and its limits, fixture-free:
 * - the JWT mdrec signs (HS512 over {access_key, nonce}) and the emulator's
 *   check of a bearer token (well-formed accepted; missing, malformed, a wrong
 *   signature when the secret is known, a reused nonce refused with HTTP 401
 *   and Upbit's JSON error body);
 * - myOrder / myAsset served to subscribers of those types, in DEFAULT and
 *   SIMPLE keys;
 * - the documented WebSocket limits (5 connections/s; 5 messages/s and
 *   100/min per connection) refused with HTTP 429 / TOO_MANY_REQ, and off
 *   with `rateLimits: false` / `--no-rate-limits`;
 * - record (from a replay of a synthetic private recording) → replay →
 *   record keeps the rows; no key or token in the file, stdout or stderr;
 *   missing keys are a one-line error naming the variables (exit 1).
 */
import {createHmac} from 'node:crypto'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {WebSocket} from 'ws'

import {checkUpbitToken, signUpbitToken} from '../src/feeds/upbit/auth.js'
import {decodeUpbitFrame, upbitCodec} from '../src/feeds/upbit/codec.js'
import {UpbitServer, rowMessage} from '../src/feeds/upbit/server.js'
import {syntheticUpbitPrivateTape} from '../src/feeds/upbit/synthetic.js'
import type {RowView} from '../src/feeds/types.js'
import {replay} from '../src/replay/engine.js'
import {createUpbitPrivateWriter} from './helpers/upbit-private.js'
import {openRecording, readRows} from '../src/store/reader.js'
import {Redactor} from '../src/util/redact.js'
import {runCli, startCli} from './helpers/cli.js'

const ACCESS = 'upbitACCESSkeySECRET0123456789abcdefXYZ'
const SECRET = 'upbitSECRETkeyVALUE9876543210zyxwvuQRST'
const KEYS = {UPBIT_ACCESS_KEY: ACCESS, UPBIT_SECRET_KEY: SECRET}

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const tmp = () => mkdtempSync(join(tmpdir(), 'mdrec-upbit-priv-'))
const b64 = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url')

function handToken(header: unknown, payload: unknown, secret = SECRET, alg: 'sha256' | 'sha512' = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac(alg, secret).update(input).digest('base64url')}`
}

/** Opens a WebSocket; resolves with it open, or with the HTTP refusal (status and body). */
function open(url: string, headers: Record<string, string> = {}): Promise<{ws?: WebSocket; status?: number; body?: string}> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {headers, perMessageDeflate: false})
    ws.once('open', () => {
      cleanups.push(() => ws.terminate())
      resolve({ws})
    })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d))
      res.on('end', () => resolve({status: res.statusCode, body}))
    })
    ws.once('error', (e) => reject(e))
  })
}

function frames(ws: WebSocket): string[] {
  const got: string[] = []
  ws.on('message', (d: Buffer) => got.push(d.toString('utf8')))
  return got
}

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** The URL a started `mdrec replay` prints first on stdout. */
async function replayUrl(cli: {stdout(): string}): Promise<string> {
  const re = /ws:\/\/127\.0\.0\.1:\d+\/websocket\/v1/
  await until(() => re.test(cli.stdout()), 30_000)
  return re.exec(cli.stdout())![0]
}

async function rowsOf(path: string): Promise<RowView[]> {
  const rows: RowView[] = []
  for await (const r of readRows(await openRecording(path))) rows.push(r)
  return rows
}

/** A recording of `n` synthetic private messages (myOrder and myAsset), written straight through the store. */
async function privateRecording(path: string, n: number, codes = ['KRW-BTC', 'KRW-ETH']): Promise<string[]> {
  const codec = upbitCodec('DEFAULT')
  const w = createUpbitPrivateWriter(path, {flushIntervalMs: 0})
  const texts: string[] = []
  for (const f of syntheticUpbitPrivateTape({frames: n, seed: 5, codes})) {
    const d = codec.decode({data: Buffer.from(f.text), binary: true})
    if (!d.ok) throw new Error(d.message)
    for (const r of d.rows) w.append({...r, recv_ts: f.recv_ts, raw: r.exact ? null : Buffer.from(f.text)})
    texts.push(f.text)
  }
  await w.close()
  return texts
}

const content = (r: RowView) => ({kind: r.kind, symbol: r.symbol, exch_ts: r.exch_ts, raw: r.raw && Buffer.from(r.raw).toString(), fields: r.fields})

describe('the token', () => {
  it('signs HS512 over access_key and a fresh nonce; the check accepts well-formed tokens and names what is wrong', () => {
    const t1 = signUpbitToken(ACCESS, SECRET)
    const t2 = signUpbitToken(ACCESS, SECRET)
    expect(t1).not.toBe(t2) // a fresh nonce each time
    const [h, p] = t1.split('.')
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({alg: 'HS512', typ: 'JWT'})
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toMatchObject({access_key: ACCESS, nonce: expect.stringMatching(/^[0-9a-f-]{36}$/)})
    expect(checkUpbitToken(`Bearer ${t1}`)).toMatchObject({ok: true, accessKey: ACCESS})
    expect(checkUpbitToken(`Bearer ${t1}`, {secretKey: SECRET})).toMatchObject({ok: true})
    expect(checkUpbitToken(`Bearer ${handToken({alg: 'HS256', typ: 'JWT'}, {access_key: ACCESS, nonce: 'n1'})}`, {secretKey: SECRET})).toMatchObject({ok: true})
    const bad: Array<[string | undefined, string, object?]> = [
      [undefined, 'jwt_verification'],
      ['', 'jwt_verification'],
      [`Basic ${t1}`, 'jwt_verification'],
      ['Bearer not-a-jwt', 'jwt_verification'],
      [`Bearer ${t1.split('.').slice(0, 2).join('.')}`, 'jwt_verification'],
      [`Bearer ${handToken({alg: 'none'}, {access_key: ACCESS, nonce: 'n'})}`, 'jwt_verification'],
      [`Bearer ${handToken({alg: 'HS256'}, {nonce: 'n'})}`, 'jwt_verification'],
      [`Bearer ${handToken({alg: 'HS256'}, {access_key: ACCESS})}`, 'jwt_verification'],
      [`Bearer ${b64({alg: 'HS256'})}.${b64('{oops')}.sig`, 'jwt_verification'],
      [`Bearer ${handToken({alg: 'HS256'}, {access_key: ACCESS, nonce: 'n'}, 'another-secret')}`, 'jwt_verification', {secretKey: SECRET}],
      [`Bearer ${t1}`, 'invalid_access_key', {accessKey: 'someone-else'}],
    ]
    for (const [header, name, o] of bad) {
      const r = checkUpbitToken(header, o)
      expect(r, String(header)).toMatchObject({ok: false, status: 401, name})
      // the refusal never echoes the token or the secret
      if (!r.ok) expect(r.message).not.toMatch(new RegExp(`${SECRET}|${ACCESS}|eyJ`))
    }
  })

  it('the redactor masks bearer tokens and JWT-shaped text', () => {
    const t = signUpbitToken(ACCESS, SECRET)
    const r = new Redactor([ACCESS, SECRET]).maskJwts()
    const said = r.redact(`refused Authorization: Bearer ${t} for ${ACCESS}`)
    expect(said).not.toContain(t)
    expect(said).not.toContain(t.split('.')[1])
    expect(said).not.toContain(ACCESS)
    expect(said).toContain('***')
  })
})

describe('the emulator: private endpoint', () => {
  it('refuses a missing or malformed token with HTTP 401 and Upbit\'s error body; serves myOrder/myAsset to their subscribers', async () => {
    const s = await UpbitServer.listen({secretKey: SECRET})
    cleanups.push(() => s.close())
    const url = `${s.url()}/private`
    const refused: Array<Record<string, string>> = [{}, {Authorization: 'Bearer x.y.z'}, {Authorization: `Bearer ${signUpbitToken(ACCESS, 'wrong-secret')}`}]
    for (const headers of refused) {
      const r = await open(url, headers)
      expect(r.status).toBe(401)
      expect(JSON.parse(r.body!)).toMatchObject({error: {name: 'jwt_verification', message: expect.any(String)}})
    }
    // a nonce may be used once
    const token = signUpbitToken(ACCESS, SECRET)
    const ok = await open(url, {Authorization: `Bearer ${token}`})
    expect(ok.ws).toBeDefined()
    const again = await open(url, {Authorization: `Bearer ${token}`})
    expect(again.status).toBe(401)
    expect(JSON.parse(again.body!).error.name).toBe('nonce_used')

    const simple = await open(url, {Authorization: `Bearer ${signUpbitToken(ACCESS, SECRET)}`})
    const gotD = frames(ok.ws!)
    const gotS = frames(simple.ws!)
    ok.ws!.send(JSON.stringify([{ticket: 't'}, {type: 'myOrder', codes: ['KRW-BTC']}, {type: 'myAsset'}]))
    simple.ws!.send(JSON.stringify([{ticket: 't'}, {type: 'myOrder'}, {format: 'SIMPLE'}]))
    await until(() => s.clients.size === 2 && [...s.clients].every((c) => c.subscriptions > 0))
    const tape = [...syntheticUpbitPrivateTape({frames: 60, seed: 2, codes: ['KRW-BTC', 'KRW-ETH']})]
    for (const f of tape) {
      const d = decodeUpbitFrame({data: f.text, binary: true}, false)
      if (!d.ok) throw new Error(d.message)
      s.publish(rowMessage({...d.rows[0], fields: d.rows[0].fields ?? {}}))
    }
    const wantD = tape.map((f) => f.text).filter((t) => t.includes('"type":"myAsset"') || t.includes('"code":"KRW-BTC"'))
    const orders = tape.filter((f) => f.text.includes('"type":"myOrder"'))
    await until(() => gotD.length >= wantD.length && gotS.length >= orders.length)
    expect(gotD).toEqual(wantD) // byte for byte, as recorded
    expect(wantD.some((t) => t.includes('myAsset')) && wantD.some((t) => t.includes('myOrder'))).toBe(true)
    // SIMPLE: the same messages under Upbit's abbreviated keys, values and order unchanged
    expect(gotS).toHaveLength(orders.length)
    const s0 = JSON.parse(gotS[0])
    expect(Object.keys(s0)).toEqual(expect.arrayContaining(['ty', 'cd', 'uid', 'ab', 'ot', 's', 'p', 'v', 'tms', 'st']))
    expect(Object.keys(s0).some((k) => k.length > 6)).toBe(false)
    expect(Object.values(s0)).toEqual(Object.values(JSON.parse(orders[0].text)))
    // a private type on the public endpoint: INVALID_AUTH
    const pub = await open(s.url())
    const gotP = frames(pub.ws!)
    pub.ws!.send(JSON.stringify([{ticket: 't'}, {type: 'myOrder'}]))
    await until(() => gotP.length > 0)
    expect(JSON.parse(gotP[0]).error.name).toBe('INVALID_AUTH')
  })
})

describe('the emulator: rate limits', () => {
  it('a 6th connection within a second gets HTTP 429; a 6th message within a second gets TOO_MANY_REQ; off when asked', async () => {
    // a clock the test holds still: every connection and message falls in the same second
    const s = await UpbitServer.listen({rateLimits: true, now: () => 5_000_000})
    cleanups.push(() => s.close())
    const results = []
    for (let i = 0; i < 6; i++) results.push(await open(s.url()))
    expect(results.slice(0, 5).every((r) => r.ws)).toBe(true)
    expect(results[5].status).toBe(429)
    expect(JSON.parse(results[5].body!)).toMatchObject({error: {name: 'TOO_MANY_REQ', message: expect.any(String)}})
    const ws = results[0].ws!
    const got = frames(ws)
    for (let i = 0; i < 6; i++) ws.send(`[{"ticket":"t${i}"},{"method":"LIST_SUBSCRIPTIONS"}]`)
    await until(() => got.length >= 6)
    const errs = got.filter((g) => g.includes('"error"'))
    expect(errs).toHaveLength(1)
    expect(JSON.parse(errs[0])).toMatchObject({error: {name: 'TOO_MANY_REQ'}})

    const off = await UpbitServer.listen({rateLimits: false})
    cleanups.push(() => off.close())
    const all = await Promise.all(Array.from({length: 12}, () => open(off.url())))
    expect(all.every((r) => r.ws)).toBe(true)
  })

  it('the per-minute limit: the 101st message within a minute is refused (a clock the test controls)', async () => {
    let now = 1_000_000
    const s = await UpbitServer.listen({rateLimits: true, now: () => now})
    cleanups.push(() => s.close())
    const {ws} = await open(s.url())
    const got = frames(ws!)
    for (let i = 0; i < 101; i++) {
      now += 250 // 4/s: under the per-second limit
      ws!.send('[{"ticket":"t"},{"method":"LIST_SUBSCRIPTIONS"}]')
      await until(() => got.length > i)
    }
    expect(got.slice(0, 100).every((g) => !g.includes('"error"'))).toBe(true)
    expect(JSON.parse(got[100])).toMatchObject({error: {name: 'TOO_MANY_REQ'}})
  })

  it('replay(): off by default in the library, on with emulator {rateLimits: true}; mdrec replay: on, --no-rate-limits turns it off, other feeds refuse it', async () => {
    const dir = tmp()
    const file = join(dir, 'p.arrow')
    await privateRecording(file, 20)
    const lib = await replay(file, {port: 0})
    cleanups.push(() => lib.close())
    expect((await Promise.all(Array.from({length: 8}, () => open(lib.url)))).every((r) => r.ws)).toBe(true)
    const limited = await replay(file, {port: 0, emulator: {rateLimits: true}})
    cleanups.push(() => limited.close())
    // 10 at once: at most 5 within a second are let in, the rest get 429
    const burst = async (u: string) => {
      const rs = await Promise.all(Array.from({length: 10}, () => open(u)))
      return {opened: rs.filter((r) => r.ws).length, refused: rs.filter((r) => r.status === 429).length}
    }
    const seq = await burst(limited.url)
    expect(seq.opened).toBeLessThanOrEqual(5)
    expect(seq.opened + seq.refused).toBe(10)

    const cli = startCli(['replay', file, '--port', '0'], cleanups)
    const url = await replayUrl(cli)
    const cs = await burst(url)
    expect(cs.opened).toBeLessThanOrEqual(5)
    expect(cs.refused).toBeGreaterThanOrEqual(5)
    const free = startCli(['replay', file, '--port', '0', '--no-rate-limits'], cleanups)
    const url2 = await replayUrl(free)
    expect((await Promise.all(Array.from({length: 8}, () => open(url2)))).every((r) => r.ws)).toBe(true)

    const yahoo = new URL('../fixtures/yahoo-us-equities.arrow', import.meta.url).pathname
    const r = await runCli(['replay', yahoo, '--port', '0', '--no-rate-limits'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--no-rate-limits applies to upbit recordings only/)
  }, 60_000)
})

describe('mdrec record --types myOrder,myAsset', () => {
  it('without the keys: exit 1 naming UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY; mixed with quotation types: a usage error', async () => {
    const r = await runCli(['record', '*', '--feed', 'upbit', '--types', 'myOrder,myAsset', '--url', 'ws://127.0.0.1:9/websocket/v1'], {env: {UPBIT_ACCESS_KEY: '', UPBIT_SECRET_KEY: ''}})
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY/)
    const half = await runCli(['record', '*', '--feed', 'upbit', '--types', 'myAsset', '--url', 'ws://127.0.0.1:9/websocket/v1'], {env: {UPBIT_ACCESS_KEY: ACCESS, UPBIT_SECRET_KEY: ''}})
    expect(half.code).toBe(1)
    expect(half.stderr).toMatch(/UPBIT_SECRET_KEY/)
    expect(half.stderr).not.toContain(ACCESS)
    const mixed = await runCli(['record', 'KRW-BTC', '--feed', 'upbit', '--types', 'ticker,myOrder'], {env: KEYS})
    expect(mixed.code).toBe(2)
    expect(mixed.stderr).toMatch(/private/)
  })

  it('record from a replay of a private recording → replay → record keeps the rows; no key or token anywhere', async () => {
    const dir = tmp()
    const a = join(dir, 'a.arrow')
    const texts = await privateRecording(a, 400)
    // the replay verifies signatures with the secret it is given
    const rp = startCli(['replay', a, '--port', '0', '--speed', '20'], cleanups, {UPBIT_SECRET_KEY: SECRET})
    const url = await replayUrl(rp)
    // signed with another secret: refused (401) before the upgrade; the recorder never connects and says so without a secret
    const wrong = await runCli(['record', '*', '--feed', 'upbit', '--types', 'myOrder', '--url', url, '--out', join(dir, 'w.arrow'), '--duration', '1500ms', '--reconnect-min', '200ms'], {
      env: {...KEYS, UPBIT_SECRET_KEY: 'a-different-secret-0123456789'},
      timeoutMs: 30_000,
    })
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/401/)
    expect(wrong.stdout + wrong.stderr).not.toMatch(new RegExp(`${SECRET}|${ACCESS}|a-different-secret|eyJ`))
    const b = join(dir, 'b.arrow')
    const rec = await runCli(['record', '*', '--feed', 'upbit', '--types', 'myOrder,myAsset', '--url', url, '--out', b, '--duration', '5s', '--json'], {env: KEYS, timeoutMs: 40_000})
    expect(rec.code, rec.stderr).toBe(0)
    const rowsA = await rowsOf(a)
    const rowsB = await rowsOf(b)
    expect(rowsA).toHaveLength(texts.length)
    expect(rowsB.map(content)).toEqual(rowsA.map(content))
    const meta = (await openRecording(b)).meta
    expect(meta.endpoint).toBe(`${url}/private`)
    expect(meta.feedOptions).toMatchObject({types: ['myOrder', 'myAsset']})
    // and once more through a replay of the new recording
    const rp2 = startCli(['replay', b, '--port', '0', '--speed', '20'], cleanups)
    const url2 = await replayUrl(rp2)
    const c = join(dir, 'c.arrow')
    const rec2 = await runCli(['record', '*', '--feed', 'upbit', '--types', 'myOrder,myAsset', '--url', `${url2}/private`, '--out', c, '--duration', '5s', '--json'], {env: KEYS, timeoutMs: 40_000})
    expect(rec2.code, rec2.stderr).toBe(0)
    expect((await rowsOf(c)).map(content)).toEqual(rowsA.map(content))
    // secrets: not in the files, not in what mdrec printed
    for (const out of [rec, rec2, await runCli(['info', b, '--json'])]) {
      expect(out.stdout + out.stderr).not.toContain(SECRET)
      expect(out.stdout + out.stderr).not.toContain(ACCESS)
      expect(out.stdout + out.stderr).not.toMatch(/eyJ[\w-]+\.[\w-]+/)
    }
    for (const f of [b, c]) {
      const bytes = readFileSync(f)
      expect(bytes.includes(Buffer.from(SECRET))).toBe(false)
      expect(bytes.includes(Buffer.from(ACCESS))).toBe(false)
      expect(JSON.stringify((await openRecording(f)).meta)).not.toMatch(new RegExp(`${SECRET}|${ACCESS}|eyJ`))
    }
  }, 90_000)
})
