import t from 'tap';
import { toLocal } from '../site/local-time.ts';
import type { SpaceConfig } from '../site/site.ts';
import { HOUR_MS } from './booking-rules.ts';
import {
  checkSeriesDates,
  conflictingDates,
  expandSeries,
  MAX_OCCURRENCES,
  nthWeekdayOfMonth,
  planSeries,
  planSeriesChange,
  type SeriesRequest,
  seriesEndingBefore,
} from './series-rules.ts';

const TZ = 'Europe/Berlin';
const at = (iso: string) => Date.parse(iso);
const utc = (ms: number) => new Date(ms).toISOString().slice(0, 16);

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

const planned = (request: SeriesRequest) => {
  const verdict = planSeries(request, TZ);
  if (!verdict.ok) throw new Error(verdict.message);
  return verdict;
};

t.test('weekly on Friday 11:00 across the spring change of 2027 stays 11:00 in Berlin', async (t) => {
  const series = planned({
    firstDate: { year: 2027, month: 3, day: 19 },
    startMinute: 11 * 60,
    durationMinutes: 90,
    pattern: { every: 'week', interval: 1 },
    end: { count: 3 },
  });
  t.equal(series.rule.rrule, 'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;COUNT=3');
  t.equal(series.rule.firstStart, '2027-03-19T11:00');
  t.same(
    series.occurrences.map((o) => [o.local, utc(o.start), utc(o.end)]),
    [
      ['2027-03-19T11:00', '2027-03-19T10:00', '2027-03-19T11:30'], // CET, UTC+1
      ['2027-03-26T11:00', '2027-03-26T10:00', '2027-03-26T11:30'],
      ['2027-04-02T11:00', '2027-04-02T09:00', '2027-04-02T10:30'], // CEST, UTC+2 after 28 March
    ],
  );
});

t.test('a Sunday series on the day of the change itself, and a start the change skips', async (t) => {
  const noon = planned({
    firstDate: { year: 2027, month: 3, day: 21 },
    startMinute: 12 * 60,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 1 },
    end: { count: 2 },
  });
  t.same(
    noon.occurrences.map((o) => utc(o.start)),
    ['2027-03-21T11:00', '2027-03-28T10:00'],
  );
  // 02:30 does not exist on 28 March 2027: moved forward by the gap (03:30 CEST = 01:30Z), one hour long.
  const night = planned({
    firstDate: { year: 2027, month: 3, day: 21 },
    startMinute: 2 * 60 + 30,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 1 },
    end: { count: 2 },
  });
  const skipped = night.occurrences[1];
  t.equal(skipped?.local, '2027-03-28T02:30');
  t.equal(utc(skipped?.start ?? 0), '2027-03-28T01:30');
  t.equal(utc(skipped?.end ?? 0), '2027-03-28T01:30', 'the hour 02:30-03:30 that does not exist is empty');
  // And back in autumn: 31 October 2027, 11:00 CET = 10:00Z.
  const autumn = planned({
    firstDate: { year: 2027, month: 10, day: 24 },
    startMinute: 11 * 60,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 1 },
    end: { count: 2 },
  });
  t.same(
    autumn.occurrences.map((o) => utc(o.start)),
    ['2027-10-24T09:00', '2027-10-31T10:00'],
  );
});

t.test('every second week, until a date (inclusive), across New Year', async (t) => {
  const series = planned({
    firstDate: { year: 2026, month: 12, day: 18 },
    startMinute: 11 * 60,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 2 },
    end: { until: { year: 2027, month: 1, day: 29 } },
  });
  t.match(series.rule.rrule, /^FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;UNTIL=20270129T225959Z$/);
  t.same(
    series.occurrences.map((o) => o.local),
    ['2026-12-18T11:00', '2027-01-01T11:00', '2027-01-15T11:00', '2027-01-29T11:00'],
  );
});

