import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { requireComponent } from './component.ts';

/** This machine's Redis (never flushed: a test keeps to its own key prefix and deletes only those keys). */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

export interface TestRedis {
  url: string;
  /** Unique to this run: every key and pub/sub channel of the test starts with it. */
  prefix: string;
  /** A connection without prefix, for looking at what the brokers stored (`keys()` lists the test's). */
  conn: Redis;
  /** The test's keys, prefix included. */
  keys(): Promise<string[]>;
}

async function scanKeys(conn: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of conn.scanStream({ match: `${prefix}*`, count: 500 }))
    keys.push(...(batch as string[]));
  return keys;
}

/**
 * A unique prefix on the machine's Redis, its keys deleted at teardown (and before, should a crashed run have
 * left the same prefix: it cannot, they are random). Undefined when Redis is not there: skipped loudly, a
 * failure under CI=true.
 */
export async function testRedis(t: Test): Promise<TestRedis | undefined> {
  const conn = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  conn.on('error', () => undefined);
  let available = true;
  try {
    await conn.connect();
    await conn.ping();
  } catch {
    available = false;
    conn.disconnect();
  }
  if (!requireComponent(t, available, `Redis at ${TEST_REDIS_URL}`, 'apt-get install -y redis-server'))
    return undefined;
  const prefix = `wesprint-test:${randomBytes(6).toString('hex')}:`;
  t.teardown(async () => {
    const keys = await scanKeys(conn, prefix);
    for (let i = 0; i < keys.length; i += 500) await conn.del(...keys.slice(i, i + 500));
    conn.disconnect();
  });
  return { url: TEST_REDIS_URL, prefix, conn, keys: () => scanKeys(conn, prefix) };
}
