import t from 'tap';
import {
  contentHash,
  isRetransmission,
  type KnownMessage,
  RecentMessages,
  SendersMessages,
} from './retransmission.ts';

const known = (connection: number, hash = 'h1'): KnownMessage => ({ hash, connection, seq: 7 });

t.test('the same packet id and content with DUP set is a retransmission [MQTT-3.3.1-1]', async (t) => {
  t.ok(isRetransmission(known(3), { hash: 'h1', connection: 3, dup: true }), 'same connection');
  t.ok(isRetransmission(known(3), { hash: 'h1', connection: 4, dup: true }), 'a later connection');
});

t.test(
  'the same packet id and content on a later connection is a retransmission without DUP (aedes)',
  async (t) => {
    t.ok(isRetransmission(known(3), { hash: 'h1', connection: 4, dup: false }));
    t.ok(
      isRetransmission(known(Number.NEGATIVE_INFINITY), { hash: 'h1', connection: 0, dup: false }),
      'one journaled before the journal was opened counts as an earlier connection, whatever the counter says now',
    );
  },
);

t.test('the same packet id on the same connection without DUP is a reuse after PUBACK: new', async (t) => {
  t.notOk(isRetransmission(known(3), { hash: 'h1', connection: 3, dup: false }));
});

t.test('other content under the same packet id is a new message, DUP or not', async (t) => {
  t.notOk(isRetransmission(known(3), { hash: 'h2', connection: 4, dup: false }));
  t.notOk(isRetransmission(known(3), { hash: 'h2', connection: 3, dup: true }));
});

t.test('nothing known: new', async (t) => {
  t.notOk(isRetransmission(undefined, { hash: 'h1', connection: 4, dup: true }));
});

t.test('a connection counted earlier than the known one is not a retransmission without DUP', async (t) => {
  t.notOk(isRetransmission(known(5), { hash: 'h1', connection: 4, dup: false }));
});

t.test('the content hash covers where the topic ends, not only the bytes', async (t) => {
  // As the record lays it out: u16 topic length, topic, payload.
  const content = (topic: string, payload: string) => {
    const length = Buffer.alloc(2);
    length.writeUInt16LE(Buffer.byteLength(topic));
    return Buffer.concat([length, Buffer.from(topic), Buffer.from(payload)]);
  };
  t.not(contentHash(content('a/b', 'c')), contentHash(content('a/bc', '')));
  t.equal(contentHash(content('a/b', 'c')), contentHash(content('a/b', 'c')));
});

t.test(
  'the recent messages remember at least half their capacity of the most recent pairs, at most all',
  async (t) => {
    const recent = new RecentMessages(4);
    recent.set('c', 1, known(1));
    recent.set('c', 2, known(1));
    t.equal(recent.get('c', 1)?.connection, 1, 'seen again: recent once more');
    recent.set('c', 3, known(1));
    recent.set('c', 4, known(1));
    t.ok(recent.size <= 4, `at most the capacity (${recent.size})`);
    t.equal(recent.get('c', 2), undefined, 'the pair not seen since three others were is gone');
    t.ok(recent.get('c', 3) && recent.get('c', 4), 'the two most recent are kept');
    t.equal(recent.get('d', 3), undefined, 'pairs are per client id');
    recent.set('c', 4, known(9));
    t.equal(recent.get('c', 4)?.connection, 9, 'the newest message under a pair replaces the older');
    for (let id = 10; id < 1000; id++) recent.set('c', id, known(1));
    t.ok(recent.size <= 4, 'bounded');
    t.ok(recent.get('c', 999) && recent.get('c', 998), 'the two most recent are kept');
  },
);

t.test(
  "a sender's last messages are remembered whatever the others sent since; bounded per sender and in senders",
  async (t) => {
    const messages = new SendersMessages(4, 3, 10);
    messages.set('quiet', 1, known(1));
    messages.set('quiet', 2, known(1));
    for (let id = 1; id <= 1000; id++) messages.set(`busy-${id % 4}`, id, known(1));
    t.ok(
      messages.get('quiet', 1) && messages.get('quiet', 2),
      "past the recent window: the sender's own last",
    );
    t.ok(messages.get('busy-0', 1000) && messages.get('busy-0', 992), "another's last three");
    t.equal(messages.get('busy-0', 988), undefined, 'not its fourth last');
    messages.set('quiet', 2, known(5));
    messages.set('quiet', 3, known(1));
    messages.set('quiet', 4, known(1));
    t.equal(messages.get('quiet', 2)?.connection, 5, 'set again: among its last three');
    t.equal(messages.get('quiet', 1), undefined, 'its oldest is forgotten');
    t.ok(messages.size <= 4 + 5 * 3, `at most the window and 3 per sender (${messages.size})`);
    for (let n = 0; n < 25; n++) messages.set(`passing-${n}`, 1, known(1));
    t.equal(messages.get('quiet', 3), undefined, 'a sender not heard from while 20 others were: forgotten');
    t.ok(messages.size <= 4 + 20 * 3, `at most the senders' bound (${messages.size})`);
    messages.set('late', 9, { hash: 'h1', connection: 1, seq: 50 });
    messages.forget('late', 9, 49);
    t.equal(messages.get('late', 9), undefined, 'an append that failed is forgotten in both memories');
  },
);
