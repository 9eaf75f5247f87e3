import t from 'tap';
import { confirmedBy } from '../../device-profiles/confirmation.ts';
import type { DeviceMessage } from '../../simulations/virtual-device.ts';
import { commandIoAt } from '../../test-support/command-io.ts';
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

t.test(
  'the Pro 4PM takes Switch.Set per output on <id>/rpc, answers on <src>/rpc, and reports the new output',
  async (t) => {
    const config = device('og2-protel-steckdosen');
    const pro4pm = create(config);
    t.same(pro4pm.commandTopics, [`${config.topic}/rpc`]);
    pro4pm.report(noon);
    const [request] = profile.encodeCommand?.(config.topic, 'switch_off', '2', { id: 'cmd-00000002' }) ?? [];
    const published: DeviceMessage[] = [];
    pro4pm.command?.(request?.topic ?? '', request?.payload ?? '', commandIoAt(noon, published));
    const match = (topic: string) => profile.match(topic);
    const rpc = published.find((m) => m.topic === `${config.topic}/wesprint/rpc`);
    const rpcMatch = rpc && match(rpc.topic);
    t.ok(rpcMatch, 'the answer comes on <src>/rpc, which the profile reads');
    t.same(rpcMatch && profile.decode(rpcMatch, Buffer.from(rpc?.payload ?? ''), noon).commandResult, {
      ok: true,
      detail: 'done (was on)',
      id: 'cmd-00000002',
    });
    const states = decodeAll(
      profile,
      published.filter((m) => m !== rpc),
      noon,
    );
    t.ok(
      states.some((r) => confirmedBy({ action: 'switch_off', channel: '2' }, r)),
      'output 2 reports off',
    );
    t.notOk(
      states.some((r) => r.channel !== '2'),
      'only output 2 spoke',
    );
    const now = decodeAll(profile, pro4pm.report(noon + 60_000), noon + 60_000);
    const of = (channel: string, quantity: string) =>
      now.find((r) => r.channel === channel && r.quantity === quantity)?.value;
    t.same(
      [of('2', 'switch'), of('2', 'power'), of('1', 'switch')],
      ['off', 0, 'on'],
      'output 2 off draws nothing; 1 stays on',
    );
    // A switch the device does not have: RPC error -105, nothing switched.
    const [wrong] = profile.encodeCommand?.(config.topic, 'switch_off', '7', { id: 'cmd-00000007' }) ?? [];
    const refused: DeviceMessage[] = [];
    pro4pm.command?.(wrong?.topic ?? '', wrong?.payload ?? '', commandIoAt(noon, refused));
    const errorMatch = refused[0] && match(refused[0].topic);
    t.match(
      errorMatch && profile.decode(errorMatch, Buffer.from(refused[0]?.payload ?? ''), noon).commandResult,
      {
        ok: false,
        detail: /Shelly error -105/,
        id: 'cmd-00000007',
      },
    );
    t.equal(refused.length, 1, 'no status follows an error');
  },
);

t.test(
  'an empty Protel room draws its sockets standby through its output; switched off, nothing',
  async (t) => {
    const config = device('og2-protel-steckdosen');
    const pro4pm = create(config);
    // 03:00 on a Monday: nobody in Protel 201-204, only what waits in standby draws.
    const night = MONDAY + 3 * 3_600_000;
    pro4pm.report(night);
    const at = (ms: number) => decodeAll(profile, pro4pm.report(ms), ms);
    const of = (readings: ReturnType<typeof at>, channel: string, quantity: string) =>
      readings.find((r) => r.channel === channel && r.quantity === quantity)?.value as number | string;
    const before = at(night + 60_000);
    t.equal(
      of(before, '0', 'power'),
      9,
      "Protel 201's docking stations, monitors and coffee machine in standby",
    );
    const [off] = profile.encodeCommand?.(config.topic, 'switch_off', '0', { id: 'cmd-00000010' }) ?? [];
    pro4pm.command?.(off?.topic ?? '', off?.payload ?? '', commandIoAt(night + 60_000, []));
    const hourOff = at(night + 3_660_000);
    t.same(
      [of(hourOff, '0', 'switch'), of(hourOff, '0', 'power')],
      ['off', 0],
      'switched off, it draws nothing',
    );
    t.equal(of(hourOff, '1', 'power'), 9, "Protel 202's output still draws its standby");
    t.ok(Number.isFinite(of(before, '0', 'energy')), 'output 0 reports its counter');
    t.equal(
      Number(of(hourOff, '0', 'energy')).toFixed(4),
      Number(of(before, '0', 'energy')).toFixed(4),
      "output 0's counter stood still for the hour it was off",
    );
    t.ok(
      Number(of(hourOff, '1', 'energy')) - Number(of(before, '1', 'energy')) > 0.008,
      'output 1 counted its 9 Wh',
    );
  },
);
