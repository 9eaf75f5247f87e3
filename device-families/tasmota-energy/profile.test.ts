import t from 'tap';
import { topicMatches } from '../../building/topic-filter.ts';
import { confirmedBy } from '../../device-profiles/confirmation.ts';
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

t.test('tele/<topic>/SENSOR with ENERGY', async (t) => {
  // Tasmota energy plug telemetry as shown in the plug maker's Tasmota guide
  // (https://blog.mylocalbytes.com/kb/2022-01-10/LB-PM-Power-Monitoring, "Via MQTT"); field units per
  // https://tasmota.github.io/docs/Commands/#power-monitoring (Total kWh, Power W, Voltage V, Current A).
  const payload =
    '{"Time":"2022-01-11T21:57:38","ENERGY":{"TotalStartTime":"2020-10-21T22:15:00","Total":3.705,"Yesterday":0.028,"Today":0.026,"Period":1,"Power":5,"ApparentPower":5,"ReactivePower":0,"Factor":1.00,"Voltage":233,"Current":0.021}}';
  t.same(profile.match('tele/livingroom-lamp/SENSOR'), {
    deviceTopic: 'livingroom-lamp',
    subtopic: 'tele/SENSOR',
  });
  const r = decode('tele/livingroom-lamp/SENSOR', payload);
  t.same(values(r), { energy: 3.705, power: 5, voltage: 233, current: 0.021 });
  t.same(
    r.readings.map((x) => x.unit),
    ['kWh', 'W', 'V', 'A'],
  );
  t.ok(
    r.readings.every((x) => x.ts === NOW),
    'Time without zone is local device time: receipt time is used',
  );
  const zoned = decode('tele/p/SENSOR', '{"Time":"2026-11-20T09:59:00+01:00","ENERGY":{"Total":1.5}}');
  t.equal(zoned.readings[0]?.ts, Date.UTC(2026, 10, 20, 8, 59, 0), 'SetOption52 adds the offset: trusted');
});

t.test('SENSOR without ENERGY and multi-channel arrays', async (t) => {
  // https://tasmota.github.io/docs/ (Home Assistant / DHT22): tele/tasmota/SENSOR = {"Time":"2017-02-12T16:11:12", "DHT22":{...}}
  t.same(
    decode(
      'tele/tasmota/SENSOR',
      '{"Time":"2017-02-12T16:11:12", "DHT22":{"Temperature":23.9, "Humidity":34.1}}',
    ).readings,
    [],
  );
  const two = decode(
    'tele/dual/SENSOR',
    '{"ENERGY":{"Total":2.5,"Power":[100,50],"Voltage":[230,230],"Current":[0.5,0.25]}}',
  );
  t.same(values(two), { energy: 2.5, power: 150, voltage: 230, current: 0.75 });
});

t.test('LWT, POWER, STATE (https://tasmota.github.io/docs/MQTT/)', async (t) => {
  t.equal(decode('tele/livingroom-lamp/LWT', 'Online').availability, 'online');
  t.equal(decode('tele/livingroom-lamp/LWT', 'Offline').availability, 'offline');
  // A plug's one relay says POWER (SetOption26 off): channel 0.
  t.same(decode('stat/livingroom-lamp/POWER', 'ON').readings, [
    { channel: '0', quantity: 'switch', value: 'on', unit: 'state', ts: NOW },
  ]);
  t.same(
    decode(
      'tele/livingroom-lamp/STATE',
      '{"Time":"2019-09-04T13:08:48","Uptime":"0T00:00:14","UptimeSec":14,"POWER":"ON","Wifi":{"AP":1,"SSId":"MyWLAN","RSSI":100}}',
    ).readings,
    [{ channel: '0', quantity: 'switch', value: 'on', unit: 'state', ts: NOW }],
    "the periodic STATE carries the relay's state",
  );
});

