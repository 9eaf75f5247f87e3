import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import { openRecords } from '../database/database.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { SqliteLobbyTokens } from '../members/sqlite-lobby-tokens.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { createTestMember, signIn } from '../test-support/members.ts';
import {
  eventually,
  listenWebSocket,
  smallBuilding,
  startBroker,
  startGatewayClient,
  testProfiles,
  upgradeStatus,
} from '../test-support/small-building.ts';
import { buildApi } from './app.ts';
import { LOBBY_TOKEN_REVOKED } from './lobby-routes.ts';

const topics = buildingTopics('test-haus');
const HOUR = 3_600_000;

/** The small test building plus a bookable desk in the coworking area, with its own presence sensor. */
function lobbyBuilding(): SiteConfig {
  const site = smallBuilding();
  site.spaces.push({
    id: 'desk-1',
    name: 'Platz 1',
    floor: 'og1',
    kind: 'desk',
    area_m2: 6,
    capacity: 1,
    bookable: true,
    parent: 'cowork',
  });
  site.devices.push({
    id: 'presence-desk-1',
    profile: 'test-occupancy',
    topic: 'z/presence-desk-1',
    space: 'desk-1',
  });
  return site;
}

async function lobbyApi(t: Test, options: { lobbyPublic?: boolean; heartbeatMs?: number } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-lobby-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { url } = await startBroker(t);
  const site = lobbyBuilding();
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => records.close());
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = new BuildingFeed({ url, site, reconnectPeriodMs: 200 });
  t.teardown(() => feed.close());
  feed.start();
  await feed.waitUntilConnected(15_000);
  const app = await buildApi({
    site,
    store,
    feed,
    quarantine,
    records,
    profiles: testProfiles(),
    ...(options.lobbyPublic !== undefined ? { lobbyPublic: options.lobbyPublic } : {}),
    ...(options.heartbeatMs !== undefined
      ? { lobbyHeartbeatMs: options.heartbeatMs, socketCheckMs: options.heartbeatMs }
      : {}),
  });
  t.teardown(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const lobbyToken = (await new SqliteLobbyTokens(records).create('Foyer')).token;
  return { app, records, feed, brokerUrl: url, wsBase: address.replace(/^http/, 'ws'), lobbyToken };
}

const listen = listenWebSocket;

type Entry = Record<string, unknown> & { id: string };

async function book(
  records: ReturnType<typeof openRecords>,
  memberId: string,
  spaceId: string,
  start: number,
  end: number,
) {
  const result = await new SqliteBookingStore(records, lobbyBuilding().site.id).create({
    memberId,
    spaceId,
    start,
    end,
  });
  if (!result.ok) throw new Error(`booking ${spaceId} refused: ${result.reason}`);
  return result.booking;
}

t.test('GET /api/lobby: lobby token or member; never names, e-mails or ids of who booked', async (t) => {
  const { app, records, lobbyToken } = await lobbyApi(t);
  const anonymous = await app.inject('/api/lobby');
  t.equal(anonymous.statusCode, 401, 'without credentials: 401');
  t.equal((await app.inject('/api/lobby?token=not-a-token-at-all')).statusCode, 401, 'a wrong token: 401');

  const { member, password } = await createTestMember(records, {
    role: 'member',
    email: 'ada.lovelace@example.org',
    name: 'Ada Lovelace',
  });
  const now = Date.now();
  const booking = await book(records, member.id, 'protel-1', now - HOUR, now + 2 * HOUR);

  const byToken = await app.inject(`/api/lobby?token=${lobbyToken}`);
  t.equal(byToken.statusCode, 200, 'lobby token in the URL');
  const byBearer = await app.inject({
    url: '/api/lobby',
    headers: { authorization: `Bearer ${lobbyToken}` },
  });
  t.equal(byBearer.statusCode, 200, 'lobby token as Bearer');
  const cookie = await signIn(app, member.email, password);
  t.equal(
    (await app.inject({ url: '/api/lobby', headers: { cookie } })).statusCode,
    200,
    'a signed-in member',
  );

  const body = byToken.json() as { site: { id: string }; floors: unknown[]; spaces: Entry[] };
  t.same(
    body.floors,
    [
      { id: 'eg', name: 'Erdgeschoss', level: 0 },
      { id: 'og1', name: 'Coworking', level: 1 },
    ],
    'the floors, to group the screen by (no areas or other details)',
  );
  t.same(
    body.spaces.map((s) => s.id),
    ['cowork', 'protel-1', 'desk-1'],
    'the bookable spaces, and the desk area holding a bookable desk',
  );
  const protel = body.spaces.find((s) => s.id === 'protel-1') as Entry;
  t.same(
    { status: protel.status, free: protel.free, busyUntil: protel.busyUntil },
    { status: 'busy', free: false, busyUntil: booking.end },
  );
  const text = byToken.body;
  for (const secret of [member.id, member.email, member.name, 'Lovelace', booking.id]) {
    t.notOk(text.includes(secret), `the lobby does not contain "${secret}"`);
  }
});

