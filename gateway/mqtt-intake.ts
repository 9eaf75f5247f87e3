import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt';
import type { Logger } from 'pino';
import { brokerClientOptions, closeBrokerClient, keepConnected } from '../building/broker-connection.ts';
import { arrivalClock } from '../journal/arrival-clock.ts';
import { decodeForwardedEntry, forwardedSender } from '../journal/forwarded-entry.ts';
import type { Appended, ArrivingMessage, MessageJournal } from '../journal/journal.ts';
import { type MovedDeviceMemory, MovedDeviceRepeats } from './moved-device-repeats.ts';

/**
 * The gateway's MQTT intake for `wesprint gateway` against a broker in another process (`wesprint broker`,
 * Mosquitto, EMQX, broker nodes): device messages come in over a persistent session (QoS 1), each is
 * appended to the gateway's own journal, and the broker gets its PUBACK only once that append is on disk. The
 * broker keeps every message the gateway has not acknowledged and sends it again after a reconnect or a
 * restart; the journal recognises such a redelivery (same sender, packet id, topic and payload, with DUP)
 * and answers it with the original's position, so it is acknowledged without
 * being journaled twice. With a share group (MQTT 5, `$share/<group>/<filter>`) several gateway workers,
 * each with its own DATA_DIR and journal, share the devices' messages.
 *
 * PUBACK after the append, without waiting for one message's fsync before reading the next: MQTT.js reads
 * incoming packets one at a time and takes the next only once the handler of the previous one is done,
 * PUBACK sent (client.js `work`, handlers/publish.js). Its `customHandleAcks` (MQTT 5 only; for 3.1.1 MQTT.js
 * replaces it with an immediate "ack") and `handleMessage` both hold that line, so a handler that awaited
 * the append would allow one message per fsync. Here `handleMessage` starts the append and tells MQTT.js
 * to send nothing (it calls back with HELD, after which MQTT.js neither emits an error nor sends PUBACK),
 * and the intake sends the PUBACK itself when the append resolves. Appends resolve in call order (a group
 * commit), so PUBACKs go out in the order the PUBLISHes came [MQTT-4.6.0-2]. A PUBACK is only ever sent on
 * the connection its PUBLISH came on: an append that resolves after that connection was lost acknowledges
 * nothing, and the broker sends the message again on the next one.
 *
 * What a redelivery looks like (measured; see mqtt-intake.test.ts): Mosquitto 2.0.11 and `wesprint broker`
 * resend a session's unacknowledged messages after a reconnect with the same packet id and DUP set (aedes 1.2
 * itself sends DUP 0 [MQTT-3.3.1-1]; the project's broker patches that, broker/aedes-patches.ts
 * markRedeliveriesDup), EMQX as well. So the intake recognises a redelivery by DUP alone (`redelivery: 'dup'`,
 * the default): see MqttIntakeOptions.redelivery for why the journal's other clause is left out here.
 */

