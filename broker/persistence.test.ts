import mqtt from 'mqtt';
import t from 'tap';
import { connect, inbox, startTestBroker, subscribe, tempDir } from './fixtures.ts';

const GATEWAY = { username: 'wesprint-gateway', password: 'gateway-secret' };
const DESK1 = { username: 'desk-1-occupancy', password: 'desk-1-secret' };

t.test('sessions, queued QoS 1 messages and retained messages survive a broker restart', async (t) => {
  const dataDir = tempDir(t);
  const first = await startTestBroker(t, { dataDir });
  const firstUrl = `mqtt://127.0.0.1:${first.port}`;

  const gateway = await connect(t, firstUrl, { ...GATEWAY, clientId: 'gw-durable', clean: false });
  t.same(await subscribe(gateway, 'zigbee2mqtt/+', 1), [1]);
  await gateway.endAsync();

  const desk = await connect(t, firstUrl, { ...DESK1, clientId: 'desk-durable' });
  await desk.publishAsync('zigbee2mqtt/desk-1', '{"occupancy":true}', { qos: 1 });
  await desk.publishAsync('zigbee2mqtt/desk-1/availability', 'online', { qos: 1, retain: true });
  await desk.endAsync();
  await first.close();

  const second = await startTestBroker(t, { dataDir });
  const secondUrl = `mqtt://127.0.0.1:${second.port}`;

  // Listen before CONNACK: the queued message follows it immediately.
  const back = mqtt.connect(secondUrl, {
    ...GATEWAY,
    clientId: 'gw-durable',
    clean: false,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  t.teardown(() => back.endAsync(true));
  const got = inbox(back);
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    back.once('connect', resolve);
    back.once('error', reject);
  });
  t.ok(connack.sessionPresent, 'the session was kept on disk');
  const queued = await got.waitFor((m) => m.topic === 'zigbee2mqtt/desk-1');
  t.equal(queued.payload, '{"occupancy":true}', 'the QoS 1 message queued while offline arrives');

  const late = await connect(t, secondUrl, { ...GATEWAY, clientId: 'gw-late' });
  const lateInbox = inbox(late);
  await subscribe(late, 'zigbee2mqtt/+/availability', 1);
  const retained = await lateInbox.waitFor((m) => m.topic === 'zigbee2mqtt/desk-1/availability');
  t.equal(retained.payload, 'online');
  t.ok(retained.retain, 'the retained message survived the restart');
});
