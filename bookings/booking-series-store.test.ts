import t from 'tap';
import { recordsContract } from '../test-support/records.ts';
import { HOUR_MS } from './booking-rules.ts';
import { expandSeries, planSeries, type SeriesRequest, seriesEndingBefore } from './series-rules.ts';

const TZ = 'Europe/Berlin';
// Sunday 13 December 2026, 22:50 in Berlin.
const NOW = Date.parse('2026-12-13T21:50:00Z');
const fridays: SeriesRequest = {
  firstDate: { year: 2027, month: 3, day: 19 },
  startMinute: 11 * 60,
  durationMinutes: 60,
  pattern: { every: 'week', interval: 1 },
  end: { count: 4 },
};

function plan(request: SeriesRequest) {
  const verdict = planSeries(request, TZ);
  if (!verdict.ok) throw new Error(verdict.message);
  return verdict;
}

recordsContract(
  t,
  'a series across the spring change: all-or-nothing refuses and saves nothing',
  async (t, records) => {
    const store = records.bookings;
    const ada = await records.member('member');
    const bob = await records.member('member');
    const { rule, occurrences } = plan(fridays);
    // Bob holds 2 April 11:30-12:30 CEST (09:30Z): the third date's time.
    const third = occurrences[2];
    t.equal(third?.local, '2027-04-02T11:00');
    const held = await store.create(
      {
        memberId: bob.id,
        spaceId: 'hall',
        start: Date.parse('2027-04-02T09:30:00Z'),
        end: Date.parse('2027-04-02T10:30:00Z'),
      },
      NOW,
    );
    t.ok(held.ok);

    const conflicts = await store.seriesConflicts('hall', occurrences);
    t.same(
      conflicts.map((c) => [c.occurrence.local, new Date(c.conflict.start).toISOString()]),
      [['2027-04-02T11:00', '2027-04-02T09:30:00.000Z']],
      'the preview names the date and the time in its way',
    );

    const refused = await store.createSeries(
      { memberId: ada.id, spaceId: 'hall', rule, occurrences },
      'all_or_nothing',
      NOW,
    );
    t.match(refused, { ok: false, reason: 'slot_taken' });
    t.equal(await records.scalar('SELECT count(*) FROM booking_series'), 0, 'no series row');
    t.same((await store.listMine(ada.id)).length, 0, 'no date booked: never half-booked');

    const saved = await store.createSeries(
      { memberId: ada.id, spaceId: 'hall', rule, occurrences },
      'skip_conflicts',
      NOW,
    );
    if (!saved.ok) throw new Error('expected the series saved');
    t.same(
      saved.skipped.map((c) => c.occurrence.local),
      ['2027-04-02T11:00'],
      'the skipped date is listed',
    );
    t.same(
      saved.bookings.map((b) => [b.occurrence, new Date(b.start).toISOString()]),
      [
        ['2027-03-19T11:00', '2027-03-19T10:00:00.000Z'],
        ['2027-03-26T11:00', '2027-03-26T10:00:00.000Z'],
        ['2027-04-09T11:00', '2027-04-09T09:00:00.000Z'],
      ],
    );
    t.match(saved.series, {
      memberId: ada.id,
      spaceId: 'hall',
      rrule: rule.rrule,
      firstStart: '2027-03-19T11:00',
      timeZone: TZ,
    });
    t.ok(saved.bookings.every((b) => b.seriesId === saved.series.id && b.status === 'booked'));
    t.same(
      (await store.seriesByIds([saved.series.id, 'nope', saved.series.id])).map((s) => s.id),
      [saved.series.id],
    );
  },
);

