import { type Interval, isBookable, mergeIntervals, openingIntervals } from '../bookings/booking-rules.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { EventDate } from '../events/event-rules.ts';
import type { EventStore } from '../events/event-store.ts';
import type { SignUpStore } from '../events/signup-store.ts';
import { toLocal } from '../site/local-time.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { type OccupancyHour, PRESENCE_CARRIES_HOURS, presentHours } from './air-quality.ts';
import { rounded, sideBySide } from './board-figures.ts';
import { summaryTable } from './board-tables.ts';
import {
  allocationShare,
  COMMON_GOOD_FIGURE_KEYS,
  COMMON_GOOD_UNITS,
  type CommonGoodMeasures,
  clip,
  commonGoodFigures,
  type EventAttendance,
  eventsReached,
  freePublicTime,
  paidHours,
  presentHoursDuring,
  type SpaceWeight,
  usedTime,
  weighedSpaces,
} from './common-good.ts';
import type { CommonGoodReportOut, CommonGoodTableOut } from './common-good-schema.ts';
import { gatherEnergy } from './energy-gatherer.ts';
import { byDevice, HOUR_MS } from './gathered-series.ts';
import { type Period, previousPeriod, reportPeriodOut, yearBeforePeriod } from './report-period.ts';
import { intersect, totalMs } from './space-use.ts';

/**
 * The common-good report of a period: bookings (bookings store), public event dates (events store), their
 * sign-ups and organisers' counts (EventCounts), the main meters' energy and the public space's occupancy
 * (time-series store's hourly figures), set against the site file's public opening hours, tariff and
 * prices by the pure arithmetic of common-good.ts; the period, the one before and a year before.
 */

/** Sign-ups and the organiser's count of one event date (counts only). */
export interface DateCounts {
  signUps: number | null;
  attended: number | null;
}

/**
 * Where the counts of event dates come from: the sign-ups (with or without an e-mail address) and what
 * the organiser entered after the event. Keyed by `dateKey(eventId, start)`; a date not in the answer has
 * neither.
 */
export interface EventCounts {
  countsFor(dates: readonly { eventId: string; start: number }[]): Promise<ReadonlyMap<string, DateCounts>>;
}

export const dateKey = (eventId: string, start: number) => `${eventId}@${start}`;

/**
 * The counts the sign-up store keeps of each date (events/signup-store.ts): the confirmed places (not the
 * waiting list, not cancelled ones) and the organiser's count. A date nobody signed up for and nobody counted
 * has neither.
 */
export function signUpCounts(store: Pick<SignUpStore, 'counts'>): EventCounts {
  return {
    async countsFor(dates) {
      const out = new Map<string, DateCounts>();
      if (dates.length === 0) return out;
      const starts = dates.map((d) => d.start);
      const kept = await store.counts({ start: Math.min(...starts), end: Math.max(...starts) + 1 });
      const wanted = new Set(dates.map((d) => dateKey(d.eventId, d.start)));
      for (const c of kept) {
        const key = dateKey(c.eventId, c.start);
        if (wanted.has(key)) out.set(key, { signUps: c.confirmed, attended: c.attended });
      }
      return out;
    },
  };
}

export interface CommonGoodSources {
  site: SiteConfig;
  store: TimeSeriesStore;
  bookings: Pick<BookingStore, 'spansWithin'>;
  events: Pick<EventStore, 'datesWithin'>;
  counts: EventCounts;
  profiles: ReadonlyMap<string, DeviceProfile>;
}

const ACTIVE = new Set(['booked', 'checked_in']);

interface GatheredCommonGood {
  measures: CommonGoodMeasures;
  range: Interval;
  coverage: number;
  events: { date: EventDate; attendance: EventAttendance }[];
  weights: (SpaceWeight & { name: string })[];
  publicIds: Set<string>;
  paid: ReturnType<typeof paidHours>;
}

