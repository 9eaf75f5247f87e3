import { openingIntervals } from '../../bookings/booking-rules.ts';
import type { Booking, BookingStore, ImportResult } from '../../bookings/booking-store.ts';
import { DEFAULT_EARLY_MS, DEFAULT_GRACE_MS, NO_SHOW_KINDS } from '../../bookings/check-in.ts';
import { addDays, fromLocal, type LocalDate, toLocal } from '../../site/local-time.ts';
import type { SiteConfig } from '../../site/site.ts';
import { chance, occupancyProbability, PRESENCE_SLOT_MS } from '../physics.ts';
import { SimulatedBuilding } from '../simulated-building.ts';
import {
  BOOKED_SHARE,
  giveToGuests,
  NO_SHOW_SHARE,
  plannedBooking,
  SESSION_HOURS,
  type Visitors,
} from './booking-habits.ts';

/**
 * Bookings ahead: today and tomorrow belong to the live system, but a fresh demo needs bookings there
 * (the lobby shows what is booked, the live check-in confirms bookings). upcomingBookings lays them out
 * from the same presence model the live sensors follow, all still 'booked': the live watcher checks them
 * in when the sensor sees someone and releases the no-shows. They are written at the end of the history
 * (and by every later `wesprint simulate --backfill`), and the running demo writes them again at its
 * start and every hour (cli/simulated-history.ts, keepBookingsAhead), so day 3 of a demo has bookings as
 * day 1 had. Their ids depend on (seed, space, planned start) and the store refuses overlaps, so writing
 * them again adds only what is new, and a slot a person booked live stays theirs.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

export interface UpcomingBookingsInput {
  site: SiteConfig;
  seed: string;
  /** The time now: today's bookings start at the quarter hour under way (as the booking rules allow) or later. */
  now: number;
  /** Bookings start before this; default the end of tomorrow (local). */
  until?: number;
  /** Will the space's occupancy sensor see someone at this instant? (the building model says) */
  occupied(spaceId: string, t: number): boolean;
  /** Member ids that book: the simulated population. */
  members: readonly string[];
  /** In a network: the other houses' members who come as guests (booking-habits.ts giveToGuests). */
  visitors?: readonly Visitors[];
  graceMs?: number;
  earlyMs?: number;
}

/** 1 January 2024, a Monday: Protel rentals of the live days are laid from here, the same on every run. */
const RENTALS_FROM: LocalDate = { year: 2024, month: 1, day: 1 };

/**
 * The bookings ahead: for the rest of today and tomorrow, what the simulated population books, from the
 * same presence model the live occupancy sensors follow, all still 'booked' (the live check-in watcher
 * checks them in when the sensor sees someone, or releases them as no-shows). Desks, meeting rooms and
 * the hall: each local day is laid out from its opening as the history does (at a presence slot where
 * someone will be there, a booking of a few hours, BOOKED_SHARE of the time; where nobody will come in
 * [start − early, start + grace], now and then a booking nobody turns up for); Protel rentals run on a
 * chain from a fixed date. A booking already under way at the quarter hour that has begun starts there (the
 * booking rules accept it, and the lobby of a fresh demo is busy at once), if
 * someone is there then, else it is left out. Ids depend on (seed, space, planned start), so running
 * this again (an hour later, on the next start) adds only what is new.
 */
