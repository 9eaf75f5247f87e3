import { type Interval, isBookable } from '../bookings/booking-rules.ts';
import type { BookingStatus } from '../bookings/booking-store.ts';
import { FIRST_CHANNEL } from '../building/reading.ts';
import type { RecordsDb } from '../database/database.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { addDays, fromLocal, type LocalDate, toLocal } from '../site/local-time.ts';
import type { SiteConfig, SpaceConfig } from '../site/site.ts';
import { addUpChannels } from '../storage/device-totals.ts';
import type { Series, TimeSeriesStore } from '../storage/store.ts';
import {
  airRooms,
  type OccupancyHour,
  PRESENCE_CARRIES_HOURS,
  presentHours,
  roomAir,
} from './air-quality.ts';
import { compareFigures, type PeriodMeasures, periodFigures, rounded, share } from './board-figures.ts';
import type { BoardReportOut, ReportPeriodOut, ReportTableOut } from './board-report-schema.ts';
import { locationFactor } from './emission-factors.ts';
import { counterResetHours, kwhByLocalDay, type MeterHour, meterCoverage, totalKwh } from './meter-energy.ts';
import { type Period, parsePeriod, previousPeriod, yearBeforePeriod } from './report-period.ts';
import { type BookingSpan, openWithin, type SpaceUse, spaceUse, sumSpaceUse } from './space-use.ts';

/**
 * Gathers the board report of a period: the time-series store's hourly aggregates (rollups, so a year
 * stays fast after the raw readings are pruned) and the booking records, turned into figures by the pure
 * functions beside this file, for the period, the one before and the same one a year earlier.
 */

