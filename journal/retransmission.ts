import crypto from 'node:crypto';

/**
 * Recognising a device's retransmission of a message the journal already holds (issue 10: a device's DUP
 * retransmission counts as the same message).
 *
 * MQTT gives a QoS 1 message no identity of its own, only a packet id that is unique among its sender's
 * unacknowledged messages: the sender may reuse it once the PUBACK came [MQTT-2.3.1-3], and on reconnecting
 * (clean session 0) it must resend every PUBLISH not yet acknowledged, with the same packet id and the DUP
 * flag set [MQTT-4.4.0-1] [MQTT-3.3.1-1]. In practice not every sender does: MQTT.js devices resend with DUP 0
 * (measured in bench faults), as aedes did forwarding its queue until the project's broker patched it
 * (broker/aedes-patches.ts markRedeliveriesDup). This rule is for such senders (the broker journaling the
 * devices); the gateway's MQTT intake, whose sender is a broker that sets DUP, goes by DUP alone
 * (gateway/mqtt-intake.ts, `redelivery`). A message with the packet id of one already journaled, and the same topic and payload, is
 * therefore a retransmission when the sender says so (DUP) or when the journaled one came on an earlier
 * connection (no PUBACK for it can have reached the sender on this one, so the id cannot have been freed
 * and reused here). The same id with the same content on the same connection without DUP is a reuse after
 * PUBACK: a new message (a meter reporting the same value twice).
 */

/** What the journal remembers of the newest message journaled with a (client id, packet id). */
export interface KnownMessage {
  /** `contentHash` of its topic and payload. */
  hash: string;
  /**
   * The connection it last arrived on (the taker's counter); -Infinity for a message journaled before the
   * journal was opened, which came on a connection of an earlier process, earlier than any of this one's.
   */
  connection: number;
  /** Its position in the journal. */
  seq: number;
}

export interface ArrivingIdentity {
  hash: string;
  connection: number;
  dup: boolean;
}

/** The rule: is the arriving message a retransmission of `known`? (Pure: no state, no I/O.) */
export function isRetransmission(known: KnownMessage | undefined, arriving: ArrivingIdentity): boolean {
  if (known === undefined || known.hash !== arriving.hash) return false;
  return arriving.dup || known.connection < arriving.connection;
}

/**
 * The identity of a message's content: topic and payload as the journal's record holds them (the topic's
 * length, the topic, the payload). SHA-1, not a CRC: a collision would drop a new message as a repeat, and
 * at tens of thousands of messages a second a 32-bit check would collide within days of operation.
 */
export function contentHash(content: Buffer): string {
  return crypto.hash('sha1', content, 'base64');
}

/**
 * The newest message per (client id, packet id), bounded: it remembers at least the `capacity / 2` pairs
 * seen most recently and never more than `capacity`. A retransmission follows its original within a
 * reconnect, so a window of the most recent pairs is enough.
 *
 * Two generations of Maps, not one Map kept in recency order: evicting the oldest key of a V8 Map through
 * `keys().next()` walks over every key deleted before it, which made an append cost ~100 µs once the Map
 * was full (measured: 0.5 µs per lookup + insert before, 65-380 µs after). A generation that is full becomes
 * the old one and the old one is dropped whole; a pair found in the old generation moves to the new one.
 */
export class RecentMessages {
  private current = new Generation();
  private previous = new Generation();
  private readonly generation: number;

  constructor(capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  get(clientId: string, messageId: number): KnownMessage | undefined {
    const found = this.current.get(clientId, messageId);
    if (found !== undefined) return found;
    const old = this.previous.get(clientId, messageId);
    if (old !== undefined) {
      this.previous.delete(clientId, messageId);
      this.remember(clientId, messageId, old);
    }
    return old;
  }

  /** Remembers (or refreshes) the pair as seen now. */
  set(clientId: string, messageId: number, message: KnownMessage): void {
    this.previous.delete(clientId, messageId);
    this.remember(clientId, messageId, message);
  }

  /** Forgets the pair if what is known of it lies after `committed` (its append failed). */
  forget(clientId: string, messageId: number, committed: number): void {
    for (const generation of [this.current, this.previous])
      if ((generation.get(clientId, messageId)?.seq ?? 0) > committed) generation.delete(clientId, messageId);
  }

  private remember(clientId: string, messageId: number, message: KnownMessage): void {
    this.current.set(clientId, messageId, message);
    if (this.current.size >= this.generation) {
      this.previous = this.current;
      this.current = new Generation();
    }
  }
}

/**
 * One generation: per client id, its packet ids. Nested Maps instead of one keyed by "client id + packet
 * id": no string is built per message, and a pair costs half the memory (measured: 77 against 149 bytes
 * without the hash, ~130 against ~250 with it).
 */
class Generation {
  private readonly clients = new Map<string, Map<number, KnownMessage>>();
  size = 0;

  get(clientId: string, messageId: number): KnownMessage | undefined {
    return this.clients.get(clientId)?.get(messageId);
  }

  set(clientId: string, messageId: number, message: KnownMessage): void {
    let ids = this.clients.get(clientId);
    if (ids === undefined) {
      ids = new Map();
      this.clients.set(clientId, ids);
    }
    const before = ids.size;
    ids.set(messageId, message);
    this.size += ids.size - before;
  }