export interface MqttIntakeOptions {
  url: string;
  username?: string;
  password?: string;
  /** The persistent session's client id: one per worker, the same across its restarts (see intakeClientId). */
  clientId: string;
  /** The device profiles' subscription filters. */
  filters: string[];
  /**
   * The topic on which a `wesprint broker` forwards its journal (journal/forwarded-entry.ts
   * `JOURNAL_FEED_TOPIC`): subscribed beside `filters`, whatever the broker. That broker refuses the device
   * filters to the gateway's account and sends each device message once here, with its position and arrival
   * time in the broker's journal, which this intake keeps: a message it gets twice, or that a broker crash
   * made the device send twice, is appended once, and if ever twice, decodes to the same readings. Other
   * brokers (Mosquitto, EMQX) grant it and never publish there; the device filters bring their messages,
   * stamped on arrival here.
   */
  journalFeed?: string;
  /** Shared subscriptions `$share/<group>/<filter>` (MQTT 5) for several workers; absent: MQTT 3.1.1. */
  shareGroup?: string;
  journal: MessageJournal;
  logger: Logger;
  /** The journal's sender name for whatever the broker delivers (default "broker"). */
  senderName?: string;
  now?: () => number;
  /** First wait after a lost connection (tests shorten it). */
  reconnectMinMs?: number;
  /** Resolve at once and connect in the background instead of once subscribed (a service). */
  connectInBackground?: boolean;
  /**
   * How a redelivery by the broker is told from a new message with the same packet id, topic and payload
   * (journal/retransmission.ts):
   * - 'dup' (default): by the DUP flag alone. Every broker the intake is meant for sets it on a redelivery
   *   (Mosquitto, EMQX, `wesprint broker` since markRedeliveriesDup). A packet id says little across
   *   connections: Mosquitto numbers a session's messages 1…65535 and round again, aedes starts every
   *   connection's ids at a random point (lib/client.js `_nextId`), so a new message often gets the id of one
   *   from before a reconnect, and with a device reporting the same few payloads, its topic and payload too.
   * - 'dup-or-earlier-connection': DUP, or the known message came on an earlier connection (the rule the
   *   project's broker applies to devices, some of whose clients resend without DUP). Only for a broker that
   *   resends without DUP (an aedes without the patch); it takes such new messages for repeats and drops them
   *   (measured in the test: 100 of 100 after a reconnect).
   */
  redelivery?: 'dup' | 'dup-or-earlier-connection';
  /**
   * Where a device's message that two nodes of a cluster forwarded is recognised
   * (gateway/moved-device-repeats.ts): in the cluster's Redis when the gateway has REDIS_URL, so that it
   * outlives the gateway; default, this process's memory.
   */
  movedRepeats?: MovedDeviceMemory;
}

export interface MqttIntakeStats {
  /** PUBLISH packets received. */
  received: number;
  /** Appended as new, and recognised by the journal as redeliveries of what it holds. */
  appended: number;
  duplicates: number;
  /** Of those, replays of retained messages on subscribing. */
  retainedReplays: number;
  /** Of those received, entries forwarded from a broker's journal (`journalFeed`). */
  forwarded: number;
  /**
   * Of those forwarded, a device's message forwarded already by another node of a cluster (the device sent
   * it again there after its node died): acknowledged, not journaled (gateway/moved-device-repeats.ts).
   */
  movedRepeats: number;
  /** Forwarded payloads that were not an entry: journaled as they came, for the gateway's quarantine. */
  malformedForwards: number;
  /** PUBACKs sent. */
  acknowledged: number;
  /** Appended, but the connection was gone by then: the broker sends them again. */
  unacknowledged: number;
  /** Appends that failed (the disk): not acknowledged, the connection dropped so the broker resends. */
  failed: number;
  /** Connections so far. */
  connections: number;
}

export interface MqttIntake {
  readonly client: MqttClient;
  /** Resolves once the broker has answered the first subscriptions. */
  readonly subscribed: Promise<void>;
  /** Connected, and the broker answered this connection's subscriptions: messages flow (the heartbeat's). */
  listening(): boolean;
  stats(): MqttIntakeStats;
  /** Stops reading, acknowledges what is being appended (within a grace), disconnects. The journal stays open. */
  stop(): Promise<void>;
}

/** MQTT.js's handleMessage callback given this sends no PUBACK; the intake sends it once the append resolves. */
const HELD = Object.freeze(new Error('acknowledged by the intake once journaled'));
const STOP_GRACE_MS = 2000;
/** MQTT 5 session expiry: never, as a 3.1.1 session with clean 0 (the broker keeps what the worker missed). */
const SESSION_NEVER_EXPIRES = 0xffffffff;

/**
 * The journal's sender.connection: one counter for every intake of the process, so that an intake started
 * again in the same process (tests, a restart without a new process) still counts on from the last one. A
 * new process starts at 1 again, which is fine: the journal holds what an earlier process journaled as from
 * before any connection of this one.
 */
