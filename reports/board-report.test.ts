import t, { type Test } from 'tap';
import Value from 'typebox/value';
import type { StoredReading } from '../storage/store.ts';
import { buildBoardReport, lastCompleteMonth } from './board-report.ts';
import { BoardReportCache, warmBoardReport } from './board-report-cache.ts';
import {
  BoardReport,
  type BoardReportOut,
  type ReportTableOf,
  TABLE_IDS,
  type TableId,
} from './board-report-schema.ts';
import { parsePeriod } from './report-period.ts';
import { octoberBuilding } from './test-october.ts';

const NOW = Date.parse('2026-11-23T12:00:00Z');

function october() {
  const parsed = parsePeriod('2025-10', 'Europe/Berlin');
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.period;
}

function figure(report: BoardReportOut, key: string) {
  const f = report.figures.find((x) => x.key === key);
  return f ? [f.value, f.previous, f.yearBefore] : undefined;
}

function table<Id extends TableId>(report: BoardReportOut, id: Id): ReportTableOf<Id> | undefined {
  return report.tables.find((x): x is ReportTableOf<Id> => x.id === id);
}

function checkOctober(t: Test, report: BoardReportOut): void {
  // [October 2025, September 2025, October 2024]; hand computations in test-october.ts and here.
  t.same(
    figure(report, 'energyKwh'),
    [300, 100, null],
    'main meters: 220 + 80; September 100; no data a year before',
  );
  // 300 × 365 / 31 / 900 m² = 3.9247…; 100 × 365 / 30 / 900 = 1.3518…
  t.same(figure(report, 'energyKwhPerM2Annualised'), [3.925, 1.352, null]);
  // The site file's 350 g/kWh for 2025: 300 × 0.35 = 105 kg, 100 × 0.35 = 35 kg.
  t.same(figure(report, 'co2LocationKg'), [105, 35, null]);
  // Supplier 380 g/kWh: 114 kg, 38 kg.
  t.same(figure(report, 'co2MarketKg'), [114, 38, null]);
  // 300 kWh / 9 desk-hours = 33.333…; September 100 / 2 = 50; before the first booking: unknown.
  t.same(figure(report, 'energyPerBookedDeskHourKwh'), [33.3333, 50, null]);
  // Desk 9 h + meeting room 2 h; September 2 h.
  t.same(figure(report, 'bookedHours'), [11, 2, null]);
  // Desk: 23 weekdays × 10 h = 230 h, room always open 745 h (clocks go back) = 975; September 22 × 10 +
  // 720 = 940; October 2024: 23 weekdays as well, 745 h.
  t.same(figure(report, 'availableHours'), [975, 940, 975]);
  // 11 / 975 = 0.01128…; 2 / 940 = 0.00213…
  t.same(figure(report, 'bookedShare'), [0.0113, 0.0021, null]);
  // Only the desk has a sensor: 7 of its 9 h used; September 0 of 2.
  t.same(figure(report, 'usedShareOfBooked'), [0.7778, 0, null]);
  // 1 released of 3 started; September 0 of 1.
  t.same(figure(report, 'noShowRate'), [0.3333, 0, null]);
  // Café 1 good of 2 occupied hours, coworking 1 of 1: 2 / 3.
  t.same(figure(report, 'goodAirShare'), [0.6667, null, null]);

  t.same(table(report, 'energy-by-meter')?.rows, [
    { meter: 'meter-main', space: 'technik', role: 'main', energyKwh: 220, counterResets: 1 },
    { meter: 'meter-og1', space: 'technik', role: 'main', energyKwh: 80, counterResets: 0 },
    { meter: 'plug-cafe', space: 'cafe', role: 'plug', energyKwh: 2, counterResets: 0 },
  ]);
  const days = table(report, 'energy-by-day')?.rows ?? [];
  t.equal(days.length, 31);
  t.same(
    days.filter((d) => d.energyKwh !== null),
    [
      { date: '2025-10-01', energyKwh: 10 },
      { date: '2025-10-10', energyKwh: 30 },
      { date: '2025-10-15', energyKwh: 110 },
      { date: '2025-10-20', energyKwh: 50 },
      // 22:30 UTC on 31 Oct is 23:30 CET: still the 31st.
      { date: '2025-10-31', energyKwh: 100 },
    ],
  );
  t.same(table(report, 'space-use')?.rows, [
    {
      kind: 'desk',
      spaces: 1,
      availableHours: 230,
      bookedHours: 9,
      bookedShare: 0.0391, // 9 / 230
      usedHours: 7,
      usedShareOfBooked: 0.7778,
      bookingsStarted: 3,
      noShows: 1,
      noShowRate: 0.3333,
    },
    {
      kind: 'meeting_room',
      spaces: 1,
      availableHours: 745,
      bookedHours: 2,
      bookedShare: 0.0027, // 2 / 745
      usedHours: 0,
      usedShareOfBooked: null,
      bookingsStarted: 0,
      noShows: 0,
      noShowRate: null,
    },
  ]);
  t.same(table(report, 'air-quality')?.rows, [
    {
      space: 'cafe',
      name: 'Café Größe',
      occupiedHours: 2,
      goodAirHours: 1,
      goodAirShare: 0.5,
      meanCo2Ppm: 975,
    },
    {
      space: 'cowork',
      name: 'Coworking',
      occupiedHours: 1,
      goodAirHours: 1,
      goodAirShare: 1,
      meanCo2Ppm: 800,
    },
  ]);
}

