import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import t from 'tap';
import { testPostgres } from '../test-support/postgres.ts';
import { MIGRATIONS_DIR, migrate } from './database.ts';
import { migratePostgres, migrationFiles, POSTGRES_MIGRATIONS_DIR } from './postgres.ts';

/**
 * The SQLite migrations and their PostgreSQL twins are kept in step: the same files (number and name), and
 * after each step the same tables with the same columns, as each engine reports its own schema.
 */

type Family = 'integer' | 'text' | 'real';
interface Column {
  type: Family;
  notNull: boolean;
}
type Schema = Record<string, Record<string, Column>>;

function sqliteFamily(declared: string): Family {
  const type = declared.toUpperCase();
  if (type.includes('INT')) return 'integer';
  if (type.includes('REAL') || type.includes('DOUB') || type.includes('FLOA')) return 'real';
  return 'text';
}

function postgresFamily(type: string): Family {
  // A flag is 0/1 in SQLite and a boolean in PostgreSQL: the same column for the stores.
  if (['bigint', 'integer', 'smallint', 'boolean'].includes(type)) return 'integer';
  if (['double precision', 'real', 'numeric'].includes(type)) return 'real';
  return 'text';
}

function sqliteSchema(db: Database.Database): Schema {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
  const schema: Schema = {};
  for (const table of tables) {
    const columns = db.pragma(`table_info(${table})`) as {
      name: string;
      type: string;
      notnull: number;
      pk: number;
    }[];
    schema[table] = Object.fromEntries(
      columns.map((c) => [c.name, { type: sqliteFamily(c.type), notNull: c.notnull === 1 || c.pk > 0 }]),
    );
  }
  return schema;
}

async function postgresSchema(pool: pg.Pool): Promise<Schema> {
  const { rows } = await pool.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
  }>(
    `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable
     FROM information_schema.columns c JOIN information_schema.tables t
       ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
     WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position`,
  );
  const schema: Schema = {};
  for (const r of rows) {
    schema[r.table_name] ??= {};
    (schema[r.table_name] as Record<string, Column>)[r.column_name] = {
      type: postgresFamily(r.data_type),
      notNull: r.is_nullable === 'NO',
    };
  }
  return schema;
}

t.test('every SQLite migration has its PostgreSQL twin, with the same number and name', async (t) => {
  t.same(migrationFiles(POSTGRES_MIGRATIONS_DIR), migrationFiles(MIGRATIONS_DIR));
});

t.test('after every migration both engines have the same tables and columns', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-parity-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sqliteSteps = path.join(dir, 'sqlite');
  const postgresSteps = path.join(dir, 'postgres');
  fs.mkdirSync(sqliteSteps);
  fs.mkdirSync(postgresSteps);
  const db = new Database(path.join(dir, 'records.db'));
  db.pragma('foreign_keys = ON');
  const pool = server.pool(2);
  t.teardown(() => db.close());
  const files = migrationFiles(MIGRATIONS_DIR);
  t.ok(files.length > 0);
  for (const file of files) {
    fs.copyFileSync(path.join(MIGRATIONS_DIR, file), path.join(sqliteSteps, file));
    const twin = path.join(POSTGRES_MIGRATIONS_DIR, file);
    if (!fs.existsSync(twin)) {
      t.fail(`${file} has no twin in database/migrations-postgres/`);
      return;
    }
    fs.copyFileSync(twin, path.join(postgresSteps, file));
    t.same(migrate(db, sqliteSteps), [file], `SQLite applies ${file}`);
    t.same(await migratePostgres(pool, postgresSteps), [file], `PostgreSQL applies ${file}`);
    t.same(await postgresSchema(pool), sqliteSchema(db), `the same tables and columns after ${file}`);
  }
});

t.test('the comparison itself sees a missing column', async (t) => {
  // So that the test above can fail: a twin that forgets a column is told apart.
  const server = await testPostgres(t);
  if (!server) return;
  const db = new Database(':memory:');
  db.exec('CREATE TABLE desk (id TEXT PRIMARY KEY, area REAL)');
  const pool = server.pool(1);
  t.teardown(() => db.close());
  await pool.query('CREATE TABLE desk (id TEXT PRIMARY KEY)');
  t.notSame(await postgresSchema(pool), sqliteSchema(db));
  await pool.query('ALTER TABLE desk ADD COLUMN area DOUBLE PRECISION');
  t.same(await postgresSchema(pool), sqliteSchema(db));
});
