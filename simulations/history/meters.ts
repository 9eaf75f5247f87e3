import { reportsCounter } from '../../building/quantities.ts';
import type { DeviceProfile } from '../../device-profiles/profile.ts';
import type { DeviceConfig, SiteConfig, SpaceConfig } from '../../site/site.ts';
import type { TimeSeriesStore } from '../../storage/store.ts';
import { inServiceCounterWh } from '../device-traits.ts';
import { type CounterState, DAY_MS, integrateEnergyWh, MAX_STEP_MS } from '../physics.ts';
import type { SimulatedBuilding } from '../simulated-building.ts';

/**
 * Meters: the history ends where the live meters start. Each meter's counter at the end of the history
 * (`endCounters`, Wh) is fixed before anything runs (`seamCounters`, cheap and deterministic), the live
 * simulator starts from it (or, later, from the store's last value: `storedCounters`), and the history is
 * computed backwards from it: counter(t) = end − energy(t, end). Where that would fall below zero the
 * meter was rebooted: its counter restarted at 0 there and before it ran on from an in-service value.
 * The seam values are chosen so that exactly one meter does that, the first floor main meter (so that
 * the report's counter-reset handling has something to show); every other counter is continuous.
 */

const HOUR_MS = 3_600_000;

/** What the history needs to know of the device families: the quantities each reports (loadProfiles). */
export type FamilyQuantities = ReadonlyMap<string, Pick<DeviceProfile, 'quantities'>>;

/** The site's meters, in site-file order: the devices whose family reports a counter (energy). */
export function siteMeters(site: SiteConfig, profiles: FamilyQuantities): DeviceConfig[] {
  return site.devices.filter((d) => reportsCounter(profiles.get(d.profile)?.quantities ?? []));
}

/** The one meter whose counter restarts in the history: the first floor main meter of the site file. */
export function rebootingMeter(meters: readonly DeviceConfig[]): DeviceConfig | undefined {
  return meters.find((d) => d.meter_role === 'main');
}

/** The most a meter can draw: its base load, everyone it serves at their desks, the lights on. */
function peakPowerW(building: SimulatedBuilding, device: DeviceConfig): number {
  const load = building.meterLoad(device);
  const space = building.space(device.space);
  const served =
    device.meter_role === 'main'
      ? building.site.spaces.filter((s) => s.floor === space.floor && !isArea(building.site, s))
      : [space];
  const people = served.reduce((n, s) => n + (s.kind === 'desk' ? 1 : (s.capacity ?? 0)), 0);
  return load.baseW + load.perPersonW * people + load.lightingW;
}

const isArea = (site: SiteConfig, space: SpaceConfig) => site.spaces.some((s) => s.parent === space.id);

/** Share of its base load × the span that the rebooting meter has counted at the end: the reboot lies within. */
const REBOOT_COUNTER_SHARE = 0.3;

/**
 * Each meter's counter (Wh) at the end of a history of `spanMs`: what the live meters start from. The
 * rebooting meter has counted less than it drew over the span (it must have restarted within it: it
 * draws at least its base load, so the restart lies in the last 30 % of the span); every other meter
 * more than it could possibly have drawn (so its counter never needs to restart).
 */
export function seamCounters(
  building: SimulatedBuilding,
  meters: readonly DeviceConfig[],
  spanMs: number,
): Record<string, number> {
  const reboots = rebootingMeter(meters);
  const hours = spanMs / HOUR_MS;
  const out: Record<string, number> = {};
  for (const device of meters) {
    out[device.id] =
      device === reboots
        ? REBOOT_COUNTER_SHARE * building.meterLoad(device).baseW * hours
        : inServiceCounterWh(building, device) + peakPowerW(building, device) * hours;
  }
  return out;
}

/** A meter's counter over the history, at the instants it reports. */
export interface MeterHistory {
  counterAt(t: number): CounterState;
  /** When the counter restarted at 0, if it did within the history. */
  rebootAt: number | undefined;
}