t.test('the last Thursday of a month: December 2026 has five, and the fifth is New Year’s Eve', async (t) => {
  t.same(nthWeekdayOfMonth(2026, 12, -1, 4), { year: 2026, month: 12, day: 31 });
  t.same(nthWeekdayOfMonth(2026, 12, 4, 4), { year: 2026, month: 12, day: 24 });
  t.same(nthWeekdayOfMonth(2027, 2, 1, 1), { year: 2027, month: 2, day: 1 });
  t.same(nthWeekdayOfMonth(2027, 2, -1, 7), { year: 2027, month: 2, day: 28 });
  const evening = planned({
    // Asked from 1 December: the first date is the last Thursday, 31 December.
    firstDate: { year: 2026, month: 12, day: 1 },
    startMinute: 18 * 60,
    durationMinutes: 180,
    pattern: { every: 'month', ordinal: -1, weekday: 4 },
    end: { count: 4 },
  });
  t.equal(evening.rule.rrule, 'FREQ=MONTHLY;BYDAY=-1TH;COUNT=4');
  t.same(
    evening.occurrences.map((o) => [o.local, utc(o.start)]),
    [
      ['2026-12-31T18:00', '2026-12-31T17:00'],
      ['2027-01-28T18:00', '2027-01-28T17:00'],
      ['2027-02-25T18:00', '2027-02-25T17:00'],
      ['2027-03-25T18:00', '2027-03-25T17:00'],
    ],
  );
  const april = planned({
    firstDate: { year: 2027, month: 3, day: 26 },
    startMinute: 18 * 60,
    durationMinutes: 180,
    pattern: { every: 'month', ordinal: -1, weekday: 4 },
    end: { count: 1 },
  });
  t.same(
    april.occurrences.map((o) => [o.local, utc(o.start)]),
    [['2027-04-29T18:00', '2027-04-29T16:00']],
    'asked after March’s last Thursday: April’s, in summer time',
  );
  const workshop = planned({
    firstDate: { year: 2027, month: 1, day: 1 },
    startMinute: 10 * 60,
    durationMinutes: 120,
    pattern: { every: 'month', ordinal: 2, weekday: 6 },
    end: { count: 3 },
  });
  t.same(
    workshop.occurrences.map((o) => o.local),
    ['2027-01-09T10:00', '2027-02-13T10:00', '2027-03-13T10:00'],
    'the second Saturday',
  );
});

t.test('malformed or too long series are refused with a reason', async (t) => {
  const base: SeriesRequest = {
    firstDate: { year: 2027, month: 1, day: 8 },
    startMinute: 11 * 60,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 1 },
    end: { count: 4 },
  };
  const reason = (request: SeriesRequest) => {
    const verdict = planSeries(request, TZ);
    return verdict.ok ? 'ok' : verdict.reason;
  };
  t.equal(reason(base), 'ok');
  t.equal(reason({ ...base, firstDate: { year: 2027, month: 2, day: 30 } }), 'invalid_series');
  t.equal(reason({ ...base, startMinute: 24 * 60 }), 'invalid_series');
  t.equal(reason({ ...base, durationMinutes: 0 }), 'invalid_series');
  t.equal(reason({ ...base, pattern: { every: 'week', interval: 0 } }), 'invalid_series');
  t.equal(reason({ ...base, pattern: { every: 'month', ordinal: 5 as 1, weekday: 4 } }), 'invalid_series');
  t.equal(reason({ ...base, pattern: { every: 'month', ordinal: 1, weekday: 8 } }), 'invalid_series');
  t.equal(reason({ ...base, end: { count: 0 } }), 'invalid_series');
  t.equal(reason({ ...base, end: { count: MAX_OCCURRENCES + 1 } }), 'series_too_long');
  t.equal(reason({ ...base, end: { until: { year: 2028, month: 12, day: 31 } } }), 'series_too_long');
  t.equal(reason({ ...base, end: { until: { year: 2027, month: 1, day: 7 } } }), 'series_empty');
});

