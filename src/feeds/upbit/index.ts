/** The Upbit quotation feed (wss://api.upbit.com/websocket/v1): adapter for `mdrec record`, emulator for `mdrec replay`. */
export {upbitAdapter, UPBIT_DEFAULT_URL, UPBIT_URL_ENV} from './adapter.js'
export {upbitCodec} from './codec.js'
export {upbitReplay} from './replay.js'
export {UpbitServer, rowMessage} from './server.js'
export {syntheticUpbitTape} from './synthetic.js'
