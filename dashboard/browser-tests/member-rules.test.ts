import t from 'tap';
import {
  DAY_MS,
  dayRange,
  endChoices,
  freeWithOwn,
  HOUR_MS,
  localDayKey,
  mayUnlockNow,
  splitByDay,
  startChoices,
  suggestedEnd,
} from '../src/pages/member/booking-times.ts';
import { eventBody, eventOn, holdsEvents } from '../src/pages/member/event-choices.ts';
import {
  changeFormStart,
  monthPlace,
  repeatChoices,
  seriesBody,
} from '../src/pages/member/series-choices.ts';
import { safeNextPath, signInProblem } from '../src/pages/member/sign-in.ts';
import { doorOutcome } from '../src/pages/member/unlock-answer.ts';

// The member page's pure rules (no browser needed), with expectations worked out by hand.

const BERLIN = 'Europe/Berlin';
const MIN = 60_000;

t.test('site-local days, including both DST days', async (t) => {
  // 23 Nov 2026 is CET (UTC+1): the local day runs 22 Nov 23:00 UTC to 23 Nov 23:00 UTC.
  t.same(dayRange('2026-11-23', BERLIN), {
    start: Date.UTC(2026, 10, 22, 23),
    end: Date.UTC(2026, 10, 23, 23),
  });
  // 29 Mar 2026: clocks go forward at 02:00, the day has 23 hours (CET midnight to CEST midnight).
  t.same(dayRange('2026-03-29', BERLIN), {
    start: Date.UTC(2026, 2, 28, 23),
    end: Date.UTC(2026, 2, 29, 22),
  });
  // 25 Oct 2026: clocks go back, 25 hours.
  t.same(dayRange('2026-10-25', BERLIN), {
    start: Date.UTC(2026, 9, 24, 22),
    end: Date.UTC(2026, 9, 25, 23),
  });
  t.equal(dayRange('23.11.2026', BERLIN), null, 'a malformed day is no day');
  // 23:30 UTC on the 22nd is already 00:30 on the 23rd in Berlin.
  t.equal(localDayKey(Date.UTC(2026, 10, 22, 23, 30), BERLIN), '2026-11-23');
  t.equal(localDayKey(Date.UTC(2026, 10, 22, 22, 59), BERLIN), '2026-11-22');
});

t.test('start choices: quarter hours in the free time, from the quarter running now', async (t) => {
  const day = dayRange('2026-11-23', BERLIN);
  if (!day) throw new Error('day');
  // Free 07:00-10:00 local = 06:00-09:00 UTC; now 08:20 local = 07:20 UTC, so 08:15 local is the first.
  const free = [{ start: Date.UTC(2026, 10, 23, 6), end: Date.UTC(2026, 10, 23, 9) }];
  const starts = startChoices(free, day, Date.UTC(2026, 10, 23, 7, 20));
  t.same(
    starts,
    [15, 30, 45, 60, 75, 90, 105].map((m) => Date.UTC(2026, 10, 23, 7) + m * MIN),
    'every quarter hour from 08:15 to 09:45 local',
  );
  t.equal(starts[0], Date.UTC(2026, 10, 23, 7, 15));
  t.equal(starts.at(-1), Date.UTC(2026, 10, 23, 8, 45), 'the last start leaves a quarter hour');
  t.same(startChoices(free, day, Date.UTC(2026, 10, 23, 9)), [], 'nothing once the free time is over');
  const morning = startChoices(free, day, Date.UTC(2026, 10, 22, 12));
  t.equal(morning.length, 12, 'a day ahead: the whole free time, 3 h in quarters');
});