let connectionsInProcess = 0;

/**
 * What a SUBACK to the intake's filters says (`codes` in their order, 0x80 refused): whether the devices'
 * messages come from a broker's journal feed (it granted the feed and refused every device filter, as a
 * `wesprint broker` does for the gateway's account), and which refusals are worth an operator's attention:
 * a device filter refused by any other broker (an ACL that leaves the gateway deaf), never the feed (other
 * brokers may refuse `$`-topics; nobody publishes there but a `wesprint broker`).
 */
export function subscriptionAnswer(
  filters: readonly string[],
  codes: readonly number[],
  feed: string | undefined,
): { fromFeed: boolean; refused: string[] } {
  const refusedAt = (i: number) => ((codes[i] ?? 0x80) & 0x80) !== 0;
  const feedAt = feed === undefined ? -1 : filters.indexOf(feed);
  const fromFeed = feedAt >= 0 && !refusedAt(feedAt) && filters.every((_, i) => i === feedAt || refusedAt(i));
  const refused = fromFeed ? [] : filters.filter((_, i) => i !== feedAt && refusedAt(i));
  return { fromFeed, refused };
}

/** Subscription filters, with the share group when there is one. */
export function intakeFilters(filters: Iterable<string>, shareGroup?: string): string[] {
  const unique = [...new Set(filters)];
  return shareGroup ? unique.map((f) => `$share/${shareGroup}/${f}`) : unique;
}

/**
 * The worker's client id, kept in its DATA_DIR: the persistent session belongs with the journal that holds
 * what it acknowledged. Made once (`wesprint-intake-<site>-<random>`), so two workers never share a session.
 */
