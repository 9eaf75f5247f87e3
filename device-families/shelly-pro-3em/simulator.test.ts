import t from 'tap';
import { DAY_MS, meterRebootAt } from '../../simulations/physics.ts';
import { demoBuilding, MONDAY, payloadOf } from '../../test-support/demo-devices.ts';
import shellyPro3em from './profile.ts';
import simulator from './simulator.ts';

const { building, device } = demoBuilding('vd-test');
const create = (id: string, rebootProbabilityPerDay: number) =>
  simulator.create(device(id), { building, simStart: MONDAY, options: { rebootProbabilityPerDay } });

t.test('a floor main meter (Pro 3EM) reports the whole floor, phase totals consistent', async (t) => {
  const config_ = device('og1-main-meter');
  const meter = create(config_.id, 0);
  t.equal(meter.clientId, config_.topic, 'Gen2 client id = device id = topic prefix');
  t.same(meter.will, { topic: `${config_.topic}/online`, payload: 'false', qos: 1, retain: true });
  const at = (ms: number) => {
    const messages = meter.report(ms);
    return {
      messages,
      em: JSON.parse(payloadOf(messages, '/status/em:0')),
      emdata: JSON.parse(payloadOf(messages, '/status/emdata:0')),
      rpc: JSON.parse(payloadOf(messages, '/events/rpc')),
    };
  };
  // Monday 11:30 in Berlin: the coworking floor is in use
  const noon = MONDAY + 10.5 * 3_600_000;
  const { messages, em, emdata, rpc } = at(noon);
  const phaseSum = (k: string) => ['a', 'b', 'c'].reduce((n, x) => n + em[`${x}_${k}`], 0);
  t.ok(Math.abs(em.total_act_power - phaseSum('act_power')) < 1e-6, 'total_act_power = a + b + c');
  t.ok(Math.abs(em.total_current - phaseSum('current')) < 1e-6, 'total_current = a + b + c');
  t.ok(
    Math.abs(em.total_act_power - building.meterPowerW(config_, noon)) < 0.2,
    'the whole floor, not one phase',
  );
  t.ok(em.a_act_power > 0 && em.b_act_power > 0 && em.c_act_power > 0, 'load on every phase');
  const energySum = ['a', 'b', 'c'].reduce((n, x) => n + emdata[`${x}_total_act_energy`], 0);
  t.ok(Math.abs(emdata.total_act - energySum) < 1e-6, 'total_act = a + b + c');
  t.same(rpc.params['em:0'], em, 'NotifyStatus carries the same EM status');
  t.same(rpc.params['emdata:0'], emdata);
  t.equal(rpc.params.ts, noon / 1000);

  // Decoded by the real family: one series per quantity, with the floor's totals.
  const decoded = new Map<string, number | string>();
  for (const m of messages) {
    const match = shellyPro3em.match(m.topic);
    if (!match) throw new Error(`${m.topic} is not a Pro 3EM topic`);
    for (const r of shellyPro3em.decode(match, Buffer.from(m.payload), noon).readings)
      decoded.set(r.quantity, r.value);
  }
  t.same(Object.fromEntries(decoded), {
    power: em.total_act_power,
    voltage: em.a_voltage,
    current: em.total_current,
    energy: emdata.total_act / 1000,
  });

  // At night only the base load runs: an hour adds base load × 1 h to the counter.
  const night = MONDAY + 2 * 3_600_000;
  const before = at(night).emdata.total_act;
  const after = at(night + 3_600_000).emdata.total_act;
  const baseW = building.meterPowerW(config_, night);
  t.ok(Math.abs(after - before - baseW) < baseW * 0.01, `${after - before} Wh in an hour at ${baseW} W`);
});

t.test('a Pro 3EM reboot restarts its counters once, every phase and the total', async (t) => {
  const id = 'og3-main-meter';
  const meter = create(id, 1);
  const rebootAt = meterRebootAt('vd-test', id, MONDAY / DAY_MS, 1);
  if (rebootAt === undefined) throw new Error('p = 1 must reboot');
  const step = 10 * 60_000;
  const statuses: { total_act: number; a_total_act_energy: number; c_total_act_energy: number }[] = [];
  for (let ms = MONDAY; ms < MONDAY + DAY_MS; ms += step) {
    statuses.push(JSON.parse(payloadOf(meter.report(ms), '/status/emdata:0')));
  }
  const dropped = (k: 'total_act' | 'a_total_act_energy' | 'c_total_act_energy') =>
    statuses.flatMap((s, i) => (i > 0 && s[k] < (statuses[i - 1]?.[k] ?? 0) ? [i] : []));
  const expected = [Math.ceil((rebootAt - MONDAY) / step)];
  t.same(dropped('total_act'), expected, 'total_act restarts once, at the seeded instant');
  t.same(dropped('a_total_act_energy'), expected, 'phase A with it');
  t.same(dropped('c_total_act_energy'), expected, 'phase C with it');
  const i = expected[0] ?? 0;
  const after = statuses[i]?.total_act ?? Infinity;
  const before = statuses[i - 1]?.total_act ?? 0;
  t.ok(after < before / 100, `${after} Wh right after, from ${before} Wh in service`);
  t.ok((statuses.at(-1)?.total_act ?? 0) > after, 'and counting again');
});
