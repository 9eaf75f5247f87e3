import mqtt from 'mqtt';
import t from 'tap';
import { deviceUsername, loadOrCreateSecrets } from '../site/credentials.ts';
import type { DeviceConfig } from '../site/site.ts';
import { HeldDisk } from '../test-support/held-disk.ts';
import { rawDeviceConnection } from '../test-support/raw-mqtt-device.ts';
import { startRunningSystem } from '../test-support/running-system.ts';
import { eventually, listenWebSocket } from '../test-support/small-building.ts';
import { storedPower } from '../test-support/stored-readings.ts';

/**
 * A reading is shown before it is durable (issue 10: device publish -> `/api/live` p99 below 50 ms, while
 * the journal's group write takes 10-90 ms on this machine's disk), and nothing else moves earlier: the
 * device's PUBACK and the store still wait for the commit, a recognised retransmission is shown once, and a
 * message whose write failed is neither acknowledged nor stored. On `wesprint start` in this process
 * (its broker, journal, in-process gateway, API and live feed), a real MQTT.js device and raw-socket device,
 * the administrator's `/api/live` WebSocket; the journal's disk is real, its writes held or refused at its
 * group-write step (test-support/held-disk.ts).
 */

const disk = new HeldDisk();
const system = await startRunningSystem({
  simulation: false,
  start: { journal: { beforeWrite: disk.beforeWrite } },
});
t.teardown(async () => {
  disk.release();
  await system.stop();
});
const meter = system.site.devices.find((d) => d.profile === 'shelly-gen1') as DeviceConfig;
const password = loadOrCreateSecrets(system.dataDir, system.site).devices[meter.id] as string;
const port = Number(new URL(system.mqttUrl).port);
const readingsFile = `${system.dataDir}/readings.db`;
const topic = `${meter.topic}/relay/0/power`;

const login = await fetch(`${system.httpUrl}/api/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(system.admin),
});
const cookie = login.headers
  .getSetCookie()
  .map((c) => c.split(';')[0] as string)
  .find((c) => c.startsWith('wesprint_session=')) as string;
const live = await listenWebSocket(t, `${system.httpUrl.replace(/^http/, 'ws')}/api/live`, { cookie });

/** How often the meter's power `value` was on the socket. */
const shown = (value: number) =>
  live.messages.filter(
    (m) => m.type === 'reading' && m.device === meter.id && m.quantity === 'power' && m.value === value,
  ).length;
const stored = (value: number) => storedPower(readingsFile).filter((r) => r.num === value).length;

t.test(
  'a reading reaches /api/live while its write is held; PUBACK and the store wait for the commit',
  async (t) => {
    const device = await mqtt.connectAsync(system.mqttUrl, {
      username: deviceUsername(meter),
      password,
      clientId: 'live-before-commit-1',
      reconnectPeriod: 0,
    });
    t.teardown(() => device.endAsync(true));
    disk.hold();
    const groups = disk.groups.length;
    let acknowledged = false;
    const puback = device.publishAsync(topic, '42', { qos: 1 }).then(() => {
      acknowledged = true;
    });
    await eventually('42 W on /api/live', () => shown(42) === 1);
    t.ok(disk.groups.length > groups, 'its group write is under way, held');
    t.notOk(acknowledged, 'the device has no PUBACK');
    t.equal(stored(42), 0, 'nothing stored');

    disk.release();
    await puback;
    await eventually('42 W stored', () => stored(42) === 1);
    await device.publishAsync(topic, '43', { qos: 1 });
    await eventually('43 W on /api/live', () => shown(43) === 1);
    t.equal(shown(42), 1, 'shown once, not again at its commit');
  },
);

t.test('a retransmission recognised while the original is held is shown once and stored once', async (t) => {
  disk.hold();
  const first = await rawDeviceConnection(port, 'live-before-commit-2', meter, password);
  await first.publishAll([101], false);
  await eventually('101 W on /api/live', () => shown(101) === 1);
  // Its PUBACK lost with the connection: the device sends it again, with DUP, and then a new message.
  first.close();
  await first.closed;
  const again = await rawDeviceConnection(port, 'live-before-commit-2', meter, password);
  t.teardown(() => again.close());
  await again.publishAll([101, 102], true);
  // The connection's messages are handled in order: once 102 is shown, 101's resend was recognised.
  await eventually('102 W on /api/live', () => shown(102) === 1);
  t.equal(shown(101), 1, 'the resend is not shown');
  t.same([...again.acked], [], 'nothing acknowledged while held');

  disk.release();
  await eventually('both acknowledged', () => again.acked.has(1) && again.acked.has(2));
  await eventually('both stored', () => stored(101) === 1 && stored(102) === 1);
  t.equal(shown(101), 1, 'shown once');
  t.equal(stored(101), 1, 'stored once');
});

t.test('a message whose write is refused is not acknowledged and not stored; its resend is', async (t) => {
  const device = await mqtt.connectAsync(system.mqttUrl, {
    username: deviceUsername(meter),
    password,
    clientId: 'live-before-commit-3',
    clean: false,
    reconnectPeriod: 100,
  });
  t.teardown(() => device.endAsync(true));
  let acknowledged = false;
  let acknowledgedAtClose: boolean | undefined;
  device.once('close', () => {
    acknowledgedAtClose = acknowledged;
  });
  disk.hold();
  disk.refuse();
  const puback = device.publishAsync(topic, '303', { qos: 1 }).then(() => {
    acknowledged = true;
  });
  await eventually('303 W on /api/live', () => shown(303) === 1);
  t.equal(stored(303), 0, 'not stored while its write is under way');

  disk.release();
  await puback;
  t.equal(acknowledgedAtClose, false, 'the broker closed the connection instead of acknowledging');
  await eventually('303 W stored', () => stored(303) === 1);
  await device.publishAsync(topic, '304', { qos: 1 });
  await eventually('304 W stored', () => stored(304) === 1);
  t.equal(stored(303), 1, 'stored once: from the resend, whose write succeeded');
  // The resend is a new message to the journal (the refused one's identity went with it): shown again.
  t.equal(shown(303), 2, 'shown twice: the one repeat of the live view, after a failed write');
});