export function publicSpaces(site: SiteConfig): SpaceConfig[] {
  return site.spaces.filter((s) => (s.public_hours?.length ?? 0) > 0);
}

/** Hours with presence in a space, by its occupancy sensors (null: it has none). */
async function presenceIn(
  sources: CommonGoodSources,
  spaceId: string,
  range: { from: number; to: number },
): Promise<Set<number> | null> {
  const { site, store, profiles } = sources;
  const sensors = site.devices.filter(
    (d) => d.space === spaceId && (profiles.get(d.profile)?.quantities ?? []).includes('occupancy'),
  );
  if (sensors.length === 0) return null;
  const [hourly, before] = await Promise.all([
    store.query({ quantity: 'occupancy', space: spaceId, ...range, bucketMs: HOUR_MS, aggregate: 'mean' }),
    store.query({
      quantity: 'occupancy',
      space: spaceId,
      from: range.from - PRESENCE_CARRIES_HOURS * HOUR_MS,
      to: range.from,
      bucketMs: HOUR_MS,
      aggregate: 'last',
    }),
  ]);
  const hourlyOf = byDevice(hourly);
  const beforeOf = byDevice(before);
  const present = new Set<number>();
  for (const sensor of sensors) {
    const hours: OccupancyHour[] = (hourlyOf.get(sensor.id)?.points ?? []).map((p) => ({
      ts: p.ts,
      mean: p.value,
    }));
    const stateBefore = beforeOf.get(sensor.id)?.points.at(-1) ?? null;
    for (const h of presentHours(hours, stateBefore, range)) present.add(h);
  }
  return present;
}

