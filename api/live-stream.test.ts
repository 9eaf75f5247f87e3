import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { signedInMember, testRecords } from '../test-support/members.ts';
import {
  eventually,
  listenWebSocket,
  smallBuilding,
  startBroker,
  startGatewayClient,
  testProfiles,
} from '../test-support/small-building.ts';
import { buildApi } from './app.ts';
import type { LiveStreamOptions } from './live-stream.ts';

const topics = buildingTopics('test-haus');

async function liveApi(t: Test, live?: LiveStreamOptions) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-live-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { url } = await startBroker(t);
  const site = smallBuilding();
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = new BuildingFeed({ url, site, reconnectPeriodMs: 200 });
  t.teardown(() => feed.close());
  feed.start();
  await feed.waitUntilConnected(15_000);
  const records = testRecords(t);
  const app = await buildApi({
    site,
    store,
    feed,
    quarantine,
    records,
    profiles: testProfiles(),
    ...(live ? { live } : {}),
  });
  t.teardown(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  // The live stream is the facility's (and the board's); who else may is tested in lobby-routes.test.ts.
  const { cookie } = await signedInMember(app, records, 'facility');
  return { app, feed, cookie, brokerUrl: url, wsBase: address.replace(/^http/, 'ws') };
}

/** The live channel, once it has said hello. */
async function listen(t: Test, url: string, cookie: string) {
  const live = await listenWebSocket(t, url, { cookie });
  await eventually('hello', () => live.messages.length > 0);
  return live;
}

t.test('live readings and device status travel gateway -> broker -> feed -> WebSocket', async (t) => {
  const { wsBase, brokerUrl, cookie } = await liveApi(t);
  const gateway = await startGatewayClient(t, brokerUrl);
  const everything = await listen(t, `${wsBase}/api/live`, cookie);
  const cafeCo2 = await listen(t, `${wsBase}/api/live?space=cafe&quantity=co2`, cookie);
  t.same(cafeCo2.messages[0], {
    type: 'hello',
    site: 'test-haus',
    filter: { space: 'cafe', quantity: 'co2' },
  });

  const ts = Date.UTC(2026, 10, 3, 10, 0, 0);
  const publish = (space: string, device: string, quantity: string, value: number, unit: string) =>
    gateway.publishAsync(topics.reading(space, device, quantity), JSON.stringify({ value, unit, ts }));
  // Filtered out for the cafe/co2 client: other space, other quantity. Then one that passes.
  await publish('cowork', 'co2-cowork', 'co2', 800, 'ppm');
  await publish('cafe', 'meter-eg', 'power', 1200, 'W');
  await gateway.publishAsync(topics.reading('cafe', 'co2-cafe', 'co2'), 'garbage, ignored');
  await publish('cafe', 'co2-cafe', 'co2', 640, 'ppm');
  await gateway.publishAsync(
    topics.deviceStatus('co2-cafe'),
    JSON.stringify({ device: 'co2-cafe', online: false, lastSeen: ts }),
    { qos: 1, retain: true },
  );

  await eventually('status on the filtered stream', () => cafeCo2.messages.length >= 3);
  t.same(cafeCo2.messages.slice(1), [
    {
      type: 'reading',
      site: 'test-haus',
      space: 'cafe',
      device: 'co2-cafe',
      channel: '0',
      quantity: 'co2',
      value: 640,
      unit: 'ppm',
      ts,
    },
    {
      type: 'device-status',
      site: 'test-haus',
      space: 'cafe',
      device: 'co2-cafe',
      online: false,
      lastSeen: ts,
      battery: null,
    },
  ]);
  await eventually('all on the unfiltered stream', () => everything.messages.length >= 5);
  t.same(
    everything.messages.slice(1).map((m) => `${m.type}:${m.device}:${m.quantity ?? ''}`),
    ['reading:co2-cowork:co2', 'reading:meter-eg:power', 'reading:co2-cafe:co2', 'device-status:co2-cafe:'],
  );

  // Whatever a client sends is ignored; too much closes only that client (maxPayload).
  everything.socket.send('hello?');
  const closed = new Promise<number>((resolve) => cafeCo2.socket.once('close', (code) => resolve(code)));
  cafeCo2.socket.send('x'.repeat(10_000));
  t.equal(await closed, 1009, 'oversized client message: closed with 1009');
  await publish('cafe', 'co2-cafe', 'co2', 650, 'ppm');
  await eventually('stream goes on for the others', () => everything.messages.some((m) => m.value === 650));
});

t.test('live stream refuses bad filters before the upgrade', async (t) => {
  const { app, cookie } = await liveApi(t);
  const unknown = await app.injectWS('/api/live?space=nowhere', { headers: { cookie } }).then(
    () => 'upgraded',
    (err: Error) => err.message,
  );
  t.match(unknown, /404/, 'unknown space: 404');
  const bad = await app.injectWS('/api/live?quantity=radon', { headers: { cookie } }).then(
    () => 'upgraded',
    (err: Error) => err.message,
  );
  t.match(bad, /400/, 'unknown quantity: 400');
});

t.test(
  'a client that does not read loses messages instead of filling server memory, then is cut off',
  async (t) => {
    const { app, feed, wsBase, cookie } = await liveApi(t, {
      maxBufferedBytes: 64 * 1024,
      maxDroppedInARow: 500,
    });
    // The lobby board listens to the feed too: count the stream's listeners on top of it.
    const listenersBefore = feed.listenerCount;
    const slow = await listen(t, `${wsBase}/api/live`, cookie);
    const closed = new Promise<void>((resolve) => slow.socket.once('close', () => resolve()));
    // Stop reading: the kernel buffers fill, then the server's own buffer, then messages are dropped.
    const raw = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    const value = 'x'.repeat(250);
    const ts = Date.UTC(2026, 10, 3, 10, 0, 0);
    let health = (await app.inject('/api/health')).json();
    for (let round = 0; round < 500 && health.live.closedSlow === 0; round++) {
      for (let i = 0; i < 200; i++) {
        feed.ingest(
          topics.reading('protel-1', 'lock-p1', 'lock'),
          Buffer.from(JSON.stringify({ value, unit: 'state', ts: ts + round * 200 + i })),
        );
      }
      // Let the socket write what it can.
      await new Promise((resolve) => setImmediate(resolve));
      health = (await app.inject('/api/health')).json();
    }
    t.equal(health.live.closedSlow, 1, `the stuck client was disconnected (${JSON.stringify(health.live)})`);
    // The client notices the cut-off once it reads again.
    raw.resume();
    t.ok(health.live.dropped >= 500, `messages dropped for it: ${health.live.dropped}`);
    await closed;
    await eventually('client gone', () => feed.listenerCount === listenersBefore);
    t.equal((await app.inject('/api/health')).json().live.clients, 0);
  },
);
