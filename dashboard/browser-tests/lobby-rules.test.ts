import t from 'tap';
import {
  applyMessage,
  type FloorOnScreen,
  floorsOnScreen,
  type LobbyBoard,
  type LobbySpace,
  screenLayout,
  siteDay,
  siteDaysAhead,
  tileSpan,
  untilPhrase,
} from '../src/pages/lobby/lobby-board.ts';

// The lobby screen's own rules (dashboard/src/pages/lobby/lobby-board.ts), pure, with expectations worked out
// by hand. Berlin is UTC+1 in November.

const BERLIN = 'Europe/Berlin';
const at = (iso: string) => Date.parse(iso);

function space(over: Partial<LobbySpace> & { id: string }): LobbySpace {
  return {
    name: over.id,
    floor: 'eg',
    kind: 'protel',
    capacity: 4,
    parent: null,
    status: 'free',
    free: true,
    freeUntil: null,
    busyUntil: null,
    occupied: null,
    co2Level: null,
    desks: null,
    ...over,
  };
}

t.test('siteDay: the calendar day in the building, not in UTC', async (t) => {
  t.equal(siteDay(at('2026-11-23T22:59:00Z'), BERLIN), '2026-11-23', '23:59 in Berlin');
  t.equal(siteDay(at('2026-11-23T23:00:00Z'), BERLIN), '2026-11-24', 'midnight in Berlin, 23:00 UTC');
});

t.test(
  'siteDaysAhead: calendar days in the building, across midnight, the year and the clock changes',
  async (t) => {
    // New Year's Eve 23:50 in Berlin (22:50 UTC): 00:45 is tomorrow, and next year.
    const eve = at('2026-12-31T22:50:00Z');
    t.equal(siteDaysAhead(at('2026-12-31T22:59:00Z'), eve, BERLIN), 0, '23:59 the same evening');
    t.equal(siteDaysAhead(at('2026-12-31T23:45:00Z'), eve, BERLIN), 1, '00:45 on 1 January');
    t.equal(siteDaysAhead(at('2027-01-04T06:00:00Z'), eve, BERLIN), 4, 'Monday 07:00');
    // The night the clocks go forward: 01:55 CET on Sunday 28 March 2027; the day has 23 hours.
    const spring = at('2027-03-28T00:55:00Z');
    t.equal(siteDaysAhead(at('2027-03-28T21:59:00Z'), spring, BERLIN), 0, '23:59 CEST the same Sunday');
    t.equal(siteDaysAhead(at('2027-03-28T22:00:00Z'), spring, BERLIN), 1, 'midnight CEST is Monday');
    t.equal(siteDaysAhead(at('2027-03-29T05:00:00Z'), spring, BERLIN), 1, 'Monday 07:00 CEST');
    // And back in October: the day has 25 hours.
    const autumn = at('2027-10-30T22:30:00Z'); // Sunday 31 October 00:30 CEST
    t.equal(siteDaysAhead(at('2027-10-31T22:59:00Z'), autumn, BERLIN), 0, '23:59 CET the same Sunday');
    t.equal(siteDaysAhead(at('2027-10-31T23:00:00Z'), autumn, BERLIN), 1);
    t.equal(siteDaysAhead(eve - 3_600_000, eve, BERLIN), 0, 'an hour ago is still today');
  },
);

