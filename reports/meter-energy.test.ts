import t from 'tap';
import { consumptionByBucket } from '../storage/consumption.ts';
import { locationFactor, SITE_FILE_SOURCE, UBA_SOURCE } from './emission-factors.ts';
import {
  co2Kg,
  counterResetHours,
  kwhByLocalDay,
  kwhPerM2Annualised,
  localDateKey,
  meterCoverage,
  sumByHour,
  totalKwh,
} from './meter-energy.ts';

const H = 3_600_000;

t.test('counter restarts are found from hourly consumption and last values', async (t) => {
  // Before: 100. Hour 0: 100 → 101.5 (1.5 consumed, = 101.5 − 100: no restart).
  // Hour 1: 101.5 → 102 (+0.5) → reboot → 0.3 (+0.3) → 0.8 (+0.5): 1.3 consumed, but last − before =
  //   0.8 − 101.5 = −100.7: a restart.
  // Hour 2: 0.8 → 1.8: 1.0 = 1.8 − 0.8: none.
  // Hour 3: no consumption known (late readings): not judged, but its last is the next baseline.
  // Hour 4: 2.0 → 5 (+3) → reboot → 2 (+2) → 6 (+4): 9 consumed; last − before = 6 − 2.0 = 4: the counter
  //   is higher than before, yet 9 > 4: a restart (the 5 it had before it).
  const hours = [
    { ts: 0, consumption: 1.5, last: 101.5 },
    { ts: H, consumption: 1.3, last: 0.8 },
    { ts: 2 * H, consumption: 1.0, last: 1.8 },
    { ts: 3 * H, consumption: null, last: 2.0 },
    { ts: 4 * H, consumption: 9, last: 6 },
  ];
  t.equal(counterResetHours(hours, 100), 2);
  t.equal(counterResetHours([...hours].reverse(), 100), 2, 'order of the input does not matter');
  t.equal(counterResetHours(hours.slice(1), null), 1, 'without a baseline the first hour is not judged');
  t.equal(counterResetHours([], 5), 0);
  // 100.2 before; the hour ends on a dip to 100.0 (out-of-order samples): consumption 0, no restart.
  t.equal(counterResetHours([{ ts: 0, consumption: 0, last: 100.0 }], 100.2), 0, 'a dip is no restart');
});

t.test('restart hours agree with the store arithmetic on the same samples', async (t) => {
  // Every 20 minutes; the counter restarts at 1:40 (from 12.2 to 0.1) and stays monotonic otherwise.
  const values = [10, 10.5, 11, 11.6, 12.2, 0.1, 0.4, 1.0, 1.3];
  const samples = values.map((value, i) => ({ ts: i * 20 * 60_000, value }));
  const consumption = consumptionByBucket(samples, { from: 0, to: 3 * H, bucketMs: H });
  // Hour 0: samples 10, 10.5, 11 (the first is the baseline): 1.0. Hour 1: 11.6 (+0.6), 12.2 (+0.6),
  // 0.1 (+0.1) = 1.3. Hour 2: 0.4 (+0.3), 1.0 (+0.6), 1.3 (+0.3) = 1.2. Total 3.5 kWh.
  t.same(
    consumption.map((p) => Math.round(p.value * 1000) / 1000),
    [1, 1.3, 1.2],
  );
  const lasts = [11, 0.1, 1.3];
  const hours = consumption.map((p, i) => ({ ts: p.ts, consumption: p.value, last: lasts[i] ?? null }));
  t.equal(counterResetHours(hours, null), 1, 'the hour from 1:00 has the restart');
  t.equal(Math.round((totalKwh(consumption) ?? 0) * 1000) / 1000, 3.5);
});

t.test('total: no data is null, not zero', async (t) => {
  t.equal(totalKwh([]), null);
  t.equal(totalKwh([{ value: null }]), null);
  t.equal(totalKwh([{ value: 1.5 }, { value: null }, { value: 2 }]), 3.5);
  t.equal(totalKwh([{ value: 0 }]), 0);
});

t.test('hours grouped per local day across the autumn clock change', async (t) => {
  // Berlin: 24 Oct 21:00 UTC = 23:00 CEST (24 Oct); 24 Oct 22:00 UTC = 00:00 CEST (25 Oct);
  // 25 Oct 22:00 UTC = 23:00 CET (25 Oct, after the change); 25 Oct 23:00 UTC = 00:00 CET (26 Oct).
  const at = (iso: string) => Date.parse(iso);
  const days = kwhByLocalDay(
    [
      { ts: at('2026-10-24T21:00:00Z'), value: 1 },
      { ts: at('2026-10-24T22:00:00Z'), value: 2 },
      { ts: at('2026-10-25T22:00:00Z'), value: 4 },
      { ts: at('2026-10-25T23:00:00Z'), value: 8 },
    ],
    'Europe/Berlin',
  );
  t.same(Object.fromEntries(days), { '2026-10-24': 1, '2026-10-25': 6, '2026-10-26': 8 });
  t.equal(localDateKey(at('2026-03-01T00:30:00Z'), 'Europe/Berlin'), '2026-03-01');
  t.equal(localDateKey(at('2026-02-28T23:30:00Z'), 'Europe/Berlin'), '2026-03-01', '00:30 CET');
});

