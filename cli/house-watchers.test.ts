import pino from 'pino';
import t from 'tap';
import { DEFAULT_ALERT_SETTINGS, MINUTE_MS } from '../alerts/alert-rules.ts';
import type { BuildingEvent } from '../building/events.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { recordsContract } from '../test-support/records.ts';
import { house } from '../test-support/two-sites.ts';
import { houseWatchers } from './parts.ts';

/**
 * The leader's work in a network (`cli/parts.ts` `houseWatchers`, as `wesprint start|api` composes it with
 * SITES_DIR): every house has its own check-in watcher, booking clock and alert watcher, on its own site file
 * (Süd here in New York's time zone), feed, bookings and alerts. Both houses have a desk `desk-1` with a
 * presence sensor `sensor-1` and a CO2 sensor `air-1`: presence in Nord checks in Nord's booking only, Süd's
 * booking of its own desk-1 is released as a no-show, each moment is told on its own house's topic, and a
 * CO2 alert opens in each house for the same subject, each by its own rules.
 */

// Monday 1 March 2027 10:00 in Berlin, 04:00 in New York.
const T0 = Date.UTC(2027, 2, 1, 9, 0);
const GRACE_MS = 15 * MINUTE_MS;

function withSensors(site: SiteConfig, hex: string, timezone: string): SiteConfig {
  return {
    ...site,
    site: { ...site.site, timezone },
    devices: [
      ...site.devices,
      { id: 'sensor-1', profile: 'test-presence', topic: `zigbee2mqtt/presence-${hex}`, space: 'desk-1' },
      { id: 'air-1', profile: 'test-air', topic: `zigbee2mqtt/air-${hex}`, space: 'werkstatt' },
    ],
  };
}

const NORD = withSensors(house('nord', 'A1A1A1'), 'a1', 'Europe/Berlin');
const SUED = withSensors(house('sued', 'B2B2B2'), 'b2', 'America/New_York');

function profile(id: string, quantities: DeviceProfile['quantities'], reportingIntervalS: number) {
  return { id, quantities, reportingIntervalS } as unknown as DeviceProfile;
}

const PROFILES = new Map<string, DeviceProfile>([
  ['test-presence', profile('test-presence', ['occupancy'], 60)],
  ['test-air', profile('test-air', ['co2'], 60)],
]);

