import t from 'tap';
import { topicMatches } from '../../building/topic-filter.ts';
import { confirmedBy } from '../../device-profiles/confirmation.ts';
import { DecodeError } from '../../device-profiles/profile.ts';
import profile from './profile.ts';

const NOW = 1631186545040 + 2000; // two seconds after the documented notification
const decode = (topic: string, payload: string, receivedAt = NOW) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), receivedAt);
};
const values = (r: ReturnType<typeof decode>) =>
  Object.fromEntries(r.readings.map((x) => [x.quantity, x.value]));
const BASE = 'shellyplus1pm-a8032abe54dc';

t.test(
  'status/switch:0 (Switch component "Status", https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch#status)',
  async (t) => {
    // Switch status as published in Shelly's script examples for Switch.GetStatus.
    const payload =
      '{"temperature":{"tF":121.1,"tC":49.5},"aenergy":{"minute_ts":1632600459,"by_minute":[0,0,0],"total":0.134},"current":0,"voltage":238.215,"apower":0,"output":false,"source":"switch","id":0}';
    const r = decode(`${BASE}/status/switch:0`, payload);
    t.same(values(r), {
      power: 0,
      energy: 0.000134,
      voltage: 238.215,
      current: 0,
      temperature: 49.5,
      switch: 'off',
    });
    t.same(
      r.readings.map((x) => [x.unit, x.ts]),
      [
        ['W', NOW],
        ['kWh', NOW],
        ['V', NOW],
        ['A', NOW],
        ['°C', NOW],
        ['state', NOW],
      ],
      'minute_ts is not the measurement time',
    );
    // 9492.468 Wh (aenergy.total) = 9.492468 kWh
    const big = decode(`${BASE}/status/switch:0`, '{"id":0,"apower":15.8,"aenergy":{"total":9492.468}}');
    t.ok(Math.abs((values(big).energy as number) - 9.492468) < 1e-12);
    t.same(values(decode(`${BASE}/status/pm1:0`, '{"id":0,"apower":3.2}')), { power: 3.2 }, 'PM Mini');
    t.same(
      decode(`${BASE}/status/sys`, '{"mac":"A8032ABE54DC","uptime":3600}').readings,
      [],
      'other components accepted',
    );
  },
);

t.test(
  'events/rpc NotifyStatus (https://shelly-api-docs.shelly.cloud/gen2/General/Notifications#notifystatus)',
  async (t) => {
    // "Example 1: Notify that a button has changed the output state of the switch with id=0."
    const example1 =
      '{"src":"shellypro4pm-f008d1d8b8b8","dst":"user_1","method":"NotifyStatus","params":{"ts":1631186545.04,"switch:0":{"id":0,"output":true,"source":"button"}}}';
    t.same(decode('shellypro4pm-f008d1d8b8b8/events/rpc', example1).readings, [
      { channel: '0', quantity: 'switch', value: 'on', unit: 'state', ts: 1631186545040 },
    ]);
    // "Example 2: Notify that this device has lost connection to the cloud."
    const example2 =
      '{"src":"shellypro4pm-f008d1d8b8b8","dst":"user_1","method":"NotifyStatus","params":{"ts":1624348482.25,"cloud":{"connected":false}}}';
    t.same(decode('shellypro4pm-f008d1d8b8b8/events/rpc', example2).readings, []);
    // A metering change, same frame shape: the device's ts (UTC seconds) becomes the reading time.
    const metering =
      '{"src":"shellyplus1pm-a8032abe54dc","dst":"shellyplus1pm-a8032abe54dc/events","method":"NotifyStatus","params":{"ts":1631186545.04,"switch:0":{"id":0,"apower":1503.2,"current":6.53}}}';
    const r = decode(`${BASE}/events/rpc`, metering);
    t.same(values(r), { power: 1503.2, current: 6.53 });
    t.equal(r.readings[0]?.ts, 1631186545040);
    t.equal(
      decode(`${BASE}/events/rpc`, metering, NOW + 86_400_000 * 365).readings[0]?.ts,
      NOW + 86_400_000 * 365,
      'unsynced clock',
    );
    const full =
      '{"method":"NotifyFullStatus","params":{"ts":1631186545.04,"switch:0":{"aenergy":{"total":1200}}}}';
    t.same(values(decode(`${BASE}/events/rpc`, full)), { energy: 1.2 });
    const event =
      '{"method":"NotifyEvent","params":{"ts":1631186545.04,"events":[{"component":"input:0","event":"single_push"}]}}';
    t.same(decode(`${BASE}/events/rpc`, event).readings, []);
  },
);

