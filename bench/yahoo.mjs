#!/usr/bin/env node
// bench/yahoo: the Yahoo PricingData codec in-process, one JSON line per case.
//
//   npx tsc -p tsconfig.json && node bench/yahoo.mjs [--frames N] [--dist DIR]
//
// ns per message (best of 7 rounds over the same synthetic tape, v2 envelope)
// of decodeFrame, isCanonicalFrame (the recorder's exactness check: one
// encode), encodeFrame, decodePricing, encodePricing and PricingRowEncoder
// (replay's re-encoding of a row straight from its columns). --dist runs another
// build (e.g. a copy of dist/ from before a change) for an A/B comparison in
// one session: run both alternately on the same machine.
import {resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {opt} from './lib/args.mjs'

const args = process.argv.slice(2)
const FRAMES = Number(opt('frames', 100_000))
const dist = pathToFileURL(resolve(opt('dist', new URL('../dist/', import.meta.url).pathname)) + '/')
const ROUNDS = 7

const codec = await import(new URL('feeds/yahoo/codec.js', dist))
const {syntheticYahooTape} = await import(new URL('feeds/yahoo/synthetic.js', dist))

const msgs = []
for (const f of syntheticYahooTape({frames: FRAMES, seed: 3, meanGapMs: 1})) msgs.push(f.data)
const frames = msgs.map((m) => codec.encodeFrame(m, 'v2'))
const bytes = msgs.map((m) => codec.encodePricing(m))
const decoded = frames.map((f) => codec.decodeFrame(f, 'v2').value.data)

let sink = 0
function time(name, fn) {
  let best = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < FRAMES; i++) sink += fn(i)
    const ns = Number(process.hrtime.bigint() - t0) / FRAMES
    if (ns < best) best = ns
  }
  console.log(JSON.stringify({bench: `yahoo-${name}`, frames: FRAMES, ns_per_msg: +best.toFixed(1)}))
}

time('decodeFrame', (i) => (codec.decodeFrame(frames[i], 'v2').ok ? 1 : 0))
time('isCanonicalFrame', (i) => (codec.isCanonicalFrame(frames[i], 'v2', decoded[i]) ? 1 : 0))
time('encodeFrame', (i) => codec.encodeFrame(decoded[i], 'v2').length)
time('decodePricing', (i) => (codec.decodePricing(bytes[i]).ok ? 1 : 0))
time('encodePricing', (i) => codec.encodePricing(msgs[i]).length)
// the tape as columns, the way replay hands them to PricingRowEncoder
const ARRAYS = {float: Float32Array, double: Float64Array, int32: Int32Array, sint64: BigInt64Array, string: Int32Array}
const columns = codec.PRICING_FIELDS.map((field) => {
  const values = new ARRAYS[field.kind](FRAMES)
  const nulls = new Uint8Array(Math.ceil(FRAMES / 8))
  const dict = []
  const index = new Map()
  for (let i = 0; i < FRAMES; i++) {
    const v = msgs[i][field.name]
    if (v == null) continue
    nulls[i >> 3] |= 1 << (i & 7)
    if (field.kind !== 'string') values[i] = v
    else {
      if (!index.has(v)) index.set(v, dict.push(v) - 1)
      values[i] = index.get(v)
    }
  }
  return {field, values, offset: 0, nulls, dict: field.kind === 'string' ? (k) => dict[k] : undefined}
})
const rows = new codec.PricingRowEncoder(columns)
time('PricingRowEncoder', (i) => rows.frame(i, 'v2').length)
if (sink === 0) console.error('nothing measured')
