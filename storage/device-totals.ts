import type { Series, SeriesPoint } from './store.ts';

/**
 * A device's meter is the sum of its channels: the three phases of a 3EM main meter are the building's
 * consumption, the four outputs of a Pro 4PM the load of what it feeds. The store answers one series per
 * channel; who counts a device adds them up here, bucket by bucket.
 */
export interface DeviceTotal {
  device: string;
  quantity: string;
  unit: string;
  /** The channels that had points, in the order the store answered them. */
  channels: string[];
  points: SeriesPoint[];
}

/**
 * The store's series added up per device (of one site: a store holding several sites is queried per
 * site before this). A bucket holds the sum of the channels that have a point there; a channel without
 * one adds nothing (no data is not zero). Meant for additive aggregates: consumption, mean power, the
 * last counter value.
 */
export function addUpChannels(series: readonly Series[]): Map<string, DeviceTotal> {
  const totals = new Map<string, { total: DeviceTotal; byTs: Map<number, number> }>();
  for (const s of series) {
    let entry = totals.get(s.device);
    if (entry === undefined) {
      entry = {
        total: { device: s.device, quantity: s.quantity, unit: s.unit, channels: [], points: [] },
        byTs: new Map(),
      };
      totals.set(s.device, entry);
    }
    if (s.points.length > 0 && !entry.total.channels.includes(s.channel))
      entry.total.channels.push(s.channel);
    for (const p of s.points) entry.byTs.set(p.ts, (entry.byTs.get(p.ts) ?? 0) + p.value);
  }
  const out = new Map<string, DeviceTotal>();
  for (const [device, { total, byTs }] of totals) {
    total.points = [...byTs].sort(([a], [b]) => a - b).map(([ts, value]) => ({ ts, value }));
    out.set(device, total);
  }
  return out;
}
