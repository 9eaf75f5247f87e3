import t from 'tap';
import { MovedDeviceRepeats } from './moved-device-repeats.ts';

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

t.test('bounded: the oldest device messages are forgotten', async (t) => {
  const moved = new MovedDeviceRepeats(10);
  t.notOk(moved.isRepeat('a', device, topic, Buffer.from('1')));
  for (let id = 100; id < 120; id++)
    moved.isRepeat('a', { ...device, messageId: id }, topic, Buffer.from('x'));
  t.notOk(moved.isRepeat('b', device, topic, Buffer.from('1')), 'past the window: taken as new');
});
