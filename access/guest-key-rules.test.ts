import t from 'tap';
import { decideGuestKey, type GuestKeyFacts, keyWindow, mayGiveGuestKey } from './guest-key-rules.ts';
import type { BookingFacts } from './unlock-rules.ts';

/** The guest-key rules with their own instants: before, during, after the window; revoked; someone else's room. */

const MIN = 60_000;
const START = Date.parse('2027-03-28T00:30:00Z'); // 01:30 Berlin, the night the clocks go forward
const END = START + 120 * MIN;
const GRACE = 10 * MIN;
const booking: BookingFacts = {
  id: 'b1',
  memberId: 'host',
  spaceId: 'hall',
  start: START,
  end: END,
  status: 'booked',
};
const reason = (v: ReturnType<typeof decideGuestKey>) => (v.granted ? 'granted' : v.reason);
const facts = (over: Partial<GuestKeyFacts> = {}): GuestKeyFacts => ({
  key: { spaceId: 'hall', bookingId: 'b1', revokedAt: null },
  booking,
  hostActive: true,
  space: { id: 'hall', lock: 'nuki-hall' },
  lockInstalled: true,
  now: START,
  graceBeforeMs: GRACE,
  ...over,
});

t.test('a key opens from the grace before the booking to its end, never outside', async (t) => {
  const at = (now: number) => decideGuestKey(facts({ now }));
  t.same(at(START - GRACE - 1), { granted: false, reason: 'not_yet' });
  t.same(at(START - GRACE), { granted: true, lock: 'nuki-hall', booking: 'b1' }, 'from the grace on');
  t.same(at(START + 60 * MIN), { granted: true, lock: 'nuki-hall', booking: 'b1' });
  t.same(at(END - 1), { granted: true, lock: 'nuki-hall', booking: 'b1' });
  t.same(at(END), { granted: false, reason: 'expired' }, 'not at the end');
  t.same(at(END + 86_400_000), { granted: false, reason: 'expired' });
  t.same(keyWindow(booking, GRACE), { opensAt: START - GRACE, closesAt: END });
});

t.test('revoked, host gone, booking cancelled or moved, no lock', async (t) => {
  t.same(decideGuestKey(facts({ key: { spaceId: 'hall', bookingId: 'b1', revokedAt: START - 1 } })), {
    granted: false,
    reason: 'revoked',
  });
  t.same(
    reason(
      decideGuestKey(facts({ key: { spaceId: 'hall', bookingId: 'b1', revokedAt: START }, now: END + 1 })),
    ),
    'revoked',
    'revoked says so whatever the time',
  );
  t.equal(reason(decideGuestKey(facts({ hostActive: false }))), 'host_gone');
  for (const status of ['cancelled', 'released'] as const)
    t.equal(reason(decideGuestKey(facts({ booking: { ...booking, status } }))), 'booking_cancelled', status);
  t.equal(reason(decideGuestKey(facts({ booking: undefined }))), 'booking_cancelled');
  t.equal(
    reason(decideGuestKey(facts({ booking: { ...booking, spaceId: 'other' } }))),
    'booking_cancelled',
    'a booking moved to another room takes its key along nowhere',
  );
  t.equal(reason(decideGuestKey(facts({ space: { id: 'hall' } }))), 'no_lock');
  t.equal(reason(decideGuestKey(facts({ lockInstalled: false }))), 'no_lock');
  t.equal(decideGuestKey(facts({ booking: { ...booking, status: 'checked_in' } })).granted, true);
});

t.test('who may give a key: for their own booking or a date of their event, before it is over', async (t) => {
  const give = (over: Partial<Parameters<typeof mayGiveGuestKey>[0]> = {}) =>
    mayGiveGuestKey({
      host: { id: 'host' },
      booking,
      organisesEventOnIt: false,
      space: { id: 'hall', lock: 'nuki-hall' },
      lockInstalled: true,
      now: START - 86_400_000,
      ...over,
    });
  t.same(give(), { ok: true });
  t.same(
    give({ host: { id: 'someone' } }),
    { ok: false, reason: 'not_your_booking' },
    'a room the host did not book',
  );
  t.same(
    give({ host: { id: 'organiser' }, organisesEventOnIt: true }),
    { ok: true },
    "the event's organiser",
  );
  t.same(give({ booking: undefined }), { ok: false, reason: 'not_your_booking' });
  t.same(give({ now: END }), { ok: false, reason: 'booking_over' });
  t.same(give({ now: START }), { ok: true }, 'during the booking');
  t.same(give({ booking: { ...booking, status: 'cancelled' } }), { ok: false, reason: 'booking_over' });
  t.same(give({ space: { id: 'hall' } }), { ok: false, reason: 'no_lock' });
});
