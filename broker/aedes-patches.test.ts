import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import { Level } from 'level';
import mqtt, { type IPublishPacket } from 'mqtt';
import pino from 'pino';
import t from 'tap';
import { connect, inbox, startTestBroker, subscribe, tempDir } from '../test-support/broker.ts';
import {
  AsyncLevelPersistence,
  clientHoldingId,
  guardRetainedStreams,
  keepGrantedSubscriptionsOnly,
  type LevelPersistence,
  markRedeliveriesDup,
  parseWithoutDebugCalls,
  READ_ON_PACKETS,
  readOnWhileJournaling,
  resolveQueueWritesInOrder,
} from './aedes-patches.ts';
import type { RunningBroker } from './broker.ts';

/**
 * Each patch of aedes internals (aedes-patches.ts) against the aedes underneath: the internal it relies on
 * still has the shape it patches, and the patch still does its job on the running broker. Behaviour covered
 * elsewhere: the size limit and the refused takeover (broker.test.ts), refused messages dropped
 * (broker.test.ts, mosquitto-clients.test.ts), the delivery order (persistent-delivery.test.ts), nothing
 * acknowledged before it is stored (persistence.test.ts), a device's messages journaled at arrival and
 * acknowledged after the append, a failed append not acknowledged, a will journaled (device-journal.test.ts).
 */

const GATEWAY = { username: 'wesprint-gateway', password: 'gateway-secret' };
const DESK1 = { username: 'desk-1-occupancy', password: 'desk-1-secret' };

function internals(broker: RunningBroker) {
  return broker.aedes as unknown as {
    persistence: LevelPersistence;
    mq: { emit: (packet: { topic: string }, cb?: () => void) => void };
  };
}

/**
 * Calls of a persistence (or emitter) method from here on, the method still doing its work; `finished`
 * counts the calls whose promise has resolved.
 */
function countCalls<T extends object>(target: T, method: keyof T & string) {
  const original = (target[method] as (...args: unknown[]) => unknown).bind(target);
  const seen = { calls: [] as unknown[][], finished: 0 };
  (target as Record<string, unknown>)[method] = (...args: unknown[]) => {
    seen.calls.push(args);
    const result = original(...args);
    if (result instanceof Promise) void result.then(() => seen.finished++);
    return result;
  };
  return seen;
}

t.test('1. the async persistence class is what aedes 1.x calls', async (t) => {
  const proto = AsyncLevelPersistence.prototype as unknown as Record<string, unknown>;
  // Aedes.listen() refuses a persistence whose setup is not an async function.
  t.equal((proto.setup as () => void).constructor.name, 'AsyncFunction', 'setup is async');
  for (const method of [
    'destroy',
    'storeRetained',
    'createRetainedStream',
    'createRetainedStreamCombi',
    'outgoingEnqueueCombi',
    'outgoingUpdate',
  ])
    t.type(proto[method], 'function', method);
});

t.test('2. queue writes: aedes calls the two patched writes, and they resolve in call order', async (t) => {
  const broker = await startTestBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const enqueues = countCalls(internals(broker).persistence, 'outgoingEnqueueCombi');
  const updates = countCalls(internals(broker).persistence, 'outgoingUpdate');
  const gateway = await connect(t, url, { ...GATEWAY, clientId: 'gw-persistent', clean: false });
  const got = inbox(gateway);
  await subscribe(gateway, 'zigbee2mqtt/+', 1);
  const desk = await connect(t, url, { ...DESK1, clientId: 'desk-queue' });
  await desk.publishAsync('zigbee2mqtt/desk-1', '{"occupancy":true}', { qos: 1 });
  await got.waitFor((m) => m.topic === 'zigbee2mqtt/desk-1');
  t.ok(
    enqueues.calls.length >= 1,
    'routing stores a persistent session queue entry with outgoingEnqueueCombi',
  );
  t.ok(updates.calls.length >= 1, 'delivery to a persistent session goes through outgoingUpdate');

  // LevelDB finishes writes in any order; a stand-in for it whose second write finishes first.
  const finishes: string[] = [];
  const later = (name: string, ms: number) =>
    new Promise<void>((resolve) =>
      setTimeout(() => {
        finishes.push(name);
        resolve();
      }, ms),
    );
  const store = resolveQueueWritesInOrder({
    outgoingEnqueueCombi: (name: unknown) => later(String(name), name === 'first' ? 30 : 1),
    outgoingUpdate: (name: unknown) => later(String(name), name === 'first' ? 30 : 1),
  } as unknown as LevelPersistence);
  for (const method of ['outgoingEnqueueCombi', 'outgoingUpdate'] as const) {
    finishes.length = 0;
    const resolved: string[] = [];
    await Promise.all(['first', 'second'].map((name) => store[method](name).then(() => resolved.push(name))));
    t.same(finishes, ['second', 'first'], `${method}: the writes finished out of order`);
    t.same(resolved, ['first', 'second'], `${method}: and resolved in call order`);
  }
});

