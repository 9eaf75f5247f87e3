import net from 'node:net';
import path from 'node:path';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { Appended, ArrivingMessage, MessageJournal } from '../journal/journal.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { connect, inbox, startTestBroker, subscribe, tempDir, testProfiles } from '../test-support/broker.ts';
import { allEntries, journaled, spawnJournaledBroker, withAppend } from '../test-support/broker-journal.ts';
import { closedPort } from '../test-support/ports.ts';
import { killWesprint } from '../test-support/wesprint-process.ts';
import type { BrokerOptions, RunningBroker } from './broker.ts';

/**
 * The broker of `wesprint start` makes each device message durable before acknowledging it (issue 10): it
 * appends the message to the journal at its arrival and sends PUBACK once the append has resolved; a
 * retransmission is recognised by the journal and acknowledged, not routed or journaled again.
 */

const GATEWAY = { username: 'wesprint-gateway', password: 'gateway-secret' };
const API = { username: 'wesprint-api', password: 'api-secret' };
const DESK1 = { username: 'desk-1-occupancy', password: 'desk-1-secret' };
const ARRIVAL = Date.UTC(2026, 11, 6, 12, 0, 0);

interface Journaled {
  broker: RunningBroker;
  journal: MessageJournal;
  /** What the broker handed to the journal, in call order. */
  arriving: ArrivingMessage[];
  dataDir: string;
}

/** A broker with a real journal in its data dir; `append` may wrap the journal's own. */
async function journaledBroker(
  t: Test,
  options: Partial<BrokerOptions> = {},
  append?: (inner: MessageJournal, message: ArrivingMessage) => Promise<Appended>,
): Promise<Journaled> {
  const dataDir = tempDir(t);
  const inner = await openJournal(path.join(dataDir, 'journal'));
  const arriving: ArrivingMessage[] = [];
  const journal = withAppend(inner, (message) => {
    arriving.push(message);
    return append ? append(inner, message) : inner.append(message);
  });
  const broker = await startTestBroker(t, { dataDir, journal, now: () => ARRIVAL, ...options });
  t.teardown(async () => {
    await broker.close();
    await journal.close();
  });
  return { broker, journal, arriving, dataDir };
}

function remainingLength(n: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return bytes;
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...remainingLength(body.length)]), body]);
}

function utf8(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** A PUBLISH as a device sends it, DUP flag and packet id chosen by the test. */
function publishPacket(
  topic: string,
  payload: string,
  opts: { qos: 0 | 1; id?: number; dup?: boolean; retain?: boolean },
): Buffer {
  const first = 0x30 | (opts.dup ? 0x08 : 0) | (opts.qos << 1) | (opts.retain ? 1 : 0);
  const id = opts.qos > 0 ? Buffer.from([(opts.id ?? 1) >> 8, (opts.id ?? 1) & 0xff]) : Buffer.alloc(0);
  return packet(first, Buffer.concat([utf8(topic), id, Buffer.from(payload)]));
}

/** An MQTT 3.1.1 client made of bytes on a socket: what it sends is exactly what the test wrote. */
class RawClient {
  /** Packets received: type (high nibble of the first byte) and body. */
  readonly received: { type: number; body: Buffer }[] = [];
  private buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (data) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      for (;;) {
        let length = 0;
        let multiplier = 1;
        let i = 1;
        for (; i < this.buffer.length; i++) {
          const byte = this.buffer[i] as number;
          length += (byte & 0x7f) * multiplier;
          multiplier *= 128;
          if ((byte & 0x80) === 0) break;
        }
        if (i >= this.buffer.length || this.buffer.length < i + 1 + length) break;
        const type = (this.buffer[0] as number) >> 4;
        this.received.push({ type, body: this.buffer.subarray(i + 1, i + 1 + length) });
        this.buffer = this.buffer.subarray(i + 1 + length);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake() {
    for (const w of [...this.waiters]) w();
  }

  static async connect(t: Test, port: number, clientId: string): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const client = new RawClient(socket);
    t.teardown(() => void socket.destroy());
    const body = Buffer.concat([utf8('MQTT'), Buffer.from([4, 0x02, 0, 60]), utf8(clientId)]);
    socket.write(packet(0x10, body));
    const connack = await client.next((p) => p.type === 2);
    if (connack.body[1] !== 0) throw new Error(`CONNACK ${connack.body[1]}`);
    return client;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Packet ids of the PUBACKs received, in order. */
  pubacks(): number[] {
    return this.received.filter((p) => p.type === 4).map((p) => p.body.readUInt16BE(0));
  }

  /** The first received packet matching, waiting for it; rejects if the connection closes first. */
  next(match: (p: { type: number; body: Buffer }) => boolean): Promise<{ type: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.received.find(match);
        if (found) {
          this.waiters.delete(check);
          resolve(found);
        } else if (this.closed) {
          this.waiters.delete(check);
          reject(new Error('connection closed'));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves once `count` PUBACKs have come. */
  async acknowledged(count: number): Promise<number[]> {
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.pubacks().length >= count) {
          this.waiters.delete(check);
          resolve();
        } else if (this.closed) {
          this.waiters.delete(check);
          reject(new Error(`connection closed after ${this.pubacks().length} PUBACKs`));
        }
      };
      this.waiters.add(check);
      check();
    });
    return this.pubacks();
  }

  /** A PINGREQ answered: the broker has read everything this client sent before it. */
  async ping(): Promise<void> {
    const before = this.received.filter((p) => p.type === 13).length;
    this.send(Buffer.from([0xc0, 0]));
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.received.filter((p) => p.type === 13).length > before) {
          this.waiters.delete(check);
          resolve();
        } else if (this.closed) reject(new Error('connection closed'));
      };
      this.waiters.add(check);
      check();
    });
  }
}

