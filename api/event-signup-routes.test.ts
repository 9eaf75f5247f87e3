import t, { type Test } from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { callApi, testApi } from '../test-support/api.ts';
import { signedInMember, signIn } from '../test-support/members.ts';
import { buildingWithHall } from '../test-support/small-building.ts';
import type { PublicRateLimit } from './event-signup-routes.ts';

/**
 * Sign-ups through the real API and records file, without an account: places up to capacity, the waiting
 * list, cancelling by the token (the next one moves up), hostile input refused, the rate limit, the audit log
 * without any visitor's address, and the organiser's count of who came. The API's clock is the test's:
 * Sunday 13 December 2026, 22:50 Berlin, moved on to the evening itself.
 */

const NOW = Date.parse('2026-12-13T21:50:00Z');
const EVENING = Date.parse('2026-12-17T17:00:00Z');

const call = callApi;

async function eveningApi(t: Test, publicRateLimit: PublicRateLimit = { max: 1000, timeWindowMs: 60_000 }) {
  const site = buildingWithHall();
  const clock = { now: NOW };
  const { app, records } = await testApi(t, { site, now: () => clock.now, publicRateLimit });
  const organiser = await signedInMember(app, records, 'member');
  const booking = await call(app, 'POST', '/api/bookings', organiser.cookie, {
    spaceId: 'hall',
    start: '2026-12-17T18:00+01:00',
    end: '2026-12-17T21:00+01:00',
  });
  t.equal(booking.status, 201, booking.text);
  const made = await call(app, 'POST', '/api/events', organiser.cookie, {
    title: 'Smartphone-Sprechstunde',
    capacity: 4,
    visibility: 'public',
    bookingId: booking.json.id,
  });
  t.equal(made.status, 201, made.text);
  const listed = await call(app, 'GET', '/api/public/events');
  const date = (listed.json.dates as Array<{ eventId: string; dateId: string }>)[0];
  if (!date) throw new Error('the date is not listed');
  return {
    app,
    records,
    clock,
    organiser,
    date,
    url: `/api/public/events/${date.eventId}/dates/${date.dateId}/signups`,
  };
}

t.test('sign up, wait, cancel, move up; the audit log keeps no address', async (t) => {
  const { app, records, date, url } = await eveningApi(t);
  const ada = await call(app, 'POST', url, undefined, { places: 3, email: 'ada.visitor@example.org' });
  t.equal(ada.status, 201, ada.text);
  t.equal(ada.json.status, 'confirmed');
  const counted = await call(app, 'POST', url, undefined, { places: 1 });
  t.equal(counted.json.status, 'confirmed', 'without an address: a place count only');
  const cem = await call(app, 'POST', url, undefined, { places: 2, email: 'cem.visitor@example.org' });
  t.equal(cem.json.status, 'waiting', 'full: the waiting list');
  t.equal((await call(app, 'POST', url, undefined, { places: 5 })).status, 409, 'more places than there are');

  const listed = (await call(app, 'GET', '/api/public/events')).json.dates as Array<Record<string, unknown>>;
  t.match(listed[0], { dateId: date.dateId, capacity: 4, taken: 4, waiting: 2 });
  const publicText = JSON.stringify(listed);
  t.notOk(publicText.includes('visitor@'), 'no address on the public list');

  const status = await call(app, 'POST', '/api/public/signups/status', undefined, {
    token: cem.json.cancelToken,
  });
  t.match(status.json, {
    status: 'waiting',
    places: 2,
    title: 'Smartphone-Sprechstunde',
    spaceName: 'Diskursraum',
  });
  t.notOk(status.text.includes('cem.visitor'), 'the status does not repeat the address');

  const cancelled = await call(app, 'POST', '/api/public/signups/cancel', undefined, {
    token: ada.json.cancelToken,
  });
  t.equal(cancelled.status, 200, cancelled.text);
  t.equal(cancelled.json.status, 'cancelled');
  t.equal(
    (await call(app, 'POST', '/api/public/signups/cancel', undefined, { token: ada.json.cancelToken }))
      .status,
    404,
    'a cancel link works once',
  );
  t.equal(
    (await call(app, 'POST', '/api/public/signups/status', undefined, { token: cem.json.cancelToken })).json
      .status,
    'confirmed',
    'the first waiting moved up',
  );

  const audit = await new SqliteAuditLog(records).query({ limit: 500 });
  const signUpEntries = audit.entries.filter((e) => e.action.startsWith('event_signup'));
  t.equal(signUpEntries.length, 4, 'three sign-ups and a cancellation');
  const auditText = JSON.stringify(audit.entries);
  for (const address of ['ada.visitor@example.org', 'cem.visitor@example.org'])
    t.notOk(auditText.includes(address), `no ${address} in the audit log`);
  t.notOk(auditText.includes(String(ada.json.cancelToken)), 'no cancel token in the audit log');
  t.notOk(JSON.stringify(signUpEntries).includes('127.0.0.1'), "no visitor's IP in the sign-ups' entries");
});

