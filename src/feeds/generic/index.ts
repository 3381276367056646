/**
 * The generic channel JSON feed (docs/feeds/generic.md): `{"type":"subscribe","channel":…}`
 * requests, `{"type":<event>,"channel":…,"data":…,"timestamp":…}` broadcasts.
 * There is no public server: `mdrec record --feed generic` needs `--url` (or
 * MDREC_GENERIC_URL).
 */
export {genericAdapter, genericCodec, genericControl, redactEndpoint, GENERIC_COLUMNS, GENERIC_URL_ENV, GENERIC_PING_MS} from './adapter.js'
export {genericReplay, genericEmulatorOptions, type GenericEmulatorOptions} from './replay.js'
export {GenericServer, clientIdOf, type GenericClient, type GenericServerOptions, type GenericStats} from './server.js'
export {RedisPublisher, RedisSubscription, parseRedisTarget, recordedChannels, REDIS_PASSWORD_ENV, type RedisTarget} from './redis.js'
export {syntheticGenericTape, DEFAULT_CHANNELS, type GenericTapeFrame, type GenericTapeOptions} from './synthetic.js'
export {decodeText, encodeEnvelope, type GenericEnvelope} from './codec.js'