t.test('October 2025 against September and October 2024, by hand', async (t) => {
  const building = await octoberBuilding(t);
  const report = await buildBoardReport(building, october(), NOW);
  t.same(report.period, {
    kind: 'month',
    label: '2025-10',
    from: '2025-09-30T22:00:00.000Z',
    to: '2025-10-31T23:00:00.000Z',
    days: 31,
    // The test meters report rarely: meter-main has consumption in 4 of October's 745 hours (1 Oct 06 h,
    // 15 Oct 10 h and 11 h, 31 Oct 22 h UTC), meter-og1 in 2 (10 and 20 Oct 12 h): 6 / 1490 = 0.004.
    coverage: 0.004,
  });
  t.equal(report.previous.label, '2025-09');
  t.equal(report.yearBefore.label, '2024-10');
  t.equal(report.yearBefore.coverage, 0, 'nothing of October 2024');
  t.same(report.factors, {
    locationGPerKwh: 350,
    locationYear: 2025,
    locationSource: 'grid_co2_g_per_kwh',
    marketGPerKwh: 380,
  });
  t.same(report.site, { id: 'bericht-haus', name: 'Berichtshaus', areaM2: 900, timezone: 'Europe/Berlin' });
  checkOctober(t, report);
  t.same(
    table(report, 'summary')?.rows.find((r) => r.figure === 'energyKwh'),
    { figure: 'energyKwh', unit: 'kWh', value: 300, previous: 100, yearBefore: null },
  );
  t.same(
    report.tables.map((x) => x.id),
    TABLE_IDS,
    'every table of the contract, in its order',
  );
  t.same([...Value.Errors(BoardReport, report)], [], 'the report is what the contract says, table by table');
  // Saved by automations, by hand in test-october.ts (OCTOBER_COMMANDS).
  t.match(report.savedByAutomations, {
    switchedOff: { kwh: 0.48, co2LocationKg: 0.168, co2MarketKg: 0.182, hours: 12, outputs: 1, spans: 1 },
    setBack: { heatKwh: 3.36, co2Kg: 0.672, heatingGPerKwh: 200, degreeHours: 56, rooms: 1, spans: 1 },
  });
  t.match(report.savedByAutomations?.switchedOff.method, /measured mean power in the hour before/);
  t.match(report.savedByAutomations?.setBack.method, /heat-loss coefficient/);
  t.same(table(report, 'saved-by-automations')?.rows, [
    {
      saving: 'switched_off',
      device: 'plug-cafe',
      channel: '0',
      space: 'cafe',
      spans: 1,
      hours: 12,
      powerBeforeW: 40,
      degreeHours: null,
      heatLossWPerK: null,
      savedKwh: 0.48,
      co2Kg: 0.168,
    },
    {
      saving: 'set_back',
      device: 'valve-room-1',
      channel: '0',
      space: 'room-1',
      spans: 1,
      hours: 14,
      powerBeforeW: null,
      degreeHours: 56,
      heatLossWPerK: 60,
      savedKwh: 3.36,
      co2Kg: 0.672,
    },
  ]);
  for (const x of report.tables)
    t.same(
      x.rows.flatMap((row) => Object.keys(row).filter((key) => !x.columns.some((c) => c.key === key))),
      [],
      `${x.id}: every field of a row is one of its columns`,
    );
});

