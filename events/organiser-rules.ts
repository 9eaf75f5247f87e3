import type { EventDate, EventDetails } from './event-rules.ts';
import { attendanceOpen, signUpOpen } from './signup-rules.ts';

/**
 * What an event's organiser sees of their own events, as pure rules: each event with its dates in a window
 * around now, each date with its places taken and waiting (counts only: never who), whether it still takes
 * sign-ups, and whether its count of who came may be entered (once it has begun). The route gathers the
 * facts; the page only shows them.
 */

/** How far back an organiser's dates are shown: long enough to enter who came after a month's last date. */
export const ORGANISER_PAST_MS = 31 * 86_400_000;
/** How far ahead: the public /events page's 60 days. */
export const ORGANISER_AHEAD_MS = 60 * 86_400_000;

/** One date of an organiser's event, with its booking's state and who booked it (the guest-key rule asks). */
export interface OrganisedDate extends EventDate {
  status: 'booked' | 'checked_in' | 'released' | 'cancelled';
  bookedBy: string;
}

export interface OrganisedEvent extends EventDetails {
  id: string;
  bookingId: string | null;
  seriesId: string | null;
}

/** What is kept of a date: places, never people. */
export interface KeptCounts {
  eventId: string;
  dateId: string;
  confirmed: number;
  waiting: number;
  attended: number | null;
}

export interface OrganiserDate {
  date: OrganisedDate;
  taken: number;
  waiting: number;
  /** Places left; null: no capacity kept. */
  left: number | null;
  attended: number | null;
  /** The date still takes sign-ups (it has not begun). */
  signUpOpen: boolean;
  /** The organiser may enter (or correct) how many came: the date has begun. */
  countOpen: boolean;
}

/** The window of an organiser's dates around `now`. */
export function organiserWindow(now: number): { start: number; end: number } {
  return { start: now - ORGANISER_PAST_MS, end: now + ORGANISER_AHEAD_MS };
}

/**
 * Each event with its dates (by start) and their counts; the events in the order given (newest first from the
 * store). Dates of events not among `events` and counts of dates not among `dates` are left out.
 */
export function organiserView<E extends OrganisedEvent>(
  events: readonly E[],
  dates: readonly OrganisedDate[],
  counts: readonly KeptCounts[],
  now: number,
): { event: E; dates: OrganiserDate[] }[] {
  const kept = new Map(counts.map((c) => [`${c.eventId} ${c.dateId}`, c]));
  const byEvent = new Map(events.map((e) => [e.id, [] as OrganiserDate[]]));
  for (const date of [...dates].sort((a, b) => a.start - b.start)) {
    const list = byEvent.get(date.eventId);
    if (!list) continue;
    const c = kept.get(`${date.eventId} ${date.dateId}`);
    const taken = c?.confirmed ?? 0;
    list.push({
      date,
      taken,
      waiting: c?.waiting ?? 0,
      left: date.capacity === null ? null : Math.max(0, date.capacity - taken),
      attended: c?.attended ?? null,
      signUpOpen: signUpOpen(date, now),
      countOpen: attendanceOpen(date, now),
    });
  }
  return events.map((event) => ({ event, dates: byEvent.get(event.id) ?? [] }));
}
