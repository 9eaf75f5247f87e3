import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Level } from 'level';
import type { Logger } from 'pino';
import type { Appended } from '../journal/journal.ts';

/**
 * Every place the broker reaches below aedes' documented API (aedes 1.2, aedes-persistence-level 9.2,
 * mqtt-packet 9), one function each, with why aedes' own behaviour was not enough. The `as unknown as` casts
 * into aedes internals live here and nowhere else. `aedes-patches.test.ts` checks, for each, that the internal
 * it relies on still has the shape patched here and that the patch still does its job: when aedes changes
 * underneath, that test fails instead of the broker quietly losing what a patch gave it.
 */

// 1. The persistence class aedes 1.x calls

/**
 * aedes-persistence-level ships no types, and its main export (`persistence.js`) only wraps this async class
 * in aedes-persistence's callback layer, which aedes 1.x no longer calls: `Aedes.listen()` requires
 * `persistence.setup` to be an async function (aedes.js, `listen`). So the async class is loaded from its
 * file directly.
 */
export interface LevelPersistence {
  setup(broker: unknown): Promise<void>;
  destroy(): Promise<void>;
  createRetainedStreamCombi(patterns: string[]): Readable;
  createRetainedStream(pattern: string): Readable;
  storeRetained(...args: unknown[]): Promise<unknown>;
  outgoingEnqueueCombi(...args: unknown[]): Promise<unknown>;
  outgoingUpdate(...args: unknown[]): Promise<unknown>;
  outgoingStream(client: unknown): Readable;
  addSubscriptions(client: unknown, subs: { topic: string }[]): Promise<unknown>;
  removeSubscriptions(client: unknown, topics: string[]): Promise<unknown>;
}

export const AsyncLevelPersistence = createRequire(import.meta.url)(
  'aedes-persistence-level/asyncPersistence.js',
) as new (
  db: Level<string, Buffer>,
) => LevelPersistence;

// 2. Queue writes resolved in call order

/**
 * aedes drops a QoS 1/2 message to a persistent (clean=0) subscriber when it reaches that client with a
 * lower broker counter than one already delivered (its `dedupe` in lib/client.js); a message is routed only
 * after its offline-queue entries are stored (`enqueueOffline` → `outgoingEnqueueCombi`), and written to the
 * client when its `outgoingUpdate` finishes (`deliverQoS`). LevelDB completes consecutive writes out of order
 * (they run on the libuv pool), so under pipelined load the gateway's persistent session silently missed
 * messages (bench/ measured 0.2-4 % lost) and got the rest out of order. Resolving these writes in call
 * order, while they still run concurrently, keeps the delivery order and loses nothing.
 */
export function resolveQueueWritesInOrder(persistence: LevelPersistence): LevelPersistence {
  for (const method of ['outgoingEnqueueCombi', 'outgoingUpdate'] as const) {
    const write = persistence[method].bind(persistence) as (...args: unknown[]) => Promise<unknown>;
    let previous: Promise<unknown> = Promise.resolve();
    /** Writes not yet resolved in order. */
    let pending = 0;
    const settled = () => {
      pending--;
    };
    persistence[method] = (...args: unknown[]) => {
      const done = write(...args);
      // Nothing to queue (no persistent session subscribes to the topic: every device message in
      // `wesprint start`) and nothing before it unresolved: it cannot overtake anything, so no chain is made.
      if (method === 'outgoingEnqueueCombi' && pending === 0 && (args[0] as unknown[] | null)?.length === 0) {
        previous = done.catch(() => undefined);
        return done;
      }
      pending++;
      const inOrder = Promise.all([previous, done]).then(() => done);
      previous = inOrder.then(settled, settled);
      return inOrder;
    };
  }
  return persistence;
}

// 2b. Redeliveries marked DUP

/**
 * [MQTT-3.3.1-1]: "The DUP flag MUST be set to 1 by the Client or Server when it attempts to re-deliver a
 * PUBLISH Packet". aedes resends a persistent session's unacknowledged messages after a reconnect with their
 * packet ids and DUP 0: it reads them back from `persistence.outgoingStream(client)` (lib/handlers/connect.js,
 * `emptyQueue`), wraps each in a QoSPacket, which keeps the stored packet id and copies `dup` (aedes-packet),
 * and writes it. A stored packet that carries a packet id was in flight (`outgoingUpdate` stored it with the id
 * it was sent under); one queued while the client was away has none yet and is a first delivery. So the stream
 * is wrapped to set `dup` on the packets with an id. A receiver can then tell a redelivery by DUP alone, as from
 * Mosquitto and EMQX (the gateway's MQTT intake does, gateway/mqtt-intake.ts). A clean session's queue goes
 * through the same stream only to be cleared (lib/client.js, `emptyOutgoingQueue`): DUP is moot there.
 */
