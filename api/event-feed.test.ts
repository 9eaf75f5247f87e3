import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import t from 'tap';
import { AlertWatch } from '../alerts/alert-watch.ts';
import { SqliteAlertStore } from '../alerts/sqlite-alert-store.ts';
import { BookingClock } from '../bookings/booking-clock.ts';
import { CheckInWatcher } from '../bookings/check-in.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { SqliteMomentClaims } from '../bookings/sqlite-moment-claims.ts';
import { allEventsFilter } from '../building/events.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { openRecords } from '../database/database.ts';
import { Identity } from '../members/identity.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import type { SiteConfig } from '../site/site.ts';
import { signedInMember } from '../test-support/members.ts';
import { startRunningGateway } from '../test-support/running-gateway.ts';
import { eventually, listenWebSocket, upgradeStatus } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';
import { LockCommands } from './lock-commands.ts';

/**
 * The event feed end to end on real parts: the project's broker with its ACL, the gateway with a simulated
 * Nuki lock, two API processes' worth of API (each its own broker connection, one records file), the
 * watchers telling what they decide, HTTP and WebSockets through Fastify. Every event is told once on
 * `wesprint/<site>/events/<type>` and reaches the clients of both APIs once.
 */

const logger = pino({ level: 'silent' });
const MIN = 60_000;
const HOUR = 60 * MIN;
const QUARTER = 15 * MIN;

/** Two Protel rooms of the demo building and their locks: few devices, so few alerts. */
function twoRooms(): SiteConfig {
  const demo = loadSite(DEMO_SITE_FILE);
  const rooms = new Set(['og2-protel-01', 'og2-protel-02']);
  const spaces = demo.spaces.filter((s) => rooms.has(s.id));
  const locks = new Set(spaces.map((s) => s.lock));
  return { ...demo, spaces, devices: demo.devices.filter((d) => locks.has(d.id)) };
}

