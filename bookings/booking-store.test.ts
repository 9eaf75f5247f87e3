import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { openRecords, type RecordsDb } from '../database/database.ts';
import { createTestMember } from '../test-support/members.ts';
import { recordsContract, TEST_HOUSE } from '../test-support/records.ts';
import { HOUR_MS } from './booking-rules.ts';
import { SqliteBookingStore } from './sqlite-booking-store.ts';

const T0 = Date.parse('2026-03-02T08:00:00Z');
const NOW = T0 - 24 * HOUR_MS;

function records(t: Test): { db: RecordsDb; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-bookings-'));
  const file = path.join(dir, 'wesprint.db');
  const db = openRecords(file);
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { db, file };
}

recordsContract(t, 'create, overlap refused, adjacent fine, cancel frees the slot', async (t, records) => {
  const store = records.bookings;
  const ada = await records.member('member');
  const bob = await records.member('member');

  const first = await store.create(
    { memberId: ada.id, spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS },
    NOW,
  );
  t.ok(first.ok, 'first booking');
  if (!first.ok) return;
  t.match(first.booking, {
    memberId: ada.id,
    spaceId: 'desk-1',
    start: T0,
    end: T0 + HOUR_MS,
    status: 'booked',
  });
  t.equal(first.booking.checkedInAt, null);
  t.equal(first.booking.createdAt, NOW);

  const clash = await store.create({
    memberId: bob.id,
    spaceId: 'desk-1',
    start: T0 + HOUR_MS / 2,
    end: T0 + 2 * HOUR_MS,
  });
  t.same(clash, { ok: false, reason: 'slot_taken', conflict: { start: T0, end: T0 + HOUR_MS } });
  t.notOk(
    (await store.create({ memberId: bob.id, spaceId: 'desk-1', start: T0 - HOUR_MS, end: T0 + 1 })).ok,
    'overlap by 1 ms',
  );
  t.notOk(
    (await store.create({ memberId: ada.id, spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS })).ok,
    'same member, same slot',
  );

  t.ok(
    (await store.create({ memberId: bob.id, spaceId: 'desk-1', start: T0 + HOUR_MS, end: T0 + 2 * HOUR_MS }))
      .ok,
    'adjacent after',
  );
  t.ok(
    (await store.create({ memberId: bob.id, spaceId: 'desk-1', start: T0 - HOUR_MS, end: T0 })).ok,
    'adjacent before',
  );
  t.ok(
    (await store.create({ memberId: bob.id, spaceId: 'desk-2', start: T0, end: T0 + HOUR_MS })).ok,
    'other desk, same hour',
  );

  t.equal(
    await store.cancel(first.booking.id, { memberId: bob.id, staff: false }, NOW),
    'not_found',
    "not bob's",
  );
  t.equal((await store.get(first.booking.id))?.status, 'booked');
  t.equal(await store.cancel('no-such-id', { memberId: ada.id, staff: false }, NOW), 'not_found');
  t.equal(await store.cancel(first.booking.id, { memberId: ada.id, staff: false }, NOW), 'cancelled');
  t.equal((await store.get(first.booking.id))?.status, 'cancelled');
  t.equal(
    await store.cancel(first.booking.id, { memberId: ada.id, staff: false }, NOW),
    'already_ended',
    'twice',
  );

  const again = await store.create({ memberId: bob.id, spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS });
  t.ok(again.ok, 'the cancelled slot is free again');
  if (!again.ok) return;
  t.equal(
    await store.cancel(again.booking.id, { memberId: ada.id, staff: true }, NOW),
    'cancelled',
    'staff may cancel any',
  );
  const later = await store.create({ memberId: ada.id, spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS });
  t.ok(later.ok);
  if (later.ok)
    t.equal(
      await store.cancel(later.booking.id, { memberId: ada.id, staff: false }, T0 + HOUR_MS),
      'already_ended',
      'past',
    );
});