const text = (entries: { topic: string; payload: Buffer }[]) =>
  entries.map((e) => `${e.topic} ${e.payload.toString()}`);

t.test('a QoS 1 PUBACK is sent only once the journal append has resolved', async (t) => {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let appendCalled: (call: { onDisk: Promise<Appended> }) => void = () => {};
  const called = new Promise<{ onDisk: Promise<Appended> }>((resolve) => {
    appendCalled = resolve;
  });
  const { broker, journal, arriving } = await journaledBroker(
    t,
    { allowAnonymous: true },
    async (inner, m) => {
      const onDisk = inner.append(m);
      appendCalled({ onDisk });
      const appended = await onDisk;
      await released;
      return appended;
    },
  );
  const device = await RawClient.connect(t, broker.port, 'plug-late');
  device.send(publishPacket('zigbee2mqtt/desk-1', '{"occupancy":true}', { qos: 1, id: 1 }));

  const first = await Promise.race([called, device.next((p) => p.type === 4).then(() => 'PUBACK' as const)]);
  // Held appends would hold the broker's close (it waits for them).
  t.teardown(release);
  t.not(first, 'PUBACK', 'the append starts before any PUBACK');
  if (first === 'PUBACK') return;
  await first.onDisk;
  t.equal(journal.committed(), 1, 'the message is on disk');
  // Another connection's round trip: the broker has had every chance to answer the held one by now.
  const other = await RawClient.connect(t, broker.port, 'plug-other');
  await other.ping();
  t.same(device.pubacks(), [], 'no PUBACK while the append has not resolved for the broker');

  release();
  t.same(await device.acknowledged(1), [1], 'the PUBACK follows the append');
  t.same(text(await allEntries(journal)), ['zigbee2mqtt/desk-1 {"occupancy":true}']);
  t.match(arriving[0], {
    topic: 'zigbee2mqtt/desk-1',
    receivedAt: ARRIVAL,
    retainedReplay: false,
    sender: { clientId: 'plug-late', messageId: 1, dup: false },
  });
});

t.test(
  "a connection's next packets are read and journaled while its earlier messages wait for their append; the PUBACKs follow in arrival order",
  async (t) => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { broker, arriving } = await journaledBroker(t, { allowAnonymous: true }, async (inner, m) => {
      const appended = await inner.append(m);
      await released;
      return appended;
    });
    t.teardown(release);
    const device = await RawClient.connect(t, broker.port, 'bridge');
    // Two messages in one read. aedes reads a connection's next bytes once the packets of its previous read
    // are done (new bytes arriving count for one of them), and a QoS 1 message is done at its PUBACK, after
    // its append: without aedes-patches.ts readOnWhileJournaling, which gives a message's turn back at its
    // arrival, nothing more of this connection is read until the first two are journaled.
    device.send(
      Buffer.concat([
        publishPacket('zigbee2mqtt/desk-1', '{"occupancy":true}', { qos: 1, id: 1 }),
        publishPacket('zigbee2mqtt/desk-2', '{"occupancy":true}', { qos: 1, id: 2 }),
      ]),
    );
    // A PINGREQ is answered once the broker has read everything sent before it.
    await device.ping();
    device.send(publishPacket('zigbee2mqtt/desk-1', '{"occupancy":false}', { qos: 1, id: 3 }));
    await device.ping();
    t.same(
      arriving.map((m) => m.sender?.messageId),
      [1, 2, 3],
      'the later messages are read and journaled while the first wait for their append',
    );
    t.same(device.pubacks(), [], 'none is acknowledged before its append has resolved');
    release();
    t.same(await device.acknowledged(3), [1, 2, 3], 'then each, in arrival order');
    await device.ping();
    t.same(device.pubacks(), [1, 2, 3], 'once');
  },
);

