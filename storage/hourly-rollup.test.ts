import t from 'tap';
import { rollUpHours } from './hourly-rollup.ts';

const H = 3_600_000;

t.test('an hour keeps count, sum, min, max, the last number and its time', async (t) => {
  const rows = rollUpHours([
    { ts: 0.1 * H, value: 2 },
    { ts: 0.5 * H, value: 'locked' },
    { ts: 0.7 * H, value: 4 },
    { ts: 2.2 * H, value: 9 },
  ]);
  t.same(rows, [
    { hour: 0, count: 3, numCount: 2, sum: 6, min: 2, max: 4, last: 4, lastTs: 0.7 * H, consumption: 2 },
    { hour: 2 * H, count: 1, numCount: 1, sum: 9, min: 9, max: 9, last: 9, lastTs: 2.2 * H, consumption: 5 },
  ]);
});

t.test('words only: counted, no numbers, no consumption', async (t) => {
  t.same(rollUpHours([{ ts: 10, value: 'open' }]), [
    {
      hour: 0,
      count: 1,
      numCount: 0,
      sum: 0,
      min: null,
      max: null,
      last: null,
      lastTs: null,
      consumption: null,
    },
  ]);
  t.same(rollUpHours([]), []);
});

t.test(
  'consumption per hour from the baseline on: a dip is nothing, a restart counts what follows',
  async (t) => {
    const rows = rollUpHours(
      [
        { ts: 0.5 * H, value: 1001 }, // +1 from the baseline of the hour before
        { ts: 0.9 * H, value: 1000.5 }, // a dip of 0.05 %: samples out of order, nothing
        { ts: 1.5 * H, value: 1002 }, // +1 over the higher 1001
        { ts: 1.8 * H, value: 3 }, // more than 10 % down: a restart, 3 consumed since
        { ts: 2.1 * H, value: 5 }, // +2
      ],
      { ts: -0.2 * H, value: 1000 },
    );
    t.same(
      rows.map((r) => [r.hour, r.consumption]),
      [
        [0, 1],
        [H, 4],
        [2 * H, 2],
      ],
    );
    t.equal(rollUpHours([{ ts: 0, value: 1000 }])[0]?.consumption, 0, 'a first reading without baseline');
  },
);
