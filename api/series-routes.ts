import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { STAFF_AND_BOARD } from '../access/roles.ts';
import {
  type Aggregate,
  aggregateRefusal,
  QUANTITIES,
  type Quantity,
  unitOf,
} from '../building/quantities.ts';
import type { SiteConfig } from '../site/site.ts';
import type { SeriesQuery, TimeSeriesStore } from '../storage/store.ts';
import { type ApiContext, QuantityName, SiteId } from './context.ts';
import { ApiError, ErrorBody } from './errors.ts';
import { BUCKET_PATTERN, bucketCount, parseBucket, parseInstant } from './time-range.ts';

/** Enough for a year in hours; more is a query nobody can draw and a heavy one for the store. */
export const MAX_BUCKETS = 10_000;
const DEFAULT_RANGE_MS = 24 * 3_600_000;

const AGGREGATES = [
  'mean',
  'min',
  'max',
  'last',
  'count',
  'consumption',
] as const satisfies readonly Aggregate[];
/** Quantities whose values are states, not numbers: only counting them means something. */

const Instant = Type.String({
  minLength: 1,
  maxLength: 40,
  description: 'ISO 8601 with time zone (2026-11-03T08:00:00+01:00, 2026-11-03) or epoch milliseconds',
});

export const SeriesQuerystring = Type.Object({
  quantity: QuantityName,
  device: Type.Optional(SiteId),
  space: Type.Optional(SiteId),
  from: Type.Optional(Instant),
  to: Type.Optional(Instant),
  bucket: Type.Optional(
    Type.String({
      pattern: BUCKET_PATTERN,
      description: 'bucket width: 30s, 5m, 1h, 1d, 1w; omitted: one bucket',
    }),
  ),
  aggregate: Type.Optional(
    Type.Enum([...AGGREGATES], { description: 'default: consumption for energy, mean otherwise' }),
  ),
});

export const SeriesOut = Type.Object({
  quantity: Type.String(),
  unit: Type.String(),
  aggregate: Type.String(),
  from: Type.Number({ description: 'epoch ms, inclusive' }),
  to: Type.Number({ description: 'epoch ms, exclusive' }),
  bucketMs: Type.Union([Type.Number(), Type.Null()]),
  series: Type.Array(
    Type.Object({
      device: Type.String(),
      channel: Type.String({ description: 'one series per channel of a device (meter phase, output)' }),
      space: Type.String(),
      quantity: Type.String(),
      unit: Type.String(),
      points: Type.Array(Type.Object({ ts: Type.Number(), value: Type.Number() })),
    }),
  ),
});

/** The rules of a series query, apart from I/O: returns the store query or the reason it is refused. */
export function planSeriesQuery(
  q: {
    quantity: Quantity;
    device?: string | undefined;
    space?: string | undefined;
    from?: string | undefined;
    to?: string | undefined;
    bucket?: string | undefined;
    aggregate?: Aggregate | undefined;
  },
  now: number,
): SeriesQuery | { status: 400; message: string } {
  const refuse = (message: string) => ({ status: 400 as const, message });
  if (q.device !== undefined && q.space !== undefined) return refuse('give either device or space, not both');
  if (q.device === undefined && q.space === undefined) return refuse('device or space is required');
  let to = now;
  if (q.to !== undefined) {
    const parsed = parseInstant(q.to);
    if (!parsed.ok) return refuse(`to: ${parsed.reason}`);
    to = parsed.value;
  }
  let from = to - DEFAULT_RANGE_MS;
  if (q.from !== undefined) {
    const parsed = parseInstant(q.from);
    if (!parsed.ok) return refuse(`from: ${parsed.reason}`);
    from = parsed.value;
  }
  if (!(from < to)) return refuse('from must be before to');
  let bucketMs: number | undefined;
  if (q.bucket !== undefined) {
    const parsed = parseBucket(q.bucket);
    if (!parsed.ok) return refuse(parsed.reason);
    bucketMs = parsed.value;
    const buckets = bucketCount(from, to, bucketMs);
    if (buckets > MAX_BUCKETS)
      return refuse(
        `${buckets} buckets of ${q.bucket} between from and to; at most ${MAX_BUCKETS}: widen the bucket`,
      );
  }
  const aggregate = q.aggregate ?? QUANTITIES[q.quantity].aggregate;
  const refusal = aggregateRefusal(q.quantity, aggregate);
  if (refusal !== undefined) return refuse(refusal);
  return {
    quantity: q.quantity,
    ...(q.device !== undefined ? { device: q.device } : {}),
    ...(q.space !== undefined ? { space: q.space } : {}),
    from,
    to,
    ...(bucketMs !== undefined ? { bucketMs } : {}),
    aggregate,
  };
}

/** A series query's answer from one house's readings (this house's `/api/series`, or the site switch's). */
export async function seriesAnswer(
  site: SiteConfig,
  store: TimeSeriesStore,
  q: Static<typeof SeriesQuerystring>,
  now: number,
): Promise<Static<typeof SeriesOut>> {
  const plan = planSeriesQuery(q, now);
  if ('status' in plan) throw new ApiError(plan.status, plan.message);
  if (plan.device !== undefined && !site.devices.some((d) => d.id === plan.device))
    throw new ApiError(404, `unknown device "${plan.device}"`);
  if (plan.space !== undefined && !site.spaces.some((s) => s.id === plan.space))
    throw new ApiError(404, `unknown space "${plan.space}"`);
  let series: Awaited<ReturnType<typeof store.query>>;
  try {
    series = await store.query(plan);
  } catch (err) {
    throw new ApiError(503, `time-series store (${store.kind}) unavailable: ${(err as Error).message}`);
  }
  return {
    quantity: plan.quantity,
    unit: plan.aggregate === 'count' ? 'count' : unitOf(q.quantity),
    aggregate: plan.aggregate,
    from: plan.from,
    to: plan.to,
    bucketMs: plan.bucketMs ?? null,
    series,
  };
}

export const seriesRoutes: FastifyPluginAsyncTypebox<ApiContext> = async (app, { site, store, now }) => {
  app.get(
    '/api/series',
    {
      config: { access: STAFF_AND_BOARD, tokenScope: 'readings:read' },
      schema: {
        tags: ['readings'],
        summary: 'Time series of one quantity for a device or a space, aggregated per time bucket',
        querystring: SeriesQuerystring,
        response: { 200: SeriesOut, 400: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => seriesAnswer(site, store, request.query, now()),
  );
};
