/**
 * The replay engine: serves one or more recordings over the recorded feed's
 * own protocol, on the recorded timeline (scaled by `speed`), to any number of
 * clients.
 *
 * ## Clocks
 * - `clock: 'connection'` (default): every connection gets its own timeline.
 *   Its reader is opened when the client connects (all of them read through
 *   one `SharedBatches` cache per file (`rows.ts`), and share the payloads encoded
 *   from its batches, so hundreds of timelines decode and encode the file
 *   about once); its clock starts (t0), at
 *   the recording's first row, when its subscriptions have settled (below).
 *   So every client, e.g. every test run, sees the whole recording the same
 *   way. A client receives the rows of the symbols it is subscribed to at the
 *   moment each row is due. After the last row the connection stays open and silent
 *   (or is closed with 1000 when `atEnd: 'close'`). The server keeps accepting
 *   connections until closed, so `done` resolves only when the handle is
 *   closed.
 * - `clock: 'shared'`: one timeline and one reader for all clients, like a
 *   live feed. It starts when the first subscriptions have settled (not when
 *   the server starts, so the first client never misses the beginning);
 *   clients that subscribe later join mid-stream. Each row is encoded at most
 *   once per wire variant and fanned out. `done` resolves when the timeline
 *   has played everything (loops included); the server stays up until closed.
 *
 * ## Settle rule (the same for every feed)
 * Clients subscribe in several messages: yfinance one symbol per message,
 * ccxt a ticker request then ticker+trade a moment later, KIS one
 * registration per message, generic one channel per message. A timeline
 * therefore starts when its subscriptions have been quiet for `settleMs`
 * (default `DEFAULT_SETTLE_MS` ms in `scheduler.ts`; every subscribe message restarts the
 * window), and at most `SETTLE_CAP_FACTOR` windows after the first
 * subscription, so a chatty client still starts. Subscriptions that arrive
 * after the start join at the current position: the client gets the rows of
 * the new symbols that are due from then on (nothing is replayed for them).
 * The feeds' own acknowledgements go out at once.
 *
 * ## Idle
 * A row nobody can receive (no client, no subscription, no subscribed
 * symbol) is never waited for. The timeline passes over such rows in a tight
 * loop (a whole batch at once when none of the symbols it holds is received:
 * each batch's symbol set is computed once, with the batch, and shared by
 * every timeline through the decoded batch cache), then sleeps on a plain
 * timer until the next row someone can receive (or the last row of the
 * batches read), waking early when a subscription (or an emulator's
 * 'interest') changes. So a replay
 * nobody can receive anything from costs one wake-up per record batch, plus
 * reading the file (its batches are still read and decompressed in time).
 * A subscription that arrives during such a sleep joins at the current
 * position: only rows already due are passed over. At 'max', a timeline with
 * no subscribed client waits for a subscription (so a shared timeline whose
 * clients have all gone plays on, and `done` resolves, only once someone
 * subscribes again). At every speed, a `loop`
 * play that handed its receivers no row waits for a change of who can
 * receive what (a subscription, or an emulator's 'interest', as KIS's first
 * REST request) before the next play (it would hand them nothing again),
 * which then starts at once.
 *
 * ## Rows
 * Data rows (`tick`, `status`, and other feeds' data kinds) are sent. `reject`
 * rows (frames the recorder could not decode) are skipped and counted. `gap`
 * rows (the recorder was disconnected): with `gaps: 'silent'` the timeline
 * simply goes quiet, since the next row's receive time is after the gap; with
 * `gaps: 'disconnect'` the connections are closed with code 1012 (Service
 * Restart: "come back later", which reconnecting clients act on) when the gap
 * row is due. In `clock: 'connection'` the closed connection's timeline keeps
 * running for the gap's duration (at the replay speed) plus 10 s. A new
 * connection whose subscriptions, once settled, are the closed client's (the
 * same wire variant, the same number of symbols and the same ones among the
 * recording's symbols) takes it over, the oldest such timeline first: so the
 * client that reconnects continues after the gap, as on the real feed,
 * instead of starting the recording again. Any other connection gets a
 * timeline of its own from the start.
 *
 * ## Loop
 * `loop: N` plays the recording N more times (`true`: until closed). Each
 * play is shifted by one period: the recording's span (last − first receive
 * time) plus its mean inter-arrival time, rounded up to a whole ms. The
 * schedule and the payloads' own time fields are shifted alike (Yahoo:
 * `time` + period ms), so times keep increasing; looped rows are therefore
 * re-encoded, not the recorded bytes.
 *
 * ## Speed and backpressure
 * Timed speeds follow the absolute timeline of `scheduler.ts`. What can be
 * done before a row is due is done then: each record batch is prepared when
 * it is read (`rows.ts`), a client's first frame is encoded when it connects
 * (shared clock: when a client subscribes) and every later frame in the slack
 * before its due time, so at the due time only the write is left. The first
 * frame of a play, and a frame the timeline waited for, is written before
 * the timeline handles a row due later, even one already due (rows due at
 * the same moment share one write); frames already late, a catch-up, are
 * written a few dozen at a time. Until a due time the thread sleeps: a
 * timer, then naps, and only its last fraction of a ms is spun. A client that
 * stops reading meets the slow-client policy (close 1013, or drop frames)
 * once its send buffer passes `maxBufferedBytes`. `speed: 'max'` sends as
 * fast as the client reads: it waits while a socket's buffer is above a
 * high-water mark. In `clock: 'shared'` the fastest reader sets the pace: the
 * timeline waits only while every subscribed client is above the mark, so a
 * client that stops reading meets the slow-client policy like at any speed,
 * and the others carry on. What a client closed with 1013 sees: see
 * `closeSlowClient` in `feeds/emulator.ts`.
 *
 * ## Files
 * This file keeps {@link replay} and the public types. The rest, by concern:
 * `options.ts` (the options, their checking and defaults), `replayer.ts`
 * (one replay's state: emulator events, the settle rule, the readers and
 * shared encoding, stats, close), `timeline.ts` (the per-row loop),
 * `targets.ts` (a timeline's receivers: one client or all, corking, gaps),
 * `rows.ts` (reading and merging the batches) and `scheduler.ts` (the clock).
 */
