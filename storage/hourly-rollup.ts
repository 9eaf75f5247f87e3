import { type CounterSample, consumptionByBucket } from './consumption.ts';
import { NeumaierSum } from './neumaier-sum.ts';
import type { BucketPartial } from './partial-aggregate.ts';

/**
 * One series' hour as the stores keep it past raw retention: what every aggregate of the interface needs
 * (storage/partial-aggregate.ts), counter consumption included. SqliteStore computes the same rows in SQL
 * (rollup_hour); InfluxV1Store computes them here, from raw readings read back or from a history that
 * never went through raw retention.
 */
export interface HourRollup extends BucketPartial {
  /** Start of the UTC hour, epoch ms. */
  hour: number;
}

export interface SeriesSample {
  ts: number;
  value: number | string;
}

const HOUR = 3_600_000;

/**
 * Rolls one series' readings (ordered by ts, one per ts) up per UTC hour. `baseline` is the last numeric
 * value before the first reading (the last of the hour before, raw or rolled up), so that consumption
 * across the hour edge is counted once; without one, the series' first reading counts nothing.
 */
export function rollUpHours(samples: readonly SeriesSample[], baseline?: CounterSample): HourRollup[] {
  const out: HourRollup[] = [];
  const numeric: CounterSample[] = baseline === undefined ? [] : [baseline];
  let current: HourRollup | undefined;
  let sum = new NeumaierSum();
  for (const s of samples) {
    const hour = Math.floor(s.ts / HOUR) * HOUR;
    if (current === undefined || current.hour !== hour) {
      if (current !== undefined) current.sum = sum.value() ?? 0;
      current = {
        hour,
        count: 0,
        numCount: 0,
        sum: 0,
        min: null,
        max: null,
        last: null,
        lastTs: null,
        consumption: null,
      };
      sum = new NeumaierSum();
      out.push(current);
    }
    current.count++;
    if (typeof s.value !== 'number') continue;
    current.numCount++;
    sum.add(s.value);
    current.min = current.min === null ? s.value : Math.min(current.min, s.value);
    current.max = current.max === null ? s.value : Math.max(current.max, s.value);
    current.last = s.value;
    current.lastTs = s.ts;
    numeric.push({ ts: s.ts, value: s.value });
  }
  if (current !== undefined) current.sum = sum.value() ?? 0;
  const first = out[0]?.hour;
  if (first !== undefined) {
    const to = (out[out.length - 1] as HourRollup).hour + HOUR;
    const byHour = new Map(out.map((r) => [r.hour, r]));
    for (const p of consumptionByBucket(numeric, { from: first, to, bucketMs: HOUR })) {
      const row = byHour.get(p.ts);
      if (row !== undefined) row.consumption = p.value;
    }
  }
  return out;
}
