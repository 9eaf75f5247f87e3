import fs from 'node:fs';
import type pg from 'pg';
import { openRecords, type RecordsDb } from '../database/database.ts';
import { openPostgresRecords, type PostgresRecords, redactedDatabaseUrl } from '../database/postgres.ts';

/**
 * Moving one building's records from its SQLite file to PostgreSQL (`wesprint records copy --to postgres://…`):
 * every table of the records, row for row, ids kept, into a PostgreSQL database migrated to the same version
 * and empty, in one transaction, with each table's count compared before it commits.
 *
 * The copy is generic over the schema the two migration folders keep in step (database/migrations-parity.test.ts):
 * the tables and columns are PostgreSQL's, each read from the SQLite table of the same name. A table on one
 * side only refuses the copy rather than leaving something behind.
 *
 * The audit log's guarantee stays on throughout: PostgreSQL refuses changing, deleting and truncating its rows
 * (database/migrations-postgres/0020), not adding them, so the copy inserts the entries with their own `seq`
 * (OVERRIDING SYSTEM VALUE) as the account the API uses, without owner rights or a trigger switched off, and
 * moves the identity past them so the next entry follows on.
 */

export class RecordsCopyError extends Error {
  override name = 'RecordsCopyError';
}

export interface RecordsCopyResult {
  /** Rows per table, as counted in PostgreSQL after the commit (equal to the SQLite file's). */
  tables: { table: string; rows: number }[];
  migrations: number;
}

/** PostgreSQL's parameter limit is 65,535 per statement: rows go in batches well below it. */
const MAX_PARAMETERS = 30_000;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

interface TargetColumn {
  name: string;
  type: string;
  identity: boolean;
}

/** The tables of the current schema in an order where each comes after those its foreign keys name. */
async function tablesInOrder(client: pg.PoolClient): Promise<string[]> {
  const tables = (
    await client.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migration'
        ORDER BY table_name`,
    )
  ).rows.map((r) => r.name);
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set()]));
  const keys = await client.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
      WHERE k.contype = 'f' AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())`,
  );
  for (const { child, parent } of keys.rows) if (child !== parent) parents.get(child)?.add(parent);
  const ordered: string[] = [];
  const placed = new Set<string>();
  while (ordered.length < tables.length) {
    const next = tables.find(
      (t) => !placed.has(t) && [...(parents.get(t) ?? [])].every((p) => placed.has(p)),
    );
    if (next === undefined) throw new RecordsCopyError('the tables’ foreign keys go round in a circle');
    ordered.push(next);
    placed.add(next);
  }
  return ordered;
}

async function targetColumns(client: pg.PoolClient, table: string): Promise<TargetColumn[]> {
  const { rows } = await client.query<{ name: string; type: string; identity: string; generated: string }>(
    `SELECT column_name AS name, data_type AS type, is_identity AS identity, is_generated AS generated
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1
      ORDER BY ordinal_position`,
    [table],
  );
  // A generated column is the database's to compute: never written.
  return rows
    .filter((r) => r.generated !== 'ALWAYS')
    .map((r) => ({ name: r.name, type: r.type, identity: r.identity === 'YES' }));
}

/** SQLite keeps booleans as 0/1; PostgreSQL's BOOLEAN columns take true/false. */
function toTarget(value: unknown, column: TargetColumn): unknown {
  if (value === null || value === undefined) return null;
  if (column.type === 'boolean') return value === true || value === 1 || value === '1';
  return value;
}

function sqliteTables(db: RecordsDb): string[] {
  return (
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migration' ORDER BY name",
      )
      .pluck()
      .all() as string[]
  ).sort();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Copies the SQLite records file at `file` into the PostgreSQL database at `url`. Both are migrated to this
 * version of WeSprint first (as `wesprint api` would on either); a target with any row in any of its tables
 * is refused, and so is a difference in their migrations or tables. Stop the API on the file first: what it
 * writes after the copy has read the file is not copied.
 */
