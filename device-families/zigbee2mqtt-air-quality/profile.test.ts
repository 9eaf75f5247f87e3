import t from 'tap';
import { DecodeError } from '../../device-profiles/profile.ts';
import profile from './profile.ts';

const NOW = Date.UTC(2026, 10, 20, 9, 0, 0);
const decode = (topic: string, payload: string) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), NOW);
};
const values = (r: ReturnType<typeof decode>) =>
  Object.fromEntries(r.readings.map((x) => [x.quantity, x.value]));

t.test('documented exposes', async (t) => {
  // https://www.zigbee2mqtt.io/devices/TPZRCO2HT-Z3.html "Exposes": battery (%), humidity (%),
  // temperature (°C), co2 (ppm), linkquality; one state report carrying each.
  const r = decode(
    'zigbee2mqtt/protel-12',
    '{"battery":87,"humidity":41.5,"temperature":22.3,"co2":812,"linkquality":120}',
  );
  t.same(values(r), { co2: 812, temperature: 22.3, humidity: 41.5, battery: 87, linkquality: 120 });
  t.same(
    r.readings.find((x) => x.quantity === 'co2'),
    { channel: '0', quantity: 'co2', value: 812, unit: 'ppm', ts: NOW },
  );
  // https://www.zigbee2mqtt.io/guide/usage/exposes.html presets voc (ppb), pm25 (µg/m³), battery_low.
  t.same(values(decode('zigbee2mqtt/cafe', '{"voc":220,"pm25":8,"battery_low":false}')), {
    voc: 220,
    pm25: 8,
    battery_low: 0,
  });
  t.same(decode('zigbee2mqtt/cafe', '{"pm25":8}').readings[0]?.unit, 'µg/m³');
});

t.test('a report without air-quality fields yields nothing, not an error', async (t) => {
  t.same(decode('zigbee2mqtt/cafe', '{"update":{"state":"idle"}}').readings, []);
  t.same(decode('zigbee2mqtt/cafe', '{"co2":null}').readings, [], 'null means unknown');
});

t.test('values the hardware cannot produce are refused', async (t) => {
  for (const [payload, message] of [
    ['{"co2":-1}', /co2: -1 is outside/],
    ['{"co2":1e9}', /co2/],
    ['{"humidity":101}', /humidity: 101 is outside/],
    ['{"humidity":-0.5}', /humidity/],
    ['{"temperature":"21"}', /expected a number/],
    ['{"pm25":-3}', /pm25/],
    ['{"co2":true}', /expected a number/],
    ['', /not valid JSON/],
    ['NaN', /not valid JSON/],
  ] as const) {
    t.throws(() => decode('zigbee2mqtt/protel-12', payload), { name: 'DecodeError', message }, payload);
  }
  t.throws(() => decode('zigbee2mqtt/protel-12/availability', 'unknown'), DecodeError);
});

t.test('ACL and topics', async (t) => {
  t.same(profile.acl('zigbee2mqtt/protel-12').publish, [
    'zigbee2mqtt/protel-12',
    'zigbee2mqtt/protel-12/availability',
  ]);
  t.equal(profile.match('zigbee2mqtt/protel-12/set'), undefined);
  t.same(profile.subscriptions, ['zigbee2mqtt/#']);
});
