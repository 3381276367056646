/**
 * The Korea Investment & Securities (KIS) Open API real-time feed: the
 * adapter `mdrec record --feed kis` uses, the replay side, the emulator and
 * the synthetic traffic generator. See README.md next to this file.
 */
import {SHARED_OPTION_SUMMARY, type FeedDefinition} from '../contract.js'
import {KIS_APP_KEY_ENV, KIS_APP_SECRET_ENV, KIS_NO_FORMAT, KIS_REST_URL_ENV, KIS_URL_ENV, kisAdapter} from './adapter.js'
import {kisReplay} from './replay.js'

export {
  kisAdapter,
  KIS_NO_FORMAT,
  type KisClientOptions,
  kisClient,
  kisCodec,
  kisControl,
  fetchApprovalKey,
  planRegistrations,
  resolveKisUrls,
  KisSession,
  SecretGuard,
  KIS_APP_KEY_ENV,
  KIS_APP_SECRET_ENV,
  KIS_APPROVAL_PATH,
  KIS_MAX_REGISTRATIONS,
  KIS_PAPER_REST,
  KIS_PAPER_WS,
  KIS_REAL_REST,
  KIS_REAL_WS,
  KIS_REST_URL_ENV,
  KIS_URL_ENV,
  type KisCodec,
  type Registration,
} from './adapter.js'
export {KIS_REJECT_CODES, ackText, decodeKisFrame, decryptPayload, encryptPayload, frameText, pingpongText, requestText, type KisRejectCode} from './codec.js'
export {TRS, TR_BY_ID, kisColumns, type TrSpec} from './layouts.js'
export {kisReplay, KisRowEncoder, KIS_PINGPONG_ENV} from './replay.js'
export {KisServer, OPSP, type KisClient, type KisServerOptions} from './server.js'
export {syntheticKisTape, kisSyntheticSymbols, krxTick, KIS_DEFAULT_START_NS, KIS_SYNTHETIC_CODES, type KisSyntheticOptions, type KisTapeFrame} from './synthetic.js'
export {KisProbe, postApproval} from './probe.js'

/** The KIS feed, both sides (src/feeds/contract.ts); listed in src/feeds/registry.ts. */
export const kisFeed: FeedDefinition = {
  ...kisAdapter,
  summary: `--types H0STCNT0,H0STASP0…, default the trades TR of each code's market (H0STCNT0 for KRX codes, HDFSCNT0 for overseas symbols), approval key from ${KIS_APP_KEY_ENV}/${KIS_APP_SECRET_ENV}, --paper; at most 41 registrations, or --tiering to poll the codes past them over REST`,
  env: [
    {name: KIS_URL_ENV, purpose: 'the WebSocket URL, instead of the official real-trading host (or the paper-trading one with --paper)'},
    {name: KIS_REST_URL_ENV, purpose: 'the REST base URL for the approval key and --tiering, default the official host of the WebSocket URL'},
    {name: KIS_APP_KEY_ENV, purpose: 'your KIS Open API app key, exchanged for an approval key, never stored', secret: true},
    {name: KIS_APP_SECRET_ENV, purpose: 'its app secret', secret: true},
  ],
  options: [
    {name: 'types', kind: 'list', summary: SHARED_OPTION_SUMMARY.types, description: 'TR ids such as H0STCNT0,H0STASP0'},
    {name: 'paper', kind: 'boolean', description: 'use the paper-trading hosts'},
    {
      name: 'tiering',
      kind: 'boolean',
      description:
        'more codes than 41 registrations: the first (given order, or --priority) take the WebSocket registrations, the rest are polled over REST (current price, within 20 requests/s, 2 with --paper), rebalanced by activity; rows say their tier',
    },
    {name: 'poll-interval', kind: 'duration', summary: 'with --tiering: ask for each polled code this often (the REST rate limit may make it slower)', description: '', dependsOn: ['tiering'], defaultHelp: '1s'},
    {name: 'rebalance-every', kind: 'duration', summary: 'with --tiering: promote the most active polled codes and demote the quietest registered ones this often', description: '', dependsOn: ['tiering'], defaultHelp: '60s'},
    {name: 'priority', kind: 'string', summary: 'with --tiering: a file of codes, one per line, most important first (they take the registrations first)', description: '', dependsOn: ['tiering']},
  ],
  refusal: (names) => (names.includes('format') ? KIS_NO_FORMAT : undefined),
  replay: kisReplay,
}
