import type { Aggregate, Series, SeriesPoint } from './store.ts';

/**
 * What one bucket of one series holds before the final aggregate is taken: every aggregate of the
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

/** What identifies a series besides its quantity. */
export interface SeriesId {
  site: string;
  device: string;
  channel: string;
}

/** A map key for a series id. */
export const seriesKey = (id: SeriesId): string => JSON.stringify([id.site, id.device, id.channel]);

/** The order of the interface's Series: by device, then channel, then site. */
export function compareSeries(a: SeriesId, b: SeriesId): number {
  for (const k of ['device', 'channel', 'site'] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return 0;
}

/** Buckets of many series, gathered from one or more sources, turned into the interface's Series. */
export class SeriesAccumulator {
  private readonly series_ = new Map<
    string,
    { id: SeriesId; space: string; unit: string; buckets: Map<number, BucketPartial> }
  >();

  constructor(private readonly quantity: string) {}

  add(id: SeriesId, space: string, unit: string, bucket: number, partial: Partial<BucketPartial>): void {
    const key = seriesKey(id);
    let entry = this.series_.get(key);
    if (entry === undefined) {
      entry = {
        id: { site: id.site, device: id.device, channel: id.channel },
        space,
        unit,
        buckets: new Map(),
      };
      this.series_.set(key, entry);
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
    for (const entry of [...this.series_.values()].sort((a, b) => compareSeries(a.id, b.id))) {
      const points: SeriesPoint[] = [];
      for (const [ts, p] of [...entry.buckets].sort(([a], [b]) => a - b)) {
        const value = finalValue(p, aggregate);
        if (value !== null) points.push({ ts, value });
      }
      if (points.length > 0)
        out.push({ ...entry.id, space: entry.space, quantity: this.quantity, unit: entry.unit, points });
    }
    return out;
  }
}
