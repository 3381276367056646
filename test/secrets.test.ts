/**
 * No secret reaches a recording, a log line or a message: for every feed,
 * record from the local emulator with a URL that carries secrets (user info,
 * query parameters of any name, a path segment, a fragment) and, for KIS,
 * credentials of several lengths; then look for every secret in the file's
 * bytes, the CLI's stdout/stderr, `info --json`, and the error messages
 * (bad URL, connection refused, approval refused by a server that echoes
 * the request back). Replay must still work from the stored endpoint.
 */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {GenericServer} from '../src/feeds/generic/server.js'
import {KisServer} from '../src/feeds/kis/server.js'
import {getFeed} from '../src/feeds/registry.js'
import {rowMessage, UpbitServer} from '../src/feeds/upbit/server.js'
import {syntheticUpbitTape} from '../src/feeds/upbit/synthetic.js'
import {envelopeForUrl} from '../src/feeds/yahoo/codec.js'
import {replay} from '../src/replay/engine.js'
import {openRecording} from '../src/store/reader.js'
import {Redactor, describeBadUrl, guardControl, isRouteSegment, sanitizeEndpoint} from '../src/util/redact.js'
import {runCli, type CliResult} from './helpers/cli.js'
import {TestFeed, sleep} from './helpers/feed.js'
import {rowsOf} from './helpers/recording.js'

// Every secret is long and unlike anything mdrec prints, so finding one anywhere is a leak.
const S = {
  user: 'userSECRETa1',
  pass: 'passSECRETb2',
  t: 'tSECRETc3d4e5',
  k: 'kSECRETf6g7h8',
  token: 'tokenSECRETi9j0',
  frag: 'fragSECRETk1l2',
  path: 'pathSECRET0a1b2c3d4e5f6a7b8c9d0e1f2',
  rest: 'restSECRETm3n4',
}
const SECRETS = Object.values(S)

/** `base` (ws://host:port/route) with secrets in the user info, a path segment, the query and the fragment. */
function secretUrl(base: string, keep = ''): string {
  const u = new URL(base)
  const route = u.pathname.replace(/\/+$/, '')
  return `${u.protocol}//${S.user}:${S.pass}@${u.host}${route}/${S.path}/?${keep}t=${S.t}&k=${S.k}&token=${S.token}#${S.frag}`
}

function leaks(text: string, secrets: string[] = SECRETS): string[] {
  return secrets.filter((s) => text.includes(s))
}

function fileLeaks(path: string, secrets: string[] = SECRETS): string[] {
  const bytes = readFileSync(path)
  return secrets.filter((s) => bytes.includes(Buffer.from(s)))
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mdrec-secrets-'))
}

/** `mdrec ARGS` started now (not awaited: the test drives the emulator meanwhile). */
function startCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, {env, timeoutMs: 60_000})
}

/** Every text a recording holds, decoded: metadata and each row's symbol, info, raw and fields. */
async function recordingText(path: string): Promise<string> {
  const rec = await openRecording(path)
  const parts = [JSON.stringify(rec.meta)]
  for (const r of await rowsOf(path)) {
    parts.push(r.symbol, r.info ?? '', r.raw ? Buffer.from(r.raw).toString('utf8') : '', JSON.stringify(r.fields, (_k, v) => (typeof v === 'bigint' ? String(v) : v)))
  }
  return parts.join('\n')
}

