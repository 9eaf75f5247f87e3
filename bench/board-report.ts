import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { openRecords } from '../database/database.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { buildBoardReport } from '../reports/board-report.ts';
import { BoardReportCache } from '../reports/board-report-cache.ts';
import { parsePeriod } from '../reports/report-period.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';

/**
 * The board report on a real data dir (the demo's after its first start: ~400 days of hourly rollups):
 * uncached year and month reports, against a baseline measured in the same run — one plain read of the
 * rollup rows the year report needs (energy twice, CO2 and occupancy, of the year and the year before),
 * device by device along the primary key, two columns, nothing else done. The ratio report/baseline is the figure, so a loaded
 * machine slows both alike.
 */

export interface BoardReportBenchResult {
  dataDir: string;
  year: string;
  month: string;
  /** Medians in ms. */
  yearMs: number;
  monthMs: number;
  baselineMs: number;
  /** yearMs / baselineMs. */
  yearToBaseline: number;
  /** yearMs / monthMs. */
  yearToMonth: number;
  runs: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export async function benchBoardReport(options: {
  dataDir: string;
  siteFile?: string;
  runs?: number;
  now?: number;
}): Promise<BoardReportBenchResult> {
  const now = options.now ?? Date.now();
  const runs = options.runs ?? 3;
  const site = loadSite(options.siteFile ?? DEMO_SITE_FILE);
  const profiles = await loadProfiles();
  const store = new SqliteStore({ file: path.join(options.dataDir, 'readings.db') });
  const records = openRecords(path.join(options.dataDir, 'wesprint.db'));
  const tz = site.site.timezone;
  const today = new Date(now);
  const yearLabel = String(today.getUTCFullYear());
  const lastMonth = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
  const monthLabel = `${lastMonth.getUTCFullYear()}-${String(lastMonth.getUTCMonth() + 1).padStart(2, '0')}`;
  const year = parsePeriod(yearLabel, tz);
  const month = parsePeriod(monthLabel, tz);
  if (!year.ok || !month.ok) throw new Error('bench: periods do not parse');
  const sources = { site, store, bookings: new SqliteBookingStore(records, site.site.id), profiles };
  // The same SQLite connection settings as the store, without its code: what reading the rows costs at least.
  const raw = (await import('better-sqlite3')).default(path.join(options.dataDir, 'readings.db'), {
    readonly: true,
  });
  const scan = raw
    .prepare('SELECT hour, sum FROM rollup_hour WHERE device = ? AND quantity = ? AND hour >= ? AND hour < ?')
    .raw(true);
  const from = year.period.from - 366 * 86_400_000;
  const to = Math.min(year.period.to, now);
  const time = async (f: () => unknown): Promise<number> => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  const yearMs: number[] = [];
  const monthMs: number[] = [];
  const baselineMs: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      baselineMs.push(
        await time(() => {
          let n = 0;
          for (const q of ['energy', 'energy', 'occupancy', 'co2'])
            for (const device of site.devices) n += scan.all(device.id, q, from, to).length;
          return n;
        }),
      );
      // A fresh cache each time: uncached, but the year's previous and year-before period (the same year) read once, as by the API.
      yearMs.push(await time(() => buildBoardReport(sources, year.period, now, new BoardReportCache())));
      monthMs.push(await time(() => buildBoardReport(sources, month.period, now, new BoardReportCache())));
    }
  } finally {
    raw.close();
    await store.close();
    records.close();
  }
  const y = median(yearMs);
  const m = median(monthMs);
  const b = median(baselineMs);
  return {
    dataDir: options.dataDir,
    year: yearLabel,
    month: monthLabel,
    yearMs: Math.round(y),
    monthMs: Math.round(m),
    baselineMs: Math.round(b),
    yearToBaseline: Math.round((y / b) * 100) / 100,
    yearToMonth: Math.round((y / m) * 100) / 100,
    runs,
  };
}

export function describeBoardReportBench(r: BoardReportBenchResult): string[] {
  return [
    `board report on ${r.dataDir} (median of ${r.runs}, uncached)`,
    `  year ${r.year}           ${String(r.yearMs).padStart(7)} ms`,
    `  month ${r.month}        ${String(r.monthMs).padStart(7)} ms`,
    `  plain rollup scan      ${String(r.baselineMs).padStart(7)} ms   (the rows a year report reads, nothing built)`,
    `  year / scan            ${r.yearToBaseline.toFixed(2)}`,
    `  year / month           ${r.yearToMonth.toFixed(2)}`,
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: node bench/board-report.ts DATA_DIR [runs]');
  const result = await benchBoardReport({ dataDir, runs: Number(process.argv[3] ?? 3) });
  for (const line of describeBoardReportBench(result)) console.log(line);
}
