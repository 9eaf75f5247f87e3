import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading } from '../storage/store.ts';
import { signedInMember, testRecords } from '../test-support/members.ts';
import { smallBuilding, testProfiles } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';
import type { EnergyDays, OccupancyHours } from './facility-history.ts';
import { type FacilityOverview, localDayStart } from './facility-overview.ts';

const HOUR = 3_600_000;
const topics = buildingTopics('test-haus');

/** The small test building with a presence sensor in the café. */
function facilityBuilding(): SiteConfig {
  const site = smallBuilding();
  site.devices.push({
    id: 'presence-cafe',
    profile: 'test-presence',
    topic: 'z/presence-cafe',
    space: 'cafe',
  });
  // A door contact on the Protel room's door.
  site.devices.push({ id: 'door-p1', profile: 'test-contact', topic: 'z/door-p1', space: 'protel-1' });
  return site;
}

function profiles(): Map<string, DeviceProfile> {
  const all = testProfiles();
  const air = all.get('test-air') as DeviceProfile;
  all.set('test-presence', {
    ...air,
    id: 'test-presence',
    quantities: ['occupancy'],
    reportingIntervalS: 3600,
  });
  all.set('test-contact', {
    ...air,
    id: 'test-contact',
    quantities: ['door', 'battery', 'linkquality'],
    reportingIntervalS: 3600,
  });
  return all;
}

/**
 * The facility API on a clock of the test's choosing (every call of the answer sees the same instant): local
 * midnight, hours and days come out the same whenever the suite runs.
 */
async function facilityApi(t: Test, now = Date.now()) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-facility-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = facilityBuilding();
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  // Not started: the test hands it the building's messages itself, exactly as they arrive over MQTT.
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
  t.teardown(() => feed.close());
  const records = testRecords(t);
  const app = await buildApi({
    site,
    store,
    feed,
    quarantine,
    profiles: profiles(),
    records,
    now: () => now,
  });
  t.teardown(() => app.close());
  return { app, store, feed, quarantine, records };
}

function reading(device: string, space: string, quantity: string, value: number, ts: number): StoredReading {
  const units: Record<string, StoredReading['unit']> = {
    energy: 'kWh',
    power: 'W',
    co2: 'ppm',
    occupancy: 'bool',
  };
  return {
    site: 'test-haus',
    device,
    channel: '0',
    space,
    quantity: quantity as StoredReading['quantity'],
    value,
    unit: units[quantity] ?? 'ppm',
    ts,
  };
}

t.test('who may read the facility view', async (t) => {
  const { app, records } = await facilityApi(t);
  const urls = ['/api/facility/overview', '/api/facility/energy-days', '/api/facility/occupancy-hours'];
  for (const url of urls) t.equal((await app.inject({ url })).statusCode, 401, `${url}: sign in first`);
  const expected: Record<string, number[]> = {
    member: [403, 403, 403],
    board: [403, 200, 200],
    facility: [200, 200, 200],
    admin: [200, 200, 200],
  };
  for (const [role, statuses] of Object.entries(expected)) {
    const { cookie } = await signedInMember(app, records, role as 'member');
    const got = [];
    for (const url of urls) got.push((await app.inject({ url, headers: { cookie } })).statusCode);
    t.same(got, statuses, role);
  }
});