recordsContract(t, 'one date cancelled or moved; the rest cancelled from a date on', async (t, records) => {
  const store = records.bookings;
  const ada = await records.member('member');
  const bob = await records.member('member');
  const { rule, occurrences } = plan(fridays);
  const saved = await store.createSeries(
    { memberId: ada.id, spaceId: 'hall', rule, occurrences },
    'all_or_nothing',
    NOW,
  );
  if (!saved.ok) throw new Error('expected the series saved');
  const [first, second, third, fourth] = saved.bookings;
  if (!first || !second || !third || !fourth) throw new Error('four dates');

  t.equal(await store.cancel(first.id, { memberId: ada.id, staff: false }, NOW), 'cancelled', 'one date');

  // Moving the second date by an hour; Bob cannot, and a taken time is refused.
  const later = { start: second.start + HOUR_MS, end: second.end + HOUR_MS };
  t.same(await store.moveBooking(second.id, later, { memberId: bob.id, staff: false }, NOW), {
    ok: false,
    reason: 'not_found',
  });
  const blocker = await store.create(
    { memberId: bob.id, spaceId: 'hall', start: later.end, end: later.end + HOUR_MS },
    NOW,
  );
  t.ok(blocker.ok);
  t.match(
    await store.moveBooking(
      second.id,
      { start: later.start, end: later.end + 1 },
      { memberId: ada.id, staff: false },
      NOW,
    ),
    { ok: false, reason: 'slot_taken' },
  );
  const moved = await store.moveBooking(second.id, later, { memberId: ada.id, staff: false }, NOW);
  t.match(
    moved,
    { ok: true, booking: { start: later.start, occurrence: '2027-03-26T11:00' } },
    'keeps its occurrence',
  );

  // Bob cannot end Ada's series; Ada ends it from the third date on.
  const ending = seriesEndingBefore(rule, '2027-04-02T11:00');
  t.same(
    await store.cancelSeriesFrom(
      saved.series.id,
      '2027-04-02T11:00',
      ending,
      { memberId: bob.id, staff: false },
      NOW,
    ),
    { outcome: 'not_found', cancelled: 0 },
  );
  const cut = await store.cancelSeriesFrom(
    saved.series.id,
    '2027-04-02T11:00',
    ending,
    { memberId: ada.id, staff: false },
    NOW,
  );
  t.equal(cut.outcome, 'cancelled');
  t.equal(cut.cancelled, 2);
  t.equal(cut.series?.rrule, 'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270326T100000Z');
  t.equal(cut.series?.cancelledAt, null);
  t.same(
    expandSeries(cut.series ?? rule).map((o) => o.local),
    ['2027-03-19T11:00', '2027-03-26T11:00'],
  );
  t.same(
    (await store.seriesBookings(saved.series.id)).map((b) => [b.occurrence, b.status]),
    [
      ['2027-03-19T11:00', 'cancelled'],
      ['2027-03-26T11:00', 'booked'],
      ['2027-04-02T11:00', 'cancelled'],
      ['2027-04-09T11:00', 'cancelled'],
    ],
  );
  // Staff end the rest from the first date: nothing left, the series is cancelled.
  const all = await store.cancelSeriesFrom(
    saved.series.id,
    '2027-03-19T11:00',
    undefined,
    { memberId: bob.id, staff: true },
    NOW,
  );
  t.equal(all.cancelled, 1);
  t.equal(all.series?.cancelledAt, NOW);
});

recordsContract(
  t,
  'a series whose every date is taken is refused; the database refuses an overlap written around the store',
  async (t, records) => {
    const store = records.bookings;
    const ada = await records.member('member');
    const { rule, occurrences } = plan(fridays);
    const saved = await store.createSeries(
      { memberId: ada.id, spaceId: 'hall', rule, occurrences },
      'all_or_nothing',
      NOW,
    );
    t.ok(saved.ok);
    const again = await store.createSeries(
      { memberId: ada.id, spaceId: 'hall', rule, occurrences },
      'skip_conflicts',
      NOW,
    );
    t.match(
      again,
      { ok: false, reason: 'slot_taken' },
      'every date taken: nothing to save even when skipping',
    );
    t.equal(await records.scalar('SELECT count(*) FROM booking_series'), 1);
    // A date written straight into the table over an active one is refused by the trigger.
    await t.rejects(
      records.exec(
        `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at, series_id, occurrence)
         VALUES ('x', '${ada.id}', 'hall', ${occurrences[0]?.start}, ${occurrences[0]?.end}, 'booked', ${NOW}, NULL, NULL)`,
      ),
      /booking_overlap|bookings_no_overlap/,
    );
  },
);