export function markRedeliveriesDup(persistence: LevelPersistence): LevelPersistence {
  const outgoing = persistence.outgoingStream.bind(persistence);
  persistence.outgoingStream = (client) => {
    // A stream for LevelDB, an async iterable for the Redis persistence of broker nodes: aedes pipes either.
    const source = outgoing(client) as AsyncIterable<{ messageId?: number; dup?: boolean }>;
    return Readable.from(
      (async function* () {
        for await (const packet of source) {
          if (typeof packet.messageId === 'number' && packet.messageId > 0) packet.dup = true;
          yield packet;
        }
      })(),
    );
  };
  return persistence;
}

// 2c. Refused subscriptions not kept in a session

/**
 * aedes stores a persistent session's subscriptions with the whole SUBSCRIBE packet's list, refused filters
 * included: `storeSubscriptions` (lib/handlers/subscribe.js) calls `persistence.addSubscriptions(client,
 * packet.subscriptions)` for each granted filter, and a filter authorizeSubscribe answered with null (SUBACK
 * 0x80) is in that list too. The persistence then names the session among a topic's subscribers
 * (`subscriptionsByTopic`), so every QoS 1 message on a refused filter is queued for it (`enqueueOffline`), is
 * never delivered (no live subscription), and waits until the session's next connection, where
 * `emptyQueue` reads, updates and clears each one (authorizeForward withholds it) before it reaches what is
 * behind it. The gateway's intake asks for the device filters and is refused them (they come on the journal
 * feed): its session queued every device message, and a gateway restarted after a kill waited behind all of
 * them since its previous connection (measured: 12,894 left queued after a 20,000-message bench run) for the
 * feed entries that arrived while it was away. So a session keeps only what the broker grants; a refused
 * filter a session kept from before is removed with its next SUBSCRIBE.
 */
export function keepGrantedSubscriptionsOnly(
  persistence: LevelPersistence,
  /** Whether the broker grants `topic` to `client` (its authorizeSubscribe decision, asked again here). */
  grants: (client: Client, topic: string) => boolean,
): void {
  const add = persistence.addSubscriptions.bind(persistence);
  const remove = persistence.removeSubscriptions.bind(persistence);
  // Asked here rather than told by authorizeSubscribe: aedes authorises a packet's filters side by side and
  // stores the list as soon as the first is granted, before the others' answers.
  // aedes calls this once per granted filter with the same list: one store per list (the cluster's Redis
  // persistence, broker/cluster.ts, hangs on two at once, and tells them apart by the list it is given).
  const storing = new WeakMap<object, Promise<unknown>>();
  const store = async (client: unknown, subs: { topic: string }[]) => {
    const kept = subs.filter((sub) => grants(client as Client, sub.topic));
    const refused = subs.filter((sub) => !grants(client as Client, sub.topic)).map((sub) => sub.topic);
    if (kept.length > 0) await add(client, kept);
    // After the add: the Redis persistence drops a session's queue when its last subscription goes.
    if (refused.length > 0 && kept.length > 0) await remove(client, refused);
  };
  persistence.addSubscriptions = (client, subs) => {
    let stored = storing.get(subs);
    if (!stored) {
      stored = store(client, subs);
      storing.set(subs, stored);
    }
    return stored;
  };
}

// 2d. A queued message acknowledged while the session's queue was being sent

/**
 * A persistent session that reconnects gets its queue from two sides at once: aedes restores its
 * subscriptions (live delivery starts) and then sends its offline queue (lib/handlers/connect.js,
 * `emptyQueue`, reading `persistence.outgoingStream`). A message routed in between is queued and delivered
 * live; once its PUBACK comes its queue entry is cleared, and the side that reaches it second asks
 * `outgoingUpdate` for an entry that is gone: "no such packet". aedes takes that for a client error
 * (`emptyQueueFilter` and `writeQoS`: `client.emit('error', err)`) and closes the connection: the gateway's
 * intake, reconnecting to a restarted broker while the devices went on, lost its connection once, and the
 * queue was sent again from the start on the next. Measured (aedes-patches.test.ts 2d): 1-7 such errors and
 * a closed connection per reconnect after a restart under load. A message whose PUBACK came is delivered:
 * MQTT keeps only unacknowledged QoS 1 messages in the session [MQTT-4.3.2-1] and resends only those
 * [MQTT-4.4.0-1]. So the entry's absence is taken as that: no error; `emptyQueue` then withholds it (the
 * broker's authorizeForward asks `acknowledgedWhileQueued`), the live side sends it once more, which a QoS 1
 * receiver must take (the gateway's intake recognises it by its journal identity).
 */
