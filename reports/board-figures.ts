import { FIGURE_KEYS, type FigureKey, type ReportFigureOut } from './board-report-schema.ts';
import { co2Kg, kwhPerM2Annualised } from './meter-energy.ts';

/**
 * From what was measured in one period to the board's figures, and the figures of three periods side by
 * side. Pure arithmetic; every ratio is 0..1 or null, never NaN or Infinity.
 */

const HOUR_MS = 3_600_000;

/** What the report gathered for one period (all durations in ms). */
export interface PeriodMeasures {
  /** kWh of the main meters; null without any data. */
  energyKwh: number | null;
  areaM2: number;
  /** Days the period covers (fractional while it is still running). */
  days: number;
  locationGPerKwh: number;
  marketGPerKwh: number | null;
  /**
   * False when the period ended before the first booking ever made: then booked time, use and no-shows are
   * unknown (null), not zero — the building was not booked through WeSprint OS yet.
   */
  bookingsKnown: boolean;
  deskBookedMs: number;
  bookedMs: number;
  availableMs: number;
  checkableBookedMs: number;
  checkableUsedMs: number;
  started: number;
  released: number;
  occupiedAirHours: number;
  goodAirHours: number;
}

/** part / whole, or null where the whole is 0 or either is not a finite number. */
export function share(part: number | null, whole: number | null): number | null {
  if (part === null || whole === null || !Number.isFinite(part) || !Number.isFinite(whole) || whole <= 0)
    return null;
  return part / whole;
}

export const FIGURE_UNITS: Record<FigureKey, string> = {
  energyKwh: 'kWh',
  energyKwhPerM2Annualised: 'kWh/m²·a',
  co2LocationKg: 'kg',
  co2MarketKg: 'kg',
  energyPerBookedDeskHourKwh: 'kWh/h',
  bookedHours: 'h',
  availableHours: 'h',
  bookedShare: 'ratio',
  usedShareOfBooked: 'ratio',
  noShowRate: 'ratio',
  goodAirShare: 'ratio',
};

/** Decimals kept per unit: Wh for energy, g for CO2, ¼ minute for hours, 0.01 % for ratios. */
const DECIMALS: Record<string, number> = {
  kWh: 3,
  'kWh/m²·a': 3,
  kg: 3,
  'kWh/h': 4,
  h: 2,
  ratio: 4,
  ppm: 0,
};

export function rounded(value: number | null, unit: string): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const factor = 10 ** (DECIMALS[unit] ?? 3);
  return Math.round(value * factor) / factor;
}

/** The board's figures of one period, unrounded. */
export function periodFigures(m: PeriodMeasures): Record<FigureKey, number | null> {
  const hours = (ms: number) => ms / HOUR_MS;
  const known = (ms: number) => (m.bookingsKnown ? ms : null);
  return {
    energyKwh: m.energyKwh,
    energyKwhPerM2Annualised: kwhPerM2Annualised(m.energyKwh, m.areaM2, m.days),
    co2LocationKg: co2Kg(m.energyKwh, m.locationGPerKwh),
    co2MarketKg: co2Kg(m.energyKwh, m.marketGPerKwh),
    energyPerBookedDeskHourKwh: share(m.energyKwh, known(hours(m.deskBookedMs))),
    bookedHours: known(hours(m.bookedMs)),
    availableHours: hours(m.availableMs),
    bookedShare: share(known(m.bookedMs), m.availableMs),
    usedShareOfBooked: share(known(m.checkableUsedMs), m.checkableBookedMs),
    noShowRate: share(known(m.released), m.started),
    goodAirShare: share(m.goodAirHours, m.occupiedAirHours),
  };
}

/** Every figure with its previous-period and year-before value, rounded, in FIGURE_KEYS order. */
export function compareFigures(
  value: Record<FigureKey, number | null>,
  previous: Record<FigureKey, number | null>,
  yearBefore: Record<FigureKey, number | null>,
): ReportFigureOut[] {
  return sideBySide(FIGURE_KEYS, FIGURE_UNITS, rounded, [value, previous, yearBefore]);
}

/** A report's figures of three periods side by side, in the order of `keys`, each rounded for its unit. */
export function sideBySide<K extends string>(
  keys: readonly K[],
  units: Record<K, string>,
  round: (value: number | null, unit: string) => number | null,
  [value, previous, yearBefore]: readonly [
    Record<K, number | null>,
    Record<K, number | null>,
    Record<K, number | null>,
  ],
): { key: K; unit: string; value: number | null; previous: number | null; yearBefore: number | null }[] {
  return keys.map((key) => {
    const unit = units[key];
    return {
      key,
      unit,
      value: round(value[key], unit),
      previous: round(previous[key], unit),
      yearBefore: round(yearBefore[key], unit),
    };
  });
}
