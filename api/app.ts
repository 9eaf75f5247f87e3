import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Redis } from 'ioredis';
import { DEFAULT_UNLOCK_GRACE_MIN, type RateLimit, RateLimiter } from '../access/unlock-rules.ts';
import type { AlertWatch } from '../alerts/alert-watch.ts';
import type { BuildingFeed } from '../building/live-feed.ts';
import type { RecordsDb } from '../database/database.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { Quarantine } from '../gateway/quarantine.ts';
import { Identity } from '../members/identity.ts';
import { auditSignIns } from '../members/sign-in-audit.ts';
import { type Records, sqliteRecords } from '../records/records.ts';
import { signUpCounts } from '../reports/common-good-report.ts';
import type { SiteConfig } from '../site/site.ts';
import { siteReadings } from '../storage/site-view.ts';
import type { TimeSeriesStore } from '../storage/store.ts';
import { alertRoutes } from './alert-routes.ts';
import { auditRoutes } from './audit-routes.ts';
import { auth, declareScopeAccess } from './auth.ts';
import { type AuthRoutesOptions, authRoutes } from './auth-routes.ts';
import { boardReportRoutes } from './board-report-routes.ts';
import { bookingRoutes } from './booking-routes.ts';
import { bookingSeriesRoutes } from './booking-series-routes.ts';
import { commonGoodRoutes } from './common-good-routes.ts';
import type { ApiContext } from './context.ts';
import { crossSite } from './cross-site.ts';
import { dashboardPages } from './dashboard-pages.ts';
import { deviceCommandRoutes } from './device-command-routes.ts';
import { describeValidation, installErrorHandling } from './errors.ts';
import { type EventFeedStats, eventFeed } from './event-feed.ts';
import { eventRoutes } from './event-routes.ts';
import { eventSignUpRoutes, type PublicRateLimit } from './event-signup-routes.ts';
import { facilityRoutes } from './facility-routes.ts';
import { refuseNonFiniteNumbers } from './finite-numbers.ts';
import { guestKeyRoutes } from './guest-key-routes.ts';
import { healthRoutes } from './health-routes.ts';
import { houseFacilityRoutes } from './house-facility-routes.ts';
import { houseRoutes } from './house-routes.ts';
import { Houses } from './houses.ts';
import {
  LIVE_MAX_PAYLOAD_BYTES,
  type LiveStreamOptions,
  type LiveStreamStats,
  liveStream,
} from './live-stream.ts';
import { type LobbyHouse, lobbyRoutes } from './lobby-routes.ts';
import type { LockCommands } from './lock-commands.ts';
import { networkReportRoutes } from './network-report-routes.ts';
import { noticeRoutes } from './notice-routes.ts';
import { quarantineRoutes } from './quarantine-routes.ts';
import { readingRoutes } from './reading-routes.ts';
import { requestForLog } from './request-log.ts';
import { seriesRoutes } from './series-routes.ts';
import { siteRoutes } from './site-routes.ts';
import { socketSessions } from './socket-sessions.ts';
import { unlockRoutes } from './unlock-routes.ts';

/**
 * The OpenAPI viewer's pages: scripts, styles and requests to this origin only (Swagger UI sets inline styles
 * and draws its icons as data: images), never inside another site's frame.
 */
const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** How long closing the API waits for requests under way before it cuts their connections. */
const CLOSE_GRACE_MS = 5000;

