import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { STAFF } from '../access/roles.ts';
import type { ApiContext } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';

const Entry = Type.Object({
  id: Type.Integer(),
  receivedAt: Type.Number({ description: 'epoch ms' }),
  topic: Type.String(),
  payload: Type.String({ description: 'as UTF-8 text, cut to the first 4 KiB' }),
  size: Type.Integer({ description: 'payload size in bytes as received' }),
  reason: Type.String(),
  detail: Type.String(),
  device: Type.Union([Type.String(), Type.Null()]),
  site: Type.Union([Type.String(), Type.Null()], {
    description: "the house of the device the topic names; null: it names none (the installation's)",
  }),
});

/**
 * The quarantine as this house's staff see it: the messages of this house's devices, and those whose topic
 * names no device of any house (the installation's, the same for every house, counted apart).
 */
export const quarantineRoutes: FastifyPluginAsyncTypebox<ApiContext> = async (app, { quarantine, site }) => {
  app.get(
    '/api/quarantine',
    {
      config: { access: STAFF },
      schema: {
        tags: ['quarantine'],
        summary:
          "Messages the gateway could not turn into readings of this house's devices, and those whose topic names no device of any house, newest first, with counts by reason",
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          before: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: Number.MAX_SAFE_INTEGER,
              description: 'entries older than this id (paging)',
            }),
          ),
        }),
        response: {
          200: Type.Object({
            counts: Type.Record(Type.String(), Type.Integer(), {
              description: "all-time count by reason: this house's devices' and the unattributed",
            }),
            unattributed: Type.Record(Type.String(), Type.Integer(), {
              description:
                "of those, the messages whose topic names no device of any house: the installation's, counted once for all houses (and every count from before counts were kept per house)",
            }),
            entries: Type.Array(Entry),
          }),
          400: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request) => {
      const { limit, before } = request.query;
      try {
        const { own, unattributed } = quarantine.countsFor(site.site.id);
        return {
          counts: addCounts(own, unattributed),
          unattributed,
          entries: quarantine.list({
            site: site.site.id,
            ...(limit !== undefined ? { limit } : {}),
            ...(before !== undefined ? { beforeId: before } : {}),
          }),
        };
      } catch (err) {
        throw new ApiError(503, `quarantine store unavailable: ${(err as Error).message}`);
      }
    },
  );
};

/** Two counts by reason added up. */
export function addCounts(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): Record<string, number> {
  const sum: Record<string, number> = { ...a };
  for (const [reason, count] of Object.entries(b)) sum[reason] = (sum[reason] ?? 0) + count;
  return sum;
}
