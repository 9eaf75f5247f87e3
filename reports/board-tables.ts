import { addDays, fromLocal, type LocalDate } from '../site/local-time.ts';
import type { SiteConfig } from '../site/site.ts';
import { rounded, share } from './board-figures.ts';
import type { GatheredPeriod } from './board-report.ts';
import type { ReportFigureOut, ReportTableOf, ReportTableOut } from './board-report-schema.ts';
import { HOUR_MS } from './gathered-series.ts';
import { kwhByLocalDay } from './meter-energy.ts';
import type { Period } from './report-period.ts';
import { type SpaceUse, sumSpaceUse } from './space-use.ts';

/**
 * The board report's tables of one period, laid out as the contract (board-report-schema.ts) says: pure,
 * from what the gatherers read and the figures already compared.
 */

const hours = (ms: number) => rounded(ms / HOUR_MS, 'h');
const ratio = (part: number, whole: number) => rounded(share(part, whole), 'ratio');

/** The columns of the two space-use tables after their own. */
const USE_COLUMNS = [
  { key: 'availableHours', unit: 'h' },
  { key: 'bookedHours', unit: 'h' },
  { key: 'bookedShare', unit: 'ratio' },
  { key: 'usedHours', unit: 'h' },
  { key: 'usedShareOfBooked', unit: 'ratio' },
  { key: 'bookingsStarted' },
  { key: 'noShows' },
  { key: 'noShowRate', unit: 'ratio' },
] as const;

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

/** The report's tables of `g`, the gathered `period`, in the order of TABLE_IDS. */
/** A report's summary table: one row per figure, with the period before and a year before. */
export function summaryTable<K extends string>(
  figures: readonly {
    key: K;
    unit: string;
    value: number | null;
    previous: number | null;
    yearBefore: number | null;
  }[],
) {
  return {
    id: 'summary' as const,
    columns: (['figure', 'unit', 'value', 'previous', 'yearBefore'] as const).map((key) => ({ key })),
    rows: figures.map((f) => ({
      figure: f.key,
      unit: f.unit,
      value: f.value,
      previous: f.previous,
      yearBefore: f.yearBefore,
    })),
  };
}

export function boardTables(
  site: SiteConfig,
  period: Period,
  g: GatheredPeriod,
  figures: readonly ReportFigureOut[],
): ReportTableOut[] {
  const names = new Map(site.spaces.map((s) => [s.id, s.name]));
  const summary: ReportTableOf<'summary'> = summaryTable(figures);
  const energyByMeter: ReportTableOf<'energy-by-meter'> = {
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
  const energyByDay: ReportTableOf<'energy-by-day'> = {
    id: 'energy-by-day',
    columns: [{ key: 'date' }, { key: 'energyKwh', unit: 'kWh' }],
    rows: datesOf(period, g.until, site.site.timezone).map((date) => ({
      date,
      energyKwh: rounded(byDay.get(date) ?? null, 'kWh'),
    })),
  };
  const kinds = [...new Set(g.spaces.map((s) => s.kind))];
  const spaceUseByKind: ReportTableOf<'space-use'> = {
    id: 'space-use',
    columns: [{ key: 'kind' }, { key: 'spaces' }, ...USE_COLUMNS],
    rows: kinds.map((kind) => {
      const ofKind = g.spaces.filter((s) => s.kind === kind);
      return { kind, spaces: ofKind.length, ...useRow(sumSpaceUse(ofKind)) };
    }),
  };
  const spaceUseBySpace: ReportTableOf<'space-use-by-space'> = {
    id: 'space-use-by-space',
    columns: [{ key: 'space' }, { key: 'name' }, { key: 'kind' }, ...USE_COLUMNS],
    rows: g.spaces.map((s) => ({
      space: s.spaceId,
      name: names.get(s.spaceId) ?? s.spaceId,
      kind: s.kind,
      ...useRow(s),
    })),
  };
  const airQuality: ReportTableOf<'air-quality'> = {
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
