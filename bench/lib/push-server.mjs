// A Yahoo-protocol push server for bench/record, run as its own process so it
// does not share a core with the client being measured. It pre-encodes a
// synthetic tape, then, to each client that subscribes, sends FRAMES v2 frames
// either as fast as the socket allows (RATE=0) or paced at RATE frames/s.
// Prints {"port":N} on stdout when listening.
import {WebSocketServer} from 'ws'

import {encodeFrame} from '../../dist/feeds/yahoo/codec.js'
import {syntheticYahooTape} from '../../dist/feeds/yahoo/synthetic.js'

const FRAMES = Number(process.env.FRAMES ?? 500_000)
const RATE = Number(process.env.RATE ?? 0)
const CORK = process.env.CORK === '1'
const POOL = Math.min(FRAMES, 200_000)
const frames = []
for (const f of syntheticYahooTape({frames: POOL, symbols: 50, seed: 3})) frames.push(encodeFrame(f.data, 'v2'))

const wss = new WebSocketServer({host: '127.0.0.1', port: 0, perMessageDeflate: false})
wss.on('connection', (ws) => {
  ws.once('message', () => {
    let i = 0
    const t0 = performance.now()
    const pump = () => {
      if (ws.readyState !== ws.OPEN) return
      if (RATE > 0) {
        const due = Math.min(FRAMES, Math.floor(((performance.now() - t0) / 1000) * RATE))
        while (i < due) ws.send(frames[i++ % POOL])
        if (i < FRAMES) setTimeout(pump, 5)
        else ws.close(1000)
        return
      }
      // as fast as the socket allows: keep ~1 MB queued, no more. CORK=1 writes
      // each burst with one writev (ws's socket corked): without it the
      // server's one-syscall-per-frame is the limit, not the client
      const sock = CORK ? ws._socket : null
      sock?.cork()
      while (i < FRAMES && ws.bufferedAmount < 1 << 20) ws.send(frames[i++ % POOL])
      sock?.uncork()
      if (i < FRAMES) setImmediate(pump)
      else ws.close(1000)
    }
    pump()
  })
})
wss.on('listening', () => console.log(JSON.stringify({port: wss.address().port})))
