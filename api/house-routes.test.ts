import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import type { Role } from '../access/roles.ts';
import { type BuildingEvent, eventTopic } from '../building/events.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { type Records, sqliteRecords } from '../records/records.ts';
import type { SiteConfig } from '../site/site.ts';
import { siteReadings } from '../storage/site-view.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { testApi } from '../test-support/api.ts';
import { createTestMember, signIn, testRecords } from '../test-support/members.ts';
import { recordsContract } from '../test-support/records.ts';
import { testProfiles } from '../test-support/small-building.ts';
import { house, NORD, openingLocks, SUED } from '../test-support/two-sites.ts';
import { buildApi } from './app.ts';

/**
 * Members belong to the network (issue 11), through the real API: it serves Nord, the installation's home
 * site, and its member routes serve every house (`/api/houses/:site/…`) by that house's own site file and
 * bookings. Süd opens desks and Protel rooms to every other house; Nord opens desks to Süd; Ost (Lisbon time,
 * desks open 08:00–18:00 on weekdays) opens desks to Nord only. Each house has a `protel-1` with a `lock-1`:
 * the same ids, other spaces and other locks.
 */

// Monday 1 March 2027, 09:00 UTC: 10:00 in Nord and Süd (Berlin), 09:00 in Ost (Lisbon, UTC+0 until 28 March).
const NOW = Date.UTC(2027, 2, 1, 9, 0);
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

const nord: SiteConfig = { ...NORD, guests: [{ from: ['sued'], kinds: ['desk'] }] };
const sued: SiteConfig = { ...SUED, guests: [{ from: ['*'], kinds: ['desk', 'protel'] }] };
const OST_BASE = house('sued', 'C3C3C3');
const ost: SiteConfig = {
  ...OST_BASE,
  site: { id: 'ost', name: 'Haus Ost', timezone: 'Europe/Lisbon' },
  spaces: OST_BASE.spaces.map((s) =>
    s.id === 'desk-1'
      ? { ...s, opening_hours: [{ days: [1, 2, 3, 4, 5], open: '08:00', close: '18:00' }] }
      : s,
  ),
  guests: [{ from: ['nord'], kinds: ['desk'] }],
};
const SITES = [nord, sued, ost];

async function network(t: Test, records: Records) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-houses-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => all.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: nord });
  t.teardown(() => feed.close());
  // What the routes tell the building (the feed has no broker here and drops it after noting it).
  const told: BuildingEvent[] = [];
  const announce = feed.announce.bind(feed);
  feed.announce = (event) => {
    told.push(event);
    announce(event);
  };
  const sent: string[] = [];
  const app = await buildApi({
    site: nord,
    store: siteReadings(all, 'nord'),
    feed,
    quarantine,
    profiles: testProfiles(),
    records,
    loginRateLimit: { max: 10_000, timeWindowMs: 60_000 },
    lockCommands: openingLocks('nord', sent, () => NOW),
    network: {
      sites: SITES,
      store: all,
      lockCommands: new Map([
        ['sued', openingLocks('sued', sent, () => NOW)],
        ['ost', openingLocks('ost', sent, () => NOW)],
      ]),
    },
    now: () => NOW,
  });
  t.teardown(() => app.close());
  let n = 0;
  const member = async (role: Role, homeSite: string, roles: Record<string, Role> = {}) => {
    n += 1;
    const password = `a-long-password-${n}`;
    const created = await records.members.create({
      email: `${role}-${homeSite}-${n}@houses.example`,
      role,
      homeSite,
      password,
    });
    for (const [site, r] of Object.entries(roles))
      await records.members.setSiteRole(created.member.id, site, r);
    return { ...created.member, cookie: await signIn(app, created.member.email, password) };
  };
  const call = async (
    cookie: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: object,
  ) => {
    const response = await app.inject({
      method,
      url,
      headers: { cookie },
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
    });
    return { status: response.statusCode, body: response.json() };
  };
  const book = (cookie: string, site: string, spaceId: string, start: number, end: number) =>
    call(cookie, 'POST', `/api/houses/${site}/bookings`, { spaceId, start: iso(start), end: iso(end) });
  return { app: app as FastifyInstance, records, sent, told, member, call, book };
}