t.test('the same figures from the hourly rollups, once the raw readings are pruned', async (t) => {
  const building = await octoberBuilding(t);
  const maintenance = await building.store.maintain(NOW);
  t.ok(maintenance.prunedReadings > 0, `${maintenance.prunedReadings} raw readings pruned`);
  checkOctober(t, await buildBoardReport(building, october(), NOW));
});

t.test('a period still running counts up to now and annualises over the days elapsed', async (t) => {
  const building = await octoberBuilding(t);
  const now = Date.parse('2025-10-15T12:00:00Z');
  const report = await buildBoardReport(building, october(), now);
  t.equal(report.period.until, '2025-10-15T12:00:00.000Z');
  t.equal(report.previous.until, undefined, 'September is over');
  // Whole hours up to now: 30 Sep 22 h to 15 Oct 12 h UTC = 350; meter-main has 3 of them (1 Oct 06 h,
  // 15 Oct 10 h and 11 h), meter-og1 1 (10 Oct 12 h): 4 / 700 = 0.0057.
  t.equal(report.period.coverage, 0.006);
  // Up to 12:00 UTC on 15 Oct: meter-main 10 + 95 + 15, meter-og1 30 = 150 kWh, over
  // 14 days 14 hours = 14.5833 days: 150 × 365 / 14.5833 / 900 = 4.1714…
  t.same(figure(report, 'energyKwh'), [150, 100, null]);
  t.equal(figure(report, 'energyKwhPerM2Annualised')?.[0], 4.171);
  // Desk open 1–14 Oct: 10 weekdays × 10 h + 15 Oct 08:00–14:00 CEST 6 h = 106 h; room 350 h = 456 h;
  // booked 9 h (the room's booking on the 20th is still ahead): 9 / 456 = 0.0197.
  t.same(figure(report, 'availableHours')?.[0], 456);
  t.same(figure(report, 'bookedShare')?.[0], 0.0197);
  t.equal(table(report, 'energy-by-day')?.rows.length, 15, '1 … 15 October');
});

t.test("a main meter counts with every phase: a 3EM's channels 1 and 2 add to channel 0", async (t) => {
  const building = await octoberBuilding(t);
  const phase = (channel: string, iso: string, value: number): StoredReading => ({
    site: 'bericht-haus',
    space: 'technik',
    device: 'meter-main',
    channel,
    quantity: 'energy',
    unit: 'kWh',
    value,
    ts: Date.parse(iso),
  });
  await building.store.write([
    // Phase 1: a baseline in September, +40 kWh in October.
    phase('1', '2025-09-30T21:00:00Z', 400),
    phase('1', '2025-10-20T12:00:00Z', 440),
    // Phase 2: +20 kWh, then its own restart to 3 (+3): 23 kWh and one more counter restart.
    phase('2', '2025-09-30T21:00:00Z', 70),
    phase('2', '2025-10-05T12:00:00Z', 90),
    phase('2', '2025-10-06T12:00:00Z', 3),
  ]);
  const report = await buildBoardReport(building, october(), NOW);
  t.same(figure(report, 'energyKwh'), [363, 100, null], '300 + 40 + 23; the phases start in October');
  t.same(table(report, 'energy-by-meter')?.rows[0], {
    meter: 'meter-main',
    space: 'technik',
    role: 'main',
    energyKwh: 283,
    counterResets: 2,
  });
  const days = new Map((table(report, 'energy-by-day')?.rows ?? []).map((r) => [r.date, r.energyKwh]));
  t.equal(days.get('2025-10-05'), 20, "phase 2's 5 October");
});

t.test('a period that has not begun is refused', async (t) => {
  const building = await octoberBuilding(t);
  await t.rejects(buildBoardReport(building, october(), Date.parse('2025-09-01T00:00:00Z')), /not begun/);
});

