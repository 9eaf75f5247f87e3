import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { stringify } from 'csv-stringify/sync';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { STAFF_AND_BOARD } from '../access/roles.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { type BoardReportSources, buildBoardReport } from '../reports/board-report.ts';
import { BoardReportCache, warmBoardReport } from '../reports/board-report-cache.ts';
import {
  type AnyReportTable,
  BoardReport,
  type BoardReportOut,
  TABLE_IDS,
} from '../reports/board-report-schema.ts';
import { type Period, parsePeriod } from '../reports/report-period.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { ApiError, ErrorBody } from './errors.ts';

export interface BoardReportRoutesOptions {
  site: SiteConfig;
  store: TimeSeriesStore;
  bookings: BookingStore;
  profiles: Map<string, DeviceProfile>;
  /** The audit log, for the commands automations sent (the report's "saved by automations"). */
  audit?: Pick<AuditLog, 'query'>;
  /** The time; tests fix it. */
  now?: () => number;
  /**
   * Compute the opening report when the API starts listening (default true; tests that count reads turn it
   * off); or hand the warm-up's start (it returns its stop) to whoever decides when it runs (the leader).
   */
  warm?: boolean | ((start: () => () => Promise<void>) => void);
}

/** While the opening month is not covered yet (the first start's history still being written), warm again this often. */
const WARM_AGAIN_MS = 5 * 60_000;
const WARM_TRIES = 24;

export const PeriodParam = Type.String({
  minLength: 1,
  maxLength: 16,
  description: 'a month (2026-10), a quarter (2026-Q4) or a year (2026), in the site’s time zone',
});

/** The CSV's conventions: German or English spreadsheets. */
export const CsvLang = Type.Optional(
  Type.Enum(['de', 'en'], {
    description: 'de (default): `;` between fields and decimal commas; en: `,` and decimal points',
  }),
);

/** What a report's CSV route answers. */
export const CSV_RESPONSES = {
  200: Type.String({ description: 'text/csv; charset=utf-8' }),
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  503: ErrorBody,
};

/** The UTF-8 byte order mark: without it Excel reads the file as Windows-1252 and mangles the umlauts. */
const BOM = '\uFEFF';

/**
 * CSV as the reader's spreadsheet expects it: German Excel splits on `;` and reads `1,5` as a number,
 * English on `,` with `1.5`. Formulas are defused (a space name starting with `=` stays text).
 */
export function reportCsv(
  table: Pick<AnyReportTable, 'rows'> & { columns: readonly { key: string }[] },
  lang: 'de' | 'en',
): string {
  const german = lang === 'de';
  return (
    BOM +
    stringify(
      table.rows.map((row) => table.columns.map((c) => row[c.key] ?? null)),
      {
        header: true,
        columns: table.columns.map((c) => c.key),
        delimiter: german ? ';' : ',',
        record_delimiter: 'windows',
        escape_formulas: true,
        cast: { number: (value) => (german ? String(value).replace('.', ',') : String(value)) },
      },
    )
  );
}

/** The period a report is asked for; a 400 that says what to change when it cannot be reported. */
export function reportablePeriod(text: string, timeZone: string, now: number): Period {
  const parsed = parsePeriod(text, timeZone);
  if (!parsed.ok) throw new ApiError(400, parsed.reason);
  // A period that has not begun has nothing to report: refused rather than an empty report that looks real.
  if (parsed.period.from >= now)
    throw new ApiError(
      400,
      `period ${parsed.period.label} has not begun yet; choose one up to the current one`,
    );
  return parsed.period;
}

type CsvTable = Parameters<typeof reportCsv>[0] & { id: string };

/** One of a report's tables as a CSV download; a 400 when the report has no such table. */
export function sendCsv(
  reply: FastifyReply,
  filename: string,
  tables: readonly CsvTable[],
  id: string | number,
  lang: 'de' | 'en',
): FastifyReply {
  const table = tables.find((t) => t.id === String(id));
  if (!table) throw new ApiError(400, `the report has no table "${id}"`);
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(reportCsv(table, lang));
}

/** The query of a report's CSV: the period, which table, and whose spreadsheet conventions. */
export function csvQuery<const Ids extends readonly string[]>(tableIds: Ids) {
  return Type.Object({
    period: PeriodParam,
    table: Type.Enum([...tableIds]),
    lang: CsvLang,
  });
}

/** The board's ecological report (JSON for the page, CSV per table for spreadsheets). */
export const boardReportRoutes: FastifyPluginAsyncTypebox<BoardReportRoutesOptions> = async (
  app,
  options,
) => {
  const now = options.now ?? Date.now;
  const tz = options.site.site.timezone;
  const cache = new BoardReportCache();
  const sources: BoardReportSources = {
    site: options.site,
    store: options.store,
    bookings: options.bookings,
    profiles: options.profiles,
    ...(options.audit ? { audit: options.audit } : {}),
  };

  // The first visit to the board page should not wait for the month, the month before and a year before to
  // be read: they are read once the API listens, in the background, and again while their history is missing.
  let warmTimer: NodeJS.Timeout | undefined;
  let tries = 0;
  let warming = false;
  const warm = () => {
    tries++;
    warmBoardReport(sources, cache, now())
      .then((covered) => {
        if (warming && !covered && tries < WARM_TRIES) warmTimer = setTimeout(warm, WARM_AGAIN_MS).unref();
      })
      .catch((err: Error) => app.log.warn({ err: err.message }, 'board report not warmed'));
  };
  const startWarm = () => {
    warming = true;
    tries = 0;
    warmTimer = setTimeout(warm, 0).unref();
    return async () => {
      warming = false;
      clearTimeout(warmTimer);
    };
  };
  if (typeof options.warm === 'function') options.warm(startWarm);
  else if (options.warm ?? true) app.addHook('onListen', async () => void startWarm());
  app.addHook('onClose', async () => {
    warming = false;
    clearTimeout(warmTimer);
  });

  const periodOf = (text: string) => reportablePeriod(text, tz, now());

  async function report(period: Period): Promise<BoardReportOut> {
    try {
      return await buildBoardReport(sources, period, now(), cache);
    } catch (err) {
      app.log.warn({ err, period: period.label }, 'board report failed');
      throw new ApiError(503, `board report unavailable: ${(err as Error).message}`);
    }
  }

  app.get(
    '/api/board/report',
    {
      config: { access: STAFF_AND_BOARD },
      schema: {
        tags: ['reports'],
        summary:
          'The board’s ecological report of a month, quarter or year, against the period before and a year before',
        querystring: Type.Object({ period: PeriodParam }),
        response: { 200: BoardReport, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => report(periodOf(request.query.period)),
  );

  app.get(
    '/api/board/report.csv',
    {
      config: { access: STAFF_AND_BOARD },
      schema: {
        tags: ['reports'],
        summary: 'One table of the board report as CSV (UTF-8 with BOM), for Excel or LibreOffice',
        querystring: csvQuery(TABLE_IDS),
        response: CSV_RESPONSES,
      },
    },
    async (request, reply) => {
      const { table: id, lang = 'de' } = request.query;
      const period = periodOf(request.query.period);
      const tables = (await report(period)).tables;
      return sendCsv(reply, `wesprint-report-${period.label}-${id}.csv`, tables, id, lang);
    },
  );
};
