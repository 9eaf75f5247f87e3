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
});

export const quarantineRoutes: FastifyPluginAsyncTypebox<ApiContext> = async (app, { quarantine }) => {
  app.get(
    '/api/quarantine',
    {
      config: { access: STAFF },
      schema: {
        tags: ['quarantine'],
        summary: 'Messages the gateway could not turn into readings, newest first, with counts by reason',
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
            counts: Type.Record(Type.String(), Type.Integer(), { description: 'all-time count by reason' }),
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
        return {
          counts: quarantine.counts(),
          entries: quarantine.list({
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