t.test('end choices: inside the free time holding the start, no longer than allowed', async (t) => {
  const s = Date.UTC(2026, 10, 23, 8);
  const desk = endChoices(s, [{ start: Date.UTC(2026, 10, 23, 6), end: Date.UTC(2026, 10, 23, 10) }], DAY_MS);
  t.equal(desk.length, 8, '08:15 … 10:00 UTC');
  t.equal(desk[0], s + 15 * MIN);
  t.equal(desk.at(-1), Date.UTC(2026, 10, 23, 10), 'up to the end of the free time');
  t.same(endChoices(s, [{ start: s + HOUR_MS, end: s + 2 * HOUR_MS }], DAY_MS), [], 'not free at the start');

  // A Protel room free for 30 days and 2 hours, bookable for 8 weeks.
  const room = endChoices(s, [{ start: s, end: s + 30 * DAY_MS + 2 * HOUR_MS }], 56 * DAY_MS);
  // 48 quarter hours up to 12 h, 12 whole hours up to 24 h, whole days 2 … 30, then the end of the free time.
  t.equal(room.length, 48 + 12 + 29 + 1);
  t.equal(room[47], s + 12 * HOUR_MS);
  t.equal(room[48], s + 13 * HOUR_MS);
  t.equal(room[59], s + DAY_MS);
  t.equal(room[60], s + 2 * DAY_MS);
  t.equal(room.at(-2), s + 30 * DAY_MS);
  t.equal(room.at(-1), s + 30 * DAY_MS + 2 * HOUR_MS);
  const capped = endChoices(s, [{ start: s, end: s + 30 * DAY_MS }], 3 * HOUR_MS);
  t.equal(capped.at(-1), s + 3 * HOUR_MS, 'never longer than the kind allows');

  t.equal(suggestedEnd(s, desk, DAY_MS), s + 2 * HOUR_MS, 'a desk for two hours');
  t.equal(suggestedEnd(s, room, 56 * DAY_MS), s + DAY_MS, 'a Protel room for a day');
  t.equal(suggestedEnd(s, [s + 15 * MIN], DAY_MS), s + 15 * MIN, 'the longest that fits');
});

t.test('a booking being moved counts its own time as free', async (t) => {
  const at = (h: number) => Date.UTC(2027, 3, 2, h);
  // Free 9-11 and 12-20, the booking itself 11-12: one free stretch 9-20.
  t.same(
    freeWithOwn(
      [
        { start: at(9), end: at(11) },
        { start: at(12), end: at(20) },
      ],
      { start: at(11), end: at(12) },
    ),
    [{ start: at(9), end: at(20) }],
  );
  // Someone else holds 12-13: the booking's time joins the free time before it only.
  t.same(
    freeWithOwn(
      [
        { start: at(13), end: at(20) },
        { start: at(9), end: at(11) },
      ],
      { start: at(11), end: at(12) },
    ),
    [
      { start: at(9), end: at(12) },
      { start: at(13), end: at(20) },
    ],
  );
  // Nothing else free: only its own time.
  t.same(freeWithOwn([], { start: at(11), end: at(12) }), [{ start: at(11), end: at(12) }]);
});

t.test("today's and upcoming bookings, and when the door may open", async (t) => {
  const now = Date.UTC(2026, 10, 23, 12); // 13:00 in Berlin
  const at = (day: number, hour: number) => Date.UTC(2026, 10, day, hour);
  const bookings = [
    { id: 'tomorrow', start: at(24, 8), end: at(24, 10), status: 'booked' },
    { id: 'later-today', start: at(23, 13), end: at(23, 15), status: 'booked' },
    { id: 'over', start: at(23, 7), end: at(23, 8), status: 'checked_in' },
    { id: 'cancelled', start: at(23, 14), end: at(23, 15), status: 'cancelled' },
    { id: 'since-yesterday', start: at(22, 9), end: at(25, 9), status: 'checked_in' },
    { id: 'released', start: at(23, 11), end: at(23, 13), status: 'released' },
    // 23:30 Berlin today, still today; 00:00 Berlin tomorrow is 23:00 UTC today.
    { id: 'late', start: Date.UTC(2026, 10, 23, 22, 30), end: at(23, 23), status: 'booked' },
    { id: 'midnight', start: at(23, 23), end: at(24, 1), status: 'booked' },
  ];
  const split = splitByDay(bookings, now, BERLIN);
  t.same(
    split.today.map((b) => b.id),
    ['since-yesterday', 'later-today', 'late'],
  );
  t.same(
    split.upcoming.map((b) => b.id),
    ['midnight', 'tomorrow'],
  );

  const grace = 10 * MIN;
  const starting = (minutes: number) => ({
    start: now + minutes * MIN,
    end: now + 2 * HOUR_MS,
    status: 'booked',
  });
  t.ok(mayUnlockNow(starting(10), now, grace), 'from ten minutes before');
  t.notOk(mayUnlockNow(starting(11), now, grace), 'not eleven minutes before');
  t.ok(mayUnlockNow(starting(-60), now, grace), 'while it runs');
  t.notOk(mayUnlockNow({ start: now - HOUR_MS, end: now, status: 'booked' }, now, grace), 'not at its end');
  t.notOk(mayUnlockNow({ ...starting(-60), status: 'cancelled' }, now, grace), 'not cancelled');
});

