import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import type { Member, Role } from '../access/roles.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import type { BookingSeriesStore, BookingStore } from '../bookings/booking-store.ts';
import { openRecords } from '../database/database.ts';
import { openPostgresRecords } from '../database/postgres.ts';
import { postgresRecords, type Records, type RecordsOptions, sqliteRecords } from '../records/records.ts';
import { testPostgres } from './postgres.ts';

/**
 * The records stores' contract suite: the same test against every engine that keeps the records, a fresh
 * SQLite file and a fresh PostgreSQL database (of its own, dropped afterwards; skipped loudly without
 * PostgreSQL, a failure under CI=true).
 */

export type RecordsEngine = 'sqlite' | 'postgres';
export const RECORDS_ENGINES: readonly RecordsEngine[] = ['sqlite', 'postgres'];

/** The house the contract tests book in unless they say another (`bookingsAt`). */
export const TEST_HOUSE = 'haus';

/** Records with the test house's bookings and alerts at hand. */
export interface RecordsOfTestHouse extends Records {
  /** The bookings of TEST_HOUSE. */
  readonly bookings: BookingStore & BookingSeriesStore;
  /** The alerts of TEST_HOUSE. */
  readonly alerts: AlertStore;
}

/**
 * The records with TEST_HOUSE's bookings and alerts beside them. Its properties are looked up on `records` (not copied),
 * so a lazy one (PostgreSQL's news connection) is opened only when a test asks for it, as on `records` itself.
 */
function ofTestHouse(records: Records): RecordsOfTestHouse {
  const bookings = records.bookingsAt(TEST_HOUSE);
  const alerts = records.alertsAt(TEST_HOUSE);
  return Object.assign(Object.create(records) as Records, { bookings, alerts });
}

export interface TestRecords extends RecordsOfTestHouse {
  /**
   * Runs SQL straight on the engine, as a writer outside the stores would (a hand-made fix, a bug): for
   * tests of what the database itself refuses. Plain SQL both engines read alike, literals inline.
   */
  exec(sql: string): Promise<void>;
  /** One number from a query (`SELECT count(*) …`). */
  scalar(sql: string): Promise<number>;
  /** The first column of every row of a query. */
  column(sql: string): Promise<unknown[]>;
  /** A member of the role, with a password (the store's rules apply). */
  member(role: Role, name?: string): Promise<Member>;
  /** Another connection (pool, or file handle) on the same records, as a second API process would have. */
  another(): Promise<RecordsOfTestHouse>;
}

let counter = 0;

async function addMember(records: Records, role: Role, name?: string): Promise<Member> {
  counter += 1;
  return (
    await records.members.create({
      email: `${role}-${process.pid}-${counter}@test.example`,
      role,
      ...(name ? { name } : {}),
    })
  ).member;
}

/** Fresh records on one engine, closed (and removed or dropped) at teardown; undefined when skipped. */
export async function openTestRecords(
  t: Test,
  engine: RecordsEngine,
  options: RecordsOptions = {},
): Promise<TestRecords | undefined> {
  if (engine === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-records-'));
    const file = path.join(dir, 'wesprint.db');
    const db = openRecords(file);
    const records = sqliteRecords(db, options);
    const others: Records[] = [];
    t.teardown(async () => {
      for (const other of others) await other.close();
      await records.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return {
      ...records,
      bookings: records.bookingsAt(TEST_HOUSE),
      alerts: records.alertsAt(TEST_HOUSE),
      exec: async (sql) => {
        db.exec(sql);
      },
      scalar: async (sql) => Number(db.prepare(sql).pluck().get()),
      column: async (sql) => db.prepare(sql).pluck().all(),
      member: (role, name) => addMember(records, role, name),
      another: async () => {
        const other = sqliteRecords(openRecords(file), options);
        others.push(other);
        return ofTestHouse(other);
      },
    };
  }
  const server = await testPostgres(t);
  if (!server) return undefined;
  const pool = await openPostgresRecords(server.url, { max: 4 });
  const records = postgresRecords(pool, server.database, options);
  server.closeFirst(() => records.close());
  return {
    ...records,
    bookings: records.bookingsAt(TEST_HOUSE),
    alerts: records.alertsAt(TEST_HOUSE),
    exec: async (sql) => {
      await pool.query(sql);
    },
    scalar: async (sql) => Number(Object.values((await pool.query(sql)).rows[0] ?? {})[0]),
    column: async (sql) => (await pool.query({ text: sql, rowMode: 'array' })).rows.map((r) => r[0]),
    member: (role, name) => addMember(records, role, name),
    another: async () => {
      const other = postgresRecords(
        await openPostgresRecords(server.url, { max: 4 }),
        server.database,
        options,
      );
      server.closeFirst(() => other.close());
      return ofTestHouse(other);
    },
  };
}

/** `title` as a subtest per engine, each on fresh records of its own. */
export function recordsContract(
  t: Test,
  title: string,
  body: (t: Test, records: TestRecords, engine: RecordsEngine) => Promise<unknown>,
  options: RecordsOptions = {},
): void {
  for (const engine of RECORDS_ENGINES) {
    t.test(`${title} [${engine}]`, async (t) => {
      const records = await openTestRecords(t, engine, options);
      if (records) await body(t, records, engine);
    });
  }
}
