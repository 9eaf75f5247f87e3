import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Role } from '../access/roles.ts';
import { planSeries } from '../bookings/series-rules.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import type { Records } from '../records/records.ts';
import type { SiteConfig } from '../site/site.ts';
import { siteReadings } from '../storage/site-view.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { signIn } from '../test-support/members.ts';
import { recordsContract } from '../test-support/records.ts';
import { testProfiles } from '../test-support/small-building.ts';
import { house, NORD, openingLocks } from '../test-support/two-sites.ts';
import { buildApi } from './app.ts';

/**
 * Guest keys and public events on a booking in another house of the network (issue 11), through the real API
 * on both engines: it serves Nord (Berlin), the installation's home site; Ost (Lisbon, an hour behind Berlin
 * in winter) opens its Protel rooms to Nord's members. Both houses have a `protel-1` with a `lock-1`: the
 * same ids, other rooms and other locks, each house's through its own lock channel.
 */

// Monday 1 March 2027, 09:00 UTC: 10:00 in Nord (Berlin), 09:00 in Ost (Lisbon, UTC+0 until 28 March).
const NOW = Date.UTC(2027, 2, 1, 9, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();

const nord: SiteConfig = NORD;
const OST_BASE = house('sued', 'C3C3C3');
const ost: SiteConfig = {
  ...OST_BASE,
  site: { id: 'ost', name: 'Haus Ost', timezone: 'Europe/Lisbon' },
  guests: [{ from: ['nord'], kinds: ['desk', 'protel'] }],
};

async function network(t: Test, records: Records) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-house-guests-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const all = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => all.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site: nord });
  t.teardown(() => feed.close());
  const sent: string[] = [];
  const clock = { now: NOW };
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
      sites: [nord, ost],
      store: all,
      lockCommands: new Map([['ost', openingLocks('ost', sent, () => NOW)]]),
    },
    now: () => clock.now,
  });
  t.teardown(() => app.close());
  let n = 0;
  const member = async (role: Role, homeSite: string, roles: Record<string, Role> = {}) => {
    n += 1;
    const password = `a-long-password-${n}`;
    const created = await records.members.create({
      email: `${role}-${homeSite}-${n}@house-guests.example`,
      role,
      homeSite,
      password,
    });
    for (const [site, r] of Object.entries(roles))
      await records.members.setSiteRole(created.member.id, site, r);
    return { ...created.member, cookie: await signIn(app, created.member.email, password) };
  };
  const call = async (
    cookie: string | undefined,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: object,
  ) => {
    const response = await app.inject({
      method,
      url,
      ...(cookie ? { headers: { cookie } } : {}),
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
    });
    const json = response.headers['content-type']?.toString().includes('json') ? response.json() : undefined;
    return { status: response.statusCode, body: json, text: response.body };
  };
  const book = async (cookie: string, site: string, spaceId: string, start: number, end: number) => {
    const booked = await call(cookie, 'POST', `/api/houses/${site}/bookings`, {
      spaceId,
      start: iso(start),
      end: iso(end),
    });
    if (booked.status !== 201) throw new Error(`booking refused: ${booked.text}`);
    return booked.body as { id: string; site: string };
  };
  return { app, sent, clock, member, call, book };
}