t.test('each date checked like a single booking: opening hours bind members, not staff', async (t) => {
  const now = at('2026-12-13T21:50:00Z');
  const evening = planned({
    firstDate: { year: 2026, month: 12, day: 17 },
    startMinute: 19 * 60,
    durationMinutes: 4 * 60, // until 23:00, past closing at 22:00
    pattern: { every: 'week', interval: 1 },
    end: { count: 3 },
  });
  const member = checkSeriesDates(hall, evening.occurrences, now, TZ, { openingHoursBind: true });
  t.same(
    member.map((r) => [r.occurrence.local, r.reason]),
    [
      ['2026-12-17T19:00', 'outside_opening_hours'],
      ['2026-12-24T19:00', 'outside_opening_hours'],
      ['2026-12-31T19:00', 'outside_opening_hours'],
    ],
  );
  t.same(checkSeriesDates(hall, evening.occurrences, now, TZ, { openingHoursBind: false }), [], 'staff');
  const guests = checkSeriesDates(hall, evening.occurrences, now, TZ, {
    openingHoursBind: false,
    guest: { from: 'werkhof', rules: [{ from: ['*'], kinds: ['desk'] }] },
  });
  t.same(
    [...new Set(guests.map((r) => r.reason))],
    ['not_open_to_guests'],
    'a guest from another house: every date refused where the house opens no hall to guests',
  );
  // A date already past is refused for staff too.
  const later = at('2026-12-18T12:00:00Z');
  t.same(
    checkSeriesDates(hall, evening.occurrences, later, TZ, { openingHoursBind: false }).map((r) => r.reason),
    ['start_in_past'],
  );
});

t.test('conflicts: the dates whose time is taken, with the first booking in the way', async (t) => {
  const series = planned({
    firstDate: { year: 2027, month: 3, day: 19 },
    startMinute: 11 * 60,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 1 },
    end: { count: 3 },
  });
  const busy = [
    { start: at('2027-04-02T09:30:00Z'), end: at('2027-04-02T10:30:00Z') }, // 11:30-12:30 CEST: overlaps
    { start: at('2027-03-26T09:00:00Z'), end: at('2027-03-26T10:00:00Z') }, // 10:00-11:00 CET: touches only
  ];
  t.same(
    conflictingDates(series.occurrences, busy).map((c) => [c.occurrence.local, utc(c.conflict.start)]),
    [['2027-04-02T11:00', '2027-04-02T09:30']],
  );
});

t.test('ending a series before a date keeps the dates before it and writes UNTIL', async (t) => {
  const series = planned({
    firstDate: { year: 2027, month: 3, day: 19 },
    startMinute: 11 * 60,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 1 },
    end: { count: 5 },
  });
  const shorter = seriesEndingBefore(series.rule, '2027-04-02T11:00');
  t.equal(shorter?.rrule, 'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270326T100000Z');
  t.same(
    expandSeries(shorter ?? series.rule).map((o) => o.local),
    ['2027-03-19T11:00', '2027-03-26T11:00'],
  );
  t.equal(seriesEndingBefore(series.rule, '2027-03-19T11:00'), undefined, 'nothing left');
});

t.test(
  'changed from a date on before the spring change: weekly 11:00 becomes every 2 weeks 18:00',
  async (t) => {
    const old = planned({
      firstDate: { year: 2027, month: 3, day: 12 },
      startMinute: 11 * 60,
      durationMinutes: 60,
      pattern: { every: 'week', interval: 1 },
      end: { count: 6 },
    });
    const change = planSeriesChange(
      old.rule,
      '2027-03-26T11:00',
      {
        firstDate: { year: 2027, month: 3, day: 26 },
        startMinute: 18 * 60,
        durationMinutes: 120,
        pattern: { every: 'week', interval: 2 },
        end: { until: { year: 2027, month: 4, day: 30 } },
      },
      TZ,
    );
    if (!change.ok) throw new Error(change.message);
    t.equal(change.from.local, '2027-03-26T11:00');
    t.equal(
      change.ending?.rrule,
      'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270319T100000Z',
      'the old part ends',
    );
    t.same(
      expandSeries(change.ending ?? old.rule).map((o) => [o.local, utc(o.start)]),
      [
        ['2027-03-12T11:00', '2027-03-12T10:00'],
        ['2027-03-19T11:00', '2027-03-19T10:00'],
      ],
      'the dates before it untouched',
    );
    t.equal(change.rule.rrule, 'FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;UNTIL=20270430T215959Z');
    t.same(
      change.occurrences.map((o) => [o.local, utc(o.start), utc(o.end)]),
      [
        ['2027-03-26T18:00', '2027-03-26T17:00', '2027-03-26T19:00'], // CET
        ['2027-04-09T18:00', '2027-04-09T16:00', '2027-04-09T18:00'], // CEST: still 18:00 in Berlin
        ['2027-04-23T18:00', '2027-04-23T16:00', '2027-04-23T18:00'],
      ],
    );
  },
);

