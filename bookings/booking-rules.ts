import { type GuestRule, openToGuests } from '../access/roles.ts';
import { addDays, fromLocal, isoWeekday, type LocalDate, minuteOfDay, toLocal } from '../site/local-time.ts';
import type { SpaceConfig } from '../site/site.ts';

/**
 * What makes a booking request acceptable, as pure functions of the space (from the site file), the
 * requested interval and the time now. No I/O: the store enforces the one rule that needs the records
 * (no overlap), the API turns a refusal into a 4xx with the reason code.
 */

/** Half-open interval of epoch ms: [start, end). */
export interface Interval {
  start: number;
  end: number;
}

export const MINUTE_MS = 60_000;
export const QUARTER_HOUR_MS = 15 * MINUTE_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;

export const BOOKABLE_KINDS = ['desk', 'meeting_room', 'protel', 'office', 'hall'] as const;
export type BookableKind = (typeof BOOKABLE_KINDS)[number];

export interface BookingPolicy {
  /** A start this far in the past is still accepted, so the quarter hour that has just begun can be booked. */
  pastToleranceMs: number;
  /** How far ahead a booking may start. */
  maxAheadMs: number;
  /** Longest booking per kind: desks and rooms by the hour up to a day, Protel rooms and offices for weeks. */
  maxLengthMs: Record<BookableKind, number>;
}

export const DEFAULT_POLICY: BookingPolicy = {
  pastToleranceMs: QUARTER_HOUR_MS,
  maxAheadMs: 365 * DAY_MS,
  maxLengthMs: {
    desk: DAY_MS,
    meeting_room: DAY_MS,
    hall: DAY_MS,
    protel: 8 * WEEK_MS,
    office: 8 * WEEK_MS,
  },
};

/**
 * Why a booking is refused. Each code is stable (the dashboard maps it to its German and English text);
 * `status` is the HTTP status the API answers with.
 */
export const BOOKING_REFUSALS = {
  invalid_time: { status: 400, text: 'start and end must be ISO 8601 date-times with a time zone' },
  space_not_bookable: { status: 422, text: 'this space cannot be booked' },
  not_open_to_guests: {
    status: 403,
    text: 'this house does not open this kind of space to members of yours',
  },
  end_not_after_start: { status: 422, text: 'the end must be after the start' },
  not_on_quarter_hour: {
    status: 422,
    text: 'start and end must be on a whole quarter hour (:00, :15, :30, :45)',
  },
  start_in_past: { status: 422, text: 'the start is in the past' },
  too_far_ahead: { status: 422, text: 'the start is too far in the future' },
  too_long: { status: 422, text: 'the booking is longer than this kind of space allows' },
  outside_opening_hours: { status: 422, text: 'the booking is outside the opening hours of the space' },
  slot_taken: { status: 409, text: 'the space is already booked for part of this time' },
} as const;

export type BookingRefusalCode = keyof typeof BOOKING_REFUSALS;

export type RuleVerdict = { ok: true } | { ok: false; reason: BookingRefusalCode; message: string };

function refuse(reason: BookingRefusalCode, detail?: string): RuleVerdict {
  const text = BOOKING_REFUSALS[reason].text;
  return { ok: false, reason, message: detail ? `${text}: ${detail}` : text };
}

export function isBookable(space: SpaceConfig): boolean {
  return space.bookable === true && (BOOKABLE_KINDS as readonly string[]).includes(space.kind);
}

/** The one overlap rule: [a.start, a.end) ∩ [b.start, b.end) ≠ ∅. Touching intervals do not overlap. */
export function overlaps(a: Interval, b: Interval): boolean {
  return a.start < b.end && b.start < a.end;
}

function describeLength(ms: number): string {
  if (ms % WEEK_MS === 0 && ms >= WEEK_MS) return `${ms / WEEK_MS} week${ms === WEEK_MS ? '' : 's'}`;
  if (ms % DAY_MS === 0) return `${ms / DAY_MS} day${ms === DAY_MS ? '' : 's'}`;
  return `${Math.round(ms / MINUTE_MS)} minutes`;
}

/**
 * Whether `request` may be booked on `space` at `now`, apart from overlap with other bookings.
 * The first broken rule is reported, in the order a person would fix them.
 */
