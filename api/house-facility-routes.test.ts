import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Role } from '../access/roles.ts';
import type { Alert } from '../alerts/alert-store.ts';
import { AlertWatch } from '../alerts/alert-watch.ts';
import { SqliteAlertStore } from '../alerts/sqlite-alert-store.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import type { SiteConfig } from '../site/site.ts';
import { siteReadings } from '../storage/site-view.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading } from '../storage/store.ts';
import { testApi } from '../test-support/api.ts';
import { createTestMember, signIn, testRecords } from '../test-support/members.ts';
import { eventually, listenWebSocket, testProfiles, upgradeStatus } from '../test-support/small-building.ts';
import { NORD, SUED } from '../test-support/two-sites.ts';
import type { FacilityOverview } from './facility-overview.ts';
import { ACCESS_WITHDRAWN } from './socket-sessions.ts';

/**
 * The facility view's site switch through the real API: it serves Nord (the installation's home site) and
 * shows Süd from the network's store and Süd's own live feed. Roles are per house: who reads Süd's devices
 * is decided by the role in Süd, whatever the role in Nord; both houses have a `plug-1`, and neither's
 * readings show in the other's view.
 */

// Monday 1 March 2027, 10:00 UTC.
const NOW = Date.UTC(2027, 2, 1, 10, 0);

function power(site: string, watts: number): StoredReading {
  return {
    site,
    device: 'plug-1',
    channel: '0',
    space: 'werkstatt',
    quantity: 'power',
    value: watts,
    unit: 'W',
    ts: NOW - 60_000,
  };
}

function meterProfile() {
  const meter = testProfiles().get('test-meter');
  if (!meter) throw new Error('the test profiles have no meter');
  return meter;
}

async function network(t: Test, socketCheckMs = 3_600_000) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-houses-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  // One store holds both houses' readings, as the network's gateway writes them.
  const all = new SqliteStore({ file: path.join(dir, 'network.db') });
  t.teardown(() => all.close());
  await all.write([power('nord', 111), power('sued', 555)]);
  // Not started: the test hands each feed its house's messages as they arrive over MQTT.
  const nordFeed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: NORD });
  const suedFeed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: SUED });
  t.teardown(() => nordFeed.close());
  t.teardown(() => suedFeed.close());
  // The houses' plugs meter as the test building's meter does.
  const profiles = new Map([...testProfiles(), ['shelly-gen1', { ...meterProfile(), id: 'shelly-gen1' }]]);
  const records = testRecords(t);
  // Each house's alert watcher (started by the test that needs it), on that house's clock, feed and alerts.
  const clock = { now: NOW };
  const watch = (site: SiteConfig, feed: BuildingFeed) =>
    new AlertWatch({
      alerts: new SqliteAlertStore(records, site.site.id),
      feed,
      site,
      profiles,
      checkEveryMs: 3_600_000,
      now: () => clock.now,
    });
  const alerts = new Map([
    ['nord', watch(NORD, nordFeed)],
    ['sued', watch(SUED, suedFeed)],
  ]);
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const { app } = await testApi(t, {
    quarantine,
    site: NORD,
    store: siteReadings(all, 'nord'),
    feed: nordFeed,
    records,
    alerts: alerts.get('nord') as AlertWatch,
    network: { sites: [NORD, SUED], store: all, feeds: new Map([['sued', suedFeed]]), alerts },
    socketCheckMs,
    profiles,
    now: () => NOW,
  });
  const members = new SqliteMemberStore(records);
  const member = async (role: Role, options: { homeSite?: string; sued?: Role } = {}) => {
    const created = await createTestMember(records, {
      role,
      ...(options.homeSite ? { homeSite: options.homeSite } : {}),
    });
    if (options.sued) await members.setSiteRole(created.member.id, 'sued', options.sued);
    return { ...created, cookie: await signIn(app, created.member.email, created.password) };
  };
  return { app, records, members, member, nordFeed, suedFeed, alerts, clock, quarantine };
}

const SUED_ROUTES = [
  '/api/network/houses/sued/facility/overview',
  '/api/network/houses/sued/facility/energy-days',
  '/api/network/houses/sued/facility/occupancy-hours',
  '/api/network/houses/sued/series?quantity=power&device=plug-1',
];