/** Checks that `path` and everything mdrec says about it hold none of `secrets`. */
async function expectNoLeak(path: string, out: {stdout: string; stderr: string}, secrets: string[] = SECRETS): Promise<void> {
  expect(fileLeaks(path, secrets), 'file bytes').toEqual([])
  expect(leaks(await recordingText(path), secrets), 'decoded recording').toEqual([])
  expect(leaks(out.stdout + out.stderr, secrets), `record output: ${out.stderr}`).toEqual([])
  const info = await runCli(['info', path, '--json'])
  expect(info.code, info.stderr).toBe(0)
  expect(leaks(info.stdout + info.stderr, secrets), 'info --json').toEqual([])
  const plain = await runCli(['info', path])
  expect(leaks(plain.stdout + plain.stderr, secrets), 'info').toEqual([])
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

describe('the endpoint rule and the redactor', () => {
  it('keeps scheme, host, port, route words and allowed parameters; removes the rest', () => {
    const yahoo = {keepQuery: {version: /^\d{1,2}$/}}
    const cases: Array<[string, string, object?]> = [
      ['ws://127.0.0.1:9', 'ws://127.0.0.1:9'], // nothing to remove: as given
      ['wss://streamer.finance.yahoo.com/?version=2', 'wss://streamer.finance.yahoo.com/?version=2', yahoo],
      ['wss://h/?version=2&t=abc&k=def', 'wss://h/?version=2', yahoo],
      ['wss://h/?version=SECRETX', 'wss://h/', yahoo], // an allowed name with a value that is not a version
      ['wss://h/?version=2', 'wss://h/'], // not allowed for other feeds
      ['ws://u:p@h:1/a?b=c#d', 'ws://h:1/a'],
      ['ws://h/websocket/v1', 'ws://h/websocket/v1'],
      ['ws://h/tryitout/H0STCNT0', 'ws://h/tryitout/*'],
      ['wss://eth.example/v2/0123456789abcdef0123456789abcdef', 'wss://eth.example/v2/*'],
      ['ws://h/stream/tok%20en', 'ws://h/stream/*'],
      ['ws://h/market-data/stream.v2/oauth2', 'ws://h/market-data/stream.v2/oauth2'],
      ['ws://h/abcdefghijklmnopqrstuvwxyz', 'ws://h/*'], // longer than 20
      ['ws://h/ws/abc12', 'ws://h/ws/*'],
      ['ws://h/ws/a/../SECRET123/..', 'ws://h/ws/'], // normalised by the parser, not returned as given
      ['htp://u:p@h/x', 'htp://h/x'],
      ['token:abcdef', '…'],
    ]
    for (const [url, want, policy] of cases) expect(sanitizeEndpoint(url, policy), url).toBe(want)
    expect(isRouteSegment('Approval')).toBe(true)
    expect(isRouteSegment('a1b2')).toBe(false)
    expect(describeBadUrl('ws://u:p@ss@127.0.0.1:99999/x?t=1')).toBe('ws://127.0.0.1:99999…')
    expect(describeBadUrl('s3cr3tTOKEN')).toBe('…')
  })

  it('masks values of any length in text, longest first, in their JSON and URL forms', () => {
    const r = new Redactor(['¤', 'ab', 'abcdefgh', 'q"u/o te', undefined, ''])
    expect(r.redact('x ¤ abcdefgh ab ¤¤')).toBe('x *** *** *** ******')
    expect(r.redact(JSON.stringify({v: 'q"u/o te'}))).toBe('{"v":"***"}')
    expect(r.redact(`k=${encodeURIComponent('q"u/o te')}`)).toBe('k=***')
    const u = new Redactor().addUrl('ws://user1:pass1@h/ws/KEY0123456789/?t=tok12345&x=1&v=ab#frag1', {keepQuery: {v: /^ab$/}})
    expect(u.redact('user1 pass1 KEY0123456789 tok12345 frag1 x=1 ab')).toBe('*** *** *** *** *** x=1 ab')
  })

  it('drops frames holding a long value anywhere or a short one as a JSON string, and leaves the rest alone', () => {
    const r = new Redactor(['¤', 'longSECRETvalue'])
    const logs: string[] = []
    const control = guardControl(r, () => false, (l) => logs.push(l), 'test')!
    expect(control({data: 'a ¤ b', binary: false})).toBe(false) // a short value by chance: data
    expect(control({data: '{"k":"¤"}', binary: false})).toBe(true)
    expect(control({data: Buffer.from('xx longSECRETvalue xx'), binary: true})).toBe(true)
    expect(control({data: '{"p":1}', binary: false})).toBe(false)
    expect(logs.join('\n')).not.toMatch(/¤|longSECRET/)
    expect(logs).toHaveLength(2)
    // 1,000,000 frames checked in bounded time (a figure, not a limit: bench/ has timings)
    const frame = Buffer.from(JSON.stringify({type: 'trade', code: 'KRW-BTC', trade_price: 1234.5, trade_volume: 0.01, timestamp: 1763980800123}))
    const t0 = Date.now()
    let dropped = 0
    for (let i = 0; i < 1_000_000 && Date.now() - t0 < 20_000; i++) if (control({data: frame, binary: true})) dropped++
    expect(dropped).toBe(0)
  })
})

describe('secrets in --url never reach the recording, the logs or --json', () => {
  for (const version of [2, 1] as const) {
    it(`yahoo (v${version}): only ?version is kept; replay detects the envelope from the stored endpoint`, async () => {
      const feed = await TestFeed.start(['AAPL', 'MSFT'])
      cleanups.push(() => feed.server.close())
      const out = join(tmp(), `yahoo-v${version}.arrow`)
      const url = secretUrl(feed.server.url(1), version === 2 ? 'version=2&' : '')
      const rec = startCli(['record', 'AAPL', 'MSFT', '--url', url, '--out', out, '--duration', '2500ms', '--flush-interval', '200ms', '--json'])
      await feed.waitForSubscribe()
      for (let i = 0; i < 200; i++) feed.publishNext()
      await feed.drained()
      const r = await rec
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).rows).toBe(200)
      await expectNoLeak(out, r)
      const meta = (await openRecording(out)).meta
      expect(meta.endpoint).toBe(`ws://127.0.0.1:${feed.server.port}/*/${version === 2 ? '?version=2' : ''}`)
      expect(envelopeForUrl(meta.endpoint)).toBe(version === 2 ? 'v2' : 'v1')
      // a recording without the envelope in feed_options falls back on the stored endpoint
      const codec = getFeed('yahoo').codecFor({...meta, feedOptions: {}})
      const tick = (await rowsOf(out)).find((x) => x.kind === 'tick')!
      const frame = String(codec.encode(tick).data)
      expect(frame.startsWith('{')).toBe(version === 2)
      // and replay serves the recorded envelope
      const rp = await replay(out, {port: 0})
      try {
        expect(rp.url.includes('version=2')).toBe(version === 2)
      } finally {
        await rp.close()
      }
    })
  }

  it('upbit: no query, user info, fragment or opaque path segment is stored or printed', async () => {
    const server = await UpbitServer.listen({markets: ['KRW-BTC']})
    cleanups.push(() => server.close())
    const out = join(tmp(), 'upbit.arrow')
    const rec = startCli(['record', 'KRW-BTC', '--feed', 'upbit', '--types', 'trade', '--url', secretUrl(server.url()), '--out', out, '--duration', '2500ms', '--flush-interval', '200ms', '--json'])
    await new Promise((resolve) => server.once('subscribe', resolve))
    for (const f of syntheticUpbitTape({frames: 50, seed: 3, codes: ['KRW-BTC'], startNs: BigInt(Date.now()) * 1_000_000n})) {
      if (f.row.fields.type === 'trade') server.publish(rowMessage(f.row))
    }
    // a server that echoes the token back in an error: logged, but masked
    server.sendRaw(`{"error":{"name":"INVALID_AUTH","message":"bad token ${S.token}"}}`)
    const r = await rec
    expect(r.code, r.stderr).toBe(0)
    await expectNoLeak(out, r)
    expect((await openRecording(out)).meta.endpoint).toBe(`ws://127.0.0.1:${server.port}/websocket/v1/*/`)
  })

  it('generic: the route is kept, secrets in it, the query, user info and fragment are not', async () => {
    const srv = await GenericServer.listen({channels: ['prices']})
    cleanups.push(() => srv.close())
    const out = join(tmp(), 'generic.arrow')
    const base = `ws://127.0.0.1:${srv.port}/stream/v2`
    const rec = startCli(['record', 'prices', '--feed', 'generic', '--url', secretUrl(base), '--out', out, '--duration', '2500ms', '--flush-interval', '200ms', '--json'])
    await new Promise((resolve) => srv.once('subscribe', resolve))
    await sleep(100)
    srv.broadcast('price_update', 'prices', {p: 1}, 1763980800123)
    // a server echoing the URL's secrets: in an error (logged) and in a data message (not recorded)
    for (const c of srv.clients) {
      srv.send(c, JSON.stringify({type: 'error', message: `invalid token ${S.token}`}))
      srv.send(c, JSON.stringify({type: 'welcome', channel: 'prices', data: {you: S.user, t: S.t}}))
    }
    srv.broadcast('price_update', 'prices', {p: 2}, 1763980800124)
    const r = await rec
    expect(r.code, r.stderr).toBe(0)
    await expectNoLeak(out, r)
    expect((await openRecording(out)).meta.endpoint).toBe(`ws://127.0.0.1:${srv.port}/stream/v2/*/`)
    expect((await rowsOf(out)).filter((x) => x.kind !== 'status').map((x) => x.fields.data)).toEqual(['{"p":1}', '{"p":2}'])
  })

  it('generic from MDREC_GENERIC_URL: the same', async () => {
    const srv = await GenericServer.listen({channels: ['prices']})
    cleanups.push(() => srv.close())
    const out = join(tmp(), 'generic-env.arrow')
    const rec = startCli(['record', 'prices', '--feed', 'generic', '--out', out, '--duration', '1500ms', '--json'], {MDREC_GENERIC_URL: secretUrl(srv.url())})
    await new Promise((resolve) => srv.once('subscribe', resolve))
    const r = await rec
    expect(r.code, r.stderr).toBe(0)
    await expectNoLeak(out, r)
  })
})

