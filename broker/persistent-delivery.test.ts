import t from 'tap';
import { connect, startTestBroker } from '../test-support/broker.ts';

/**
 * The gateway holds a persistent session (clean=0) and takes QoS 1 from many devices at once. Every message
 * must reach it, in order, however the broker's disk writes interleave (see resolveQueueWritesInOrder and routeInArrivalOrder in aedes-patches.ts).
 */
t.test('a persistent QoS 1 subscriber receives every pipelined message, in order per topic', async (t) => {
  const broker = await startTestBroker(t, { allowAnonymous: true });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const subscriber = await connect(t, url, { clientId: 'persistent-sub', clean: false });
  await subscriber.subscribeAsync('load/#', { qos: 1 });

  const total = 4000;
  const seen: number[] = [];
  const all = new Promise<void>((resolve) => {
    subscriber.on('message', (_topic, payload) => {
      seen.push(Number(payload.toString()));
      if (seen.length === total) resolve();
    });
  });

  const publisher = await connect(t, url, { clientId: 'pipelined-pub' });
  // Many QoS 1 publishes in flight at once, as a busy building's devices produce them; devices announce
  // their state retained (Nuki, Tasmota LWT), and those take a detour through the retained store.
  await Promise.all(
    Array.from({ length: total }, (_, i) =>
      publisher.publishAsync(`load/device-${i % 50}`, String(i), { qos: 1, retain: i % 3 === 0 }),
    ),
  );
  const timeout = new Promise<void>((_, reject) =>
    setTimeout(() => reject(new Error(`only ${seen.length} of ${total} messages arrived`)), 60_000).unref(),
  );
  await Promise.race([all, timeout]);
  t.equal(seen.length, total, 'nothing lost');
  t.same(
    [...seen].sort((a, b) => a - b),
    Array.from({ length: total }, (_, i) => i),
    'each message exactly once',
  );
  // MQTT 3.1.1 §4.6: each topic is an ordered topic.
  const perTopic = new Map<number, number[]>();
  for (const n of seen) perTopic.set(n % 50, [...(perTopic.get(n % 50) ?? []), n]);
  const outOfOrder = [...perTopic.values()].filter((list) =>
    list.some((n, i) => i > 0 && n < (list[i - 1] ?? 0)),
  );
  t.equal(outOfOrder.length, 0, 'in publish order on every topic');
});
