import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { Level } from 'level';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { clientNetwork, type GuessThrottleRule } from '../access/guess-throttle.ts';
import { levelsMatch } from '../building/topic-filter.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { arrivalClock } from '../journal/arrival-clock.ts';
import { JOURNAL_FEED_TOPIC } from '../journal/forwarded-entry.ts';
import type { Appended, ArrivingMessage, MessageJournal, MessageSender } from '../journal/journal.ts';
import type { Secrets } from '../site/credentials.ts';
import type { SiteNetwork } from '../site/network.ts';
import type { SiteConfig } from '../site/site.ts';
import { type AccountTable, loadAccounts } from './accounts.ts';
import {
  type AccountRole,
  anonymousGrant,
  type Decision,
  deviceCommandFilters,
  type Grant,
  grantFor,
  mayPublish,
  mayReceive,
  maySubscribe,
  unknownProfiles,
} from './acl.ts';
import {
  type ArrivalJournal,
  AsyncLevelPersistence,
  clientHoldingId,
  guardRetainedStreams,
  keepGrantedSubscriptionsOnly,
  limitPacketSize,
  listenersOnThisNode,
  markRedeliveriesDup,
  parseWithoutDebugCalls,
  resolveQueueWritesInOrder,
  routeInArrivalOrder,
  sendConnackFirst,
  skipAcknowledgedWhileQueued,
} from './aedes-patches.ts';
import type { ClusterOptions } from './cluster-options.ts';
import { type JournalFeed, startJournalFeed } from './journal-feed.ts';
import { MqttSignInThrottle, type ThrottleChange } from './sign-in-throttle.ts';

/**
 * The building's MQTT broker (aedes): MQTT 3.1.1 over TCP and WebSocket, per-device accounts, topic ACLs,
 * durable sessions on disk, and an audit trail of every refusal and every accepted connection.
 *
 * A refused PUBLISH is acknowledged and dropped (as Mosquitto does), not answered by a disconnect (aedes'
 * default): a sensor misconfigured to a wrong topic would otherwise reconnect in a loop, flapping its
 * online state and costing a password verification per cycle. The refusal is audited (once per topic
 * and connection) and counted, and the message reaches nobody.
 */

export interface BrokerOptions {
  /** The site file, or the sites of a network (SITES_DIR: accounts `<site>/<device>`, site/network.ts). */
  site: SiteConfig | SiteNetwork;
  secrets: Secrets;
  profiles: Map<string, DeviceProfile>;
  /** Sessions, queued messages and retained messages live in `<dataDir>/broker`; the audit log beside it. */
  dataDir: string;
  host: string;
  /** 0 = ephemeral. */
  port: number;
  /** 0 = ephemeral; null = no WebSocket listener. */
  wsPort: number | null;
  /** Lab mode (BROKER_ALLOW_ANONYMOUS=true): clients without user name get an open, conformant broker. */
  allowAnonymous: boolean;
  /** Lab mode: filters anonymous clients may not subscribe to (BROKER_DENY_SUBSCRIBE). */
  denySubscribe?: string[];
  logger: Logger;
  /** Waits after failed MQTT sign-ins (default MQTT_SIGN_IN_THROTTLE). */
  signInThrottle?: GuessThrottleRule;
  /** The application's clock (epoch ms) for those waits and for a journaled message's arrival; default Date.now. */
  now?: () => number;
  /** A node of a cluster (REDIS_URL): sessions, queues and retained messages in Redis, not in dataDir. */
  cluster?: ClusterOptions;
  /**
   * The journal of device messages (issue 10, `wesprint start`): every message of a device (a client that is
   * not a service account, lab-mode clients included) on a topic of a device profile's `subscriptions`, and
   * every will published for one, is appended at its arrival, and a device's QoS 1 message is acknowledged
   * only once it is in the journal. Opened and closed by the caller, after `close()` has resolved.
   */
  journal?: MessageJournal;
  /**
   * With a journal, a stand-alone `wesprint broker` (the gateway in another process): every journaled entry is
   * forwarded, in journal order, to the site's feed topic (journal/forwarded-entry.ts, broker/journal-feed.ts),
   * named by this origin, and the gateway's account reads the devices' messages there only. Without it (the
   * in-process gateway of `wesprint start` reads the journal itself) nothing is forwarded.
   */
  journalFeed?: { origin: string };
}

