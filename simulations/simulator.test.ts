import net from 'node:net';
import path from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import t, { type Test } from 'tap';
import { NUKI_STATE } from '../device-families/nuki-mqtt/simulator.ts';
import { decodeMessage, loadProfiles, type SiteDevice } from '../device-profiles/registry.ts';
import { loadSite } from '../site/load.ts';
import { startSimulation } from './simulator.ts';

/**
 * The simulator against a real aedes broker (no auth, plain `Aedes.createBroker`), a handful of the
 * Kaufhaus's devices, one of each family: the messages must be the vendor's and decode through the
 * project's real device profiles.
 */

const site = loadSite(path.join(import.meta.dirname, 'kaufhaus.site.yaml'));
const PICKED = [
  'og1-main-meter', // Shelly Pro 3EM (Gen2)
  'eg-cafe-spuelmaschine', // Shelly Plug S (Gen1)
  'eg-cafe-espresso', // Shelly Plus Plug S (Gen2)
  'og1-teekueche', // Tasmota plug
  'og1-desk-n01-presence', // Zigbee2MQTT occupancy
  'og2-protel-01-co2', // Zigbee2MQTT CO2
  'og2-protel-01-lock', // Nuki
];
const byId = new Map(site.devices.map((d) => [d.id, d]));
const device = (id: string) => {
  const d = byId.get(id);
  if (!d) throw new Error(`${id} is not in the site file`);
  return d;
};
// Wednesday 14 January 2026, 11:30 in Berlin: the coworking floor is busy
const START = Date.UTC(2026, 0, 14, 10, 30);

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

