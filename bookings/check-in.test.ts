import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import t from 'tap';
import type { BuildingEvent } from '../building/events.ts';
import { BuildingFeed, type LiveEvent } from '../building/live-feed.ts';
import { openRecords } from '../database/database.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { startGateway } from '../gateway/gateway.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { openJournal } from '../journal/segment-journal.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { createTestMember } from '../test-support/members.ts';
import { eventually, startBroker } from '../test-support/small-building.ts';
import { HOUR_MS, MINUTE_MS } from './booking-rules.ts';
import type { Booking } from './booking-store.ts';
import {
  bookingToCheckIn,
  type CheckInEvent,
  CheckInWatcher,
  DEFAULT_GRACE_MS,
  decideStarted,
  isPresence,
  type SpaceSensing,
  storedPresence,
} from './check-in.ts';
import { SqliteBookingStore } from './sqlite-booking-store.ts';

const T0 = Date.parse('2026-03-02T08:00:00Z');

function booking(over: Partial<Booking> = {}): Booking {
  return {
    id: 'b1',
    memberId: 'm1',
    spaceId: 'desk-a',
    start: T0,
    end: T0 + HOUR_MS,
    status: 'booked',
    checkedInAt: null,
    releasedAt: null,
    cancelledAt: null,
    createdAt: T0 - HOUR_MS,
    ...over,
  };
}

const SENSED_EMPTY: SpaceSensing = { occupiedNow: false, sensorUp: true, sensed: true, releasable: true };
const GRACE = DEFAULT_GRACE_MS;

t.test(
  'decideStarted: check in on presence, release after the grace, never judge without a sensor',
  async (t) => {
    const b = booking();
    t.equal(
      decideStarted(b, T0 - MINUTE_MS, GRACE, { ...SENSED_EMPTY, occupiedNow: true }),
      'wait',
      'not started',
    );
    t.equal(decideStarted(b, T0, GRACE, { ...SENSED_EMPTY, occupiedNow: true }), 'check_in');
    t.equal(decideStarted(b, T0 + 14 * MINUTE_MS, GRACE, SENSED_EMPTY), 'wait', 'within the grace');
    t.equal(decideStarted(b, T0 + 15 * MINUTE_MS, GRACE, SENSED_EMPTY), 'release', 'grace over');
    t.equal(
      decideStarted(b, T0 + 15 * MINUTE_MS, GRACE, { ...SENSED_EMPTY, occupiedNow: null }),
      'release',
      'never seen',
    );
    t.equal(decideStarted(b, T0 + 15 * MINUTE_MS, 30 * MINUTE_MS, SENSED_EMPTY), 'wait', 'configured grace');
    t.equal(
      decideStarted(b, T0 + 20 * MINUTE_MS, GRACE, { ...SENSED_EMPTY, sensed: false }),
      'wait',
      'no sensor',
    );
    t.equal(
      decideStarted(b, T0 + 20 * MINUTE_MS, GRACE, { ...SENSED_EMPTY, sensorUp: false }),
      'wait',
      'offline',
    );
    t.equal(
      decideStarted(b, T0 + 20 * MINUTE_MS, GRACE, { ...SENSED_EMPTY, releasable: false }),
      'wait',
      'Protel',
    );
    t.equal(
      decideStarted(b, T0 + 20 * MINUTE_MS, GRACE, { ...SENSED_EMPTY, releasable: false, occupiedNow: true }),
      'check_in',
      'a Protel room is still checked in',
    );
    t.equal(decideStarted(b, T0 + HOUR_MS, GRACE, SENSED_EMPTY), 'wait', 'ended: left as it was');
    for (const status of ['checked_in', 'released', 'cancelled'] as const)
      t.equal(decideStarted(booking({ status }), T0 + 20 * MINUTE_MS, GRACE, SENSED_EMPTY), 'wait', status);
    const late = booking({ createdAt: T0 + 10 * MINUTE_MS });
    t.equal(
      decideStarted(late, T0 + 20 * MINUTE_MS, GRACE, SENSED_EMPTY),
      'wait',
      'booked late: grace from booking',
    );
    t.equal(decideStarted(late, T0 + 25 * MINUTE_MS, GRACE, SENSED_EMPTY), 'release');
  },
);

