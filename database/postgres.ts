import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { reconnectDelayMs } from '../building/broker-connection.ts';
import { MIGRATION_FILE, MigrationError } from './database.ts';

/**
 * The relational records in PostgreSQL (DATABASE_URL=postgres://…), for a network of buildings or several API
 * processes: the same tables as the SQLite file, from the numbered migrations of database/migrations-postgres/,
 * each the twin of the SQLite migration with the same number (database/migrations-parity.test.ts compares
 * the two schemas as the engines report them). Only the `postgres-*.ts` stores beside their interfaces hold SQL.
 */
export type PostgresRecords = pg.Pool;

export const POSTGRES_MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations-postgres');

/** Times are epoch milliseconds in BIGINT columns: read back as numbers (they stay far below 2^53). */
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const types = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** Whoever runs the records cannot use this URL as it stands: a one-line operator error, never retried. */
export class PostgresRecordsError extends Error {
  override name = 'PostgresRecordsError';
}

/** Asked to stop while waiting for PostgreSQL. */
export class PostgresWaitAborted extends Error {
  override name = 'PostgresWaitAborted';
}

/** The URL without its password, for log lines and the start banner. */
export function redactedDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * SQLSTATEs and socket errors that mean "not there yet" (a container still starting, a restart): waited for.
 * Everything else (no such database, wrong password, no such role) is the operator's to fix.
 */
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P03', // cannot_connect_now: the server is starting up or shutting down
  '57P01', // admin_shutdown
  '53300', // too_many_connections
]);

function reasonOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code && !String(e.message).includes(e.code) ? `${e.code}: ${e.message}` : String(e.message ?? err);
}

function operatorError(url: string, err: unknown): PostgresRecordsError {
  const e = err as { code?: string; message?: string };
  const where = redactedDatabaseUrl(url);
  const database = (() => {
    try {
      return decodeURIComponent(new URL(url).pathname.slice(1)) || '(the user name)';
    } catch {
      return '?';
    }
  })();
  if (e.code === '3D000')
    return new PostgresRecordsError(
      `DATABASE_URL=${where}: the database "${database}" does not exist on that server (create it: createdb ${database})`,
    );
  if (e.code === '28P01' || e.code === '28000')
    return new PostgresRecordsError(`DATABASE_URL=${where}: PostgreSQL refused the sign-in (${e.message})`);
  return new PostgresRecordsError(`DATABASE_URL=${where}: ${reasonOf(err)}`);
}

export interface PostgresOpenOptions {
  migrationsDir?: string;
  /** Aborted when the process is asked to stop while waiting for PostgreSQL to come up. */
  signal?: AbortSignal;
  /** Told once when PostgreSQL is not there yet and once when it is (never once per attempt). */
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** First wait between attempts (tests shorten it); doubles to 30 s. */
  minDelayMs?: number;
  /** Connections in the pool (default 10). */
  max?: number;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new PostgresWaitAborted('stopped while waiting for PostgreSQL'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new PostgresWaitAborted('stopped while waiting for PostgreSQL'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A pool on DATABASE_URL with every migration applied. Waits, with backoff, for a server that is not there
 * yet (compose start order, a restart), saying so once; a database that does not exist or a refused sign-in
 * is a PostgresRecordsError at once.
 */
export async function openPostgresRecords(
  url: string,
  options: PostgresOpenOptions = {},
): Promise<PostgresRecords> {
  const pool = new pg.Pool({
    connectionString: url,
    types,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5000,
    application_name: 'wesprint',
  });
  // An idle connection the server drops (a restart) is an error event on the pool: the next query gets a
  // fresh connection. Without a listener it would end the process.
  pool.on('error', () => undefined);
  const where = redactedDatabaseUrl(url);
  try {
    for (let failures = 0; ; failures++) {
      try {
        await pool.query('SELECT 1');
        if (failures > 0) options.logger?.info({ database: where }, 'PostgreSQL is there now');
        break;
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        const transient = TRANSIENT.has(code) || /timeout|terminated/i.test(String((err as Error).message));
        if (!transient) throw operatorError(url, err);
        if (failures === 0)
          options.logger?.warn(
            { database: where, reason: reasonOf(err) },
            'PostgreSQL is not there yet; waiting for it (backoff 1 s to 30 s)',
          );
        await sleep(reconnectDelayMs(failures, Math.random, options.minDelayMs), options.signal);
      }
    }
    await migratePostgres(pool, options.migrationsDir);
    return pool;
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/** One key for every process migrating the same database: they take turns, each migration applied once. */
const MIGRATION_LOCK = 7_311_042_026;

/**
 * Applies the numbered migrations not applied yet, in order, each in its own transaction (PostgreSQL's DDL is
 * transactional: a failing migration leaves nothing behind). Processes starting at once take turns on an
 * advisory lock. Returns the names applied now.
 */
export async function migratePostgres(
  pool: PostgresRecords,
  migrationsDir: string = POSTGRES_MIGRATIONS_DIR,
): Promise<string[]> {
  const files = migrationFiles(migrationsDir);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      const applied = new Set(
        (await client.query<{ name: string }>('SELECT name FROM schema_migration')).rows.map((r) => r.name),
      );
      const done: string[] = [];
      for (const f of files) {
        if (applied.has(f)) continue;
        const sql = fs.readFileSync(path.join(migrationsDir, f), 'utf8');
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO schema_migration (name, applied_at) VALUES ($1, $2)', [
            f,
            Date.now(),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new MigrationError(`migration ${f} failed: ${(err as Error).message}`);
        }
        done.push(f);
      }
      return done;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** The migration files in order, refusing badly named or doubly numbered ones (as the SQLite side does). */
export function migrationFiles(migrationsDir: string): string[] {
  const files = fs
    .readdirSync(migrationsDir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const numbers = new Set<string>();
  for (const f of files) {
    const m = MIGRATION_FILE.exec(f);
    if (!m) throw new MigrationError(`migration file name "${f}" must look like 0001-what-it-does.sql`);
    if (numbers.has(m[1] as string)) throw new MigrationError(`two migrations are numbered ${m[1]}`);
    numbers.add(m[1] as string);
  }
  return files;
}

/**
 * Runs `work` in one transaction on one connection of the pool: committed when it resolves, rolled back when it
 * throws. The stores' multi-statement steps (a booking import, a sign-in attempt's count) go through here.
 */
export async function inTransaction<T>(
  pool: PostgresRecords,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    try {
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    client.release();
  }
}
