import { createHash, randomBytes } from 'node:crypto';
import ical, { ICalEventStatus } from 'ical-generator';
import { type LocalDate, toLocal, utcOffsetMs } from '../site/local-time.ts';
import type { SiteConfig } from '../site/site.ts';
import type { Booking, BookingSeries } from './booking-store.ts';
import { expandSeries, nthWeekdayOfMonth, WEEKDAY_CODES } from './series-rules.ts';

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

/**
 * The member's bookings as iCalendar text: active ones confirmed, cancelled and released ones cancelled. A
 * series (its rule in `series`) is one recurring VEVENT in the site's zone (DTSTART;TZID, RRULE), its dates
 * with no active booking (cancelled or skipped as taken) as EXDATE, and each date moved to another time as a
 * VEVENT of the same UID with its RECURRENCE-ID. The zone's VTIMEZONE comes with it.
 */
export function bookingsCalendar(
  site: SiteConfig,
  bookings: readonly Booking[],
  now: number = Date.now(),
  series: readonly BookingSeries[] = [],
  /** In a network: the member's bookings in the other houses (single bookings), each with its house. */
  elsewhere: readonly { site: SiteConfig; bookings: readonly Booking[] }[] = [],
): string {
  const calendar = ical({
    name: `${site.site.name}: bookings`,
    prodId: { company: 'WeSprint', product: 'WeSprint OS', language: 'EN' },
    // Calendar apps poll; an hour keeps a booking made on the desktop visible on the phone the same morning.
    ttl: 60 * 60,
    // Only events with a zone (the series) name one; single bookings stay in UTC.
    timezone: { name: null, generator: (zone) => vtimezone(zone, toLocal(now, zone).year) },
  });
  const placesIn = (house: SiteConfig) => {
    const spaces = new Map(house.spaces.map((s) => [s.id, s]));
    const floors = new Map(house.floors.map((f) => [f.id, f]));
    return (spaceId: string) => {
      const space = spaces.get(spaceId);
      const floor = space ? floors.get(space.floor) : undefined;
      return {
        summary: space?.name ?? spaceId,
        location: [space?.name, floor?.name, house.site.name, house.site.address].filter(Boolean).join(', '),
      };
    };
  };
  const where = placesIn(site);
  const isActive = (b: Booking) => b.status === 'booked' || b.status === 'checked_in';
  const single = (house: SiteConfig, b: Booking, place: ReturnType<typeof placesIn>) =>
    calendar.createEvent({
      id: `${b.id}@${house.site.id}.wesprint`,
      start: new Date(b.start),
      end: new Date(b.end),
      stamp: new Date(now),
      created: new Date(b.createdAt),
      ...place(b.spaceId),
      description: `Booking ${b.id} (${b.status.replace('_', ' ')})`,
      status: isActive(b) ? ICalEventStatus.CONFIRMED : ICalEventStatus.CANCELLED,
    });
  for (const other of elsewhere) {
    const place = placesIn(other.site);
    for (const b of other.bookings) single(other.site, b, place);
  }
  const seriesById = new Map(series.map((s) => [s.id, s]));
  const datesOf = new Map<string, Booking[]>();
  for (const b of bookings) {
    if (b.seriesId && seriesById.has(b.seriesId)) {
      const dates = datesOf.get(b.seriesId) ?? [];
      dates.push(b);
      datesOf.set(b.seriesId, dates);
      continue;
    }
    single(site, b, where);
  }
  for (const [seriesId, dates] of datesOf) {
    const rule = seriesById.get(seriesId) as BookingSeries;
    const occurrences = expandSeries(rule);
    const first = occurrences[0];
    if (!first) continue;
    const byOccurrence = new Map(dates.filter((b) => b.status !== 'cancelled').map((b) => [b.occurrence, b]));
    const excluded = occurrences.filter((o) => !byOccurrence.has(o.local));
    const uid = `${seriesId}@${site.site.id}.wesprint`;
    const zone = rule.timeZone;
    const lines = [`RRULE:${rule.rrule}`];
    if (excluded.length > 0)
      lines.push(`EXDATE;TZID=${zone}:${excluded.map((o) => localStamp(o.local)).join(',')}`);
    const anyLeft = excluded.length < occurrences.length && rule.cancelledAt === null;
    calendar.createEvent({
      id: uid,
      // Local date-times with the zone: a Date would be written with its UTC fields under the TZID.
      start: localDateTime(first.start, zone),
      end: localDateTime(first.end, zone),
      timezone: zone,
      repeating: lines.join('\r\n'),
      stamp: new Date(now),
      created: new Date(rule.createdAt),
      ...where(rule.spaceId),
      description: `Booking series ${seriesId}`,
      status: anyLeft ? ICalEventStatus.CONFIRMED : ICalEventStatus.CANCELLED,
    });
    for (const o of occurrences) {
      const b = byOccurrence.get(o.local);
      if (!b || (b.start === o.start && b.end === o.end)) continue;
      calendar.createEvent({
        id: uid,
        recurrenceId: localDateTime(o.start, zone),
        start: localDateTime(b.start, zone),
        end: localDateTime(b.end, zone),
        timezone: zone,
        stamp: new Date(now),
        created: new Date(b.createdAt),
        ...where(b.spaceId),
        description: `Booking ${b.id}, moved, of series ${seriesId}`,
        status: isActive(b) ? ICalEventStatus.CONFIRMED : ICalEventStatus.CANCELLED,
      });
    }
  }
  return calendar.toString();
}