recordsContract(
  t,
  "every house's check-in, booking clock and alerts, on its own bookings",
  async (t, records) => {
    const clock = { now: T0 - MINUTE_MS };
    const member = await records.member('member');
    // The same desk id booked at the same hour in both houses: two desks, no conflict.
    const booked = async (site: string) => {
      const result = await records
        .bookingsAt(site)
        .create(
          { memberId: member.id, spaceId: 'desk-1', start: T0, end: T0 + 120 * MINUTE_MS },
          T0 - 86_400_000,
        );
      if (!result.ok) throw new Error(`booking in ${site} refused: ${JSON.stringify(result)}`);
      return result.booking;
    };
    const nordBooking = await booked('nord');
    const suedBooking = await booked('sued');

    const store = new SqliteStore({ file: ':memory:' });
    t.teardown(() => store.close());
    const told: BuildingEvent[] = [];
    const feedOf = (site: SiteConfig) => {
      // Not started: the test hands each feed its house's messages, and keeps what it would tell.
      const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
      feed.announce = (event) => void told.push(event);
      t.teardown(() => feed.close());
      return feed;
    };
    const houses = [NORD, SUED].map((site) => ({ site, store, feed: feedOf(site) }));
    const watchers = houseWatchers(
      { alerts: { ...DEFAULT_ALERT_SETTINGS, co2Ms: 10 * MINUTE_MS }, checkInGraceMs: GRACE_MS },
      houses,
      PROFILES,
      records,
      () => pino({ level: 'silent' }),
      () => clock.now,
    );
    t.same([...watchers.keys()], ['nord', 'sued'], 'a set of watchers per house');
    const nord = watchers.get('nord');
    const sued = watchers.get('sued');
    if (!nord || !sued) throw new Error('both houses watched');
    t.equal(nord.alerts.settings.co2Ms, 10 * MINUTE_MS);
    const work = [nord.start(), sued.start()];
    t.teardown(async () => {
      for (const one of work) await one.stop();
    });
    const [nordFeed, suedFeed] = houses.map((h) => h.feed);
    if (!nordFeed || !suedFeed) throw new Error('two feeds');

    // Someone sits at Nord's desk-1 five minutes in; nobody at Süd's.
    clock.now = T0 + 5 * MINUTE_MS;
    nordFeed.ingest(
      buildingTopics('nord').reading('desk-1', 'sensor-1', 'occupancy'),
      Buffer.from(JSON.stringify({ value: 1, unit: 'bool', ts: clock.now })),
      clock.now,
    );
    await nord.checkIn.scan(clock.now);
    t.equal((await records.bookingsAt('nord').get(nordBooking.id))?.status, 'checked_in', 'Nord checked in');
    t.equal(
      (await records.bookingsAt('sued').get(suedBooking.id))?.status,
      'booked',
      "Süd's desk-1 still waits",
    );

    // The booking clock of each house tells its own booking's start, once, naming its house (a second scan
    // tells nothing again).
    await Promise.all([nord.clock.scan(T0 + MINUTE_MS), sued.clock.scan(T0 + MINUTE_MS)]);
    await Promise.all([nord.clock.scan(T0 + 2 * MINUTE_MS), sued.clock.scan(T0 + 2 * MINUTE_MS)]);
    const started = told
      .filter((e) => e.type === 'booking-started')
      .map((e) => [e.site, 'bookingId' in e ? e.bookingId : null]);
    t.same(
      started.sort(),
      [
        ['nord', nordBooking.id],
        ['sued', suedBooking.id],
      ],
      'each start told once, on its own house',
    );
    // Past the grace: Süd's booking is released, by Süd's watcher; Nord's stays checked in.
    clock.now = T0 + GRACE_MS + MINUTE_MS;
    await Promise.all([nord.checkIn.scan(clock.now), sued.checkIn.scan(clock.now)]);
    t.equal((await records.bookingsAt('sued').get(suedBooking.id))?.status, 'released', 'Süd: a no-show');
    t.equal((await records.bookingsAt('nord').get(nordBooking.id))?.status, 'checked_in', 'Nord: still in');

    const moments = told.filter((e) => e.type === 'booking-checked-in' || e.type === 'booking-no-show');
    t.same(moments.map((e) => [e.type, e.site]).sort(), [
      ['booking-checked-in', 'nord'],
      ['booking-no-show', 'sued'],
    ]);

    // CO2 above the limit in the Werkstatt of both houses (sensor air-1 in each): an alert in each house.
    const co2 = (feed: BuildingFeed, site: string, at: number) =>
      feed.ingest(
        buildingTopics(site).reading('werkstatt', 'air-1', 'co2'),
        Buffer.from(JSON.stringify({ value: 1600, unit: 'ppm', ts: at })),
        at,
      );
    // A reading a minute, for eleven minutes (the test's limit: ten).
    for (let minute = 20; minute <= 31; minute++) {
      clock.now = T0 + minute * MINUTE_MS;
      co2(nordFeed, 'nord', clock.now);
      co2(suedFeed, 'sued', clock.now);
    }
    await Promise.all([nord.alerts.check(clock.now), sued.alerts.check(clock.now)]);
    const openCo2 = async (site: string) =>
      (await records.alertsAt(site).openAlerts())
        .filter((a) => a.kind === 'co2_high')
        .map((a) => [a.site, a.subject, a.device]);
    t.same(await openCo2('nord'), [['nord', 'werkstatt', 'air-1']], "Nord's alert");
    t.same(await openCo2('sued'), [['sued', 'werkstatt', 'air-1']], "Süd's alert, the same subject");
    t.same(
      told
        .filter((e) => e.type === 'alert-opened' && 'kind' in e && e.kind === 'co2_high')
        .map((e) => e.site)
        .sort(),
      ['nord', 'sued'],
      'each told on its own house',
    );
  },
);