t.test('who reads which house: the role in that house decides', async (t) => {
  const n = await network(t);
  const get = async (url: string, cookie?: string) =>
    (await n.app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} })).statusCode;
  for (const url of SUED_ROUTES) t.equal(await get(url), 401, `${url}: sign in first`);

  // [role in Nord, role in Süd] → overview, energy days, occupancy hours, series of Süd.
  const matrix: { who: string; make: () => ReturnType<typeof n.member>; sued: number[] }[] = [
    {
      who: 'facility in Nord and Süd',
      make: () => n.member('facility', { sued: 'facility' }),
      sued: [200, 200, 200, 200],
    },
    {
      who: 'facility in Nord, a plain member in Süd',
      make: () => n.member('facility'),
      sued: [403, 403, 403, 403],
    },
    {
      who: 'admin in Nord, a plain member in Süd',
      make: () => n.member('admin'),
      sued: [403, 403, 403, 403],
    },
    {
      who: 'board in Nord and Süd',
      make: () => n.member('board', { sued: 'board' }),
      sued: [403, 200, 200, 200],
    },
    {
      who: 'facility in Nord, board in Süd',
      make: () => n.member('facility', { sued: 'board' }),
      sued: [403, 200, 200, 200],
    },
    {
      who: 'admin in Nord and Süd',
      make: () => n.member('admin', { sued: 'admin' }),
      sued: [200, 200, 200, 200],
    },
    { who: 'a plain member of Nord', make: () => n.member('member'), sued: [403, 403, 403, 403] },
    {
      who: 'facility at home in Süd (a guest in Nord)',
      make: () => n.member('facility', { homeSite: 'sued' }),
      sued: [200, 200, 200, 200],
    },
    {
      who: 'a plain member at home in Süd',
      make: () => n.member('member', { homeSite: 'sued' }),
      sued: [403, 403, 403, 403],
    },
  ];
  for (const row of matrix) {
    const { cookie } = await row.make();
    const got = [];
    for (const url of SUED_ROUTES) got.push(await get(url, cookie));
    t.same(got, row.sued, row.who);
  }

  // This house through the switch's routes: the role here, as on /api/facility/overview.
  const nordsOwn = await n.member('facility');
  t.equal(
    await get('/api/network/houses/nord/facility/overview', nordsOwn.cookie),
    200,
    'Nord, its facility',
  );
  const suedsOwn = await n.member('facility', { homeSite: 'sued' });
  t.equal(
    await get('/api/network/houses/nord/facility/overview', suedsOwn.cookie),
    403,
    "Süd's facility manager is a plain member in Nord",
  );
  t.equal(await get('/api/facility/overview', suedsOwn.cookie), 403, "nor on Nord's own route");
  t.equal(await get('/api/network/houses/west/facility/overview', nordsOwn.cookie), 404, 'no such house');
  t.equal(await get('/api/network/houses/..%2Fx/facility/overview', nordsOwn.cookie), 400, 'not a house id');

  // Every refusal of another house is in the audit log, with the role the caller has there.
  const refused = await n.records
    .prepare("SELECT target, reason, detail FROM audit_log WHERE action = 'facility_view'")
    .all();
  t.ok(refused.length >= 4 * 4, `refusals audited (${refused.length})`);
  t.match(refused[0], { target: 'sued', reason: 'no_role_there' });
});

t.test("each house's view holds its own readings only, though the device ids are the same", async (t) => {
  const n = await network(t);
  const both = await n.member('facility', { sued: 'facility' });
  const overview = async (url: string) =>
    (await n.app.inject({ method: 'GET', url, headers: { cookie: both.cookie } })).json() as FacilityOverview;
  const plugPower = (view: FacilityOverview) =>
    view.energy.meters.find((m) => m.device === 'plug-1')?.powerW?.value;

  const nord = await overview('/api/facility/overview');
  const sued = await overview('/api/network/houses/sued/facility/overview');
  t.equal(nord.site.id, 'nord');
  t.equal(sued.site.id, 'sued');
  t.equal(sued.site.name, 'Haus Süd');
  t.equal(plugPower(nord), 111, "Nord's plug");
  t.equal(plugPower(sued), 555, "Süd's plug, not Nord's of the same id");

  // Live news of Süd's plug is Süd's view only.
  n.suedFeed.ingest(
    buildingTopics('sued').reading('werkstatt', 'plug-1', 'power'),
    Buffer.from(JSON.stringify({ value: 777, unit: 'W', ts: NOW - 1000 })),
  );
  t.equal(plugPower(await overview('/api/network/houses/sued/facility/overview')), 777, 'Süd live');
  t.equal(plugPower(await overview('/api/facility/overview')), 111, 'Nord unchanged');

  const series = await n.app.inject({
    method: 'GET',
    url: '/api/network/houses/sued/series?quantity=power&device=plug-1&aggregate=max',
    headers: { cookie: both.cookie },
  });
  t.same(
    series.json().series.map((s: { points: { value: number }[] }) => s.points.map((p) => p.value)),
    [[555]],
    "Süd's series",
  );
});