recordsContract(
  t,
  'listMine shows only that member; spaceBookings and coveringBooking see active bookings only',
  async (t, records) => {
    const store = records.bookings;
    const ada = await records.member('member');
    const bob = await records.member('member');
    const a1 = await store.create({ memberId: ada.id, spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS }, NOW);
    const a2 = await store.create({
      memberId: ada.id,
      spaceId: 'room-1',
      start: T0 + 2 * HOUR_MS,
      end: T0 + 3 * HOUR_MS,
    });
    const b1 = await store.create({
      memberId: bob.id,
      spaceId: 'desk-1',
      start: T0 + HOUR_MS,
      end: T0 + 2 * HOUR_MS,
    });
    t.ok(a1.ok && a2.ok && b1.ok);
    if (!(a1.ok && a2.ok && b1.ok)) return;

    t.same(
      (await store.listMine(ada.id)).map((b) => b.id),
      [a1.booking.id, a2.booking.id],
    );
    t.same(
      (await store.listMine(bob.id)).map((b) => b.id),
      [b1.booking.id],
    );
    t.same(
      (await store.listMine(ada.id, { start: T0 + HOUR_MS, end: T0 + 10 * HOUR_MS })).map((b) => b.id),
      [a2.booking.id],
    );
    t.equal((await store.listAll()).length, 3);

    t.same(
      (await store.spaceBookings('desk-1', T0, T0 + 2 * HOUR_MS)).map((b) => b.id),
      [a1.booking.id, b1.booking.id],
    );
    t.same(
      (await store.spaceBookings('desk-1', T0 + HOUR_MS, T0 + 2 * HOUR_MS)).map((b) => b.id),
      [b1.booking.id],
      'touching is not overlapping',
    );

    t.equal((await store.coveringBooking(ada.id, 'desk-1', T0 + 10, 0))?.id, a1.booking.id);
    t.equal(await store.coveringBooking(ada.id, 'desk-1', T0 - 5 * 60_000, 0), undefined, 'before the start');
    t.equal(
      (await store.coveringBooking(ada.id, 'desk-1', T0 - 5 * 60_000, 10 * 60_000))?.id,
      a1.booking.id,
      'within grace',
    );
    t.equal(
      await store.coveringBooking(ada.id, 'desk-1', T0 + HOUR_MS, 0),
      undefined,
      'the end is exclusive',
    );
    t.equal(
      await store.coveringBooking(bob.id, 'desk-1', T0 + 10, 0),
      undefined,
      "ada's booking does not cover bob",
    );

    t.equal(await store.cancel(a1.booking.id, { memberId: ada.id, staff: false }, NOW), 'cancelled');
    t.equal(await store.coveringBooking(ada.id, 'desk-1', T0 + 10, 0), undefined, 'cancelled covers nothing');
    t.same(
      (await store.spaceBookings('desk-1', T0, T0 + 2 * HOUR_MS)).map((b) => b.id),
      [b1.booking.id],
    );
    t.equal((await store.listMine(ada.id)).length, 2, 'a member still sees her cancelled booking');
  },
);

recordsContract(
  t,
  'check-in and release are one-way transitions; a release frees the slot',
  async (t, records) => {
    const store = records.bookings;
    const ada = await records.member('member');
    const a = await store.create({ memberId: ada.id, spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS }, NOW);
    const b = await store.create({ memberId: ada.id, spaceId: 'desk-2', start: T0, end: T0 + HOUR_MS }, NOW);
    if (!(a.ok && b.ok)) return t.fail('setup');

    t.same(await store.unconfirmed(T0 - 1), []);
    t.same((await store.unconfirmed(T0)).map((x) => x.id).sort(), [a.booking.id, b.booking.id].sort());
    t.match(await store.checkIn(a.booking.id, T0 + 60_000), {
      status: 'checked_in',
      checkedInAt: T0 + 60_000,
    });
    t.equal(await store.checkIn(a.booking.id, T0 + 120_000), undefined, 'checked in once');
    t.equal(
      await store.release(a.booking.id, T0 + 20 * 60_000),
      undefined,
      'a checked-in booking is never released',
    );
    t.match(await store.release(b.booking.id, T0 + 15 * 60_000), {
      status: 'released',
      releasedAt: T0 + 15 * 60_000,
    });
    t.equal(
      await store.checkIn(b.booking.id, T0 + 16 * 60_000),
      undefined,
      'a released booking is not checked in',
    );
    t.same(await store.unconfirmed(T0 + HOUR_MS), []);
    t.ok(
      (
        await store.create({
          memberId: ada.id,
          spaceId: 'desk-2',
          start: T0 + 30 * 60_000,
          end: T0 + HOUR_MS,
        })
      ).ok,
      'freed',
    );

    const usage = await store.usage({ start: T0, end: T0 + HOUR_MS });
    t.same(usage, [
      {
        spaceId: 'desk-1',
        bookings: 1,
        checkedIn: 1,
        released: 0,
        cancelled: 0,
        bookedMs: HOUR_MS,
        usedMs: HOUR_MS,
      },
      {
        spaceId: 'desk-2',
        bookings: 2,
        checkedIn: 0,
        released: 1,
        cancelled: 0,
        bookedMs: 1.5 * HOUR_MS,
        usedMs: 0,
      },
    ]);
  },
);