import {MdrecError, isMdrecError} from '../errors.js'
import type {Emulator, EmulatorClient} from './feed.js'
import {prepare, type ReplayOptions} from './options.js'
import {Replayer, type ReplayHandle} from './replayer.js'
import {SymbolNotes} from './summary.js'

export type {ReplayOptions} from './options.js'
/** How long closing a replay (ReplayHandle.close, Ctrl-C) waits for a client to answer its close frame before cutting it off (ms). */
export {CLOSE_GRACE_MS} from '../feeds/emulator.js'
export type {ReplayHandle, ReplayStats, ReplaySummary} from './replayer.js'

/**
 * Replay recordings over their feed's protocol. Opens and checks the files,
 * starts listening, reads the first record batch, and returns once clients
 * can connect (and a timeline can start the moment its client subscribes).
 *
 * ```ts
 * const r = await replay('aapl.arrow', {port: 0, speed: 10})
 * // point a Yahoo client at r.url, subscribe, receive the recorded frames
 * const summary = await r.close()
 * ```
 */
export async function replay(files: string | string[], options: ReplayOptions = {}): Promise<ReplayHandle> {
  const p = await prepare(files, options)
  let emu: Emulator
  try {
    emu = await p.feed.listen({
      host: p.host,
      port: p.port,
      maxBufferedBytes: p.maxBufferedBytes,
      slowClient: p.slowClient,
      feed: options.emulator,
      log: options.log,
    }, p.recs)
  } catch (error) {
    throw listenError(error, p.host, p.port)
  }
  // a subscription to a symbol the recording lacks gets no rows: say so (before the replayer logs its timeline's start)
  const notes = new SymbolNotes(p.recs.flatMap((f) => f.meta.subscriptions), p.feed.symbolNoun)
  emu.on('subscribe', (c: EmulatorClient, added?: readonly string[]) => {
    const note = notes.line(c.id, added ?? [])
    if (note !== null) options.log?.(note)
  })
  const r = new Replayer(p, emu, options)
  try {
    await r.begin()
  } catch (error) {
    await r.close()
    throw error
  }
  return r.handle()
}

function listenError(error: unknown, host: string, port: number): MdrecError {
  if (isMdrecError(error)) return error // the feed refused its options: already says what to do
  const e = error as NodeJS.ErrnoException
  const where = `${host}:${port}`
  switch (e?.code) {
    case 'EADDRINUSE':
      return new MdrecError('E_IO', `cannot listen on ${where}: the port is in use; choose another port (0 picks a free one)`, {cause: error})
    case 'EACCES':
      return new MdrecError('E_IO', `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose a port above 1023`, {cause: error})
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new MdrecError('E_USAGE', `cannot listen on ${where}: no such local address; use 127.0.0.1, 0.0.0.0 or an address of this machine`, {cause: error})
    default:
      return new MdrecError('E_IO', `cannot listen on ${where}: ${e?.message ?? String(error)}`, {cause: error})
  }
}
