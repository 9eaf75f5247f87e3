import t from 'tap';
import type { Booking } from '../../bookings/booking-store.ts';
import { loadSite } from '../../site/load.ts';
import { DEMO_SITE_FILE } from '../demo-site.ts';
import { SimulatedBuilding } from '../simulated-building.ts';
import { historyBookingId } from './booking-habits.ts';
import { upcomingBookings } from './bookings-ahead.ts';

t.test('upcoming bookings of the whole building, at 14:07 on a Wednesday', async (t) => {
  const site = loadSite(DEMO_SITE_FILE);
  const building = new SimulatedBuilding(site, 'kaufhaus');
  // Wednesday 11 March 2026, 14:07 in Halle (CET): the quarter hour under way began at 14:00.
  const now = Date.UTC(2026, 2, 11, 13, 7);
  const from = Date.UTC(2026, 2, 11, 13, 0);
  const until = Date.UTC(2026, 2, 12, 23, 0);
  const members = Array.from({ length: 40 }, (_, i) => `m${i}`);
  const occupied = (spaceId: string, t: number) => building.peopleIn(spaceId, t) > 0;
  const input = { site, seed: 'kaufhaus', now, occupied, members };
  const ahead = upcomingBookings(input);
  t.same(upcomingBookings(input), ahead, 'the same every time');
  t.equal(new Set(ahead.map((b) => b.id)).size, ahead.length, 'distinct ids');
  t.notOk(
    ahead.some((b) => b.id === historyBookingId('kaufhaus', b.spaceId, b.start)),
    'ids of their own: a history booking starting at the same time keeps its id',
  );
  const kind = (b: Booking) => site.spaces.find((s) => s.id === b.spaceId)?.kind;
  for (const b of ahead) {
    t.ok(
      b.start >= from && b.start < until && b.end > b.start,
      `${b.id} between 14:00 and the end of tomorrow`,
    );
    t.equal(b.start % (15 * 60_000), 0, 'on a quarter hour');
  }
  const atFrom = ahead.filter((b) => b.start === from);
  const busyNow = atFrom.filter((b) => kind(b) === 'desk');
  t.ok(busyNow.length >= 10, `${busyNow.length} desks booked from 14:00 (sessions under way)`);
  for (const b of busyNow) t.ok(occupied(b.spaceId, from), `${b.spaceId}: someone is at the desk`);
  const protel = ahead.filter((b) => kind(b) === 'protel');
  t.ok(protel.filter((b) => b.start === from).length >= 10, 'most Protel rooms rented right now');
  t.ok(
    ahead.some((b) => kind(b) === 'meeting_room'),
    'meeting rooms booked',
  );
  for (const a of ahead)
    for (const b of ahead)
      if (a !== b && a.spaceId === b.spaceId) t.ok(a.end <= b.start || b.end <= a.start, 'no overlap');
  // An hour later the sessions are the same ones (same ids), minus those that began meanwhile.
  const later = upcomingBookings({ ...input, now: now + 60 * 60_000 });
  const earlier = new Set(ahead.map((b) => b.id));
  const fresh = later.filter((b) => !earlier.has(b.id));
  t.ok(fresh.length < later.length / 10, `${fresh.length} of ${later.length} new an hour later`);
});
