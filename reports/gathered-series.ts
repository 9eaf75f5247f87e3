import { FIRST_CHANNEL } from '../building/reading.ts';
import type { Series } from '../storage/store.ts';

/** How the report's gatherers look up the store's answers: by device, and by device and channel. */

export const HOUR_MS = 3_600_000;

/** A sensor's series by device: room sensors measure on one channel. */
export function byDevice(series: readonly Series[]): Map<string, Series> {
  return new Map(series.filter((s) => s.channel === FIRST_CHANNEL).map((s) => [s.device, s]));
}

/** The store's series by device and channel: a meter's phases or outputs are series of their own. */
export function byChannel(series: readonly Series[]): Map<string, Map<string, Series>> {
  const out = new Map<string, Map<string, Series>>();
  for (const s of series) {
    let channels = out.get(s.device);
    if (channels === undefined) {
      channels = new Map();
      out.set(s.device, channels);
    }
    channels.set(s.channel, s);
  }
  return out;
}