export function skipAcknowledgedWhileQueued(persistence: LevelPersistence): (packet: object) => boolean {
  const acknowledged = new WeakSet<object>();
  const update = persistence.outgoingUpdate.bind(persistence);
  persistence.outgoingUpdate = (client, packet) =>
    update(client, packet).catch((err: Error) => {
      // Only a queued message of this broker's (brokerId set), gone from the queue: anything else is still
      // the error it was.
      if (err?.message !== 'no such packet' || !(packet as { brokerId?: string }).brokerId) throw err;
      acknowledged.add(packet as object);
    });
  return (packet) => acknowledged.has(packet);
}

// 3. Retained lookups that outlive the store

/**
 * aedes pipes the retained-message stream of a new subscription without an error handler
 * (lib/handlers/subscribe.js, `completeSubscribe`: `stream.pipe(through(sendRetained))`); when the broker
 * closes while such a lookup is still reading, the closed database's error would be an uncaught exception
 * and take the whole process down. The retained messages are moot by then.
 */
export function guardRetainedStreams(persistence: LevelPersistence, logger: Logger): LevelPersistence {
  const guard = (stream: Readable) =>
    stream.on('error', (err: Error) => {
      logger.debug({ err: err.message }, 'retained lookup ended by broker shutdown');
    });
  const combi = persistence.createRetainedStreamCombi.bind(persistence);
  const single = persistence.createRetainedStream.bind(persistence);
  persistence.createRetainedStreamCombi = (patterns) => guard(combi(patterns));
  persistence.createRetainedStream = (pattern) => guard(single(pattern));
  return persistence;
}

// 4. A packet size limit

/**
 * aedes has no packet size limit of its own (MQTT 3.1.1 lets a packet be 256 MB, §2.2.3) and buffers a
 * packet's whole body before parsing it. mqtt-packet's parser learns a packet's length in `_parseLength`,
 * which `parse()` looks up by name on the parser instance (`this[this._states[...]]`), before buffering the
 * body; so the connection is failed right there, through the parser's own `_emitError` (aedes closes the
 * client on the parser's 'error').
 */
export function limitPacketSize(client: Client, maxBytes: number): void {
  const parser = (client as unknown as { _parser?: Record<string, unknown> })._parser;
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') return;
  const parseLength = parser._parseLength as () => boolean;
  const emitError = parser._emitError as (err: Error) => void;
  parser._parseLength = function parseLengthWithLimit(this: { packet: { length: number } }) {
    const complete = parseLength.call(this);
    if (complete && this.packet.length > maxBytes) {
      emitError.call(this, new Error(`packet of ${this.packet.length} bytes exceeds ${maxBytes}`));
      return false;
    }
    return complete;
  };
}

// 4a. A parser without its debug calls per packet

/** mqtt-packet's own modules, as aedes loads them (its packet class; `debug` as the parser asks for it). */
const requireFromMqttPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
const MqttPacket = requireFromMqttPacket('./packet.js') as new () => object;
const mqttPacketDebug = requireFromMqttPacket('debug') as { enabled(namespace: string): boolean };

interface PacketParser {
  error: Error | null;
  packet: { length: number };
  _list: { length: number; append(buf: Buffer): void; consume(bytes: number): void };
  _states: string[];
  _stateCounter: number;
  _pos: number;
  _resetState(): void;
  emit(event: string, packet: unknown): boolean;
}

/**
 * mqtt-packet's parser (9.x, parser.js) calls `debug` (namespace `mqtt-packet:parser`) about 18 times for each
 * PUBLISH it parses, with debugging off too: each call makes its rest-argument array and asks its `enabled`
 * getter before returning (the `debug` package, src/common.js), garbage the broker collects per message. Most
 * of them are in two short steps: `parse` (two per state of the four a packet passes, two per socket read)
 * and `_newPacket` (three). These two are replaced on each client's parser by the same steps without the
 * calls; the other states keep theirs (their code is longer and copied nowhere). With debugging on for the
 * parser (DEBUG=mqtt-packet:*) nothing is replaced. The steps as copied: `parse` appends the read to the
 * buffer list and runs the states by name (`this[this._states[this._stateCounter]]()`) while one completes
 * and the parser has no error, wrapping the counter; `_newPacket` consumes the packet's bytes, emits
 * 'packet' (aedes handles it synchronously) and starts a new Packet.
 */
