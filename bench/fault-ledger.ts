import { tasmotaSensorPayload } from '../device-families/tasmota-energy/simulator.ts';
import type { DeviceConfig, SiteConfig } from '../site/site.ts';

/**
 * The faults bench's ledger (bench/faults.ts): which message is which, and, once the run is over, what the
 * store made of them. Pure, shared by the publisher's process and the bench's.
 *
 * Every message carries its device's energy counter, and the counter names the message: message `i` of
 * the timed phase is device `i % devices`'s counter `FIRST_COUNTER + floor(i / devices)` Wh (a warm-up
 * message is counter 1). Tasmota energy plugs send it as `ENERGY.Total` in kWh with three decimals, Shelly
 * Gen1 3EM meters as `emeter/0/total` in Wh; both are stored as kWh, so a stored energy reading's value
 * times 1,000 is its counter, and (device, counter) is the message's key. A message stored twice (a
 * redelivery stamped with its new arrival time) is two rows of one key.
 */

export const FAULT_FAMILIES = ['tasmota-energy', 'shelly-gen1'] as const;
export const WARMUP_COUNTER = 1;
export const FIRST_COUNTER = 2;

/** A site of `devices` devices, Tasmota plugs and Shelly 3EM meters in turn, `perBuilding` to a building. */
export function faultSite(devices: number, perBuilding = 100): SiteConfig {
  if (!(Number.isInteger(devices) && devices > 0 && devices < 100_000))
    throw new Error(`devices must be an integer 1…99999, got ${devices}`);
  const site: SiteConfig = {
    site: { id: 'fault-bench', name: 'Faults bench', timezone: 'Europe/Berlin', supplier_co2_g_per_kwh: 380 },
    floors: [],
    spaces: [],
    devices: [],
  };
  for (let i = 0; i < devices; i++) {
    const b = Math.floor(i / perBuilding) + 1;
    const building = `b${String(b).padStart(3, '0')}`;
    if (i % perBuilding === 0) {
      site.floors.push({ id: building, name: `Gebäude ${b}`, level: 0, area_m2: 2000 });
      site.spaces.push({
        id: `${building}-technik`,
        name: 'Technik',
        floor: building,
        kind: 'technical',
        area_m2: 20,
      });
    }
    const hex = i.toString(16).padStart(6, '0').toUpperCase();
    const tasmota = i % 2 === 0;
    site.devices.push({
      id: `${building}-d${String(i + 1).padStart(5, '0')}`,
      profile: tasmota ? 'tasmota-energy' : 'shelly-gen1',
      topic: tasmota ? `tasmota_${hex}` : `shellies/shellyem3-000000${hex}`,
      space: `${building}-technik`,
      meter_role: tasmota ? 'plug' : 'main',
    });
  }
  return site;
}

/** Which device and counter message `index` of the timed phase is. */
export function timedMessage(index: number, devices: number): { device: number; counter: number } {
  return { device: index % devices, counter: FIRST_COUNTER + Math.floor(index / devices) };
}

export const messageKey = (device: string, counter: number): string => `${device}#${counter}`;

/** The key of a stored energy reading (its value in kWh). */
export const storedKey = (device: string, kwh: number): string => messageKey(device, Math.round(kwh * 1000));

/** The counter of a stored energy reading (its value in kWh). */
export const storedCounter = (kwh: number): number => Math.round(kwh * 1000);

/** The vendor message that carries `counter` for `device`, as the firmware publishes it. */
export function faultPayload(
  device: Pick<DeviceConfig, 'profile' | 'topic'>,
  counter: number,
  now: number,
): { topic: string; payload: string } {
  if (device.profile === 'shelly-gen1')
    return { topic: `${device.topic}/emeter/0/total`, payload: `${counter}` };
  if (device.profile !== 'tasmota-energy') throw new Error(`no fault-bench payload for ${device.profile}`);
  return {
    topic: `tele/${device.topic}/SENSOR`,
    payload: tasmotaSensorPayload({
      // Without SetOption52 Tasmota's Time has no zone, so the gateway stamps the reading on arrival.
      time: new Date(now).toISOString().slice(0, 19),
      totalStartTime: '2026-01-01T00:00:00',
      totalKwh: counter / 1000,
      yesterdayKwh: 1.2,
      todayKwh: 0.4,
      periodWh: 1,
      powerW: 40 + (counter % 100),
      voltageV: 230,
      factor: 0.9,
    }),
  };
}

/** What the store made of the messages of one run. */
export interface FaultTally {
  /** Messages the publisher sent at least once. */
  published: number;
  /** Of those, messages whose PUBACK it received. */
  acked: number;
  /** Published messages the store holds at least once. */
  stored: number;
  /** PUBACKed and not stored: what must never happen. */
  lost: number;
  /** Never PUBACKed and not stored: allowed (the device knows it was not taken). */
  lostWithoutPuback: number;
  /** Rows beyond the first of a message (a message stored three times counts 2). */
  storedTwice: number;
  /** Messages stored more than once. */
  messagesStoredTwice: number;
  /** Rows that are no published message's: a miscount of the bench, never of the system. */
  unknown: number;
}

/**
 * Counts one run: `published` the keys of every message sent at least once, `acked` those PUBACKed,
 * `stored` one key per row the store holds (rows of messages outside this run, e.g. warm-up, left out by
 * the caller). An acked key that was never published is the caller's mistake, and throws.
 */
export function tallyFaults(
  published: Iterable<string>,
  acked: Iterable<string>,
  stored: Iterable<string>,
): FaultTally {
  const sent = new Set(published);
  const ackedSet = new Set<string>();
  for (const key of acked) {
    if (!sent.has(key)) throw new Error(`acknowledged but never published: ${key}`);
    ackedSet.add(key);
  }
  const rows = new Map<string, number>();
  let unknown = 0;
  for (const key of stored) {
    if (!sent.has(key)) unknown++;
    else rows.set(key, (rows.get(key) ?? 0) + 1);
  }
  let lost = 0;
  let lostWithoutPuback = 0;
  for (const key of sent) {
    if (rows.has(key)) continue;
    if (ackedSet.has(key)) lost++;
    else lostWithoutPuback++;
  }
  let storedTwice = 0;
  let messagesStoredTwice = 0;
  for (const n of rows.values()) {
    if (n > 1) {
      storedTwice += n - 1;
      messagesStoredTwice++;
    }
  }
  return {
    published: sent.size,
    acked: ackedSet.size,
    stored: rows.size,
    lost,
    lostWithoutPuback,
    storedTwice,
    messagesStoredTwice,
    unknown,
  };
}
