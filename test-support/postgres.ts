import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import { requireComponent } from './component.ts';

/** This machine's PostgreSQL (trust auth): tests make a database of their own in it and drop it afterwards. */
export const TEST_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<boolean> | undefined;

async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL of `database` on the test server. */
export function testPostgresUrl(database: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function onTestServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestPostgres {
  url: string;
  database: string;
  /** A pool on the test's database, ended before the database is dropped. */
  pool(max?: number): pg.Pool;
  /** Ended before the database is dropped (a store's pool made elsewhere). */
  closeFirst(close: () => Promise<void>): void;
}

/**
 * A new, empty database of this test's own on the machine's PostgreSQL, dropped (connections and all) at
 * teardown. Undefined when PostgreSQL is not there: skipped loudly, a failure under CI=true.
 */
export async function testPostgres(t: Test): Promise<TestPostgres | undefined> {
  reachable ??= postgresAnswers();
  if (
    !requireComponent(
      t,
      await reachable,
      `PostgreSQL at ${TEST_POSTGRES_URL}`,
      'apt-get install -y postgresql, trust auth for 127.0.0.1',
    )
  )
    return undefined;
  const database = `wesprint_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = testPostgresUrl(database);
  await onTestServer((c) => c.query(`CREATE DATABASE ${database}`));
  const closers: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const close of closers.splice(0)) await close().catch(() => undefined);
    await onTestServer((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });
  return {
    url,
    database,
    pool(max = 4) {
      const pool = new pg.Pool({ connectionString: url, max });
      // Dropping the database ends what is still connected: not an error of the test.
      pool.on('error', () => undefined);
      closers.push(() => pool.end());
      return pool;
    },
    closeFirst(close) {
      closers.push(close);
    },
  };
}
