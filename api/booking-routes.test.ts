import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import ICAL from 'ical.js';
import pino from 'pino';
import t, { type Test } from 'tap';
import { BuildingFeed } from '../building/live-feed.ts';
import { openRecords, type RecordsDb } from '../database/database.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import type { SiteConfig } from '../site/site.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { createTestMember, signedInMember, signIn } from '../test-support/members.ts';
import { smallBuilding } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';

/**
 * Booking routes over real HTTP, with real sign-in and the records database: the concurrency promise
 * (200 requests for one desk and hour, exactly one wins), the refusals with their reason codes, members'
 * isolation, cancelling, availability without names, the calendar feed and its token, and fuzzed bodies.
 */

const HOUR = 3_600_000;
const QUARTER = 15 * 60_000;
const ALWAYS = [{ days: [1, 2, 3, 4, 5, 6, 7], open: '00:00', close: '24:00' }];

function bookingBuilding(): SiteConfig {
  const site = smallBuilding();
  for (const id of ['desk-1', 'desk-2'])
    site.spaces.push({
      id,
      name: `Platz ${id.slice(-1)}`,
      floor: 'og1',
      kind: 'desk',
      area_m2: 6,
      capacity: 1,
      bookable: true,
      parent: 'cowork',
      opening_hours: ALWAYS,
    });
  return site;
}

/** Fixed once: a quarter hour passing during the test must not shift the slots against each other. */
const BASE = Math.ceil(Date.now() / QUARTER) * QUARTER + 2 * 24 * HOUR;

/** Two days ahead on a whole quarter hour: valid for any desk that is always open. */
function slot(
  hoursFromBase = 0,
  lengthHours = 1,
): { start: string; end: string; startMs: number; endMs: number } {
  const startMs = BASE + hoursFromBase * HOUR;
  const endMs = startMs + lengthHours * HOUR;
  return { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), startMs, endMs };
}

async function bookingApi(
  t: Test,
  logger?: FastifyBaseLogger,
): Promise<{ app: FastifyInstance; records: RecordsDb; base: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-booking-api-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = bookingBuilding();
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => records.close());
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  // Never started: the booking routes do not read the live feed.
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
  const app = await buildApi({ site, store, feed, quarantine, records, ...(logger ? { logger } : {}) });
  t.teardown(() => app.close());
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, records, base };
}

async function call(base: string, method: string, url: string, cookie?: string, body?: unknown) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(cookie ? { cookie } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  return { status: response.status, json, text, headers: response.headers };
}

t.test('200 concurrent requests for the same desk and hour: exactly one 201, all others 409', async (t) => {
  const { app, records, base } = await bookingApi(t);
  const members = await Promise.all([1, 2, 3, 4, 5].map(() => signedInMember(app, records, 'member')));
  const hour = slot();
  const attempts = Array.from({ length: 200 }, (_, i) => {
    const who = members[i % members.length];
    return call(base, 'POST', '/api/bookings', who?.cookie, {
      spaceId: 'desk-1',
      start: hour.start,
      end: hour.end,
    });
  });
  const answers = await Promise.all(attempts);
  const statuses = answers.map((a) => a.status);
  t.equal(statuses.filter((s) => s === 201).length, 1, 'exactly one booking');
  t.equal(statuses.filter((s) => s === 409).length, 199, 'every other request: 409');
  const refusal = answers.find((a) => a.status === 409);
  t.match(refusal?.json, {
    statusCode: 409,
    error: 'Conflict',
    reason: 'slot_taken',
    message: /already booked/,
    conflict: { start: hour.start, end: hour.end },
  });
  t.notOk(JSON.stringify(refusal?.json).includes('@'), 'the refusal names nobody');

  const winner = answers.find((a) => a.status === 201);
  t.match(winner?.json, { spaceId: 'desk-1', start: hour.start, end: hour.end, status: 'booked' });

  const cookie = members[0]?.cookie;
  const after = slot(1);
  const before = slot(-1);
  t.equal(
    (await call(base, 'POST', '/api/bookings', cookie, { spaceId: 'desk-1', ...pick(after) })).status,
    201,
    'adjacent after',
  );
  t.equal(
    (await call(base, 'POST', '/api/bookings', cookie, { spaceId: 'desk-1', ...pick(before) })).status,
    201,
    'adjacent before',
  );
  t.equal(
    (await call(base, 'POST', '/api/bookings', cookie, { spaceId: 'desk-2', ...pick(hour) })).status,
    201,
    'other desk',
  );
  const half = {
    start: new Date(hour.startMs + 30 * 60_000).toISOString(),
    end: new Date(hour.endMs + 30 * 60_000).toISOString(),
  };
  t.equal(
    (await call(base, 'POST', '/api/bookings', cookie, { spaceId: 'desk-1', ...half })).status,
    409,
    'half overlap',
  );
});

