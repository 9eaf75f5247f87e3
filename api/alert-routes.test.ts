import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import { DEFAULT_ALERT_SETTINGS } from '../alerts/alert-rules.ts';
import type { Alert } from '../alerts/alert-store.ts';
import { AlertWatch } from '../alerts/alert-watch.ts';
import { SqliteAlertStore } from '../alerts/sqlite-alert-store.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { Identity } from '../members/identity.ts';
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
import { alertRoutes } from './alert-routes.ts';
import { auth } from './auth.ts';
import { authRoutes } from './auth-routes.ts';
import { installErrorHandling } from './errors.ts';
import { LIVE_MAX_PAYLOAD_BYTES } from './live-stream.ts';

const topics = buildingTopics('test-haus');
const MIN = 60_000;
// Monday 2 Nov 2026, 10:00 in Berlin (UTC+1): in the past, so a reading's own ts is what the feed keeps.
const T0 = Date.UTC(2026, 10, 2, 9, 0);

/** The small building's lock gets a lock profile here, so the door rule has something to watch. */
function profiles(): Map<string, DeviceProfile> {
  const all = testProfiles();
  const air = all.get('test-air') as DeviceProfile;
  all.set('unknown-profile', {
    ...air,
    id: 'test-lock',
    quantities: ['lock', 'battery'],
    reportingIntervalS: 86_400,
  });
  return all;
}

/**
 * Real broker, real building feed, the real watcher on a clock the test moves, its store in a real records
 * database, and the routes in a real Fastify with the real sign-in, listening on a loopback port.
 */
async function alertApi(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-alerts-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { url } = await startBroker(t);
  const site = smallBuilding();
  const feed = new BuildingFeed({ url, site, reconnectPeriodMs: 200 });
  t.teardown(() => feed.close());
  feed.start();
  await feed.waitUntilConnected(15_000);
  const timeSeries = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => timeSeries.close());
  const records = testRecords(t);
  const clock = { now: T0 };
  const watch = new AlertWatch({
    alerts: new SqliteAlertStore(records, site.site.id),
    feed,
    site,
    profiles: profiles(),
    timeSeries,
    settings: { ...DEFAULT_ALERT_SETTINGS, co2Ms: 10 * MIN },
    // Only the test's explicit check() runs the periodic rules.
    checkEveryMs: 3_600_000,
    now: () => clock.now,
  });
  watch.start();
  t.teardown(() => watch.stop());

  const identity = new Identity(records);
  const app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  await app.register(auth, { identity });
  await app.register(websocket, { options: { maxPayload: LIVE_MAX_PAYLOAD_BYTES } });
  await app.register(authRoutes, { identity });
  await app.register(alertRoutes, {
    site,
    feed,
    profiles: profiles(),
    store: new SqliteAlertStore(records, site.site.id),
    alerts: watch,
    heartbeatMs: 100,
  });
  t.teardown(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const gateway = await startGatewayClient(t, url);
  return { app, watch, clock, records, gateway, timeSeries, wsBase: address.replace(/^http/, 'ws') };
}

/** The live channel, once it has said hello. */
async function listen(t: Test, url: string, cookie: string) {
  const live = await listenWebSocket(t, url, { cookie });
  await eventually('hello', () => live.messages.length > 0);
  return live;
}

type AlertMsg = { type: 'alert'; change: string; alert: Alert };
const alertMessages = (messages: Record<string, unknown>[]) =>
  messages.filter((m): m is AlertMsg => m.type === 'alert');