export function parseWithoutDebugCalls(client: Client): void {
  const parser = (client as unknown as { _parser?: PacketParser })._parser;
  if (!parser || !Array.isArray(parser._states) || typeof parser._resetState !== 'function') return;
  if (mqttPacketDebug.enabled('mqtt-packet:parser')) return;
  const states = parser as unknown as Record<string, () => boolean>;
  (parser as unknown as { parse(buf: Buffer): number }).parse = function parseQuietly(
    this: PacketParser,
    buf: Buffer,
  ) {
    if (this.error) this._resetState();
    this._list.append(buf);
    while (
      (this.packet.length !== -1 || this._list.length > 0) &&
      (states[this._states[this._stateCounter] as string] as () => boolean).call(this) &&
      !this.error
    ) {
      this._stateCounter++;
      if (this._stateCounter >= this._states.length) this._stateCounter = 0;
    }
    return this._list.length;
  };
  (parser as unknown as { _newPacket(): boolean })._newPacket = function newPacketQuietly(
    this: PacketParser,
  ) {
    if (this.packet) {
      this._list.consume(this.packet.length);
      this.emit('packet', this.packet);
    }
    this.packet = new MqttPacket() as PacketParser['packet'];
    this._pos = 0;
    return true;
  };
}

// 4b. CONNACK before any delivery

/**
 * "The first packet sent from the Server to the Client MUST be a CONNACK Packet" [MQTT-3.2.0-1]. aedes restores
 * a persistent session's subscriptions before it writes the CONNACK (lib/handlers/connect.js: `restoreSubs`,
 * then `storeWill`, `registerClient`, `doConnack`), and a message routed in that gap is written at once: on a
 * node of a cluster, where `storeWill` waits for Redis, the gateway reconnecting to a restarted node got a
 * PUBLISH first (measured: 1 start in 3 to 5 of broker/cluster.test.ts). MQTT.js then waits for the CONNACK
 * to send that message's PUBACK, and reads nothing more: no CONNACK, the connection fails after its connect
 * timeout.
 *
 * So until its CONNACK is sent, a client's deliveries wait. A QoS > 0 message for a persistent session is
 * already in that session's queue (aedes enqueues for persistent subscriptions before it routes,
 * `enqueueOffline`), and `emptyQueue` sends the queue right after the CONNACK, in order: the early delivery is
 * dropped, so the message goes once. Anything else (QoS 0) is written right after the CONNACK.
 */
export function sendConnackFirst(aedes: Aedes): (client: Client) => void {
  interface Deliveries {
    deliver0: (packet: { qos: number }, done: () => void) => void;
    deliverQoS: (packet: { qos: number }, done: () => void) => void;
    connackSent: boolean;
    clean: boolean;
  }
  const waiting = new WeakMap<Client, Array<() => void>>();
  aedes.on('connackSent', (_connack, client) => {
    const held = waiting.get(client);
    waiting.delete(client);
    for (const deliver of held ?? []) deliver();
  });
  const noop = () => undefined;
  return (client) => {
    const c = client as unknown as Deliveries;
    const deliver0 = c.deliver0;
    const deliverQoS = c.deliverQoS;
    if (typeof deliver0 !== 'function' || typeof deliverQoS !== 'function') return;
    waiting.set(client, []);
    // The mqemitter's callback is answered at once: a connection that never gets its CONNACK must not hold
    // the emitter up.
    const hold = (deliver: () => void, done: () => void) => {
      waiting.get(client)?.push(deliver);
      setImmediate(done);
    };
    c.deliver0 = (packet, done) => {
      if (c.connackSent || !waiting.has(client)) return deliver0(packet, done);
      hold(() => deliver0(packet, noop), done);
    };
    c.deliverQoS = (packet, done) => {
      if (c.connackSent || !waiting.has(client)) return deliverQoS(packet, done);
      if (packet.qos > 0 && c.clean === false) return void setImmediate(done);
      hold(() => deliverQoS(packet, noop), done);
    };
  };
}

// 5. Who holds a client id

/**
 * [MQTT-3.1.4-2] has a new connection with a client id take over the old one; aedes does so in
 * `registerClient` whoever connects. The broker refuses a takeover from another account (one device must not
 * knock another off), and needs the current holder of the id for that: aedes keeps it in `clients`, which
 * its types do not declare.
 */
export function clientHoldingId(aedes: Aedes, clientId: string): Client | undefined {
  return (aedes as unknown as { clients: Record<string, Client | undefined> }).clients[clientId];
}

// 6. Routing in arrival order, journaling device messages at arrival, acknowledging QoS 1 once routed and
//    journaled, dropping refused messages

