/** `mdrec replay` as a command: --json puts exactly one JSON document on stdout, the URL in it. */
import {spawn} from 'node:child_process'
import {describe, expect, it, onTestFinished} from 'vitest'

import {BIN} from './helpers/cli.js'
import {collect, fixture} from './replay-clients.js'

describe('mdrec replay --json', () => {
  // with --quiet too: the URL is where clients connect, not progress output, and --port 0 leaves no other way to learn it
  it.each([[[]], [['--quiet']]])('prints one JSON document (with the URL) on stdout; the URL goes to stderr for clients (%j)', {timeout: 60_000}, async (extra: string[]) => {
    const child = spawn(process.execPath, [BIN, 'replay', fixture('yahoo-us-equities.arrow'), '--json', ...extra, '--port', '0', '--speed', 'max', '--clock', 'shared', '--settle', '20ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no URL on stderr: ${stderr}`)), 20_000)
      child.stderr.on('data', (d) => {
        stderr += d
        const m = /ws:\/\/\S+/.exec(stderr)
        if (m) {
          clearTimeout(t)
          resolve(m[0])
        }
      })
    })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    // the shared timeline plays once and the command exits
    const frames = await collect(url, [JSON.stringify({subscribe: ['NVDA']})], 0, () => true, 30_000).catch(() => null)
    const code = await exited
    expect(code).toBe(0)
    const doc = JSON.parse(stdout)
    expect(doc.url).toBe(url)
    expect(doc.framesSent).toBe(989)
    expect(frames === null || frames.length === 989).toBe(true)
  })
})

