import t from 'tap';
import Value from 'typebox/value';
import { siteReadings } from '../storage/site-view.ts';
import { buildBoardReport } from './board-report.ts';
import type { BoardReportOut } from './board-report-schema.ts';
import { buildNetworkReport, NO_BOOKINGS, networkPeriods } from './network-report.ts';
import { NetworkReport, type NetworkReportOut } from './network-report-schema.ts';
import { parsePeriod } from './report-period.ts';
import { octoberBuilding, octoberSite, werkHaus, werkReadings } from './test-october.ts';

/**
 * The network report against the house reports added up, on a real SQLite store holding two houses whose
 * devices have the same ids: the October building of the board report's tests (its bookings in the records)
 * and a workshop whose meters count twice as much, whose coworking air is bad and whose bookings are kept
 * elsewhere.
 */

const NOW = Date.parse('2026-11-23T12:00:00Z');

async function network(t: Parameters<typeof octoberBuilding>[0]) {
  const building = await octoberBuilding(t);
  await building.store.write(werkReadings());
  const home = building.site;
  const werk = werkHaus();
  const sources = {
    sites: [home, werk],
    store: building.store,
    bookingsOf: (site: string) => (site === home.site.id ? building.bookings : NO_BOOKINGS),
    profiles: building.profiles,
  };
  const october = (tz: string) => {
    const p = parsePeriod('2025-10', tz);
    if (!p.ok) throw new Error(p.reason);
    return p.period;
  };
  // Each house's own board report, as its board reads it.
  const houseReports = await Promise.all(
    [home, werk].map((site) =>
      buildBoardReport(
        {
          site,
          store: siteReadings(building.store, site.site.id),
          bookings: sources.bookingsOf(site.site.id),
          profiles: building.profiles,
        },
        october(site.site.timezone),
        NOW,
      ),
    ),
  );
  return { sources, houseReports };
}

const value = (report: BoardReportOut, key: string) =>
  report.figures.find((f) => f.key === key)?.value ?? null;
const total = (report: NetworkReportOut, key: string) => report.total.figures.find((f) => f.key === key);

