import { reportsCounter } from '../building/quantities.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import { addUpChannels } from '../storage/device-totals.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { byChannel, HOUR_MS } from './gathered-series.ts';
import { counterResetHours, type MeterHour, meterCoverage, sumByHour, totalKwh } from './meter-energy.ts';

/**
 * The report's energy of one period, read from the time-series store's hourly figures of the meters:
 * consumption and last counter value per hour, and the counter before the period. The arithmetic is
 * meter-energy.ts's.
 */

/** How far back the counter value before a period is looked for (a meter silent longer is judged from its first hour). */
const COUNTER_BASELINE_MS = 35 * 24 * HOUR_MS;

export interface MeterEnergy {
  device: string;
  space: string;
  /** The site file's meter_role (main, plug…); null for a meter the site file gives none. */
  role: string | null;
  kwh: number | null;
  resets: number;
}

export interface GatheredEnergy {
  /** kWh of the main meters; null without any data. */
  energyKwh: number | null;
  /** Share of the period's hours the main meters have figures for. */
  coverage: number;
  meters: MeterEnergy[];
  /** The main meters' consumption added up per hour, by hour. */
  mainHours: { ts: number; value: number }[];
}

export async function gatherEnergy(
  sources: {
    site: SiteConfig;
    store: TimeSeriesStore;
    profiles: ReadonlyMap<string, DeviceProfile>;
  },
  range: { from: number; to: number },
): Promise<GatheredEnergy> {
  const { site, store, profiles } = sources;
  const { from, to } = range;
  // A meter is a device whose family reports a counter (building/quantities.ts). Which meters make up the
  // building's total is the site file's word: meter_role main (the others, plugs and sub-meters, are parts of it).
  const meterDevices = site.devices.filter((d) => reportsCounter(profiles.get(d.profile)?.quantities ?? []));
  const hourly = { from, to, bucketMs: HOUR_MS };
  const [consumption, lasts, before] = await Promise.all([
    store.query({ quantity: 'energy', ...hourly, aggregate: 'consumption' }),
    store.query({ quantity: 'energy', ...hourly, aggregate: 'last' }),
    store.query({ quantity: 'energy', from: from - COUNTER_BASELINE_MS, to: from, aggregate: 'last' }),
  ]);
  // A meter counts with all its channels (the three phases of a 3EM main meter): they add up per hour,
  // and each channel's counter restarts on its own.
  const consumptionOf = addUpChannels(consumption);
  const channelConsumption = byChannel(consumption);
  const lastOf = byChannel(lasts);
  const beforeOf = byChannel(before);
  const meters = meterDevices.map((device): MeterEnergy => {
    let resets = 0;
    for (const [channel, s] of channelConsumption.get(device.id) ?? []) {
      const lastByHour = new Map(
        (lastOf.get(device.id)?.get(channel)?.points ?? []).map((p) => [p.ts, p.value]),
      );
      const hours: MeterHour[] = s.points.map((p) => ({
        ts: p.ts,
        consumption: p.value,
        last: lastByHour.get(p.ts) ?? null,
      }));
      resets += counterResetHours(hours, beforeOf.get(device.id)?.get(channel)?.points[0]?.value ?? null);
    }
    return {
      device: device.id,
      space: device.space,
      role: device.meter_role ?? null,
      kwh: totalKwh(consumptionOf.get(device.id)?.points ?? []),
      resets,
    };
  });
  const mainIds = new Set(meterDevices.filter((d) => d.meter_role === 'main').map((d) => d.id));
  const mainPoints = [...mainIds].map((id) => consumptionOf.get(id)?.points ?? []);
  return {
    energyKwh: totalKwh(meters.filter((m) => mainIds.has(m.device)).map((m) => ({ value: m.kwh }))),
    coverage: meterCoverage(mainPoints, range),
    meters,
    mainHours: sumByHour(mainPoints),
  };
}