recordsContract(
  t,
  'a member of Nord books and opens a door in Süd, by Süd’s bookings',
  async (t, records) => {
    const n = await network(t, records);
    const ada = await n.member('member', 'nord');
    const bea = await n.member('member', 'sued');

    const booked = await n.book(ada.cookie, 'sued', 'protel-1', NOW, NOW + 2 * HOUR);
    t.equal(booked.status, 201, JSON.stringify(booked.body));
    t.match(booked.body, { site: 'sued', siteName: 'Haus Süd', spaceId: 'protel-1', spaceName: 'Protel 1' });
    t.same(
      (await records.bookingsAt('sued').listMine(ada.id)).map((b) => b.id),
      [booked.body.id],
      "kept as Süd's booking",
    );
    t.same(await records.bookingsAt('nord').listMine(ada.id), [], 'not as one of Nord');

    // Süd's bookings decide conflicts there, and only there.
    const clash = await n.book(bea.cookie, 'sued', 'protel-1', NOW + HOUR, NOW + 3 * HOUR);
    t.equal(clash.status, 409, "Süd's own member meets Ada's booking");
    t.match(clash.body, { reason: 'slot_taken', conflict: { start: iso(NOW), end: iso(NOW + 2 * HOUR) } });
    const nordsOwn = await n.member('member', 'nord');
    t.equal(
      (await n.book(nordsOwn.cookie, 'nord', 'protel-1', NOW, NOW + 2 * HOUR)).status,
      201,
      "Nord's protel-1 at the same time is another room",
    );
    const busy = await n.call(
      bea.cookie,
      'GET',
      `/api/houses/sued/spaces/protel-1/availability?from=${iso(NOW)}&to=${iso(NOW + 4 * HOUR)}`,
    );
    t.equal(busy.status, 200);
    t.same(
      busy.body.busy.map((b: { start: string; mine: boolean }) => [b.start, b.mine]),
      [[iso(NOW), false]],
      "Süd's availability shows Ada's booking, naming nobody",
    );

    // The door: Süd's lock, through Süd's channel, audited with the house.
    const opened = await n.call(ada.cookie, 'POST', '/api/houses/sued/spaces/protel-1/unlock');
    t.equal(opened.status, 200, JSON.stringify(opened.body));
    t.match(opened.body, { result: 'unlocked', reason: 'booking', lock: 'lock-1' });
    t.same(n.sent, ['sued/lock-1'], "Süd's lock, not Nord's");
    const nordDoor = await n.call(ada.cookie, 'POST', '/api/houses/nord/spaces/protel-1/unlock');
    t.equal(nordDoor.status, 403, "her booking in Süd opens nothing in Nord's room of the same id");
    t.match(nordDoor.body, { result: 'denied', reason: 'not_your_space' }, "Nord's own member has it now");
    t.same(n.sent, ['sued/lock-1'], 'no command to Nord');
    const entries = (await records.audit.query({ action: 'unlock', actor: ada.id })).entries;
    t.match(
      entries.map((e) => [e.decision, e.target, e.detail.site, e.reason]),
      [
        ['denied', 'protel-1', 'nord', 'not_your_space'],
        ['granted', 'protel-1', 'sued', 'booking'],
      ],
      'each attempt audited with its house',
    );

    // Her calendar feed carries it, with its house.
    const calendar = await n.app.inject({
      method: 'GET',
      url: '/api/me/calendar.ics',
      headers: { cookie: ada.cookie },
    });
    t.match(calendar.body, `UID:${booked.body.id}@sued.wesprint`);
    t.match(calendar.body.replace(/\r\n /g, ''), 'LOCATION:Protel 1\\, Erdgeschoss\\, Haus Süd', 'in Süd');

    // Across the houses, with their names; cancelled where it was made.
    const mine = await n.call(ada.cookie, 'GET', '/api/me/bookings');
    t.same(
      mine.body.bookings.map((b: { site: string; spaceId: string }) => [b.site, b.spaceId]),
      [['sued', 'protel-1']],
    );
    t.equal(
      (await n.call(ada.cookie, 'DELETE', `/api/bookings/${booked.body.id}`)).status,
      404,
      "Nord's own route knows no booking of Süd",
    );
    const cancelled = await n.call(ada.cookie, 'DELETE', `/api/houses/sued/bookings/${booked.body.id}`);
    t.equal(cancelled.status, 200);
    t.match(cancelled.body, { status: 'cancelled', site: 'sued' });
  },
);