export interface BrokerStats {
  connectsAccepted: number;
  connectsRefused: number;
  /** Of those, refused without a password check because of earlier failed sign-ins. */
  connectsThrottled: number;
  publishesRefused: number;
  subscriptionsRefused: number;
  /** Messages not delivered to a client because its account may not read the topic. */
  deliveriesWithheld: number;
  clients: number;
  /** Device messages appended to the journal, retransmissions it recognised, appends that failed. */
  journaled: number;
  journalDuplicates: number;
  journalFailures: number;
}

export interface RunningBroker {
  port: number;
  /** null when started without a WebSocket listener. */
  wsPort: number | null;
  aedes: Aedes;
  stats(): BrokerStats;
  /**
   * The retained messages whose topics match any of `filters`, once each, as the broker's store has them now
   * (what a new subscription would be replayed): how the in-process gateway, which reads the journal instead
   * of subscribing, learns at start which devices announced themselves offline.
   */
  retained(filters: string[]): Promise<{ topic: string; payload: Buffer }[]>;
  /**
   * Routes a QoS 0 message this process publishes itself (the in-process gateway's readings) to the
   * subscribers, as aedes routes any other (in arrival order, each subscriber's ACL on delivery): without an
   * MQTT connection, so without serialising, parsing and an ACL decision per message, and never journaled
   * (it is not a device's). Nothing once the broker is closing, nor (one node) when nobody on this broker
   * listens to `topic`: a payload given as a function is then not even made.
   */
  publishOwn(topic: string, payload: string | (() => string)): void;
  close(): Promise<void>;
}

/** A start failure the operator can fix; its message is one line and it prints without a stack. */
export class BrokerStartError extends Error {
  override name = 'BrokerStartError';
  constructor(message: string) {
    super(message);
    this.stack = `${this.name}: ${message}`;
  }
}

export class PortInUseError extends BrokerStartError {
  override name = 'PortInUseError';
  constructor(
    message: string,
    readonly port: number,
  ) {
    super(message);
    this.stack = `${this.name}: ${message}`;
  }
}

/** Larger MQTT packets are refused: the building's payloads are small JSON documents. */
export const MAX_PACKET_BYTES = 256 * 1024;
/** A subscriber whose socket does not drain within this time is disconnected instead of stalling everyone. */
export const DRAIN_TIMEOUT_MS = 10_000;
const DECISION_CACHE_LIMIT = 1024;

/** What the broker knows about one connected client. */
interface Session {
  username: string | null;
  grant: Grant;
  ip: string;
  /** Per-topic decisions: a device publishes to few topics, so the ACL runs once per topic, not per message. */
  publishDecisions: Map<string, Decision>;
  forwardDecisions: Map<string, boolean>;
  auditedPublishRefusals: Set<string>;
  /** A device's (not a service account's) messages on the profiles' topics go into the journal. */
  device: boolean;
  /** The gateway's service account. */
  gateway: boolean;
  /** This connection's number for the journal's message identity (see `connectionNumbers`). */
  connection: number;
  journalTopics: Map<string, boolean>;
}

interface AuditEntry {
  what: 'connect' | 'publish' | 'subscribe' | 'sign-in-throttle';
  who: string | null;
  clientId?: string;
  ip: string;
  decision: 'allow' | 'deny';
  reason: string;
  topic?: string;
  scope?: string;
  failures?: number;
  refused?: number;
}

function remoteAddress(client: Client): string {
  return client.req?.socket.remoteAddress ?? (client.conn as net.Socket).remoteAddress ?? 'unknown';
}

function cached<V>(cache: Map<string, V>, key: string, compute: () => V): V {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= DECISION_CACHE_LIMIT) cache.clear();
    value = compute();
    cache.set(key, value);
  }
  return value;
}

function authError(message: string, returnCode: AuthenticateError['returnCode']): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

function listen(server: net.Server, port: number, host: string, portInUse: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(portInUse, port) : err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Numbers for the broker's connections, increasing across restarts (the journal tells a retransmission from
 * a packet id reused on a later connection by them, journal.ts `MessageSender.connection`): this run's epoch,
 * one more than the last run's (kept in `<dataDir>/broker-connections`, on disk before the first client is
 * taken), times 2^32, plus a count of this run's connections. Not the clock: a clock can be set back (faketime
 * starts every process at the same instant).
 */