t.test('hostile or wrong input is refused, nothing is kept', async (t) => {
  const { app, records, date, url, clock } = await eveningApi(t);
  const bad: unknown[] = [
    { places: 0 },
    { places: 11 },
    { places: 1.5 },
    {},
    { places: 1, email: 'not an address' },
    { places: 1, email: `${'x'.repeat(300)}@example.org` },
    { places: 1, email: 'a@b\u0000.org' },
  ];
  for (const body of bad)
    t.equal((await call(app, 'POST', url, undefined, body)).status, 400, JSON.stringify(body));
  t.equal(
    (
      await call(app, 'POST', `/api/public/events/${date.eventId}/dates/nope/signups`, undefined, {
        places: 1,
      })
    ).status,
    404,
  );
  t.equal(
    (
      await call(app, 'POST', `/api/public/events/x'%20OR%201=1/dates/${date.dateId}/signups`, undefined, {
        places: 1,
      })
    ).status,
    400,
  );
  for (const token of ['short', 'x'.repeat(32).replace(/^x/, '/'), 'a'.repeat(33)])
    t.equal((await call(app, 'POST', '/api/public/signups/cancel', undefined, { token })).status, 400, token);
  t.equal(
    (await call(app, 'POST', '/api/public/signups/cancel', undefined, { token: 'a'.repeat(32) })).status,
    404,
  );
  t.equal(Number(records.prepare('SELECT count(*) FROM event_signups').pluck().get()), 0);

  // A members-only event takes no visitors; a date that began takes no more sign-ups.
  clock.now = EVENING + 60_000;
  t.equal((await call(app, 'POST', url, undefined, { places: 1 })).status, 409, 'closed once it began');
});

t.test('the public routes are rate-limited per address', async (t) => {
  const { app, url } = await eveningApi(t, { max: 3, timeWindowMs: 60_000 });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await call(app, 'POST', url, undefined, { places: 1 })).status);
  t.same(statuses, [201, 201, 201, 429]);
});

t.test('the organiser enters how many came, after the date has begun', async (t) => {
  const { app, records, date, organiser, url, clock } = await eveningApi(t);
  await call(app, 'POST', url, undefined, { places: 2 });
  const counts = `/api/events/${date.eventId}/dates/${date.dateId}/counts`;
  const attendance = `/api/events/${date.eventId}/dates/${date.dateId}/attendance`;
  t.match((await call(app, 'GET', counts, organiser.cookie)).json, { confirmed: 2, attended: null });
  t.equal(
    (await call(app, 'PUT', attendance, organiser.cookie, { attended: 9 })).status,
    409,
    'not before it began',
  );
  clock.now = EVENING + 3 * 3_600_000;
  // Four days on, the organiser signs in again (sessions end after 12 idle hours).
  const cookie = await signIn(app, organiser.member.email, organiser.password);
  const other = await signedInMember(app, records, 'member');
  t.equal((await call(app, 'GET', counts, other.cookie)).status, 404, "not someone else's event");
  t.equal((await call(app, 'PUT', attendance, other.cookie, { attended: 9 })).status, 404);
  t.equal((await call(app, 'PUT', attendance, undefined, { attended: 9 })).status, 401);
  t.equal((await call(app, 'PUT', attendance, cookie, { attended: -1 })).status, 400);
  const entered = await call(app, 'PUT', attendance, cookie, { attended: 9 });
  t.equal(entered.status, 200, entered.text);
  t.match(entered.json, { confirmed: 2, attended: 9 });
  const facility = await signedInMember(app, records, 'facility');
  t.match(
    (await call(app, 'PUT', attendance, facility.cookie, { attended: 11 })).json,
    { attended: 11 },
    'staff may correct it',
  );
  const entries = (await new SqliteAuditLog(records).query({ action: 'event_attendance' })).entries;
  t.same(
    entries.map((e) => [e.actor, e.detail.attended]),
    [
      [facility.member.id, 11],
      [organiser.member.id, 9],
    ],
  );
});