t.test(
  "2c. refused subscriptions: aedes stores a SUBSCRIBE's whole list; a persistent session keeps only what was granted",
  async (t) => {
    t.type(keepGrantedSubscriptionsOnly, 'function');
    const broker = await startTestBroker(t);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const persistence = internals(broker).persistence as unknown as {
      subscriptionsByClient(client: { id: string }): Promise<{ topic: string }[] | null>;
      subscriptionsByTopic(topic: string): Promise<{ clientId: string }[]>;
      addSubscriptions(client: { id: string }, subs: { topic: string; qos: number }[]): Promise<unknown>;
    };
    const kept = async (id: string) =>
      ((await persistence.subscriptionsByClient({ id })) ?? []).map((s) => s.topic).sort();

    const gateway = await connect(t, url, { ...GATEWAY, clientId: 'gw-refused', clean: false });
    t.same(
      await subscribe(gateway, ['zigbee2mqtt/+', 'not-a-building/#'], 1),
      [1, 128],
      'one granted, one refused',
    );
    t.same(await kept('gw-refused'), ['zigbee2mqtt/+'], 'the session keeps the granted filter only');
    t.same(
      (await persistence.subscriptionsByTopic('not-a-building/x')).map((s) => s.clientId),
      [],
      'so nothing on the refused filter is queued for it',
    );

    // A session that kept a refused filter (a broker before this patch): gone with its next SUBSCRIBE.
    await persistence.addSubscriptions({ id: 'gw-refused' }, [{ topic: 'not-a-building/#', qos: 1 }]);
    t.same(await kept('gw-refused'), ['not-a-building/#', 'zigbee2mqtt/+'], 'kept from before');
    await gateway.endAsync();
    const again = await connect(t, url, { ...GATEWAY, clientId: 'gw-refused', clean: false });
    t.same(await subscribe(again, ['zigbee2mqtt/+', 'not-a-building/#'], 1), [1, 128]);
    t.same(await kept('gw-refused'), ['zigbee2mqtt/+'], 'removed when refused again');
  },
);

t.test(
  '3. retained lookups: aedes reads retained messages through the guarded stream, which survives a closed store',
  async (t) => {
    const broker = await startTestBroker(t);
    const lookups = countCalls(internals(broker).persistence, 'createRetainedStreamCombi');
    const gateway = await connect(t, `mqtt://127.0.0.1:${broker.port}`, {
      ...GATEWAY,
      clientId: 'gw-retained',
    });
    await subscribe(gateway, 'zigbee2mqtt/+/availability', 1);
    t.same(lookups.calls, [[['zigbee2mqtt/+/availability']]], 'a SUBSCRIBE looks up retained messages there');

    const db = new Level<string, Buffer>(tempDir(t), { valueEncoding: 'buffer' });
    await db.open();
    const lines: string[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void lines.push(JSON.parse(line).msg) },
    );
    const persistence = guardRetainedStreams(new AsyncLevelPersistence(db), logger);
    await db.close();
    // As aedes pipes it: into a stream of its own, no error handler of its own. Unguarded, the closed
    // database's error would be uncaught and end this process.
    const stream = persistence.createRetainedStreamCombi(['#']);
    stream.pipe(new Writable({ objectMode: true, write: (_chunk, _enc, cb) => cb() }));
    await new Promise((resolve) => stream.once('close', resolve));
    t.same(lines, ['retained lookup ended by broker shutdown'], 'the error is logged and goes no further');
  },
);

