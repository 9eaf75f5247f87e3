import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { homeSiteOf } from '../access/roles.ts';
import { openingIntervals } from '../bookings/booking-rules.ts';
import type { Booking } from '../bookings/booking-store.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { buildNetworkReport } from '../reports/network-report.ts';
import { DEMO_NETWORK_DIR } from '../simulations/demo-site.ts';
import { readMarker } from '../simulations/history/marker.ts';
import { siteMeters } from '../simulations/history/meters.ts';
import { SIMULATED_MEMBERS, simulatedMemberEmail } from '../simulations/history/population.ts';
import { loadSite } from '../site/load.ts';
import type { SiteConfig } from '../site/site.ts';
import { siteReadings } from '../storage/site-view.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { recordsContract } from '../test-support/records.ts';
import { houseHistories, writeHouseHistories } from './simulated-history.ts';

/**
 * The demo's history in every house of a network (`wesprint start|simulate --sites N`,
 * cli/simulated-history.ts `writeHouseHistories`): each house its own readings (its own devices' series,
 * keyed by its site), its own bookings in its own time zone, by its own simulated members (at home there),
 * and now and then by a guest from another house where its site file's `guests` opens the kind to them.
 */

t.setTimeout(300_000);
const DAY = 86_400_000;
const profiles = await loadProfiles();
// Tuesday 2 March 2027, 09:00 UTC: 10:00 in Weimar, 04:00 in New York. The clock of the test, not the day.
const NOW = Date.UTC(2027, 2, 2, 9, 0);
const demoHouse = (file: string) => loadSite(path.join(DEMO_NETWORK_DIR, file));
// The Werkhof (the home site here) and the Dorfladen moved to New York: its local days are not Weimar's.
const WERKHOF = demoHouse('02-werkhof-weimar.site.yaml');
const DORFLADEN_FILE = demoHouse('04-dorfladen-lindenau.site.yaml');
const DORFLADEN: SiteConfig = {
  ...DORFLADEN_FILE,
  site: { ...DORFLADEN_FILE.site, timezone: 'America/New_York' },
};
const HOUSES = [WERKHOF, DORFLADEN];

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-house-histories-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