export function intakeClientId(dataDir: string, siteId: string): string {
  const file = path.join(dataDir, 'mqtt-intake-client-id');
  try {
    const kept = fs.readFileSync(file, 'utf8').trim();
    if (kept) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = `wesprint-intake-${siteId}-${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

export async function startMqttIntake(options: MqttIntakeOptions): Promise<MqttIntake> {
  const { journal, logger } = options;
  const now = options.now ?? Date.now;
  const sender = options.senderName ?? 'broker';
  const byDupAlone = (options.redelivery ?? 'dup') === 'dup';
  const filters = intakeFilters(options.filters, options.shareGroup);
  const feed = options.journalFeed;
  // The feed is a broker's own journal, for the one gateway of a `wesprint broker` (aedes has no $share).
  if (feed !== undefined && !options.shareGroup) filters.push(feed);
  const stats: MqttIntakeStats = {
    received: 0,
    appended: 0,
    duplicates: 0,
    retainedReplays: 0,
    forwarded: 0,
    movedRepeats: 0,
    malformedForwards: 0,
    acknowledged: 0,
    unacknowledged: 0,
    failed: 0,
    connections: 0,
  };
  const clientOptions: IClientOptions = {
    ...brokerClientOptions,
    clientId: options.clientId,
    clean: false,
    // Subscribed anew on every connection below (MQTT.js would subscribe a second time).
    resubscribe: false,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
    ...(options.shareGroup
      ? { protocolVersion: 5, properties: { sessionExpiryInterval: SESSION_NEVER_EXPIRES } }
      : { protocolVersion: 4 }),
  };
  const client = mqtt.connect(options.url, clientOptions);
  keepConnected(client, {
    name: 'mqtt intake',
    url: options.url,
    logger,
    ...(options.reconnectMinMs !== undefined ? { minDelayMs: options.reconnectMinMs } : {}),
  });

  let stopping = false;
  const arrival = arrivalClock(now);
  // A connection is its socket: MQTT.js emits 'connect' only after replaying its own outgoing store, so a
  // redelivery sent right behind the CONNACK can be read before that event.
  const connections = new WeakMap<object, number>();
  const connectionOf = (stream: object) => {
    let n = connections.get(stream);
    if (n === undefined) {
      n = ++connectionsInProcess;
      connections.set(stream, n);
    }
    return n;
  };
  const pending = new Set<Promise<void>>();
  const moved = options.movedRepeats ?? new MovedDeviceRepeats();
  /** The latest append: a repeat answered without one is acknowledged after it, so PUBACKs keep their order. */
  let lastAppend: Promise<unknown> = Promise.resolve();
  /**
   * Settles once the previous message's append has been started (not finished): a message whose repeat is
   * decided asynchronously (Redis) starts its append only after the one before it started, so the journal
   * takes the messages in arrival order, as the group commit's PUBACK order needs.
   */
  let started: Promise<unknown> = Promise.resolve();
  /** Messages whose append waits for such a decision. */
  let deciding = 0;
  const sendPuback = (messageId: number) =>
    (client as unknown as { _sendPacket(packet: Packet, cb: (err?: Error) => void): void })._sendPacket(
      { cmd: 'puback', messageId } as Packet,
      () => {},
    );

  client.handleMessage = (packet, callback) => {
    stats.received++;
    // Asked to stop: not journaled and not acknowledged; the broker keeps it for the next start.
    if (stopping) return callback(HELD);
    const p = packet as IPublishPacket;
    const stream = client.stream;
    // By DUP alone (the default, see `redelivery`): no connection ordering (-Infinity is earlier than nothing),
    // so a new message that happens to get the packet id, topic and payload of one from before a reconnect or
    // restart is not taken for a repeat.
    const connection = byDupAlone ? Number.NEGATIVE_INFINITY : connectionOf(stream);
    const acked = p.qos > 0 && p.messageId !== undefined;
    const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
    const forwarded = p.topic === feed ? decodeForwardedEntry(payload) : undefined;
    let message: ArrivingMessage;
    let repeat: boolean | Promise<boolean> = false;
    if (forwarded !== undefined && !('error' in forwarded)) {
      if (forwarded.device !== undefined)
        repeat = moved.isRepeat(forwarded.origin, forwarded.device, forwarded.topic, forwarded.payload);
      // As the broker's journal has it: its arrival time there, its place there as the identity.
      stats.forwarded++;
      message = {
        topic: forwarded.topic,
        payload: forwarded.payload,
        receivedAt: forwarded.receivedAt,
        retainedReplay: forwarded.retainedReplay,
        sender: forwardedSender(forwarded.origin, forwarded.seq),
      };
    } else {
      if (forwarded !== undefined) {
        // Journaled as it came: the gateway finds no device on the feed's topic and quarantines it, counted.
        stats.malformedForwards++;
        logger.warn({ topic: p.topic, reason: forwarded.error }, 'not a forwarded journal entry');
      }
      message = {
        topic: p.topic,
        payload,
        receivedAt: arrival(p.topic),
        retainedReplay: p.retain === true,
        ...(acked
          ? {
              sender: { clientId: sender, connection, messageId: p.messageId as number, dup: p.dup === true },
            }
          : {}),
      };
    }
    const retainedReplay = message.retainedReplay;
    // A repeat is acknowledged once the message before it is, so PUBACKs keep their order.
    const previous = lastAppend;
    const appendOrRepeat = (isRepeat: boolean): Promise<Appended> => {
      if (!isRepeat) return journal.append(message);
      stats.movedRepeats++;
      return previous.then(
        () => ({ seq: 0, duplicate: true }) as const,
        () => ({ seq: 0, duplicate: true }) as const,
      );
    };
    let append: Promise<Appended>;
    if (typeof repeat === 'boolean' && deciding === 0) append = appendOrRepeat(repeat);
    else {
      // Decided asynchronously (Redis), or behind such a decision: started once the one before has started.
      deciding++;
      const decided = repeat;
      const starting = Promise.all([started, decided]).then(([, isRepeat]) => ({
        a: appendOrRepeat(isRepeat),
      }));
      const settle = () => {
        deciding--;
      };
      // Wrapped in an object, so that this settles when the append starts, not when it resolves.
      started = starting.then(settle, settle);
      append = starting.then(({ a }) => a);
    }
    lastAppend = append;
    const done = append.then(
      (result) => {
        if (result.duplicate) stats.duplicates++;
        else stats.appended++;
        if (retainedReplay) stats.retainedReplays++;
        if (!acked) return;
        // Only on the connection the PUBLISH came on: a packet id means nothing on another one.
        if (client.connected && client.stream === stream) {
          sendPuback(p.messageId as number);
          stats.acknowledged++;
        } else {
          stats.unacknowledged++;
        }
      },
      (err: Error) => {
        stats.failed++;
        if (stopping) return;
        // Not acknowledged. The broker sends an unacknowledged message again only on a new connection.
        logger.error(
          { topic: p.topic, err: err.message },
          'journal append failed; reconnecting so the broker resends',
        );
        if (client.connected && client.stream === stream) stream.destroy();
      },
    );
    pending.add(done);
    void done.finally(() => pending.delete(done));
    // QoS 0 has no PUBACK; QoS 1 (and 2, which a QoS 1 subscription never gets) is acknowledged above.
    callback(acked ? HELD : undefined);
  };

  let subscribedOnce: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => {
    subscribedOnce = resolve;
  });
  let firstSubscription = true;
  /** The connection whose SUBSCRIBE the broker answered. */
  let subscribedOn: object | undefined;
  client.on('connect', () => {
    stats.connections++;
    const stream = client.stream;
    (client.stream as { setNoDelay?: (on: boolean) => unknown }).setNoDelay?.(true);
    // Again on a kept session: harmless, and picks up the filters of a newly added family.
    client.subscribe(filters, { qos: 1 }, (err, granted, suback) => {
      // MQTT.js reports a SUBACK that refuses any filter as an error, with the SUBACK beside it.
      const codes = err
        ? (suback as { granted?: number[] } | undefined)?.granted
        : (granted ?? []).map((g) => g.qos);
      if (codes?.length !== filters.length) {
        logger.error({ err: err?.message }, 'intake subscribe failed');
        return;
      }
      const answer = subscriptionAnswer(filters, codes, feed);
      for (const topic of answer.refused)
        logger.error({ topic }, 'intake subscription refused by the broker');
      const fromFeed = answer.fromFeed;
      // Once: from here on the broker keeps the devices' messages for this session, also while it is away.
      if (firstSubscription) {
        firstSubscription = false;
        logger.info(
          {
            filters: filters.length,
            ...(options.shareGroup ? { shareGroup: options.shareGroup } : {}),
            ...(fromFeed ? { from: "the broker's journal feed" } : {}),
          },
          'mqtt intake: subscribed',
        );
      }
      if (client.stream === stream) subscribedOn = stream;
      subscribedOnce();
    });
  });

  if (!options.connectInBackground) await subscribed;

  let stopped: Promise<void> | undefined;
  return {
    client,
    subscribed,
    listening: () => client.connected && subscribedOn !== undefined && subscribedOn === client.stream,
    stats: () => ({ ...stats }),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        // What is being appended is acknowledged (or, when the journal is slower than the grace, resent).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...pending]),
          new Promise((resolve) => {
            timer = setTimeout(resolve, STOP_GRACE_MS);
          }),
        ]);
        clearTimeout(timer);
        await closeBrokerClient(client, STOP_GRACE_MS);
      })();
      return stopped;
    },
  };
}

/** The worker's gateway client id, from its intake's: `wesprint-intake-…` becomes `wesprint-gateway-…`. */
export function gatewayWorkerClientId(intakeClientId: string): string {
  return intakeClientId.startsWith('wesprint-intake-')
    ? `wesprint-gateway-${intakeClientId.slice('wesprint-intake-'.length)}`
    : `${intakeClientId}-gateway`;
}
