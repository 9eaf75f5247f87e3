import t from 'tap';
import type { SpaceConfig } from '../site/site.ts';
import { type BookingSpan, intersect, openWithin, spaceUse, sumSpaceUse, totalMs } from './space-use.ts';

const BERLIN = 'Europe/Berlin';
const H = 3_600_000;
const at = (iso: string) => Date.parse(iso);

const desk: SpaceConfig = {
  id: 'desk-1',
  name: 'Platz 1',
  floor: 'og1',
  kind: 'desk',
  area_m2: 6,
  bookable: true,
  opening_hours: [{ days: [1, 2, 3, 4, 5], open: '07:00', close: '22:00' }],
};
const protel: SpaceConfig = {
  id: 'protel-1',
  name: 'Protel 1',
  floor: 'og2',
  kind: 'protel',
  area_m2: 25,
  bookable: true,
};

// Monday 5 Oct 2026 00:00 CEST … Monday 12 Oct 00:00 CEST (UTC+2 all week).
const week = { start: at('2026-10-04T22:00:00Z'), end: at('2026-10-11T22:00:00Z') };
// Times below are CEST (+02:00).
const bookings: BookingSpan[] = [
  // Monday 09–12, someone came: 3 h booked, 3 h used.
  { start: at('2026-10-05T09:00:00+02:00'), end: at('2026-10-05T12:00:00+02:00'), status: 'checked_in' },
  // Tuesday 09–11 nobody came (released), and the freed desk was booked again 10–12 (not checked in):
  // together 09–12 = 3 h booked, not 4.
  { start: at('2026-10-06T09:00:00+02:00'), end: at('2026-10-06T11:00:00+02:00'), status: 'released' },
  { start: at('2026-10-06T10:00:00+02:00'), end: at('2026-10-06T12:00:00+02:00'), status: 'booked' },
  // Wednesday cancelled: not booked at all.
  { start: at('2026-10-07T08:00:00+02:00'), end: at('2026-10-07T10:00:00+02:00'), status: 'cancelled' },
];

t.test('a desk over a week: available, booked, used, no-shows', async (t) => {
  const use = spaceUse(desk, bookings, week, openWithin(desk, week, BERLIN), true);
  // Open Monday–Friday 07–22: 5 × 15 h = 75 h.
  t.equal(use.availableMs, 75 * H);
  // Booked: Monday 3 h + Tuesday 09–12 3 h = 6 h; used: Monday's 3 h.
  t.equal(use.bookedMs, 6 * H);
  t.equal(use.usedMs, 3 * H);
  t.equal(use.checkableBookedMs, 6 * H);
  t.equal(use.checkableUsedMs, 3 * H);
  // Started in the week and not cancelled: Monday, Tuesday (released), Tuesday again = 3; released 1.
  t.equal(use.started, 3);
  t.equal(use.released, 1);
});

t.test('without an occupancy sensor nothing can be checked in or released', async (t) => {
  const use = spaceUse(desk, bookings, week, openWithin(desk, week, BERLIN), false);
  t.equal(use.bookedMs, 6 * H, 'booked all the same');
  t.equal(use.checkableBookedMs, 0);
  t.equal(use.checkableUsedMs, 0);
  t.equal(use.started, 0);
  t.equal(use.released, 0);
});

t.test('bookings are clipped to the range', async (t) => {
  // Monday 00:00 … 11:00 CEST: open 07–11 = 4 h; Monday's booking 09–12 counts 09–11 = 2 h.
  const morning = { start: week.start, end: at('2026-10-05T11:00:00+02:00') };
  const use = spaceUse(desk, bookings, morning, openWithin(desk, morning, BERLIN), true);
  t.equal(use.availableMs, 4 * H);
  t.equal(use.bookedMs, 2 * H);
  t.equal(use.usedMs, 2 * H);
  t.equal(use.started, 1);
  // A booking that started before the range is booked within it but did not start in it.
  const afternoon = { start: at('2026-10-05T10:00:00+02:00'), end: at('2026-10-05T20:00:00+02:00') };
  const later = spaceUse(desk, bookings, afternoon, openWithin(desk, afternoon, BERLIN), true);
  t.equal(later.bookedMs, 2 * H, '10–12');
  t.equal(later.started, 0);
});

t.test('a Protel room is always open and never released; the autumn week has 169 hours', async (t) => {
  // Monday 19 Oct 00:00 CEST = 18 Oct 22:00 UTC … Monday 26 Oct 00:00 CET = 25 Oct 23:00 UTC: 7 × 24 + 1.
  const range = { start: at('2026-10-18T22:00:00Z'), end: at('2026-10-25T23:00:00Z') };
  const stay: BookingSpan[] = [
    // From Thursday 15 Oct to Wednesday 21 Oct 12:00 CEST: within the range from Monday 00:00 = 2 × 24 + 12 = 60 h.
    { start: at('2026-10-15T12:00:00+02:00'), end: at('2026-10-21T12:00:00+02:00'), status: 'checked_in' },
    { start: at('2026-10-22T12:00:00+02:00'), end: at('2026-10-23T12:00:00+02:00'), status: 'booked' },
  ];
  const use = spaceUse(protel, stay, range, openWithin(protel, range, BERLIN), true);
  t.equal(use.availableMs, 169 * H);
  t.equal(use.bookedMs, 60 * H + 24 * H);
  t.equal(use.usedMs, 60 * H);
  t.equal(use.started, 0, 'Protel bookings are not judged as no-shows');
});

t.test('intersect and sums', async (t) => {
  t.same(
    intersect(
      [
        { start: 0, end: 10 },
        { start: 20, end: 30 },
      ],
      [
        { start: 5, end: 25 },
        { start: 28, end: 40 },
      ],
    ),
    [
      { start: 5, end: 10 },
      { start: 20, end: 25 },
      { start: 28, end: 30 },
    ],
  );
  t.same(intersect([{ start: 0, end: 10 }], [{ start: 10, end: 20 }]), [], 'touching is not overlapping');
  t.equal(
    totalMs([
      { start: 0, end: 10 },
      { start: 20, end: 25 },
    ]),
    15,
  );
  const both = sumSpaceUse([
    spaceUse(desk, bookings, week, openWithin(desk, week, BERLIN), true),
    spaceUse(desk, bookings, week, openWithin(desk, week, BERLIN), false),
  ]);
  t.equal(both.bookedMs, 12 * H);
  t.equal(both.checkableBookedMs, 6 * H);
  t.equal(both.started, 3);
});
