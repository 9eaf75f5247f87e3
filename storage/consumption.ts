import type { SeriesPoint } from './store.ts';

/**
 * Consumption from cumulative meter counters (energy in kWh), the way Prometheus' `increase()` reads
 * a counter, without its extrapolation: between two consecutive samples the meter consumed
 * `next - previous`; when the counter went DOWN by more than a small dip the meter restarted at 0
 * (reboot, firmware update), so everything it shows after the restart, `next`, was consumed since then.
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

/**
 * A counter that drops by less than this share of its value did not restart (a restart starts again near
 * 0): two samples were stamped out of order (a device clock a little off, one report stamped by the device
 * and the next by the gateway) or the meter corrected itself. Home Assistant's `total_increasing` draws the
 * same line. Reading such a dip as a restart would count the whole counter, years of energy, as consumed.
 */
export const RESTART_DROP_SHARE = 0.1;

/** True when going from `previous` to `next` means the meter restarted from 0. */
export function isCounterRestart(previous: number, next: number): boolean {
  return next < previous * (1 - RESTART_DROP_SHARE);
}

/** What the meter consumed going from `previous` to `next` (a small dip: nothing). */
export function counterStep(previous: number, next: number): number {
  if (next >= previous) return next - previous;
  return isCounterRestart(previous, next) ? next : 0;
}

/** The baseline for the step after `next`: a dip keeps the higher value, so the dip is not counted twice. */
function nextBaseline(previous: number, next: number): number {
  return next < previous && !isCounterRestart(previous, next) ? previous : next;
}

/** Total consumption over samples ordered by ts; the first sample is only the baseline. */
export function counterIncrease(samples: readonly CounterSample[]): number {
  let total = 0;
  let baseline = samples[0]?.value;
  for (let i = 1; i < samples.length; i++) {
    const value = (samples[i] as CounterSample).value;
    total += counterStep(baseline as number, value);
    baseline = nextBaseline(baseline as number, value);
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
  let baseline: number | undefined;
  for (const sample of samples) {
    if (sample.ts >= range.to) break;
    if (sample.ts >= range.from) {
      const ts = bucketStart(sample.ts, range);
      const step = baseline === undefined ? 0 : counterStep(baseline, sample.value);
      const last = points[points.length - 1];
      if (last !== undefined && last.ts === ts) last.value += step;
      else points.push({ ts, value: step });
    }
    baseline = baseline === undefined ? sample.value : nextBaseline(baseline, sample.value);
  }
  return points;
}
