/**
 * The generic channel JSON feed (docs/feeds/generic.md): `{"type":"subscribe","channel":…}`
 * requests, `{"type":<event>,"channel":…,"data":…,"timestamp":…}` broadcasts.
 * There is no public server: `mdrec record --feed generic` needs `--url` (or
 * MDREC_GENERIC_URL).
 */
import type {FeedDefinition} from '../contract.js'
import {GENERIC_NO_OPTIONS, GENERIC_URL_ENV, genericAdapter} from './adapter.js'
import {REDIS_PASSWORD_ENV, REDIS_SCHEMES} from './redis.js'
import {genericReplay} from './replay.js'

export {genericAdapter, genericCodec, genericControl, redactEndpoint, GENERIC_COLUMNS, GENERIC_URL_ENV, GENERIC_PING_MS, GENERIC_NO_OPTIONS} from './adapter.js'
export {genericReplay, genericEmulatorOptions, type GenericEmulatorOptions} from './replay.js'
export {GENERIC_REPLAY_OPTIONS, genericCompanion, genericEmulatorFlags} from './replay-options.js'
export {GenericServer, clientIdOf, type GenericClient, type GenericServerOptions, type GenericStats} from './server.js'
export {RedisPublisher, RedisSubscription, parseRedisTarget, recordedChannels, REDIS_PASSWORD_ENV, type RedisTarget} from './redis.js'
export {syntheticGenericTape, DEFAULT_CHANNELS, type GenericTapeFrame, type GenericTapeOptions} from './synthetic.js'
export {decodeText, encodeEnvelope, type GenericEnvelope} from './codec.js'

/** The generic channel feed, both sides (src/feeds/contract.ts); listed in src/feeds/registry.ts. */
export const genericFeed: FeedDefinition = {
  ...genericAdapter,
  summary: `SYMBOL... are channels; --url redis://HOST:PORT/PREFIX records the Redis channels PREFIX:SYMBOL instead, a SYMBOL with * ? [ being a pattern: '*' records every channel; password in the URL or ${REDIS_PASSWORD_ENV}, never stored or shown`,
  env: [
    {name: GENERIC_URL_ENV, purpose: "the server's URL: ws://, wss:// or redis://, no default"},
    {name: REDIS_PASSWORD_ENV, purpose: 'the Redis password for a redis:// URL without one', secret: true},
  ],
  options: [],
  refusal: (names) => (names.some((n) => n === 'types' || n === 'format' || n === 'paper') ? GENERIC_NO_OPTIONS : undefined),
  replay: genericReplay,
  urlSchemes: ['ws:', 'wss:', ...REDIS_SCHEMES],
  urlSchemeHelp: Object.fromEntries(REDIS_SCHEMES.map((s) => [s, 'Redis channels PREFIX:<channel>'])),
}
