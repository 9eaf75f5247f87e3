/**
 * The journal of device messages: where a device's message is made durable at the edge before anyone
 * acknowledges it (issue 10). Whoever takes a message from a device, the project's broker in `wesprint start`
 * or the gateway's MQTT intake when the broker is another process (Mosquitto, EMQX, a `wesprint broker`
 * node), appends it here and sends PUBACK only once the append has resolved: a write-ahead log with group
 * commit (one fsync for every message appended while the previous fsync ran), as Azure IoT Edge persists
 * before it acknowledges.
 *
 * The gateway reads the journal in order and stores the readings it decodes; its cursor (`advance`) moves
 * only after the store acknowledged them. A message keeps its arrival time from the journal, so reading it
 * again (after a crash, after the store was down) decodes to the very same readings, which the stores'
 * idempotent key (site, device, channel, quantity, ts) keeps once: nothing is stored twice because the
 * journal, not the moment of decoding, says when a message arrived.
 *
 * An identity for each message: its sender's client id and packet id. A retransmission of a message already
 * journaled (the device did not get its PUBACK: the broker died, the connection broke) is recognised and
 * answered with the original's position instead of being appended again.
 */

/** Who sent a message, as MQTT says it: for recognising a retransmission. */
export interface MessageSender {
  /** The MQTT client id the message came in on. */
  clientId: string;
  /**
   * The connection it came in on: a number that changes each time that client connects (any increasing
   * counter of the taker's). A packet id is unique only among a connection's unacknowledged messages; a
   * message with the id, topic and payload of one journaled on an earlier connection is a retransmission.
   */
  connection: number;
  /** The PUBLISH packet id (QoS 1 and 2 only). */
  messageId: number;
  /** The PUBLISH DUP flag: the sender says it may have sent this before [MQTT-3.3.1-1]. */
  dup: boolean;
}

/** A message as it is handed to the journal. */
export interface ArrivingMessage {
  topic: string;
  payload: Buffer;
  /** Epoch ms when it arrived at the edge: the reading time of a payload that carries none of its own. */
  receivedAt: number;
  /**
   * True for a broker's replay of a retained message to a new subscription: old news of unknown age (it may
   * say a device announced itself offline), never a new reading. A device's live publish with the retain flag
   * is not a replay.
   */
  retainedReplay: boolean;
  /** Absent for a message without a sender to answer (QoS 0, a will published by the broker). */
  sender?: MessageSender;
}

/** A message as the journal keeps it, with its position. */
export interface JournalEntry extends Omit<ArrivingMessage, 'sender'> {
  /** Its position: 1, 2, 3, … in arrival order, never reused, kept across restarts. */
  seq: number;
  /**
   * Who sent it (client id and packet id), as the journal keeps it for recognising a retransmission: a
   * broker node forwards it with the entry, so the gateway knows a device's resend that reached it through
   * another node (journal/forwarded-entry.ts). Absent without a sender.
   */
  sender?: Pick<MessageSender, 'clientId' | 'messageId'>;
}

export type Appended =
  /** On disk now. */
  | { seq: number; duplicate: false }
  /** A retransmission of the message at `seq`: nothing was appended; acknowledge it all the same. */
  | { seq: number; duplicate: true };

export interface JournalStats {
  /** The highest position on disk. */
  committed: number;
  /** Messages appended, and retransmissions recognised (not appended), since open. */
  appended: number;
  duplicates: number;
  /** fsyncs since open: appended / commits is the group size. */
  commits: number;
  segments: number;
  bytesOnDisk: number;
  /** Lines that could not be read back (torn by a crash while written; never acknowledged to anyone). */
  torn: number;
  /**
   * Snapshots of the senders' own last messages written since open, and snapshots found unreadable on open
   * (the journal then recognises retransmissions from the records on disk only).
   */
  snapshots: number;
  snapshotsUnreadable: number;
}

export interface MessageJournal {
  /**
   * Appends a message; resolves once it is on disk (fsync'd, in a group commit), with its position, or with
   * the position of the message it retransmits. Appends are positioned in call order. Rejects when the disk
   * write fails: the caller then must not acknowledge the message. Rejects after close().
   */
  append(message: ArrivingMessage): Promise<Appended>;
  /** The highest position on disk (0 for an empty journal). */
  committed(): number;
  /**
   * Up to `limit` entries after position `after`, in order, committed ones only ([] when there are none).
   * Recent entries come from memory; older ones are read from disk, so a reader that fell behind (the store
   * was down) costs disk reads, not memory.
   */
  read(after: number, limit: number): Promise<JournalEntry[]>;
  /**
   * Resolves once an entry after `after` is committed (at once if there is one), when the journal closes, or
   * when `stop` aborts; given `appendedAfter`, also once an entry after that position is appended, committed
   * or not (a reader of `uncommitted`). A reader's loop waits with its stop signal here, not with
   * `Promise.race([waitFor(…), stopped])`: each race leaves a reaction on the promise that lives until the
   * stop, one per turn of the loop (measured in the split gateway: 400 a second, ~160 bytes each, 123,000
   * held after 5 minutes at 1,000 msg/s).
   */
  waitFor(after: number, stop?: AbortSignal, appendedAfter?: number): Promise<void>;
  /**
   * The entries after `after` that are appended and not yet committed (their write under way or about to
   * start), in order; [] when there are none. For showing a message before it is durable (the live view: a
   * reading does not need to be on disk to be shown, and nobody acknowledges or stores it from here). Such an
   * entry may never be committed: when its write fails its position is given to a later message, which
   * `read` then returns instead (a different object, with its own content).
   */
  uncommitted(after: number): JournalEntry[];
  /** The last position the named consumer is done with (0 when it never advanced): where it resumes. */
  cursor(consumer: string): number;
  /**
   * The named consumer is done with everything up to `seq`. Kept across restarts (not necessarily fsync'd at
   * once: a consumer that resumes a little early reads entries again, which is harmless). Segments every
   * consumer is done with are deleted.
   */
  advance(consumer: string, seq: number): void;
  stats(): JournalStats;
  /** Finishes the commit under way, writes the cursors, closes the files. */
  close(): Promise<void>;
}
