import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { buildingTopics } from '../building/topics.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { deviceUsername, loadOrCreateSecrets, SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import { closedPort } from '../test-support/ports.ts';
import { rawDeviceConnection } from '../test-support/raw-mqtt-device.ts';
import { countStored, storedPower, until } from '../test-support/stored-readings.ts';
import { killWesprint, startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * The split shape (`wesprint broker` and `wesprint gateway`, separate processes, each its own DATA_DIR): the
 * broker `kill -9`ed after it took the devices' messages and routed them to the gateway (which stored them),
 * but before its PUBACKs reached the devices. Each device then sends every one of them again, DUP set, on a
 * new connection to the restarted broker, as MQTT has it do [MQTT-4.4.0-1], and must get its PUBACKs; each
 * message must still be stored exactly once (issue 10: a device's own retransmission is the same message).
 * On top, the restarted broker's record of what it forwarded to the gateway is set back to nothing (a crash
 * right after forwarding, before that record was written): it forwards its whole journal again, and that
 * too must store nothing twice.
 *
 * The devices are raw MQTT 3.1.1 sockets, so that a PUBACK can be "lost" at will: the first time they read
 * nothing the broker answers. Without the broker's journal the restarted broker routed the resent messages
 * as new ones, the gateway stamped them with their new arrival, and every one of them was stored twice.
 */

t.setTimeout(6 * 60_000);

const site = loadSite(DEMO_SITE_FILE);
const plugs = site.devices.filter((d) => d.profile === 'shelly-gen1').slice(0, 4);
const PER_DEVICE = 40;

t.test(
  'split shape: the broker killed before its PUBACKs reached the devices, which resend everything with DUP; its forwarding record set back: every message stored exactly once',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-split-kill-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const brokerDir = path.join(dir, 'broker');
    const gatewayDir = path.join(dir, 'gateway');
    const port = await closedPort();
    const common = {
      SITE_FILE: DEMO_SITE_FILE,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(port),
      MQTT_WS_PORT: '0',
      INFLUX_URL: '',
      BACKFILL_DAYS: '0',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
    };
    const secrets = loadOrCreateSecrets(brokerDir, site);
    const brokerEnv = { ...common, DATA_DIR: brokerDir, MQTT_URL: '' };
    const startBroker = async (): Promise<WesprintService> => {
      const broker = startWesprint(t, ['broker'], brokerEnv);
      await broker.waitFor(/MQTT broker listening/, 60_000);
      return broker;
    };
    let broker = await startBroker();
    const gateway = startWesprint(t, ['gateway'], {
      ...common,
      DATA_DIR: gatewayDir,
      MQTT_URL: `mqtt://127.0.0.1:${port}`,
      MQTT_USERNAME: SERVICE_USERNAMES.gateway,
      MQTT_PASSWORD: secrets.services.gateway,
    });
    await gateway.waitFor(/mqtt intake: subscribed/, 60_000);
    t.match(
      gateway.output(),
      /journal feed/,
      "the intake reads the devices' messages from the broker's feed",
    );

    const readings = path.join(gatewayDir, 'readings.db');
    const values = plugs.map((_, d) => Array.from({ length: PER_DEVICE }, (_, k) => d * 1000 + k + 1));
    const all = values.flat();

    // First connections: every message sent, no PUBACK read (as if each was lost on the way back).
    const first = await Promise.all(
      plugs.map((d) =>
        rawDeviceConnection(port, `split-${plugs.indexOf(d)}`, d, secrets.devices[d.id] as string),
      ),
    );
    await Promise.all(first.map((c, d) => c.publishAll(values[d] as number[], false)));
    await until('every message stored', () => storedPower(readings).length >= all.length);

    // The broker dies with none of those PUBACKs delivered; its record of what it forwarded is set back.
    const cursors = path.join(brokerDir, 'broker-journal', 'cursors.json');
    await until("the broker's forwarding cursor on disk", () => fs.existsSync(cursors), 10_000);
    await killWesprint(broker);
    for (const c of first) c.close();
    fs.writeFileSync(cursors, JSON.stringify({ feed: 0 }));
    broker = await startBroker();

    // The devices resend all of them, DUP set, on new connections; each must be acknowledged now.
    const again = await Promise.all(
      plugs.map((d) =>
        rawDeviceConnection(port, `split-${plugs.indexOf(d)}`, d, secrets.devices[d.id] as string),
      ),
    );
    await Promise.all(again.map((c, d) => c.publishAll(values[d] as number[], true)));
    await until('the resent messages acknowledged', () => again.every((c) => c.acked.size === PER_DEVICE));
    t.pass('every resent message acknowledged by the restarted broker');

    // New messages after the restart: stored, and proof that what went before has gone through.
    const later = plugs.map((_, d) => Array.from({ length: 10 }, (_, k) => d * 1000 + 500 + k));
    await Promise.all(again.map((c, d) => c.publishAll(later[d] as number[], false)));
    await until('the later messages stored', () => {
      const stored = new Set(storedPower(readings).map((r) => r.num));
      return later.flat().every((v) => stored.has(v));
    });
    // The forwarded journal again and the resent messages have had their time: give stragglers a moment.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const c of again) c.close();

    const counted = countStored(storedPower(readings), [...all, ...later.flat()]);
    t.same(counted.missing, [], 'no message lost');
    t.same(counted.twice, [], 'no message stored twice');
    t.equal(counted.rows, all.length + later.flat().length, 'one row per message');

    t.equal((await gateway.stop('SIGTERM')).code, 0, 'the gateway stops cleanly');
    t.equal((await broker.stop('SIGTERM')).code, 0, 'the broker stops cleanly');
  },
);