recordsContract(
  t,
  "a guest key for a booking in Ost opens Ost's door, only in its time, never Nord's of the same id",
  async (t, records) => {
    const n = await network(t, records);
    const ada = await n.member('member', 'nord');
    const cid = await n.member('member', 'nord');
    // Ada's Ost booking from 11:00 to 13:00 Ost time; her Nord booking of its protel-1 just before, 09:00-11:00 UTC.
    const inOst = await n.book(ada.cookie, 'ost', 'protel-1', NOW + 2 * HOUR, NOW + 4 * HOUR);
    const inNord = await n.book(ada.cookie, 'nord', 'protel-1', NOW, NOW + 2 * HOUR);
    t.equal(inOst.site, 'ost');

    // Given in the booking's house only: Nord has no booking of that id, and Cid booked nothing in Ost.
    const atHome = await n.call(ada.cookie, 'POST', '/api/guest-keys', { bookingId: inOst.id });
    t.equal(atHome.status, 403, 'not through Nord: a booking of Ost is none of Nord');
    const wrongHouse = await n.call(ada.cookie, 'POST', '/api/houses/nord/guest-keys', {
      bookingId: inOst.id,
    });
    t.equal(wrongHouse.status, 403);
    t.match(wrongHouse.body.message, /not_your_booking/);
    const notHers = await n.call(cid.cookie, 'POST', '/api/houses/ost/guest-keys', { bookingId: inOst.id });
    t.equal(notHers.status, 403, 'a member without the booking in Ost gives no key for it');
    t.equal(
      (await n.call(ada.cookie, 'POST', '/api/houses/west/guest-keys', { bookingId: inOst.id })).status,
      404,
      'a house the network does not have',
    );

    const given = await n.call(ada.cookie, 'POST', '/api/houses/ost/guest-keys', {
      bookingId: inOst.id,
      label: 'Referentin',
    });
    t.equal(given.status, 201, given.text);
    t.match(given.body, {
      site: 'ost',
      siteName: 'Haus Ost',
      spaceId: 'protel-1',
      spaceName: 'Protel 1',
      opensAt: iso(NOW + 2 * HOUR - 10 * MIN),
      closesAt: iso(NOW + 4 * HOUR),
    });
    const token = String(given.body.link).slice('/key#'.length);
    const tap = () => n.call(undefined, 'POST', '/api/public/guest-key/unlock', { token });

    // During Ada's Nord booking of the same room id, the Ost key opens nothing: not Ost's (not yet), not Nord's.
    n.clock.now = NOW + 30 * MIN;
    const early = await tap();
    t.equal(early.status, 403);
    t.match(early.body, { result: 'denied', reason: 'not_yet' });
    t.same(n.sent, [], 'no command to either house');
    const look = await n.call(undefined, 'POST', '/api/public/guest-key', { token });
    t.same(look.body, {
      siteName: 'Haus Ost',
      spaceName: 'Protel 1',
      opensAt: iso(NOW + 2 * HOUR - 10 * MIN),
      closesAt: iso(NOW + 4 * HOUR),
      state: 'not_yet',
    });

    // In its booking's time: Ost's lock, through Ost's channel.
    n.clock.now = NOW + 2 * HOUR + 5 * MIN;
    const opened = await tap();
    t.equal(opened.status, 200, opened.text);
    t.match(opened.body, { result: 'unlocked', reason: 'guest_key', lock: 'lock-1' });
    t.same(n.sent, ['ost/lock-1'], "Ost's lock, not Nord's");

    // A key for her Nord booking opens Nord's room of the same id (the home route, as ever).
    n.clock.now = NOW + 30 * MIN;
    const nordKey = await n.call(ada.cookie, 'POST', '/api/guest-keys', { bookingId: inNord.id });
    t.equal(nordKey.status, 201, nordKey.text);
    t.match(nordKey.body, { site: 'nord', siteName: 'Haus Nord' });
    const nordTap = await n.call(undefined, 'POST', '/api/public/guest-key/unlock', {
      token: String(nordKey.body.link).slice('/key#'.length),
    });
    t.equal(nordTap.status, 200);
    t.same(n.sent, ['ost/lock-1', 'nord/lock-1']);

    // After the Ost booking, expired.
    n.clock.now = NOW + 4 * HOUR + MIN;
    t.match((await tap()).body, { result: 'denied', reason: 'expired' });
    t.same(n.sent, ['ost/lock-1', 'nord/lock-1'], 'nothing sent after its time');

    // Listed with their houses; audited with Ost's site.
    const listed = await n.call(ada.cookie, 'GET', '/api/guest-keys');
    t.same(listed.body.keys.map((k: { site: string; spaceId: string }) => [k.site, k.spaceId]).sort(), [
      ['nord', 'protel-1'],
      ['ost', 'protel-1'],
    ]);
    const keyId = given.body.id;
    const unlocks = (await records.audit.query({ action: 'unlock', actor: ada.id })).entries.filter(
      (e) => e.detail.guestKey === keyId,
    );
    t.same(
      unlocks.map((e) => [e.decision, e.reason, e.detail.site]).reverse(),
      [
        ['denied', 'not_yet', 'ost'],
        ['granted', 'guest_key', 'ost'],
        ['denied', 'expired', 'ost'],
      ],
      "every tap audited with Ost's site",
    );
    const gives = (await records.audit.query({ action: 'guest_key_give', actor: ada.id })).entries;
    t.ok(
      gives.some((e) => e.decision === 'granted' && e.detail.site === 'ost' && e.detail.guestKey === keyId),
      'the key given, audited with Ost',
    );

    // Cancelled in Ost, the key opens nothing there, whatever Nord holds.
    n.clock.now = NOW + 2 * HOUR + 10 * MIN;
    t.equal((await n.call(ada.cookie, 'DELETE', `/api/houses/ost/bookings/${inOst.id}`)).status, 200);
    t.match((await tap()).body, { result: 'denied', reason: 'booking_cancelled' });
    t.same(n.sent, ['ost/lock-1', 'nord/lock-1']);
  },
);

