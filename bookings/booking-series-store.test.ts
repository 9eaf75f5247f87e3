import t from 'tap';
import { recordsContract, TEST_HOUSE } from '../test-support/records.ts';
import { HOUR_MS } from './booking-rules.ts';
import {
  expandSeries,
  planSeries,
  planSeriesChange,
  type SeriesRequest,
  type SeriesRule,
  seriesEndingBefore,
} from './series-rules.ts';

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
        `INSERT INTO bookings (id, site, member_id, space_id, start_ms, end_ms, status, created_at, series_id, occurrence)
         VALUES ('x', '${TEST_HOUSE}', '${ada.id}', 'hall', ${occurrences[0]?.start}, ${occurrences[0]?.end}, 'booked', ${NOW}, NULL, NULL)`,
      ),
      /booking_overlap|bookings_no_overlap/,
    );
  },
);

// Every Friday 11:00-12:00 from 12 March 2027, six dates: the spring change (28 March) falls in between.
const sixFridays: SeriesRequest = {
  ...fridays,
  firstDate: { year: 2027, month: 3, day: 12 },
  end: { count: 6 },
};

function planChange(rule: SeriesRule, from: string, request: SeriesRequest) {
  const change = planSeriesChange(rule, from, request, TZ);
  if (!change.ok) throw new Error(change.message);
  return change;
}

recordsContract(
  t,
  'a series changed from a date on: refused whole on a conflict, then split with the taken date skipped; its event carries on',
  async (t, records) => {
    const store = records.bookings;
    const ada = await records.member('member');
    const bob = await records.member('member');
    const { rule, occurrences } = plan(sixFridays);
    const saved = await store.createSeries(
      { memberId: ada.id, spaceId: 'hall', rule, occurrences },
      'all_or_nothing',
      NOW,
    );
    if (!saved.ok) throw new Error('expected the series saved');
    const event = await records.events.create(
      {
        title: 'Freitagsrunde',
        description: '',
        capacity: 20,
        visibility: 'public',
        bookingId: null,
        seriesId: saved.series.id,
        organiserId: ada.id,
      },
      NOW,
    );
    // Bob holds 23 April 18:30-19:30 CEST: the third date of the changed series.
    t.ok(
      (
        await store.create(
          {
            memberId: bob.id,
            spaceId: 'hall',
            start: Date.parse('2027-04-23T16:30:00Z'),
            end: Date.parse('2027-04-23T17:30:00Z'),
          },
          NOW,
        )
      ).ok,
    );
    // From 26 March on: every second Friday 18:00-20:00 until 30 April.
    const change = planChange(rule, '2027-03-26T11:00', {
      firstDate: { year: 2027, month: 3, day: 26 },
      startMinute: 18 * 60,
      durationMinutes: 120,
      pattern: { every: 'week', interval: 2 },
      end: { until: { year: 2027, month: 4, day: 30 } },
    });
    const replacing = { seriesId: saved.series.id, fromOccurrence: '2027-03-26T11:00' };
    t.same(
      (await store.seriesConflicts('hall', change.occurrences, replacing)).map((c) => c.occurrence.local),
      ['2027-04-23T18:00'],
      'the preview: only the date another booking holds',
    );
    // The same time as the dates given up: in the way of a new series, not of the change that gives them up.
    const sameTime = planChange(rule, '2027-03-26T11:00', {
      ...sixFridays,
      firstDate: { year: 2027, month: 3, day: 26 },
    });
    t.equal((await store.seriesConflicts('hall', sameTime.occurrences)).length, 4);
    t.same(
      await store.seriesConflicts('hall', sameTime.occurrences, replacing),
      [],
      'its own dates from then on are not',
    );

    const input = {
      seriesId: saved.series.id,
      fromOccurrence: '2027-03-26T11:00',
      ending: change.ending,
      spaceId: 'hall',
      rule: change.rule,
      occurrences: change.occurrences,
    };
    t.same(await store.changeSeriesFrom(input, 'all_or_nothing', { memberId: bob.id, staff: false }, NOW), {
      ok: false,
      reason: 'not_found',
    });
    const refused = await store.changeSeriesFrom(
      input,
      'all_or_nothing',
      { memberId: ada.id, staff: false },
      NOW,
    );
    t.match(refused, { ok: false, reason: 'slot_taken' });
    t.same(
      refused.ok === false && refused.reason === 'slot_taken'
        ? refused.conflicts.map((c) => c.occurrence.local)
        : [],
      ['2027-04-23T18:00'],
    );
    t.equal((await store.getSeries(saved.series.id))?.rrule, rule.rrule, 'refused: the old rule as it was');
    t.same(
      (await store.seriesBookings(saved.series.id)).map((b) => b.status),
      ['booked', 'booked', 'booked', 'booked', 'booked', 'booked'],
      'refused: no old date given up (one transaction)',
    );
    t.equal(await records.scalar('SELECT count(*) FROM booking_series'), 1, 'refused: no new series');

    const split = await store.changeSeriesFrom(
      input,
      'skip_conflicts',
      { memberId: ada.id, staff: false },
      NOW,
    );
    if (!split.ok) throw new Error(`expected the change saved: ${split.reason}`);
    t.equal(split.ended.rrule, 'FREQ=WEEKLY;INTERVAL=1;BYDAY=FR;UNTIL=20270319T100000Z');
    t.equal(split.ended.cancelledAt, null);
    t.same(
      split.cancelled.map((b) => [b.occurrence, b.status]),
      [
        ['2027-03-26T11:00', 'cancelled'],
        ['2027-04-02T11:00', 'cancelled'],
        ['2027-04-09T11:00', 'cancelled'],
        ['2027-04-16T11:00', 'cancelled'],
      ],
    );
    t.same(
      (await store.seriesBookings(saved.series.id))
        .filter((b) => b.status === 'booked')
        .map((b) => b.occurrence),
      ['2027-03-12T11:00', '2027-03-19T11:00'],
      'the dates before it untouched',
    );
    t.match(split.series, {
      memberId: ada.id,
      spaceId: 'hall',
      rrule: change.rule.rrule,
      firstStart: '2027-03-26T18:00',
    });
    t.same(
      split.bookings.map((b) => [b.occurrence, new Date(b.start).toISOString()]),
      [
        ['2027-03-26T18:00', '2027-03-26T17:00:00.000Z'],
        ['2027-04-09T18:00', '2027-04-09T16:00:00.000Z'],
      ],
    );
    t.same(
      split.skipped.map((c) => c.occurrence.local),
      ['2027-04-23T18:00'],
    );
    // The event keeps the dates before the change; a twin on the new series carries the dates after it.
    t.equal(split.events.length, 1);
    const carried = split.events[0];
    t.equal(carried?.from, event.id);
    t.not(carried?.to, event.id);
    t.match(await records.events.get(carried?.to ?? ''), {
      title: 'Freitagsrunde',
      capacity: 20,
      visibility: 'public',
      seriesId: split.series.id,
      organiserId: ada.id,
    });
    const dates = await records.events.datesWithin(
      { start: NOW, end: Date.parse('2027-06-01T00:00:00Z') },
      'all',
    );
    t.same(
      dates.map((d) => [d.eventId === event.id ? 'old' : 'new', d.occurrence]),
      [
        ['old', '2027-03-12T11:00'],
        ['old', '2027-03-19T11:00'],
        ['new', '2027-03-26T18:00'],
        ['new', '2027-04-09T18:00'],
      ],
    );

    // Changed again from its first date: nothing of it is left, it is cancelled and the event moves whole.
    const again = planChange(split.series, '2027-03-26T18:00', {
      firstDate: { year: 2027, month: 3, day: 26 },
      startMinute: 19 * 60,
      durationMinutes: 60,
      pattern: { every: 'week', interval: 2 },
      end: { count: 2 },
    });
    const whole = await store.changeSeriesFrom(
      {
        seriesId: split.series.id,
        fromOccurrence: '2027-03-26T18:00',
        ending: again.ending,
        spaceId: 'hall',
        rule: again.rule,
        occurrences: again.occurrences,
      },
      'all_or_nothing',
      { memberId: bob.id, staff: true },
      NOW,
    );
    if (!whole.ok) throw new Error(`expected the change saved: ${whole.reason}`);
    t.equal(whole.ended.cancelledAt, NOW);
    t.same(whole.events, [{ from: carried?.to, to: carried?.to }]);
    t.equal((await records.events.get(carried?.to ?? ''))?.seriesId, whole.series.id);
    t.equal(whole.series.memberId, ada.id, "staff change a member's series: it stays hers");
  },
);

