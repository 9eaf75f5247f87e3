import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { KnownMessage, SenderMessages } from './retransmission.ts';
import { syncDirectory } from './segment-file.ts';

/**
 * The senders' own last messages on disk (issue 10: a device's DUP retransmission counts as the same message,
 * whenever it comes). The journal remembers each device's last 64 messages however long ago it sent them
 * (`SendersMessages`), but in memory only, and the segments holding them are deleted once every reader is
 * done with them: after a restart a device's resend of a message whose PUBACK was lost long ago was journaled
 * again. The snapshot holds what the journal remembered of each sender up to a position; the journal deletes
 * no segment holding a record after it, so the snapshot and the segments after it always give every
 * sender's last messages back.
 *
 * Binary, little-endian, one file (senders.snapshot), replaced whole (temp file, fdatasync, rename, fsync of
 * the directory):
 *
 *     "WSSM"  u32 version (1)  f64 the position it covers (every record up to it, none after)
 *     per sender, the least recently heard first:
 *       u16 client id byte length, client id (UTF-8), u16 messages,
 *       per message, the oldest first: u16 packet id, f64 position, 20 bytes SHA-1 of its content
 *     u32 senders  u32 CRC-32 of every byte before it
 */

export const SNAPSHOT_FILE = 'senders.snapshot';
const MAGIC = 'WSSM';
const VERSION = 1;
const HEADER_BYTES = 16;
const TRAILER_BYTES = 8;
const MESSAGE_BYTES = 2 + 8 + 20;
const HASH_BYTES = 20;
/**
 * Bytes encoded between two writes: each write hands the event loop back, so the broker serves its devices
 * while 20,000 senders (~38 MB) are written, instead of stopping for the whole encoding at once.
 */
const CHUNK_BYTES = 256 * 1024;

export interface RestoredSender {
  clientId: string;
  /** Packet id, position, content hash: the oldest first. */
  messages: { messageId: number; seq: number; hash: string }[];
}

export interface SendersSnapshot {
  /** Every record up to this position is in it, none after. */
  seq: number;
  senders: RestoredSender[];
}

export interface WrittenSnapshot {
  bytes: number;
  senders: number;
  messages: number;
}

/**
 * Writes what is known of each sender's messages journaled up to `seq` (a message still being written, after
 * `seq`, is left out: it may never be committed). The senders' memories may change while it is written (the
 * broker goes on); each message is taken as it is when its sender is encoded, and only those up to `seq`.
 */
export async function writeSendersSnapshot(
  dir: string,
  seq: number,
  senders: [string, SenderMessages][],
): Promise<WrittenSnapshot> {
  const file = path.join(dir, SNAPSHOT_FILE);
  const temp = `${file}.tmp`;
  const handle = await fs.open(temp, 'w');
  let crc = 0;
  let bytes = 0;
  let messages = 0;
  const write = async (chunk: Buffer) => {
    crc = zlib.crc32(chunk, crc);
    bytes += chunk.length;
    let written = 0;
    while (written < chunk.length)
      written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
  };
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(VERSION, 4);
    header.writeDoubleLE(seq, 8);
    await write(header);
    let parts: Buffer[] = [];
    let pending = 0;
    for (const [clientId, own] of senders) {
      const held = own.entries().filter(([, known]) => known.seq <= seq);
      const idBytes = Buffer.byteLength(clientId, 'utf8');
      const part = Buffer.allocUnsafe(2 + idBytes + 2 + held.length * MESSAGE_BYTES);
      let at = part.writeUInt16LE(idBytes, 0);
      at += part.write(clientId, at, 'utf8');
      at = part.writeUInt16LE(held.length, at);
      for (const [messageId, known] of held) {
        at = part.writeUInt16LE(messageId, at);
        at = part.writeDoubleLE(known.seq, at);
        if (part.write(known.hash, at, HASH_BYTES, 'base64') !== HASH_BYTES)
          throw new Error(`a content hash of ${clientId} is not SHA-1: ${known.hash}`);
        at += HASH_BYTES;
      }
      messages += held.length;
      parts.push(part);
      pending += part.length;
      if (pending >= CHUNK_BYTES) {
        await write(Buffer.concat(parts, pending));
        parts = [];
        pending = 0;
      }
    }
    if (pending > 0) await write(Buffer.concat(parts, pending));
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer.writeUInt32LE(senders.length, 0);
    crc = zlib.crc32(trailer.subarray(0, 4), crc);
    trailer.writeUInt32LE(crc, 4);
    await handle.write(trailer);
    bytes += TRAILER_BYTES;
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  await syncDirectory(dir);
  return { bytes, senders: senders.length, messages };
}

/** The snapshot in `dir`; undefined when there is none; throws when it cannot be read (damaged, torn). */
export async function readSendersSnapshot(dir: string): Promise<SendersSnapshot | undefined> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(path.join(dir, SNAPSHOT_FILE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (buf.length < HEADER_BYTES + TRAILER_BYTES) throw new Error(`only ${buf.length} bytes`);
  const crcAt = buf.length - 4;
  if (zlib.crc32(buf.subarray(0, crcAt)) !== buf.readUInt32LE(crcAt)) throw new Error('CRC mismatch');
  if (buf.toString('latin1', 0, 4) !== MAGIC || buf.readUInt32LE(4) !== VERSION)
    throw new Error('not a senders snapshot of this version');
  const seq = buf.readDoubleLE(8);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`implausible position ${seq}`);
  const end = buf.length - TRAILER_BYTES;
  const senders: RestoredSender[] = [];
  let at = HEADER_BYTES;
  const need = (bytes: number) => {
    if (at + bytes > end) throw new Error(`sender ${senders.length} runs past the end`);
  };
  while (at < end) {
    need(2);
    const idBytes = buf.readUInt16LE(at);
    need(2 + idBytes + 2);
    const clientId = buf.toString('utf8', at + 2, at + 2 + idBytes);
    const count = buf.readUInt16LE(at + 2 + idBytes);
    at += 2 + idBytes + 2;
    need(count * MESSAGE_BYTES);
    const messages: RestoredSender['messages'] = [];
    for (let i = 0; i < count; i++, at += MESSAGE_BYTES)
      messages.push({
        messageId: buf.readUInt16LE(at),
        seq: buf.readDoubleLE(at + 2),
        hash: buf.toString('base64', at + 10, at + 10 + HASH_BYTES),
      });
    senders.push({ clientId, messages });
  }
  if (buf.readUInt32LE(end) !== senders.length)
    throw new Error(`${senders.length} senders where it says ${buf.readUInt32LE(end)}`);
  return { seq, senders };
}

/** What `restoreOwn` is given for a message of the snapshot: it came on a connection of an earlier process. */
export function restoredMessage(message: RestoredSender['messages'][number]): KnownMessage {
  return { hash: message.hash, connection: Number.NEGATIVE_INFINITY, seq: message.seq };
}