t.test('bookingToCheckIn: the booking covering the moment, else one about to start', async (t) => {
  const now = booking({ id: 'now' });
  const next = booking({ id: 'next', start: T0 + HOUR_MS, end: T0 + 2 * HOUR_MS });
  t.equal(bookingToCheckIn([now, next], T0 + 10 * MINUTE_MS, 10 * MINUTE_MS)?.id, 'now');
  t.equal(bookingToCheckIn([now, next], T0 + 55 * MINUTE_MS, 10 * MINUTE_MS)?.id, 'now', 'current wins');
  t.equal(
    bookingToCheckIn([{ ...now, status: 'checked_in' }, next], T0 + 55 * MINUTE_MS, 10 * MINUTE_MS)?.id,
    'next',
  );
  t.equal(bookingToCheckIn([next], T0 + 45 * MINUTE_MS, 10 * MINUTE_MS), undefined, 'too early');
  t.equal(bookingToCheckIn([now], T0 + HOUR_MS, 10 * MINUTE_MS), undefined, 'after the end');
  t.equal(
    bookingToCheckIn([{ ...now, status: 'released' }], T0 + MINUTE_MS, 0),
    undefined,
    'released stays released',
  );
});

t.test('isPresence', async (t) => {
  const reading = (quantity: string, value: number | string): LiveEvent =>
    ({
      type: 'reading',
      site: 's',
      space: 'd',
      device: 'p',
      quantity,
      value,
      unit: 'bool',
      ts: T0,
    }) as LiveEvent;
  t.ok(isPresence(reading('occupancy', 1)));
  t.notOk(isPresence(reading('occupancy', 0)));
  t.notOk(isPresence(reading('co2', 1)));
  t.notOk(isPresence({ type: 'gateway-status', site: 's', online: true }));
});

function checkInSite(): SiteConfig {
  const desk = (id: string) => ({
    id,
    name: id,
    floor: 'og1',
    kind: 'desk' as const,
    area_m2: 6,
    bookable: true,
  });
  return {
    site: { id: 'checkin-haus', name: 'Check-in Haus', timezone: 'Europe/Berlin' },
    floors: [{ id: 'og1', name: 'OG 1', level: 1, area_m2: 100 }],
    spaces: [
      desk('desk-a'),
      desk('desk-b'),
      desk('desk-c'),
      { id: 'protel-x', name: 'Protel X', floor: 'og1', kind: 'protel', area_m2: 30, bookable: true },
    ],
    devices: [
      {
        id: 'desk-a-presence',
        profile: 'zigbee2mqtt-occupancy',
        topic: 'zigbee2mqtt/desk-a-presence',
        space: 'desk-a',
      },
      {
        id: 'desk-b-presence',
        profile: 'zigbee2mqtt-occupancy',
        topic: 'zigbee2mqtt/desk-b-presence',
        space: 'desk-b',
      },
      {
        id: 'protel-x-presence',
        profile: 'zigbee2mqtt-occupancy',
        topic: 'zigbee2mqtt/protel-x-pres',
        space: 'protel-x',
      },
      // desk-c has no sensor.
    ],
  };
}

