import t from 'tap';
import { decodeAll, demoBuilding, MONDAY } from '../../test-support/demo-devices.ts';
import profile from './profile.ts';
import simulator from './simulator.ts';

const { building, device } = demoBuilding('vd-test');

t.test(
  'a CO2 sensor reports its room through Zigbee2MQTT; the room follows its stage directions',
  async (t) => {
    const config = device('og2-protel-01-co2');
    const sensor = simulator.create(config, { building, simStart: MONDAY, options: {} });
    t.same(sensor.will, {
      topic: `${config.topic}/availability`,
      payload: '{"state":"offline"}',
      qos: 1,
      retain: true,
    });
    const noon = MONDAY + 11 * 3_600_000;
    const born = sensor.birth(noon);
    t.same(born[0], {
      topic: `${config.topic}/availability`,
      payload: '{"state":"online"}',
      qos: 1,
      retain: true,
    });
    const readings = decodeAll(profile, born, noon);
    t.same(
      readings.map((r) => r.quantity).sort(),
      ['battery', 'co2', 'humidity', 'linkquality', 'temperature'],
      'one state report with everything the sensor measures',
    );
    const value = (quantity: string, at: number) =>
      decodeAll(profile, sensor.report(at), at).find((r) => r.quantity === quantity)?.value as number;
    t.ok(value('co2', noon + 60_000) >= 420, 'never below the air outside');

    building.stage(config.space, { co2Ppm: 2400 });
    t.teardown(() => building.stage(config.space, { co2Ppm: null }));
    t.ok(Math.abs(value('co2', noon + 120_000) - 2400) <= 4, 'the staged 2400 ppm, with the sensor noise');
    const temperature = value('temperature', noon + 180_000);
    t.ok(temperature >= 20 && temperature <= 23.5, `${temperature} °C: a room in use`);
  },
);