t.test("the live channel follows the chosen house, never another's, and ends with the role", async (t) => {
  const n = await network(t, 200);
  const address = await n.app.listen({ host: '127.0.0.1', port: 0 });
  const ws = address.replace(/^http/, 'ws');
  const both = await n.member('facility', { sued: 'facility' });
  const nordOnly = await n.member('facility');

  t.equal(
    await upgradeStatus(`${ws}/api/network/houses/sued/live`, { cookie: nordOnly.cookie }),
    403,
    "Nord's facility manager alone: no socket of Süd",
  );
  t.equal(await upgradeStatus(`${ws}/api/network/houses/sued/live`), 401, 'signed out: none');
  t.equal(
    await upgradeStatus(`${ws}/api/network/houses/sued/live?space=nowhere`, { cookie: both.cookie }),
    404,
    'a space Süd does not have',
  );

  const sued = await listenWebSocket(t, `${ws}/api/network/houses/sued/live`, { cookie: both.cookie });
  const nord = await listenWebSocket(t, `${ws}/api/live`, { cookie: both.cookie });
  await eventually('hello on both', () => sued.messages.length > 0 && nord.messages.length > 0);
  t.match(sued.messages[0], { type: 'hello', site: 'sued' });
  t.match(nord.messages[0], { type: 'hello', site: 'nord' });

  const plug = (site: string) => buildingTopics(site).reading('werkstatt', 'plug-1', 'power');
  n.nordFeed.ingest(plug('nord'), Buffer.from(JSON.stringify({ value: 1, unit: 'W', ts: NOW })));
  n.suedFeed.ingest(plug('sued'), Buffer.from(JSON.stringify({ value: 2, unit: 'W', ts: NOW })));
  await eventually('a reading on each', () => sued.messages.length > 1 && nord.messages.length > 1);
  // A message in flight would have arrived with the other house's: the last of a few more settles it.
  n.suedFeed.ingest(plug('sued'), Buffer.from(JSON.stringify({ value: 3, unit: 'W', ts: NOW + 1 })));
  await eventually('the second of Süd', () => sued.messages.length > 2);
  const readings = (messages: Record<string, unknown>[]) =>
    messages.filter((m) => m.type === 'reading').map((m) => [m.site, m.value]);
  t.same(readings(sued.messages), [
    ['sued', 2],
    ['sued', 3],
  ]);
  t.same(readings(nord.messages), [['nord', 1]], "Nord's channel hears Nord only");

  // The role in Süd taken away: Süd's socket closes within the check, Nord's stays.
  const closed = new Promise<number>((resolve) => sued.socket.once('close', (code) => resolve(code)));
  await n.members.setSiteRole(both.member.id, 'sued', null);
  t.equal(await closed, ACCESS_WITHDRAWN, "Süd's socket closed: no longer allowed");
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.equal(nord.socket.readyState, nord.socket.OPEN, "Nord's socket stays open");
});

