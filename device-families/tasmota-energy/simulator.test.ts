import t from 'tap';
import { confirmedBy } from '../../device-profiles/confirmation.ts';
import type { DeviceMessage } from '../../simulations/virtual-device.ts';
import { commandIoAt } from '../../test-support/command-io.ts';
import { decodeAll, demoBuilding, MONDAY, payloadOf } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator, { tasmotaSensorPayload } from './simulator.ts';

const { building, device } = demoBuilding('vd-test');

t.test('Tasmota keeps Today and Yesterday by local day and prints local time', async (t) => {
  const plug = simulator.create(device('og1-teekueche'), {
    building,
    simStart: MONDAY,
    options: { rebootProbabilityPerDay: 0 },
  });
  const sensor = (ms: number) => JSON.parse(payloadOf(plug.report(ms), '/SENSOR'));
  // 22:30 UTC on Monday is 23:30 in Berlin
  const lateMonday = sensor(MONDAY + 22.5 * 3_600_000);
  t.equal(lateMonday.Time, '2026-01-12T23:30:00');
  const firstToday = lateMonday.ENERGY.Today;
  const later = sensor(MONDAY + 22.9 * 3_600_000);
  t.ok(later.ENERGY.Today > firstToday, 'Today grows during the day');
  const tuesday = sensor(MONDAY + 23.5 * 3_600_000);
  t.equal(tuesday.Time, '2026-01-13T00:30:00');
  t.ok(tuesday.ENERGY.Today < later.ENERGY.Today, 'Today restarts after local midnight');
  t.ok(tuesday.ENERGY.Yesterday > 0, 'and Monday became Yesterday');
  t.ok(tuesday.ENERGY.Total > later.ENERGY.Total, 'Total keeps counting');
});

t.test('Tasmota SENSOR payload arithmetic', async (t) => {
  const e = JSON.parse(
    tasmotaSensorPayload({
      time: '2026-01-12T10:00:00',
      totalStartTime: '2025-01-01T00:00:00',
      totalKwh: 12.3456,
      yesterdayKwh: 1,
      todayKwh: 0.5,
      periodWh: 3,
      powerW: 92,
      voltageV: 230,
      factor: 0.92,
    }),
  ).ENERGY;
  t.equal(e.Total, 12.346);
  t.equal(e.ApparentPower, 100, '92 W / 0.92');
  t.equal(e.ReactivePower, 39, 'sqrt(100² − 92²)');
  t.equal(e.Current, 0.435, '100 VA / 230 V');
});

t.test('a Tasmota plug switches on cmnd/<topic>/POWER1 and answers stat/RESULT and stat/POWER', async (t) => {
  const config = device('og1-teekueche');
  const plug = simulator.create(config, {
    building,
    simStart: MONDAY,
    options: { rebootProbabilityPerDay: 0 },
  });
  const noon = MONDAY + 11 * 3_600_000;
  plug.report(noon);
  const [command] = profile.encodeCommand?.(config.topic, 'switch_off') ?? [];
  t.ok(command && plug.commandTopics.includes(command.topic), `it listens on ${command?.topic}`);
  const published: DeviceMessage[] = [];
  plug.command?.(command?.topic ?? '', command?.payload ?? '', commandIoAt(noon, published));
  t.same(
    published.map((m) => [m.topic, m.payload]),
    [
      [`stat/${config.topic}/RESULT`, '{"POWER":"OFF"}'],
      [`stat/${config.topic}/POWER`, 'OFF'],
    ],
  );
  const answers = decodeAll(profile, published, noon);
  t.ok(
    answers.every((r) => confirmedBy({ action: 'switch_off' }, r)),
    'both confirm switch_off',
  );
  const later = decodeAll(profile, plug.report(noon + 600_000), noon + 600_000);
  t.same(
    [later.find((r) => r.quantity === 'switch')?.value, later.find((r) => r.quantity === 'power')?.value],
    ['off', 0],
    'its STATE says OFF and it draws nothing',
  );
});
