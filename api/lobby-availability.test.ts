import t from 'tap';
import Value from 'typebox/value';
import { fromLocal } from '../site/local-time.ts';
import type { SiteConfig } from '../site/site.ts';
import {
  type BookedSlot,
  bookingState,
  co2Level,
  type LobbyReading,
  LobbySpace,
  lobbyBoard,
  lobbySpaceIds,
  lobbySpacesAffectedBy,
  openIntervals,
} from './lobby-availability.ts';

const WEEKDAYS_7_22 = [
  { days: [1, 2, 3, 4, 5], open: '07:00', close: '22:00' },
  { days: [6], open: '09:00', close: '18:00' },
];

/** A small coworking floor: a desk area with three desks, a Protel room, a meeting room, a café. */
function floor(): SiteConfig {
  return {
    site: { id: 'haus', name: 'Haus', timezone: 'Europe/Berlin' },
    floors: [{ id: 'og1', name: 'OG 1', level: 1, area_m2: 500 }],
    spaces: [
      // Marked bookable by mistake: a café is not a kind the booking store books, so the lobby leaves it out.
      { id: 'cafe', name: 'Café', floor: 'og1', kind: 'cafe', area_m2: 100, bookable: true },
      {
        id: 'area',
        name: 'Coworking',
        floor: 'og1',
        kind: 'desk_area',
        area_m2: 200,
        capacity: 3,
        opening_hours: WEEKDAYS_7_22,
      },
      ...['d1', 'd2', 'd3'].map((id) => ({
        id,
        name: `Platz ${id}`,
        floor: 'og1',
        kind: 'desk' as const,
        area_m2: 6,
        capacity: 1,
        bookable: true,
        parent: 'area',
        opening_hours: WEEKDAYS_7_22,
      })),
      { id: 'protel', name: 'Protel 1', floor: 'og1', kind: 'protel', area_m2: 25, bookable: true },
      {
        id: 'meeting',
        name: 'Besprechung',
        floor: 'og1',
        kind: 'meeting_room',
        area_m2: 30,
        capacity: 8,
        bookable: true,
        opening_hours: WEEKDAYS_7_22,
      },
    ],
    devices: [
      { id: 'area-co2', profile: 'air', topic: 'z/area-co2', space: 'area' },
      { id: 'd1-presence', profile: 'occ', topic: 'z/d1', space: 'd1' },
      { id: 'd2-presence', profile: 'occ', topic: 'z/d2', space: 'd2' },
      { id: 'meeting-co2', profile: 'air', topic: 'z/m-co2', space: 'meeting' },
      { id: 'meeting-co2-b', profile: 'air', topic: 'z/m-co2-b', space: 'meeting' },
      { id: 'meeting-presence', profile: 'occ', topic: 'z/m-occ', space: 'meeting' },
    ],
  };
}

const H = 3_600_000;
/** Monday 2 November 2026, Berlin is UTC+1 (winter time). */
const monday = (hour: number, minute = 0) => Date.UTC(2026, 10, 2, hour - 1, minute);

function board(
  now: number,
  booked: Record<string, BookedSlot[]> = {},
  readings: LobbyReading[] = [],
  more = {},
) {
  return lobbyBoard({ site: floor(), now, booked: new Map(Object.entries(booked)), readings, ...more });
}
const entry = (b: ReturnType<typeof board>, id: string) => b.spaces.find((s) => s.id === id) as LobbySpace;

t.test('CO2 traffic light', async (t) => {
  t.equal(co2Level(420), 'good');
  t.equal(co2Level(999), 'good');
  t.equal(co2Level(1000), 'elevated');
  t.equal(co2Level(2000), 'elevated');
  t.equal(co2Level(2001), 'poor');
});

t.test(
  'the lobby lists bookable spaces and the desk areas holding bookable desks, nothing else',
  async (t) => {
    t.same(lobbySpaceIds(floor()), ['area', 'd1', 'd2', 'd3', 'protel', 'meeting']);
    t.same(lobbySpacesAffectedBy(floor(), 'd2').sort(), ['area', 'd2']);
    t.same(lobbySpacesAffectedBy(floor(), 'area').sort(), ['area', 'd1', 'd2', 'd3']);
    t.same(lobbySpacesAffectedBy(floor(), 'cafe'), []);
    t.same(lobbySpacesAffectedBy(floor(), 'nowhere'), []);
  },
);