export function checkBookingRequest(
  space: SpaceConfig,
  request: Interval,
  now: number,
  timeZone: string,
  policy: BookingPolicy = DEFAULT_POLICY,
  options: {
    /** Opening hours bind members; staff (facility, admin) may book an evening event outside them. */
    openingHoursBind?: boolean;
    /**
     * In a network: the member books as a guest from their home site `from` (access/roles.ts isGuestAt), and
     * the space's site opens to guests what its `guests` rules say.
     */
    guest?: { from: string; rules: readonly GuestRule[] | undefined };
  } = {},
): RuleVerdict {
  const { start, end } = request;
  if (!Number.isFinite(start) || !Number.isFinite(end)) return refuse('invalid_time');
  if (!isBookable(space)) return refuse('space_not_bookable', `"${space.id}" is a ${space.kind}`);
  if (options.guest && !openToGuests(options.guest.rules, options.guest.from, space.kind))
    return refuse('not_open_to_guests', `members of ${options.guest.from} may not book a ${space.kind} here`);
  if (end <= start) return refuse('end_not_after_start');
  if (start % QUARTER_HOUR_MS !== 0 || end % QUARTER_HOUR_MS !== 0) return refuse('not_on_quarter_hour');
  if (start < now - policy.pastToleranceMs) return refuse('start_in_past');
  if (start > now + policy.maxAheadMs)
    return refuse('too_far_ahead', `at most ${describeLength(policy.maxAheadMs)} ahead`);
  const maxLength = policy.maxLengthMs[space.kind as BookableKind];
  if (end - start > maxLength)
    return refuse('too_long', `a ${space.kind} can be booked for at most ${describeLength(maxLength)}`);
  if (options.openingHoursBind !== false && !withinOpeningHours(space, request, timeZone))
    return refuse('outside_opening_hours');
  return { ok: true };
}

/** Sorted, merged; touching intervals become one (a day closing at 24:00 runs into the next opening at 00:00). */
export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  const merged: Interval[] = [];
  for (const i of sorted) {
    const last = merged.at(-1);
    if (last && i.start <= last.end) last.end = Math.max(last.end, i.end);
    else merged.push({ ...i });
  }
  return merged;
}

/**
 * The opening intervals of a space that touch [from, to), merged, as instants. A space without opening
 * hours is always open. A closing time before the opening time runs past midnight.
 */
export function openingIntervals(
  space: Pick<SpaceConfig, 'opening_hours'>,
  range: Interval,
  timeZone: string,
): Interval[] {
  const hours = space.opening_hours;
  if (!hours || hours.length === 0) return range.end > range.start ? [{ ...range }] : [];
  // One day of margin on both sides: an evening opening of the day before may reach into the range.
  const first = addDays(toLocal(range.start, timeZone), -1);
  const last = addDays(toLocal(range.end, timeZone), 1);
  const intervals: Interval[] = [];
  for (let date: LocalDate = first; !after(date, last); date = addDays(date, 1)) {
    const weekday = isoWeekday(date);
    for (const rule of hours) {
      if (!rule.days.includes(weekday)) continue;
      const open = minuteOfDay(rule.open);
      const close = minuteOfDay(rule.close);
      if (open === close) continue;
      const start = fromLocal(date, open, timeZone);
      const end =
        close > open ? fromLocal(date, close, timeZone) : fromLocal(addDays(date, 1), close, timeZone);
      if (overlaps({ start, end }, range)) intervals.push({ start, end });
    }
  }
  return mergeIntervals(intervals);
}

function after(a: LocalDate, b: LocalDate): boolean {
  return Date.UTC(a.year, a.month - 1, a.day) > Date.UTC(b.year, b.month - 1, b.day);
}

/** The whole request lies inside one stretch of opening hours (a Protel room open 00:00–24:00 daily is one stretch). */
export function withinOpeningHours(space: SpaceConfig, request: Interval, timeZone: string): boolean {
  return openingIntervals(space, request, timeZone).some(
    (open) => open.start <= request.start && request.end <= open.end,
  );
}

/** Open and not busy within [from, to): the free slots shown to a member choosing a time. */
export function freeSlots(open: readonly Interval[], busy: readonly Interval[], range: Interval): Interval[] {
  const taken = mergeIntervals(busy);
  const free: Interval[] = [];
  for (const o of mergeIntervals(open)) {
    let cursor = Math.max(o.start, range.start);
    const stop = Math.min(o.end, range.end);
    for (const b of taken) {
      if (b.end <= cursor || b.start >= stop) continue;
      if (b.start > cursor) free.push({ start: cursor, end: b.start });
      cursor = Math.max(cursor, b.end);
    }
    if (cursor < stop) free.push({ start: cursor, end: stop });
  }
  return free;
}
