import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import t, { type Test } from 'tap';
import { buildingTopics, type CommandResultMessage, type DeviceStatusMessage } from '../building/topics.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { credentialsFromDataDir, startSimulation } from '../simulations/simulator.ts';
import { deviceUsername, SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { startRunningGateway } from '../test-support/running-gateway.ts';
import { startGateway } from './gateway.ts';
import { Quarantine } from './quarantine.ts';
import { SpooledWriter } from './spool.ts';

/**
 * The whole ingest and command path on real parts: the project's broker with device accounts, the real
 * profiles, the gateway, the spool over a real SQLite store, simulated Nuki locks answering over MQTT.
 */

const logger = pino({ level: 'silent' });
const site = loadSite(DEMO_SITE_FILE);
const topics = buildingTopics(site.site.id);
const meter = site.devices.find((d) => d.profile === 'shelly-gen1');
const lock = site.devices.find((d) => d.profile === 'nuki-mqtt');
if (!meter || !lock) throw new Error('demo site lacks a Shelly Gen1 meter or a Nuki lock');

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function connect(url: string, username: string, password: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { username, password, reconnectPeriod: 0, clientId: `t-${randomUUID()}` });
}

async function building(t: Test) {
  const running = await startRunningGateway({
    site,
    dataDirPrefix: 'wesprint-gw-',
    flushIntervalMs: 20,
    commandTimeoutMs: 1500,
    logger,
  });
  const { url, secrets } = running;
  const api = await connect(url, SERVICE_USERNAMES.api, secrets.services.api).catch(async (err) => {
    await running.stop();
    throw err;
  });
  const devicePassword = (id: string) => secrets.devices[id] as string;
  t.teardown(async () => {
    await api.endAsync();
    await running.stop();
  });
  return {
    url,
    dataDir: running.dataDir,
    store: running.store,
    writer: running.writer,
    quarantine: running.quarantine,
    api,
    secrets,
    devicePassword,
    gateway: running.gateway,
    restartGateway: running.restartGateway,
  };
}

t.test(
  'a meter reading goes in as vendor payload and comes out stored, normalised and republished',
  async (t) => {
    const b = await building(t);
    const republished: { topic: string; body: { value: number; unit: string } }[] = [];
    b.api.on('message', (topic, payload) => {
      if (topic.startsWith(`${topics.base}/readings/`))
        republished.push({ topic, body: JSON.parse(String(payload)) });
    });
    await b.api.subscribeAsync(topics.allReadings);

    const device = await connect(b.url, deviceUsername(meter), b.devicePassword(meter.id));
    t.teardown(() => device.endAsync());
    // Shelly Gen1 reports relay energy in watt-minutes: 1234 Wmin = 1234 / 60 / 1000 kWh.
    await device.publishAsync(`${meter.topic}/relay/0/energy`, '1234', { qos: 1 });

    const stored = await waitFor('the stored energy reading', async () => {
      await b.writer.flush();
      const rows = await b.store.latest({ device: meter.id, quantity: 'energy' });
      return rows[0];
    });
    t.equal(stored.unit, 'kWh');
    t.equal(stored.value, 1234 / 60 / 1000);
    t.equal(stored.space, meter.space);
    t.equal(stored.site, site.site.id);

    const out = await waitFor('the republished reading', () => republished[0]);
    t.equal(out.topic, topics.reading(meter.space, meter.id, 'energy'));
    t.same(out.body, { value: 1234 / 60 / 1000, unit: 'kWh', ts: stored.ts, channel: '0' });

    const status = await waitFor('the device status', async () => {
      const statusClient = await connect(b.url, SERVICE_USERNAMES.api, b.secrets.services.api);
      let got: DeviceStatusMessage | undefined;
      statusClient.on('message', (_topic, payload) => {
        got = JSON.parse(String(payload));
      });
      await statusClient.subscribeAsync(topics.deviceStatus(meter.id));
      await new Promise((r) => setTimeout(r, 100));
      await statusClient.endAsync();
      return got?.online ? got : undefined;
    });
    t.equal(status.lastSeen, stored.ts, 'last seen is the time of the reading');
  },
);