export function upcomingBookings(input: UpcomingBookingsInput): Booking[] {
  const { site, seed, members } = input;
  if (members.length === 0) return [];
  const grace = input.graceMs ?? DEFAULT_GRACE_MS;
  const early = input.earlyMs ?? DEFAULT_EARLY_MS;
  const tz = site.site.timezone || 'Europe/Berlin';
  const quarter = 15 * MINUTE_MS;
  const from = Math.floor(input.now / quarter) * quarter;
  const today = toLocal(input.now, tz);
  const dayStart = fromLocal(today, 0, tz);
  const until = input.until ?? fromLocal(addDays(today, 2), 0, tz);
  const out: Booking[] = [];
  // A rental under way goes on whoever is in the room now; a session only if someone is there.
  const keep = (b: Booking, underWay: 'always' | 'if-seen') => {
    if (b.end <= from || b.start >= until) return;
    const createdAt = Math.min(input.now, b.createdAt);
    if (b.start >= from) out.push({ ...b, createdAt });
    else if (underWay === 'always' || input.occupied(b.spaceId, from))
      out.push({ ...b, start: from, createdAt });
  };
  const bookable = site.spaces.filter((s) => s.bookable === true);

  for (const space of bookable.filter((s) => s.kind in SESSION_HOURS)) {
    const open = openingIntervals(space, { start: dayStart, end: until }, tz);
    const [minH, maxH] = SESSION_HOURS[space.kind] as [number, number];
    for (const interval of open) {
      let busyUntil = Number.NEGATIVE_INFINITY;
      const first = Math.ceil(Math.max(interval.start, dayStart) / PRESENCE_SLOT_MS) * PRESENCE_SLOT_MS;
      for (let t = first; t < Math.min(interval.end, until); t += PRESENCE_SLOT_MS) {
        if (t < busyUntil) continue;
        const hours = minH + Math.floor(chance(seed, space.id, t, 'hours') * (maxH - minH + 1));
        const stop = Math.min(t + hours * HOUR_MS, interval.end);
        const b = plannedBooking(seed, members, space.id, t, stop, 'ahead');
        if (input.occupied(space.id, t)) {
          if (chance(seed, space.id, t, 'booked') >= BOOKED_SHARE) continue;
        } else {
          const local = toLocal(t, tz);
          const usual = occupancyProbability(space.kind, local.weekday, local.hour);
          if (chance(seed, space.id, t, 'no-show') >= usual * NO_SHOW_SHARE) continue;
          if (!NO_SHOW_KINDS.includes(space.kind)) continue;
          if (input.occupied(space.id, t - early) || input.occupied(space.id, t + grace)) continue;
        }
        // A no-show holds the space until it is released: the next booking comes after it either way.
        busyUntil = stop;
        keep(b, 'if-seen');
      }
    }
  }

  for (const space of bookable.filter((s) => s.kind === 'protel')) {
    let day: LocalDate = RENTALS_FROM;
    for (let n = 0; ; n++) {
      const gap = Math.floor(chance(seed, space.id, n, 'rental-gap') * 5);
      const length = 5 + Math.floor(chance(seed, space.id, n, 'rental-length') * 17);
      const first = addDays(day, gap);
      day = addDays(first, length);
      const start = fromLocal(first, 0, tz);
      if (start >= until) break;
      keep(plannedBooking(seed, members, space.id, start, fromLocal(day, 0, tz), 'ahead'), 'always');
    }
  }
  giveToGuests(out, site, seed, input.visitors ?? []);
  return out.sort((a, b) => a.start - b.start || (a.spaceId < b.spaceId ? -1 : 1));
}

/**
 * Writes upcomingBookings into the store, through its no-overlap rule (a slot someone booked live stays
 * theirs: the simulated booking is refused). Ids are stable, so writing again adds only what is new.
 */
export async function writeUpcomingBookings(options: {
  site: SiteConfig;
  seed: string;
  now: number;
  store: BookingStore;
  members: readonly string[];
  visitors?: readonly Visitors[];
  building?: SimulatedBuilding;
}): Promise<ImportResult> {
  const building = options.building ?? new SimulatedBuilding(options.site, options.seed);
  const bookings = upcomingBookings({
    site: options.site,
    seed: options.seed,
    now: options.now,
    members: options.members,
    ...(options.visitors ? { visitors: options.visitors } : {}),
    occupied: (spaceId, t) => building.peopleIn(spaceId, t) > 0,
  });
  return options.store.importBookings(bookings);
}