t.test(
  'a last-Thursday series from a fifth Thursday, changed to the first Thursday from February on',
  async (t) => {
    const old = planned({
      firstDate: { year: 2026, month: 12, day: 31 },
      startMinute: 18 * 60,
      durationMinutes: 120,
      pattern: { every: 'month', ordinal: -1, weekday: 4 },
      end: { count: 4 },
    });
    t.same(
      old.occurrences.map((o) => o.local),
      ['2026-12-31T18:00', '2027-01-28T18:00', '2027-02-25T18:00', '2027-03-25T18:00'],
    );
    const change = planSeriesChange(
      old.rule,
      '2027-02-25T18:00',
      {
        firstDate: { year: 2027, month: 2, day: 25 },
        startMinute: 19 * 60,
        durationMinutes: 90,
        pattern: { every: 'month', ordinal: 1, weekday: 4 },
        end: { count: 2 },
      },
      TZ,
    );
    if (!change.ok) throw new Error(change.message);
    t.same(
      expandSeries(change.ending ?? old.rule).map((o) => o.local),
      ['2026-12-31T18:00', '2027-01-28T18:00'],
    );
    t.same(
      change.occurrences.map((o) => [o.local, utc(o.start)]),
      [
        ['2027-03-04T19:00', '2027-03-04T18:00'], // the first Thursday on or after 25 February
        ['2027-04-01T19:00', '2027-04-01T17:00'], // after the change: 19:00 CEST
      ],
    );
  },
);

t.test(
  'a change from its first date leaves no old rule; a date not in it or a start before it is refused',
  async (t) => {
    const old = planned({
      firstDate: { year: 2027, month: 3, day: 19 },
      startMinute: 11 * 60,
      durationMinutes: 60,
      pattern: { every: 'week', interval: 1 },
      end: { count: 3 },
    });
    const request: SeriesRequest = {
      firstDate: { year: 2027, month: 3, day: 19 },
      startMinute: 12 * 60,
      durationMinutes: 60,
      pattern: { every: 'week', interval: 1 },
      end: { count: 3 },
    };
    const whole = planSeriesChange(old.rule, '2027-03-19T11:00', request, TZ);
    t.match(whole, { ok: true, ending: undefined });
    t.match(planSeriesChange(old.rule, '2027-03-20T11:00', request, TZ), {
      ok: false,
      reason: 'no_such_date',
    });
    t.match(
      planSeriesChange(old.rule, '2027-03-26T11:00', request, TZ),
      { ok: false, reason: 'change_before_date', message: /2027-03-19 is before 2027-03-26/ },
      'the new series would take a date before the one changed from',
    );
    t.match(
      planSeriesChange(
        old.rule,
        '2027-03-26T11:00',
        { ...request, firstDate: { year: 2027, month: 3, day: 26 }, durationMinutes: 0 },
        TZ,
      ),
      { ok: false, reason: 'invalid_series' },
    );
  },
);

t.test('the expansion does not depend on the time zone of the process', async (t) => {
  // The local hour of every occurrence is the series' hour in Berlin, whatever TZ this process runs in
  // (Node applies a change of process.env.TZ at once).
  const before = process.env.TZ;
  process.env.TZ = 'America/New_York';
  t.teardown(() => {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  });
  t.not(new Date(at('2027-03-01T12:00:00Z')).getHours(), 12, 'the process now runs in New York');
  const series = planned({
    firstDate: { year: 2027, month: 3, day: 1 },
    startMinute: 11 * 60,
    durationMinutes: 60,
    pattern: { every: 'week', interval: 1 },
    end: { count: 8 },
  });
  for (const o of series.occurrences) t.equal(toLocal(o.start, TZ).hour, 11, o.local);
  t.equal(
    (series.occurrences[4]?.start ?? 0) - (series.occurrences[3]?.start ?? 0),
    7 * 24 * HOUR_MS - HOUR_MS,
  );
});