function connectionNumbers(dataDir: string): () => number {
  const file = path.join(dataDir, 'broker-connections');
  let last = 0;
  try {
    last = Number.parseInt(fs.readFileSync(file, 'utf8'), 10) || 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const epoch = last + 1;
  const temporary = `${file}.tmp`;
  const fd = fs.openSync(temporary, 'w', 0o600);
  try {
    fs.writeSync(fd, `${epoch}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
  const dir = fs.openSync(dataDir, 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
  let count = 0;
  return () => epoch * 2 ** 32 + ++count;
}

async function openStore(dir: string): Promise<Level<string, Buffer>> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = new Level<string, Buffer>(dir, { valueEncoding: 'buffer' });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED')
      throw new BrokerStartError(`broker data in ${dir} is in use by another running broker`);
    throw new BrokerStartError(`cannot open broker data in ${dir}: ${(err as Error).message}`);
  }
  return db;
}

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const { site, profiles, logger } = options;
  const missing = unknownProfiles(site, profiles);
  if (missing.length > 0)
    throw new BrokerStartError(`site file names unknown device profiles: ${missing.slice(0, 5).join(', ')}`);

  let accounts: AccountTable;
  try {
    accounts = loadAccounts(site, options.secrets);
  } catch (err) {
    throw new BrokerStartError((err as Error).message);
  }
  const feedTopic = options.journal && options.journalFeed ? JOURNAL_FEED_TOPIC : undefined;
  const grants = new Map<string, Grant>();
  // Once for every account: the command topics of every device of every site.
  const commandFilters = deviceCommandFilters(site, profiles);
  for (const username of accounts.usernames()) {
    const role = accounts.get(username)?.role as AccountRole;
    grants.set(username, grantFor(role, site, profiles, [], commandFilters, feedTopic));
  }
  /** The device topics' filters, which the gateway's account reads from the feed instead (see gatewayGrant). */
  const readFromFeed = new Set(feedTopic ? [...profiles.values()].flatMap((p) => p.subscriptions) : []);
  const labGrant = anonymousGrant(site, profiles, options.denySubscribe ?? []);

  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const journal = options.journal;
  let nextConnection = (() => {
    let count = 0;
    return () => ++count;
  })();
  if (journal) {
    try {
      nextConnection = connectionNumbers(options.dataDir);
    } catch (err) {
      throw new BrokerStartError(
        `cannot write ${options.dataDir}/broker-connections: ${(err as Error).message}`,
      );
    }
  }
  const audit = fs.createWriteStream(path.join(options.dataDir, 'broker-audit.log'), { flags: 'a' });
  audit.on('error', (err) => logger.error({ err }, 'broker audit log cannot be written'));
  const counters = {
    connectsAccepted: 0,
    connectsRefused: 0,
    connectsThrottled: 0,
    publishesRefused: 0,
    subscriptionsRefused: 0,
    deliveriesWithheld: 0,
    journaled: 0,
    journalDuplicates: 0,
    journalFailures: 0,
  };
  const record = (entry: AuditEntry) => {
    audit.write(`${JSON.stringify({ ts: new Date().toISOString(), ...entry })}\n`);
  };

  const now = options.now ?? Date.now;
  // Each change of state once, in the log and the audit trail; the refusals in between are only counted.
  const throttle = new MqttSignInThrottle({
    ...(options.signInThrottle ? { rule: options.signInThrottle } : {}),
    onChange: (c: ThrottleChange) => {
      const where = { scope: c.scope, who: c.username, ip: c.address, failures: c.failures };
      record({
        what: 'sign-in-throttle',
        who: c.username,
        ip: c.address ?? '',
        decision: c.state === 'held' ? 'deny' : 'allow',
        reason: c.state === 'held' ? 'held back after failed sign-ins' : 'free again',
        scope: c.scope,
        failures: c.failures,
        ...(c.state === 'free' ? { refused: c.refused } : {}),
      });
      if (c.state === 'held') logger.warn(where, 'MQTT sign-in: held back after failed attempts');
      else logger.info({ ...where, refused: c.refused }, 'MQTT sign-in: no longer held back');
    },
  });
  // One node: LevelDB in DATA_DIR/broker. A node of a cluster: Redis, shared with the others (cluster.ts).
  const cluster = options.cluster
    ? await (await import('./cluster.ts')).openClusterState(options.cluster, logger).catch((err: Error) => {
        throw new BrokerStartError(err.message);
      })
    : undefined;
  const store =
    cluster?.persistence ?? new AsyncLevelPersistence(await openStore(path.join(options.dataDir, 'broker')));
  // Innermost: a queue entry acknowledged meanwhile is no error for the ordering of the writes either.
  const acknowledgedWhileQueued = skipAcknowledgedWhileQueued(store);
  const persistence = markRedeliveriesDup(
    resolveQueueWritesInOrder(guardRetainedStreams(store, options.logger)),
  );
  const sessions = new WeakMap<Client, Session>();
  /** The retained messages whose topics match any of `filters`, once each, as the store has them now. */
  const retainedMatching = async (filters: string[]) => {
    const found = new Map<string, Buffer>();
    for await (const packet of persistence.createRetainedStreamCombi(filters) as AsyncIterable<{
      topic: string;
      payload: Buffer | string;
    }>) {
      // One stream per filter, one after another: a topic two filters match comes twice.
      if (!found.has(packet.topic)) found.set(packet.topic, Buffer.from(packet.payload));
    }
    return [...found].map(([topic, payload]) => ({ topic, payload }));
  };
  // A client the broker knows nothing of (none in this process) is left to aedes.
  keepGrantedSubscriptionsOnly(persistence, (client, topic) => {
    const session = sessions.get(client);
    return session === undefined || maySubscribe(session.grant, topic).allowed;
  });
  // The topics of device messages: what the gateway subscribes to (every profile's `subscriptions`).
  const deviceFilters = [...new Set([...profiles.values()].flatMap((p) => p.subscriptions))].map((f) =>
    f.split('/'),
  );
  const onDeviceTopic = (topic: string) => {
    const levels = topic.split('/');
    return deviceFilters.some((filter) => levelsMatch(filter, levels));
  };
  // A reading without a time of its own is stamped with its arrival, and a store keeps one row per series and
  // millisecond: a device's messages read off its socket together must not share one.
  const arrival = arrivalClock(now);
  let feed: JournalFeed | undefined;
  /** With the feed: the device's PUBACK once its message (or the original of a retransmission) is forwarded. */
  const afterForwarded =
    (packet: PublishPacket, callback: (err?: Error | null) => void) => (err?: Error | null) => {
      const appended = appendedOf.get(packet);
      if (err || !appended || !feed) return callback(err);
      const forwarding = feed;
      appended
        .then((a) => forwarding.forwarded(a.seq))
        .then(
          () => callback(null),
          (failed: Error) => callback(failed),
        );
    };
  /** A device's QoS 1 message's append (with the feed, its PUBACK waits for the entry to be forwarded too). */
  const appendedOf = new WeakMap<PublishPacket, Promise<Appended>>();
  /** Which messages are a device's, and how they go into the journal (routing decides when they are acknowledged). */
  const arrivalJournal = (journal: MessageJournal): ArrivalJournal => ({
    committedAtStart: journal.committed(),
    append(packet, client) {
      let sender: MessageSender | undefined;
      if (client) {
        const session = sessions.get(client);
        if (!session?.device) return undefined;
        if (!cached(session.journalTopics, packet.topic, () => onDeviceTopic(packet.topic))) return undefined;
        // A will has no packet id (no `cmd`): nobody to answer.
        if (packet.cmd === 'publish' && packet.qos > 0)
          sender = {
            clientId: client.id,
            connection: session.connection,
            messageId: packet.messageId ?? 0,
            dup: packet.dup === true,
          };
      } else if (!onDeviceTopic(packet.topic)) {
        // Without a client: a will left by an earlier run (its topic vetted by its owner's grant at connect,
        // and no service has a device topic in its grant) or aedes' own $SYS messages (never a device topic).
        return undefined;
      }
      const message: ArrivingMessage = {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        receivedAt: arrival(packet.topic),
        // A device's own publish, retain flag or not, is live news; replays are for subscriptions only.
        retainedReplay: false,
        ...(sender ? { sender } : {}),
      };
      let appended: Promise<Appended>;
      try {
        appended = journal.append(message);
      } catch (err) {
        appended = Promise.reject(err);
      }
      // Only a broker with the feed waits for the forward (afterForwarded); `wesprint start` has none.
      if (sender && feed) appendedOf.set(packet, appended);
      appended.then(
        (a) => {
          if (a.duplicate) counters.journalDuplicates++;
          else counters.journaled++;
        },
        (err: Error) => {
          // Not acknowledged (QoS 1 and 2), so the device sends it again; a failing disk is said once in 1000.
          if (counters.journalFailures++ % 1000 === 0)
            logger.error(
              { err, topic: packet.topic, failures: counters.journalFailures },
              'journal append failed',
            );
        },
      );
      return appended;
    },
  });
  /** CONNECTs with an empty client id that asked to keep a session: refused in authenticate with CONNACK 2. */
  const emptyIdWithSession = new WeakSet<Client>();
  const willTopics = new WeakMap<Client, string | undefined>();

  const aedes = new Aedes({
    persistence,
    ...(cluster ? { mq: cluster.mq as AedesOptions['mq'] } : {}),
    drainTimeout: DRAIN_TIMEOUT_MS,
    connectTimeout: 10_000,
    // MQTT 3.1 (not 3.1.1) caps client ids at 23 characters; kept as the spec says.
    maxClientsIdLength: 23,

    preConnect(client, packet, callback) {
      // [MQTT-3.1.3-8]: an empty client id is only acceptable with a clean session.
      if (!packet.clientId && !packet.clean) emptyIdWithSession.add(client);
      // The will is authorised at connect, so a will restored after a crash was vetted by its owner's ACL.
      willTopics.set(client, packet.will?.topic);
      callback(null, true);
    },

    authenticate(client, username, password, callback) {
      const ip = remoteAddress(client);
      const refuse = (who: string | null, reason: string, code: AuthenticateError['returnCode']) => {
        counters.connectsRefused++;
        record({ what: 'connect', who, clientId: client.id, ip, decision: 'deny', reason });
        logger.warn({ who, clientId: client.id, ip, reason }, 'MQTT connect refused');
        callback(authError(reason, code), null);
      };
      const admit = (name: string | null, grant: Grant) => {
        const role = name === null ? undefined : accounts.get(name)?.role;
        const willTopic = willTopics.get(client);
        if (willTopic !== undefined) {
          const decision = mayPublish(grant, willTopic);
          if (!decision.allowed) return refuse(name, `will topic ${willTopic}: ${decision.reason}`, 5);
        }
        const holder = clientHoldingId(aedes, client.id);
        const holderSession = holder && sessions.get(holder);
        if (holderSession && holderSession.username !== name)
          return refuse(name, 'client id is connected under another account', 2);
        sessions.set(client, {
          username: name,
          grant,
          ip,
          publishDecisions: new Map(),
          forwardDecisions: new Map(),
          auditedPublishRefusals: new Set(),
          device: role?.kind !== 'service',
          gateway: role?.kind === 'service' && role.service === 'gateway',
          connection: nextConnection(),
          journalTopics: new Map(),
        });
        counters.connectsAccepted++;
        record({ what: 'connect', who: name, clientId: client.id, ip, decision: 'allow', reason: 'ok' });
        logger.debug({ who: name, clientId: client.id, ip }, 'MQTT client connected');
        callback(null, true);
      };

      if (emptyIdWithSession.has(client))
        return refuse(username ?? null, 'empty client id requires clean session', 2);
      if (username === undefined || username === '') {
        if (!options.allowAnonymous) return refuse(null, 'anonymous access is not allowed', 5);
        return admit(null, labGrant);
      }
      // Held back: refused before the password is checked (CONNACK 3, "server unavailable": try later).
      const attempt = throttle.attempt(username, clientNetwork(ip), now());
      if ('until' in attempt) {
        counters.connectsRefused++;
        counters.connectsThrottled++;
        return callback(authError('too many failed sign-ins; try again later', 3), null);
      }
      if (password === undefined) return refuse(username, 'no password', 4);
      accounts.verify(username, password).then(
        (account) => {
          if (!account) return refuse(username, 'bad user name or password', 4);
          throttle.succeeded(attempt, now());
          admit(account.username, grants.get(account.username) as Grant);
        },
        (err: Error) => {
          logger.error({ err, who: username }, 'password verification failed');
          refuse(username, 'password verification failed', 3);
        },
      );
    },

    authorizePublish(client, packet, callback) {
      if (!client) {
        // A will left by a client of a previous broker run: vetted at its connect; commands stay impossible.
        const decision = mayPublish(labGrant, packet.topic);
        return callback(decision.allowed ? null : new Error(decision.reason));
      }
      const session = sessions.get(client);
      if (!session) return callback(new Error('not authenticated'));
      const decision = cached(session.publishDecisions, packet.topic, () =>
        mayPublish(session.grant, packet.topic),
      );
      if (decision.allowed)
        return routing.accept(packet, client, feed ? afterForwarded(packet, callback) : callback);
      counters.publishesRefused++;
      routing.drop(packet);
      if (!session.auditedPublishRefusals.has(packet.topic)) {
        if (session.auditedPublishRefusals.size < DECISION_CACHE_LIMIT)
          session.auditedPublishRefusals.add(packet.topic);
        const who = session.username;
        record({
          what: 'publish',
          who,
          clientId: client.id,
          ip: session.ip,
          decision: 'deny',
          reason: decision.reason,
          topic: packet.topic,
        });
        logger.warn(
          { who, clientId: client.id, topic: packet.topic, reason: decision.reason },
          'publish refused',
        );
      }
      callback(null);
    },

    authorizeSubscribe(client, subscription, callback) {
      const session = sessions.get(client);
      const decision: Decision = session
        ? maySubscribe(session.grant, subscription.topic)
        : { allowed: false, reason: 'not authenticated' };
      if (decision.allowed) return callback(null, subscription);
      if (session?.gateway && readFromFeed.has(subscription.topic)) {
        // Not a refusal to audit: the gateway's intake asks for the devices' topics whatever the broker (it
        // also speaks to Mosquitto and EMQX) and takes the feed's answer here; SUBACK 0x80 tells it so.
        logger.debug(
          { clientId: client.id, topic: subscription.topic },
          'device messages come from the feed',
        );
        return callback(null, null);
      }
      counters.subscriptionsRefused++;
      const who = session?.username ?? null;
      record({
        what: 'subscribe',
        who,
        clientId: client.id,
        ip: session?.ip ?? remoteAddress(client),
        decision: 'deny',
        reason: decision.reason,
        topic: subscription.topic,
      });
      logger.info({ who, clientId: client.id, topic: subscription.topic }, 'subscription refused');
      // (null, null) answers SUBACK 0x80 and keeps the connection, as MQTT 3.1.1 §3.9.3 intends.
      callback(null, null);
    },

    authorizeForward(client, packet) {
      // Sent and acknowledged live while the session's queue was being sent: not again (aedes-patches 2d).
      if (acknowledgedWhileQueued(packet)) return null;
      const session = sessions.get(client);
      if (!session) return null;
      const allowed = cached(session.forwardDecisions, packet.topic, () =>
        mayReceive(session.grant, packet.topic),
      );
      if (allowed) return packet;
      counters.deliveriesWithheld++;
      return null;
    },
  });

  // Each message's disk steps in arrival order, a device's messages journaled at arrival, QoS 1 acknowledged
  // once routed (and journaled), refused messages dropped.
  const routing = routeInArrivalOrder(aedes, journal && arrivalJournal(journal));
  // publishOwn skips a topic nobody listens to; one node only (a cluster's other nodes may listen).
  const listened = cluster ? undefined : listenersOnThisNode(aedes);

  aedes.on('clientError', (client, err) => {
    logger.debug({ clientId: client.id, err: err.message }, 'MQTT client error');
  });
  aedes.on('connectionError', (client, err) => {
    logger.debug({ ip: remoteAddress(client), err: err.message }, 'MQTT connection error');
  });
  (aedes as EventEmitter).on('error', (err: unknown) => logger.error({ err }, 'MQTT broker error'));

  if (journal && feedTopic) {
    // The gateway's account reads the devices' messages on the feed only, so a new subscription of its
    // brings no retained device message (a device's announced "offline", a lock's `connected` false): what
    // `wesprint start` reads from the broker's store at the gateway's start (`retained()`), a stand-alone
    // broker journals as retained replays (old news, no readings) each time the gateway's session subscribes
    // to the feed, after that subscription is in place, so the feed carries them to it.
    const deviceFilterList = [...readFromFeed];
    aedes.on('subscribe', (subscriptions, client) => {
      const session = client && sessions.get(client);
      if (!session?.gateway) return;
      // A refused filter comes with qos 128 (SUBACK 0x80), which the types do not list.
      if (!subscriptions.some((sub) => sub.topic === feedTopic && (sub.qos as number) !== 128)) return;
      retainedMatching(deviceFilterList).then(
        (messages) => {
          for (const m of messages)
            journal
              .append({ topic: m.topic, payload: m.payload, receivedAt: now(), retainedReplay: true })
              .catch((err: Error) =>
                logger.warn({ err: err.message, topic: m.topic }, 'retained replay not journaled'),
              );
          logger.debug(
            { clientId: client.id, retained: messages.length },
            'retained device messages replayed on the feed',
          );
        },
        (err: Error) => logger.warn({ err: err.message }, 'retained device messages could not be read'),
      );
    });
  }

  await aedes.listen();
  // Before the listeners open: a device's first PUBACK already waits for its message to be forwarded.
  if (journal && feedTopic && options.journalFeed) {
    feed = startJournalFeed({
      journal,
      origin: options.journalFeed.origin,
      topic: feedTopic,
      publish(topic, payload, done) {
        // cmd 'publish': routed in arrival order, never journaled itself (taken at arrival: it was not).
        const packet = { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false };
        aedes.publish(packet as PublishPacket, (err?: Error) => done(err));
      },
      logger,
    });
  }

  const connackFirst = sendConnackFirst(aedes);
  const handle = (stream: Parameters<typeof aedes.handle>[0], req?: http.IncomingMessage) => {
    const client = aedes.handle(stream, req);
    limitPacketSize(client, MAX_PACKET_BYTES);
    parseWithoutDebugCalls(client);
    connackFirst(client);
  };
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    handle(socket);
  });
  let web: http.Server | undefined;
  let wss: WebSocketServer | undefined;

  // Counts that drained are forgotten, and their keys reported free, without waiting for another attempt.
  const sweeper = setInterval(() => throttle.sweep(now()), 10_000);
  sweeper.unref();
  const stopEverything = async () => {
    clearInterval(sweeper);
    // Before routing goes idle: a round of forwarding under way finishes (its cursor moves) or fails.
    await feed?.stop();
    const tcpClosed = closeServer(tcp);
    const webClosed = web ? closeServer(web) : Promise.resolve();
    wss?.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    // Sockets that never sent CONNECT are not aedes clients yet.
    for (const socket of sockets) socket.destroy();
    web?.closeAllConnections();
    await Promise.all([tcpClosed, webClosed]);
    // Messages already handed to routing (wills of the clients just closed among them) finish their disk
    // steps before the store closes, instead of failing half-way with 'Database is not open'.
    await routing.idle();
    await persistence.destroy();
    await new Promise<void>((resolve) => audit.end(() => resolve()));
  };

  try {
    const port = await listen(
      tcp,
      options.port,
      options.host,
      `MQTT port ${options.port} is already in use (another MQTT broker running?). Set MQTT_PORT to a free port.`,
    );
    let wsPort: number | null = null;
    if (options.wsPort !== null) {
      web = http.createServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' });
        res.end('MQTT over WebSocket: connect to ws://<host>:<port>/mqtt\n');
      });
      wss = new WebSocketServer({ server: web, maxPayload: MAX_PACKET_BYTES });
      wss.on('connection', (socket, req) => {
        const stream = createWebSocketStream(socket);
        stream.on('error', (err) => logger.debug({ err: err.message }, 'MQTT WebSocket error'));
        handle(stream, req);
      });
      wsPort = await listen(
        web,
        options.wsPort,
        options.host,
        `MQTT WebSocket port ${options.wsPort} is already in use. Set MQTT_WS_PORT to a free port.`,
      );
    }
    logger.info(
      { port, wsPort, accounts: accounts.size, anonymous: options.allowAnonymous },
      'MQTT broker listening',
    );
    let closing: Promise<void> | undefined;
    return {
      port,
      wsPort,
      aedes,
      stats: () => ({ ...counters, clients: aedes.connectedClients }),
      retained: retainedMatching,
      publishOwn(topic, payload) {
        if (closing) return;
        // Nobody on this node listens (the API is not running, or takes another site): nothing to route.
        if (listened && !listened(topic)) return;
        // cmd 'publish': routing takes it for a client's PUBLISH, journaled (or not) at arrival: not at all.
        const packet = {
          cmd: 'publish',
          topic,
          payload: Buffer.from(typeof payload === 'string' ? payload : payload()),
          qos: 0,
          retain: false,
          dup: false,
        };
        aedes.publish(packet as PublishPacket, (err?: Error) => {
          if (err) logger.warn({ topic, err: err.message }, 'publish failed');
        });
      },
      close: () => {
        closing ??= stopEverything();
        return closing;
      },
    };
  } catch (err) {
    await stopEverything().catch(() => undefined);
    throw err;
  }
}