function pick(s: { start: string; end: string }) {
  return { start: s.start, end: s.end };
}

t.test('each rule broken answers a 4xx with its reason code', async (t) => {
  const { app, records, base } = await bookingApi(t);
  const { cookie, member } = await signedInMember(app, records, 'member');
  const hour = slot();
  const post = (body: unknown) => call(base, 'POST', '/api/bookings', cookie, body);
  const cases: [string, unknown, number, string | undefined][] = [
    ['end before start', { spaceId: 'desk-1', start: hour.end, end: hour.start }, 422, 'end_not_after_start'],
    [
      'not a quarter hour',
      { spaceId: 'desk-1', start: new Date(hour.startMs + 60_000).toISOString(), end: hour.end },
      422,
      'not_on_quarter_hour',
    ],
    [
      'in the past',
      { spaceId: 'desk-1', start: slot(-96).start, end: slot(-95).start },
      422,
      'start_in_past',
    ],
    ['too long for a desk', { spaceId: 'desk-1', ...pick(slot(0, 25)) }, 422, 'too_long'],
    ['a café is not bookable', { spaceId: 'cafe', ...pick(hour) }, 422, 'space_not_bookable'],
    [
      'no time zone',
      { spaceId: 'desk-1', start: hour.start.replace('Z', ''), end: hour.end },
      400,
      'invalid_time',
    ],
    ['not a date', { spaceId: 'desk-1', start: 'tomorrow', end: hour.end }, 400, 'invalid_time'],
    ['unknown space', { spaceId: 'desk-99', ...pick(hour) }, 404, undefined],
    ['missing end', { spaceId: 'desk-1', start: hour.start }, 400, undefined],
  ];
  for (const [what, body, status, reason] of cases) {
    const answer = await post(body);
    t.equal(answer.status, status, what);
    if (reason) t.equal(answer.json.reason, reason, `${what}: ${reason}`);
    t.type(answer.json.message, 'string', `${what}: says why`);
  }
  // Fields the API does not know are dropped: nobody books in someone else's name.
  const smuggled = await post({
    spaceId: 'desk-2',
    ...pick(hour),
    memberId: 'someone-else',
    status: 'checked_in',
  });
  t.equal(smuggled.status, 201);
  t.equal(smuggled.json.memberId, member.id, 'booked for the caller');
  t.equal(smuggled.json.status, 'booked');
  // With an offset instead of Z, the same instant.
  const berlin = new Date(hour.startMs + HOUR).toISOString().replace('Z', '+01:00');
  const answer = await post({ spaceId: 'desk-1', start: berlin, end: hour.end });
  t.equal(answer.status, 201, 'an offset is fine');
  t.equal(answer.json.start, hour.start);
});

