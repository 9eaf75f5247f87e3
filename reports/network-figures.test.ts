import t from 'tap';
import type { PeriodMeasures } from './board-figures.ts';
import type { FigureKey } from './board-report-schema.ts';
import { type HouseMeasures, type NetworkFigure, networkFigures } from './network-figures.ts';

const H = 3_600_000;

/** Two houses of October (31 days, 744 h), every figure computed by hand below. */
const A: HouseMeasures = {
  site: 'a',
  measures: {
    energyKwh: 1000,
    areaM2: 500,
    days: 31,
    locationGPerKwh: 363,
    marketGPerKwh: 380,
    bookingsKnown: true,
    deskBookedMs: 200 * H,
    bookedMs: 400 * H,
    availableMs: 1000 * H,
    checkableBookedMs: 300 * H,
    checkableUsedMs: 240 * H,
    started: 50,
    released: 5,
    occupiedAirHours: 100,
    goodAirHours: 80,
  },
  // Two main meters, every hour.
  meters: { covered: 1488, expected: 1488 },
  co2Sensors: { covered: 700, expected: 744 },
};
const B: HouseMeasures = {
  site: 'b',
  measures: {
    ...A.measures,
    energyKwh: 300,
    areaM2: 100,
    marketGPerKwh: 150,
    deskBookedMs: 50 * H,
    bookedMs: 100 * H,
    availableMs: 500 * H,
    checkableBookedMs: 100 * H,
    checkableUsedMs: 50 * H,
    started: 20,
    released: 5,
    occupiedAirHours: 50,
    goodAirHours: 20,
  },
  // One main meter, silent half the month.
  meters: { covered: 372, expected: 744 },
  co2Sensors: { covered: 744, expected: 744 },
};

function of(figures: readonly NetworkFigure[], key: FigureKey): [number | null, number | null] {
  const f = figures.find((x) => x.key === key);
  if (!f) throw new Error(`no figure ${key}`);
  return [f.value, f.coverage];
}

t.test(
  'the network total is the houses added up, ratios as sums over sums, coverage by meter-hours',
  async (t) => {
    const { houses, total } = networkFigures([A, B]);
    const a = houses[0]?.figures ?? [];
    const b = houses[1]?.figures ?? [];
    // Each house as its own report: 1000 × 365 / 31 / 500 = 23.548…, 300 × 365 / 31 / 100 = 35.322…
    t.same(of(a, 'energyKwhPerM2Annualised'), [23.548, 1]);
    t.same(of(b, 'energyKwhPerM2Annualised'), [35.323, 0.5], 'B: its meter has half of its hours');
    t.same(of(b, 'goodAirShare'), [0.4, 1]);
    t.same(of(a, 'goodAirShare'), [0.8, 0.9409], 'A: 700 of 744 CO2 sensor-hours');

    t.same(
      of(total, 'energyKwh'),
      [1300, 0.8333],
      '1000 + 300; coverage (1488 + 372) / (1488 + 744), not (1 + 0.5) / 2',
    );
    // (1000 + 300) × 365 / 31 / 600 m² = 25.5107…: the area-weighted figure, not the mean 29.435 of the houses'.
    t.same(of(total, 'energyKwhPerM2Annualised'), [25.511, 0.8333]);
    // Each house with its own factor: 1300 × 0.363 = 471.9; market 1000 × 0.380 + 300 × 0.150 = 425.
    t.same(of(total, 'co2LocationKg'), [471.9, 0.8333]);
    t.same(of(total, 'co2MarketKg'), [425, 0.8333]);
    // 1300 kWh / (200 + 50) desk-hours = 5.2.
    t.same(of(total, 'energyPerBookedDeskHourKwh'), [5.2, 0.8333]);
    t.same(of(total, 'bookedHours'), [500, null], 'booking figures stand on no meter');
    t.same(of(total, 'availableHours'), [1500, null]);
    // 500 / 1500; used (240 + 50) / (300 + 100) = 0.725, not the mean 0.65; no-shows 10 / 70.
    t.same(of(total, 'bookedShare'), [0.3333, null]);
    t.same(of(total, 'usedShareOfBooked'), [0.725, null]);
    t.same(of(total, 'noShowRate'), [0.1429, null]);
    // Good air (80 + 20) / (100 + 50) = 0.6667, not the mean 0.6; CO2 sensor-hours (700 + 744) / 1488 = 0.9704.
    t.same(of(total, 'goodAirShare'), [0.6667, 0.9704]);
  },
);

t.test('a house that knows a figure only counts where it does', async (t) => {
  // C: no meter data at all, and its bookings are not in these records.
  const C: HouseMeasures = {
    site: 'c',
    measures: {
      ...B.measures,
      energyKwh: null,
      areaM2: 200,
      bookingsKnown: false,
      bookedMs: 0,
      deskBookedMs: 0,
      availableMs: 300 * H,
      checkableBookedMs: 0,
      checkableUsedMs: 0,
      started: 0,
      released: 0,
      occupiedAirHours: 0,
      goodAirHours: 0,
    },
    meters: { covered: 0, expected: 744 },
    co2Sensors: { covered: 0, expected: 0 },
  };
  const { houses, total } = networkFigures([A, B, C]);
  t.same(of(houses[2]?.figures ?? [], 'energyKwh'), [null, 0]);
  t.same(of(houses[2]?.figures ?? [], 'bookedHours'), [null, null], 'unknown, not zero');
  // The kWh stay 1300, their meter coverage falls: 1860 of 2976 meter-hours.
  t.same(of(total, 'energyKwh'), [1300, 0.625]);
  // C's area is not set against kWh nobody measured.
  t.same(of(total, 'energyKwhPerM2Annualised'), [25.511, 0.625]);
  t.same(of(total, 'bookedHours'), [500, null]);
  // C's opening hours are available hours, but its share is not known: 500 / 1500, as without C.
  t.same(of(total, 'availableHours'), [1800, null]);
  t.same(of(total, 'bookedShare'), [0.3333, null]);
  t.same(of(total, 'goodAirShare'), [0.6667, 0.9704]);
});

t.test('market-based CO2 only when every metered house has its supplier factor', async (t) => {
  const noSupplier: HouseMeasures = { ...B, measures: { ...B.measures, marketGPerKwh: null } };
  const { houses, total } = networkFigures([A, noSupplier]);
  t.same(of(houses[0]?.figures ?? [], 'co2MarketKg'), [380, 1]);
  t.same(of(total, 'co2MarketKg'), [null, 0.8333], 'no partial sum that reads as whole');
  t.same(of(total, 'co2LocationKg'), [471.9, 0.8333]);
});

t.test('a network of one is its house', async (t) => {
  const { houses, total } = networkFigures([A]);
  t.same(total, houses[0]?.figures);
});

t.test('no houses, no figures', async (t) => {
  const { total } = networkFigures([]);
  t.ok(total.every((f) => f.value === null || f.key === 'availableHours'));
  t.same(of(total, 'energyKwh'), [null, 0]);
});

// The measures type is the board report's: a field it gains must be added up here too.
const _complete: Record<keyof PeriodMeasures, true> = {
  energyKwh: true,
  areaM2: true,
  days: true,
  locationGPerKwh: true,
  marketGPerKwh: true,
  bookingsKnown: true,
  deskBookedMs: true,
  bookedMs: true,
  availableMs: true,
  checkableBookedMs: true,
  checkableUsedMs: true,
  started: true,
  released: true,
  occupiedAirHours: true,
  goodAirHours: true,
};
