import { openToGuests } from '../../access/roles.ts';
import type { Booking } from '../../bookings/booking-store.ts';
import type { SiteConfig } from '../../site/site.ts';
import { chance, hashKey } from '../physics.ts';

/**
 * How the simulated population books, in the history and ahead alike: how long a session lasts, how many
 * of the people the sensors see had booked, how often nobody comes, and the stable ids and bookers that
 * make writing the same bookings twice add nothing.
 */

const HOUR_MS = 3_600_000;

/** Share of the people the sensors see at a desk or in a room who had booked it (the rest walked in). */
export const BOOKED_SHARE = 0.75;
/** Chance, relative to the hour's usual occupancy, that a booking is made and nobody comes. */
export const NO_SHOW_SHARE = 0.12;

/** How long a session of each bookable kind lasts, in whole hours (at least, at most). */
export const SESSION_HOURS: Readonly<Record<string, [number, number]>> = {
  desk: [2, 6],
  meeting_room: [1, 3],
  hall: [2, 4],
};

/** A stable booking id for (seed, space, start): UUID-shaped, the same on every run. */
export function historyBookingId(seed: string, spaceId: string, start: number): string {
  const hex = [0, 1, 2, 3]
    .map((k) => hashKey(seed, spaceId, start, k).toString(16).padStart(8, '0'))
    .join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A booking of `members[k]`, with the id, booker and booking time fixed by (seed, space, start). Bookings
 * ahead take their ids from another key: a Protel rental under way may have begun on the day a history
 * rental began, and must not take that one's id.
 */
export function plannedBooking(
  seed: string,
  members: readonly string[],
  spaceId: string,
  start: number,
  stop: number,
  ids: 'history' | 'ahead' = 'history',
): Booking {
  return {
    id: historyBookingId(ids === 'history' ? seed : `${seed}/ahead`, spaceId, start),
    memberId: members[Math.floor(chance(seed, spaceId, start, 'member') * members.length)] as string,
    spaceId,
    start,
    end: stop,
    status: 'booked',
    checkedInAt: null,
    releasedAt: null,
    cancelledAt: null,
    createdAt: start - Math.round(chance(seed, spaceId, start, 'ahead') * 7 * 24) * HOUR_MS - HOUR_MS,
  };
}

/** Members of another house of the network who may come here as guests (population.ts `visitorsOf`). */
export interface Visitors {
  /** Their home site. */
  from: string;
  members: readonly string[];
}

/** Share of the bookings of a kind the house opens to another house's members that such a guest makes. */
export const GUEST_SHARE = 0.1;

/**
 * In a network, now and then a member of another house books here: a booking of a space whose kind the
 * site file's `guests` opens to the visitors' home site is, GUEST_SHARE of the time, theirs (picked by
 * chance on the booking's id, so the same on every run). Never a kind the house keeps for its own.
 */
export function giveToGuests(
  bookings: Booking[],
  site: SiteConfig,
  seed: string,
  visitors: readonly Visitors[],
): void {
  if (visitors.length === 0) return;
  const kinds = new Map(site.spaces.map((s) => [s.id, s.kind]));
  for (const b of bookings) {
    const kind = kinds.get(b.spaceId);
    if (kind === undefined || chance(seed, b.id, 'guest') >= GUEST_SHARE) continue;
    const open = visitors.filter((v) => v.members.length > 0 && openToGuests(site.guests, v.from, kind));
    const house = open[Math.floor(chance(seed, b.id, 'guest-house') * open.length)];
    if (!house) continue;
    b.memberId = house.members[
      Math.floor(chance(seed, b.id, 'guest-member') * house.members.length)
    ] as string;
  }
}