describe('mdrec replay with a range that holds nothing', () => {
  it('refuses before listening, saying why (exit 1); --from after --to is a usage error (exit 2)', async () => {
    const {runCli} = await import('./helpers/cli.js')
    const past = await runCli(['replay', fixture('yahoo-us-equities.arrow'), '--from', '+2m', '--port', '0'], {timeoutMs: 30_000})
    expect(past.code).toBe(1)
    expect(past.stdout).toBe('') // no URL: nothing is served
    expect(past.stderr.trim().split('\n')).toHaveLength(1)
    expect(past.stderr).toMatch(/no rows to replay: --from \S+ is after the recording's last row \(the recording spans /)
    const backwards = await runCli(['replay', fixture('yahoo-us-equities.arrow'), '--from', '+20s', '--to', '+10s', '--port', '0'], {timeoutMs: 30_000})
    expect(backwards.code).toBe(2)
    expect(backwards.stderr).toMatch(/--from \S+ is after --to/)
  }, 60_000)
})

describe('+offset times with several recordings', () => {
  it('count from the earliest start in every command, whatever the order the files are given in', {timeout: 90_000}, async () => {
    const {mkdtempSync, rmSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const {createYahooWriter} = await import('./helpers/recording.js')
    const {syntheticYahooTape} = await import('../src/feeds/yahoo/synthetic.js')
    const {nsToIso} = await import('../src/util/time.js')
    const {runCli, startCli} = await import('./helpers/cli.js')
    const dir = mkdtempSync(join(tmpdir(), 'mdrec-offsets-'))
    const cleanups: Array<() => unknown> = [() => rmSync(dir, {recursive: true, force: true})]
    onTestFinished(async () => {
      for (const c of cleanups.reverse()) await c()
    })
    const tape = [...syntheticYahooTape({frames: 200, symbols: 3, seed: 7, meanGapMs: 10})]
    const t0 = tape[0].recv_ts
    const later = 100_000_000_000n // B starts 100 s after A, and A ends before that
    expect(tape.at(-1)!.recv_ts - t0).toBeLessThan(later)
    const write = async (path: string, shift: bigint) => {
      const w = createYahooWriter(path, {}, {startTime: nsToIso(t0 + shift), subscriptions: ['*']})
      for (const f of tape) {
        const {id, time, ...fields} = f.data
        w.append({recv_ts: f.recv_ts + shift, exch_ts: time ?? null, symbol: id ?? '', kind: 'tick', raw: null, info: null, fields})
      }
      await w.close()
    }
    const a = join(dir, 'a.arrow')
    const b = join(dir, 'b.arrow')
    await write(a, 0n)
    await write(b, later)
    // [+100s, +200s) from A's start is exactly B's rows; from B's start it would be nothing
    const range = ['--from', '+100s', '--to', '+200s']
    const cat = await runCli(['cat', b, a, ...range, '--format', 'ndjson'], {timeoutMs: 30_000})
    expect(cat.code).toBe(0)
    expect(cat.stdout.trim().split('\n')).toHaveLength(tape.length)
    const sliced = join(dir, 'cut.arrow')
    const slice = await runCli(['slice', b, a, ...range, '--out', sliced], {timeoutMs: 30_000})
    expect(slice.code).toBe(0)
    const replay = startCli(['replay', b, a, ...range, '--port', '0', '--speed', 'max'], cleanups)
    await replay.line(/ws:\/\/127\.0\.0\.1:\d+/, 30_000)
    expect(replay.stderr()).not.toMatch(/no rows/)
  })
})

describe('mdrec replay inputs: files, a directory or a glob, as every other command', () => {
  it('resolves a directory and a glob through the shared resolver (same errors for no match); a bare --loop before one leaves it a file', {timeout: 90_000}, async () => {
    const {copyFileSync, mkdirSync, mkdtempSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const {runCli} = await import('./helpers/cli.js')
    const dir = mkdtempSync(join(tmpdir(), 'mdrec-replay-inputs-'))
    const one = join(dir, 'onedir')
    mkdirSync(one)
    copyFileSync(fixture('yahoo-us-equities.arrow'), join(one, 'y.arrow'))
    mkdirSync(join(dir, 'empty'))
    // --from +2m holds no row: the files were found and opened, then refused before listening (exit 1, no URL)
    for (const args of [[one], [join(one, '*.arrow')], ['--loop', one], ['--loop', join(one, '*.arrow')]]) {
      const r = await runCli(['replay', ...args, '--from', '+2m', '--port', '0'], {timeoutMs: 30_000})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1)
      expect(r.stderr).toMatch(/no rows to replay: --from \S+ is after the recording's last row/)
    }
    const none = await runCli(['replay', join(dir, 'none-*.arrow'), '--port', '0'], {timeoutMs: 30_000})
    expect(none.code).toBe(1)
    expect(none.stderr.trim()).toBe(`Error: ${join(dir, 'none-*.arrow')}: the pattern matches no file`)
    const empty = await runCli(['replay', join(dir, 'empty'), '--port', '0'], {timeoutMs: 30_000})
    expect(empty.code).toBe(1)
    expect(empty.stderr.trim()).toBe(`Error: ${join(dir, 'empty')}: is a directory with no .arrow recording in it; give .arrow files, a directory holding them, or a glob`)
  })
})

/** Start `command args` (a replay, or a tool running one), killed when the test ends; resolves once a ws:// URL is on its stdout or stderr. */
async function startReplay(command: string, args: string[]) {
  const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
  const io = {out: '', stderr: ''}
  child.stdout.on('data', (d) => (io.out += d))
  child.stderr.on('data', (d) => (io.stderr += d))
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const end = Date.now() + 20_000
  let m: RegExpExecArray | null = null
  while (!(m = /ws:\/\/\S+/.exec(io.out + io.stderr)) && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  expect(m, `no URL: ${io.out}${io.stderr}`).not.toBeNull()
  return {child, io, exited, url: m![0]}
}

/** `mdrec replay` of the Yahoo fixture at max, in a loop, with a client that read its first frame and then stopped reading (its socket paused, never answering a close). */
async function replayWithStalledClient(extra: string[]) {
  const {WebSocket} = await import('ws')
  const {child, io, exited, url} = await startReplay(process.execPath, [BIN, 'replay', fixture('yahoo-us-equities.arrow'), '--port', '0', '--speed', 'max', '--loop', ...extra])
  const ws = new WebSocket(url, {perMessageDeflate: false})
  onTestFinished(() => ws.terminate())
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const first = new Promise((resolve) => ws.once('message', resolve))
  ws.send(JSON.stringify({subscribe: ['NVDA', 'TSLA', 'AAPL', 'MSFT']}))
  await first
  ;(ws as unknown as {_socket: {pause(): void}})._socket.pause()
  await new Promise((r) => setTimeout(r, 500))
  return {child, io, exited}
}

describe('mdrec replay stopped with Ctrl-C while a client has stopped reading', () => {
  it('says what it waits for (at most 2 s), then exits 0', {timeout: 60_000}, async () => {
    const {child, io, exited} = await replayWithStalledClient([])
    const t0 = Date.now()
    child.kill('SIGINT')
    const code = await exited
    const took = Date.now() - t0
    expect(code).toBe(0)
    expect(io.stderr).toMatch(/stopping: waiting up to 2 s for a client to answer the close \(Ctrl-C again to quit now\)/)
    // the close gives up on the client after its grace (2 s), with room for a loaded machine
    expect(took).toBeLessThan(10_000)
  })

  // A second Ctrl-C quits at once (130), but what was served is still told: the summary line, and with
  // --json the one JSON document stdout promises (the URL and the counts so far, marked interrupted).
  it('a second Ctrl-C quits at once with exit 130, and still prints the summary (with --json: one JSON document)', {timeout: 60_000}, async () => {
    for (const json of [false, true]) {
      const {child, io, exited} = await replayWithStalledClient(json ? ['--json'] : [])
      child.kill('SIGINT')
      await new Promise((r) => setTimeout(r, 400))
      child.kill('SIGINT')
      expect(await exited).toBe(130)
      if (json) {
        const doc = JSON.parse(io.out)
        expect(doc.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+/)
        expect(doc.framesSent).toBeGreaterThan(0)
        expect(doc.interrupted).toBe(true)
        // the shape of the document a normal exit prints (errors included), plus "interrupted"
        expect(doc.errors).toEqual([])
      } else expect(io.stderr).toMatch(/replay stopped at once \(second Ctrl-C\): \d+ frames sent to 1 client/)
    }
  })
})

// GNU timeout signals its command, then its own process group, which holds the command: two SIGINTs within a
// ms. That is one request to stop (a clean close, exit 0), not a second Ctrl-C (exit 130, "stopped at once").
describe('mdrec replay under `timeout -s INT`', () => {
  it('closes cleanly: the same signal delivered twice is one Ctrl-C', {timeout: 60_000}, async () => {
    const {io, exited, url} = await startReplay('timeout', ['--preserve-status', '-s', 'INT', '3', process.execPath, BIN, 'replay', fixture('yahoo-us-equities.arrow'), '--port', '0', '--loop'])
    // a client that reads until the replay closes it
    const frames = collect(url, [JSON.stringify({subscribe: ['NVDA', 'TSLA']})], 0, () => true, 30_000)
    expect(await exited, io.stderr).toBe(0)
    expect((await frames).length).toBeGreaterThan(0)
    expect(io.stderr).toMatch(/^replay closed: \d+ frames sent to 1 client$/m)
    expect(io.stderr).not.toMatch(/second Ctrl-C/)
  })

  // The kernel merges the two when both arrive before the process runs (then the test above shows nothing);
  // delivered apart, as `timeout`'s two often are, they must still be one request.
  it('two SIGINTs 30 ms apart are one request to stop: a clean close, exit 0', {timeout: 60_000}, async () => {
    const {child, io, exited} = await replayWithStalledClient([])
    child.kill('SIGINT')
    await new Promise((r) => setTimeout(r, 30))
    child.kill('SIGINT')
    expect(await exited, io.stderr).toBe(0)
    expect(io.stderr).toMatch(/^replay closed: \d+ frames sent to 1 client/m)
    expect(io.stderr).not.toMatch(/second Ctrl-C/)
  })
})