t.test('kWh per m² and year', async (t) => {
  // 3100 kWh in 31 days = 100 kWh/day = 36 500 kWh/a; over 1000 m²: 36.5 kWh/m²·a.
  t.equal(kwhPerM2Annualised(3100, 1000, 31), 36.5);
  // A quarter of 92 days with 9200 kWh on 500 m²: 100 kWh/day × 365 / 500 = 73.
  t.equal(kwhPerM2Annualised(9200, 500, 92), 73);
  t.equal(kwhPerM2Annualised(null, 1000, 31), null);
  t.equal(kwhPerM2Annualised(100, 0, 31), null);
  t.equal(kwhPerM2Annualised(100, 1000, 0), null);
});

t.test('CO2: kWh × g/kWh / 1000', async (t) => {
  // 1000 kWh × 363 g/kWh = 363 000 g = 363 kg.
  t.equal(co2Kg(1000, 363), 363);
  t.equal(co2Kg(2500, 380), 950);
  t.equal(co2Kg(null, 363), null);
  t.equal(co2Kg(1000, null), null, 'no supplier factor: no market-based figure');
});

t.test('the location factor of a year, or of the latest earlier year', async (t) => {
  t.same(locationFactor(2024), { gPerKwh: 363, year: 2024, source: UBA_SOURCE });
  t.same(
    locationFactor(2026),
    { gPerKwh: 363, year: 2024, source: UBA_SOURCE },
    '2026 is not published: 2024',
  );
  t.same(
    locationFactor(2019),
    { gPerKwh: 363, year: 2024, source: UBA_SOURCE },
    'before every entry: the earliest',
  );
  const site = { '2025': 350, '2027': 330 };
  t.same(locationFactor(2026, site), { gPerKwh: 350, year: 2025, source: SITE_FILE_SOURCE });
  t.same(locationFactor(2027, site), { gPerKwh: 330, year: 2027, source: SITE_FILE_SOURCE });
  t.same(locationFactor(2024, site), { gPerKwh: 363, year: 2024, source: UBA_SOURCE });
  t.same(
    locationFactor(2024, { '2024': 370 }),
    { gPerKwh: 370, year: 2024, source: SITE_FILE_SOURCE },
    'the site file wins over the built-in table',
  );
});

t.test(
  'coverage: the share of whole hours each main meter has a figure for, averaged over the meters',
  async (t) => {
    const hours = (...list: number[]) => list.map((h) => ({ ts: h * H, value: 1 }));
    // 10 hours [0, 10 h): meter A all 10, meter B 4 of them (silent from hour 4): (10 + 4) / 20 = 0.7.
    const a = hours(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    const b = hours(0, 1, 2, 3);
    t.equal(meterCoverage([a, b], { from: 0, to: 10 * H }), 0.7);
    t.equal(meterCoverage([a], { from: 0, to: 10 * H }), 1);
    // A history starting at hour 6 of a 24-hour day: 18 of 24 = 0.75.
    t.equal(
      meterCoverage([hours(6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)], {
        from: 0,
        to: 24 * H,
      }),
      0.75,
    );
    // Points outside the range do not count; a range ending in the running hour counts whole hours only:
    // [0, 4.5 h) has 4 whole hours, meter A has all four (the 5th and later are outside).
    t.equal(meterCoverage([a], { from: 0, to: 4.5 * H }), 1);
    // Starting mid-hour: hours 1..3 of [0.5 h, 4 h) are whole: 3 hours, b has 1, 2, 3.
    t.equal(meterCoverage([b], { from: 0.5 * H, to: 4 * H }), 1);
    t.equal(meterCoverage([], { from: 0, to: 10 * H }), 0, 'no meters: nothing to stand on');
    t.equal(meterCoverage([a], { from: 0, to: 0.5 * H }), 0, 'no whole hour yet');
  },
);

t.test('main meters add up per hour, by hour; an hour only one meter has counts that one', async (t) => {
  const a = [
    { ts: 2 * H, value: 1.5 },
    { ts: 0, value: 1 },
  ];
  const b = [
    { ts: 0, value: 2 },
    { ts: H, value: 0.25 },
  ];
  t.same(sumByHour([a, b]), [
    { ts: 0, value: 3 },
    { ts: H, value: 0.25 },
    { ts: 2 * H, value: 1.5 },
  ]);
  t.same(sumByHour([]), [], 'no meters, no hours');
});
