import t from 'tap';
import { topicMatches } from '../../building/topic-filter.ts';
import { DecodeError } from '../../device-profiles/profile.ts';
import profile from './profile.ts';

const NOW = Date.UTC(2026, 10, 20, 9, 0, 0);
const decode = (topic: string, payload: string, receivedAt = NOW) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), receivedAt);
};
const values = (r: ReturnType<typeof decode>) =>
  Object.fromEntries(r.readings.map((x) => [x.quantity, x.value]));

t.test('documented payloads', async (t) => {
  // https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html "zigbee2mqtt/FRIENDLY_NAME":
  // "Xiaomi MiJia human body movement sensor (RTCGQ01LM)"
  const r = decode('zigbee2mqtt/desk-3-12', '{\n  "occupancy": true\n}');
  t.same(r.readings, [{ channel: '0', quantity: 'occupancy', value: 1, unit: 'bool', ts: NOW }]);

  // https://www.zigbee2mqtt.io/devices/RTCGQ11LM.html "Exposes": battery, occupancy, device_temperature,
  // voltage (mV), illuminance_lux, illuminance, power_outage_count, linkquality, one report with each.
  const full = decode(
    'zigbee2mqtt/desk-3-12',
    '{"battery":100,"occupancy":false,"device_temperature":28,"voltage":3025,"illuminance_lux":17,"illuminance":17,"power_outage_count":3,"linkquality":87}',
  );
  t.same(
    values(full),
    { occupancy: 0, illuminance: 17, battery: 100, linkquality: 87 },
    'battery mV and chip temperature are not readings',
  );
  t.same(
    full.readings.map((x) => x.unit),
    ['bool', 'lx', '%', 'lqi'],
  );
});

t.test(
  'illuminance_lux wins over a raw illuminance of older Zigbee2MQTT; mmWave presence is occupancy',
  async (t) => {
    t.same(values(decode('zigbee2mqtt/hall', '{"illuminance":17610,"illuminance_lux":58}')), {
      illuminance: 58,
    });
    t.same(values(decode('zigbee2mqtt/hall', '{"presence":true}')), { occupancy: 1 });
  },
);

t.test('availability: current JSON and legacy plain payloads', async (t) => {
  // https://www.zigbee2mqtt.io/guide/configuration/device-availability.html
  t.equal(decode('zigbee2mqtt/desk-3-12/availability', '{"state":"online"}').availability, 'online');
  t.equal(decode('zigbee2mqtt/desk-3-12/availability', '{"state":"offline"}').availability, 'offline');
  t.equal(decode('zigbee2mqtt/desk-3-12/availability', 'offline').availability, 'offline');
  t.throws(() => decode('zigbee2mqtt/desk-3-12/availability', '{"state":"maybe"}'), DecodeError);
});

t.test('topics: friendly names with slashes; bridge and commands are not reports', async (t) => {
  t.same(profile.match('zigbee2mqtt/floor-2/desk-3'), {
    deviceTopic: 'zigbee2mqtt/floor-2/desk-3',
    subtopic: 'state',
  });
  t.same(profile.match('zigbee2mqtt/floor-2/desk-3/availability'), {
    deviceTopic: 'zigbee2mqtt/floor-2/desk-3',
    subtopic: 'availability',
  });
  for (const topic of [
    'zigbee2mqtt/bridge/state',
    'zigbee2mqtt/bridge/devices',
    'zigbee2mqtt/desk-3/set',
    'zigbee2mqtt/desk-3/set/occupancy_timeout',
    'zigbee2mqtt/desk-3/get',
    'zigbee2mqtt',
    'zigbee2mqtt/',
    'other/desk-3',
  ]) {
    t.equal(profile.match(topic), undefined, topic);
  }
});

t.test('last_seen: the bridge time when plausible, else receipt time', async (t) => {
  const at = decode('zigbee2mqtt/d', '{"occupancy":true,"last_seen":"2026-11-20T09:59:30+01:00"}');
  t.equal(at.readings[0]?.ts, Date.UTC(2026, 10, 20, 8, 59, 30));
  t.equal(
    decode('zigbee2mqtt/d', `{"occupancy":true,"last_seen":${NOW - 1000}}`).readings[0]?.ts,
    NOW - 1000,
  );
  t.equal(
    decode('zigbee2mqtt/d', '{"occupancy":true,"last_seen":0}').readings[0]?.ts,
    NOW,
    '1970 clock is not trusted',
  );
  t.equal(
    decode('zigbee2mqtt/d', '{"occupancy":true,"last_seen":"2026-11-20T09:59:30"}').readings[0]?.ts,
    NOW,
    'no zone',
  );
  t.throws(() => decode('zigbee2mqtt/d', '{"occupancy":true,"last_seen":{}}'), DecodeError);
});

t.test('malformed payloads are refused with a reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['{"occupancy":tru', /not valid JSON/],
    ['[1,2]', /expected a JSON object/],
    ['"occupied"', /expected a JSON object/],
    ['{"occupancy":"yes"}', /occupancy: expected true\/false/],
    ['{"battery":120}', /battery: 120 is outside/],
    ['{"illuminance_lux":-5}', /illuminance_lux: -5 is outside/],
    ['{"linkquality":256}', /linkquality/],
    ['{"battery":"100.00"}', /expected a number/],
  ];
  for (const [payload, message] of cases) {
    t.throws(() => decode('zigbee2mqtt/desk-3-12', payload), { name: 'DecodeError', message }, payload);
  }
});

t.test('ACL: the bridge publishes the state and availability, listens on set/get', async (t) => {
  const acl = profile.acl('zigbee2mqtt/desk-3-12');
  t.same(acl, {
    publish: ['zigbee2mqtt/desk-3-12', 'zigbee2mqtt/desk-3-12/availability'],
    subscribe: [
      'zigbee2mqtt/desk-3-12/set',
      'zigbee2mqtt/desk-3-12/set/+',
      'zigbee2mqtt/desk-3-12/get',
      'zigbee2mqtt/desk-3-12/get/+',
    ],
  });
  t.notOk(
    acl.publish.some((f) => topicMatches(f, 'zigbee2mqtt/desk-3-13')),
    'not another device',
  );
  t.equal(profile.encodeCommand, undefined, 'a sensor takes no actions');
});
