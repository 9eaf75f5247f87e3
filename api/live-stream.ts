import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { WebSocket } from 'ws';
import { STAFF_AND_BOARD } from '../access/roles.ts';
import type { BuildingFeed, LiveEvent } from '../building/live-feed.ts';
import type { SiteConfig } from '../site/site.ts';
import { type ApiContext, QuantityName, SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';

/**
 * Live readings and device status over WebSocket. The stream is best-effort per client: a client that does
 * not read fast enough loses messages (counted) instead of making the server buffer without bound, and one
 * that stays stuck is cut off so its socket is freed.
 */
export interface LiveStreamOptions {
  /** Above this many bytes waiting in a client's socket, new messages to it are dropped. */
  maxBufferedBytes?: number;
  /** A client that misses this many messages in a row is disconnected. */
  maxDroppedInARow?: number;
}

export interface LiveStreamStats {
  clients: number;
  sent: number;
  dropped: number;
  closedSlow: number;
}

const DEFAULT_MAX_BUFFERED_BYTES = 1 << 20;
const DEFAULT_MAX_DROPPED_IN_A_ROW = 10_000;
/** Clients only listen; anything they send is ignored, so it may be small. */
export const LIVE_MAX_PAYLOAD_BYTES = 1024;

/**
 * For WebSocket routes: a request refused before the upgrade (401, 403, 404, …) leaves a raw socket that
 * Node's HTTP server no longer tracks and that nobody ends, so the client waits and the server can never
 * close. Ending it once the refusal is written closes the connection as an HTTP/1.1 server would.
 */
export async function endRefusedUpgrade(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (reply.statusCode !== 101 && request.headers.upgrade !== undefined) request.raw.socket?.end();
}

export function liveFilter(filter: { space?: string | undefined; quantity?: string | undefined }) {
  return (event: LiveEvent): boolean => {
    if (event.type === 'gateway-status') return true;
    if (filter.space !== undefined && event.space !== filter.space) return false;
    // Status changes are rare and say why readings stop: they pass whatever quantity is asked for.
    if (event.type === 'reading' && filter.quantity !== undefined && event.quantity !== filter.quantity)
      return false;
    return true;
  };
}

export interface LiveLimits {
  bufferLimit: number;
  dropLimit: number;
}

export function liveLimits(options: LiveStreamOptions): LiveLimits {
  return {
    bufferLimit: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    dropLimit: options.maxDroppedInARow ?? DEFAULT_MAX_DROPPED_IN_A_ROW,
  };
}

/**
 * Streams one house's feed to one socket: this house's on /api/live, the chosen house's on the site switch's
 * live route. A feed carries its own house's topics only (`wesprint/<site>/…`), so a socket hears no other.
 */
export function streamHouse(
  socket: WebSocket,
  request: FastifyRequest,
  house: { site: SiteConfig; feed: BuildingFeed },
  filter: { space?: string | undefined; quantity?: string | undefined },
  stats: LiveStreamStats,
  { bufferLimit, dropLimit }: LiveLimits,
): void {
  const wanted = liveFilter(filter);
  let droppedInARow = 0;
  stats.clients++;
  const unsubscribe = house.feed.subscribeLive((event) => {
    if (!wanted(event) || socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > bufferLimit) {
      stats.dropped++;
      if (++droppedInARow >= dropLimit) {
        stats.closedSlow++;
        request.log.warn({ droppedInARow }, 'live stream: client too slow, disconnected');
        socket.terminate();
      }
      return;
    }
    droppedInARow = 0;
    stats.sent++;
    socket.send(JSON.stringify(event));
  });
  socket.on('close', () => {
    unsubscribe();
    stats.clients--;
  });
  socket.on('error', (err) => {
    request.log.debug({ err: err.message }, 'live stream: socket error');
  });
  // Listeners only: whatever a client sends is ignored (maxPayload bounds it).
  socket.on('message', () => {});
  socket.send(
    JSON.stringify({
      type: 'hello',
      site: house.site.site.id,
      filter: { space: filter.space ?? null, quantity: filter.quantity ?? null },
    }),
  );
}

export const LiveQuerystring = Type.Object({
  space: Type.Optional(SiteId),
  quantity: Type.Optional(QuantityName),
});

export function liveStream(
  stats: LiveStreamStats,
): FastifyPluginAsyncTypebox<ApiContext & LiveStreamOptions> {
  return async (app, options) => {
    const { site, feed } = options;
    const limits = liveLimits(options);
    const spaces = new Set(site.spaces.map((s) => s.id));

    app.get(
      '/api/live',
      {
        websocket: true,
        // @fastify/websocket hides its routes from the OpenAPI document; this one is part of the API.
        // Raw readings and device status are the facility's and the board's: every space, every device.
        // A plain member or a lobby screen is refused before the upgrade (403) and reads
        // /api/lobby/live, which carries only public availability.
        config: {
          access: STAFF_AND_BOARD,
          tokenScope: 'readings:read',
          swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, hide: false }, url }),
        },
        schema: {
          tags: ['live'],
          summary:
            'WebSocket for facility, board and admin (sign-in cookie or Bearer session token; a plain member or ' +
            'a lobby screen uses /api/lobby/live): {type:"hello"} first, then {type:"reading",site,space,device,quantity,value,unit,ts}, ' +
            '{type:"device-status",...} and {type:"gateway-status",...} as they happen',
          querystring: LiveQuerystring,
          response: { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
        onResponse: endRefusedUpgrade,
        // Runs before the upgrade, so an unknown space is an HTTP 404, not a socket that never speaks.
        preHandler: async (request) => {
          const { space } = request.query;
          if (space !== undefined && !spaces.has(space)) throw new ApiError(404, `unknown space "${space}"`);
        },
      },
      (socket, request) => streamHouse(socket, request, { site, feed }, request.query, stats, limits),
    );
  };
}
