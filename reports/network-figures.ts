import { FIGURE_UNITS, type PeriodMeasures, periodFigures, rounded, share } from './board-figures.ts';
import { FIGURE_KEYS, type FigureKey } from './board-report-schema.ts';
import { co2Kg } from './meter-energy.ts';

/**
 * The network report's arithmetic: each house's figures as its own board report computes them, each with the
 * coverage of the meters it stands on, and the network's total. Pure.
 *
 * The total is the houses added up, never a mean of their figures: a sum where the figure is a quantity (kWh,
 * kg, hours), and for a ratio the houses' numerators over their denominators (the good-air share of the network
 * is all good-air hours over all occupied hours; kWh/m²·a is every house's annualised kWh over all their area).
 * A house whose figure is unknown is left out of that figure's total, numerator and denominator alike (its
 * kWh does not count against desk-hours nobody booked through WeSprint OS), and the total's coverage says so.
 */

/** Meter-hours (or sensor-hours) a figure stands on: every meter in every whole hour, and those with a figure. */
export interface MeterHours {
  covered: number;
  expected: number;
}

/** What the network report gathered of one house for the period. */
export interface HouseMeasures {
  site: string;
  measures: PeriodMeasures;
  /** The main meters' hours. */
  meters: MeterHours;
  /** The CO2 sensors' hours, in the rooms whose air the report judges. */
  co2Sensors: MeterHours;
}

/** Which meters a figure stands on: the main meters, the CO2 sensors, or none (the booking records). */
export const FIGURE_BASIS: Record<FigureKey, 'meters' | 'co2Sensors' | null> = {
  energyKwh: 'meters',
  energyKwhPerM2Annualised: 'meters',
  co2LocationKg: 'meters',
  co2MarketKg: 'meters',
  energyPerBookedDeskHourKwh: 'meters',
  bookedHours: null,
  availableHours: null,
  bookedShare: null,
  usedShareOfBooked: null,
  noShowRate: null,
  goodAirShare: 'co2Sensors',
};

export interface NetworkFigure {
  key: FigureKey;
  unit: string;
  value: number | null;
  /** Share (0..1) of the meter-hours the figure stands on that have figures; null: it stands on no meter. */
  coverage: number | null;
}

const HOUR_MS = 3_600_000;

export function coverageOf(hours: MeterHours): number {
  return hours.expected > 0 ? hours.covered / hours.expected : 0;
}

function addHours(all: readonly MeterHours[]): MeterHours {
  return all.reduce((sum, h) => ({ covered: sum.covered + h.covered, expected: sum.expected + h.expected }), {
    covered: 0,
    expected: 0,
  });
}

/** A sum over the houses that know the figure; null when none does. */
function sumKnown(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

/** One house's figures, unrounded: exactly its board report's (board-figures.ts). */
export function houseFigureValues(house: HouseMeasures): Record<FigureKey, number | null> {
  return periodFigures(house.measures);
}

/** The network's figures, unrounded, from its houses' measures. */
export function networkFigureValues(houses: readonly HouseMeasures[]): Record<FigureKey, number | null> {
  const m = houses.map((h) => h.measures);
  const metered = m.filter((x) => x.energyKwh !== null);
  const booked = m.filter((x) => x.bookingsKnown);
  const hours = (ms: number | null) => (ms === null ? null : ms / HOUR_MS);
  const bookedSum = (pick: (x: PeriodMeasures) => number) =>
    booked.length === 0 ? null : booked.reduce((s, x) => s + pick(x), 0);
  // Energy per booked desk-hour: the kWh of the houses whose desk-hours are known, over those desk-hours.
  const bookedAndMetered = booked.filter((x) => x.energyKwh !== null);
  const annualised = metered.filter((x) => x.days > 0 && x.areaM2 > 0);
  return {
    energyKwh: sumKnown(m.map((x) => x.energyKwh)),
    energyKwhPerM2Annualised:
      annualised.length === 0
        ? null
        : share(
            annualised.reduce((s, x) => s + ((x.energyKwh as number) * 365) / x.days, 0),
            annualised.reduce((s, x) => s + x.areaM2, 0),
          ),
    co2LocationKg: sumKnown(metered.map((x) => co2Kg(x.energyKwh, x.locationGPerKwh))),
    // Market-based only where every metered house has its supplier's factor: a partial sum would read as whole.
    co2MarketKg: metered.some((x) => x.marketGPerKwh === null)
      ? null
      : sumKnown(metered.map((x) => co2Kg(x.energyKwh, x.marketGPerKwh))),
    energyPerBookedDeskHourKwh:
      bookedAndMetered.length === 0
        ? null
        : share(
            bookedAndMetered.reduce((s, x) => s + (x.energyKwh as number), 0),
            hours(bookedAndMetered.reduce((s, x) => s + x.deskBookedMs, 0)),
          ),
    bookedHours: hours(bookedSum((x) => x.bookedMs)),
    availableHours: hours(m.reduce((s, x) => s + x.availableMs, 0)),
    bookedShare: share(
      bookedSum((x) => x.bookedMs),
      bookedSum((x) => x.availableMs),
    ),
    usedShareOfBooked: share(
      bookedSum((x) => x.checkableUsedMs),
      bookedSum((x) => x.checkableBookedMs),
    ),
    noShowRate: share(
      bookedSum((x) => x.released),
      bookedSum((x) => x.started),
    ),
    goodAirShare: share(
      m.reduce((s, x) => s + x.goodAirHours, 0),
      m.reduce((s, x) => s + x.occupiedAirHours, 0),
    ),
  };
}

/** Figures in FIGURE_KEYS order, rounded as the board report rounds them, each with its coverage. */
export function figuresWithCoverage(
  values: Record<FigureKey, number | null>,
  hours: { meters: MeterHours; co2Sensors: MeterHours },
): NetworkFigure[] {
  return FIGURE_KEYS.map((key) => {
    const unit = FIGURE_UNITS[key];
    const basis = FIGURE_BASIS[key];
    return {
      key,
      unit,
      value: rounded(values[key], unit),
      coverage: basis === null ? null : rounded(coverageOf(hours[basis]), 'ratio'),
    };
  });
}

/** The houses' figures side by side and the network's total. */
export function networkFigures(houses: readonly HouseMeasures[]): {
  houses: { site: string; figures: NetworkFigure[] }[];
  total: NetworkFigure[];
} {
  return {
    houses: houses.map((h) => ({ site: h.site, figures: figuresWithCoverage(houseFigureValues(h), h) })),
    total: figuresWithCoverage(networkFigureValues(houses), {
      meters: addHours(houses.map((h) => h.meters)),
      co2Sensors: addHours(houses.map((h) => h.co2Sensors)),
    }),
  };
}