t.test('who may use which house: the houses listed, the kinds open, the roles there', async (t) => {
  const n = await network(t, sqliteRecords(testRecords(t)));
  const ada = await n.member('member', 'nord');
  const bea = await n.member('member', 'sued');
  const fred = await n.member('facility', 'nord');

  const housesOf = async (cookie: string) =>
    (await n.call(cookie, 'GET', '/api/houses')).body.houses.map(
      (h: { id: string; role: string; guest: boolean; home: boolean; spaces: { id: string }[] }) => [
        h.id,
        h.role,
        h.guest,
        h.home,
        h.spaces.map((s) => s.id),
      ],
    );
  t.same(
    await housesOf(ada.cookie),
    [
      ['nord', 'member', false, true, ['desk-1', 'protel-1']],
      ['sued', 'member', true, false, ['desk-1', 'protel-1']],
      ['ost', 'member', true, false, ['desk-1']],
    ],
    'a member of Nord: home first, then what Süd and Ost open to Nord',
  );
  t.same(
    await housesOf(bea.cookie),
    [
      ['sued', 'member', false, true, ['desk-1', 'protel-1']],
      ['nord', 'member', true, false, ['desk-1']],
    ],
    'a member of Süd: Nord opens desks only, and Ost takes no guests from Süd',
  );
  t.same(
    (await housesOf(fred.cookie)).map((h: unknown[]) => [h[0], h[1]]),
    [
      ['nord', 'facility'],
      ['sued', 'member'],
      ['ost', 'member'],
    ],
    "Nord's facility manager is a plain member elsewhere",
  );

  // This API's own list of spaces shows a guest the kinds open to them.
  t.same(
    (await n.call(bea.cookie, 'GET', '/api/spaces')).body.spaces.map((s: { id: string }) => s.id),
    ['desk-1'],
  );
  t.same(
    (await n.call(ada.cookie, 'GET', '/api/spaces')).body.spaces.map((s: { id: string }) => s.id),
    ['desk-1', 'protel-1'],
  );

  // A kind a house does not open to a guest: refused with the reason, for booking, free times and the door.
  const protel = await n.book(bea.cookie, 'nord', 'protel-1', NOW, NOW + HOUR);
  t.equal(protel.status, 403);
  t.match(protel.body, { reason: 'not_open_to_guests', message: /may not book a protel/ });
  const free = await n.call(bea.cookie, 'GET', '/api/houses/nord/spaces/protel-1/availability');
  t.equal(free.status, 403);
  t.match(free.body, {
    reason: 'not_open_to_guests',
    message: 'Haus Nord does not open a protel to members of sued',
  });
  t.match((await n.call(bea.cookie, 'POST', '/api/houses/nord/spaces/protel-1/unlock')).body, {
    result: 'denied',
    reason: 'not_open_to_guests',
  });
  t.equal((await n.book(bea.cookie, 'nord', 'desk-1', NOW, NOW + HOUR)).status, 201, 'a desk: yes');
  // A series of such a kind, on this house's own routes and on the house's: refused before any date.
  const protelSeries = {
    spaceId: 'protel-1',
    firstDate: '2027-03-08',
    start: '09:00',
    end: '10:00',
    every: 'week',
    count: 2,
  };
  for (const url of ['/api/booking-series/preview', '/api/houses/nord/booking-series/preview']) {
    const refused = await n.call(bea.cookie, 'POST', url, protelSeries);
    t.equal(refused.status, 403, url);
    t.match(refused.body, { reason: 'not_open_to_guests' });
  }
  t.equal(
    (await n.call(bea.cookie, 'POST', '/api/booking-series', { ...protelSeries, onConflict: 'skip' })).status,
    403,
  );
  const deskSeries = await n.call(bea.cookie, 'POST', '/api/booking-series/preview', {
    ...protelSeries,
    spaceId: 'desk-1',
  });
  t.equal(deskSeries.status, 200, 'a series of desks: yes');
  t.match((await n.book(bea.cookie, 'ost', 'desk-1', NOW, NOW + HOUR)).body, {
    reason: 'not_open_to_guests',
  });

  // The facility manager of Nord in Süd: no door without a booking, nobody else's booking, no devices.
  const beas = await n.book(bea.cookie, 'sued', 'protel-1', NOW + HOUR, NOW + 2 * HOUR);
  t.equal(beas.status, 201);
  t.match((await n.call(fred.cookie, 'POST', '/api/houses/sued/spaces/protel-1/unlock')).body, {
    result: 'denied',
    reason: 'no_booking',
  });
  t.equal(
    (await n.call(fred.cookie, 'DELETE', `/api/houses/sued/bookings/${beas.body.id}`)).status,
    404,
    "cancels no one else's booking in Süd",
  );
  const theirs = await n.call(fred.cookie, 'GET', '/api/houses/sued/spaces/protel-1/availability');
  t.notOk('memberId' in (theirs.body.busy[0] ?? {}), 'sees no one named in Süd');
  t.equal(
    (await n.call(fred.cookie, 'GET', '/api/network/houses/sued/facility/overview')).status,
    403,
    "reads nothing of Süd's devices",
  );
  t.match((await n.call(fred.cookie, 'POST', '/api/houses/nord/spaces/protel-1/unlock')).body, {
    result: 'unlocked',
    reason: 'staff',
  });
  t.same(n.sent, ['nord/lock-1'], 'at home: any lock');

  // Given the facility role in Süd: staff there at once.
  await n.records.members.setSiteRole(fred.id, 'sued', 'facility');
  t.match((await n.call(fred.cookie, 'POST', '/api/houses/sued/spaces/protel-1/unlock')).body, {
    result: 'unlocked',
    reason: 'staff',
  });
  t.equal((await n.call(fred.cookie, 'DELETE', `/api/houses/sued/bookings/${beas.body.id}`)).status, 200);

  t.equal((await n.call(ada.cookie, 'GET', '/api/houses/west/spaces')).status, 404, 'no such house');
  t.equal((await n.book(ada.cookie, 'west', 'desk-1', NOW, NOW + HOUR)).status, 404);
});

