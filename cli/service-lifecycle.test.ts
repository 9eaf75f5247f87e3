import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import t, { type Test } from 'tap';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading } from '../storage/store.ts';
import { closedPort } from '../test-support/ports.ts';
import { runWesprint, startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * The parts as a service manager runs them (docker, compose, systemd): real processes, started in any
 * order, signalled, killed. docker stop waits 10 s after SIGTERM before it kills.
 */

const STOP_LIMIT_MS = 10_000;
const SITE = {
  site: { id: 'werkhof', name: 'Werkhof' },
  floors: [{ id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 100 }],
  spaces: [{ id: 'halle', name: 'Halle', floor: 'eg', kind: 'cafe', area_m2: 100 }],
  devices: [
    { id: 'co2-halle', profile: 'zigbee2mqtt-air-quality', topic: 'zigbee2mqtt/co2-halle', space: 'halle' },
  ],
};

/** A DATA_DIR and a small site file, shared by the parts of one test as a compose volume would be. */
function building(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-service-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const siteFile = path.join(dir, 'werkhof.site.json');
  fs.writeFileSync(siteFile, JSON.stringify(SITE));
  const dataDir = path.join(dir, 'data');
  const env = {
    DATA_DIR: dataDir,
    SITE_FILE: siteFile,
    MQTT_HOST: '127.0.0.1',
    MQTT_WS_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    BACKFILL_DAYS: '0',
    ADMIN_EMAIL: '',
  };
  const secrets = () =>
    JSON.parse(fs.readFileSync(path.join(dataDir, 'secrets.json'), 'utf8')) as {
      services: Record<'gateway' | 'api', string>;
      devices: Record<string, string>;
    };
  return { dataDir, env, secrets };
}

async function startBroker(t: Test, env: Record<string, string>, port = 0): Promise<WesprintService> {
  const broker = startWesprint(t, ['broker'], { ...env, MQTT_PORT: String(port) });
  await broker.waitFor(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:\d+/);
  return broker;
}

function brokerUrl(broker: WesprintService): string {
  const port = /MQTT broker\s+mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(broker.output())?.[1];
  return `mqtt://127.0.0.1:${port}`;
}

/** The gateway's JSON log lines with one of the given messages. */
function logged(output: string, message: RegExp): string[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { msg: string }).msg)
    .filter((m) => message.test(m));
}

const BROKER_STATE = /connected to the broker|not reachable|lost the broker|refuses the sign-in/;

/** Publishes CO2 readings as the sensor would, and counts what the gateway republished of them. */
async function sensorAndObserver(
  t: Test,
  url: string,
  secrets: ReturnType<ReturnType<typeof building>['secrets']>,
) {
  const observer = await mqtt.connectAsync(url, {
    username: SERVICE_USERNAMES.api,
    password: secrets.services.api,
    reconnectPeriod: 0,
  });
  t.teardown(() => observer.endAsync(true));
  const republished: number[] = [];
  observer.on('message', (_topic, payload) => {
    republished.push((JSON.parse(payload.toString()) as { value: number }).value);
  });
  await observer.subscribeAsync('wesprint/werkhof/readings/halle/co2-halle/co2', { qos: 1 });
  const sensor: MqttClient = await mqtt.connectAsync(url, {
    username: 'co2-halle',
    password: secrets.devices['co2-halle'] as string,
    reconnectPeriod: 0,
  });
  t.teardown(() => sensor.endAsync(true));
  return {
    republished,
    async send(values: number[]) {
      for (const co2 of values)
        await sensor.publishAsync('zigbee2mqtt/co2-halle', JSON.stringify({ co2 }), { qos: 1 });
      await until(`${values.length} readings republished`, () =>
        values.every((v) => republished.includes(v)),
      );
    },
  };
}

async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port where the broker will be, taken for now by something that hangs up on every connection. */
async function notYetABroker(t: Test) {
  const sockets = new Set<net.Socket>();
  let attempts = 0;
  const server = net.createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const close = () => new Promise<void>((r) => server.close(() => r()));
  t.teardown(async () => {
    if (server.listening) await close();
  });
  return { port, attempts: () => attempts, close };
}

