import type { FigureKey } from '../../../../reports/board-report-schema.ts';

/**
 * How the report's figures read: the number in the reader's language with its unit, and whether a change
 * against an earlier period is good news. Pure (the locale and the unit words come in), so the browser test
 * can state the same rules independently.
 */

/** The unit words of the page's texts (symbols stay symbols, but a translator may still need to change them). */
export interface UnitWords {
  kwh: string;
  kwhPerM2a: string;
  kg: string;
  t: string;
  kwhPerDeskHour: string;
  hours: string;
  percentPoints: string;
}

/** Energy and emissions should fall, use of the building and good air should rise; opening hours just are. */
export type BetterWhen = 'lower' | 'higher' | 'neutral';

export const BETTER_WHEN: Record<FigureKey, BetterWhen> = {
  energyKwh: 'lower',
  energyKwhPerM2Annualised: 'lower',
  co2LocationKg: 'lower',
  co2MarketKg: 'lower',
  energyPerBookedDeskHourKwh: 'lower',
  bookedHours: 'higher',
  availableHours: 'neutral',
  bookedShare: 'higher',
  usedShareOfBooked: 'higher',
  noShowRate: 'lower',
  goodAirShare: 'higher',
};

/** Shares (0..1): shown in %, compared in percentage points, since "+20 %" of a 5 % share misleads. */
export function isShare(key: FigureKey): boolean {
  return (
    key === 'bookedShare' || key === 'usedShareOfBooked' || key === 'noShowRate' || key === 'goodAirShare'
  );
}

const NBSP = '\u00a0';

function decimal(value: number, locale: string, digits: number): string {
  return new Intl.NumberFormat(locale, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

/** Emissions in kg up to a tonne, in t from there (a board compares tonnes, not 12.345 kg). */
export function formatMass(kg: number, locale: string, units: UnitWords): string {
  if (Math.abs(kg) >= 1000) return `${decimal(kg / 1000, locale, 2)}${NBSP}${units.t}`;
  return `${decimal(kg, locale, 1)}${NBSP}${units.kg}`;
}

export function formatShare(ratio: number, locale: string): string {
  return new Intl.NumberFormat(locale, {
    style: 'percent',
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  }).format(ratio);
}

/** A figure's value as the page shows it: `1.234,5 kWh`, `12,35 t`, `87,5 %`. */
export function formatFigure(key: FigureKey, value: number, locale: string, units: UnitWords): string {
  switch (key) {
    case 'energyKwh':
      return `${decimal(value, locale, 1)}${NBSP}${units.kwh}`;
    case 'energyKwhPerM2Annualised':
      return `${decimal(value, locale, 1)}${NBSP}${units.kwhPerM2a}`;
    case 'co2LocationKg':
    case 'co2MarketKg':
      return formatMass(value, locale, units);
    case 'energyPerBookedDeskHourKwh':
      return `${decimal(value, locale, 2)}${NBSP}${units.kwhPerDeskHour}`;
    case 'bookedHours':
    case 'availableHours':
      return `${decimal(value, locale, 0)}${NBSP}${units.hours}`;
    default:
      return formatShare(value, locale);
  }
}

export interface Change {
  /** The change as shown: `+5,2 %` (relative) or `−3,0 Pp.` (shares). */
  text: string;
  direction: 'up' | 'down' | 'same';
  verdict: 'better' | 'worse' | 'neutral';
}

/**
 * The change from `reference` to `value`; null when either is missing or a relative change is undefined
 * (reference 0). A change that rounds to zero is `same`, so no red arrow points at +0,0 %.
 */
export function figureChange(
  key: FigureKey,
  value: number | null,
  reference: number | null,
  locale: string,
  units: UnitWords,
): Change | null {
  if (value === null || reference === null) return null;
  let text: string;
  let rounded: number;
  if (isShare(key)) {
    const points = (value - reference) * 100;
    rounded = Math.round(points * 10) / 10;
    text = `${new Intl.NumberFormat(locale, {
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
      signDisplay: 'exceptZero',
    }).format(rounded)}${NBSP}${units.percentPoints}`;
  } else {
    if (reference === 0) return null;
    const relative = (value - reference) / Math.abs(reference);
    rounded = Math.round(relative * 1000) / 1000;
    text = new Intl.NumberFormat(locale, {
      style: 'percent',
      minimumFractionDigits: 1,
      maximumFractionDigits: 1,
      signDisplay: 'exceptZero',
    }).format(rounded);
  }
  const direction = rounded > 0 ? 'up' : rounded < 0 ? 'down' : 'same';
  const better = BETTER_WHEN[key];
  const verdict =
    direction === 'same' || better === 'neutral'
      ? 'neutral'
      : (direction === 'down') === (better === 'lower')
        ? 'better'
        : 'worse';
  return { text, direction, verdict };
}

/** Decimals of a table's numbers by the column's unit; the unit itself stands in the column's heading. */
const TABLE_DECIMALS: Record<string, number> = { kWh: 1, 'kWh/m²·a': 1, kg: 1, 'kWh/h': 2, h: 1, ppm: 0 };

/** A number in a report table: shares in %, the rest with the decimals its unit needs. */
export function formatTableNumber(value: number, unit: string | undefined, locale: string): string {
  if (unit === 'ratio') return formatShare(value, locale);
  const digits = unit === undefined ? undefined : TABLE_DECIMALS[unit];
  if (digits === undefined) return new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(value);
  return decimal(value, locale, digits);
}

/** The figures that stand on the main meters' readings, and so on the periods' coverage. */
export const FROM_METERS: ReadonlySet<FigureKey> = new Set<FigureKey>([
  'energyKwh',
  'energyKwhPerM2Annualised',
  'co2LocationKg',
  'co2MarketKg',
  'energyPerBookedDeskHourKwh',
]);

/** Below this share of a period's hours with meter figures, its totals are not compared as a whole period's. */
export const ENOUGH_COVERAGE = 0.95;

/**
 * The coverage to state beside a figure (the lower of the two periods') when either falls short, so the page
 * says "data for 42 % of the period" instead of judging a half month against a whole one; null when both
 * are covered or the figure does not come from the meters (bookings and air are not measured by them).
 */
export function partialCoverage(key: FigureKey, coverage: number, reference: number): number | null {
  if (!FROM_METERS.has(key)) return null;
  const lower = Math.min(coverage, reference);
  return lower < ENOUGH_COVERAGE ? lower : null;
}

/** A coverage as the note states it: whole percent, but never "100 %" for a share that fell short. */
export function formatCoverage(share: number, locale: string): string {
  const percent = Math.min(Math.round(share * 100), 99);
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 }).format(percent / 100);
}
