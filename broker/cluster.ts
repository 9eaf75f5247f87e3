import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { LevelPersistence } from './aedes-patches.ts';
import { type ClusterOptions, redactedRedisUrl } from './cluster-options.ts';

/**
 * Broker nodes that serve one building together (REDIS_URL): each `wesprint broker` is an aedes instance whose
 * state lives in Redis, so a device may connect to any node and move between them.
 *
 * - Routing between nodes: mqemitter-redis (Redis pub/sub). A message published on node A reaches the
 *   subscribers connected to node B through A's PUBLISH to Redis.
 * - Sessions, subscriptions, offline queues, retained messages and wills: aedes-persistence-redis. The node
 *   a message arrives on stores its retained copy and the queue entries of every persistent session
 *   subscribed to it (wherever that session is connected) before the message is routed on.
 *
 * The project's patches (`aedes-patches.ts`) hold as they do for LevelDB: each message's Redis steps in
 * arrival order, PUBACK only once its retained copy and queue entries are in Redis and its PUBLISH to the
 * other nodes has been answered. Redis completes one connection's commands in order, so the queue writes
 * also finish in call order without the patch; it stays as it costs nothing.
 *
 * Every key and every pub/sub channel starts with `keyPrefix`: Redis' pub/sub channels are shared by all its
 * databases, so a database number alone would not keep two installations apart.
 *
 * aedes-persistence-redis 12 against aedes 1.2, what this module adapts:
 * - its retained lookups are async generators, while aedes 1.2 pipes them (`stream.pipe` in
 *   lib/handlers/subscribe.js): every SUBSCRIBE with a retained lookup would throw. They are wrapped in a
 *   Readable here (then `guardRetainedStreams` applies as for LevelDB);
 * - a client's will is kept per node (`will:<node>:<client>`), and aedes deletes the old will on CONNECT with
 *   a key naming no node (its Client has no `brokerId`), so a device that moved from a dead node to another
 *   left its will behind, which a surviving node published minutes later (three missed heartbeats), after
 *   the device's own "online": an "offline" that was not true. Here, a device's CONNECT on any node takes the
 *   wills it left on other nodes: each is published once (the connection it belonged to did end without a
 *   DISCONNECT) before the new session starts, so it comes before anything the device says now;
 * - a persistent session's SUBSCRIBE with several filters waited forever for its SUBACK (see
 *   `addSubscriptions` below);
 * - `destroy` unsubscribes through the emitter aedes has already closed; the Redis connection is closed
 *   whatever that answers.
 */

/** What startBroker gives aedes for a node of a cluster. */
export interface ClusterState {
  persistence: LevelPersistence;
  /** aedes' `mq` option: the emitter that carries messages between the nodes. */
  mq: unknown;
}

interface WillPacket {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

interface RedisPersistence extends LevelPersistence {
  addSubscriptions(client: unknown, subs: object[]): Promise<unknown>;
  createRetainedStreamCombi(patterns: string[]): Readable;
  createRetainedStream(pattern: string): Readable;
  delWill(client: { id: string; brokerId?: string }): Promise<unknown>;
}

const load = createRequire(import.meta.url);
const AsyncRedisPersistence = load('aedes-persistence-redis/asyncPersistence.js') as new (opts: {
  conn: Redis;
}) => RedisPersistence;
const { MQEmitterRedisPrefix } = load('mqemitter-redis') as {
  MQEmitterRedisPrefix: new (
    prefix: string,
    opts: { subConn: Redis; pubConn: Redis; matchEmptyLevels: boolean },
  ) => { state: { on(event: 'error', listener: (err: Error) => void): void } };
};

/** The list of will keys and a will's key, as aedes-persistence-redis 12 names them (asyncPersistence.js). */
const WILLS_KEY = 'will';
const willNode = (key: string) => key.split(':')[1];
const willOwner = (key: string) => decodeURIComponent(key.split(':')[2] ?? '');
// The encoding aedes-persistence-redis stores wills in, from its own dependencies.
const msgpack = createRequire(load.resolve('aedes-persistence-redis/asyncPersistence.js'))(
  'msgpack-lite',
) as { decode(b: Buffer): WillPacket & { brokerId?: string } };

export class ClusterStartError extends Error {
  override name = 'ClusterStartError';
}

/**
 * Connects to Redis (refusing to start when it cannot be reached: a node without the shared state would
 * serve a building of its own) and returns the persistence and emitter for aedes.
 */
export async function openClusterState(options: ClusterOptions, logger: Logger): Promise<ClusterState> {
  const where = redactedRedisUrl(options.redisUrl);
  const connect = async (purpose: string, extra: RedisOptions): Promise<Redis> => {
    const redis = new Redis(options.redisUrl, { lazyConnect: true, connectTimeout: 5000, ...extra });
    let lastError: Error | undefined;
    redis.on('error', (err: Error) => {
      lastError = err;
      logger.warn({ err: err.message, redis: where }, `Redis (${purpose})`);
    });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new ClusterStartError(`cannot reach Redis at ${where}: ${(lastError ?? (err as Error)).message}`);
    }
    return redis;
  };
  // Three connections, each ready before it is used. The emitter's own (mqemitter-redis opens them from a URL
  // and subscribes at once) sometimes had its subscription sent before ioredis' ready check: that check then
  // failed ("Connection in subscriber mode") and the subscription was lost, with every node's broadcast of
  // new subscriptions, and a persistent session's SUBACK waited forever (1 start in 10 or so).
  const conn = await connect('broker state', { keyPrefix: options.keyPrefix });
  const channels: Redis[] = [];
  try {
    channels.push(await connect('between nodes, receiving', {}));
    channels.push(await connect('between nodes, sending', { enableAutoPipelining: true }));
  } catch (err) {
    for (const redis of [conn, ...channels]) redis.disconnect();
    throw err;
  }
  const [subConn, pubConn] = channels as [Redis, Redis];

