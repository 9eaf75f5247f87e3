import t from 'tap';
import { demoBuilding, MONDAY, payloadOf } from '../../test-support/demo-devices.ts';
import simulator from './simulator.ts';

const { building, device } = demoBuilding('vd-test');

t.test('a desk sensor speaks on change and otherwise only with its heartbeat', async (t) => {
  const sensor = simulator.create(device('og1-desk-n01-presence'), {
    building,
    simStart: MONDAY,
    options: {},
  });
  const night = MONDAY + 2 * 3_600_000;
  t.equal(sensor.report(night).length, 1, 'first report');
  t.equal(sensor.report(night + 60_000).length, 0, 'nothing new a minute later');
  t.equal(sensor.report(night + 51 * 60_000).length, 1, 'heartbeat after 50 minutes');
  t.equal(JSON.parse(payloadOf(sensor.report(night + 120 * 60_000), '')).occupancy, false);
});
