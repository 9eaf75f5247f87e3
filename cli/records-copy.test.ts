import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { openRecords } from '../database/database.ts';
import { sqliteRecords } from '../records/records.ts';
import { testPostgres } from '../test-support/postgres.ts';
import { serviceDataDir, WERKHOF_SITE } from '../test-support/service-data-dir.ts';
import { runWesprint, startWesprint } from '../test-support/wesprint-process.ts';

/**
 * An operator moving a building from its SQLite file to PostgreSQL, with the real `wesprint` command:
 * `wesprint records copy --to postgres://…`, then `wesprint api` with DATABASE_URL serving the same members
 * (their passwords) and bookings; a second copy into the filled database is refused with one line.
 */

const HOUR = 3_600_000;
const PASSWORD = 'ein-langes-passwort-2026';

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

t.test(
  'wesprint records copy, then the API on PostgreSQL serves the same members and bookings',
  async (t) => {
    const server = await testPostgres(t);
    if (!server) return;
    const { env, dataDir } = serviceDataDir(t);

    // The building so far: its records file, filled through the stores the API uses.
    const records = sqliteRecords(openRecords(path.join(dataDir, 'wesprint.db')));
    const { member: ada } = await records.members.create({
      email: 'ada@werkhof.example',
      role: 'member',
      name: 'Ada',
      password: PASSWORD,
    });
    // Tomorrow's hour, whatever the day the test runs: the API lists it as upcoming.
    const start = Math.ceil((Date.now() + 24 * HOUR) / HOUR) * HOUR;
    const booked = await records.bookingsAt(WERKHOF_SITE.site.id).create({
      memberId: ada.id,
      spaceId: 'halle',
      start,
      end: start + HOUR,
    });
    if (!booked.ok) throw new Error('booking refused');
    await records.close();

    const copy = await runWesprint(['records', 'copy', '--to', server.url], env);
    t.equal(copy.code, 0, `copied: ${copy.stderr}`);
    t.match(copy.stdout, /members: 1\n/);
    t.match(copy.stdout, /bookings: 1\n/);
    t.match(copy.stdout, /Copied \d+ rows in \d+ tables/);

    const again = await runWesprint(['records', 'copy', '--to', server.url], env);
    t.equal(again.code, 1, 'a second copy is refused');
    t.match(again.stderr, /is not empty: .*members \(1\)/);
    t.equal(again.stderr.trim().split('\n').length, 1, `one line: ${again.stderr}`);

    const usage = await runWesprint(['records', 'copy'], env);
    t.equal(usage.code, 2, 'no target: usage');

    // The SQLite file is moved aside: the API must read PostgreSQL only.
    fs.renameSync(path.join(dataDir, 'wesprint.db'), path.join(dataDir, 'wesprint.db.copied'));
    const api = startWesprint(t, ['api'], {
      ...env,
      DATABASE_URL: server.url,
      MQTT_URL: `mqtt://127.0.0.1:${await closedPort()}`,
    });
    const [, base] = await api.waitFor(/API\s+(http:\/\/[\d.:]+)\//, 30_000);
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@werkhof.example', password: PASSWORD }),
    });
    t.equal(login.status, 200, 'Ada signs in with her password, from PostgreSQL');
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const mine = await fetch(`${base}/api/bookings`, { headers: { cookie } });
    t.equal(mine.status, 200);
    const body = (await mine.json()) as { bookings: { id: string; spaceId: string }[] };
    t.match(body.bookings, [{ id: booked.booking.id, spaceId: 'halle' }], 'her booking, same id');
    const stopped = await api.stop('SIGTERM');
    t.equal(stopped.code, 0);
  },
);
