import t from 'tap';
import { topicMatches } from '../../building/topic-filter.ts';
import { DecodeError } from '../../device-profiles/profile.ts';
import { decodeMessage, loadProfiles, type SiteDevice } from '../../device-profiles/registry.ts';
import profile from './profile.ts';

const NOW = Date.UTC(2026, 0, 14, 10, 30);
const decode = (topic: string, payload: string, receivedAt = NOW) => {
  const m = profile.match(topic);
  if (!m) throw new Error(`no match for ${topic}`);
  return profile.decode(m, Buffer.from(payload), receivedAt);
};
const values = (r: ReturnType<typeof decode>) =>
  Object.fromEntries(r.readings.map((x) => [x.quantity, x.value]));
const BASE = 'shellypro3em-ec6260890b50';

// "EM.GetStatus example", https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EM#emgetstatus-example
// (verbatim, including the documentation's `c_active_power` spelling and its error list).
const EM_EXAMPLE =
  '{"id":0,"a_current":4.029,"a_voltage":236.1,"a_act_power":951.2,"a_aprt_power":951.9,"a_pf":1,"a_freq":50,"b_current":4.027,"b_voltage":236.201,"b_act_power":-951.1,"b_aprt_power":951.8,"b_pf":1,"b_freq":50,"c_current":3.03,"c_voltage":236.402,"c_active_power":715.4,"c_aprt_power":716.2,"c_pf":1,"c_freq":50,"n_current":11.029,"total_current":11.083,"total_act_power":2484.782,"total_aprt_power":2486.7,"user_calibrated_phase":[],"errors":["phase_sequence"]}';
// "EMData.GetStatus example", https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/EMData#emdatagetstatus-example
const EMDATA_EXAMPLE =
  '{"id":0,"a_total_act_energy":0,"a_total_act_ret_energy":0,"b_total_act_energy":0,"b_total_act_ret_energy":0,"c_total_act_energy":0,"c_total_act_ret_energy":0,"total_act":0,"total_act_ret":0}';

t.test('status/em:0 (EM component "Status")', async (t) => {
  const r = decode(`${BASE}/status/em:0`, EM_EXAMPLE);
  // The totals as the firmware reports them (the example's total is not the sum of its phases: not our business).
  t.same(values(r), { power: 2484.782, voltage: 236.1, current: 11.083 });
  t.same(
    r.readings.map((x) => [x.quantity, x.unit, x.ts]),
    [
      ['power', 'W', NOW],
      ['voltage', 'V', NOW],
      ['current', 'A', NOW],
    ],
    'EM status carries no time stamp: time of receipt',
  );
  const exporting = decode(`${BASE}/status/em:0`, '{"id":0,"total_act_power":-812.4}');
  t.same(values(exporting), { power: -812.4 }, 'a grid meter may see export');
  const big = decode(`${BASE}/status/em:0`, '{"id":0,"total_current":1150.2}');
  t.same(values(big), { current: 1150.2 }, 'Pro 3EM-400 at full load: three phases above 1000 A');
});

t.test('status/emdata:0 (EMData component "Status")', async (t) => {
  t.same(decode(`${BASE}/status/emdata:0`, EMDATA_EXAMPLE).readings, [
    { channel: '0', quantity: 'energy', value: 0, unit: 'kWh', ts: NOW },
  ]);
  // The same status of a meter in service: the all-phase import counter in Wh becomes kWh.
  const inService =
    '{"id":0,"a_total_act_energy":1075513.08,"a_total_act_ret_energy":0.00,"b_total_act_energy":1776542.72,"b_total_act_ret_energy":0.00,"c_total_act_energy":0.01,"c_total_act_ret_energy":0.00,"total_act":2852055.81,"total_act_ret":0.00}';
  const energy = values(decode(`${BASE}/status/emdata:0`, inService)).energy as number;
  t.ok(Math.abs(energy - 2852.05581) < 1e-9, `2852055.81 Wh = ${energy} kWh`);
});

