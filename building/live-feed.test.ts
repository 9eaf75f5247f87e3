import t from 'tap';
import {
  eventually,
  smallBuilding,
  startBroker,
  startGatewayClient,
} from '../test-support/small-building.ts';
import { BuildingFeed, type LiveEvent, parseBuildingMessage } from './live-feed.ts';
import { buildingTopics } from './topics.ts';

const site = 'test-haus';
const topics = buildingTopics(site);
const now = Date.UTC(2026, 10, 3, 9, 0, 0);
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

t.test('parseBuildingMessage reads what the gateway publishes', async (t) => {
  t.same(
    parseBuildingMessage(
      site,
      topics.reading('cafe', 'co2-cafe', 'co2'),
      json({ value: 612, unit: 'ppm', ts: now }),
    ),
    {
      kind: 'reading',
      space: 'cafe',
      device: 'co2-cafe',
      channel: '0',
      quantity: 'co2',
      value: 612,
      unit: 'ppm',
      ts: now,
    },
    'a gateway from before channels counted sends none: channel 0',
  );
  t.match(
    parseBuildingMessage(
      site,
      topics.reading('protel-3', 'outputs', 'power'),
      json({ value: 61.5, unit: 'W', ts: now, channel: '2' }),
    ),
    { kind: 'reading', space: 'protel-3', device: 'outputs', channel: '2', value: 61.5 },
  );
  for (const channel of [2, '', 'a/b', 'x'.repeat(17), null])
    t.match(
      parseBuildingMessage(
        site,
        topics.reading('protel-3', 'outputs', 'power'),
        json({ value: 61.5, unit: 'W', ts: now, channel }),
      ),
      { kind: 'malformed', reason: /channel/ },
      `channel ${JSON.stringify(channel)}`,
    );
  t.same(
    parseBuildingMessage(
      site,
      topics.deviceStatus('co2-cafe'),
      json({ device: 'co2-cafe', online: false, lastSeen: now, battery: 80 }),
    ),
    {
      kind: 'device-status',
      status: { device: 'co2-cafe', online: false, lastSeen: now, battery: 80 },
    },
  );
  t.same(parseBuildingMessage(site, topics.gatewayStatus, Buffer.from('offline')), {
    kind: 'gateway-status',
    online: false,
  });
  t.same(parseBuildingMessage(site, topics.deviceStatus('x'), Buffer.alloc(0)), { kind: 'cleared' });
  t.same(
    parseBuildingMessage(
      site,
      topics.reading('p', 'lock-p1', 'lock'),
      json({ value: 'locked', unit: 'state', ts: now }),
    ).kind,
    'reading',
  );
});

t.test('parseBuildingMessage refuses what the gateway would not send, with a reason', async (t) => {
  const malformed: [string, Buffer][] = [
    [topics.reading('cafe', 'co2-cafe', 'co2'), Buffer.from('{not json')],
    [topics.reading('cafe', 'co2-cafe', 'co2'), json([1, 2])],
    [topics.reading('cafe', 'co2-cafe', 'co2'), json({ value: 612, unit: 'ppb', ts: now })],
    [topics.reading('cafe', 'co2-cafe', 'co2'), json({ value: 612, unit: 'ppm', ts: now / 1000 })],
    [topics.reading('cafe', 'co2-cafe', 'co2'), json({ value: null, unit: 'ppm', ts: now })],
    [topics.reading('cafe', 'co2-cafe', 'co2'), json({ value: 'x'.repeat(300), unit: 'ppm', ts: now })],
    [topics.reading('cafe', 'co2-cafe', 'co2'), Buffer.alloc(5000, 0x20)],
    [topics.reading('cafe', 'co2-cafe', 'radon'), json({ value: 1, unit: 'Bq', ts: now })],
    [`${topics.base}/readings/cafe/co2-cafe`, json({ value: 612, unit: 'ppm', ts: now })],
    [`wesprint/other-site/readings/cafe/co2-cafe/co2`, json({ value: 612, unit: 'ppm', ts: now })],
    [topics.deviceStatus('co2-cafe'), json({ device: 'someone-else', online: true, lastSeen: now })],
    [topics.deviceStatus('co2-cafe'), json({ device: 'co2-cafe', online: 'yes', lastSeen: now })],
    [
      topics.deviceStatus('co2-cafe'),
      json({ device: 'co2-cafe', online: true, lastSeen: now, battery: 170 }),
    ],
    [topics.gatewayStatus, Buffer.from('maybe')],
    [topics.command('co2-cafe'), json({ id: 'x', action: 'unlock', expiresAt: now })],
  ];
  for (const [topic, payload] of malformed) {
    const parsed = parseBuildingMessage(site, topic, payload);
    t.equal(parsed.kind, 'malformed', topic);
    if (parsed.kind === 'malformed') t.ok(parsed.reason.length > 0);
  }
});