t.test('LOBBY_PUBLIC: the operator can open the lobby to anyone', async (t) => {
  const { app } = await lobbyApi(t, { lobbyPublic: true });
  const response = await app.inject('/api/lobby');
  t.equal(response.statusCode, 200);
  t.equal((response.json() as { spaces: unknown[] }).spaces.length, 3);
});

t.test('/api/live needs staff or board; /api/lobby/live takes a lobby token', async (t) => {
  const { app, records, wsBase, lobbyToken } = await lobbyApi(t);
  t.equal(await upgradeStatus(`${wsBase}/api/live`), 401, 'unauthenticated: refused before the upgrade');
  t.equal(await upgradeStatus(`${wsBase}/api/live?token=${lobbyToken}`), 403, 'a lobby token is not enough');
  t.equal(await upgradeStatus(`${wsBase}/api/lobby/live`), 401, 'lobby channel without a token: 401');

  const plain = await createTestMember(records, { role: 'member' });
  const memberCookie = await signIn(app, plain.member.email, plain.password);
  t.equal(await upgradeStatus(`${wsBase}/api/live`, { cookie: memberCookie }), 403, 'a plain member: 403');
  t.equal(
    await upgradeStatus(`${wsBase}/api/lobby/live`, { cookie: memberCookie }),
    'open',
    'member: lobby ok',
  );

  for (const role of ['board', 'facility', 'admin'] as const) {
    const staff = await createTestMember(records, { role });
    const cookie = await signIn(app, staff.member.email, staff.password);
    t.equal(await upgradeStatus(`${wsBase}/api/live`, { cookie }), 'open', `${role}: live readings`);
  }
});

