import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import { MAX_AUDIT_PAGE } from '../access/audit-log.ts';
import { STAFF } from '../access/roles.ts';
import { ApiError, ErrorBody } from './errors.ts';
import { parseInstant } from './time-range.ts';

const AuditEntryOut = Type.Object({
  seq: Type.Integer({ description: 'position in the log (paging cursor)' }),
  at: Type.Number({ description: 'epoch ms' }),
  actor: Type.Union([Type.String(), Type.Null()], { description: 'member id, null when nobody signed in' }),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  decision: Type.Union([Type.Literal('granted'), Type.Literal('denied')]),
  reason: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown(), {
    description: "for unlock: lock, result, the gateway's outcome, commandId, latencyMs",
  }),
});

const Text = Type.String({ minLength: 1, maxLength: 128 });

export interface AuditRoutesOptions {
  audit: AuditLog;
}

/** The access audit log for the facility manager and admin: newest first, filtered, in pages. */
export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (app, { audit }) => {
  app.get(
    '/api/audit',
    {
      config: { access: STAFF },
      schema: {
        tags: ['access'],
        summary:
          'Access audit log (every unlock attempt, granted or not, with the lock’s answer), newest first',
        querystring: Type.Object({
          from: Type.Optional(Type.String({ description: 'inclusive; ISO 8601 or epoch ms' })),
          to: Type.Optional(Type.String({ description: 'exclusive; ISO 8601 or epoch ms' })),
          actor: Type.Optional(Text),
          target: Type.Optional(Text),
          action: Type.Optional(Text),
          decision: Type.Optional(Type.Union([Type.Literal('granted'), Type.Literal('denied')])),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_AUDIT_PAGE, default: 100 })),
          before: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: Number.MAX_SAFE_INTEGER,
              description: 'entries older than this seq (pass `next` of the previous page)',
            }),
          ),
        }),
        response: {
          200: Type.Object({
            entries: Type.Array(AuditEntryOut),
            next: Type.Union([Type.Integer(), Type.Null()], {
              description: 'cursor of the next page, or null',
            }),
          }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request) => {
      const { from, to, ...rest } = request.query;
      const instant = (name: string, text: string | undefined) => {
        if (text === undefined) return undefined;
        const parsed = parseInstant(text);
        if (!parsed.ok) throw new ApiError(400, `${name}: ${parsed.reason}`);
        return parsed.value;
      };
      const fromMs = instant('from', from);
      const toMs = instant('to', to);
      if (fromMs !== undefined && toMs !== undefined && toMs <= fromMs)
        throw new ApiError(400, 'to must be after from');
      const query = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
      return audit.query({
        ...query,
        ...(fromMs !== undefined ? { from: fromMs } : {}),
        ...(toMs !== undefined ? { to: toMs } : {}),
      });
    },
  );
};
