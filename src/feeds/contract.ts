/**
 * What a feed is to the rest of mdrec: one {@link FeedDefinition} per feed
 * (exported by `src/feeds/<name>/index.ts`, listed once in
 * `src/feeds/registry.ts`) holding both directions of its protocol: the
 * record side (`client`, `codecFor`: what `mdrec record` and the recorder
 * use) and the replay side (`replay`: the emulator the replay engine runs),
 * the feed's own `mdrec record` and `mdrec replay` options and the
 * environment variables it reads. The recorder (src/record/) and the replay engine (src/replay/)
 * import these interfaces from here; no feed imports them.
 */
import type {EventEmitter} from 'node:events'
import type {WebSocket} from 'ws'

import type {RowInput, Frame, FeedCodec} from './types.js'
import type {RawMode, RecordingMeta} from '../store/schema.js'
import type {RecordingFile} from '../store/reader.js'
import type {BatchRows as ReplayBatch} from '../store/rows.js'

// ─── the record side ──────────────────────────────────────────────────────

/** How one feed is spoken to, as far as the connection goes (the recorder's supervisor keeps it alive). */
export interface FeedClientSpec {
  readonly feed: string
  /** URL to connect to (may carry query parameters the feed needs). */
  readonly url: string
  /** Extra upgrade headers (e.g. Authorization); never logged or recorded. */
  readonly headers?: Record<string, string>
  /**
   * A transport that is not a WebSocket (the generic feed's Redis
   * subscription): a new connection shaped like ws's WebSocket (events open,
   * message, pong, error, close; send, ping, close, terminate, readyState),
   * made for every attempt. Default: a WebSocket to `url`.
   */
  open?(): WebSocket
  /** Messages sent after every (re)connect to subscribe everything. */
  subscribeMessages(): Array<string | Uint8Array>
  /** Messages the feed expects periodically to keep the subscription alive. */
  keepaliveMessages?(): Array<string | Uint8Array>
  readonly keepaliveMs?: number
  /**
   * Frames that belong to the protocol, not the data (acks, heartbeats):
   * return a reply to send, true to swallow it, or false to record it.
   */
  control?(frame: Frame): string | boolean
}

/** What the recorder lends a side source. */
export interface SideIO {
  /** Append a row to the recording (its `recv_ts` should come from {@link nowNs}). Never throws. */
  append(row: RowInput): void
  /** Send a message on the open connection (a change of subscriptions); false when not connected. */
  send(message: string): boolean
  /** The recording's clock: ns since the Unix epoch (monotonic, anchored to UTC). */
  nowNs(): bigint
  /** The recording's --raw mode: whether to keep payloads in `raw`. */
  readonly raw: RawMode
  /** A status line for the user (never secrets). */
  log(line: string): void
}

/**
 * A feed's second source of rows next to its WebSocket connection, run by the
 * recorder for the length of the recording (KIS tiering: the codes polled
 * over REST, and the rebalancing that moves codes between the tiers).
 */
export interface SideSource {
  /** Begin (the connection is being made at the same time). */
  start(io: SideIO): void
  /** Stop and settle what is in flight (bounded); rows appended after this resolves are not expected. */
  stop(): Promise<void>
}

export interface ClientSetup {
  spec: FeedClientSpec
  codec: FeedCodec
  /**
   * The endpoint as stored in the recording and printed in every message
   * (`sanitizeEndpoint` in src/util/redact.ts: no user info, query beyond
   * the feed's allow-list, fragment, or opaque path segment).
   */
  endpoint: string
  /**
   * Masks the secrets this setup knows (the URL's removed parts, KIS
   * credentials) in text that came from the server or a library (close
   * reasons, error messages) before it is logged or stored.
   */
  redact: (text: string) => string
  /** Stored in the recording's `mdrec.feed_options` (no secrets); `codecFor` gets it back. */
  feedOptions: Record<string, unknown>
  /** A second source of rows the recorder runs next to the connection (KIS --tiering: polled REST prices). */
  side?: SideSource
}

