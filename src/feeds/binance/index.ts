/** Binance spot market streams (wss://stream.binance.com:9443): adapter for `mdrec record`, emulator for `mdrec replay`. */
export {binanceAdapter, BINANCE_DEFAULT_URL, BINANCE_URL_ENV} from './adapter.js'
export {binanceCodec} from './codec.js'
export {binanceReplay} from './replay.js'
export {BinanceServer, textMessage} from './server.js'
export {syntheticBinanceTape} from './synthetic.js'
