/**
 * The generic feed's `mdrec replay` options (docs/feeds/generic.md): the
 * channel service's limits (--max-connections, --allowed-origins,
 * --heartbeat, --ping-interval/--ping-timeout, --client-id-path), turned
 * into the emulator's options, and --publish redis://HOST:PORT/PREFIX: a
 * {@link ReplayCompanion} that PUBLISHes the shared timeline to Redis
 * through {@link RedisPublisher}.
 */
import {MdrecError} from '../../errors.js'
import {plural} from '../../util/units.js'
import type {FeedOption, ReplayCompanion} from '../contract.js'
import {RedisPublisher, parseRedisTarget, recordedChannels, type RedisTarget} from './redis.js'
import {originOf} from './server.js'

/** `mdrec replay`'s options for generic recordings (flags in the GENERIC help group). */
export const GENERIC_REPLAY_OPTIONS: readonly FeedOption[] = [
  {name: 'max-connections', kind: 'integer', min: 1, description: 'connections open at once; one more is accepted and closed with 1013 (try again later)'},
  {name: 'allowed-origins', kind: 'list', description: 'comma-separated origins (https://app.example) allowed to connect; another Origin gets HTTP 403 (clients sending none are allowed)'},
  {name: 'heartbeat', kind: 'duration', description: 'send {"type":"heartbeat","timestamp":ms} to every client this often'},
  {name: 'ping-interval', kind: 'duration', description: 'send {"type":"ping","timestamp":ms} to every client this often'},
  {name: 'ping-timeout', kind: 'duration', description: 'close with 1011 a client that has not answered a ping with a pong this long (default: --ping-interval)'},
  {name: 'client-id-path', kind: 'boolean', description: 'clients connect to /ws/{client_id}; other paths get HTTP 403, an id in use is closed with 1008'},
  {
    name: 'publish',
    kind: 'string',
    description: 'also PUBLISH every frame of the shared timeline to the Redis channel PREFIX:<channel> (password: in the URL or MDREC_REDIS_PASSWORD)',
    helpValue: 'redis://HOST:PORT/PREFIX',
  },
]

/** `mdrec replay --help`'s paragraph on generic recordings. */
export const GENERIC_REPLAY_HELP =
  "Generic recordings only (the channel service's limits, docs/feeds/generic.md; refused for other feeds): --max-connections (one more is closed with 1013), --allowed-origins (another Origin: HTTP 403), --heartbeat, --ping-interval/--ping-timeout (a client that does not pong is closed with 1011), --client-id-path (clients connect to /ws/{client_id}), and --publish redis://HOST:PORT/PREFIX: every frame of the shared timeline (--clock shared, implied) is also PUBLISHed to the Redis channel PREFIX:<channel>, exactly as the WebSocket sends it (password in the URL or MDREC_REDIS_PASSWORD; never shown). GET /health and GET /stats answer on the same port."

/**
 * The generic emulator's options (`GenericEmulatorOptions`) from `mdrec
 * replay`'s flag values (undefined ones left out); --ping-timeout without
 * --ping-interval is a usage error.
 */
export function genericEmulatorFlags(given: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (given['ping-timeout'] !== undefined && given['ping-interval'] === undefined) {
    throw new MdrecError('E_USAGE', '--ping-timeout needs --ping-interval (the server pings at that interval; a client has --ping-timeout to answer)')
  }
  const origins = given['allowed-origins'] as readonly string[] | undefined
  const o: Record<string, unknown> = {
    maxConnections: given['max-connections'],
    allowedOrigins: origins?.map((x) => originOf(x, '--allowed-origins')),
    heartbeatMs: given.heartbeat,
    pingIntervalMs: given['ping-interval'],
    pongTimeoutMs: given['ping-timeout'],
    clientIdPath: given['client-id-path'] || undefined,
  }
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]
  return o
}

/** --publish: the Redis fan-out of the shared timeline, or undefined without --publish (a bad URL: usage error naming --publish). */
export function genericCompanion(given: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): ReplayCompanion | undefined {
  if (typeof given.publish !== 'string') return undefined
  return new PublishCompanion(parseRedisTarget(given.publish, '--publish', env))
}

class PublishCompanion implements ReplayCompanion {
  readonly clock = 'shared'
  readonly clockConflict = '--publish serves one timeline to Redis: use --clock shared (the default with --publish), not --clock connection'
  private publisher: RedisPublisher | null = null
  private channels: string[] = []
  private log: (line: string) => void = () => {}

  constructor(private readonly target: RedisTarget) {}

  async open(files: Parameters<ReplayCompanion['open']>[0], range: {from?: bigint; to?: bigint}, log: (line: string) => void): Promise<void> {
    this.log = log
    // Redis is reached before listening (a wrong address or password stops here)
    this.publisher = await RedisPublisher.connect(this.target, log)
    this.channels = await recordedChannels(files, range)
  }

  async attach(url: string): Promise<void> {
    await this.publisher!.attach(url, this.channels)
    this.log(`publishing ${plural(this.channels.length, 'channel')} to ${this.target.endpoint} as ${this.target.prefix}:<channel>`)
  }

  async finish(): Promise<{published: number; failed: number}> {
    const published = await this.publisher!.finish()
    const failed = this.publisher!.failed
    this.log(`published ${plural(published, 'frame')} to ${this.target.endpoint}${failed > 0 ? ` (${failed} failed)` : ''}`)
    return {published, failed}
  }

  abort(): void {
    this.publisher?.abort()
  }
}
