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
const one = (topic: string, payload: string) => {
  const r = decode(topic, payload).readings;
  const [first] = r;
  if (r.length !== 1 || first === undefined)
    throw new Error(`expected one reading from ${topic}, got ${r.length}`);
  return first;
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
  // "shellies/<id>/relay/0 to report status: on, off or overpower": the switch's state on its channel.
  t.same(one(`${base}/relay/0`, 'on'), {
    channel: '0',
    quantity: 'switch',
    value: 'on',
    unit: 'state',
    ts: NOW,
  });
  t.same(one(`${base}/relay/0`, 'off').value, 'off');
  t.same(one(`${base}/relay/0`, 'overpower').value, 'off', 'overpower: the relay switched itself off');
  t.throws(() => decode(`${base}/relay/0`, 'ON'), DecodeError, 'Gen1 speaks lower case');
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
  t.same(decode(`${base}/emeter/0/reactive_power`, '3.1').readings, []);
  t.same(decode(`${base}/emeter/0/total_returned`, '12.9').readings, [], 'export is checked, not stored');
});

t.test(
  'every channel of an EM (emeter/0..1) and a 3EM (emeter/0..2): "emeter/<i>/…" is channel <i>',
  async (t) => {
    // Shelly EM: MQTT and Shelly 3EM: MQTT list, per channel i, `shellies/<id>/emeter/<i>/power` (W),
    // `…/energy` and `…/returned_energy` (Watt-minute), `…/total` and `…/total_returned` (Wh, non-volatile),
    // `…/voltage` (V), and for the 3EM `…/current` (A) and `…/pf`.
    const em3 = 'shellies/shellyem3-C45BBE6A1B2C';
    for (const i of [0, 1, 2]) {
      const total = one(`${em3}/emeter/${i}/total`, '12345.6');
      t.equal(total.channel, String(i), `3EM phase ${i}`);
      t.equal(total.quantity, 'energy');
      t.ok(Math.abs((total.value as number) - 12.3456) < 1e-12, '12345.6 Wh = 12.3456 kWh');
      t.same(one(`${em3}/emeter/${i}/power`, '1203.45'), {
        channel: String(i),
        quantity: 'power',
        value: 1203.45,
        unit: 'W',
        ts: NOW,
      });
      t.same(one(`${em3}/emeter/${i}/voltage`, '229.8'), {
        channel: String(i),
        quantity: 'voltage',
        value: 229.8,
        unit: 'V',
        ts: NOW,
      });
      t.same(one(`${em3}/emeter/${i}/current`, '5.24'), {
        channel: String(i),
        quantity: 'current',
        value: 5.24,
        unit: 'A',
        ts: NOW,
      });
      for (const topic of ['energy', 'returned_energy', 'total_returned', 'pf', 'reactive_power'])
        t.same(decode(`${em3}/emeter/${i}/${topic}`, '0.97').readings, [], `emeter/${i}/${topic}`);
    }
    const em = 'shellies/shellyem-B9A3F1';
    t.same(one(`${em}/emeter/1/power`, '-12.5'), {
      channel: '1',
      quantity: 'power',
      value: -12.5,
      unit: 'W',
      ts: NOW,
    });
    t.equal(one(`${em}/emeter/1/total`, '73521.3').channel, '1', 'EM channel 1 (second clamp)');
    t.throws(() => decode(`${em}/emeter/x/total`, '1'), DecodeError, 'a channel is a number');
    t.throws(() => decode(`${em}/emeter/1/total`, '-1'), DecodeError);
  },
);

t.test(
  'Shelly 2.5 (https://shelly-api-docs.shelly.cloud/gen1/#shelly2-5-mqtt): relay/1 is channel 1',
  async (t) => {
    const base = 'shellies/shellyswitch25-98CDAC1F03DD';
    t.same(one(`${base}/relay/1/power`, '88.2'), {
      channel: '1',
      quantity: 'power',
      value: 88.2,
      unit: 'W',
      ts: NOW,
    });
    const energy = one(`${base}/relay/1/energy`, '6000');
    t.same([energy.channel, energy.value], ['1', 0.1], '6000 Wmin = 0.1 kWh');
    t.equal(one(`${base}/relay/0/power`, '1').channel, '0');
    t.equal(one(`${base}/temperature`, '51.2').channel, '0', "the device's own temperature is channel 0");
    t.equal(one(`${base}/relay/1`, 'off').channel, '1', "relay 1's state is channel 1");
  },
);

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

t.test('a switch command and the answer that confirms it, per channel (Shelly 2.5: MQTT)', async (t) => {
  // "shellies/shellyswitch25-<deviceid>/relay/<i>/command accepts on, off or toggle"; the relay then reports
  // "shellies/shellyswitch25-<deviceid>/relay/<i>" on/off.
  const base = 'shellies/shellyswitch25-98CDAC1F03DD';
  const [command] = profile.encodeCommand?.(base, 'switch_off', '1') ?? [];
  t.equal(command?.topic, `${base}/relay/1/command`);
  t.ok(
    profile.acl(base).subscribe.some((f) => topicMatches(f, command?.topic ?? '')),
    'the device may hear it',
  );
  const answer = one(`${base}/relay/1`, 'off');
  t.same(answer, { channel: '1', quantity: 'switch', value: 'off', unit: 'state', ts: NOW });
  t.ok(confirmedBy({ action: 'switch_off', channel: '1' }, answer), 'relay 1 off confirms switch_off on 1');
  t.notOk(confirmedBy({ action: 'switch_off', channel: '0' }, answer), 'not a command to relay 0');
  t.notOk(confirmedBy({ action: 'switch_on', channel: '1' }, answer), 'nor switch_on');
});

t.test('commands and ACL', async (t) => {
  t.same(profile.actions, ['switch_on', 'switch_off']);
  t.same(profile.encodeCommand?.('shellies/shellyplug-s-C18B12', 'switch_off'), [
    { topic: 'shellies/shellyplug-s-C18B12/relay/0/command', payload: 'off', qos: 1, retain: false },
  ]);
  t.same(
    profile.encodeCommand?.('shellies/shellyswitch25-98CDAC1F03DD', 'switch_on', '1'),
    [{ topic: 'shellies/shellyswitch25-98CDAC1F03DD/relay/1/command', payload: 'on', qos: 1, retain: false }],
    'channel 1 of a Shelly 2.5',
  );
  t.throws(() => profile.encodeCommand?.('shellies/x', 'unlock'), /cannot carry out "unlock"/);
  t.throws(
    () => profile.encodeCommand?.('shellies/x', 'switch_on', '0', { value: 1 }),
    /switch_on takes no value/,
  );
  t.equal(profile.actionValues, undefined, 'no action of a relay carries a value');
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
