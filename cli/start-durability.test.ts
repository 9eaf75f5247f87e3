import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import t from 'tap';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { deviceUsername, loadOrCreateSecrets } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import { requireComponent } from '../test-support/component.ts';
import { INFLUXD_INSTALL, influxdAvailable, startInfluxd } from '../test-support/influxd.ts';
import { closedPort } from '../test-support/ports.ts';
import { storedPower, until } from '../test-support/stored-readings.ts';
import { killWesprint, startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * `wesprint start` killed with SIGKILL while devices publish, and started again on the same DATA_DIR: every
 * message whose device got its PUBACK is stored exactly once (issue 10). The broker acknowledges a message
 * only once it is in the journal; the gateway in the same process stores from the journal and moves its
 * cursor after the store's acknowledgement, so the second start reads on from there, and what it reads again
 * decodes to the very same readings.
 *
 * Each device publishes its power, one message in flight, the value naming the message (device d's k-th
 * message is d·100000 + k). A device's messages are a millisecond apart at least: two in one millisecond
 * would be one reading to any store (its key is the time).
 */

t.setTimeout(10 * 60_000);

const site = loadSite(DEMO_SITE_FILE);
const plugs = site.devices.filter((d) => d.profile === 'shelly-gen1').slice(0, 8);

interface Ledger {
  /** Values whose PUBACK came. */
  acked: Set<number>;
  /** Values handed to the connection (acknowledged or not). */
  sent: Set<number>;
}

/** One device publishing until told to stop or its connection is gone; resolves then. */
function publishing(
  url: string,
  device: (typeof plugs)[number],
  password: string,
  first: number,
  ledger: Ledger,
) {
  let stop = false;
  let client: MqttClient | undefined;
  const done = (async () => {
    client = await mqtt.connectAsync(url, {
      username: deviceUsername(device),
      password,
      clientId: `t-${device.id}-${first}`,
      reconnectPeriod: 0,
    });
    const gone = new Promise<void>((resolve) => client?.once('close', () => resolve()));
    for (let k = first; !stop; k++) {
      const value = plugs.indexOf(device) * 100_000 + k;
      ledger.sent.add(value);
      const acked = client
        .publishAsync(`${device.topic}/relay/0/power`, String(value), { qos: 1 })
        .then(() => true);
      if (!(await Promise.race([acked.catch(() => false), gone.then(() => false)]))) break;
      ledger.acked.add(value);
      const at = Date.now();
      while (Date.now() <= at) await new Promise((r) => setImmediate(r));
    }
    client.end(true);
  })();
  return {
    done,
    stop() {
      stop = true;
    },
  };
}

/** The power points in InfluxDB (database `db`), one row per point: [device, value]. */
async function influxPower(url: string, db: string): Promise<{ device: string; num: number }[]> {
  const q = new URLSearchParams({ db, q: 'SELECT "device", "value" FROM "raw"."power"', epoch: 'ms' });
  const res = await fetch(`${url}/query?${q}`).catch(() => undefined);
  if (!res?.ok) return [];
  const body = (await res.json()) as { results: { series?: { values: [number, string, number][] }[] }[] };
  return (body.results[0]?.series?.[0]?.values ?? []).map(([, device, num]) => ({ device, num }));
}

function heartbeat(dataDir: string): { spooling?: boolean } {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataDir, 'gateway.heartbeat.json'), 'utf8'));
  } catch {
    return {};
  }
}