t.test('members see only their own bookings; staff see all; cancelling', async (t) => {
  const { app, records, base } = await bookingApi(t);
  const ada = await signedInMember(app, records, 'member');
  const bob = await signedInMember(app, records, 'member');
  const facility = await signedInMember(app, records, 'facility');
  const a = await call(base, 'POST', '/api/bookings', ada.cookie, { spaceId: 'desk-1', ...pick(slot()) });
  const b = await call(base, 'POST', '/api/bookings', bob.cookie, { spaceId: 'desk-2', ...pick(slot()) });
  t.equal(a.status, 201);
  t.equal(b.status, 201);
  const adaId = a.json.id as string;
  const bobId = b.json.id as string;

  const ids = (answer: { json: Record<string, unknown> }) =>
    (answer.json.bookings as { id: string }[]).map((x) => x.id).sort();
  t.same(ids(await call(base, 'GET', '/api/bookings?mine=1', ada.cookie)), [adaId]);
  t.same(
    ids(await call(base, 'GET', '/api/bookings?mine=0', ada.cookie)),
    [adaId],
    'mine=0 changes nothing for a member',
  );
  t.same(ids(await call(base, 'GET', '/api/bookings', bob.cookie)), [bobId]);
  t.same(ids(await call(base, 'GET', '/api/bookings', facility.cookie)), [adaId, bobId].sort(), 'staff: all');
  t.same(
    ids(await call(base, 'GET', '/api/bookings?mine=1', facility.cookie)),
    [],
    'staff: mine=1 is their own',
  );

  // Availability names nobody for members; staff see whose.
  const day = `from=${encodeURIComponent(slot(-2).start)}&to=${encodeURIComponent(slot(3).start)}`;
  const seenByBob = await call(base, 'GET', `/api/spaces/desk-1/availability?${day}`, bob.cookie);
  t.equal(seenByBob.status, 200);
  t.same(seenByBob.json.busy, [{ start: slot().start, end: slot().end, mine: false }]);
  t.same(seenByBob.json.free, [
    { start: slot(-2).start, end: slot().start },
    { start: slot().end, end: slot(3).start },
  ]);
  t.notOk(seenByBob.text.includes(ada.member.id), "no trace of ada's id");
  const seenByAda = await call(base, 'GET', `/api/spaces/desk-1/availability?${day}`, ada.cookie);
  t.match(seenByAda.json.busy, [{ mine: true }]);
  const seenByStaff = await call(base, 'GET', `/api/spaces/desk-1/availability?${day}`, facility.cookie);
  t.match(seenByStaff.json.busy, [{ bookingId: adaId, memberId: ada.member.id }]);
  t.equal((await call(base, 'GET', '/api/spaces/cafe/availability', bob.cookie)).status, 404, 'not bookable');
  t.equal(
    (await call(base, 'GET', '/api/spaces/desk-1/availability?from=yesterday', bob.cookie)).status,
    400,
  );

  // Cancelling: someone else's id is 404, exactly like an unknown one.
  const other = await call(base, 'DELETE', `/api/bookings/${adaId}`, bob.cookie);
  t.equal(other.status, 404);
  const unknown = await call(
    base,
    'DELETE',
    '/api/bookings/00000000-0000-4000-8000-000000000000',
    bob.cookie,
  );
  t.equal(unknown.status, 404);
  t.same(Object.keys(other.json), Object.keys(unknown.json), 'answered exactly like an unknown id');
  t.equal((await call(base, 'DELETE', '/api/bookings/nope', bob.cookie)).status, 404);
  const own = await call(base, 'DELETE', `/api/bookings/${adaId}`, ada.cookie);
  t.equal(own.status, 200);
  t.equal(own.json.status, 'cancelled');
  t.equal((await call(base, 'DELETE', `/api/bookings/${adaId}`, ada.cookie)).status, 409, 'twice');
  const freed = await call(base, 'GET', `/api/spaces/desk-1/availability?${day}`, bob.cookie);
  t.same(freed.json.busy, [], 'the slot is free again');
  t.equal(
    (await call(base, 'POST', '/api/bookings', bob.cookie, { spaceId: 'desk-1', ...pick(slot()) })).status,
    201,
  );
  t.equal(
    (await call(base, 'DELETE', `/api/bookings/${bobId}`, facility.cookie)).status,
    200,
    'staff cancel any',
  );
});

