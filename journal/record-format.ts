import zlib from 'node:zlib';
import type { ArrivingMessage, JournalEntry } from './journal.ts';

/**
 * One journal record on disk, little-endian, framed so that a record cut short or scribbled over by a crash
 * (kill -9 mid-write, power lost before the fsync) is recognised when the segment is read again:
 *
 *     u32  body length
 *     u32  CRC-32 of the body
 *     body:
 *       u32  seq, low 32 bits      (two halves: positions go past 2^32, never past 2^53)
 *       u32  seq, high bits
 *       f64  receivedAt (epoch ms)
 *       u8   flags: 1 retained replay, 2 has a sender
 *       u16  the sender's packet id (0 without a sender)
 *       u16  the sender's client id, byte length (0 without a sender)
 *       ...  client id, UTF-8
 *       u16  topic byte length     <- the identity of the content covers from here to the end
 *       ...  topic, UTF-8
 *       ...  payload (the rest of the body)
 *
 * 16-bit lengths suffice: MQTT's UTF-8 strings (topic names, client ids) carry a two-byte length [MQTT-1.5.3].
 * The topic's length is part of the hashed content, so topic "a/b" + payload "c" differs from "a/bc" + "".
 */

const FRAME_HEADER = 8;
/** The bytes before a record's body (length and CRC). */
export const FRAME_HEADER_BYTES = FRAME_HEADER;
/** The body's bytes before the client id. */
const BODY_FIXED = 4 + 4 + 8 + 1 + 2 + 2;
/** The smallest body: no client id, an empty topic, an empty payload. */
const BODY_MIN = BODY_FIXED + 2;
/**
 * A length above this is garbage, not a record: MQTT's largest packet is 256 MB [MQTT-2.2.3] plus our
 * header; reading it as a length would make recovery wait for bytes that never come.
 */
const BODY_MAX = 268_435_455 + BODY_FIXED + 2 + 65_535 * 2;

const FLAG_RETAINED_REPLAY = 1;
const FLAG_SENDER = 2;
const TWO_32 = 2 ** 32;

/** A record encoded for appending, with views into it that the journal keeps instead of copies. */
export interface EncodedRecord {
  bytes: Buffer;
  /** The payload's bytes inside `bytes`: the in-memory entry shares them. */
  payload: Buffer;
  /** Topic length, topic and payload inside `bytes`: what a retransmission must repeat. */
  content: Buffer;
}

export function encodeRecord(seq: number, message: ArrivingMessage): EncodedRecord {
  const sender = message.sender;
  const clientIdBytes = sender ? Buffer.byteLength(sender.clientId, 'utf8') : 0;
  const topicBytes = Buffer.byteLength(message.topic, 'utf8');
  if (topicBytes > 0xffff) throw new RangeError(`topic longer than 65535 bytes: ${topicBytes}`);
  if (clientIdBytes > 0xffff) throw new RangeError(`client id longer than 65535 bytes: ${clientIdBytes}`);
  const bodyLength = BODY_FIXED + clientIdBytes + 2 + topicBytes + message.payload.length;
  if (bodyLength > BODY_MAX) throw new RangeError(`message too large for the journal: ${bodyLength} bytes`);
  const bytes = Buffer.allocUnsafe(FRAME_HEADER + bodyLength);
  let at = FRAME_HEADER;
  at = bytes.writeUInt32LE(seq % TWO_32, at);
  at = bytes.writeUInt32LE(Math.floor(seq / TWO_32), at);
  at = bytes.writeDoubleLE(message.receivedAt, at);
  at = bytes.writeUInt8((message.retainedReplay ? FLAG_RETAINED_REPLAY : 0) | (sender ? FLAG_SENDER : 0), at);
  at = bytes.writeUInt16LE(sender ? sender.messageId : 0, at);
  at = bytes.writeUInt16LE(clientIdBytes, at);
  if (sender) at += bytes.write(sender.clientId, at, 'utf8');
  const contentStart = at;
  at = bytes.writeUInt16LE(topicBytes, at);
  at += bytes.write(message.topic, at, 'utf8');
  message.payload.copy(bytes, at);
  bytes.writeUInt32LE(bodyLength, 0);
  bytes.writeUInt32LE(zlib.crc32(bytes.subarray(FRAME_HEADER)), 4);
  return { bytes, payload: bytes.subarray(at), content: bytes.subarray(contentStart) };
}

