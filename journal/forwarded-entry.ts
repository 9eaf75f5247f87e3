import type { JournalEntry, MessageSender } from './journal.ts';

/**
 * A journal entry forwarded from one journal to another: how a stand-alone `wesprint broker` hands the device
 * messages it journaled to the gateway's MQTT intake (issue 10, the split shape).
 *
 * Why: without it a device's message had two identities on its way, and neither survived a broker crash. The
 * broker PUBACKs a device once the message is journaled; a device whose PUBACK the crash swallowed sends the
 * message again on a new connection, and the gateway got it twice: routed by the old run into its session
 * and by the new run with a new packet id, stamped by the intake at each arrival, so the store's key (site,
 * device, channel, quantity, ts) could not catch the second. Forwarded, a message carries its place in the
 * broker's journal (origin, position) and its arrival time there: the broker's journal recognises the
 * device's resend (it is not journaled again, so not forwarded again), an entry forwarded twice (the
 * broker's cursor of what it forwarded lags its crash) is recognised by the intake's journal by that place,
 * and even one appended twice decodes to the very same readings, which the store keeps once.
 *
 * MQTT 3.1.1 (aedes) has no user properties, so the entry travels in the payload of a message on a topic of
 * its own, which only the broker publishes and only the gateway's account reads:
 *
 *     u8   version (2; 1 is still read: no device below)
 *     u8   flags: 1 retained replay, 2 has a device
 *     f64  position in the origin's journal
 *     f64  receivedAt (epoch ms) there
 *     u8   origin byte length
 *     ...  origin, UTF-8 (the broker journal's name: one per broker, one per node of a cluster)
 *     (version 2, flag 2 only)
 *     u16  the device's packet id
 *     u16  the device's client id, byte length
 *     ...  client id, UTF-8
 *     u16  topic byte length
 *     ...  topic, UTF-8
 *     ...  payload (the rest)
 *
 * The device (its client id and packet id, as the origin's journal identified the message): on a cluster a
 * device whose PUBACK was lost when its node died sends the message again to another node, whose journal
 * never saw it and journals it anew, under another origin and position. The gateway's intake recognises it
 * by the device's identity instead (gateway/moved-device-repeats.ts).
 */

/**
 * The topic of the forwarded journal entries: one per broker, whatever sites it serves (the gateway serves them
 * all). A `$`-topic, which no wildcard subscription matches.
 */
export const JOURNAL_FEED_TOPIC = '$wesprint/journal';

/** An entry as the receiving side sees it: where it was journaled first, and what. */
export interface ForwardedEntry {
  origin: string;
  seq: number;
  receivedAt: number;
  retainedReplay: boolean;
  topic: string;
  payload: Buffer;
  /** The device that sent it (QoS 1): client id and packet id. */
  device?: { clientId: string; messageId: number };
}

const VERSION = 2;
const FLAG_RETAINED_REPLAY = 1;
const FLAG_DEVICE = 2;
const FIXED = 1 + 1 + 8 + 8 + 1;

export function encodeForwardedEntry(origin: string, entry: JournalEntry): Buffer {
  const originBytes = Buffer.byteLength(origin, 'utf8');
  if (originBytes === 0 || originBytes > 0xff) throw new RangeError(`origin must be 1-255 bytes: ${origin}`);
  const topicBytes = Buffer.byteLength(entry.topic, 'utf8');
  if (topicBytes > 0xffff) throw new RangeError(`topic longer than 65535 bytes: ${topicBytes}`);
  const device = entry.sender;
  const deviceBytes = device ? Buffer.byteLength(device.clientId, 'utf8') : 0;
  if (deviceBytes > 0xffff) throw new RangeError(`client id longer than 65535 bytes: ${deviceBytes}`);
  const bytes = Buffer.allocUnsafe(
    FIXED + originBytes + (device ? 4 + deviceBytes : 0) + 2 + topicBytes + entry.payload.length,
  );
  let at = bytes.writeUInt8(VERSION, 0);
  at = bytes.writeUInt8((entry.retainedReplay ? FLAG_RETAINED_REPLAY : 0) | (device ? FLAG_DEVICE : 0), at);
  at = bytes.writeDoubleLE(entry.seq, at);
  at = bytes.writeDoubleLE(entry.receivedAt, at);
  at = bytes.writeUInt8(originBytes, at);
  at += bytes.write(origin, at, 'utf8');
  if (device) {
    at = bytes.writeUInt16LE(device.messageId, at);
    at = bytes.writeUInt16LE(deviceBytes, at);
    at += bytes.write(device.clientId, at, 'utf8');
  }
  at = bytes.writeUInt16LE(topicBytes, at);
  at += bytes.write(entry.topic, at, 'utf8');
  entry.payload.copy(bytes, at);
  return bytes;
}

/** The forwarded entry, or a one-line reason why these bytes are not one. */
export function decodeForwardedEntry(bytes: Buffer): ForwardedEntry | { error: string } {
  if (bytes.length < FIXED + 1 + 2)
    return { error: `too short for a forwarded entry (${bytes.length} bytes)` };
  const version = bytes[0];
  if (version !== VERSION && version !== 1) return { error: `unknown forwarded entry version ${version}` };
  const flags = bytes[1] as number;
  const seq = bytes.readDoubleLE(2);
  const receivedAt = bytes.readDoubleLE(10);
  if (!Number.isSafeInteger(seq) || seq < 1) return { error: `implausible position ${seq}` };
  if (!Number.isFinite(receivedAt)) return { error: 'implausible arrival time' };
  const originEnd = FIXED + (bytes[FIXED - 1] as number);
  if (originEnd === FIXED || originEnd + 2 > bytes.length)
    return { error: 'origin length exceeds the entry' };
  let topicStart = originEnd;
  let device: ForwardedEntry['device'];
  if (version === 2 && (flags & FLAG_DEVICE) !== 0) {
    if (originEnd + 4 > bytes.length) return { error: 'device exceeds the entry' };
    const deviceEnd = originEnd + 4 + bytes.readUInt16LE(originEnd + 2);
    if (deviceEnd + 2 > bytes.length) return { error: 'device length exceeds the entry' };
    device = {
      clientId: bytes.toString('utf8', originEnd + 4, deviceEnd),
      messageId: bytes.readUInt16LE(originEnd),
    };
    topicStart = deviceEnd;
  }
  const topicEnd = topicStart + 2 + bytes.readUInt16LE(topicStart);
  if (topicEnd > bytes.length) return { error: 'topic length exceeds the entry' };
  return {
    origin: bytes.toString('utf8', FIXED, originEnd),
    seq,
    receivedAt,
    retainedReplay: (flags & FLAG_RETAINED_REPLAY) !== 0,
    topic: bytes.toString('utf8', topicStart + 2, topicEnd),
    payload: Buffer.from(bytes.subarray(topicEnd)),
    ...(device ? { device } : {}),
  };
}

/**
 * The identity a forwarded entry gets in the receiving journal (journal/retransmission.ts): its origin and
 * position, the same whoever delivers it how often. The journal's identity is a client id and a 16-bit
 * packet id, so the position is split across the two: 65,536 positions per client id. Always DUP: the same
 * place with the same content is the same message, on any connection.
 */
export function forwardedSender(origin: string, seq: number): MessageSender {
  return {
    clientId: `${origin}#${Math.floor(seq / 65_536)}`,
    connection: Number.NEGATIVE_INFINITY,
    messageId: seq % 65_536,
    dup: true,
  };
}
