import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { testPostgres } from '../test-support/postgres.ts';
import { serviceDataDir, WERKHOF_SITE } from '../test-support/service-data-dir.ts';
import { runWesprint, startWesprint } from '../test-support/wesprint-process.ts';

/**
 * `wesprint users` and `wesprint api` on DATABASE_URL, as an operator runs them: the member, the session, the
 * booking and the audit entry of an unlock attempt are rows in PostgreSQL, none in DATA_DIR/wesprint.db.
 */

const HOUR = 3_600_000;
const STOP_LIMIT_MS = 10_000;

/** Werkhof with a bookable room and its lock. */
const SITE = {
  ...WERKHOF_SITE,
  spaces: [
    ...WERKHOF_SITE.spaces,
    {
      id: 'raum-1',
      name: 'Raum 1',
      floor: 'eg',
      kind: 'protel',
      area_m2: 20,
      bookable: true,
      lock: 'lock-1',
    },
  ],
  devices: [
    ...WERKHOF_SITE.devices,
    { id: 'lock-1', profile: 'nuki-mqtt', topic: 'nuki/1A2B3C4D', space: 'raum-1' },
  ],
};

/** A port nobody listens on (taken and given back): a broker that is not there. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

t.test('wesprint users and api on PostgreSQL: sign in, book, unlock attempt audited, stop', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const { env: baseEnv, dir, dataDir } = serviceDataDir(t);
  fs.writeFileSync(path.join(dir, 'werkhof.site.json'), JSON.stringify(SITE));
  const env = {
    ...baseEnv,
    DATABASE_URL: server.url,
    MQTT_URL: `mqtt://127.0.0.1:${await closedPort()}`,
    // The booking below starts within two hours: its lock may be opened now.
    UNLOCK_GRACE_MIN: '120',
  };

  const password = 'ein-langes-passwort-2026';
  const added = await runWesprint(
    ['users', 'add', '--email', 'ada@werkhof.example', '--role', 'member', '--name', 'Ada'],
    env,
    password,
  );
  t.equal(added.code, 0, `users add: ${added.stderr}`);

  const api = startWesprint(t, ['api'], env);
  const [, base] = await api.waitFor(/API\s+(http:\/\/[\d.:]+)\//, 30_000);
  t.match(api.output(), /Records\s+PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:5432\/wesprint_test_/);

  const login = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ada@werkhof.example', password }),
  });
  t.equal(login.status, 200, 'signed in with the member wesprint users put into PostgreSQL');
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const headers = { cookie, 'content-type': 'application/json', origin: base as string };

  // The next full hour at least half an hour ahead: within the unlock grace, and free.
  const start = Math.ceil((Date.now() + HOUR / 2) / HOUR) * HOUR;
  const booked = await fetch(`${base}/api/bookings`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      spaceId: 'raum-1',
      start: new Date(start).toISOString(),
      end: new Date(start + HOUR).toISOString(),
    }),
  });
  t.equal(booked.status, 201, `booked: ${await booked.clone().text()}`);
  const twice = await fetch(`${base}/api/bookings`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      spaceId: 'raum-1',
      start: new Date(start).toISOString(),
      end: new Date(start + HOUR).toISOString(),
    }),
  });
  t.equal(twice.status, 409, 'the same time again is taken');

  const unlock = await fetch(`${base}/api/spaces/raum-1/unlock`, { method: 'POST', headers, body: '{}' });
  t.ok([200, 502, 503, 504].includes(unlock.status), `the unlock is answered (${unlock.status})`);

  const pool = server.pool(1);
  const rows = async (sql: string) => (await pool.query(sql)).rows;
  t.match(await rows('SELECT email, role FROM members'), [{ email: 'ada@werkhof.example', role: 'member' }]);
  t.equal((await rows('SELECT id FROM sessions')).length, 1, 'the session is a row in PostgreSQL');
  t.match(await rows("SELECT space_id, status FROM bookings WHERE space_id = 'raum-1'"), [
    { space_id: 'raum-1', status: 'booked' },
  ]);
  const audited = await rows(
    "SELECT action, target, decision, actor FROM audit_log WHERE action = 'unlock' ORDER BY seq",
  );
  t.equal(audited.length, 1, 'the unlock attempt is in the audit log in PostgreSQL');
  t.match(audited[0], { action: 'unlock', target: 'raum-1', decision: 'granted' });
  t.match(
    await rows("SELECT action, decision FROM audit_log WHERE action = 'login'"),
    [{ action: 'login', decision: 'granted' }],
    'and so is the sign-in',
  );
  t.notOk(fs.existsSync(path.join(dataDir, 'wesprint.db')), 'no SQLite records file was made');

  const stopped = await api.stop('SIGTERM');
  t.equal(stopped.code, 0, 'stops cleanly');
  t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s (${Math.round(stopped.ms)} ms)`);
});

t.test('a database that is not there: one line, exit 1', async (t) => {
  const server = await testPostgres(t);
  if (!server) return;
  const { env } = serviceDataDir(t);
  const url = new URL(server.url);
  url.pathname = `/${server.database}_missing`;
  url.password = 'geheim';
  const run = await runWesprint(['users', 'list'], { ...env, DATABASE_URL: url.toString() });
  t.equal(run.code, 1);
  const said = run.stderr.trim();
  t.match(said, /does not exist/);
  t.equal(said.split('\n').length, 1, `one line: ${said}`);
  t.notMatch(said, /geheim/, 'no password');
  const api = startWesprint(t, ['api'], { ...env, DATABASE_URL: url.toString() });
  const exited = await api.exited;
  t.equal(exited.code, 1, 'the API does not start on it either');
  t.match(api.output(), /does not exist/);
});

t.test('the API waits for PostgreSQL that is not up yet, and stops within seconds of SIGTERM', async (t) => {
  const { env } = serviceDataDir(t);
  const port = await closedPort();
  const api = startWesprint(t, ['api'], {
    ...env,
    DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/wesprint`,
    MQTT_URL: `mqtt://127.0.0.1:${await closedPort()}`,
  });
  await api.waitFor(/PostgreSQL is not there yet; waiting for it/, 20_000);
  const stopped = await api.stop('SIGTERM');
  t.equal(stopped.code, 0, 'asked to stop while waiting: a clean stop');
  t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s (${Math.round(stopped.ms)} ms)`);
  t.equal(api.output().match(/not there yet/g)?.length, 1, 'said once, not once per attempt');
});

t.test('a malformed DATABASE_URL is a one-line settings error without the URL', async (t) => {
  const { env } = serviceDataDir(t);
  const run = await runWesprint(['users', 'list'], { ...env, DATABASE_URL: 'mysql://root:geheim@db/x' });
  t.equal(run.code, 1);
  t.match(run.stderr, /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\//);
  t.notMatch(run.stderr, /geheim/);
});
