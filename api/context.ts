import Type from 'typebox';
import type { BuildingFeed } from '../building/live-feed.ts';
import { QUANTITY_NAMES } from '../building/quantities.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { Quarantine } from '../gateway/quarantine.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';

/** What every route plugin is given: the parts of the running system the API reads from. */
export interface ApiContext {
  site: SiteConfig;
  store: TimeSeriesStore;
  feed: BuildingFeed;
  quarantine: Quarantine;
  profiles: Map<string, DeviceProfile>;
  /** The API's clock (epoch ms): Date.now, or the instant a test fixes. */
  now: () => number;
}

/** Same rule as ids in the site file, so a malformed id is a 400 and a well-formed unknown one a 404. */
export const SiteId = Type.String({
  pattern: '^[a-z0-9][a-z0-9_-]{0,63}$',
  description: 'lower-case id: a-z 0-9 _ -',
});

export const QuantityName = Type.Enum(QUANTITY_NAMES, {
  description: 'a normalised quantity',
});

export const ReadingValue = Type.Union([Type.Number(), Type.String()], {
  description: 'numbers for measurements (booleans as 1/0), text for lock and door states',
});

export const ReadingOut = Type.Object({
  device: Type.String(),
  channel: Type.String({
    description: "the device's channel (output, meter phase); 0 for a device with one",
  }),
  space: Type.String({ description: "the channel's space" }),
  quantity: Type.String(),
  value: ReadingValue,
  unit: Type.String(),
  ts: Type.Number({ description: 'epoch ms' }),
});