t.test('a retransmission with DUP is journaled once, acknowledged twice and routed once', async (t) => {
  const { broker, journal } = await journaledBroker(t, { allowAnonymous: true });
  const watcher = await connect(t, `mqtt://127.0.0.1:${broker.port}`, { clientId: 'lab-watcher' });
  const got = inbox(watcher);
  await subscribe(watcher, 'zigbee2mqtt/+', 1);

  const device = await RawClient.connect(t, broker.port, 'plug-dup');
  // Both before the first PUBACK, as a device whose PUBACK was late sends them.
  device.send(
    Buffer.concat([
      publishPacket('zigbee2mqtt/desk-1', 'first', { qos: 1, id: 7 }),
      publishPacket('zigbee2mqtt/desk-1', 'first', { qos: 1, id: 7, dup: true }),
    ]),
  );
  t.same(await device.acknowledged(2), [7, 7], 'both acknowledged');
  device.send(publishPacket('zigbee2mqtt/desk-1', 'after', { qos: 1, id: 8 }));
  await device.acknowledged(3);
  await got.waitFor((m) => m.payload === 'after');
  t.same(
    got.messages.map((m) => m.payload),
    ['first', 'after'],
    'routed once (routing is in arrival order: a second copy would have come before "after")',
  );
  t.same(text(await allEntries(journal)), ['zigbee2mqtt/desk-1 first', 'zigbee2mqtt/desk-1 after']);
  t.equal(broker.stats().journalDuplicates, 1, 'the retransmission was recognised');
});

t.test('a packet id reused after its PUBACK is a new message, even with the same content', async (t) => {
  const { broker, journal } = await journaledBroker(t, { allowAnonymous: true });
  const watcher = await connect(t, `mqtt://127.0.0.1:${broker.port}`, { clientId: 'lab-watcher' });
  const got = inbox(watcher);
  await subscribe(watcher, 'zigbee2mqtt/+', 1);
  const device = await RawClient.connect(t, broker.port, 'plug-reuse');
  let count = 0;
  for (const payload of ['12.5', '12.7', '12.7']) {
    device.send(publishPacket('zigbee2mqtt/desk-1', payload, { qos: 1, id: 9 }));
    await device.acknowledged(++count);
  }
  await got.waitFor(() => got.messages.length === 3);
  t.same(
    got.messages.map((m) => m.payload),
    ['12.5', '12.7', '12.7'],
    'each routed',
  );
  t.same(
    text(await allEntries(journal)),
    ['zigbee2mqtt/desk-1 12.5', 'zigbee2mqtt/desk-1 12.7', 'zigbee2mqtt/desk-1 12.7'],
    'each journaled',
  );
});

t.test('the journal is in arrival order, QoS 0 and QoS 1 alike; QoS 2 is journaled too', async (t) => {
  const { broker, journal, arriving } = await journaledBroker(t, { allowAnonymous: true });
  const device = await RawClient.connect(t, broker.port, 'plug-order');
  const sent: string[] = [];
  const burst: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const qos = i % 3 === 0 ? 0 : 1;
    sent.push(`zigbee2mqtt/desk-1 ${i}`);
    burst.push(publishPacket('zigbee2mqtt/desk-1', String(i), { qos, id: i + 1 }));
  }
  // One write: aedes parses them in one batch and routes the QoS 0 ones without waiting for the disk.
  device.send(Buffer.concat(burst));
  await device.acknowledged(26);
  t.same(text(await journaled(journal, 40)), sent, 'as sent');

  const lab = await connect(t, `mqtt://127.0.0.1:${broker.port}`, { clientId: 'lab-qos2' });
  await lab.publishAsync('zigbee2mqtt/desk-2', 'exactly once', { qos: 2 });
  t.same(text(await journaled(journal, 41)).slice(40), ['zigbee2mqtt/desk-2 exactly once'], 'QoS 2');
  t.match(arriving[40]?.sender, { clientId: 'lab-qos2', dup: false }, 'with its sender');
});

