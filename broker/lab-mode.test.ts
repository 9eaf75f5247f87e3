import net from 'node:net';
import t from 'tap';
import { connect, inbox, startTestBroker, subscribe } from '../test-support/broker.ts';

/**
 * Lab mode (BROKER_ALLOW_ANONYMOUS=true) must behave as a conformant MQTT 3.1.1 broker for anonymous
 * clients, while commands stay out of their reach and accounts keep their ACL.
 */

/** Sends a hand-made CONNECT (MQTT.js refuses to send an empty client id with clean=0) and returns the CONNACK. */
function rawConnect(port: number, clean: boolean): Promise<Buffer> {
  const connect = Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, clean ? 0x02 : 0x00, 0, 60, 0, 0]);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(connect));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.subarray(0, 4));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed without CONNACK')));
  });
}

t.test('lab mode', async (t) => {
  const broker = await startTestBroker(t, { allowAnonymous: true, denySubscribe: ['test/nosubscribe'] });
  const url = `mqtt://127.0.0.1:${broker.port}`;

  await t.test('empty client id: rejected with clean=0 (CONNACK 2), accepted with clean=1', async (t) => {
    t.same([...(await rawConnect(broker.port, false))], [0x20, 2, 0, 2], 'identifier rejected');
    t.same([...(await rawConnect(broker.port, true))], [0x20, 2, 0, 0], 'accepted');
  });

  await t.test('a refused filter gets SUBACK 0x80 and the connection stays up', async (t) => {
    const client = await connect(t, url, { clientId: 'lab-sub' });
    t.same(await subscribe(client, ['test/nosubscribe', 'TopicA/B'], 1), [128, 1]);
    const got = inbox(client);
    await client.publishAsync('TopicA/B', 'still here', { qos: 1 });
    await got.waitFor((m) => m.payload === 'still here');
    t.ok(client.connected);
  });

  await t.test('QoS 2 round trip', async (t) => {
    const client = await connect(t, url, { clientId: 'lab-qos2' });
    const got = inbox(client);
    t.same(await subscribe(client, 'TopicA/qos2', 2), [2]);
    await client.publishAsync('TopicA/qos2', 'exactly once', { qos: 2 });
    const m = await got.waitFor((m) => m.topic === 'TopicA/qos2');
    t.equal(m.qos, 2);
    t.equal(m.payload, 'exactly once');
  });

  await t.test('retained message delivered to a later subscriber, cleared by an empty one', async (t) => {
    const publisher = await connect(t, url, { clientId: 'lab-retain-pub' });
    await publisher.publishAsync('TopicA/retained', 'kept', { qos: 1, retain: true });
    const late = await connect(t, url, { clientId: 'lab-retain-sub' });
    const got = inbox(late);
    await subscribe(late, 'TopicA/+', 1);
    const m = await got.waitFor((m) => m.topic === 'TopicA/retained');
    t.equal(m.payload, 'kept');
    t.ok(m.retain, 'flagged as retained');
    await publisher.publishAsync('TopicA/retained', '', { qos: 1, retain: true });
  });

  await t.test('will message on abrupt disconnect', async (t) => {
    const watcher = await connect(t, url, { clientId: 'lab-will-watch' });
    const got = inbox(watcher);
    await subscribe(watcher, 'TopicA/will', 1);
    const dying = await connect(t, url, {
      clientId: 'lab-will',
      will: { topic: 'TopicA/will', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    dying.stream.destroy();
    const m = await got.waitFor((m) => m.topic === 'TopicA/will');
    t.equal(m.payload, 'gone');
  });

  await t.test(
    'overlapping subscriptions: delivered once at the highest QoS, or once per match',
    async (t) => {
      const client = await connect(t, url, { clientId: 'lab-overlap' });
      const got = inbox(client);
      t.same(await subscribe(client, 'TopicA/#', 2), [2]);
      t.same(await subscribe(client, 'TopicA/+', 1), [1]);
      await client.publishAsync('TopicA/overlap', 'both', { qos: 2 });
      await client.publishAsync('TopicA/x/marker', 'after', { qos: 2 });
      await got.waitFor((m) => m.topic === 'TopicA/x/marker');
      const copies = got.messages.filter((m) => m.topic === 'TopicA/overlap');
      const qos = copies.map((m) => m.qos).sort();
      t.ok(
        (copies.length === 1 && qos[0] === 2) || (copies.length === 2 && qos.join() === '1,2'),
        `got ${copies.length} copies at QoS ${qos.join()}`,
      );
    },
  );

  await t.test('anonymous clients can neither send nor read commands', async (t) => {
    const lock = await connect(t, url, {
      username: 'lock-101',
      password: 'lock-secret',
      clientId: 'lab-lock',
    });
    const lockInbox = inbox(lock);
    await subscribe(lock, 'nuki/3A4B5C6D/lockAction', 1);
    const anon = await connect(t, url, { clientId: 'lab-anon' });
    const anonInbox = inbox(anon);
    t.same(await subscribe(anon, '#', 1), [1], '# is granted ...');
    t.same(await subscribe(anon, 'nuki/3A4B5C6D/lockAction', 1), [128]);
    t.same(await subscribe(anon, 'wesprint/kaufhaus/commands/+', 1), [128]);
    await anon.publishAsync('nuki/3A4B5C6D/lockAction', '1', { qos: 1 });
    await anon.publishAsync('wesprint/kaufhaus/commands/lock-101', '{}', { qos: 1 });
    const gateway = await connect(t, url, { username: 'wesprint-gateway', password: 'gateway-secret' });
    await gateway.publishAsync('nuki/3A4B5C6D/lockAction', '2', { qos: 1 });
    await gateway.publishAsync('wesprint/kaufhaus/devices/lock-101/status', '{"online":true}', { qos: 1 });
    await lockInbox.waitFor((m) => m.payload === '2');
    t.same(
      lockInbox.messages.map((m) => m.payload),
      ['2'],
      "the anonymous lockAction never reached the lock, the gateway's did",
    );
    await anonInbox.waitFor((m) => m.topic === 'wesprint/kaufhaus/devices/lock-101/status');
    t.notOk(
      anonInbox.messages.some((m) => m.topic.includes('lockAction') || m.topic.includes('/commands/')),
      '... but commands are withheld from it',
    );
    t.ok(anon.connected);
  });

  await t.test('accounts keep their ACL in lab mode', async (t) => {
    const desk = await connect(t, url, { username: 'desk-1-occupancy', password: 'desk-1-secret' });
    t.same(await subscribe(desk, '#'), [128]);
  });
});
