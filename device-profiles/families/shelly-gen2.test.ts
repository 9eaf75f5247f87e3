import t from 'tap';
import { topicMatches } from '../../broker/acl.ts';
import { DecodeError } from '../profile.ts';
import profile from './shelly-gen2.ts';

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
    t.same(values(r), { power: 0, energy: 0.000134, voltage: 238.215, current: 0, temperature: 49.5 });
    t.same(
      r.readings.map((x) => [x.unit, x.ts]),
      [
        ['W', NOW],
        ['kWh', NOW],
        ['V', NOW],
        ['A', NOW],
        ['°C', NOW],
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
    t.same(decode('shellypro4pm-f008d1d8b8b8/events/rpc', example1).readings, []);
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
  t.same(profile.encodeCommand?.(BASE, 'switch_on'), [
    { topic: `${BASE}/command/switch:0`, payload: 'on', qos: 1, retain: false },
  ]);
  const acl = profile.acl(BASE);
  t.same(acl.publish, [
    `${BASE}/online`,
    `${BASE}/status/switch:0`,
    `${BASE}/status/pm1:0`,
    `${BASE}/status/+`,
    `${BASE}/events/rpc`,
  ]);
  t.same(acl.subscribe, [`${BASE}/rpc`, `${BASE}/command`, `${BASE}/command/+`]);
  t.notOk(acl.publish.some((f) => topicMatches(f, `${BASE}/command/switch:0`)));
  t.notOk(acl.publish.some((f) => topicMatches(f, `${BASE}/rpc`)));
});
