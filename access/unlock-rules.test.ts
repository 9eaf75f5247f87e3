import t from 'tap';
import {
  type BookingFacts,
  decideTokenUnlock,
  decideUnlock,
  RateLimiter,
  type TokenUnlockFacts,
  takeToken,
  type UnlockFacts,
  unknownDoors,
} from './unlock-rules.ts';

const MIN = 60_000;
const NOW = Date.UTC(2026, 10, 3, 9, 0);
const room = { id: 'protel-1', bookable: true, lock: 'lock-p1' };
const anna = { id: 'anna', role: 'member' as const };

function booking(over: Partial<BookingFacts>): BookingFacts {
  return {
    id: 'b1',
    memberId: 'anna',
    spaceId: 'protel-1',
    start: NOW - 30 * MIN,
    end: NOW + 30 * MIN,
    status: 'booked',
    ...over,
  };
}

function facts(over: Partial<UnlockFacts>): UnlockFacts {
  return {
    member: anna,
    space: room,
    lockInstalled: true,
    bookings: [],
    now: NOW,
    graceBeforeMs: 10 * MIN,
    ...over,
  };
}

t.test('a booking covering now opens the lock, from the grace before its start until its end', async (t) => {
  t.same(decideUnlock(facts({ bookings: [booking({})] })), {
    granted: true,
    reason: 'booking',
    lock: 'lock-p1',
    booking: 'b1',
  });
  const later = booking({ start: NOW + 10 * MIN, end: NOW + 70 * MIN });
  t.match(decideUnlock(facts({ bookings: [later] })), { granted: true }, 'exactly at the grace boundary');
  t.match(
    decideUnlock(facts({ bookings: [booking({ start: NOW + 10 * MIN + 1, end: NOW + 70 * MIN })] })),
    { granted: false, reason: 'outside_booking' },
    'one ms before the grace',
  );
  t.match(
    decideUnlock(facts({ bookings: [booking({ start: NOW - 60 * MIN, end: NOW })] })),
    { granted: false, reason: 'outside_booking' },
    'the end is exclusive',
  );
  t.match(decideUnlock(facts({ bookings: [booking({ status: 'checked_in' })] })), { granted: true });
  t.match(
    decideUnlock(facts({ bookings: [booking({ status: 'released' })] })),
    { granted: false, reason: 'no_booking' },
    'a released no-show opens nothing',
  );
  t.match(decideUnlock(facts({ bookings: [booking({ status: 'cancelled' })] })), {
    granted: false,
    reason: 'no_booking',
  });
  t.match(
    decideUnlock(facts({ bookings: [booking({ spaceId: 'protel-2' })] })),
    { granted: false, reason: 'no_booking' },
    'a booking of another space does not count',
  );
});

t.test('denials say why', async (t) => {
  t.match(decideUnlock(facts({})), { granted: false, reason: 'no_booking' });
  t.match(decideUnlock(facts({ bookings: [booking({ memberId: 'ben' })] })), {
    granted: false,
    reason: 'not_your_space',
  });
  t.match(
    decideUnlock(
      facts({
        bookings: [
          booking({ memberId: 'ben' }),
          booking({ id: 'b2', start: NOW + 2 * 60 * MIN, end: NOW + 3 * 60 * MIN }),
        ],
      }),
    ),
    { granted: false, reason: 'not_your_space' },
    'someone else now wins over my own later booking',
  );
  t.match(decideUnlock(facts({ space: { id: 'desk-1', bookable: true } })), {
    granted: false,
    reason: 'no_lock',
  });
  t.match(decideUnlock(facts({ lockInstalled: false })), { granted: false, reason: 'no_lock' });
  t.match(decideUnlock(facts({ space: { id: 'tech', lock: 'lock-t' } })), {
    granted: false,
    reason: 'not_bookable',
  });
});

