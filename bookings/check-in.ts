import type { BaseLogger } from 'pino';
import type { BuildingEvent, EventAnnouncer } from '../building/events.ts';
import type { BuildingFeed, LiveEvent, LiveReading } from '../building/live-feed.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { bookingEvent } from './booking-events.ts';
import { MINUTE_MS } from './booking-rules.ts';
import type { Booking, BookingStore } from './booking-store.ts';

/**
 * Sensor-verified check-in. The occupancy sensor of a booked space (a desk's own presence sensor, a room's
 * sensor) checks a booking in when it sees someone during the booking; a booking nobody turns up for is
 * released as a no-show `grace` after its start, so the space is free again. Both moments are recorded on
 * the booking (checked_in_at, released_at) for the board's "booked vs really used".
 *
 * The decisions are pure functions; the watcher only feeds them readings, the time, and the store.
 */

export const DEFAULT_GRACE_MS = 15 * MINUTE_MS;
/** Presence this long before the start already counts (people arrive a little early and sit down). */
export const DEFAULT_EARLY_MS = 10 * MINUTE_MS;
const DEFAULT_SCAN_EVERY_MS = 30_000;

/**
 * Kinds whose bookings are released when nobody comes. Protel rooms and offices are rented for days or
 * weeks: a team arriving at noon on the first day must not lose its week; they are checked in, never released.
 */
export const NO_SHOW_KINDS: readonly string[] = ['desk', 'meeting_room', 'hall'];

/** An occupancy reading that says someone is there. */
export function isPresence(event: LiveEvent): event is LiveReading {
  return event.type === 'reading' && event.quantity === 'occupancy' && event.value === 1;
}

/**
 * Which booking of the space presence at `at` checks in: one still waiting ('booked') that covers `at`, or
 * failing that one starting within `earlyMs` after `at`.
 */
export function bookingToCheckIn(
  spaceBookings: readonly Booking[],
  at: number,
  earlyMs: number,
): Booking | undefined {
  const waiting = spaceBookings.filter((b) => b.status === 'booked' && b.start - earlyMs <= at && at < b.end);
  return waiting.find((b) => b.start <= at) ?? waiting.sort((a, b) => a.start - b.start)[0];
}

export interface SpaceSensing {
  /** The space's occupancy sensors say someone is there now: true, false, or null when nothing is known. */
  occupiedNow: boolean | null;
  /** At least one occupancy sensor of the space is not known to be offline. */
  sensorUp: boolean;
  /** The space has an occupancy sensor at all. */
  sensed: boolean;
  /** Bookings of this kind of space may be released as no-shows. */
  releasable: boolean;
}

export type Decision = 'check_in' | 'release' | 'wait';

/**
 * What to do with a started booking that is still waiting for presence. Someone there now checks it in;
 * nobody seen by `max(start, booked at) + grace` releases it — but only where a working sensor could have
 * seen them: a space without a sensor, or whose sensor is offline, is never judged empty.
 */
export function decideStarted(
  booking: Booking,
  now: number,
  graceMs: number,
  sensing: SpaceSensing,
): Decision {
  if (booking.status !== 'booked' || now < booking.start || now >= booking.end) return 'wait';
  if (sensing.occupiedNow === true) return 'check_in';
  if (!sensing.sensed || !sensing.sensorUp || !sensing.releasable) return 'wait';
  // A booking made after its start (the current quarter hour) gets its full grace from when it was made.
  const deadline = Math.max(booking.start, booking.createdAt) + graceMs;
  return now >= deadline ? 'release' : 'wait';
}

/** One occupancy sensor's stored readings, as the store answers them in buckets (max: 1 when anyone was seen). */
export interface StoredOccupancy {
  device: string;
  points: readonly { ts: number; value: number }[];
}

/**
 * Pure: when the stored readings first saw someone in this booking's time (from `earlyMs` before its start,
 * as live presence counts), by the space's sensors; undefined if they did not. A bucket's time is its start,
 * so presence is dated no earlier than the booking's window opened.
 */