recordsContract(
  t,
  'the report reads every booking overlapping a range, whatever its status, and when bookings begin',
  async (t, records) => {
    const store = records.bookings;
    t.same(
      await store.spansWithin({ start: T0, end: T0 + HOUR_MS }),
      { spans: [], firstStart: null },
      'none yet',
    );
    const ada = await records.member('member');
    const spans0 = [
      { spaceId: 'desk-1', start: T0 - HOUR_MS, end: T0 }, // ends where the range starts: not in it
      { spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS },
      { spaceId: 'desk-2', start: T0 + 30 * 60_000, end: T0 + 3 * HOUR_MS }, // reaches past the range
      { spaceId: 'desk-3', start: T0 + HOUR_MS, end: T0 + 2 * HOUR_MS }, // starts where the range ends
    ];
    const made = [];
    for (const b of spans0) made.push(await store.create({ memberId: ada.id, ...b }, NOW));
    const [before, first, second] = made;
    if (!(before?.ok && first?.ok && second?.ok)) return t.fail('setup');
    t.equal(await store.cancel(second.booking.id, { memberId: ada.id, staff: false }, NOW), 'cancelled');
    const { spans, firstStart } = await store.spansWithin({ start: T0, end: T0 + HOUR_MS });
    t.same(
      spans.sort((a, b) => a.start - b.start),
      [
        { spaceId: 'desk-1', start: T0, end: T0 + HOUR_MS, status: 'booked' },
        { spaceId: 'desk-2', start: T0 + 30 * 60_000, end: T0 + 3 * HOUR_MS, status: 'cancelled' },
      ],
      'overlapping only, unclipped, cancelled ones too',
    );
    t.equal(firstStart, T0 - HOUR_MS, 'the first booking on record, whatever the range');
  },
);

recordsContract(t, 'the database itself refuses an overlapping active booking', async (t, records) => {
  const member = await records.member('member');
  const insert = (id: string, start: number, end: number, status: string) =>
    records.exec(
      `INSERT INTO bookings (id, site, member_id, space_id, start_ms, end_ms, status, created_at)
       VALUES ('${id}', '${TEST_HOUSE}', '${member.id}', 'd', ${start}, ${end}, '${status}', 0)`,
    );
  // SQLite's trigger says booking_overlap, PostgreSQL's exclusion constraint is bookings_no_overlap.
  const overlap = /booking_overlap|bookings_no_overlap/;
  await insert('x1', T0, T0 + HOUR_MS, 'booked');
  await t.rejects(insert('x2', T0 + 1, T0 + 2, 'booked'), overlap);
  await t.rejects(insert('x3', T0 - HOUR_MS, T0 + 1, 'checked_in'), overlap);
  await insert('x4', T0, T0 + HOUR_MS, 'cancelled');
  await t.rejects(records.exec(`UPDATE bookings SET status = 'booked' WHERE id = 'x4'`), overlap);
  await insert('x5', T0 + HOUR_MS, T0 + 2 * HOUR_MS, 'booked');
  await t.rejects(records.exec(`UPDATE bookings SET end_ms = end_ms + 1 WHERE id = 'x1'`), overlap);
  await t.rejects(insert('x6', T0, T0, 'booked'), /check/i, 'empty interval');
  t.same(
    (await records.bookings.spaceBookings('d', 0, Number.MAX_SAFE_INTEGER)).map((b) => b.id),
    ['x1', 'x5'],
  );
});

recordsContract(
  t,
  '200 concurrent conflicting bookings over two connections (two API processes): exactly one wins',
  async (t, records) => {
    const other = await records.another();
    const members = await Promise.all([1, 2, 3, 4].map(() => records.member('member')));
    const attempts = Array.from({ length: 200 }, (_, i) => {
      const store = i % 2 === 0 ? records.bookings : other.bookings;
      const member = members[i % members.length] as (typeof members)[0];
      // Different starts and ends, every one overlapping every other.
      return store.create({
        memberId: member.id,
        spaceId: 'desk-1',
        start: T0 + (i % 4) * 15 * 60_000,
        end: T0 + HOUR_MS + (i % 3) * 15 * 60_000,
      });
    });
    const results = await Promise.all(attempts);
    t.equal(results.filter((r) => r.ok).length, 1, 'one booking');
    t.equal(results.filter((r) => !r.ok).length, 199, 'every other attempt refused, none failed');
    const winner = results.find((r) => r.ok);
    for (const r of results)
      if (!r.ok && winner?.ok)
        t.same(r.conflict, { start: winner.booking.start, end: winner.booking.end }, 'refused by the winner');
    t.equal((await other.bookings.spaceBookings('desk-1', 0, Number.MAX_SAFE_INTEGER)).length, 1);
  },
);

