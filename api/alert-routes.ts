import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { WebSocket } from 'ws';
import { STAFF, STAFF_AND_BOARD } from '../access/roles.ts';
import { ALERT_KINDS } from '../alerts/alert-rules.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import { type Alert, MAX_ALERTS_LISTED } from '../alerts/alert-store.ts';
import { AlertWatch } from '../alerts/alert-watch.ts';
import type { ApiContext } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import { endRefusedUpgrade } from './live-stream.ts';

/**
 * The facility manager's alerts: GET /api/alerts, POST /api/alerts/:id/acknowledge, and the WebSocket
 * /api/alerts/live. Facility and admin read and acknowledge; the board may read (it answers for the building,
 * and the night base load is its money) but not acknowledge, since acknowledging means "I am on it".
 * Alerts name rooms and devices, never the people in them; the only person in an alert is the staff member who
 * acknowledged it.
 */
export interface AlertRoutesOptions extends Pick<ApiContext, 'site' | 'feed' | 'profiles'> {
  /** The alerts' store (the watcher's, when one is given, is used instead). */
  store: AlertStore;
  /** The running watcher (started by the caller); without one, alerts are listed and acknowledged but none open. */
  alerts?: AlertWatch;
  /** How often the live channel says it is alive when nothing happens. */
  heartbeatMs?: number;
  /** Above this many bytes waiting in a client's socket it is cut off; it reconnects and reloads the list. */
  maxBufferedBytes?: number;
}

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const AlertOut = Type.Object(
  {
    id: Type.Integer(),
    kind: Type.Enum([...ALERT_KINDS], {
      description: 'co2_high, device_offline, night_base_load or door_unlocked',
    }),
    site: Type.String({ description: 'the house (site id) the alert is in' }),
    subject: Type.String({
      description: 'a space (co2), a device or "gateway" (offline), a lock, the site (night)',
    }),
    space: NullableString,
    device: NullableString,
    since: Type.Number({
      description: 'epoch ms the condition began (CO2 above, last heard, unlocked, night began)',
    }),
    openedAt: Type.Number({ description: 'epoch ms' }),
    updatedAt: Type.Number({ description: 'epoch ms' }),
    value: Type.Union([Type.Number(), Type.Null()], { description: 'ppm for CO2, W for the night load' }),
    unit: NullableString,
    detail: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]), {
      description: 'thresholdPpm; lastSeen, limitMs; state, unattendedSince; baselineW, night, nights',
    }),
    clearedAt: Type.Union([Type.Number(), Type.Null()], {
      description: 'epoch ms the condition ended; null while open',
    }),
    acknowledged: Type.Union([
      Type.Object({ by: Type.String({ description: 'member id' }), name: NullableString, at: Type.Number() }),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);

export type AlertMessage =
  | { type: 'hello'; channel: 'alerts'; site: string }
  | { type: 'alert'; change: 'opened' | 'updated' | 'cleared' | 'acknowledged'; alert: Alert }
  | { type: 'heartbeat'; at: number };

const DEFAULT_HEARTBEAT_MS = 10_000;
const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024;

export const AlertsQuery = Type.Object({
  state: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('all')], { default: 'open' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ALERTS_LISTED, default: 100 })),
});

export const ALERTS_LIVE_SUMMARY =
  '{type:"hello",channel:"alerts",site}, then ' +
  '{type:"alert",change,alert} whenever an alert opens, changes value, clears or is acknowledged, and ' +
  '{type:"heartbeat",at} every 10 s. After (re)connecting, read the list again: nothing is replayed';

/** One alerts channel on an upgraded socket: the watch's changes, a heartbeat, cut off when too slow. */
export function streamAlerts(
  socket: WebSocket,
  request: FastifyRequest,
  watch: AlertWatch,
  siteId: string,
  limits: { heartbeatMs?: number | undefined; maxBufferedBytes?: number | undefined },
): void {
  const heartbeatMs = limits.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const bufferLimit = limits.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const send = (message: AlertMessage) => {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > bufferLimit) {
      // Dropping one alert silently would leave a wrong list on screen: cut it off, it reconnects and reloads.
      request.log.warn('alerts channel: client too slow, disconnected');
      socket.terminate();
      return;
    }
    socket.send(JSON.stringify(message));
  };
  const unsubscribe = watch.subscribe((alert, change) => send({ type: 'alert', change, alert }));
  const heartbeat = setInterval(() => send({ type: 'heartbeat', at: Date.now() }), heartbeatMs);
  heartbeat.unref();
  socket.on('close', () => {
    unsubscribe();
    clearInterval(heartbeat);
  });
  socket.on('error', (err) => request.log.debug({ err: err.message }, 'alerts channel: socket error'));
  // Listeners only: what a client sends is ignored (the server's maxPayload bounds it).
  socket.on('message', () => {});
  send({ type: 'hello', channel: 'alerts', site: siteId });
}

export const alertRoutes: FastifyPluginAsyncTypebox<AlertRoutesOptions> = async (app, options) => {
  const watch =
    options.alerts ??
    new AlertWatch({
      alerts: options.store,
      feed: options.feed,
      site: options.site,
      profiles: options.profiles,
    });

  app.get(
    '/api/alerts',
    {
      config: { access: STAFF_AND_BOARD },
      schema: {
        tags: ['alerts'],
        summary:
          'Alerts, newest first: the open ones (state=open, default) or the newest open and cleared (state=all)',
        querystring: AlertsQuery,
        response: {
          200: Type.Object({ alerts: Type.Array(AlertOut) }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request) => ({ alerts: await watch.list(request.query.state ?? 'open', request.query.limit) }),
  );

  app.post(
    '/api/alerts/:id/acknowledge',
    {
      config: { access: STAFF },
      schema: {
        tags: ['alerts'],
        summary:
          'Acknowledge an alert (records who and when). Idempotent: acknowledging again keeps the first acknowledgement',
        params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
        response: { 200: AlertOut, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const member = request.member;
      // The access check has run: a member is signed in. Kept for the type, and against a future mistake.
      if (!member) throw new ApiError(401, 'sign in first');
      const result = await watch.acknowledge(request.params.id, member.id);
      if (result.outcome === 'not_found') throw new ApiError(404, `no alert ${request.params.id}`);
      return result.alert;
    },
  );

  app.get(
    '/api/alerts/live',
    {
      websocket: true,
      config: {
        access: STAFF_AND_BOARD,
        // @fastify/websocket hides its routes from the OpenAPI document; this one is part of the API.
        swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, hide: false }, url }),
      },
      schema: {
        tags: ['alerts'],
        summary: `WebSocket for facility, board and admin: ${ALERTS_LIVE_SUMMARY} (GET /api/alerts)`,
        response: { 401: ErrorBody, 403: ErrorBody },
      },
      onResponse: endRefusedUpgrade,
    },
    (socket: WebSocket, request) =>
      streamAlerts(socket, request, watch, options.site.site.id, {
        heartbeatMs: options.heartbeatMs,
        maxBufferedBytes: options.maxBufferedBytes,
      }),
  );
};