t.test(
  '4b. CONNACK first: a message routed while a persistent session is restored waits for the CONNACK, and goes once',
  async (t) => {
    const broker = await startTestBroker(t);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const session = { ...GATEWAY, clientId: 'gw-connack', clean: false };
    const first = await connect(t, url, session);
    await subscribe(first, 'zigbee2mqtt/+', 1);
    await first.endAsync();
    const desk = await connect(t, url, { ...DESK1, clientId: 'desk-connack' });
    await desk.publishAsync('zigbee2mqtt/desk-1', 'queued while away', { qos: 1 });

    // aedes restores the session's subscriptions, then deletes its old will (`storeWill`), then sends the
    // CONNACK: a message routed in that gap, as on a cluster node waiting for Redis.
    const persistence = internals(broker).persistence as unknown as {
      delWill(client: unknown): Promise<unknown>;
    };
    const delWill = persistence.delWill.bind(persistence);
    let routedInTheGap = false;
    persistence.delWill = async (client) => {
      persistence.delWill = delWill;
      await desk.publishAsync('zigbee2mqtt/desk-1', 'routed before the CONNACK', { qos: 1 });
      routedInTheGap = true;
      return delWill(client);
    };

    const received: string[] = [];
    const back = mqtt.connect(url, {
      ...session,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    t.teardown(() => back.endAsync(true));
    back.on('packetreceive', (packet) => {
      received.push(packet.cmd === 'publish' ? `publish ${String(packet.payload)}` : packet.cmd);
    });
    await new Promise<void>((resolve, reject) => {
      back.once('connect', () => resolve());
      back.once('error', reject);
    });
    t.ok(routedInTheGap, 'a message was routed to the session before its CONNACK');
    await new Promise<void>((resolve) => {
      const check = () => received.length >= 3 && resolve();
      back.on('packetreceive', check);
      check();
    });
    // Anything sent twice would have arrived by the time the last message of the queue is acknowledged.
    await desk.publishAsync('zigbee2mqtt/desk-1', 'after', { qos: 1 });
    await new Promise<void>((resolve) => {
      const check = () => received.includes('publish after') && resolve();
      back.on('packetreceive', check);
      check();
    });
    t.same(
      received,
      ['connack', 'publish queued while away', 'publish routed before the CONNACK', 'publish after'],
      'the CONNACK first [MQTT-3.2.0-1], then the queue in order, each message once',
    );
  },
);

t.test('4 and 5. every connection gets the size limit; aedes keeps its clients by id', async (t) => {
  const broker = await startTestBroker(t);
  const clients: Client[] = [];
  broker.aedes.on('client', (client) => clients.push(client));
  await connect(t, `mqtt://127.0.0.1:${broker.port}`, { ...DESK1, clientId: 'desk-shape' });
  const [client] = clients;
  if (!client) throw new Error('aedes announced no client');

  const parser = (client as unknown as { _parser: Record<string, unknown> })._parser;
  t.ok(
    (parser._states as string[]).includes('_parseLength'),
    'the parser still runs a _parseLength state by name',
  );
  t.equal((parser._parseLength as () => void).name, 'parseLengthWithLimit', 'and it is the limited one');
  t.type(parser._emitError, 'function', 'the parser fails a connection through _emitError');
  t.equal((parser.parse as () => void).name, 'parseQuietly', 'it parses without the debug calls (4a)');
  t.equal((parser._newPacket as () => void).name, 'newPacketQuietly', 'and starts packets without them');

  t.equal(clientHoldingId(broker.aedes, 'desk-shape'), client, 'the connected client under its id');
  t.equal(clientHoldingId(broker.aedes, 'nobody'), undefined, 'an id nobody holds');
  t.equal(clientHoldingId(broker.aedes, 'constructor'), undefined, 'an inherited name is nobody');
});

t.test(
  '6. routing: aedes routes through publish and mq.emit; QoS 1 is acknowledged once routed, and routed once',
  async (t) => {
    t.equal(Aedes.prototype.publish.length, 3, 'Aedes.publish(packet, client, done)');
    const broker = await startTestBroker(t);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const emits = countCalls(internals(broker).mq, 'emit');
    const stored = countCalls(internals(broker).persistence, 'storeRetained');

    const gateway = await connect(t, url, { ...GATEWAY, clientId: 'gw-route' });
    const got = inbox(gateway);
    t.same(await subscribe(gateway, ['zigbee2mqtt/+', 'zigbee2mqtt/+/availability'], 1), [1, 1]);
    const desk = await connect(t, url, { ...DESK1, clientId: 'desk-route' });
    emits.calls.length = 0;
    stored.finished = 0;
    await desk.publishAsync('zigbee2mqtt/desk-1/availability', 'online', { qos: 1, retain: true });
    t.equal(stored.finished, 1, 'when the PUBACK arrives, the retained copy has been stored');
    const handedOn = emits.calls.filter(
      ([packet]) => (packet as { topic: string }).topic === 'zigbee2mqtt/desk-1/availability',
    );
    t.equal(handedOn.length, 1, 'and handed to subscribers once, through mq.emit');

    await desk.publishAsync('zigbee2mqtt/desk-1', 'last', { qos: 1 });
    await got.waitFor((m) => m.payload === 'last');
    t.same(
      got.messages.map((m) => m.payload),
      ['online', 'last'],
      'each delivered once (aedes publishes the very packet object it authorised, so it is not routed again)',
    );
  },
);

t.test(
  '2b. redeliveries: aedes resends a session backlog from outgoingStream, and those in flight go out with DUP 1',
  async (t) => {
    const proto = AsyncLevelPersistence.prototype as unknown as Record<string, unknown>;
    t.type(proto.outgoingStream, 'function', 'the persistence still has outgoingStream');
    // The Redis persistence of broker nodes answers with an async iterable, not a stream.
    const fromRedis = markRedeliveriesDup({
      outgoingStream: async function* () {
        yield { messageId: 7, dup: false };
        yield { dup: false };
      },
    } as unknown as LevelPersistence);
    const marked: unknown[] = [];
    for await (const packet of fromRedis.outgoingStream({})) marked.push(packet);
    t.same(marked, [{ messageId: 7, dup: true }, { dup: false }], 'an async iterable is marked too');
    const broker = await startTestBroker(t);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const backlog = countCalls(internals(broker).persistence, 'outgoingStream');

    // A persistent session that never acknowledges: its message stays in flight.
    const first = await connect(t, url, { ...GATEWAY, clientId: 'gw-dup', clean: false });
    const held: IPublishPacket[] = [];
    first.handleMessage = (packet) => {
      held.push(packet as IPublishPacket);
    };
    await subscribe(first, 'zigbee2mqtt/+', 1);
    const desk = await connect(t, url, { ...DESK1, clientId: 'desk-dup' });
    await desk.publishAsync('zigbee2mqtt/desk-1', 'in flight', { qos: 1 });
    const until = Date.now() + 10_000;
    while (held.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const [sent] = held;
    if (!sent) throw new Error('the message never reached the session');
    t.equal(sent.dup, false, 'sent the first time with DUP 0');
    await first.endAsync(true);
    // Queued while the session is away: never sent, so its first delivery has DUP 0, though the device sent
    // it with DUP 1 (not propagated [MQTT-3.3.1-3]).
    await desk.publishAsync('zigbee2mqtt/desk-1', 'queued', { qos: 1, dup: true });

    backlog.calls.length = 0;
    const again = await connect(t, url, { ...GATEWAY, clientId: 'gw-dup', clean: false });
    const got: IPublishPacket[] = [];
    again.on('message', (_topic, _payload, packet) => got.push(packet));
    const until2 = Date.now() + 10_000;
    while (got.length < 2 && Date.now() < until2) await new Promise((r) => setTimeout(r, 20));
    t.ok(backlog.calls.length >= 1, 'aedes read the backlog through persistence.outgoingStream');
    t.same(
      got.map((p) => ({ payload: String(p.payload), messageId: p.messageId, dup: p.dup })),
      [
        { payload: 'in flight', messageId: sent.messageId, dup: true },
        { payload: 'queued', messageId: got[1]?.messageId, dup: false },
      ],
      "the one in flight again with its packet id and DUP 1 [MQTT-3.3.1-1], the queued one with DUP 0 (the device's DUP not propagated)",
    );
  },
);

t.test(
  '2d. a queued message acknowledged live while the queue was sent is skipped, not a client error: the reconnect after a restart under load keeps its connection',
  async (t) => {
    const dataDir = tempDir(t);
    let broker = await startTestBroker(t, { dataDir });
    let url = `mqtt://127.0.0.1:${broker.port}`;
    // A persistent session with messages in flight (never acknowledged) and more queued while it is away.
    const first = await connect(t, url, { ...GATEWAY, clientId: 'gw-requeue', clean: false });
    first.handleMessage = () => {};
    await subscribe(first, 'zigbee2mqtt/+', 1);
    const sent: string[] = [];
    const before = await connect(t, url, { ...DESK1, clientId: 'desk-requeue' });
    const publish = (client: typeof before, payload: string) => {
      sent.push(payload);
      return client.publishAsync('zigbee2mqtt/desk-1', payload, { qos: 1 });
    };
    await Promise.all(Array.from({ length: 500 }, (_, i) => publish(before, `in-flight-${i}`)));
    await new Promise((r) => setTimeout(r, 500));
    first.end(true);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => publish(before, `queued-${i}`)));
    await before.endAsync(true);
    // The broker restarts; the device goes on publishing while the session comes back.
    await broker.close();
    broker = await startTestBroker(t, { dataDir });
    url = `mqtt://127.0.0.1:${broker.port}`;
    const errors: string[] = [];
    broker.aedes.on('clientError', (client: Client, err: Error) => {
      if (client.id === 'gw-requeue') errors.push(err.message);
    });
    const desk = await connect(t, url, { ...DESK1, clientId: 'desk-requeue' });
    let live = 0;
    let going = true;
    const pump = (async () => {
      while (going) await Promise.all(Array.from({ length: 50 }, () => publish(desk, `live-${live++}`)));
    })();
    await new Promise((r) => setTimeout(r, 300));
    const again = await connect(t, url, { ...GATEWAY, clientId: 'gw-requeue', clean: false });
    const got = new Set<string>();
    again.on('message', (_topic, payload) => got.add(String(payload)));
    let closes = 0;
    again.on('close', () => closes++);
    await subscribe(again, 'zigbee2mqtt/+', 1);
    await new Promise((r) => setTimeout(r, 5000));
    going = false;
    await pump;
    const until = Date.now() + 60_000;
    while (sent.some((p) => !got.has(p)) && closes === 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    t.comment(`${sent.length} sent (${live} live during the reconnect), ${got.size} received`);
    t.same(errors, [], 'no client error for the session ("no such packet")');
    t.equal(closes, 0, 'its connection stayed up');
    t.same(
      sent.filter((p) => !got.has(p)),
      [],
      'every message reached it: in flight before the restart, queued, live',
    );
  },
);

t.test(
  "6b. read on while journaling: aedes' read loop is a count of packets in hand, and a client gets at most READ_ON_PACKETS turns back",
  async (t) => {
    const broker = await startTestBroker(t);
    const desk = await connect(t, `mqtt://127.0.0.1:${broker.port}`, { ...DESK1, clientId: 'desk-read-on' });
    const held = clientHoldingId(broker.aedes, 'desk-read-on') as unknown as {
      _nextBatch: unknown;
      _parsingBatch: unknown;
    };
    t.type(held._nextBatch, 'function', "aedes' client still has its read loop, nextBatch");
    t.type(held._parsingBatch, 'number', 'and its count of packets in hand');
    await desk.endAsync();

    // A client of the read loop's shape: each turn given back is one nextBatch call, after the current read.
    let turns = 0;
    const client = { _nextBatch: () => turns++, _parsingBatch: 0 } as unknown as Client;
    const readOn = readOnWhileJournaling();
    const packets = Array.from(
      { length: READ_ON_PACKETS + 5 },
      (_, i) => ({ cmd: 'publish', topic: 't', payload: Buffer.from(`${i}`), qos: 1 }) as never,
    );
    for (const packet of packets) readOn.release(client, packet);
    t.equal(turns, 0, 'not during the read (mqtt-packet is still parsing it)');
    await Promise.resolve();
    t.equal(turns, READ_ON_PACKETS, 'then one per packet, up to the bound');
    t.equal(
      readOn.finished(client, packets[0] as never),
      true,
      "the first one's own done is not aedes' to count",
    );
    t.equal(
      readOn.finished(client, packets[READ_ON_PACKETS] as never),
      false,
      'one past the bound counts at its done, as aedes does',
    );
    readOn.release(client, packets[READ_ON_PACKETS] as never);
    await Promise.resolve();
    t.equal(turns, READ_ON_PACKETS + 1, 'a finished one makes room for the next');
  },
);

t.test(
  "4a. the parser without its debug calls: the steps copied are still the library's, and parse alike",
  async (t) => {
    const mqttPacket = createRequire(import.meta.url)('mqtt-packet') as {
      parser(): { parse(buf: Buffer): number; on(event: string, f: (packet: unknown) => void): void };
      generate(packet: object): Buffer;
    };
    const proto = Object.getPrototypeOf(mqttPacket.parser()) as Record<string, () => void>;
    const source = (name: string) => String(proto[name]).replace(/\s+/g, ' ');
    for (const step of [
      'this._list.append(buf)',
      'this[this._states[this._stateCounter]]() && !this.error',
      'if (this._stateCounter >= this._states.length) this._stateCounter = 0',
      'return this._list.length',
    ])
      t.ok(source('parse').includes(step), `parse still: ${step}`);
    for (const step of [
      'this._list.consume(this.packet.length)',
      "this.emit('packet', this.packet)",
      'this.packet = new Packet()',
      'this._pos = 0',
    ])
      t.ok(source('_newPacket').includes(step), `_newPacket still: ${step}`);

    // The same bytes, cut at random places, parsed by a parser as the library has it and by a quiet one.
    const packets = [
      {
        cmd: 'connect',
        clientId: 'quiet',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        keepalive: 30,
      },
      ...Array.from({ length: 200 }, (_, i) => ({
        cmd: 'publish',
        topic: `tele/plug-${i % 7}/SENSOR`,
        payload: Buffer.from(JSON.stringify({ ENERGY: { Power: i } })),
        qos: (i % 3) as 0 | 1 | 2,
        messageId: i % 3 === 0 ? undefined : i + 1,
        retain: i % 5 === 0,
        dup: false,
      })),
      { cmd: 'pingreq' },
      { cmd: 'puback', messageId: 7 },
      { cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'a/#', qos: 1 }] },
      { cmd: 'disconnect' },
    ];
    const bytes = Buffer.concat(packets.map((p) => mqttPacket.generate(p)));
    const parsed = (quiet: boolean) => {
      const parser = mqttPacket.parser();
      if (quiet) parseWithoutDebugCalls({ _parser: parser } as unknown as Client);
      const out: unknown[] = [];
      parser.on('packet', (packet) => out.push(packet));
      let seed = 7;
      for (let at = 0; at < bytes.length; ) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const end = Math.min(bytes.length, at + 1 + (seed % 40));
        parser.parse(bytes.subarray(at, end));
        at = end;
      }
      return { out, parser };
    };
    const plain = parsed(false);
    const quiet = parsed(true);
    t.equal(quiet.parser.parse.name, 'parseQuietly', 'the quiet parser is patched');
    t.equal(quiet.out.length, packets.length, 'every packet parsed');
    t.same(quiet.out, plain.out, 'as the library parses them');
  },
);