t.test("Ost's time zone and opening hours decide a booking in Ost", async (t) => {
  const n = await network(t, sqliteRecords(testRecords(t)));
  const ada = await n.member('member', 'nord');
  // Tuesday 2 March: Ost's desks open 08:00–18:00 Lisbon time (UTC+0), Berlin's clock is an hour ahead.
  const tuesday = Date.UTC(2027, 2, 2);
  const early = await n.book(ada.cookie, 'ost', 'desk-1', tuesday + 7 * HOUR, tuesday + 8 * HOUR);
  t.equal(early.status, 422, '07:00–08:00 in Lisbon (08:00–09:00 in Berlin): before Ost opens');
  t.match(early.body, { reason: 'outside_opening_hours' });
  t.equal(
    (await n.book(ada.cookie, 'ost', 'desk-1', tuesday + 17 * HOUR, tuesday + 18 * HOUR)).status,
    201,
    '17:00–18:00 in Lisbon (18:00–19:00 in Berlin): open',
  );
  const free = await n.call(
    ada.cookie,
    'GET',
    `/api/houses/ost/spaces/desk-1/availability?from=${iso(tuesday)}&to=${iso(tuesday + 24 * HOUR)}`,
  );
  t.same(
    free.body.free.map((f: { start: string; end: string }) => [f.start, f.end]),
    [[iso(tuesday + 8 * HOUR), iso(tuesday + 17 * HOUR)]],
    'free from 08:00 Lisbon time until the booking',
  );
  const spaces = await n.call(ada.cookie, 'GET', '/api/houses/ost/spaces');
  t.match(spaces.body, { id: 'ost', timezone: 'Europe/Lisbon', guest: true, spaces: [{ id: 'desk-1' }] });
});

