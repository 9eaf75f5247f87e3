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
import { bookingEvent } from './booking-events.ts';
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

/** A records store that counts the calls made to it, by method; the store itself answers them. */
function counting<T extends object>(store: T): { store: T; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(store, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

/** A house's feed as the watcher uses it, with its booking events told by the test (as the broker tells them). */
class HouseFeed {
  private readonly listeners = new Set<(event: BuildingEvent) => void>();
  /** Connected to the broker (the events are heard). */
  connected = true;
  constructor(readonly hearsEvents: boolean) {}
  subscribeLive(): () => void {
    return () => {};
  }
  latest(): [] {
    return [];
  }
  device(): undefined {
    return undefined;
  }
  subscribeEvents(listener: (event: BuildingEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  tell(event: BuildingEvent): void {
    for (const listener of this.listeners) listener(event);
  }
  /** The watcher's view: without events, no subscribeEvents (every reading reads the bookings). */
  forWatcher() {
    if (this.hearsEvents) return this;
    return {
      subscribeLive: () => this.subscribeLive(),
      latest: () => this.latest(),
      device: () => this.device(),
    };
  }
}

t.test(
  "presence readings are judged from the space's bookings kept for a window, read again when a booking of the space changes",
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-checkin-kept-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const site = checkInSite();
    const profiles = await loadProfiles();
    const desk = 'desk-a';

    /** One run of the same day in a records file of its own: with booking events heard (kept) or not. */
    async function run(hearsEvents: boolean) {
      const records = openRecords(path.join(dir, `${hearsEvents ? 'kept' : 'per-reading'}.db`));
      t.teardown(() => records.close());
      const { member } = await createTestMember(records, { role: 'member' });
      const by = { memberId: member.id, staff: false };
      const real = new SqliteBookingStore(records, site.site.id);
      const { store, calls } = counting(real);
      const feed = new HouseFeed(hearsEvents);
      let clock = T0 - HOUR_MS;
      const watcher = new CheckInWatcher({
        store,
        feed: feed.forWatcher(),
        site,
        profiles,
        scanEveryMs: 24 * HOUR_MS,
        now: () => clock,
      });
      const book = async (start: number, end = start + HOUR_MS) => {
        const r = await real.create({ memberId: member.id, spaceId: desk, start, end }, clock);
        if (!r.ok) throw new Error('setup booking failed');
        feed.tell(bookingEvent('booking-made', site.site.id, r.booking, clock));
        return r.booking;
      };
      const first = await book(T0);
      watcher.start();
      t.teardown(() => watcher.stop());
      const queries = () => calls.get('spaceBookings') ?? 0;
      /** A presence reading every minute from `from` to `to` (minutes after T0), each at its own instant. */
      const readings = async (from: number, to: number) => {
        const before = queries();
        const checkedIn: string[] = [];
        for (let m = from; m <= to; m++) {
          clock = T0 + m * MINUTE_MS;
          const b = await watcher.presence({ space: desk, ts: clock });
          if (b) checkedIn.push(`${b.id === first.id ? 'first' : b.id}@${m}`);
        }
        return { checkedIn, queries: queries() - before, readings: to - from + 1 };
      };

      // Someone sits down 20 minutes early and stays: the first booking is checked in as its early window opens.
      const morning = await readings(-20, 40);

      // Made while the watcher runs, told on the feed: seen by the next readings.
      clock = T0 + 41 * MINUTE_MS;
      const second = await book(T0 + HOUR_MS);
      const made = await readings(45, 55);

      // Cancelled while the watcher runs, told on the feed: no longer acted on.
      clock = T0 + 56 * MINUTE_MS;
      const third = await book(T0 + 2 * HOUR_MS);
      await readings(56, 100);
      clock = T0 + 101 * MINUTE_MS;
      if ((await real.cancel(third.id, by, clock)) !== 'cancelled') throw new Error('cancel failed');
      feed.tell(bookingEvent('booking-cancelled', site.site.id, { ...third, status: 'cancelled' }, clock));
      const afterCancel = await readings(101, 130);

      // A booking moved and one made while the broker was away (their events never heard): no check-in on the
      // kept times; the next scan reads the records and the readings after it see the booking as it is.
      clock = T0 + 131 * MINUTE_MS;
      const fourth = await real.create(
        { memberId: member.id, spaceId: desk, start: T0 + 4 * HOUR_MS, end: T0 + 5 * HOUR_MS },
        clock,
      );
      if (!fourth.ok) throw new Error('setup booking failed');
      await readings(131, 170);
      // Read at 225 with the readings after it: the fourth booking kept at its first times (from 240).
      await readings(225, 225);
      clock = T0 + 226 * MINUTE_MS;
      const moved = await real.moveBooking(
        fourth.booking.id,
        { start: T0 + 6 * HOUR_MS, end: T0 + 7 * HOUR_MS },
        by,
        clock,
      );
      if (!moved.ok) throw new Error('move failed');
      const movedAway = await readings(230, 240); // the fourth's old early window: nobody's booking now
      clock = T0 + 241 * MINUTE_MS;
      const unheard = await real.create(
        { memberId: member.id, spaceId: desk, start: T0 + 4 * HOUR_MS, end: T0 + 5 * HOUR_MS },
        clock,
      );
      if (!unheard.ok) throw new Error('setup booking failed');
      await watcher.scan(T0 + 242 * MINUTE_MS);
      const afterScan = await readings(243, 250);

      const status = async (id: string) => {
        const b = await real.get(id);
        return [
          b?.status,
          b?.checkedInAt === null || b?.checkedInAt === undefined ? null : (b.checkedInAt - T0) / MINUTE_MS,
        ];
      };
      return {
        morning,
        made,
        afterCancel,
        movedAway,
        afterScan,
        outcome: {
          first: await status(first.id),
          second: await status(second.id),
          third: await status(third.id),
          moved: await status(fourth.booking.id),
          unheard: await status(unheard.booking.id),
        },
        ids: { second: second.id, unheard: unheard.booking.id },
      };
    }

    const perReading = await run(false);
    const kept = await run(true);
    const rename = (r: typeof kept, list: string[]) =>
      list.map((s) => s.replace(r.ids.second, 'second').replace(r.ids.unheard, 'unheard'));

    // The same check-ins at the same instants, and the same records after the day.
    t.same(perReading.outcome, kept.outcome, 'the records end the same');
    t.same(kept.outcome, {
      first: ['checked_in', -10],
      second: ['checked_in', 50],
      third: ['cancelled', null],
      moved: ['booked', null],
      unheard: ['checked_in', 243],
    });
    for (const part of ['morning', 'made', 'afterCancel', 'movedAway', 'afterScan'] as const)
      t.same(
        rename(kept, kept[part].checkedIn),
        rename(perReading, perReading[part].checkedIn),
        `${part}: same check-ins`,
      );
    t.same(rename(kept, kept.morning.checkedIn), ['first@-10']);
    t.same(
      rename(kept, kept.made.checkedIn),
      ['second@50'],
      'a booking made after the watcher started is seen',
    );
    t.same(kept.afterCancel.checkedIn, [], 'a cancelled booking is not checked in');
    t.same(
      kept.movedAway.checkedIn,
      [],
      'a moved booking is not checked in at its old time, its event unheard',
    );
    t.same(
      rename(kept, kept.afterScan.checkedIn),
      ['unheard@243'],
      'a booking whose event was not heard: after the scan',
    );

    // The records queried per reading: one each before, a few per window and change now.
    t.equal(perReading.morning.queries, perReading.morning.readings, 'per reading: one query each');
    t.ok(
      kept.morning.queries <= 4,
      `kept: ${kept.morning.queries} queries for ${kept.morning.readings} readings`,
    );
    t.ok(kept.made.queries <= 3, `kept: ${kept.made.queries} queries for ${kept.made.readings} readings`);
    t.ok(kept.afterCancel.queries <= 3, `kept: ${kept.afterCancel.queries} for ${kept.afterCancel.readings}`);
    t.ok(
      kept.movedAway.queries >= 1,
      'the kept times that said check in were read again before any check-in',
    );
    t.comment(
      `spaceBookings per presence reading: ${JSON.stringify(
        Object.fromEntries(
          (['morning', 'made', 'afterCancel', 'movedAway', 'afterScan'] as const).map((p) => [
            p,
            `${perReading[p].queries}/${perReading[p].readings} -> ${kept[p].queries}/${kept[p].readings}`,
          ]),
        ),
      )}`,
    );
  },
);

t.test(
  "each house's watcher keeps its own house's bookings: another house's booking or event changes nothing",
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-checkin-houses-'));
    const records = openRecords(path.join(dir, 'wesprint.db'));
    t.teardown(() => {
      records.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const profiles = await loadProfiles();
    const nord = checkInSite();
    const sued: SiteConfig = {
      ...checkInSite(),
      site: { id: 'sued', name: 'Süd', timezone: 'Europe/Berlin' },
    };
    const { member } = await createTestMember(records, { role: 'member' });
    let clock = T0 - HOUR_MS;
    const house = (site: SiteConfig) => {
      const real = new SqliteBookingStore(records, site.site.id);
      const { store, calls } = counting(real);
      const feed = new HouseFeed(true);
      const watcher = new CheckInWatcher({
        store,
        feed,
        site,
        profiles,
        scanEveryMs: 24 * HOUR_MS,
        now: () => clock,
      });
      watcher.start();
      t.teardown(() => watcher.stop());
      return { real, feed, watcher, queries: () => calls.get('spaceBookings') ?? 0 };
    };
    const n = house(nord);
    const s = house(sued);
    // The same space id in both houses: another space.
    clock = T0 - 30 * MINUTE_MS;
    t.equal(await n.watcher.presence({ space: 'desk-a', ts: clock }), undefined, 'nothing booked in Nord');
    const queried = n.queries();
    const made = await s.real.create(
      { memberId: member.id, spaceId: 'desk-a', start: T0, end: T0 + HOUR_MS },
      clock,
    );
    if (!made.ok) throw new Error('setup booking failed');
    const told = bookingEvent('booking-made', 'sued', made.booking, clock);
    // Süd's event reaches Süd's feed; were it told on Nord's, Nord's watcher would not take it as its own.
    s.feed.tell(told);
    n.feed.tell(told);
    clock = T0 - 5 * MINUTE_MS;
    t.equal(
      await n.watcher.presence({ space: 'desk-a', ts: clock }),
      undefined,
      "Süd's booking is not Nord's",
    );
    t.equal(
      n.queries(),
      queried,
      "Nord judged from what it kept: Süd's event changes none of Nord's bookings",
    );
    t.equal(
      (await s.watcher.presence({ space: 'desk-a', ts: clock }))?.id,
      made.booking.id,
      'Süd checks in its own',
    );
    t.equal((await n.real.spaceBookings('desk-a', T0, T0 + HOUR_MS)).length, 0);

    // Nord's feed away from the broker: events are missed, so nothing is kept and every reading reads.
    n.feed.connected = false;
    clock = T0 + 10 * MINUTE_MS;
    const before = n.queries();
    for (const m of [1, 2, 3]) await n.watcher.presence({ space: 'desk-a', ts: T0 + m * MINUTE_MS });
    t.equal(n.queries() - before, 3, 'disconnected: one query per reading');
    n.feed.connected = true;
    for (const m of [4, 5, 6]) await n.watcher.presence({ space: 'desk-a', ts: T0 + m * MINUTE_MS });
    t.equal(n.queries() - before, 4, 'back: read once, then kept');
  },
);
