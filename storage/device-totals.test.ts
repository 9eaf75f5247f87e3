import t from 'tap';
import { addUpChannels } from './device-totals.ts';
import type { Series } from './store.ts';

const series = (device: string, channel: string, points: [number, number][]): Series => ({
  site: 'kaufhaus',
  device,
  channel,
  space: 'technik',
  quantity: 'energy',
  unit: 'kWh',
  points: points.map(([ts, value]) => ({ ts, value })),
});

t.test('the phases of a meter add up per bucket; a missing bucket adds nothing', async (t) => {
  const totals = addUpChannels([
    series('main', '0', [
      [0, 1],
      [10, 2],
    ]),
    series('main', '1', [
      [0, 0.5],
      [10, 0.25],
      [20, 4],
    ]),
    series('main', '2', [[10, 1]]),
    series('plug', '0', [[0, 7]]),
  ]);
  t.same(totals.get('main'), {
    device: 'main',
    quantity: 'energy',
    unit: 'kWh',
    channels: ['0', '1', '2'],
    points: [
      { ts: 0, value: 1.5 },
      { ts: 10, value: 3.25 },
      { ts: 20, value: 4 },
    ],
  });
  t.same(totals.get('plug')?.points, [{ ts: 0, value: 7 }], 'one channel is itself');
  t.same([...totals.keys()], ['main', 'plug']);
  t.same(addUpChannels([]).size, 0);
});
