import { Readable } from 'node:stream';
import mqtt, { DefaultMessageIdProvider, type IClientPublishOptions, type IStore, type Packet } from 'mqtt';
import { deviceUsername } from '../site/credentials.ts';
import type { DeviceConfig } from '../site/site.ts';

/**
 * A device as MQTT.js makes one, with two things a compliant device does that MQTT.js 5.16 leaves out: the
 * packets it sends again after a reconnect carry DUP [MQTT-3.3.1-1] (MQTT.js resends them as they were), and
 * its packet ids are a fixed sequence from 1 (MQTT.js starts at a random one), so a test knows which id each
 * reading had. It keeps its session (clean 0) and, when its connection is lost, goes to the next of `ports`:
 * a device moving to another broker node when its node died.
 */

/** Packet ids 1, 2, 3, … (round again after 65535), as many devices' firmware numbers them. */
function fromOne(): DefaultMessageIdProvider {
  const provider = new DefaultMessageIdProvider();
  // MQTT.js's provider counts on from a random start; set back to 1 before its first id.
  (provider as unknown as { nextId: number }).nextId = 1;
  return provider;
}

/** MQTT.js's in-memory store of unacknowledged packets, whose resent packets say they are resent (DUP). */
class ResendsWithDup implements IStore {
  private readonly held = new Map<number | undefined, Packet>();
  resent = 0;

  put(packet: Packet, cb: () => void) {
    this.held.set(packet.messageId, packet);
    cb?.();
    return this;
  }

  /** MQTT.js reads what to send again from here on every connect (the first finds nothing). */
  createStream() {
    const packets = [...this.held.values()].map((packet) => {
      if (packet.cmd !== 'publish') return packet;
      this.resent++;
      return { ...packet, dup: true };
    });
    return Readable.from(packets) as unknown as ReturnType<IStore['createStream']>;
  }

  del(packet: Pick<Packet, 'messageId'>, cb: (err?: Error, packet?: Packet) => void) {
    const held = this.held.get(packet.messageId);
    if (held) {
      this.held.delete(packet.messageId);
      cb(undefined, held);
    } else cb?.(new Error('missing packet'));
    return this;
  }

  get(packet: Pick<Packet, 'messageId'>, cb: (err?: Error, packet?: Packet) => void) {
    const held = this.held.get(packet.messageId);
    if (held) cb(undefined, held);
    else cb?.(new Error('missing packet'));
    return this;
  }

  close(cb: () => void) {
    cb?.();
  }
}

export interface MovingDevice {
  /** The values whose PUBACK the device got. */
  readonly acknowledged: Set<number>;
  /** Publishes the values in order (QoS 1), at most `window` unacknowledged at a time; paused while offline. */
  publishAll(values: number[], window?: number): Promise<void>;
  /** PUBLISH packets sent again (with DUP) after a reconnect. */
  resent(): number;
  /** Connections made (the first, then one per move). */
  connections(): number;
  close(): Promise<void>;
}

export async function movingDevice(
  ports: number[],
  clientId: string,
  device: DeviceConfig,
  password: string,
): Promise<MovingDevice> {
  const store = new ResendsWithDup();
  let connections = 0;
  const client = mqtt.connect({
    protocol: 'mqtt',
    servers: ports.map((port) => ({ host: '127.0.0.1', port })),
    protocolVersion: 4,
    clientId,
    clean: false,
    username: deviceUsername(device),
    password,
    reconnectPeriod: 200,
    connectTimeout: 10_000,
    messageIdProvider: fromOne(),
    outgoingStore: store,
  });
  client.on('connect', () => {
    connections++;
  });
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${clientId}: no CONNACK`)), 60_000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const acknowledged = new Set<number>();
  const topic = `${device.topic}/relay/0/power`;
  return {
    acknowledged,
    async publishAll(values, window = 50) {
      let inFlight = 0;
      const options: IClientPublishOptions = { qos: 1 };
      for (const value of values) {
        while (inFlight >= window || !client.connected) await new Promise((r) => setTimeout(r, 5));
        inFlight++;
        client.publish(topic, String(value), options, (err) => {
          inFlight--;
          if (!err) acknowledged.add(value);
        });
        // A millisecond apart at least: readings stamped alike in one series would be one row.
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    resent: () => store.resent,
    connections: () => connections,
    close: () => client.endAsync(true),
  };
}
