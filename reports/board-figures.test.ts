import t from 'tap';
import { compareFigures, type PeriodMeasures, periodFigures, rounded, share } from './board-figures.ts';
import { FIGURE_KEYS } from './board-report-schema.ts';

const H = 3_600_000;

const october: PeriodMeasures = {
  energyKwh: 3100,
  areaM2: 1000,
  days: 31,
  locationGPerKwh: 363,
  marketGPerKwh: 380,
  bookingsKnown: true,
  deskBookedMs: 310 * H,
  bookedMs: 600 * H,
  availableMs: 1200 * H,
  checkableBookedMs: 300 * H,
  checkableUsedMs: 150 * H,
  started: 40,
  released: 10,
  occupiedAirHours: 40,
  goodAirHours: 30,
};

t.test('the figures of a period, by hand', async (t) => {
  t.same(periodFigures(october), {
    energyKwh: 3100,
    // 3100 × 365 / 31 / 1000 = 36.5
    energyKwhPerM2Annualised: 36.5,
    // 3100 × 363 / 1000 = 1125.3; 3100 × 380 / 1000 = 1178
    co2LocationKg: 1125.3,
    co2MarketKg: 1178,
    // 3100 kWh / 310 desk-hours
    energyPerBookedDeskHourKwh: 10,
    bookedHours: 600,
    availableHours: 1200,
    bookedShare: 0.5,
    usedShareOfBooked: 0.5,
    noShowRate: 0.25,
    goodAirShare: 0.75,
  });
});

t.test('zero denominators and missing data are null, never NaN or Infinity', async (t) => {
  const empty = periodFigures({
    ...october,
    energyKwh: null,
    marketGPerKwh: null,
    deskBookedMs: 0,
    bookedMs: 0,
    availableMs: 0,
    checkableBookedMs: 0,
    checkableUsedMs: 0,
    started: 0,
    released: 0,
    occupiedAirHours: 0,
    goodAirHours: 0,
  });
  for (const key of FIGURE_KEYS) {
    const value = empty[key];
    t.ok(value === null || Number.isFinite(value), `${key} is null or finite (${value})`);
  }
  t.equal(empty.energyKwh, null);
  t.equal(empty.co2LocationKg, null);
  t.equal(empty.bookedShare, null);
  t.equal(empty.noShowRate, null);
  t.equal(empty.goodAirShare, null);
  t.equal(empty.bookedHours, 0, 'known and zero: nobody booked');
  t.equal(share(1, 0), null);
  t.equal(share(Number.NaN, 2), null);
  t.equal(share(1, Number.POSITIVE_INFINITY), null);
});

t.test('before the first booking the booking figures are unknown, not zero', async (t) => {
  const before = periodFigures({ ...october, bookingsKnown: false });
  t.equal(before.bookedHours, null);
  t.equal(before.bookedShare, null);
  t.equal(before.usedShareOfBooked, null);
  t.equal(before.noShowRate, null);
  t.equal(before.energyPerBookedDeskHourKwh, null);
  t.equal(before.availableHours, 1200, 'opening hours are known all the same');
  t.equal(before.energyKwh, 3100);
});

t.test('three periods side by side, rounded per unit', async (t) => {
  const value = periodFigures(october);
  // September: 2400 kWh in 30 days; 1/3 of the bookings released.
  const previous = periodFigures({ ...october, energyKwh: 2400, days: 30, started: 30, released: 10 });
  const yearBefore = periodFigures({ ...october, energyKwh: null });
  const figures = compareFigures(value, previous, yearBefore);
  t.same(
    figures.map((f) => f.key),
    [...FIGURE_KEYS],
  );
  const energy = figures.find((f) => f.key === 'energyKwh');
  t.same(energy, { key: 'energyKwh', unit: 'kWh', value: 3100, previous: 2400, yearBefore: null });
  // 2400 × 365 / 30 / 1000 = 29.2
  t.equal(figures.find((f) => f.key === 'energyKwhPerM2Annualised')?.previous, 29.2);
  // 10 / 30 = 0.33333… → 0.3333
  t.same(
    figures.find((f) => f.key === 'noShowRate'),
    {
      key: 'noShowRate',
      unit: 'ratio',
      value: 0.25,
      previous: 0.3333,
      yearBefore: 0.25,
    },
  );
  t.equal(rounded(1.23456, 'kWh'), 1.235);
  t.equal(rounded(Number.NaN, 'kWh'), null);
});