recordsContract(
  t,
  'imported bookings: ids kept, taken once, overlapping active ones refused',
  async (t, records) => {
    const ada = await records.member('member');
    const booking = (
      id: string,
      start: number,
      status: 'booked' | 'checked_in' | 'released' | 'cancelled',
    ) => ({
      id,
      memberId: ada.id,
      spaceId: 'desk-1',
      start,
      end: start + HOUR_MS,
      status,
      checkedInAt: status === 'checked_in' ? start + 60_000 : null,
      releasedAt: status === 'released' ? start + 15 * 60_000 : null,
      cancelledAt: null,
      createdAt: NOW,
    });
    const history = [
      booking('h1', T0 - 2 * HOUR_MS, 'checked_in'),
      booking('h2', T0 - HOUR_MS, 'released'),
      booking('h3', T0 - HOUR_MS, 'booked'), // a released one does not hold the slot
      booking('h4', T0 - HOUR_MS + 60_000, 'booked'), // overlaps h3, within the same import
      booking('h1', T0 - 2 * HOUR_MS, 'checked_in'), // the same id twice
    ];
    t.same(await records.bookings.importBookings(history), { added: 3, existing: 1, refused: 1 });
    t.same(
      await records.bookings.importBookings(history),
      { added: 0, existing: 4, refused: 1 },
      'again: nothing new, the overlapping one refused again',
    );
    t.match(await records.bookings.get('h1'), {
      status: 'checked_in',
      checkedInAt: T0 - 2 * HOUR_MS + 60_000,
    });
    t.equal(await records.bookings.get('h4'), undefined);
    const before = await records.bookings.changeMarker();
    t.equal(await records.bookings.changeMarker(), before, 'the marker stands still without changes');
    const other = await records.another();
    await other.bookings.create({ memberId: ada.id, spaceId: 'desk-2', start: T0, end: T0 + HOUR_MS }, NOW);
    t.not(await records.bookings.changeMarker(), before, "another connection's booking moves the marker");
  },
);

t.test('writers in parallel threads on one file: exactly one wins', async (t) => {
  const { db, file } = records(t);
  const members = await Promise.all([1, 2, 3, 4].map(() => createTestMember(db, { role: 'member' })));
  // Each worker opens its own connection and races for the same desk and hour; SQLite arbitrates.
  const source = `
    import { workerData, parentPort } from 'node:worker_threads';
    const { openRecords } = await import(workerData.database);
    const { SqliteBookingStore } = await import(workerData.store);
    const db = openRecords(workerData.file);
    const store = new SqliteBookingStore(db, 'haus');
    let won = 0, refused = 0;
    for (let i = 0; i < workerData.attempts; i++) {
      const r = (await store.create({ memberId: workerData.memberId, spaceId: 'desk-1', start: workerData.start + (i % 4) * 900000, end: workerData.start + 3600000 }));
      if (r.ok) won++; else refused++;
    }
    db.close();
    parentPort.postMessage({ won, refused });
  `;
  const here = import.meta.dirname;
  const results = await Promise.all(
    members.map(
      ({ member }) =>
        new Promise<{ won: number; refused: number }>((resolve, reject) => {
          const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
            workerData: {
              file,
              memberId: member.id,
              start: T0,
              attempts: 50,
              database: pathToFileURL(path.join(here, '..', 'database', 'database.ts')).href,
              store: pathToFileURL(path.join(here, 'sqlite-booking-store.ts')).href,
            },
          });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  const won = results.reduce((n, r) => n + r.won, 0);
  const refused = results.reduce((n, r) => n + r.refused, 0);
  t.equal(won, 1, 'one booking');
  t.equal(refused, 199, 'every other attempt refused');
  t.equal(
    (await new SqliteBookingStore(db, 'haus').spaceBookings('desk-1', 0, Number.MAX_SAFE_INTEGER)).length,
    1,
  );
});