export interface ApiOptions {
  site: SiteConfig;
  store: TimeSeriesStore;
  /** Started (or not) by the caller; the API only reads from it. */
  feed: BuildingFeed;
  quarantine: Quarantine;
  /** Device profiles by id, for reporting intervals and quantities; devices of unknown profiles show null/[]. */
  profiles?: Map<string, DeviceProfile>;
  /** A pino logger; without one the API logs nothing. */
  logger?: FastifyBaseLogger;
  live?: LiveStreamOptions;
  /**
   * The relational records (members, sessions, bookings, audit log, alerts), opened by the caller: the stores
   * of records/records.ts on either engine, or a SQLite records file (the stores are made on it).
   */
  records: RecordsDb | Records;
  /** Members, sessions and lobby tokens; made from `records` when not given. */
  identity?: Identity;
  /**
   * The application's clock (epoch ms) for what the API decides itself ("now", "today", the last hours);
   * default Date.now. A test fixes the instant instead of depending on the day and hour it runs in.
   */
  now?: () => number;
  /** Behind a TLS-terminating proxy: trust its X-Forwarded-* (Fastify's trustProxy), so cookies get Secure. */
  trustProxy?: boolean | string;
  loginRateLimit?: AuthRoutesOptions['loginRateLimit'];
  /** Per address on the public routes that write (event sign-ups, guest keys); default 20 a minute. */
  publicRateLimit?: PublicRateLimit;
  /**
   * Origins (`https://wesprint.example`) browsers reach the API by when a proxy in front rewrites the Host
   * header (TRUSTED_ORIGINS); default none. The API's own Host is always trusted.
   */
  trustedOrigins?: readonly string[];
  /** The lobby without a token, for anyone (LOBBY_PUBLIC=true; default false). */
  lobbyPublic?: boolean;
  /** How often open WebSockets are checked against their session or lobby token (default 10 s). */
  socketCheckMs?: number;
  /** How often the event feed (/api/events/live) sends its heartbeat (default 10 s). */
  eventHeartbeatMs?: number;
  /** How often the lobby channel sends its heartbeat (default 10 s). */
  lobbyHeartbeatMs?: number;
  /** The command channel to the locks (started by the caller); without it a granted unlock answers lock_offline. */
  lockCommands?: LockCommands;
  /** How many switch and thermostat commands one caller may send (default DEFAULT_DEVICE_COMMAND_RATE). */
  deviceCommandRate?: RateLimit;
  /** How long before a booking's start its lock opens (UNLOCK_GRACE_MIN; default 10 minutes). */
  unlockGraceMs?: number;
  /** The built dashboard to serve (DASHBOARD_DIR; default dashboard/dist). */
  dashboardDir?: string;
  /** The alert watcher (started by the caller); without one alerts are listed but none open. */
  alerts?: AlertWatch;
  /**
   * The network this API's site belongs to (SITES_DIR): its houses, the installation's home site first, and
   * the store with all their readings (`store` above is this site's view of it). Without it the network is
   * this site alone. `feeds`: the live feeds of the other houses (the facility view's site switch); a house
   * without one answers 503 there. `alerts`: each house's alert watcher (started or not by the caller); a
   * house without one has its alerts listed from the records, and its alerts channel hears other processes'.
   */
  network?: {
    sites: readonly SiteConfig[];
    store: TimeSeriesStore;
    feeds?: ReadonlyMap<string, BuildingFeed>;
    /** The lock channels of the other houses, by site id (a member's unlock there); without one: lock_offline. */
    lockCommands?: ReadonlyMap<string, Pick<LockCommands, 'send'>>;
    alerts?: ReadonlyMap<string, AlertWatch>;
  };
  /** Sessions signed out by other API processes (records/records-news.ts): their sockets here close at once. */
  sessionsEnded?: (listener: (sessionId: string) => void) => () => void;
  /**
   * Warm the board report's cache once listening (default true); false: only when `app.warmBoardReport()` is
   * called (by the leader of several API processes, `cli/parts.ts`).
   */
  warmBoardReport?: boolean;
  /** The login route's per-address limit kept in this Redis, shared by every API process (REDIS_URL). */
  rateLimitRedis?: Redis;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Starts warming the board report's cache; resolves the returned stop to end it. */
    warmBoardReport(): () => Promise<void>;
  }
}

/**
 * The HTTP API, ready to `listen` or `inject`. Read-only until authentication exists: no route changes
 * anything. Closing it does not close the store, feed or quarantine: whoever made them owns them.
 */
