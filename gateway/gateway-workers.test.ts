import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import t, { type Test } from 'tap';
import { buildingTopics, type DeviceStatusMessage } from '../building/topics.ts';
import { loadProfiles } from '../device-profiles/registry.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { requireComponent } from '../test-support/component.ts';
import { MOSQUITTO_INSTALL, mosquittoAvailable, startMosquitto } from '../test-support/mosquitto.ts';
import { deviceFilters, type Gateway, startGateway } from './gateway.ts';
import { gatewayWorkerClientId, intakeClientId, type MqttIntake, startMqttIntake } from './mqtt-intake.ts';
import { Quarantine } from './quarantine.ts';

/**
 * Several `wesprint gateway` workers sharing one broker through a share group ($share/<group>/, MQTT 5), on a
 * Mosquitto of the test's own: two workers, each with its own journal (fed by its MQTT intake), SQLite store,
 * quarantine and command log, as `wesprint gateway` composes them (cli/gateway-intake.ts, cli/parts.ts).
 */

const logger = pino({ level: 'silent' });
const site = loadSite(DEMO_SITE_FILE);
const topics = buildingTopics(site.site.id);
const meter = site.devices.find((d) => d.profile === 'shelly-gen1');
const lock = site.devices.find((d) => d.profile === 'nuki-mqtt');
if (!meter || !lock) throw new Error('demo site lacks a Shelly Gen1 meter or a Nuki lock');
const GROUP = 'wesprint';

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Worker {
  gateway: Gateway;
  intake: MqttIntake;
  /** Connections of the gateway's own client. */
  connects: number;
}

async function workers(
  t: Test,
  url: string,
  now: () => number = Date.now,
  names = ['a', 'b'],
): Promise<Worker[]> {
  const profiles = await loadProfiles();
  const started: Worker[] = [];
  for (const name of names) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `wesprint-worker-${name}-`));
    const journal = await openJournal(path.join(dataDir, 'journal'));
    const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
    const quarantine = new Quarantine(path.join(dataDir, 'gateway.db'));
    const clientId = intakeClientId(dataDir, site.site.id);
    const intake = await startMqttIntake({
      url,
      clientId,
      filters: deviceFilters(profiles),
      shareGroup: GROUP,
      journal,
      logger,
      now,
    });
    const gateway = await startGateway({
      site,
      profiles,
      mqttUrl: url,
      journal,
      store,
      quarantine,
      commandLogFile: path.join(dataDir, 'gateway.db'),
      commandTimeoutMs: 1500,
      logger,
      now,
      clientId: gatewayWorkerClientId(clientId),
      shareGroup: GROUP,
    });
    const worker: Worker = { gateway, intake, connects: 1 };
    gateway.client.on('connect', () => worker.connects++);
    started.push(worker);
    t.teardown(async () => {
      await intake.stop();
      await gateway.stop();
      await journal.close();
      await store.close();
      quarantine.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
  }
  return started;
}

async function client(t: Test, url: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: `t-${randomUUID()}`, reconnectPeriod: 0 });
  t.teardown(() => c.endAsync());
  return c;
}

async function mosquitto(t: Test) {
  if (!requireComponent(t, mosquittoAvailable(), 'Mosquitto (/usr/sbin/mosquitto)', MOSQUITTO_INSTALL))
    return undefined;
  const broker = await startMosquitto();
  t.teardown(() => broker.dispose());
  return broker;
}

t.test('two workers keep their own gateway connections (no takeover)', async (t) => {
  const broker = await mosquitto(t);
  if (!broker) return;
  const [a, b] = (await workers(t, broker.url)) as [Worker, Worker];
  // A takeover happens at once and the loser is back within a second or two (the reconnect backoff):
  // several rounds of it would show within this wait.
  await sleep(5000);
  t.comment(`gateway client connections in 5 s: worker A ${a.connects}, worker B ${b.connects}`);
  t.equal(a.connects, 1, 'worker A connected once');
  t.equal(b.connects, 1, 'worker B connected once');
  t.not(a.gateway.client.options.clientId, b.gateway.client.options.clientId, 'client ids of their own');
});