t.test('untilPhrase: a time today, a day when later, "for today" when nothing ends it today', async (t) => {
  const now = at('2026-11-23T12:00:00Z'); // 13:00 in Berlin
  const closing = at('2026-11-23T21:00:00Z'); // 22:00
  t.same(untilPhrase(space({ id: 'a', freeUntil: closing }), now, BERLIN), {
    kind: 'freeUntil',
    at: closing,
    daysAhead: 0,
  });
  t.same(untilPhrase(space({ id: 'a' }), now, BERLIN), { kind: 'freeForToday' }, 'nothing ends it');
  t.same(
    untilPhrase(space({ id: 'a', freeUntil: at('2026-11-24T08:00:00Z') }), now, BERLIN),
    { kind: 'freeForToday' },
    'the next booking is tomorrow',
  );
  const busy = { status: 'busy' as const, free: false };
  t.same(untilPhrase(space({ id: 'a', ...busy, busyUntil: at('2026-11-23T15:30:00Z') }), now, BERLIN), {
    kind: 'busyUntil',
    at: at('2026-11-23T15:30:00Z'),
    daysAhead: 0,
  });
  t.same(untilPhrase(space({ id: 'a', ...busy, busyUntil: at('2026-11-26T10:00:00Z') }), now, BERLIN), {
    kind: 'busyUntil',
    at: at('2026-11-26T10:00:00Z'),
    daysAhead: 3,
  });
  t.same(untilPhrase(space({ id: 'a', ...busy }), now, BERLIN), { kind: 'busy' }, 'busy with no end');
  const closed = { status: 'closed' as const, free: false };
  t.same(untilPhrase(space({ id: 'a', ...closed, busyUntil: at('2026-11-24T06:00:00Z') }), now, BERLIN), {
    kind: 'closedUntil',
    at: at('2026-11-24T06:00:00Z'),
    daysAhead: 1,
  });
  t.same(untilPhrase(space({ id: 'a', ...closed }), now, BERLIN), { kind: 'closed' });

  // 23:30 in Berlin, free until 00:15: the same UTC day, but tomorrow in the building.
  const late = at('2026-11-23T22:30:00Z');
  t.same(
    untilPhrase(space({ id: 'a', freeUntil: at('2026-11-23T23:15:00Z') }), late, BERLIN),
    { kind: 'freeForToday' },
    'the day ends at midnight in Berlin',
  );

  // New Year's Eve 23:50: a room booked until 01:45 is busy until tomorrow, a closed area opens on Friday.
  const eve = at('2026-12-31T22:50:00Z');
  t.same(untilPhrase(space({ id: 'a', ...busy, busyUntil: at('2027-01-01T00:45:00Z') }), eve, BERLIN), {
    kind: 'busyUntil',
    at: at('2027-01-01T00:45:00Z'),
    daysAhead: 1,
  });
  // Sunday 22:50: the area closed since Saturday 18:00 opens on Monday at 07:00.
  const sunday = at('2026-12-13T21:50:00Z');
  t.same(untilPhrase(space({ id: 'a', ...closed, busyUntil: at('2026-12-14T06:00:00Z') }), sunday, BERLIN), {
    kind: 'closedUntil',
    at: at('2026-12-14T06:00:00Z'),
    daysAhead: 1,
  });
});

t.test('floorsOnScreen: from the ground up, desks only through their area', async (t) => {
  const board: LobbyBoard = {
    site: { id: 's', name: 'S', timezone: BERLIN },
    at: 0,
    floors: [
      { id: 'og1', name: 'First', level: 1 },
      { id: 'eg', name: 'Ground', level: 0 },
      { id: 'og2', name: 'Second, nothing bookable', level: 2 },
    ],
    spaces: [
      space({ id: 'area', floor: 'og1', kind: 'desk_area', desks: { total: 2, free: 1, occupied: 0 } }),
      space({ id: 'desk-1', floor: 'og1', kind: 'desk', parent: 'area' }),
      space({ id: 'hall', floor: 'eg', kind: 'hall' }),
      space({ id: 'attic', floor: 'roof' }),
    ],
  };
  t.same(
    floorsOnScreen(board).map((f) => [f.floor.id, f.spaces.map((s) => s.id)]),
    [
      ['eg', ['hall']],
      ['og1', ['area']],
      ['roof', ['attic']],
    ],
    'ordered by level, empty floors left out, a floor the board does not name still shown',
  );
});