t.test('bookings, check-in, doors and alerts told once, heard by every API process', async (t) => {
  const site = twoRooms();
  const [protel, other] = site.spaces;
  if (!protel?.lock || !other) throw new Error('the demo site no longer has its Protel rooms');
  const lock = protel.lock;
  const running = await startRunningGateway({
    site,
    dataDirPrefix: 'wesprint-events-',
    simulate: { devices: (d) => d.id === lock, lock: { motorMs: 20, relockAfterMs: 0 } },
    logger,
  });
  const { url, secrets, store, quarantine, profiles, dataDir } = running;
  const account = { username: SERVICE_USERNAMES.api, password: secrets.services.api };
  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  const feeds = [0, 1].map(() => new BuildingFeed({ url, ...account, site, logger }));
  for (const feed of feeds) feed.start();
  const [feedA] = feeds as [BuildingFeed, BuildingFeed];
  const commands = new LockCommands({ url, ...account, site, status: feedA, answerTimeoutMs: 5000 });
  commands.start();
  const apps = await Promise.all(
    feeds.map((feed, i) =>
      buildApi({
        site,
        store,
        feed,
        quarantine,
        profiles,
        records,
        logger,
        ...(i === 0 ? { lockCommands: commands } : {}),
      }),
    ),
  );
  const [appA, appB] = apps as [(typeof apps)[0], (typeof apps)[0]];
  t.teardown(async () => {
    for (const app of apps) await app.close();
    await commands.close();
    for (const feed of feeds) await feed.close();
    records.close();
    await running.stop();
  });
  const [baseA, baseB] = await Promise.all(apps.map((app) => app.listen({ host: '127.0.0.1', port: 0 })));
  const wsA = String(baseA).replace(/^http/, 'ws');
  const wsB = String(baseB).replace(/^http/, 'ws');
  await Promise.all(feeds.map((feed) => feed.waitUntilConnected()));
  await commands.waitUntilReady();
  await eventually('the lock online', () => feedA.device(lock)?.online === true);

  // Who may listen: facility and admin sessions, and tokens with feed:read.
  const tokens = new Identity(records).integrationTokens;
  const nodeRed = await tokens.create({ label: 'node-red', scopes: 'feed:read' });
  const readingsOnly = await tokens.create({ label: 'readings', scopes: 'readings:read' });
  const anna = await signedInMember(appA, records, 'member');
  const fred = await signedInMember(appB, records, 'facility');
  const board = await signedInMember(appA, records, 'board');
  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  t.equal(await upgradeStatus(`${wsA}/api/events/live`), 401, 'nobody');
  t.equal(await upgradeStatus(`${wsA}/api/events/live`, bearer(readingsOnly.secret)), 403, 'no feed:read');
  t.equal(await upgradeStatus(`${wsA}/api/events/live`, { cookie: anna.cookie }), 403, 'a member');
  t.equal(await upgradeStatus(`${wsA}/api/events/live`, { cookie: board.cookie }), 403, 'the board');
  t.equal(await upgradeStatus(`${wsA}/api/events/live?space=nowhere`, bearer(nodeRed.secret)), 404);

  const onA = await listenWebSocket(t, `${wsA}/api/events/live`, bearer(nodeRed.secret));
  const onB = await listenWebSocket(t, `${wsB}/api/events/live`, { cookie: fred.cookie });
  const otherRoom = await listenWebSocket(
    t,
    `${wsA}/api/events/live?space=${other.id}`,
    bearer(nodeRed.secret),
  );
  // The broker's view: every event once, not retained.
  const spy = await mqtt.connectAsync(url, {
    ...account,
    clientId: `spy-${randomUUID()}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => spy.endAsync());
  const wire: { topic: string; retain: boolean; event: Record<string, unknown> }[] = [];
  spy.on('message', (topic, payload, packet) =>
    wire.push({ topic, retain: packet.retain, event: JSON.parse(String(payload)) }),
  );
  await spy.subscribeAsync(allEventsFilter(site.site.id), { qos: 1 });
  // Events only: not the hello, nor the heartbeats a longer run may bring.
  const news = (m: { type?: unknown }) => m.type !== 'hello' && m.type !== 'heartbeat';
  const events = () => onA.messages.filter(news);
  const told = async (type: string, count = 1) => {
    await eventually(`${type} heard`, () => events().filter((e) => e.type === type).length >= count);
    return events().filter((e) => e.type === type);
  };
  t.same(onA.messages[0], {
    type: 'hello',
    site: site.site.id,
    filter: { space: null },
    heartbeatMs: 10_000,
  });

  // A booking made and cancelled through the routes.
  const now = Date.now();
  const tomorrow = Math.ceil(now / QUARTER) * QUARTER + 24 * HOUR;
  const made = await appA.inject({
    method: 'POST',
    url: '/api/bookings',
    headers: { cookie: anna.cookie },
    payload: {
      spaceId: other.id,
      start: new Date(tomorrow).toISOString(),
      end: new Date(tomorrow + 24 * HOUR).toISOString(),
    },
  });
  t.equal(made.statusCode, 201, made.body);
  const bookingId = made.json().id as string;
  const [madeEvent] = await told('booking-made');
  t.match(madeEvent, {
    type: 'booking-made',
    site: site.site.id,
    space: other.id,
    bookingId,
    start: tomorrow,
    end: tomorrow + 24 * HOUR,
  });
  t.same(
    Object.keys(madeEvent ?? {}).sort(),
    ['at', 'bookingId', 'end', 'id', 'site', 'space', 'start', 'type'],
    'small, and naming no member',
  );
  const cancelled = await appA.inject({
    method: 'DELETE',
    url: `/api/bookings/${bookingId}`,
    headers: { cookie: anna.cookie },
  });
  t.equal(cancelled.statusCode, 200);
  t.match((await told('booking-cancelled'))[0], { bookingId, space: other.id });

  // A booking under way: the door opened for it, presence seen, its start and end.
  const bookings = new SqliteBookingStore(records, site.site.id);
  const current = await bookings.create(
    { memberId: anna.member.id, spaceId: protel.id, start: now - 2 * MIN, end: now + 58 * MIN },
    now - 3 * MIN,
  );
  if (!current.ok) throw new Error('booking refused');
  const unlock = await appA.inject({
    method: 'POST',
    url: `/api/spaces/${protel.id}/unlock`,
    headers: { cookie: anna.cookie },
  });
  t.match(unlock.json(), { result: 'unlocked' });
  t.match((await told('door-opened'))[0], {
    space: protel.id,
    device: lock,
    commandId: unlock.json().commandId,
  });
  const checkIn = new CheckInWatcher({ store: bookings, feed: feedA, site, profiles, events: feedA });
  await checkIn.presence({ space: protel.id, ts: now });
  t.match((await told('booking-checked-in'))[0], { bookingId: current.booking.id, space: protel.id });
  const clock = new BookingClock({
    store: bookings,
    claims: new SqliteMomentClaims(records),
    events: feedA,
    siteId: site.site.id,
  });
  await clock.scan(now);
  await clock.scan(current.booking.end + 1000);
  t.match((await told('booking-started'))[0], { bookingId: current.booking.id, at: current.booking.start });
  t.match((await told('booking-ended'))[0], { bookingId: current.booking.id, at: current.booking.end });

  // Alerts: the locks silent for days (a Nuki reports once a day; the watcher's clock moved on), then heard again.
  let alertClock = now;
  const alerts = new AlertWatch({
    alerts: new SqliteAlertStore(records, site.site.id),
    feed: feedA,
    site,
    profiles,
    now: () => alertClock,
    checkEveryMs: HOUR,
    events: feedA,
  });
  alerts.start();
  t.teardown(() => alerts.stop());
  alertClock = now + 4 * 24 * HOUR;
  await alerts.check();
  const offline = (e: Record<string, unknown>) =>
    e.type === 'alert-opened' && e.kind === 'device_offline' && e.device === lock;
  await eventually('the lock silent for days: alert-opened', () => events().some(offline));
  const opened = events().find(offline);
  t.match(opened, { space: protel.id, subject: lock }, 'the lock silent for days: alert-opened');
  alertClock = Date.now();
  await alerts.check();
  await eventually('heard again: the same alert cleared', () =>
    events().some((e) => e.type === 'alert-cleared' && e.alertId === opened?.alertId),
  );
  t.pass('heard again: the same alert cleared');

  // Once on the wire, once on each API's clients, never retained.
  await eventually('B heard them all', () => onB.messages.filter(news).length >= events().length);
  const ids = events().map((e) => e.id);
  t.equal(new Set(ids).size, ids.length, 'no event twice on A');
  t.same(
    onB.messages.filter(news).map((e) => e.id),
    ids,
    'the other API process heard the same events, once each, in the same order',
  );
  t.same(
    wire.map((w) => w.event.id),
    ids,
    'each published once',
  );
  t.ok(
    wire.every((w) => !w.retain && w.topic === `wesprint/${site.site.id}/events/${w.event.type}`),
    'wesprint/<site>/events/<type>, not retained',
  );
  t.notOk(JSON.stringify(wire).includes(anna.member.id), 'no member id anywhere');
  t.notOk(JSON.stringify(wire).includes(anna.member.email), 'no e-mail');
  const ofOther = otherRoom.messages.filter(news);
  t.ok(
    ofOther.length >= 2 && ofOther.every((e) => e.space === other.id),
    '?space= lets through that space only',
  );
  t.same(
    ofOther.filter((e) => String(e.type).startsWith('booking-')).map((e) => e.type),
    ['booking-made', 'booking-cancelled'],
  );
});