t.test(
  'split shape: a lock that announced itself offline (retained) before the gateway started is offline to the restarted gateway, though heard',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-split-retained-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const brokerDir = path.join(dir, 'broker');
    const gatewayDir = path.join(dir, 'gateway');
    const port = await closedPort();
    const common = {
      SITE_FILE: DEMO_SITE_FILE,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(port),
      MQTT_WS_PORT: '0',
      INFLUX_URL: '',
      BACKFILL_DAYS: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    const secrets = loadOrCreateSecrets(brokerDir, site);
    const broker = startWesprint(t, ['broker'], { ...common, DATA_DIR: brokerDir, MQTT_URL: '' });
    await broker.waitFor(/MQTT broker listening/, 60_000);
    const url = `mqtt://127.0.0.1:${port}`;
    const startGateway = async (): Promise<WesprintService> => {
      const gateway = startWesprint(t, ['gateway'], {
        ...common,
        DATA_DIR: gatewayDir,
        MQTT_URL: url,
        MQTT_USERNAME: SERVICE_USERNAMES.gateway,
        MQTT_PASSWORD: secrets.services.gateway,
      });
      await gateway.waitFor(/mqtt intake: subscribed/, 60_000);
      return gateway;
    };
    const first = await startGateway();

    const lock = site.devices.find((d) => d.profile === 'nuki-mqtt');
    if (!lock) throw new Error('the demo site has no Nuki lock');
    const device = await mqtt.connectAsync(url, {
      username: deviceUsername(lock),
      password: secrets.devices[lock.id] as string,
      clientId: 'split-lock',
      reconnectPeriod: 0,
    });
    t.teardown(() => device.endAsync(true));
    // The lock says it is offline, retained (as its will would), while the gateway runs; then the gateway
    // restarts: what it heard before is old news to its live path, the broker's retained store still has it.
    await device.publishAsync(`${lock.topic}/connected`, 'false', { qos: 1, retain: true });
    t.equal((await first.stop('SIGTERM')).code, 0, 'the gateway stops');
    const gateway = await startGateway();
    // Heard after the start: an answer without readings or availability.
    await device.publishAsync(`${lock.topic}/commandResponse`, '0', { qos: 1 });

    const topics = buildingTopics(site.site.id);
    const api = await mqtt.connectAsync(url, {
      username: SERVICE_USERNAMES.api,
      password: secrets.services.api,
      reconnectPeriod: 0,
    });
    t.teardown(() => api.endAsync(true));
    const results = new Map<string, { id: string; outcome: string }>();
    api.on('message', (_topic, payload) => {
      const r = JSON.parse(String(payload)) as { id: string; outcome: string };
      results.set(r.id, r);
    });
    await api.subscribeAsync(topics.commandResult(lock.id), { qos: 1 });
    // Until the gateway has read the answer: a command before that would find the lock never heard.
    await new Promise((r) => setTimeout(r, 2000));
    const id = randomUUID();
    await api.publishAsync(
      topics.command(lock.id),
      JSON.stringify({ id, action: 'unlock', expiresAt: Date.now() + 10_000 }),
      { qos: 1 },
    );
    await until('the command result', () => results.has(id), 60_000);
    t.equal(
      results.get(id)?.outcome,
      'offline',
      'offline: the retained announcement reached the split gateway at its start',
    );
    t.equal((await gateway.stop('SIGTERM')).code, 0, 'the gateway stops cleanly');
    t.equal((await broker.stop('SIGTERM')).code, 0, 'the broker stops cleanly');
  },
);