recordsContract(
  t,
  "an event on a booking in Ost: Ost's name and time zone, filtered by house, sign-ups, the organiser's page",
  async (t, records) => {
    const n = await network(t, records);
    const ada = await n.member('member', 'nord');
    const cid = await n.member('member', 'nord');
    const nordStaff = await n.member('facility', 'nord');
    const ostStaff = await n.member('member', 'nord', { ost: 'facility' });
    // Tuesday 2 March 2027 10:00-12:00 in Ost (Lisbon, UTC+0): 11:00-13:00 in Berlin.
    const start = Date.UTC(2027, 2, 2, 10, 0);
    const booking = await n.book(ada.cookie, 'ost', 'protel-1', start, start + 2 * HOUR);
    // No capacity: as many as come (the form's empty field).
    const body = { title: 'Reparaturcafé', visibility: 'public', capacity: null, bookingId: booking.id };

    t.equal(
      (await n.call(ada.cookie, 'POST', '/api/events', body)).status,
      404,
      "Nord's route finds no Ost booking",
    );
    t.equal(
      (await n.call(cid.cookie, 'POST', '/api/houses/ost/events', body)).status,
      404,
      'a member without the booking in Ost makes no event of it',
    );
    t.equal(
      (await n.call(nordStaff.cookie, 'POST', '/api/houses/ost/events', body)).status,
      404,
      "Nord's staff are plain members in Ost",
    );
    const made = await n.call(ada.cookie, 'POST', '/api/houses/ost/events', body);
    t.equal(made.status, 201, made.text);
    t.match(made.body, { title: 'Reparaturcafé', siteId: 'ost' });

    // A series of Ost too: four Thursdays at 18:00 Ost time.
    const plan = planSeries(
      {
        firstDate: { year: 2027, month: 3, day: 4 },
        startMinute: 18 * 60,
        durationMinutes: 90,
        pattern: { every: 'week', interval: 1 },
        end: { count: 4 },
      },
      'Europe/Lisbon',
    );
    if (!plan.ok) throw new Error(plan.message);
    const series = await records
      .bookingsAt('ost')
      .createSeries(
        { memberId: ada.id, spaceId: 'protel-1', rule: plan.rule, occurrences: plan.occurrences },
        'all_or_nothing',
        NOW,
      );
    if (!series.ok) throw new Error('series refused');
    const weekly = await n.call(ada.cookie, 'POST', '/api/houses/ost/events', {
      title: 'Chor',
      visibility: 'public',
      seriesId: series.series.id,
    });
    t.equal(weekly.status, 201, weekly.text);

    // Listed with Ost's name and zone; Ost's filter keeps them, Nord's does not.
    const listed = await n.call(undefined, 'GET', '/api/public/events');
    const first = listed.body.dates.find((d: { eventId: string }) => d.eventId === made.body.id);
    t.match(first, {
      siteId: 'ost',
      siteName: 'Haus Ost',
      timezone: 'Europe/Lisbon',
      spaceName: 'Protel 1',
      capacity: null,
      start: '2027-03-02T10:00:00.000Z',
      end: '2027-03-02T12:00:00.000Z',
    });
    t.same(
      listed.body.dates
        .filter((d: { eventId: string }) => d.eventId === weekly.body.id)
        .map((d: { start: string }) => d.start),
      [
        '2027-03-04T18:00:00.000Z',
        '2027-03-11T18:00:00.000Z',
        '2027-03-18T18:00:00.000Z',
        '2027-03-25T18:00:00.000Z',
      ],
      "18:00 in Ost's time zone each week (UTC+0 until 28 March)",
    );
    const inOst = await n.call(undefined, 'GET', '/api/public/events?site=ost');
    t.equal(inOst.body.dates.length, 5, 'both events, every date, in Ost');
    const inNord = await n.call(undefined, 'GET', '/api/public/events?site=nord');
    t.same(inNord.body.dates, [], 'none in Nord');
    const feed = await n.call(undefined, 'GET', '/api/public/events.ics?site=ost');
    const unfolded = feed.text.replace(/\r\n /g, '');
    t.match(unfolded, 'SUMMARY:Reparaturcafé');
    t.match(unfolded, 'DTSTART:20270302T100000Z');
    t.match(unfolded, 'LOCATION:Protel 1\\, Haus Ost', "Ost's room and name");
    t.notMatch((await n.call(undefined, 'GET', '/api/public/events.ics?site=nord')).text, 'Reparaturcafé');

    // A visitor signs up; the organiser sees the count and the date with its house.
    const signed = await n.call(
      undefined,
      'POST',
      `/api/public/events/${made.body.id}/dates/${booking.id}/signups`,
      { places: 2 },
    );
    t.equal(signed.status, 201, signed.text);
    const counts = await n.call(ada.cookie, 'GET', `/api/events/${made.body.id}/dates/${booking.id}/counts`);
    t.match(counts.body, { confirmed: 2 });
    t.equal(
      (await n.call(nordStaff.cookie, 'GET', `/api/events/${made.body.id}/dates/${booking.id}/counts`))
        .status,
      404,
      "Nord's staff do not read an Ost date's counts",
    );
    t.equal(
      (await n.call(ostStaff.cookie, 'GET', `/api/events/${made.body.id}/dates/${booking.id}/counts`)).status,
      200,
      "Ost's staff do",
    );
    const mine = await n.call(ada.cookie, 'GET', '/api/me/events');
    const organised = mine.body.events.find((e: { id: string }) => e.id === made.body.id);
    t.match(organised.dates, [
      {
        dateId: booking.id,
        siteId: 'ost',
        siteName: 'Haus Ost',
        timezone: 'Europe/Lisbon',
        spaceName: 'Protel 1',
        taken: 2,
        guestKey: true,
      },
    ]);

    // Cancelled by Ost's staff, not by Nord's.
    t.equal((await n.call(nordStaff.cookie, 'DELETE', `/api/events/${made.body.id}`)).status, 404);
    t.equal((await n.call(ostStaff.cookie, 'DELETE', `/api/events/${made.body.id}`)).status, 204);
    const after = await n.call(undefined, 'GET', '/api/public/events?site=ost');
    t.equal(after.body.dates.length, 4, "the series' dates stay");
    t.equal(
      (await n.call(ada.cookie, 'DELETE', `/api/events/${weekly.body.id}`)).status,
      204,
      'its organiser',
    );
  },
);