t.test('after sign-in only to our own pages', async (t) => {
  const origin = 'https://kaufhaus.example';
  const pages = new Set(['/facility', '/board/report', '/lobby']);
  const isPage = (p: string) => pages.has(p);
  t.equal(safeNextPath('/facility', origin, isPage), '/facility');
  t.equal(safeNextPath('/board/report?period=2026-10', origin, isPage), '/board/report?period=2026-10');
  t.equal(safeNextPath('/facility#alerts', origin, isPage), '/facility#alerts');
  for (const foreign of [
    'https://evil.example/facility',
    '//evil.example/facility',
    '/\\evil.example/facility',
    'javascript:alert(1)',
    'facility',
    '/%2F%2Fevil.example',
    '/api/me',
    '',
  ]) {
    t.equal(safeNextPath(foreign, origin, isPage), null, `refused: ${foreign}`);
  }
  t.equal(safeNextPath(null, origin, isPage), null);
});

t.test('what a refused sign-in means', async (t) => {
  t.same(signInProblem(401, 'e-mail or password is wrong'), { kind: 'wrong' });
  t.same(
    signInProblem(429, 'too many failed sign-ins for this account from this address; try again in 5 s'),
    { kind: 'waiting', seconds: 5 },
  );
  t.same(signInProblem(429, 'too many failed sign-ins from this address; try again in 15 min'), {
    kind: 'waiting',
    seconds: 900,
  });
  t.same(signInProblem(429, 'too many failed sign-ins'), { kind: 'waiting', seconds: null });
  t.same(signInProblem(429, 'Rate limit exceeded, retry in 1 minute'), { kind: 'rate_limited', minutes: 1 });
  t.same(signInProblem(429, 'slow down'), { kind: 'rate_limited', minutes: null });
  t.same(signInProblem(400, 'body/email must NOT have fewer than 1 characters'), { kind: 'invalid' });
  t.same(signInProblem(503, 'internal error'), { kind: 'unavailable', detail: 'internal error' });
});

t.test('what the door did, from any answer of the unlock route', async (t) => {
  t.same(doorOutcome(200, { result: 'unlocked', space: 'a', reason: 'booking' }), { kind: 'opened' });
  t.same(doorOutcome(403, { result: 'denied', space: 'a', reason: 'not_your_space' }), {
    kind: 'refused',
    reason: 'not_your_space',
  });
  t.same(doorOutcome(503, { result: 'lock_offline', space: 'a' }), { kind: 'lock_offline' });
  t.same(doorOutcome(504, { result: 'timeout', space: 'a' }), { kind: 'timeout' });
  t.same(doorOutcome(502, { result: 'failed', space: 'a' }), { kind: 'failed' });
  t.same(doorOutcome(429, { result: 'rate_limited', space: 'a', retryAfterS: 7 }), {
    kind: 'rate_limited',
    seconds: 7,
  });
  t.same(doorOutcome(401, { statusCode: 401, error: 'Unauthorized', message: 'sign in first' }), {
    kind: 'signed_out',
  });
  t.same(doorOutcome(404, { statusCode: 404, error: 'Not Found', message: 'no space "x"' }), {
    kind: 'error',
    detail: 'no space "x"',
  });
  t.same(doorOutcome(500, null), { kind: 'error', detail: 'HTTP 500' });
});

