import net from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import t from 'tap';
import { decodeMessage, loadProfiles, type SiteDevice } from '../device-profiles/registry.ts';
import { parseSite } from '../site/load.ts';
import { LOAD_FAMILIES, publishLoad, syntheticSite } from './synthetic-buildings.ts';

t.test('syntheticSite is a valid site with every family and unique topics', async (t) => {
  const site = syntheticSite(3, 14);
  const parsed = parseSite(JSON.stringify(site), 'synthetic site');
  t.equal(parsed.devices.length, 42);
  t.equal(parsed.floors.length, 3);
  t.same([...new Set(parsed.devices.map((d) => d.profile))].sort(), [...LOAD_FAMILIES].sort());
  t.throws(() => syntheticSite(0, 10));
  // big networks stay valid (topics and ids unique)
  t.equal(parseSite(JSON.stringify(syntheticSite(10, 300)), 'big').devices.length, 3000);
});

t.test('publishLoad sends real vendor payloads at a rate and accounts for every reading', async (t) => {
  const broker = await Aedes.createBroker();
  const server = net.createServer({ noDelay: true }, broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  t.teardown(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const site = syntheticSite(2, 12);
  const received: { topic: string; payload: Buffer }[] = [];
  const subscriber = await mqtt.connectAsync(url, { clientId: 'load-subscriber', protocolVersion: 4 });
  t.teardown(() => subscriber.endAsync());
  subscriber.on('message', (topic, payload) => received.push({ topic, payload }));
  await subscriber.subscribeAsync('#', { qos: 1 });

  const count = 600;
  const report = await publishLoad({
    mqttUrl: url,
    site,
    ratePerSecond: 3000,
    count,
    qos: 1,
    connections: 3,
  });
  t.equal(report.sent, count);
  t.equal(report.completed, count, 'every QoS 1 publish acknowledged');
  t.equal(report.failed, 0);
  t.equal(
    Object.values(report.perDevice).reduce((a, b) => a + b, 0),
    count,
  );
  t.equal(Object.keys(report.perDevice).length, site.devices.length, 'all devices took part');
  t.ok(report.achievedRate > 0);

  const deadline = Date.now() + 20_000;
  while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(received.length, count, 'the subscriber got every message');

  // what the report says the messages carry is what the real profiles decode from them
  const profiles = await loadProfiles();
  const devicesByTopic = new Map<string, SiteDevice>(site.devices.map((d) => [d.topic, d]));
  const decoded: Record<string, Record<string, number>> = {};
  const failures: string[] = [];
  for (const m of received) {
    const out = decodeMessage(profiles, m.topic, m.payload, Date.now(), devicesByTopic);
    if (!out.ok) {
      failures.push(`${m.topic}: ${out.reason} ${out.detail}`);
      continue;
    }
    const perQuantity = decoded[out.device] ?? {};
    decoded[out.device] = perQuantity;
    for (const r of out.result.readings) perQuantity[r.quantity] = (perQuantity[r.quantity] ?? 0) + 1;
  }
  t.same(failures, []);
  t.same(decoded, report.perDeviceQuantity, 'declared readings = decoded readings, per device and quantity');
});