t.test('CO2 above for the set time: opened live, acknowledged once, cleared', async (t) => {
  const { app, clock, records, gateway, wsBase } = await alertApi(t);
  const facility = await signedInMember(app, records, 'facility');
  const board = await signedInMember(app, records, 'board');
  const member = await signedInMember(app, records, 'member');
  const live = await listen(t, `${wsBase}/api/alerts/live`, facility.cookie);
  t.same(live.messages[0], { type: 'hello', channel: 'alerts', site: 'test-haus' });

  const co2 = (value: number, ts: number) =>
    gateway.publishAsync(
      topics.reading('cafe', 'co2-cafe', 'co2'),
      JSON.stringify({ value, unit: 'ppm', ts }),
    );
  // Above from T0 on, heard every 2 minutes (the sensor reports every 60 s, so gaps of 3 min would break
  // the stretch): nothing at +8, open at +10.
  for (let m = 0; m <= 8; m += 2) {
    clock.now = T0 + m * MIN;
    await co2(1500, T0 + m * MIN);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same(alertMessages(live.messages), [], 'above for 8 minutes: nothing yet');
  clock.now = T0 + 10 * MIN;
  await co2(1700, T0 + 10 * MIN);
  await eventually('alert opened on the live channel', () => alertMessages(live.messages).length >= 1);
  const opened = alertMessages(live.messages)[0] as AlertMsg;
  t.equal(opened.change, 'opened');
  t.match(opened.alert, {
    kind: 'co2_high',
    subject: 'cafe',
    space: 'cafe',
    device: 'co2-cafe',
    since: T0,
    openedAt: T0 + 10 * MIN,
    value: 1700,
    unit: 'ppm',
    clearedAt: null,
    acknowledged: null,
  });
  const id = opened.alert.id;

  const list = await app.inject({ url: '/api/alerts', headers: { cookie: board.cookie } });
  t.equal(list.statusCode, 200, 'the board may read');
  t.same(
    list.json().alerts.map((a: Alert) => a.id),
    [id],
  );
  t.equal((await app.inject({ url: '/api/alerts', headers: { cookie: member.cookie } })).statusCode, 403);
  t.equal((await app.inject({ url: '/api/alerts' })).statusCode, 401);

  // Acknowledge: the board may not, facility may; twice keeps the first.
  const ack = (cookie: string, alertId: number | string = id) =>
    app.inject({ method: 'POST', url: `/api/alerts/${alertId}/acknowledge`, headers: { cookie } });
  t.equal((await ack(board.cookie)).statusCode, 403);
  clock.now = T0 + 12 * MIN;
  const first = await ack(facility.cookie);
  t.equal(first.statusCode, 200);
  t.same(first.json().acknowledged, {
    by: facility.member.id,
    name: facility.member.name,
    at: T0 + 12 * MIN,
  });
  clock.now = T0 + 13 * MIN;
  const again = await ack(facility.cookie);
  t.equal(again.statusCode, 200);
  t.same(again.json().acknowledged.at, T0 + 12 * MIN, 'idempotent: the first acknowledgement stays');
  t.equal((await ack(facility.cookie, 999)).statusCode, 404);
  t.equal((await ack(facility.cookie, 'abc')).statusCode, 400);
  await eventually('acknowledgement pushed once', () =>
    alertMessages(live.messages).some((m) => m.change === 'acknowledged'),
  );

  // A higher value updates it; below the threshold clears it.
  await co2(1900, T0 + 12 * MIN);
  await eventually('value updated', () => alertMessages(live.messages).some((m) => m.change === 'updated'));
  clock.now = T0 + 15 * MIN;
  await co2(800, T0 + 15 * MIN);
  await eventually('cleared', () => alertMessages(live.messages).some((m) => m.change === 'cleared'));
  const cleared = alertMessages(live.messages).find((m) => m.change === 'cleared') as AlertMsg;
  t.match(cleared.alert, {
    id,
    value: 1900,
    clearedAt: T0 + 15 * MIN,
    acknowledged: { by: facility.member.id },
  });
  t.same(
    alertMessages(live.messages).map((m) => m.change),
    ['opened', 'acknowledged', 'updated', 'cleared'],
  );

  const open = await app.inject({ url: '/api/alerts?state=open', headers: { cookie: facility.cookie } });
  t.same(open.json().alerts, []);
  const all = await app.inject({ url: '/api/alerts?state=all', headers: { cookie: facility.cookie } });
  t.same(
    all.json().alerts.map((a: Alert) => a.id),
    [id],
    'the history keeps it',
  );
  t.equal(
    (await app.inject({ url: '/api/alerts?state=some', headers: { cookie: facility.cookie } })).statusCode,
    400,
  );
});

t.test('devices offline, the gateway offline, a door left unlocked', async (t) => {
  const { app, watch, clock, records, gateway } = await alertApi(t);
  const facility = await signedInMember(app, records, 'facility');
  const openAlerts = async () =>
    (await app.inject({ url: '/api/alerts', headers: { cookie: facility.cookie } })).json().alerts as Alert[];

  // The meter reports every 30 s: quiet for 91 s after T0 it is offline.
  await gateway.publishAsync(
    topics.reading('cafe', 'meter-eg', 'power'),
    JSON.stringify({ value: 900, unit: 'W', ts: T0 }),
  );
  await gateway.publishAsync(topics.gatewayStatus, 'online', { qos: 1, retain: true });
  await eventually('reading heard', async () => (await watch.list('open')).length === 0 && true);
  await new Promise((resolve) => setTimeout(resolve, 200));
  clock.now = T0 + 90_000;
  await watch.check();
  t.notOk(
    (await openAlerts()).some((a) => a.subject === 'meter-eg'),
    'at 90 s still within 3 × 30 s',
  );
  clock.now = T0 + 91_000;
  await watch.check();
  const meter = (await openAlerts()).find((a) => a.subject === 'meter-eg');
  t.match(meter, {
    kind: 'device_offline',
    device: 'meter-eg',
    since: T0,
    detail: { lastSeen: T0, limitMs: 90_000 },
  });

  // The gateway's last will: one alert for the gateway; back online clears it.
  await gateway.publishAsync(topics.gatewayStatus, 'offline', { qos: 1, retain: true });
  await eventually('gateway alert', async () =>
    (await watch.list('open')).some((a) => a.subject === 'gateway'),
  );
  await gateway.publishAsync(topics.gatewayStatus, 'online', { qos: 1, retain: true });
  await eventually(
    'gateway alert cleared',
    async () => !(await watch.list('open')).some((a) => a.subject === 'gateway'),
  );

  // The Protel door unlocked at T0 + 2 min, no booking: open 30 min later; locked again clears it.
  const lock = (state: string, ts: number) =>
    gateway.publishAsync(
      topics.reading('protel-1', 'lock-p1', 'lock'),
      JSON.stringify({ value: state, unit: 'state', ts }),
    );
  clock.now = T0 + 2 * MIN;
  await lock('unlocked', T0 + 2 * MIN);
  await eventually('lock heard', () => true);
  await new Promise((resolve) => setTimeout(resolve, 200));
  clock.now = T0 + 31 * MIN;
  await watch.check();
  t.notOk(
    (await openAlerts()).some((a) => a.kind === 'door_unlocked'),
    '29 min: not yet',
  );
  clock.now = T0 + 32 * MIN;
  await watch.check();
  t.match(
    (await openAlerts()).find((a) => a.kind === 'door_unlocked'),
    { subject: 'lock-p1', space: 'protel-1', since: T0 + 2 * MIN, detail: { state: 'unlocked' } },
  );
  await lock('locked', T0 + 33 * MIN);
  await eventually(
    'door alert cleared',
    async () => !(await watch.list('open')).some((a) => a.kind === 'door_unlocked'),
  );
});

t.test('night base load above the median of the previous nights', async (t) => {
  const { watch, clock, timeSeries } = await alertApi(t);
  // 14 previous nights at 1000 W, last night 2000 W: +100 % and +1000 W. Nights in Berlin, November = UTC+1.
  const readings = [];
  for (let n = 0; n <= 14; n++) {
    const start = Date.UTC(2026, 10, 2 - n, 23, 0) - 86_400_000; // 00:00 local on the morning of 2 Nov - n
    // The main meter measures two phases, 60 % and 40 % of the load: the night load is their sum.
    for (let m = 0; m < 300; m += 30)
      for (const [channel, share] of [
        ['0', 0.6],
        ['1', 0.4],
      ] as const)
        readings.push({
          site: 'test-haus',
          space: 'cafe',
          device: 'meter-eg',
          channel,
          quantity: 'power' as const,
          value: (n === 0 ? 2000 : 1000) * share,
          unit: 'W' as const,
          ts: start + m * MIN,
        });
  }
  // The watcher judged the night at start, on an empty store: unknown, so it will look again.
  t.equal(await watch.checkNight(), 'unknown');
  await timeSeries.write(readings);
  clock.now = Date.UTC(2026, 10, 2, 3, 59); // 04:59 local: last night is not over yet
  t.equal(await watch.checkNight(), 'clear', '1 Nov had 1000 W like the nights before it');
  t.same(await watch.list('open'), []);
  t.equal(await watch.checkNight(), 'skipped', 'once per night');
  clock.now = Date.UTC(2026, 10, 2, 4, 0); // 05:00 local
  t.equal(await watch.checkNight(), 'open');
  t.match(await watch.list('open'), [
    {
      kind: 'night_base_load',
      subject: 'test-haus',
      value: 2000,
      unit: 'W',
      since: Date.UTC(2026, 10, 1, 23, 0),
      detail: { baselineW: 1000, night: '2026-11-02', nights: 14 },
    },
  ]);
});

t.test('the live channel beats while nothing happens and refuses before the upgrade', async (t) => {
  const { app, records, wsBase } = await alertApi(t);
  const facility = await signedInMember(app, records, 'facility');
  const member = await signedInMember(app, records, 'member');
  const live = await listen(t, `${wsBase}/api/alerts/live`, facility.cookie);
  await eventually('two heartbeats', () => live.messages.filter((m) => m.type === 'heartbeat').length >= 2);
  for (const [who, cookie, status] of [
    ['nobody', '', 401],
    ['a plain member', member.cookie, 403],
  ] as const) {
    const refused = await app.injectWS('/api/alerts/live', { headers: cookie ? { cookie } : {} }).then(
      () => 'upgraded',
      (err: Error) => err.message,
    );
    t.match(refused, new RegExp(String(status)), `${who}: ${status}`);
  }
});
