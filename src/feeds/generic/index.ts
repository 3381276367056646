/**
 * The generic channel JSON feed (docs/feeds/generic.md): `{"type":"subscribe","channel":…}`
 * requests, `{"type":<event>,"channel":…,"data":…,"timestamp":…}` broadcasts.
 * There is no public server: `mdrec record --feed generic` needs `--url` (or
 * MDREC_GENERIC_URL).
 */
export {genericAdapter, genericCodec, genericControl, redactEndpoint, GENERIC_COLUMNS, GENERIC_URL_ENV, GENERIC_PING_MS} from './adapter.js'
export {genericReplay} from './replay.js'
export {GenericServer, type GenericClient, type GenericServerOptions} from './server.js'
export {syntheticGenericTape, DEFAULT_CHANNELS, type GenericTapeFrame, type GenericTapeOptions} from './synthetic.js'
export {decodeText, encodeEnvelope, type GenericEnvelope} from './codec.js'
