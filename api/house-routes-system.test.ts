import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { openRecords } from '../database/database.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import { sqliteRecords } from '../records/records.ts';
import { SERVICE_USERNAMES, secretsFile } from '../site/credentials.ts';
import { startRunningSystem } from '../test-support/running-system.ts';
import { eventually } from '../test-support/small-building.ts';

/**
 * A member of one house opens a door in another (issue 11's check), on the whole system as `wesprint start`
 * runs it with SITES_DIR holding the demo's first two houses, both simulated: a member of the Kaufhaus books
 * the Werkhof's meeting room (the Werkhof opens meeting rooms to the Kaufhaus) and opens its door through the
 * API's command channel of the Werkhof, the broker, the gateway and the Werkhof's simulated Nuki; a facility
 * manager of the Kaufhaus, a plain member in the Werkhof, is refused the same door. She then books it later
 * and moves that booking: the events are told on the Werkhof's topics through the broker, none on the
 * Kaufhaus's. The meeting room's opening hours are taken out of the copied site file, so that the test books
 * "now" at any hour it runs.
 */

const DEMO_NETWORK = path.resolve(import.meta.dirname, '../simulations/network');
const PASSWORD = 'house-routes-system-1';
const ROOM = 'og1-besprechung';
const NUKI_UNLOCKED = 3;

t.test('a member of the Kaufhaus opens the Werkhof’s meeting room on the running system', async (t) => {
  const sitesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-member-houses-'));
  t.teardown(() => fs.rmSync(sitesDir, { recursive: true, force: true }));
  const [first, second] = fs.readdirSync(DEMO_NETWORK).sort();
  if (!first || !second?.includes('werkhof'))
    throw new Error('the demo network changed its first two houses');
  fs.copyFileSync(path.join(DEMO_NETWORK, first), path.join(sitesDir, first));
  const werkhof = fs.readFileSync(path.join(DEMO_NETWORK, second), 'utf8');
  const always = werkhof.replace(
    new RegExp(`(lock: ${ROOM}-lock\\n)    opening_hours:\\n(      - .*\\n)+`),
    '$1',
  );
  if (always === werkhof) throw new Error(`no opening hours of ${ROOM} to take out`);
  fs.writeFileSync(path.join(sitesDir, second), always);

  const system = await startRunningSystem({ env: { SITES_DIR: sitesDir, SIM_SPEED: '60' } });
  t.teardown(() => system.stop());
  const home = system.site.site.id;
  const other = 'werkhof-weimar';
  const lock = system.simulations.get(other)?.locks.get(`${ROOM}-lock`);
  if (!lock) throw new Error(`no simulated ${ROOM}-lock in ${other}`);

  const records = openRecords(path.join(system.dataDir, 'wesprint.db'));
  t.teardown(() => records.close());
  const people = new SqliteMemberStore(records);
  const ada = await people.create({
    email: 'ada@kaufhaus.example',
    role: 'member',
    homeSite: home,
    password: PASSWORD,
  });
  await people.create({
    email: 'fred@kaufhaus.example',
    role: 'facility',
    homeSite: home,
    password: PASSWORD,
  });

  const signIn = async (email: string) => {
    const response = await fetch(`${system.httpUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    if (response.status !== 200) throw new Error(`sign-in of ${email}: ${response.status}`);
    return ((await response.json()) as { token: string }).token;
  };
  const call = async (token: string, method: string, url: string, body?: unknown) => {
    const response = await fetch(`${system.httpUrl}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const adas = await signIn('ada@kaufhaus.example');
  const freds = await signIn('fred@kaufhaus.example');

  const houses = (await call(adas, 'GET', '/api/houses')).body.houses as {
    id: string;
    spaces: { id: string }[];
  }[];
  t.same(
    houses.map((h) => h.id),
    [home, other],
    'her house, then the Werkhof',
  );
  t.ok(
    houses[1]?.spaces.some((s) => s.id === ROOM),
    'whose meeting room is open to her',
  );

  const quarter = 15 * 60_000;
  const start = Math.floor(Date.now() / quarter) * quarter;
  const booked = await call(adas, 'POST', `/api/houses/${other}/bookings`, {
    spaceId: ROOM,
    start: new Date(start).toISOString(),
    end: new Date(start + 60 * 60_000).toISOString(),
  });
  t.equal(booked.status, 201, JSON.stringify(booked.body));

  const refused = await call(freds, 'POST', `/api/houses/${other}/spaces/${ROOM}/unlock`);
  t.equal(refused.status, 403, 'the facility manager of the Kaufhaus opens no door of the Werkhof');
  t.match(refused.body, { result: 'denied', reason: 'not_your_space' });
  t.equal(
    (await call(freds, 'GET', `/api/network/houses/${other}/facility/overview`)).status,
    403,
    'nor reads its devices',
  );

  const opened = await call(adas, 'POST', `/api/houses/${other}/spaces/${ROOM}/unlock`);
  t.equal(opened.status, 200, JSON.stringify(opened.body));
  t.match(opened.body, { result: 'unlocked', reason: 'booking', lock: `${ROOM}-lock` });
  await eventually('the lock reports unlocked', () => lock.state() === NUKI_UNLOCKED);
  t.equal(lock.state(), NUKI_UNLOCKED, "the Werkhof's simulated Nuki is unlocked");

  const audit = await sqliteRecords(records).audit.query({ action: 'unlock', actor: ada.member.id });
  t.match(audit.entries[0], {
    decision: 'granted',
    target: ROOM,
    detail: { site: other, result: 'unlocked', outcome: 'done' },
  });

  // A booking made and moved in the Werkhof is told on the Werkhof's event topics, as the broker carries them.
  const secrets = JSON.parse(fs.readFileSync(secretsFile(system.dataDir), 'utf8')) as {
    services: { api: string };
  };
  const listener = await mqtt.connectAsync(system.mqttUrl, {
    username: SERVICE_USERNAMES.api,
    password: secrets.services.api,
    clientId: `house-events-${process.pid}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => listener.endAsync());
  const heard: { topic: string; event: { type: string; site: string; bookingId?: string } }[] = [];
  listener.on('message', (topic, payload) => heard.push({ topic, event: JSON.parse(payload.toString()) }));
  await listener.subscribeAsync([`wesprint/${home}/events/#`, `wesprint/${other}/events/#`], { qos: 1 });
  const later = start + 3 * 60 * 60_000;
  const afternoon = await call(adas, 'POST', `/api/houses/${other}/bookings`, {
    spaceId: ROOM,
    start: new Date(later).toISOString(),
    end: new Date(later + 60 * 60_000).toISOString(),
  });
  t.equal(afternoon.status, 201, JSON.stringify(afternoon.body));
  const moved = await call(adas, 'PATCH', `/api/houses/${other}/bookings/${afternoon.body.id}`, {
    start: new Date(later + 60 * 60_000).toISOString(),
    end: new Date(later + 2 * 60 * 60_000).toISOString(),
  });
  t.equal(moved.status, 200, JSON.stringify(moved.body));
  await eventually('the move told', () =>
    heard.some((h) => h.event.type === 'booking-moved' && h.event.bookingId === afternoon.body.id),
  );
  t.same(
    heard
      .filter((h) => h.event.bookingId === afternoon.body.id)
      .map((h) => [h.topic, h.event.type, h.event.site]),
    [
      [`wesprint/${other}/events/booking-made`, 'booking-made', other],
      [`wesprint/${other}/events/booking-moved`, 'booking-moved', other],
    ],
    "on the Werkhof's topics, naming the Werkhof",
  );
});
