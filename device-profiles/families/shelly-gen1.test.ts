import t from 'tap';
import { topicMatches } from '../../broker/acl.ts';
import { DecodeError } from '../profile.ts';
import profile from './shelly-gen1.ts';

const NOW = Date.UTC(2026, 10, 20, 9, 0, 0);
const decode = (topic: string, payload: string) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), NOW);
};
const one = (topic: string, payload: string) => {
  const r = decode(topic, payload).readings;
  if (r.length !== 1) throw new Error(`expected one reading from ${topic}, got ${r.length}`);
  return r[0];
};

t.test('Plug S / 1PM (https://shelly-api-docs.shelly.cloud/gen1/#shelly-plug-plugs-mqtt)', async (t) => {
  const base = 'shellies/shellyplug-s-C18B12';
  t.same(profile.match(`${base}/relay/0/power`), { deviceTopic: base, subtopic: 'relay/0/power' });
  t.same(one(`${base}/relay/0/power`, '42.17'), {
    channel: '0',
    quantity: 'power',
    value: 42.17,
    unit: 'W',
    ts: NOW,
  });
  // "relay/0/energy reports an incrementing energy counter in Watt-minute":
  // 1234 Wmin = 1234 / 60 Wh = 20.5666… Wh = 0.0205666… kWh
  const energy = one(`${base}/relay/0/energy`, '1234');
  t.equal(energy?.unit, 'kWh');
  t.ok(Math.abs((energy?.value as number) - 0.020566666666666667) < 1e-15, `${energy?.value}`);
  t.same(decode(`${base}/relay/0`, 'on').readings, [], 'relay state is no quantity');
  t.same(decode(`${base}/relay/0`, 'overpower').readings, []);
  t.same(one(`shellies/shelly1pm-A1B2C3/temperature`, '41.5'), {
    channel: '0',
    quantity: 'temperature',
    value: 41.5,
    unit: '°C',
    ts: NOW,
  });
  // "shellies/<id>/online": true on connect, last will false.
  t.equal(decode(`${base}/online`, 'true').availability, 'online');
  t.equal(decode(`${base}/online`, 'false').availability, 'offline');
});

t.test('EM / 3EM (https://shelly-api-docs.shelly.cloud/gen1/#shelly-em-mqtt)', async (t) => {
  const base = 'shellies/shellyem-B9A3F1';
  // "emeter/<i>/total total energy in Wh": 73521.3 Wh = 73.5213 kWh
  const total = one(`${base}/emeter/0/total`, '73521.3');
  t.equal(total?.unit, 'kWh');
  t.ok(Math.abs((total?.value as number) - 73.5213) < 1e-9);
  t.same(
    one(`${base}/emeter/0/power`, '-150.25'),
    { channel: '0', quantity: 'power', value: -150.25, unit: 'W', ts: NOW },
    'export',
  );
  t.same(one(`${base}/emeter/0/voltage`, '231.84'), {
    channel: '0',
    quantity: 'voltage',
    value: 231.84,
    unit: 'V',
    ts: NOW,
  });
  t.same(one(`shellies/shellyem3-ABCDEF/emeter/0/current`, '2.41'), {
    channel: '0',
    quantity: 'current',
    value: 2.41,
    unit: 'A',
    ts: NOW,
  });
  t.same(
    decode(`${base}/emeter/0/energy`, '3150').readings,
    [],
    'the reboot-volatile Wmin counter is not a second series',
  );
  t.same(decode(`${base}/emeter/1/power`, '12.5').readings, [], 'channel 1 accepted, not stored');
  t.same(decode(`${base}/emeter/0/reactive_power`, '3.1').readings, []);
});

t.test('malformed', async (t) => {
  const base = 'shellies/shellyplug-s-C18B12';
  for (const [topic, payload] of [
    [`${base}/relay/0/power`, 'nan'],
    [`${base}/relay/0/power`, ''],
    [`${base}/relay/0/power`, '-5'],
    [`${base}/relay/0/energy`, '-1'],
    [`${base}/relay/0/energy`, '12 Wmin'],
    [`${base}/relay/0`, 'ON'],
    [`${base}/online`, '1'],
    [`${base}/emeter/0/voltage`, '-230'],
    [`${base}/emeter/1/power`, 'abc'],
    [`${base}/info`, 'not json'],
  ]) {
    t.throws(
      () => decode(topic as string, payload as string),
      DecodeError,
      `${topic} ${JSON.stringify(payload)}`,
    );
  }
});

t.test('topics that are not reports', async (t) => {
  for (const topic of [
    'shellies/shellyplug-s-C18B12/relay/0/command',
    'shellies/shellyplug-s-C18B12/command',
    'shellies/command',
    'shellies/announce',
    'shellies/shellyplug-s-C18B12/unknown',
    'shellies//relay/0/power',
  ]) {
    t.equal(profile.match(topic), undefined, topic);
  }
});

t.test('commands and ACL', async (t) => {
  t.same(profile.actions, ['switch_on', 'switch_off']);
  t.same(profile.encodeCommand?.('shellies/shellyplug-s-C18B12', 'switch_off'), [
    { topic: 'shellies/shellyplug-s-C18B12/relay/0/command', payload: 'off', qos: 1, retain: false },
  ]);
  t.throws(() => profile.encodeCommand?.('shellies/x', 'unlock'), /cannot carry out "unlock"/);
  const acl = profile.acl('shellies/shellyplug-s-C18B12');
  t.same(acl.subscribe, [
    'shellies/shellyplug-s-C18B12/relay/+/command',
    'shellies/shellyplug-s-C18B12/command',
  ]);
  const may = (topic: string) => acl.publish.some((f) => topicMatches(f, topic));
  t.ok(may('shellies/shellyplug-s-C18B12/relay/0/energy'));
  t.ok(may('shellies/shellyplug-s-C18B12/online'));
  t.notOk(may('shellies/shellyplug-s-C18B12/relay/0/command'), 'a device cannot command itself');
  t.notOk(may('shellies/shellyplug-s-OTHER/relay/0/energy'), 'nor publish as another device');
  t.notOk(may('shellies/command'));
});
