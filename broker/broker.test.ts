import net from 'node:net';
import t from 'tap';
import { hashPassword } from '../site/credentials.ts';
import {
  connect,
  DESK2_PASSWORD,
  inbox,
  readAudit,
  refusedCode,
  startTestBroker,
  subscribe,
  tempDir,
} from '../test-support/broker.ts';
import { MAX_PACKET_BYTES, PortInUseError } from './broker.ts';

const DESK1 = { username: 'desk-1-occupancy', password: 'desk-1-secret' };
const LOCK = { username: 'lock-101', password: 'lock-secret' };
const GATEWAY = { username: 'wesprint-gateway', password: 'gateway-secret' };
const API = { username: 'wesprint-api', password: 'api-secret' };

t.test('devices, services and strangers on the building broker', async (t) => {
  const dataDir = tempDir(t);
  const broker = await startTestBroker(t, { dataDir, desk2Hash: await hashPassword(DESK2_PASSWORD) });
  const url = `mqtt://127.0.0.1:${broker.port}`;

  const gateway = await connect(t, url, { ...GATEWAY, clientId: 'gw' });
  const seen = inbox(gateway);
  t.same(
    await subscribe(gateway, ['zigbee2mqtt/+', 'wesprint/kaufhaus/#'], 1),
    [1, 1],
    'the gateway may read device topics and the building topics',
  );

  await t.test('a device publishes its own topic; another device topic is refused and dropped', async (t) => {
    const desk = await connect(t, url, { ...DESK1, clientId: 'desk-1' });
    await desk.publishAsync('zigbee2mqtt/desk-2', '{"occupancy":true}', { qos: 1 });
    await desk.publishAsync('zigbee2mqtt/desk-1', '{"occupancy":false}', { qos: 1 });
    await seen.waitFor((m) => m.topic === 'zigbee2mqtt/desk-1');
    t.same(
      seen.messages.map((m) => m.topic),
      ['zigbee2mqtt/desk-1'],
      'the spoofed reading never reached the gateway',
    );
    t.ok(desk.connected, 'a refused publish does not disconnect the sensor');
    t.same(await subscribe(desk, '#'), [128], 'subscribing to # gets SUBACK 0x80');
    t.same(await subscribe(desk, 'zigbee2mqtt/desk-1/set'), [0], 'its own command topic is granted');
    t.ok(desk.connected);
  });

  await t.test('a device whose hash is pinned in the site file logs in with its own user name', async (t) => {
    const desk2 = await connect(t, url, { username: 'sensor-desk-2', password: DESK2_PASSWORD });
    await desk2.publishAsync('zigbee2mqtt/desk-2', '{"occupancy":true}', { qos: 1 });
    await seen.waitFor((m) => m.topic === 'zigbee2mqtt/desk-2');
    t.pass('desk-2 reading arrived');
  });

  await t.test('wrong password, unknown user and anonymous clients are refused', async (t) => {
    t.equal(await refusedCode(url, { ...DESK1, password: 'guess' }), 4, 'bad user name or password');
    t.equal(await refusedCode(url, { username: 'nobody', password: 'x' }), 4);
    t.equal(await refusedCode(url, {}), 5, 'anonymous: not authorized');
    t.equal(await refusedCode(url, { username: DESK1.username }), 4, 'user name without password');
  });

  await t.test('only the gateway can command a lock; the API commands the building', async (t) => {
    const lock = await connect(t, url, { ...LOCK, clientId: 'lock' });
    const lockInbox = inbox(lock);
    t.same(await subscribe(lock, 'nuki/3A4B5C6D/lockAction', 1), [1]);
    t.same(
      await subscribe(lock, 'nuki/+/lockAction'),
      [128],
      "a lock may not listen to other locks' commands",
    );

    const api = await connect(t, url, { ...API, clientId: 'api' });
    await api.publishAsync('nuki/3A4B5C6D/lockAction', '1', { qos: 1 });
    const desk = await connect(t, url, { ...DESK1, clientId: 'desk-1b' });
    await desk.publishAsync('nuki/3A4B5C6D/lockAction', '1', { qos: 1 });
    await gateway.publishAsync('nuki/3A4B5C6D/lockAction', '2', { qos: 1 });
    await lockInbox.waitFor((m) => m.payload === '2');
    t.same(
      lockInbox.messages.map((m) => [m.topic, m.payload]),
      [['nuki/3A4B5C6D/lockAction', '2']],
      'only the gateway got through',
    );

    await api.publishAsync('wesprint/kaufhaus/commands/lock-101', '{"id":"c1","action":"unlock"}', {
      qos: 1,
    });
    await seen.waitFor((m) => m.topic === 'wesprint/kaufhaus/commands/lock-101');
    t.pass('the API command reached the gateway');
    t.same(await subscribe(api, 'nuki/#'), [128], 'the API cannot read device topics');
  });

  await t.test('a client id connected under another account cannot be taken over', async (t) => {
    t.equal(await refusedCode(url, { ...DESK1, clientId: 'gw' }), 2);
    t.ok(gateway.connected, 'the gateway keeps its connection');
  });

  await t.test('an oversized packet ends the connection', async (t) => {
    const desk = await connect(t, url, { ...DESK1, clientId: 'desk-big' });
    const closed = new Promise<void>((resolve) => desk.once('close', () => resolve()));
    desk.publish('zigbee2mqtt/desk-1', Buffer.alloc(MAX_PACKET_BYTES + 10));
    await closed;
    t.pass('closed');
  });

  await t.test('refusals and accepted connections are audited and counted, secrets never', async (t) => {
    const stats = broker.stats();
    t.ok(stats.connectsAccepted >= 6, 'accepted connects counted');
    t.ok(stats.connectsRefused >= 5, 'refused connects counted');
    t.ok(stats.publishesRefused >= 3, 'refused publishes counted');
    t.ok(stats.subscriptionsRefused >= 3, 'refused subscriptions counted');
    // The audit stream is flushed asynchronously: wait until the last refusal is on disk.
    let audit = readAudit(dataDir);
    while (!audit.some((e) => e.reason === 'client id is connected under another account')) {
      await new Promise((r) => setTimeout(r, 50));
      audit = readAudit(dataDir);
    }
    t.ok(
      audit.some(
        (e) =>
          e.what === 'publish' &&
          e.who === 'desk-1-occupancy' &&
          e.topic === 'zigbee2mqtt/desk-2' &&
          e.decision === 'deny',
      ),
      'spoofed publish audited',
    );
    t.ok(audit.some((e) => e.what === 'subscribe' && e.topic === '#' && e.decision === 'deny'));
    t.ok(audit.some((e) => e.what === 'connect' && e.who === 'wesprint-gateway' && e.decision === 'allow'));
    const badLogin = audit.find(
      (e) => e.what === 'connect' && e.decision === 'deny' && e.who === DESK1.username,
    );
    t.ok(badLogin && typeof badLogin.ip === 'string' && typeof badLogin.ts === 'string');
    const text = JSON.stringify(audit);
    t.notMatch(text, /desk-1-secret|gateway-secret|guess|scrypt\$/, 'no password or hash in the audit log');
  });
});