async function startBroker(t: Test) {
  const broker = await Aedes.createBroker();
  const logins: { clientId: string; username: string | undefined }[] = [];
  broker.authenticate = (client, username, _password, done) => {
    logins.push({ clientId: client.id, username });
    done(null, true);
  };
  const server = net.createServer({ noDelay: true }, broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  t.teardown(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `mqtt://127.0.0.1:${port}`, logins };
}

async function observer(t: Test, url: string) {
  const seen: Seen[] = [];
  const waiters: { test: (m: Seen) => boolean; resolve: (m: Seen) => void }[] = [];
  const client: MqttClient = await mqtt.connectAsync(url, { clientId: 'observer', protocolVersion: 4 });
  t.teardown(() => client.endAsync());
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString('utf8'), retain: packet.retain };
    seen.push(m);
    for (const w of [...waiters]) {
      if (!w.test(m)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  await client.subscribeAsync('#', { qos: 1 });
  /** Resolves with the first message (already seen or coming) that passes `test`. */
  const waitFor = (what: string, test: (m: Seen) => boolean, timeoutMs = 20_000) => {
    const found = seen.find(test);
    if (found) return Promise.resolve(found);
    return new Promise<Seen>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  };
  /** Like waitFor, but only for messages arriving from now on. */
  const next = (what: string, test: (m: Seen) => boolean, timeoutMs = 20_000) => {
    const from = seen.length;
    return waitFor(what, (m) => seen.indexOf(m) >= from && test(m), timeoutMs);
  };
  return { client, seen, waitFor, next };
}

t.test('virtual devices publish vendor formats that decode through the real profiles', async (t) => {
  const { url, logins } = await startBroker(t);
  const obs = await observer(t, url);
  const sim = await startSimulation({
    site,
    mqttUrl: url,
    credentials: (d) => ({ username: d.username ?? d.id, password: `pw-${d.id}` }),
    speed: 60,
    seed: 'test',
    start: START,
    minReportIntervalMs: 200,
    devices: (d) => PICKED.includes(d.id),
  });
  t.teardown(() => sim.stop());
  t.equal(sim.stats().devices, PICKED.length);
  t.equal(sim.stats().connected, PICKED.length, 'every device connected');
  // each device came with its own client id and its own user name
  for (const id of PICKED)
    t.ok(
      logins.some((l) => l.username === id),
      `${id} logged in as itself`,
    );
  t.equal(
    new Set(logins.filter((l) => l.clientId !== 'observer').map((l) => l.clientId)).size,
    PICKED.length,
  );

  const pro3em = device('og1-main-meter').topic;
  const plugS = device('eg-cafe-spuelmaschine').topic;
  const plus = device('eg-cafe-espresso').topic;
  const tasmota = device('og1-teekueche').topic;
  const desk = device('og1-desk-n01-presence').topic;
  const air = device('og2-protel-01-co2').topic;
  const nuki = device('og2-protel-01-lock').topic;
  const on = (topic: string) => (m: Seen) => m.topic === topic;

  // Shelly Pro 3EM: EM and EMData component status, NotifyStatus, `online` true
  t.equal((await obs.waitFor('Pro 3EM online', on(`${pro3em}/online`))).payload, 'true');
  const em = JSON.parse((await obs.waitFor('Pro 3EM em:0', on(`${pro3em}/status/em:0`))).payload);
  for (const x of ['a', 'b', 'c'])
    for (const k of ['current', 'voltage', 'act_power', 'aprt_power', 'pf', 'freq'])
      t.type(em[`${x}_${k}`], 'number', `${x}_${k}`);
  t.ok(em.total_act_power > 0, 'a busy floor draws power');
  const emdata = JSON.parse((await obs.waitFor('Pro 3EM emdata:0', on(`${pro3em}/status/emdata:0`))).payload);
  t.ok(emdata.total_act > 0, 'Wh counter');
  const notify = JSON.parse((await obs.waitFor('Pro 3EM rpc', on(`${pro3em}/events/rpc`))).payload);
  t.equal(notify.method, 'NotifyStatus');
  t.ok(notify.params['em:0'] && notify.params['emdata:0']);
  t.match((await obs.waitFor('plug energy', on(`${plugS}/relay/0/energy`))).payload, /^\d+$/, 'watt-minutes');

  // Shelly Gen2: status/switch:0 and NotifyStatus
  const status = JSON.parse((await obs.waitFor('gen2 status', on(`${plus}/status/switch:0`))).payload);
  t.same(Object.keys(status).sort(), [
    'aenergy',
    'apower',
    'current',
    'id',
    'output',
    'source',
    'temperature',
    'voltage',
  ]);
  t.same(Object.keys(status.aenergy).sort(), ['by_minute', 'minute_ts', 'total']);
  t.equal(status.aenergy.by_minute.length, 3);
  t.equal(status.aenergy.minute_ts % 60, 0);
  t.ok(status.aenergy.minute_ts * 1000 >= START, 'minute_ts is simulated time');
  t.same(Object.keys(status.temperature).sort(), ['tC', 'tF']);
  const rpc = JSON.parse((await obs.waitFor('gen2 rpc', on(`${plus}/events/rpc`))).payload);
  t.equal(rpc.method, 'NotifyStatus');
  t.equal(rpc.src, plus);
  t.ok(rpc.params['switch:0'].aenergy);
  t.equal((await obs.waitFor('gen2 online', on(`${plus}/online`))).payload, 'true');

  // Tasmota
  const lwt = await obs.waitFor('tasmota LWT', on(`tele/${tasmota}/LWT`));
  t.equal(lwt.payload, 'Online');
  t.same(await retained(url, `tele/${tasmota}/LWT`), 'Online', 'LWT Online is retained');
  const sensor = JSON.parse((await obs.waitFor('tasmota SENSOR', on(`tele/${tasmota}/SENSOR`))).payload);
  t.match(sensor.Time, /^2026-01-14T1\d:\d\d:\d\d$/, 'Tasmota Time is simulated local time');
  t.same(Object.keys(sensor.ENERGY).sort(), [
    'ApparentPower',
    'Current',
    'Factor',
    'Period',
    'Power',
    'ReactivePower',
    'Today',
    'Total',
    'TotalStartTime',
    'Voltage',
    'Yesterday',
  ]);

  // Zigbee2MQTT
  const deskState = JSON.parse((await obs.waitFor('desk sensor', on(desk))).payload);
  t.type(deskState.occupancy, 'boolean');
  for (const k of ['battery', 'illuminance', 'linkquality']) t.type(deskState[k], 'number');
  t.same(JSON.parse((await obs.waitFor('desk availability', on(`${desk}/availability`))).payload), {
    state: 'online',
  });
  const airState = JSON.parse((await obs.waitFor('co2 sensor', on(air))).payload);
  t.ok(airState.co2 >= 400 && airState.co2 < 5000, `co2 ${airState.co2} ppm`);
  for (const k of ['temperature', 'humidity', 'linkquality']) t.type(airState[k], 'number');

  // Nuki
  t.equal((await obs.waitFor('nuki connected', on(`${nuki}/connected`))).payload, 'true');
  t.equal((await obs.waitFor('nuki state', on(`${nuki}/state`))).payload, String(NUKI_STATE.locked));
  t.match((await obs.waitFor('nuki battery', on(`${nuki}/batteryChargeState`))).payload, /^\d{1,3}$/);

  // a second round of the main meter's counters so more than one report per device is decoded below
  await obs.next('next Pro 3EM report', on(`${pro3em}/status/emdata:0`));

  // Everything the simulator sent decodes through the real profiles with the site's devices.
  const profiles = await loadProfiles();
  const devicesByTopic = new Map<string, SiteDevice>(site.devices.map((d) => [d.topic, d]));
  const fromDevices = obs.seen.filter((m) => PICKED.some((id) => m.topic.includes(device(id).topic)));
  const failures: string[] = [];
  const got = new Set<string>();
  for (const m of fromDevices) {
    const out = decodeMessage(profiles, m.topic, Buffer.from(m.payload), Date.now(), devicesByTopic);
    if (!out.ok) {
      failures.push(`${m.topic} ${m.payload.slice(0, 80)}: ${out.reason} ${out.detail}`);
      continue;
    }
    for (const r of out.result.readings) got.add(`${out.device}:${r.quantity}`);
    if (out.result.availability) got.add(`${out.device}:${out.result.availability}`);
  }
  t.same(failures, [], 'every simulated message decodes');
  for (const expected of [
    'og1-main-meter:power',
    'og1-main-meter:energy',
    'og1-main-meter:voltage',
    'og1-main-meter:current',
    'og1-main-meter:online',
    'eg-cafe-spuelmaschine:energy',
    'eg-cafe-espresso:power',
    'eg-cafe-espresso:energy',
    'eg-cafe-espresso:online',
    'og1-teekueche:energy',
    'og1-teekueche:power',
    'og1-teekueche:online',
    'og1-desk-n01-presence:occupancy',
    'og1-desk-n01-presence:battery',
    'og1-desk-n01-presence:online',
    'og2-protel-01-co2:co2',
    'og2-protel-01-co2:temperature',
    'og2-protel-01-lock:lock',
    'og2-protel-01-lock:battery',
    'og2-protel-01-lock:online',
  ]) {
    t.ok(got.has(expected), `decoded ${expected}`);
  }
});

t.test('a virtual Nuki answers lockAction, re-locks, and can go offline or unresponsive', async (t) => {
  const { url } = await startBroker(t);
  const obs = await observer(t, url);
  const lockDevice = device('og2-protel-01-lock');
  const topic = lockDevice.topic;
  const sim = await startSimulation({
    site,
    mqttUrl: url,
    credentials: () => undefined,
    speed: 1,
    start: START,
    devices: (d) => d.id === lockDevice.id,
    lock: { motorMs: 50, relockAfterMs: 300 },
  });
  t.teardown(() => sim.stop());
  const lock = sim.locks.get(lockDevice.id);
  if (!lock) throw new Error('no lock controls');
  await obs.waitFor('connected', (m) => m.topic === `${topic}/connected` && m.payload === 'true');
  await obs.waitFor('locked', (m) => m.topic === `${topic}/state` && m.payload === '1');

  // unlock: commandResponse 0, lockActionEvent over MQTT, state 2 then 3, then re-locks 4 → 1
  const response = obs.next('commandResponse', (m) => m.topic === `${topic}/commandResponse`);
  const event = obs.next('lockActionEvent', (m) => m.topic === `${topic}/lockActionEvent`);
  const unlocking = obs.next('unlocking', (m) => m.topic === `${topic}/state` && m.payload === '2');
  const unlocked = obs.next('unlocked', (m) => m.topic === `${topic}/state` && m.payload === '3');
  const relocked = obs.next('re-locked', (m) => m.topic === `${topic}/state` && m.payload === '1');
  await obs.client.publishAsync(`${topic}/lockAction`, '1', { qos: 1 });
  t.equal((await response).payload, '0');
  t.equal((await event).payload, '1,172,0,0,0');
  await unlocking;
  await unlocked;
  await relocked;
  const states = obs.seen.filter((m) => m.topic === `${topic}/state`).map((m) => m.payload);
  t.same(states.slice(-4), ['2', '3', '4', '1'], 'unlocking, unlocked, locking, locked');
  t.equal(lock.state(), NUKI_STATE.locked);

  // an action the lock does not know: an error code, no movement
  const bad = obs.next('error response', (m) => m.topic === `${topic}/commandResponse`);
  await obs.client.publishAsync(`${topic}/lockAction`, '99', { qos: 1 });
  t.not((await bad).payload, '0');

  // unresponsive: connected, receives the command, says nothing
  await lock.setMode('unresponsive');
  const before = obs.seen.filter((m) => m.topic === `${topic}/commandResponse`).length;
  const received = lock.commandsReceived();
  await obs.client.publishAsync(`${topic}/lockAction`, '1', { qos: 1 });
  await waitUntil(() => lock.commandsReceived() > received, 'the ignored command to arrive');
  await lock.setMode('normal');
  const answered = obs.next('answer after recovery', (m) => m.topic === `${topic}/commandResponse`);
  await obs.client.publishAsync(`${topic}/lockAction`, '2', { qos: 1 });
  t.equal((await answered).payload, '0');
  t.equal(
    obs.seen.filter((m) => m.topic === `${topic}/commandResponse`).length,
    before + 1,
    'the command sent while unresponsive got no answer',
  );

  // offline: the broker publishes the last will
  const gone = obs.next('last will', (m) => m.topic === `${topic}/connected` && m.payload === 'false');
  await lock.setMode('offline');
  await gone;
  t.equal(await retained(url, `${topic}/connected`), 'false', 'the last will is retained');
  t.equal(lock.mode(), 'offline');
  const back = obs.next('back online', (m) => m.topic === `${topic}/connected` && m.payload === 'true');
  await lock.setMode('normal');
  await back;
  const again = obs.next('unlocked again', (m) => m.topic === `${topic}/state` && m.payload === '3');
  await obs.client.publishAsync(`${topic}/lockAction`, '1', { qos: 1 });
  await again;
});

/** What a newcomer subscribing to `topic` gets from the broker's retained store. */
async function retained(url: string, topic: string): Promise<string> {
  const client = await mqtt.connectAsync(url, { clientId: `retained-${Math.random()}`, protocolVersion: 4 });
  try {
    const message = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing retained on ${topic}`)), 20_000);
      client.on('message', (_topic, payload, packet) => {
        if (!packet.retain) return;
        clearTimeout(timer);
        resolve(payload.toString('utf8'));
      });
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return await message;
  } finally {
    await client.endAsync();
  }
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test(
  'a staged space: its sensors report the directed people and CO2 at once, then the model again',
  async (t) => {
    const { url } = await startBroker(t);
    const obs = await observer(t, url);
    // Saturday 17 January 2026, 03:00 in Berlin: the Protel room is empty by the model
    const night = Date.UTC(2026, 0, 17, 2, 0);
    const sim = await startSimulation({
      site,
      mqttUrl: url,
      credentials: () => undefined,
      speed: 1,
      seed: 'test',
      start: night,
      // Reports only when staged during the test (the periodic ones are minutes away).
      minReportIntervalMs: 600_000,
      devices: (d) => d.id === 'og2-protel-01-co2' || d.id === 'og2-protel-01-presence',
    });
    t.teardown(() => sim.stop());
    const air = device('og2-protel-01-co2').topic;
    const presence = device('og2-protel-01-presence').topic;
    const on = (topic: string) => (m: Seen) => m.topic === topic;

    const staged = [
      obs.next('staged CO2', (m) => on(air)(m) && JSON.parse(m.payload).co2 > 2300),
      obs.next('staged presence', (m) => on(presence)(m) && JSON.parse(m.payload).occupancy === true),
    ];
    sim.stage('og2-protel-01', { people: 6, co2Ppm: 2400 });
    const [co2, occupancy] = await Promise.all(staged);
    t.ok(Math.abs(JSON.parse(co2?.payload ?? '{}').co2 - 2400) <= 4, 'CO2 as directed (± the sensor noise)');
    t.ok(occupancy, 'presence as directed');

    const released = obs.next(
      'presence back to the model',
      (m) => on(presence)(m) && JSON.parse(m.payload).occupancy === false,
    );
    sim.stage('og2-protel-01', { people: null, co2Ppm: null });
    t.ok(await released, 'withdrawn: the empty night room again');
    t.throws(() => sim.stage('no-such-space', { people: 1 }), /unknown space/);
  },
);
