import rrulePackage from 'rrule';
import type { GuestRule } from '../access/roles.ts';
import { fromLocal, isoWeekday, type LocalDate, toLocal, utcOffsetMs } from '../site/local-time.ts';
import type { SpaceConfig } from '../site/site.ts';
import {
  type BookingPolicy,
  type BookingRefusalCode,
  checkBookingRequest,
  DEFAULT_POLICY,
  type Interval,
  overlaps,
} from './booking-rules.ts';

/**
 * Recurring bookings (series) in RFC 5545 terms, as pure functions: a request (weekly, every n weeks, the
 * nth or last weekday of a month; until a date or n times) becomes an RRULE, and an RRULE with its first
 * local start becomes the instants of its occurrences.
 *
 * The rule is expanded on the site's wall clock and each local date and time is then turned into an instant
 * by `site/local-time.ts`: a Friday 11:00 stays 11:00 in Berlin across the clock change. The `rrule` package
 * expands; its own `tzid` option is not used, because its results depend on the time zone of the process
 * (measured at the 2027-03-28 change: 11:00 Berlin came out as 09:00Z with TZ=UTC, correct, but as 11:00Z
 * with TZ=Europe/Berlin). Given "floating" dates (wall-clock fields written as UTC) it is the same
 * everywhere.
 */

// rrule ships CommonJS under its "main" and an ESM build Node does not pick up: the default export is the module.
const { RRule } = rrulePackage;

/** ISO weekday (1 Monday … 7 Sunday) to the RFC 5545 day code. */
export const WEEKDAY_CODES = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;

/** At most this many dates in one series: a weekly meeting for a year and some. */
export const MAX_OCCURRENCES = 60;

export type SeriesPattern =
  /** Every `interval` weeks on the weekday of the first date. */
  | { every: 'week'; interval: number }
  /** Every month on the `ordinal`-th (1 … 4) or last (-1) `weekday` (ISO 1 … 7). */
  | { every: 'month'; ordinal: 1 | 2 | 3 | 4 | -1; weekday: number };

export type SeriesEnd = { until: LocalDate } | { count: number };

/** A series as a person asks for it, in the site's local time. */
export interface SeriesRequest {
  /** The first possible date: the series starts on the first date on or after it that fits the pattern. */
  firstDate: LocalDate;
  /** Minutes after local midnight. */
  startMinute: number;
  durationMinutes: number;
  pattern: SeriesPattern;
  end: SeriesEnd;
}

/** A series as it is kept: enough to expand it again and to write it into a calendar feed. */
export interface SeriesRule {
  /** RFC 5545 RRULE value, e.g. `FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;COUNT=10` (UNTIL in UTC, as the RFC wants with a TZID start). */
  rrule: string;
  /** The first occurrence's local start, `YYYY-MM-DDTHH:MM` in `timeZone` (DTSTART;TZID=…). */
  firstStart: string;
  timeZone: string;
  durationMinutes: number;
}

/** One date of a series: its local start (the RECURRENCE-ID) and its instants. */
export interface Occurrence extends Interval {
  /** `YYYY-MM-DDTHH:MM`, site time. */
  local: string;
}

export const SERIES_REFUSALS = {
  invalid_series: { status: 400, text: 'the series is not one this system can keep' },
  series_too_long: { status: 422, text: `a series has at most ${MAX_OCCURRENCES} dates` },
  series_empty: { status: 422, text: 'the series has no date' },
  no_such_date: { status: 404, text: 'the series has no such date' },
  change_before_date: {
    status: 422,
    text: 'the changed series must start on or after the date it is changed from',
  },
} as const;
export type SeriesRefusalCode = keyof typeof SERIES_REFUSALS;

export type SeriesRefusal = { ok: false; reason: SeriesRefusalCode; message: string };

export type SeriesVerdict = { ok: true; rule: SeriesRule; occurrences: Occurrence[] } | SeriesRefusal;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function localDateText(date: LocalDate): string {
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}