t.test('a lock command is executed by one worker only', async (t) => {
  const broker = await mosquitto(t);
  if (!broker) return;
  const [a, b] = (await workers(t, broker.url)) as [Worker, Worker];
  const device = await client(t, broker.url);
  const actions: string[] = [];
  device.on('message', (topic, payload) => {
    if (topic !== `${lock.topic}/lockAction`) return;
    actions.push(String(payload));
    // The lock answers; the broker hands its answer to one of the workers.
    void device.publishAsync(`${lock.topic}/commandResponse`, '0', { qos: 1 });
  });
  await device.subscribeAsync(`${lock.topic}/lockAction`, { qos: 1 });
  const api = await client(t, broker.url);
  const results: { id: string; outcome: string }[] = [];
  let online = false;
  api.on('message', (topic, payload) => {
    const body = JSON.parse(String(payload));
    if (topic === topics.commandResult(lock.id)) results.push(body);
    else if (topic === topics.deviceStatus(lock.id)) online = (body as DeviceStatusMessage).online;
  });
  await api.subscribeAsync([topics.commandResult(lock.id), topics.deviceStatus(lock.id)], { qos: 1 });
  // The lock says it is connected: one worker journals that; the other learns it from the status.
  await device.publishAsync(`${lock.topic}/connected`, 'true', { qos: 1 });
  await waitFor('the lock online', () => (online ? true : undefined));
  await sleep(500);

  const COMMANDS = 6;
  for (let i = 0; i < COMMANDS; i++) {
    const id = `cmd-${randomUUID()}`;
    await api.publishAsync(
      topics.command(lock.id),
      JSON.stringify({ id, action: i % 2 ? 'lock' : 'unlock', expiresAt: Date.now() + 60_000 }),
      { qos: 1 },
    );
    // Its result before the next.
    await waitFor(`the result of command ${i}`, () => results.find((r) => r.id === id));
  }
  await sleep(2000);
  t.comment(
    `${COMMANDS} commands: ${actions.length} lockAction messages sent to the lock, ${results.length} results ` +
      `(${results.map((r) => r.outcome).join(', ')}); commands taken: worker A ${a.gateway.stats().commands}, worker B ${b.gateway.stats().commands}`,
  );
  t.equal(actions.length, COMMANDS, 'each command reached the lock exactly once');
  t.equal(results.length, COMMANDS, 'one result per command');
  t.same(
    results.map((r) => r.outcome),
    Array(COMMANDS).fill('done'),
    "each done: the lock's answer reached the worker that sent the command, whichever worker the broker gave it to",
  );
});

t.test("a steadily reporting meter's status does not flap between workers", async (t) => {
  const broker = await mosquitto(t);
  if (!broker) return;
  // One clock for both workers and their intakes, moved by the test: a report every 50 s, the meter's
  // family reports every 30 s and is offline after 90 s of silence. A worker hearing every other report
  // alone would see 100 s of silence before every report the other worker got.
  let clock = 1_800_000_000_000;
  const now = () => clock;
  const [a, b] = (await workers(t, broker.url, now)) as [Worker, Worker];
  const watcher = await client(t, broker.url);
  const statuses: DeviceStatusMessage[] = [];
  const republished: string[] = [];
  watcher.on('message', (topic, payload, packet) => {
    if (topic === topics.deviceStatus(meter.id) && !packet.retain) statuses.push(JSON.parse(String(payload)));
    else if (topic.startsWith(`${topics.base}/readings/`) && topic.includes(`/${meter.id}/`))
      republished.push(String(payload));
  });
  await watcher.subscribeAsync([topics.deviceStatus(meter.id), topics.allReadings], { qos: 1 });
  const device = await client(t, broker.url);

  const REPORTS = 12;
  const PERIOD_MS = 50_000;
  for (let k = 0; k < REPORTS; k++) {
    clock = 1_800_000_000_000 + k * PERIOD_MS;
    const before = republished.length;
    await device.publishAsync(`${meter.topic}/relay/0/power`, String(100 + k), { qos: 1 });
    await waitFor(`report ${k} republished`, () => (republished.length > before ? true : undefined));
    // Both workers hear the republished reading as the watcher did (one broker hop).
    await sleep(300);
    // Just before the next report: each worker judges the meter.
    clock += PERIOD_MS - 1000;
    a.gateway.checkHealth();
    b.gateway.checkHealth();
    await sleep(200);
  }
  // A third worker joins the group: it starts from the statuses the broker holds, it does not announce the
  // meter offline.
  const [c] = (await workers(t, broker.url, now, ['c'])) as [Worker];
  await sleep(2000);
  c.gateway.checkHealth();
  await sleep(300);
  const offline = statuses.filter((s) => !s.online).length;
  const journaled = [a, b].map((w) => w.intake.stats().appended);
  t.comment(
    `${REPORTS} reports (worker A journaled ${journaled[0]}, worker B ${journaled[1]}): ${statuses.length} statuses published, ${offline} of them offline`,
  );
  t.ok(
    journaled.every((n) => n > 0),
    'each worker journaled a part of the reports',
  );
  t.ok(
    statuses.some((s) => s.online),
    'the meter is online',
  );
  t.equal(offline, 0, 'never published offline while it reported steadily, nor when a third worker joined');
});