t.test('only devices on device topics: not services, not other topics, not refused publishes', async (t) => {
  // A family whose topics the services may publish to, so only the account's role keeps them out.
  const base = testProfiles.get('zigbee2mqtt-occupancy') as DeviceProfile;
  const profiles = new Map([
    ...testProfiles,
    ['catch-all', { ...base, id: 'catch-all', subscriptions: ['wesprint/#'] }],
  ]);
  const { broker, journal, arriving } = await journaledBroker(t, { allowAnonymous: true, profiles });
  const url = `mqtt://127.0.0.1:${broker.port}`;

  const gateway = await connect(t, url, { ...GATEWAY, clientId: 'gw' });
  await gateway.publishAsync('wesprint/kaufhaus/devices/lock-101/status', 'online', { qos: 1, retain: true });
  await gateway.publishAsync('zigbee2mqtt/desk-1/set', '{"state":"ON"}', { qos: 1 });
  const api = await connect(t, url, { ...API, clientId: 'api' });
  await api.publishAsync('wesprint/kaufhaus/commands/lock-101', '{"action":"unlock"}', { qos: 1 });
  const lab = await connect(t, url, { clientId: 'lab-tool' });
  await lab.publishAsync('TopicA/B', 'not a device topic', { qos: 1 });
  const desk = await connect(t, url, { ...DESK1, clientId: 'desk-1' });
  await desk.publishAsync('zigbee2mqtt/desk-2', 'not its own topic: refused', { qos: 1 });
  t.equal(broker.stats().publishesRefused, 1, 'the ACL refused it (and aedes acknowledged it)');
  t.equal(journal.committed(), 0, 'nothing journaled so far');

  await desk.publishAsync('zigbee2mqtt/desk-1', '{"occupancy":true}', { qos: 1 });
  await lab.publishAsync('zigbee2mqtt/desk-2/availability', 'online', { qos: 0 });
  t.same(
    text(await journaled(journal, 2)),
    ['zigbee2mqtt/desk-1 {"occupancy":true}', 'zigbee2mqtt/desk-2/availability online'],
    "a device account's message, and a lab-mode client's on a device topic (QoS 0 too)",
  );
  t.match(arriving[0]?.sender, { clientId: 'desk-1', dup: false }, 'QoS 1: its sender');
  t.equal(arriving[1]?.sender, undefined, 'QoS 0: nobody to answer');
  t.ok((arriving[0]?.sender?.connection ?? 0) > 0, 'a connection number');
});

t.test('a connection number changes with each connection and increases across broker runs', async (t) => {
  const dataDir = tempDir(t);
  const numbers: number[] = [];
  for (let run = 0; run < 2; run++) {
    const inner = await openJournal(path.join(dataDir, 'journal'));
    const journal = withAppend(inner, (m) => {
      numbers.push(m.sender?.connection ?? Number.NaN);
      return inner.append(m);
    });
    const broker = await startTestBroker(t, { dataDir, journal, allowAnonymous: true });
    for (let connection = 0; connection < 2; connection++) {
      const device = await connect(t, `mqtt://127.0.0.1:${broker.port}`, { clientId: 'plug-again' });
      await device.publishAsync('zigbee2mqtt/desk-1', `run ${run}`, { qos: 1 });
      await device.endAsync();
    }
    await broker.close();
    await journal.close();
  }
  t.equal(numbers.length, 4);
  t.same(
    [...numbers].sort((a, b) => a - b),
    numbers,
    'increasing',
  );
  t.equal(new Set(numbers).size, 4, 'never the same');
});

