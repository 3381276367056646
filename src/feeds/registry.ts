import {MdrecError} from '../errors.js'
import type {SideSource, TieringOptions} from '../record/side.js'
import type {FeedClientSpec} from '../record/supervisor.js'
import type {RecordingMeta} from '../store/schema.js'
import type {FeedCodec} from './types.js'
import {binanceAdapter} from './binance/index.js'
import {genericAdapter} from './generic/index.js'
import {kisAdapter} from './kis/index.js'
import {upbitAdapter} from './upbit/index.js'
import {yahooAdapter} from './yahoo/index.js'

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

/** What `mdrec record` passes to a feed: the symbols and the feed-specific flags. */
export interface ClientOptions {
  symbols: string[]
  /** --url, if given; otherwise the adapter picks (its env variable, then its public endpoint). */
  url?: string
  /** --types (Upbit: ticker,trade,orderbook,candle.1m…; KIS: TR ids such as H0STCNT0). */
  types?: string[]
  /** --format (Upbit: default|simple). */
  format?: string
  /** --paper (KIS: the paper-trading hosts). */
  paper?: boolean
  /** --tiering (KIS: more codes than 41 registrations; the recorder refuses it for other feeds). */
  tiering?: TieringOptions
  /** Where secrets come from (process.env). Never copy them into feedOptions, endpoint, logs or errors. */
  env: NodeJS.ProcessEnv
  /** Status lines for the user (never secrets). */
  log?: (line: string) => void
}

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

const FEEDS: Record<string, FeedAdapter> = {yahoo: yahooAdapter, generic: genericAdapter, kis: kisAdapter, upbit: upbitAdapter, binance: binanceAdapter}

export const FEED_NAMES = Object.keys(FEEDS)

export function getFeed(name: string): FeedAdapter {
  const f = FEEDS[name]
  if (!f) throw new MdrecError('E_USAGE', `unknown feed "${name}"; known feeds: ${FEED_NAMES.join(', ')}`)
  return f
}
