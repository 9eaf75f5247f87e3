import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import {
  airRooms,
  meanByHour,
  type OccupancyHour,
  PRESENCE_CARRIES_HOURS,
  presentHours,
  type RoomAir,
  roomAir,
} from './air-quality.ts';
import { byDevice, HOUR_MS } from './gathered-series.ts';

/**
 * The report's air of one period: per room with a CO2 sensor, the hours with presence and their mean CO2,
 * from the time-series store's hourly means of the occupancy and CO2 sensors. The arithmetic is
 * air-quality.ts's.
 */

export interface GatheredRoom extends RoomAir {
  spaceId: string;
  name: string;
}

export async function gatherAir(
  sources: {
    site: SiteConfig;
    store: TimeSeriesStore;
    profiles: ReadonlyMap<string, DeviceProfile>;
  },
  range: { from: number; to: number },
): Promise<GatheredRoom[]> {
  const { site, store, profiles } = sources;
  const { from, to } = range;
  const rooms = airRooms(site, (profile) => profiles.get(profile)?.quantities ?? []);
  if (rooms.length === 0) return [];
  const hourly = { from, to, bucketMs: HOUR_MS };
  const [occupancy, occupancyBefore, co2] = await Promise.all([
    store.query({ quantity: 'occupancy', ...hourly, aggregate: 'mean' }),
    store.query({
      quantity: 'occupancy',
      from: from - PRESENCE_CARRIES_HOURS * HOUR_MS,
      to: from,
      bucketMs: HOUR_MS,
      aggregate: 'last',
    }),
    store.query({ quantity: 'co2', ...hourly, aggregate: 'mean' }),
  ]);
  const occupancyOf = byDevice(occupancy);
  const occupancyBeforeOf = byDevice(occupancyBefore);
  const co2Of = byDevice(co2);
  return rooms.map((room) => {
    const present = new Set<number>();
    for (const device of room.occupancyDevices) {
      const hours: OccupancyHour[] = (occupancyOf.get(device)?.points ?? []).map((p) => ({
        ts: p.ts,
        mean: p.value,
      }));
      const stateBefore = occupancyBeforeOf.get(device)?.points.at(-1) ?? null;
      for (const hour of presentHours(hours, stateBefore, range)) present.add(hour);
    }
    const co2ByHour = meanByHour(room.co2Devices.map((device) => co2Of.get(device)?.points ?? []));
    return { spaceId: room.spaceId, name: room.name, ...roomAir(present, co2ByHour) };
  });
}
