import { type Interval, isBookable } from '../bookings/booking-rules.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';
import { type BookingSpan, openWithin, type SpaceUse, spaceUse } from './space-use.ts';

/**
 * The report's space use of one period: the bookings overlapping it, read through the bookings store, set
 * against each bookable space's opening hours. The arithmetic is space-use.ts's.
 */

export interface GatheredBookings {
  /** Per bookable space, in site-file order. */
  spaces: SpaceUse[];
  /** False when the period ended before the first booking on record: its use is unknown, not zero. */
  bookingsKnown: boolean;
}

export async function gatherBookings(
  sources: {
    site: SiteConfig;
    bookings: Pick<BookingStore, 'spansWithin'>;
    profiles: ReadonlyMap<string, DeviceProfile>;
  },
  range: { from: number; to: number },
): Promise<GatheredBookings> {
  const { site, profiles } = sources;
  const tz = site.site.timezone;
  // Every status: cancelled ones are dropped by the arithmetic.
  const { spans, firstStart } = await sources.bookings.spansWithin({ start: range.from, end: range.to });
  const bookingsOf = new Map<string, BookingSpan[]>();
  for (const b of spans) {
    const list = bookingsOf.get(b.spaceId) ?? [];
    list.push({ start: b.start, end: b.end, status: b.status });
    bookingsOf.set(b.spaceId, list);
  }
  const sensed = new Set(
    site.devices
      .filter((d) => (profiles.get(d.profile)?.quantities ?? []).includes('occupancy'))
      .map((d) => d.space),
  );
  const within: Interval = { start: range.from, end: range.to };
  // Expanding opening hours over a year costs milliseconds per space; desks share a handful of rule sets.
  const openBy = new Map<string, Interval[]>();
  const openOf = (space: SpaceConfig) => {
    const key = JSON.stringify(space.opening_hours ?? null);
    let open = openBy.get(key);
    if (open === undefined) {
      open = openWithin(space, within, tz);
      openBy.set(key, open);
    }
    return open;
  };
  return {
    spaces: site.spaces
      .filter(isBookable)
      .map((s) => spaceUse(s, bookingsOf.get(s.id) ?? [], within, openOf(s), sensed.has(s.id))),
    bookingsKnown: firstStart !== null && firstStart < range.to,
  };
}
