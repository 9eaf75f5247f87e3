import t from 'tap';
import { DecodeError } from '../../device-profiles/profile.ts';
import { decodeMessage, loadProfiles } from '../../device-profiles/registry.ts';
import profile from './profile.ts';

const NOW = Date.UTC(2026, 11, 6, 15, 0, 0);
const PREFIX = 'shellyplusht-08b61fcb2f48';
const decode = (topic: string, payload: string, receivedAt = NOW) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), receivedAt);
};
const values = (r: ReturnType<typeof decode>) =>
  Object.fromEntries(r.readings.map((x) => [x.quantity, x.value]));

/**
 * A waking H&T's NotifyFullStatus: the frame of General/Notifications, the components of
 * Devices/Gen2/ShellyPlusHT with the status properties of ComponentsAndServices/Temperature (id, tC, tF),
 * Humidity (id, rh) and DevicePower (id, battery {V, percent}, external {present}).
 */
function fullStatus(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    src: PREFIX,
    dst: `${PREFIX}/events`,
    method: 'NotifyFullStatus',
    params: {
      ts: NOW / 1000 - 2.5,
      ble: {},
      cloud: { connected: false },
      'devicepower:0': { id: 0, battery: { V: 5.92, percent: 87 }, external: { present: false } },
      ht_ui: {},
      'humidity:0': { id: 0, rh: 42.2 },
      mqtt: { connected: true },
      sys: { mac: '08B61FCB2F48', restart_required: false, uptime: 3, wakeup_period: 7200 },
      'temperature:0': { id: 0, tC: 19.8, tF: 67.6 },
      wifi: { sta_ip: '192.168.33.20', status: 'got ip', ssid: 'haus', rssi: -61 },
      ...over,
    },
  });
}

t.test('a wake-up: the full status gives temperature, humidity and battery at the device time', async (t) => {
  const r = decode(`${PREFIX}/events/rpc`, fullStatus());
  t.same(r.readings, [
    { channel: '0', quantity: 'temperature', value: 19.8, unit: '°C', ts: NOW - 2500 },
    { channel: '0', quantity: 'humidity', value: 42.2, unit: '%', ts: NOW - 2500 },
    { channel: '0', quantity: 'battery', value: 87, unit: '%', ts: NOW - 2500 },
  ]);
  t.same(profile.quantities, ['temperature', 'humidity', 'battery']);
});

t.test('on USB power the battery says nothing; a sensor error is no reading', async (t) => {
  const usb = decode(
    `${PREFIX}/events/rpc`,
    fullStatus({ 'devicepower:0': { id: 0, battery: { V: 0.43, percent: 0 }, external: { present: true } } }),
  );
  t.same(values(usb), { temperature: 19.8, humidity: 42.2 });
  const error = decode(
    `${PREFIX}/events/rpc`,
    fullStatus({ 'temperature:0': { id: 0, tC: null, tF: null, errors: ['read'] } }),
  );
  t.same(values(error), { humidity: 42.2, battery: 87 }, 'tC null: no temperature, not a zero');
});

t.test('what changed (NotifyStatus), events, and the status topics', async (t) => {
  // General/Notifications "NotifyStatus": params.ts and the changed component, keyed component:id.
  t.same(
    values(
      decode(
        `${PREFIX}/events/rpc`,
        JSON.stringify({
          src: PREFIX,
          dst: `${PREFIX}/events`,
          method: 'NotifyStatus',
          params: { ts: NOW / 1000, 'temperature:0': { id: 0, tC: 21.3, tF: 70.3 } },
        }),
      ),
    ),
    { temperature: 21.3 },
  );
  t.same(
    decode(`${PREFIX}/events/rpc`, JSON.stringify({ method: 'NotifyEvent', params: { ts: 1, events: [] } }))
      .readings,
    [],
  );
  // ComponentsAndServices/Mqtt, status_ntf: the status object of a component on status/<component:id>.
  t.same(values(decode(`${PREFIX}/status/humidity:0`, '{"id":0,"rh":55.1}')), { humidity: 55.1 });
  t.same(values(decode(`${PREFIX}/status/temperature:0`, '{"id":0,"tC":-4.5,"tF":23.9}')), {
    temperature: -4.5,
  });
  t.same(
    values(
      decode(
        `${PREFIX}/status/devicepower:0`,
        '{"id":0,"battery":{"V":5.1,"percent":40},"external":{"present":false}}',
      ),
    ),
    { battery: 40 },
  );
  t.same(decode(`${PREFIX}/status/sys`, '{"mac":"08B61FCB2F48"}').readings, [], 'other components: nothing');
});