t.test(
  'switching relay <x> with Power<x> and the answer (https://tasmota.github.io/docs/Commands/#control)',
  async (t) => {
    // "cmnd/tasmota/POWER1 ON" on a 4-relay board: relay 3 is channel 2.
    t.same(profile.encodeCommand?.('sonoff-4ch', 'switch_on', '2'), [
      { topic: 'cmnd/sonoff-4ch/POWER3', payload: 'ON', qos: 1, retain: false },
    ]);
    t.same(profile.encodeCommand?.('livingroom-lamp', 'switch_on'), [
      { topic: 'cmnd/livingroom-lamp/POWER1', payload: 'ON', qos: 1, retain: false },
    ]);
    // The answer (MQTT, "Command flow"): stat/<topic>/RESULT {"POWER3":"ON"} and stat/<topic>/POWER3 ON.
    const result = decode('stat/sonoff-4ch/RESULT', '{"POWER3":"ON"}').readings;
    t.same(result, [{ channel: '2', quantity: 'switch', value: 'on', unit: 'state', ts: NOW }]);
    const [stat] = decode('stat/sonoff-4ch/POWER3', 'ON').readings;
    t.same(stat, { channel: '2', quantity: 'switch', value: 'on', unit: 'state', ts: NOW });
    t.ok(stat && confirmedBy({ action: 'switch_on', channel: '2' }, stat));
    t.notOk(stat && confirmedBy({ action: 'switch_on', channel: '0' }, stat), 'relay 1 is another channel');
    t.notOk(stat && confirmedBy({ action: 'switch_off', channel: '2' }, stat));
    // A plug (one relay) answers POWER1 with "POWER": still channel 0.
    const [plug] = decode('stat/livingroom-lamp/RESULT', '{"POWER":"OFF"}').readings;
    t.ok(plug && confirmedBy({ action: 'switch_off' }, plug));
    // Other RESULTs carry no relay state.
    t.same(decode('stat/sonoff-4ch/RESULT', '{"TelePeriod":300}').readings, []);
    const state = decode(
      'tele/sonoff-4ch/STATE',
      '{"Time":"2019-09-04T13:08:48","UptimeSec":14,"POWER1":"ON","POWER2":"OFF","POWER3":"ON","POWER4":"OFF"}',
    );
    t.same(
      state.readings.map((r) => [r.channel, r.value]),
      [
        ['0', 'on'],
        ['1', 'off'],
        ['2', 'on'],
        ['3', 'off'],
      ],
    );
    const acl = profile.acl('sonoff-4ch');
    t.ok(
      acl.subscribe.some((f) => topicMatches(f, 'cmnd/sonoff-4ch/POWER3')),
      'the device hears Power3',
    );
    for (const answer of ['stat/sonoff-4ch/RESULT', 'stat/sonoff-4ch/POWER3'])
      t.ok(
        acl.publish.some((f) => topicMatches(f, answer)),
        `the device may answer on ${answer}`,
      );
  },
);

t.test('malformed', async (t) => {
  for (const [topic, payload] of [
    ['tele/p/SENSOR', '{"ENERGY":{"Total":-0.1}}'],
    ['tele/p/SENSOR', '{"ENERGY":{"Power":"5"}}'],
    ['tele/p/SENSOR', '{"ENERGY":{"Power":[]}}'],
    ['tele/p/SENSOR', '{"ENERGY":{"Power":[1,"x"]}}'],
    ['tele/p/SENSOR', '{"Time":12,"ENERGY":{"Total":1}}'],
    ['tele/p/SENSOR', 'Online'],
    ['tele/p/LWT', 'online'],
    ['stat/p/POWER', 'TOGGLE'],
    ['stat/p/POWER2', 'on'],
    ['stat/p/RESULT', '{"POWER1":true}'],
  ]) {
    t.throws(() => decode(topic as string, payload as string), DecodeError, `${topic} ${payload}`);
  }
});

t.test('commands, topics and ACL', async (t) => {
  t.same(profile.encodeCommand?.('livingroom-lamp', 'switch_off'), [
    { topic: 'cmnd/livingroom-lamp/POWER1', payload: 'OFF', qos: 1, retain: false },
  ]);
  for (const topic of [
    'cmnd/livingroom-lamp/POWER',
    'tele/livingroom-lamp',
    'tele/a/b/SENSOR',
    'zzz/p/SENSOR',
    'tele//SENSOR',
  ]) {
    t.equal(profile.match(topic), undefined, topic);
  }
  const acl = profile.acl('livingroom-lamp');
  t.same(acl.subscribe, ['cmnd/livingroom-lamp/+']);
  t.ok(acl.publish.includes('tele/livingroom-lamp/SENSOR'));
  t.ok(acl.publish.includes('stat/livingroom-lamp/+'));
  t.notOk(acl.publish.some((f) => topicMatches(f, 'cmnd/livingroom-lamp/POWER')));
  t.notOk(acl.publish.some((f) => topicMatches(f, 'tele/kitchen-plug/SENSOR')));
});