t.test('feed over a real broker: device directory, live readings, garbage ignored and counted', async (t) => {
  const { url } = await startBroker(t);
  const gateway = await startGatewayClient(t, url);
  // Retained before the API connects: the API must still learn the device is offline.
  await gateway.publishAsync(
    topics.deviceStatus('co2-cowork'),
    JSON.stringify({ device: 'co2-cowork', online: false, lastSeen: now - 600_000, battery: 12 }),
    { qos: 1, retain: true },
  );

  const feed = new BuildingFeed({ url, site: smallBuilding(), reconnectPeriodMs: 200 });
  t.teardown(() => feed.close());
  const events: LiveEvent[] = [];
  const unsubscribe = feed.subscribeLive((e) => events.push(e));
  feed.subscribeLive(() => {
    throw new Error('a broken listener');
  });
  t.equal(feed.connected, false, 'not connected before start');
  feed.start();
  await feed.waitUntilConnected(15_000);
  t.equal(feed.connected, true);

  await eventually('retained status', () => feed.device('co2-cowork')?.online === false);
  t.same(feed.device('co2-cowork'), {
    device: 'co2-cowork',
    online: false,
    lastSeen: now - 600_000,
    battery: 12,
  });
  t.same(
    feed.device('co2-cafe'),
    { device: 'co2-cafe', online: null, lastSeen: null, battery: null },
    'unheard device',
  );
  t.equal(feed.device('nope'), undefined);

  // Garbage first, then good messages: the good ones must still arrive.
  await gateway.publishAsync(topics.reading('cafe', 'co2-cafe', 'co2'), '{"value":');
  await gateway.publishAsync(topics.reading('cafe', 'co2-cafe', 'co2'), Buffer.from([0xff, 0xfe, 0x00]));
  await gateway.publishAsync(
    topics.reading('cafe', 'ghost', 'co2'),
    JSON.stringify({ value: 1, unit: 'ppm', ts: now }),
  );
  await gateway.publishAsync(
    topics.reading('cowork', 'co2-cafe', 'co2'),
    JSON.stringify({ value: 1, unit: 'ppm', ts: now }),
  );
  await gateway.publishAsync(topics.gatewayStatus, 'online', { retain: true, qos: 1 });
  await gateway.publishAsync(
    topics.reading('cafe', 'co2-cafe', 'co2'),
    JSON.stringify({ value: 655, unit: 'ppm', ts: now }),
  );
  await gateway.publishAsync(
    topics.reading('cafe', 'co2-cafe', 'battery'),
    JSON.stringify({ value: 77, unit: '%', ts: now }),
  );
  await gateway.publishAsync(
    topics.deviceStatus('co2-cowork'),
    JSON.stringify({ device: 'co2-cowork', online: true, lastSeen: now, battery: 12 }),
    { qos: 1, retain: true },
  );

  await eventually('status back online', () => feed.device('co2-cowork')?.online === true);
  await eventually('both readings', () => feed.latest({ device: 'co2-cafe' }).length === 2);
  const stats = feed.stats();
  t.equal(stats.malformed, 2, 'two malformed messages counted');
  t.equal(stats.unknownDevice, 2, 'unknown device and wrong space counted');
  t.equal(stats.readings, 2);
  t.equal(stats.deviceStatuses, 2);
  t.ok(stats.listenerErrors >= 1, 'a throwing listener is counted, not fatal');
  t.equal(feed.gatewayOnline, true);

  t.same(feed.device('co2-cafe'), { device: 'co2-cafe', online: null, lastSeen: now, battery: 77 });
  const reading = events.find((e) => e.type === 'reading' && e.quantity === 'co2');
  t.same(reading, {
    type: 'reading',
    site,
    space: 'cafe',
    device: 'co2-cafe',
    channel: '0',
    quantity: 'co2',
    value: 655,
    unit: 'ppm',
    ts: now,
  });
  const statuses = events.filter((e) => e.type === 'device-status');
  t.same(
    statuses.map((e) => e.type === 'device-status' && e.online),
    [false, true],
    'status changes are emitted in order',
  );
  t.ok(events.some((e) => e.type === 'gateway-status' && e.online));
  t.same(
    feed.latest({ space: 'cafe', quantity: 'co2' }).map((r) => r.value),
    [655],
  );

  unsubscribe();
  const before = events.length;
  await gateway.publishAsync(
    topics.reading('cafe', 'co2-cafe', 'co2'),
    JSON.stringify({ value: 700, unit: 'ppm', ts: now + 1000 }),
  );
  await eventually(
    'newer reading',
    () => feed.latest({ device: 'co2-cafe', quantity: 'co2' })[0]?.value === 700,
  );
  t.equal(events.length, before, 'an unsubscribed listener hears nothing more');
});

