import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { testPostgres, testPostgresUrl } from '../test-support/postgres.ts';
import { MigrationError } from './database.ts';
import {
  migratePostgres,
  openPostgresRecords,
  PostgresRecordsError,
  PostgresWaitAborted,
  redactedDatabaseUrl,
} from './postgres.ts';

function migrationsDir(t: Test, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-pg-migrations-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

t.test('migrations apply once, in order, and a later file is picked up on the next open', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const dir = migrationsDir(t, { '0001-desk.sql': 'CREATE TABLE desk (id TEXT PRIMARY KEY);' });
  const pool = await openPostgresRecords(server.url, { migrationsDir: dir });
  server.closeFirst(() => pool.end());
  t.same(await migratePostgres(pool, dir), [], 'nothing applied twice');
  fs.writeFileSync(path.join(dir, '0002-desk-area.sql'), 'ALTER TABLE desk ADD COLUMN area REAL;');
  t.same(await migratePostgres(pool, dir), ['0002-desk-area.sql']);
  await pool.query('INSERT INTO desk (id, area) VALUES ($1, $2)', ['desk-1', 6]);
  t.same(
    (await pool.query('SELECT name FROM schema_migration ORDER BY name')).rows.map((r) => r.name),
    ['0001-desk.sql', '0002-desk-area.sql'],
  );
});

t.test('a failing migration leaves nothing half-applied', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const dir = migrationsDir(t, { '0001-broken.sql': 'CREATE TABLE a (id TEXT); CREATE TABLE oops (' });
  await t.rejects(openPostgresRecords(server.url, { migrationsDir: dir }), MigrationError);
  const pool = server.pool(1);
  t.equal((await pool.query("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'a'")).rows[0].n, '0');
});

t.test('badly named or doubly numbered migration files are refused', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const doubled = migrationsDir(t, { '0001-a.sql': 'SELECT 1;', '0001-b.sql': 'SELECT 1;' });
  await t.rejects(openPostgresRecords(server.url, { migrationsDir: doubled }), MigrationError);
  const badName = migrationsDir(t, { 'add-things.sql': 'SELECT 1;' });
  await t.rejects(openPostgresRecords(server.url, { migrationsDir: badName }), MigrationError);
});

t.test('processes opening the same new database at once: each migration applied once', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const pools = await Promise.all(
    Array.from({ length: 4 }, () => openPostgresRecords(server.url, { max: 2 })),
  );
  for (const pool of pools) server.closeFirst(() => pool.end());
  const names = (await (pools[0] as (typeof pools)[0]).query('SELECT name FROM schema_migration')).rows.map(
    (r) => r.name as string,
  );
  t.ok(names.length > 0);
  t.equal(new Set(names).size, names.length, 'no migration recorded twice');
});

t.test('a database that is not there is an operator error at once, without the password', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const url = testPostgresUrl(`${server.database}_missing`).replace('postgres@', 'postgres:secret@');
  const started = Date.now();
  const err = await openPostgresRecords(url).catch((e: Error) => e);
  t.type(err, PostgresRecordsError);
  t.match((err as Error).message, /does not exist/);
  t.notMatch((err as Error).message, /secret/, 'no password in the message');
  t.notMatch((err as Error).message, /\n/, 'one line');
  // A wait for the server would go on until asked to stop (next test): a minute means it was not waited for.
  t.ok(Date.now() - started < 60_000, 'not waited for');
  t.equal(redactedDatabaseUrl('postgres://u:pw@h:5432/d'), 'postgres://u:***@h:5432/d');
});

t.test('a server not up yet is waited for, said once, and the wait ends when asked to stop', async (t) => {
  // A port nobody listens on: taken and released again.
  const port = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(p));
    });
  });
  const said: string[] = [];
  const logger = {
    info: (_o: object, m: string) => said.push(m),
    warn: (_o: object, m: string) => said.push(m),
  };
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 600);
  const err = await openPostgresRecords(`postgres://postgres@127.0.0.1:${port}/test`, {
    signal: abort.signal,
    logger,
    minDelayMs: 50,
  }).catch((e: Error) => e);
  t.type(err, PostgresWaitAborted);
  t.equal(said.length, 1, 'one line for the whole wait, not one per attempt');
  t.match(said[0], /not there yet/);
});
