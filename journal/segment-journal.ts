import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type {
  Appended,
  ArrivingMessage,
  JournalEntry,
  JournalStats,
  MessageJournal,
  MessageSender,
} from './journal.ts';
import {
  decodeEntry,
  decodeSender,
  type EncodedRecord,
  encodeRecord,
  FRAME_HEADER_BYTES,
  recordSeq,
} from './record-format.ts';
import { contentHash, isRetransmission, SendersMessages } from './retransmission.ts';
import { listSegments, scanRecords, segmentPath, syncDirectory } from './segment-file.ts';
import {
  readSendersSnapshot,
  restoredMessage,
  SNAPSHOT_FILE,
  writeSendersSnapshot,
} from './senders-snapshot.ts';

/**
 * The journal of device messages on segment files (journal/journal.ts says what it promises): a
 * write-ahead log with group commit. Every append is encoded and given its position at the call; the
 * appends of one turn of the event loop are written together (one write to a file opened with O_DSYNC), up
 * to MAX_WRITES groups side by side, committed in order, and the appends that arrive while that many run are
 * written together by the next one: a burst of a thousand messages costs a handful of disk writes, and none
 * of the I/O blocks the event loop the broker runs on.
 */

export interface JournalOptions {
  /** A segment is closed and the next one begun once it holds this many bytes (default 16 MiB). */
  segmentBytes?: number;
  /** The newest committed entries kept in memory for readers that keep up: at most this many… */
  recentEntries?: number;
  /** …and at most this many bytes of records (default 32 MiB). */
  recentBytes?: number;
  /**
   * (client id, packet id) pairs remembered for recognising retransmissions: at most this many, at least
   * half of it of the most recent (default 200,000: ~25 MB of heap when full)…
   */
  identities?: number;
  /**
   * …and, of each client id, its last this many pairs however long ago (default 64: a device's messages
   * without a PUBACK are its last ones; ~11 KB per device when full). See `SendersMessages`.
   */
  identitiesPerSender?: number;
  /** Records read back from the tail on open to remember their identities (default 100,000). */
  identityTail?: number;
  /** Cursors are written at most this often (default 200 ms), and on close. */
  cursorWriteMs?: number;
  /**
   * A step before each group's write (none by default): a test holds the disk here, as a slow disk would
   * (the group's appends, their PUBACKs and the commit wait), or fails the write by throwing, as a disk that
   * refused it (the group and those after it are rejected, the file cut back, and appending goes on).
   */
  beforeWrite?: (group: { firstSeq: number; lastSeq: number }) => Promise<void>;
  /**
   * The senders' own last messages are written to disk (journal/senders-snapshot.ts) at most this often
   * (default 5 s), and on close: once this many records came since the last (default 100,000: what open
   * reads back after it), and before a segment read by every reader is deleted.
   */
  snapshotMs?: number;
  snapshotRecords?: number;
  /** Told, once, when the senders' snapshot cannot be read on open, or when writing it failed. */
  warn?: (message: string) => void;
}

type Settings = Required<Omit<JournalOptions, 'beforeWrite'>> & Pick<JournalOptions, 'beforeWrite'>;

const DEFAULTS: Settings = {
  segmentBytes: 16 * 1024 * 1024,
  recentEntries: 20_000,
  recentBytes: 32 * 1024 * 1024,
  identities: 200_000,
  identitiesPerSender: 64,
  identityTail: 100_000,
  cursorWriteMs: 200,
  snapshotMs: 5_000,
  snapshotRecords: 100_000,
  warn: (message) => process.emitWarning(message, 'WesprintJournal'),
};

/**
 * The active segment is opened with O_DSYNC where the platform has it: each write returns once its data (and
 * the file's size) is on disk, as write + fdatasync did, in one system call and one trip through libuv's
 * thread pool instead of two. 0 where there is no O_DSYNC: write, then fdatasync.
 */
const DSYNC = constants.O_DSYNC ?? 0;
/**
 * Group writes under way at once. One at a time, a publisher with a bounded window of unacknowledged
 * messages (a bridge, the bench's) waits for every commit twice: its messages gather while the previous
 * write runs, then wait for their own. On this 2-core machine's shared disk a write took 10-17 ms at the
 * median and 60-90 ms at the 90th percentile, and the ingest bench's rate followed that latency.
 */
const MAX_WRITES = 4;
/** Errors of a write refused before anything reached the disk: the file is cut back and appending goes on. */
const WRITE_REFUSED = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EINVAL']);
const CURSORS_FILE = 'cursors.json';
/** A read from disk returns at most this many bytes of records: a reader far behind costs bounded memory. */
const READ_BYTES = 4 * 1024 * 1024;
/** Every this-many-th position gets its offset remembered, so a read seeks instead of scanning a segment. */
const INDEX_EVERY = 256;