t.test('MQTT over WebSocket', async (t) => {
  const broker = await startTestBroker(t, { wsPort: 0 });
  t.ok(broker.wsPort, 'a WebSocket port was bound');
  const ws = await connect(t, `ws://127.0.0.1:${broker.wsPort}/mqtt`, { ...GATEWAY, clientId: 'gw-ws' });
  const got = inbox(ws);
  t.same(await subscribe(ws, 'zigbee2mqtt/+', 1), [1]);
  const desk = await connect(t, `mqtt://127.0.0.1:${broker.port}`, DESK1);
  await desk.publishAsync('zigbee2mqtt/desk-1', '{"occupancy":true}', { qos: 1 });
  await got.waitFor((m) => m.topic === 'zigbee2mqtt/desk-1');
  t.equal(got.messages[0]?.payload, '{"occupancy":true}');
  t.equal(
    await refusedCode(`ws://127.0.0.1:${broker.wsPort}/mqtt`, { ...DESK1, password: 'no' }),
    4,
    'the WebSocket listener checks credentials too',
  );
});

t.test('a port already in use is one clear line', async (t) => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const port = (squatter.address() as net.AddressInfo).port;
  const dataDir = tempDir(t);
  const err = await startTestBroker(t, { dataDir, port }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, PortInUseError);
  const message = (err as Error).message;
  t.equal(
    message,
    `MQTT port ${port} is already in use (another MQTT broker running?). Set MQTT_PORT to a free port.`,
  );
  t.notMatch((err as Error).stack ?? '', /\n/, 'no stack trace');
  // Everything opened before the failure was released: the same data dir starts a broker again.
  const again = await startTestBroker(t, { dataDir });
  t.ok(again.port > 0);
});
