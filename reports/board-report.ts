import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { addDays, fromLocal, type LocalDate, toLocal } from '../site/local-time.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { gatherAir } from './air-gatherer.ts';
import { compareFigures, type PeriodMeasures, periodFigures, rounded, share } from './board-figures.ts';
import type { BoardReportCache } from './board-report-cache.ts';
import type { BoardReportOut, ReportPeriodOut, ReportTableOut } from './board-report-schema.ts';
import { gatherBookings } from './bookings-gatherer.ts';
import { locationFactor } from './emission-factors.ts';
import { gatherEnergy } from './energy-gatherer.ts';
import { HOUR_MS } from './gathered-series.ts';
import { kwhByLocalDay } from './meter-energy.ts';
import { type Period, parsePeriod, previousPeriod, yearBeforePeriod } from './report-period.ts';
import { type SpaceUse, sumSpaceUse } from './space-use.ts';

/**
 * The board report of a period: what the gatherers read for it — energy from the time-series store's hourly
 * aggregates (rollups, so a year stays fast after the raw readings are pruned), bookings through the
 * bookings store, air from the store again — turned into figures by the pure functions beside this file, for
 * the period, the one before and the same one a year earlier.
 */

export interface BoardReportSources {
  site: SiteConfig;
  store: TimeSeriesStore;
  bookings: Pick<BookingStore, 'spansWithin'>;
  /** To know which devices are meters and which measure CO2 and occupancy. */
  profiles: ReadonlyMap<string, DeviceProfile>;
}

const DAY_MS = 24 * HOUR_MS;

/** One period's measures plus the detail the tables need. */
export interface GatheredPeriod {
  measures: PeriodMeasures;
  until: number;
  /** Share of the period's hours the main meters have figures for. */
  coverage: number;
  meters: Awaited<ReturnType<typeof gatherEnergy>>['meters'];
  mainHours: { ts: number; value: number }[];
  spaces: SpaceUse[];
  rooms: Awaited<ReturnType<typeof gatherAir>>;
}

async function gatherPeriod(
  sources: BoardReportSources,
  period: Period,
  now: number,
): Promise<GatheredPeriod> {
  const { site } = sources;
  const range = { from: period.from, to: Math.min(period.to, now) };
  const [energy, bookings, rooms] = await Promise.all([
    gatherEnergy(sources, range),
    gatherBookings(sources, range),
    gatherAir(sources, range),
  ]);
  const total = sumSpaceUse(bookings.spaces);
  const desks = sumSpaceUse(bookings.spaces.filter((s) => s.kind === 'desk'));
  const factor = locationFactor(period.firstDay.year, site.site.grid_co2_g_per_kwh);
  const measures: PeriodMeasures = {
    energyKwh: energy.energyKwh,
    areaM2: site.floors.reduce((sum, f) => sum + f.area_m2, 0),
    days: range.to < period.to ? (range.to - range.from) / DAY_MS : period.days,
    locationGPerKwh: factor.gPerKwh,
    marketGPerKwh: site.site.supplier_co2_g_per_kwh ?? null,
    bookingsKnown: bookings.bookingsKnown,
    deskBookedMs: desks.bookedMs,
    bookedMs: total.bookedMs,
    availableMs: total.availableMs,
    checkableBookedMs: total.checkableBookedMs,
    checkableUsedMs: total.checkableUsedMs,
    started: total.started,
    released: total.released,
    occupiedAirHours: rooms.reduce((sum, r) => sum + r.occupiedHours, 0),
    goodAirHours: rooms.reduce((sum, r) => sum + r.goodHours, 0),
  };
  return {
    measures,
    until: range.to,
    coverage: energy.coverage,
    meters: energy.meters,
    mainHours: energy.mainHours,
    spaces: bookings.spaces,
    rooms,
  };
}

function periodOut(period: Period, g: GatheredPeriod): ReportPeriodOut {
  const until = g.until;
  return {
    kind: period.kind,
    label: period.label,
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    days: period.days,
    ...(until < period.to ? { until: new Date(until).toISOString() } : {}),
    coverage: Math.round(g.coverage * 1000) / 1000,
  };
}

const hours = (ms: number) => rounded(ms / HOUR_MS, 'h');
const ratio = (part: number, whole: number) => rounded(share(part, whole), 'ratio');

function useColumns(): ReportTableOut['columns'] {
  return [
    { key: 'availableHours', unit: 'h' },
    { key: 'bookedHours', unit: 'h' },
    { key: 'bookedShare', unit: 'ratio' },
    { key: 'usedHours', unit: 'h' },
    { key: 'usedShareOfBooked', unit: 'ratio' },
    { key: 'bookingsStarted' },
    { key: 'noShows' },
    { key: 'noShowRate', unit: 'ratio' },
  ];
}

function useRow(u: Omit<SpaceUse, 'spaceId' | 'kind'>) {
  return {
    availableHours: hours(u.availableMs),
    bookedHours: hours(u.bookedMs),
    bookedShare: ratio(u.bookedMs, u.availableMs),
    usedHours: hours(u.usedMs),
    usedShareOfBooked: ratio(u.checkableUsedMs, u.checkableBookedMs),
    bookingsStarted: u.started,
    noShows: u.released,
    noShowRate: ratio(u.released, u.started),
  };
}

/** The local dates of the period that have begun by `until`. */
function datesOf(period: Period, until: number, timeZone: string): string[] {
  const dates: string[] = [];
  for (let d: LocalDate = period.firstDay, i = 0; i < period.days; d = addDays(d, 1), i++) {
    if (fromLocal(d, 0, timeZone) >= until) break;
    dates.push(`${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`);
  }
  return dates;
}