/**
 * The journal of device messages as routing sees it (issue 10, journal/journal.ts): the broker decides which
 * messages are a device's and appends them; routing decides when they are routed and acknowledged.
 */
export interface ArrivalJournal {
  /**
   * Called synchronously as a message arrives, so the journal's order is the arrival order: a client's
   * accepted PUBLISH of any QoS (from authorizePublish), or a message aedes publishes itself (a will, with
   * the client whose connection broke or, for a will left by a previous run, without one; aedes' `$SYS`
   * messages). Starts the append and returns it when the message is to be journaled, else undefined.
   */
  append(packet: PublishPacket, client: Client | null): Promise<Appended> | undefined;
  /**
   * The journal's last position before this broker run appended anything. A retransmission of a message at
   * or before it was journaled by an earlier run, which may have stopped between the append and the routing.
   */
  committedAtStart: number;
}

export interface ArrivalOrderRouting {
  /**
   * authorizePublish accepts `packet`: a device's message is appended to the journal now; a QoS 1 PUBLISH is
   * routed (after its append, unless it is a retransmission) and `callback` (after which aedes sends the
   * PUBACK) is called once both are done; anything else goes on as aedes does.
   */
  accept(packet: PublishPacket, client: Client, callback: (err?: Error | null) => void): void;
  /** authorizePublish refuses `packet` but answers `callback(null)`: aedes acknowledges it, nobody gets it. */
  drop(packet: PublishPacket): void;
  /** Resolves when every message handed to routing has finished its disk steps and journal append. */
  idle(): Promise<void>;
}

type Done = (err?: Error) => void;

/**
 * A closure made per message, passed through rather than bound to a name: tsx compiles with esbuild's
 * keepNames, which gives a function bound to a name (`const f = () => …`, `{ f: () => … }`) a
 * `defineProperty(f, 'name')` call each time it is made. Four per message on this path cost ~8 % of the
 * event loop's time in the ingest bench's profile (`__name`).
 */
const unnamed = <F>(f: F): F => f;
type Publish = (packet: PublishPacket, client: unknown, done?: Done) => void;

interface Routed {
  broker: unknown;
  packet: PublishPacket;
  client: unknown;
  done: Done | undefined;
  /** A QoS 1 device message: routed only once its append said it is not a retransmission. */
  appended?: Promise<Appended>;
}

/**
 * Replaces `aedes.publish` (the one entry to routing: client PUBLISH, wills, aedes' own $SYS messages) and
 * hooks `aedes.mq.emit` (routing's last step, the one place aedes hands a message to its subscribers).
 *
 * In order: each message's disk steps (retained store, offline queue) are finished before the next message's
 * start. aedes numbers each message when routing starts (`new Packet` in `Aedes.publish`), and a persistent
 * session drops any message that reaches it after a higher number (its `dedupe`). Routed side by side, a
 * message waiting on the disk (a Nuki's retained `state`) was overtaken by a plain reading and lost to the
 * gateway. Delivery to subscribers still runs concurrently: the next message starts as soon as this one is
 * handed to the emitter.
 *
 * Acknowledged once routed: aedes answers a QoS 1 PUBLISH with PUBACK first and routes it afterwards
 * (lib/handlers/publish.js, `enqueuePublish`: `write(client, new PubAck(packet), ...)`, then
 * `broker.publish`), so the sender was told the message was taken while its retained copy and the persistent
 * sessions' queue entries were not on disk yet; a broker stopped in that window lost an acknowledged retained
 * state or queued reading. MQTT 3.1.1 §4.3.2 has the receiver send PUBACK "having accepted ownership of the
 * Application Message". So `accept` routes a QoS 1 message from authorizePublish, which aedes runs before its
 * PUBACK (`publishActions`: authorizePublish, then enqueuePublish), and answers when routing has finished (as
 * aedes' own QoS 2 path stores before PUBREC); aedes' later publish of that same packet object is skipped. A
 * failed route refuses the packet: no PUBACK, the client resends it.
 *
 * Journaled at arrival (issue 10, "durable ack at the edge"): a device's message is appended to the journal
 * in `accept`, which aedes calls synchronously as each PUBLISH is parsed off the socket (lib/client.js,
 * `enqueue` → `handle` → `handlePublish` → authorizePublish), so the journal's order is the arrival order.
 * - QoS 1: routed only once the append has resolved, and acknowledged once routed, so PUBACK means the
 *   message is in the journal (and, as above, in the retained store and the queues). An append that fails
 *   refuses the packet the way a failed route does: the error goes back to aedes as authorizePublish's,
 *   aedes closes the connection without a PUBACK (lib/client.js `_onError`), and the client sends the
 *   message again on its next connection ([MQTT-4.4.0-1]: it must resend unacknowledged PUBLISH packets).
 * - A retransmission (the journal answers `duplicate`: the client sent it again with DUP=1 [MQTT-3.3.1-1]
 *   because its PUBACK had not come, on this connection or after a reconnect) is the same message: it is
 *   acknowledged, once the original's routing has finished, and not routed again. Except when the original
 *   was journaled by an earlier broker run (`committedAtStart`) or its route failed: that run may have
 *   stopped between append and routing, so it is routed once more (subscribers get QoS 1's at least once,
 *   and a retained state the device was never told was taken gets stored).
 * - QoS 0 and wills have nobody to answer: a QoS 0 message is appended and routed without waiting for the
 *   append; a will's routing finishes (aedes then deletes the stored will: lib/client.js `close`, aedes.js
 *   `_clearWills`) only once its append resolved, so a broker killed before that publishes the will again
 *   after its next start (`_clearWills`, every 4 heartbeats: 4 min by default). A will whose append fails is
 *   lost to the journal when its client's connection broke (`close` deletes the stored will whatever the
 *   outcome); one left by an earlier run is kept and tried again (`_clearWills` deletes only after a
 *   successful publish). QoS 2 is stored by aedes before routing ([MQTT-4.3.3-2], its own duplicate check),
 *   appended at arrival too, and PUBREC'd only once routed and appended.
 * Holding a QoS 1 message until its append resolved holds the messages behind it too (arrival order), but
 * not their appends: those run meanwhile and commit together (journal.ts: group commit).
 *
 * Dropped: a refused PUBLISH is acknowledged (as Mosquitto does) rather than answered by a disconnect (aedes'
 * answer to an authorizePublish error), and aedes' publish of it is skipped.
 */