export interface BoardReportSources {
  site: SiteConfig;
  store: TimeSeriesStore;
  records: RecordsDb;
  /** To know which devices measure CO2 and occupancy. */
  profiles: ReadonlyMap<string, DeviceProfile>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** How far back the counter value before a period is looked for (a meter silent longer is judged from its first hour). */
const COUNTER_BASELINE_MS = 35 * DAY_MS;

interface BookingRow {
  space_id: string;
  start_ms: number;
  end_ms: number;
  status: BookingStatus;
}

/** One period's measures plus the detail the tables need. */
interface Gathered {
  measures: PeriodMeasures;
  until: number;
  /** Share of the period's hours the main meters have figures for. */
  coverage: number;
  meters: { device: string; space: string; role: string; kwh: number | null; resets: number }[];
  mainHours: { ts: number; value: number }[];
  spaces: SpaceUse[];
  rooms: {
    spaceId: string;
    name: string;
    occupiedHours: number;
    goodHours: number;
    meanCo2Ppm: number | null;
  }[];
}

/** A sensor's series by device: room sensors measure on one channel. */
function byDevice(series: readonly Series[]): Map<string, Series> {
  return new Map(series.filter((s) => s.channel === FIRST_CHANNEL).map((s) => [s.device, s]));
}

/** The store's series by device and channel: a meter's phases or outputs are series of their own. */
function byChannel(series: readonly Series[]): Map<string, Map<string, Series>> {
  const out = new Map<string, Map<string, Series>>();
  for (const s of series) {
    let channels = out.get(s.device);
    if (channels === undefined) {
      channels = new Map();
      out.set(s.device, channels);
    }
    channels.set(s.channel, s);
  }
  return out;
}

async function gather(sources: BoardReportSources, period: Period, now: number): Promise<Gathered> {
  const { site, store, records } = sources;
  const tz = site.site.timezone;
  const from = period.from;
  const until = Math.min(period.to, now);
  const quantitiesOf = (profile: string) => sources.profiles.get(profile)?.quantities ?? [];

  // Energy: hourly consumption and last counter value of every meter, and the counter before the period.
  const meterDevices = site.devices.filter((d) => d.meter_role !== undefined);
  const hourly = { from, to: until, bucketMs: HOUR_MS };
  const [consumption, lasts, before] = await Promise.all([
    store.query({ quantity: 'energy', ...hourly, aggregate: 'consumption' }),
    store.query({ quantity: 'energy', ...hourly, aggregate: 'last' }),
    store.query({ quantity: 'energy', from: from - COUNTER_BASELINE_MS, to: from, aggregate: 'last' }),
  ]);
  // A meter counts with all its channels (the three phases of a 3EM main meter): they add up per hour,
  // and each channel's counter restarts on its own.
  const consumptionOf = addUpChannels(consumption);
  const channelConsumption = byChannel(consumption);
  const lastOf = byChannel(lasts);
  const beforeOf = byChannel(before);
  const meters = meterDevices.map((device) => {
    let resets = 0;
    for (const [channel, s] of channelConsumption.get(device.id) ?? []) {
      const lastByHour = new Map(
        (lastOf.get(device.id)?.get(channel)?.points ?? []).map((p) => [p.ts, p.value]),
      );
      const hours: MeterHour[] = s.points.map((p) => ({
        ts: p.ts,
        consumption: p.value,
        last: lastByHour.get(p.ts) ?? null,
      }));
      resets += counterResetHours(hours, beforeOf.get(device.id)?.get(channel)?.points[0]?.value ?? null);
    }
    return {
      device: device.id,
      space: device.space,
      role: device.meter_role as string,
      kwh: totalKwh(consumptionOf.get(device.id)?.points ?? []),
      resets,
    };
  });
  const mainIds = new Set(meterDevices.filter((d) => d.meter_role === 'main').map((d) => d.id));
  const mainHours = new Map<number, number>();
  for (const id of mainIds)
    for (const p of consumptionOf.get(id)?.points ?? [])
      mainHours.set(p.ts, (mainHours.get(p.ts) ?? 0) + p.value);
  const energyKwh = totalKwh(meters.filter((m) => mainIds.has(m.device)).map((m) => ({ value: m.kwh })));
  const coverage = meterCoverage(
    [...mainIds].map((id) => consumptionOf.get(id)?.points ?? []),
    { from, to: until },
  );

  // Bookings overlapping the period (every status: cancelled ones are dropped by the arithmetic).
  const rows = records
    .prepare<[number, number], BookingRow>(
      'SELECT space_id, start_ms, end_ms, status FROM bookings WHERE start_ms < ? AND end_ms > ?',
    )
    .all(until, from);
  const first = records.prepare('SELECT min(start_ms) AS first FROM bookings').get() as {
    first: number | null;
  };
  const bookingsOf = new Map<string, BookingSpan[]>();
  for (const r of rows) {
    const list = bookingsOf.get(r.space_id) ?? [];
    list.push({ start: r.start_ms, end: r.end_ms, status: r.status });
    bookingsOf.set(r.space_id, list);
  }
  const sensed = new Set(
    site.devices.filter((d) => quantitiesOf(d.profile).includes('occupancy')).map((d) => d.space),
  );
  const range = { start: from, end: until };
  // Expanding opening hours over a year costs milliseconds per space; desks share a handful of rule sets.
  const openBy = new Map<string, Interval[]>();
  const openOf = (space: SpaceConfig) => {
    const key = JSON.stringify(space.opening_hours ?? null);
    let open = openBy.get(key);
    if (open === undefined) {
      open = openWithin(space, range, tz);
      openBy.set(key, open);
    }
    return open;
  };
  const spaces = site.spaces
    .filter(isBookable)
    .map((s) => spaceUse(s, bookingsOf.get(s.id) ?? [], range, openOf(s), sensed.has(s.id)));
  const total = sumSpaceUse(spaces);
  const desks = sumSpaceUse(spaces.filter((s) => s.kind === 'desk'));

  // Air: per room with a CO2 sensor, the hours with presence and their mean CO2.
  const rooms = airRooms(site, quantitiesOf);
  const [occupancy, occupancyBefore, co2] =
    rooms.length === 0
      ? [[], [], []]
      : await Promise.all([
          store.query({ quantity: 'occupancy', ...hourly, aggregate: 'mean' }),
          store.query({
            quantity: 'occupancy',
            from: from - PRESENCE_CARRIES_HOURS * HOUR_MS,
            to: from,
            bucketMs: HOUR_MS,
            aggregate: 'last',
          }),
          store.query({ quantity: 'co2', ...hourly, aggregate: 'mean' }),
        ]);
  const occupancyOf = byDevice(occupancy);
  const occupancyBeforeOf = byDevice(occupancyBefore);
  const co2Of = byDevice(co2);
  const airOfRooms = rooms.map((room) => {
    const present = new Set<number>();
    for (const device of room.occupancyDevices) {
      const hours: OccupancyHour[] = (occupancyOf.get(device)?.points ?? []).map((p) => ({
        ts: p.ts,
        mean: p.value,
      }));
      const stateBefore = occupancyBeforeOf.get(device)?.points.at(-1) ?? null;
      for (const hour of presentHours(hours, stateBefore, { from, to: until })) present.add(hour);
    }
    const sums = new Map<number, { sum: number; n: number }>();
    for (const device of room.co2Devices) {
      for (const p of co2Of.get(device)?.points ?? []) {
        const s = sums.get(p.ts) ?? { sum: 0, n: 0 };
        s.sum += p.value;
        s.n += 1;
        sums.set(p.ts, s);
      }
    }
    const meanByHour = new Map([...sums].map(([ts, s]) => [ts, s.sum / s.n]));
    return { spaceId: room.spaceId, name: room.name, ...roomAir(present, meanByHour) };
  });

  const factor = locationFactor(period.firstDay.year, site.site.grid_co2_g_per_kwh);
  const measures: PeriodMeasures = {
    energyKwh,
    areaM2: site.floors.reduce((sum, f) => sum + f.area_m2, 0),
    days: until < period.to ? (until - from) / DAY_MS : period.days,
    locationGPerKwh: factor.gPerKwh,
    marketGPerKwh: site.site.supplier_co2_g_per_kwh ?? null,
    bookingsKnown: first.first !== null && first.first < until,
    deskBookedMs: desks.bookedMs,
    bookedMs: total.bookedMs,
    availableMs: total.availableMs,
    checkableBookedMs: total.checkableBookedMs,
    checkableUsedMs: total.checkableUsedMs,
    started: total.started,
    released: total.released,
    occupiedAirHours: airOfRooms.reduce((sum, r) => sum + r.occupiedHours, 0),
    goodAirHours: airOfRooms.reduce((sum, r) => sum + r.goodHours, 0),
  };
  return {
    measures,
    until,
    coverage,
    meters,
    mainHours: [...mainHours].map(([ts, value]) => ({ ts, value })).sort((a, b) => a.ts - b.ts),
    spaces,
    rooms: airOfRooms,
  };
}

/** After this, readings of a period no longer arrive late (the gateway's spool replays an outage within it). */
export const PERIOD_SETTLES_MS = DAY_MS;

/**
 * Gathered periods, keyed by label, so that the period before and the year before are not read again for
 * every page view and CSV download. A period still running (or settling) is kept `openTtlMs`, so its figures
 * keep up with the building; a settled one `settledTtlMs` — not for ever, because history can still arrive
 * for it: the demo's first start writes 400 days of the past in the background while the page may already
 * be open. Concurrent requests for the same period share one computation.
 */
export class BoardReportCache {
  private readonly entries = new Map<string, { gathered: Promise<Gathered>; expiresAt: number }>();
  private readonly maxEntries: number;
  private readonly openTtlMs: number;
  private readonly settledTtlMs: number;