/**
 * Integrates the meters' power over the instants `times` (ascending, the first is the start) up to
 * `end`, as the live meter does (advanceCounter: 5-minute steps, the power at each step's start), all
 * meters step by step together (they ask the building about the same instants), and lays each counter
 * backwards from its end value.
 */
export function meterHistories(
  building: SimulatedBuilding,
  devices: readonly DeviceConfig[],
  times: readonly number[],
  end: number,
  endCounters: Readonly<Record<string, number>>,
): Map<string, MeterHistory> {
  const cums = devices.map(() => new Float64Array(times.length + 1));
  const wh = devices.map(() => 0);
  for (let i = 1; i <= times.length; i++) {
    const from = times[i - 1] as number;
    const to = i < times.length ? (times[i] as number) : end;
    for (let t = from; t < to; ) {
      const next = Math.min(to, t + MAX_STEP_MS);
      devices.forEach((device, k) => {
        wh[k] = integrateEnergyWh(wh[k] as number, building.meterPowerW(device, t), (next - t) / 1000);
      });
      t = next;
    }
    devices.forEach((_, k) => {
      (cums[k] as Float64Array)[i] = wh[k] as number;
    });
  }
  const out = new Map<string, MeterHistory>();
  devices.forEach((device, k) => {
    const endWh = endCounters[device.id];
    if (endWh !== undefined)
      out.set(device.id, layCounter(building, device, times, end, cums[k] as Float64Array, endWh));
  });
  return out;
}

/** counter(t) = endWh − energy(t, end), restarting at 0 where that would fall below zero. */
function layCounter(
  building: SimulatedBuilding,
  device: DeviceConfig,
  times: readonly number[],
  end: number,
  cum: Float64Array,
  endWh: number,
): MeterHistory {
  const total = cum[times.length] as number;
  const first = times[0] ?? end;
  const startedAt = first - 365 * DAY_MS;
  const index = new Map(times.map((t, i) => [t, i]));
  const at = (t: number) => {
    const i = index.get(t);
    if (i === undefined) throw new Error(`meter ${device.id}: no history instant ${t}`);
    return cum[i] as number;
  };
  if (endWh >= total) {
    return {
      counterAt: (t) => ({ wh: endWh - (total - at(t)), startedAt, reboots: 0 }),
      rebootAt: undefined,
    };
  }
  // Walking back from the end, the counter reaches 0 here: the restart.
  const target = total - endWh;
  let k = 0;
  while ((cum[k + 1] as number) <= target) k++;
  const before = cum[k] as number;
  const after = cum[k + 1] as number;
  const stepStart = times[k] as number;
  const stepEnd = k + 1 < times.length ? (times[k + 1] as number) : end;
  const rebootAt = Math.round(stepStart + ((stepEnd - stepStart) * (target - before)) / (after - before));
  const inService = inServiceCounterWh(building, device);
  return {
    rebootAt,
    counterAt: (t) => {
      const c = at(t);
      return t < rebootAt
        ? { wh: inService + c, startedAt, reboots: 0 }
        : { wh: c - target, startedAt: rebootAt, reboots: 1 };
    },
  };
}

/**
 * The counters the live meters go on from: the newest stored energy reading of each meter, in Wh, its
 * channels added up (a 3EM's phases, a Pro 4PM's outputs each count their share of the meter).
 */
export async function storedCounters(
  store: TimeSeriesStore,
  site: SiteConfig,
  profiles: FamilyQuantities,
): Promise<Record<string, number>> {
  const meters = new Set(siteMeters(site, profiles).map((d) => d.id));
  const out: Record<string, number> = {};
  for (const r of await store.latest({ quantity: 'energy' })) {
    if (meters.has(r.device) && typeof r.value === 'number')
      out[r.device] = (out[r.device] ?? 0) + r.value * 1000;
  }
  return out;
}