t.test('a single building: one house, as it always was', async (t) => {
  const { app, records } = await testApi(t, { now: () => NOW });
  const ada = await createTestMember(records, { role: 'member' });
  const cookie = await signIn(app, ada.member.email, ada.password);
  const houses = (await app.inject({ method: 'GET', url: '/api/houses', headers: { cookie } })).json().houses;
  const spaces = (await app.inject({ method: 'GET', url: '/api/spaces', headers: { cookie } })).json();
  t.equal(houses.length, 1);
  t.match(houses[0], { id: spaces.site.id, here: true, home: true, guest: false, role: 'member' });
  t.same(houses[0].spaces, spaces.spaces, 'the same spaces as /api/spaces');
});

// Tuesdays 09:00–10:00 in Ost from 16 March 2027, three dates: Lisbon is UTC+0 until 28 March, UTC+1 after.
const ostTuesdays = {
  spaceId: 'desk-1',
  firstDate: '2027-03-16',
  start: '09:00',
  end: '10:00',
  every: 'week',
  count: 3,
};

recordsContract(
  t,
  "a guest moves a booking and books, changes and ends a series in Ost, on Ost's clock and bookings",
  async (t, records) => {
    const n = await network(t, records);
    const ada = await n.member('member', 'nord');
    const cy = await n.member('member', 'nord');
    const tuesday = Date.UTC(2027, 2, 2); // 2 March: Lisbon = UTC, Berlin = UTC+1

    // Moving, by Ost's opening hours (08:00–18:00 Lisbon) and Ost's bookings.
    const booked = await n.book(ada.cookie, 'ost', 'desk-1', tuesday + 10 * HOUR, tuesday + 11 * HOUR);
    t.equal(booked.status, 201);
    const move = (cookie: string, site: string, id: string, start: number, end: number) =>
      n.call(cookie, 'PATCH', `/api/houses/${site}/bookings/${id}`, { start: iso(start), end: iso(end) });
    const early = await move(ada.cookie, 'ost', booked.body.id, tuesday + 7 * HOUR, tuesday + 8 * HOUR);
    t.equal(early.status, 422, '07:00 in Lisbon (08:00 in Berlin): before Ost opens');
    t.match(early.body, { reason: 'outside_opening_hours' });
    t.equal((await n.book(cy.cookie, 'ost', 'desk-1', tuesday + 12 * HOUR, tuesday + 13 * HOUR)).status, 201);
    const clash = await move(ada.cookie, 'ost', booked.body.id, tuesday + 11 * HOUR, tuesday + 13 * HOUR);
    t.equal(clash.status, 409, "Ost's booking is in the way");
    t.match(clash.body, {
      reason: 'slot_taken',
      conflict: { start: iso(tuesday + 12 * HOUR), end: iso(tuesday + 13 * HOUR) },
    });
    t.equal(
      (await n.book(cy.cookie, 'nord', 'desk-1', tuesday + 14 * HOUR, tuesday + 15 * HOUR)).status,
      201,
      "Nord's desk-1 at 14:00 UTC",
    );
    const moved = await move(ada.cookie, 'ost', booked.body.id, tuesday + 14 * HOUR, tuesday + 15 * HOUR);
    t.equal(moved.status, 200, "Nord's desk-1 of the same id is not in the way");
    t.match(moved.body, { id: booked.body.id, start: iso(tuesday + 14 * HOUR), status: 'booked' });
    t.match(await records.bookingsAt('ost').get(booked.body.id), { start: tuesday + 14 * HOUR });
    t.equal(
      (
        await n.call(ada.cookie, 'PATCH', `/api/bookings/${booked.body.id}`, {
          start: iso(tuesday + 15 * HOUR),
          end: iso(tuesday + 16 * HOUR),
        })
      ).status,
      404,
      "Nord's own route knows no booking of Ost",
    );

    // A series on Ost's wall clock: 09:00 Lisbon is 09:00 UTC before 28 March and 08:00 UTC after.
    await n.book(cy.cookie, 'ost', 'desk-1', Date.UTC(2027, 2, 23, 9), Date.UTC(2027, 2, 23, 10));
    const preview = await n.call(ada.cookie, 'POST', '/api/houses/ost/booking-series/preview', ostTuesdays);
    t.equal(preview.status, 200, JSON.stringify(preview.body));
    t.match(preview.body, { rrule: 'FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=3', timeZone: 'Europe/Lisbon' });
    t.same(
      preview.body.dates.map((d: { occurrence: string; start: string; state: string }) => [
        d.occurrence,
        d.start,
        d.state,
      ]),
      [
        ['2027-03-16T09:00', '2027-03-16T09:00:00.000Z', 'free'],
        ['2027-03-23T09:00', '2027-03-23T09:00:00.000Z', 'taken'],
        ['2027-03-30T09:00', '2027-03-30T08:00:00.000Z', 'free'],
      ],
      "Ost's time zone across its spring change, Ost's booking in the way",
    );
    const refused = await n.call(ada.cookie, 'POST', '/api/houses/ost/booking-series', {
      ...ostTuesdays,
      onConflict: 'refuse',
    });
    t.equal(refused.status, 409);
    t.match(refused.body, { reason: 'slot_taken', dates: [{ occurrence: '2027-03-23T09:00' }] });
    const saved = await n.call(ada.cookie, 'POST', '/api/houses/ost/booking-series', {
      ...ostTuesdays,
      onConflict: 'skip',
    });
    t.equal(saved.status, 201, JSON.stringify(saved.body));
    const series = saved.body.series;
    t.match(series, { timeZone: 'Europe/Lisbon', firstStart: '2027-03-16T09:00', spaceId: 'desk-1' });
    t.same(
      series.bookings.map((b: { start: string }) => b.start),
      ['2027-03-16T09:00:00.000Z', '2027-03-30T08:00:00.000Z'],
    );
    t.same(
      saved.body.skipped.map((d: { occurrence: string }) => d.occurrence),
      ['2027-03-23T09:00'],
    );
    t.ok(await records.bookingsAt('ost').getSeries(series.id), "kept as Ost's series");
    t.notOk(await records.bookingsAt('nord').getSeries(series.id), 'not as one of Nord');
    t.equal((await n.call(ada.cookie, 'GET', `/api/booking-series/${series.id}`)).status, 404);
    t.equal((await n.call(ada.cookie, 'GET', `/api/houses/ost/booking-series/${series.id}`)).status, 200);
    const early7 = await n.call(ada.cookie, 'POST', '/api/houses/ost/booking-series/preview', {
      ...ostTuesdays,
      start: '07:00',
      end: '08:00',
    });
    t.same(
      [...new Set(early7.body.dates.map((d: { reason: string }) => d.reason))],
      ['outside_opening_hours'],
      "07:00 is before Ost's opening on Ost's clock",
    );

    // Changed from its last date on: 10:00–11:00 Lisbon, after the change 09:00 UTC.
    const change = { ...ostTuesdays, firstDate: '2027-03-30', start: '10:00', end: '11:00', count: 1 };
    const changePreview = await n.call(
      ada.cookie,
      'POST',
      `/api/houses/ost/booking-series/${series.id}/change/preview`,
      { ...change, from: '2027-03-30T09:00' },
    );
    t.equal(changePreview.status, 200, JSON.stringify(changePreview.body));
    t.same(
      changePreview.body.givenUp.map((b: { start: string }) => b.start),
      ['2027-03-30T08:00:00.000Z'],
    );
    t.same(
      changePreview.body.dates.map((d: { start: string; state: string }) => [d.start, d.state]),
      [['2027-03-30T09:00:00.000Z', 'free']],
    );
    const changed = await n.call(ada.cookie, 'POST', `/api/houses/ost/booking-series/${series.id}/change`, {
      ...change,
      from: '2027-03-30T09:00',
      onConflict: 'refuse',
    });
    t.equal(changed.status, 201, JSON.stringify(changed.body));
    t.same(
      changed.body.series.bookings.map((b: { start: string }) => b.start),
      ['2027-03-30T09:00:00.000Z'],
    );
    const ended = await n.call(
      ada.cookie,
      'DELETE',
      `/api/houses/ost/booking-series/${changed.body.series.id}`,
    );
    t.equal(ended.status, 200, JSON.stringify(ended.body));
    t.equal(ended.body.cancelled, 1);

    // Every event names Ost and goes on Ost's topics.
    const moves = n.told.filter((e) => e.type === 'booking-moved');
    t.match(moves, [{ site: 'ost', bookingId: booked.body.id, previousStart: tuesday + 10 * HOUR }]);
    const ofTheSeries = n.told.filter(
      (e) => 'bookingId' in e && e.at === NOW && e.start >= Date.UTC(2027, 2, 16) && e.space === 'desk-1',
    );
    t.same(
      ofTheSeries.map((e) => [e.type, e.site, 'start' in e ? iso(e.start) : '']),
      [
        ['booking-made', 'ost', '2027-03-23T09:00:00.000Z'],
        ['booking-made', 'ost', '2027-03-16T09:00:00.000Z'],
        ['booking-made', 'ost', '2027-03-30T08:00:00.000Z'],
        ['booking-cancelled', 'ost', '2027-03-30T08:00:00.000Z'],
        ['booking-made', 'ost', '2027-03-30T09:00:00.000Z'],
        ['booking-cancelled', 'ost', '2027-03-30T09:00:00.000Z'],
      ],
      "Cy's booking, the series, its change and its end, each told as Ost's",
    );
    t.same(
      [...new Set(n.told.filter((e) => e.site === 'ost').map((e) => eventTopic(e.site, e.type)))].sort(),
      [
        'wesprint/ost/events/booking-cancelled',
        'wesprint/ost/events/booking-made',
        'wesprint/ost/events/booking-moved',
      ],
    );

    // A kind Ost does not open to Nord: refused before any date is judged.
    const protelPreview = await n.call(ada.cookie, 'POST', '/api/houses/ost/booking-series/preview', {
      ...ostTuesdays,
      spaceId: 'protel-1',
    });
    t.equal(protelPreview.status, 403);
    t.match(protelPreview.body, {
      reason: 'not_open_to_guests',
      message: 'Haus Ost does not open a protel to members of nord',
    });
    const protel = await n.call(ada.cookie, 'POST', '/api/houses/ost/booking-series', {
      ...ostTuesdays,
      spaceId: 'protel-1',
      onConflict: 'skip',
    });
    t.equal(protel.status, 403);
    t.match(protel.body, { reason: 'not_open_to_guests' });
    t.equal(
      await records
        .bookingsAt('ost')
        .spaceBookings('protel-1', 0, Date.UTC(2028, 0))
        .then((b) => b.length),
      0,
    );
  },
);