export function routeInArrivalOrder(aedes: Aedes, journal?: ArrivalJournal): ArrivalOrderRouting {
  const route = aedes.publish as unknown as Publish;
  const dropped = new WeakSet<object>();
  const routedBeforeAck = new WeakSet<object>();
  const readOn = readOnWhileJournaling();
  /** QoS 2 messages appended at arrival, published by aedes after its own store step. */
  const appendedAtArrival = new WeakMap<object, Promise<Appended>>();
  /**
   * Journal positions appended by this run whose routing has not finished, each with the retransmissions'
   * answers waiting for it (made only when one comes): a retransmission's PUBACK waits for its original's
   * route, and gets its error.
   */
  const routingOf = new Map<number, Done[] | undefined>();
  /** Positions to route again when retransmitted: their route failed (no PUBACK went out for them). */
  const routeFailed = new Set<number>();
  /** Positions of an earlier run that this run routed again already. */
  const routedAgain = new Set<number>();
  const appending = new Set<Promise<unknown>>();
  const waiting: Routed[] = [];
  let routing = false;
  /**
   * The message handed to aedes' routing that has not yet reached the emitter (0: none). One at a time, so a
   * number tells whether a message's turn was given back, with no closure made per message for it.
   */
  let current = 0;
  let handed = 0;
  const idleWaiters: (() => void)[] = [];

  const track = (appended: Promise<Appended>) => {
    appending.add(appended);
    const settled = unnamed(() => appending.delete(appended));
    appended.then(settled, settled);
  };

  /** Gives the turn of message `token` back: the next message starts (once, however often it is called). */
  const release = (token: number) => {
    if (token !== current) return;
    current = 0;
    // A microtask, not a nested call: a long queue of messages must not grow the stack.
    queueMicrotask(routeNext);
  };

  /** Hands `next` to aedes' routing; the next message starts once this one reaches the emitter. */
  const handOn = (next: Routed, seq?: number) => {
    const token = ++handed;
    current = token;
    if (seq !== undefined) routingOf.set(seq, undefined);
    // [MQTT-3.3.1-3]: the DUP of an incoming PUBLISH is not propagated to subscribers; aedes copies it into
    // every delivery (aedes-packet), so a device's retransmission reached the gateway as a redelivery. Its
    // own redeliveries are marked by markRedeliveriesDup.
    if (next.packet.cmd === 'publish') next.packet.dup = false;
    route.call(next.broker, next.packet, next.client, (err) => {
      let retransmissions: Done[] | undefined;
      if (seq !== undefined) {
        retransmissions = routingOf.get(seq);
        routingOf.delete(seq);
        if (err) routeFailed.add(seq);
        else if (journal && seq <= journal.committedAtStart) routedAgain.add(seq);
      }
      next.done?.(err);
      // After the original's answer, as its PUBACK comes first.
      if (retransmissions) for (const answer of retransmissions) answer(err);
      release(token);
    });
  };

  const routeAgain = (seq: number) =>
    routeFailed.delete(seq) ||
    (journal !== undefined && seq <= journal.committedAtStart && !routedAgain.has(seq));

  const routeNext = () => {
    const next = waiting.shift();
    if (!next) {
      routing = false;
      for (const resolve of idleWaiters.splice(0)) resolve();
      return;
    }
    routing = true;
    if (!next.appended) return handOn(next);
    next.appended.then(
      (appended) => {
        if (!appended.duplicate || routeAgain(appended.seq)) return handOn(next, appended.seq);
        // The same message again: answered as the original is once routed (a failed route refuses both,
        // and the next retransmission is routed), never routed twice.
        queueMicrotask(routeNext);
        if (!routingOf.has(appended.seq)) return next.done?.();
        const answers = routingOf.get(appended.seq) ?? [];
        answers.push(unnamed((err?: Error) => next.done?.(err)));
        routingOf.set(appended.seq, answers);
      },
      (err: Error) => {
        queueMicrotask(routeNext);
        next.done?.(err);
      },
    );
  };
  const routeInOrder = (next: Routed) => {
    waiting.push(next);
    if (!routing) routeNext();
  };
  /** `done` once the append has resolved too; a failed append is the error. */
  const afterAppend =
    (appended: Promise<Appended>, done: Done | undefined): Done =>
    (err) =>
      void appended.then(
        () => done?.(err),
        (appendErr: Error) => done?.(err ?? appendErr),
      );

  (aedes as unknown as { publish: Publish }).publish = function publishInOrderUnlessDone(
    packet,
    client,
    done,
  ) {
    const callback = typeof client === 'function' ? (client as Done) : done;
    // Released early (readOn): its turn in the client's read loop was given back at its arrival.
    if (routedBeforeAck.has(packet) && readOn.finished(client as Client, packet)) return;
    if (dropped.has(packet) || routedBeforeAck.has(packet)) return void callback?.();
    const from = typeof client === 'function' ? null : (client as Client | null);
    // A client's PUBLISH was appended at arrival (accept); anything else (a will, $SYS) arrives here.
    let appended: Promise<Appended> | undefined;
    if (packet.cmd === 'publish') appended = appendedAtArrival.get(packet);
    else {
      appended = journal?.append(packet, from);
      if (appended) track(appended);
    }
    routeInOrder({
      broker: this,
      packet,
      client: from,
      done: appended ? afterAppend(appended, callback) : callback,
    });
  };

  const emitter = (aedes as unknown as { mq: { emit: (packet: unknown, cb?: Done) => void } }).mq;
  const emit = emitter.emit.bind(emitter);
  emitter.emit = (packet, cb) => {
    const token = current;
    emit(packet, cb);
    if (token !== 0) release(token);
  };

  return {
    accept(packet, client, callback) {
      // A will (no `cmd`) is journaled when aedes publishes it, after this authorisation.
      if (packet.cmd !== 'publish') return callback(null);
      const appended = journal?.append(packet, client);
      if (packet.qos !== 1) {
        if (appended) track(appended);
        // QoS 0: not waited for. QoS 2: aedes stores it, then publishes it (PUBREC after the append, above).
        if (appended && packet.qos === 2) appendedAtArrival.set(packet, appended);
        return callback(null);
      }
      routedBeforeAck.add(packet);
      // Not tracked: routing waits for this append before the message's turn, so `idle` does too.
      routeInOrder({
        broker: aedes,
        packet,
        client,
        done: unnamed((err) => callback(err ?? null)),
        appended,
      });
      if (appended) readOn.release(client, packet);
    },
    drop(packet) {
      dropped.add(packet);
    },
    async idle() {
      while (routing || appending.size > 0) {
        if (routing) await new Promise<void>((resolve) => idleWaiters.push(resolve));
        else await Promise.allSettled([...appending]);
      }
    },
  };
}