t.test(
  "every channel counts: a 3EM's phases are series of their own, a Pro 4PM output is read in its room and switched by its number",
  async (t) => {
    const b = await building(t);
    const em3 = site.devices.find((d) => d.id === 'og2-main-meter');
    const pro4pm = site.devices.find((d) => d.id === 'og2-protel-steckdosen');
    if (!em3 || !pro4pm) throw new Error('demo site lacks the 3EM or the Pro 4PM');
    const republished: string[] = [];
    b.api.on('message', (topic, payload) => {
      if (topic.startsWith(`${topics.base}/readings/`)) republished.push(`${topic} ${payload}`);
    });
    await b.api.subscribeAsync(topics.allReadings);

    // Shelly 3EM (Gen1): `emeter/<i>/total` in Wh on each phase, at the same moment.
    const meter = await connect(b.url, deviceUsername(em3), b.devicePassword(em3.id));
    t.teardown(() => meter.endAsync());
    for (const [i, wh] of [
      [0, 1000],
      [1, 12345.6],
      [2, 500],
    ] as const)
      await meter.publishAsync(`${em3.topic}/emeter/${i}/total`, String(wh), { qos: 1 });
    const phases = await waitFor('three phases stored', async () => {
      await b.writer.flush();
      const rows = await b.store.latest({ device: em3.id, quantity: 'energy' });
      return rows.length === 3 ? rows : undefined;
    });
    t.same(
      phases.map((r) => [r.channel, r.space, Number((r.value as number).toFixed(9))]),
      [
        ['0', 'og2-technik', 1],
        ['1', 'og2-technik', 12.3456],
        ['2', 'og2-technik', 0.5],
      ],
    );

    // Pro 4PM: switch 2 feeds Protel 203; its status is read there, and it takes commands for output 2.
    const outputs = await connect(b.url, deviceUsername(pro4pm), b.devicePassword(pro4pm.id));
    t.teardown(() => outputs.endAsync());
    const received: string[] = [];
    outputs.on('message', (topic, payload) => received.push(`${topic} ${payload}`));
    await outputs.subscribeAsync(`${pro4pm.topic}/command/+`, { qos: 1 });
    await outputs.publishAsync(
      `${pro4pm.topic}/status/switch:2`,
      '{"id":2,"source":"init","output":true,"apower":61.5,"voltage":231.2,"current":0.29,"aenergy":{"total":4100.25}}',
      { qos: 1 },
    );
    const power = await waitFor('output 2 stored', async () => {
      await b.writer.flush();
      return (await b.store.latest({ device: pro4pm.id, quantity: 'power' }))[0];
    });
    t.same([power.channel, power.space, power.value], ['2', 'og2-protel-03', 61.5]);
    const line = await waitFor('output 2 republished', () =>
      republished.find((r) => r.includes(`/${pro4pm.id}/power`)),
    );
    t.match(line, new RegExp(`^${topics.reading('og2-protel-03', pro4pm.id, 'power')} .*"channel":"2"`));

    const id = randomUUID();
    await b.api.publishAsync(
      topics.command(pro4pm.id),
      JSON.stringify({ id, action: 'switch_off', expiresAt: Date.now() + 10_000, channel: '2' }),
      { qos: 1 },
    );
    t.equal(
      await waitFor('the vendor command', () => received[0]),
      `${pro4pm.topic}/command/switch:2 off`,
      'switch output 2, nothing else',
    );
  },
);

t.test(
  'garbage from a known device is quarantined and counted; the next good message still flows',
  async (t) => {
    const b = await building(t);
    const device = await connect(b.url, deviceUsername(meter), b.devicePassword(meter.id));
    t.teardown(() => device.endAsync());
    await device.publishAsync(`${meter.topic}/relay/0/power`, 'not-a-number', { qos: 1 });
    await device.publishAsync(`${meter.topic}/relay/0/power`, Buffer.alloc(100_000, 0x41), { qos: 1 });
    await device.publishAsync(`${meter.topic}/relay/0/power`, '42.5', { qos: 1 });

    const power = await waitFor('the good reading after the garbage', async () => {
      await b.writer.flush();
      return (await b.store.latest({ device: meter.id, quantity: 'power' }))[0];
    });
    t.equal(power.value, 42.5);
    const counts = await waitFor('quarantine counts', () => {
      const c = b.quarantine.counts();
      return c.malformed === 1 && c.oversized === 1 ? c : undefined;
    });
    t.same(counts, { malformed: 1, oversized: 1 });
    const [oversized, malformed] = b.quarantine.list();
    t.match(malformed, { reason: 'malformed', device: meter.id, payload: 'not-a-number' });
    t.match(oversized, { reason: 'oversized', size: 100_000 });
    t.ok((oversized?.payload.length ?? Infinity) <= 4096, 'an oversized payload is kept only in part');
    t.equal(b.gateway().stats().quarantined, 2);
  },
);

