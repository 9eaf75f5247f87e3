import type { Aggregate, Series, SeriesPoint } from './store.ts';

/**
 * What one bucket of one device holds before the final aggregate is taken: every aggregate of the
 * interface can be computed from it, and two of them (say, hourly rollups and the raw readings after
 * them) combine into one without loss. Only numbers count for sum/min/max/last/consumption; `count`
 * counts every reading, lock states included.
 */
export interface BucketPartial {
  count: number;
  numCount: number;
  sum: number;
  min: number | null;
  max: number | null;
  last: number | null;
  lastTs: number | null;
  consumption: number | null;
}

export function emptyPartial(): BucketPartial {
  return { count: 0, numCount: 0, sum: 0, min: null, max: null, last: null, lastTs: null, consumption: null };
}

/** Folds `more` into `into` (commutative: the newer `last` wins whatever the order). */
export function combinePartial(into: BucketPartial, more: Partial<BucketPartial>): void {
  into.count += more.count ?? 0;
  into.numCount += more.numCount ?? 0;
  into.sum += more.sum ?? 0;
  if (more.min != null) into.min = into.min === null ? more.min : Math.min(into.min, more.min);
  if (more.max != null) into.max = into.max === null ? more.max : Math.max(into.max, more.max);
  if (more.lastTs != null && more.last != null && (into.lastTs === null || more.lastTs >= into.lastTs)) {
    into.lastTs = more.lastTs;
    into.last = more.last;
  }
  if (more.consumption != null) into.consumption = (into.consumption ?? 0) + more.consumption;
}

export function finalValue(p: BucketPartial, aggregate: Aggregate): number | null {
  switch (aggregate) {
    case 'mean':
      return p.numCount > 0 ? p.sum / p.numCount : null;
    case 'min':
      return p.min;
    case 'max':
      return p.max;
    case 'last':
      return p.last;
    case 'count':
      return p.count > 0 ? p.count : null;
    case 'consumption':
      return p.consumption;
  }
}

/** Buckets of many devices, gathered from one or more sources, turned into the interface's Series. */
export class SeriesAccumulator {
  private readonly devices = new Map<
    string,
    { space: string; unit: string; buckets: Map<number, BucketPartial> }
  >();

  constructor(private readonly quantity: string) {}

  add(device: string, space: string, unit: string, bucket: number, partial: Partial<BucketPartial>): void {
    let entry = this.devices.get(device);
    if (entry === undefined) {
      entry = { space, unit, buckets: new Map() };
      this.devices.set(device, entry);
    }
    let p = entry.buckets.get(bucket);
    if (p === undefined) {
      p = emptyPartial();
      entry.buckets.set(bucket, p);
    }
    combinePartial(p, partial);
  }

  series(aggregate: Aggregate): Series[] {
    const out: Series[] = [];
    for (const [device, entry] of [...this.devices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const points: SeriesPoint[] = [];
      for (const [ts, p] of [...entry.buckets].sort(([a], [b]) => a - b)) {
        const value = finalValue(p, aggregate);
        if (value !== null) points.push({ ts, value });
      }
      if (points.length > 0)
        out.push({ device, space: entry.space, quantity: this.quantity, unit: entry.unit, points });
    }
    return out;
  }
}
