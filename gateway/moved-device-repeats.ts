import type { Redis } from 'ioredis';
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
 * Two memories of the same rule: `MovedDeviceRepeatsInRedis`, on the Redis the cluster shares (the gateway given
 * REDIS_URL), which outlives the gateway and any node; `MovedDeviceRepeats`, in the gateway's memory, the
 * most recent `capacity / 2` to `capacity` device messages, forgotten when the gateway dies (a gateway that
 * reads a cluster without REDIS_URL).
 */
export interface MovedDeviceMemory {
  /**
   * Whether this entry is a device's message already forwarded by another node; remembers it if not. Asked
   * in arrival order, it answers in that order (a promise from the Redis memory).
   */
  isRepeat(
    origin: string,
    device: { clientId: string; messageId: number },
    topic: string,
    payload: Buffer,
  ): boolean | Promise<boolean>;
  readonly recognised: number;
}

/** As the journal hashes a message's content (journal/record-format.ts): topic length, topic, payload. */
function messageHash(topic: string, payload: Buffer): string {
  const topicBytes = Buffer.from(topic, 'utf8');
  const length = Buffer.allocUnsafe(2);
  length.writeUInt16LE(topicBytes.length);
  return contentHash(Buffer.concat([length, topicBytes, payload]));
}

/**
 * In memory: the most recent `capacity / 2` to `capacity` device messages (at 5,000 msg/s, 20 to 40 s; a
 * device resends when it reconnects, within its backoff); not across a restart of the gateway, which forgets
 * them.
 */
export class MovedDeviceRepeats implements MovedDeviceMemory {
  private readonly known: RecentMessages;
  private readonly origins = new Map<string, number>();
  recognised = 0;

  constructor(capacity = 200_000) {
    this.known = new RecentMessages(capacity);
  }

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
    const hash = messageHash(topic, payload);
    const known = this.known.get(device.clientId, device.messageId);
    if (known && known.hash === hash && known.connection !== node) {
      this.recognised++;
      return true;
    }
    this.known.set(device.clientId, device.messageId, { hash, connection: node, seq: 0 });
    return false;
  }
}

/**
 * How long a device message is remembered in Redis after the gateway took it: while the device may still send
 * it again. A device sends a QoS 1 message again only until it has the PUBACK, and only on a new connection
 * [MQTT-4.4.0-1]; whose node died before that PUBACK went out reconnects (to another node) once it notices
 * the death, at once when the node's socket closes (kill -9, a stopped container), after 1.5 × its keepalive
 * when the node's machine is gone (Shelly 60 s, Tasmota 30 s: at most 90 s), then within its reconnect
 * backoff, and sends its unacknowledged messages first. 10 minutes covers that with room to spare; the cost
 * is one key per message taken in the last 10 minutes (about 100 bytes each: 600,000 keys at 1,000 msg/s).
 * What it does not cover: a device that is away longer than that with a message its dead node had already
 * forwarded gets it stored twice (README, what runs where).
 */
export const MOVED_REPEAT_TTL_MS = 10 * 60_000;

/**
 * One step, atomic in Redis: the known copy of (client id, packet id), if it has the same content and came from
 * another node, makes this a repeat; otherwise this copy becomes the known one, for `ttl`. A repeat leaves the
 * known copy (and its expiry) as they were.
 */
const REPEAT_SCRIPT = `
local known = redis.call('GET', KEYS[1])
if known then
  local at = string.find(known, ' ', 1, true)
  if at and string.sub(known, 1, at - 1) == ARGV[1] and string.sub(known, at + 1) ~= ARGV[2] then
    return 1
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
return 0
`;

type RepeatCommand = (key: string, hash: string, origin: string, ttlMs: string) => Promise<number>;

/**
 * In the cluster's Redis (keys `<prefix>moved-device:<packet id>:<client id>`, given the installation's prefix
 * as the client's keyPrefix): the gateway's memory of what the nodes forwarded outlives the gateway, so a
 * gateway killed between a dead node's copy and the moved device's resend through another node still
 * recognises the resend. The known copy is written before the gateway journals it: should the gateway die
 * in between, the broker delivers that copy again (the gateway's session never acknowledged it), from the
 * same node, which the rule takes as new, while a copy from another node is recognised either way round.
 * Redis answers one connection's commands in order, so the answers come in arrival order; Redis away, the
 * promise rejects and the intake acknowledges nothing (the broker sends it again).
 */
export class MovedDeviceRepeatsInRedis implements MovedDeviceMemory {
  recognised = 0;
  private readonly command: RepeatCommand;

  constructor(
    redis: Redis,
    private readonly ttlMs = MOVED_REPEAT_TTL_MS,
  ) {
    if (!('wesprintMovedRepeat' in redis))
      redis.defineCommand('wesprintMovedRepeat', { numberOfKeys: 1, lua: REPEAT_SCRIPT });
    const command = (redis as unknown as { wesprintMovedRepeat: RepeatCommand }).wesprintMovedRepeat;
    this.command = command.bind(redis);
  }

  async isRepeat(
    origin: string,
    device: { clientId: string; messageId: number },
    topic: string,
    payload: Buffer,
  ): Promise<boolean> {
    const key = movedDeviceKey(device);
    const repeat = (await this.command(key, messageHash(topic, payload), origin, String(this.ttlMs))) === 1;
    if (repeat) this.recognised++;
    return repeat;
  }
}

/** The key of a device's packet id (without the installation's prefix, which the client adds). */
export function movedDeviceKey(device: { clientId: string; messageId: number }): string {
  return `moved-device:${device.messageId}:${device.clientId}`;
}
