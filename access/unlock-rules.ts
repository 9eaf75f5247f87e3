import {
  type GuestRule,
  homeSiteOf,
  isGuestAt,
  openToGuests,
  type Role,
  roleAt,
  type SiteStanding,
} from '../access/roles.ts';

/**
 * Who may open which door, and how often they may try. Pure: every input (the booking picture, the time) is
 * handed in, so each rule is tested on its own and the route only gathers facts and carries out the verdict.
 */

/** What the rules need of a booking (bookings/booking-store.ts Booking fits). */
export interface BookingFacts {
  id: string;
  memberId: string;
  spaceId: string;
  start: number;
  end: number;
  status: 'booked' | 'checked_in' | 'released' | 'cancelled';
}

export type UnlockDenial =
  | 'no_lock'
  | 'not_bookable'
  | 'not_open_to_guests'
  | 'not_your_space'
  | 'outside_booking'
  | 'no_booking';
export type UnlockGrant = 'booking' | 'staff';

export type UnlockVerdict =
  | { granted: true; reason: UnlockGrant; lock: string; booking: string | null }
  | { granted: false; reason: UnlockDenial };

export interface UnlockFacts {
  /** `role` is the role in the member's home site; in a network `homeSite` and `siteRoles` say where. */
  member: { id: string } & SiteStanding;
  space: { id: string; bookable?: boolean; lock?: string; kind?: string };
  /**
   * The site of the space, in a network (SITES_DIR): the member's role there decides (roles are per site),
   * and a guest opens only what its `guests` rules open to their home site. Absent: the one site.
   */
  site?: { id: string; installationHome: string; guests?: readonly GuestRule[] };
  /** Whether the space's lock is a device of this site (a lock named in the site file but not installed is no lock). */
  lockInstalled: boolean;
  /**
   * Bookings of this space around now (any member; non-cancelled, non-released), e.g. BookingStore.spaceBookings
   * over the last and next day. A booking covering now always overlaps such a window.
   */
  bookings: readonly BookingFacts[];
  now: number;
  /** A member may open this long before the booking starts. */
  graceBeforeMs: number;
}

export const DEFAULT_UNLOCK_GRACE_MIN = 10;
/** How far around now the route looks for bookings, to tell "outside your booking" from "no booking". */
export const BOOKING_CONTEXT_MS = 24 * 3_600_000;

/** Roles that open any lock of the building (the facility manager on a round, the admin). */
export const OPENS_ANY_LOCK: readonly Role[] = ['facility', 'admin'];

const live = (b: BookingFacts) => b.status === 'booked' || b.status === 'checked_in';

/** [start - grace, end) contains now: the same window as BookingStore.coveringBooking. */
export function covers(booking: BookingFacts, now: number, graceBeforeMs: number): boolean {
  return live(booking) && booking.start - graceBeforeMs <= now && now < booking.end;
}

/**
 * The order of the checks matters and is part of the contract:
 *  1. no lock on the space: nothing to open, for anyone;
 *  2. facility and admin open any lock;
 *  3. a space that cannot be booked is not opened for members;
 *     (in a network: 2. is the role in the space's site, and a guest from another site is refused here when
 *     the site's `guests` rules do not open this kind of space to their home site: `not_open_to_guests`)
 *  4. the member's own booking covering now (with grace) opens it;
 *  5. someone else's booking covering now: `not_your_space` (more useful than telling them about their own
 *     booking at another time: the room is in use);
 *  6. the member has a booking of this space, just not now: `outside_booking`;
 *  7. otherwise `no_booking`.
 */
export function decideUnlock(f: UnlockFacts): UnlockVerdict {
  const lock = f.space.lock;
  if (!lock || !f.lockInstalled) return { granted: false, reason: 'no_lock' };
  const site = f.site;
  const role: Role = site ? roleAt(f.member, site.id, site.installationHome) : f.member.role;
  if (OPENS_ANY_LOCK.includes(role)) return { granted: true, reason: 'staff', lock, booking: null };
  if (f.space.bookable !== true) return { granted: false, reason: 'not_bookable' };
  if (
    site &&
    isGuestAt(f.member, site.id, site.installationHome) &&
    !openToGuests(site.guests, homeSiteOf(f.member, site.installationHome), f.space.kind ?? '')
  )
    return { granted: false, reason: 'not_open_to_guests' };
  const ofSpace = f.bookings.filter((b) => b.spaceId === f.space.id && live(b));
  const mine = ofSpace.filter((b) => b.memberId === f.member.id);
  const covering = mine.find((b) => covers(b, f.now, f.graceBeforeMs));
  if (covering) return { granted: true, reason: 'booking', lock, booking: covering.id };
  if (ofSpace.some((b) => b.memberId !== f.member.id && covers(b, f.now, f.graceBeforeMs)))
    return { granted: false, reason: 'not_your_space' };
  if (mine.length > 0) return { granted: false, reason: 'outside_booking' };
  return { granted: false, reason: 'no_booking' };
}