function tables(
  sources: BoardReportSources,
  period: Period,
  g: GatheredPeriod,
  figures: BoardReportOut['figures'],
) {
  const { site } = sources;
  const names = new Map(site.spaces.map((s) => [s.id, s.name]));
  const summary: ReportTableOut = {
    id: 'summary',
    columns: [
      { key: 'figure' },
      { key: 'unit' },
      { key: 'value' },
      { key: 'previous' },
      { key: 'yearBefore' },
    ],
    rows: figures.map((f) => ({
      figure: f.key,
      unit: f.unit,
      value: f.value,
      previous: f.previous,
      yearBefore: f.yearBefore,
    })),
  };
  const energyByMeter: ReportTableOut = {
    id: 'energy-by-meter',
    columns: [
      { key: 'meter' },
      { key: 'space' },
      { key: 'role' },
      { key: 'energyKwh', unit: 'kWh' },
      { key: 'counterResets' },
    ],
    rows: g.meters.map((m) => ({
      meter: m.device,
      space: m.space,
      role: m.role,
      energyKwh: rounded(m.kwh, 'kWh'),
      counterResets: m.resets,
    })),
  };
  const byDay = kwhByLocalDay(g.mainHours, site.site.timezone);
  const energyByDay: ReportTableOut = {
    id: 'energy-by-day',
    columns: [{ key: 'date' }, { key: 'energyKwh', unit: 'kWh' }],
    rows: datesOf(period, g.until, site.site.timezone).map((date) => ({
      date,
      energyKwh: rounded(byDay.get(date) ?? null, 'kWh'),
    })),
  };
  const kinds = [...new Set(g.spaces.map((s) => s.kind))];
  const spaceUseByKind: ReportTableOut = {
    id: 'space-use',
    columns: [{ key: 'kind' }, { key: 'spaces' }, ...useColumns()],
    rows: kinds.map((kind) => {
      const ofKind = g.spaces.filter((s) => s.kind === kind);
      return { kind, spaces: ofKind.length, ...useRow(sumSpaceUse(ofKind)) };
    }),
  };
  const spaceUseBySpace: ReportTableOut = {
    id: 'space-use-by-space',
    columns: [{ key: 'space' }, { key: 'name' }, { key: 'kind' }, ...useColumns()],
    rows: g.spaces.map((s) => ({
      space: s.spaceId,
      name: names.get(s.spaceId) ?? s.spaceId,
      kind: s.kind,
      ...useRow(s),
    })),
  };
  const airQuality: ReportTableOut = {
    id: 'air-quality',
    columns: [
      { key: 'space' },
      { key: 'name' },
      { key: 'occupiedHours', unit: 'h' },
      { key: 'goodAirHours', unit: 'h' },
      { key: 'goodAirShare', unit: 'ratio' },
      { key: 'meanCo2Ppm', unit: 'ppm' },
    ],
    rows: g.rooms.map((r) => ({
      space: r.spaceId,
      name: r.name,
      occupiedHours: r.occupiedHours,
      goodAirHours: r.goodHours,
      goodAirShare: ratio(r.goodHours, r.occupiedHours),
      meanCo2Ppm: rounded(r.meanCo2Ppm, 'ppm'),
    })),
  };
  return [summary, energyByMeter, energyByDay, spaceUseByKind, spaceUseBySpace, airQuality];
}

/** The board report of `period` (which must have begun by `now`), against the period before and a year before. */
export async function buildBoardReport(
  sources: BoardReportSources,
  period: Period,
  now: number = Date.now(),
  cache?: BoardReportCache,
): Promise<BoardReportOut> {
  const { site } = sources;
  const tz = site.site.timezone;
  if (period.from >= now) throw new RangeError(`period ${period.label} has not begun yet`);
  const previous = previousPeriod(period, tz);
  const yearBefore = yearBeforePeriod(period, tz);
  const gathered = (p: Period) =>
    cache ? cache.gather(p, now, () => gatherPeriod(sources, p, now)) : gatherPeriod(sources, p, now);
  const [current, before, lastYear] = await Promise.all([
    gathered(period),
    gathered(previous),
    gathered(yearBefore),
  ]);
  const figures = compareFigures(
    periodFigures(current.measures),
    periodFigures(before.measures),
    periodFigures(lastYear.measures),
  );
  const factor = locationFactor(period.firstDay.year, site.site.grid_co2_g_per_kwh);
  return {
    site: { id: site.site.id, name: site.site.name, areaM2: current.measures.areaM2, timezone: tz },
    period: periodOut(period, current),
    previous: periodOut(previous, before),
    yearBefore: periodOut(yearBefore, lastYear),
    factors: {
      locationGPerKwh: factor.gPerKwh,
      locationYear: factor.year,
      locationSource: factor.source,
      marketGPerKwh: site.site.supplier_co2_g_per_kwh ?? null,
    },
    figures,
    tables: tables(sources, period, current, figures),
    generatedAt: now,
  };
}

/** The period the board page opens on: the last month that has ended, in the site's time zone. */
export function lastCompleteMonth(now: number, timeZone: string): Period {
  const today = toLocal(now, timeZone);
  const index = today.year * 12 + today.month - 2;
  const parsed = parsePeriod(
    `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`,
    timeZone,
  );
  if (!parsed.ok) throw new RangeError(parsed.reason);
  return parsed.period;
}
