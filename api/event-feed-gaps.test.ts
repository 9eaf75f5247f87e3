import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import t from 'tap';
import { allEventsFilter } from '../building/events.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { openRecords } from '../database/database.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import type { SiteConfig } from '../site/site.ts';
import { signedInMember } from '../test-support/members.ts';
import { startRunningGateway } from '../test-support/running-gateway.ts';
import { eventually, listenWebSocket } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';

/**
 * What the event feed used to miss, on real parts (the project's broker with its ACL, the API's building
 * feed, HTTP and WebSockets through Fastify): a series' dates made and the rest of a series cancelled tell
 * booking-made and booking-cancelled per date, a moved booking tells booking-moved with its times before and
 * after, and a quiet feed says it is alive with a heartbeat. The API's clock is fixed (Monday 11 January 2027,
 * 09:00 Berlin): the series' dates are the next Mondays whatever day the suite runs on.
 */

const logger = pino({ level: 'silent' });
const NOW = Date.parse('2027-01-11T08:00:00Z');
const HEARTBEAT_MS = 300;

function oneRoom(): SiteConfig {
  const demo = loadSite(DEMO_SITE_FILE);
  return { ...demo, spaces: demo.spaces.filter((s) => s.id === 'og2-protel-01'), devices: [] };
}

t.test('series made and ended, a booking moved, and the heartbeat of a quiet feed', async (t) => {
  const site = oneRoom();
  const running = await startRunningGateway({ site, dataDirPrefix: 'wesprint-event-gaps-', logger });
  const { url, secrets, store, quarantine, profiles, dataDir } = running;
  const account = { username: SERVICE_USERNAMES.api, password: secrets.services.api };
  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  const feed = new BuildingFeed({ url, ...account, site, logger });
  feed.start();
  const app = await buildApi({
    site,
    store,
    feed,
    quarantine,
    profiles,
    records,
    logger,
    now: () => NOW,
    eventHeartbeatMs: HEARTBEAT_MS,
  });
  t.teardown(async () => {
    await app.close();
    await feed.close();
    records.close();
    await running.stop();
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  await feed.waitUntilConnected();

  const fred = await signedInMember(app, records, 'facility');
  const ada = await signedInMember(app, records, 'member');
  const listener = await listenWebSocket(t, `${String(base).replace(/^http/, 'ws')}/api/events/live`, {
    cookie: fred.cookie,
  });
  const spy = await mqtt.connectAsync(url, {
    ...account,
    clientId: `spy-${randomUUID()}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => spy.endAsync());
  const wire: Record<string, unknown>[] = [];
  spy.on('message', (_topic, payload) => wire.push(JSON.parse(String(payload))));
  await spy.subscribeAsync(allEventsFilter(site.site.id), { qos: 1 });

  t.match(listener.messages[0], { type: 'hello', heartbeatMs: HEARTBEAT_MS });
  // Nothing happens: the feed still says it is there, and that it hears the broker.
  await eventually(
    'two heartbeats',
    () => listener.messages.filter((m) => m.type === 'heartbeat').length >= 2,
  );
  t.match(
    listener.messages.find((m) => m.type === 'heartbeat'),
    { type: 'heartbeat', at: NOW, broker: true },
  );

  const events = () => listener.messages.filter((m) => m.type !== 'hello' && m.type !== 'heartbeat');
  const call = async (method: 'POST' | 'PATCH' | 'DELETE', route: string, payload?: object) => {
    const response = await app.inject({
      method,
      url: route,
      headers: { cookie: ada.cookie },
      ...(payload ? { payload } : {}),
    });
    return { status: response.statusCode, json: response.json() };
  };

  // Three Mondays 10:00-11:00 from 18 January: a booking-made per date.
  const made = await call('POST', '/api/booking-series', {
    spaceId: 'og2-protel-01',
    firstDate: '2027-01-18',
    start: '10:00',
    end: '11:00',
    every: 'week',
    count: 3,
    onConflict: 'refuse',
  });
  t.equal(made.status, 201, JSON.stringify(made.json));
  const dates = made.json.series.bookings as { id: string; occurrence: string; start: string; end: string }[];
  t.equal(dates.length, 3);
  await eventually('three booking-made', () => events().filter((e) => e.type === 'booking-made').length >= 3);
  t.same(
    events()
      .filter((e) => e.type === 'booking-made')
      .map((e) => [e.bookingId, e.space, e.start, e.end, e.at]),
    dates.map((d) => [d.id, 'og2-protel-01', Date.parse(d.start), Date.parse(d.end), NOW]),
    'each date of the series, with its times',
  );

  // The second date moved to 12:00-13:00: booking-moved, with the times before.
  const [first, second, third] = dates as [(typeof dates)[0], (typeof dates)[0], (typeof dates)[0]];
  const moved = await call('PATCH', `/api/bookings/${second.id}`, {
    start: '2027-01-25T12:00+01:00',
    end: '2027-01-25T13:00+01:00',
  });
  t.equal(moved.status, 200, JSON.stringify(moved.json));
  await eventually('booking-moved', () => events().some((e) => e.type === 'booking-moved'));
  t.same(
    events().find((e) => e.type === 'booking-moved'),
    {
      type: 'booking-moved',
      id: events().find((e) => e.type === 'booking-moved')?.id,
      site: site.site.id,
      space: 'og2-protel-01',
      at: NOW,
      bookingId: second.id,
      start: Date.parse('2027-01-25T11:00:00Z'),
      end: Date.parse('2027-01-25T12:00:00Z'),
      previousStart: Date.parse(second.start),
      previousEnd: Date.parse(second.end),
    },
    'the new times and the old; no member',
  );

  // The series ended from its third date: that date is cancelled, told; the first two are not.
  const ended = await call('DELETE', `/api/booking-series/${made.json.series.id}?from=${third.occurrence}`);
  t.equal(ended.status, 200, JSON.stringify(ended.json));
  t.equal(ended.json.cancelled, 1);
  await eventually('booking-cancelled', () => events().some((e) => e.type === 'booking-cancelled'));
  t.same(
    events()
      .filter((e) => e.type === 'booking-cancelled')
      .map((e) => e.bookingId),
    [third.id],
    'only the date the series no longer has',
  );
  t.notOk(
    events().some((e) => e.type === 'booking-cancelled' && e.bookingId === first.id),
    'the first date stays booked',
  );

  // On the broker each once, as the feed's clients heard them.
  await eventually('the wire has them all', () => wire.length >= events().length);
  t.same(
    wire.map((e) => e.id).sort(),
    events()
      .map((e) => e.id)
      .sort(),
    'every event once on the wire, and once to the client',
  );
});