recordsContract(
  t,
  "whose bookings and series in Süd one may move and change: one's own, and Süd's staff any",
  async (t, records) => {
    const n = await network(t, records);
    const ada = await n.member('member', 'nord');
    const fred = await n.member('facility', 'nord');
    const bea = await n.member('member', 'sued');
    const sam = await n.member('facility', 'sued');

    const beas = await n.book(bea.cookie, 'sued', 'protel-1', NOW + HOUR, NOW + 2 * HOUR);
    t.equal(beas.status, 201);
    const mondays = {
      spaceId: 'protel-1',
      firstDate: '2027-03-08',
      start: '18:00',
      end: '19:00',
      every: 'week',
      count: 2,
    };
    const series = await n.call(bea.cookie, 'POST', '/api/houses/sued/booking-series', {
      ...mondays,
      onConflict: 'refuse',
    });
    t.equal(series.status, 201, JSON.stringify(series.body));
    const seriesId = series.body.series.id;
    const later = { start: iso(NOW + 3 * HOUR), end: iso(NOW + 4 * HOUR) };
    const change = {
      ...mondays,
      start: '19:00',
      end: '20:00',
      from: '2027-03-08T18:00',
      onConflict: 'refuse',
    };

    // A member of Nord, and Nord's facility manager (a plain member in Süd): nobody else's, as if none.
    for (const who of [ada, fred]) {
      t.equal(
        (await n.call(who.cookie, 'PATCH', `/api/houses/sued/bookings/${beas.body.id}`, later)).status,
        404,
      );
      t.equal((await n.call(who.cookie, 'GET', `/api/houses/sued/booking-series/${seriesId}`)).status, 404);
      t.equal(
        (await n.call(who.cookie, 'POST', `/api/houses/sued/booking-series/${seriesId}/change`, change))
          .status,
        404,
      );
      t.equal(
        (await n.call(who.cookie, 'DELETE', `/api/houses/sued/booking-series/${seriesId}`)).status,
        404,
      );
    }
    t.equal(
      (await n.call(fred.cookie, 'PATCH', `/api/bookings/${beas.body.id}`, later)).status,
      404,
      "Nord's staff route reaches no booking of Süd",
    );
    t.match(await records.bookingsAt('sued').get(beas.body.id), { start: NOW + HOUR, status: 'booked' });

    // Süd's facility manager: any booking and series in Süd.
    const moved = await n.call(sam.cookie, 'PATCH', `/api/houses/sued/bookings/${beas.body.id}`, later);
    t.equal(moved.status, 200, JSON.stringify(moved.body));
    t.match(moved.body, { start: later.start });
    t.equal((await n.call(sam.cookie, 'GET', `/api/houses/sued/booking-series/${seriesId}`)).status, 200);
    const changed = await n.call(
      sam.cookie,
      'POST',
      `/api/houses/sued/booking-series/${seriesId}/change`,
      change,
    );
    t.equal(changed.status, 201, JSON.stringify(changed.body));
    t.equal(changed.body.series.memberId, bea.id, "the changed series stays Bea's");
    t.same(
      changed.body.series.bookings.map((b: { start: string }) => b.start),
      ['2027-03-08T18:00:00.000Z', '2027-03-15T18:00:00.000Z'],
      '19:00 in Berlin (UTC+1 in March before the 28th)',
    );
    const ended = await n.call(
      sam.cookie,
      'DELETE',
      `/api/houses/sued/booking-series/${changed.body.series.id}`,
    );
    t.equal(ended.status, 200);
    t.equal(ended.body.cancelled, 2);
    t.same([...new Set(n.told.map((e) => e.site))], ['sued'], "every event of Süd's bookings names Süd");
  },
);
