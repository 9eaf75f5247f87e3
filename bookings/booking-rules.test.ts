import t from 'tap';
import { fromLocal, toLocal, utcOffsetMs } from '../site/local-time.ts';
import type { SpaceConfig } from '../site/site.ts';
import {
  checkBookingRequest,
  DAY_MS,
  DEFAULT_POLICY,
  freeSlots,
  HOUR_MS,
  isBookable,
  mergeIntervals,
  openingIntervals,
  overlaps,
  WEEK_MS,
  withinOpeningHours,
} from './booking-rules.ts';

const TZ = 'Europe/Berlin';
const at = (iso: string) => Date.parse(iso);

const desk: SpaceConfig = {
  id: 'desk-1',
  name: 'Platz 1',
  floor: 'og1',
  kind: 'desk',
  area_m2: 6,
  capacity: 1,
  bookable: true,
  opening_hours: [
    { days: [1, 2, 3, 4, 5], open: '07:00', close: '22:00' },
    { days: [6], open: '09:00', close: '18:00' },
  ],
};
const protel: SpaceConfig = {
  id: 'protel-1',
  name: 'Protel 1',
  floor: 'og2',
  kind: 'protel',
  area_m2: 30,
  bookable: true,
  opening_hours: [{ days: [1, 2, 3, 4, 5, 6, 7], open: '00:00', close: '24:00' }],
};
const hall: SpaceConfig = {
  id: 'hall',
  name: 'Diskursraum',
  floor: 'eg',
  kind: 'hall',
  area_m2: 600,
  bookable: true,
  opening_hours: [
    { days: [1, 2, 3, 4, 5, 6], open: '09:00', close: '22:00' },
    { days: [7], open: '11:00', close: '18:00' },
  ],
};
// Monday 2 March 2026, 08:00 in Berlin (winter time, UTC+1).
const NOW = at('2026-03-02T07:00:00Z');

t.test('local time in Berlin, both DST changes of 2026', async (t) => {
  t.equal(utcOffsetMs(at('2026-01-15T12:00:00Z'), TZ), HOUR_MS, 'winter: +1 h');
  t.equal(utcOffsetMs(at('2026-07-15T12:00:00Z'), TZ), 2 * HOUR_MS, 'summer: +2 h');
  t.equal(fromLocal({ year: 2026, month: 3, day: 2 }, 7 * 60, TZ), at('2026-03-02T06:00:00Z'));
  t.equal(fromLocal({ year: 2026, month: 7, day: 1 }, 7 * 60, TZ), at('2026-07-01T05:00:00Z'));
  t.equal(
    fromLocal({ year: 2026, month: 3, day: 2 }, 24 * 60, TZ),
    at('2026-03-02T23:00:00Z'),
    '24:00 is next midnight',
  );
  // 29 March 2026 02:00 -> 03:00: 02:30 does not exist and moves forward by the gap.
  t.equal(fromLocal({ year: 2026, month: 3, day: 29 }, 150, TZ), at('2026-03-29T01:30:00Z'));
  // 25 October 2026 03:00 -> 02:00: 02:30 happens twice; the earlier one (still summer time) is taken.
  t.equal(fromLocal({ year: 2026, month: 10, day: 25 }, 150, TZ), at('2026-10-25T00:30:00Z'));
  t.same(toLocal(at('2026-03-29T01:30:00Z'), TZ), {
    year: 2026,
    month: 3,
    day: 29,
    hour: 3,
    minute: 30,
    weekday: 7,
  });
  t.same(toLocal(at('2026-03-01T23:30:00Z'), TZ), {
    year: 2026,
    month: 3,
    day: 2,
    hour: 0,
    minute: 30,
    weekday: 1,
  });
});