export function localStartText(date: LocalDate, minute: number): string {
  return `${localDateText(date)}T${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;
}

const LOCAL_START = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

function parseLocalStart(text: string): { date: LocalDate; minute: number } | undefined {
  const m = LOCAL_START.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  return { date: { year, month, day }, minute: hour * 60 + minute };
}

/** `20271231T225959Z` for an instant. */
function utcStamp(at: number): string {
  return new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function firstMatch(request: SeriesRequest): LocalDate {
  const { firstDate, pattern } = request;
  if (pattern.every === 'week') return firstDate;
  // The first month whose chosen weekday falls on or after the first date.
  for (let i = 0; i < 3; i++) {
    const month0 = firstDate.month - 1 + i;
    const date = nthWeekdayOfMonth(
      firstDate.year + Math.floor(month0 / 12),
      (month0 % 12) + 1,
      pattern.ordinal,
      pattern.weekday,
    );
    if (
      Date.UTC(date.year, date.month - 1, date.day) >=
      Date.UTC(firstDate.year, firstDate.month - 1, firstDate.day)
    )
      return date;
  }
  return firstDate; // unreachable: every month has a first and a last of each weekday
}

/** The nth (1 … 4) or last (-1) ISO weekday of a month. */
export function nthWeekdayOfMonth(year: number, month: number, ordinal: number, weekday: number): LocalDate {
  if (ordinal > 0) {
    const first = isoWeekday({ year, month, day: 1 });
    return { year, month, day: 1 + ((weekday - first + 7) % 7) + (ordinal - 1) * 7 };
  }
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const last = isoWeekday({ year, month, day: lastDay });
  return { year, month, day: lastDay - ((last - weekday + 7) % 7) };
}

function validDate(d: LocalDate): boolean {
  const probe = new Date(Date.UTC(d.year, d.month - 1, d.day));
  return (
    Number.isInteger(d.year) &&
    probe.getUTCFullYear() === d.year &&
    probe.getUTCMonth() === d.month - 1 &&
    probe.getUTCDate() === d.day
  );
}

const refuse = (reason: SeriesRefusalCode, detail?: string): SeriesRefusal => ({
  ok: false,
  reason,
  message: detail ? `${SERIES_REFUSALS[reason].text}: ${detail}` : SERIES_REFUSALS[reason].text,
});

/** The RRULE and first start of a request, and its dates; refuses what is malformed or too long. */
export function planSeries(request: SeriesRequest, timeZone: string): SeriesVerdict {
  const { pattern, end } = request;
  if (!validDate(request.firstDate)) return refuse('invalid_series', 'the first date does not exist');
  if (!Number.isInteger(request.startMinute) || request.startMinute < 0 || request.startMinute >= 24 * 60)
    return refuse('invalid_series', 'the start time must be within the day');
  if (!Number.isInteger(request.durationMinutes) || request.durationMinutes <= 0)
    return refuse('invalid_series', 'the length must be a positive number of minutes');
  const parts: string[] = [];
  if (pattern.every === 'week') {
    if (!Number.isInteger(pattern.interval) || pattern.interval < 1 || pattern.interval > 8)
      return refuse('invalid_series', 'every 1 to 8 weeks');
    const code = WEEKDAY_CODES[isoWeekday(request.firstDate) - 1];
    parts.push('FREQ=WEEKLY', `INTERVAL=${pattern.interval}`, `BYDAY=${code}`);
  } else {
    if (![1, 2, 3, 4, -1].includes(pattern.ordinal))
      return refuse('invalid_series', 'the first to fourth or the last weekday of a month');
    if (!Number.isInteger(pattern.weekday) || pattern.weekday < 1 || pattern.weekday > 7)
      return refuse('invalid_series', 'weekday 1 (Monday) to 7 (Sunday)');
    parts.push('FREQ=MONTHLY', `BYDAY=${pattern.ordinal}${WEEKDAY_CODES[pattern.weekday - 1]}`);
  }
  const first = firstMatch(request);
  if ('count' in end) {
    if (!Number.isInteger(end.count) || end.count < 1) return refuse('invalid_series', 'at least one date');
    if (end.count > MAX_OCCURRENCES) return refuse('series_too_long');
    parts.push(`COUNT=${end.count}`);
  } else {
    if (!validDate(end.until)) return refuse('invalid_series', 'the last date does not exist');
    // UNTIL is inclusive and, with a DTSTART in a zone, an instant in UTC: the last minute of that local day.
    parts.push(`UNTIL=${utcStamp(fromLocal(end.until, 24 * 60, timeZone) - 1000)}`);
  }
  const rule: SeriesRule = {
    rrule: parts.join(';'),
    firstStart: localStartText(first, request.startMinute),
    timeZone,
    durationMinutes: request.durationMinutes,
  };
  const occurrences = expandSeries(rule, MAX_OCCURRENCES + 1);
  if (occurrences.length > MAX_OCCURRENCES) return refuse('series_too_long');
  if (occurrences.length === 0) return refuse('series_empty');
  return { ok: true, rule, occurrences };
}

/**
 * The occurrences of a kept series, in order, at most `limit`. Expanded on the wall clock (floating dates),
 * then each local start becomes an instant in the site's zone; a start the spring change skips (02:30) moves
 * forward by the gap, as `fromLocal` does for every booking.
 */
export function expandSeries(rule: SeriesRule, limit: number = MAX_OCCURRENCES): Occurrence[] {
  const start = parseLocalStart(rule.firstStart);
  if (!start) throw new RangeError(`series start "${rule.firstStart}" is not YYYY-MM-DDTHH:MM`);
  const options = RRule.parseString(rule.rrule);
  const floatingStart = new Date(
    Date.UTC(start.date.year, start.date.month - 1, start.date.day) + start.minute * 60_000,
  );
  // UNTIL is a UTC instant; the expansion runs on the wall clock, so UNTIL is moved onto it too.
  const until = options.until
    ? new Date(options.until.getTime() + utcOffsetMs(options.until.getTime(), rule.timeZone))
    : null;
  const dates = new RRule({ ...options, dtstart: floatingStart, until }).all((_, i) => i < limit);
  return dates.map((floating) => {
    const date = {
      year: floating.getUTCFullYear(),
      month: floating.getUTCMonth() + 1,
      day: floating.getUTCDate(),
    };
    const minute = floating.getUTCHours() * 60 + floating.getUTCMinutes();
    return {
      local: localStartText(date, minute),
      start: fromLocal(date, minute, rule.timeZone),
      end: fromLocal(date, minute + rule.durationMinutes, rule.timeZone),
    };
  });
}

/**
 * The same rule ending before `from` (a series cancelled or changed from a date on): COUNT and UNTIL are
 * replaced by the last minute before that date's local start. Undefined when nothing would remain.
 */
export function seriesEndingBefore(rule: SeriesRule, fromLocalStart: string): SeriesRule | undefined {
  const kept = expandSeries(rule).filter((o) => o.local < fromLocalStart);
  const last = kept.at(-1);
  if (!last) return undefined;
  const parts = rule.rrule.split(';').filter((p) => !/^(COUNT|UNTIL)=/.test(p));
  parts.push(`UNTIL=${utcStamp(last.start)}`);
  return { ...rule, rrule: parts.join(';') };
}

/** A series changed from one of its dates on: the old rule ending before that date, the new series from it. */
export type SeriesChangeVerdict =
  | {
      ok: true;
      /** The date changed from (its local start in the old series). */
      from: Occurrence;
      /** The old rule cut before `from`; undefined when `from` is its first date (nothing of it is left). */
      ending: SeriesRule | undefined;
      rule: SeriesRule;
      occurrences: Occurrence[];
    }
  | SeriesRefusal;

/**
 * "Change this series from date D on": the series is split at D. The dates before D keep the old rule, which
 * now ends before D (UNTIL); the request is a new series whose first date is on D's day or later, so it
 * never takes a date before D. Its time, length, pattern and end may all differ from the old rule's.
 */
export function planSeriesChange(
  old: SeriesRule,
  fromLocalStart: string,
  request: SeriesRequest,
  timeZone: string,
): SeriesChangeVerdict {
  const from = expandSeries(old).find((o) => o.local === fromLocalStart);
  if (!from) return refuse('no_such_date', fromLocalStart);
  const fromDay = fromLocalStart.slice(0, 10);
  if (validDate(request.firstDate) && localDateText(request.firstDate) < fromDay)
    return refuse('change_before_date', `${localDateText(request.firstDate)} is before ${fromDay}`);
  const next = planSeries(request, timeZone);
  if (!next.ok) return next;
  return {
    ok: true,
    from,
    ending: seriesEndingBefore(old, fromLocalStart),
    rule: next.rule,
    occurrences: next.occurrences,
  };
}

/** One date of a series that the rules refuse (opening hours, too far ahead, in the past …). */
export interface RefusedDate {
  occurrence: Occurrence;
  reason: BookingRefusalCode;
  message: string;
}

export interface SeriesCheckOptions {
  policy?: BookingPolicy;
  /** Members book within opening hours; staff (facility, admin) may hold evening events outside them. */
  openingHoursBind: boolean;
  /** A guest from another site of the network, bound by this site's guest rules (access/roles.ts guestVisit). */
  guest?: { from: string; rules: readonly GuestRule[] | undefined } | undefined;
}

/** Each date checked by the rules of a single booking: the dates refused, with why. */
export function checkSeriesDates(
  space: SpaceConfig,
  occurrences: readonly Occurrence[],
  now: number,
  timeZone: string,
  options: SeriesCheckOptions,
): RefusedDate[] {
  const refused: RefusedDate[] = [];
  for (const occurrence of occurrences) {
    const verdict = checkBookingRequest(space, occurrence, now, timeZone, options.policy ?? DEFAULT_POLICY, {
      openingHoursBind: options.openingHoursBind,
      ...(options.guest ? { guest: options.guest } : {}),
    });
    if (!verdict.ok) refused.push({ occurrence, reason: verdict.reason, message: verdict.message });
  }
  return refused;
}

/** A date of a series and the booked time in its way (never whose). */
export interface DateConflict {
  occurrence: Occurrence;
  conflict: Interval;
}

/** The dates that overlap any of the busy intervals, each with the first one in its way. */
export function conflictingDates(
  occurrences: readonly Occurrence[],
  busy: readonly Interval[],
): DateConflict[] {
  const sorted = [...busy].sort((a, b) => a.start - b.start);
  const conflicts: DateConflict[] = [];
  for (const occurrence of occurrences) {
    const conflict = sorted.find((b) => overlaps(b, occurrence));
    if (conflict) conflicts.push({ occurrence, conflict: { start: conflict.start, end: conflict.end } });
  }
  return conflicts;
}

/** The local date of an instant as `YYYY-MM-DD` (the site's day a date of a series falls on). */
export function localDayOf(at: number, timeZone: string): string {
  return localDateText(toLocal(at, timeZone));
}
