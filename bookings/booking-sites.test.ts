import t from 'tap';
import { recordsContract } from '../test-support/records.ts';
import { HOUR_MS } from './booking-rules.ts';
import { planSeries } from './series-rules.ts';

/**
 * Bookings carry their site (issue 11): two houses of a network that both have a space "protel-1" book it
 * independently, on both engines. Whatever one house's store does never sees, changes or is stopped by the
 * other house's bookings of a space with the same id.
 */

const T0 = Date.parse('2027-03-02T08:00:00Z');
const NOW = T0 - 24 * HOUR_MS;
const A = 'kaufhaus-am-markt';
const B = 'werkhof-weimar';

recordsContract(
  t,
  'the same space id in two houses at the same time: both booked, conflicts only within a house',
  async (t, records) => {
    const inA = records.bookingsAt(A);
    const inB = records.bookingsAt(B);
    const ada = await records.member('member');
    const bob = await records.member('member');
    const slot = { spaceId: 'protel-1', start: T0, end: T0 + 2 * HOUR_MS };

    const a = await inA.create({ memberId: ada.id, ...slot }, NOW);
    const b = await inB.create({ memberId: bob.id, ...slot }, NOW);
    if (!(a.ok && b.ok)) return t.fail('both houses book their protel-1 at the same time');
    t.pass('both houses book their protel-1 at the same time');
    t.match(
      await inA.create({ memberId: bob.id, spaceId: 'protel-1', start: T0 + HOUR_MS, end: T0 + 3 * HOUR_MS }),
      { ok: false, reason: 'slot_taken', conflict: { start: T0, end: T0 + 2 * HOUR_MS } },
      'within house A the slot is taken',
    );
    t.match(
      await inB.create({ memberId: ada.id, spaceId: 'protel-1', start: T0 - HOUR_MS, end: T0 + 1 }),
      { ok: false, reason: 'slot_taken' },
      'within house B too',
    );

    // Each house sees its own booking only, by space, by member, for staff and for the check-in.
    const ids = (list: { id: string }[]) => list.map((x) => x.id);
    t.same(ids(await inA.spaceBookings('protel-1', 0, Number.MAX_SAFE_INTEGER)), [a.booking.id]);
    t.same(ids(await inB.spaceBookings('protel-1', 0, Number.MAX_SAFE_INTEGER)), [b.booking.id]);
    t.same(ids(await inA.listAll()), [a.booking.id]);
    t.same(ids(await inB.listMine(bob.id)), [b.booking.id]);
    t.same(await inA.listMine(bob.id), [], "bob's booking is house B's");
    t.same(ids(await inA.unconfirmed(T0)), [a.booking.id]);
    t.equal(await inA.coveringBooking(bob.id, 'protel-1', T0 + 1, 0), undefined, 'bob opens nothing in A');
    t.match(await inB.coveringBooking(bob.id, 'protel-1', T0 + 1, 0), { id: b.booking.id });

    // Another house's booking is not found here: not read, cancelled, checked in, released or moved.
    t.equal(await inA.get(b.booking.id), undefined);
    t.equal(await inA.cancel(b.booking.id, { memberId: ada.id, staff: true }, NOW), 'not_found');
    t.equal(await inA.checkIn(b.booking.id, T0 + 60_000), undefined);
    t.equal(await inA.release(b.booking.id, T0 + 60_000), undefined);
    t.match(
      await inA.moveBooking(
        b.booking.id,
        { start: T0 + 5 * HOUR_MS, end: T0 + 6 * HOUR_MS },
        { memberId: ada.id, staff: true },
        NOW,
      ),
      { ok: false, reason: 'not_found' },
    );
    t.match(await inB.get(b.booking.id), { status: 'booked', start: T0, spaceId: 'protel-1' }, 'untouched');

    // Moving within B onto the time A holds: free in B.
    t.match(
      await inB.moveBooking(
        b.booking.id,
        { start: T0 + HOUR_MS, end: T0 + 3 * HOUR_MS },
        { memberId: bob.id, staff: false },
        NOW,
      ),
      { ok: true, booking: { start: T0 + HOUR_MS } },
    );
    t.match(await inB.checkIn(b.booking.id, T0 + HOUR_MS + 60_000), { status: 'checked_in' });
    t.equal((await inA.get(a.booking.id))?.status, 'booked', "B's check-in is not A's");

    // The board report's figures are each house's own.
    const range = { start: T0 - HOUR_MS, end: T0 + 4 * HOUR_MS };
    t.same(
      (await inA.spansWithin(range)).spans.map((s) => [s.spaceId, s.start, s.end, s.status]),
      [['protel-1', T0, T0 + 2 * HOUR_MS, 'booked']],
    );
    t.same(
      (await inB.spansWithin(range)).spans.map((s) => [s.spaceId, s.start, s.end, s.status]),
      [['protel-1', T0 + HOUR_MS, T0 + 3 * HOUR_MS, 'checked_in']],
    );
    t.match(await inA.usage(range), [
      { spaceId: 'protel-1', bookings: 1, checkedIn: 0, bookedMs: 2 * HOUR_MS },
    ]);
    t.match(await inB.usage(range), [
      { spaceId: 'protel-1', bookings: 1, checkedIn: 1, bookedMs: 2 * HOUR_MS, usedMs: 2 * HOUR_MS },
    ]);
    t.equal(
      (await records.bookingsAt('a-third-house').spansWithin(range)).firstStart,
      null,
      'none on record',
    );
  },
);

