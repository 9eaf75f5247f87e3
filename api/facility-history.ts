import Type, { type Static } from 'typebox';
import type { SeriesPoint } from '../storage/store.ts';

/**
 * The facility view's history charts that /api/series cannot draw by itself. Pure: the route queries the
 * store and hands the points in.
 *
 * Energy per day: days are the site's calendar days (a Berlin day starts at 22:00 or 23:00 UTC), while the
 * store's buckets are aligned in UTC; the route therefore asks for quarter-hour consumption (every zone's
 * midnight falls on a quarter hour) and the quarter hours are summed into local days here. Summing
 * consumption buckets is exact: the store attributes every counter step to exactly one bucket.
 *
 * Occupancy per hour: the share of sensed spaces someone was in during the hour. A presence sensor reports
 * on every change and otherwise about hourly, so an hour without a report keeps the state of the last
 * report, for as long as that report counts as current (three reporting intervals).
 */

export const HOUR_MS = 3_600_000;
/** Fine enough that every local midnight is a bucket edge. */
export const ENERGY_BUCKET_MS = 15 * 60_000;

export const EnergyDays = Type.Object({
  timezone: Type.String(),
  meters: Type.Array(Type.String(), { description: 'the main meters summed up' }),
  days: Type.Array(
    Type.Object({
      date: Type.String({ description: 'local calendar date, YYYY-MM-DD' }),
      from: Type.Number({ description: 'epoch ms of its local midnight' }),
      kwh: Type.Union([Type.Number(), Type.Null()], { description: 'null: no meter reading that day' }),
    }),
  ),
});
export type EnergyDays = Static<typeof EnergyDays>;

export const OccupancyHours = Type.Object({
  spaces: Type.Integer({ description: 'spaces with a presence sensor' }),
  hours: Type.Array(
    Type.Object({
      ts: Type.Number({ description: 'start of the hour, epoch ms' }),
      occupied: Type.Integer({ description: 'spaces someone was in during the hour' }),
      sensed: Type.Integer({ description: 'spaces whose state in that hour is known' }),
      share: Type.Union([Type.Number(), Type.Null()], {
        description: 'occupied / sensed; null: none sensed',
      }),
    }),
  ),
});
export type OccupancyHours = Static<typeof OccupancyHours>;

/**
 * Consumption of the main meters per local day; `points` are consumption buckets per series, a meter's
 * channels (phases) being series of their own that all count.
 */
export function energyByDay(
  days: readonly { date: string; from: number; to: number }[],
  series: readonly { device: string; channel?: string; points: readonly SeriesPoint[] }[],
  mainMeters: ReadonlySet<string>,
): EnergyDays['days'] {
  const out = days.map((d) => ({ date: d.date, from: d.from, kwh: null as number | null }));
  for (const s of series) {
    if (!mainMeters.has(s.device)) continue;
    for (const p of s.points) {
      const i = days.findIndex((d) => d.from <= p.ts && p.ts < d.to);
      const day = out[i];
      if (day) day.kwh = (day.kwh ?? 0) + p.value;
    }
  }
  return out;
}

export interface OccupancyHistoryInputs {
  /** Hour starts to answer for, ascending. */
  hours: readonly number[];
  /** Earlier hour starts whose reports only carry into the first answered hour, ascending. */
  warmUp: readonly number[];
  /** Presence sensor -> its space. */
  spaceOf: ReadonlyMap<string, string>;
  /** Per sensor: the highest value in each hour (1 someone was there at some time). */
  max: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Per sensor: the last value in each hour (what holds after it). */
  last: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Per sensor: how long a report stays current. */
  carryMs: (device: string) => number;
}

export function occupancyByHour(inputs: OccupancyHistoryInputs): OccupancyHours {
  const spaces = new Set(inputs.spaceOf.values());
  const carry = new Map<string, { value: number; ts: number }>();
  const out: OccupancyHours['hours'] = [];
  const answered = new Set(inputs.hours);
  for (const hour of [...inputs.warmUp, ...inputs.hours]) {
    const occupied = new Set<string>();
    const sensed = new Set<string>();
    for (const [device, space] of inputs.spaceOf) {
      const max = inputs.max.get(device)?.get(hour);
      let state: boolean | undefined;
      if (max !== undefined) {
        state = max > 0;
        // The last report lies somewhere in the hour; counting from the hour's start errs on the short side.
        carry.set(device, { value: inputs.last.get(device)?.get(hour) ?? max, ts: hour });
      } else {
        const held = carry.get(device);
        if (held && hour - held.ts < inputs.carryMs(device)) state = held.value > 0;
      }
      if (state === undefined) continue;
      sensed.add(space);
      if (state) occupied.add(space);
    }
    if (!answered.has(hour)) continue;
    out.push({
      ts: hour,
      occupied: occupied.size,
      sensed: sensed.size,
      share: sensed.size === 0 ? null : occupied.size / sensed.size,
    });
  }
  return { spaces: spaces.size, hours: out };
}
