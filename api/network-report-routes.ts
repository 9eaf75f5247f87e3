import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { NETWORK_BOARD, readsNetwork } from '../access/roles.ts';
import type { BookingStore } from '../bookings/booking-store.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import {
  buildNetworkReport,
  type NetworkReportSources,
  NO_BOOKINGS,
  networkPeriods,
} from '../reports/network-report.ts';
import { NETWORK_TABLE_IDS, NetworkReport, type NetworkReportOut } from '../reports/network-report-schema.ts';
import type { SiteConfig } from '../site/site.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { CSV_RESPONSES, CsvLang, PeriodParam, reportCsv } from './board-report-routes.ts';
import { ApiError, ErrorBody } from './errors.ts';

export interface NetworkReportRoutesOptions {
  /** The site this API serves: its bookings are the records' (bookings carry no site yet). */
  site: SiteConfig;
  /** The network's houses (the installation's home site first) and the store with all their readings. */
  network: { sites: readonly SiteConfig[]; store: TimeSeriesStore };
  bookings: BookingStore;
  profiles: Map<string, DeviceProfile>;
  audit: AuditLog;
  now?: () => number;
}

/**
 * The network's board report: every house side by side and the network's total (JSON for the page, CSV for
 * spreadsheets). Its callers hold the board or admin role in every house (access/roles.ts readsNetwork); the
 * route lets board and admins of this house in, and the handler refuses, and audits, whoever lacks it
 * anywhere else.
 */
export const networkReportRoutes: FastifyPluginAsyncTypebox<NetworkReportRoutesOptions> = async (
  app,
  options,
) => {
  const now = options.now ?? Date.now;
  const sites = options.network.sites;
  const siteIds = sites.map((s) => s.site.id);
  const installationHome = siteIds[0] ?? options.site.site.id;
  const sources: NetworkReportSources = {
    sites,
    store: options.network.store,
    // Bookings carry no site yet: the records hold this API's house's bookings only, and another house's
    // use is unknown here (null), never the bookings of a space of the same id in this house.
    bookingsOf: (siteId) => (siteId === options.site.site.id ? options.bookings : NO_BOOKINGS),
    profiles: options.profiles,
  };

  async function mayRead(request: FastifyRequest): Promise<void> {
    const member = request.member;
    if (member && readsNetwork(member, siteIds, installationHome)) return;
    const missing = member ? siteIds.filter((id) => !readsNetwork(member, [id], installationHome)) : siteIds;
    await options.audit.record({
      at: now(),
      actor: member?.id ?? null,
      action: 'network_report',
      target: `${request.method} ${request.routeOptions.url}`,
      decision: 'denied',
      reason: 'not_network_board',
      detail: { missing },
    });
    throw new ApiError(
      403,
      `the network report is for the board of every house; you are not on the board in ${missing.join(', ')}`,
    );
  }

  function periodOf(text: string): string {
    const chosen = networkPeriods(text, sites, now());
    if (!chosen.ok) throw new ApiError(400, chosen.reason);
    return chosen.periods[0]?.label ?? text;
  }

  async function report(period: string): Promise<NetworkReportOut> {
    try {
      return await buildNetworkReport(sources, period, now());
    } catch (err) {
      app.log.warn({ err, period }, 'network report failed');
      throw new ApiError(503, `network report unavailable: ${(err as Error).message}`);
    }
  }

  app.get(
    '/api/network/report',
    {
      config: { access: NETWORK_BOARD },
      schema: {
        tags: ['reports'],
        summary:
          'The network report of a month, quarter or year: every house side by side and the network’s total, each figure with its meter coverage (board or admin in every house)',
        querystring: Type.Object({ period: PeriodParam }),
        response: { 200: NetworkReport, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      await mayRead(request);
      return report(periodOf(request.query.period));
    },
  );

  app.get(
    '/api/network/report.csv',
    {
      config: { access: NETWORK_BOARD },
      schema: {
        tags: ['reports'],
        summary:
          'The network report’s figures as CSV (UTF-8 with BOM): a row per house and figure, then the network’s',
        querystring: Type.Object({
          period: PeriodParam,
          table: Type.Optional(Type.Enum([...NETWORK_TABLE_IDS])),
          lang: CsvLang,
        }),
        response: CSV_RESPONSES,
      },
    },
    async (request, reply) => {
      await mayRead(request);
      const { lang = 'de', table: id = 'network-figures' } = request.query;
      const period = periodOf(request.query.period);
      const table = (await report(period)).tables.find((t) => t.id === id);
      if (!table) throw new ApiError(400, `the report has no table "${id}"`);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="wesprint-network-${period}-${id}.csv"`)
        .send(reportCsv(table, lang));
    },
  );
};