/**
 * What `mdrec record` passes to a feed: the symbols, the URL, and the feed's
 * own options by their declared names ({@link FeedOption}: `types`,
 * `format`, `paper`, `tiering`, …; each of the kind declared, checked by
 * `feedOptionValues` in registry.ts before the feed gets them). A feed's
 * `client` types the options it declares (e.g. `UpbitClientOptions`).
 */
export interface ClientOptions {
  symbols: string[]
  /** --url, if given; otherwise the feed picks (its env variable, then its public endpoint). */
  url?: string
  /** Where secrets come from (process.env). Never copy them into feedOptions, endpoint, logs or errors. */
  env: NodeJS.ProcessEnv
  /** Status lines for the user (never secrets). */
  log?: (line: string) => void
  /** The feed's options, by declared name. */
  readonly [option: string]: unknown
}

/** The record side of a feed: what `mdrec record`, `mdrec cat` and the readers use. */
export interface FeedAdapter {
  readonly name: string
  /** The public endpoint, for help texts. */
  readonly defaultUrl: string
  /** Environment variable that overrides the default URL. */
  readonly urlEnv: string
  /** Feed columns `mdrec cat` shows in its table view by default. */
  readonly displayColumns: readonly string[]
  /**
   * Build the client side for `mdrec record`: resolve the URL, check the
   * options (throw MdrecError('E_USAGE', …) naming the bad value and the valid
   * forms), fetch what the feed needs before connecting (KIS: the approval
   * key), and describe subscribe/keep-alive/control handling.
   */
  client(opts: ClientOptions): Promise<ClientSetup>
  /** The codec that reads rows of a recording made by this feed. */
  codecFor(meta: RecordingMeta): FeedCodec
}

/**
 * One option a feed takes: an `mdrec record` option ({@link FeedDefinition.options})
 * or an `mdrec replay` option ({@link ReplayFeed.options}). The command makes a flag
 * `--<name>` of it (one flag for every feed that declares the name, all
 * declaring it with the same kind) and passes the value on under `name`.
 */
export interface FeedOption {
  /** The flag and option name: `types` (--types), `poll-interval` (--poll-interval). */
  readonly name: string
  /**
   * The value's kind: 'string' (as typed), 'list' (comma-separated: a
   * string[] of the trimmed non-empty items), 'boolean' (true when given),
   * 'duration' (90s, 1m: a number of ms), 'integer' (a whole number, at
   * least {@link min}).
   */
  readonly kind: 'string' | 'list' | 'boolean' | 'duration' | 'integer'
  /** What it does for this feed; the flag's help lists it as `<feed>: <description>`. Empty: the summary says it all. */
  readonly description: string
  /** The flag's help before the feeds' descriptions, when the flag is shared by feeds or needs no feed prefix. */
  readonly summary?: string
  /** Other options of the same feed this one needs (`poll-interval` needs `tiering`). */
  readonly dependsOn?: readonly string[]
  /** The default as the help shows it (the feed applies it). */
  readonly defaultHelp?: string
  /** 'integer': the smallest value taken. */
  readonly min?: number
  /** 'boolean': `--no-<name>` is taken too (the value is then false; absent: undefined). */
  readonly allowNo?: boolean
  /** The value's placeholder in the help (`redis://HOST:PORT/PREFIX`); default: the kind's. */
  readonly helpValue?: string
}

/** The help of the options several feeds declare under one name (each adds what it means for it). */
export const SHARED_OPTION_SUMMARY = {
  types: 'feed-specific message types, comma-separated',
  format: 'feed-specific wire format',
} as const

/** An environment variable a feed reads. */
export interface FeedEnvVar {
  readonly name: string
  /** What it is for (a secret's value is never stored or shown). */
  readonly purpose: string
  readonly secret?: boolean
}

