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

t.test(
  'processes opening the same new records file at once all get it, each migration applied once',
  async (t) => {
    // The API, `wesprint users` and a second API replica can all open a fresh DATA_DIR at the first start.
    // Each opener is a process of its own; all are ready before any is told to open.
    const { spawn } = await import('node:child_process');
    const dir = tempDir(t);
    const openers = 4;
    const rounds = 5;
    const module = new URL('./database.ts', import.meta.url).href;
    const opener = `
    const { openRecords } = await import(${JSON.stringify(module)});
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      try { openRecords(process.argv[1]).close(); process.stdout.write('ok\\n'); }
      catch (err) { process.stdout.write(String(err) + '\\n'); }
      process.exit(0);
    });
  `;
    for (let round = 0; round < rounds; round++) {
      const file = path.join(dir, `records-${round}.db`);
      const children = Array.from({ length: openers }, () =>
        spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', opener, file], {
          stdio: ['pipe', 'pipe', 'inherit'],
        }),
      );
      const lines = children.map((child) => {
        const said: string[] = [];
        let buffered = '';
        const ready = new Promise<void>((resolve) => {
          child.stdout.on('data', (chunk: Buffer) => {
            buffered += chunk.toString();
            const parts = buffered.split('\n');
            buffered = parts.pop() ?? '';
            said.push(...parts);
            if (said.includes('ready')) resolve();
          });
          child.once('exit', () => resolve());
        });
        const exited = new Promise<string>((resolve) =>
          child.once('exit', () => resolve(said.at(-1) ?? 'no answer')),
        );
        return { ready, exited };
      });
      await Promise.all(lines.map((l) => l.ready));
      for (const child of children) child.stdin.write('open\n');
      t.same(
        await Promise.all(lines.map((l) => l.exited)),
        Array(openers).fill('ok'),
        `round ${round}: every opener got the file`,
      );
      const db = openRecords(file);
      const names = db.prepare('SELECT name FROM schema_migration').pluck().all() as string[];
      t.equal(new Set(names).size, names.length, `round ${round}: no migration recorded twice`);
      t.same(migrate(db), [], `round ${round}: nothing left to apply`);
      db.close();
    }
  },
);