async function gatherPeriod(
  sources: CommonGoodSources,
  period: Period,
  now: number,
): Promise<GatheredCommonGood> {
  const { site } = sources;
  const tz = site.site.timezone;
  const range: Interval = { start: period.from, end: Math.min(period.to, now) };
  const from = { from: range.start, to: range.end };
  const publics = publicSpaces(site);
  const publicIds = new Set(publics.map((s) => s.id));
  const [energy, booked, dates, presence] = await Promise.all([
    gatherEnergy(sources, from),
    sources.bookings.spansWithin(range),
    sources.events.datesWithin(range, 'public'),
    Promise.all(publics.map(async (s) => [s.id, await presenceIn(sources, s.id, from)] as const)),
  ]);
  const presenceOf = new Map(presence);
  const activeOf = new Map<string, Interval[]>();
  for (const b of booked.spans) {
    if (!ACTIVE.has(b.status)) continue;
    activeOf.set(b.spaceId, [...(activeOf.get(b.spaceId) ?? []), { start: b.start, end: b.end }]);
  }
  // Counted dates: those held in the period (begun in it, ended by now).
  const heldDates = dates.filter(
    (d) => publicIds.has(d.spaceId) && d.start >= range.start && d.end <= range.end,
  );
  const counts = await sources.counts.countsFor(
    heldDates.map((d) => ({ eventId: d.eventId, start: d.start })),
  );

  let freePublicMs = 0;
  let openMs = 0;
  let publicWithinOpenMs = 0;
  const publicUsed = new Map<string, Interval[]>();
  for (const space of publics) {
    const mine = dates.filter((d) => d.spaceId === space.id);
    // A public event's date is a booking of the same space and time: the others are private use.
    const eventTimes = new Set(mine.map((d) => `${d.start}-${d.end}`));
    const bookings = activeOf.get(space.id) ?? [];
    const others = bookings.filter((b) => !eventTimes.has(`${b.start}-${b.end}`));
    const hours = intersect(openingIntervals({ opening_hours: space.public_hours }, range, tz), [range]);
    const free = freePublicTime(hours, mine, others, range);
    const open = intersect(openingIntervals(space, range, tz), [range]);
    freePublicMs += totalMs(free);
    openMs += totalMs(open);
    publicWithinOpenMs += totalMs(intersect(free, open));
    publicUsed.set(space.id, mergeIntervals([...clip(bookings, range), ...free]));
  }

  const events = heldDates.map((date) => {
    const c = counts.get(dateKey(date.eventId, date.start));
    const present = presenceOf.get(date.spaceId) ?? null;
    return {
      date,
      attendance: {
        start: date.start,
        end: date.end,
        signUps: c?.signUps ?? null,
        attended: c?.attended ?? null,
        usedHours: present === null ? null : presentHoursDuring(present, date),
      },
    };
  });

  const weights = weighedSpaces(site.spaces).map((space) => {
    const used =
      publicUsed.get(space.id) ??
      usedTime(
        { kind: space.kind, bookable: isBookable(space) },
        activeOf.get(space.id) ?? [],
        openingIntervals(space, range, tz),
        range,
      );
    return {
      spaceId: space.id,
      name: space.name,
      kind: space.kind,
      areaM2: space.area_m2,
      usedMs: totalMs(used),
    };
  });

  const kindOf = new Map(site.spaces.map((s) => [s.id, s.kind]));
  const bookedByKind = new Map<string, number>();
  for (const [spaceId, list] of activeOf) {
    const kind = kindOf.get(spaceId);
    if (kind === undefined) continue;
    bookedByKind.set(kind, (bookedByKind.get(kind) ?? 0) + totalMs(clip(list, range)));
  }
  const prices = site.site.hour_prices_eur ?? {};
  const paid = paidHours(bookedByKind, prices);
  const hasPrices = Object.values(prices).some((p) => p !== undefined);

  return {
    measures: {
      freePublicMs,
      openMs,
      publicWithinOpenMs,
      events: eventsReached(
        events.map((e) => e.attendance),
        range,
      ),
      buildingEnergyKwh: energy.energyKwh,
      allocation: publics.length === 0 ? null : allocationShare(weights, publicIds),
      tariffEurPerKwh: site.site.energy_eur_per_kwh ?? null,
      paidValueEur: hasPrices ? paid.reduce((sum, p) => sum + p.valueEur, 0) : null,
      bookingsKnown: booked.firstStart !== null && booked.firstStart < range.end,
    },
    range,
    coverage: energy.coverage,
    events,
    weights,
    publicIds,
    paid,
  };
}

/** Decimals per unit: cents, whole people and events; otherwise as the board report rounds. */
export function roundFigure(value: number | null, unit: string): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  if (unit === 'EUR') return Math.round(value * 100) / 100;
  if (unit === 'count') return Math.round(value);
  return rounded(value, unit);
}

const pad = (n: number) => String(n).padStart(2, '0');