t.test(
  'opening hours are wall-clock time in the site time zone, across the summer-time switch',
  async (t) => {
    t.equal(
      fromLocal({ year: 2026, month: 3, day: 27 }, 9 * 60, 'Europe/Berlin'),
      Date.UTC(2026, 2, 27, 8, 0),
      'Friday, winter time',
    );
    t.equal(
      fromLocal({ year: 2026, month: 3, day: 30 }, 9 * 60, 'Europe/Berlin'),
      Date.UTC(2026, 2, 30, 7, 0),
      'Monday, summer time',
    );
    // Saturday 28 March 2026 at noon: open 09-18; closed Sunday; Monday 30 March opens 07:00 summer time.
    const saturdayNoon = Date.UTC(2026, 2, 28, 11, 0);
    const saturday = bookingState({ opening_hours: WEEKDAYS_7_22 }, [], 'Europe/Berlin', saturdayNoon);
    t.same(saturday, {
      status: 'free',
      freeUntil: Date.UTC(2026, 2, 28, 17, 0),
      busyUntil: null,
      changesAt: [Date.UTC(2026, 2, 28, 17, 0)],
    });
    const sundayNight = bookingState(
      { opening_hours: WEEKDAYS_7_22 },
      [],
      'Europe/Berlin',
      Date.UTC(2026, 2, 29, 20),
    );
    t.equal(sundayNight.status, 'closed');
    t.equal(sundayNight.busyUntil, Date.UTC(2026, 2, 30, 5, 0), 'opens Monday 07:00 CEST = 05:00Z');
  },
);

t.test('a day open until 24:00 and the next from 00:00 does not close at midnight', async (t) => {
  const hours = [
    { days: [1], open: '08:00', close: '24:00' },
    { days: [2], open: '00:00', close: '12:00' },
  ];
  const intervals = openIntervals(hours, 'Europe/Berlin', monday(10));
  t.ok(
    intervals.some((i) => i.start === monday(8) && i.end === monday(12) + 24 * H),
    'one interval Monday 08:00 to Tuesday 12:00',
  );
  const overnight = openIntervals(
    [{ days: [1], open: '20:00', close: '02:00' }],
    'Europe/Berlin',
    monday(10),
  );
  t.ok(
    overnight.some((i) => i.start === monday(20) && i.end === monday(26)),
    'a close before the opening is past midnight',
  );
});

t.test('free until the next booking, or closing time, or with no end in sight', async (t) => {
  const b = board(monday(10), { meeting: [{ start: monday(14), end: monday(15) }] });
  t.same(
    {
      status: entry(b, 'meeting').status,
      free: entry(b, 'meeting').free,
      until: entry(b, 'meeting').freeUntil,
    },
    { status: 'free', free: true, until: monday(14) },
    'next booking first',
  );
  t.equal(entry(b, 'd1').freeUntil, monday(22), 'no booking: free until closing');
  t.equal(entry(b, 'protel').freeUntil, null, 'no hours, no bookings: free, no end');
  t.equal(entry(b, 'protel').busyUntil, null);
  t.equal(b.changesAt, monday(14), 'the board changes by itself when the meeting starts');
});

t.test('busy until the end of the current booking, following back-to-back bookings', async (t) => {
  const slots = [
    { start: monday(12, 30), end: monday(13) },
    { start: monday(9), end: monday(11) },
    { start: monday(11), end: monday(12) },
  ];
  const m = entry(board(monday(10), { meeting: slots }), 'meeting');
  t.same(
    { status: m.status, free: m.free, freeUntil: m.freeUntil, busyUntil: m.busyUntil },
    { status: 'busy', free: false, freeUntil: null, busyUntil: monday(12) },
  );
  const atEnd = entry(board(monday(12), { meeting: slots }), 'meeting');
  t.same([atEnd.status, atEnd.freeUntil], ['free', monday(12, 30)], 'the end of a booking is free again');
  const protel = entry(
    board(monday(10), { protel: [{ start: monday(9) - 5 * 24 * H, end: monday(9) + 9 * 24 * H }] }),
    'protel',
  );
  t.equal(protel.busyUntil, monday(9) + 9 * 24 * H, 'a Protel booking of two weeks');
});