t.test('a valid desk booking, and each rule broken once', async (t) => {
  const ok = { start: at('2026-03-02T08:00:00Z'), end: at('2026-03-02T10:00:00Z') };
  t.same(checkBookingRequest(desk, ok, NOW, TZ), { ok: true });

  const reason = (space: SpaceConfig, start: string, end: string, now = NOW) => {
    const v = checkBookingRequest(space, { start: at(start), end: at(end) }, now, TZ);
    return v.ok ? 'ok' : v.reason;
  };
  t.equal(reason(desk, '2026-03-02T10:00:00Z', '2026-03-02T10:00:00Z'), 'end_not_after_start');
  t.equal(reason(desk, '2026-03-02T10:00:00Z', '2026-03-02T09:00:00Z'), 'end_not_after_start');
  t.equal(reason(desk, '2026-03-02T08:10:00Z', '2026-03-02T09:00:00Z'), 'not_on_quarter_hour');
  t.equal(reason(desk, '2026-03-02T08:00:00Z', '2026-03-02T09:00:30Z'), 'not_on_quarter_hour');
  t.equal(reason(desk, '2026-03-02T06:30:00Z', '2026-03-02T08:00:00Z'), 'start_in_past', '30 min before now');
  t.equal(reason(desk, '2026-03-02T06:45:00Z', '2026-03-02T08:00:00Z'), 'ok', 'the 15 min tolerance');
  t.equal(
    reason(desk, '2026-03-02T07:00:00Z', '2026-03-02T08:00:00Z', NOW + 14 * 60_000),
    'ok',
    'current quarter',
  );
  t.equal(reason(desk, '2027-03-08T08:00:00Z', '2027-03-08T09:00:00Z'), 'too_far_ahead');
  t.equal(reason(desk, '2026-03-02T08:00:00Z', '2026-03-03T08:15:00Z'), 'too_long');
  t.equal(
    reason(desk, '2026-03-02T20:00:00Z', '2026-03-02T21:15:00Z'),
    'outside_opening_hours',
    'past 22:00',
  );
  t.equal(
    reason(desk, '2026-03-02T05:45:00Z', '2026-03-02T07:00:00Z', at('2026-03-01T12:00:00Z')),
    'outside_opening_hours',
  );
  t.equal(
    reason(desk, '2026-03-08T10:00:00Z', '2026-03-08T11:00:00Z'),
    'outside_opening_hours',
    'closed on Sunday',
  );
  t.equal(
    reason(desk, '2026-03-02T20:00:00Z', '2026-03-03T07:00:00Z'),
    'outside_opening_hours',
    'across the night',
  );
  t.equal(reason(desk, '2026-03-07T08:00:00Z', '2026-03-07T17:00:00Z'), 'ok', 'Saturday 09:00–18:00');
  t.equal(
    reason(desk, '2026-03-07T07:45:00Z', '2026-03-07T09:00:00Z'),
    'outside_opening_hours',
    'Saturday 08:45',
  );

  const cafe: SpaceConfig = {
    id: 'cafe',
    name: 'Café',
    floor: 'eg',
    kind: 'cafe',
    area_m2: 100,
    bookable: true,
  };
  t.equal(
    reason(cafe, '2026-03-02T08:00:00Z', '2026-03-02T09:00:00Z'),
    'space_not_bookable',
    'a café is not bookable',
  );
  t.equal(
    reason({ ...desk, bookable: false }, '2026-03-02T08:00:00Z', '2026-03-02T09:00:00Z'),
    'space_not_bookable',
  );
  t.equal(
    reason({ ...desk, bookable: undefined }, '2026-03-02T08:00:00Z', '2026-03-02T09:00:00Z'),
    'space_not_bookable',
  );
  t.equal(reason(desk, 'not a date', '2026-03-02T09:00:00Z'), 'invalid_time');

  const refused = checkBookingRequest(desk, { start: ok.start, end: ok.start + 2 * DAY_MS }, NOW, TZ);
  t.match(refused, { ok: false, reason: 'too_long', message: /desk can be booked for at most 1 day/ });
});