t.test(
  'Pro 4PM / Pro 2PM / Plus 2PM: every switch is a channel (https://shelly-api-docs.shelly.cloud/gen2/Devices/Gen2/ShellyPro4PM)',
  async (t) => {
    const pro4pm = 'shellypro4pm-f008d1d8b8b8';
    // The Switch status of the Switch.GetStatus example, published by the Pro 4PM for each of its four
    // switches on `<topic_prefix>/status/switch:<id>` (ComponentsAndServices/Mqtt, status_ntf).
    const status = (id: number, total: number) =>
      `{"id":${id},"source":"timer","output":true,"apower":8.9,"voltage":237.5,"current":0.068,"aenergy":{"total":${total},"by_minute":[45.199,47.141,88.397],"minute_ts":1654511972},"temperature":{"tC":23.5,"tF":74.4}}`;
    for (const id of [0, 1, 2, 3]) {
      const r = decode(`${pro4pm}/status/switch:${id}`, status(id, 6532 + id));
      t.same(
        r.readings.map((x) => x.channel),
        Array(6).fill(String(id)),
        `switch:${id} is channel ${id}`,
      );
      t.same(values(r), {
        power: 8.9,
        energy: (6532 + id) / 1000,
        voltage: 237.5,
        current: 0.068,
        temperature: 23.5,
        switch: 'on',
      });
    }
    // NotifyStatus / NotifyFullStatus carry several switches in one frame: each is its own channel.
    const full = `{"src":"${pro4pm}","dst":"${pro4pm}/events","method":"NotifyFullStatus","params":{"ts":1631186545.04,"switch:0":${status(0, 1000)},"switch:1":${status(1, 2000)},"switch:2":${status(2, 3000)},"switch:3":${status(3, 4000)},"input:0":{"id":0,"state":false},"sys":{"uptime":3600}}}`;
    const energies = decode(`${pro4pm}/events/rpc`, full)
      .readings.filter((x) => x.quantity === 'energy')
      .map((x) => [x.channel, x.value, x.ts]);
    t.same(energies, [
      ['0', 1, 1631186545040],
      ['1', 2, 1631186545040],
      ['2', 3, 1631186545040],
      ['3', 4, 1631186545040],
    ]);
    const change = `{"src":"shellyplus2pm-a8032ab636ec","dst":"x/events","method":"NotifyStatus","params":{"ts":1631186545.04,"switch:1":{"id":1,"apower":120.4}}}`;
    t.same(decode('shellyplus2pm-a8032ab636ec/events/rpc', change).readings, [
      { channel: '1', quantity: 'power', value: 120.4, unit: 'W', ts: 1631186545040 },
    ]);
    t.throws(
      () =>
        decode(
          `${pro4pm}/events/rpc`,
          '{"method":"NotifyStatus","params":{"ts":1631186545.04,"switch:2":"on"}}',
        ),
      DecodeError,
    );
    // Switch.Set on `<topic_prefix>/rpc` (RPCChannels, "MQTT"): switch output 2 is channel 2.
    const [rpc] = profile.encodeCommand?.(pro4pm, 'switch_off', '2', { id: 'cmd-0000002a' }) ?? [];
    t.equal(rpc?.topic, `${pro4pm}/rpc`);
    t.same(JSON.parse(rpc?.payload ?? ''), {
      id: 'cmd-0000002a',
      src: `${pro4pm}/wesprint`,
      method: 'Switch.Set',
      params: { id: 2, on: false },
    });
    t.same([rpc?.qos, rpc?.retain], [1, false]);
  },
);