// ─── the replay side ──────────────────────────────────────────────────────

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
  /** Whether a row of `symbol` goes to this client now. `''` is a feed-wide row (e.g. a heartbeat): any subscribed client. A change of the answer comes with an event (see {@link Emulator}). */
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
 * A running emulated server, sending frames of type `F`: the feed's own
 * type, the payload together with whatever the emulator needs to route it
 * (Upbit: type, code, stream type, book depth; Binance: stream and depth
 * diff; KIS: TR, key, and the plain text of an encrypted notice; Yahoo and
 * generic: the payload alone, routed by the row's symbol through
 * {@link EmulatorClient.wants}). The engine treats a frame as opaque: it
 * caches it and passes it back to {@link Emulator.send}, so no feed keeps a
 * side table or parses its own output again. A frame is plain data (a copy
 * of it routes the same). Events: 'connection' (client), 'subscribe'
 * (client, added symbols), 'unsubscribe' (client, removed symbols),
 * 'interest' (no arguments): what {@link EmulatorClient.wants} answers
 * changed for a reason other than a subscription (KIS: a REST client
 * appeared, and rows of every code now pass), 'disconnect' (client),
 * 'slow' (client): the slow-client policy closed it. The engine caches
 * `wants` per batch and asks again only after one of 'subscribe',
 * 'unsubscribe', 'interest' or 'disconnect': an emulator whose `wants`
 * depends on anything else must emit 'interest' when that changes.
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
  /**
   * Optional, with {@link RowEncoder.writer}: send the payload `payload`
   * writes, as {@link send} sends a frame of that payload (same routing,
   * policy, callback and bytes on the wire), written straight into the
   * socket's buffer where the emulator can. Its size is `payload.byteLength`.
   */
  sendWritten?(client: EmulatorClient, payload: PayloadWriter, cb?: () => void): boolean
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
  /**
   * Optional, for a feed whose frame is its payload alone and whose emulator
   * has {@link Emulator.sendWritten}: the payload of `encode(batch, i,
   * variant, shiftNs)`, to be written in place rather than made and copied
   * (the engine uses it for a frame it sends to one client and neither caches
   * nor shares). Throws what `encode` throws. The writer is valid until the
   * encoder's next call.
   */
  writer?(batch: ReplayBatch, i: number, variant: number, shiftNs: number): PayloadWriter
}

/**
 * A payload written straight into the buffer it goes out from (a socket's
 * burst), instead of made and then copied there: `byteLength` bytes, which
 * `writeTo(dst, at)` writes into `dst[at, at + byteLength)`. `writeTo`
 * never throws (whatever can fail is done before the writer is handed out).
 */
export interface PayloadWriter {
  readonly byteLength: number
  writeTo(dst: Buffer, at: number): void
}

/**
 * What a feed supplies to the replay engine: its emulated server (the feed's
 * own protocol: connections, subscribe/unsubscribe, wire variants, slow-client
 * policy), given the recordings it serves when it starts, and an encoder
 * that turns a recorded row into the frame (`F`, see {@link Emulator}) a
 * client of a given variant receives. The engine does the rest (reading,
 * merging, clock, speed, loop, fan-out, gaps) the same way for every feed.
 * Usually built on `EmulatorAdapter` (src/feeds/emulator-adapter.ts).
 */