t.test('closed outside opening hours; a booking running past closing stays busy', async (t) => {
  const night = board(monday(23));
  t.same([entry(night, 'meeting').status, entry(night, 'meeting').busyUntil], ['closed', monday(7) + 24 * H]);
  t.equal(entry(night, 'meeting').free, false);
  const late = board(monday(22, 30), { meeting: [{ start: monday(21), end: monday(23) }] });
  t.same([entry(late, 'meeting').status, entry(late, 'meeting').busyUntil], ['busy', monday(23)]);
});

t.test('a desk area sums up its desks', async (t) => {
  const ts = monday(9, 55);
  const readings = [
    { device: 'd1-presence', quantity: 'occupancy', value: 1, ts },
    { device: 'd2-presence', quantity: 'occupancy', value: 0, ts },
    { device: 'area-co2', quantity: 'co2', value: 1450, ts },
  ];
  const oneBooked = board(monday(10), { d1: [{ start: monday(9), end: monday(13) }] }, readings);
  const area = entry(oneBooked, 'area');
  t.same(
    {
      status: area.status,
      freeUntil: area.freeUntil,
      occupied: area.occupied,
      desks: area.desks,
      co2: area.co2Level,
    },
    {
      status: 'free',
      freeUntil: monday(22),
      occupied: true,
      desks: { total: 3, free: 2, occupied: 1 },
      co2: 'elevated',
    },
  );
  t.equal(entry(oneBooked, 'd1').occupied, true);
  t.equal(entry(oneBooked, 'd2').occupied, false);
  t.equal(entry(oneBooked, 'd3').occupied, null, 'no sensor: unknown, not empty');
  t.equal(entry(oneBooked, 'd3').co2Level, 'elevated', "a desk breathes its area's air");

  const allBooked = board(monday(10), {
    d1: [{ start: monday(9), end: monday(13) }],
    d2: [{ start: monday(9), end: monday(11) }],
    d3: [{ start: monday(10), end: monday(12) }],
  });
  const full = entry(allBooked, 'area');
  t.same(
    [full.status, full.busyUntil, full.desks?.free],
    ['busy', monday(11), 0],
    'busy until the first desk frees',
  );
  const closed = entry(board(monday(23)), 'area');
  t.same([closed.status, closed.busyUntil], ['closed', monday(7) + 24 * H]);
});

t.test('readings: worst CO2 of a room, stale and offline sensors say nothing', async (t) => {
  const now = monday(10);
  const readings = [
    { device: 'meeting-co2', quantity: 'co2', value: 800, ts: now - 60_000 },
    { device: 'meeting-co2-b', quantity: 'co2', value: 2300, ts: now - 60_000 },
    { device: 'meeting-presence', quantity: 'occupancy', value: 1, ts: now - 4 * H },
    { device: 'meeting-presence', quantity: 'temperature', value: 21, ts: now },
  ];
  const b = board(now, {}, readings);
  t.equal(entry(b, 'meeting').co2Level, 'poor');
  t.equal(entry(b, 'meeting').occupied, null, 'a presence reading four hours old is not presence');
  t.equal(entry(b, 'protel').co2Level, null, 'no sensor: null');

  const offline = board(now, {}, readings, { offline: new Set(['meeting-co2-b']) });
  t.equal(entry(offline, 'meeting').co2Level, 'good', 'an offline sensor is left out');

  const shortLived = board(now, {}, readings, { freshMs: new Map([['meeting-co2', 5 * 60_000]]) });
  t.equal(shortLived.changesAt, now + 4 * 60_000, 'the board changes when a reading goes stale');
});

t.test('every entry carries exactly the public fields', async (t) => {
  const b = board(monday(10), { d1: [{ start: monday(9), end: monday(13) }] }, [
    { device: 'd1-presence', quantity: 'occupancy', value: 1, ts: monday(10) },
  ]);
  for (const space of b.spaces) t.ok(Value.Check(LobbySpace, space), `${space.id} matches LobbySpace`);
  t.same(Object.keys(entry(b, 'd1')).sort(), [
    'busyUntil',
    'capacity',
    'co2Level',
    'desks',
    'floor',
    'free',
    'freeUntil',
    'id',
    'kind',
    'name',
    'occupied',
    'parent',
    'status',
  ]);
  const leaky = { ...entry(b, 'd1'), memberId: 'm-1' };
  t.notOk(Value.Check(LobbySpace, leaky), 'the schema refuses any field beyond the public ones');
});