// KIS credentials of several lengths, of characters mdrec never prints itself,
// so even a one-character credential can be searched for in its output.
const KIS_KEYS: Array<[string, string]> = [
  ['¤', '§¶'],
  ['¤§¶Ж', 'ЖЖ7ЖЖ7Ж'],
  ['PSkisAPPKEYsecretLONG0123456789abcdef', `kisAPPSECRETlong/${'Zq8vW2xY4kL6mN0pR3sT5uV7wX9yA1bC3dE5fG7'.repeat(4)}=`],
]

describe('kis: credentials of any length stay out of everything', () => {
  for (const [appKey, appSecret] of KIS_KEYS) {
    it(`records with a ${appKey.length}/${appSecret.length}-character key/secret and a secret URL`, async () => {
      const s = await KisServer.listen({pingIntervalMs: 0})
      cleanups.push(() => s.close())
      const out = join(tmp(), 'kis.arrow')
      const rec = startCli(['record', '005930', '--feed', 'kis', '--types', 'H0STCNT0', '--url', secretUrl(s.url('/tryitout')), '--out', out, '--duration', '2500ms', '--flush-interval', '200ms', '--json'], {
        KIS_APP_KEY: appKey,
        KIS_APP_SECRET: appSecret,
      })
      await new Promise((resolve) => s.once('register', resolve))
      const [approvalKey] = [...s.approvals.keys()]
      // a server echoing credentials in control messages: never recorded
      s.sendRaw(JSON.stringify({header: {tr_id: 'H0STCNT0', tr_key: '005930'}, body: {rt_cd: '1', msg_cd: 'X', msg1: `bad key ${approvalKey}`}}))
      s.sendRaw(JSON.stringify({header: {tr_id: 'H0STCNT0', tr_key: '005930'}, body: {rt_cd: '1', msg_cd: 'X', msg1: 'bad app key', appkey: appKey, secretkey: appSecret}}))
      const r = await rec
      expect(r.code, r.stderr).toBe(0)
      const secrets = [...SECRETS, appKey, appSecret, approvalKey]
      const long = secrets.filter((x) => Buffer.byteLength(x) >= 8)
      // short credentials can occur by chance in compressed bytes: the file's bytes are searched for the long ones,
      // the decoded recording and every message for all
      expect(fileLeaks(out, long)).toEqual([])
      expect(leaks(await recordingText(out), secrets)).toEqual([])
      expect(leaks(r.stdout + r.stderr, secrets), r.stderr).toEqual([])
      const info = await runCli(['info', out, '--json'])
      expect(leaks(info.stdout + info.stderr, secrets)).toEqual([])
      expect((await openRecording(out)).meta.endpoint).toBe(`ws://127.0.0.1:${s.port}/tryitout/*/`)
    })
  }

  /** An approval host that refuses every request and echoes it back (JSON, or plain text). */
  async function echoServer(kind: 'json' | 'text'): Promise<{server: Server; port: number}> {
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        const said = `rejected ${body} from ${req.url} auth ${req.headers.authorization ?? ''}`
        if (kind === 'json') {
          res.writeHead(403, {'content-type': 'application/json'})
          res.end(JSON.stringify({error_code: 'EGW00103', error_description: said}))
        } else {
          res.writeHead(500, {'content-type': 'text/plain'})
          res.end(said)
        }
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
    return {server, port: (server.address() as AddressInfo).port}
  }

  for (const kind of ['json', 'text'] as const) {
    it(`an approval server echoing the request (${kind}) gets every credential masked, in the error line and --json`, async () => {
      const {port} = await echoServer(kind)
      const cases = [...KIS_KEYS, ['Ab', 'c'], ['short7x', 'eight8xx']].flatMap(([appKey, appSecret]) => [false, true].map((json) => ({appKey, appSecret, json})))
      const runs = await Promise.all(
        cases.map(({appKey, appSecret, json}) =>
          runCli(['record', '005930', '--feed', 'kis', '--url', secretUrl(`ws://127.0.0.1:${port}/`), ...(json ? ['--json'] : [])], {
            env: {KIS_APP_KEY: appKey, KIS_APP_SECRET: appSecret},
          }),
        ),
      )
      for (const [i, r] of runs.entries()) {
        const {appKey, appSecret} = cases[i]
        expect(r.code).toBe(1)
        const text = r.stdout + r.stderr
        expect(text).toMatch(/KIS refused the approval key request \(HTTP \d+ from http:\/\/127\.0\.0\.1:\d+\/oauth2\/Approval\)/)
        // the part of the message that quotes the server, where an echoed credential would show:
        // in the stderr line, and with --json also in the error object on stdout
        const messages = [r.stderr, ...(cases[i].json ? [JSON.parse(r.stdout).error.message as string] : [])]
        for (const m of messages) {
          const echoed = m.slice(m.indexOf('Approval)') + 9, m.lastIndexOf('; check'))
          expect(echoed).toContain('***')
          expect(leaks(echoed, [appKey, appSecret]), echoed).toEqual([])
        }
        // mdrec's own wording holds no credential either (searched where the credential is not an everyday letter)
        if (appKey.length >= 4 || /[^\x20-\x7e]/.test(appKey)) expect(leaks(text, [appKey, appSecret])).toEqual([])
        expect(leaks(text)).toEqual([])
      }
    })
  }

  it('MDREC_KIS_REST_URL with user info: neither the fetch error nor feed_options show it', async () => {
    const port = await freePort()
    const r = await runCli(['record', '005930', '--feed', 'kis', '--url', 'ws://127.0.0.1:1/', '--json'], {
      env: {KIS_APP_KEY: 'x'.repeat(36), KIS_APP_SECRET: 'y'.repeat(40), MDREC_KIS_REST_URL: `http://${S.user}:${S.rest}@127.0.0.1:${port}`},
    })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/approval/)
    expect(leaks(r.stdout + r.stderr)).toEqual([])
  })
})

