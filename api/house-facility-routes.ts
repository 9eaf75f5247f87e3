import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { ANY_MEMBER, type Role, STAFF, STAFF_AND_BOARD } from '../access/roles.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import { type AlertNews, AlertWatch } from '../alerts/alert-watch.ts';
import type { BuildingFeed } from '../building/live-feed.ts';
import { siteReadings } from '../storage/site-view.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { ALERTS_LIVE_SUMMARY, AlertOut, AlertsQuery, streamAlerts } from './alert-routes.ts';
import type { ApiContext } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import { EnergyDays, OccupancyHours } from './facility-history.ts';
import { FacilityOverview } from './facility-overview.ts';
import {
  EnergyDaysQuery,
  type FacilityHouse,
  FacilityOverviewSummary,
  facilityAnswers,
  OccupancyHoursQuery,
} from './facility-routes.ts';
import type { Houses } from './houses.ts';
import {
  endRefusedUpgrade,
  LiveQuerystring,
  type LiveStreamOptions,
  type LiveStreamStats,
  liveLimits,
  streamHouse,
} from './live-stream.ts';
import { SeriesOut, SeriesQuerystring, seriesAnswer } from './series-routes.ts';

export interface HouseFacilityOptions extends ApiContext, LiveStreamOptions {
  /** The network's houses (this one among them, the installation's home site first). */
  houses: Houses;
  /** The store with all the houses' readings (this house's view of it is `store`). */
  networkStore: TimeSeriesStore;
  /** The live feeds of the network's other houses, by site id (this house's is `feed`). */
  feeds: ReadonlyMap<string, BuildingFeed>;
  /** Each house's alert watcher, by site id (the one judging them, in the leader; or one listening). */
  alerts: ReadonlyMap<string, AlertWatch>;
  /** A house's alerts in the records, for a house without a watcher here. */
  alertsAt: (site: string) => AlertStore;
  /** What the other API processes tell of alerts (a house without a watcher here hears its changes so). */
  alertNews?: () => AlertNews;
  /** The alerts channel's heartbeat (default 10 s). */
  alertHeartbeatMs?: number;
  audit: AuditLog;
  liveStats: LiveStreamStats;
}

/** What a house's route may answer besides its 200 (400 only where it takes a query). */
const HOUSE_ERRORS = { 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody };

const HouseParams = Type.Object({
  site: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});

/**
 * The facility view's site switch: any house of the network, for whoever holds the role there that the
 * house's own route asks for (the overview: facility or admin; history and live: also the board). Roles are
 * per site, so the route lets every member in and the handler decides by the role in the house asked for,
 * and audits a refusal: a facility manager of Nord who is a plain member in Süd reads nothing of Süd, and a
 * facility manager of Süd alone reads Süd here though this API serves Nord. Commands and alerts stay on
 * this house's own routes: the switch shows another house, it does not run it. Its alerts are shown (listed and
 * live, by that house's own watcher), not acknowledged here.
 */