t.test(
  'a gateway started before its broker waits, says so once, and takes readings when it comes',
  async (t) => {
    const { env, secrets, dataDir } = building(t);
    const place = await notYetABroker(t);
    const gateway = startWesprint(t, ['gateway'], { ...env, MQTT_URL: `mqtt://127.0.0.1:${place.port}` });
    await until('three attempts to reach the broker', () => place.attempts() >= 3, 60_000);
    t.ok(gateway.child.exitCode === null, 'the gateway keeps waiting');
    await place.close();

    const broker = await startBroker(t, env, place.port);
    await gateway.waitFor(/connected to the broker/);
    const sensor = await sensorAndObserver(t, brokerUrl(broker), secrets());
    await sensor.send([601, 602, 603]);

    const stopped = await gateway.stop('SIGTERM');
    t.equal(stopped.code, 0, 'the gateway stops cleanly');
    t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s (${Math.round(stopped.ms)} ms)`);
    t.same(
      logged(gateway.output(), BROKER_STATE),
      [
        'broker not reachable yet (connection closed); retrying after 1 s, then less often, up to every 30 s',
        'connected to the broker',
      ],
      `one line per change of state, after ${place.attempts()} attempts`,
    );
    t.notMatch(gateway.output(), /\n\s+at /, 'no stack trace');

    const store = new SqliteStore({ file: path.join(dataDir, 'readings.db') });
    t.teardown(() => store.close());
    const stored = await store.latest({ device: 'co2-halle' });
    t.match(stored, [{ quantity: 'co2', value: 603 }], 'the readings reached the store');

    const brokerStopped = await broker.stop('SIGTERM');
    t.equal(brokerStopped.code, 0, 'the broker stops cleanly too');
    t.ok(brokerStopped.ms < STOP_LIMIT_MS, `within 10 s (${Math.round(brokerStopped.ms)} ms)`);
  },
);

t.test(
  'broker killed, store hanging: SIGTERM stops the gateway within 10 s, what it held spooled',
  async (t) => {
    const { env, secrets, dataDir } = building(t);
    // An InfluxDB that accepts connections and never answers: every write hangs until its timeout.
    const hanging = new Set<net.Socket>();
    const influx = net.createServer((socket) => hanging.add(socket));
    await new Promise<void>((r) => influx.listen(0, '127.0.0.1', () => r()));
    t.teardown(async () => {
      for (const s of hanging) s.destroy();
      await new Promise<void>((r) => influx.close(() => r()));
    });
    const influxUrl = `http://127.0.0.1:${(influx.address() as net.AddressInfo).port}`;

    const broker = await startBroker(t, env);
    const url = brokerUrl(broker);
    const gateway = startWesprint(t, ['gateway'], { ...env, MQTT_URL: url, INFLUX_URL: influxUrl });
    await gateway.waitFor(/connected to the broker/);
    const sensor = await sensorAndObserver(t, url, secrets());
    const sent = Array.from({ length: 20 }, (_, i) => 700 + i);
    await sensor.send(sent);

    broker.child.kill('SIGKILL');
    await broker.exited;
    await gateway.waitFor(/lost the broker/);
    const stopped = await gateway.stop('SIGTERM');
    t.equal(stopped.code, 0, 'the gateway stops cleanly');
    t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s of SIGTERM (${Math.round(stopped.ms)} ms)`);

    const spoolDir = path.join(dataDir, 'spool');
    const spooled: StoredReading[] = fs
      .readdirSync(spoolDir)
      .filter((f) => f.endsWith('.spool.jsonl'))
      .flatMap((f) => fs.readFileSync(path.join(spoolDir, f), 'utf8').split('\n').filter(Boolean))
      .flatMap((line) => JSON.parse(line) as StoredReading[]);
    t.same(
      spooled
        .filter((r) => r.device === 'co2-halle' && r.quantity === 'co2')
        .map((r) => r.value)
        .sort(),
      sent,
      'every reading it held is in the spool, for the next start to write',
    );
    t.equal(logged(gateway.output(), /lost the broker/).length, 1, 'the lost broker is logged once');
  },
);

t.test('the API and the simulated building stop within 10 s with their broker killed', async (t) => {
  const { env } = building(t);
  const broker = await startBroker(t, env);
  const url = brokerUrl(broker);
  const api = startWesprint(t, ['api'], { ...env, MQTT_URL: url });
  const simulation = startWesprint(t, ['simulate'], { ...env, MQTT_URL: url });
  await api.waitFor(/API\s+http:/);
  await api.waitFor(/building feed: connected to the broker/);
  await simulation.waitFor(/Simulation\s+1\/1 devices/);

  broker.child.kill('SIGKILL');
  await broker.exited;
  await api.waitFor(/building feed: lost the broker/);
  await simulation.waitFor(/simulated devices lost the broker/);
  const [apiStopped, simulationStopped] = await Promise.all([
    api.stop('SIGTERM'),
    simulation.stop('SIGTERM'),
  ]);
  for (const [name, stopped] of [
    ['api', apiStopped],
    ['simulate', simulationStopped],
  ] as const) {
    t.equal(stopped.code, 0, `${name} stops cleanly`);
    t.ok(stopped.ms < STOP_LIMIT_MS, `${name} within 10 s (${Math.round(stopped.ms)} ms)`);
  }
  t.equal(logged(api.output(), /building feed: lost the broker/).length, 1, 'logged once');
});

t.test('`start` asked to stop while still waiting for its broker stops within 10 s', async (t) => {
  const { env } = building(t);
  const place = await notYetABroker(t);
  const start = startWesprint(t, ['start'], { ...env, MQTT_URL: `mqtt://127.0.0.1:${place.port}` });
  await start.waitFor(/simulated device co2-halle|broker not reachable yet/);
  const stopped = await start.stop('SIGTERM');
  t.equal(stopped.code, 0, 'a clean stop, not a death by signal');
  t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s (${Math.round(stopped.ms)} ms)`);
});

t.test('operator mistakes are one line each, never a stack', async (t) => {
  const { env, dataDir } = building(t);
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const aFile = path.join(path.dirname(dataDir), 'not-a-directory');
  fs.writeFileSync(aFile, '');
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['a log level', ['broker'], { LOG_LEVEL: 'loud' }, /LOG_LEVEL=loud must be one of/],
    ['a log format', ['broker'], { LOG_FORMAT: 'fancy' }, /LOG_FORMAT=fancy must be pretty or json/],
    ['a missing site file', ['broker'], { SITE_FILE: '/nonexistent/site.yaml' }, /cannot read site file/],
    ['DATA_DIR a file', ['broker'], { DATA_DIR: aFile }, /EEXIST/],
    ['a broker URL', ['gateway'], { MQTT_URL: 'broker:1883' }, /MQTT_URL=broker:1883 must start with mqtt/],
    ['an InfluxDB URL', ['gateway'], { INFLUX_URL: 'influxdb' }, /INFLUX_URL=influxdb is not a URL/],
    ['an unknown option', ['start', '--no-simulaton'], {}, /Unknown option '--no-simulaton'/],
    ['an address not here', ['broker'], { MQTT_HOST: '203.0.113.7' }, /EADDRNOTAVAIL/],
    ['an administrator', ['api'], { ADMIN_EMAIL: 'admin' }, /ADMIN_EMAIL: "admin" is not an e-mail/],
  ];
  // Three at a time: each is a Node process starting up.
  const runs: Awaited<ReturnType<typeof runWesprint>>[] = [];
  for (let i = 0; i < cases.length; i += 3) {
    const batch = cases.slice(i, i + 3);
    runs.push(
      ...(await Promise.all(
        batch.map(([, args, overrides]) => runWesprint(args, { ...env, MQTT_PORT: '0', ...overrides })),
      )),
    );
  }
  for (const [i, [what, , , message]] of cases.entries()) {
    const r = runs[i] as Awaited<ReturnType<typeof runWesprint>>;
    t.equal(r.code, 1, `${what}: exit code 1`);
    const errors = r.stderr.trim().split('\n');
    t.equal(errors.length, 1, `${what}: one line: ${r.stderr}`);
    t.match(errors[0], message, what);
    t.match(errors[0], /^wesprint: /, `${what}: said by wesprint`);
  }
});

t.test('on a terminal, or with LOG_FORMAT=pretty, log lines are for people; JSON otherwise', async (t) => {
  const { env } = building(t);
  const nobody = `mqtt://127.0.0.1:${await closedPort()}`;
  const pretty = startWesprint(t, ['gateway'], {
    ...env,
    MQTT_URL: nobody,
    LOG_FORMAT: 'pretty',
  });
  const line = await pretty.waitFor(/^.*broker not reachable yet.*$/m);
  t.match(
    line[0],
    /^\S*\[?\d\d:\d\d:\d\d\]?\S* \S*WARN\S*.* gateway: broker not reachable yet \(ECONNREFUSED\)/,
  );
  t.notMatch(pretty.output(), /^\{/m, 'no JSON lines');
  t.equal((await pretty.stop('SIGINT')).code, 0, 'Ctrl+C stops it');

  const json = startWesprint(t, ['gateway'], { ...env, MQTT_URL: nobody, LOG_FORMAT: '' });
  const jsonLine = await json.waitFor(/^\{.*broker not reachable yet.*$/m);
  t.match(JSON.parse(jsonLine[0]), { level: 40, part: 'gateway', msg: /broker not reachable yet/ });
  await json.stop('SIGTERM');
});
