import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import type { Role } from '../access/roles.ts';
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
import { house, NORD, SUED } from '../test-support/two-sites.ts';
import { buildApi } from './app.ts';
import type { CommandReport, LockCommands } from './lock-commands.ts';

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

/** A lock channel that says every door opened, and remembers which. */
function fakeLocks(site: string, sent: string[]) {
  return {
    send: async (device: string): Promise<CommandReport> => {
      sent.push(`${site}/${device}`);
      return {
        id: `cmd-${sent.length}`,
        device,
        action: 'unlock',
        outcome: 'done',
        detail: 'unlocked',
        publishedAt: NOW,
        answeredAt: NOW,
      };
    },
  };
}

async function network(t: Test, records: Records) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-houses-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => all.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: nord });
  t.teardown(() => feed.close());
  const sent: string[] = [];
  const app = await buildApi({
    site: nord,
    store: siteReadings(all, 'nord'),
    feed,
    quarantine,
    profiles: testProfiles(),
    records,
    loginRateLimit: { max: 10_000, timeWindowMs: 60_000 },
    lockCommands: fakeLocks('nord', sent) as unknown as LockCommands,
    network: {
      sites: SITES,
      store: all,
      lockCommands: new Map([
        ['sued', fakeLocks('sued', sent)],
        ['ost', fakeLocks('ost', sent)],
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
  const call = async (cookie: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => {
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
  return { app: app as FastifyInstance, records, sent, member, call, book };
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
