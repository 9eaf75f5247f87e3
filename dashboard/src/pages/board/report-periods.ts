/**
 * The report's periods as the URL names them (`2026-10`, `2026-Q4`, `2026`), and the steps a reader takes
 * between them. Pure label arithmetic: where a period starts and ends in the site's time zone is the API's
 * business; the page only needs to name the neighbours.
 */
export const PERIOD_KINDS = ['month', 'quarter', 'year'] as const;
export type PeriodKind = (typeof PERIOD_KINDS)[number];

export interface Period {
  kind: PeriodKind;
  year: number;
  /** Month 1..12, quarter 1..4; 1 for a year. */
  index: number;
}

const MONTHS_IN: Record<PeriodKind, number> = { month: 1, quarter: 3, year: 12 };

/** `2026-10`, `2026-Q4`, `2026`; null for anything else. */
export function parsePeriod(label: string | null | undefined): Period | null {
  const match = /^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$/.exec(label ?? '');
  if (!match) return null;
  const year = Number(match[1]);
  if (match[2]) return { kind: 'month', year, index: Number(match[2]) };
  if (match[3]) return { kind: 'quarter', year, index: Number(match[3]) };
  return { kind: 'year', year, index: 1 };
}

export function periodLabel(period: Period): string {
  if (period.kind === 'month') return `${period.year}-${String(period.index).padStart(2, '0')}`;
  if (period.kind === 'quarter') return `${period.year}-Q${period.index}`;
  return String(period.year);
}

/** Months since year 0 of the period's first month: periods of any kind compare by it. */
function firstMonth(period: Period): number {
  return period.year * 12 + (period.index - 1) * MONTHS_IN[period.kind];
}

function lastMonth(period: Period): number {
  return firstMonth(period) + MONTHS_IN[period.kind] - 1;
}

/** The period of `kind` holding the month `month` (months since year 0). */
function periodHolding(kind: PeriodKind, month: number): Period {
  const year = Math.floor(month / 12);
  return { kind, year, index: Math.floor((month % 12) / MONTHS_IN[kind]) + 1 };
}

/** `by` periods later (earlier when negative), of the same kind. */
export function shiftPeriod(period: Period, by: number): Period {
  return periodHolding(period.kind, firstMonth(period) + by * MONTHS_IN[period.kind]);
}

/** Negative when a starts before b. */
export function comparePeriods(a: Period, b: Period): number {
  return firstMonth(a) - firstMonth(b) || lastMonth(a) - lastMonth(b);
}

/** The period of `kind` that holds the calendar day `today` (its year and month 1..12). */
export function periodOf(kind: PeriodKind, today: { year: number; month: number }): Period {
  return periodHolding(kind, today.year * 12 + today.month - 1);
}

/** What the board most often wants: the last period of `kind` that has ended before `today`. */
export function lastCompletePeriod(kind: PeriodKind, today: { year: number; month: number }): Period {
  return shiftPeriod(periodOf(kind, today), -1);
}

/**
 * Switching between month, quarter and year keeps the reader where they were: the new period holds the
 * last month of the old one (October → Q4 → 2026; 2026 → Q4 → December), never later than `latest`.
 */
export function changeKind(period: Period, kind: PeriodKind, latest: Period): Period {
  const month = Math.min(lastMonth(period), lastMonth(latest));
  return periodHolding(kind, month);
}

/** `count` periods of `kind`, newest first, ending with the one holding the last month of `latest`. */
export function recentPeriods(kind: PeriodKind, latest: Period, count: number): Period[] {
  const newest = periodHolding(kind, lastMonth(latest));
  return Array.from({ length: count }, (_, i) => shiftPeriod(newest, -i));
}

/**
 * The period as a reader names it: `Oktober 2026`, `4. Quartal 2026` (from the page's `quarterName` text
 * with `{quarter}` and `{year}`), `2026`.
 */
export function periodName(period: Period, locale: string, quarterName: string): string {
  if (period.kind === 'month') {
    return new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
      Date.UTC(period.year, period.index - 1, 1),
    );
  }
  if (period.kind === 'quarter') {
    return quarterName.replace('{quarter}', String(period.index)).replace('{year}', String(period.year));
  }
  return String(period.year);
}
