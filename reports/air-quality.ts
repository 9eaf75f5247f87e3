import type { SiteConfig } from '../site/site.ts';

/**
 * Air quality for the board: of the hours in which people were in a room, how many had good air (the
 * hour's mean CO2 below 1000 ppm, the Umweltbundesamt's "hygienically harmless" limit; the lobby's traffic
 * light uses the same line). Built from the store's hourly means of the occupancy and CO2 sensors.
 */

export const GOOD_AIR_BELOW_PPM = 1000;
const HOUR_MS = 3_600_000;
/**
 * Presence sensors report on change and at least hourly (a heartbeat with the current state): an hour
 * without any report after one that ended with someone there is still occupied, for at most this many
 * hours, so that one lost heartbeat does not empty a full room, and a dead sensor does not fill it forever.
 */
export const PRESENCE_CARRIES_HOURS = 2;

/** A room with a CO2 sensor, the devices that say whether someone is in it, and those that measure its air. */
export interface AirRoom {
  spaceId: string;
  name: string;
  co2Devices: string[];
  /** Occupancy sensors of the room itself and of the spaces within it (the desks of a desk area). */
  occupancyDevices: string[];
}

/** Rooms with a CO2 sensor, in site-file order; `quantitiesOf` tells what a device's profile measures. */
export function airRooms(site: SiteConfig, quantitiesOf: (profile: string) => readonly string[]): AirRoom[] {
  const measures = (quantity: string) =>
    site.devices.filter((d) => quantitiesOf(d.profile).includes(quantity));
  const co2 = measures('co2');
  const occupancy = measures('occupancy');
  const rooms: AirRoom[] = [];
  for (const space of site.spaces) {
    const co2Devices = co2.filter((d) => d.space === space.id).map((d) => d.id);
    if (co2Devices.length === 0) continue;
    const within = new Set([space.id, ...site.spaces.filter((s) => s.parent === space.id).map((s) => s.id)]);
    rooms.push({
      spaceId: space.id,
      name: space.name,
      co2Devices,
      occupancyDevices: occupancy.filter((d) => within.has(d.space)).map((d) => d.id),
    });
  }
  return rooms;
}

export interface OccupancyHour {
  /** Start of the hour, epoch ms (a multiple of one hour). */
  ts: number;
  /**
   * Mean of the sensor's 0/1 reports in the hour: above 0 when anyone was seen; 1 when every report said
   * someone was there, so the hour surely ended occupied. One aggregate instead of max and last halves
   * what a year report reads from the store.
   */
  mean: number;
}

/**
 * The hours in [from, to) in which one sensor saw someone: its hours with a 1, and the hours without any
 * report for up to PRESENCE_CARRIES_HOURS after an hour (or the state before `from`) in which every report
 * said occupied. An hour that also had a 0 is not carried on: whoever was there may have left.
 */
export function presentHours(
  hours: readonly OccupancyHour[],
  stateBefore: { ts: number; value: number } | null,
  range: { from: number; to: number },
  carryHours: number = PRESENCE_CARRIES_HOURS,
): number[] {
  const present: number[] = [];
  const startOf = (ts: number) => Math.floor(ts / HOUR_MS) * HOUR_MS;
  const carryFrom = (hour: number, until: number) => {
    for (let h = hour + HOUR_MS; h <= hour + carryHours * HOUR_MS && h < until; h += HOUR_MS) {
      if (h >= range.from && h < range.to) present.push(h);
    }
  };
  const sorted = [...hours].sort((a, b) => a.ts - b.ts);
  let carrying = stateBefore !== null && stateBefore.value === 1 ? startOf(stateBefore.ts) : null;
  for (const hour of sorted) {
    if (carrying !== null) carryFrom(carrying, hour.ts);
    if (hour.mean > 0 && hour.ts >= range.from && hour.ts < range.to) present.push(hour.ts);
    carrying = hour.mean === 1 ? hour.ts : null;
  }
  if (carrying !== null) carryFrom(carrying, range.to);
  return present;
}

/** The mean of several sensors' hourly means, per hour (a room with more than one CO2 sensor). */
export function meanByHour(
  sensors: readonly (readonly { ts: number; value: number }[])[],
): Map<number, number> {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const points of sensors) {
    for (const p of points) {
      const s = sums.get(p.ts) ?? { sum: 0, n: 0 };
      s.sum += p.value;
      s.n += 1;
      sums.set(p.ts, s);
    }
  }
  return new Map([...sums].map(([ts, s]) => [ts, s.sum / s.n]));
}

export interface RoomAir {
  /** Hours with presence and a CO2 mean. */
  occupiedHours: number;
  /** Of those, hours whose mean CO2 was below 1000 ppm. */
  goodHours: number;
  /** Mean of the occupied hours' CO2 means, ppm; null without occupied hours. */
  meanCo2Ppm: number | null;
}

/**
 * One room's air over its occupied hours. An occupied hour without a CO2 mean (the sensor was silent) is
 * left out of both counts: missing data is neither good nor bad air. With several CO2 sensors in a room,
 * pass the mean of their hourly means.
 */
export function roomAir(present: Iterable<number>, co2MeanByHour: ReadonlyMap<number, number>): RoomAir {
  let occupiedHours = 0;
  let goodHours = 0;
  let sum = 0;
  for (const hour of new Set(present)) {
    const co2 = co2MeanByHour.get(hour);
    if (co2 === undefined) continue;
    occupiedHours++;
    sum += co2;
    if (co2 < GOOD_AIR_BELOW_PPM) goodHours++;
  }
  return { occupiedHours, goodHours, meanCo2Ppm: occupiedHours > 0 ? sum / occupiedHours : null };
}