t.test("a device's will is journaled, with no sender", async (t) => {
  const { broker, journal, arriving } = await journaledBroker(t);
  const desk = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
    ...DESK1,
    clientId: 'desk-will',
    reconnectPeriod: 0,
    protocolVersion: 4,
    will: { topic: 'zigbee2mqtt/desk-1/availability', payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  t.teardown(() => desk.endAsync(true));
  await new Promise((resolve) => desk.once('connect', resolve));
  t.equal(journal.committed(), 0);
  // The connection breaks without DISCONNECT: aedes publishes the will.
  desk.stream.destroy();
  t.same(text(await journaled(journal, 1)), ['zigbee2mqtt/desk-1/availability offline']);
  t.equal(arriving[0]?.sender, undefined, 'nobody to answer');
  t.equal(arriving[0]?.retainedReplay, false);
});

t.test(
  'a will left by an earlier run (aedes publishes it without a client) is journaled before aedes deletes it',
  async (t) => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { broker, journal, arriving } = await journaledBroker(t, {}, async (inner, m) => {
      const appended = await inner.append(m);
      await released;
      return appended;
    });
    t.teardown(release);
    // As aedes.js `_clearWills` does it: `publish(will)`, no client, then `delWill` once that has called back.
    const publish = (packet: { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean }) =>
      new Promise<Error | null | undefined>((resolve) =>
        (broker.aedes.publish as (p: unknown, done: (err?: Error | null) => void) => void)(
          { ...packet, cmd: undefined },
          resolve,
        ),
      );
    let published = false;
    const will = publish({
      topic: 'zigbee2mqtt/desk-1/availability',
      payload: Buffer.from('offline'),
      qos: 1,
      retain: true,
    }).then((err) => {
      published = true;
      return err;
    });
    t.notOk(
      await publish({ topic: '$SYS/test/heartbeat', payload: Buffer.from('x'), qos: 0, retain: false }),
    );
    await journaled(journal, 1);
    t.notOk(published, 'not done (so not deleted) while its append has not resolved');
    release();
    t.notOk(await will, 'done once appended');
    t.same(
      text(await allEntries(journal)),
      ['zigbee2mqtt/desk-1/availability offline'],
      'the $SYS message is not journaled',
    );
    t.equal(arriving[0]?.sender, undefined);
  },
);

t.test('retained(filters): the retained messages matching any filter, each once', async (t) => {
  const { broker } = await journaledBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const desk = await connect(t, url, { ...DESK1, clientId: 'desk-retain' });
  await desk.publishAsync('zigbee2mqtt/desk-1/availability', 'offline', { qos: 1, retain: true });
  await desk.publishAsync('zigbee2mqtt/desk-1', '{"occupancy":false}', { qos: 1 });
  const gateway = await connect(t, url, { ...GATEWAY, clientId: 'gw-retain' });
  await gateway.publishAsync('wesprint/kaufhaus/gateway/status', 'online', { qos: 1, retain: true });

  const found = await broker.retained(['zigbee2mqtt/+/availability', 'zigbee2mqtt/#']);
  t.same(text(found), ['zigbee2mqtt/desk-1/availability offline'], 'not the unretained reading, not twice');
  t.same(await broker.retained(['nuki/+/state']), [], 'nothing retained there');
});

t.test(
  'a failed append is not acknowledged: the connection is closed and the client sends it again',
  async (t) => {
    let appends = 0;
    const { broker, journal } = await journaledBroker(t, { allowAnonymous: true }, (inner, m) => {
      appends++;
      return appends === 1 ? Promise.reject(new Error('disk full')) : inner.append(m);
    });
    const device = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
      clientId: 'plug-retry',
      clean: false,
      reconnectPeriod: 100,
      protocolVersion: 4,
    });
    t.teardown(() => device.endAsync(true));
    let closes = 0;
    device.on('close', () => closes++);
    await new Promise((resolve) => device.once('connect', resolve));
    await device.publishAsync('zigbee2mqtt/desk-1', 'kept', { qos: 1 });
    t.ok(closes >= 1, 'the broker closed the connection instead of acknowledging');
    t.equal(appends, 2, 'the client sent it again, and that append resolved');
    t.same(text(await allEntries(journal)), ['zigbee2mqtt/desk-1 kept'], 'journaled once');
    t.equal(broker.stats().journalFailures, 1);
  },
);