t.test(
  "each house's alerts: its own watcher and rules, the same device id an alert in each, shown by the switch",
  async (t) => {
    const n = await network(t, 200);
    const nordWatch = n.alerts.get('nord') as AlertWatch;
    const suedWatch = n.alerts.get('sued') as AlertWatch;
    nordWatch.start();
    suedWatch.start();
    t.teardown(() => Promise.all([nordWatch.stop(), suedWatch.stop()]));
    const both = await n.member('facility', { sued: 'facility' });
    const nordOnly = await n.member('facility');
    const suedBoard = await n.member('member', { sued: 'board' });
    const address = await n.app.listen({ host: '127.0.0.1', port: 0 });
    const ws = address.replace(/^http/, 'ws');
    const list = async (url: string, cookie: string) => {
      const response = await n.app.inject({ method: 'GET', url, headers: { cookie } });
      return { status: response.statusCode, alerts: (response.json().alerts ?? []) as Alert[] };
    };
    const seen = (alerts: Alert[]) => alerts.map((a) => [a.site, a.kind, a.subject, a.clearedAt === null]);

    const suedLive = await listenWebSocket(t, `${ws}/api/network/houses/sued/alerts/live`, {
      cookie: both.cookie,
    });
    const nordLive = await listenWebSocket(t, `${ws}/api/alerts/live`, { cookie: both.cookie });
    await eventually('hello on both', () => suedLive.messages.length > 0 && nordLive.messages.length > 0);
    t.match(suedLive.messages[0], { type: 'hello', channel: 'alerts', site: 'sued' });
    t.match(nordLive.messages[0], { type: 'hello', channel: 'alerts', site: 'nord' });

    // Neither house's plug-1 has been heard: past three reports (30 s each) both are offline, one alert in each
    // house for the same device id.
    n.clock.now = NOW + 4 * 30_000;
    await Promise.all([nordWatch.check(n.clock.now), suedWatch.check(n.clock.now)]);
    const nord = await list('/api/alerts', both.cookie);
    const sued = await list('/api/network/houses/sued/alerts', both.cookie);
    t.same(seen(nord.alerts), [['nord', 'device_offline', 'plug-1', true]], "Nord's own alert only");
    t.same(seen(sued.alerts), [['sued', 'device_offline', 'plug-1', true]], "Süd's, through the switch");
    const suedAlert = sued.alerts[0] as Alert;
    const nordAlert = nord.alerts[0] as Alert;
    t.not(suedAlert.id, nordAlert.id, 'two alerts, though the subject is the same');

    // Süd's plug is heard again: Süd's alert clears, Nord's stays open.
    n.suedFeed.ingest(
      buildingTopics('sued').reading('werkstatt', 'plug-1', 'power'),
      Buffer.from(JSON.stringify({ value: 5, unit: 'W', ts: n.clock.now })),
      n.clock.now,
    );
    await Promise.all([nordWatch.check(n.clock.now), suedWatch.check(n.clock.now)]);
    t.same(seen((await list('/api/network/houses/sued/alerts?state=all', both.cookie)).alerts), [
      ['sued', 'device_offline', 'plug-1', false],
    ]);
    t.same(seen((await list('/api/alerts', both.cookie)).alerts), [
      ['nord', 'device_offline', 'plug-1', true],
    ]);
    await eventually('the clearing on Süd’s channel', () =>
      suedLive.messages.some((m) => m.type === 'alert' && m.change === 'cleared'),
    );
    const changes = (messages: Record<string, unknown>[]) =>
      messages
        .filter((m) => m.type === 'alert')
        .map((m) => [(m.alert as Alert).site, m.change, (m.alert as Alert).subject]);
    t.same(changes(suedLive.messages), [
      ['sued', 'opened', 'plug-1'],
      ['sued', 'cleared', 'plug-1'],
    ]);
    t.same(changes(nordLive.messages), [['nord', 'opened', 'plug-1']], "Nord's channel hears Nord only");

    // Another house's alert is shown here, not acknowledged: Nord's route does not know Süd's id.
    const ack = await n.app.inject({
      method: 'POST',
      url: `/api/alerts/${suedAlert.id}/acknowledge`,
      headers: { cookie: both.cookie },
    });
    t.equal(ack.statusCode, 404, "Süd's alert is not Nord's to acknowledge");

    // Roles per house: Nord's facility manager alone reads nothing of Süd's alerts; Süd's board does.
    t.equal((await list('/api/network/houses/sued/alerts', nordOnly.cookie)).status, 403);
    t.equal(
      await upgradeStatus(`${ws}/api/network/houses/sued/alerts/live`, { cookie: nordOnly.cookie }),
      403,
    );
    t.equal((await list('/api/network/houses/sued/alerts?state=all', suedBoard.cookie)).alerts.length, 1);
    t.equal((await list('/api/network/houses/west/alerts', both.cookie)).status, 404);
  },
);

t.test(
  "each house's quarantine: its own devices' messages, and those naming no device, said so",
  async (t) => {
    const n = await network(t);
    const bad = (seq: number, extra: { site?: string; device?: string; topic?: string }) =>
      n.quarantine.add({
        receivedAt: NOW - 1000,
        topic: extra.topic ?? 'shellies/x/relay/0/power',
        payload: Buffer.from('not-a-number'),
        reason: extra.site ? 'malformed' : 'unknown_device',
        detail: 'test',
        seq,
        ...(extra.site ? { site: extra.site } : {}),
        ...(extra.device ? { device: extra.device } : {}),
      });
    // Both houses have a plug-1: two of Süd's messages, one of Nord's, one whose topic names no device.
    bad(1, { site: 'sued', device: 'sued/plug-1' });
    bad(2, { site: 'sued', device: 'sued/plug-1' });
    bad(3, { site: 'nord', device: 'nord/plug-1' });
    bad(4, { topic: 'nobody/knows' });
    const both = await n.member('facility', { sued: 'facility' });
    const get = async (url: string) =>
      (await n.app.inject({ method: 'GET', url, headers: { cookie: both.cookie } })).json();
    t.same((await get('/api/facility/overview')).quarantine, {
      total: 2,
      byReason: { malformed: 1, unknown_device: 1 },
      unattributed: 1,
    });
    t.same((await get('/api/network/houses/sued/facility/overview')).quarantine, {
      total: 3,
      byReason: { malformed: 2, unknown_device: 1 },
      unattributed: 1,
    });
    const list = await get('/api/quarantine');
    t.same(list.counts, { malformed: 1, unknown_device: 1 });
    t.same(list.unattributed, { unknown_device: 1 });
    t.same(
      list.entries.map((e: { site: string | null; device: string | null }) => [e.site, e.device]),
      [
        [null, null],
        ['nord', 'nord/plug-1'],
      ],
      "Nord's and nobody's: none of Süd's",
    );
  },
);
