import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Level } from 'level';
import type { Logger } from 'pino';

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
    persistence[method] = (...args: unknown[]) => {
      const done = write(...args);
      const inOrder = Promise.all([previous, done]).then(() => done);
      previous = inOrder.catch(() => undefined);
      return inOrder;
    };
  }
  return persistence;
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

// 6. Routing in arrival order, acknowledging QoS 1 once routed, dropping refused messages

export interface ArrivalOrderRouting {
  /**
   * authorizePublish accepts `packet`: a QoS 1 PUBLISH is routed now and `callback` (after which aedes sends
   * the PUBACK) is called once it is routed; anything else goes on as aedes does.
   */
  accept(packet: PublishPacket, client: Client, callback: (err?: Error | null) => void): void;
  /** authorizePublish refuses `packet` but answers `callback(null)`: aedes acknowledges it, nobody gets it. */
  drop(packet: PublishPacket): void;
  /** Resolves when every message handed to routing has finished its disk steps. */
  idle(): Promise<void>;
}

type Done = (err?: Error) => void;
type Publish = (packet: PublishPacket, client: unknown, done?: Done) => void;

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
 * Dropped: a refused PUBLISH is acknowledged (as Mosquitto does) rather than answered by a disconnect (aedes'
 * answer to an authorizePublish error), and aedes' publish of it is skipped.
 */
export function routeInArrivalOrder(aedes: Aedes): ArrivalOrderRouting {
  const route = aedes.publish as unknown as Publish;
  const dropped = new WeakSet<object>();
  const routedBeforeAck = new WeakSet<object>();
  const waiting: { broker: unknown; packet: PublishPacket; client: unknown; done: Done | undefined }[] = [];
  let routing = false;
  let releaseCurrent: (() => void) | undefined;
  const idleWaiters: (() => void)[] = [];

  const routeNext = () => {
    const next = waiting.shift();
    if (!next) {
      routing = false;
      for (const resolve of idleWaiters.splice(0)) resolve();
      return;
    }
    routing = true;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      releaseCurrent = undefined;
      // A microtask, not a nested call: a long queue of messages must not grow the stack.
      queueMicrotask(routeNext);
    };
    releaseCurrent = release;
    route.call(next.broker, next.packet, next.client, (err) => {
      next.done?.(err);
      release();
    });
  };
  const routeInOrder = (broker: unknown, packet: PublishPacket, client: unknown, done: Done | undefined) => {
    waiting.push({ broker, packet, client, done });
    if (!routing) routeNext();
  };

  (aedes as unknown as { publish: Publish }).publish = function publishInOrderUnlessDone(
    packet,
    client,
    done,
  ) {
    const callback = typeof client === 'function' ? (client as Done) : done;
    if (dropped.has(packet) || routedBeforeAck.has(packet)) return void callback?.();
    routeInOrder(this, packet, typeof client === 'function' ? null : client, callback);
  };

  const emitter = (aedes as unknown as { mq: { emit: (packet: unknown, cb?: Done) => void } }).mq;
  const emit = emitter.emit.bind(emitter);
  emitter.emit = (packet, cb) => {
    const release = releaseCurrent;
    emit(packet, cb);
    release?.();
  };

  return {
    accept(packet, client, callback) {
      // A will (no `cmd`) and QoS 0/2 go on as aedes does; QoS 2 is stored before routing and PUBREC'd after.
      if (packet.cmd !== 'publish' || packet.qos !== 1) return callback(null);
      routedBeforeAck.add(packet);
      routeInOrder(aedes, packet, client, (err) => callback(err ?? null));
    },
    drop(packet) {
      dropped.add(packet);
    },
    idle() {
      return routing ? new Promise<void>((resolve) => idleWaiters.push(resolve)) : Promise.resolve();
    },
  };
}