t.test('the cache keeps a running period a minute and a settled one a quarter of an hour', async (t) => {
  const building = await octoberBuilding(t);
  const cache = new BoardReportCache({ openTtlMs: 60_000, settledTtlMs: 15 * 60_000 });
  const running = Date.parse('2025-10-15T12:00:00Z');
  const first = await buildBoardReport(building, october(), running, cache);
  t.same(figure(first, 'energyKwh'), [150, 100, null]);
  t.equal(cache.size, 3, 'October, September, October 2024');

  // A late September reading and a new October one: meter-og1 +4 kWh in September (500 → 504 before the
  // 530 of 10 Oct, so October's step shrinks by 4), meter-main +5 kWh on 15 Oct at 12:00:30.
  await building.store.write([
    {
      site: 'bericht-haus',
      space: 'technik',
      device: 'meter-og1',
      channel: '0',
      quantity: 'energy',
      unit: 'kWh',
      value: 504,
      ts: Date.parse('2025-09-30T21:30:00Z'),
    },
    {
      site: 'bericht-haus',
      space: 'technik',
      device: 'meter-main',
      channel: '0',
      quantity: 'energy',
      unit: 'kWh',
      value: 25,
      ts: Date.parse('2025-10-15T12:00:30Z'),
    },
  ]);
  const soon = await buildBoardReport(building, october(), running + 30_000, cache);
  t.same(figure(soon, 'energyKwh'), [150, 100, null], 'within the time to live: the same answer');
  // 61 s later October is read again (up to 12:01:01: 150 − 4 + 5 = 151 kWh); September has settled long
  // ago and keeps its cached 100 kWh.
  const later = await buildBoardReport(building, october(), running + 61_000, cache);
  t.same(figure(later, 'energyKwh'), [151, 100, null]);
  t.same(
    figure(await buildBoardReport(building, october(), running + 61_000), 'energyKwh'),
    [151, 104, null],
    'without the cache September has the late reading',
  );
  // A quarter of an hour after it was first read, September is read again and has the late reading too.
  const quarterHour = await buildBoardReport(building, october(), running + 15 * 60_000 + 1, cache);
  t.same(figure(quarterHour, 'energyKwh'), [151, 104, null]);
});

t.test('the opening month is the last one that has ended, by the site’s clock', async (t) => {
  // 31 Oct 2025 23:30 UTC is 00:30 on 1 Nov in Berlin: October has ended there.
  t.equal(lastCompleteMonth(Date.parse('2025-10-31T23:30:00Z'), 'Europe/Berlin').label, '2025-10');
  t.equal(lastCompleteMonth(Date.parse('2025-10-31T22:30:00Z'), 'Europe/Berlin').label, '2025-09');
  t.equal(lastCompleteMonth(Date.parse('2026-01-15T12:00:00Z'), 'Europe/Berlin').label, '2025-12');
});

t.test(
  'warming keeps the opening month once its meters cover it, and drops periods they do not',
  async (t) => {
    const building = await octoberBuilding(t);
    const now = Date.parse('2025-11-10T12:00:00Z');
    const cache = new BoardReportCache();
    // The test meters report a few times a month (coverage 0.004): nothing is kept, and warming is not done.
    t.equal(await warmBoardReport(building, cache, now), false, 'October not covered yet');
    t.equal(cache.size, 0, 'October, September and October 2024 dropped again');

    // Then October's history arrives: a reading of both main meters at :59 of every October hour (their
    // values do not matter here: coverage counts the hours with a figure).
    const hourly: StoredReading[] = [];
    const from = Date.parse('2025-09-30T22:00:00Z');
    const to = Date.parse('2025-10-31T23:00:00Z');
    for (const device of ['meter-main', 'meter-og1'])
      for (let ts = from; ts < to; ts += 3_600_000)
        hourly.push({
          site: 'bericht-haus',
          space: 'technik',
          device,
          channel: '0',
          quantity: 'energy',
          unit: 'kWh',
          value: 2000,
          ts: ts + 59 * 60_000,
        });
    await building.store.write(hourly);
    t.equal(await warmBoardReport(building, cache, now), true, 'October covered');
    t.equal(cache.size, 1, 'October kept; September and October 2024 still not covered');
    const report = await buildBoardReport(building, october(), now, cache);
    t.equal(report.period.coverage, 1);
  },
);