describe('error messages show the URL without its secrets', () => {
  const bad = [
    `htp://${S.user}:${S.pass}@127.0.0.1:9/${S.path}?t=${S.t}#${S.frag}`, // wrong scheme
    `ws://${S.user}:${S.pass}@127.0.0.1:99999/${S.path}?t=${S.t}#${S.frag}`, // port out of range: not a URL
    `not a url/${S.path}?token=${S.token}&k=${S.k}#${S.frag}`,
    `127.0.0.1:9/${S.path}?t=${S.t}`,
  ]
  for (const feed of ['yahoo', 'upbit', 'generic', 'kis']) {
    it(`${feed}: a bad --url or MDREC_${feed.toUpperCase()}_URL is named without its secrets`, async () => {
      const sym = feed === 'kis' ? '005930' : feed === 'upbit' ? 'KRW-BTC' : 'AAPL'
      const cases = bad.flatMap((url, i) => (['flag', 'env', ...(i === 0 ? (['json'] as const) : [])] as const).map((how) => ({url, how})))
      const runs = await Promise.all(
        cases.map(({url, how}) =>
          runCli(['record', sym, '--feed', feed, '--duration', '1s', ...(how === 'env' ? [] : ['--url', url]), ...(how === 'json' ? ['--json'] : [])], {
            env: {[`MDREC_${feed.toUpperCase()}_URL`]: how === 'env' ? url : '', KIS_APP_KEY: 'k'.repeat(36), KIS_APP_SECRET: 's'.repeat(40)},
          }),
        ),
      )
      for (const [i, r] of runs.entries()) {
        const {url, how} = cases[i]
        expect(r.code, `${how} ${url}: ${r.stderr}`).toBe(2)
        expect(r.stdout + r.stderr).toMatch(/invalid (--url|MDREC_[A-Z]+_URL)/)
        expect(leaks(r.stdout + r.stderr), `${how} ${url}: ${r.stdout}${r.stderr}`).toEqual([])
      }
    })
  }

  it('connection refused: the state lines, the gap and the summary hold no secret', async () => {
    const port = await freePort()
    await Promise.all(
      ['yahoo', 'generic', 'upbit'].map(async (feed) => {
        const out = join(tmp(), `${feed}.arrow`)
        const sym = feed === 'upbit' ? 'KRW-BTC' : 'AAPL'
        const args = ['record', sym, '--feed', feed, '--url', secretUrl(`ws://127.0.0.1:${port}/`), '--duration', '1500ms', '--reconnect-min', '100ms']
        const [r, plain] = await Promise.all([
          runCli([...args, '--out', out, '--json'], {timeoutMs: 30_000}),
          // without --json the state lines are printed
          runCli([...args, '--out', join(tmp(), 'b.arrow')], {timeoutMs: 30_000}),
        ])
        // never connected: exit 1 naming the sanitized endpoint; the file (one gap row) is kept
        expect(r.code, r.stderr).toBe(1)
        expect(JSON.parse(r.stdout).error.message).toContain(`never connected to ws://127.0.0.1:${port}/*/ (`)
        await expectNoLeak(out, r)
        expect(plain.stderr).toMatch(/cannot connect/)
        expect(plain.stderr).toMatch(new RegExp(`from ws://127\\.0\\.0\\.1:${port}/\\*/ to`))
        expect(leaks(plain.stdout + plain.stderr)).toEqual([])
      }),
    )
  })
})