t.test('spaces list and sign-in required', async (t) => {
  const { app, records, base } = await bookingApi(t);
  const { cookie } = await signedInMember(app, records, 'board');
  const spaces = await call(base, 'GET', '/api/spaces', cookie);
  t.equal(spaces.status, 200);
  const list = spaces.json.spaces as {
    id: string;
    hasLock: boolean;
    kind: string;
    maxLengthMinutes: number;
  }[];
  t.same(list.map((s) => s.id).sort(), ['desk-1', 'desk-2', 'protel-1']);
  t.same(
    spaces.json.site,
    { id: 'test-haus', name: 'Test <Haus>', timezone: 'Europe/Berlin' },
    'and the site',
  );

  // A plain member books from this list; the inventory (technical rooms, device ids = MQTT user names) is not theirs.
  const member = await signedInMember(app, records, 'member');
  const asMember = await call(base, 'GET', '/api/spaces', member.cookie);
  t.equal(asMember.status, 200);
  t.notMatch(
    JSON.stringify(asMember.json),
    /co2-cafe|meter-eg|lock-p1"|cafe"/,
    'no devices, no spaces that are not bookable',
  );
  t.equal(
    (await call(base, 'GET', '/api/site', member.cookie)).status,
    403,
    "the inventory is not a member's",
  );
  t.match(
    list.find((s) => s.id === 'protel-1'),
    { hasLock: true, kind: 'protel', maxLengthMinutes: 8 * 7 * 24 * 60 },
  );
  t.match(
    list.find((s) => s.id === 'desk-1'),
    { hasLock: false, kind: 'desk', maxLengthMinutes: 24 * 60 },
  );

  for (const [method, url] of [
    ['GET', '/api/spaces'],
    ['GET', '/api/spaces/desk-1/availability'],
    ['POST', '/api/bookings'],
    ['GET', '/api/bookings?mine=1'],
    ['DELETE', '/api/bookings/x'],
    ['GET', '/api/me/calendar.ics'],
    ['GET', '/api/me/calendar-token'],
    ['POST', '/api/me/calendar-token'],
    ['DELETE', '/api/me/calendar-token'],
  ] as const) {
    const answer = await call(base, method, url, undefined, method === 'POST' ? {} : undefined);
    t.equal(answer.status, 401, `${method} ${url} without sign-in`);
  }
  const spec = await app.inject({ method: 'GET', url: '/docs/json' });
  const paths = Object.keys(JSON.parse(spec.body).paths as object);
  for (const p of ['/api/spaces', '/api/bookings', '/api/bookings/{id}', '/api/me/calendar.ics'])
    t.ok(paths.includes(p), `OpenAPI documents ${p}`);
});

function events(ics: string) {
  const calendar = new ICAL.Component(ICAL.parse(ics));
  return calendar.getAllSubcomponents('vevent').map((v) => {
    const event = new ICAL.Event(v);
    return {
      uid: event.uid,
      summary: event.summary,
      start: event.startDate.toJSDate().getTime(),
      end: event.endDate.toJSDate().getTime(),
      status: v.getFirstPropertyValue('status'),
    };
  });
}

t.test('calendar feed: my bookings as iCalendar, by cookie and by a revocable token', async (t) => {
  const { app, records, base } = await bookingApi(t);
  const ada = await signedInMember(app, records, 'member');
  const bob = await signedInMember(app, records, 'member');
  const first = await call(base, 'POST', '/api/bookings', ada.cookie, { spaceId: 'desk-1', ...pick(slot()) });
  const second = await call(base, 'POST', '/api/bookings', ada.cookie, {
    spaceId: 'protel-1',
    ...pick(slot(24, 72)),
  });
  await call(base, 'POST', '/api/bookings', bob.cookie, { spaceId: 'desk-2', ...pick(slot()) });
  t.equal(first.status, 201);
  t.equal(second.status, 201);
  await call(base, 'DELETE', `/api/bookings/${first.json.id}`, ada.cookie);

  const mine = await call(base, 'GET', '/api/me/calendar.ics', ada.cookie);
  t.equal(mine.status, 200);
  t.match(mine.headers.get('content-type'), /^text\/calendar/);
  const found = events(mine.text).sort((x, y) => x.start - y.start);
  t.same(
    found.map((e) => [e.summary, e.start, e.end, e.status]),
    [
      ['Platz 1', slot().startMs, slot().endMs, 'CANCELLED'],
      ['Protel 1', slot(24).startMs, slot(24, 72).endMs, 'CONFIRMED'],
    ],
    "ada's two bookings, none of bob's",
  );
  t.match(found[1]?.uid, new RegExp(`^${second.json.id}@`));

  t.same(await call(base, 'GET', '/api/me/calendar-token', ada.cookie).then((a) => a.json), {
    active: false,
    issuedAt: null,
  });
  const issued = await call(base, 'POST', '/api/me/calendar-token', ada.cookie);
  t.equal(issued.status, 201);
  const feedPath = issued.json.path as string;
  t.match(feedPath, /^\/api\/calendar\/[A-Za-z0-9_-]{43}\.ics$/);
  const byToken = await call(base, 'GET', feedPath);
  t.equal(byToken.status, 200, 'no cookie needed');
  t.equal(events(byToken.text).length, 2);
  t.equal(byToken.headers.get('referrer-policy'), 'no-referrer');
  t.match(await call(base, 'GET', '/api/me/calendar-token', ada.cookie).then((a) => a.json), {
    active: true,
  });

  const bobFeed = (await call(base, 'POST', '/api/me/calendar-token', bob.cookie)).json.path as string;
  t.equal(events((await call(base, 'GET', bobFeed)).text).length, 1, "bob's token shows bob's booking only");

  const renewed = (await call(base, 'POST', '/api/me/calendar-token', ada.cookie)).json.path as string;
  t.equal((await call(base, 'GET', feedPath)).status, 404, 'the old link stops working');
  t.equal((await call(base, 'GET', renewed)).status, 200);
  t.equal((await call(base, 'DELETE', '/api/me/calendar-token', ada.cookie)).status, 204);
  t.equal((await call(base, 'GET', renewed)).status, 404, 'revoked');
  t.equal(
    (await call(base, 'DELETE', '/api/me/calendar-token', ada.cookie)).status,
    404,
    'nothing left to revoke',
  );
  for (const bad of ['x', 'A'.repeat(43), `${'A'.repeat(42)}!`, 'A'.repeat(70), '..%2F..%2Fetc'])
    t.equal((await call(base, 'GET', `/api/calendar/${bad}.ics`)).status, 404, `token "${bad}"`);
});