export const houseFacilityRoutes: FastifyPluginAsyncTypebox<HouseFacilityOptions> = async (app, options) => {
  const { houses, feeds, audit, liveStats } = options;
  const answers = facilityAnswers(options);
  const limits = liveLimits(options);
  const here = options.site.site.id;

  function houseAt(siteId: string): FacilityHouse {
    if (siteId === here) return { site: options.site, store: options.store, feed: options.feed };
    const { site } = houses.asked(siteId);
    const feed = feeds.get(siteId);
    if (!feed) throw new ApiError(503, `no live feed of ${site.site.name} in this API process`);
    return { site, store: siteReadings(options.networkStore, siteId), feed };
  }

  /** A house's alert watcher: the one given, or one made here that lists from the records and hears the news. */
  const madeWatches = new Map<string, AlertWatch>();
  function alertsOf(house: FacilityHouse): AlertWatch {
    const id = house.site.site.id;
    const given = options.alerts.get(id);
    if (given) return given;
    let made = madeWatches.get(id);
    if (!made) {
      made = new AlertWatch({
        alerts: options.alertsAt(id),
        feed: house.feed,
        site: house.site,
        profiles: options.profiles,
        ...(options.alertNews ? { news: options.alertNews() } : {}),
      });
      madeWatches.set(id, made);
    }
    return made;
  }

  /** The house asked for, once the caller's role there is one of `roles`; refused and audited otherwise. */
  async function houseFor(request: FastifyRequest, siteId: string, roles: readonly Role[]) {
    houses.asked(siteId);
    const member = request.member;
    const role = member ? houses.roleOf(member, siteId) : null;
    if (role !== null && roles.includes(role)) return houseAt(siteId);
    await audit.record({
      at: options.now(),
      actor: member?.id ?? null,
      action: 'facility_view',
      target: siteId,
      decision: 'denied',
      reason: 'no_role_there',
      detail: { route: `${request.method} ${request.routeOptions.url}`, role },
    });
    throw new ApiError(403, `your role in ${siteId} is ${role ?? 'none'}: this is for ${roles.join(', ')}`);
  }

  app.get(
    '/api/network/houses/:site/facility/overview',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['readings'],
        summary: `Another house's facility view (the site switch), for facility and admin there: ${FacilityOverviewSummary}`,
        params: HouseParams,
        response: { 200: FacilityOverview, ...HOUSE_ERRORS },
      },
    },
    async (request) => answers.overview(await houseFor(request, request.params.site, STAFF)),
  );

  app.get(
    '/api/network/houses/:site/facility/energy-days',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['readings'],
        summary: "Another house's consumption per local day (its main meters), for staff and board there",
        params: HouseParams,
        querystring: EnergyDaysQuery,
        response: { 200: EnergyDays, 400: ErrorBody, ...HOUSE_ERRORS },
      },
    },
    async (request) =>
      answers.energyDays(
        await houseFor(request, request.params.site, STAFF_AND_BOARD),
        request.query.days ?? 30,
      ),
  );

  app.get(
    '/api/network/houses/:site/facility/occupancy-hours',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['readings'],
        summary: "Another house's occupied spaces per hour, for staff and board there",
        params: HouseParams,
        querystring: OccupancyHoursQuery,
        response: { 200: OccupancyHours, 400: ErrorBody, ...HOUSE_ERRORS },
      },
    },
    async (request) =>
      answers.occupancyHours(
        await houseFor(request, request.params.site, STAFF_AND_BOARD),
        request.query.hours ?? 24,
      ),
  );

  app.get(
    '/api/network/houses/:site/series',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['readings'],
        summary:
          "A time series of another house's device or space (as /api/series), for staff and board there",
        params: HouseParams,
        querystring: SeriesQuerystring,
        response: { 200: SeriesOut, 400: ErrorBody, ...HOUSE_ERRORS },
      },
    },
    async (request) => {
      const house = await houseFor(request, request.params.site, STAFF_AND_BOARD);
      return seriesAnswer(house.site, house.store, request.query, options.now());
    },
  );

  app.get(
    '/api/network/houses/:site/alerts',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['alerts'],
        summary:
          "Another house's alerts (as /api/alerts, that house's only: its devices and spaces, by its own rules), " +
          'for staff and board there; shown, not acknowledged here',
        params: HouseParams,
        querystring: AlertsQuery,
        response: { 200: Type.Object({ alerts: Type.Array(AlertOut) }), 400: ErrorBody, ...HOUSE_ERRORS },
      },
    },
    async (request) => {
      const house = await houseFor(request, request.params.site, STAFF_AND_BOARD);
      return { alerts: await alertsOf(house).list(request.query.state ?? 'open', request.query.limit) };
    },
  );

  app.get(
    '/api/network/houses/:site/alerts/live',
    {
      websocket: true,
      config: {
        access: ANY_MEMBER,
        swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, hide: false }, url }),
      },
      schema: {
        tags: ['alerts'],
        summary: `WebSocket of another house's alerts, for staff and board there: ${ALERTS_LIVE_SUMMARY} (GET /api/network/houses/:site/alerts)`,
        params: HouseParams,
        response: HOUSE_ERRORS,
      },
      onResponse: endRefusedUpgrade,
      preHandler: async (request) => {
        const house = await houseFor(request, request.params.site, STAFF_AND_BOARD);
        request.siteAccess = { site: house.site.site.id, roles: STAFF_AND_BOARD };
      },
    },
    (socket, request) => {
      const house = houseAt(request.params.site);
      streamAlerts(socket, request, alertsOf(house), house.site.site.id, {
        heartbeatMs: options.alertHeartbeatMs,
      });
    },
  );

  app.get(
    '/api/network/houses/:site/live',
    {
      websocket: true,
      config: {
        access: ANY_MEMBER,
        swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, hide: false }, url }),
      },
      schema: {
        tags: ['live'],
        summary:
          "WebSocket of another house's readings and device status (as /api/live, that house's only), for staff " +
          'and board there; closed when the role there is taken away',
        params: HouseParams,
        querystring: LiveQuerystring,
        response: { 400: ErrorBody, ...HOUSE_ERRORS },
      },
      onResponse: endRefusedUpgrade,
      // Before the upgrade: a refusal is an HTTP status, and the socket is held with the role it needs there.
      preHandler: async (request) => {
        const house = await houseFor(request, request.params.site, STAFF_AND_BOARD);
        const { space } = request.query;
        if (space !== undefined && !house.site.spaces.some((s) => s.id === space))
          throw new ApiError(404, `unknown space "${space}"`);
        request.siteAccess = { site: house.site.site.id, roles: STAFF_AND_BOARD };
      },
    },
    (socket, request) =>
      streamHouse(socket, request, houseAt(request.params.site), request.query, liveStats, limits),
  );
};