t.test('events/rpc NotifyStatus / NotifyFullStatus (General/Notifications)', async (t) => {
  // NotifyStatus carries only the keys that changed, under the component's key, with the device's ts.
  const power = `{"src":"${BASE}","dst":"${BASE}/events","method":"NotifyStatus","params":{"ts":${NOW / 1000 - 2.5},"em:0":{"id":0,"a_act_power":951.2,"total_act_power":2484.782}}}`;
  const r = decode(`${BASE}/events/rpc`, power);
  t.same(values(r), { power: 2484.782 });
  t.equal(r.readings[0]?.ts, NOW - 2500, "the device's own time");
  t.equal(
    decode(`${BASE}/events/rpc`, power, NOW + 86_400_000 * 365).readings[0]?.ts,
    NOW + 86_400_000 * 365,
    'a clock a year behind is not trusted',
  );
  const full = `{"src":"${BASE}","dst":"${BASE}/events","method":"NotifyFullStatus","params":{"ts":${NOW / 1000},"em:0":${EM_EXAMPLE},"emdata:0":{"id":0,"total_act":1200,"total_act_ret":0},"sys":{"uptime":3600}}}`;
  t.same(
    values(decode(`${BASE}/events/rpc`, full)),
    { power: 2484.782, voltage: 236.1, current: 11.083, energy: 1.2 },
    'both components of one frame',
  );
  // "Example 2: Notify that this device has lost connection to the cloud."
  const cloud =
    '{"src":"shellypro4pm-f008d1d8b8b8","dst":"user_1","method":"NotifyStatus","params":{"ts":1624348482.25,"cloud":{"connected":false}}}';
  t.same(decode(`${BASE}/events/rpc`, cloud).readings, []);
  const event = `{"method":"NotifyEvent","params":{"ts":${NOW / 1000},"events":[{"component":"sys","event":"scheduled_restart"}]}}`;
  t.same(decode(`${BASE}/events/rpc`, event).readings, []);
});

t.test('online (MQTT component: true, last will false) and other components', async (t) => {
  t.equal(decode(`${BASE}/online`, 'true').availability, 'online');
  t.equal(decode(`${BASE}/online`, 'false').availability, 'offline');
  t.same(decode(`${BASE}/status/temperature:0`, '{"id":0,"tC":47.0,"tF":116.5}').readings, []);
  t.same(decode(`${BASE}/status/sys`, '{"mac":"EC6260890B50","uptime":260530}').readings, []);
});

t.test('malformed payloads are DecodeErrors', async (t) => {
  for (const [topic, payload] of [
    [`${BASE}/status/em:0`, '{"total_act_power":"2484.782"}'],
    [`${BASE}/status/em:0`, '{"a_voltage":-236.1}'],
    [`${BASE}/status/em:0`, '{"total_current":-1}'],
    [`${BASE}/status/em:0`, '{"total_current":5000}'],
    [`${BASE}/status/em:0`, '{"total_current":"11"}'],
    [`${BASE}/status/em:0`, '[1,2,3]'],
    [`${BASE}/status/emdata:0`, '{"total_act":-0.5}'],
    [`${BASE}/status/emdata:0`, '{"total_act":true}'],
    [`${BASE}/status/emdata:0`, '{not json'],
    [`${BASE}/status/sys`, 'uptime=3600'],
    [`${BASE}/events/rpc`, '{"params":{}}'],
    [`${BASE}/events/rpc`, '{"method":"EMData.ResetCounters","params":{"id":0}}'],
    [`${BASE}/events/rpc`, '{"method":"NotifyStatus"}'],
    [`${BASE}/events/rpc`, '{"method":"NotifyStatus","params":{"ts":"now"}}'],
    [`${BASE}/events/rpc`, '{"method":"NotifyStatus","params":{"ts":1,"em:0":[]}}'],
    [`${BASE}/events/rpc`, '{"method":"NotifyStatus","params":{"emdata:0":{"total_act":"1"}}}'],
    [`${BASE}/online`, 'yes'],
  ]) {
    t.throws(() => decode(topic as string, payload as string), DecodeError, `${topic} ${payload}`);
  }
});