t.test('fuzzed bodies never answer 5xx', async (t) => {
  const { app, records, base } = await bookingApi(t);
  const { member, password } = await createTestMember(records, { role: 'member' });
  const cookie = await signIn(app, member.email, password);
  const hour = slot();
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const values: unknown[] = [
    null,
    true,
    0,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER,
    '',
    'desk-1',
    'x'.repeat(5000),
    'cafe',
    hour.start,
    hour.end,
    '9999-99-99T99:99Z',
    '2026-02-30T10:00Z',
    '+275760-09-13T00:00:00Z',
    '\u0000',
    [],
    [hour.start],
    {},
    { $gt: '' },
    { __proto__: { admin: true } },
  ];
  const any = () => values[Math.floor(random() * values.length)];
  const bodies: unknown[] = [
    '{',
    '[]',
    'null',
    '"text"',
    '{"spaceId":"desk-1","start":"2026-01-01T00:00Z","end":"2026-01-01T01:00Z","__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    { spaceId: 'desk-1', start: hour.end, end: hour.start },
    { spaceId: 'cafe', start: hour.start, end: hour.end },
  ];
  for (let i = 0; i < 150; i++) {
    const body: Record<string, unknown> = { spaceId: any(), start: any(), end: any() };
    if (random() < 0.3) delete body[['spaceId', 'start', 'end'][i % 3] as string];
    if (random() < 0.2) body[`k${i}`] = any();
    bodies.push(body);
  }
  const statuses = new Set<number>();
  for (const body of bodies) {
    const answer = await call(base, 'POST', '/api/bookings', cookie, body);
    statuses.add(answer.status);
    if (answer.status >= 500) t.fail(`5xx for ${JSON.stringify(body).slice(0, 200)}: ${answer.text}`);
  }
  for (const url of [
    '/api/bookings?from=%00&to=zz',
    `/api/bookings?from=${'9'.repeat(16)}`,
    '/api/bookings?from=0&to=1',
    '/api/spaces/DESK/availability',
    '/api/spaces/desk-1/availability?from=2026-01-01&to=2025-01-01',
    '/api/spaces/desk-1/availability?from=0&to=8640000000000001',
    `/api/bookings/${'x'.repeat(500)}`,
  ]) {
    const answer = await call(base, 'GET', url, cookie);
    statuses.add(answer.status);
    t.ok(answer.status < 500, `${url}: ${answer.status}`);
  }
  t.notOk(
    [...statuses].some((s) => s >= 500),
    `statuses seen: ${[...statuses].sort().join(', ')}`,
  );
  t.ok(statuses.has(400) && statuses.has(422), 'both malformed and rule-breaking bodies were tried');
  t.equal(Object.hasOwn(Object.prototype, 'polluted'), false, 'no prototype pollution');
});

t.test('the calendar token, a credential in the URL, stays out of the request log', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  const { app, records, base } = await bookingApi(t, logger);
  const { cookie } = await signedInMember(app, records, 'member');
  const issued = await call(base, 'POST', '/api/me/calendar-token', cookie);
  const token = issued.json.token as string;
  t.equal((await call(base, 'GET', issued.json.path as string)).status, 200);
  t.ok(
    lines.some((l) => l.includes('/api/me/calendar-token')),
    'requests are logged',
  );
  t.notOk(
    lines.some((l) => l.includes(token)),
    'but never the calendar token',
  );
});
