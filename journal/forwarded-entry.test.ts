import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  decodeForwardedEntry,
  encodeForwardedEntry,
  type ForwardedEntry,
  forwardedSender,
  JOURNAL_FEED_TOPIC,
} from './forwarded-entry.ts';
import { openJournal } from './segment-journal.ts';

const entry = {
  seq: 70_001,
  receivedAt: 1_796_000_000_123,
  retainedReplay: false,
  topic: 'shellies/shellyplug-s-BC9EFF/relay/0/power',
  payload: Buffer.from('12.5'),
};

t.test('a forwarded entry keeps its origin, position, arrival time, topic and payload', async (t) => {
  const decoded = decodeForwardedEntry(encodeForwardedEntry('kaufhaus-a1b2', entry)) as ForwardedEntry;
  t.same(decoded, { origin: 'kaufhaus-a1b2', ...entry });
  const replay = decodeForwardedEntry(
    encodeForwardedEntry('o', { ...entry, retainedReplay: true, topic: 'ü/x', payload: Buffer.alloc(0) }),
  ) as ForwardedEntry;
  t.equal(replay.retainedReplay, true);
  t.equal(replay.topic, 'ü/x');
  t.equal(replay.payload.length, 0);
  t.equal(JOURNAL_FEED_TOPIC, '$wesprint/journal');
});

t.test(
  'a device message is forwarded with its device (client id, packet id); version 1 is still read',
  async (t) => {
    const device = { clientId: 'shellyplug-s-BC9EFF', messageId: 65_535 };
    const decoded = decodeForwardedEntry(
      encodeForwardedEntry('kaufhaus-a1b2', { ...entry, sender: device }),
    ) as ForwardedEntry;
    t.same(decoded, { origin: 'kaufhaus-a1b2', ...entry, device });
    // A node not yet upgraded: the same entry in version 1 (no flag 2, no device).
    const v1 = Buffer.from(encodeForwardedEntry('kaufhaus-a1b2', entry));
    v1[0] = 1;
    t.same(decodeForwardedEntry(v1), { origin: 'kaufhaus-a1b2', ...entry });
    const cut = encodeForwardedEntry('o', { ...entry, sender: device });
    t.ok('error' in decodeForwardedEntry(cut.subarray(0, 19 + 1 + 3)), 'a device cut short is refused');
  },
);

t.test('bytes that are not a forwarded entry say why, in one line', async (t) => {
  const good = encodeForwardedEntry('kaufhaus-a1b2', entry);
  const bad = (b: Buffer) => ('error' in decodeForwardedEntry(b) ? 'refused' : 'taken');
  t.equal(bad(Buffer.from('{"power":12}')), 'refused', 'a plain payload');
  t.equal(bad(good.subarray(0, 10)), 'refused', 'cut short');
  const otherVersion = Buffer.from(good);
  otherVersion[0] = 9;
  t.equal(bad(otherVersion), 'refused', 'another version');
  const longTopic = Buffer.from(good);
  longTopic.writeUInt16LE(0xffff, 19 + 'kaufhaus-a1b2'.length);
  t.equal(bad(longTopic), 'refused', 'a topic length past the end');
  const noPosition = Buffer.from(good);
  noPosition.writeDoubleLE(0.5, 2);
  t.equal(bad(noPosition), 'refused', 'a position that is none');
});

t.test(
  'the identity of a forwarded entry is its origin and position, across 16-bit packet ids',
  async (t) => {
    const a = forwardedSender('o', 70_001);
    t.same(forwardedSender('o', 70_001), a, 'the same place: the same identity');
    t.ok(a.dup, 'always a possible repeat');
    const others = [
      forwardedSender('o', 70_002),
      forwardedSender('o', 70_001 + 65_536),
      forwardedSender('p', 70_001),
    ];
    for (const b of others)
      t.not(
        `${b.clientId}/${b.messageId}`,
        `${a.clientId}/${a.messageId}`,
        'another place: another identity',
      );
    t.ok(a.messageId >= 0 && a.messageId < 65_536);
  },
);

t.test(
  "the receiving journal appends an entry forwarded twice once, also after it was reopened (the receiver's crash)",
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-forwarded-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const forward = (seq: number, payload = entry.payload) => {
      const f = decodeForwardedEntry(encodeForwardedEntry('o', { ...entry, seq, payload })) as ForwardedEntry;
      return {
        topic: f.topic,
        payload: f.payload,
        receivedAt: f.receivedAt,
        retainedReplay: f.retainedReplay,
        sender: forwardedSender(f.origin, f.seq),
      };
    };
    let journal = await openJournal(dir);
    t.same(await journal.append(forward(5)), { seq: 1, duplicate: false });
    t.same(
      await journal.append(forward(6)),
      { seq: 2, duplicate: false },
      'same content, next position: new',
    );
    t.same(await journal.append(forward(5)), { seq: 1, duplicate: true }, 'forwarded again: recognised');
    await journal.close();
    journal = await openJournal(dir);
    t.same(await journal.append(forward(6)), { seq: 2, duplicate: true }, 'after reopening too');
    t.same(await journal.append(forward(7)), { seq: 3, duplicate: false });
    await journal.close();
  },
);
