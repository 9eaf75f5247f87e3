import {
  type BoardReportSources,
  buildBoardReport,
  type GatheredPeriod,
  lastCompleteMonth,
} from './board-report.ts';
import type { Period } from './report-period.ts';

/**
 * Keeping the board report's periods between requests, and computing the one the page opens on before
 * anyone asks for it.
 */

/** After this, readings of a period no longer arrive late (the gateway's spool replays an outage within it). */
export const PERIOD_SETTLES_MS = 24 * 3_600_000;

/**
 * Gathered periods, keyed by label, so that the period before and the year before are not read again for
 * every page view and CSV download. A period still running (or settling) is kept `openTtlMs`, so its figures
 * keep up with the building; a settled one `settledTtlMs` — not for ever, because history can still arrive
 * for it: the demo's first start writes 400 days of the past in the background while the page may already
 * be open. Concurrent requests for the same period share one computation.
 */
export class BoardReportCache {
  private readonly entries = new Map<string, { gathered: Promise<GatheredPeriod>; expiresAt: number }>();
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

  /** The period's figures from the cache while they are fresh, else from `compute` (and kept). */
  gather(period: Period, now: number, compute: () => Promise<GatheredPeriod>): Promise<GatheredPeriod> {
    const { label } = period;
    const settled = now >= period.to + PERIOD_SETTLES_MS;
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
