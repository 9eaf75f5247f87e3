import t from 'tap';
import type { BookingEvent, EventAnnouncer } from '../building/events.ts';
import { createTestMember, testRecords } from '../test-support/members.ts';
import { BookingClock, momentsDue } from './booking-clock.ts';
import { HOUR_MS, MINUTE_MS } from './booking-rules.ts';
import type { Booking } from './booking-store.ts';
import { SqliteBookingStore } from './sqlite-booking-store.ts';
import { SqliteMomentClaims } from './sqlite-moment-claims.ts';

const T0 = Date.parse('2026-03-02T08:00:00Z');

function booking(over: Partial<Booking> = {}): Booking {
  return {
    id: 'b1',
    memberId: 'm1',
    spaceId: 'desk-a',
    start: T0,
    end: T0 + HOUR_MS,
    status: 'booked',
    checkedInAt: null,
    releasedAt: null,
    cancelledAt: null,
    createdAt: T0 - HOUR_MS,
    ...over,
  };
}

t.test('momentsDue: starts and ends within (since, now], of bookings still on', async (t) => {
  const b = booking();
  const at = (list: ReturnType<typeof momentsDue>) => list.map((d) => [d.booking.id, d.moment, d.at]);
  t.same(at(momentsDue([b], T0 - MINUTE_MS, T0)), [['b1', 'started', T0]], 'the start itself is due');
  t.same(at(momentsDue([b], T0, T0 + MINUTE_MS)), [], 'since is exclusive: told by the scan before');
  t.same(at(momentsDue([b], T0 + 59 * MINUTE_MS, T0 + HOUR_MS)), [['b1', 'ended', T0 + HOUR_MS]]);
  t.same(
    at(momentsDue([booking({ status: 'checked_in' })], T0 + 59 * MINUTE_MS, T0 + HOUR_MS)),
    [['b1', 'ended', T0 + HOUR_MS]],
    'a checked-in booking ends too',
  );
  for (const status of ['released', 'cancelled'] as const)
    t.same(
      at(momentsDue([booking({ status })], T0 - MINUTE_MS, T0 + 2 * HOUR_MS)),
      [],
      `a ${status} booking neither starts nor ends (it was told so)`,
    );
  const late = booking({ id: 'late', createdAt: T0 + 7 * MINUTE_MS });
  t.same(
    at(momentsDue([late], T0 + 5 * MINUTE_MS, T0 + 8 * MINUTE_MS)),
    [['late', 'started', T0 + 7 * MINUTE_MS]],
    'booked after its start: it starts when it was made',
  );
  const next = booking({ id: 'next', start: T0 + HOUR_MS, end: T0 + 2 * HOUR_MS });
  t.same(
    at(momentsDue([next, b], T0 + 59 * MINUTE_MS, T0 + HOUR_MS)),
    [
      ['b1', 'ended', T0 + HOUR_MS],
      ['next', 'started', T0 + HOUR_MS],
    ],
    'back to back: the end before the next start',
  );
});

t.test('two processes on one records file: every moment told once, never late', async (t) => {
  const records = testRecords(t);
  const store = new SqliteBookingStore(records, 'haus');
  const { member } = await createTestMember(records, { role: 'member' });
  const book = async (spaceId: string, start: number, end: number) => {
    const made = await store.create({ memberId: member.id, spaceId, start, end }, start - HOUR_MS);
    if (!made.ok) throw new Error('setup booking refused');
    return made.booking;
  };
  const a = await book('desk-a', T0, T0 + HOUR_MS);
  const b = await book('desk-b', T0 + 30 * MINUTE_MS, T0 + 90 * MINUTE_MS);
  const old = await book('desk-c', T0 - 3 * HOUR_MS, T0 - 2 * HOUR_MS);

  const told: BookingEvent[] = [];
  const sink: EventAnnouncer = { announce: (e) => void told.push(e as BookingEvent) };
  // Two API processes' clocks: each its own claims object on the same file, as two processes would have.
  const clocks = [0, 1].map(
    () =>
      new BookingClock({
        store: new SqliteBookingStore(records, 'haus'),
        claims: new SqliteMomentClaims(records),
        events: sink,
        siteId: 'haus',
        lookbackMs: 5 * MINUTE_MS,
      }),
  );
  const both = async (now: number) => (await Promise.all(clocks.map((c) => c.scan(now)))).flat();

  t.same(await both(T0 - MINUTE_MS), [], 'nothing yet; the old booking ended long before: not told late');
  t.same(
    (await both(T0 + 10_000)).map((e) => [e.type, e.bookingId]),
    [['booking-started', a.id]],
  );
  t.same(await both(T0 + 40_000), [], 'the next scans overlap: nothing told twice');
  await both(T0 + 30 * MINUTE_MS + 5_000);
  await both(T0 + 60 * MINUTE_MS);
  await both(T0 + 94 * MINUTE_MS);
  t.same(
    told.map((e) => [e.type, e.bookingId, e.at, e.space, e.site]),
    [
      ['booking-started', a.id, T0, 'desk-a', 'haus'],
      ['booking-started', b.id, T0 + 30 * MINUTE_MS, 'desk-b', 'haus'],
      ['booking-ended', a.id, T0 + HOUR_MS, 'desk-a', 'haus'],
      ['booking-ended', b.id, T0 + 90 * MINUTE_MS, 'desk-b', 'haus'],
    ],
  );
  t.notOk(
    told.some((e) => e.bookingId === old.id),
    'never the old one',
  );
  t.notOk(JSON.stringify(told).includes(member.id), 'no member id in an event');
  t.equal(new Set(told.map((e) => e.id)).size, told.length, 'each event its own id');

  // A day later the claims are gone, the bookings' moments long past the look-back.
  await both(T0 + 26 * HOUR_MS);
  t.equal(records.prepare('SELECT count(*) FROM booking_moments_told').pluck().get(), 0, 'claims pruned');
  await Promise.all(clocks.map((c) => c.stop()));
});

t.test('a booking moved after it started starts again at its new time, and that is told', async (t) => {
  const records = testRecords(t);
  const store = new SqliteBookingStore(records, 'haus');
  const { member } = await createTestMember(records, { role: 'member' });
  const made = await store.create(
    { memberId: member.id, spaceId: 'room-a', start: T0, end: T0 + HOUR_MS },
    T0 - HOUR_MS,
  );
  if (!made.ok) throw new Error('setup booking refused');
  const told: BookingEvent[] = [];
  const clock = new BookingClock({
    store,
    claims: new SqliteMomentClaims(records),
    events: { announce: (e) => void told.push(e as BookingEvent) },
    siteId: 'haus',
    lookbackMs: 5 * MINUTE_MS,
  });
  await clock.scan(T0 + 10_000);
  // Nobody came; the member moves it to the afternoon, five minutes in.
  const moved = await store.moveBooking(
    made.booking.id,
    { start: T0 + 4 * HOUR_MS, end: T0 + 5 * HOUR_MS },
    { memberId: member.id, staff: false },
    T0 + 5 * MINUTE_MS,
  );
  t.ok(moved.ok, 'moved');
  await clock.scan(T0 + 4 * HOUR_MS + 10_000);
  await clock.scan(T0 + 4 * HOUR_MS + 40_000);
  await clock.scan(T0 + 5 * HOUR_MS);
  t.same(
    told.map((e) => [e.type, e.at]),
    [
      ['booking-started', T0],
      ['booking-started', T0 + 4 * HOUR_MS],
      ['booking-ended', T0 + 5 * HOUR_MS],
    ],
    'its new start told once, its end at the new end',
  );
  await clock.stop();
});