t.test(
  "topics: free prefix by suffix; commands and the relay family's components are not ours",
  async (t) => {
    t.same(profile.match('kaufhaus/og1/main/status/em:0'), {
      deviceTopic: 'kaufhaus/og1/main',
      subtopic: 'status/em:0',
    });
    for (const topic of [
      `${BASE}/rpc`,
      `${BASE}/command`,
      `${BASE}/status/`,
      'online',
      '/online',
      'shellyplusplugs-6163b6086263/status/switch:0',
      'shellypmmini-a8032abe54dc/status/pm1:0',
      'shellypro4pm-f008d1d8b8b8/status/switch:3',
    ]) {
      t.equal(profile.match(topic), undefined, topic);
    }
  },
);

t.test('next to shelly-gen2: each family keeps its own reports', async (t) => {
  const profiles = await loadProfiles();
  const plug = 'shellyplusplugs-6163b6086263';
  const pick = (topic: string, payload: string) => {
    const out = decodeMessage(profiles, topic, Buffer.from(payload), NOW);
    return out.ok ? `${out.profile.id}:${out.result.readings.length}` : `${out.reason}: ${out.detail}`;
  };
  t.equal(pick(`${BASE}/status/em:0`, EM_EXAMPLE), 'shelly-pro-3em:3');
  t.equal(pick(`${BASE}/status/emdata:0`, EMDATA_EXAMPLE), 'shelly-pro-3em:1');
  t.equal(pick(`${plug}/status/switch:0`, '{"id":0,"apower":12.5,"aenergy":{"total":100}}'), 'shelly-gen2:2');
  t.equal(
    pick(
      `${BASE}/events/rpc`,
      `{"method":"NotifyStatus","params":{"ts":${NOW / 1000},"em:0":{"total_act_power":5}}}`,
    ),
    'shelly-pro-3em:1',
  );
  t.equal(
    pick(
      `${plug}/events/rpc`,
      `{"method":"NotifyStatus","params":{"ts":${NOW / 1000},"switch:0":{"apower":5}}}`,
    ),
    'shelly-gen2:1',
  );
  // With the site file each device is decoded by its own family, also on the shared channels.
  const site = new Map<string, SiteDevice>([
    [BASE, { id: 'og1-main-meter', profile: 'shelly-pro-3em' }],
    [plug, { id: 'eg-cafe-espresso', profile: 'shelly-gen2' }],
  ]);
  const online = decodeMessage(profiles, `${BASE}/online`, Buffer.from('false'), NOW, site);
  t.ok(online.ok && online.profile.id === 'shelly-pro-3em' && online.result.availability === 'offline');
  const plugOnline = decodeMessage(profiles, `${plug}/online`, Buffer.from('true'), NOW, site);
  t.ok(plugOnline.ok && plugOnline.profile.id === 'shelly-gen2' && plugOnline.device === 'eg-cafe-espresso');
  const meter = decodeMessage(
    profiles,
    `${BASE}/status/emdata:0`,
    Buffer.from('{"total_act":1500}'),
    NOW,
    site,
  );
  t.same(meter.ok && [meter.device, meter.result.readings[0]?.value], ['og1-main-meter', 1.5]);
});

t.test('ACL: publishes only its own reports, listens only on its own rpc/command', async (t) => {
  const acl = profile.acl(BASE);
  t.same(acl.publish, [
    `${BASE}/online`,
    `${BASE}/status/em:0`,
    `${BASE}/status/emdata:0`,
    `${BASE}/status/+`,
    `${BASE}/events/rpc`,
  ]);
  t.same(acl.subscribe, [`${BASE}/rpc`, `${BASE}/command`]);
  const mayPublish = (topic: string) => acl.publish.some((f) => topicMatches(f, topic));
  for (const own of ['online', 'status/em:0', 'status/emdata:0', 'status/sys', 'events/rpc'])
    t.ok(mayPublish(`${BASE}/${own}`), own);
  for (const foreign of [
    `${BASE}/rpc`,
    `${BASE}/command`,
    'shellypro3em-0123456789ab/status/em:0',
    'shellypro3em-0123456789ab/online',
    `${BASE}/status/em:0/extra`,
    'wesprint/kaufhaus-am-markt/readings/og1-technik/og1-main-meter/energy',
  ])
    t.notOk(mayPublish(foreign), foreign);
  t.same(profile.quantities.sort(), ['current', 'energy', 'power', 'voltage']);
  t.equal(profile.actions, undefined, 'a meter carries out no actions');
});
