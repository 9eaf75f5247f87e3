import net from 'node:net';
import { deviceUsername } from '../site/credentials.ts';
import type { DeviceConfig } from '../site/site.ts';

/**
 * A device as raw MQTT 3.1.1 over a socket (clean session, user name and password): what MQTT.js would
 * hide, a PUBACK that never arrived, is the test's to decide.
 */

function mqttString(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function packet(type: number, body: Buffer): Buffer {
  const lengths: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    lengths.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([type, ...lengths]), body]);
}

function connectPacket(clientId: string, username: string, password: string): Buffer {
  // MQTT 3.1.1, clean session, user name and password, keep-alive 60 s.
  const header = Buffer.concat([mqttString('MQTT'), Buffer.from([4, 0x80 | 0x40 | 0x02, 0, 60])]);
  return packet(
    0x10,
    Buffer.concat([header, mqttString(clientId), mqttString(username), mqttString(password)]),
  );
}

function publishPacket(topic: string, payload: string, messageId: number, dup: boolean): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return packet(0x32 | (dup ? 0x08 : 0), Buffer.concat([mqttString(topic), id, Buffer.from(payload)]));
}

/**
 * A device's connection: sends what it is told, and counts the PUBACKs it reads (packet ids). It reads
 * nothing else and answers nothing, so a test decides which PUBACKs a device "got": one that closes this
 * connection and sends again on a new one with DUP set is a device whose PUBACKs were lost [MQTT-4.4.0-1].
 */
export async function rawDeviceConnection(
  port: number,
  clientId: string,
  device: DeviceConfig,
  password: string,
) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const acked = new Set<number>();
  let connack = false;
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const length = buffered[1] as number; // CONNACK and PUBACK: remaining length 2
      if (buffered.length < 2 + length) break;
      const type = (buffered[0] as number) >> 4;
      if (type === 2) {
        if (buffered[3] !== 0) socket.destroy(new Error(`CONNACK ${buffered[3]}`));
        connack = buffered[3] === 0;
      }
      if (type === 4) acked.add(buffered.readUInt16BE(2));
      buffered = buffered.subarray(2 + length);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  // A short client id: aedes keeps MQTT 3.1's 23 characters.
  socket.write(connectPacket(clientId, deviceUsername(device), password));
  const end = Date.now() + 20_000;
  while (!connack) {
    if (Date.now() > end || socket.destroyed) throw new Error(`no CONNACK for ${clientId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    acked,
    closed,
    async publishAll(values: number[], dup: boolean) {
      for (const [i, value] of values.entries()) {
        socket.write(publishPacket(`${device.topic}/relay/0/power`, String(value), i + 1, dup));
        // A millisecond apart at least: readings stamped alike in one series would be one row.
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
    },
    close() {
      socket.destroy();
    },
  };
}
