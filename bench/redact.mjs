#!/usr/bin/env node
// bench/redact: the cost of keeping secrets out of recordings, one JSON line per case.
//
//   npx tsc -p tsconfig.json && node bench/redact.mjs [--frames N]
//
// guard   frames/s through a feed's control hook wrapped by guardControl
//         (src/util/redact.ts) for a URL with five secret parts and a KIS
//         credential pair, against the same hook unwrapped (the baseline),
//         on Upbit-like binary frames and Yahoo-like text frames; best of 3.
//         Every loop is bounded in count and in time (20 s).
const dist = new URL('../dist/', import.meta.url)
const args = process.argv.slice(2)
const i = args.indexOf('--frames')
const FRAMES = i >= 0 ? Number(args[i + 1]) : 1_000_000
const LIMIT_MS = 20_000

const {Redactor, guardControl} = await import(new URL('util/redact.js', dist))

const r = new Redactor(['PSkisAPPKEYsecretLONG0123456789abcdef', 'x'.repeat(180)]).addUrl(
  'wss://user:passSECRET@h/ws/0123456789abcdef0123456789abcdef/?token=tokenSECRET123&k=kSECRET99#fragSECRET',
)
const inner = () => false
const guarded = guardControl(r, inner, () => {}, 'bench')

const binary = Buffer.from(JSON.stringify({type: 'trade', code: 'KRW-BTC', timestamp: 1763980800123, trade_price: 143250000, trade_volume: 0.00123, ask_bid: 'BID', stream_type: 'REALTIME'}))
const text = JSON.stringify({type: 'pricing', message: 'CgRBQVBMFQAAYEMYgOSUtYBkKgNOTVMwCDgBRc3MTD9lgJaYQQ=='.repeat(2)})

function rate(fn, frame) {
  let best = 0
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now()
    let n = 0
    for (; n < FRAMES && performance.now() - t0 < LIMIT_MS; n++) fn(frame)
    best = Math.max(best, n / ((performance.now() - t0) / 1000))
  }
  return best
}

for (const [name, frame] of [
  ['binary', {data: binary, binary: true}],
  ['text', {data: text, binary: false}],
]) {
  const base = rate(inner, frame)
  const mine = rate(guarded, frame)
  process.stdout.write(
    `${JSON.stringify({bench: 'redact', case: `guard-${name}`, frames: FRAMES, secrets: 'url(5 parts)+2 credentials', frames_per_s: Math.round(mine), baseline_frames_per_s: Math.round(base), ratio: Number((mine / base).toFixed(3))})}\n`,
  )
}
