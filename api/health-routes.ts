import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ApiContext } from './context.ts';
import type { LiveStreamStats } from './live-stream.ts';

const PING_TIMEOUT_MS = 2000;

const FeedStatsOut = Type.Object({
  messages: Type.Integer(),
  readings: Type.Integer(),
  deviceStatuses: Type.Integer(),
  malformed: Type.Integer(),
  unknownDevice: Type.Integer(),
  listenerErrors: Type.Integer(),
  staleReplays: Type.Integer(),
  events: Type.Integer({ description: 'building events heard (/api/events/live)' }),
  eventsAnnounced: Type.Integer({ description: 'building events this process published' }),
  eventsDropped: Type.Integer({ description: 'events this process could not publish (broker away)' }),
});

const Health = Type.Object({
  status: Type.Literal('ok'),
  uptimeS: Type.Number(),
  feed: FeedStatsOut,
  live: Type.Object({
    clients: Type.Integer(),
    sent: Type.Integer(),
    dropped: Type.Integer(),
    closedSlow: Type.Integer(),
  }),
});

const Readiness = Type.Object({
  ready: Type.Boolean(),
  store: Type.Object({ kind: Type.String(), ready: Type.Boolean() }),
  feed: Type.Object({ ready: Type.Boolean(), gatewayOnline: Type.Union([Type.Boolean(), Type.Null()]) }),
  message: Type.String(),
});

async function pingWithin(ping: () => Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([ping().catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsyncTypebox<
  ApiContext & { liveStats: () => LiveStreamStats }
> = async (app, { store, feed, liveStats }) => {
  app.get(
    '/api/health',
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary: 'Liveness: 200 whenever the process runs, with counters worth watching',
        response: { 200: Health },
      },
    },
    async () => ({
      status: 'ok' as const,
      uptimeS: Math.round(process.uptime()),
      feed: feed.stats(),
      live: liveStats(),
    }),
  );

  app.get(
    '/api/ready',
    {
      config: { access: 'public' },
      schema: {
        tags: ['health'],
        summary:
          'Readiness: 200 when the time-series store answers and the building feed is subscribed, else 503',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const storeReady = await pingWithin(() => store.ping(), PING_TIMEOUT_MS);
      const feedReady = feed.connected;
      const missing = [
        ...(storeReady ? [] : [`time-series store (${store.kind}) does not answer`]),
        ...(feedReady ? [] : ['building feed is not connected to the MQTT broker']),
      ];
      const ready = missing.length === 0;
      return reply.code(ready ? 200 : 503).send({
        ready,
        store: { kind: store.kind, ready: storeReady },
        feed: { ready: feedReady, gatewayOnline: feed.gatewayOnline },
        message: ready ? 'ready' : `not ready: ${missing.join('; ')}`,
      });
    },
  );
};