// 6b. A client's next packets read while its QoS 1 messages wait for the journal

/** Packets and payload bytes of one client that may wait for their journal append while aedes reads on. */
export const READ_ON_PACKETS = 1024;
const READ_ON_BYTES = 4 * 1024 * 1024;

interface ReadLoop {
  /** aedes' read loop (lib/client.js `nextBatch`): one call per packet handled; at 0 it reads the socket. */
  _nextBatch: (err?: Error) => void;
  _parsingBatch: number;
  _paused?: boolean;
}

/**
 * aedes reads a client's socket one read at a time: it parses every packet of a read, and reads again only
 * once each of them is done (lib/client.js: `_parsingBatch` counts them, `nextBatch` decrements and reads at
 * 0). A QoS 1 message of a device is done only once it is in the journal (its PUBACK waits for the fsync:
 * routeInArrivalOrder), so one connection carrying many devices' messages (a Zigbee2MQTT bridge, the bench's
 * publisher) had one socket read per group commit: the next read waited for the fsync of the previous one
 * (measured: the event loop idle more than half the time, the journal idle two thirds of it, groups of one
 * read each). With this, a QoS 1 message whose append has started gives its turn in the read loop back at its
 * arrival, so aedes reads and journals the next packets while the fsync runs and they commit together.
 * Nothing else changes: its PUBACK still goes out once it is journaled and routed, in arrival order, and an
 * error still closes the connection (aedes' done with an error is never skipped). At most READ_ON_PACKETS
 * packets (and READ_ON_BYTES of payload) of a client wait this way; past that the read loop waits as aedes'
 * does, so a client that sends faster than the disk takes it is held back by TCP, not by memory.
 */