t.test(
  'unlock through the building command topic opens a simulated Nuki lock; refusals say why',
  async (t) => {
    const b = await building(t);
    const simulation = await startSimulation({
      site,
      mqttUrl: b.url,
      credentials: credentialsFromDataDir(b.dataDir, site),
      speed: 1,
      devices: (d) => d.id === lock.id,
      lock: { motorMs: 50, relockAfterMs: 0 },
    });
    t.teardown(() => simulation.stop());
    const controls = simulation.locks.get(lock.id);
    if (!controls) throw new Error('simulated lock missing');

    const results = new Map<string, CommandResultMessage>();
    b.api.on('message', (topic, payload) => {
      if (topic === topics.commandResult(lock.id)) {
        const r = JSON.parse(String(payload)) as CommandResultMessage;
        results.set(r.id, r);
      }
    });
    await b.api.subscribeAsync(topics.commandResult(lock.id), { qos: 1 });
    const send = async (command: object) => {
      await b.api.publishAsync(topics.command(lock.id), JSON.stringify(command), { qos: 1 });
    };
    const resultOf = (id: string) => waitFor(`result of ${id}`, () => results.get(id));

    // The lock has announced itself; wait until the gateway has heard it.
    await waitFor('lock online', () => (b.gateway().stats().readings > 0 ? true : undefined));

    const id = randomUUID();
    await send({ id, action: 'unlock', expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(id), { outcome: 'done' });
    await waitFor('lock state unlocked', () => (controls.state() === 3 ? true : undefined));
    t.equal(controls.commandsReceived(), 1);

    results.delete(id);
    await send({ id, action: 'unlock', expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(id), { outcome: 'duplicate' }, 'a replayed command id is not executed again');

    const late = randomUUID();
    await send({ id: late, action: 'unlock', expiresAt: Date.now() - 1 });
    t.match(await resultOf(late), { outcome: 'expired' });

    const odd = randomUUID();
    await send({ id: odd, action: 'switch_on', expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(odd), { outcome: 'unsupported' });
    t.equal(controls.commandsReceived(), 1, 'no refused command reached the lock');

    await controls.setMode('unresponsive');
    const ignored = randomUUID();
    await send({ id: ignored, action: 'lock', expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(ignored), { outcome: 'timeout' });

    // Dropping off the network: the broker publishes the lock's last will (`connected` false).
    await controls.setMode('offline');
    const unreachable = randomUUID();
    await waitFor('gateway sees the lock offline', async () => {
      const probe = randomUUID();
      await send({ id: probe, action: 'lock', expiresAt: Date.now() + 10_000 });
      const r = await resultOf(probe);
      return r.outcome === 'offline' ? r : undefined;
    });
    await send({ id: unreachable, action: 'unlock', expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(unreachable), { outcome: 'offline' });

    // After a gateway restart the executed id is still remembered.
    await b.restartGateway();
    results.delete(id);
    await send({ id, action: 'unlock', expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(id), { outcome: 'duplicate' }, 'replay after a gateway restart is refused too');
  },
);

t.test(
  "a device that sleeps between reports: its last will is its sleep, not an outage; a plug's is an outage",
  async (t) => {
    const ht = site.devices.find((d) => d.profile === 'shelly-ht');
    if (!ht) throw new Error('demo site lacks a Shelly H&T');
    const b = await building(t);
    const statuses = new Map<string, DeviceStatusMessage>();
    b.api.on('message', (_topic, payload) => {
      const status = JSON.parse(String(payload)) as DeviceStatusMessage;
      statuses.set(status.device, status);
    });
    await b.api.subscribeAsync([topics.deviceStatus(ht.id), topics.deviceStatus(meter.id)], { qos: 1 });

    // Each wakes (or starts), says it is online, reports; its last will says `online` `false`.
    const wake = async (device: typeof ht, report: [string, string]) => {
      const client = await mqtt.connectAsync(b.url, {
        username: deviceUsername(device),
        password: b.devicePassword(device.id),
        reconnectPeriod: 0,
        clientId: `t-${randomUUID()}`,
        will: { topic: `${device.topic}/online`, payload: Buffer.from('false'), qos: 1, retain: true },
      });
      t.teardown(() => client.end(true));
      await client.publishAsync(`${device.topic}/online`, 'true', { qos: 1, retain: true });
      await client.publishAsync(report[0], report[1], { qos: 1 });
      return client;
    };
    const htClient = await wake(ht, [
      `${ht.topic}/events/rpc`,
      JSON.stringify({
        method: 'NotifyFullStatus',
        params: { 'temperature:0': { id: 0, tC: 19.8, tF: 67.6 }, 'humidity:0': { id: 0, rh: 42.2 } },
      }),
    ]);
    const plugClient = await wake(meter, [`${meter.topic}/relay/0/power`, '42']);
    const reported = await waitFor('both online after their reports', () => {
      const [h, m] = [statuses.get(ht.id), statuses.get(meter.id)];
      return h?.online && m?.online ? h : undefined;
    });

    // Both drop off the network without a goodbye: the broker publishes their last wills.
    (htClient.stream as { destroy(): void }).destroy();
    (plugClient.stream as { destroy(): void }).destroy();
    t.match(
      await waitFor('the plug offline', () => (statuses.get(meter.id)?.online === false ? true : undefined)),
      true,
      'a plug that drops off is offline at once',
    );
    // The H&T's will reached the gateway too: it is heard later than its report, and still online.
    const asleep = await waitFor('the H&T heard again', () => {
      b.gateway().checkHealth();
      const h = statuses.get(ht.id);
      return h && (h.lastSeen ?? 0) > (reported.lastSeen ?? 0) ? h : undefined;
    });
    t.equal(asleep.online, true, 'asleep, not offline: it has not missed three reports of two hours');
  },
);

t.test('against an external broker (the machine’s Mosquitto): unknown devices are quarantined', async (t) => {
  const url = process.env.WESPRINT_TEST_MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883';
  let probe: MqttClient | undefined;
  try {
    probe = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2000 });
  } catch {
    probe = undefined;
  }
  const { requireComponent } = await import('../test-support/component.ts');
  if (
    !requireComponent(
      t,
      probe !== undefined,
      `Mosquitto at ${url}`,
      'apt-get install mosquitto; mosquitto -d',
    )
  )
    return;
  const publisher = probe as MqttClient;
  t.teardown(() => publisher.endAsync());

  // A site of its own so concurrent runs on the same Mosquitto do not see each other's devices.
  const run = randomUUID().slice(0, 8);
  const own = {
    ...site,
    site: { ...site.site, id: `ext-${run}` },
    devices: [{ ...meter, topic: `shellies/ext-${run}` }],
  };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-gw-ext-'));
  const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
  const writer = new SpooledWriter({ store, dir: path.join(dataDir, 'spool'), flushIntervalMs: 20 });
  const quarantine = new Quarantine(path.join(dataDir, 'gateway.db'));
  const gateway = await startGateway({
    site: own,
    profiles: await loadProfiles(),
    mqttUrl: url,
    sink: writer,
    quarantine,
    commandLogFile: path.join(dataDir, 'gateway.db'),
    logger,
  });
  t.teardown(async () => {
    await gateway.stop();
    // The gateway keeps a persistent session; leave none behind on the machine's broker.
    const wipe = await mqtt.connectAsync(url, { clientId: `wesprint-gateway-${own.site.id}`, clean: true });
    await wipe.endAsync();
    await writer.close();
    await store.close();
    quarantine.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  await publisher.publishAsync(`shellies/ext-${run}/emeter/0/total`, '73521.3', { qos: 1 });
  await publisher.publishAsync(`shellies/stranger-${run}/emeter/0/total`, '1', { qos: 1 });
  const stored = await waitFor('the known meter reading', async () => {
    await writer.flush();
    return (await store.latest({ device: meter.id, quantity: 'energy' }))[0];
  });
  t.ok(Math.abs((stored.value as number) - 73.5213) < 1e-9, 'emeter total in Wh is stored as kWh');
  const stranger = await waitFor('the stranger quarantined', () =>
    quarantine.list({ limit: 1000 }).find((e) => e.topic === `shellies/stranger-${run}/emeter/0/total`),
  );
  t.equal(stranger.reason, 'unknown_device');
});