t.test('facility and admin open any lock; board and members need a booking', async (t) => {
  for (const role of ['facility', 'admin'] as const) {
    t.same(decideUnlock(facts({ member: { id: 'f', role }, space: { id: 'tech', lock: 'lock-t' } })), {
      granted: true,
      reason: 'staff',
      lock: 'lock-t',
      booking: null,
    });
    t.match(decideUnlock(facts({ member: { id: 'f', role }, space: { id: 'desk' } })), { reason: 'no_lock' });
  }
  t.match(decideUnlock(facts({ member: { id: 'b', role: 'board' } })), {
    granted: false,
    reason: 'no_booking',
  });
});

t.test('the token bucket allows a burst, then one attempt per refill interval', async (t) => {
  const limit = { burst: 3, perMinute: 6 };
  let bucket = undefined as ReturnType<typeof takeToken>['bucket'] | undefined;
  for (let i = 0; i < 3; i++) {
    const r = takeToken(bucket, NOW, limit);
    t.ok(r.allowed, `burst ${i + 1}`);
    bucket = r.bucket;
  }
  const refused = takeToken(bucket, NOW, limit);
  t.match(refused, { allowed: false, retryAfterMs: 10_000 });
  t.match(takeToken(refused.bucket, NOW + 9_999, limit), { allowed: false });
  t.match(takeToken(refused.bucket, NOW + 10_000, limit), { allowed: true });
  t.match(
    takeToken(bucket, NOW + 60 * MIN, limit),
    { allowed: true, bucket: { tokens: 2 } },
    'never above the burst',
  );

  const limiter = new RateLimiter({ burst: 10, perMinute: 10 });
  const allowed = Array.from({ length: 12 }, (_, i) => limiter.take('anna', NOW + i).allowed);
  t.same(allowed.filter(Boolean).length, 10, 'ten per minute');
  t.ok(limiter.take('ben', NOW).allowed, 'one member does not use up another');
  t.ok(limiter.take('anna', NOW + 6_100).allowed, 'a token is back after six seconds');
});

t.test(
  'in a network: roles are per site, and a guest opens only what the house opens to their home',
  async (t) => {
    const nord = { id: 'nord', installationHome: 'nord', guests: [{ from: ['*'], kinds: ['desk'] }] };
    const sued = {
      id: 'sued',
      installationHome: 'nord',
      guests: [
        { from: ['nord'], kinds: ['desk', 'meeting_room'] },
        { from: ['*'], kinds: ['desk'] },
      ],
    };
    const protel = { id: 'protel-1', bookable: true, lock: 'lock-1', kind: 'protel' };
    const meeting = { id: 'besprechung', bookable: true, lock: 'lock-2', kind: 'meeting_room' };
    // Kim runs Nord; at Süd Kim is a plain member, and a guest.
    const kim = { id: 'kim', role: 'facility' as const, homeSite: 'nord' };
    t.match(decideUnlock(facts({ member: kim, space: protel, site: nord })), {
      granted: true,
      reason: 'staff',
    });
    t.match(
      decideUnlock(facts({ member: kim, space: protel, site: sued })),
      { granted: false, reason: 'not_open_to_guests' },
      "the facility manager of Nord opens no Protel room of Süd: Süd's guests book desks and rooms only",
    );
    const kimsBooking = booking({ memberId: 'kim', spaceId: 'besprechung' });
    t.match(
      decideUnlock(facts({ member: kim, space: meeting, site: sued, bookings: [kimsBooking] })),
      { granted: true, reason: 'booking' },
      "a guest's own booking of a kind the house opens to Nord opens it",
    );
    t.match(
      decideUnlock(facts({ member: kim, space: meeting, site: sued, bookings: [] })),
      { granted: false, reason: 'no_booking' },
      'a guest without a booking: like any member',
    );
    // A member with no home named belongs to the installation's home site (every member before the network).
    const old = { id: 'old', role: 'admin' as const };
    t.match(decideUnlock(facts({ member: old, space: protel, site: nord })), { reason: 'staff' });
    t.match(decideUnlock(facts({ member: old, space: protel, site: sued })), {
      reason: 'not_open_to_guests',
    });
    // A role given at Süd: no guest there, staff there.
    const both = { ...kim, siteRoles: { sued: 'facility' as const } };
    t.match(decideUnlock(facts({ member: both, space: protel, site: sued })), {
      granted: true,
      reason: 'staff',
    });
    const suedMember = { id: 'sam', role: 'member' as const, homeSite: 'sued' };
    t.match(
      decideUnlock(
        facts({ member: suedMember, space: protel, site: sued, bookings: [booking({ memberId: 'sam' })] }),
      ),
      { granted: true, reason: 'booking' },
      "Süd's own member with a booking opens Süd's Protel room: guest rules bind guests only",
    );
    const closed = { id: 'sued', installationHome: 'nord' };
    t.match(
      decideUnlock(facts({ member: kim, space: meeting, site: closed, bookings: [kimsBooking] })),
      { granted: false, reason: 'not_open_to_guests' },
      'a site file without guests takes none, even with a booking',
    );
  },
);

