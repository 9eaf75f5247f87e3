import t from 'tap';
import { topicMatches } from '../../building/topic-filter.ts';
import { valueRefusal } from '../../device-profiles/command-values.ts';
import { confirmedBy } from '../../device-profiles/confirmation.ts';
import { DecodeError } from '../../device-profiles/profile.ts';
import profile from './profile.ts';

const NOW = Date.UTC(2026, 10, 20, 9, 0, 0);
const BASE = 'zigbee2mqtt/og2-protel-01-heizkoerper';
const decode = (topic: string, payload: string) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), NOW);
};
const values = (payload: string) =>
  Object.fromEntries(decode(BASE, payload).readings.map((r) => [r.quantity, r.value]));

t.test(
  'the state of a Danfoss Ally (https://www.zigbee2mqtt.io/devices/014G2461.html, "Exposes")',
  async (t) => {
    // A state with the climate feature's keys (local_temperature, occupied_heating_setpoint,
    // pi_heating_demand, system_mode, running_state) and battery, as Zigbee2MQTT publishes it.
    const danfoss =
      '{"battery":87,"keypad_lockout":"unlock","linkquality":116,"local_temperature":19.46,"occupied_heating_setpoint":21,"pi_heating_demand":64,"running_state":"heat","system_mode":"heat","window_open_internal":"quarantine"}';
    t.same(values(danfoss), {
      temperature: 19.46,
      setpoint: 21,
      valve: 64,
      battery: 87,
      linkquality: 116,
    });
    const [first] = decode(BASE, danfoss).readings;
    t.same(first, { channel: '0', quantity: 'temperature', value: 19.46, unit: '°C', ts: NOW });
    t.same(
      decode(BASE, danfoss).readings.map((r) => [r.quantity, r.unit]),
      [
        ['temperature', '°C'],
        ['setpoint', '°C'],
        ['valve', '%'],
        ['battery', '%'],
        ['linkquality', 'lqi'],
      ],
    );
  },
);

t.test('Eurotronic Spirit and Bosch BTH-RA (SPZB0001.html, BTH-RA.html) and a Tuya valve', async (t) => {
  // Spirit: climate (occupied_heating_setpoint, local_temperature, system_mode, running_state,
  // local_temperature_calibration, pi_heating_demand), current_heating_setpoint, battery.
  t.same(
    values(
      '{"battery":100,"current_heating_setpoint":20.5,"occupied_heating_setpoint":20.5,"local_temperature":20.32,"local_temperature_calibration":0,"pi_heating_demand":8,"running_state":"heat","system_mode":"auto","linkquality":87}',
    ),
    { temperature: 20.32, setpoint: 20.5, valve: 8, battery: 100, linkquality: 87 },
  );
  // BTH-RA: climate (local_temperature, occupied_heating_setpoint, …, pi_heating_demand, running_state).
  t.same(
    values(
      '{"battery":100,"local_temperature":21.4,"occupied_heating_setpoint":21,"pi_heating_demand":0,"running_state":"idle","system_mode":"heat","operating_mode":"manual"}',
    ),
    { temperature: 21.4, setpoint: 21, valve: 0, battery: 100 },
  );
  // Tuya TS0601 thermostats say position (%) and current_heating_setpoint.
  t.same(values('{"local_temperature":18,"current_heating_setpoint":17,"position":25,"battery_low":false}'), {
    temperature: 18,
    setpoint: 17,
    valve: 25,
    battery_low: 0,
  });
  t.equal(decode(`${BASE}/availability`, '{"state":"online"}').availability, 'online');
});

t.test('malformed states are refused', async (t) => {
  for (const payload of [
    '{"local_temperature":"19"}',
    '{"occupied_heating_setpoint":-3}',
    '{"pi_heating_demand":140}',
    '{"position":-1}',
    'not json',
  ])
    t.throws(() => decode(BASE, payload), DecodeError, payload);
});

t.test('setting the setpoint through zigbee2mqtt/<name>/set, and the state that confirms it', async (t) => {
  t.same(profile.actions, ['set_setpoint']);
  t.same(profile.actionValues, { set_setpoint: { unit: '°C', min: 5, max: 30, step: 0.5 } });
  // "To control publish a message to topic zigbee2mqtt/FRIENDLY_NAME/set with payload
  // {"occupied_heating_setpoint": VALUE}".
  const messages = profile.encodeCommand?.(BASE, 'set_setpoint', '0', { value: 21.5 });
  t.same(messages, [
    { topic: `${BASE}/set`, payload: '{"occupied_heating_setpoint":21.5}', qos: 1, retain: false },
  ]);
  t.ok(
    profile.acl(BASE).subscribe.some((f) => topicMatches(f, `${BASE}/set`)),
    'the bridge may take it',
  );
  t.equal(profile.match(`${BASE}/set`), undefined, 'a command is no report');
  // Zigbee2MQTT publishes the device's state with the new setpoint once the valve took it.
  const answer = decode(
    BASE,
    '{"local_temperature":19.5,"occupied_heating_setpoint":21.5,"pi_heating_demand":100}',
  );
  const setpoint = answer.readings.find((r) => r.quantity === 'setpoint');
  t.ok(setpoint && confirmedBy({ action: 'set_setpoint', value: 21.5 }, setpoint), '21.5 confirms 21.5');
  t.notOk(setpoint && confirmedBy({ action: 'set_setpoint', value: 22 }, setpoint), 'not 22');
  const temperature = answer.readings.find((r) => r.quantity === 'temperature');
  t.notOk(
    temperature && confirmedBy({ action: 'set_setpoint', value: 19.5 }, temperature),
    'a room at 19.5 °C is no setpoint of 19.5',
  );
});

t.test('a setpoint the valves cannot take is refused before it is encoded', async (t) => {
  const declared = profile.actionValues?.set_setpoint;
  t.equal(valueRefusal('set_setpoint', 21, declared), undefined);
  t.equal(valueRefusal('set_setpoint', 5, declared), undefined, 'frost protection');
  t.equal(valueRefusal('set_setpoint', 30, declared), undefined);
  t.match(valueRefusal('set_setpoint', 31, declared), /outside what the device takes \(5…30 °C/);
  t.match(valueRefusal('set_setpoint', 4.5, declared), /outside/);
  t.match(valueRefusal('set_setpoint', 21.3, declared), /not in steps of 0.5/);
  t.match(valueRefusal('set_setpoint', undefined, declared), /needs a value/);
  t.match(valueRefusal('set_setpoint', Number.NaN, declared), /needs a number/);
  t.match(valueRefusal('set_setpoint', '21' as unknown as number, declared), /needs a number/);
  t.throws(() => profile.encodeCommand?.(BASE, 'set_setpoint', '0', { value: 35 }), /outside/);
  t.throws(() => profile.encodeCommand?.(BASE, 'set_setpoint', '0'), /needs a value/);
  t.throws(() => profile.encodeCommand?.(BASE, 'switch_on'), /cannot carry out "switch_on"/);
});
