import t from 'tap';
import { decodeAll, demoBuilding, MONDAY } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator from './simulator.ts';

const { building, device } = demoBuilding('vd-test');
const create = (config: ReturnType<typeof device>) =>
  simulator.create(config, { building, simStart: MONDAY, options: { rebootProbabilityPerDay: 0 } });
const noon = MONDAY + 11 * 3_600_000;

t.test('the Pro 4PM reports every output the site file places; the outputs add up', async (t) => {
  const id = 'og2-protel-steckdosen';
  // The Pro 4PM also sends a NotifyStatus with all its switches: the status topics alone are one report.
  const messages = create(device(id))
    .report(noon)
    .filter((m) => !m.topic.endsWith('/events/rpc'));
  const readings = decodeAll(profile, messages, noon);
  const energy = readings.filter((r) => r.quantity === 'energy');
  t.same(
    energy.map((r) => r.channel),
    ['0', '1', '2', '3'],
    `${id}: an energy reading per channel`,
  );
  const power = readings.filter((r) => r.quantity === 'power');
  const total = power.reduce((a, r) => a + (r.value as number), 0);
  const expected = building.meterPowerW(device(id), noon);
  t.ok(Math.abs(total - expected) < 0.05 * 4, `${id}: ${total} W ≈ ${expected} W`);
});

t.test('a Gen2 device without channels in the site file is a plug with one switch', async (t) => {
  const plug = create(device('eg-cafe-espresso'));
  t.same(
    plug.report(noon).map((m) => m.topic.slice(plug.config.topic.length + 1)),
    ['status/switch:0', 'events/rpc'],
  );
  t.equal(plug.clientId, plug.config.topic, 'client id = device id = topic prefix');
  const readings = decodeAll(profile, plug.report(noon + 60_000), noon + 60_000);
  t.ok(readings.length > 0 && readings.every((r) => r.channel === '0'));
});