t.test('Protel rooms for days and weeks, across a DST change', async (t) => {
  // Sunday 22 March 00:00 to Sunday 5 April 00:00 Berlin: two weeks, the clocks change on 29 March.
  const start = fromLocal({ year: 2026, month: 3, day: 22 }, 0, TZ);
  const end = fromLocal({ year: 2026, month: 4, day: 5 }, 0, TZ);
  t.equal(end - start, 2 * WEEK_MS - HOUR_MS, 'two local weeks are an hour short of 14 × 24 h');
  t.same(checkBookingRequest(protel, { start, end }, NOW, TZ), { ok: true });
  t.equal(openingIntervals(protel, { start, end }, TZ).length, 1, 'open round the clock is one stretch');
  const tooLong = checkBookingRequest(protel, { start, end: start + 8 * WEEK_MS + DAY_MS }, NOW, TZ);
  t.match(tooLong, { ok: false, reason: 'too_long', message: /8 weeks/ });
  t.same(
    checkBookingRequest(protel, { start, end: start + DEFAULT_POLICY.maxLengthMs.protel }, NOW, TZ),
    { ok: true },
    'exactly the maximum is allowed',
  );
});

t.test("New Year's Eve 23:50: across midnight and the year, the quarter hour that has begun", async (t) => {
  const eve = at('2026-12-31T22:50:00Z'); // Thursday 23:50 in Berlin
  const start = at('2026-12-31T22:45:00Z'); // 23:45, begun five minutes ago
  const end = at('2027-01-01T00:45:00Z'); // 01:45 on New Year's Day
  t.same(
    checkBookingRequest(protel, { start, end }, eve, TZ),
    { ok: true },
    'a Protel room into the new year',
  );
  t.match(checkBookingRequest(desk, { start, end }, eve, TZ), { ok: false, reason: 'outside_opening_hours' });
  // The desk opens again at 07:00 on Friday 1 January (the site file knows no holidays).
  const friday = openingIntervals(desk, { start: eve, end: eve + DAY_MS }, TZ).find((i) => i.start > eve);
  t.equal(friday?.start, at('2027-01-01T06:00:00Z'));
  t.match(checkBookingRequest(protel, { start: start - 15 * 60_000, end }, eve, TZ), {
    ok: false,
    reason: 'start_in_past',
  });
});

t.test('opening hours follow local time through DST', async (t) => {
  // Sunday 29 March 2026 (the spring change): the hall opens 11:00 CEST = 09:00 UTC.
  const day = { start: at('2026-03-28T23:00:00Z'), end: at('2026-03-29T22:00:00Z') };
  t.same(openingIntervals(hall, day, TZ), [
    { start: at('2026-03-29T09:00:00Z'), end: at('2026-03-29T16:00:00Z') },
  ]);
  t.ok(withinOpeningHours(hall, { start: at('2026-03-29T09:00:00Z'), end: at('2026-03-29T16:00:00Z') }, TZ));
  t.notOk(
    withinOpeningHours(hall, { start: at('2026-03-29T08:45:00Z'), end: at('2026-03-29T10:00:00Z') }, TZ),
  );
  // Sunday 1 March (winter): 11:00 CET = 10:00 UTC.
  t.notOk(
    withinOpeningHours(hall, { start: at('2026-03-01T09:00:00Z'), end: at('2026-03-01T10:00:00Z') }, TZ),
  );
  t.ok(withinOpeningHours(hall, { start: at('2026-03-01T10:00:00Z'), end: at('2026-03-01T17:00:00Z') }, TZ));

  const night: SpaceConfig = { ...hall, opening_hours: [{ days: [5], open: '20:00', close: '02:00' }] };
  // Friday 6 March 20:00 to Saturday 02:00 Berlin.
  t.ok(withinOpeningHours(night, { start: at('2026-03-06T19:00:00Z'), end: at('2026-03-07T01:00:00Z') }, TZ));
  t.notOk(
    withinOpeningHours(night, { start: at('2026-03-06T19:00:00Z'), end: at('2026-03-07T01:15:00Z') }, TZ),
  );

  const always: SpaceConfig = { ...hall, opening_hours: undefined };
  t.ok(
    withinOpeningHours(always, { start: at('2026-03-01T02:00:00Z'), end: at('2026-03-01T03:00:00Z') }, TZ),
  );
});