t.test(
  '`wesprint start` killed mid-stream and started again: every acknowledged message stored exactly once',
  async (t) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-start-kill-'));
    t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await closedPort();
    const env = {
      DATA_DIR: dataDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      // Not about automations: no Node-RED beside it (its own tests: automations/).
      NODE_RED: 'false',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(port),
      MQTT_WS_PORT: '0',
      MQTT_URL: '',
      INFLUX_URL: '',
      BACKFILL_DAYS: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    const url = `mqtt://127.0.0.1:${port}`;
    const secrets = loadOrCreateSecrets(dataDir, site);
    const readings = path.join(dataDir, 'readings.db');
    const ledger: Ledger = { acked: new Set(), sent: new Set() };
    const start = async (): Promise<WesprintService> => {
      const service = startWesprint(t, ['start', '--no-simulation'], env);
      await service.waitFor(/WeSprint OS is running/, 120_000);
      return service;
    };

    // First run: the devices publish; the process is killed while messages are in flight.
    let wesprint = await start();
    let devices = plugs.map((d) => publishing(url, d, secrets.devices[d.id] as string, 0, ledger));
    await until('some messages stored', () => storedPower(readings).length >= 200);
    await until('more acknowledged', () => ledger.acked.size >= 600);
    await killWesprint(wesprint);
    await Promise.all(devices.map((d) => d.done));
    const ackedBeforeKill = ledger.acked.size;
    const unackedAtKill = ledger.sent.size - ackedBeforeKill;
    t.comment(`killed with ${ackedBeforeKill} acknowledged, ${unackedAtKill} without PUBACK`);

    // Second run on the same DATA_DIR: the devices go on (each with numbers of its own), then stop.
    wesprint = await start();
    devices = plugs.map((d) => publishing(url, d, secrets.devices[d.id] as string, 50_000, ledger));
    await until('acknowledged after the restart', () => ledger.acked.size >= ackedBeforeKill + 200);
    for (const d of devices) d.stop();
    await Promise.all(devices.map((d) => d.done));
    await until('every acknowledged message stored', () => {
      const values = new Set(storedPower(readings).map((r) => r.num));
      for (const v of ledger.acked) if (!values.has(v)) return false;
      return true;
    });
    const stopped = await wesprint.stop('SIGTERM');
    t.equal(stopped.code, 0, 'the second run stops cleanly');

    const rows = storedPower(readings);
    const times = new Map<number, number>();
    for (const r of rows) times.set(r.num, (times.get(r.num) ?? 0) + 1);
    const twice = [...times].filter(([, n]) => n > 1).map(([v]) => v);
    const lost = [...ledger.acked].filter((v) => !times.has(v));
    const unknown = [...times.keys()].filter((v) => !ledger.sent.has(v));
    t.same(lost, [], 'no acknowledged message lost');
    t.same(twice, [], 'no message stored twice');
    t.same(unknown, [], 'nothing stored that no device sent');
    const unackedStored = [...ledger.sent].filter((v) => !ledger.acked.has(v) && times.has(v)).length;
    t.comment(
      `${ledger.acked.size} acknowledged; of ${ledger.sent.size - ledger.acked.size} never acknowledged, ${unackedStored} stored`,
    );
  },
);

t.test(
  '`wesprint start` with InfluxDB killed mid-stream: the heartbeat says spooling, and once it is back every acknowledged message is stored exactly once',
  async (t) => {
    if (!requireComponent(t, influxdAvailable(), 'influxd', INFLUXD_INSTALL)) return;
    const influxd = await startInfluxd();
    t.teardown(() => influxd.dispose());
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-start-influx-'));
    t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await closedPort();
    const database = `start_durability_${process.pid}`;
    const env = {
      DATA_DIR: dataDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      // Not about automations: no Node-RED beside it (its own tests: automations/).
      NODE_RED: 'false',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(port),
      MQTT_WS_PORT: '0',
      MQTT_URL: '',
      INFLUX_URL: influxd.url,
      INFLUX_DATABASE: database,
      BACKFILL_DAYS: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    };
    const url = `mqtt://127.0.0.1:${port}`;
    const secrets = loadOrCreateSecrets(dataDir, site);
    const ledger: Ledger = { acked: new Set(), sent: new Set() };
    const wesprint = startWesprint(t, ['start', '--no-simulation'], env);
    await wesprint.waitFor(/WeSprint OS is running/, 120_000);
    const devices = plugs.map((d) => publishing(url, d, secrets.devices[d.id] as string, 0, ledger));
    await until('some stored', async () => (await influxPower(influxd.url, database)).length >= 100);

    await influxd.kill();
    const ackedAtOutage = ledger.acked.size;
    await until('acknowledged while the store is away', () => ledger.acked.size >= ackedAtOutage + 300);
    await until('the heartbeat to say spooling', () => heartbeat(dataDir).spooling === true, 60_000);
    await influxd.restart();
    await until('more acknowledged after', () => ledger.acked.size >= ackedAtOutage + 500);
    for (const d of devices) d.stop();
    await Promise.all(devices.map((d) => d.done));
    await until('every acknowledged message stored', async () => {
      const values = new Set((await influxPower(influxd.url, database)).map((r) => r.num));
      for (const v of ledger.acked) if (!values.has(v)) return false;
      return true;
    });
    await until('the heartbeat to say caught up', () => heartbeat(dataDir).spooling === false, 60_000);
    const stopped = await wesprint.stop('SIGTERM');
    t.equal(stopped.code, 0, 'stops cleanly');

    const rows = await influxPower(influxd.url, database);
    const times = new Map<number, number>();
    for (const r of rows) times.set(r.num, (times.get(r.num) ?? 0) + 1);
    t.same(
      [...ledger.acked].filter((v) => !times.has(v)),
      [],
      'no acknowledged message lost',
    );
    t.same(
      [...times].filter(([, n]) => n > 1).map(([v]) => v),
      [],
      'no message stored twice',
    );
    t.same(
      [...times.keys()].filter((v) => !ledger.sent.has(v)),
      [],
      'nothing stored that no device sent',
    );
    t.comment(
      `${ledger.acked.size} acknowledged, ${ledger.acked.size - ackedAtOutage} of them after the store went away`,
    );
  },
);
