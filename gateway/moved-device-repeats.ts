import type { Redis } from 'ioredis';
import { contentHash, SendersMessages } from '../journal/retransmission.ts';

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
 * REDIS_URL), which outlives the gateway and any node; `MovedDeviceRepeats`, in the gateway's memory, each
 * device's last 64 messages and the most recent of all, forgotten when the gateway dies (a gateway that reads
 * a cluster without REDIS_URL).
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
 * In memory: each device's last `perDevice` messages and the most recent 100,000-200,000 of all (the journal's
 * memory, journal/retransmission.ts `SendersMessages`); not across a restart of the gateway, which forgets
 * them. 64 per device, not Redis's 1,024: the gateway's heap holds this beside its journal's identities, and
 * the recent window covers a burst of many unacknowledged messages (measured in the memory bench: the two
 * windows of 200,000 are ~50 MB of the split gateway's live heap once full).
 */
export class MovedDeviceRepeats implements MovedDeviceMemory {
  private readonly known: SendersMessages;
  private readonly origins = new Map<string, number>();
  recognised = 0;

  constructor(perDevice = 64, recent = 200_000) {
    this.known = new SendersMessages(recent, perDevice);
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
 * How many of each device's messages the Redis memory keeps: its last 1,024, however long ago. A device sends
 * a QoS 1 message again only until it has the PUBACK, on its next connection [MQTT-4.4.0-1]; the messages it
 * has no PUBACK for are its last ones, as many as it keeps unacknowledged (a Shelly or Tasmota one or a few,
 * MQTT.js 'inflight' as many as it is given, a bridge speaking for many devices or the bench's publisher up to
 * 1,000). Kept by count, not by time: a device whose node died and that comes back to another node an hour
 * later (a long network outage, a device that sleeps) still has the copy its dead node forwarded recognised.
 * Before, an entry expired 10 minutes after the gateway took it, and such a device had its message stored
 * twice. The cost is per device, not per message rate: up to 1,024 entries for each client id that published
 * through a node, ~200 bytes each in Redis (measured with MEMORY USAGE: 203 KB for a device's 1,024, its hash
 * and sorted set past Redis's compact encodings), so ~200 MB for 1,000 devices that each used 1,024 packet ids.
 */
export const MOVED_REPEATS_PER_DEVICE = 1024;

/**
 * One step, atomic in Redis: the known copy of (client id, packet id), if it has the same content and came from
 * another node, makes this a repeat; otherwise this copy becomes the known one, the device's newest. A repeat
 * leaves the known copy as it was. KEYS[1] is the device's packet ids (a hash: packet id -> "content origin";
 * field "#" counts the device's copies), KEYS[2] their order (a sorted set scored by that count): past ARGV[4]
 * packet ids the device's oldest is forgotten.
 */
const REPEAT_SCRIPT = `
local known = redis.call('HGET', KEYS[1], ARGV[1])
if known then
  local at = string.find(known, ' ', 1, true)
  if at and string.sub(known, 1, at - 1) == ARGV[2] and string.sub(known, at + 1) ~= ARGV[3] then
    return 1
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
local count = redis.call('HINCRBY', KEYS[1], '#', 1)
redis.call('ZADD', KEYS[2], count, ARGV[1])
if redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[4]) then
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  redis.call('HDEL', KEYS[1], oldest[1])
end
return 0
`;

type RepeatCommand = (
  ids: string,
  order: string,
  messageId: string,
  hash: string,
  origin: string,
  perDevice: string,
) => Promise<number>;

/**
 * In the cluster's Redis (per device, `<prefix>moved-device:{<client id>}` and `…moved-device-order:{<client
 * id>}`, given the installation's prefix as the client's keyPrefix; the braces keep a device's two keys in one
 * slot of a Redis Cluster): the gateway's memory of what the nodes forwarded outlives the gateway, so a
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
    private readonly perDevice = MOVED_REPEATS_PER_DEVICE,
  ) {
    if (!('wesprintMovedRepeatPerDevice' in redis))
      redis.defineCommand('wesprintMovedRepeatPerDevice', { numberOfKeys: 2, lua: REPEAT_SCRIPT });
    const command = (redis as unknown as { wesprintMovedRepeatPerDevice: RepeatCommand })
      .wesprintMovedRepeatPerDevice;
    this.command = command.bind(redis);
  }

  async isRepeat(
    origin: string,
    device: { clientId: string; messageId: number },
    topic: string,
    payload: Buffer,
  ): Promise<boolean> {
    const [ids, order] = movedDeviceKeys(device.clientId);
    const answer = await this.command(
      ids,
      order,
      String(device.messageId),
      messageHash(topic, payload),
      origin,
      String(this.perDevice),
    );
    const repeat = answer === 1;
    if (repeat) this.recognised++;
    return repeat;
  }
}

/** A device's two keys (without the installation's prefix, which the client adds): its packet ids, their order. */
export function movedDeviceKeys(clientId: string): [string, string] {
  return [`moved-device:{${clientId}}`, `moved-device-order:{${clientId}}`];
}