t.test(
  'a broker killed with SIGKILL: what it acknowledged is in the journal; retransmissions are recognised',
  async (t) => {
    const dataDir = tempDir(t);
    const port = String(await closedPort());
    const total = 300;
    const acknowledgedBeforeKill = 120;

    // The first run acknowledges 120 messages, takes the rest into the journal without acknowledging them.
    const first = spawnJournaledBroker({
      DATA_DIR: dataDir,
      PORT: port,
      ACK_ONLY: String(acknowledgedBeforeKill),
    });
    t.teardown(() => killWesprint(first));
    await first.waitFor(/listening \d+/);
    const device = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId: 'meter-1',
      clean: false,
      reconnectPeriod: 200,
      protocolVersion: 4,
    });
    t.teardown(() => device.endAsync(true));
    await new Promise((resolve) => device.once('connect', resolve));
    const acknowledged = new Set<string>();
    let allAcknowledged: () => void = () => {};
    const everyPuback = new Promise<void>((resolve) => {
      allAcknowledged = resolve;
    });
    let firstAcks: () => void = () => {};
    const firstPubacks = new Promise<void>((resolve) => {
      firstAcks = resolve;
    });
    for (let i = 0; i < total; i++) {
      const payload = `{"energy":${i}}`;
      device.publish('zigbee2mqtt/desk-1', payload, { qos: 1 }, (err) => {
        if (err) return;
        acknowledged.add(payload);
        if (acknowledged.size === acknowledgedBeforeKill) firstAcks();
        if (acknowledged.size === total) allAcknowledged();
      });
    }
    await firstPubacks;
    await first.waitFor(/unacknowledged \d+/);
    await killWesprint(first);
    t.equal(acknowledged.size, acknowledgedBeforeKill, 'killed right after the last PUBACK it sent');

    const afterKill = await openJournal(path.join(dataDir, 'journal'));
    const kept = new Set(text(await allEntries(afterKill)).map((line) => line.split(' ')[1]));
    await afterKill.close();
    t.same(
      [...acknowledged].filter((p) => !kept.has(p)),
      [],
      'every acknowledged message is in the journal on reopen',
    );
    t.ok(kept.size > acknowledgedBeforeKill, 'and some it had not acknowledged yet');

    // The second run: the device reconnects and sends again what was not acknowledged.
    const second = spawnJournaledBroker({ DATA_DIR: dataDir, PORT: port });
    t.teardown(() => killWesprint(second));
    await second.waitFor(/listening \d+/);
    await everyPuback;
    await second.stop('SIGTERM');
    const closed = JSON.parse((await second.waitFor(/closed (.*)/))[1] as string);
    t.ok(closed.journal.duplicates >= 1, 'retransmissions of journaled messages were recognised');

    const reopened = await openJournal(path.join(dataDir, 'journal'));
    t.teardown(() => reopened.close());
    const payloads = text(await allEntries(reopened)).map((line) => line.split(' ')[1]);
    t.equal(payloads.length, total, 'each message journaled once');
    t.equal(new Set(payloads).size, total, 'none twice, none missing');
  },
);

t.test(
  'a message journaled by a run that died before routing it is routed when the device sends it again',
  { timeout: 180_000 },
  async (t) => {
    const dataDir = tempDir(t);
    const port = String(await closedPort());
    // The first run journals the lock's retained state and dies before routing or acknowledging it.
    const first = spawnJournaledBroker({ DATA_DIR: dataDir, PORT: port, ACK_ONLY: '0' });
    t.teardown(() => killWesprint(first));
    await first.waitFor(/listening \d+/);
    const lock = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId: 'lock-state',
      clean: false,
      reconnectPeriod: 200,
      protocolVersion: 4,
    });
    t.teardown(() => lock.endAsync(true));
    await new Promise((resolve) => lock.once('connect', resolve));
    const acknowledged = lock.publishAsync('nuki/3A4B5C6D/state', '1', { qos: 1, retain: true });
    await first.waitFor(/unacknowledged \d+/);
    await killWesprint(first);

    const second = spawnJournaledBroker({ DATA_DIR: dataDir, PORT: port });
    t.teardown(() => killWesprint(second));
    await second.waitFor(/listening \d+/);
    await acknowledged;
    const watcher = await connect(t, `mqtt://127.0.0.1:${port}`, { clientId: 'lab-watcher' });
    const got = inbox(watcher);
    await subscribe(watcher, 'nuki/+/state', 1);
    const state = await got.waitFor((m) => m.topic === 'nuki/3A4B5C6D/state');
    t.ok(state.retain && state.payload === '1', 'the retained state the lock was told was taken is stored');

    await second.stop('SIGTERM');
    const reopened = await openJournal(path.join(dataDir, 'journal'));
    t.teardown(() => reopened.close());
    t.same(text(await allEntries(reopened)), ['nuki/3A4B5C6D/state 1'], 'journaled once');
  },
);
