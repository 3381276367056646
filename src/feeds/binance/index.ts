/** Binance spot market streams (wss://stream.binance.com:9443): adapter for `mdrec record`, emulator for `mdrec replay`. */
import {SHARED_OPTION_SUMMARY, type FeedDefinition} from '../contract.js'
import {BINANCE_URL_ENV, binanceAdapter} from './adapter.js'
import {binanceReplay} from './replay.js'

export {binanceAdapter, BINANCE_DEFAULT_URL, BINANCE_URL_ENV} from './adapter.js'
export {binanceCodec} from './codec.js'
export {binanceReplay} from './replay.js'
export {BinanceServer, textMessage} from './server.js'
export {syntheticBinanceTape} from './synthetic.js'

/** The Binance feed, both sides (src/feeds/contract.ts); listed in src/feeds/registry.ts. */
export const binanceFeed: FeedDefinition = {
  ...binanceAdapter,
  summary: 'SYMBOL... are pairs such as BTCUSDT; --types trade,aggTrade,bookTicker,depth@100ms,depth20…, default trade; --format combined|raw picks the /stream or /ws endpoint',
  env: [{name: BINANCE_URL_ENV, purpose: "the feed's URL, instead of its public endpoint"}],
  options: [
    {name: 'types', kind: 'list', summary: SHARED_OPTION_SUMMARY.types, description: 'trade,aggTrade,bookTicker,depth@100ms…'},
    {name: 'format', kind: 'string', summary: SHARED_OPTION_SUMMARY.format, description: 'combined|raw endpoint'},
  ],
  replay: binanceReplay,
}
