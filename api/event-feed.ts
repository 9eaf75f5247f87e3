import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { STAFF } from '../access/roles.ts';
import { EVENT_TYPES } from '../building/events.ts';
import { type ApiContext, SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import { endRefusedUpgrade } from './live-stream.ts';

/**
 * The event feed for integrations (Node-RED, scripts) and the facility: what happens to bookings, alerts and
 * doors, as the building's broker carries it (`wesprint/<site>/events/<type>`, building/events.ts), so a
 * client of any API process hears every event once, whichever process saw it happen.
 */

/** Above this many bytes waiting in a client's socket, events to it are dropped (counted) rather than kept. */
const MAX_BUFFERED_BYTES = 1 << 20;

export interface EventFeedStats {
  clients: number;
  sent: number;
  dropped: number;
}

/** How often a quiet feed says it is alive (default; `ApiOptions.eventHeartbeatMs`). */
export const DEFAULT_EVENT_HEARTBEAT_MS = 10_000;

const DESCRIPTION = `WebSocket. First \`{"type":"hello","site","filter":{"space"},"heartbeatMs"}\`, then one JSON object per event as it happens, and \`{"type":"heartbeat","at","broker"}\` every \`heartbeatMs\` (\`broker\`: whether this API hears the building's broker, where the events travel): a client that hears nothing for three heartbeats has a dead feed, not a quiet building, and should reconnect. Each event has \`type\`, \`id\` (the event's own; drop one heard twice), \`site\`, \`space\`, \`at\` (epoch ms) and:
- \`booking-made\`, \`booking-started\`, \`booking-ended\`, \`booking-no-show\` (released: nobody came), \`booking-checked-in\` (presence seen), \`booking-cancelled\`: \`bookingId\`, \`start\`, \`end\` (epoch ms);
- \`alert-opened\`, \`alert-cleared\`: \`alertId\`, \`kind\` (co2_high, device_offline, night_base_load, door_unlocked), \`subject\`, \`device\` (or null), \`space\` (or null);
- \`door-opened\` (a lock confirmed an unlock): \`device\` (the lock), \`commandId\`.
Events name no member. They travel on the building's broker as \`wesprint/<site>/events/<type>\` (QoS 1, not retained). Facility and admin sessions, or an integration token with \`feed:read\`.`;

export function eventFeed(
  stats: EventFeedStats,
  heartbeatMs: number = DEFAULT_EVENT_HEARTBEAT_MS,
): FastifyPluginAsyncTypebox<ApiContext> {
  return async (app, { site, feed, now }) => {
    const spaces = new Set(site.spaces.map((s) => s.id));
    app.get(
      '/api/events/live',
      {
        websocket: true,
        config: {
          access: STAFF,
          tokenScope: 'feed:read',
          // @fastify/websocket hides its routes from the OpenAPI document; this one is part of the API.
          swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, hide: false }, url }),
        },
        schema: {
          tags: ['live'],
          summary: `The building's events: ${EVENT_TYPES.join(', ')}`,
          description: DESCRIPTION,
          querystring: Type.Object({ space: Type.Optional(SiteId) }),
          response: { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
        onResponse: endRefusedUpgrade,
        preHandler: async (request) => {
          const { space } = request.query;
          if (space !== undefined && !spaces.has(space)) throw new ApiError(404, `unknown space "${space}"`);
        },
      },
      (socket, request) => {
        const { space } = request.query;
        stats.clients++;
        const unsubscribe = feed.subscribeEvents((event) => {
          if (space !== undefined && event.space !== space) return;
          if (socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
            stats.dropped++;
            return;
          }
          stats.sent++;
          socket.send(JSON.stringify(event));
        });
        // Silence is not news: a client (Node-RED, a script) tells a quiet building from a dead connection by
        // this, and an API cut off from the broker says so rather than look quiet.
        const heartbeat = setInterval(() => {
          if (socket.readyState === socket.OPEN)
            socket.send(JSON.stringify({ type: 'heartbeat', at: now(), broker: feed.connected }));
        }, heartbeatMs);
        socket.on('close', () => {
          clearInterval(heartbeat);
          unsubscribe();
          stats.clients--;
        });
        socket.on('error', (err) => {
          request.log.debug({ err: err.message }, 'event feed: socket error');
        });
        // Listeners only: whatever a client sends is ignored (maxPayload bounds it).
        socket.on('message', () => {});
        socket.send(
          JSON.stringify({
            type: 'hello',
            site: site.site.id,
            filter: { space: space ?? null },
            heartbeatMs,
          }),
        );
      },
    );
  };
}