t.test('the lobby channel pushes bookings, occupancy and air quality as they change', async (t) => {
  const { records, feed, wsBase, brokerUrl, lobbyToken } = await lobbyApi(t);
  const screen = await listen(t, `${wsBase}/api/lobby/live?token=${lobbyToken}`);
  await eventually('hello and board', () => screen.messages.length >= 2);
  t.same(screen.messages[0], { type: 'hello', channel: 'lobby', site: 'test-haus' });
  const board = screen.messages[1] as { type: string; spaces: Entry[] };
  t.equal(board.type, 'lobby');
  t.same(
    board.spaces.map((s) => [s.id, s.status]),
    [
      ['cowork', 'free'],
      ['protel-1', 'free'],
      ['desk-1', 'free'],
    ],
  );
  const updates = (id: string) =>
    screen.messages
      .filter((m) => m.type === 'lobby-space')
      .map((m) => m.space as Entry)
      .filter((s) => s.id === id);

  // A booking: the screen hears about it without asking.
  const { member } = await createTestMember(records, { role: 'member', name: 'Grace Hopper' });
  const booked = Date.now();
  const booking = await book(records, member.id, 'desk-1', booked - 60_000, booked + HOUR);
  await eventually('desk-1 busy', () => updates('desk-1').some((s) => s.status === 'busy'));
  t.comment(`booking -> lobby push took ${Date.now() - booked} ms`);
  const busy = updates('desk-1').at(-1) as Entry;
  t.equal(busy.busyUntil, booking.end);
  await eventually('area summary', () =>
    updates('cowork').some((s) => (s.desks as { free: number }).free === 0 && s.status === 'busy'),
  );

  // Presence at the desk and bad air in the area.
  const gateway = await startGatewayClient(t, brokerUrl);
  const ts = Date.now();
  await gateway.publishAsync(
    topics.reading('desk-1', 'presence-desk-1', 'occupancy'),
    JSON.stringify({ value: 1, unit: 'bool', ts }),
  );
  await gateway.publishAsync(
    topics.reading('cowork', 'co2-cowork', 'co2'),
    JSON.stringify({ value: 2400, unit: 'ppm', ts }),
  );
  await eventually('occupied and poor air', () =>
    updates('desk-1').some((s) => s.occupied === true && s.co2Level === 'poor'),
  );
  await eventually('area counts the occupied desk', () =>
    updates('cowork').some((s) => (s.desks as { occupied: number }).occupied === 1 && s.co2Level === 'poor'),
  );
  const before = screen.messages.length;
  await gateway.publishAsync(
    topics.reading('cowork', 'co2-cowork', 'co2'),
    JSON.stringify({ value: 2450, unit: 'ppm', ts: ts + 1 }),
  );
  // Same traffic light: nothing to push. Let the board take it in, then a later change proves it was dropped.
  await eventually('2450 ppm heard', () =>
    feed.latest({ device: 'co2-cowork' }).some((r) => r.value === 2450),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await gateway.publishAsync(
    topics.reading('cowork', 'co2-cowork', 'co2'),
    JSON.stringify({ value: 700, unit: 'ppm', ts: ts + 2 }),
  );
  await eventually('air good again', () => updates('cowork').some((s) => s.co2Level === 'good'));
  t.same(
    screen.messages
      .slice(before)
      .filter((m) => m.type === 'lobby-space')
      .map((m) => `${(m.space as Entry).id}:${(m.space as Entry).co2Level}`)
      .sort(),
    ['cowork:good', 'desk-1:good'],
    'a CO2 change within the same level is not pushed',
  );

  // Cancelled: free again.
  t.equal(
    await new SqliteBookingStore(records, lobbyBuilding().site.id).cancel(booking.id, {
      memberId: member.id,
      staff: false,
    }),
    'cancelled',
  );
  await eventually('desk-1 free again', () => (updates('desk-1').at(-1) as Entry).status === 'free');
  const all = JSON.stringify(screen.messages);
  for (const secret of [member.id, member.email, 'Grace Hopper', booking.id]) {
    t.notOk(all.includes(secret), `nothing on the channel contains "${secret}"`);
  }
});

t.test('the lobby channel sends a heartbeat while nothing changes', async (t) => {
  const { wsBase, lobbyToken } = await lobbyApi(t, { heartbeatMs: 100 });
  const screen = await listen(t, `${wsBase}/api/lobby/live?token=${lobbyToken}`);
  const heartbeats = () => screen.messages.filter((m) => m.type === 'heartbeat');
  await eventually('three heartbeats', () => heartbeats().length >= 3);
  const beats = heartbeats();
  t.same(Object.keys(beats[0] ?? {}).sort(), ['at', 'type'], 'a heartbeat carries only its time');
  const times = beats.map((m) => m.at as number);
  t.ok(
    times.every((at, i) => i === 0 || at > (times[i - 1] as number)),
    'each heartbeat is later than the one before',
  );
  t.same(
    screen.messages.slice(0, 2).map((m) => m.type),
    ['hello', 'lobby'],
    'hello and the board still come first',
  );
});

t.test(
  'a booking made and cancelled through the API reaches the lobby channel within a second',
  async (t) => {
    const { app, records, wsBase, lobbyToken } = await lobbyApi(t);
    const screen = await listen(t, `${wsBase}/api/lobby/live?token=${lobbyToken}`);
    await eventually('hello and board', () => screen.messages.length >= 2);
    const latest = (id: string) =>
      screen.messages
        .filter((m) => m.type === 'lobby-space' && (m.space as Entry).id === id)
        .map((m) => m.space as Entry)
        .at(-1);
    const { member, password } = await createTestMember(records, {
      role: 'member',
      name: 'Katherine Johnson',
    });
    const cookie = await signIn(app, member.email, password);
    // The quarter hour that has begun may still be booked, so the booking covers now.
    const start = Math.floor(Date.now() / 900_000) * 900_000;
    const end = start + HOUR;

    const sent = Date.now();
    const created = await app.inject({
      method: 'POST',
      url: '/api/bookings',
      headers: { cookie },
      payload: {
        spaceId: 'protel-1',
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
      },
    });
    t.equal(created.statusCode, 201, 'booked through the API');
    const bookingId = (created.json() as { id: string }).id;
    // The guard is the requirement: a screen shows a new booking within a second.
    await eventually('protel-1 busy on the channel', () => latest('protel-1')?.status === 'busy', 1000);
    t.comment(`POST /api/bookings -> lobby push took ${Date.now() - sent} ms`);
    t.equal(latest('protel-1')?.busyUntil, end, 'busy until the end of the booking');

    const cancelledAt = Date.now();
    const cancelled = await app.inject({
      method: 'DELETE',
      url: `/api/bookings/${bookingId}`,
      headers: { cookie },
    });
    t.equal(cancelled.statusCode, 200, 'cancelled through the API');
    await eventually('protel-1 free on the channel', () => latest('protel-1')?.status === 'free', 1000);
    t.comment(`DELETE /api/bookings/:id -> lobby push took ${Date.now() - cancelledAt} ms`);
    const all = JSON.stringify(screen.messages);
    for (const secret of [member.id, member.email, 'Katherine Johnson', bookingId]) {
      t.notOk(all.includes(secret), `nothing on the channel contains "${secret}"`);
    }
  },
);

t.test('a screen whose token is revoked is let go at the next heartbeat and cannot come back', async (t) => {
  const { records, wsBase } = await lobbyApi(t, { heartbeatMs: 100 });
  const tokens = new SqliteLobbyTokens(records);
  const revoked = await tokens.create('Foyer left');
  const kept = await tokens.create('Foyer right');
  const leaving = await listen(t, `${wsBase}/api/lobby/live?token=${revoked.token}`);
  const staying = await listen(t, `${wsBase}/api/lobby/live`, { authorization: `Bearer ${kept.token}` });
  const closed = new Promise<number>((resolve) => leaving.socket.once('close', (code) => resolve(code)));
  t.ok(await tokens.revoke(revoked.id), 'revoked');
  t.equal(await closed, LOBBY_TOKEN_REVOKED, 'closed with the revoked-token code');
  const heard = staying.messages.length;
  await eventually('the other screen still hears heartbeats', () => staying.messages.length >= heard + 2);
  t.equal(staying.socket.readyState, WebSocket.OPEN, 'the screen with a valid token stays');
  t.equal(await upgradeStatus(`${wsBase}/api/lobby/live?token=${revoked.token}`), 401, 'no way back');
});
