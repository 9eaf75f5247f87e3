import type { AuditLog } from '../access/audit-log.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { toLocal } from '../site/local-time.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { gatherAir } from './air-gatherer.ts';
import {
  type AutomationSavings,
  savedByAutomationsOut,
  savedByAutomationsTable,
} from './automation-savings.ts';
import { compareFigures, type PeriodMeasures, periodFigures } from './board-figures.ts';
import type { BoardReportCache } from './board-report-cache.ts';
import type { BoardReportOut, ReportPeriodOut } from './board-report-schema.ts';
import { boardTables } from './board-tables.ts';
import { gatherBookings } from './bookings-gatherer.ts';
import { locationFactor } from './emission-factors.ts';
import { gatherEnergy } from './energy-gatherer.ts';
import { HOUR_MS } from './gathered-series.ts';
import {
  type Period,
  parsePeriod,
  previousPeriod,
  reportPeriodOut,
  yearBeforePeriod,
} from './report-period.ts';
import { gatherSavings } from './savings-gatherer.ts';
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
  /** The commands automations sent, for what they saved; without it the report has no such section. */
  audit?: Pick<AuditLog, 'query'>;
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
  /** What automations saved (estimates); null without an audit log. */
  saved: AutomationSavings | null;
}

export async function gatherPeriod(
  sources: BoardReportSources,
  period: Period,
  now: number,
): Promise<GatheredPeriod> {
  const { site } = sources;
  const range = { from: period.from, to: Math.min(period.to, now) };
  const factor = locationFactor(period.firstDay.year, site.site.grid_co2_g_per_kwh);
  const { audit } = sources;
  const [energy, bookings, rooms, saved] = await Promise.all([
    gatherEnergy(sources, range),
    gatherBookings(sources, range),
    gatherAir(sources, range),
    audit
      ? gatherSavings({ ...sources, audit }, range, {
          locationGPerKwh: factor.gPerKwh,
          marketGPerKwh: site.site.supplier_co2_g_per_kwh ?? null,
        })
      : null,
  ]);
  const total = sumSpaceUse(bookings.spaces);
  const desks = sumSpaceUse(bookings.spaces.filter((s) => s.kind === 'desk'));
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
    saved,
  };
}

export function periodOut(period: Period, g: GatheredPeriod): ReportPeriodOut {
  return reportPeriodOut(period, g.until, g.coverage);
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
    savedByAutomations: current.saved
      ? savedByAutomationsOut(current.saved, site.site.heating_co2_g_per_kwh ?? null)
      : null,
    tables: [
      ...boardTables(site, period, current, figures),
      ...(current.saved ? [savedByAutomationsTable(current.saved)] : []),
    ],
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