  delete(clientId: string, messageId: number): void {
    const ids = this.clients.get(clientId);
    if (ids === undefined || !ids.delete(messageId)) return;
    this.size--;
    if (ids.size === 0) this.clients.delete(clientId);
  }
}

/**
 * A device's last messages, by sender as well as by recency: the most recent pairs of every sender together
 * (`RecentMessages`: a bridge's or a publisher's burst of unacknowledged messages, a broker's redelivery) and,
 * of each client id, the pairs of its own last `perSender` messages, however long ago and however many other
 * messages came since. A device resends only messages it has no PUBACK for, which are its last ones; with the
 * recent window alone, a device away while a hundred thousand messages of others came in (100 s at 1,000 msg/s)
 * had its resend journaled again, stored a second time with the new arrival time (issue 10: a device's DUP
 * retransmission counts as the same message). So a retransmission is recognised when it is among the last
 * `recent / 2` messages of all or among the last `perSender` of its sender: exact for a device that never has
 * more than `perSender` messages unacknowledged, whenever it comes back.
 *
 * Bounded by the senders, not by time: `perSender` pairs (~170 bytes each) per client id, for the client ids of
 * at most the last `senders` to `2 × senders` that sent (a device's client id is its own; one that takes a new
 * id per connection could not be recognised anyway).
 */
export class SendersMessages {
  private readonly recent: RecentMessages;
  private current = new Map<string, SenderMessages>();
  private previous = new Map<string, SenderMessages>();

  constructor(
    recent: number,
    private readonly perSender: number,
    private readonly senders = 20_000,
  ) {
    this.recent = new RecentMessages(recent);
  }

  /** Pairs held (a pair in both memories counted twice): for the memory bench's figures. */
  get size(): number {
    let size = this.recent.size;
    for (const generation of [this.current, this.previous])
      for (const sender of generation.values()) size += sender.size;
    return size;
  }

  get(clientId: string, messageId: number): KnownMessage | undefined {
    return this.recent.get(clientId, messageId) ?? this.sender(clientId, false)?.get(messageId);
  }

  set(clientId: string, messageId: number, message: KnownMessage): void {
    this.recent.set(clientId, messageId, message);
    this.sender(clientId, true)?.set(messageId, message);
  }

  forget(clientId: string, messageId: number, committed: number): void {
    this.recent.forget(clientId, messageId, committed);
    const sender = this.sender(clientId, false);
    if ((sender?.get(messageId)?.seq ?? 0) > committed) sender?.delete(messageId);
  }

  /** Remembers the pair among the most recent of all senders only (its sender's own are restored apart). */
  setRecent(clientId: string, messageId: number, message: KnownMessage): void {
    this.recent.set(clientId, messageId, message);
  }

  /**
   * Remembers the pair among its sender's own only: for restoring them from a snapshot, sender by sender in
   * the order `bySender` gave them, each sender's oldest first.
   */
  restoreOwn(clientId: string, messageId: number, message: KnownMessage): void {
    this.sender(clientId, true)?.set(messageId, message);
  }

  /**
   * Every sender remembered with its own messages: the least recently heard first, as `restoreOwn` must be
   * given them to keep the same senders when the memory of senders is full.
   */
  bySender(): [string, SenderMessages][] {
    return [...this.previous, ...this.current];
  }

  /** A sender's memory, moved to the current generation when asked for; made if `make`. */
  private sender(clientId: string, make: boolean): SenderMessages | undefined {
    let found = this.current.get(clientId);
    if (found !== undefined) return found;
    found = this.previous.get(clientId);
    if (found !== undefined) this.previous.delete(clientId);
    else if (make) found = new SenderMessages(Math.max(1, this.perSender));
    else return undefined;
    this.current.set(clientId, found);
    if (this.current.size >= this.senders) {
      this.previous = this.current;
      this.current = new Map();
    }
    return found;
  }
}

/**
 * One sender's last messages: its packet ids (a Map) and, in a ring of `capacity` slots, the order they were
 * set in. A slot names a packet id and the stamp it was set with; when the ring comes round to a slot, its
 * packet id is forgotten unless it was set again since (then a newer slot holds it). A Map evicting its oldest
 * key through `keys().next()` walks every key deleted before it (see `RecentMessages`); the ring does not.
 */
export class SenderMessages {
  private readonly ids = new Map<number, { message: KnownMessage; stamp: number }>();
  private readonly ringIds: number[] = [];
  private readonly ringStamps: number[] = [];
  private next = 0;
  private stamp = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.ids.size;
  }

  get(messageId: number): KnownMessage | undefined {
    return this.ids.get(messageId)?.message;
  }

  set(messageId: number, message: KnownMessage): void {
    const stamp = ++this.stamp;
    this.ids.set(messageId, { message, stamp });
    const slot = this.next;
    if (slot < this.ringIds.length) {
      const oldId = this.ringIds[slot] as number;
      if (this.ids.get(oldId)?.stamp === this.ringStamps[slot]) this.ids.delete(oldId);
      this.ringIds[slot] = messageId;
      this.ringStamps[slot] = stamp;
    } else {
      this.ringIds.push(messageId);
      this.ringStamps.push(stamp);
    }
    this.next = (slot + 1) % this.capacity;
  }

  delete(messageId: number): void {
    this.ids.delete(messageId);
  }

  /** Its packet ids with what is known of each, in the order they were set, oldest first. */
  entries(): [number, KnownMessage][] {
    const held: [number, KnownMessage][] = [];
    const slots = this.ringIds.length;
    // The ring has come round once it is full: its oldest slot is the one to be used next.
    const oldest = slots < this.capacity ? 0 : this.next;
    for (let k = 0; k < slots; k++) {
      const slot = (oldest + k) % slots;
      const id = this.ringIds[slot] as number;
      const found = this.ids.get(id);
      if (found !== undefined && found.stamp === this.ringStamps[slot]) held.push([id, found.message]);
    }
    return held;
  }
}
