import { type BookingFacts, covers } from './unlock-rules.ts';

/**
 * Guest keys, as pure rules: who may give one, and when one opens. A key is a link that opens one door for a
 * guest without an account, only during the booking it was given for (from the unlock grace before its start
 * to its end: the window a member's own phone has), as long as the host could open it themselves. Every
 * input is handed in, so the route only gathers facts and carries out the verdict.
 */

export interface GuestKeyFacts {
  key: { spaceId: string; bookingId: string; revokedAt: number | null };
  /** The booking the key was given for, as it is now (undefined: gone). */
  booking: BookingFacts | undefined;
  /** The host is still an active member (a disabled member's keys die with their own access). */
  hostActive: boolean;
  space: { id: string; lock?: string } | undefined;
  /** Whether the space's lock is a device of this site. */
  lockInstalled: boolean;
  now: number;
  graceBeforeMs: number;
}

export type GuestKeyDenial =
  | 'revoked'
  | 'host_gone'
  | 'booking_cancelled'
  | 'no_lock'
  | 'not_yet'
  | 'expired';

export type GuestKeyVerdict =
  | { granted: true; lock: string; booking: string }
  | { granted: false; reason: GuestKeyDenial };

/** When a key for this booking opens: [start - grace, end). */
export function keyWindow(booking: { start: number; end: number }, graceBeforeMs: number) {
  return { opensAt: booking.start - graceBeforeMs, closesAt: booking.end };
}

const live = (b: BookingFacts) => b.status === 'booked' || b.status === 'checked_in';

/**
 * The order is part of the contract: a revoked key says so whatever the time; then a host who is gone, a
 * booking cancelled or released (or moved to another room), a door without a lock; only then the time:
 * before the window `not_yet`, after it `expired`.
 */
export function decideGuestKey(f: GuestKeyFacts): GuestKeyVerdict {
  if (f.key.revokedAt !== null) return { granted: false, reason: 'revoked' };
  if (!f.hostActive) return { granted: false, reason: 'host_gone' };
  const b = f.booking;
  if (!b || !live(b) || b.id !== f.key.bookingId || b.spaceId !== f.key.spaceId)
    return { granted: false, reason: 'booking_cancelled' };
  const lock = f.space?.lock;
  if (!lock || !f.lockInstalled || f.space?.id !== f.key.spaceId)
    return { granted: false, reason: 'no_lock' };
  if (covers(b, f.now, f.graceBeforeMs)) return { granted: true, lock, booking: b.id };
  return { granted: false, reason: f.now < b.start ? 'not_yet' : 'expired' };
}

export interface GiveFacts {
  host: { id: string };
  /** The booking the key is to open for. */
  booking: BookingFacts | undefined;
  /** The host organises an event on this booking (its own booking, or a date of its series). */
  organisesEventOnIt: boolean;
  space: { id: string; lock?: string } | undefined;
  lockInstalled: boolean;
  now: number;
}

export type GiveRefusal = 'not_your_booking' | 'booking_over' | 'no_lock';

/**
 * A member gives a key only for a booking of their own, or for a date of an event they organise; a room the
 * host did not book is refused like a booking that does not exist (`not_your_booking`), whoever the host is:
 * staff open doors themselves, they do not hand out other people's rooms. A booking already over, cancelled
 * or released takes no new key; nor does a room without a lock.
 */
export function mayGiveGuestKey(f: GiveFacts): { ok: true } | { ok: false; reason: GiveRefusal } {
  const b = f.booking;
  if (!b || (b.memberId !== f.host.id && !f.organisesEventOnIt))
    return { ok: false, reason: 'not_your_booking' };
  if (!live(b) || f.now >= b.end) return { ok: false, reason: 'booking_over' };
  if (!f.space?.lock || !f.lockInstalled) return { ok: false, reason: 'no_lock' };
  return { ok: true };
}