t.test('a retained replay that arrives after a live status on its topic is older, and ignored', async (t) => {
  // The broker reads its retained store for a new subscription asynchronously, so a status published
  // meanwhile can reach the feed first: the gateway's start-up 'offline' then overtook the lock's live 'online'.
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: smallBuilding() });
  const status = (online: boolean, lastSeen: number | null) =>
    json({ device: 'co2-cowork', online, lastSeen });
  const topic = topics.deviceStatus('co2-cowork');

  feed.ingest(topic, status(false, null), now, true);
  t.equal(feed.device('co2-cowork')?.online, false, 'a replay heard first is the state as of subscribing');
  feed.ingest(topic, status(true, now), now, false);
  t.equal(feed.device('co2-cowork')?.online, true, 'a live status is news');
  feed.ingest(topic, status(false, null), now, true);
  t.equal(feed.device('co2-cowork')?.online, true, 'the late replay does not undo it');
  t.equal(feed.stats().staleReplays, 1, 'and is counted');
  feed.ingest(topic, status(false, now + 1), now + 1, false);
  t.equal(feed.device('co2-cowork')?.online, false, 'a later live status still counts');

  feed.ingest(topics.gatewayStatus, Buffer.from('online'), now, false);
  feed.ingest(topics.gatewayStatus, Buffer.from('offline'), now, true);
  t.equal(feed.gatewayOnline, true, "the gateway's own status follows the same rule");
});

t.test('feed that cannot reach its broker is not connected and says so', async (t) => {
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: smallBuilding(), reconnectPeriodMs: 200 });
  t.teardown(() => feed.close());
  feed.start();
  await t.rejects(feed.waitUntilConnected(300), /not connected/);
  t.equal(feed.connected, false);
});

t.test(
  'a feed whose gateway runs in its process takes readings by hand only, statuses from the broker',
  async (t) => {
    const { url } = await startBroker(t);
    const gateway = await startGatewayClient(t, url);
    const feed = new BuildingFeed({
      url,
      site: smallBuilding(),
      reconnectPeriodMs: 200,
      readingsInProcess: true,
    });
    t.teardown(() => feed.close());
    const events: LiveEvent[] = [];
    feed.subscribeLive((e) => events.push(e));
    feed.start();
    await feed.waitUntilConnected(15_000);

    // Over the broker: a reading (not subscribed: it would come twice), then a status (subscribed).
    await gateway.publishAsync(
      topics.reading('cafe', 'co2-cafe', 'co2'),
      JSON.stringify({ value: 600, unit: 'ppm', ts: now }),
    );
    await gateway.publishAsync(
      topics.deviceStatus('co2-cafe'),
      JSON.stringify({ device: 'co2-cafe', online: true, lastSeen: now }),
      { qos: 1, retain: true },
    );
    await eventually('the status', () => feed.device('co2-cafe')?.online === true);
    t.equal(feed.stats().readings, 0, 'no reading came over the connection');

    // By hand, as cli/parts.ts hands the in-process gateway's readings on.
    feed.ingest(topics.reading('cafe', 'co2-cafe', 'co2'), json({ value: 655, unit: 'ppm', ts: now + 1000 }));
    t.equal(feed.stats().readings, 1);
    t.same(
      events.filter((e) => e.type === 'reading').map((e) => e.type === 'reading' && e.value),
      [655],
      'emitted at once, in the same turn',
    );
    t.same(
      feed.latest({ device: 'co2-cafe' }).map((r) => r.value),
      [655],
    );

    // As the gateway decoded it (cli/parts.ts): no JSON made and parsed back; an implausible time is not shown.
    const own = { space: 'cafe', device: 'co2-cafe', channel: '0', quantity: 'co2', unit: 'ppm' } as const;
    feed.takeOwnReading({ ...own, value: 700, ts: now + 2000 });
    feed.takeOwnReading({ ...own, value: 710, ts: 1_700_000_000 });
    t.same(
      events.filter((e) => e.type === 'reading').map((e) => e.type === 'reading' && e.value),
      [655, 700],
      'the own reading emitted at once, the one stamped in seconds not',
    );
    t.match(feed.stats(), { readings: 2, malformed: 1 });
  },
);
