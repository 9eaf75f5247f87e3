import t from 'tap';
import { DOOR_STATES } from '../../building/quantities.ts';
import { DecodeError } from '../../device-profiles/profile.ts';
import profile from './profile.ts';

const NOW = Date.UTC(2026, 11, 6, 15, 0, 0);
const decode = (topic: string, payload: string, receivedAt = NOW) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), receivedAt);
};
const values = (r: ReturnType<typeof decode>) =>
  Object.fromEntries(r.readings.map((x) => [x.quantity, x.value]));

t.test('documented payloads: the contact is the door, closed when true', async (t) => {
  // https://www.zigbee2mqtt.io/devices/MCCGQ11LM.html "Exposes": battery (%), contact ("closed (= true) or
  // open (= false)"), temperature (°C), voltage (mV), linkquality (lqi), one report with each.
  const closed = decode(
    'zigbee2mqtt/eg-diskursraum-tuer',
    '{"battery":100,"contact":true,"temperature":23,"voltage":3055,"linkquality":102}',
  );
  t.same(closed.readings, [
    { channel: '0', quantity: 'door', value: 'closed', unit: 'state', ts: NOW },
    { channel: '0', quantity: 'battery', value: 100, unit: '%', ts: NOW },
    { channel: '0', quantity: 'linkquality', value: 102, unit: 'lqi', ts: NOW },
  ]);
  t.same(
    values(decode('zigbee2mqtt/eg-diskursraum-tuer', '{"contact":false,"linkquality":96}')),
    { door: 'open', linkquality: 96 },
    'opened: a report with what changed',
  );

  // https://www.zigbee2mqtt.io/devices/SNZB-04.html "Exposes": contact, battery_low, battery, voltage (mV),
  // linkquality.
  t.same(
    values(
      decode(
        'zigbee2mqtt/lager-fenster',
        '{"contact":false,"battery_low":false,"battery":62,"voltage":2900,"linkquality":48}',
      ),
    ),
    { door: 'open', battery: 62, battery_low: 0, linkquality: 48 },
    'battery mV and chip temperature are not readings',
  );
});

t.test('every word it produces is a door word of the building', async (t) => {
  t.same(profile.quantities, ['door', 'battery', 'battery_low', 'linkquality']);
  for (const contact of [true, false]) {
    const word = values(decode('zigbee2mqtt/d', JSON.stringify({ contact }))).door;
    t.ok((DOOR_STATES as readonly unknown[]).includes(word), `${contact}: ${word}`);
  }
});

t.test('availability and last_seen, as every Zigbee2MQTT device', async (t) => {
  // https://www.zigbee2mqtt.io/guide/configuration/device-availability.html
  t.equal(decode('zigbee2mqtt/d/availability', '{"state":"offline"}').availability, 'offline');
  t.equal(
    decode('zigbee2mqtt/d', '{"contact":true,"last_seen":"2026-12-06T15:59:30+01:00"}').readings[0]?.ts,
    Date.UTC(2026, 11, 6, 14, 59, 30),
  );
});

t.test('malformed payloads are refused with a reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['{"contact":"open"}', /contact: expected true\/false, got the string "open"/],
    ['{"contact":1}', /contact: expected true\/false, got number 1/],
    ['{"battery":101}', /battery: 101 is outside/],
    ['{"contact":tru', /not valid JSON/],
  ];
  for (const [payload, message] of cases)
    t.throws(() => decode('zigbee2mqtt/d', payload), { name: 'DecodeError', message }, payload);
  t.throws(() => decode('zigbee2mqtt/d', '[true]'), DecodeError);
});

t.test('ACL: the bridge publishes the state and availability, listens on set/get; no actions', async (t) => {
  t.same(profile.acl('zigbee2mqtt/eg-diskursraum-tuer').publish, [
    'zigbee2mqtt/eg-diskursraum-tuer',
    'zigbee2mqtt/eg-diskursraum-tuer/availability',
  ]);
  t.equal(profile.encodeCommand, undefined);
  t.notOk(profile.sleeping, 'a Zigbee end device keeps its parent: it does not drop off between reports');
});
