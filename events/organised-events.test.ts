import t from 'tap';
import { planSeries } from '../bookings/series-rules.ts';
import { recordsContract } from '../test-support/records.ts';

/**
 * An organiser's own events on both engines: the events they organise (not another's, not a cancelled one),
 * newest first, and their dates in a window, from a single booking and from a series, a released date
 * included (its organiser still enters who came) and a cancelled one left out.
 */

const HOUR = 3_600_000;
// Sunday 13 December 2026, 22:50 in Berlin.
const NOW = Date.parse('2026-12-13T21:50:00Z');

recordsContract(t, "an organiser's events and their dates in a window", async (t, records) => {
  const ada = await records.member('member');
  const bob = await records.member('member');
  const single = await records.bookings.create(
    {
      memberId: ada.id,
      spaceId: 'hall',
      start: Date.parse('2026-12-17T17:00:00Z'),
      end: Date.parse('2026-12-17T19:00:00Z'),
    },
    NOW,
  );
  if (!single.ok) throw new Error('booking refused');
  const plan = planSeries(
    {
      firstDate: { year: 2026, month: 12, day: 18 },
      startMinute: 11 * 60,
      durationMinutes: 60,
      pattern: { every: 'week', interval: 1 },
      end: { count: 3 },
    },
    'Europe/Berlin',
  );
  if (!plan.ok) throw new Error(plan.message);
  const series = await records.bookings.createSeries(
    { memberId: ada.id, spaceId: 'hall', rule: plan.rule, occurrences: plan.occurrences },
    'all_or_nothing',
    NOW,
  );
  if (!series.ok) throw new Error('series refused');
  const [first, second, third] = series.bookings;
  if (!first || !second || !third) throw new Error('three dates expected');
  const event = (organiserId: string, over: { bookingId?: string; seriesId?: string }, at: number) =>
    records.events.create(
      {
        title: 'Termin',
        description: '',
        capacity: 20,
        visibility: 'public',
        bookingId: over.bookingId ?? null,
        seriesId: over.seriesId ?? null,
        organiserId,
      },
      at,
    );
  const talk = await event(ada.id, { bookingId: single.booking.id }, NOW);
  const meeting = await event(ada.id, { seriesId: series.series.id }, NOW + 1000);
  const gone = await event(ada.id, { bookingId: single.booking.id }, NOW + 2000);
  await records.events.cancel(gone.id, NOW + 3000);
  await event(bob.id, { bookingId: single.booking.id }, NOW + 4000);

  t.same(
    (await records.events.organisedBy(ada.id)).map((e) => e.id),
    [meeting.id, talk.id],
    "newest first; neither a cancelled event nor another's",
  );

  // The second Friday released for want of a check-in, the third cancelled.
  await records.exec(`UPDATE bookings SET status = 'released' WHERE id = '${second.id}'`);
  await records.exec(`UPDATE bookings SET status = 'cancelled' WHERE id = '${third.id}'`);
  const dates = await records.events.datesOrganisedBy(ada.id, { start: NOW, end: NOW + 30 * 24 * HOUR });
  t.same(
    dates.map((d) => [d.eventId, d.dateId, d.status, d.bookedBy, d.spaceId]),
    [
      [talk.id, single.booking.id, 'booked', ada.id, 'hall'],
      [meeting.id, first.id, 'booked', ada.id, 'hall'],
      [meeting.id, second.id, 'released', ada.id, 'hall'],
    ],
    'by start; a released date kept, a cancelled one not',
  );
  t.equal(dates[0]?.start, Date.parse('2026-12-17T17:00:00Z'), 'times as numbers on both engines');
  t.equal(dates[1]?.occurrence, '2026-12-18T11:00');
  t.same(
    await records.events.datesOrganisedBy(ada.id, {
      start: Date.parse('2026-12-17T19:00:00Z'),
      end: Date.parse('2026-12-18T10:00:00Z'),
    }),
    [],
    'nothing outside the window (a date ending at its start is outside)',
  );
  t.same(
    await records.events.datesOrganisedBy(bob.id, { start: NOW + 20 * 24 * HOUR, end: NOW + 30 * 24 * HOUR }),
    [],
  );
});