/** The journal's warnings (an unreadable senders snapshot) in a service's log. */
export function journalWarnings(logger: { warn(obj: object, msg: string): void }): JournalOptions {
  return { warn: (message) => logger.warn({}, message) };
}

/** Opens (creating if need be) the journal in `dir`, recovering from a crash: see `SegmentJournal.open`. */
export async function openJournal(dir: string, options: JournalOptions = {}): Promise<MessageJournal> {
  return SegmentJournal.open(dir, { ...DEFAULTS, ...options });
}

interface Segment {
  firstSeq: number;
  path: string;
  /** Bytes up to the end of the last committed record: readers never look past it. */
  durableBytes: number;
  /** Positions and their offsets, ascending: every INDEX_EVERY-th record seen when writing or scanning. */
  indexSeqs: number[];
  indexOffsets: number[];
}

/** A failed fdatasync: what the file holds since the last one that succeeded is unknown. */
class SyncFailed extends Error {
  constructor(cause: unknown) {
    super(`fdatasync failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Appends written together by one write (+ fdatasync). */
interface Group {
  records: Buffer[];
  entries: JournalEntry[];
  /** The senders of its messages: their identities are forgotten if the group cannot be written. */
  senders: MessageSender[];
  bytes: number;
  lastSeq: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
  /** Once its write started: where in the active segment it goes, and whether the segment rolls first. */
  offset: number;
  roll: boolean;
  /** Its write is on disk (not yet committed: the groups before it may still be writing)… */
  written: boolean;
  /** …or failed. */
  error: Error | undefined;
}

function newGroup(): Group {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every append chains on `done`; this keeps a group whose appends all went away from an unhandled rejection.
  done.catch(() => {});
  return {
    records: [],
    entries: [],
    senders: [],
    bytes: 0,
    lastSeq: 0,
    done,
    resolve,
    reject,
    offset: 0,
    roll: false,
    written: false,
    error: undefined,
  };
}

/** A reader waiting for a commit after `after` (or, with `appendedAfter`, an append after that). */
interface Waiter {
  after: number;
  appendedAfter: number | undefined;
  resolve: () => void;
}

/** The newest committed entries, oldest first, bounded in count and bytes. */
class RecentEntries {
  /** Before `head`: dropped (undefined, so that their payloads can be collected at once). */
  private entries: (JournalEntry | undefined)[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  /** The position of the oldest entry held (Infinity when empty). */
  firstSeq(): number {
    return this.entries[this.head]?.seq ?? Number.POSITIVE_INFINITY;
  }

  push(entry: JournalEntry, size: number): void {
    this.entries.push(entry);
    this.sizes.push(size);
    this.bytes += size;
    while (this.entries.length - this.head > this.maxEntries || this.bytes > this.maxBytes) {
      this.bytes -= this.sizes[this.head] as number;
      this.entries[this.head] = undefined;
      this.head++;
    }
    // Drop the consumed front now and then instead of shifting on every push.
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Up to `limit` entries after `after`; the caller checks that `after + 1` is held. */
  slice(after: number, limit: number): JournalEntry[] {
    const first = this.entries[this.head];
    if (first === undefined) return [];
    const from = this.head + (after + 1 - first.seq);
    return this.entries.slice(from, Math.min(from + limit, this.entries.length)) as JournalEntry[];
  }
}

class SegmentJournal implements MessageJournal {
  private readonly segments: Segment[] = [];
  private active!: fs.FileHandle;
  /** Bytes written to the active segment, committed or in flight. */
  private activeBytes = 0;
  private lastAssigned = 0;
  private committedSeq = 0;
  private next: Group | null = null;
  /** Groups whose write started, in order; each is committed once it and every group before it are on disk. */
  private inFlight: Group[] = [];
  private pumpScheduled = false;
  /** After a failed write: the writes under way finishing, then the file cut back. */
  private recovering: Promise<void> | null = null;
  private closed = false;
  private failed: Error | null = null;
  private readonly recent: RecentEntries;
  private readonly identities: SendersMessages;
  private waiters: Waiter[] = [];
  /** Waiters that also wake on an append (`appendedAfter`): an append looks at the waiters only if any. */
  private appendWatchers = 0;
  private readonly cursors = new Map<string, number>();
  private cursorsDirty = false;
  private cursorTimer: NodeJS.Timeout | null = null;
  /** The cursors written last, and the chain of writes (one at a time, in order). */
  private savedCursors = new Map<string, number>();
  private cursorWrites: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;
  /**
   * Where the last read from disk ended: a reader that is behind reads batch after batch, and the next one
   * starts right there instead of at the nearest index point before it.
   */
  private readHint: { segment: Segment; seq: number; offset: number } | null = null;
  private readonly counts = {
    appended: 0,
    duplicates: 0,
    commits: 0,
    torn: 0,
    bytesOnDisk: 0,
    snapshots: 0,
    snapshotsUnreadable: 0,
  };
  /**
   * The position the senders' snapshot on disk covers (0: none). No segment with a record after it is
   * deleted: the snapshot and the segments from there give every sender's last messages back on open.
   */
  private snapshotSeq = 0;
  /** The snapshot being written, the timer that will start the next, when the last one started. */
  private snapshotting: Promise<void> | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private lastSnapshotAt = Number.NEGATIVE_INFINITY;
  private snapshotFailed = false;

  private constructor(
    private readonly dir: string,
    private readonly options: Settings,
  ) {
    this.recent = new RecentEntries(options.recentEntries, options.recentBytes);
    this.identities = new SendersMessages(options.identities, options.identitiesPerSender);
  }

  /**
   * Opens the journal: reads the cursors, scans the last segment and truncates a torn tail (records a crash
   * cut short were never acknowledged: append resolves only after fdatasync), then reads the tail of the
   * journal back to remember its newest entries and the identities of its messages, so that a device
   * retransmitting a message whose PUBACK the crash swallowed is answered with the original's position.
   */
  static async open(dir: string, options: Settings): Promise<SegmentJournal> {
    await fs.mkdir(dir, { recursive: true });
    const journal = new SegmentJournal(dir, options);
    await journal.readCursors();
    await journal.recover();
    return journal;
  }

  private async readCursors(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(path.join(this.dir, CURSORS_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      // Written to a temp file, fsync'd and renamed, so only a damaged disk gets here: say so, and what to
      // do (without the file every reader starts at the oldest entry kept, which replays but loses nothing).
      throw new Error(
        `the journal's cursors (${path.join(this.dir, CURSORS_FILE)}) cannot be read: ${(error as Error).message}; ` +
          'removing the file makes every reader start again at the oldest entry kept',
      );
    }
    for (const [name, seq] of Object.entries(parsed)) {
      if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) {
        this.cursors.set(name, seq);
        this.savedCursors.set(name, seq);
      }
    }
  }

  private async recover(): Promise<void> {
    const firsts = await listSegments(this.dir);
    for (const firstSeq of firsts) {
      const stat = await fs.stat(segmentPath(this.dir, firstSeq));
      this.counts.bytesOnDisk += stat.size;
      this.segments.push({
        firstSeq,
        path: segmentPath(this.dir, firstSeq),
        durableBytes: stat.size,
        indexSeqs: [firstSeq],
        indexOffsets: [0],
      });
    }
    if (this.segments.length === 0) {
      await fs.writeFile(segmentPath(this.dir, 1), '', { flag: 'wx' });
      await syncDirectory(this.dir);
      this.segments.push({
        firstSeq: 1,
        path: segmentPath(this.dir, 1),
        durableBytes: 0,
        indexSeqs: [1],
        indexOffsets: [0],
      });
    }
    const last = this.segments[this.segments.length - 1] as Segment;
    this.active = await fs.open(last.path, DSYNC === 0 ? 'r+' : constants.O_RDWR | DSYNC);
    let expected = last.firstSeq;
    /** Where a whole record out of sequence was found: not this journal's next record, so garbage too. */
    let outOfSequence: number | undefined;
    const scan = await scanRecords(this.active, 0, last.durableBytes, (buf, frame, offset) => {
      if (recordSeq(buf, frame.bodyStart) !== expected) {
        outOfSequence = offset;
        return false;
      }
      this.noteIndex(last, expected, offset);
      expected++;
      return true;
    });
    const good = outOfSequence ?? scan.offset;
    if (good < last.durableBytes) {
      // What follows the last whole record was never acknowledged (append resolves after fdatasync only):
      // cut it off, so that appends continue right after the last good record.
      this.counts.torn++;
      this.counts.bytesOnDisk -= last.durableBytes - good;
      await this.active.truncate(good);
      await this.active.datasync();
    }
    last.durableBytes = good;
    this.activeBytes = good;
    this.committedSeq = expected - 1;
    this.lastAssigned = this.committedSeq;
    await this.readTail();
  }

  /**
   * Remembers the senders' own last messages (the snapshot, then every record after it), the identities
   * of the newest `identityTail` records among those of all senders, and the newest entries.
   */
  private async readTail(): Promise<void> {
    await this.restoreSenders();
    const from = Math.max(
      1,
      Math.min(
        this.snapshotSeq + 1,
        this.committedSeq - Math.max(this.options.identityTail, this.options.recentEntries) + 1,
      ),
    );
    const recentFrom = this.committedSeq - this.options.recentEntries + 1;
    const identityFrom = this.committedSeq - this.options.identityTail + 1;
    let after = from - 1;
    while (after < this.committedSeq) {
      const before = after;
      await this.readDisk(after, this.committedSeq, Number.POSITIVE_INFINITY, (buf, bodyStart, end) => {
        const seq = recordSeq(buf, bodyStart);
        if (seq > this.snapshotSeq || seq >= identityFrom) {
          const sender = decodeSender(buf, bodyStart, end);
          if (sender) {
            const known = { hash: contentHash(sender.content), connection: Number.NEGATIVE_INFINITY, seq };
            // Up to the snapshot, the sender's own are restored already, in their order: the recent only.
            if (seq > this.snapshotSeq) this.identities.set(sender.clientId, sender.messageId, known);
            else this.identities.setRecent(sender.clientId, sender.messageId, known);
          }
        }
        if (seq >= recentFrom) this.recent.push(decodeEntry(buf, bodyStart, end), end - bodyStart);
        after = seq;
      });
      if (after === before) break;
    }
  }

  /**
   * The senders' own last messages from the snapshot. One that cannot be read (damaged: it is replaced
   * whole, so a crash cannot tear it) does not keep the journal shut: the records on disk give what they
   * hold, which is said once and counted.
   */
  private async restoreSenders(): Promise<void> {
    let snapshot: Awaited<ReturnType<typeof readSendersSnapshot>>;
    try {
      snapshot = await readSendersSnapshot(this.dir);
    } catch (error) {
      this.counts.snapshotsUnreadable++;
      this.options.warn(
        `the journal's senders snapshot (${path.join(this.dir, SNAPSHOT_FILE)}) cannot be read ` +
          `(${(error as Error).message}): a device's retransmission is recognised from the records on disk ` +
          `only (from position ${this.segments[0]?.firstSeq}), until the next snapshot is written`,
      );
      return;
    }
    if (snapshot === undefined) return;
    // Never past what is on disk: a message the snapshot knows beyond it was never acknowledged.
    this.snapshotSeq = Math.min(snapshot.seq, this.committedSeq);
    for (const sender of snapshot.senders)
      for (const message of sender.messages)
        if (message.seq <= this.snapshotSeq)
          this.identities.restoreOwn(sender.clientId, message.messageId, restoredMessage(message));
  }

  append(message: ArrivingMessage): Promise<Appended> {
    if (this.closed) return Promise.reject(new Error('journal closed'));
    if (this.failed) return Promise.reject(this.failed);
    const sender = message.sender;
    const seq = this.lastAssigned + 1;
    let record: EncodedRecord;
    try {
      record = encodeRecord(seq, message);
    } catch (error) {
      // A topic or client id longer than MQTT allows, or a payload past MQTT's largest packet: refused, as
      // a promise says it (the caller's `.catch`), and no position used up.
      return Promise.reject(error);
    }
    if (sender) {
      const duplicate = this.recognise(sender, contentHash(record.content));
      if (duplicate !== undefined) return duplicate;
    }
    this.lastAssigned = seq;
    this.counts.appended++;
    const group = this.next ?? this.startGroup();
    group.records.push(record.bytes);
    group.entries.push({
      seq,
      receivedAt: message.receivedAt,
      retainedReplay: message.retainedReplay,
      topic: message.topic,
      payload: record.payload,
      // The caller's own object (its connection and DUP flag ride along unread): no copy per message.
      ...(sender ? { sender } : {}),
    });
    group.bytes += record.bytes.length;
    group.lastSeq = seq;
    if (sender) group.senders.push(sender);
    if (this.appendWatchers > 0) this.wake();
    return group.done.then(() => ({ seq, duplicate: false }));
  }

  /**
   * The answer to a retransmission (journal/retransmission.ts), or undefined for a new message, whose
   * identity is then remembered at the position it is about to get.
   */
  private recognise(sender: MessageSender, hash: string): Promise<Appended> | undefined {
    const known = this.identities.get(sender.clientId, sender.messageId);
    if (known && isRetransmission(known, { hash, connection: sender.connection, dup: sender.dup })) {
      // Now acknowledged on this connection: the sender may reuse the id here for a new message with the
      // same content, which must not be taken for this one again [MQTT-2.3.1-3].
      known.connection = Math.max(known.connection, sender.connection);
      this.identities.set(sender.clientId, sender.messageId, known);
      this.counts.duplicates++;
      const seq = known.seq;
      return this.whenCommitted(seq).then(() => ({ seq, duplicate: true }));
    }
    this.identities.set(sender.clientId, sender.messageId, {
      hash,
      connection: sender.connection,
      seq: this.lastAssigned + 1,
    });
    return undefined;
  }

  /** Resolves once `seq` is on disk: a retransmission is acknowledged no earlier than its original. */
  private whenCommitted(seq: number): Promise<void> {
    if (seq <= this.committedSeq) return Promise.resolve();
    if (this.failed) return Promise.reject(this.failed);
    for (const group of this.inFlight) if (seq <= group.lastSeq) return group.done;
    return (this.next ?? this.startGroup()).done;
  }

  /** A new group for the appends to come; its write starts once the current caller's turn is over. */
  private startGroup(): Group {
    const group = newGroup();
    this.next = group;
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      // After the I/O callbacks of this turn of the event loop, so that the appends made meanwhile (the
      // packets of one socket read, and what their handlers chain on) join the group.
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
    return group;
  }

  /**
   * Starts the write of the waiting group, unless MAX_WRITES are under way (the appends then gather until
   * one is committed). Writes run side by side at consecutive offsets and are committed in order: a group
   * is acknowledged only once it and every group before it are on disk. A crash leaves at worst a gap of
   * zeros or a torn record before a later group's records, and recovery cuts the segment at the first record
   * that is not whole: what it cuts off was never acknowledged. A segment rolls only with no write under way.
   */
  private pump(): void {
    while (this.next && !this.failed && !this.recovering) {
      const group = this.next;
      if (group.records.length === 0) {
        this.next = null;
        group.resolve();
        continue;
      }
      // Not past a write that failed: it and what follows are rejected once the writes under way are done.
      if (this.inFlight.length >= MAX_WRITES || this.inFlight.some((g) => g.error)) return;
      const roll = this.activeBytes >= this.options.segmentBytes;
      // The next segment begins once everything written to this one is committed (and nothing else writes).
      if (roll && this.inFlight.length > 0) return;
      if (this.inFlight.some((g) => g.roll)) return;
      this.next = null;
      group.roll = roll;
      group.offset = roll ? 0 : this.activeBytes;
      this.activeBytes = group.offset + group.bytes;
      this.inFlight.push(group);
      this.write(group).then(
        () => {
          group.written = true;
          this.settle();
        },
        (error: unknown) => {
          group.error = error instanceof Error ? error : new Error(String(error));
          this.settle();
        },
      );
    }
  }

  /** Commits the groups on disk from the oldest on; after a failed write, cuts back once none is under way. */
  private settle(): void {
    while (this.inFlight[0]?.written) this.commit(this.inFlight.shift() as Group);
    const failed = this.inFlight[0]?.error;
    if (failed === undefined) {
      this.pump();
      return;
    }
    // The file is cut back to the last commit: only once no write is under way, which could land after it.
    if (this.inFlight.some((g) => !g.written && g.error === undefined)) return;
    this.recovering = this.failedWrite(failed).finally(() => {
      this.recovering = null;
      this.pump();
    });
  }

  private commit(group: Group): void {
    const segment = this.segments[this.segments.length - 1] as Segment;
    let offset = group.offset;
    let seq = group.lastSeq - group.records.length + 1;
    group.records.forEach((record, i) => {
      this.noteIndex(segment, seq, offset);
      this.recent.push(group.entries[i] as JournalEntry, record.length);
      offset += record.length;
      seq++;
    });
    segment.durableBytes = offset;
    this.counts.bytesOnDisk += group.bytes;
    this.committedSeq = group.lastSeq;
    this.counts.commits++;
    group.resolve();
    this.wake();
    if (this.committedSeq - this.snapshotSeq >= this.options.snapshotRecords) this.requestSnapshot();
  }

  /** Writes the senders' snapshot once `snapshotMs` have passed since the last began (unless one is due). */
  private requestSnapshot(): void {
    if (this.snapshotting || this.snapshotTimer || this.closed) return;
    const wait = Math.max(0, this.lastSnapshotAt + this.options.snapshotMs - performance.now());
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      this.writeSnapshot().catch(() => {});
    }, wait);
    // Nothing is lost without it (the segments after the last are kept); close() writes one.
    this.snapshotTimer.unref();
  }

  /**
   * Writes the senders' snapshot covering every committed record, then deletes the segments it and the
   * readers' cursors allow. A failure (disk full) keeps the previous snapshot and the segments after it.
   */
  private writeSnapshot(): Promise<void> {
    this.snapshotting ??= (async () => {
      const seq = this.committedSeq;
      if (seq <= this.snapshotSeq) return;
      this.lastSnapshotAt = performance.now();
      try {
        await writeSendersSnapshot(this.dir, seq, this.identities.bySender());
      } catch (error) {
        if (!this.snapshotFailed)
          this.options.warn(
            `the journal's senders snapshot could not be written (${(error as Error).message}): ` +
              'segments are kept until it is',
          );
        this.snapshotFailed = true;
        throw error;
      }
      this.snapshotFailed = false;
      this.snapshotSeq = seq;
      this.counts.snapshots++;
      const deletion = this.cursorWrites.then(() => this.deleteFinished());
      this.cursorWrites = deletion.catch(() => {});
      await deletion;
    })().finally(() => {
      this.snapshotting = null;
    });
    return this.snapshotting;
  }

  /**
   * After a failed write: rejects the groups not committed and the appends made meanwhile (their callers
   * must not acknowledge) and gives their positions back (no reader saw them: they were not committed). A
   * failed write(2) (disk full, file too large) left nothing ambiguous: the file is cut back to its last
   * committed record and appending goes on, so the broker recovers by itself once there is room. A failed
   * fdatasync (or, with O_DSYNC, a write that failed writing back) is different: the kernel may have dropped
   * the pages it could not write and would not say so again, so the journal stops taking appends (the next
   * open's recovery sorts out the file).
   */
  private async failedWrite(failure: Error): Promise<void> {
    const rejected = [...this.inFlight, this.next].filter((g): g is Group => g !== null);
    this.inFlight = [];
    this.next = null;
    for (const g of rejected)
      for (const sender of g.senders)
        this.identities.forget(sender.clientId, sender.messageId, this.committedSeq);
    this.lastAssigned = this.committedSeq;
    for (const g of rejected) g.reject(failure);
    const segment = this.segments[this.segments.length - 1] as Segment;
    if (!(failure instanceof SyncFailed)) {
      try {
        await this.active.truncate(segment.durableBytes);
        await this.active.datasync();
        this.activeBytes = segment.durableBytes;
        return;
      } catch {
        // Not even that: give up as after a failed fdatasync.
      }
    }
    this.activeBytes = segment.durableBytes;
    this.failed = failure;
    (this.next as Group | null)?.reject(failure);
    this.next = null;
    this.lastAssigned = this.committedSeq;
  }

  /** One write of the group's records at its offset in the active segment (rolled first if due), on disk when it resolves. */
  private async write(group: Group): Promise<void> {
    const firstSeq = group.lastSeq - group.records.length + 1;
    await this.options.beforeWrite?.({ firstSeq, lastSeq: group.lastSeq });
    if (group.roll) await this.roll(firstSeq);
    const bytes =
      group.records.length === 1 ? (group.records[0] as Buffer) : Buffer.concat(group.records, group.bytes);
    let written = 0;
    while (written < bytes.length) {
      let bytesWritten: number;
      try {
        ({ bytesWritten } = await this.active.write(
          bytes,
          written,
          bytes.length - written,
          group.offset + written,
        ));
      } catch (error) {
        // With O_DSYNC a write that failed other than for want of room may have failed writing back: as a
        // failed fdatasync, what the file holds since the last commit is unknown.
        if (DSYNC !== 0 && !WRITE_REFUSED.has((error as NodeJS.ErrnoException).code ?? ''))
          throw new SyncFailed(error);
        throw error;
      }
      written += bytesWritten;
    }
    if (DSYNC === 0) {
      try {
        await this.active.datasync();
      } catch (error) {
        throw new SyncFailed(error);
      }
    }
  }

  /** Closes the full segment (its records are fsync'd) and begins the next, named by its first position. */
  private async roll(firstSeq: number): Promise<void> {
    const file = segmentPath(this.dir, firstSeq);
    // 'w', not 'wx': a file of that name can only be left by a roll that failed, and holds nothing committed.
    const handle = await fs.open(
      file,
      DSYNC === 0 ? 'w' : constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | DSYNC,
    );
    try {
      await syncDirectory(this.dir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const full = this.active;
    this.active = handle;
    this.segments.push({ firstSeq, path: file, durableBytes: 0, indexSeqs: [firstSeq], indexOffsets: [0] });
    // Its records are fsync'd: a failure to close it loses nothing.
    await full.close().catch(() => {});
  }

  private noteIndex(segment: Segment, seq: number, offset: number): void {
    const lastIndexed = segment.indexSeqs[segment.indexSeqs.length - 1] as number;
    if (seq >= lastIndexed + INDEX_EVERY) {
      segment.indexSeqs.push(seq);
      segment.indexOffsets.push(offset);
    }
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    // Called on every append while someone watches appends: no new list unless a waiter is due.
    if (!this.waiters.some((w) => this.due(w))) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.due(waiter)) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  private due(waiter: Waiter): boolean {
    return (
      this.committedSeq > waiter.after ||
      this.closed ||
      (waiter.appendedAfter !== undefined && this.lastAssigned > waiter.appendedAfter)
    );
  }

  uncommitted(after: number): JournalEntry[] {
    if (this.failed || this.recovering || this.lastAssigned <= after) return [];
    const entries: JournalEntry[] = [];
    for (const group of this.next ? [...this.inFlight, this.next] : this.inFlight) {
      // A failed write rejects its group and every one after it.
      if (group.error) break;
      if (group.lastSeq <= after) continue;
      for (const entry of group.entries) if (entry.seq > after) entries.push(entry);
    }
    return entries;
  }

  committed(): number {
    return this.committedSeq;
  }

  async read(after: number, limit: number): Promise<JournalEntry[]> {
    if (limit <= 0 || after >= this.committedSeq) return [];
    // Before the oldest segment kept (deleted: every consumer was done with it): from the oldest there is.
    const from = Math.max(after, 0, (this.segments[0] as Segment).firstSeq - 1);
    if (from + 1 >= this.recent.firstSeq()) return this.recent.slice(from, limit);
    // Older than memory holds: from the segments, up to what memory holds (or a bounded batch).
    const until = Math.min(this.committedSeq, this.recent.firstSeq() - 1);
    const entries: JournalEntry[] = [];
    let bytes = 0;
    await this.readDisk(from, until, limit, (buf, bodyStart, end) => {
      entries.push(decodeEntry(buf, bodyStart, end));
      bytes += end - bodyStart;
      return bytes < READ_BYTES;
    });
    // Caught up with memory within the batch: the rest from there.
    const last = entries.at(-1)?.seq ?? from;
    if (entries.length < limit && bytes < READ_BYTES && last + 1 >= this.recent.firstSeq())
      entries.push(...this.recent.slice(last, limit - entries.length));
    return entries;
  }

  /**
   * Visits the records after `after` up to `until` (at most `limit`) from the segment files, in order.
   * `visit` returns false to stop early. A segment deleted meanwhile is skipped: its consumers were done.
   */
  private async readDisk(
    after: number,
    until: number,
    limit: number,
    visit: (buf: Buffer, bodyStart: number, end: number) => boolean | undefined,
  ): Promise<void> {
    let seen = 0;
    let next = after + 1;
    let i = this.segmentIndexOf(next);
    while (i < this.segments.length && next <= until && seen < limit) {
      const segment = this.segments[i] as Segment;
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(segment.path, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        i = this.segmentIndexOf(next);
        if ((this.segments[i] as Segment | undefined) === segment) throw error;
        continue;
      }
      let stopped = false;
      let taken: { seq: number; offset: number } | undefined;
      try {
        const hint = this.readHint;
        const start =
          hint?.segment === segment && hint.seq === next ? hint.offset : this.indexedOffset(segment, next);
        const end = await scanRecords(handle, start, segment.durableBytes, (buf, frame, offset) => {
          const seq = recordSeq(buf, frame.bodyStart);
          this.noteIndex(segment, seq, offset);
          if (seq < next) return true;
          if (seq > until) {
            stopped = true;
            return false;
          }
          next = seq + 1;
          seen++;
          taken = { seq: next, offset: offset + FRAME_HEADER_BYTES + frame.end - frame.bodyStart };
          if (visit(buf, frame.bodyStart, frame.end) === false || seen >= limit) {
            stopped = true;
            return false;
          }
          return true;
        });
        if (end.torn)
          throw new Error(`journal segment ${segment.path} is damaged at ${end.offset}: ${end.reason}`);
      } finally {
        await handle.close();
      }
      if (taken) this.readHint = { segment, ...taken };
      if (stopped) return;
      i++;
      const following = this.segments[i];
      if (following && next < following.firstSeq) next = following.firstSeq;
    }
  }

  /** The index of the segment holding `seq` (the first one when `seq` is older than every segment). */
  private segmentIndexOf(seq: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.segments[mid] as Segment).firstSeq <= seq) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  private indexedOffset(segment: Segment, seq: number): number {
    let low = 0;
    let high = segment.indexSeqs.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((segment.indexSeqs[mid] as number) <= seq) low = mid;
      else high = mid - 1;
    }
    return segment.indexOffsets[low] as number;
  }

  waitFor(after: number, stop?: AbortSignal, appendedAfter?: number): Promise<void> {
    if (this.due({ after, appendedAfter, resolve: () => {} }) || stop?.aborted) return Promise.resolve();
    const watching = appendedAfter === undefined ? 0 : 1;
    return new Promise((resolve) => {
      const waiter: Waiter = {
        after,
        appendedAfter,
        resolve: () => {
          this.appendWatchers -= watching;
          stop?.removeEventListener('abort', aborted);
          resolve();
        },
      };
      // Aborted: the waiter leaves the list at once, so stopped readers leave nothing behind either.
      const aborted = () => {
        this.appendWatchers -= watching;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      };
      stop?.addEventListener('abort', aborted, { once: true });
      this.appendWatchers += watching;
      this.waiters.push(waiter);
    });
  }

  cursor(consumer: string): number {
    return this.cursors.get(consumer) ?? 0;
  }

  /**
   * Moves the consumer's cursor forward (never back: a consumer's "done with" does not shrink) and writes
   * the cursors within `cursorWriteMs`; segments are deleted only once the written cursors say so.
   */
  advance(consumer: string, seq: number): void {
    // Past the committed end there is nothing to be done with; clamping keeps segment deletion sane.
    const to = Math.max(0, Math.min(seq, this.committedSeq));
    const current = this.cursors.get(consumer);
    if (current !== undefined && to <= current) return;
    this.cursors.set(consumer, to);
    this.cursorsDirty = true;
    if (this.cursorTimer === null && !this.closed) {
      this.cursorTimer = setTimeout(() => {
        this.cursorTimer = null;
        this.saveCursors().catch(() => {
          // Retried by the next advance or on close, which reports it.
          this.cursorsDirty = true;
        });
      }, this.options.cursorWriteMs);
      // A pending write must not keep a process alive that is otherwise done; close() writes them.
      this.cursorTimer.unref();
    }
  }

  /** Writes the cursors (temp file, fdatasync, rename: never a half-written file), then deletes what they allow. */
  private saveCursors(): Promise<void> {
    const write = this.cursorWrites.then(async () => {
      if (!this.cursorsDirty) return;
      this.cursorsDirty = false;
      const snapshot = new Map(this.cursors);
      const file = path.join(this.dir, CURSORS_FILE);
      const temp = `${file}.tmp`;
      const handle = await fs.open(temp, 'w');
      try {
        await handle.writeFile(JSON.stringify(Object.fromEntries(snapshot)));
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, file);
      await syncDirectory(this.dir);
      this.savedCursors = snapshot;
      await this.deleteFinished();
    });
    this.cursorWrites = write.catch(() => {});
    return write;
  }

  /**
   * Deletes the closed segments every consumer that ever advanced is done with, by the cursors on disk: a
   * crash never leaves a cursor pointing into a deleted segment. With no consumer yet everything is kept.
   */
  private async deleteFinished(): Promise<void> {
    if (this.savedCursors.size === 0) return;
    const done = Math.min(...this.savedCursors.values());
    while (this.segments.length > 1) {
      const [first, second] = this.segments as [Segment, Segment];
      if (second.firstSeq - 1 > done) break;
      // Its senders' last messages must be in a snapshot first: a device may resend one of them any time.
      if (second.firstSeq - 1 > this.snapshotSeq) {
        this.requestSnapshot();
        break;
      }
      // Out of the list first: a read from now on starts at the next segment (one under way keeps its file
      // open, and an open file outlives its name).
      this.segments.shift();
      this.counts.bytesOnDisk -= first.durableBytes;
      await fs.rm(first.path, { force: true });
    }
  }

  stats(): JournalStats {
    return {
      committed: this.committedSeq,
      appended: this.counts.appended,
      duplicates: this.counts.duplicates,
      commits: this.counts.commits,
      segments: this.segments.length,
      bytesOnDisk: this.counts.bytesOnDisk,
      torn: this.counts.torn,
      snapshots: this.counts.snapshots,
      snapshotsUnreadable: this.counts.snapshotsUnreadable,
    };
  }

  /** Lets the appends already made commit, writes the cursors, closes the file; later appends reject. */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  /** Resolves once every append made so far is committed or rejected. */
  private async drained(): Promise<void> {
    for (;;) {
      const last = this.next ?? this.inFlight.at(-1);
      if (last) await last.done.catch(() => {});
      else if (this.recovering) await this.recovering;
      else return;
    }
  }

  private async finish(): Promise<void> {
    this.closed = true;
    if (this.cursorTimer) clearTimeout(this.cursorTimer);
    this.cursorTimer = null;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    await this.drained();
    this.wake();
    try {
      await this.saveCursors();
      // So that the next open reads back no more than what came after it. Not needed for correctness
      // (the segments after the last snapshot are kept): a failure is said (once) and the close goes on.
      await this.snapshotting?.catch(() => {});
      await this.writeSnapshot().catch(() => {});
    } finally {
      await this.active.close();
    }
  }
}