t.test('it sleeps: online and its last will, and the family says so', async (t) => {
  t.equal(decode(`${PREFIX}/online`, 'true').availability, 'online');
  t.equal(
    decode(`${PREFIX}/online`, 'false').availability,
    'offline',
    'the will, when it drops off to sleep',
  );
  t.equal(profile.sleeping, true);
  t.equal(profile.reportingIntervalS, 7200, 'a report at least every 2 hours');
});

t.test('malformed messages are refused with a reason', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['events/rpc', '{"method":"Shelly.GetStatus","params":{}}', /is not a notification/],
    ['events/rpc', '{"method":"NotifyStatus"}', /needs a "params" object/],
    ['events/rpc', '{"method":"NotifyStatus","params":{"ts":"now"}}', /params.ts/],
    ['events/rpc', '{"method":"NotifyStatus","params":{"humidity:0":7}}', /humidity:0"\] must be an object/],
    ['events/rpc', fullStatus({ 'humidity:0': { id: 0, rh: 120 } }), /rh: 120 is outside/],
    ['status/temperature:0', '{"id":0,"tC":"20"}', /tC: expected a number/],
    ['online', 'maybe', /expected "true" or "false"/],
  ];
  for (const [sub, payload, message] of cases)
    t.throws(
      () => decode(`${PREFIX}/${sub}`, payload),
      { name: 'DecodeError', message },
      `${sub} ${payload}`,
    );
  t.throws(() => decode(`${PREFIX}/events/rpc`, '{'), DecodeError);
});

t.test('topics and ACL', async (t) => {
  t.same(profile.match(`${PREFIX}/events/rpc`), { deviceTopic: PREFIX, subtopic: 'events/rpc' });
  t.same(profile.match(`lager/${PREFIX}/online`), { deviceTopic: `lager/${PREFIX}`, subtopic: 'online' });
  for (const topic of [`${PREFIX}/rpc`, `${PREFIX}/command`, `${PREFIX}/events/other`, 'online'])
    t.equal(profile.match(topic), undefined, topic);
  t.same(profile.acl(PREFIX), {
    publish: [
      `${PREFIX}/online`,
      `${PREFIX}/events/rpc`,
      `${PREFIX}/status/temperature:0`,
      `${PREFIX}/status/humidity:0`,
      `${PREFIX}/status/devicepower:0`,
      `${PREFIX}/status/+`,
    ],
    subscribe: [`${PREFIX}/rpc`],
  });
});

t.test('without a site file, a wake-up is told from a Plus relay on the same topic layout', async (t) => {
  const profiles = await loadProfiles();
  const ht = decodeMessage(profiles, `${PREFIX}/events/rpc`, Buffer.from(fullStatus()), NOW);
  t.equal(ht.ok && ht.profile.id, 'shelly-ht', 'the family that reads it');
  const relay = decodeMessage(
    profiles,
    'shellyplus1pm-a8032abe54dc/events/rpc',
    Buffer.from(
      JSON.stringify({
        method: 'NotifyStatus',
        params: { ts: NOW / 1000, 'switch:0': { id: 0, apower: 8.2 } },
      }),
    ),
    NOW,
  );
  t.equal(relay.ok && relay.profile.id, 'shelly-gen2');
});
