/**
 * Binance spot market stream names (source: Binance's public "WebSocket
 * Streams for Binance", https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams):
 *
 * - `<symbol>@trade`, `<symbol>@aggTrade`, `<symbol>@bookTicker`;
 * - `<symbol>@depth<levels>[@100ms|@1000ms]`, levels 5, 10 or 20 (partial book);
 * - `<symbol>@depth[@100ms|@1000ms]` (diff depth).
 *
 * Symbols are lowercase in stream names ("All symbols for streams are
 * lowercase") and uppercase in payloads (`"s":"BNBBTC"`).
 */

/** What `--types` accepts (the part of a stream name after `<symbol>@`). */
export const STREAM_TYPES = [
  'trade',
  'aggTrade',
  'bookTicker',
  'depth',
  'depth@100ms',
  'depth@1000ms',
  ...[5, 10, 20].flatMap((n) => [`depth${n}`, `depth${n}@100ms`, `depth${n}@1000ms`]),
] as const

/** Message types as stored in the `event` column (`depth`: a partial book, which carries no `e`). */
export type BinanceEvent = 'trade' | 'aggTrade' | 'bookTicker' | 'depthUpdate' | 'depth'

export interface StreamName {
  /** Lowercase symbol as in the name. */
  readonly symbol: string
  /** The part after the first `@` (`depth20@100ms`). */
  readonly type: string
  /** The message type this stream carries. */
  readonly event: BinanceEvent
  /** Partial book levels (5, 10, 20), else undefined. */
  readonly levels?: number
}

const NAME = /^([a-z0-9]{1,32})@(trade|aggTrade|bookTicker|depth(5|10|20)?(@100ms|@1000ms)?)$/

/** Parses a stream name; null when it is not one of the streams mdrec knows. */
export function parseStream(name: string): StreamName | null {
  const m = NAME.exec(name)
  if (!m) return null
  const type = m[2]
  const event: BinanceEvent = type === 'trade' || type === 'aggTrade' || type === 'bookTicker' ? type : m[3] ? 'depth' : 'depthUpdate'
  return {symbol: m[1], type, event, levels: m[3] ? Number(m[3]) : undefined}
}

/**
 * The stream a raw-endpoint message came from, given the streams subscribed
 * (raw-endpoint payloads do not name their stream). Trades, aggregate trades
 * and book tickers name their symbol; a diff update's stream is the
 * subscribed `<symbol>@depth…` one; a partial book names no symbol: it is
 * the only partial stream subscribed, or the only one with its level count.
 * Null when it cannot be told.
 */
export function inferStream(event: BinanceEvent, symbol: string, levels: number, subscribed: readonly StreamName[]): string | null {
  const sym = symbol.toLowerCase()
  if (event === 'trade' || event === 'aggTrade' || event === 'bookTicker') return sym === '' ? null : `${sym}@${event}`
  if (event === 'depthUpdate') {
    const c = subscribed.filter((s) => s.event === 'depthUpdate' && s.symbol === sym)
    return c.length === 1 ? `${c[0].symbol}@${c[0].type}` : sym === '' ? null : `${sym}@depth`
  }
  const partial = subscribed.filter((s) => s.event === 'depth')
  if (partial.length === 1) return `${partial[0].symbol}@${partial[0].type}`
  const same = partial.filter((s) => s.levels === levels)
  return same.length === 1 ? `${same[0].symbol}@${same[0].type}` : null
}
