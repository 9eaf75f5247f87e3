import net from 'node:net';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import t, { type Test } from 'tap';
import { openJournal } from '../journal/segment-journal.ts';
import { SERVICE_USERNAMES, type Secrets } from '../site/credentials.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { serviceDataDir } from '../test-support/service-data-dir.ts';
import { startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * The parts as a service manager runs them (docker, compose, systemd): real processes, started in any
 * order, signalled, killed. docker stop waits 10 s after SIGTERM before it kills.
 */

const STOP_LIMIT_MS = 10_000;
async function startBroker(t: Test, env: Record<string, string>, port = 0): Promise<WesprintService> {
  const broker = startWesprint(t, ['broker'], { ...env, MQTT_PORT: String(port) });
  await broker.waitFor(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:\d+/);
  return broker;
}

function brokerUrl(broker: WesprintService): string {
  const port = /MQTT broker\s+mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(broker.output())?.[1];
  return `mqtt://127.0.0.1:${port}`;
}

/**
 * The JSON log lines with one of the given messages, of one part when given (`wesprint gateway` logs its own
 * MQTT client as part "gateway" and its MQTT intake, gateway/mqtt-intake.ts, as part "intake").
 */
function logged(output: string, message: RegExp, part?: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; part?: string })
    .filter((l) => (part === undefined || l.part === part) && message.test(l.msg))
    .map((l) => l.msg);
}

const BROKER_STATE = /connected to the broker|not reachable|lost the broker|refuses the sign-in/;
/** The gateway's own client connected (it republishes readings only then), not its MQTT intake. */
const GATEWAY_CONNECTED = /"part":"gateway"[^\n]*"msg":"connected to the broker"/;
/**
 * Its MQTT intake subscribed: the broker keeps the devices' messages for it from then on (a message sent
 * before a fresh DATA_DIR's first subscription is nobody's). Each client keeps its own backoff, so either may
 * connect first.
 */
const INTAKE_SUBSCRIBED = /mqtt intake: subscribed/;

/** Publishes CO2 readings as the sensor would, and counts what the gateway republished of them. */
async function sensorAndObserver(t: Test, url: string, secrets: Secrets) {
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
    const { env, secrets, dataDir } = serviceDataDir(t);
    const place = await notYetABroker(t);
    const gateway = startWesprint(t, ['gateway'], { ...env, MQTT_URL: `mqtt://127.0.0.1:${place.port}` });
    await until('three attempts to reach the broker', () => place.attempts() >= 3, 60_000);
    t.ok(gateway.child.exitCode === null, 'the gateway keeps waiting');
    await place.close();

    const broker = await startBroker(t, env, place.port);
    await gateway.waitFor(GATEWAY_CONNECTED);
    await gateway.waitFor(INTAKE_SUBSCRIBED);
    const sensor = await sensorAndObserver(t, brokerUrl(broker), secrets());
    await sensor.send([601, 602, 603]);

    const stopped = await gateway.stop('SIGTERM');
    t.equal(stopped.code, 0, 'the gateway stops cleanly');
    t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s (${Math.round(stopped.ms)} ms)`);
    const changes = logged(gateway.output(), BROKER_STATE, 'gateway');
    t.equal(changes.length, 2, `one line per change of state, after ${place.attempts()} attempts`);
    // The reason is how the placeholder's hang-up reached the client: a close, or ECONNRESET.
    t.match(changes, [
      /^broker not reachable yet \(.+\); retrying after 1 s, then less often, up to every 30 s$/,
      /^connected to the broker$/,
    ]);
    t.match(
      logged(gateway.output(), BROKER_STATE, 'intake'),
      [
        /^mqtt intake: broker not reachable yet \(.+\); retrying after 1 s/,
        /^mqtt intake: connected to the broker$/,
      ],
      'its MQTT intake the same, once per change',
    );
    t.equal(logged(gateway.output(), BROKER_STATE, 'intake').length, 2);
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
  'broker killed, store hanging: SIGTERM stops the gateway within 10 s, what the store did not take in its journal',
  async (t) => {
    const { env, secrets, dataDir } = serviceDataDir(t);
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
    await gateway.waitFor(GATEWAY_CONNECTED);
    await gateway.waitFor(INTAKE_SUBSCRIBED);
    const sensor = await sensorAndObserver(t, url, secrets());
    const sent = Array.from({ length: 20 }, (_, i) => 700 + i);
    await sensor.send(sent);

    broker.child.kill('SIGKILL');
    await broker.exited;
    // Both of its clients notice, each on its own socket: stop only once both said so (the intake's line came
    // after the SIGTERM in one CI run, and the test then counted 0).
    await gateway.waitFor(/"part":"gateway"[^\n]*lost the broker/);
    await gateway.waitFor(/mqtt intake: lost the broker/);
    const stopped = await gateway.stop('SIGTERM');
    t.equal(stopped.code, 0, 'the gateway stops cleanly');
    t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s of SIGTERM (${Math.round(stopped.ms)} ms)`);

    // `wesprint gateway` journaled each message before acknowledging it to the broker (its MQTT intake); the
    // store never answered, so every one of them is past the store's cursor, for the next start to write.
    const journal = await openJournal(path.join(dataDir, 'journal'));
    t.teardown(() => journal.close());
    const waiting = (await journal.read(journal.cursor('store'), 1_000_000))
      .filter((e) => e.topic === 'zigbee2mqtt/co2-halle')
      .map((e) => (JSON.parse(e.payload.toString()) as { co2: number }).co2);
    t.same(waiting.sort(), sent, 'every reading it took is in its journal, past the store cursor');
    t.equal(
      logged(gateway.output(), /lost the broker/, 'gateway').length,
      1,
      'the lost broker is logged once',
    );
    t.equal(logged(gateway.output(), /lost the broker/, 'intake').length, 1, 'by its MQTT intake too');
  },
);

t.test('the API and the simulated building stop within 10 s with their broker killed', async (t) => {
  const { env } = serviceDataDir(t);
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
  const { env } = serviceDataDir(t);
  const place = await notYetABroker(t);
  const start = startWesprint(t, ['start'], { ...env, MQTT_URL: `mqtt://127.0.0.1:${place.port}` });
  // The simulated building says at once that it waits (it was silent for its 15 s wait for the devices).
  await start.waitFor(/broker is not reachable yet; the simulated devices retry with backoff/);
  const stopped = await start.stop('SIGTERM');
  t.equal(stopped.code, 0, 'a clean stop, not a death by signal');
  t.ok(stopped.ms < STOP_LIMIT_MS, `within 10 s (${Math.round(stopped.ms)} ms)`);
  t.notMatch(
    start.output(),
    /keep retrying/,
    'stopping is not followed by a warning that devices keep retrying',
  );
});
