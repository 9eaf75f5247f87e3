import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { STAFF_AND_BOARD } from '../access/roles.ts';
import type { LiveReading } from '../building/live-feed.ts';
import type { LatestFilter, StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { type ApiContext, QuantityName, ReadingOut, SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';

type ReadingRow = Static<typeof ReadingOut>;

/**
 * The store knows everything written; the feed knows what arrived since the API started, possibly before
 * the gateway's write landed. Per (device, channel, quantity) the newer one wins.
 */
export function freshen(stored: StoredReading[], live: LiveReading[]): ReadingRow[] {
  const newest = new Map<string, ReadingRow>();
  const offer = (r: StoredReading | LiveReading) => {
    const key = `${r.device}\u0000${r.channel}\u0000${r.quantity}`;
    const held = newest.get(key);
    if (!held || held.ts < r.ts) {
      const { device, channel, space, quantity, value, unit, ts } = r;
      newest.set(key, { device, channel, space, quantity, value, unit, ts });
    }
  };
  for (const r of stored) offer(r);
  for (const r of live) offer(r);
  return [...newest.values()].sort(
    (a, b) =>
      a.device.localeCompare(b.device) ||
      a.channel.localeCompare(b.channel) ||
      a.quantity.localeCompare(b.quantity),
  );
}

export async function latestFromStore(
  store: TimeSeriesStore,
  filter: LatestFilter,
): Promise<StoredReading[]> {
  try {
    return await store.latest(filter);
  } catch (err) {
    throw new ApiError(503, `time-series store (${store.kind}) unavailable: ${(err as Error).message}`);
  }
}

export const readingRoutes: FastifyPluginAsyncTypebox<ApiContext> = async (app, { site, store, feed }) => {
  const spaces = new Set(site.spaces.map((s) => s.id));
  const devices = new Set(site.devices.map((d) => d.id));

  app.get(
    '/api/spaces/:id/latest',
    {
      config: { access: STAFF_AND_BOARD, tokenScope: 'readings:read' },
      schema: {
        tags: ['readings'],
        summary: "Latest reading of every quantity of the space's devices",
        params: Type.Object({ id: SiteId }),
        response: {
          200: Type.Object({ space: Type.String(), readings: Type.Array(ReadingOut) }),
          400: ErrorBody,
          404: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request) => {
      const space = request.params.id;
      if (!spaces.has(space)) throw new ApiError(404, `unknown space "${space}"`);
      const stored = await latestFromStore(store, { space });
      return { space, readings: freshen(stored, feed.latest({ space })) };
    },
  );

  app.get(
    '/api/readings/latest',
    {
      config: { access: STAFF_AND_BOARD, tokenScope: 'readings:read' },
      schema: {
        tags: ['readings'],
        summary: 'Latest reading per device and quantity, optionally filtered',
        querystring: Type.Object({
          space: Type.Optional(SiteId),
          device: Type.Optional(SiteId),
          quantity: Type.Optional(QuantityName),
        }),
        response: {
          200: Type.Object({ readings: Type.Array(ReadingOut) }),
          400: ErrorBody,
          404: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request) => {
      const { space, device, quantity } = request.query;
      if (space !== undefined && !spaces.has(space)) throw new ApiError(404, `unknown space "${space}"`);
      if (device !== undefined && !devices.has(device)) throw new ApiError(404, `unknown device "${device}"`);
      const filter: LatestFilter = {
        ...(space !== undefined ? { space } : {}),
        ...(device !== undefined ? { device } : {}),
        ...(quantity !== undefined ? { quantity } : {}),
      };
      const stored = await latestFromStore(store, filter);
      return { readings: freshen(stored, feed.latest(filter)) };
    },
  );
};
