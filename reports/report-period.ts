import { fromLocal, type LocalDate } from '../site/local-time.ts';
import type { ReportPeriodOut } from './board-report-schema.ts';

/**
 * The board's reporting periods: a calendar month (`2026-10`), quarter (`2026-Q4`) or year (`2026`), from
 * local midnight of its first day to local midnight after its last, in the site's time zone. A month with
 * the autumn clock change is therefore 745 hours long and one with the spring change 743: the board counts
 * calendar days, not 24-hour blocks.
 */

export type PeriodKind = 'month' | 'quarter' | 'year';

export interface Period {
  kind: PeriodKind;
  /** `2026-10`, `2026-Q4`, `2026`. */
  label: string;
  /** Epoch ms, inclusive: local midnight of the first day. */
  from: number;
  /** Epoch ms, exclusive: local midnight after the last day. */
  to: number;
  /** Calendar days in the period (28 … 366). */
  days: number;
  /** First day and the day after the last, as local dates. */
  firstDay: LocalDate;
  endDay: LocalDate;
}

export type PeriodParse = { ok: true; period: Period } | { ok: false; reason: string };

const MONTH = /^(\d{4})-(\d{2})$/;
const QUARTER = /^(\d{4})-Q([1-4])$/i;
const YEAR = /^(\d{4})$/;
/** Before the first meter and long after the last board: refuse rather than compute a silent empty report. */
const FIRST_YEAR = 2000;
const LAST_YEAR = 2999;

const DAY_MS = 86_400_000;

function calendarDays(first: LocalDate, end: LocalDate): number {
  return Math.round(
    (Date.UTC(end.year, end.month - 1, end.day) - Date.UTC(first.year, first.month - 1, first.day)) / DAY_MS,
  );
}

function monthsLater(date: LocalDate, months: number): LocalDate {
  const index = date.year * 12 + (date.month - 1) + months;
  return { year: Math.floor(index / 12), month: (index % 12) + 1, day: 1 };
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** The period of `kind` starting on the first of `year`/`month` (a quarter's or year's first month). */
function periodStarting(kind: PeriodKind, year: number, month: number, timeZone: string): Period {
  const firstDay: LocalDate = { year, month, day: 1 };
  const endDay = monthsLater(firstDay, kind === 'month' ? 1 : kind === 'quarter' ? 3 : 12);
  const label =
    kind === 'month'
      ? `${year}-${pad2(month)}`
      : kind === 'quarter'
        ? `${year}-Q${(month - 1) / 3 + 1}`
        : String(year);
  return {
    kind,
    label,
    from: fromLocal(firstDay, 0, timeZone),
    to: fromLocal(endDay, 0, timeZone),
    days: calendarDays(firstDay, endDay),
    firstDay,
    endDay,
  };
}

/** `2026-10`, `2026-Q4` (or `2026-q4`) or `2026` in the site's zone; anything else says what is accepted. */
export function parsePeriod(text: string, timeZone: string): PeriodParse {
  const trimmed = text.trim();
  const monthly = MONTH.exec(trimmed);
  const quarterly = QUARTER.exec(trimmed);
  const yearly = YEAR.exec(trimmed);
  let kind: PeriodKind;
  let year: number;
  let month: number;
  if (monthly) {
    kind = 'month';
    year = Number(monthly[1]);
    month = Number(monthly[2]);
    if (month < 1 || month > 12) return { ok: false, reason: `period "${text}": month must be 01 … 12` };
  } else if (quarterly) {
    kind = 'quarter';
    year = Number(quarterly[1]);
    month = (Number(quarterly[2]) - 1) * 3 + 1;
  } else if (yearly) {
    kind = 'year';
    year = Number(yearly[1]);
    month = 1;
  } else {
    return {
      ok: false,
      reason: `period "${text}" must be a month (2026-10), a quarter (2026-Q4) or a year (2026)`,
    };
  }
  if (year < FIRST_YEAR || year > LAST_YEAR)
    return { ok: false, reason: `period "${text}": the year must be between ${FIRST_YEAR} and ${LAST_YEAR}` };
  return { ok: true, period: periodStarting(kind, year, month, timeZone) };
}

/** The period of the same kind just before: September for October, Q3 for Q4, 2025 for 2026. */
export function previousPeriod(period: Period, timeZone: string): Period {
  const step = period.kind === 'month' ? -1 : period.kind === 'quarter' ? -3 : -12;
  const first = monthsLater(period.firstDay, step);
  return periodStarting(period.kind, first.year, first.month, timeZone);
}

/** The same period one year earlier: October 2025 for October 2026. */
export function yearBeforePeriod(period: Period, timeZone: string): Period {
  return periodStarting(period.kind, period.firstDay.year - 1, period.firstDay.month, timeZone);
}

/**
 * A period as a report answers it: `until` while it still runs (the report counts up to then), and the
 * share of its hours the main meters have figures for (three decimals).
 */
export function reportPeriodOut(period: Period, until: number, coverage: number): ReportPeriodOut {
  return {
    kind: period.kind,
    label: period.label,
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    days: period.days,
    ...(until < period.to ? { until: new Date(until).toISOString() } : {}),
    coverage: Math.round(coverage * 1000) / 1000,
  };
}