/** What `frameAt` finds at a position of a buffer read from a segment. */
export type Frame =
  /** A whole record whose CRC holds: its body is buf[bodyStart, end). */
  | { kind: 'record'; bodyStart: number; end: number }
  /** The buffer ends inside a record: `needed` bytes from the position would hold it. */
  | { kind: 'incomplete'; needed: number }
  /** Not a record: a torn write or garbage. */
  | { kind: 'corrupt'; reason: string };

/** Looks at the record starting at `pos`, using the bytes of `buf` before `limit`. */
export function frameAt(buf: Buffer, pos: number, limit: number): Frame {
  if (limit - pos < FRAME_HEADER) return { kind: 'incomplete', needed: FRAME_HEADER };
  const bodyLength = buf.readUInt32LE(pos);
  if (bodyLength < BODY_MIN || bodyLength > BODY_MAX)
    return { kind: 'corrupt', reason: `implausible record length ${bodyLength}` };
  const end = pos + FRAME_HEADER + bodyLength;
  if (end > limit) return { kind: 'incomplete', needed: FRAME_HEADER + bodyLength };
  const bodyStart = pos + FRAME_HEADER;
  if (zlib.crc32(buf.subarray(bodyStart, end)) !== buf.readUInt32LE(pos + 4))
    return { kind: 'corrupt', reason: 'CRC mismatch' };
  const clientIdEnd = bodyStart + BODY_FIXED + buf.readUInt16LE(bodyStart + 19);
  if (clientIdEnd + 2 > end || clientIdEnd + 2 + buf.readUInt16LE(clientIdEnd) > end)
    return { kind: 'corrupt', reason: 'lengths inside the record exceed it' };
  return { kind: 'record', bodyStart, end };
}

/** The position of a framed record. */
export function recordSeq(buf: Buffer, bodyStart: number): number {
  return buf.readUInt32LE(bodyStart) + buf.readUInt32LE(bodyStart + 4) * TWO_32;
}

/** The whole entry of a framed record; its payload is a copy, so the read buffer can be reused or dropped. */
export function decodeEntry(buf: Buffer, bodyStart: number, end: number): JournalEntry {
  const clientIdEnd = bodyStart + BODY_FIXED + buf.readUInt16LE(bodyStart + 19);
  const topicEnd = clientIdEnd + 2 + buf.readUInt16LE(clientIdEnd);
  const flags = buf[bodyStart + 16] as number;
  return {
    seq: recordSeq(buf, bodyStart),
    receivedAt: buf.readDoubleLE(bodyStart + 8),
    retainedReplay: (flags & FLAG_RETAINED_REPLAY) !== 0,
    topic: buf.toString('utf8', clientIdEnd + 2, topicEnd),
    payload: Buffer.from(buf.subarray(topicEnd, end)),
    ...((flags & FLAG_SENDER) !== 0
      ? {
          sender: {
            clientId: buf.toString('utf8', bodyStart + BODY_FIXED, clientIdEnd),
            messageId: buf.readUInt16LE(bodyStart + 17),
          },
        }
      : {}),
  };
}

/** Who sent a framed record (client id, packet id) and its content bytes, or undefined without a sender. */
export function decodeSender(
  buf: Buffer,
  bodyStart: number,
  end: number,
): { clientId: string; messageId: number; content: Buffer } | undefined {
  if (((buf[bodyStart + 16] as number) & FLAG_SENDER) === 0) return undefined;
  const clientIdStart = bodyStart + BODY_FIXED;
  const clientIdEnd = clientIdStart + buf.readUInt16LE(bodyStart + 19);
  return {
    clientId: buf.toString('utf8', clientIdStart, clientIdEnd),
    messageId: buf.readUInt16LE(bodyStart + 17),
    content: buf.subarray(clientIdEnd, end),
  };
}