export function storedPresence(
  booking: Booking,
  sensors: readonly string[],
  stored: readonly StoredOccupancy[],
  earlyMs: number,
  bucketMs: number,
): number | undefined {
  const from = booking.start - earlyMs;
  let first: number | undefined;
  for (const series of stored) {
    if (!sensors.includes(series.device)) continue;
    for (const point of series.points) {
      if (point.value !== 1 || point.ts + bucketMs <= from || point.ts >= booking.end) continue;
      const at = Math.max(point.ts, from);
      if (first === undefined || at < first) first = at;
    }
  }
  return first;
}

/** The same booking, still waiting, at the same times. */
function sameWaiting(a: Booking, b: Booking): boolean {
  return (
    a.id === b.id && a.status === 'booked' && b.status === 'booked' && a.start === b.start && a.end === b.end
  );
}

export type CheckInEvent = { type: 'checked_in' | 'released'; booking: Booking };

/**
 * Pure: whether a building event may have changed a space's bookings on record (made, cancelled, moved, checked
 * in, released). A booking's start and end are moments of the clock, not changes; any other booking event is
 * taken as a change.
 */
export function changesBookings(
  event: BuildingEvent,
  siteId: string,
): event is BuildingEvent & { space: string } {
  if (event.site !== siteId || event.space === null || !event.type.startsWith('booking-')) return false;
  return event.type !== 'booking-started' && event.type !== 'booking-ended';
}

/**
 * A space's bookings as read for the presence readings of [from, to): valid for a reading at `at` while
 * `from <= at` and `at + earlyMs < to`, until a booking event of the space, a scan that finds them wrong, or a
 * check-in of this watcher.
 */
interface KnownBookings {
  from: number;
  to: number;
  bookings: readonly Booking[];
}

/** How far past a reading a space's bookings are read for the readings after it. */
export const KNOWN_BOOKINGS_MS = 30 * MINUTE_MS;

export interface CheckInWatcherOptions {
  store: BookingStore;
  /**
   * The house's live feed. With `subscribeEvents` (a BuildingFeed) the watcher keeps each space's bookings
   * between presence readings and reads them again when a booking event of the space is heard; without it,
   * and while the feed is not `connected` to the broker (events are not heard then), every presence reading
   * reads them.
   */
  feed: Pick<BuildingFeed, 'subscribeLive' | 'latest' | 'device'> &
    Partial<Pick<BuildingFeed, 'subscribeEvents' | 'connected'>>;
  site: SiteConfig;
  /** To know which devices sense occupancy; a device of an unknown profile senses nothing. */
  profiles: Map<string, DeviceProfile>;
  graceMs?: number;
  earlyMs?: number;
  scanEveryMs?: number;
  /** The time; tests move it by hand. */
  now?: () => number;
  logger?: BaseLogger;
  /** Told of every check-in and release (e.g. to push availability to the lobby). */
  onChange?: (event: CheckInEvent) => void;
  /** Where each check-in and no-show release is told (`booking-checked-in`, `booking-no-show`: the building feed). */
  events?: EventAnnouncer;
  /**
   * The stored readings (this site's): each scan reads the occupancy of the last `graceMs`, so presence no
   * live reading brought to this process (it was not leading yet, its feed was away) still checks a booking
   * in, and such a booking is never released as a no-show.
   */
  readings?: Pick<TimeSeriesStore, 'query'>;
}

/** Stored occupancy is read in buckets this wide (max per bucket: was anyone seen in that minute). */
const STORED_BUCKET_MS = MINUTE_MS;

export class CheckInWatcher {
  readonly graceMs: number;
  readonly earlyMs: number;
  private readonly o: CheckInWatcherOptions;
  private readonly now: () => number;
  /** space -> its occupancy sensors */
  private readonly sensors = new Map<string, string[]>();
  private readonly kindOf = new Map<string, string>();
  private unsubscribe: (() => void) | undefined;
  private unsubscribeEvents: (() => void) | undefined;
  /** space -> its bookings as last read for presence (only while booking events are heard). */
  private readonly known = new Map<string, KnownBookings>();
  /** space -> how many times its known bookings were forgotten: a read begun before is not kept. */
  private readonly forgotten = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Check-ins and scans under way, for stop() to wait for. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(options: CheckInWatcherOptions) {
    this.o = options;
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.earlyMs = options.earlyMs ?? DEFAULT_EARLY_MS;
    this.now = options.now ?? Date.now;
    for (const space of options.site.spaces) this.kindOf.set(space.id, space.kind);
    for (const device of options.site.devices) {
      if (!options.profiles.get(device.profile)?.quantities.includes('occupancy')) continue;
      this.sensors.set(device.space, [...(this.sensors.get(device.space) ?? []), device.id]);
    }
  }

