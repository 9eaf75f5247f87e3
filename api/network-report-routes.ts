import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { ANY_MEMBER, BOARD_AND_ADMIN, ROLES, readsNetwork, STAFF_AND_BOARD } from '../access/roles.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import { buildBoardReport } from '../reports/board-report.ts';
import { BoardReportCache } from '../reports/board-report-cache.ts';
import { BoardReport, type BoardReportOut, TABLE_IDS } from '../reports/board-report-schema.ts';
import { buildNetworkReport, type NetworkReportSources, networkPeriods } from '../reports/network-report.ts';
import { NETWORK_TABLE_IDS, NetworkReport, type NetworkReportOut } from '../reports/network-report-schema.ts';
import type { SiteConfig } from '../site/site.ts';
import { siteReadings } from '../storage/site-view.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import {
  CSV_RESPONSES,
  CsvLang,
  csvQuery,
  PeriodParam,
  reportablePeriod,
  reportCsv,
  sendCsv,
} from './board-report-routes.ts';
import { ApiError, ErrorBody } from './errors.ts';
import type { Houses } from './houses.ts';

export interface NetworkReportRoutesOptions {
  /**
   * The network's houses (this one among them, the installation's home site first), each with its bookings in
   * the records (bookings carry their site: a space id may repeat between houses).
   */
  houses: Houses;
  /** The store with all the houses' readings. */
  networkStore: TimeSeriesStore;
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
  const { houses } = options;
  const sites = houses.all.map((house) => house.site);
  const siteIds = sites.map((s) => s.site.id);
  const { installationHome } = houses;
  const sources: NetworkReportSources = {
    sites,
    store: options.networkStore,
    // Each house's own bookings, never those of a space of the same id in another house. A house without a
    // booking on record has its use unknown (null), not 0 (bookings-gatherer: before the first, unknown).
    bookingsOf: (siteId) => houses.asked(siteId).bookings,
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
      config: { access: BOARD_AND_ADMIN },
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
      config: { access: BOARD_AND_ADMIN },
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

  // -------------------------------------------------------------------------------------------------------
  // The site switch: a house's own board report for whoever has a staff or board role both here and there
  // (the route's access is this house's role; the handler decides the other's, and audits a refusal).

  const houseCaches = new Map<string, BoardReportCache>();

  async function houseOf(request: FastifyRequest, siteId: string): Promise<SiteConfig> {
    const { site } = houses.asked(siteId);
    const member = request.member;
    if (member && STAFF_AND_BOARD.includes(houses.roleOf(member, siteId))) return site;
    await options.audit.record({
      at: now(),
      actor: member?.id ?? null,
      action: 'board_report',
      target: siteId,
      decision: 'denied',
      reason: 'no_role_there',
      detail: { route: `${request.method} ${request.routeOptions.url}` },
    });
    throw new ApiError(403, `you have no board, facility or admin role in ${site.site.name}`);
  }

  async function houseReport(site: SiteConfig, text: string): Promise<BoardReportOut> {
    const id = site.site.id;
    const period = reportablePeriod(text, site.site.timezone, now());
    let cache = houseCaches.get(id);
    if (!cache) {
      cache = new BoardReportCache();
      houseCaches.set(id, cache);
    }
    const houseSources = {
      site,
      store: siteReadings(options.networkStore, id),
      bookings: sources.bookingsOf(id),
      profiles: options.profiles,
    };
    try {
      return await buildBoardReport(houseSources, period, now(), cache);
    } catch (err) {
      app.log.warn({ err, site: id, period: period.label }, 'board report failed');
      throw new ApiError(503, `board report unavailable: ${(err as Error).message}`);
    }
  }

  const SiteParams = Type.Object({
    site: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
  });

  app.get(
    '/api/network/houses/:site/report',
    {
      config: { access: STAFF_AND_BOARD },
      schema: {
        tags: ['reports'],
        summary:
          'Another house’s board report (the board page’s site switch), for whoever has a staff or board role here and there',
        params: SiteParams,
        querystring: Type.Object({ period: PeriodParam }),
        response: {
          200: BoardReport,
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request) => houseReport(await houseOf(request, request.params.site), request.query.period),
  );

  app.get(
    '/api/network/houses/:site/report.csv',
    {
      config: { access: STAFF_AND_BOARD },
      schema: {
        tags: ['reports'],
        summary: 'One table of another house’s board report as CSV',
        params: SiteParams,
        querystring: csvQuery(TABLE_IDS),
        response: { ...CSV_RESPONSES, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const site = await houseOf(request, request.params.site);
      const { table: id, lang = 'de' } = request.query;
      const report = await houseReport(site, request.query.period);
      return sendCsv(
        reply,
        `wesprint-report-${id}-${report.period.label}-${site.site.id}.csv`,
        report.tables,
        id,
        lang,
      );
    },
  );

  app.get(
    '/api/network/sites',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['site'],
        summary:
          'The network’s houses with the caller’s role in each (a page shows its site switch where that role opens it in more than one)',
        response: {
          200: Type.Object({
            sites: Type.Array(
              Type.Object({
                id: Type.String(),
                name: Type.String(),
                role: Type.Enum([...ROLES]),
                /** The house this API serves. */
                here: Type.Boolean(),
              }),
            ),
          }),
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request) => {
      const member = request.member;
      if (!member) throw new ApiError(401, 'sign in first');
      return {
        sites: sites.map((s) => ({
          id: s.site.id,
          name: s.site.name,
          role: houses.roleOf(member, s.site.id),
          here: s.site.id === houses.here.site.site.id,
        })),
      };
    },
  );
};
