import path from 'node:path';
import { parseArgs } from 'node:util';
import { copyRecordsToPostgres } from '../records/records-copy.ts';
import type { Settings } from './settings.ts';

export const RECORDS_USAGE = `  wesprint records copy --to postgres://… [--from FILE]
                                 copy the records (members, sessions, tokens, bookings, series, events,
                                 sign-ups, guest keys, audit log, alerts) from DATA_DIR/wesprint.db into an
                                 empty PostgreSQL database, in one transaction, ids kept, counts compared;
                                 then run with DATABASE_URL set to it (README: "Moving to PostgreSQL")`;

/** `wesprint records copy`: one building's SQLite records moved to PostgreSQL (records/records-copy.ts). */
export async function runRecords(args: string[], settings: Settings): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'copy') {
    console.error(`wesprint records: unknown command "${sub ?? ''}"\n\n${RECORDS_USAGE}`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { to: { type: 'string' }, from: { type: 'string' } },
    strict: true,
  });
  if (!values.to || !/^postgres(ql)?:\/\//.test(values.to)) {
    console.error(`wesprint records copy: --to postgres://… is required\n\n${RECORDS_USAGE}`);
    return 2;
  }
  const file = path.resolve(values.from ?? path.join(settings.dataDir, 'wesprint.db'));
  console.log(`Copying the records of ${file}`);
  const result = await copyRecordsToPostgres(file, values.to, { log: (line) => console.log(`  ${line}`) });
  const rows = result.tables.reduce((sum, t) => sum + t.rows, 0);
  console.log(
    `Copied ${rows} rows in ${result.tables.length} tables (every count checked in PostgreSQL); ` +
      'start WeSprint with DATABASE_URL set to that database',
  );
  return 0;
}