t.test('overview: store and live feed merged, today from the counter across a reset', async (t) => {
  // 01:55 in Berlin, five minutes before the clocks go forward: the local day began at 23:00 UTC.
  const now = Date.UTC(2027, 2, 28, 0, 55);
  const { app, store, feed, quarantine, records } = await facilityApi(t, now);
  const dayStart = localDayStart(now, 'Europe/Berlin');
  t.equal(dayStart, Date.UTC(2027, 2, 27, 23, 0), 'midnight in Berlin, still winter time');
  // Four counter samples between local midnight and now.
  const step = Math.max(1, Math.floor((now - dayStart) / 5));
  await store.write([
    reading('meter-eg', 'cafe', 'energy', 99, dayStart - 2 * HOUR),
    reading('meter-eg', 'cafe', 'energy', 100, dayStart - 60_000),
    reading('meter-eg', 'cafe', 'energy', 100.5, dayStart + step),
    // The meter rebooted: its counter starts again at 0.
    reading('meter-eg', 'cafe', 'energy', 0.25, dayStart + 2 * step),
    reading('meter-eg', 'cafe', 'energy', 0.75, dayStart + 3 * step),
    reading('co2-cafe', 'cafe', 'co2', 1500, now - 60_000),
    reading('presence-cafe', 'cafe', 'occupancy', 1, now - 60_000),
    { ...reading('door-p1', 'protel-1', 'door', 0, now - 120_000), value: 'closed', unit: 'state' },
  ]);
  // Live only (not yet in the store): the power reading and the device's status.
  feed.ingest(
    topics.reading('cafe', 'meter-eg', 'power'),
    Buffer.from(JSON.stringify({ value: 830, unit: 'W', ts: now - 1000 })),
  );
  feed.ingest(
    topics.reading('protel-1', 'door-p1', 'door'),
    Buffer.from(JSON.stringify({ value: 'open', unit: 'state', ts: now - 2000 })),
  );
  feed.ingest(
    topics.deviceStatus('co2-cafe'),
    Buffer.from(JSON.stringify({ device: 'co2-cafe', online: true, lastSeen: now - 60_000, battery: 77 })),
  );
  quarantine.add({
    receivedAt: now,
    topic: 'x/y',
    payload: Buffer.from('?'),
    reason: 'malformed',
    detail: 'd',
  });
  quarantine.add({
    receivedAt: now,
    topic: 'x/z',
    payload: Buffer.from('?'),
    reason: 'malformed',
    detail: 'd',
  });

  const { cookie } = await signedInMember(app, records, 'facility');
  const response = await app.inject({ url: '/api/facility/overview', headers: { cookie } });
  t.equal(response.statusCode, 200);
  const overview = response.json() as FacilityOverview;
  t.equal(overview.dayStart, dayStart);
  t.same(
    overview.floors.map((f) => [f.id, f.spaces.map((s) => s.id)]),
    [
      ['eg', ['cafe']],
      ['og1', ['cowork', 'protel-1']],
    ],
  );
  const cafe = overview.floors[0]?.spaces[0];
  t.same(cafe?.readings.co2, { value: 1500, ts: now - 60_000, stale: false });
  t.equal(cafe?.co2Level, 'elevated');
  t.same(cafe?.occupied, { value: true, ts: now - 60_000, stale: false });
  const protel = overview.floors[1]?.spaces[1];
  t.same(
    [protel?.measures, protel?.readings],
    [['door'], { door: { value: 'open', ts: now - 2000, stale: false } }],
    "a door contact's word, the live one newer than the store's; its battery and radio are not the room's",
  );
  const meter = overview.energy.meters.find((m) => m.device === 'meter-eg');
  t.equal(meter?.todayKwh, 1.25, '0.5 before the reboot, 0.25 and 0.5 after');
  t.same(
    meter?.powerW,
    { value: 830, ts: now - 1000, stale: false },
    'the live reading the store has not yet',
  );
  t.same(meter?.counterKwh?.value, 0.75);
  t.same(overview.energy.total, { meters: ['meter-eg'], powerW: 830, todayKwh: 1.25 });
  const co2Device = overview.devices.list.find((d) => d.id === 'co2-cafe');
  t.same([co2Device?.online, co2Device?.battery], [true, 77]);
  // Topics naming no device of the site: the installation's, counted and said to be unattributed.
  t.same(overview.quarantine, { total: 2, byReason: { malformed: 2 }, unattributed: 2 });
});

t.test('energy per local day and occupancy per hour', async (t) => {
  // 00:20 on New Year's Day in Berlin, still the old year in UTC: "today" is the Berlin day.
  const now = Date.UTC(2026, 11, 31, 23, 20);
  const { app, store, records } = await facilityApi(t, now);
  const dayStart = localDayStart(now, 'Europe/Berlin');
  t.equal(dayStart, Date.UTC(2026, 11, 31, 23, 0), '1 January 00:00 in Berlin');
  const step = Math.max(1, Math.floor((now - dayStart) / 5));
  const hour = Math.floor(now / HOUR) * HOUR;
  await store.write([
    reading('meter-eg', 'cafe', 'energy', 99, dayStart - 2 * HOUR),
    reading('meter-eg', 'cafe', 'energy', 100, dayStart - 60_000),
    reading('meter-eg', 'cafe', 'energy', 100.5, dayStart + step),
    reading('meter-eg', 'cafe', 'energy', 0.25, dayStart + 2 * step),
    reading('presence-cafe', 'cafe', 'occupancy', 1, hour - HOUR / 2),
    reading('presence-cafe', 'cafe', 'occupancy', 0, hour + Math.floor((now - hour) / 2)),
  ]);
  const { cookie } = await signedInMember(app, records, 'board');

  const energy = await app.inject({ url: '/api/facility/energy-days?days=2', headers: { cookie } });
  t.equal(energy.statusCode, 200);
  const days = (energy.json() as EnergyDays).days;
  t.equal(days.length, 2);
  t.equal(days[1]?.from, dayStart);
  t.same(
    days.map((d) => d.kwh),
    [1, 0.75],
    'yesterday 99 -> 100 (the first sample ever is only a baseline); today 0.5, then 0.25 after the reset',
  );

  const occupancy = await app.inject({ url: '/api/facility/occupancy-hours?hours=2', headers: { cookie } });
  t.equal(occupancy.statusCode, 200);
  t.same(occupancy.json() as OccupancyHours, {
    spaces: 1,
    hours: [
      { ts: hour - HOUR, occupied: 1, sensed: 1, share: 1 },
      { ts: hour, occupied: 0, sensed: 1, share: 0 },
    ],
  });

  const refused = await app.inject({ url: '/api/facility/energy-days?days=0', headers: { cookie } });
  t.equal(refused.statusCode, 400);
});