recordsContract(t, 'every house of the network gets its own history, once', async (t, records) => {
  const dataDir = tempDir(t);
  const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dataDir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const lines: string[] = [];
  const write = async () =>
    writeHouseHistories(await houseHistories(records, HOUSES, 'kaufhaus'), {
      store,
      readingsOf: (id) => siteReadings(store, id),
      quarantine,
      profiles,
      dataDir,
      seed: 'kaufhaus',
      spanMs: 7 * DAY,
      stepMs: 3_600_000,
      now: () => NOW,
      say: (line) => lines.push(line),
      tell: (line) => lines.push(line),
    });
  t.equal(await write(), 0, lines.join('\n'));
  t.ok(readMarker(dataDir)?.finishedAt, "the home site's marker: backfill.json, as a single building's");
  t.ok(readMarker(dataDir, 'dorfladen-lindenau')?.finishedAt, 'the Dorfladen has a marker of its own');
  t.match(lines.join('\n'), /backfill: dorfladen-lindenau: \d{4}-\d\d-\d\d … .* \d+ readings/);

  // Readings: each house's own meters, in series keyed by its site.
  const from = NOW - 7 * DAY;
  const energy = await store.query({ quantity: 'energy', from, to: NOW, aggregate: 'count' });
  for (const house of HOUSES) {
    const id = house.site.id;
    const own = energy.filter((s) => s.site === id);
    t.same(
      new Set(own.map((s) => s.device)),
      new Set(siteMeters(house, profiles).map((d) => d.id)),
      `${id}: every meter of its own has a history`,
    );
    t.ok(
      own.every((s) => (s.points[0]?.value ?? 0) > 0),
      `${id}: readings in each`,
    );
  }

  // Members: each house its population, at home there; e-mails and ids never one house's and another's.
  const werkhofSim = await records.members.findByEmail(simulatedMemberEmail('werkhof-weimar', 1));
  const dorfSim = await records.members.findByEmail(simulatedMemberEmail('dorfladen-lindenau', 1));
  t.equal(werkhofSim?.homeSite, undefined, "the home site's members name none (as a single building's)");
  t.equal(dorfSim?.homeSite, 'dorfladen-lindenau', "the Dorfladen's are at home in the Dorfladen");
  t.not(werkhofSim?.id, dorfSim?.id);
  t.equal(await records.members.count(), 2 * SIMULATED_MEMBERS, 'forty each, none shared');
  const homeOf = new Map(
    (await records.members.list()).map((m) => [m.id, homeSiteOf(m, 'werkhof-weimar')] as const),
  );

  // Bookings: each house its own, in its own time zone, by its own members and now and then a guest.
  const range = { start: from - DAY, end: NOW + 3 * DAY };
  const bookingsOf = async (house: SiteConfig) => records.bookingsAt(house.site.id).listAll(range);
  const werkhof = await bookingsOf(WERKHOF);
  const dorf = await bookingsOf(DORFLADEN);
  t.ok(werkhof.length > 20, `the Werkhof's bookings (${werkhof.length})`);
  t.ok(dorf.length > 20, `the Dorfladen's bookings (${dorf.length})`);
  t.notOk(
    dorf.some((b) => werkhof.some((w) => w.id === b.id)),
    'no id of one house in the other',
  );
  const kindIn = (house: SiteConfig, b: Booking) => house.spaces.find((s) => s.id === b.spaceId)?.kind;
  for (const [house, bookings] of [
    [WERKHOF, werkhof],
    [DORFLADEN, dorf],
  ] as const) {
    const id = house.site.id;
    const guests = bookings.filter((b) => homeOf.get(b.memberId) !== id);
    t.ok(
      guests.length > 0 && guests.length < bookings.length / 4,
      `${id}: ${guests.length} of ${bookings.length} booked by guests`,
    );
    t.ok(
      guests.every((b) => kindIn(house, b) === 'desk'),
      `${id}: guests book only desks, the kind its guests rule opens to the other house`,
    );
    t.ok(
      bookings.every((b) => homeOf.has(b.memberId)),
      `${id}: every booking is a simulated member's`,
    );
    // Within the space's opening hours in the house's own time zone (the Dorfladen's 07:00–19:00 are
    // 13:00–01:00 in Lindenau's own: laid out on Vienna's clock, its mornings would fall outside).
    const tz = house.site.timezone;
    const outside = bookings.filter((b) => {
      const space = house.spaces.find((s) => s.id === b.spaceId);
      if (!space || space.kind === 'protel') return false;
      return !openingIntervals(space, b, tz).some((o) => o.start <= b.start && b.end <= o.end);
    });
    t.same(outside, [], `${id}: every session within its opening hours, on its own clock (${tz})`);
  }
  t.ok(
    dorf.some((b) => b.start > NOW),
    'the Dorfladen has bookings ahead too, for the live check-in',
  );

  // Written again: nothing added anywhere.
  const counted = async () => ({
    readings: (await store.query({ quantity: 'energy', from, to: NOW, aggregate: 'count' }))
      .map((s) => `${s.site}/${s.device}:${s.points[0]?.value}`)
      .sort(),
    werkhof: (await bookingsOf(WERKHOF)).length,
    dorf: (await bookingsOf(DORFLADEN)).length,
    members: await records.members.count(),
  });
  const before = await counted();
  lines.length = 0;
  t.equal(await write(), 0, lines.join('\n'));
  t.match(lines.join('\n'), /dorfladen-lindenau: .* has its history already .* 0 bookings ahead added/);
  t.same(await counted(), before, 'written again: nothing new');

  // The network report of February (both houses' past week in it): every house with kWh of its own.
  const report = await buildNetworkReport(
    {
      sites: HOUSES,
      store,
      bookingsOf: (id) => records.bookingsAt(id),
      profiles,
    },
    '2027-02',
    NOW,
  );
  for (const house of report.houses) {
    const kwh = house.figures.find((f) => f.key === 'energyKwh')?.value ?? 0;
    t.ok(kwh > 0, `${house.site.name}: ${kwh} kWh in the network report`);
    const booked = house.figures.find((f) => f.key === 'bookedHours')?.value ?? 0;
    t.ok(booked > 0, `${house.site.name}: ${booked} booked hours`);
  }
});

recordsContract(t, "the demo's four houses: the network report has kWh of every one", async (t, records) => {
  const dataDir = tempDir(t);
  const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dataDir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const houses = fs
    .readdirSync(DEMO_NETWORK_DIR)
    .sort()
    .map((file) => demoHouse(file));
  t.equal(houses.length, 4);
  const lines: string[] = [];
  const code = await writeHouseHistories(await houseHistories(records, houses, 'kaufhaus'), {
    store,
    readingsOf: (id) => siteReadings(store, id),
    quarantine,
    profiles,
    dataDir,
    seed: 'kaufhaus',
    spanMs: 4 * DAY,
    stepMs: 3_600_000,
    now: () => NOW,
    say: (line) => lines.push(line),
    tell: (line) => lines.push(line),
  });
  t.equal(code, 0, lines.join('\n'));
  // February's last days (the history's 26 February to 2 March) in each house's own time zone.
  const report = await buildNetworkReport(
    { sites: houses, store, bookingsOf: (id) => records.bookingsAt(id), profiles },
    '2027-02',
    NOW,
  );
  t.same(
    report.houses.map((h) => h.site.id),
    houses.map((h) => h.site.id),
  );
  for (const house of report.houses) {
    const kwh = house.figures.find((f) => f.key === 'energyKwh')?.value ?? 0;
    t.ok(kwh > 0, `${house.site.name}: ${kwh} kWh`);
  }
  const total = report.total.figures.find((f) => f.key === 'energyKwh')?.value ?? 0;
  const sum = report.houses.reduce(
    (s, h) => s + (h.figures.find((f) => f.key === 'energyKwh')?.value ?? 0),
    0,
  );
  t.ok(Math.abs(total - sum) < 0.01 * total, `the network's ${total} kWh: the houses added up`);
});
