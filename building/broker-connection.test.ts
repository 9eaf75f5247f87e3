import net, { type AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError } from 'aedes';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { closedPort } from '../test-support/ports.ts';
import {
  brokerClientOptions,
  closeBrokerClient,
  keepConnected,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
  reconnectDelayMs,
} from './broker-connection.ts';

t.test('the wait doubles from 1 s to 30 s, with a jitter that never goes below 1 s', async (t) => {
  const most = Array.from({ length: 8 }, (_, n) => reconnectDelayMs(n, () => 1));
  t.same(most, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  const least = Array.from({ length: 8 }, (_, n) => reconnectDelayMs(n, () => 0));
  t.same(least, [1000, 1600, 3200, 6400, 12_800, 24_000, 24_000, 24_000]);
  for (let n = 0; n < 100; n++) {
    const wait = reconnectDelayMs(n);
    t.ok(wait >= RECONNECT_MIN_MS && wait <= RECONNECT_MAX_MS, `${n} failures: ${wait} ms`);
  }
  t.equal(
    reconnectDelayMs(3, () => 1, 50),
    400,
    'a shorter first wait for tests doubles alike',
  );
});

interface Logged {
  level: string;
  msg: string;
}

function recordingLogger() {
  const lines: Logged[] = [];
  const at = (level: string) => (_obj: object, msg: string) => {
    lines.push({ level, msg });
  };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** An aedes broker on a TCP server, on a given port or an ephemeral one. */
async function aedesOn(t: Test, port: number, authenticate?: (username: string | undefined) => boolean) {
  const broker = await Aedes.createBroker(
    authenticate
      ? {
          authenticate: (_client, username, _password, done) => {
            if (authenticate(username)) return done(null, true);
            const refused = new Error('refused') as AuthenticateError;
            refused.returnCode = 5;
            done(refused, false);
          },
        }
      : {},
  );
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const close = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(async () => {
    if (server.listening) await close();
  });
  return { broker, port: (server.address() as AddressInfo).port, close };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('one log line per change of state, however many attempts fail', async (t) => {
  // A port that hangs up on every connection: each attempt is counted.
  let attempts = 0;
  const placeholder = net.createServer((socket) => {
    attempts++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => placeholder.listen(0, '127.0.0.1', () => resolve()));
  const port = (placeholder.address() as AddressInfo).port;
  const { lines, logger } = recordingLogger();
  const states: string[] = [];
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { ...brokerClientOptions, reconnectPeriod: 5 });
  t.teardown(() => closeBrokerClient(client));
  const link = keepConnected(client, {
    name: 'test',
    url: `mqtt://127.0.0.1:${port}`,
    logger,
    minDelayMs: 5,
    onStateChange: (s) => states.push(s),
  });
  await until(() => attempts >= 5, 'five attempts');
  t.ok(link.failures >= 4, `failures counted (${link.failures})`);
  await new Promise<void>((resolve) => placeholder.close(() => resolve()));

  const broker = await aedesOn(t, port);
  await until(() => client.connected, 'connected');
  t.equal(link.failures, 0, 'a connection starts the schedule afresh');
  t.same(states, ['unreachable', 'connected']);
  t.equal(lines.length, 2, `two lines for ${attempts} attempts`);
  // The hang-up reaches the client as a close or as ECONNRESET, depending on timing.
  t.match(lines, [
    {
      level: 'warn',
      msg: /^test: broker not reachable yet \((connection closed|ECONNRESET)\); retrying after 0.005 s, then less often, up to every 30 s$/,
    },
    { level: 'info', msg: 'test: connected to the broker' },
  ]);

  await broker.close();
  await until(() => link.state === 'unreachable', 'lost');
  t.match(lines[2], { level: 'warn', msg: /^test: lost the broker/ });
  const again = await aedesOn(t, port);
  await until(() => client.connected, 'connected again');
  t.equal(lines.length, 4, 'lost and back: two lines more');
  t.match(lines[3], { level: 'info', msg: 'test: connected to the broker' });

  await closeBrokerClient(client);
  t.equal(lines.length, 4, 'stopping on purpose is no lost broker');
  await again.close();
});

t.test('a refused sign-in is logged once and retried until the broker accepts it', async (t) => {
  let accept = false;
  let refusals = 0;
  const broker = await aedesOn(t, 0, () => {
    if (!accept) refusals++;
    return accept;
  });
  const { lines, logger } = recordingLogger();
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const client = mqtt.connect(url, { ...brokerClientOptions, username: 'gateway', password: 'x' });
  t.teardown(() => closeBrokerClient(client));
  keepConnected(client, { url, logger, minDelayMs: 5 });
  await until(() => refusals >= 4, 'four refusals');
  accept = true;
  await until(() => client.connected, 'accepted');
  t.same(
    lines.map((l) => l.level),
    ['error', 'info'],
    `refused ${refusals} times, logged once: ${lines.map((l) => l.msg).join(' | ')}`,
  );
  t.match(
    lines[0]?.msg,
    /the broker refuses the sign-in \(Not authorized\); check the user name and password/,
  );
});

t.test('quiet: a simulated device logs its changes at debug level only', async (t) => {
  const { lines, logger } = recordingLogger();
  const url = `mqtt://127.0.0.1:${await closedPort()}`;
  const client = mqtt.connect(url, { ...brokerClientOptions });
  t.teardown(() => closeBrokerClient(client));
  keepConnected(client, { url, logger, quiet: true });
  await until(() => lines.length > 0, 'a line');
  t.match(lines, [{ level: 'debug', msg: /broker not reachable yet \(ECONNREFUSED\)/ }]);
});

t.test('closing does not wait for acknowledgements a broker never sends', async (t) => {
  const broker = await aedesOn(t, 0);
  // The broker takes the message and never acknowledges it (a broker about to die).
  broker.broker.authorizePublish = () => {};
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const client = await mqtt.connectAsync(url, { ...brokerClientOptions });
  client.publish('held/back', 'x', { qos: 1 });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(Object.keys(client.outgoing).length, 1, 'the QoS 1 message is still waiting for its PUBACK');
  // MQTT.js's own end() would wait for that PUBACK for ever.
  await closeBrokerClient(client, 300);
  t.ok(client.stream.destroyed, 'the connection is closed');
  t.equal(Object.keys(client.outgoing).length, 1, 'although the message was never acknowledged');
});