t.test(
  'a presence sensor through the real broker, gateway and building feed checks a booking in',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-checkin-'));
    const records = openRecords(path.join(dir, 'wesprint.db'));
    const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
    t.teardown(() => {
      records.close();
      quarantine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const site = checkInSite();
    const profiles = await loadProfiles();
    const journal = await openJournal(path.join(dir, 'journal'));
    const { url } = await startBroker(t, journal);
    const gateway = await startGateway({
      site,
      profiles,
      mqttUrl: url,
      journal,
      store: { write: async () => {} },
      quarantine,
      commandLogFile: path.join(dir, 'gateway.db'),
      logger: pino({ level: 'silent' }),
    });
    t.teardown(async () => {
      await gateway.stop();
      await journal.close();
    });
    const feed = new BuildingFeed({ url, site, username: 'test-api', clientId: `test-api-${process.pid}` });
    feed.start();
    t.teardown(() => feed.close());
    await feed.waitUntilConnected(20_000);
    const sensor = await mqtt.connectAsync(url, {
      clientId: `desk-a-presence-${process.pid}`,
      reconnectPeriod: 0,
    });
    t.teardown(() => sensor.endAsync(true));

    const store = new SqliteBookingStore(records, site.site.id);
    const { member } = await createTestMember(records, { role: 'member' });
    const started = Date.now() - 5 * MINUTE_MS;
    const book = async (spaceId: string, start: number) => {
      const r = await store.create(
        { memberId: member.id, spaceId, start, end: start + HOUR_MS },
        start - HOUR_MS,
      );
      if (!r.ok) throw new Error('setup booking failed');
      return r.booking;
    };
    const seen = await book('desk-a', started);
    const noShow = await book('desk-b', Date.now() - 20 * MINUTE_MS);
    const unsensed = await book('desk-c', Date.now() - 20 * MINUTE_MS);
    const protel = await book('protel-x', Date.now() - 20 * MINUTE_MS);

    const events: CheckInEvent[] = [];
    const logged: string[] = [];
    // As `wesprint start` gives it: a child logger whose part a terminal line already starts with.
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) }).child({
      part: 'check-in',
    });
    // The timer is not what this test waits for: it calls scan itself.
    const watcher = new CheckInWatcher({
      store,
      feed,
      site,
      profiles,
      scanEveryMs: HOUR_MS,
      onChange: (e) => events.push(e),
      events: feed,
      logger,
    });
    // What the building's event feed carries, as every API process hears it from the broker.
    const told: BuildingEvent[] = [];
    t.teardown(feed.subscribeEvents((e) => told.push(e)));
    t.teardown(() => watcher.stop());

    // Exactly what an Aqara sensor publishes through Zigbee2MQTT when someone sits down.
    watcher.start();
    t.equal(
      (await store.get(seen.id))?.status,
      'booked',
      'no presence yet: not checked in by the first scan',
    );
    await sensor.publishAsync(
      'zigbee2mqtt/desk-a-presence',
      '{"battery":97,"occupancy":true,"linkquality":120}',
    );
    await eventually('desk-a checked in', async () => (await store.get(seen.id))?.status === 'checked_in');
    const checkedIn = await store.get(seen.id);
    t.ok(checkedIn?.checkedInAt && checkedIn.checkedInAt >= started, 'check-in time recorded');

    // desk-b's sensor is alive and sees nobody: 20 min after the start the booking is a no-show.
    t.equal(
      (await store.get(noShow.id))?.status,
      'booked',
      'a sensor never heard from is not trusted to judge',
    );
    await sensor.publishAsync('zigbee2mqtt/desk-b-presence', '{"battery":95,"occupancy":false}');
    await eventually('desk-b sensor heard', () => feed.device('desk-b-presence')?.online === true);
    t.same(
      (await watcher.scan()).map((e) => [e.type, e.booking.spaceId]),
      [['released', 'desk-b']],
    );
    t.equal((await store.get(noShow.id))?.status, 'released');
    t.ok((await store.get(noShow.id))?.releasedAt, 'release time recorded');
    t.equal((await store.get(unsensed.id))?.status, 'booked', 'desk-c has no sensor: never released');
    t.equal((await store.get(protel.id))?.status, 'booked', 'a Protel booking is not released as a no-show');
    t.same(
      events.map((e) => [e.type, e.booking.spaceId]),
      [
        ['checked_in', 'desk-a'],
        ['released', 'desk-b'],
      ],
    );
    t.same(
      await store.spaceBookings('desk-b', noShow.start, noShow.end),
      [],
      'the released desk is free again',
    );
    await eventually('both told on the event feed', () => told.length >= 2);
    t.same(
      told.map((e) => [e.type, e.space, 'bookingId' in e ? e.bookingId : null, e.site]),
      [
        ['booking-checked-in', 'desk-a', seen.id, site.site.id],
        ['booking-no-show', 'desk-b', noShow.id, site.site.id],
      ],
    );
    t.equal(told[0]?.at, checkedIn?.checkedInAt, 'at: when presence was seen');
    t.equal(told[1]?.at, (await store.get(noShow.id))?.releasedAt, 'at: when it was released');
    t.notOk(JSON.stringify(told).includes(member.id), 'no member id in an event');
    // On a terminal the part leads the line ("check-in: presence seen"); the message must not repeat it.
    t.same(
      logged.map((line) => JSON.parse(line).msg),
      ['presence seen', 'released as no-show'],
    );

    // Presence that goes on after the booking starts checks the next booking in on the next scan.
    await sensor.publishAsync('zigbee2mqtt/protel-x-pres', '{"occupancy":true}');
    await eventually(
      'protel-x checked in',
      async () => (await store.get(protel.id))?.status === 'checked_in',
    );
    const next = await book('desk-a', seen.end);
    t.same(
      (await watcher.scan(next.start + MINUTE_MS)).map((e) => [e.type, e.booking.id]),
      [['checked_in', next.id]],
    );
  },
);

