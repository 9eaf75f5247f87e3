import t from 'tap';
import { openingIntervals } from '../bookings/booking-rules.ts';
import {
  allocationShare,
  type CommonGoodMeasures,
  commonGoodFigures,
  type EventAttendance,
  eventsReached,
  freePublicTime,
  paidHours,
  presentHoursDuring,
  usedTime,
} from './common-good.ts';
import { intersect, totalMs } from './space-use.ts';

const BERLIN = 'Europe/Berlin';
const H = 3_600_000;
const at = (iso: string) => Date.parse(iso);

// Monday 5 Oct 2026 00:00 CEST … Monday 12 Oct 00:00 CEST (UTC+2 all week). Times below are CEST.
const week = { start: at('2026-10-05T00:00:00+02:00'), end: at('2026-10-12T00:00:00+02:00') };
const hall = {
  opening_hours: [{ days: [1, 2, 3, 4, 5, 6], open: '09:00', close: '22:00' }],
  public_hours: [{ days: [2, 3, 4, 5], open: '10:00', close: '18:00' }],
};
const publicHours = openingIntervals({ opening_hours: hall.public_hours }, week, BERLIN);
const open = intersect(openingIntervals(hall, week, BERLIN), [week]);
const [evening, meeting, workshop] = [
  // Thursday's open evening 19:30–23:00, by staff, runs past the opening hours (22:00).
  { start: at('2026-10-08T19:30:00+02:00'), end: at('2026-10-08T23:00:00+02:00') },
  // Friday's 11:00 meeting lies within the public hours: it adds nothing to them.
  { start: at('2026-10-09T11:00:00+02:00'), end: at('2026-10-09T12:00:00+02:00') },
  // Saturday's workshop 14–17, a day without public hours.
  { start: at('2026-10-10T14:00:00+02:00'), end: at('2026-10-10T17:00:00+02:00') },
] as const;
const events = [evening, meeting, workshop];
// Wednesday 14–16 the hall is booked for a members' meeting: not open to the public then.
const others = [{ start: at('2026-10-07T14:00:00+02:00'), end: at('2026-10-07T16:00:00+02:00') }];

t.test('free public hours of a week, by hand', async (t) => {
  // Public hours Tuesday–Friday 10–18: 4 × 8 h = 32 h.
  t.equal(totalMs(publicHours), 32 * H);
  const free = freePublicTime(publicHours, events, others, week);
  // 32 h − Wednesday's 2 h members' meeting = 30 h; + Thursday 19:30–23:00 = 3.5 h; Friday's meeting is
  // within the public hours (+0); + Saturday 14–17 = 3 h. 30 + 3.5 + 3 = 36.5 h.
  t.equal(totalMs(free), 36.5 * H);
  // Opening hours Monday–Saturday 09–22: 6 × 13 h = 78 h.
  t.equal(totalMs(open), 78 * H);
  // Within them: 30 h + Thursday 19:30–22:00 (2.5 h; 22–23 is outside) + Saturday's 3 h = 35.5 h.
  t.equal(totalMs(intersect(free, open)), 35.5 * H);
});

t.test('free public hours across the autumn clock change count wall-clock hours', async (t) => {
  // Sunday 25 Oct 2026: clocks go back at 03:00 CEST; public 11–18 is 7 h on the wall and in real time.
  const sunday = { start: at('2026-10-25T00:00:00+02:00'), end: at('2026-10-26T00:00:00+01:00') };
  t.equal(sunday.end - sunday.start, 25 * H, 'the day is 25 hours long');
  const hours = openingIntervals(
    { opening_hours: [{ days: [7], open: '11:00', close: '18:00' }] },
    sunday,
    BERLIN,
  );
  t.equal(totalMs(freePublicTime(hours, [], [], sunday)), 7 * H);
  t.equal(hours[0]?.start, at('2026-10-25T11:00:00+01:00'), '11:00 winter time');
});

t.test('events held and people reached, by hand', async (t) => {
  const range = { start: week.start, end: at('2026-10-11T12:00:00+02:00') };
  const dates: EventAttendance[] = [
    // A: 20 signed up, the organiser counted 17, the sensor saw 2 hours: 17 reached, confirmed.
    { ...evening, signUps: 20, attended: 17, usedHours: 2 },
    // B: 12 signed up, no count entered, the sensor saw nobody: 12 reached, not confirmed.
    { ...meeting, signUps: 12, attended: null, usedHours: 0 },
    // C: no sign-up list, no count, no sensor: held, counted nowhere.
    { ...workshop, signUps: null, attended: null, usedHours: null },
    // D: still running at the end of the range (now): not held yet.
    {
      start: at('2026-10-11T11:00:00+02:00'),
      end: at('2026-10-11T13:00:00+02:00'),
      signUps: 5,
      attended: null,
      usedHours: 1,
    },
    // E: began the Sunday before the range: the previous period's.
    {
      start: at('2026-10-04T20:00:00+02:00'),
      end: at('2026-10-05T01:00:00+02:00'),
      signUps: 9,
      attended: 9,
      usedHours: 5,
    },
  ];
  t.same(eventsReached(dates, range), {
    held: 3,
    confirmed: 1,
    unconfirmed: 1,
    // 20 + 12
    signUps: 32,
    attended: 17,
    // A's count 17 + B's sign-ups 12
    peopleReached: 29,
    withoutCount: 1,
  });
});