// ---------------------------------------------------------------------------------------------------------
// Integration tokens (Node-RED's "command out"): a token has no role and no bookings of its own. It opens a
// door only with the scope unlock:write (the route's declaration) and only a door its list names, and only
// while the door is meant to be in use: in the space's opening hours, or while a booking of the space covers
// now (an evening event past closing), as the door alert reads it (alerts/alert-rules.ts). So a flow gone
// wrong, or a stolen token, cannot open a room at night that nobody booked.

export type TokenUnlockDenial = 'no_lock' | 'not_on_token' | 'outside_opening_hours';
export type TokenUnlockGrant = 'opening_hours' | 'booking';

export type TokenUnlockVerdict =
  | { granted: true; reason: TokenUnlockGrant; lock: string; booking: string | null }
  | { granted: false; reason: TokenUnlockDenial };

export interface TokenUnlockFacts {
  /** The doors the token names: space ids or lock device ids (`wesprint tokens create --locks`). */
  token: { locks: readonly string[] };
  space: { id: string; lock?: string };
  lockInstalled: boolean;
  /** The space's opening hours (in site time) cover now; a space without opening hours is always open. */
  openNow: boolean;
  /** Bookings of this space around now, as for a member (any member's). */
  bookings: readonly BookingFacts[];
  now: number;
  graceBeforeMs: number;
}

/** A token's list names this door: the space itself or the lock that opens it. */
export function tokenNamesDoor(locks: readonly string[], space: { id: string; lock?: string }): boolean {
  return locks.includes(space.id) || (space.lock !== undefined && locks.includes(space.lock));
}

/**
 * In this order: no lock, nothing to open; a door the token does not name (it learns nothing of that room's
 * hours or bookings); in the opening hours; outside them, a live booking of the space covering now (from the
 * grace before its start, as for its member); otherwise `outside_opening_hours`.
 */
export function decideTokenUnlock(f: TokenUnlockFacts): TokenUnlockVerdict {
  const lock = f.space.lock;
  if (!lock || !f.lockInstalled) return { granted: false, reason: 'no_lock' };
  if (!tokenNamesDoor(f.token.locks, f.space)) return { granted: false, reason: 'not_on_token' };
  if (f.openNow) return { granted: true, reason: 'opening_hours', lock, booking: null };
  const booked = f.bookings.find((b) => b.spaceId === f.space.id && covers(b, f.now, f.graceBeforeMs));
  if (booked) return { granted: true, reason: 'booking', lock, booking: booked.id };
  return { granted: false, reason: 'outside_opening_hours' };
}

/**
 * The names of a token's list that are no door of the site: neither a space with a lock nor the lock of a
 * space. `wesprint tokens create --locks` refuses them, so a typo is said at once rather than opening nothing.
 */
export function unknownDoors(
  names: readonly string[],
  spaces: readonly { id: string; lock?: string | undefined }[],
): string[] {
  const doors = new Set<string>();
  for (const s of spaces) {
    if (s.lock === undefined) continue;
    doors.add(s.id);
    doors.add(s.lock);
  }
  return names.filter((n) => !doors.has(n));
}

// ---------------------------------------------------------------------------------------------------------
// Rate limit: a token bucket per caller (a member or an integration token, each counted apart). A door
// does not need more than a few taps; a script does.

export interface RateLimit {
  /** Attempts allowed in a burst. */
  burst: number;
  /** Tokens regained per minute. */
  perMinute: number;
}

export const DEFAULT_UNLOCK_RATE: RateLimit = { burst: 10, perMinute: 10 };

export interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type TakeResult =
  | { allowed: true; bucket: Bucket }
  | { allowed: false; bucket: Bucket; retryAfterMs: number };

/** Takes one token at `now`, refilling for the time since the bucket was last touched. */
export function takeToken(bucket: Bucket | undefined, now: number, limit: RateLimit): TakeResult {
  const refillPerMs = limit.perMinute / 60_000;
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) : 0;
  const tokens = bucket ? Math.min(limit.burst, bucket.tokens + elapsed * refillPerMs) : limit.burst;
  if (tokens >= 1) return { allowed: true, bucket: { tokens: tokens - 1, updatedAt: now } };
  return {
    allowed: false,
    bucket: { tokens, updatedAt: now },
    retryAfterMs: Math.ceil((1 - tokens) / refillPerMs),
  };
}

/**
 * Buckets of all callers, in memory (one API process; a cluster would keep them in a shared store).
 * A bucket that would be full again is forgotten, so the map holds only callers who asked recently.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #limit: RateLimit;

  constructor(limit: RateLimit = DEFAULT_UNLOCK_RATE) {
    if (!(limit.burst >= 1 && limit.perMinute > 0))
      throw new Error('rate limit needs burst >= 1 and perMinute > 0');
    this.#limit = limit;
  }

  take(caller: string, now: number): TakeResult {
    const result = takeToken(this.#buckets.get(caller), now, this.#limit);
    this.#buckets.set(caller, result.bucket);
    if (this.#buckets.size > 1000) this.#forgetFull(now);
    return result;
  }

  #forgetFull(now: number): void {
    const fullAfterMs = (this.#limit.burst / this.#limit.perMinute) * 60_000;
    for (const [member, bucket] of this.#buckets) {
      if (now - bucket.updatedAt >= fullAfterMs) this.#buckets.delete(member);
    }
  }

  get size(): number {
    return this.#buckets.size;
  }
}
