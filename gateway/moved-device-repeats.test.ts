import { Redis } from 'ioredis';
import t from 'tap';
import { testRedis } from '../test-support/redis.ts';
import {
  MOVED_REPEATS_PER_DEVICE,
  MovedDeviceRepeats,
  MovedDeviceRepeatsInRedis,
  movedDeviceKeys,
} from './moved-device-repeats.ts';

const device = { clientId: 'shellyplug-s-BC9EFF', messageId: 7 };
const topic = 'shellies/shellyplug-s-BC9EFF/relay/0/power';

t.test(
  'a device message forwarded by another node with the same packet id and content is a repeat',
  async (t) => {
    const moved = new MovedDeviceRepeats();
    t.notOk(moved.isRepeat('node-a', device, topic, Buffer.from('12.5')), 'first seen on A');
    t.ok(moved.isRepeat('node-b', device, topic, Buffer.from('12.5')), 'resent through B: the same message');
    t.equal(moved.recognised, 1);
    // A never forwarded it before it died; B's copy came first; A, restarted, forwards it from its journal.
    const late = new MovedDeviceRepeats();
    t.notOk(late.isRepeat('node-b', device, topic, Buffer.from('12.5')), 'the resend through B first');
    t.ok(late.isRepeat('node-a', device, topic, Buffer.from('12.5')), 'then A forwarding its original');
  },
);

t.test('what is not a repeat', async (t) => {
  const moved = new MovedDeviceRepeats();
  t.notOk(moved.isRepeat('node-a', device, topic, Buffer.from('12.5')));
  t.notOk(
    moved.isRepeat('node-a', device, topic, Buffer.from('12.5')),
    'the same node again: its journal decided (new, or the same position, which the journal recognises)',
  );
  t.notOk(moved.isRepeat('node-b', device, topic, Buffer.from('13.0')), 'another payload');
  t.notOk(moved.isRepeat('node-c', device, `${topic}x`, Buffer.from('13.0')), 'another topic');
  t.notOk(
    moved.isRepeat('node-b', { ...device, messageId: 8 }, topic, Buffer.from('12.5')),
    'another packet id',
  );
  t.notOk(
    moved.isRepeat('node-b', { ...device, clientId: 'other' }, topic, Buffer.from('12.5')),
    'another device',
  );
  // Topic "a/b" + payload "c" is not topic "a/bc" + payload "".
  t.notOk(moved.isRepeat('n1', device, 'a/b', Buffer.from('c')));
  t.notOk(moved.isRepeat('n2', device, 'a/bc', Buffer.alloc(0)), 'the topic length is in the content');
});

t.test("bounded: a device's last messages are kept, whatever the other devices sent since", async (t) => {
  const moved = new MovedDeviceRepeats(10, 10);
  t.notOk(moved.isRepeat('a', device, topic, Buffer.from('1')));
  for (let n = 0; n < 1000; n++)
    moved.isRepeat('a', { clientId: `plug-${n % 50}`, messageId: n }, topic, Buffer.from('x'));
  t.ok(moved.isRepeat('b', device, topic, Buffer.from('1')), 'after 1,000 messages of 50 other devices');
  for (let id = 100; id < 120; id++)
    moved.isRepeat('a', { ...device, messageId: id }, topic, Buffer.from('x'));
  t.notOk(
    moved.isRepeat('c', device, topic, Buffer.from('1')),
    'past its own last 10: taken as new (a device with more unacknowledged than that is not covered)',
  );
});

