import t from 'tap';
import { decodeAll, demoBuilding, MONDAY } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator, { WAKE_PERIOD_S } from './simulator.ts';

const { building, device } = demoBuilding('vd-test');
const HT = 'eg-technik-ht';

t.test('a wake-up: online, the full status, and its last will as it drops off to sleep', async (t) => {
  const ht = simulator.create(device(HT), { building, simStart: MONDAY, options: {} });
  const topic = device(HT).topic;
  const at = MONDAY + 9 * 3_600_000;
  const woke = ht.birth(at);
  t.same(
    woke.map((m) => [m.topic, m.retain]),
    [
      [`${topic}/online`, true],
      [`${topic}/events/rpc`, false],
      [`${topic}/online`, true],
    ],
  );
  t.same(
    woke.map((m) => (m.topic.endsWith('/online') ? m.payload : 'status')),
    ['true', 'status', 'false'],
  );
  t.same(woke[2], ht.will, 'the same words as the will the broker holds for it');
  const readings = decodeAll(profile, woke, at);
  t.same(
    readings.map((r) => r.quantity),
    ['temperature', 'humidity', 'battery'],
  );
  t.ok(
    readings.every((r) => r.ts === at),
    'at the time received: the simulated device stamps no time of its own',
  );
  t.notOk('ts' in JSON.parse(woke[1]?.payload ?? '{}').params);
  const temperature = readings[0]?.value as number;
  t.ok(temperature > 15 && temperature < 30, `a room's temperature (${temperature} °C)`);
});

t.test('it wakes every two simulated hours', async (t) => {
  const ht = simulator.create(device(HT), { building, simStart: MONDAY, options: {} });
  t.equal(ht.firmwareIntervalS, WAKE_PERIOD_S);
  t.equal(WAKE_PERIOD_S, profile.reportingIntervalS, 'as often as its family says it reports');
  t.equal(ht.report(MONDAY).length, 3, 'each wake-up is a report');
});
