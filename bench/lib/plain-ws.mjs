// The plain `ws` baselines the feed benches compare mdrec with: a client that
// counts frames, and a server that sends a list of frames as fast as the
// socket drains. Both on 127.0.0.1, without permessage-deflate.
import {WebSocket, WebSocketServer} from 'ws'

/**
 * Connect to `url`, send `messages` once open, count the frames until the
 * server closes. Returns frames/s from the open to the close; throws unless
 * exactly `frames` arrived.
 */
export async function plainClientRate(url, messages, frames) {
  const ws = new WebSocket(url, {perMessageDeflate: false})
  let n = 0
  let t0 = 0
  await new Promise((resolve, reject) => {
    ws.on('open', () => {
      t0 = performance.now()
      for (const m of messages) ws.send(m)
    })
    ws.on('message', () => n++)
    ws.on('close', resolve)
    ws.on('error', reject)
  })
  const s = (performance.now() - t0) / 1000
  if (n !== frames) throw new Error(`plain client got ${n} of ${frames}`)
  return n / s
}

/**
 * A plain `ws` server: on a client's first message, send every frame
 * (waiting for 'drain' while over 1 MiB buffered), then close with 1000.
 * `cork`: write 1024 frames per writev, as the replay engine does at 'max'.
 * `path` is appended to the URL (e.g. `/?version=2`). Returns {url, close}.
 */
export async function plainServer(frames, {cork = false, path = '/'} = {}) {
  const wss = new WebSocketServer({port: 0, host: '127.0.0.1', perMessageDeflate: false})
  await new Promise((r) => wss.once('listening', r))
  const HIGH = 1024 * 1024
  wss.on('connection', (ws) => {
    ws.once('message', async () => {
      const sock = ws._socket
      for (let i = 0; i < frames.length; i++) {
        if (cork && i % 1024 === 0) {
          if (i > 0) sock.uncork()
          if (ws.bufferedAmount >= HIGH) await new Promise((r) => sock.once('drain', r))
          sock.cork()
        } else if (!cork && ws.bufferedAmount >= HIGH) await new Promise((r) => sock.once('drain', r))
        ws.send(frames[i])
      }
      if (cork) sock.uncork()
      ws.close(1000)
    })
  })
  return {url: `ws://127.0.0.1:${wss.address().port}${path}`, close: () => new Promise((r) => wss.close(r))}
}

/**
 * Push `count` frames, cycling through `pool`, to `ws` as fast as its socket
 * drains (bursts until 1 MiB is buffered, the next on setImmediate), then
 * close with 1000. `send` are ws.send's options (e.g. {binary: true}).
 */
export function pushFrames(ws, pool, count, send = undefined) {
  let i = 0
  const pump = () => {
    if (ws.readyState !== ws.OPEN) return
    while (i < count && ws.bufferedAmount < 1 << 20) ws.send(pool[i++ % pool.length], send)
    if (i < count) setImmediate(pump)
    else ws.close(1000)
  }
  pump()
}

/**
 * A push server: to each client, on its first message, `count` frames of
 * `pool` (pushFrames). Resolves with {port, close} once listening.
 */
export async function pushServer(pool, count, send = undefined) {
  const wss = new WebSocketServer({host: '127.0.0.1', port: 0, perMessageDeflate: false})
  wss.on('connection', (ws) => ws.once('message', () => pushFrames(ws, pool, count, send)))
  await new Promise((r) => wss.once('listening', r))
  return {port: wss.address().port, close: () => new Promise((r) => wss.close(r))}
}