t.test('applyMessage: the board, one space at a time, heartbeats change nothing', async (t) => {
  const board: LobbyBoard = {
    site: { id: 's', name: 'S', timezone: BERLIN },
    at: 1,
    floors: [],
    spaces: [space({ id: 'a' }), space({ id: 'b' })],
  };
  t.equal(
    applyMessage(null, { type: 'lobby-space', at: 2, space: space({ id: 'a' }) }),
    null,
    'no board yet',
  );
  const first = applyMessage(null, { type: 'lobby', ...board });
  t.same(first, board, 'the whole board');
  const busyA = space({ id: 'a', status: 'busy', free: false, busyUntil: 9 });
  const next = applyMessage(first, { type: 'lobby-space', site: 's', at: 3, space: busyA });
  t.same(
    next?.spaces.map((s) => [s.id, s.status]),
    [
      ['a', 'busy'],
      ['b', 'free'],
    ],
  );
  t.equal(next?.at, 3);
  t.equal(applyMessage(next, { type: 'heartbeat', at: 4 }), next, 'a heartbeat leaves the board as it is');
  t.equal(applyMessage(next, 'garbage'), next, 'nonsense is ignored');
});

t.test('tileSpan: a desk area or a long name takes two cells, or the whole row when few fit', async (t) => {
  const area = space({ id: 'area', kind: 'desk_area', desks: { total: 30, free: 12, occupied: 3 } });
  const hall = space({ id: 'hall', name: 'Diskursraum mit Zukunftswerkstatt' });
  const room = space({ id: 'room', name: 'Protel 201' });
  t.same([tileSpan(area, 5), tileSpan(hall, 5), tileSpan(room, 5)], [2, 2, 1]);
  t.same([tileSpan(area, 3), tileSpan(hall, 2), tileSpan(room, 3)], [3, 2, 1]);
});

t.test('screenLayout: the columns that give the biggest type with everything on the screen', async (t) => {
  const four: FloorOnScreen[] = [
    {
      floor: { id: 'eg', name: 'EG', level: 0 },
      spaces: ['a', 'b', 'c', 'd'].map((id) => space({ id })),
    },
  ];
  // Landscape 1000×500, labels beside (8 em). A tile is 4.4 em high and 12.5 em wide, gaps 0.5 em.
  //   1 column:  4 rows: 500 / (17.6 + 1.5) = 26.18; 1000 / (12.5 + 8) = 48.78       -> 26.18
  //   2 columns: 2 rows: 500 / (8.8 + 0.5) = 53.76;  1000 / (25 + 0.5 + 8) = 29.85   -> 29.85
  //   3 columns: 2 rows: 53.76;                      1000 / (37.5 + 1 + 8) = 21.51   -> 21.51
  //   4 columns: 1 row:  500 / 4.4 = 113.6;          1000 / (50 + 1.5 + 8) = 16.81  -> 16.81
  // Two columns win; 3 % kept for rounding: 29.85 × 0.97 = 28.96, to a tenth below: 28.9.
  t.same(screenLayout(four, 1000, 500), { columns: 2, fontPx: 28.9, labelsBeside: true });
  // Portrait 500×1000, the floor's name above (1.7 em):
  //   1 column:  1000 / (17.6 + 1.5 + 1.7) = 48.08; 500 / 12.5 = 40     -> 40
  //   2 columns: 1000 / (8.8 + 0.5 + 1.7) = 90.9;   500 / 25.5 = 19.61  -> 19.61
  // One column, 40 × 0.97 = 38.8.
  t.same(screenLayout(four, 500, 1000), { columns: 1, fontPx: 38.8, labelsBeside: false });
  // A lone room on a big screen: no bigger than 64 px (× 0.97 = 62.08 -> 62).
  t.same(screenLayout([{ ...four[0], spaces: [space({ id: 'a' })] } as FloorOnScreen], 3840, 2160), {
    columns: 1,
    fontPx: 62,
    labelsBeside: true,
  });
  t.same(screenLayout([], 1920, 1080).columns, 1, 'nothing to show: any layout');
});