recordsContract(t, 'series: the same hall in two houses on the same dates', async (t, records) => {
  const verdict = planSeries(
    {
      firstDate: { year: 2027, month: 3, day: 5 },
      startMinute: 18 * 60,
      durationMinutes: 120,
      pattern: { every: 'week', interval: 1 },
      end: { count: 3 },
    },
    'Europe/Berlin',
  );
  if (!verdict.ok) throw new Error(verdict.message);
  const { rule, occurrences } = verdict;
  const ada = await records.member('member');
  const inA = records.bookingsAt(A);
  const inB = records.bookingsAt(B);
  const input = { memberId: ada.id, spaceId: 'hall', rule, occurrences };
  const a = await inA.createSeries(input, 'all_or_nothing', NOW);
  const b = await inB.createSeries(input, 'all_or_nothing', NOW);
  if (!(a.ok && b.ok)) return t.fail('both houses hold their hall on the same evenings');
  t.equal(a.bookings.length, 3);
  t.equal(b.bookings.length, 3);
  t.same(
    await inB.seriesConflicts('hall', occurrences),
    occurrences.map((o) => ({ occurrence: o, conflict: { start: o.start, end: o.end } })),
  );
  t.same(await inA.seriesConflicts('other-room', occurrences), []);
  t.equal(await inA.getSeries(b.series.id), undefined, "B's series is not A's");
  t.same(await inA.seriesByIds([a.series.id, b.series.id]), [a.series]);
  t.same(await inA.seriesBookings(b.series.id), []);
  const ended = await inA.cancelSeriesFrom(b.series.id, occurrences[0]?.local as string, undefined, {
    memberId: ada.id,
    staff: true,
  });
  t.equal(ended.outcome, 'not_found', "A cannot end B's series");
  t.equal((await inB.seriesBookings(b.series.id)).filter((x) => x.status === 'booked').length, 3);
});

recordsContract(t, 'the database itself keeps bookings apart per (site, space)', async (t, records) => {
  const member = await records.member('member');
  const insert = (id: string, site: string | null, start: number, end: number) =>
    records.exec(
      `INSERT INTO bookings (id, site, member_id, space_id, start_ms, end_ms, status, created_at)
       VALUES ('${id}', ${site === null ? 'NULL' : `'${site}'`}, '${member.id}', 'eg', ${start}, ${end}, 'booked', 0)`,
    );
  const overlap = /booking_overlap|bookings_no_overlap/;
  await insert('a1', A, T0, T0 + HOUR_MS);
  await insert('b1', B, T0, T0 + HOUR_MS);
  await t.rejects(insert('a2', A, T0 + 1, T0 + 2), overlap, 'same house, same space');
  await t.rejects(records.exec(`UPDATE bookings SET site = '${A}' WHERE id = 'b1'`), overlap, 'moved into A');
  // Rows from before bookings carried their site stay apart among themselves, as they always were.
  await insert('old1', null, T0, T0 + HOUR_MS);
  await t.rejects(insert('old2', null, T0 + 1, T0 + 2), overlap, 'two rows without a site');
});

recordsContract(
  t,
  "bookings from before the network become the home site's, once, series too",
  async (t, records) => {
    const member = await records.member('member');
    await records.exec(
      `INSERT INTO booking_series (id, member_id, space_id, rrule, first_start, time_zone, duration_minutes, created_at)
       VALUES ('s-old', '${member.id}', 'hall', 'FREQ=WEEKLY;COUNT=1', '2027-03-02T09:00', 'Europe/Berlin', 60, 0)`,
    );
    for (const [id, series] of [
      ['old-1', 'NULL'],
      ['old-2', "'s-old'"],
    ])
      await records.exec(
        `INSERT INTO bookings (id, member_id, space_id, start_ms, end_ms, status, created_at, series_id)
         VALUES ('${id}', '${member.id}', 'hall', ${T0 + (id === 'old-1' ? 0 : 2 * HOUR_MS)}, ${T0 + (id === 'old-1' ? HOUR_MS : 3 * HOUR_MS)}, 'booked', 0, ${series})`,
      );
    t.equal(await records.bookingsAt(A).get('old-1'), undefined, 'without a site, no house has it yet');
    t.equal(await records.settleBookingSites(A), 2);
    t.equal(await records.settleBookingSites(A), 0, 'once');
    t.same(
      (await records.bookingsAt(A).listAll()).map((b) => b.id),
      ['old-1', 'old-2'],
    );
    t.match(await records.bookingsAt(A).getSeries('s-old'), { id: 's-old', spaceId: 'hall' });
    t.same(await records.bookingsAt(B).listAll(), []);
    t.same(await records.column('SELECT DISTINCT site FROM booking_series'), [A]);
  },
);
