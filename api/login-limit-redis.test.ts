import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { testApi } from '../test-support/api.ts';
import { testRecords } from '../test-support/members.ts';
import { testRedis } from '../test-support/redis.ts';

/**
 * The login route's per-address limit kept in Redis (REDIS_URL): two API processes on one installation count
 * one address's attempts together, as one process does.
 */

const LIMIT = { max: 3, timeWindowMs: 60_000 };

async function attempts(t: Test, redis: Redis | undefined): Promise<number[]> {
  const records = testRecords(t);
  const [a, b] = [
    await testApi(t, { records, loginRateLimit: LIMIT, ...(redis ? { rateLimitRedis: redis } : {}) }),
    await testApi(t, { records, loginRateLimit: LIMIT, ...(redis ? { rateLimitRedis: redis } : {}) }),
  ];
  const statuses: number[] = [];
  for (const app of [a.app, a.app, b.app, b.app]) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      remoteAddress: '127.0.0.91',
      payload: { email: `guess-${statuses.length}@coop.example`, password: 'guess-guess' },
    });
    statuses.push(res.statusCode);
  }
  return statuses;
}

t.test('two API processes count one address together in Redis', async (t) => {
  const server = await testRedis(t);
  if (!server) return;
  const redis = new Redis(server.url, { keyPrefix: `${server.prefix}login-limit:`, maxRetriesPerRequest: 1 });
  t.teardown(() => redis.disconnect());
  t.same(await attempts(t, redis), [401, 401, 401, 429], 'the fourth attempt, on the second process, waits');
  t.ok((await server.keys()).length > 0, "the counts are in Redis, under the installation's prefix");
  // Without Redis each process counts alone: what the shared limit changes.
  t.same(await attempts(t, undefined), [401, 401, 401, 401], 'each process alone lets the fourth through');
});