t.test('hours a date was seen used', async (t) => {
  // Sensor hours 19:00, 20:00 and 23:00 (CEST); the date 19:30–23:00 touches 19:00, 20:00, 21:00, 22:00.
  const present = new Set([
    at('2026-10-08T19:00:00+02:00'),
    at('2026-10-08T20:00:00+02:00'),
    at('2026-10-08T23:00:00+02:00'),
  ]);
  t.equal(presentHoursDuring(present, evening), 2);
  t.equal(presentHoursDuring(new Set(), evening), 0);
});

t.test('hours used: bookings for bookable spaces, opening hours for others', async (t) => {
  const bookings = [
    { start: at('2026-10-05T09:00:00+02:00'), end: at('2026-10-05T12:00:00+02:00') },
    { start: at('2026-10-05T11:00:00+02:00'), end: at('2026-10-05T13:00:00+02:00') },
    // Sunday 23:00 to Monday 02:00 after the range: 1 h inside it.
    { start: at('2026-10-11T23:00:00+02:00'), end: at('2026-10-12T02:00:00+02:00') },
  ];
  // 09–13 (merged: 4 h) + 1 h = 5 h.
  t.equal(totalMs(usedTime({ kind: 'protel', bookable: true }, bookings, [], week)), 5 * H);
  // A café open Monday–Saturday 09–22 is used 78 h whatever is booked; a technical room without opening
  // hours (openingIntervals gives the whole range) all 168 h.
  t.equal(totalMs(usedTime({ kind: 'cafe', bookable: false }, bookings, open, week)), 78 * H);
  const always = openingIntervals({}, week, BERLIN);
  t.equal(totalMs(usedTime({ kind: 'technical', bookable: false }, [], always, week)), 168 * H);
});

t.test('the allocation of the main meters by area × hours used, by hand', async (t) => {
  const weights = [
    { spaceId: 'hall', kind: 'hall', areaM2: 100, usedMs: 40 * H }, // 4 000 m²h
    { spaceId: 'coworking', kind: 'desk_area', areaM2: 200, usedMs: 70 * H }, // 14 000
    { spaceId: 'protel', kind: 'protel', areaM2: 20, usedMs: 50 * H }, // 1 000
    { spaceId: 'technik', kind: 'technical', areaM2: 10, usedMs: 100 * H }, // 1 000
  ];
  // 4 000 / 20 000 = 0.2
  t.equal(allocationShare(weights, new Set(['hall'])), 0.2);
  t.equal(allocationShare(weights, new Set(['hall', 'protel'])), 0.25);
  t.equal(allocationShare([], new Set(['hall'])), null, 'nothing used: no share, not a division by zero');
});

t.test('paid hours valued at the site file prices', async (t) => {
  const booked = new Map([
    ['desk', 100 * H],
    ['protel', 50 * H],
    ['meeting_room', 7 * H],
  ]);
  // desk 100 h × 2.50 = 250; protel 50 h × 6 = 300; meeting rooms have no price: not a paid space.
  t.same(paidHours(booked, { desk: 2.5, protel: 6 }), [
    { kind: 'desk', bookedMs: 100 * H, priceEur: 2.5, valueEur: 250 },
    { kind: 'protel', bookedMs: 50 * H, priceEur: 6, valueEur: 300 },
  ]);
  t.same(paidHours(new Map(), { hall: 10 }), [{ kind: 'hall', bookedMs: 0, priceEur: 10, valueEur: 0 }]);
});

const measures: CommonGoodMeasures = {
  freePublicMs: 36.5 * H,
  openMs: 78 * H,
  publicWithinOpenMs: 35.5 * H,
  events: {
    held: 3,
    confirmed: 1,
    unconfirmed: 1,
    signUps: 32,
    attended: 17,
    peopleReached: 29,
    withoutCount: 1,
  },
  buildingEnergyKwh: 1000,
  allocation: 0.2,
  tariffEurPerKwh: 0.3,
  paidValueEur: 25,
  bookingsKnown: true,
};

t.test('the figures of a period, by hand', async (t) => {
  const f = commonGoodFigures(measures);
  t.equal(f.freePublicHours, 36.5);
  // 35.5 / 78
  t.equal(f.publicShareOfOpening, 35.5 / 78);
  t.equal(f.eventsHeld, 3);
  t.equal(f.eventsConfirmed, 1);
  t.equal(f.peopleReached, 29);
  t.equal(f.signUps, 32);
  t.equal(f.attendedCounted, 17);
  // 1000 kWh × 0.2 = 200 kWh; × 0.30 EUR = 60 EUR
  t.equal(f.publicSpaceEnergyKwh, 200);
  t.ok(Math.abs((f.publicSpaceCostEur ?? 0) - 60) < 1e-9);
  t.equal(f.paidHoursValueEur, 25);
  // 25 of 60 EUR carried
  t.ok(Math.abs((f.costCarriedShare ?? 0) - 25 / 60) < 1e-12);
  // 550 EUR of paid hours carry all of it, not 917 %.
  t.equal(commonGoodFigures({ ...measures, paidValueEur: 550 }).costCarriedShare, 1);
});

t.test('unknown stays unknown: no tariff, no prices, no meters, no bookings yet', async (t) => {
  t.equal(commonGoodFigures({ ...measures, tariffEurPerKwh: null }).publicSpaceCostEur, null);
  t.equal(commonGoodFigures({ ...measures, tariffEurPerKwh: null }).costCarriedShare, null);
  t.equal(commonGoodFigures({ ...measures, paidValueEur: null }).costCarriedShare, null);
  t.equal(commonGoodFigures({ ...measures, buildingEnergyKwh: null }).publicSpaceEnergyKwh, null);
  t.equal(commonGoodFigures({ ...measures, bookingsKnown: false }).paidHoursValueEur, null);
  t.equal(commonGoodFigures({ ...measures, openMs: 0 }).publicShareOfOpening, null);
});