t.test("storedPresence: the first stored presence in a booking's time, by its space's sensors", async (t) => {
  const b = booking({ start: T0, end: T0 + HOUR_MS });
  const early = 10 * MINUTE_MS;
  const at = (min: number, value = 1) => ({ ts: T0 + min * MINUTE_MS, value });
  const seen = (points: { ts: number; value: number }[], device = 'desk-a-presence') =>
    storedPresence(b, ['desk-a-presence'], [{ device, points }], early, MINUTE_MS);
  t.equal(seen([at(5, 0), at(7), at(9)]), T0 + 7 * MINUTE_MS, 'the first minute anyone was seen');
  t.equal(seen([at(-5)]), T0 - 5 * MINUTE_MS, 'early presence counts, as it does live');
  t.equal(seen([at(-11)]), undefined, 'not before the early window (its minute ends as the window opens)');
  t.equal(seen([at(60)]), undefined, 'not after the end');
  t.equal(seen([at(5, 0)]), undefined, 'nobody seen');
  t.equal(seen([at(5)], 'desk-b-presence'), undefined, "another space's sensor");
});

t.test(
  'a watcher that heard nothing live (a new leader) checks in from the stored readings, never releases, once',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-checkin-stored-'));
    const records = openRecords(path.join(dir, 'wesprint.db'));
    const readings = new SqliteStore({ file: path.join(dir, 'readings.db') });
    t.teardown(async () => {
      await readings.close();
      records.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const site = checkInSite();
    const profiles = await loadProfiles();
    const store = new SqliteBookingStore(records, site.site.id);
    const { member } = await createTestMember(records, { role: 'member' });
    // Within the store's raw retention: a whole hour two hours ago, whatever the hour now.
    const start = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
    const made = await store.create(
      { memberId: member.id, spaceId: 'desk-a', start, end: start + HOUR_MS },
      start - HOUR_MS,
    );
    if (!made.ok) throw new Error('setup booking failed');
    // Someone sat down 5 minutes in, while no process was watching live, and left a minute later.
    const presence = (ts: number, value: number) => ({
      site: site.site.id,
      space: 'desk-a',
      device: 'desk-a-presence',
      channel: '0',
      quantity: 'occupancy' as const,
      value,
      unit: 'bool' as const,
      ts,
    });
    await readings.write([presence(start + 5 * MINUTE_MS + 1234, 1), presence(start + 6 * MINUTE_MS, 0)]);

    // Real feeds that have heard nothing: what a process that has just taken the lead knows live.
    const feed = () => new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
    const watcher = (withReadings: boolean) =>
      new CheckInWatcher({
        store,
        feed: feed(),
        site,
        profiles,
        ...(withReadings ? { readings } : {}),
      });
    const scanAt = start + 20 * MINUTE_MS;
    // The deadline (start + 15 min) has passed: judged on live knowledge alone the booking would be released.
    const [first, second] = await Promise.all([watcher(true).scan(scanAt), watcher(true).scan(scanAt)]);
    const events = [...first, ...second];
    t.same(
      events.map((e) => [e.type, e.booking.id]),
      [['checked_in', made.booking.id]],
      'checked in once by two watchers scanning together (an old leader that has not noticed, a new one)',
    );
    const after = await store.get(made.booking.id);
    t.equal(after?.status, 'checked_in');
    t.equal(after?.checkedInAt, start + 5 * MINUTE_MS, 'at the minute presence was stored');

    // The same without the stored readings: released, which is what the stored readings prevent.
    const other = await store.create(
      { memberId: member.id, spaceId: 'desk-b', start, end: start + HOUR_MS },
      start - HOUR_MS,
    );
    if (!other.ok) throw new Error('setup booking failed');
    t.same(
      (await watcher(false).scan(scanAt)).map((e) => [e.type, e.booking.id]),
      [['released', other.booking.id]],
      'a watcher without the stored readings releases an unseen booking after its grace',
    );
  },
);