  const persistence = new AsyncRedisPersistence({ conn });
  const retainedCombi = persistence.createRetainedStreamCombi.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) =>
    Readable.from(retainedCombi(patterns) as unknown as AsyncIterable<unknown>);
  persistence.createRetainedStream = (pattern) => persistence.createRetainedStreamCombi([pattern]);

  // aedes 1.2 stores a SUBSCRIBE's subscriptions once per filter, each time the whole list, side by side
  // (lib/handlers/subscribe.js, `storeSubscriptions`). Each of those calls waits for its broadcast to the
  // other nodes to come back, all under one key (client id and first filter) that only one of them can hold:
  // a persistent session's SUBSCRIBE with two filters or more never got its SUBACK. One call per list here.
  const storing = new WeakMap<object, Promise<unknown>>();
  const addSubscriptions = persistence.addSubscriptions.bind(persistence);
  persistence.addSubscriptions = (client, subs) => {
    let stored = storing.get(subs);
    if (!stored) {
      stored = addSubscriptions(client, subs);
      storing.set(subs, stored);
    }
    return stored;
  };

  let broker: { id: string; publish(packet: WillPacket, done: (err?: Error) => void): void } | undefined;
  const setup = persistence.setup.bind(persistence);
  persistence.setup = async (aedes) => {
    broker = aedes as typeof broker;
    await setup(aedes);
  };
  const delWill = persistence.delWill.bind(persistence);
  persistence.delWill = async (client) => {
    // aedes' own calls after a will was published name its node; a CONNECT names none.
    if (client.brokerId !== undefined || !broker) return delWill(client);
    await publishWillsLeftElsewhere(conn, broker, client.id, logger);
    return undefined;
  };
  const destroy = persistence.destroy.bind(persistence);
  persistence.destroy = async () => {
    try {
      await destroy();
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'Redis persistence closed after the emitter');
    } finally {
      conn.disconnect();
    }
  };

  // The channel prefix ends in a topic level of its own: glued to the first level, it would turn a filter's
  // leading wildcard (`+/online`, `#`) into text, and such a subscription would match nothing.
  const mq = new MQEmitterRedisPrefix(`${options.keyPrefix}mqtt/`, {
    subConn,
    pubConn,
    // [MQTT-4.7.1-3], as aedes sets for its own emitter.
    matchEmptyLevels: true,
  });
  mq.state.on('error', (err) => logger.warn({ err: err.message, redis: where }, 'Redis (between nodes)'));
  logger.info(
    { redis: where, keyPrefix: options.keyPrefix },
    'broker state in Redis, shared with other nodes',
  );
  return { persistence, mq };
}

/**
 * The wills `clientId` left on other nodes: each taken from Redis atomically (so one node publishes it, once)
 * and published before the client's new session goes on.
 */
async function publishWillsLeftElsewhere(
  conn: Redis,
  broker: { id: string; publish(packet: WillPacket, done: (err?: Error) => void): void },
  clientId: string,
  logger: Logger,
): Promise<void> {
  const keys = (await conn.lrange(WILLS_KEY, 0, -1)).filter((key) => willOwner(key) === clientId);
  for (const key of keys) {
    await conn.lrem(WILLS_KEY, 0, key);
    // This node's own: the CONNECT replaces it (a connection still open here publishes its will on close).
    if (willNode(key) === broker.id) {
      await conn.del(key);
      continue;
    }
    const stored = await conn.getdelBuffer(key);
    if (!stored) continue;
    const will = msgpack.decode(stored);
    logger.info({ clientId, topic: will.topic, node: willNode(key) }, 'will left on another node published');
    await new Promise<void>((resolve, reject) =>
      broker.publish(
        { topic: will.topic, payload: Buffer.from(will.payload), qos: will.qos, retain: will.retain },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
}
