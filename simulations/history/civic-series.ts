import { createHash } from 'node:crypto';
import type { BookingSeriesStore, BookingStore } from '../../bookings/booking-store.ts';
import { planSeries, type SeriesRequest } from '../../bookings/series-rules.ts';
import type { EventStore } from '../../events/event-store.ts';
import type { SignUpStore } from '../../events/signup-store.ts';
import { addDays, isoWeekday, type LocalDate, toLocal } from '../../site/local-time.ts';
import type { SiteConfig } from '../../site/site.ts';

/**
 * The simulated house's civic life in its public space (the space with public opening hours, the
 * Diskursraum): the cooperatives' own series, booked by the facility manager as public events, with
 * sign-ups (place counts only, no addresses) and, for the dates that are over, the organiser's count of who
 * came. Written once, before the history's bookings (the series take their rooms first; the history's
 * bookings of the hall that overlap are refused and counted); a later run finds the events and adds nothing.
 */

interface CivicSeries {
  title: string;
  description: string;
  capacity: number;
  startMinute: number;
  durationMinutes: number;
  /** Weekly on a weekday, or the nth/last weekday of the month. */
  pattern:
    | { every: 'week'; weekday: number }
    | { every: 'month'; ordinal: 1 | 2 | 3 | 4 | -1; weekday: number };
}

export const CIVIC_SERIES: readonly CivicSeries[] = [
  {
    title: 'Freitagsrunde',
    description: 'Die wöchentliche Runde der Genossenschaft: jeden Freitag um 11:00 Uhr. Offen für alle.',
    capacity: 40,
    startMinute: 11 * 60,
    durationMinutes: 90,
    pattern: { every: 'week', weekday: 5 },
  },
  {
    // Past the Diskursraum's closing at 22:00: booked by staff, whom the opening hours do not bind.
    title: 'Offener Abend',
    description: 'Jeden letzten Donnerstagabend im Monat: Projekte, Gespräche, Musik.',
    capacity: 120,
    startMinute: 19 * 60,
    durationMinutes: 4 * 60,
    pattern: { every: 'month', ordinal: -1, weekday: 4 },
  },
  {
    title: 'Zukunftswerkstatt',
    description: 'Monatlicher Workshop am zweiten Samstag: Smartphone, Reparieren, Programmieren.',
    capacity: 25,
    startMinute: 10 * 60,
    durationMinutes: 3 * 60,
    pattern: { every: 'month', ordinal: 2, weekday: 6 },
  },
];

/** How far ahead the series run. */
const AHEAD_DAYS = 56;
const MAX_WEEKLY = 60;

const dayNumber = (d: LocalDate) => Date.UTC(d.year, d.month - 1, d.day);

/** A stable number 0..1 from text: the same sign-ups on every run. */
function unit(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 2 ** 32;
}

export interface CivicSeriesResult {
  series: number;
  dates: number;
  skipped: number;
  signUps: number;
}

/**
 * Books the civic series of the public space from `from` (the history's start; a weekly series at most
 * MAX_WEEKLY dates, so it starts later) to AHEAD_DAYS after `now`, as public events with sign-ups. Idempotent:
 * a series whose event is on record already is left as it is.
 */
export async function writeCivicSeries(input: {
  site: SiteConfig;
  now: number;
  from: number;
  organiserId: string;
  bookings: BookingStore & BookingSeriesStore;
  events: EventStore;
  signUps: SignUpStore;
}): Promise<CivicSeriesResult> {
  const { site, now, organiserId } = input;
  const tz = site.site.timezone;
  const out: CivicSeriesResult = { series: 0, dates: 0, skipped: 0, signUps: 0 };
  const hall = site.spaces.find((s) => (s.public_hours?.length ?? 0) > 0 && s.bookable === true);
  if (!hall) return out;
  const today = toLocal(now, tz);
  const until: LocalDate = addDays(today, AHEAD_DAYS);
  const known = new Set(
    (await input.events.datesWithin({ start: input.from, end: now + AHEAD_DAYS * 86_400_000 }, 'all')).map(
      (d) => d.title,
    ),
  );
  for (const series of CIVIC_SERIES) {
    if (known.has(series.title)) continue;
    let first: LocalDate = toLocal(input.from, tz);
    if (series.pattern.every === 'week') {
      // At most MAX_WEEKLY dates, on the series' weekday.
      const latest = addDays(until, -7 * (MAX_WEEKLY - 1));
      if (dayNumber(latest) > dayNumber(first)) first = latest;
      while (isoWeekday(first) !== series.pattern.weekday) first = addDays(first, 1);
    }
    const request: SeriesRequest = {
      firstDate: first,
      startMinute: series.startMinute,
      durationMinutes: series.durationMinutes,
      pattern:
        series.pattern.every === 'week'
          ? { every: 'week', interval: 1 }
          : { every: 'month', ordinal: series.pattern.ordinal, weekday: series.pattern.weekday },
      end: { until },
    };
    const plan = planSeries(request, tz);
    if (!plan.ok) throw new Error(`civic series "${series.title}": ${plan.message}`);
    const made = await input.bookings.createSeries(
      { memberId: organiserId, spaceId: hall.id, rule: plan.rule, occurrences: plan.occurrences },
      'skip_conflicts',
      input.from,
    );
    if (!made.ok) {
      out.skipped += made.conflicts.length;
      continue;
    }
    out.series++;
    out.dates += made.bookings.length;
    out.skipped += made.skipped.length;
    const event = await input.events.create(
      {
        title: series.title,
        description: series.description,
        capacity: series.capacity,
        visibility: 'public',
        bookingId: null,
        seriesId: made.series.id,
        organiserId,
      },
      input.from,
    );
    for (const date of made.bookings) {
      // Sign-ups for the dates up to three weeks ahead, a week before each (place counts only, no addresses).
      if (date.start > now + 21 * 86_400_000) continue;
      const r = unit(`${series.title}|${date.start}`);
      const groups = Math.floor((series.capacity * (0.3 + 0.5 * r)) / 3);
      for (let g = 0; g < groups; g++) {
        const places = 1 + Math.floor(unit(`${date.id}|${g}`) * 4);
        const signed = await input.signUps.signUp(
          { eventId: event.id, dateId: date.id, places, email: null, capacity: series.capacity },
          Math.min(now, date.start - 7 * 86_400_000),
        );
        if (signed.ok) out.signUps++;
      }
      if (date.end <= now) {
        // Over: the room was used (the sensors' check-in), and the organiser counted who came (some walk in,
        // some who signed up stay away).
        await input.bookings.checkIn(date.id, date.start + 5 * 60_000);
        const came = Math.round(groups * 2.5 * (0.8 + 0.4 * unit(`${date.id}|came`)));
        await input.signUps.recordAttendance(event.id, date.id, came, organiserId, date.end);
      }
    }
  }
  return out;
}
