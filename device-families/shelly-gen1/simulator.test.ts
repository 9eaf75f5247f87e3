import t from 'tap';
import { confirmedBy } from '../../device-profiles/confirmation.ts';
import { DAY_MS, meterRebootAt } from '../../simulations/physics.ts';
import type { DeviceMessage } from '../../simulations/virtual-device.ts';
import { commandIoAt } from '../../test-support/command-io.ts';
import { decodeAll, demoBuilding, MONDAY, payloadOf } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator from './simulator.ts';

const { building, device } = demoBuilding('vd-test');
const create = (id: string, rebootProbabilityPerDay: number, config = device(id)) =>
  simulator.create(config, { building, simStart: MONDAY, options: { rebootProbabilityPerDay } });

t.test('a meter reboot restarts the counter the device reports, once, at the seeded instant', async (t) => {
  const plug = create('eg-cafe-spuelmaschine', 1);
  const rebootAt = meterRebootAt('vd-test', 'eg-cafe-spuelmaschine', MONDAY / DAY_MS, 1);
  if (rebootAt === undefined) throw new Error('p = 1 must reboot');
  const counters: number[] = [];
  for (let ms = MONDAY; ms < MONDAY + DAY_MS; ms += 10 * 60_000) {
    counters.push(Number(payloadOf(plug.report(ms), '/relay/0/energy')));
  }
  const drops = counters.filter((c, i) => i > 0 && c < (counters[i - 1] ?? 0));
  t.equal(drops.length, 1, 'exactly one restart in the day');
  const after = counters.findIndex((c, i) => i > 0 && c < (counters[i - 1] ?? 0));
  t.equal(after, Math.ceil((rebootAt - MONDAY) / (10 * 60_000)), 'at the seeded instant');
  t.ok((counters[after] ?? Infinity) < 60 * 1000, 'close to zero watt-minutes right after');
  t.ok((counters.at(-1) ?? 0) > (counters[after] ?? 0), 'and counting again');
});

t.test('the Gen1 3EM main meter reports every phase; the phases add up', async (t) => {
  const id = 'og2-main-meter';
  const noon = MONDAY + 11 * 3_600_000;
  const readings = decodeAll(profile, create(id, 0).report(noon), noon);
  const energy = readings.filter((r) => r.quantity === 'energy');
  t.same(
    energy.map((r) => r.channel),
    ['0', '1', '2'],
    `${id}: an energy reading per channel`,
  );
  const power = readings.filter((r) => r.quantity === 'power');
  const total = power.reduce((a, r) => a + (r.value as number), 0);
  const expected = building.meterPowerW(device(id), noon);
  t.ok(Math.abs(total - expected) < 0.05 * 3, `${id}: ${total} W ≈ ${expected} W`);
});

t.test('the site file says which Gen1 meter is a 3EM: its main meter; any other is a Plug S', async (t) => {
  const topics = (config: ReturnType<typeof device>) =>
    create(config.id, 0, config)
      .report(MONDAY)
      .map((m) => m.topic.slice(config.topic.length + 1));
  const main = device('og2-main-meter');
  t.ok(topics(main).includes('emeter/2/total'), 'the main meter (topic shellies/shellyem3-…) is a 3EM');
  const { meter_role: _, ...unnamed } = main;
  t.same(
    topics(unnamed),
    ['relay/0', 'relay/0/power', 'relay/0/energy', 'temperature', 'temperature_f', 'overtemperature'],
    'the same device without meter_role main is a plug, whatever its topic says',
  );
  const plug = device('eg-cafe-spuelmaschine');
  t.ok(
    topics({ ...plug, meter_role: 'main' }).includes('emeter/0/total'),
    'a plug named main meter is a 3EM',
  );
});

t.test(
  'a Plug S switches on relay/0/command and answers with relay/0; off, it draws and counts nothing',
  async (t) => {
    const config = device('eg-cafe-spuelmaschine');
    const plug = create('eg-cafe-spuelmaschine', 0);
    t.same(plug.commandTopics, [`${config.topic}/relay/0/command`]);
    const noon = MONDAY + 11 * 3_600_000;
    plug.report(noon);
    const published: DeviceMessage[] = [];
    plug.command?.(`${config.topic}/relay/0/command`, 'off', commandIoAt(noon, published));
    const answer = decodeAll(profile, published, noon);
    const state = answer.find((r) => r.quantity === 'switch');
    t.ok(state && confirmedBy({ action: 'switch_off' }, state), 'relay/0 off confirms switch_off');
    t.equal(answer.find((r) => r.quantity === 'power')?.value, 0, 'and it draws nothing');
    const energy = (at: number) =>
      decodeAll(profile, plug.report(at), at).find((r) => r.quantity === 'energy')?.value as number;
    const offAt = energy(noon);
    t.equal(energy(noon + 3_600_000), offAt, 'an hour off: the counter stood still');
    plug.command?.(`${config.topic}/relay/0/command`, 'on', commandIoAt(noon + 3_600_000, published));
    t.ok(energy(noon + 7_200_000) > offAt, 'on again, it counts again');
    const main = create('og2-main-meter', 0);
    t.same(main.commandTopics, [], 'a 3EM main meter is never switched');
  },
);
