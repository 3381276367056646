/**
 * The Korea Investment & Securities (KIS) Open API real-time feed: the
 * adapter `mdrec record --feed kis` uses, the replay side, the emulator and
 * the synthetic traffic generator. See README.md next to this file.
 */
export {
  kisAdapter,
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