export interface ReplayFeed<F = unknown> {
  readonly name: string
  /** What the feed calls the values of the `symbol` column, in replay's messages (generic: 'channel'); 'symbol' when absent. */
  readonly symbolNoun?: string
  /** Wire variants the emulator serves (Yahoo: ['v1', 'v2']). */
  readonly variants: readonly string[]
  /** Names of the feed-specific emulator options it takes (`EmulatorOptions.feed`); none when absent. */
  readonly emulatorOptions?: readonly string[]
  /**
   * The `mdrec replay` options this feed takes (each becomes a flag in the
   * help group of the feed's name in capitals; given for a recording of
   * another feed: a usage error). Their values, by name (a 'list' already
   * split, an absent one undefined), reach {@link emulatorFlags} and
   * {@link companion}.
   */
  readonly options?: readonly FeedOption[]
  /** A paragraph of `mdrec replay --help` on what replaying this feed does and its options. */
  readonly help?: string
  /**
   * `mdrec replay`'s option values (`given`, by option name), the
   * environment (secrets: never logged) → `EmulatorOptions.feed`. Throws
   * MdrecError('E_USAGE') naming a flag for a combination it refuses. Called
   * before the range is checked and the emulator starts; `log` gets status
   * lines (never secrets).
   */
  emulatorFlags?(given: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv, log: (line: string) => void): Record<string, unknown>
  /**
   * Something the feed runs beside its emulator for some of its options
   * (generic --publish: a Redis fan-out of the shared timeline), or
   * undefined when none of them is given. Parses `given` (throws
   * MdrecError('E_USAGE') naming the flag); does no I/O.
   */
  companion?(given: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): ReplayCompanion | undefined
  /** Start the emulator for `files`, the recordings it will serve (their markets, symbols…: what its REST answers list). */
  listen(options: EmulatorOptions, files: readonly RecordingFile[]): Promise<Emulator<F>>
  /** The variant the recording was made with: clients of it get the recorded bytes as they are. */
  recordedVariant(file: RecordingFile): number
  encoder(file: RecordingFile): RowEncoder<F>
}

/**
 * What a feed runs beside its emulator during `mdrec replay` (see
 * {@link ReplayFeed.companion}). The command calls {@link open} before the
 * emulator listens, {@link attach} once it does, and {@link finish} after
 * the replay ends ({@link abort} instead when starting failed).
 */
export interface ReplayCompanion {
  /** The clock it needs: the command uses it unless another is given, and then refuses with {@link clockConflict}. */
  readonly clock?: 'connection' | 'shared'
  /** The usage error for a --clock other than {@link clock}. */
  readonly clockConflict?: string
  /** Reach what it serves before the emulator listens (a wrong address or password stops here); `files` are the recordings, `range` the receive-time range replayed. */
  open(files: readonly RecordingFile[], range: {from?: bigint; to?: bigint}, log: (line: string) => void): Promise<void>
  /** Start serving from the running emulator at `url` (logs what it serves). */
  attach(url: string): Promise<void>
  /** After the replay ended: flush what is pending, close, log the outcome, and say how many frames it published and how many failed. */
  finish(): Promise<{published: number; failed: number}>
  /** Close at once (starting failed). */
  abort(): void
}

// ─── one feed ─────────────────────────────────────────────────────────────

/**
 * A feed, both sides: the record side ({@link FeedAdapter}), the replay side
 * ({@link ReplayFeed}), its `mdrec record` options and environment
 * variables, and one line for the record command's "Feeds:" help.
 */
export interface FeedDefinition extends FeedAdapter {
  /** One line for `mdrec record --help` ("Feeds: yahoo (<summary>); …"): what SYMBOL... are and what its options pick. */
  readonly summary: string
  /** The `mdrec record` options this feed takes (each becomes a flag; any other feed option is refused). */
  readonly options: readonly FeedOption[]
  /** Every environment variable the feed reads: its URL variable ({@link FeedAdapter.urlEnv}) and its secrets. */
  readonly env: readonly FeedEnvVar[]
  /**
   * The usage error for options of other feeds given to this one (names
   * without dashes), when the feed words it itself; default: "--X is for
   * --feed Y; the Z feed takes no --X".
   */
  refusal?(names: readonly string[]): string | undefined
  /** The replay side; absent: its recordings cannot be replayed yet. */
  readonly replay?: ReplayFeed
  /** The URL schemes `mdrec record --url` takes for this feed; default ['ws:', 'wss:']. */
  readonly urlSchemes?: readonly string[]
  /** What a scheme of {@link urlSchemes} beyond ws:/wss: reaches, for the usage error of another feed given it (`redis:` → 'Redis channels PREFIX:<channel>'). */
  readonly urlSchemeHelp?: Readonly<Record<string, string>>
}