t.test('series choices from the first date: a fifth Thursday repeats only as the last', async (t) => {
  t.same(monthPlace('2026-12-31'), { weekday: 4, nth: 5, isLast: true });
  t.same(monthPlace('2026-12-24'), { weekday: 4, nth: 4, isLast: false });
  t.same(monthPlace('2027-02-25'), { weekday: 4, nth: 4, isLast: true }, 'February 2027 has four Thursdays');
  t.same(repeatChoices('2026-12-31'), ['week', 'weeks', 'month_last']);
  t.same(repeatChoices('2026-12-24'), ['week', 'weeks', 'month_nth']);
  t.same(repeatChoices('2027-02-25'), ['week', 'weeks', 'month_nth', 'month_last']);
  const form = {
    spaceId: 'hall',
    firstDate: '2027-02-25',
    start: '18:00',
    end: '21:00',
    interval: 3,
    endsBy: 'count' as const,
    until: '',
    count: 4,
  };
  t.same(seriesBody({ ...form, repeat: 'month_last' }), {
    spaceId: 'hall',
    firstDate: '2027-02-25',
    start: '18:00',
    end: '21:00',
    every: 'month',
    ordinal: -1,
    weekday: 4,
    count: 4,
  });
  t.match(seriesBody({ ...form, repeat: 'month_nth' }), { every: 'month', ordinal: 4, weekday: 4 });
  t.match(seriesBody({ ...form, repeat: 'weeks' }), { every: 'week', interval: 3 });
  t.match(seriesBody({ ...form, repeat: 'week', endsBy: 'until', until: '2027-06-30' }), {
    every: 'week',
    interval: 1,
    until: '2027-06-30',
  });
});

t.test(
  'changing a series from a date on starts the form on that date, at its time in the series',
  async (t) => {
    t.same(
      changeFormStart({
        seriesId: 's',
        occurrence: '2027-03-26T11:00',
        spaceId: 'hall',
        durationMinutes: 90,
      }),
      { spaceId: 'hall', firstDate: '2027-03-26', start: '11:00', end: '12:30' },
    );
    t.same(
      changeFormStart({
        seriesId: 's',
        occurrence: '2027-03-26T22:30',
        spaceId: 'hall',
        durationMinutes: 120,
      }).end,
      '24:00',
      'never past the end of the day',
    );
  },
);
t.test('making an event of a booking: which rooms, which bookings carry one, the body sent', async (t) => {
  t.ok(holdsEvents('hall'), 'the discourse space');
  t.ok(holdsEvents('meeting_room'));
  t.ok(holdsEvents('protel'));
  t.notOk(holdsEvents('desk'), 'not a desk');
  t.notOk(holdsEvents('desk_area'));
  t.notOk(holdsEvents('locker'));
  t.notOk(holdsEvents(undefined), 'a room the page does not know');

  const events = [
    { title: 'Vortrag', bookingId: 'b1', seriesId: null },
    { title: 'Treffen', bookingId: null, seriesId: 's1' },
  ];
  t.equal(eventOn({ id: 'b1', seriesId: null }, events), 'Vortrag');
  t.equal(eventOn({ id: 'b7', seriesId: 's1' }, events), 'Treffen', "a date of the event's series");
  t.equal(eventOn({ id: 'b2', seriesId: null }, events), undefined);
  t.equal(eventOn({ id: 'b3', seriesId: 's2' }, events), undefined);

  const input = {
    title: 'Treffen',
    description: '',
    capacity: 12,
    visibility: 'public' as const,
    scope: 'series' as const,
  };
  t.same(eventBody({ id: 'b7', seriesId: 's1' }, input), {
    title: 'Treffen',
    description: '',
    capacity: 12,
    visibility: 'public',
    seriesId: 's1',
  });
  t.same(eventBody({ id: 'b7', seriesId: 's1' }, { ...input, scope: 'date', capacity: null }), {
    title: 'Treffen',
    description: '',
    capacity: null,
    visibility: 'public',
    bookingId: 'b7',
  });
  t.match(
    eventBody({ id: 'b1', seriesId: null }, { ...input, capacity: undefined }),
    {
      bookingId: 'b1',
      capacity: null,
    },
    'a single booking, whatever the scope; an empty field: no limit',
  );
  t.match(eventBody({ id: 'b1', seriesId: null }, { ...input, capacity: Number.NaN }), { capacity: null });
});
