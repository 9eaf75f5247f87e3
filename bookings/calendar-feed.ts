import { createHash, randomBytes } from 'node:crypto';
import ical, { ICalEventStatus } from 'ical-generator';
import type { SiteConfig } from '../site/site.ts';
import type { Booking } from './booking-store.ts';

/**
 * A member's bookings as an iCalendar feed. A phone's calendar app subscribes to a URL and sends no
 * cookie, so the URL itself carries a secret: a per-member calendar token of 256 random bits. Only its
 * SHA-256 is stored (a leaked database does not leak the feeds); issuing a new token revokes the old one;
 * the feed stops for a disabled member. The feed shows only that member's own bookings.
 */

/** base64url of 32 random bytes. */
export const CALENDAR_TOKEN_PATTERN = '^[A-Za-z0-9_-]{43}$';
const TOKEN = new RegExp(CALENDAR_TOKEN_PATTERN);

/** Whether the text has the shape of a calendar token (anything else is refused before any lookup). */
export function isCalendarToken(token: string): boolean {
  return TOKEN.test(token);
}

/** A new calendar token: 32 random bytes, base64url. */
export function newCalendarToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored of a token: its SHA-256. */
export function hashCalendarToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The members' calendar tokens, whatever database keeps them (`sqlite-calendar-tokens.ts`: the records). */
export interface CalendarTokens {
  /** A new token for the member (shown once); any earlier one stops working. */
  issue(memberId: string, now?: number): Promise<string>;
  /** Revokes the member's feed; true if there was one. */
  revoke(memberId: string): Promise<boolean>;
  /** When the member's current token was issued, if there is one. */
  issuedAt(memberId: string): Promise<number | undefined>;
  /** The member a token belongs to; undefined for a malformed, unknown or revoked token or a disabled member. */
  memberFor(token: string): Promise<string | undefined>;
}

/** The member's bookings as iCalendar text: active ones confirmed, cancelled and released ones cancelled. */
export function bookingsCalendar(
  site: SiteConfig,
  bookings: readonly Booking[],
  now: number = Date.now(),
): string {
  const spaces = new Map(site.spaces.map((s) => [s.id, s]));
  const floors = new Map(site.floors.map((f) => [f.id, f]));
  const calendar = ical({
    name: `${site.site.name}: bookings`,
    prodId: { company: 'WeSprint', product: 'WeSprint OS', language: 'EN' },
    // Calendar apps poll; an hour keeps a booking made on the desktop visible on the phone the same morning.
    ttl: 60 * 60,
  });
  for (const b of bookings) {
    const space = spaces.get(b.spaceId);
    const floor = space ? floors.get(space.floor) : undefined;
    const active = b.status === 'booked' || b.status === 'checked_in';
    calendar.createEvent({
      id: `${b.id}@${site.site.id}.wesprint`,
      start: new Date(b.start),
      end: new Date(b.end),
      stamp: new Date(now),
      created: new Date(b.createdAt),
      summary: space?.name ?? b.spaceId,
      location: [space?.name, floor?.name, site.site.name, site.site.address].filter(Boolean).join(', '),
      description: `Booking ${b.id} (${b.status.replace('_', ' ')})`,
      status: active ? ICalEventStatus.CONFIRMED : ICalEventStatus.CANCELLED,
    });
  }
  return calendar.toString();
}
