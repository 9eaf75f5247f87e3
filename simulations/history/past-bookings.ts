import { openingIntervals } from '../../bookings/booking-rules.ts';
import type { Booking } from '../../bookings/booking-store.ts';
import { DEFAULT_EARLY_MS, DEFAULT_GRACE_MS, NO_SHOW_KINDS } from '../../bookings/check-in.ts';
import { addDays, fromLocal, type LocalDate, toLocal } from '../../site/local-time.ts';
import type { SiteConfig } from '../../site/site.ts';
import { chance, DAY_MS, occupancyProbability } from '../physics.ts';
import {
  BOOKED_SHARE,
  giveToGuests,
  NO_SHOW_SHARE,
  plannedBooking,
  SESSION_HOURS,
  type Visitors,
} from './booking-habits.ts';

/**
 * The bookings of the history: desks, meeting rooms and the hall are booked when the simulated presence
 * says someone comes (most of them, not all: walk-ins exist), and now and then nobody comes (a no-show,
 * released a grace after its start); Protel rooms are rented for one to three weeks. A booking is checked
 * in at the first reading instant at which the space's occupancy sensor said someone was there, exactly
 * what the sensor readings written for that instant say. A simulated population books (population.ts,
 * members who cannot sign in); the three demo members, who sign in, hold only a few past desk bookings
 * each, so the member view shows a clean list. History bookings end before today.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

export interface BookingHistoryInput {
  site: SiteConfig;
  seed: string;
  /** Reading instants, ascending: the grid the occupancy sensors reported on. */
  times: readonly number[];
  /** History ends here: every booking ends by the start of that (local) day. */
  end: number;
  /** Did the space's occupancy sensor say someone was there at this reading instant? */
  occupied(spaceId: string, t: number): boolean;
  /** Member ids that book: the simulated population. */
  members: readonly string[];
  /**
   * Members who book only now and then (the demo members, who sign in to show the member view): each
   * gets REGULAR_PAST_BOOKINGS of the last fortnight's checked-in desk bookings, so their list stays short.
   */
  regulars?: readonly string[];
  /** In a network: the other houses' members who come as guests (booking-habits.ts giveToGuests). */
  visitors?: readonly Visitors[];
  graceMs?: number;
  earlyMs?: number;
}

/** How many past bookings each demo member holds. */
export const REGULAR_PAST_BOOKINGS = 3;

/**
 * The bookings of the past, a pure function of the presence the sensors reported. Desks, meeting rooms,
 * the hall: at a reading instant within the opening hours where someone is there and the space is not
 * booked, they had booked it (BOOKED_SHARE of the time) for a few hours and are checked in at that
 * instant; where nobody is there, a booking now and then (NO_SHOW_SHARE × the hour's usual occupancy)
 * was a no-show, released `grace` after its start. Protel rooms are rented for 5–21 days with gaps of
 * 0–4 days, checked in at the first instant the sensor saw the team.
 */
