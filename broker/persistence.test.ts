import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { connect, inbox, startTestBroker, subscribe, tempDir } from '../test-support/broker.ts';
import type { RunningBroker } from './broker.ts';

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

/** The broker's own store, read as aedes reads it (a test looks, it does not write). */
function store(broker: RunningBroker) {
  return (
    broker.aedes as unknown as {
      persistence: {
        createRetainedStream(pattern: string): AsyncIterable<{ topic: string; payload: Buffer }>;
        outgoingStream(client: { id: string }): AsyncIterable<{ topic: string; payload: Buffer }>;
      };
    }
  ).persistence;
}

async function payloads(messages: AsyncIterable<{ payload: Buffer }>): Promise<string[]> {
  const found: string[] = [];
  for await (const m of messages) found.push(Buffer.from(m.payload).toString());
  return found;
}

/** The gateway's persistent session, subscribed and then offline: every QoS 1 reading is a disk write. */
async function offlineGatewaySession(t: Test, url: string): Promise<void> {
  const gateway = await connect(t, url, { ...GATEWAY, clientId: 'gw-durable', clean: false });
  await subscribe(gateway, 'zigbee2mqtt/+', 1);
  await gateway.endAsync();
}

// MQTT 3.1.1 §4.3.2: PUBACK means the broker has taken ownership. aedes acknowledges before routing, so a
// burst of readings (each a disk write for the offline session) left the retained state acknowledged but
// still waiting for the disk.
t.test('a QoS 1 message is on disk when its sender gets the PUBACK', async (t) => {
  const broker = await startTestBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  await offlineGatewaySession(t, url);
  const desk = await connect(t, url, { ...DESK1, clientId: 'desk-burst' });

  const missing: string[] = [];
  const acknowledged = Array.from({ length: 30 }, (_, n) =>
    desk.publishAsync('zigbee2mqtt/desk-1', `{"n":${n}}`, { qos: 1 }).then(async () => {
      const queued = await payloads(store(broker).outgoingStream({ id: 'gw-durable' }));
      if (!queued.includes(`{"n":${n}}`)) missing.push(`reading ${n}`);
    }),
  );
  await desk.publishAsync('zigbee2mqtt/desk-1/availability', 'online', { qos: 1, retain: true });
  const retained = await payloads(store(broker).createRetainedStream('zigbee2mqtt/desk-1/availability'));
  if (!retained.includes('online')) missing.push('retained availability');
  await Promise.all(acknowledged);
  t.same(missing, [], 'nothing acknowledged before it was stored');
});

t.test('what was acknowledged survives a broker stopped right after the PUBACK, every time', async (t) => {
  const dataDir = tempDir(t);
  const setup = await startTestBroker(t, { dataDir });
  await offlineGatewaySession(t, `mqtt://127.0.0.1:${setup.port}`);
  await setup.close();

  const lost: string[] = [];
  for (let round = 0; round < 5; round++) {
    const broker = await startTestBroker(t, { dataDir });
    const desk = await connect(t, `mqtt://127.0.0.1:${broker.port}`, { ...DESK1, clientId: 'desk-burst' });
    const readings = Array.from({ length: 30 }, (_, n) => `{"round":${round},"n":${n}}`);
    await Promise.all([
      ...readings.map((reading) => desk.publishAsync('zigbee2mqtt/desk-1', reading, { qos: 1 })),
      desk.publishAsync('zigbee2mqtt/desk-1/availability', `online ${round}`, { qos: 1, retain: true }),
    ]);
    await broker.close();
    await desk.endAsync(true);

    const restarted = await startTestBroker(t, { dataDir });
    const retained = await payloads(store(restarted).createRetainedStream('zigbee2mqtt/desk-1/availability'));
    if (!retained.includes(`online ${round}`)) lost.push(`round ${round}: retained availability`);
    const queued = await payloads(store(restarted).outgoingStream({ id: 'gw-durable' }));
    const missing = readings.filter((reading) => !queued.includes(reading));
    if (missing.length > 0) lost.push(`round ${round}: ${missing.length} readings for the gateway's session`);
    await restarted.close();
  }
  t.same(lost, [], 'no retained state or queued reading lost across a restart once acknowledged');
});
