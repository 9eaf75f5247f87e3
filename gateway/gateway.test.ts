import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import t, { type Test } from 'tap';
import { buildingTopics, type CommandResultMessage, type DeviceStatusMessage } from '../building/topics.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { credentialsFromDataDir, startSimulation } from '../simulations/simulator.ts';
import { deviceUsername, SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import { InfluxV1Store } from '../storage/influx-v1-store.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { type RunningGatewayOptions, startRunningGateway } from '../test-support/running-gateway.ts';
import { deviceFilters, startGateway } from './gateway.ts';

/**
 * The whole ingest and command path on real parts: the project's broker with device accounts journaling
 * the devices' messages, the real profiles, the gateway reading the journal into a real SQLite store,
 * simulated Nuki locks answering over MQTT.
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

async function building(t: Test, options: Partial<RunningGatewayOptions> = {}) {
  const running = await startRunningGateway({
    site,
    dataDirPrefix: 'wesprint-gw-',
    commandTimeoutMs: 1500,
    logger,
    ...options,
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
    journal: running.journal,
    stored: running.stored,
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
    await outputs.subscribeAsync(`${pro4pm.topic}/rpc`, { qos: 1 });
    await outputs.publishAsync(
      `${pro4pm.topic}/status/switch:2`,
      '{"id":2,"source":"init","output":true,"apower":61.5,"voltage":231.2,"current":0.29,"aenergy":{"total":4100.25}}',
      { qos: 1 },
    );
    const power = await waitFor('output 2 stored', async () => {
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
      `${pro4pm.topic}/rpc ${JSON.stringify({ id, src: `${pro4pm.topic}/wesprint`, method: 'Switch.Set', params: { id: 2, on: false } })}`,
      'Switch.Set of output 2, nothing else',
    );
    // The answers: an RPC response naming another command settles nothing; the output's new state does.
    const results: CommandResultMessage[] = [];
    b.api.on('message', (topic, payload) => {
      if (topic === topics.commandResult(pro4pm.id)) results.push(JSON.parse(String(payload)));
    });
    await b.api.subscribeAsync(topics.commandResult(pro4pm.id), { qos: 1 });
    await outputs.publishAsync(
      `${pro4pm.topic}/wesprint/rpc`,
      `{"id":"another-command","src":"${pro4pm.topic}","dst":"${pro4pm.topic}/wesprint","result":{"was_on":true}}`,
      { qos: 1 },
    );
    await outputs.publishAsync(
      `${pro4pm.topic}/status/switch:1`,
      '{"id":1,"output":false,"apower":0,"voltage":231.2,"current":0,"aenergy":{"total":10}}',
      { qos: 1 },
    );
    await new Promise((r) => setTimeout(r, 200));
    t.same(results, [], "neither another command's answer nor another output's state confirms it");
    await outputs.publishAsync(
      `${pro4pm.topic}/status/switch:2`,
      '{"id":2,"source":"MQTT","output":false,"apower":0,"voltage":231.2,"current":0,"aenergy":{"total":4100.3}}',
      { qos: 1 },
    );
    const result = await waitFor('the result', () => results[0]);
    t.match(result, { id, outcome: 'done', detail: 'confirmed: switch off on channel 2' });
  },
);

t.test(
  'a radiator valve is set through Zigbee2MQTT and confirms with its state; a value it cannot take is refused before it is sent',
  async (t) => {
    const b = await building(t);
    const valve = site.devices.find((d) => d.id === 'og2-protel-01-heizung');
    if (!valve) throw new Error('demo site lacks the radiator valve');
    const simulation = await startSimulation({
      site,
      mqttUrl: b.url,
      credentials: credentialsFromDataDir(b.dataDir, site),
      speed: 1,
      devices: (d) => d.id === valve.id,
    });
    t.teardown(() => simulation.stop());
    const results = new Map<string, CommandResultMessage>();
    b.api.on('message', (topic, payload) => {
      if (topic !== topics.commandResult(valve.id)) return;
      const r = JSON.parse(String(payload)) as CommandResultMessage;
      results.set(r.id, r);
    });
    await b.api.subscribeAsync(topics.commandResult(valve.id), { qos: 1 });
    const send = async (command: object) =>
      b.api.publishAsync(topics.command(valve.id), JSON.stringify(command), { qos: 1 });
    const resultOf = (id: string) => waitFor(`result of ${id}`, () => results.get(id));
    await waitFor('valve heard', () => (b.gateway().stats().readings > 0 ? true : undefined));

    const id = randomUUID();
    await send({ id, action: 'set_setpoint', value: 21.5, expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(id), { outcome: 'done', detail: 'confirmed: setpoint 21.5 on channel 0' });
    const stored = await waitFor('the new setpoint stored', async () => {
      const [row] = await b.store.latest({ device: valve.id, quantity: 'setpoint' });
      return row?.value === 21.5 ? row : undefined;
    });
    t.equal(stored.unit, '°C');

    for (const [value, why] of [
      [80, /outside what the device takes \(5…30 °C/],
      [21.3, /not in steps of 0.5/],
    ] as const) {
      const refused = randomUUID();
      await send({ id: refused, action: 'set_setpoint', value, expiresAt: Date.now() + 10_000 });
      t.match(await resultOf(refused), { outcome: 'invalid_value', detail: why });
    }
    const none = randomUUID();
    await send({ id: none, action: 'set_setpoint', expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(none), { outcome: 'invalid_value', detail: /needs a value/ });
    results.delete(id);
    await send({ id, action: 'set_setpoint', value: 16, expiresAt: Date.now() + 10_000 });
    t.match(await resultOf(id), { outcome: 'duplicate' }, 'a replayed id with another value is not executed');
    const [latest] = await b.store.latest({ device: valve.id, quantity: 'setpoint' });
    t.equal(latest?.value, 21.5, 'the valve still holds what was set');
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

/** Every reading row of the SQLite file: (device, channel, quantity, ts) with its value and how often. */
function readingRows(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT device, channel, quantity, ts, num, str, COUNT(*) AS n FROM reading
         GROUP BY site, device, channel, quantity, ts ORDER BY device, channel, quantity, ts`,
      )
      .all() as { device: string; channel: string; quantity: string; ts: number; num: number; n: number }[];
  } finally {
    db.close();
  }
}

/** A SQLite store on the readings file that a test takes away (its connection closed) and brings back. */
class AwayStore implements Pick<TimeSeriesStore, 'write'> {
  #store: SqliteStore;
  constructor(readonly file: string) {
    this.#store = new SqliteStore({ file });
  }
  write(readings: StoredReading[]): Promise<void> {
    return this.#store.write(readings);
  }
  away(): Promise<void> {
    return this.#store.close();
  }
  back(): void {
    this.#store = new SqliteStore({ file: this.file });
  }
  close(): Promise<void> {
    return this.#store.close();
  }
}

/**
 * Publishes power values from..to-1 as the meter, each acknowledged, in arrival milliseconds of their own:
 * one device's two messages in one millisecond are one reading to the store (its key), whoever stores them.
 */
async function publishPower(device: MqttClient, from: number, to: number) {
  for (let v = from; v < to; v++) {
    await device.publishAsync(`${meter?.topic}/relay/0/power`, String(v), { qos: 1 });
    // The broker (this process's clock) stamped it before its PUBACK: the next one comes a millisecond later.
    const acked = Date.now();
    while (Date.now() <= acked) await new Promise((r) => setImmediate(r));
  }
}

t.test(
  'a message of a device the site does not know, journaled by another taker (an external broker), is quarantined as unknown_device',
  async (t) => {
    const b = await building(t);
    // What the MQTT intake appends when the gateway takes a broker's whole device traffic.
    await b.journal.append({
      topic: 'shellies/stranger-1/emeter/0/total',
      payload: Buffer.from('1'),
      receivedAt: Date.now(),
      retainedReplay: false,
    });
    await b.journal.append({
      topic: `${meter.topic}/relay/0/energy`,
      payload: Buffer.from('60000'),
      receivedAt: Date.now(),
      retainedReplay: false,
    });
    const stored = await waitFor('the known meter reading', async () => {
      return (await b.store.latest({ device: meter.id, quantity: 'energy' }))[0];
    });
    t.equal(stored.value, 1, 'Wmin stored as kWh');
    const stranger = await waitFor('the stranger quarantined', () =>
      b.quarantine.list().find((e) => e.topic === 'shellies/stranger-1/emeter/0/total'),
    );
    t.equal(stranger.reason, 'unknown_device');
    t.equal(b.gateway().stats().quarantined, 1);
  },
);

t.test(
  "a gateway from before the journal left a persistent session subscribed to the devices: the gateway's clean session wipes it",
  async (t) => {
    const b = await building(t);
    const clientId = `wesprint-gateway-${site.site.id}`;
    /** Connects as the old gateway did (persistent session): the client and whether the broker kept a session. */
    const asOldGateway = () =>
      new Promise<{ client: MqttClient; sessionPresent: boolean }>((resolve, reject) => {
        const client = mqtt.connect(b.url, {
          clientId,
          clean: false,
          username: SERVICE_USERNAMES.gateway,
          password: b.secrets.services.gateway,
          reconnectPeriod: 0,
        });
        client.once('connect', (connack) => resolve({ client, sessionPresent: connack.sessionPresent }));
        client.once('error', reject);
      });
    await b.gateway().stop();
    // The old gateway's session: persistent, subscribed at QoS 1 to the devices' topics as it was.
    const old = await asOldGateway();
    await old.client.subscribeAsync(deviceFilters(await loadProfiles()), { qos: 1 });
    await old.client.endAsync();
    const again = await asOldGateway();
    await again.client.endAsync();
    t.equal(
      again.sessionPresent,
      true,
      'the broker keeps a persistent session (else this test proves nothing)',
    );

    // The gateway starts with the journal: its clean session replaces the old one, subscriptions and all.
    await b.restartGateway();
    const device = await connect(b.url, deviceUsername(meter), b.devicePassword(meter.id));
    t.teardown(() => device.endAsync());
    await device.publishAsync(`${meter.topic}/relay/0/power`, '12', { qos: 1 });
    await waitFor(
      'the reading stored',
      async () => (await b.store.latest({ device: meter.id, quantity: 'power' }))[0],
    );
    await b.gateway().stop();
    await device.publishAsync(`${meter.topic}/relay/0/power`, '13', { qos: 1 });
    const probe = await asOldGateway();
    await probe.client.endAsync();
    t.equal(probe.sessionPresent, false, 'no session left for the gateway: nothing is queued for it');
  },
);

t.test(
  'the store away while a device keeps publishing: nothing lost, nothing twice once it is back, memory bounded, the heartbeat says spooling',
  async (t) => {
    let away: AwayStore | undefined;
    const b = await building(t, {
      storeWriter: { batchSize: 20, maxHeldReadings: 50, retryMinMs: 50, retryMaxMs: 400 },
      gatewayStore: (file) => {
        away = new AwayStore(file);
        return away;
      },
    });
    const store = away as AwayStore;
    t.teardown(() => store.close());
    const device = await connect(b.url, deviceUsername(meter), b.devicePassword(meter.id));
    t.teardown(() => device.endAsync());
    const total = 600;
    await publishPower(device, 0, 100);
    await b.stored();
    t.equal(b.gateway().isSpooling(), false);

    await store.away();
    await publishPower(device, 100, 500);
    await waitFor('the gateway to notice', () => (b.gateway().isSpooling() ? true : undefined), 60_000);
    await waitFor('the live path to have read everything', () =>
      b.gateway().stats().received >= 500 ? true : undefined,
    );
    const during = b.gateway().stats();
    t.ok(during.cursorLag >= 350, `the journal holds what waits for the store (lag ${during.cursorLag})`);
    t.ok(during.held <= 50, `held ${during.held} readings while the store is away`);
    t.equal(during.readings, 500, 'republished live all the same');

    store.back();
    await publishPower(device, 500, total);
    await b.stored();
    await waitFor('caught up', () => (b.gateway().isSpooling() ? undefined : true));
    const after = b.gateway().stats();
    t.equal(after.cursorLag, 0);
    t.ok(after.storeFailures >= 1, 'the store did fail');
    t.ok(after.peakHeld <= 51, `at most the bound in memory (peak ${after.peakHeld} of ${total} readings)`);
    const rows = readingRows(store.file).filter((r) => r.device === meter.id && r.quantity === 'power');
    t.equal(rows.length, total, 'one row per message');
    t.same(
      rows.filter((r) => r.n !== 1),
      [],
      'no (device, quantity, ts) twice',
    );
    t.same(
      rows.map((r) => r.num).sort((x, y) => x - y),
      Array.from({ length: total }, (_, i) => i),
      'every message stored, as itself',
    );
  },
);

t.test(
  'read again from the journal (a crash after the store took a batch, before the cursor moved): the same rows, the quarantine counts each message once',
  async (t) => {
    const b = await building(t);
    const em3 = site.devices.find((d) => d.id === 'og2-main-meter');
    if (!em3) throw new Error('demo site lacks the 3EM');
    const device = await connect(b.url, deviceUsername(meter), b.devicePassword(meter.id));
    t.teardown(() => device.endAsync());
    const phases = await connect(b.url, deviceUsername(em3), b.devicePassword(em3.id));
    t.teardown(() => phases.endAsync());
    for (let i = 0; i < 50; i++) {
      await device.publishAsync(`${meter.topic}/relay/0/power`, String(i), { qos: 1 });
      await phases.publishAsync(`${em3.topic}/emeter/${i % 3}/total`, String(1000 + i), { qos: 1 });
      if (i % 10 === 0) await device.publishAsync(`${meter.topic}/relay/0/power`, 'garbage', { qos: 1 });
      await new Promise((r) => setTimeout(r, 1));
    }
    await b.stored();
    const file = path.join(b.dataDir, 'readings.db');
    const before = readingRows(file);
    const counts = b.quarantine.counts();
    const kept = b.quarantine.list().length;
    t.same(counts, { malformed: 5 });
    t.equal(b.gateway().stats().quarantined, 5);

    // A gateway whose cursor is at the start of the journal reads all of it again.
    await b.gateway().stop();
    const again = await startGateway({
      site,
      profiles: await loadProfiles(),
      mqttUrl: b.url,
      username: SERVICE_USERNAMES.gateway,
      password: b.secrets.services.gateway,
      journal: b.journal,
      store: b.store,
      storeWriter: { consumer: 'store-read-again' },
      quarantine: b.quarantine,
      commandLogFile: path.join(b.dataDir, 'gateway.db'),
      logger,
    });
    t.teardown(() => again.stop());
    await waitFor('read again', () =>
      b.journal.cursor('store-read-again') === b.journal.committed() ? true : undefined,
    );
    t.ok(again.stats().stored >= 100, `stored again: ${again.stats().stored} readings`);
    t.same(readingRows(file), before, 'the very same rows: each (device, channel, quantity, ts) once');
    t.same(b.quarantine.counts(), counts, 'the quarantine counts each message once');
    t.equal(b.quarantine.list().length, kept, 'and keeps it once');
    t.equal(again.stats().quarantined, 0, 'nothing new to count');
  },
);

t.test(
  'stopped while the store hangs: the gateway stops, the cursor stays before what the store never took',
  async (t) => {
    // An InfluxDB that takes connections and never answers.
    const sockets = new Set<net.Socket>();
    const hanging = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      hanging.close();
    });
    const influx = new InfluxV1Store({
      url: `http://127.0.0.1:${(hanging.address() as net.AddressInfo).port}`,
      database: 'hangs',
      manageDatabase: false,
    });
    t.teardown(() => influx.close());
    const b = await building(t, { gatewayStore: () => influx });
    const device = await connect(b.url, deviceUsername(meter), b.devicePassword(meter.id));
    t.teardown(() => device.endAsync());
    await publishPower(device, 0, 20);
    await waitFor('a write under way', () => (sockets.size > 0 ? true : undefined));
    await b.gateway().stop();
    t.equal(b.journal.cursor('store'), 0, 'nothing passed that the store did not take');
    t.ok(b.journal.committed() >= 20, 'the journal keeps it for the next start');
    t.equal(b.gateway().stats().stored, 0);
  },
);