export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Every request is logged with its URL (below); the serializer takes the secrets out of it first.
    ...(options.logger
      ? { loggerInstance: options.logger.child({}, { serializers: { req: requestForLog } }) }
      : { logger: false }),
    // Fastify's own two info lines per request drowned everything else on a terminal (a page load is ~30).
    logController: new LogController({ disableRequestLogging: true }),
    // Nothing is posted yet; keep hostile bodies small.
    bodyLimit: 16 * 1024,
    schemaErrorFormatter: describeValidation,
    trustProxy: options.trustProxy ?? false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandling(app);
  // One line per request, at debug: routine traffic, not news. Failures are logged where they happen.
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { req: request, statusCode: reply.statusCode, responseTime: Math.round(reply.elapsedTime) },
      'request completed',
    );
  });
  app.addHook('preHandler', refuseNonFiniteNumbers);
  // Closing waits for connections to end, and only idle keep-alive ones are closed for it: a connection a
  // browser opened ahead and never used (Chromium preconnects) would hold the shutdown for a minute. After
  // a grace for requests under way (an unlock waiting for its lock), whatever is still open is cut.
  app.addHook('preClose', async () => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });
  const records = 'prepare' in options.records ? sqliteRecords(options.records) : options.records;
  const audit = records.audit;
  const identity =
    options.identity ??
    new Identity(records, {
      onSignIn: auditSignIns(audit),
      // Roles are per site: every member is seen with their role in the site this API serves.
      site: { id: options.site.site.id },
      // A lobby token of another house of the network shows that house's lobby here.
      lobbySites: (options.network?.sites ?? []).map((s) => s.site.id),
      ...(options.now ? { now: options.now } : {}),
    });
  // Before any route: it refuses routes that do not declare who may call them.
  await app.register(auth, {
    identity,
    siteId: options.site.site.id,
    audit,
    ...(options.rateLimitRedis ? { rateLimitRedis: options.rateLimitRedis } : {}),
  });
  await app.register(crossSite, {
    audit,
    trustedOrigins: options.trustedOrigins ?? [],
  });
  // Before @fastify/websocket: it holds the socket of every WebSocket route by the credentials that opened it.
  await app.register(socketSessions, {
    identity,
    siteId: options.site.site.id,
    installationHome: options.network?.sites[0]?.site.id ?? options.site.site.id,
    audit,
    ...(options.socketCheckMs !== undefined ? { checkMs: options.socketCheckMs } : {}),
    ...(options.sessionsEnded ? { sessionsEnded: options.sessionsEnded } : {}),
  });
  // Bodies are JSON. Fastify would also read text/plain, the one body type a page of another site can post
  // without asking first (a CORS preflight); without the parser such a request is a 415.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'WeSprint OS API',
        version: '0.1.0',
        description: `Site "${options.site.site.name}": devices, readings, time series, quarantine, live stream.`,
      },
      tags: [
        { name: 'health' },
        { name: 'auth' },
        { name: 'site' },
        { name: 'devices' },
        { name: 'readings' },
        { name: 'quarantine' },
        { name: 'live' },
        { name: 'lobby' },
        { name: 'access' },
        { name: 'dashboard' },
      ],
    },
  });
  await app.register(async (docs) => {
    declareScopeAccess(docs, 'public');
    docs.addHook('onSend', async (_request, reply) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
    });
    await docs.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CONTENT_SECURITY_POLICY });
  });
  await app.register(websocket, { options: { maxPayload: LIVE_MAX_PAYLOAD_BYTES } });

  const context: ApiContext = {
    site: options.site,
    store: options.store,
    feed: options.feed,
    quarantine: options.quarantine,
    profiles: options.profiles ?? new Map(),
    now: options.now ?? Date.now,
  };
  // The network's houses, each with its bookings and lock channel: a space id another house of the network
  // also has is another space.
  const houses = new Houses({
    site: options.site,
    network: options.network?.sites,
    bookingsAt: (siteId) => records.bookingsAt(siteId),
    commandsAt: (siteId) =>
      siteId === options.site.site.id ? options.lockCommands : options.network?.lockCommands?.get(siteId),
    events: options.feed,
  });
  // This house's bookings.
  const bookings = houses.here.bookings;
  const liveStats: LiveStreamStats = { clients: 0, sent: 0, dropped: 0, closedSlow: 0 };

  await app.register(healthRoutes, { ...context, liveStats: () => ({ ...liveStats }) });
  await app.register(authRoutes, {
    identity,
    openSockets: app.openSockets,
    ...(options.loginRateLimit ? { loginRateLimit: options.loginRateLimit } : {}),
  });
  await app.register(siteRoutes, context);
  await app.register(readingRoutes, context);
  await app.register(seriesRoutes, context);
  await app.register(quarantineRoutes, context);
  await app.register(facilityRoutes, context);
  await app.register(liveStream(liveStats), { ...context, ...options.live });
  await app.register(houseFacilityRoutes, {
    ...context,
    ...options.live,
    houses,
    networkStore: options.network?.store ?? options.store,
    feeds: options.network?.feeds ?? new Map(),
    alerts: new Map([
      ...(options.alerts ? ([[options.site.site.id, options.alerts]] as const) : []),
      ...(options.network?.alerts ?? []),
    ]),
    alertsAt: (siteId) => records.alertsAt(siteId),
    alertNews: () => records.news.alerts,
    audit,
    liveStats,
  });
  const eventStats: EventFeedStats = { clients: 0, sent: 0, dropped: 0 };
  await app.register(eventFeed(eventStats, options.eventHeartbeatMs), context);
  // The network's other houses whose lobby a token made for them shows (those with a live feed here), each
  // with its bookings from the houses.
  const lobbyHouses = new Map<string, LobbyHouse>();
  for (const other of houses.all) {
    const id = other.site.site.id;
    const feed = options.network?.feeds?.get(id);
    if (other === houses.here || !feed || !options.network) continue;
    lobbyHouses.set(id, {
      site: other.site,
      feed,
      store: siteReadings(options.network.store, id),
      bookings: other.bookings,
    });
  }
  await app.register(lobbyRoutes, {
    ...context,
    bookings,
    houses: lobbyHouses,
    public: options.lobbyPublic ?? false,
    ...(options.lobbyHeartbeatMs !== undefined ? { heartbeatMs: options.lobbyHeartbeatMs } : {}),
  });
  // One rate limit per caller for every door of the network, this house's and the others'.
  const unlockLimiter = new RateLimiter();
  await app.register(unlockRoutes, {
    site: options.site,
    audit,
    bookings,
    now: context.now,
    commands: options.lockCommands,
    events: options.feed,
    limiter: unlockLimiter,
    ...(options.unlockGraceMs !== undefined ? { graceBeforeMs: options.unlockGraceMs } : {}),
  });
  // Members belong to the network: booking and opening in every house of it (this one's too).
  await app.register(houseRoutes, {
    houses,
    audit,
    limiter: unlockLimiter,
    graceBeforeMs: options.unlockGraceMs ?? DEFAULT_UNLOCK_GRACE_MIN * 60_000,
    now: context.now,
  });
  // A member's guest keys open doors of every house of the network, each through its own house's lock.
  await app.register(guestKeyRoutes, {
    houses,
    keys: records.guestKeys,
    events: records.events,
    members: records.members,
    audit,
    now: context.now,
    ...(options.unlockGraceMs !== undefined ? { graceBeforeMs: options.unlockGraceMs } : {}),
    ...(options.publicRateLimit ? { publicRateLimit: options.publicRateLimit } : {}),
  });
  await app.register(deviceCommandRoutes, {
    site: options.site,
    profiles: context.profiles,
    audit,
    commands: options.lockCommands,
    now: context.now,
    rate: options.deviceCommandRate,
  });
  await app.register(auditRoutes, { audit });
  await app.register(alertRoutes, {
    ...context,
    store: records.alertsAt(options.site.site.id),
    alerts: options.alerts,
  });
  await app.register(bookingRoutes, {
    site: options.site,
    store: bookings,
    tokens: records.calendarTokens,
    // A member's calendar feed carries their bookings in every house of the network.
    elsewhere: (options.network?.sites ?? [])
      .filter((s) => s.site.id !== options.site.site.id)
      .map((s) => ({ site: s, store: records.bookingsAt(s.site.id) })),
    now: context.now,
    events: options.feed,
  });
  await app.register(bookingSeriesRoutes, {
    site: options.site,
    store: bookings,
    now: context.now,
    events: options.feed,
  });
  await app.register(eventRoutes, {
    houses,
    events: records.events,
    signUps: records.signUps,
    now: context.now,
  });
  await app.register(eventSignUpRoutes, {
    houses,
    events: records.events,
    signUps: records.signUps,
    audit,
    now: context.now,
    ...(options.publicRateLimit ? { publicRateLimit: options.publicRateLimit } : {}),
  });
  await app.register(noticeRoutes, {
    site: options.site,
    notices: records.notices,
    bookings,
    audit,
    now: context.now,
    lobbyAccess: options.lobbyPublic ? 'public' : 'lobby',
  });
  let startWarm: (() => () => Promise<void>) | undefined;
  app.decorate('warmBoardReport', () => startWarm?.() ?? (async () => undefined));
  await app.register(boardReportRoutes, {
    ...context,
    bookings,
    audit,
    ...(options.warmBoardReport === false
      ? {
          warm: (start: () => () => Promise<void>) => {
            startWarm = start;
          },
        }
      : {}),
  });
  await app.register(networkReportRoutes, {
    houses,
    networkStore: options.network?.store ?? options.store,
    profiles: context.profiles,
    audit,
    now: context.now,
  });
  await app.register(commonGoodRoutes, {
    ...context,
    bookings,
    events: records.events,
    counts: signUpCounts(records.signUps),
  });
  await app.register(dashboardPages, options.dashboardDir ? { dir: options.dashboardDir } : {});
  return app;
}
