import t from 'tap';
import { type RecordsEngine, recordsContract, type TestRecords } from '../test-support/records.ts';
import { scheduleSignUpPurge } from './signup-store.ts';

/**
 * The sign-up store on both engines: places up to capacity, the waiting list moving up in order when someone
 * cancels, the counts kept, the visitors' data deleted once the date is over (by the test's own clock), and
 * many visitors at once for the last places (nobody gets a place that is not there).
 */

const HOUR = 3_600_000;
// Thursday 31 December 2026, 18:00-21:00 Berlin: the open evening.
const START = Date.parse('2026-12-31T17:00:00Z');
const BEFORE = START - 48 * HOUR;

async function eventDate(records: TestRecords, capacity: number | null, start = START) {
  const organiser = await records.member('member');
  const booked = await records.bookings.create(
    { memberId: organiser.id, spaceId: 'hall', start, end: start + 3 * HOUR },
    BEFORE - HOUR,
  );
  if (!booked.ok) throw new Error('booking refused');
  const event = await records.events.create(
    {
      title: 'Offener Abend',
      description: '',
      capacity,
      visibility: 'public',
      bookingId: booked.booking.id,
      seriesId: null,
      organiserId: organiser.id,
    },
    BEFORE - HOUR,
  );
  return { organiser, eventId: event.id, dateId: booked.booking.id, capacity };
}

recordsContract(t, 'places up to capacity, then the waiting list in order', async (t, records) => {
  const date = await eventDate(records, 5);
  const sign = (places: number, email: string | null = null) =>
    records.signUps.signUp({ ...date, places, email }, BEFORE);
  const a = await sign(3, 'ada@example.org');
  const b = await sign(2);
  const c = await sign(2, 'cem@example.org');
  const d = await sign(1);
  const e = await sign(6);
  t.same(e, { ok: false, reason: 'too_many' }, 'more places than the event has');
  if (!a.ok || !b.ok || !c.ok || !d.ok) throw new Error('sign-up refused');
  t.same(
    [a, b, c, d].map((r) => r.signUp.status),
    ['confirmed', 'confirmed', 'waiting', 'waiting'],
    'the one place left goes to nobody who came after someone waiting',
  );
  t.equal(a.signUp.email, 'ada@example.org');
  t.equal(b.signUp.email, null, 'a place count only');
  t.not(a.cancelToken, b.cancelToken);
  t.same((await records.signUps.byToken(c.cancelToken))?.id, c.signUp.id);
  t.equal(await records.signUps.byToken('not-a-token'), undefined);
  t.equal(
    await records.scalar(`SELECT count(*) FROM event_signups WHERE cancel_hash = '${c.cancelToken}'`),
    0,
    'only its hash is kept',
  );

  let counts = await records.signUps.countsOf(date.eventId, date.dateId);
  t.match(counts, { confirmed: 5, waiting: 3, signUps: 4, cancelled: 0, attended: null, purged: false });

  // Ada's three places come free: Cem's two move up, and the next one (one place) too.
  const cancelled = await records.signUps.cancel(a.cancelToken, 5, BEFORE + HOUR);
  t.same(
    cancelled?.movedUp.map((s) => s.id),
    [c.signUp.id, d.signUp.id],
  );
  t.equal(await records.signUps.cancel(a.cancelToken, 5, BEFORE + HOUR), undefined, 'cancelled once only');
  counts = await records.signUps.countsOf(date.eventId, date.dateId);
  t.match(counts, { confirmed: 5, waiting: 0, signUps: 4, cancelled: 3 });
  t.equal((await records.signUps.byToken(d.cancelToken))?.status, 'confirmed');

  // A waiting sign-up that cancels moves nobody up.
  const f = await sign(2);
  if (!f.ok) throw new Error('refused');
  t.equal(f.signUp.status, 'waiting');
  t.same((await records.signUps.cancel(f.cancelToken, 5, BEFORE + HOUR))?.movedUp, []);
  t.match(await records.signUps.countsOf(date.eventId, date.dateId), {
    confirmed: 5,
    waiting: 0,
    cancelled: 5,
  });
});

recordsContract(t, 'without a capacity everyone gets a place', async (t, records) => {
  const date = await eventDate(records, null);
  for (let i = 0; i < 4; i++) {
    const r = await records.signUps.signUp({ ...date, places: 10, email: null }, BEFORE);
    t.equal(r.ok && r.signUp.status, 'confirmed');
  }
  t.match(await records.signUps.countsOf(date.eventId, date.dateId), { confirmed: 40, waiting: 0 });
});

recordsContract(
  t,
  'after the date the visitors are deleted by the purge, the counts and the organiser count stay',
  async (t, records) => {
    const date = await eventDate(records, 2);
    const later = await eventDate(records, 2, START + 7 * 24 * HOUR);
    const a = await records.signUps.signUp({ ...date, places: 2, email: 'ada@example.org' }, BEFORE);
    await records.signUps.signUp({ ...date, places: 1, email: 'bo@example.org' }, BEFORE);
    await records.signUps.signUp({ ...later, places: 1, email: 'cem@example.org' }, BEFORE);
    if (!a.ok) throw new Error('refused');

    // The test's own clock: the purge runs now and every hour on it.
    let now = START + HOUR;
    const stop = await scheduleSignUpPurge(records.signUps, undefined, 20, () => now);
    t.equal(await records.scalar('SELECT count(*) FROM event_signups'), 3, 'nothing while the date runs');
    now = START + 3 * HOUR; // the end of the date
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stop();
    t.same(
      await records.column('SELECT email FROM event_signups'),
      ['cem@example.org'],
      "the date's visitors are gone, next week's are not",
    );
    t.equal(await records.signUps.byToken(a.cancelToken), undefined, 'the cancel link is dead');
    await records.signUps.recordAttendance(date.eventId, date.dateId, 37, date.organiser.id, now);
    const kept = await records.signUps.counts({ start: START - HOUR, end: START + HOUR });
    t.equal(kept.length, 1);
    t.match(kept[0], {
      eventId: date.eventId,
      dateId: date.dateId,
      spaceId: 'hall',
      start: START,
      end: START + 3 * HOUR,
      capacity: 2,
      confirmed: 2,
      waiting: 1,
      signUps: 2,
      attended: 37,
      attendedBy: date.organiser.id,
      purged: true,
    });
    t.equal(await records.signUps.purgeEnded(now), 0, 'nothing more to delete');
  },
);

recordsContract(
  t,
  'forty visitors at once over two connections for ten places: exactly ten get one',
  async (t, records, engine: RecordsEngine) => {
    const date = await eventDate(records, 10);
    const other = await records.another();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? records : other).signUps.signUp({ ...date, places: 1, email: null }, BEFORE),
      ),
    );
    const statuses = results.map((r) => (r.ok ? r.signUp.status : r.reason));
    t.equal(statuses.filter((s) => s === 'confirmed').length, 10, engine);
    t.equal(statuses.filter((s) => s === 'waiting').length, 30);
    t.match(await records.signUps.countsOf(date.eventId, date.dateId), {
      confirmed: 10,
      waiting: 30,
      signUps: 40,
    });
    t.equal(
      await records.scalar("SELECT count(DISTINCT position) FROM event_signups WHERE status = 'waiting'"),
      30,
    );
  },
);
