/**
 * What a feed supplies to the replay engine: its emulated server (the feed's
 * own protocol: connections, subscribe/unsubscribe, wire variants, slow-client
 * policy), given the recordings it serves when it starts, and an encoder
 * that turns a recorded row into the frame a client of a given variant
 * receives. The engine does the rest (reading, merging, clock, speed, loop,
 * fan-out, gaps) the same way for every feed.
 *
 * The frame (`F`) is the feed's own type: the payload together with
 * whatever the emulator needs to route it (Upbit: type, code, stream type,
 * book depth; Binance: stream and depth diff; KIS: TR, key, and the plain
 * text of an encrypted notice; Yahoo and generic: the payload alone, routed
 * by the row's symbol through {@link EmulatorClient.wants}). The engine
 * treats it as opaque: it caches it and passes it back to
 * {@link Emulator.send}, so no feed keeps a side table or parses its own
 * output again. A frame is plain data (a copy of it routes the same).
 *
 * Adding a feed's replay: implement {@link ReplayFeed} next to its adapter
 * (`src/feeds/<name>/replay.ts`, usually on {@link EmulatorAdapter} of
 * `emulator-adapter.ts`) and list it in {@link replayFeed}.
 */
import type {EventEmitter} from 'node:events'
import type {WebSocket} from 'ws'

import {MdrecError} from '../errors.js'
import {binanceReplay} from '../feeds/binance/index.js'
import {genericReplay} from '../feeds/generic/index.js'
import {kisReplay} from '../feeds/kis/index.js'
import {upbitReplay} from '../feeds/upbit/index.js'
import {yahooReplay} from '../feeds/yahoo/replay.js'
import type {RecordingFile} from '../store/reader.js'
import type {ReplayBatch} from './rows.js'

/** One connected client, as the engine sees it. */
export interface EmulatorClient {
  readonly id: number
  readonly ws: WebSocket
  /** Index into the feed's `variants` of the wire format this client asked for. */
  readonly variant: number
  /** How many symbols the client is subscribed to. */
  readonly subscriptions: number
  /** Frames dropped for this client by the 'drop' slow-client policy. */
  readonly dropped: number
  /** Whether a row of `symbol` goes to this client now. `''` is a feed-wide row (e.g. a heartbeat): any subscribed client. */
  wants(symbol: string): boolean
}

export interface EmulatorOptions {
  host: string
  port: number
  /** Per-client send buffer limit before the slow-client policy applies. */
  maxBufferedBytes?: number
  /** A client that stops reading: close it with 1013 ('disconnect') or drop frames for it ('drop'). */
  slowClient?: 'disconnect' | 'drop'
  /** Feed-specific emulator options (`ReplayOptions.emulator`); a feed refuses names it does not know. */
  feed?: Readonly<Record<string, unknown>>
  log?: (line: string) => void
}

/**
 * A running emulated server, sending frames of type `F` (see the module
 * comment). Events: 'connection' (client), 'subscribe' (client, added
 * symbols), 'unsubscribe' (client, removed symbols), 'disconnect' (client),
 * 'slow' (client): the slow-client policy closed it.
 */
export interface Emulator<F = unknown> extends EventEmitter {
  readonly host: string
  readonly port: number
  /** The URL a client uses to get `variant`. */
  url(variant: number): string
  readonly clients: Iterable<EmulatorClient>
  /**
   * Send one frame (as {@link RowEncoder.encode} made it) to `client` if its
   * routing says so, applying the slow-client policy; `cb` is called once it
   * is written to the socket. False when not sent (not routed to this
   * client, nothing to send, closed, dropped, or just disconnected as too slow).
   */
  send(client: EmulatorClient, frame: F, cb?: () => void): boolean
  /** The size `frame` counts for in the replay's byte counts and backpressure: its payload's length (UTF-16 units for a string, bytes otherwise; 0 when it sends nothing). */
  size(frame: F): number
  closeClient(client: EmulatorClient, code: number, reason: string): void
  /** Close every client with `code`, stop listening; clients that do not finish the close handshake are cut after a grace period. */
  close(code: number, reason: string): Promise<void>
}

/** Turns recorded rows of one recording into frames (`F`: payload and routing; never undefined). */
export interface RowEncoder<F = unknown> {
  /**
   * The frame for batch row `i` as a client of `variant` receives it.
   * `shiftNs` (a whole number of ms, ≥ 0) is added to the row's time fields
   * when a loop replays the recording again; 0 means "as recorded": the
   * payload must then be byte-identical to what the feed sent.
   */
  encode(batch: ReplayBatch, i: number, variant: number, shiftNs: number): F
}

/** A feed's replay side, sending frames of type `F` (see the module comment). */
export interface ReplayFeed<F = unknown> {
  readonly name: string
  /** Wire variants the emulator serves (Yahoo: ['v1', 'v2']). */
  readonly variants: readonly string[]
  /** Names of the feed-specific emulator options it takes (`EmulatorOptions.feed`); none when absent. */
  readonly emulatorOptions?: readonly string[]
  /** Start the emulator for `files`, the recordings it will serve (their markets, symbols…: what its REST answers list). */
  listen(options: EmulatorOptions, files: readonly RecordingFile[]): Promise<Emulator<F>>
  /** The variant the recording was made with: clients of it get the recorded bytes as they are. */
  recordedVariant(file: RecordingFile): number
  encoder(file: RecordingFile): RowEncoder<F>
}

const REPLAY_FEEDS: Record<string, ReplayFeed> = {yahoo: yahooReplay, generic: genericReplay, kis: kisReplay, upbit: upbitReplay, binance: binanceReplay}

/** The replay side of a feed, or an MdrecError naming the feeds that have one. */
export function replayFeed(name: string): ReplayFeed {
  const f = REPLAY_FEEDS[name]
  if (!f) {
    throw new MdrecError(
      'E_USAGE',
      `cannot replay a "${name}" recording: no emulator for that feed yet (replayable feeds: ${Object.keys(REPLAY_FEEDS).join(', ')})`,
    )
  }
  return f
}