  constructor(options: { maxEntries?: number; openTtlMs?: number; settledTtlMs?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 48;
    this.openTtlMs = options.openTtlMs ?? 60_000;
    this.settledTtlMs = options.settledTtlMs ?? 15 * 60_000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops a period, so that the next request reads it afresh. */
  forget(label: string): void {
    this.entries.delete(label);
  }

  gather(label: string, settled: boolean, now: number, compute: () => Promise<Gathered>): Promise<Gathered> {
    const entry = this.entries.get(label);
    if (entry !== undefined && entry.expiresAt > now) return entry.gathered;
    const gathered = compute();
    this.entries.delete(label);
    this.entries.set(label, {
      gathered,
      expiresAt: now + (settled ? this.settledTtlMs : this.openTtlMs),
    });
    // A failure (the store was down) is not remembered.
    gathered.catch(() => this.entries.delete(label));
    while (this.entries.size > this.maxEntries)
      this.entries.delete(this.entries.keys().next().value as string);
    return gathered;
  }
}

function periodOut(period: Period, g: Gathered): ReportPeriodOut {
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
  g: Gathered,
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
    cache
      ? cache.gather(p.label, now >= p.to + PERIOD_SETTLES_MS, now, () => gather(sources, p, now))
      : gather(sources, p, now);
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

/** Below this share of its hours with meter figures a warmed period is not kept: its history may be on its way. */
export const WARM_COVERAGE = 0.95;

/**
 * Computes the report the board page opens on into `cache`, so that the first visit finds it ready. Periods
 * the meters do not cover yet, or without bookings yet, are dropped again (the first start writes the history in the background, and
 * a settled period would otherwise be kept a quarter of an hour without it). Resolves with whether the
 * opening period was covered, so the caller knows whether to try again later.
 */
export async function warmBoardReport(
  sources: BoardReportSources,
  cache: BoardReportCache,
  now: number = Date.now(),
): Promise<boolean> {
  const report = await buildBoardReport(
    sources,
    lastCompleteMonth(now, sources.site.site.timezone),
    now,
    cache,
  );
  // The history's bookings are written after its readings: a month with readings but no bookings yet is
  // not kept either.
  const booked = report.figures.find((f) => f.key === 'bookedHours');
  const ready = (coverage: number, bookedHours: number | null | undefined) =>
    coverage >= WARM_COVERAGE && bookedHours !== null && bookedHours !== undefined;
  const periods = [
    { label: report.period.label, ready: ready(report.period.coverage, booked?.value) },
    { label: report.previous.label, ready: ready(report.previous.coverage, booked?.previous) },
    { label: report.yearBefore.label, ready: ready(report.yearBefore.coverage, booked?.yearBefore) },
  ];
  for (const p of periods) if (!p.ready) cache.forget(p.label);
  return periods[0]?.ready === true;
}