export async function copyRecordsToPostgres(
  file: string,
  url: string,
  options: { log?: (line: string) => void } = {},
): Promise<RecordsCopyResult> {
  if (!fs.existsSync(file))
    throw new RecordsCopyError(`${file}: no records file there (DATA_DIR/wesprint.db, or --from FILE)`);
  const where = redactedDatabaseUrl(url);
  const db = openRecords(file);
  let pool: PostgresRecords | undefined;
  try {
    pool = await openPostgresRecords(url, { max: 2 });
    const client = await pool.connect();
    try {
      const fromMigrations = db
        .prepare('SELECT name FROM schema_migration ORDER BY name')
        .pluck()
        .all() as string[];
      const toMigrations = (
        await client.query<{ name: string }>('SELECT name FROM schema_migration ORDER BY name')
      ).rows.map((r) => r.name);
      if (!sameList(fromMigrations, toMigrations))
        throw new RecordsCopyError(
          `${where} is not at the records file's version: migrations ${toMigrations.at(-1) ?? 'none'} there, ` +
            `${fromMigrations.at(-1) ?? 'none'} in ${file}; run the same WeSprint version on both`,
        );
      await client.query('BEGIN');
      try {
        const tables = await tablesInOrder(client);
        const inFile = sqliteTables(db);
        if (!sameList([...tables].sort(), inFile))
          throw new RecordsCopyError(
            `the tables differ: PostgreSQL has ${tables.join(', ')}; the file has ${inFile.join(', ')}`,
          );
        // Nobody writes the target while it is filled (a `wesprint api` started on it too early waits).
        await client.query(`LOCK TABLE ${tables.map(quote).join(', ')} IN EXCLUSIVE MODE`);
        const filled: string[] = [];
        for (const table of tables) {
          const { rows } = await client.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM ${quote(table)}`,
          );
          if ((rows[0]?.n ?? 0) > 0) filled.push(`${table} (${rows[0]?.n})`);
        }
        if (filled.length > 0)
          throw new RecordsCopyError(
            `${where} is not empty: ${filled.join(', ')}; the copy goes into an empty database only`,
          );
        // One read transaction on the file: every table as of the same moment.
        db.exec('BEGIN');
        const counts = new Map<string, number>();
        try {
          for (const table of tables) {
            const columns = await targetColumns(client, table);
            const inSqlite = new Set(
              (db.prepare(`PRAGMA table_info(${quote(table)})`).all() as { name: string }[]).map(
                (c) => c.name,
              ),
            );
            const missing = columns.filter((c) => !inSqlite.has(c.name)).map((c) => c.name);
            if (missing.length > 0)
              throw new RecordsCopyError(`${table}: the file has no column ${missing.join(', ')}`);
            const rows = db
              .prepare(`SELECT ${columns.map((c) => quote(c.name)).join(', ')} FROM ${quote(table)}`)
              .raw()
              .all() as unknown[][];
            const overriding = columns.some((c) => c.identity) ? ' OVERRIDING SYSTEM VALUE' : '';
            const perBatch = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
            for (let from = 0; from < rows.length; from += perBatch) {
              const batch = rows.slice(from, from + perBatch);
              const values: unknown[] = [];
              const tuples = batch.map((row) => {
                const marks = columns.map((column, i) => {
                  values.push(toTarget(row[i], column));
                  return `$${values.length}`;
                });
                return `(${marks.join(', ')})`;
              });
              await client.query(
                `INSERT INTO ${quote(table)} (${columns.map((c) => quote(c.name)).join(', ')})${overriding} VALUES ${tuples.join(', ')}`,
                values,
              );
            }
            // The ids kept: the next one the database hands out comes after them.
            for (const column of columns.filter((c) => c.identity)) {
              await client.query(
                `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(max(${quote(column.name)}), 1), max(${quote(column.name)}) IS NOT NULL) FROM ${quote(table)}`,
                [quote(table), column.name],
              );
            }
            counts.set(table, rows.length);
            options.log?.(`${table}: ${rows.length}`);
          }
        } finally {
          db.exec('COMMIT');
        }
        for (const table of tables) {
          const { rows } = await client.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM ${quote(table)}`,
          );
          if (rows[0]?.n !== counts.get(table))
            throw new RecordsCopyError(
              `${table}: ${rows[0]?.n} rows in PostgreSQL, ${counts.get(table)} in the file; nothing was copied`,
            );
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      // Counted again once committed, as anyone connecting now sees the records.
      const tables: RecordsCopyResult['tables'] = [];
      for (const table of await tablesInOrder(client)) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quote(table)}`);
        tables.push({ table, rows: rows[0]?.n ?? 0 });
      }
      return { tables, migrations: toMigrations.length };
    } finally {
      client.release();
    }
  } finally {
    await pool?.end().catch(() => undefined);
    db.close();
  }
}
