/** The Upbit quotation feed (wss://api.upbit.com/websocket/v1): adapter for `mdrec record`, emulator for `mdrec replay`. */
import {SHARED_OPTION_SUMMARY, type FeedDefinition} from '../contract.js'
import {UPBIT_ACCESS_KEY_ENV, UPBIT_NO_PAPER, UPBIT_SECRET_KEY_ENV, UPBIT_URL_ENV, upbitAdapter} from './adapter.js'
import {upbitReplay} from './replay.js'

export {upbitAdapter, UPBIT_DEFAULT_URL, UPBIT_URL_ENV} from './adapter.js'
export {upbitCodec} from './codec.js'
export {upbitReplay, upbitEmulatorFlags, UPBIT_REPLAY_OPTIONS} from './replay.js'
export {UpbitServer, rowMessage} from './server.js'
export {syntheticUpbitTape} from './synthetic.js'

/** The Upbit feed, both sides (src/feeds/contract.ts); listed in src/feeds/registry.ts. */
export const upbitFeed: FeedDefinition = {
  ...upbitAdapter,
  summary: `--types ticker,trade,orderbook,orderbook.N,candle.1m…, default ticker; --format default|simple (the recorder's request format; replay serves all four); --types myOrder,myAsset records the private endpoint with a JWT signed from ${UPBIT_ACCESS_KEY_ENV}/${UPBIT_SECRET_KEY_ENV}, SYMBOL * for every market`,
  env: [
    {name: UPBIT_URL_ENV, purpose: "the feed's URL, instead of its public endpoint"},
    {name: UPBIT_ACCESS_KEY_ENV, purpose: 'your Upbit Open API access key, for --types myOrder,myAsset', secret: true},
    {name: UPBIT_SECRET_KEY_ENV, purpose: 'its secret key, which signs the JWT', secret: true},
  ],
  options: [
    {name: 'types', kind: 'list', summary: SHARED_OPTION_SUMMARY.types, description: 'ticker,trade,orderbook,candle.1m…'},
    {name: 'format', kind: 'string', summary: SHARED_OPTION_SUMMARY.format, description: 'default|simple'},
  ],
  refusal: (names) => (names.includes('paper') ? UPBIT_NO_PAPER : undefined),
  replay: upbitReplay,
}
