import fs from 'node:fs/promises';
import path from 'node:path';
import { type Frame, frameAt } from './record-format.ts';

/**
 * The journal's segment files: append-only, each named by the position of its first record
 * (000000000001.journal), so that the file holding a position is found from the directory listing alone.
 */

const NAME = /^(\d{12,16})\.journal$/;

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(12, '0')}.journal`;
}

/** The first positions of the segments in `dir`, ascending. */
export async function listSegments(dir: string): Promise<number[]> {
  const names = await fs.readdir(dir);
  return names
    .map((name) => NAME.exec(name)?.[1])
    .filter((first): first is string => first !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * Makes a directory's entries durable: a new file's data can be fsync'd and still vanish with its name after
 * a power cut unless the directory is fsync'd too (fsync(2): "does not necessarily ensure that the entry in
 * the directory containing the file has also reached disk").
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** How a scan ended: at `offset`, cleanly at the end asked for, or at a record that is not whole (`torn`). */
export interface ScanEnd {
  offset: number;
  torn: boolean;
  reason?: string;
}

/**
 * Called for each whole record with the buffer it sits in; the buffer is reused after the call returns, so
 * copy what you keep. Return false to stop after this record.
 */
export type RecordVisitor = (
  buf: Buffer,
  frame: Extract<Frame, { kind: 'record' }>,
  offset: number,
) => boolean;

const CHUNK_BYTES = 1 << 20;

/**
 * Reads the records of an open segment from `from` to `end` in chunks of a megabyte (one read per chunk on
 * libuv's pool, never a synchronous call: the event loop serves the broker). Stops at the first record that
 * is cut short or fails its CRC, the torn tail a crash leaves.
 */
export async function scanRecords(
  file: fs.FileHandle,
  from: number,
  end: number,
  visit: RecordVisitor,
): Promise<ScanEnd> {
  let chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(end - from, 1)));
  let offset = from;
  while (offset < end) {
    const want = Math.min(chunk.length, end - offset);
    const got = await readAt(file, chunk, want, offset);
    let pos = 0;
    for (;;) {
      if (pos === got) break;
      const frame = frameAt(chunk, pos, got);
      if (frame.kind === 'corrupt') return { offset: offset + pos, torn: true, reason: frame.reason };
      if (frame.kind === 'incomplete') {
        if (offset + pos + frame.needed > end || got < want)
          return { offset: offset + pos, torn: true, reason: 'record cut short' };
        if (pos === 0) chunk = Buffer.allocUnsafe(frame.needed);
        break;
      }
      if (!visit(chunk, frame, offset + pos)) return { offset: offset + frame.end, torn: false };
      pos = frame.end;
    }
    if (got === 0) return { offset, torn: true, reason: 'file shorter than expected' };
    offset += pos;
  }
  return { offset, torn: false };
}

/** Reads `length` bytes at `position` into the start of `buf` (fewer only at the end of the file). */
async function readAt(file: fs.FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await file.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

export function segmentPath(dir: string, firstSeq: number): string {
  return path.join(dir, segmentName(firstSeq));
}