t.test('in Redis: the same rule, remembered past the gateway that wrote it', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const connect = () => {
    const conn = new Redis(redis.url, { keyPrefix: redis.prefix });
    t.teardown(() => conn.disconnect());
    return conn;
  };
  const first = new MovedDeviceRepeatsInRedis(connect());
  t.notOk(await first.isRepeat('node-a', device, topic, Buffer.from('12.5')), 'first seen on A');
  // The gateway killed: a new process, a new connection, nothing in memory.
  const restarted = new MovedDeviceRepeatsInRedis(connect());
  t.ok(
    await restarted.isRepeat('node-b', device, topic, Buffer.from('12.5')),
    'resent through B, after a restart of the gateway: the same message',
  );
  t.equal(restarted.recognised, 1);
  t.notOk(
    await restarted.isRepeat('node-a', device, topic, Buffer.from('12.5')),
    "A's copy again (its journal forwarded it again, or the broker redelivered it): the journal decides",
  );
  t.notOk(await restarted.isRepeat('node-b', device, topic, Buffer.from('13.0')), 'another payload');
  t.notOk(
    await restarted.isRepeat('node-a', { ...device, messageId: 8 }, topic, Buffer.from('12.5')),
    'another packet id',
  );
  t.notOk(
    await restarted.isRepeat('node-b', { ...device, clientId: 'other' }, topic, Buffer.from('12.5')),
    'another device',
  );
  // B's resend first (A died before forwarding it), then A, restarted, forwards its original.
  const late = { ...device, messageId: 9 };
  t.notOk(await restarted.isRepeat('node-b', late, topic, Buffer.from('1')));
  t.ok(await restarted.isRepeat('node-a', late, topic, Buffer.from('1')));
  t.notOk(await restarted.isRepeat('n1', { ...device, messageId: 10 }, 'a/b', Buffer.from('c')));
  t.notOk(
    await restarted.isRepeat('n2', { ...device, messageId: 10 }, 'a/bc', Buffer.alloc(0)),
    'the topic length is in the content',
  );

  const keys = (await redis.keys()).sort();
  t.same(
    keys,
    [...movedDeviceKeys(device.clientId), ...movedDeviceKeys('other')].map((k) => redis.prefix + k).sort(),
    'two keys per device (its packet ids, their order), under the installation prefix',
  );
});

t.test(
  'in Redis: a device that comes back to another node much later, after its node died, is recognised',
  async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const conn = new Redis(redis.url, { keyPrefix: redis.prefix });
    t.teardown(() => conn.disconnect());
    const moved = new MovedDeviceRepeatsInRedis(conn);
    t.notOk(await moved.isRepeat('node-a', device, topic, Buffer.from('12.5')), 'forwarded by A, which died');
    // Meanwhile the other devices go on through B: 2,000 messages of 100 devices, every packet id of each.
    const others: Promise<boolean>[] = [];
    for (let n = 0; n < 2000; n++)
      others.push(
        moved.isRepeat('node-b', { clientId: `plug-${n % 100}`, messageId: n }, topic, Buffer.from('1')),
      );
    t.notOk((await Promise.all(others)).some(Boolean), 'none of theirs a repeat');
    // Nothing in the record runs out with time: the device may stay away an hour, or a day.
    for (const key of movedDeviceKeys(device.clientId))
      t.equal(await conn.pttl(key), -1, `${key}: no expiry`);
    t.ok(
      await moved.isRepeat('node-b', device, topic, Buffer.from('12.5')),
      'its resend through B, however late: the same message',
    );
    t.equal(MOVED_REPEATS_PER_DEVICE, 1024);
  },
);

t.test('in Redis: answers in the order asked, each seeing the ones before it', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const conn = new Redis(redis.url, { keyPrefix: redis.prefix });
  t.teardown(() => conn.disconnect());
  const moved = new MovedDeviceRepeatsInRedis(conn);
  const asked: Promise<boolean>[] = [];
  for (let id = 1; id <= 200; id++) {
    asked.push(
      Promise.resolve(moved.isRepeat('node-a', { ...device, messageId: id }, topic, Buffer.from('0'))),
    );
    asked.push(
      Promise.resolve(moved.isRepeat('node-b', { ...device, messageId: id }, topic, Buffer.from('0'))),
    );
  }
  const answers = await Promise.all(asked);
  t.same(
    answers,
    asked.map((_, i) => i % 2 === 1),
    'each B copy recognised by the A copy asked just before it, though none was awaited',
  );
});

t.test('in Redis: bounded per device, its oldest packet id forgotten past its last N', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const conn = new Redis(redis.url, { keyPrefix: redis.prefix });
  t.teardown(() => conn.disconnect());
  const moved = new MovedDeviceRepeatsInRedis(conn, 4);
  t.notOk(await moved.isRepeat('node-a', device, topic, Buffer.from('12.5')));
  for (let id = 100; id < 103; id++)
    t.notOk(await moved.isRepeat('node-a', { ...device, messageId: id }, topic, Buffer.from('x')));
  t.ok(await moved.isRepeat('node-b', device, topic, Buffer.from('12.5')), 'among its last 4');
  t.notOk(await moved.isRepeat('node-a', { ...device, messageId: 103 }, topic, Buffer.from('x')));
  t.notOk(
    await moved.isRepeat('node-c', device, topic, Buffer.from('12.5')),
    'its fifth last: forgotten, taken as new',
  );
  const [ids, order] = movedDeviceKeys(device.clientId);
  t.equal(await conn.zcard(order), 4, 'the order holds 4 packet ids');
  t.equal(await conn.hlen(ids), 5, 'and the packet ids 4, beside the count');
});