/** An instant as the zone's wall clock, `YYYY-MM-DDTHH:MM:00`, for an event written with TZID. */
function localDateTime(at: number, zone: string): string {
  const l = toLocal(at, zone);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${l.year}-${p(l.month)}-${p(l.day)}T${p(l.hour)}:${p(l.minute)}:00`;
}

/** `2027-03-19T11:00` -> `20270319T110000` (a local DATE-TIME with TZID). */
function localStamp(local: string): string {
  return `${local.replace(/[-:]/g, '')}00`;
}

const offsetText = (ms: number) => {
  const minutes = Math.round(ms / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
};

/**
 * The VTIMEZONE of a zone as its rules stand in `year`, derived from Intl: each change of offset in that year
 * becomes a yearly rule on its nth (or last) weekday of the month, at the local time it happens. A zone
 * without changes gets one STANDARD part. Calendar apps use it to place DTSTART;TZID=… and the RRULE dates.
 */
export function vtimezone(zone: string, year: number): string {
  const changes: { at: number; from: number; to: number }[] = [];
  const HOUR = 3_600_000;
  const offsetAt = (at: number) => utcOffsetMs(at, zone);
  // Day by day, then hour by hour within a day whose offset changed: ~400 questions to Intl, not 8,760.
  for (let day = Date.UTC(year, 0, 1); day < Date.UTC(year + 1, 0, 1); day += 24 * HOUR) {
    if (offsetAt(day) === offsetAt(day + 24 * HOUR)) continue;
    for (let at = day; at < day + 24 * HOUR; at += HOUR) {
      const [from, to] = [offsetAt(at), offsetAt(at + HOUR)];
      if (from !== to) changes.push({ at: at + HOUR, from, to });
    }
  }
  const offset = offsetAt(Date.UTC(year, 0, 1));
  const lines = ['BEGIN:VTIMEZONE', `TZID:${zone}`];
  if (changes.length === 0) {
    lines.push(
      'BEGIN:STANDARD',
      'DTSTART:19700101T000000',
      `TZOFFSETFROM:${offsetText(offset)}`,
      `TZOFFSETTO:${offsetText(offset)}`,
      'END:STANDARD',
    );
  }
  for (const change of changes) {
    // The wall-clock time at which the change happens, read on the clock before it.
    const wall = new Date(change.at + change.from);
    const date: LocalDate = { year, month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
    const weekday = wall.getUTCDay() === 0 ? 7 : wall.getUTCDay();
    const lastDay = new Date(Date.UTC(year, date.month, 0)).getUTCDate();
    const ordinal = date.day + 7 > lastDay ? -1 : Math.ceil(date.day / 7);
    const first = nthWeekdayOfMonth(1970, date.month, ordinal, weekday);
    const kind = change.to > change.from ? 'DAYLIGHT' : 'STANDARD';
    const time = `${String(wall.getUTCHours()).padStart(2, '0')}${String(wall.getUTCMinutes()).padStart(2, '0')}00`;
    lines.push(
      `BEGIN:${kind}`,
      `DTSTART:1970${String(date.month).padStart(2, '0')}${String(first.day).padStart(2, '0')}T${time}`,
      `TZOFFSETFROM:${offsetText(change.from)}`,
      `TZOFFSETTO:${offsetText(change.to)}`,
      `RRULE:FREQ=YEARLY;BYMONTH=${date.month};BYDAY=${ordinal}${WEEKDAY_CODES[weekday - 1]}`,
      `END:${kind}`,
    );
  }
  lines.push('END:VTIMEZONE');
  return lines.join('\r\n');
}
