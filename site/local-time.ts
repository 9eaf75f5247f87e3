/**
 * Wall-clock time in the site's time zone (opening hours are written as local times, e.g. "07:00" in
 * Europe/Berlin). Intl knows the zone rules; these functions only translate between an instant (epoch ms)
 * and the local calendar date and time, including the two DST days a year. The one translation of the
 * project: booking rules, the lobby board and the simulated building all read the site's clock through it.
 */

export interface LocalDate {
  year: number;
  /** 1 … 12 */
  month: number;
  day: number;
}

export interface LocalDateTime extends LocalDate {
  hour: number;
  minute: number;
  /** ISO weekday: 1 Monday … 7 Sunday. */
  weekday: number;
}

const DAY_MS = 24 * 60 * 60_000;
const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    // Throws RangeError for an unknown zone: a site-file mistake that should surface, not be guessed around.
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(timeZone, format);
  }
  return format;
}

/** Local wall-clock fields of an instant, as if the local time were UTC (ms). */
function wallClockMs(at: number, timeZone: string): number {
  const fields: Record<string, number> = {};
  for (const part of formatFor(timeZone).formatToParts(at)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return Date.UTC(
    fields.year ?? 1970,
    (fields.month ?? 1) - 1,
    fields.day ?? 1,
    fields.hour ?? 0,
    fields.minute ?? 0,
    fields.second ?? 0,
  );
}

/** The zone's offset from UTC at an instant, in ms (Berlin: +1 h in winter, +2 h in summer). */
export function utcOffsetMs(at: number, timeZone: string): number {
  const whole = Math.floor(at / 1000) * 1000;
  return wallClockMs(whole, timeZone) - whole;
}

export function toLocal(at: number, timeZone: string): LocalDateTime {
  const wall = new Date(wallClockMs(at, timeZone));
  return {
    year: wall.getUTCFullYear(),
    month: wall.getUTCMonth() + 1,
    day: wall.getUTCDate(),
    hour: wall.getUTCHours(),
    minute: wall.getUTCMinutes(),
    weekday: wall.getUTCDay() === 0 ? 7 : wall.getUTCDay(),
  };
}

/**
 * The instant of a local date and time. `minuteOfDay` may be 1440 (a closing time of "24:00" is the next
 * midnight). Like Temporal's 'compatible' disambiguation: a time skipped by the spring change (02:30) is
 * moved forward by the gap (03:30); a time that happens twice in autumn (02:30) takes the earlier one.
 */
export function fromLocal(date: LocalDate, minuteOfDay: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * 60_000;
  const before = utcOffsetMs(wall - DAY_MS, timeZone);
  const after = utcOffsetMs(wall + DAY_MS, timeZone);
  const candidates = [wall - before, wall - after].filter((at) => at + utcOffsetMs(at, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before;
}

/** The calendar date `days` after `date` (negative: before). */
export function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

export function isoWeekday(date: LocalDate): number {
  const day = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return day === 0 ? 7 : day;
}

/** "07:30" -> 450; "24:00" -> 1440. The site schema has already checked the shape. */
export function minuteOfDay(hhmm: string): number {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

const CALENDAR_FIELDS = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?/;

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/**
 * Whether the day and hour written exist. Date.parse reads 30 February as 2 March, 31 April as 1 May and
 * 24:00 as the next midnight: an impossible date is a typo to refuse, not an instant to shift.
 */
export function calendarFieldsExist(text: string): boolean {
  const match = CALENDAR_FIELDS.exec(text);
  if (!match) return false;
  const [year, month, day] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  if (month < 1 || month > 12 || day < 1) return false;
  const days = month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  return day <= days && (match[4] === undefined || Number(match[4]) < 24);
}
