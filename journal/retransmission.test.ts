import t from 'tap';
import { contentHash, isRetransmission, type KnownMessage, RecentMessages } from './retransmission.ts';

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

t.test('the recent messages forget the least recently seen pair first', async (t) => {
  const recent = new RecentMessages(2);
  recent.set('c', 1, known(1));
  recent.set('c', 2, known(1));
  recent.set('c', 1, known(2)); // seen again: now the most recent
  recent.set('c', 3, known(1));
  t.equal(recent.size, 2);
  t.equal(recent.get('c', 2), undefined, 'the least recently seen pair is gone');
  t.equal(recent.get('c', 1)?.connection, 2);
  t.ok(recent.get('c', 3));
  t.equal(recent.get('d', 3), undefined, 'pairs are per client id');
});