function tables(
  site: SiteConfig,
  g: GatheredCommonGood,
  figures: CommonGoodReportOut['figures'],
): CommonGoodTableOut[] {
  const tz = site.site.timezone;
  const nameOf = new Map(site.spaces.map((s) => [s.id, s.name]));
  const clock = (ms: number) => {
    const l = toLocal(ms, tz);
    return `${pad(l.hour)}:${pad(l.minute)}`;
  };
  const day = (ms: number) => {
    const l = toLocal(ms, tz);
    return `${l.year}-${pad(l.month)}-${pad(l.day)}`;
  };
  const share = allocationShareOf(g);
  const energy = g.measures.buildingEnergyKwh;
  return [
    summaryTable(figures),
    {
      id: 'events',
      columns: [
        { key: 'date' },
        { key: 'start' },
        { key: 'end' },
        { key: 'title' },
        { key: 'space' },
        { key: 'signUps' },
        { key: 'attended' },
        { key: 'reached' },
        { key: 'usedHours', unit: 'h' },
      ],
      rows: g.events
        .slice()
        .sort((a, b) => a.date.start - b.date.start)
        .map(({ date, attendance }) => ({
          date: day(date.start),
          start: clock(date.start),
          end: clock(date.end),
          title: date.title,
          space: nameOf.get(date.spaceId) ?? date.spaceId,
          signUps: attendance.signUps,
          attended: attendance.attended,
          reached: attendance.attended ?? attendance.signUps,
          usedHours: attendance.usedHours,
        })),
    },
    {
      id: 'allocation',
      columns: [
        { key: 'space' },
        { key: 'name' },
        { key: 'kind' },
        { key: 'areaM2', unit: 'm²' },
        { key: 'usedHours', unit: 'h' },
        { key: 'share', unit: 'ratio' },
        { key: 'energyKwh', unit: 'kWh' },
      ],
      rows: g.weights.map((w) => {
        const s = share(w);
        return {
          space: w.spaceId,
          name: w.name,
          kind: w.kind,
          areaM2: w.areaM2,
          usedHours: rounded(w.usedMs / HOUR_MS, 'h') ?? 0,
          share: roundFigure(s, 'ratio'),
          energyKwh: s === null || energy === null ? null : roundFigure(energy * s, 'kWh'),
        };
      }),
    },
    {
      id: 'paid-hours',
      columns: [
        { key: 'kind' },
        { key: 'bookedHours', unit: 'h' },
        { key: 'priceEur', unit: 'EUR' },
        { key: 'valueEur', unit: 'EUR' },
      ],
      rows: g.paid.map((p) => ({
        kind: p.kind,
        bookedHours: g.measures.bookingsKnown ? rounded(p.bookedMs / HOUR_MS, 'h') : null,
        priceEur: p.priceEur,
        valueEur: g.measures.bookingsKnown ? roundFigure(p.valueEur, 'EUR') : null,
      })),
    },
  ];
}

function allocationShareOf(g: GatheredCommonGood): (w: SpaceWeight) => number | null {
  const total = g.weights.reduce((sum, w) => sum + w.areaM2 * (w.usedMs / HOUR_MS), 0);
  return (w) => (total > 0 ? (w.areaM2 * (w.usedMs / HOUR_MS)) / total : null);
}

/** The common-good report of `period` (begun by `now`), against the period before and a year before. */
export async function buildCommonGoodReport(
  sources: CommonGoodSources,
  period: Period,
  now: number,
): Promise<CommonGoodReportOut> {
  const { site } = sources;
  const tz = site.site.timezone;
  if (period.from >= now) throw new RangeError(`period ${period.label} has not begun yet`);
  const previous = previousPeriod(period, tz);
  const yearBefore = yearBeforePeriod(period, tz);
  const [current, before, lastYear] = await Promise.all([
    gatherPeriod(sources, period, now),
    gatherPeriod(sources, previous, now),
    gatherPeriod(sources, yearBefore, now),
  ]);
  const figures = sideBySide(COMMON_GOOD_FIGURE_KEYS, COMMON_GOOD_UNITS, roundFigure, [
    commonGoodFigures(current.measures),
    commonGoodFigures(before.measures),
    commonGoodFigures(lastYear.measures),
  ]);
  const prices: Record<string, number> = {};
  for (const [kind, price] of Object.entries(site.site.hour_prices_eur ?? {}))
    if (price !== undefined) prices[kind] = price;
  return {
    site: { id: site.site.id, name: site.site.name, timezone: tz },
    period: reportPeriodOut(period, current.range.end, current.coverage),
    previous: reportPeriodOut(previous, before.range.end, before.coverage),
    yearBefore: reportPeriodOut(yearBefore, lastYear.range.end, lastYear.coverage),
    publicSpaces: publicSpaces(site).map((s) => ({ id: s.id, name: s.name, areaM2: s.area_m2 })),
    basis: { energyEurPerKwh: site.site.energy_eur_per_kwh ?? null, hourPricesEur: prices },
    figures,
    tables: tables(site, current, figures),
    generatedAt: now,
  };
}