t.test('October 2025 of two houses: each its own report, the total the reports added up', async (t) => {
  const { sources, houseReports } = await network(t);
  const [home, werk] = houseReports as [BoardReportOut, BoardReportOut];
  const report = await buildNetworkReport(sources, '2025-10', NOW);
  t.ok(Value.Check(NetworkReport, report), 'answers its schema');

  // Each house: its own report's figures, to the last decimal.
  for (const [i, house] of report.houses.entries()) {
    const own = houseReports[i] as BoardReportOut;
    t.same(
      house.figures.map((f) => [f.key, f.value]),
      own.figures.map((f) => [f.key, f.value]),
      `${house.site.name}: its board report's figures`,
    );
    t.same(house.period, own.period, `${house.site.name}: its board report's period and coverage`);
  }
  t.same(
    report.houses.map((h) => h.bookingsKnown),
    [true, false],
  );

  // The house reports, by hand: the October building 300 kWh (test-october.ts), the workshop 600 (twice the
  // counters); devices of the same ids in both houses never add up in one (site-view.ts).
  t.equal(value(home, 'energyKwh'), 300);
  t.equal(value(werk, 'energyKwh'), 600);
  t.equal(total(report, 'energyKwh')?.value, 900, '300 + 600');
  t.equal(
    total(report, 'energyKwh')?.value,
    (value(home, 'energyKwh') ?? 0) + (value(werk, 'energyKwh') ?? 0),
  );
  // 900 kWh × 365 / 31 / (900 + 200) m² = 9.6334…; the houses' own 3.925 and 35.323 weighted by area.
  t.equal(total(report, 'energyKwhPerM2Annualised')?.value, 9.633);
  t.equal(
    Math.round(
      (((value(home, 'energyKwhPerM2Annualised') ?? 0) * 900 +
        (value(werk, 'energyKwhPerM2Annualised') ?? 0) * 200) /
        1100) *
        100,
    ) / 100,
    9.63,
  );
  // Location-based: 300 × 350 g (the site file's 2025) + 600 × 363 g (Umweltbundesamt 2024) = 105 + 217.8.
  t.equal(value(werk, 'co2LocationKg'), 217.8);
  t.equal(total(report, 'co2LocationKg')?.value, 322.8);
  // Market-based: 300 × 380 g + 600 × 150 g = 114 + 90.
  t.equal(total(report, 'co2MarketKg')?.value, 204);
  t.equal(
    total(report, 'co2MarketKg')?.value,
    (value(home, 'co2MarketKg') ?? 0) + (value(werk, 'co2MarketKg') ?? 0),
  );
  // The workshop's bookings are not in these records: its use is unknown, and its kWh are not set against
  // the October building's 9 desk-hours (300 / 9 = 33.333…).
  t.equal(value(werk, 'bookedHours'), null);
  t.equal(total(report, 'bookedHours')?.value, 11);
  t.equal(total(report, 'energyPerBookedDeskHourKwh')?.value, 33.3333);
  t.equal(total(report, 'availableHours')?.value, 1950, '975 + 975 opening hours');
  t.equal(total(report, 'bookedShare')?.value, 0.0113, '11 / 975: the house whose bookings are known');
  t.equal(total(report, 'usedShareOfBooked')?.value, 0.7778);
  t.equal(total(report, 'noShowRate')?.value, 0.3333);
  // Good air: 2 of 3 occupied hours in the October building, 1 of 3 in the workshop (its coworking hour
  // at 1300 ppm): 3 / 6, from the houses' air tables.
  t.equal(value(werk, 'goodAirShare'), 0.3333);
  const airOf = (r: BoardReportOut) =>
    (r.tables.find((x) => x.id === 'air-quality')?.rows ?? []) as {
      occupiedHours: number;
      goodAirHours: number;
    }[];
  const good = [home, werk].flatMap(airOf).reduce((s, r) => s + r.goodAirHours, 0);
  const occupied = [home, werk].flatMap(airOf).reduce((s, r) => s + r.occupiedHours, 0);
  t.equal(total(report, 'goodAirShare')?.value, good / occupied);
  t.equal(good / occupied, 0.5);

  // Coverage: each house's main meters have 6 of their 1490 meter-hours (test-october.ts), so the network
  // 12 of 2980; the CO2 sensors 4 of 1490 hours in each (café 3 hours, coworking 1).
  t.equal(total(report, 'energyKwh')?.coverage, 0.004);
  t.equal(report.houses[0]?.figures.find((f) => f.key === 'energyKwh')?.coverage, home.period.coverage);
  t.equal(total(report, 'goodAirShare')?.coverage, Math.round((8 / 2980) * 10000) / 10000);
  t.equal(total(report, 'bookedHours')?.coverage, null);

  // The table for spreadsheets: every house's figures, then the network's.
  const rows = report.tables[0]?.rows ?? [];
  t.equal(rows.length, 3 * 11);
  t.match(rows.at(-11), { scope: 'network', site: null, figure: 'energyKwh', value: 900 });
  t.match(rows[11], { scope: 'house', site: 'werk-haus', name: 'Werkhaus', figure: 'energyKwh', value: 600 });
});

t.test('a period is the network’s only when it has begun in every house', async (t) => {
  const kiritimati = { ...werkHaus(), site: { ...werkHaus().site, timezone: 'Pacific/Kiritimati' } };
  // 1 January 2027, 05:00 UTC: 19:00 in Kiritimati (UTC+14) but 06:00 in Berlin, 2027 begun in both.
  const sites = [octoberSite(), kiritimati];
  t.ok(networkPeriods('2027', sites, Date.UTC(2027, 0, 1, 5)).ok);
  // 31 December 2026, 20:00 UTC: 2027 begun in Kiritimati, not in Berlin.
  const early = networkPeriods('2027', sites, Date.UTC(2026, 11, 31, 20));
  t.match(early, { ok: false, reason: /has not begun yet in Berichtshaus/ });
  t.match(networkPeriods('2026-13', sites, NOW), { ok: false });
});
