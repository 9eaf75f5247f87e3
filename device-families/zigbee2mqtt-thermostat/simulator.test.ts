import t from 'tap';
import type { DeviceMessage } from '../../simulations/virtual-device.ts';
import { commandIoAt } from '../../test-support/command-io.ts';
import { decodeAll, demoBuilding, MONDAY } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator, { outsideC, valveOpening, Z2mThermostat } from './simulator.ts';

const { building, device } = demoBuilding('vd-test');
const HOUR = 3_600_000;

const ioAt = commandIoAt;
t.test(
  'a radiator valve reports its room through Zigbee2MQTT in the formats its profile decodes',
  async (t) => {
    const config = device('og2-protel-01-heizung');
    const valve = simulator.create(config, { building, simStart: MONDAY, options: {} });
    t.same(valve.will, {
      topic: `${config.topic}/availability`,
      payload: '{"state":"offline"}',
      qos: 1,
      retain: true,
    });
    t.same(valve.commandTopics, [`${config.topic}/set`]);
    const readings = decodeAll(profile, valve.birth(MONDAY + 6 * HOUR), MONDAY + 6 * HOUR);
    t.same(
      readings.map((r) => r.quantity).sort(),
      ['battery', 'linkquality', 'setpoint', 'temperature', 'valve'],
      'temperature, setpoint, valve opening, battery, link',
    );
    t.equal(
      readings.find((r) => r.quantity === 'setpoint')?.value,
      20,
      'set to 20 °C until someone sets another',
    );
  },
);

t.test(
  'the valve takes a setpoint on …/set and answers with its state; the room heats and cools',
  async (t) => {
    const config = device('og2-protel-01-heizung');
    const valve = new Z2mThermostat(config, building);
    const winterMorning = MONDAY + 5 * HOUR; // 6:00 in Berlin, January: outside about 0 °C
    t.ok(outsideC(winterMorning) < 5, `${outsideC(winterMorning).toFixed(1)} °C outside`);
    const value = (messages: DeviceMessage[], quantity: string, at: number) =>
      decodeAll(profile, messages, at).find((r) => r.quantity === quantity)?.value as number;
    const before = value(valve.report(winterMorning), 'temperature', winterMorning);
    t.ok(Math.abs(before - 20) < 0.6, `${before} °C: the valve has held 20 °C overnight`);

    // Set back to 16 °C (a booking ended): Zigbee2MQTT answers with the new setpoint; the valve closes.
    const published: DeviceMessage[] = [];
    valve.command(`${config.topic}/set`, '{"occupied_heating_setpoint":16}', ioAt(winterMorning, published));
    t.equal(value(published, 'setpoint', winterMorning), 16, 'the answer carries the new setpoint');
    t.equal(value(published, 'valve', winterMorning), 0, 'and the valve closed');
    const cooled = value(valve.report(winterMorning + 2 * HOUR), 'temperature', winterMorning + 2 * HOUR);
    t.ok(
      cooled < before - 1 && cooled > before - 6,
      `${before.toFixed(2)} → ${cooled.toFixed(2)} °C in two hours`,
    );

    // 21 °C for a booking: the valve opens fully and the room warms by roughly a degree an hour.
    const warmFrom = winterMorning + 2 * HOUR;
    valve.command(`${config.topic}/set`, '{"occupied_heating_setpoint":21}', ioAt(warmFrom, published));
    t.equal(value(published.slice(-1), 'valve', warmFrom), 100, 'fully open, the room being far below');
    const anHourLater = value(valve.report(warmFrom + HOUR), 'temperature', warmFrom + HOUR);
    t.ok(
      anHourLater - cooled > 0.5 && anHourLater - cooled < 2.5,
      `${cooled.toFixed(2)} → ${anHourLater.toFixed(2)} °C`,
    );
    const settled = value(valve.report(warmFrom + 12 * HOUR), 'temperature', warmFrom + 12 * HOUR);
    t.ok(Math.abs(settled - 21) < 0.5, `${settled.toFixed(2)} °C: settles at its setpoint`);

    // What the valve cannot take, it ignores (Zigbee2MQTT drops a write outside the expose's range).
    const ignored: DeviceMessage[] = [];
    valve.command(`${config.topic}/set`, '{"occupied_heating_setpoint":80}', ioAt(warmFrom, ignored));
    valve.command(`${config.topic}/set`, 'not json', ioAt(warmFrom, ignored));
    t.same(ignored, []);
    t.equal(valve.setpoint, 21);
  },
);

t.test('the valve opens in proportion to how far the room is below its setpoint', async (t) => {
  t.equal(valveOpening(21, 21), 0);
  t.equal(valveOpening(22, 21), 0, 'a warm room: closed');
  t.equal(valveOpening(20.75, 21), 50);
  t.equal(valveOpening(18, 21), 100);
});