t.test('an integration token: only a door it names, in the opening hours or during a booking', async (t) => {
  const tokenFacts = (over: Partial<TokenUnlockFacts>): TokenUnlockFacts => ({
    token: { locks: ['protel-1'] },
    space: room,
    lockInstalled: true,
    openNow: true,
    bookings: [],
    now: NOW,
    graceBeforeMs: 10 * MIN,
    ...over,
  });
  t.same(decideTokenUnlock(tokenFacts({})), {
    granted: true,
    reason: 'opening_hours',
    lock: 'lock-p1',
    booking: null,
  });
  t.match(decideTokenUnlock(tokenFacts({ token: { locks: ['lock-p1'] } })), { granted: true }, 'by its lock');
  t.same(decideTokenUnlock(tokenFacts({ token: { locks: ['protel-2', 'lock-p2'] } })), {
    granted: false,
    reason: 'not_on_token',
  });
  t.same(decideTokenUnlock(tokenFacts({ token: { locks: [] } })), { granted: false, reason: 'not_on_token' });
  t.same(
    decideTokenUnlock(tokenFacts({ token: { locks: ['protel-2'] }, openNow: false })),
    { granted: false, reason: 'not_on_token' },
    'a door not on the list is refused as such, whatever the hours',
  );
  t.same(decideTokenUnlock(tokenFacts({ lockInstalled: false })), { granted: false, reason: 'no_lock' });
  t.same(decideTokenUnlock(tokenFacts({ space: { id: 'protel-1' } })), { granted: false, reason: 'no_lock' });
  t.same(decideTokenUnlock(tokenFacts({ openNow: false })), {
    granted: false,
    reason: 'outside_opening_hours',
  });
  // Outside the hours, a booking of the space covering now (an evening event) keeps its door in use.
  t.same(decideTokenUnlock(tokenFacts({ openNow: false, bookings: [booking({ memberId: 'ben' })] })), {
    granted: true,
    reason: 'booking',
    lock: 'lock-p1',
    booking: 'b1',
  });
  const soon = booking({ start: NOW + 5 * MIN, end: NOW + 60 * MIN });
  t.match(
    decideTokenUnlock(tokenFacts({ openNow: false, bookings: [soon] })),
    { granted: true },
    'in the grace',
  );
  for (const other of [
    booking({ start: NOW + 15 * MIN, end: NOW + 60 * MIN }),
    booking({ end: NOW }),
    booking({ status: 'released' }),
    booking({ status: 'cancelled' }),
    booking({ spaceId: 'protel-2' }),
  ])
    t.same(
      decideTokenUnlock(tokenFacts({ openNow: false, bookings: [other] })),
      { granted: false, reason: 'outside_opening_hours' },
      `${other.status} ${other.spaceId} ${(other.start - NOW) / MIN}…${(other.end - NOW) / MIN} min opens nothing`,
    );
});

t.test('the doors a token may name: a space with a lock, or the lock of a space', async (t) => {
  const spaces = [room, { id: 'desk-1' }, { id: 'office', lock: 'lock-o' }];
  t.same(unknownDoors(['protel-1', 'lock-o'], spaces), []);
  t.same(unknownDoors(['desk-1', 'lock-x', 'protel-1', 'nowhere'], spaces), ['desk-1', 'lock-x', 'nowhere']);
});
