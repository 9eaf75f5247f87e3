import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * The building's relational records (members, sessions, lobby tokens, bookings, the access audit log) in one
 * SQLite file, DATA_DIR/wesprint.db. Schema changes are numbered SQL files in database/migrations/, applied
 * once each, in order, each in its own transaction; a file already applied is never edited, only followed
 * by a new one. Plain SQL keeps the schema portable to PostgreSQL when a network of cooperatives outgrows
 * one file.
 */
export type RecordsDb = Database.Database;

export const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');
export const MIGRATION_FILE = /^(\d{4})-[a-z0-9-]+\.sql$/;

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export function openRecords(file: string, migrationsDir: string = MIGRATIONS_DIR): RecordsDb {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  useWriteAheadLog(db);
  db.pragma('foreign_keys = ON');
  migrate(db, migrationsDir);
  return db;
}

/**
 * Switching a new file to WAL needs a lock SQLite does not wait for (the busy timeout does not apply to it):
 * when another process (the API and `wesprint users` at a first start) switches the same new file at that
 * moment, SQLITE_BUSY comes at once. Asked again a little later, the file is in WAL already.
 */
function useWriteAheadLog(db: RecordsDb): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 1; ; attempt++) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 50) throw err;
      Atomics.wait(pause, 0, 0, 100);
    }
  }
}

export function migrate(db: RecordsDb, migrationsDir: string = MIGRATIONS_DIR): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
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
  const record = db.prepare('INSERT INTO schema_migration (name, applied_at) VALUES (?, ?)');
  const isApplied = db.prepare('SELECT 1 FROM schema_migration WHERE name = ?').pluck();
  const done: string[] = [];
  for (const f of files) {
    const sql = fs.readFileSync(path.join(migrationsDir, f), 'utf8');
    // Asked again inside a write transaction: another process opening the same file may have applied it
    // since, and the write lock taken first (immediate) makes the question and the answer one step.
    const applied = db
      .transaction(() => {
        if (isApplied.get(f) !== undefined) return false;
        db.exec(sql);
        record.run(f, Date.now());
        return true;
      })
      .immediate();
    if (applied) done.push(f);
  }
  return done;
}
