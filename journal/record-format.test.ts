import t from 'tap';
import type { ArrivingMessage } from './journal.ts';
import { decodeEntry, decodeSender, encodeRecord, frameAt, recordSeq } from './record-format.ts';

const message: ArrivingMessage = {
  topic: 'shellies/küche-lüfter/relay/0',
  payload: Buffer.from([0, 1, 2, 255]),
  receivedAt: 1_765_000_000_123,
  retainedReplay: true,
  sender: { clientId: 'ßensor-1', connection: 3, messageId: 65_535, dup: true },
};

t.test('a record reads back as it was written, positions past 2^32 included', async (t) => {
  const seq = 2 ** 40 + 17;
  const { bytes, payload, content } = encodeRecord(seq, message);
  const frame = frameAt(bytes, 0, bytes.length);
  if (frame.kind !== 'record') throw new Error(`not a record: ${JSON.stringify(frame)}`);
  t.equal(frame.end, bytes.length);
  t.equal(recordSeq(bytes, frame.bodyStart), seq);
  t.same(decodeEntry(bytes, frame.bodyStart, frame.end), {
    seq,
    receivedAt: message.receivedAt,
    retainedReplay: true,
    topic: message.topic,
    payload: message.payload,
    // Who sent it rides along with the entry (a broker node forwards it, journal/forwarded-entry.ts).
    sender: { clientId: 'ßensor-1', messageId: 65_535 },
  });
  const sender = decodeSender(bytes, frame.bodyStart, frame.end);
  t.equal(sender?.clientId, 'ßensor-1');
  t.equal(sender?.messageId, 65_535);
  t.ok(sender?.content.equals(content), 'the identity covers the same bytes read back as written');
  t.ok(payload.equals(message.payload));
  const { sender: _, ...withoutSender } = message;
  const plain = encodeRecord(1, withoutSender);
  const plainFrame = frameAt(plain.bytes, 0, plain.bytes.length);
  t.equal(
    plainFrame.kind === 'record' && decodeSender(plain.bytes, plainFrame.bodyStart, plainFrame.end),
    undefined,
  );
});

t.test('a record cut short, or with a byte changed, is no record', async (t) => {
  const { bytes } = encodeRecord(5, message);
  t.same(frameAt(bytes, 0, 5), { kind: 'incomplete', needed: 8 });
  t.same(frameAt(bytes, 0, bytes.length - 1), { kind: 'incomplete', needed: bytes.length });
  for (const at of [8, 20, bytes.length - 1]) {
    const damaged = Buffer.from(bytes);
    damaged[at] = (damaged[at] as number) ^ 0x10;
    t.match(frameAt(damaged, 0, damaged.length), { kind: 'corrupt', reason: 'CRC mismatch' }, `byte ${at}`);
  }
  const zeros = Buffer.alloc(64);
  t.match(frameAt(zeros, 0, zeros.length), { kind: 'corrupt' }, 'zeros (a file extended but not written)');
});
