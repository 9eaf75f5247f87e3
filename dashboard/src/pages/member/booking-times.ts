import { addDays, fromLocal, type LocalDate, toLocal } from '../../../../site/local-time.ts';

/**
 * The member's calendar arithmetic, in the site's time zone (a member travelling with a phone set to
 * another zone still books the building's 09:00). Pure: the API says what is free, these functions only
 * turn it into the choices a phone shows. Bookings start and end on a quarter hour (the API refuses
 * anything else), so every choice offered here is one.
 */

export interface Interval {
  start: number;
  end: number;
}

export const QUARTER_HOUR_MS = 15 * 60_000;
export const HOUR_MS = 60 * 60_000;
export const DAY_MS = 24 * HOUR_MS;

/** The booking kinds a member can choose from, in the order the page offers them. */
export const KIND_ORDER = ['desk', 'protel', 'meeting_room', 'office', 'hall'] as const;

const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-11-23": the site-local calendar date of an instant (the value of a date input). */
export function localDayKey(at: number, timeZone: string): string {
  const local = toLocal(at, timeZone);
  return `${local.year}-${pad(local.month)}-${pad(local.day)}`;
}

function parseDayKey(key: string): LocalDate | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key);
  if (!match) return null;
  return { year: Number(match[1]), month: Number(match[2]), day: Number(match[3]) };
}

/** The instants a site-local day runs between (23 or 25 hours on the DST days); null for a malformed key. */
export function dayRange(key: string, timeZone: string): Interval | null {
  const date = parseDayKey(key);
  if (!date) return null;
  return { start: fromLocal(date, 0, timeZone), end: fromLocal(addDays(date, 1), 0, timeZone) };
}

/** The parts of `intervals` inside `range`, empty parts dropped. */
export function clip(intervals: readonly Interval[], range: Interval): Interval[] {
  return intervals
    .map((i) => ({ start: Math.max(i.start, range.start), end: Math.min(i.end, range.end) }))
    .filter((i) => i.end > i.start);
}

/**
 * The free time as a booking being moved sees it: its own time counts as free too, so it can move by a
 * quarter hour into time it already holds. Touching or overlapping intervals become one.
 */
export function freeWithOwn(free: readonly Interval[], own: Interval): Interval[] {
  const merged: Interval[] = [];
  for (const i of [...free, own].sort((a, b) => a.start - b.start)) {
    const last = merged.at(-1);
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else merged.push({ ...i });
  }
  return merged;
}

export function floorToQuarter(at: number): number {
  return Math.floor(at / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
}

function ceilToQuarter(at: number): number {
  return Math.ceil(at / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
}

/**
 * Where a booking may start on `day`: every quarter hour inside a free interval that leaves at least a
 * quarter hour before the interval ends, not before the quarter hour that is running now (the API accepts
 * that one, so a member at the door can book "from now").
 */
export function startChoices(free: readonly Interval[], day: Interval, now: number): number[] {
  const earliest = Math.max(day.start, floorToQuarter(now));
  const starts: number[] = [];
  for (const interval of clip(free, { start: earliest, end: day.end })) {
    for (let t = ceilToQuarter(interval.start); t + QUARTER_HOUR_MS <= interval.end; t += QUARTER_HOUR_MS) {
      starts.push(t);
    }
  }
  return starts;
}

/**
 * Where a booking starting at `start` may end: inside the free interval that holds the start, and no
 * longer than the space allows. Quarter hours for the first 12 hours, whole hours up to a day, then whole
 * days (Protel rooms are booked for weeks; a list of every quarter hour of eight weeks helps nobody).
 */
export function endChoices(start: number, free: readonly Interval[], maxLengthMs: number): number[] {
  const holding = free.find((i) => i.start <= start && start < i.end);
  if (!holding) return [];
  const last = Math.min(holding.end, start + maxLengthMs);
  const ends: number[] = [];
  for (let t = start + QUARTER_HOUR_MS; t <= last; ) {
    ends.push(t);
    const length = t - start;
    t += length < 12 * HOUR_MS ? QUARTER_HOUR_MS : length < DAY_MS ? HOUR_MS : DAY_MS;
  }
  // The end of the free time itself is always offered (a desk until closing time).
  if (ends.at(-1) !== last && floorToQuarter(last) === last && last > start) ends.push(last);
  return ends;
}

/** A default length per kind: a desk or room for two hours, a Protel room or office for a day. */
export function suggestedEnd(
  start: number,
  ends: readonly number[],
  maxLengthMs: number,
): number | undefined {
  const wanted = start + (maxLengthMs > DAY_MS ? DAY_MS : 2 * HOUR_MS);
  const fitting = ends.filter((e) => e <= wanted);
  return fitting.at(-1) ?? ends[0];
}

export interface BookingTimes {
  start: number;
  end: number;
  status: string;
}

/** Still counts for the member: not cancelled or released, and not over. */
export function isCurrent(booking: BookingTimes, now: number): boolean {
  return (booking.status === 'booked' || booking.status === 'checked_in') && booking.end > now;
}

/**
 * The door may be opened: the booking covers now, or starts within the grace before it (the API's rule;
 * the API decides, this only decides whether the button is offered).
 */
export function mayUnlockNow(booking: BookingTimes, now: number, graceBeforeMs: number): boolean {
  return isCurrent(booking, now) && booking.start - graceBeforeMs <= now;
}

/** Today's bookings (touching today in the site's zone) and the later ones, each by start. */
export function splitByDay<T extends BookingTimes>(
  bookings: readonly T[],
  now: number,
  timeZone: string,
): { today: T[]; upcoming: T[] } {
  const today = dayRange(localDayKey(now, timeZone), timeZone);
  const current = bookings.filter((b) => isCurrent(b, now)).sort((a, b) => a.start - b.start);
  if (!today) return { today: [], upcoming: current };
  return {
    today: current.filter((b) => b.start < today.end),
    upcoming: current.filter((b) => b.start >= today.end),
  };
}