  start(): void {
    if (this.unsubscribe) return;
    // Before the readings: a booking event heard from now on is not missed by the bookings kept.
    this.unsubscribeEvents = this.o.feed.subscribeEvents?.((event) => {
      if (changesBookings(event, this.o.site.site.id)) this.forget(event.space);
    });
    this.unsubscribe = this.o.feed.subscribeLive((event) => {
      if (!isPresence(event)) return;
      this.track(
        this.presence(event).catch((err: Error) => {
          // A busy or closed database must not take the API down; the scan looks again.
          this.o.logger?.warn({ err: err.message }, 'check-in failed');
        }),
      );
    });
    this.timer = setInterval(() => this.track(this.scan()), this.o.scanEveryMs ?? DEFAULT_SCAN_EVERY_MS);
    this.timer.unref();
    this.track(this.scan());
  }

  /** Stops watching; resolves once the check-ins and scans under way are done (the records may close then). */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribeEvents?.();
    this.unsubscribeEvents = undefined;
    this.known.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.pending);
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /**
   * Presence seen in a space: checks in the booking it belongs to, if any. While booking events are heard the
   * space's bookings are read once for a window (KNOWN_BOOKINGS_MS) and judged from memory for the readings
   * after it; a booking the kept ones say to check in is read again first, so a check-in is always decided on
   * the booking as it is on record (an event missed while the broker was away only delays a check-in to the
   * next scan, which reads the records).
   */
  async presence(reading: Pick<LiveReading, 'space' | 'ts'>): Promise<Booking | undefined> {
    // A device clock running ahead must not check in a booking that has not begun.
    const at = Math.min(reading.ts, this.now());
    const space = reading.space;
    const kept = this.keptFor(space, at);
    if (kept && !bookingToCheckIn(kept.bookings, at, this.earlyMs)) return undefined;
    const generation = this.forgotten.get(space) ?? 0;
    const keeping = !kept && this.hearsEvents();
    const to = keeping ? at + this.earlyMs + 1 + KNOWN_BOOKINGS_MS : at + this.earlyMs + 1;
    const candidates = await this.o.store.spaceBookings(space, at, to);
    const booking = bookingToCheckIn(candidates, at, this.earlyMs);
    const checkedIn = booking && (await this.o.store.checkIn(booking.id, at));
    if (kept || keeping) {
      const current = (this.forgotten.get(space) ?? 0) === generation && this.hearsEvents();
      if (kept || !current || (booking && !checkedIn)) this.forget(space);
      // What was read, with the booking this watcher checked in as the store answered it.
      else
        this.known.set(space, {
          from: at,
          to,
          bookings: candidates.map((b) => (b.id === checkedIn?.id ? checkedIn : b)),
        });
    }
    if (checkedIn) this.changed({ type: 'checked_in', booking: checkedIn });
    return checkedIn;
  }

  /** The space's bookings kept for a reading at `at`, if they cover it. */
  private keptFor(spaceId: string, at: number): KnownBookings | undefined {
    if (!this.hearsEvents()) {
      this.known.clear();
      return undefined;
    }
    const kept = this.known.get(spaceId);
    if (!kept) return undefined;
    if (kept.from <= at && at + this.earlyMs + 1 <= kept.to) return kept;
    this.known.delete(spaceId);
    return undefined;
  }

  /**
   * Booking events reach this watcher: it listens, and its feed is connected (a feed away from the broker
   * misses them; it hears none of those told meanwhile when it is back, so what was kept is dropped).
   */
  private hearsEvents(): boolean {
    return this.unsubscribeEvents !== undefined && this.o.feed.connected !== false;
  }

  /** The space's bookings may have changed: read them again on its next presence. */
  private forget(spaceId: string): void {
    this.known.delete(spaceId);
    this.forgotten.set(spaceId, (this.forgotten.get(spaceId) ?? 0) + 1);
  }

  /** Looks at every started booking still waiting for presence; returns what changed. */
  async scan(now: number = this.now()): Promise<CheckInEvent[]> {
    const events: CheckInEvent[] = [];
    try {
      const waiting = await this.o.store.unconfirmed(now);
      if (!this.hearsEvents()) this.known.clear();
      // A booking waiting on record that the kept bookings of its space do not know as it is: an event was
      // missed (the broker was away); read the space again on its next presence.
      for (const booking of waiting) {
        const kept = this.known.get(booking.spaceId);
        if (
          kept &&
          kept.from < booking.end &&
          booking.start < kept.to &&
          !kept.bookings.some((k) => sameWaiting(k, booking))
        )
          this.forget(booking.spaceId);
      }
      const stored = waiting.some((b) => this.sensors.has(b.spaceId)) ? await this.storedOccupancy(now) : [];
      for (const booking of waiting) {
        const seenAt = storedPresence(
          booking,
          this.sensors.get(booking.spaceId) ?? [],
          stored,
          this.earlyMs,
          STORED_BUCKET_MS,
        );
        if (seenAt !== undefined && now < booking.end) {
          const changed = await this.o.store.checkIn(booking.id, Math.min(seenAt, now));
          if (changed) events.push({ type: 'checked_in', booking: changed });
          continue;
        }
        const decision = decideStarted(booking, now, this.graceMs, this.sensing(booking.spaceId));
        if (decision === 'check_in') {
          const changed = await this.o.store.checkIn(booking.id, now);
          if (changed) events.push({ type: 'checked_in', booking: changed });
        } else if (decision === 'release') {
          const changed = await this.o.store.release(booking.id, now);
          if (changed) events.push({ type: 'released', booking: changed });
        }
      }
    } catch (err) {
      // A busy or closed database must not take the API down; the next scan tries again.
      this.o.logger?.warn({ err: (err as Error).message }, 'scan failed');
    }
    for (const event of events) {
      this.forget(event.booking.spaceId);
      this.changed(event);
    }
    return events;
  }

  /** The occupancy sensors' stored readings of the last grace period, by the minute (none without a store). */
  private async storedOccupancy(now: number): Promise<StoredOccupancy[]> {
    if (!this.o.readings) return [];
    const from = Math.floor((now - this.graceMs - this.earlyMs) / STORED_BUCKET_MS) * STORED_BUCKET_MS;
    return this.o.readings.query({
      quantity: 'occupancy',
      from,
      to: now + 1,
      bucketMs: STORED_BUCKET_MS,
      aggregate: 'max',
    });
  }

  sensing(spaceId: string): SpaceSensing {
    const sensors = this.sensors.get(spaceId) ?? [];
    const readings = this.o.feed.latest({ space: spaceId, quantity: 'occupancy' });
    const known = readings.filter((r) => sensors.includes(r.device));
    return {
      occupiedNow: known.length === 0 ? null : known.some((r) => r.value === 1),
      sensorUp: sensors.some((d) => this.o.feed.device(d)?.online !== false),
      sensed: sensors.length > 0,
      releasable: NO_SHOW_KINDS.includes(this.kindOf.get(spaceId) ?? ''),
    };
  }

  private changed(event: CheckInEvent): void {
    this.o.logger?.info(
      { booking: event.booking.id, space: event.booking.spaceId },
      event.type === 'checked_in' ? 'presence seen' : 'released as no-show',
    );
    // The store changed the booking for this process alone (checkIn and release change a 'booked' one
    // only), so of several processes watching, one tells it.
    const { booking } = event;
    this.o.events?.announce(
      event.type === 'checked_in'
        ? bookingEvent('booking-checked-in', this.o.site.site.id, booking, booking.checkedInAt ?? this.now())
        : bookingEvent('booking-no-show', this.o.site.site.id, booking, booking.releasedAt ?? this.now()),
    );
    try {
      this.o.onChange?.(event);
    } catch (err) {
      this.o.logger?.warn({ err: (err as Error).message }, 'a listener failed');
    }
  }
}
