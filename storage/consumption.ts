import type { SeriesPoint } from './store.ts';

/**
 * Consumption from cumulative meter counters (energy in kWh), the way Prometheus' `increase()` reads
 * a counter, without its extrapolation: between two consecutive samples the meter consumed
 * `next - previous`; when the counter went DOWN the meter restarted at 0 (reboot, firmware update),
 * so everything it shows after the restart, `next`, was consumed since then.
 *
 * Attribution to time buckets: the step from one sample to the next is counted in the bucket of the
 * LATER sample. The last sample before a bucket is therefore the baseline of the bucket's first step,
 * and nothing consumed across a bucket edge is lost or counted twice: summing the buckets of a month
 * gives exactly the month's consumption.
 *
 * Buckets are aligned to epoch multiples of bucketMs, i.e. in UTC.
 */
export interface CounterSample {
  ts: number;
  value: number;
}

/** What the meter consumed going from `previous` to `next`. */
export function counterStep(previous: number, next: number): number {
  return next >= previous ? next - previous : next;
}

/** Total consumption over samples ordered by ts; the first sample is only the baseline. */
export function counterIncrease(samples: readonly CounterSample[]): number {
  let total = 0;
  for (let i = 1; i < samples.length; i++) {
    total += counterStep((samples[i - 1] as CounterSample).value, (samples[i] as CounterSample).value);
  }
  return total;
}

export interface BucketRange {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /** Omitted: one bucket from..to whose ts is `from`. */
  bucketMs?: number | undefined;
}

/** Start of the bucket `ts` falls in: an epoch multiple of bucketMs, or `from` for a single bucket. */
export function bucketStart(ts: number, range: BucketRange): number {
  if (range.bucketMs === undefined) return range.from;
  return Math.floor(ts / range.bucketMs) * range.bucketMs;
}

/**
 * Consumption per bucket over samples ordered by ts. Samples before `from` serve only as the baseline
 * (pass the last sample before `from` so the first bucket sees what was consumed across its edge);
 * samples at or after `to` are ignored. A bucket with samples but no consumption is present with 0;
 * a bucket without samples is absent. The very first sample of a meter's life has no baseline and
 * counts nothing.
 */
export function consumptionByBucket(samples: readonly CounterSample[], range: BucketRange): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  let previous: CounterSample | undefined;
  for (const sample of samples) {
    if (sample.ts >= range.to) break;
    if (sample.ts >= range.from) {
      const ts = bucketStart(sample.ts, range);
      const step = previous === undefined ? 0 : counterStep(previous.value, sample.value);
      const last = points[points.length - 1];
      if (last !== undefined && last.ts === ts) last.value += step;
      else points.push({ ts, value: step });
    }
    previous = sample;
  }
  return points;
}