export function readOnWhileJournaling(): {
  /** `packet` of `client` is being journaled: its turn in the read loop is given back (within the bounds). */
  release(client: Client, packet: PublishPacket): void;
  /** aedes finished `packet`: true when its turn was given back already (then aedes' done is not called). */
  finished(client: Client, packet: PublishPacket): boolean;
} {
  const released = new WeakMap<object, number>();
  const waiting = new WeakMap<object, { packets: number; bytes: number }>();
  return {
    release(client, packet) {
      const loop = client as unknown as ReadLoop;
      if (typeof loop._nextBatch !== 'function') return;
      const bytes = Buffer.isBuffer(packet.payload) ? packet.payload.length : 0;
      const held = waiting.get(client) ?? { packets: 0, bytes: 0 };
      waiting.set(client, held);
      if (held.packets >= READ_ON_PACKETS || held.bytes + bytes > READ_ON_BYTES) return;
      held.packets++;
      held.bytes += bytes;
      released.set(packet, bytes);
      // After the packets of this read are parsed (a nested read would re-enter mqtt-packet's parser).
      queueMicrotask(() => {
        // Paused (aedes authenticating a CONNECT), nextBatch would not count the packet: aedes' own done does.
        if (loop._paused && released.delete(packet)) {
          held.packets--;
          held.bytes -= bytes;
          return;
        }
        loop._nextBatch();
      });
    },
    finished(client, packet) {
      const bytes = released.get(packet);
      if (bytes === undefined) return false;
      released.delete(packet);
      const held = waiting.get(client);
      if (held) {
        held.packets--;
        held.bytes -= bytes;
      }
      return true;
    },
  };
}

// 7. Whether anyone on this node listens to a topic

/** Topics whose answer is kept; past this the answers are forgotten and found again. */
const LISTENED_TOPICS = 16_384;

/**
 * Whether a message on `topic` would reach any subscriber of this broker: its emitter's matcher (mqemitter's
 * Qlobber, `mq._matcher`) holds every subscription of this node's clients and aedes' own `$SYS` listeners.
 * For RunningBroker.publishOwn (QoS 0, no retain) nobody listening means routing does nothing at all: aedes
 * stores only retained messages and queues only QoS > 0 for offline sessions (aedes.js `publishFuncsSimple`:
 * storeRetained, emitPacket, callPublished), and nothing here listens to its 'publish' event.
 *
 * The answers are kept per topic and forgotten whenever a listener is added (`mq.on`: a SUBSCRIBE, a
 * persistent session's subscriptions restored on connect, aedes' own), so a new subscriber is never missed; one
 * removed leaves a stale "yes", which costs one routing, no more. One node only: on a cluster the emitter is
 * mqemitter-redis, whose other nodes' subscribers this node's matcher does not hold.
 */
export function listenersOnThisNode(aedes: Aedes): (topic: string) => boolean {
  const mq = (aedes as unknown as { mq: unknown }).mq as {
    on: (topic: string, notify: unknown, done?: () => void) => unknown;
    _matcher: { match: (topic: string) => unknown[] };
  };
  const known = new Map<string, boolean>();
  const on = mq.on;
  mq.on = function onForgettingListeners(this: unknown, topic, notify, done) {
    known.clear();
    return on.call(this, topic, notify, done);
  };
  return (topic) => {
    let listened = known.get(topic);
    if (listened === undefined) {
      listened = mq._matcher.match(topic).length > 0;
      if (known.size >= LISTENED_TOPICS) known.clear();
      known.set(topic, listened);
    }
    return listened;
  };
}
