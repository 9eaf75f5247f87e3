import t from 'tap';
import { energyByDay, HOUR_MS, occupancyByHour } from './facility-history.ts';
import { localDays } from './facility-overview.ts';

const QUARTER = 15 * 60_000;

t.test(
  'energy per local day sums the main meters quarter hours into Berlin days, DST day included',
  async (t) => {
    // 29 March 2026 is the spring change in Berlin: that day has 23 hours.
    const days = localDays(Date.parse('2026-03-30T10:00:00Z'), 3, 'Europe/Berlin');
    t.same(
      days.map((d) => d.date),
      ['2026-03-28', '2026-03-29', '2026-03-30'],
    );
    t.equal(days[0]?.from, Date.parse('2026-03-27T23:00:00Z'));
    t.equal(days[1]?.from, Date.parse('2026-03-28T23:00:00Z'));
    t.equal(days[2]?.from, Date.parse('2026-03-29T22:00:00Z'), 'summer time from the 30th');
    t.equal((days[1]?.to ?? 0) - (days[1]?.from ?? 0), 23 * HOUR_MS, 'the 29th is 23 hours long');

    const day1 = Date.parse('2026-03-27T23:00:00Z');
    const day2 = Date.parse('2026-03-28T23:00:00Z');
    const result = energyByDay(
      days,
      [
        {
          device: 'main-a',
          points: [
            { ts: day1, value: 1 }, // the first quarter hour of the 28th (local 00:00)
            { ts: day2 - QUARTER, value: 0.5 }, // its last quarter hour (local 23:45)
            { ts: day2, value: 2 }, // local midnight of the 29th belongs to the 29th
          ],
        },
        { device: 'plug-1', points: [{ ts: day1, value: 100 }] }, // a sub-meter: inside a main meter already
        { device: 'main-b', points: [{ ts: day2 + 4 * QUARTER, value: 0.25 }] },
        // main-c measures three phases, a series each: every phase counts.
        { device: 'main-c', channel: '0', points: [{ ts: day1, value: 0.5 }] },
        { device: 'main-c', channel: '1', points: [{ ts: day1, value: 0.25 }] },
        { device: 'main-c', channel: '2', points: [{ ts: day2, value: 0.125 }] },
      ],
      new Set(['main-a', 'main-b', 'main-c']),
    );
    t.same(result, [
      { date: '2026-03-28', from: day1, kwh: 2.25 },
      { date: '2026-03-29', from: day2, kwh: 2.375 },
      { date: '2026-03-30', from: Date.parse('2026-03-29T22:00:00Z'), kwh: null },
    ]);
  },
);

t.test(
  'occupancy per hour: reports carry for three intervals, several sensors in a space count once',
  async (t) => {
    const h0 = Date.parse('2026-05-04T08:00:00Z');
    const w = h0 - HOUR_MS;
    const hours = [0, 1, 2, 3, 4, 5].map((i) => h0 + i * HOUR_MS);
    const [, h1, h2] = hours as [number, number, number];
    const result = occupancyByHour({
      hours,
      warmUp: [w],
      spaceOf: new Map([
        ['s1', 'a'],
        ['s2', 'b'],
        ['s3', 'b'],
        ['s4', 'c'],
      ]),
      max: new Map([
        [
          's1',
          new Map([
            [w, 1],
            [h1, 0],
          ]),
        ],
        ['s2', new Map([[w, 0]])],
        ['s3', new Map([[h2, 1]])],
      ]),
      last: new Map([
        [
          's1',
          new Map([
            [w, 1],
            [h1, 0],
          ]),
        ],
        ['s2', new Map([[w, 0]])],
        ['s3', new Map([[h2, 0]])],
      ]),
      carryMs: () => 3 * HOUR_MS,
    });
    t.equal(result.spaces, 3, 'a, b and c have presence sensors');
    t.same(result.hours, [
      // s1 carries "someone" from the warm-up hour; s2 carries "nobody" for b.
      { ts: hours[0], occupied: 1, sensed: 2, share: 0.5 },
      // s1 reports nobody; s2 still carries (2 h).
      { ts: hours[1], occupied: 0, sensed: 2, share: 0 },
      // s2 expired (3 h); s3 saw someone in b during the hour; s1 carries nobody.
      { ts: hours[2], occupied: 1, sensed: 2, share: 0.5 },
      // s3's last report said nobody; s1 carries (2 h).
      { ts: hours[3], occupied: 0, sensed: 2, share: 0 },
      // s1 expired (3 h after its report's hour); s3 carries (2 h).
      { ts: hours[4], occupied: 0, sensed: 1, share: 0 },
      { ts: hours[5], occupied: 0, sensed: 0, share: null },
    ]);
  },
);
