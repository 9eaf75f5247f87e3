import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { BOARD_AND_ADMIN } from '../access/roles.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { EventStore } from '../events/event-store.ts';
import {
  buildCommonGoodReport,
  type CommonGoodSources,
  type EventCounts,
} from '../reports/common-good-report.ts';
import {
  COMMON_GOOD_TABLE_IDS,
  CommonGoodReport,
  type CommonGoodReportOut,
} from '../reports/common-good-schema.ts';
import type { Period } from '../reports/report-period.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { CSV_RESPONSES, csvQuery, PeriodParam, reportablePeriod, sendCsv } from './board-report-routes.ts';
import { ApiError, ErrorBody } from './errors.ts';

export interface CommonGoodRoutesOptions {
  site: SiteConfig;
  store: TimeSeriesStore;
  bookings: BookingStore;
  events: EventStore;
  /** Sign-ups and organisers' counts per event date (signUpCounts: the sign-up store's). */
  counts: EventCounts;
  profiles: Map<string, DeviceProfile>;
  now?: () => number;
}

/** The common-good report for the board and funders (JSON for the page, CSV per table). */
export const commonGoodRoutes: FastifyPluginAsyncTypebox<CommonGoodRoutesOptions> = async (app, options) => {
  const now = options.now ?? Date.now;
  const tz = options.site.site.timezone;
  const sources: CommonGoodSources = {
    site: options.site,
    store: options.store,
    bookings: options.bookings,
    events: options.events,
    counts: options.counts,
    profiles: options.profiles,
  };

  const periodOf = (text: string) => reportablePeriod(text, tz, now());

  async function report(period: Period): Promise<CommonGoodReportOut> {
    try {
      return await buildCommonGoodReport(sources, period, now());
    } catch (err) {
      app.log.warn({ err, period: period.label }, 'common-good report failed');
      throw new ApiError(503, `common-good report unavailable: ${(err as Error).message}`);
    }
  }

  app.get(
    '/api/board/common-good',
    {
      config: { access: BOARD_AND_ADMIN },
      schema: {
        tags: ['reports'],
        summary:
          'The common-good report of a month, quarter or year (free public hours, events and people reached, who carried the discourse space’s cost), against the period before and a year before',
        querystring: Type.Object({ period: PeriodParam }),
        response: { 200: CommonGoodReport, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => report(periodOf(request.query.period)),
  );

  app.get(
    '/api/board/common-good.csv',
    {
      config: { access: BOARD_AND_ADMIN },
      schema: {
        tags: ['reports'],
        summary: 'One table of the common-good report as CSV (UTF-8 with BOM), for Excel or LibreOffice',
        querystring: csvQuery(COMMON_GOOD_TABLE_IDS),
        response: CSV_RESPONSES,
      },
    },
    async (request, reply) => {
      const { table: id, lang = 'de' } = request.query;
      const period = periodOf(request.query.period);
      const tables = (await report(period)).tables;
      return sendCsv(reply, `wesprint-common-good-${period.label}-${id}.csv`, tables, id, lang);
    },
  );
};