recordsContract(
  t,
  'a change that would drop visitors signed up for a date is refused',
  async (t, records) => {
    const store = records.bookings;
    const ada = await records.member('member');
    const { rule, occurrences } = plan(sixFridays);
    const saved = await store.createSeries(
      { memberId: ada.id, spaceId: 'hall', rule, occurrences },
      'all_or_nothing',
      NOW,
    );
    if (!saved.ok) throw new Error('expected the series saved');
    const event = await records.events.create(
      {
        title: 'Offener Abend',
        description: '',
        capacity: 10,
        visibility: 'public',
        bookingId: null,
        seriesId: saved.series.id,
        organiserId: ada.id,
      },
      NOW,
    );
    const fourth = saved.bookings[3];
    t.equal(fourth?.occurrence, '2027-04-02T11:00');
    t.match(
      await records.signUps.signUp(
        { eventId: event.id, dateId: fourth?.id ?? '', places: 2, email: null, capacity: 10 },
        NOW,
      ),
      { ok: true },
    );
    t.same(await store.visitorsFrom(saved.series.id, '2027-03-26T11:00'), ['2027-04-02T11:00']);
    t.same(await store.visitorsFrom(saved.series.id, '2027-04-09T11:00'), []);
    const change = planChange(rule, '2027-03-26T11:00', {
      ...sixFridays,
      firstDate: { year: 2027, month: 3, day: 26 },
      startMinute: 12 * 60,
    });
    t.same(
      await store.changeSeriesFrom(
        {
          seriesId: saved.series.id,
          fromOccurrence: '2027-03-26T11:00',
          ending: change.ending,
          spaceId: 'hall',
          rule: change.rule,
          occurrences: change.occurrences,
        },
        'skip_conflicts',
        { memberId: ada.id, staff: false },
        NOW,
      ),
      { ok: false, reason: 'visitors_signed_up', occurrences: ['2027-04-02T11:00'] },
    );
    t.equal(await records.scalar('SELECT count(*) FROM booking_series'), 1, 'nothing changed');
    t.equal((await store.getSeries(saved.series.id))?.rrule, rule.rrule);
  },
);