t.test(
  'a lock that announced itself offline before the gateway started (its retained `connected` false, read at start) is offline though heard',
  async (t) => {
    const b = await building(t);
    await b.gateway().stop();
    const device = await connect(b.url, deviceUsername(lock), b.devicePassword(lock.id));
    t.teardown(() => device.endAsync());
    // Journaled before this start: old news to the live path, known only from the broker's retained store.
    await device.publishAsync(`${lock.topic}/connected`, 'false', { qos: 1, retain: true });
    await b.restartGateway();
    // Heard: an answer without readings or availability.
    await device.publishAsync(`${lock.topic}/commandResponse`, '0', { qos: 1 });
    await waitFor('the answer read', () => (b.gateway().stats().received >= 1 ? true : undefined));

    const results = new Map<string, CommandResultMessage>();
    b.api.on('message', (topic, payload) => {
      if (topic !== topics.commandResult(lock.id)) return;
      const r = JSON.parse(String(payload)) as CommandResultMessage;
      results.set(r.id, r);
    });
    await b.api.subscribeAsync(topics.commandResult(lock.id), { qos: 1 });
    const id = randomUUID();
    await b.api.publishAsync(
      topics.command(lock.id),
      JSON.stringify({ id, action: 'unlock', expiresAt: Date.now() + 10_000 }),
      { qos: 1 },
    );
    t.match(
      await waitFor('the result', () => results.get(id)),
      { outcome: 'offline' },
      'offline: what it announced stands until it says otherwise',
    );
  },
);
