import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { Store } from 'mqtt';
import t from 'tap';
import { tempDir } from '../test-support/broker.ts';
import { spawnJournaledBroker } from '../test-support/broker-journal.ts';
import { deviceLine } from '../test-support/device-line.ts';
import { closedPort } from '../test-support/ports.ts';
import { killWesprint } from '../test-support/wesprint-process.ts';

/**
 * Issue 10: a device's DUP retransmission counts as the same message, however long ago it first sent it.
 * The broker of `wesprint start` with its journal, in a process of its own, killed with SIGKILL: a device's
 * message journaled but its PUBACK lost with the connection (a pass-through between the device and the
 * broker swallows it and then drops the connection), then more messages of another device than the journal reads
 * back on open, all read by the store and their segments deleted; the broker restarts, the device reconnects
 * (clean: false) and resends its message. The journal is small (4 KB segments, 200 records read back on
 * open) so that this takes 1,500 messages instead of a hundred thousand.
 */

const JOURNAL_OPTIONS = JSON.stringify({
  segmentBytes: 4096,
  identityTail: 200,
  recentEntries: 100,
  identities: 200,
  snapshotMs: 0,
  snapshotRecords: 500,
  cursorWriteMs: 10,
});
const OTHERS = 1500;

/**
 * MQTT.js resends a message it has no PUBACK for as it stored it, without DUP (what the journal's "earlier
 * connection" rule is for); a device that says what it does [MQTT-3.3.1-1] sets DUP on the resend.
 */
class ResendsWithDup extends Store {
  override createStream() {
    return super.createStream().map((packet: { dup?: boolean }) => ({ ...packet, dup: true }));
  }
}

/** The store's lines as seq → payload (a line written again after the kill has the same seq). */
function storedLines(file: string): Map<number, string> {
  const stored = new Map<number, string>();
  if (!fs.existsSync(file)) return stored;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [seq, , payload] = line.split(' ');
    if (payload !== undefined) stored.set(Number(seq), payload);
  }
  return stored;
}

const storedAt = (stored: Map<number, string>, desk: string) =>
  [...stored].filter(([, payload]) => payload.includes(`"from":"${desk}"`)).map(([seq]) => seq);

t.test(
  'a device resending after a broker kill -9 what it sent 1,500 read and deleted messages ago is stored once',
  { timeout: 180_000 },
  async (t) => {
    const dataDir = tempDir(t);
    const storeLog = path.join(dataDir, 'store.log');
    const port = String(await closedPort());
    const env = { DATA_DIR: dataDir, PORT: port, JOURNAL_OPTIONS, STORE_LOG: storeLog };

    const first = spawnJournaledBroker(env);
    t.teardown(() => killWesprint(first));
    await first.waitFor(/listening \d+/);
    const line = await deviceLine(t, Number(port));
    // Two desks away from the broker for a while: one resends with DUP, the other (MQTT.js as it is) without.
    const desks = ['quiet', 'plain'].map((desk) => {
      const client = mqtt.connect(`mqtt://127.0.0.1:${line.port}`, {
        clientId: `desk-${desk}`,
        clean: false,
        reconnectPeriod: 200,
        protocolVersion: 4,
        ...(desk === 'quiet' ? { outgoingStore: new ResendsWithDup() } : {}),
      });
      t.teardown(() => client.endAsync(true));
      const sentDup: boolean[] = [];
      client.on('packetsend', (packet) => {
        if (packet.cmd === 'publish') sentDup.push(packet.dup === true);
      });
      return { desk, client, sentDup, connected: new Promise((resolve) => client.once('connect', resolve)) };
    });
    await Promise.all(desks.map((d) => d.connected));
    line.swallow = true;
    const acknowledged = desks.map(({ client, desk }) =>
      client.publishAsync('zigbee2mqtt/desk-1', `{"occupancy":true,"from":"${desk}"}`, { qos: 1 }),
    );
    const journaledAt = async (desk: string) => {
      while (storedAt(storedLines(storeLog), desk).length === 0) await sleep(10);
      return storedAt(storedLines(storeLog), desk);
    };
    const firstAt = { quiet: await journaledAt('quiet'), plain: await journaledAt('plain') };
    // Their PUBACKs went nowhere; now the connections break, and the desks stay away for a while.
    line.away = true;
    line.cut();

    const busy = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId: 'desk-busy',
      clean: true,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    await new Promise((resolve) => busy.once('connect', resolve));
    for (let batch = 0; batch < OTHERS / 100; batch++)
      await Promise.all(
        Array.from({ length: 100 }, (_, k) =>
          busy.publishAsync('zigbee2mqtt/desk-1', `{"occupancy":false,"n":${batch * 100 + k}}`, { qos: 1 }),
        ),
      );
    await busy.endAsync();
    // The store reads on and moves its cursor; the journal deletes what is behind it, the desk's message too.
    while (fs.existsSync(path.join(dataDir, 'journal', '000000000001.journal'))) await sleep(10);

    await killWesprint(first);
    const second = spawnJournaledBroker(env);
    t.teardown(() => killWesprint(second));
    await second.waitFor(/listening \d+/);
    line.swallow = false;
    line.away = false;
    await Promise.all(acknowledged);
    t.same(
      desks.map((d) => d.sentDup),
      [
        [false, true],
        [false, false],
      ],
      'each desk sent its message again once it had reconnected, one with DUP, one (MQTT.js) without',
    );
    await second.stop('SIGTERM');
    const closed = JSON.parse((await second.waitFor(/closed (.*)/))[1] as string);
    t.equal(closed.journal.duplicates, 2, 'the restarted broker recognised both resends');

    const stored = storedLines(storeLog);
    for (const desk of ['quiet', 'plain'] as const)
      t.same(
        storedAt(stored, desk),
        firstAt[desk],
        `desk-${desk}'s message is stored once, at the position it was first journaled at`,
      );
    t.equal(stored.size, OTHERS + 2, 'every message stored, none twice');
  },
);
