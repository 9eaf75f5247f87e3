import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { MigrationError, migrate, openRecords } from './database.ts';

function tempDir(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-db-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('migrations apply once, in order, and a later file is picked up on the next open', async (t) => {
  const dir = tempDir(t);
  const migrations = path.join(dir, 'migrations');
  fs.mkdirSync(migrations);
  fs.writeFileSync(path.join(migrations, '0001-desk.sql'), 'CREATE TABLE desk (id TEXT PRIMARY KEY);');
  const file = path.join(dir, 'records.db');
  const db = openRecords(file, migrations);
  t.same(migrate(db, migrations), [], 'nothing applied twice');
  db.close();
  fs.writeFileSync(path.join(migrations, '0002-desk-area.sql'), 'ALTER TABLE desk ADD COLUMN area REAL;');
  const again = openRecords(file, migrations);
  again.prepare('INSERT INTO desk (id, area) VALUES (?, ?)').run('desk-1', 6);
  t.same(again.prepare('SELECT name FROM schema_migration ORDER BY name').pluck().all(), [
    '0001-desk.sql',
    '0002-desk-area.sql',
  ]);
  again.close();
});

t.test('a failing migration leaves nothing half-applied', async (t) => {
  const dir = tempDir(t);
  const migrations = path.join(dir, 'migrations');
  fs.mkdirSync(migrations);
  fs.writeFileSync(path.join(migrations, '0001-broken.sql'), 'CREATE TABLE a (id TEXT); CREATE TABLE oops (');
  t.throws(() => openRecords(path.join(dir, 'records.db'), migrations));
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(path.join(dir, 'records.db'));
  t.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'a'").pluck().get(), 0);
  db.close();
});

t.test('badly named or doubly numbered migration files are refused', async (t) => {
  const dir = tempDir(t);
  const migrations = path.join(dir, 'migrations');
  fs.mkdirSync(migrations);
  fs.writeFileSync(path.join(migrations, '0001-a.sql'), 'SELECT 1;');
  fs.writeFileSync(path.join(migrations, '0001-b.sql'), 'SELECT 1;');
  t.throws(() => openRecords(path.join(dir, 'x.db'), migrations), MigrationError);
  fs.rmSync(path.join(migrations, '0001-b.sql'));
  fs.writeFileSync(path.join(migrations, 'add-things.sql'), 'SELECT 1;');
  t.throws(() => openRecords(path.join(dir, 'y.db'), migrations), MigrationError);
});
