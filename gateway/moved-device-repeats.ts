import { contentHash, RecentMessages } from '../journal/retransmission.ts';

/**
 * A device's message that reaches the gateway twice through two nodes of a broker cluster (REDIS_URL): the
 * device published it on node A, A journaled and forwarded it (the gateway's queue in Redis has it), and A
 * died before the device got its PUBACK. The device sends it again on its new connection, to node B, whose
 * journal never saw it: B journals it anew, under its own origin and position, with B's arrival time, and
 * forwards it too. Both copies carry the device's identity (client id, packet id) through the feed
 * (journal/forwarded-entry.ts); the second is recognised here and acknowledged without being journaled.
 *
 * The rule is the broker journal's own for a sender that comes back on another connection
 * (journal/retransmission.ts): the same packet id with the same topic and payload, from another node, is
 * the same message (a device on another node is on another connection, so the id cannot have been freed and
 * reused there for a new message with that content before the PUBACK of the first reached it; it can after,
 * as after a reconnect to the same node: the rule's known risk, for a device that reuses ids with equal
 * payloads within the window). From the same node the node's journal has decided already: an entry of the
 * same node is new unless it is the same position, which the gateway's journal recognises itself
 * (`forwardedSender`).
 *
 * Held in memory, the most recent `capacity / 2` to `capacity` device messages (at 5,000 msg/s, 20 to 40 s;
 * a device resends when it reconnects, within its backoff); not across a restart of the gateway, which
 * forgets them (README, what runs where).
 */
export class MovedDeviceRepeats {
  private readonly known: RecentMessages;
  private readonly origins = new Map<string, number>();
  recognised = 0;

  constructor(capacity = 200_000) {
    this.known = new RecentMessages(capacity);
  }

  /** Whether this entry is a device's message already forwarded by another node; remembers it if not. */
  isRepeat(
    origin: string,
    device: { clientId: string; messageId: number },
    topic: string,
    payload: Buffer,
  ): boolean {
    let node = this.origins.get(origin);
    if (node === undefined) {
      node = this.origins.size;
      this.origins.set(origin, node);
    }
    const topicBytes = Buffer.from(topic, 'utf8');
    const length = Buffer.allocUnsafe(2);
    length.writeUInt16LE(topicBytes.length);
    // As the journal hashes a message's content (journal/record-format.ts): topic length, topic, payload.
    const hash = contentHash(Buffer.concat([length, topicBytes, payload]));
    const known = this.known.get(device.clientId, device.messageId);
    if (known && known.hash === hash && known.connection !== node) {
      this.recognised++;
      return true;
    }
    this.known.set(device.clientId, device.messageId, { hash, connection: node, seq: 0 });
    return false;
  }
}