export function historyBookings(input: BookingHistoryInput): Booking[] {
  const { site, seed, times, members } = input;
  const grace = input.graceMs ?? DEFAULT_GRACE_MS;
  const early = input.earlyMs ?? DEFAULT_EARLY_MS;
  if (members.length === 0 || times.length === 0) return [];
  const tz = site.site.timezone || 'Europe/Berlin';
  const from = times[0] as number;
  // Today belongs to the live system: a demo member's "today" shows only what was booked live.
  const end = Math.min(input.end, fromLocal(toLocal(input.end, tz), 0, tz));
  const out: Booking[] = [];
  const booking = (spaceId: string, start: number, stop: number) =>
    plannedBooking(seed, members, spaceId, start, stop);
  const bookable = site.spaces.filter((s) => s.bookable === true);

  for (const space of bookable.filter((s) => s.kind in SESSION_HOURS)) {
    const open = openingIntervals(space, { start: from, end }, tz);
    const [minH, maxH] = SESSION_HOURS[space.kind] as [number, number];
    let busyUntil = Number.NEGATIVE_INFINITY;
    let o = 0;
    for (const t of times) {
      if (t < busyUntil || t % (15 * MINUTE_MS) !== 0) continue;
      while (o < open.length && (open[o] as { end: number }).end <= t) o++;
      const interval = open[o];
      if (!interval || interval.start > t) continue;
      const hours = minH + Math.floor(chance(seed, space.id, t, 'hours') * (maxH - minH + 1));
      const stop = Math.min(t + hours * HOUR_MS, interval.end, end);
      if (stop <= t) continue;
      if (input.occupied(space.id, t)) {
        if (chance(seed, space.id, t, 'booked') >= BOOKED_SHARE) continue;
        out.push({ ...booking(space.id, t, stop), status: 'checked_in', checkedInAt: t });
        busyUntil = stop;
      } else {
        const local = toLocal(t, tz);
        const usual = occupancyProbability(space.kind, local.weekday, local.hour);
        if (chance(seed, space.id, t, 'no-show') >= usual * NO_SHOW_SHARE) continue;
        if (!NO_SHOW_KINDS.includes(space.kind)) continue;
        // Nobody within [start − early, start + grace]: the sensor's readings in that window all say empty.
        if (seenAround(times, t, early, grace, (x) => input.occupied(space.id, x))) continue;
        out.push({ ...booking(space.id, t, stop), status: 'released', releasedAt: t + grace });
      }
    }
  }

  for (const space of bookable.filter((s) => s.kind === 'protel')) {
    let day: LocalDate = toLocal(from, tz);
    for (let n = 0; ; n++) {
      const gap = Math.floor(chance(seed, space.id, n, 'gap') * 5);
      const length = 5 + Math.floor(chance(seed, space.id, n, 'length') * 17);
      const first = addDays(day, gap);
      day = addDays(first, length);
      const start = fromLocal(first, 0, tz);
      const stop = fromLocal(day, 0, tz);
      if (stop > end) break;
      if (start < from) continue;
      const seen = times.find((t) => t >= start - early && t < stop && input.occupied(space.id, t));
      const b = booking(space.id, start, stop);
      out.push(seen === undefined ? b : { ...b, status: 'checked_in', checkedInAt: seen });
    }
  }
  giveToGuests(out, site, seed, input.visitors ?? []);
  giveToRegulars(out, input.regulars ?? [], seed, end, site);
  return out.sort((a, b) => a.start - b.start || (a.spaceId < b.spaceId ? -1 : 1));
}

/**
 * Hands each regular REGULAR_PAST_BOOKINGS of the checked-in desk bookings of the fortnight before `end`,
 * picked by chance, none overlapping another of theirs (one person sits at one desk at a time).
 */
function giveToRegulars(
  bookings: Booking[],
  regulars: readonly string[],
  seed: string,
  end: number,
  site: SiteConfig,
): void {
  if (regulars.length === 0) return;
  const desks = new Set(site.spaces.filter((s) => s.kind === 'desk').map((s) => s.id));
  const candidates = bookings
    .filter((b) => desks.has(b.spaceId) && b.status === 'checked_in' && b.start >= end - 14 * DAY_MS)
    .sort((a, b) => chance(seed, a.id, 'regular') - chance(seed, b.id, 'regular'));
  const held = new Map<string, Booking[]>(regulars.map((r) => [r, []]));
  for (const b of candidates) {
    const regular = regulars.find((r) => {
      const theirs = held.get(r) as Booking[];
      return (
        theirs.length < REGULAR_PAST_BOOKINGS && theirs.every((x) => x.end <= b.start || b.end <= x.start)
      );
    });
    if (regular === undefined) continue;
    b.memberId = regular;
    (held.get(regular) as Booking[]).push(b);
    if ([...held.values()].every((h) => h.length >= REGULAR_PAST_BOOKINGS)) return;
  }
}

/** Is there a reading instant other than `t` within [t − before, t + after] at which `seen` holds? */
function seenAround(
  times: readonly number[],
  t: number,
  before: number,
  after: number,
  seen: (x: number) => boolean,
): boolean {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) < t - before) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < times.length && (times[i] as number) <= t + after; i++) {
    const x = times[i] as number;
    if (x !== t && seen(x)) return true;
  }
  return false;
}
