import { addDays, fromLocal, type LocalDate, toLocal } from '../site/local-time.ts';

/**
 * Public events, as pure rules: what a new event must carry, and which dates are shown to whom. An event's
 * dates are the active dates of the booking or booking series it sits on (bookings/), so an event never
 * holds a room the bookings do not.
 */

export type EventVisibility = 'public' | 'members';

export const MAX_TITLE = 120;
export const MAX_DESCRIPTION = 2000;

export interface EventDetails {
  title: string;
  description: string;
  /** Places for visitors; null: no count kept. */
  capacity: number | null;
  visibility: EventVisibility;
}

/** One date of an event, as the events page, the lobby and the public calendar show it. */
export interface EventDate extends EventDetails {
  eventId: string;
  /** The date's booking (each date of an event is one booking of its booking or series). */
  dateId: string;
  /** The house the date is in: its booking's site (null only for a booking from before bookings had one). */
  site: string | null;
  spaceId: string;
  start: number;
  end: number;
  /** The date's place in its series (YYYY-MM-DDTHH:MM, site time), null for a single booking. */
  occurrence: string | null;
}

export type DetailsVerdict = { ok: true; details: EventDetails } | { ok: false; message: string };

/** Trims and checks the details a person typed; a control character or an empty title is refused. */
export function checkEventDetails(input: EventDetails): DetailsVerdict {
  const title = input.title.trim();
  const description = input.description.trim();
  if (title.length === 0) return { ok: false, message: 'an event needs a title' };
  if (title.length > MAX_TITLE) return { ok: false, message: `a title has at most ${MAX_TITLE} characters` };
  if (description.length > MAX_DESCRIPTION)
    return { ok: false, message: `a description has at most ${MAX_DESCRIPTION} characters` };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(title + description))
    return { ok: false, message: 'control characters are not allowed' };
  if (
    input.capacity !== null &&
    (!Number.isInteger(input.capacity) || input.capacity < 1 || input.capacity > 10_000)
  )
    return { ok: false, message: 'the capacity is a whole number of places from 1 to 10000, or none' };
  return { ok: true, details: { ...input, title, description } };
}

/** Who sees which dates: anyone the public ones; a signed-in member the members-only ones too. */
export function visibleTo(dates: readonly EventDate[], signedIn: boolean): EventDate[] {
  return dates.filter((d) => signedIn || d.visibility === 'public').sort((a, b) => a.start - b.start);
}

/** The site-local day around `now`: [midnight, next midnight). */
export function localDay(now: number, timeZone: string): { start: number; end: number } {
  const l = toLocal(now, timeZone);
  const date: LocalDate = { year: l.year, month: l.month, day: l.day };
  return { start: fromLocal(date, 0, timeZone), end: fromLocal(addDays(date, 1), 0, timeZone) };
}

/**
 * For the lobby: today's public dates in one space that have not ended, by start ("Heute im Diskursraum: …").
 */
export function todayInSpace(
  dates: readonly EventDate[],
  spaceId: string,
  now: number,
  timeZone: string,
): EventDate[] {
  const day = localDay(now, timeZone);
  return visibleTo(dates, false).filter(
    (d) => d.spaceId === spaceId && d.end > now && d.start < day.end && d.end > day.start,
  );
}