t.test(
  'the answers to Switch.Set: the RPC response and the new output (RPCProtocol, Switch "Status")',
  async (t) => {
    const pro4pm = 'shellypro4pm-f008d1d8b8b8';
    // The response frame of Switch.Set (RPCChannels, "POST request with entire frame as payload"):
    // `{"id":0,"src":"shellydev1-c8f09e47e6f0","result":{"was_on":true}}`, here to our src and id.
    const done = decode(
      `${pro4pm}/wesprint/rpc`,
      `{"id":"cmd-0000002a","src":"${pro4pm}","dst":"${pro4pm}/wesprint","result":{"was_on":true}}`,
    );
    t.same(done, { readings: [], commandResult: { ok: true, detail: 'done (was on)', id: 'cmd-0000002a' } });
    // An error frame (RPCProtocol, "Response Frame": error.code, error.message), e.g. a switch id the device
    // does not have.
    const refused = decode(
      `${pro4pm}/wesprint/rpc`,
      `{"id":"cmd-0000002b","src":"${pro4pm}","dst":"${pro4pm}/wesprint","error":{"code":-105,"message":"Argument 'id', value 7 not found!"}}`,
    );
    t.same(refused.commandResult, {
      ok: false,
      detail: "Shelly error -105: Argument 'id', value 7 not found!",
      id: 'cmd-0000002b',
    });
    t.throws(() => decode(`${pro4pm}/wesprint/rpc`, '{"result":{}}'), DecodeError, 'no id');
    t.throws(() => decode(`${pro4pm}/wesprint/rpc`, '{"id":1}'), DecodeError, 'neither result nor error');
    // Then the status of the switched output, as NotifyStatus and on status/switch:2: the state confirms.
    const notified = decode(
      `${pro4pm}/events/rpc`,
      `{"src":"${pro4pm}","dst":"${pro4pm}/events","method":"NotifyStatus","params":{"ts":1631186545.04,"switch:2":{"id":2,"output":false,"source":"MQTT"}}}`,
    );
    const [state] = notified.readings;
    t.same(state, { channel: '2', quantity: 'switch', value: 'off', unit: 'state', ts: 1631186545040 });
    t.ok(state && confirmedBy({ action: 'switch_off', channel: '2' }, state));
    t.notOk(state && confirmedBy({ action: 'switch_off', channel: '0' }, state), 'another output');
    const status = decode(
      `${pro4pm}/status/switch:2`,
      '{"id":2,"source":"MQTT","output":false,"apower":0,"voltage":231.2,"current":0,"aenergy":{"total":12.5}}',
    );
    t.ok(status.readings.some((r) => confirmedBy({ action: 'switch_off', channel: '2' }, r)));
    const acl = profile.acl(pro4pm);
    t.ok(
      acl.publish.some((f) => topicMatches(f, `${pro4pm}/wesprint/rpc`)),
      'the device may answer',
    );
    t.ok(
      acl.subscribe.some((f) => topicMatches(f, `${pro4pm}/rpc`)),
      'and hears the request',
    );
  },
);

t.test('online (MQTT component: true, last will false)', async (t) => {
  t.equal(decode(`${BASE}/online`, 'true').availability, 'online');
  t.equal(decode(`${BASE}/online`, 'false').availability, 'offline');
});

t.test('malformed', async (t) => {
  for (const [topic, payload] of [
    [`${BASE}/status/switch:0`, '{"apower":"12"}'],
    [`${BASE}/status/switch:0`, '{"aenergy":{"total":-3}}'],
    [`${BASE}/status/switch:0`, '{"voltage":-230}'],
    [`${BASE}/status/switch:0`, '{not json'],
    [`${BASE}/events/rpc`, '{"params":{}}'],
    [`${BASE}/events/rpc`, '{"method":"Switch.Set","params":{"id":0,"on":true}}'],
    [`${BASE}/events/rpc`, '{"method":"NotifyStatus"}'],
    [`${BASE}/events/rpc`, '{"method":"NotifyStatus","params":{"ts":"yesterday"}}'],
    [`${BASE}/events/rpc`, '{"method":"NotifyStatus","params":{"ts":1,"switch:0":42}}'],
    [`${BASE}/online`, 'yes'],
  ]) {
    t.throws(() => decode(topic as string, payload as string), DecodeError, `${topic} ${payload}`);
  }
});

t.test('topics: free prefix recognised by suffix; commands are not reports', async (t) => {
  t.same(profile.match('building/floor2/plug-7/status/switch:0'), {
    deviceTopic: 'building/floor2/plug-7',
    subtopic: 'status/switch:0',
  });
  for (const topic of [
    `${BASE}/rpc`,
    `${BASE}/command/switch:0`,
    `${BASE}/command`,
    'online',
    '/online',
    `${BASE}/status/`,
  ]) {
    t.equal(profile.match(topic), undefined, topic);
  }
});

t.test('commands and ACL', async (t) => {
  const [on] = profile.encodeCommand?.(BASE, 'switch_on') ?? [];
  t.same([on?.topic, JSON.parse(on?.payload ?? '').params], [`${BASE}/rpc`, { id: 0, on: true }]);
  const acl = profile.acl(BASE);
  t.same(acl.publish, [
    `${BASE}/online`,
    `${BASE}/status/switch:0`,
    `${BASE}/status/switch:1`,
    `${BASE}/status/switch:2`,
    `${BASE}/status/switch:3`,
    `${BASE}/status/pm1:0`,
    `${BASE}/status/+`,
    `${BASE}/events/rpc`,
    `${BASE}/wesprint/rpc`,
  ]);
  t.same(acl.subscribe, [`${BASE}/rpc`, `${BASE}/command`, `${BASE}/command/+`]);
  t.notOk(acl.publish.some((f) => topicMatches(f, `${BASE}/command/switch:0`)));
  t.notOk(acl.publish.some((f) => topicMatches(f, `${BASE}/rpc`)));
});