t.test('overlap: half-open intervals', async (t) => {
  const a = { start: 10, end: 20 };
  t.ok(overlaps(a, { start: 15, end: 25 }));
  t.ok(overlaps(a, { start: 5, end: 11 }));
  t.ok(overlaps(a, { start: 12, end: 13 }), 'inside');
  t.ok(overlaps(a, { start: 0, end: 30 }), 'around');
  t.ok(overlaps(a, a), 'same');
  t.notOk(overlaps(a, { start: 20, end: 30 }), 'adjacent after');
  t.notOk(overlaps(a, { start: 0, end: 10 }), 'adjacent before');
  t.notOk(overlaps(a, { start: 30, end: 40 }));
});

t.test('free slots are the open time minus the busy time', async (t) => {
  t.same(
    mergeIntervals([
      { start: 5, end: 8 },
      { start: 0, end: 5 },
      { start: 9, end: 9 },
    ]),
    [{ start: 0, end: 8 }],
  );
  const open = [
    { start: 0, end: 100 },
    { start: 200, end: 300 },
  ];
  const busy = [
    { start: 10, end: 20 },
    { start: 15, end: 30 },
    { start: 90, end: 210 },
  ];
  t.same(freeSlots(open, busy, { start: 5, end: 250 }), [
    { start: 5, end: 10 },
    { start: 30, end: 90 },
    { start: 210, end: 250 },
  ]);
  t.same(freeSlots(open, [], { start: 0, end: 300 }), open);
  t.same(freeSlots(open, [{ start: 0, end: 300 }], { start: 0, end: 300 }), []);
});

t.test('bookable kinds', async (t) => {
  for (const kind of ['desk', 'meeting_room', 'protel', 'office', 'hall'] as const)
    t.ok(isBookable({ ...desk, kind }), kind);
  for (const kind of ['desk_area', 'cafe', 'locker', 'circulation', 'technical'] as const)
    t.notOk(isBookable({ ...desk, kind }), kind);
});

t.test("a guest from another house books only the kinds that house's file opens to their home", async (t) => {
  const rules = [
    { from: ['nord'], kinds: ['desk', 'hall'] },
    { from: ['*'], kinds: ['desk'] },
  ];
  const ok = { start: at('2026-03-02T08:00:00Z'), end: at('2026-03-02T10:00:00Z') };
  const asGuest = (space: SpaceConfig, from: string, guestRules: typeof rules | undefined) => {
    const v = checkBookingRequest(space, ok, NOW, TZ, undefined, { guest: { from, rules: guestRules } });
    return v.ok ? 'ok' : v.reason;
  };
  t.equal(asGuest(desk, 'nord', rules), 'ok', 'desks: yes');
  t.equal(asGuest(desk, 'lindenau', rules), 'ok', '`*`: members of every other house');
  t.equal(asGuest(hall, 'nord', rules), 'ok', 'the hall: to Nord only');
  t.equal(asGuest(hall, 'lindenau', rules), 'not_open_to_guests');
  t.equal(asGuest(protel, 'nord', rules), 'not_open_to_guests', 'Protel rooms: no');
  const late = { start: at('2026-03-02T21:00:00Z'), end: at('2026-03-02T22:00:00Z') };
  t.match(
    checkBookingRequest(hall, late, NOW, TZ, undefined, { guest: { from: 'nord', rules } }),
    { ok: false, reason: 'outside_opening_hours' },
    'opened to a guest, and then the usual rules',
  );
  t.equal(asGuest(desk, 'nord', undefined), 'not_open_to_guests', 'a house without guest rules takes none');
  t.same(checkBookingRequest(protel, ok, NOW, TZ), { ok: true }, "the house's own members: as before");
  const refused = checkBookingRequest(protel, ok, NOW, TZ, undefined, { guest: { from: 'nord', rules } });
  t.match(refused, { ok: false, message: /members of nord may not book a protel here/ });
});
