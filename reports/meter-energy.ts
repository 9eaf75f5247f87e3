import { toLocal } from '../site/local-time.ts';
import { RESTART_DROP_SHARE } from '../storage/consumption.ts';
import type { SeriesPoint } from '../storage/store.ts';

/**
 * Energy for the board, from the hourly figures the time-series store keeps per meter: the consumption of
 * each hour (from the cumulative counter, correct across restarts — storage/consumption.ts) and the
 * counter's last value in that hour. A year is 8760 such pairs per meter, which keeps a year report fast
 * even when the raw readings are long gone.
 */

export interface MeterHour {
  /** Start of the UTC hour, epoch ms. */
  ts: number;
  /** kWh consumed in the hour; null when the store has no consumption for it. */
  consumption: number | null;
  /** The counter's last value in the hour, kWh; null when unknown. */
  last: number | null;
}

/** Below this (1 Wh) a difference between two ways of summing the same counter is rounding, not a restart. */
const HOUR_MS = 3_600_000;

const SAME_KWH = 1e-3;

/**
 * Hours in which the meter's counter restarted (a reboot, a firmware update, a swapped meter). Without a
 * restart an hour consumed exactly `last − last of the hour before`; a restart makes the consumption larger
 * by the value the counter had before it restarted (the store counts the value after a restart as new
 * consumption). Two restarts in one hour count once; a restart from 0 changes nothing and is not seen.
 * `lastBefore` is the counter before the first hour (null: unknown, so the first hour cannot be judged).
 */
export function counterResetHours(hours: readonly MeterHour[], lastBefore: number | null): number {
  let previous = lastBefore;
  let resets = 0;
  for (const hour of [...hours].sort((a, b) => a.ts - b.ts)) {
    if (previous !== null && hour.last !== null && hour.consumption !== null) {
      // What the hour consumed beyond the counter's rise is what the counter showed before a restart; a
      // small dip (samples out of order, storage/consumption.ts) leaves less than that and is no restart.
      const excess = hour.consumption - (hour.last - previous);
      if (excess > Math.max(SAME_KWH, previous * RESTART_DROP_SHARE)) resets++;
    }
    if (hour.last !== null) previous = hour.last;
  }
  return resets;
}

/** Sum of the hours' consumption; null when there is none at all (no data is not zero). */
export function totalKwh(points: readonly { value: number | null }[]): number | null {
  let total: number | null = null;
  for (const p of points) if (p.value !== null) total = (total ?? 0) + p.value;
  return total;
}

/** Several meters' hourly consumption added up per hour, by hour (the building's total of its main meters). */
export function sumByHour(meters: readonly (readonly SeriesPoint[])[]): SeriesPoint[] {
  const byHour = new Map<number, number>();
  for (const points of meters) for (const p of points) byHour.set(p.ts, (byHour.get(p.ts) ?? 0) + p.value);
  return [...byHour].map(([ts, value]) => ({ ts, value })).sort((a, b) => a.ts - b.ts);
}

/** `2026-10-25`: the site's local date of an instant. */
export function localDateKey(at: number, timeZone: string): string {
  const d = toLocal(at, timeZone);
  return `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/**
 * Hourly consumption summed per local calendar day. An hour belongs to the day it starts in; in zones a
 * whole number of hours from UTC (all of Europe) every hour lies within one local day.
 */
export function kwhByLocalDay(points: readonly SeriesPoint[], timeZone: string): Map<string, number> {
  const days = new Map<string, number>();
  for (const p of points) {
    const key = localDateKey(p.ts, timeZone);
    days.set(key, (days.get(key) ?? 0) + p.value);
  }
  return days;
}

/**
 * kWh per m² and year: the energy scaled to 365 days (a month of 31 days × 365/31), over the floors' area.
 * Null without energy or without area.
 */
export function kwhPerM2Annualised(kwh: number | null, areaM2: number, days: number): number | null {
  if (kwh === null || !(areaM2 > 0) || !(days > 0)) return null;
  return (kwh * 365) / days / areaM2;
}

/** kg CO2e of `kwh` at `gPerKwh`; null when either is unknown. */
export function co2Kg(kwh: number | null, gPerKwh: number | null): number | null {
  if (kwh === null || gPerKwh === null) return null;
  return (kwh * gPerKwh) / 1000;
}

/** The whole UTC hours of [from, to): the running hour (to not on an hour) is not counted. */
export function wholeHours(range: { from: number; to: number }): {
  first: number;
  end: number;
  hours: number;
} {
  const first = Math.ceil(range.from / HOUR_MS) * HOUR_MS;
  const end = Math.floor(range.to / HOUR_MS) * HOUR_MS;
  return { first, end, hours: Math.max(0, (end - first) / HOUR_MS) };
}

/**
 * The meter-hours of [from, to): `expected`, every meter in every whole hour, and `covered`, those with a
 * figure. What a coverage stands on, so that coverages of several buildings add up weighted by their meters
 * and hours (the network report), not averaged as if each building weighed the same.
 */
export function meterHours(
  meters: readonly (readonly { ts: number }[])[],
  range: { from: number; to: number },
): { covered: number; expected: number } {
  const { first, end, hours } = wholeHours(range);
  let covered = 0;
  for (const points of meters) {
    const seen = new Set<number>();
    for (const p of points) if (p.ts >= first && p.ts < end && p.ts % HOUR_MS === 0) seen.add(p.ts);
    covered += seen.size;
  }
  return { covered, expected: hours * meters.length };
}

/**
 * How much of [from, to) the main meters' figures stand on (0..1): of the whole UTC hours in the range,
 * the share that each meter has a consumption figure for, averaged over the meters. A history that starts
 * mid-month, or a meter silent for days, makes a total that must not be compared with a whole period's.
 * Without meters there is nothing to stand on: 0. The running hour (to not on an hour) is not counted.
 */
export function meterCoverage(
  meters: readonly (readonly { ts: number }[])[],
  range: { from: number; to: number },
): number {
  const { covered, expected } = meterHours(meters, range);
  return expected === 0 ? 0 : covered / expected;
}
