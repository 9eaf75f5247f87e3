import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { SERVICE_USERNAMES, type Secrets } from '../site/credentials.ts';
import { testPostgres } from '../test-support/postgres.ts';
import { serviceDataDir, WERKHOF_SITE } from '../test-support/service-data-dir.ts';
import { runWesprint, startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * Two `wesprint api` processes on one PostgreSQL and one broker, as real processes: a session of one works
 * on the other, 200 conflicting bookings split between them leave exactly one, a sign-out on one closes a
 * socket on the other, and exactly one leads the background work; killed with -9, the other takes over and
 * tells the booking moments that fell in the gap once.
 */

const QUARTER = 15 * 60_000;
const TAKEOVER_LIMIT_MS = 60_000;
/** How long a start may take on a loaded machine (the shared cores run others' tests too): not a speed. */
const START_LIMIT_MS = 180_000;
const ROOMS = ['raum-1', 'raum-2', 'raum-3', 'raum-4', 'raum-5', 'raum-6'];

const SITE = {
  ...WERKHOF_SITE,
  spaces: [
    ...WERKHOF_SITE.spaces,
    ...ROOMS.map((id) => ({
      id,
      name: id,
      floor: 'eg',
      kind: 'meeting_room',
      area_m2: 20,
      bookable: true,
    })),
  ],
};

const LEADING = /"part":"leader"[^\n]*"msg":"leading the background work"/g;

interface Replica {
  service: WesprintService;
  base: string;
}

interface Installation {
  a: Replica;
  b: Replica;
  env: Record<string, string>;
  secrets: () => Secrets;
  mqttUrl: string;
  rows: <R>(sql: string, values?: unknown[]) => Promise<R[]>;
  admin: { email: string; password: string };
}

async function installation(t: Test): Promise<Installation | undefined> {
  const server = await testPostgres(t);
  if (!server) return undefined;
  const { env: baseEnv, dir, secrets } = serviceDataDir(t);
  fs.writeFileSync(path.join(dir, 'werkhof.site.json'), JSON.stringify(SITE));
  const broker = startWesprint(t, ['broker'], { ...baseEnv, MQTT_PORT: '0' });
  const [, port] = await broker.waitFor(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:(\d+)/, START_LIMIT_MS);
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const env = { ...baseEnv, DATABASE_URL: server.url, MQTT_URL: mqttUrl };
  const admin = { email: 'admin@werkhof.example', password: 'ein-langes-passwort-2026' };
  const added = await runWesprint(
    ['users', 'add', '--email', admin.email, '--role', 'admin', '--name', 'Ada'],
    env,
    admin.password,
  );
  t.equal(added.code, 0, `users add: ${added.stderr}`);
  const start = async (): Promise<Replica> => {
    const service = startWesprint(t, ['api'], env);
    const [, base] = await service.waitFor(/API\s+(http:\/\/[\d.:]+)\//, START_LIMIT_MS);
    await service.waitFor(/building feed: connected to the broker/, START_LIMIT_MS);
    return { service, base: base as string };
  };
  // One after the other: the first takes the lead at once, the second finds it taken.
  const a = await start();
  await a.service.waitFor(LEADING, START_LIMIT_MS);
  const b = await start();
  const pool = server.pool(2);
  return {
    a,
    b,
    env,
    secrets,
    mqttUrl,
    admin,
    rows: async <R>(sql: string, values: unknown[] = []) => (await pool.query(sql, values)).rows as R[],
  };
}

async function signIn(replica: Replica, who: { email: string; password: string }): Promise<string> {
  const res = await fetch(`${replica.base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(who),
  });
  if (res.status !== 200) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

function book(replica: Replica, cookie: string, spaceId: string, start: number, end: number) {
  return fetch(`${replica.base}/api/bookings`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', origin: replica.base },
    body: JSON.stringify({
      spaceId,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
    }),
  });
}

const leadings = (replica: Replica) => replica.service.output().match(LEADING)?.length ?? 0;

t.test('two API processes: sessions, 200 conflicting bookings, sign-out, one leader', async (t) => {
  const it = await installation(t);
  if (!it) return;
  const { a, b } = it;
  t.equal(leadings(a) + leadings(b), 1, 'exactly one of the two leads');

  const cookie = await signIn(a, it.admin);
  const me = await fetch(`${b.base}/api/me`, { headers: { cookie } });
  t.equal(me.status, 200, 'the session signed in on A works on B');
  t.match(await me.json(), { member: { email: it.admin.email } });

  // Staff bookings are not bound by opening hours: whatever the hour the test runs at, tomorrow's is free.
  const start = Math.ceil(Date.now() / QUARTER) * QUARTER + 86_400_000;
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      book(i % 2 === 0 ? a : b, cookie, 'raum-1', start, start + QUARTER * 4),
    ),
  );
  const statuses = answers.map((r) => r.status);
  t.equal(statuses.filter((s) => s === 201).length, 1, 'exactly one of 200 wins');
  t.equal(statuses.filter((s) => s === 409).length, 199, 'the other 199 are told the time is taken');
  const won = answers.findIndex((r) => r.status === 201);
  t.comment(`the winner went to ${won % 2 === 0 ? 'A' : 'B'}`);
  t.equal(
    (await it.rows("SELECT id FROM bookings WHERE space_id = 'raum-1' AND status = 'booked'")).length,
    1,
    'one booking in PostgreSQL',
  );

  // A socket on B, opened with the session; signed out on A, B closes it as its credentials ended.
  const socket = new WebSocket(`${b.base.replace('http', 'ws')}/api/events/live`, {
    headers: { cookie, origin: b.base },
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  const out = await fetch(`${a.base}/api/auth/logout`, {
    method: 'POST',
    headers: { cookie, origin: a.base, 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(out.status, 204, `signed out on A (${out.status})`);
  t.equal(await closed, 4401, 'B closed the socket: its session ended');
  // Told by PostgreSQL at the sign-out, not found by B's own check of its sockets every 10 s.
  await b.service.waitFor(/"closed":1[^\n]*closed those of a session signed out/, 5000);
  t.equal(
    (await fetch(`${b.base}/api/me`, { headers: { cookie } })).status,
    401,
    'and B refuses the session',
  );
});

t.test('the leader killed: the other takes over and tells every moment of the gap once', async (t) => {
  const it = await installation(t);
  if (!it) return;
  const [leader, follower] = leadings(it.a) === 1 ? [it.a, it.b] : [it.b, it.a];
  t.equal(leadings(follower), 0, 'the other waits');

  // Every booking-started on the wire, by booking.
  const heard = new Map<string, number>();
  const listener = mqtt.connect(it.mqttUrl, {
    username: SERVICE_USERNAMES.api,
    password: it.secrets().services.api,
    clientId: `replicas-test-${process.pid}`,
    reconnectPeriod: 500,
  });
  t.teardown(() => void listener.end(true));
  await new Promise<void>((resolve, reject) => {
    listener.once('connect', () => resolve());
    listener.once('error', reject);
  });
  await listener.subscribeAsync('wesprint/werkhof/events/booking-started', { qos: 1 });
  listener.on('message', (_topic, payload) => {
    const id = (JSON.parse(payload.toString()) as { bookingId?: string }).bookingId;
    if (id) heard.set(id, (heard.get(id) ?? 0) + 1);
  });

  const cookie = await signIn(follower, it.admin);
  // Bookings of the quarter hour under way start when they are made: their moments fall before, in and
  // after the gap. Staff bookings, so any hour of the day will do.
  const made: string[] = [];
  const bookNow = async (room: string) => {
    // The quarter hour under way when it is asked for (the takeover may take the test into the next one).
    const quarter = Math.floor(Date.now() / QUARTER) * QUARTER;
    const res = await book(follower, cookie, room, quarter, quarter + 4 * QUARTER);
    t.equal(res.status, 201, `booked ${room} (${res.status})`);
    made.push(((await res.json()) as { id: string }).id);
  };
  await bookNow('raum-1');
  await bookNow('raum-2');

  leader.service.child.kill('SIGKILL');
  await leader.service.exited;
  const killedAt = performance.now();
  // In the gap, nobody leads.
  await bookNow('raum-3');
  await bookNow('raum-4');
  await follower.service.waitFor(LEADING, TAKEOVER_LIMIT_MS);
  // Reported, not judged (the limit above is the requirement): the lock is asked for every 5 s.
  t.comment(`took over ${Math.round(performance.now() - killedAt)} ms after the kill`);
  t.equal(leadings(follower), 1, 'the other process took over within a minute');
  await bookNow('raum-5');
  await bookNow('raum-6');

  // Until every moment is claimed in the records.
  const claimed = async () =>
    it.rows<{ booking_id: string }>(
      "SELECT booking_id FROM booking_moments_told WHERE moment = 'started' AND booking_id = ANY($1)",
      [made],
    );
  for (let i = 0; i < 120 && (await claimed()).length < made.length; i++)
    await new Promise((r) => setTimeout(r, 500));
  const rows = await claimed();
  t.same(rows.map((r) => r.booking_id).sort(), [...made].sort(), 'every start is claimed, each once');
  for (let i = 0; i < 40 && made.some((id) => !heard.has(id)); i++)
    await new Promise((r) => setTimeout(r, 250));
  t.same(
    made.map((id) => heard.get(id) ?? 0),
    made.map(() => 1),
    'and told on the event feed once each: none lost in the gap, none twice',
  );
});
