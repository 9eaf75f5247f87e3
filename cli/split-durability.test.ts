import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { deviceUsername, loadOrCreateSecrets, SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import { closedPort } from '../test-support/ports.ts';
import { killWesprint, startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * The split shape (`wesprint broker` and `wesprint gateway`, separate processes, each its own DATA_DIR): the
 * broker `kill -9`ed after it took the devices' messages and routed them to the gateway (which stored them),
 * but before its PUBACKs reached the devices. Each device then sends every one of them again, DUP set, on a
 * new connection to the restarted broker, as MQTT has it do [MQTT-4.4.0-1], and must get its PUBACKs; each
 * message must still be stored exactly once (issue 10: a device's own retransmission is the same message).
 * On top, the restarted broker's record of what it forwarded to the gateway is set back to nothing (a crash
 * right after forwarding, before that record was written): it forwards its whole journal again, and that
 * too must store nothing twice.
 *
 * The devices are raw MQTT 3.1.1 sockets, so that a PUBACK can be "lost" at will: the first time they read
 * nothing the broker answers. Without the broker's journal the restarted broker routed the resent messages
 * as new ones, the gateway stamped them with their new arrival, and every one of them was stored twice.
 */

t.setTimeout(6 * 60_000);

const site = loadSite(DEMO_SITE_FILE);
const plugs = site.devices.filter((d) => d.profile === 'shelly-gen1').slice(0, 4);
const PER_DEVICE = 40;

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

/** A device's connection: sends what it is told, and counts the PUBACKs it reads (packet ids). */
async function deviceConnection(port: number, device: (typeof plugs)[number], password: string) {
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
  socket.write(connectPacket(`split-${plugs.indexOf(device)}`, deviceUsername(device), password));
  await until('CONNACK', () => connack, 20_000);
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

function storedPower(file: string): { num: number }[] {
  if (!fs.existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT num FROM reading WHERE quantity = 'power'").all() as { num: number }[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

async function until(what: string, probe: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test(
  'split shape: the broker killed before its PUBACKs reached the devices, which resend everything with DUP; its forwarding record set back: every message stored exactly once',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-split-kill-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const brokerDir = path.join(dir, 'broker');
    const gatewayDir = path.join(dir, 'gateway');
    const port = await closedPort();
    const common = {
      SITE_FILE: DEMO_SITE_FILE,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(port),
      MQTT_WS_PORT: '0',
      INFLUX_URL: '',
      BACKFILL_DAYS: '0',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'json',
    };
    const secrets = loadOrCreateSecrets(brokerDir, site);
    const brokerEnv = { ...common, DATA_DIR: brokerDir, MQTT_URL: '' };
    const startBroker = async (): Promise<WesprintService> => {
      const broker = startWesprint(t, ['broker'], brokerEnv);
      await broker.waitFor(/MQTT broker listening/, 60_000);
      return broker;
    };
    let broker = await startBroker();
    const gateway = startWesprint(t, ['gateway'], {
      ...common,
      DATA_DIR: gatewayDir,
      MQTT_URL: `mqtt://127.0.0.1:${port}`,
      MQTT_USERNAME: SERVICE_USERNAMES.gateway,
      MQTT_PASSWORD: secrets.services.gateway,
    });
    await gateway.waitFor(/mqtt intake: subscribed/, 60_000);
    t.match(
      gateway.output(),
      /journal feed/,
      "the intake reads the devices' messages from the broker's feed",
    );

    const readings = path.join(gatewayDir, 'readings.db');
    const values = plugs.map((_, d) => Array.from({ length: PER_DEVICE }, (_, k) => d * 1000 + k + 1));
    const all = values.flat();

    // First connections: every message sent, no PUBACK read (as if each was lost on the way back).
    const first = await Promise.all(
      plugs.map((d) => deviceConnection(port, d, secrets.devices[d.id] as string)),
    );
    await Promise.all(first.map((c, d) => c.publishAll(values[d] as number[], false)));
    await until('every message stored', () => storedPower(readings).length >= all.length);

    // The broker dies with none of those PUBACKs delivered; its record of what it forwarded is set back.
    const cursors = path.join(brokerDir, 'broker-journal', 'cursors.json');
    await until("the broker's forwarding cursor on disk", () => fs.existsSync(cursors), 10_000);
    await killWesprint(broker);
    for (const c of first) c.close();
    fs.writeFileSync(cursors, JSON.stringify({ feed: 0 }));
    broker = await startBroker();

    // The devices resend all of them, DUP set, on new connections; each must be acknowledged now.
    const again = await Promise.all(
      plugs.map((d) => deviceConnection(port, d, secrets.devices[d.id] as string)),
    );
    await Promise.all(again.map((c, d) => c.publishAll(values[d] as number[], true)));
    await until('the resent messages acknowledged', () => again.every((c) => c.acked.size === PER_DEVICE));
    t.pass('every resent message acknowledged by the restarted broker');

    // New messages after the restart: stored, and proof that what went before has gone through.
    const later = plugs.map((_, d) => Array.from({ length: 10 }, (_, k) => d * 1000 + 500 + k));
    await Promise.all(again.map((c, d) => c.publishAll(later[d] as number[], false)));
    await until('the later messages stored', () => {
      const stored = new Set(storedPower(readings).map((r) => r.num));
      return later.flat().every((v) => stored.has(v));
    });
    // The forwarded journal again and the resent messages have had their time: give stragglers a moment.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const c of again) c.close();

    const rows = storedPower(readings);
    const times = new Map<number, number>();
    for (const r of rows) times.set(r.num, (times.get(r.num) ?? 0) + 1);
    t.same(
      [...all, ...later.flat()].filter((v) => !times.has(v)),
      [],
      'no message lost',
    );
    t.same(
      [...times].filter(([, n]) => n > 1).map(([v]) => v),
      [],
      'no message stored twice',
    );
    t.equal(rows.length, all.length + later.flat().length, 'one row per message');

    t.equal((await gateway.stop('SIGTERM')).code, 0, 'the gateway stops cleanly');
    t.equal((await broker.stop('SIGTERM')).code, 0, 'the broker stops cleanly');
  },
);
