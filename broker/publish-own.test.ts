import path from 'node:path';
import t from 'tap';
import { openJournal } from '../journal/segment-journal.ts';
import { connect, inbox, startTestBroker, subscribe, tempDir } from '../test-support/broker.ts';

/**
 * RunningBroker.publishOwn: the in-process gateway's readings go straight into the broker's routing (no MQTT
 * connection), reach the subscribers the ACL lets them reach, and are never journaled as a device's message.
 */

const API = { username: 'wesprint-api', password: 'api-secret' };
const DESK1 = { username: 'desk-1-occupancy', password: 'desk-1-secret' };

t.test('a message published by the process reaches a subscriber and is not journaled', async (t) => {
  const dataDir = tempDir(t);
  const journal = await openJournal(path.join(dataDir, 'journal'));
  const broker = await startTestBroker(t, { dataDir, journal });
  t.teardown(async () => {
    await broker.close();
    await journal.close();
  });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const api = await connect(t, url, { clientId: 'api', ...API });
  const desk = await connect(t, url, { clientId: 'desk-1', ...DESK1 });
  const messages = inbox(api);
  t.same(await subscribe(api, 'wesprint/kaufhaus/#'), [0]);
  const before = journal.committed();

  const topic = 'wesprint/kaufhaus/readings/desk-area/desk-1/occupancy';
  broker.publishOwn(topic, '{"value":1}');
  const got = await messages.waitFor((m) => m.topic === topic);
  t.same(got, { topic, payload: '{"value":1}', qos: 0, retain: false });

  // On a device's topic too: the process is no device, so nothing goes into the journal.
  broker.publishOwn('zigbee2mqtt/desk-1', '{"occupancy":true}');
  await desk.publishAsync('zigbee2mqtt/desk-1', '{"occupancy":false}', { qos: 1 });
  t.equal(journal.committed(), before + 1, "only the device's own message is journaled");
  const entries = await journal.read(before, 10);
  t.same(
    entries.map((e) => e.payload.toString()),
    ['{"occupancy":false}'],
  );

  await broker.close();
  t.doesNotThrow(() => broker.publishOwn(topic, '{"value":3}'), 'nothing once closed');
});

t.test('a topic nobody listened to reaches a subscriber that came since', async (t) => {
  const dataDir = tempDir(t);
  const broker = await startTestBroker(t, { dataDir });
  t.teardown(() => broker.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const topic = 'wesprint/kaufhaus/readings/desk-area/desk-1/occupancy';
  // Nobody listens yet: the broker notes that for the topic and routes nothing, nor makes the payload.
  broker.publishOwn(topic, '{"value":1}');
  let made = 0;
  const payload = (value: number) => () => {
    made++;
    return JSON.stringify({ value });
  };
  broker.publishOwn(topic, payload(1));
  t.equal(made, 0, 'a payload nobody would get is not made');
  const api = await connect(t, url, { clientId: 'api', ...API });
  const messages = inbox(api);
  t.same(await subscribe(api, 'wesprint/kaufhaus/readings/#'), [0]);
  broker.publishOwn(topic, '{"value":2}');
  broker.publishOwn(topic, payload(3));
  await messages.waitFor((m) => m.payload === '{"value":3}');
  t.equal(made, 1);
  t.same(
    messages.messages.map((m) => m.payload),
    ['{"value":2}', '{"value":3}'],
    'what was published before it went nowhere',
  );
});
