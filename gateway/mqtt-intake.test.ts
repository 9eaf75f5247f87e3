import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import t, { type Test } from 'tap';
import { arrivalClock } from '../journal/arrival-clock.ts';
import type { JournalEntry, MessageJournal } from '../journal/journal.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { startTestBroker, testProfiles } from '../test-support/broker.ts';
import { requireComponent } from '../test-support/component.ts';
import { MOSQUITTO_INSTALL, mosquittoAvailable, startMosquitto } from '../test-support/mosquitto.ts';
import {
  intakeClientId,
  intakeFilters,
  type MqttIntake,
  type MqttIntakeOptions,
  startMqttIntake,
  subscriptionAnswer,
} from './mqtt-intake.ts';

/**
 * The gateway's MQTT intake against real brokers: the project's broker (aedes, MQTT 3.1.1) and a Mosquitto
 * 2.0.11 of the test's own (MQTT 3.1.1, and MQTT 5 with a share group), each with a real journal on disk.
 */

const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const N = 10;

function tempDir(t: Test, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(what: string, condition: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The journal, with every append's answer held back until `release()`: the intake cannot acknowledge. */
function heldJournal(journal: MessageJournal): MessageJournal & { release(): void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    append: async (m) => {
      const appended = await journal.append(m);
      await gate;
      return appended;
    },
    committed: () => journal.committed(),
    read: (after, limit) => journal.read(after, limit),
    waitFor: (after, stop, appendedAfter) => journal.waitFor(after, stop, appendedAfter),
    uncommitted: (after) => journal.uncommitted(after),
    cursor: (c) => journal.cursor(c),
    advance: (c, seq) => journal.advance(c, seq),
    stats: () => journal.stats(),
    close: () => journal.close(),
    release,
  };
}

const all = (journal: MessageJournal): Promise<JournalEntry[]> => journal.read(0, 1_000_000);
const live = (entries: JournalEntry[], topic: string) =>
  entries.filter((e) => e.topic === topic && !e.retainedReplay).map((e) => e.payload.toString());

interface Setup {
  url: string;
  intakeAccount: { username?: string; password?: string };
  publisher: IClientOptions;
  topic: string;
  filters: string[];
  shareGroup?: string;
}

async function publisher(t: Test, s: Setup): Promise<MqttClient> {
  const client = await mqtt.connectAsync(s.url, { reconnectPeriod: 0, protocolVersion: 4, ...s.publisher });
  t.teardown(() => client.endAsync(true));
  return client;
}

async function intake(
  t: Test,
  s: Setup,
  journal: MessageJournal,
  clientId: string,
  extra: Partial<MqttIntakeOptions> = {},
): Promise<MqttIntake> {
  const started = await startMqttIntake({
    ...extra,
    url: s.url,
    ...s.intakeAccount,
    clientId,
    filters: s.filters,
    ...(s.shareGroup ? { shareGroup: s.shareGroup } : {}),
    journal,
    logger: silent,
    reconnectMinMs: 100,
    connectInBackground: true,
  });
  t.teardown(() => started.stop());
  return started;
}

/**
 * A gateway that journaled N messages and died before its PUBACKs went out, started again on its journal:
 * the broker sends the N again, the journal recognises each, and nothing is journaled twice.
 */
async function redelivery(t: Test, s: Setup): Promise<{ dup: boolean[]; ids: number[][] }> {
  const dir = tempDir(t, 'wesprint-intake-journal-');
  const clientId = `intake-test-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const device = await publisher(t, s);

  const first = heldJournal(await openJournal(dir));
  const a = await intake(t, s, first, clientId);
  const idsA: number[] = [];
  a.client.on('message', (_topic, _payload, packet) => {
    if (!packet.retain) idsA.push(packet.messageId as number);
  });
  await a.subscribed;
  for (let i = 0; i < N; i++) await device.publishAsync(s.topic, `m${i}`, { qos: 1 });
  await until('the first intake journaling all', () => first.committed() >= N);
  t.equal(a.stats().acknowledged, 0, 'nothing acknowledged while the appends have not answered');
  // The process dies: no DISCONNECT, no PUBACK; its appends answer after the socket is gone.
  await a.client.endAsync(true);
  first.release();
  await until('the held appends to answer', () => a.stats().unacknowledged >= N);
  t.equal(a.stats().acknowledged, 0, 'an append answered after its connection was gone acknowledges nothing');
  await a.stop();
  await first.close();

  // The restart: the journal opened again, the same session.
  const second = await openJournal(dir);
  t.teardown(() => second.close());
  const b = await intake(t, s, second, clientId);
  const dup: boolean[] = [];
  const idsB: number[] = [];
  b.client.on('message', (_topic, _payload, packet) => {
    if (packet.retain) return;
    dup.push(packet.dup);
    idsB.push(packet.messageId as number);
  });
  await until('the redeliveries', () => b.stats().duplicates >= N);
  await until('their PUBACKs', () => b.stats().acknowledged >= N);
  t.same(
    live(await all(second), s.topic),
    [...Array(N).keys()].map((i) => `m${i}`),
    'each message journaled once',
  );
  t.equal(b.stats().appended - b.stats().retainedReplays, 0, 'no redelivery journaled as a new message');
  t.same(idsB, idsA, 'redelivered with the packet ids of the first delivery');
  await b.stop();

  // Acknowledged for good: a third start gets only what is new (the marker comes after anything queued).
  const c = await intake(t, s, second, clientId);
  await c.subscribed;
  await device.publishAsync(s.topic, 'marker', { qos: 1 });
  await until('the marker', async () => live(await all(second), s.topic).includes('marker'));
  t.same(live(await all(second), s.topic), [...[...Array(N).keys()].map((i) => `m${i}`), 'marker']);
  t.equal(c.stats().duplicates - c.stats().retainedReplays, 0, 'nothing sent a third time');
  return { dup, ids: [idsA, idsB] };
}

t.test('intakeFilters: a share group prefixes every filter; duplicates go', async (t) => {
  t.same(intakeFilters(['a/+', 'b/#', 'a/+']), ['a/+', 'b/#']);
  t.same(intakeFilters(['a/+', 'b/#'], 'gw'), ['$share/gw/a/+', '$share/gw/b/#']);
});

t.test('arrivalClock: strictly increasing per topic, the clock itself otherwise', async (t) => {
  let clock = 1000;
  const stamp = arrivalClock(() => clock);
  t.same(
    ['a', 'a', 'a', 'b', 'a'].map((topic) => stamp(topic)),
    [1000, 1001, 1002, 1000, 1003],
    'a burst within one millisecond: one stamp each',
  );
  clock = 1001;
  t.equal(stamp('b'), 1001, 'another topic keeps the clock');
  t.equal(stamp('a'), 1004, 'ahead until the clock catches up');
  clock = 2000;
  t.equal(stamp('a'), 2000);
});

t.test('intakeClientId: made once per DATA_DIR, then kept', async (t) => {
  const dir = tempDir(t, 'wesprint-intake-id-');
  const id = intakeClientId(dir, 'kaufhaus');
  t.match(id, /^wesprint-intake-kaufhaus-[0-9a-f]{8}$/);
  t.equal(intakeClientId(dir, 'kaufhaus'), id);
  t.not(intakeClientId(tempDir(t, 'wesprint-intake-id-'), 'kaufhaus'), id, 'another worker, another id');
});

t.test("against the project's broker (aedes, MQTT 3.1.1)", async (t) => {
  const broker = await startTestBroker(t);
  const s: Setup = {
    url: `mqtt://127.0.0.1:${broker.port}`,
    intakeAccount: { username: 'wesprint-gateway', password: 'gateway-secret' },
    publisher: { username: 'lock-101', password: 'lock-secret', clientId: 'nuki-3A4B5C6D' },
    topic: 'nuki/3A4B5C6D/state',
    filters: [...testProfiles.values()].flatMap((p) => p.subscriptions),
  };

  await t.test('a redelivery after a restart is recognised: the broker resends with DUP', async (t) => {
    const { dup } = await redelivery(t, s);
    // aedes 1.2 resends a session's queue (lib/handlers/connect.js emptyQueue) with the packet ids it had
    // (lib/qos-packet.js keeps original.messageId) and the DUP flag of the stored packet, 0; the project's
    // broker sets it (broker/aedes-patches.ts markRedeliveriesDup) [MQTT-3.3.1-1].
    t.same(dup, Array(N).fill(true), 'wesprint broker: DUP set on redelivery');
  });

  await t.test(
    "a new message with the packet id, topic and payload of one from the previous connection: new by default ('dup'), a repeat by 'dup-or-earlier-connection'",
    async (t) => {
      // aedes starts every connection's packet ids at a random point (lib/client.js `_nextId`); here the
      // second connection starts where the first did, as it does by chance in 1 of 65,535 reconnects, and
      // partly (overlapping ranges) far more often.
      const starts = new Map<string, number>();
      const onClient = (client: Client) => {
        const c = client as unknown as { id: string; _nextId: number };
        const first = starts.get(c.id);
        if (first === undefined) starts.set(c.id, c._nextId);
        else c._nextId = first;
      };
      broker.aedes.on('client', onClient);
      t.teardown(() => {
        broker.aedes.off('client', onClient);
      });
      const device = await publisher(t, s);
      const measure = async (redelivery: 'dup' | 'dup-or-earlier-connection') => {
        const journal = await openJournal(tempDir(t, 'wesprint-intake-journal-'));
        t.teardown(() => journal.close());
        const clientId = `intake-ids-${redelivery}-${process.pid}`;
        const topic = `nuki/3A4B5C6D/state`;
        const start = (await all(journal)).length;
        const first = await intake(t, s, journal, clientId, { redelivery });
        await first.subscribed;
        for (let i = 0; i < 100; i++) await device.publishAsync(topic, `${i % 2}`, { qos: 1 });
        await until('the first 100 acknowledged', () => first.stats().acknowledged >= 100);
        await first.stop();
        const again = await intake(t, s, journal, clientId, { redelivery });
        await again.subscribed;
        for (let i = 0; i < 100; i++) await device.publishAsync(topic, `${i % 2}`, { qos: 1 });
        await until('the next 100 answered', () => again.stats().appended + again.stats().duplicates >= 100);
        await again.stop();
        return {
          duplicates: again.stats().duplicates,
          journaled: live(await all(journal), topic).length - start,
        };
      };
      const byDup = await measure('dup');
      const byConnection = await measure('dup-or-earlier-connection');
      t.comment(
        `after a reconnect, 100 new messages on the ids of the previous 100: by DUP ${byDup.duplicates} taken for repeats, ${byDup.journaled} of 200 journaled; by DUP or earlier connection ${byConnection.duplicates} taken for repeats, ${byConnection.journaled} of 200 journaled`,
      );
      t.equal(byDup.duplicates, 0, "'dup' (the default): none taken for a repeat");
      t.equal(byDup.journaled, 200, 'all 200 journaled');
      t.ok(byConnection.duplicates > 0, "'dup-or-earlier-connection' drops new messages as repeats");
    },
  );

  await t.test('an append that fails is not acknowledged: the broker sends the message again', async (t) => {
    const dir = tempDir(t, 'wesprint-intake-journal-');
    const journal = await openJournal(dir);
    t.teardown(() => journal.close());
    // The disk refuses the first append (full, say); the journal itself stays as it was.
    let refusals = 1;
    const flaky: MessageJournal = {
      append: (m) => (refusals-- > 0 ? Promise.reject(new Error('ENOSPC (test)')) : journal.append(m)),
      committed: () => journal.committed(),
      read: (after, limit) => journal.read(after, limit),
      waitFor: (after, stop, appendedAfter) => journal.waitFor(after, stop, appendedAfter),
      uncommitted: (after) => journal.uncommitted(after),
      cursor: (c) => journal.cursor(c),
      advance: (c, seq) => journal.advance(c, seq),
      stats: () => journal.stats(),
      close: () => journal.close(),
    };
    const i = await intake(t, s, flaky, `intake-flaky-${process.pid}`);
    await i.subscribed;
    const device = await publisher(t, s);
    await device.publishAsync(s.topic, 'refused once', { qos: 1 });
    await until('the message journaled', async () =>
      live(await all(journal), s.topic).includes('refused once'),
    );
    t.equal(i.stats().failed, 1, 'the failed append');
    t.equal(i.stats().connections, 2, 'the intake dropped the connection and came back');
    t.same(live(await all(journal), s.topic), ['refused once'], 'journaled once, on the second delivery');
    await until('its PUBACK', () => i.stats().acknowledged >= 1);
  });

  await t.test('a retained message replayed on subscribing is journaled as a replay', async (t) => {
    const dir = tempDir(t, 'wesprint-intake-journal-');
    const journal = await openJournal(dir);
    t.teardown(() => journal.close());
    const device = await publisher(t, s);
    const topic = 'nuki/3A4B5C6D/connected';
    await device.publishAsync(topic, 'true', { qos: 1, retain: true });
    t.teardown(() => device.publishAsync(topic, '', { qos: 1, retain: true }).then(() => {}));
    const i = await intake(t, s, journal, `intake-retained-${process.pid}`);
    await i.subscribed;
    // aedes reads its retained store for a new subscription asynchronously: a live publish sent now could
    // overtake the replay (and change what it replays).
    await until('the replay', async () => (await all(journal)).some((e) => e.topic === topic));
    await device.publishAsync(topic, 'false', { qos: 1, retain: true });
    await until('both', async () => (await all(journal)).filter((e) => e.topic === topic).length >= 2);
    const entries = (await all(journal)).filter((e) => e.topic === topic);
    t.same(
      entries.map((e) => [e.payload.toString(), e.retainedReplay]),
      [
        ['true', true],
        ['false', false],
      ],
      "the replay is flagged; a device's live publish with the retain flag is not",
    );
  });
});

t.test('against Mosquitto 2.0.11 of its own', async (t) => {
  if (!requireComponent(t, mosquittoAvailable(), 'Mosquitto (/usr/sbin/mosquitto)', MOSQUITTO_INSTALL))
    return;
  const mosquitto = await startMosquitto();
  t.teardown(() => mosquitto.dispose());
  const base = { url: mosquitto.url, intakeAccount: {}, publisher: {}, filters: ['tele/+/SENSOR'] };

  await t.test('MQTT 3.1.1: a redelivery after a restart is recognised; Mosquitto sets DUP', async (t) => {
    const { dup } = await redelivery(t, { ...base, topic: 'tele/v311/SENSOR' });
    t.same(dup, Array(N).fill(true), 'Mosquitto: DUP set, same packet ids');
  });

  await t.test('MQTT 5 with a share group: the same', async (t) => {
    const { dup } = await redelivery(t, { ...base, topic: 'tele/v5/SENSOR', shareGroup: 'redelivery' });
    t.same(dup, Array(N).fill(true), 'Mosquitto: DUP set, same packet ids');
  });

  await t.test('two workers in a share group: each takes a part, together all, none twice', async (t) => {
    const s: Setup = { ...base, topic: 'tele/shared/SENSOR', shareGroup: 'workers' };
    const journals = [
      await openJournal(tempDir(t, 'wesprint-intake-journal-')),
      await openJournal(tempDir(t, 'wesprint-intake-journal-')),
    ];
    for (const j of journals) t.teardown(() => j.close());
    const workers = [
      await intake(t, s, journals[0] as MessageJournal, `intake-worker-a-${process.pid}`),
      await intake(t, s, journals[1] as MessageJournal, `intake-worker-b-${process.pid}`),
    ];
    await Promise.all(workers.map((w) => w.subscribed));
    const device = await publisher(t, s);
    const count = 200;
    await Promise.all([...Array(count).keys()].map((i) => device.publishAsync(s.topic, `s${i}`, { qos: 1 })));
    await until('all journaled', () => journals.reduce((sum, j) => sum + j.committed(), 0) >= count);
    const parts = await Promise.all(journals.map(async (j) => live(await all(j), s.topic)));
    const [a = [], b = []] = parts;
    t.ok(a.length > 0 && b.length > 0, `both workers took a part (${a.length} + ${b.length})`);
    t.equal(a.length + b.length, count, 'together every message');
    t.equal(new Set([...a, ...b]).size, count, 'none in both journals');
  });
});

t.test(
  "Mosquitto's max_queued_messages: what a session away holds beyond it is dropped after PUBACK",
  async (t) => {
    if (!requireComponent(t, mosquittoAvailable(), 'Mosquitto (/usr/sbin/mosquitto)', MOSQUITTO_INSTALL))
      return;
    // Mosquitto's default is 1000 (this fixture's 0 is no limit); 100 here to keep the test short.
    const mosquitto = await startMosquitto({ maxQueuedMessages: 100 });
    t.teardown(() => mosquitto.dispose());
    const s: Setup = {
      url: mosquitto.url,
      intakeAccount: {},
      publisher: {},
      filters: ['tele/+/SENSOR'],
      topic: 'tele/q/SENSOR',
    };
    const journal = await openJournal(tempDir(t, 'wesprint-intake-journal-'));
    t.teardown(() => journal.close());
    const clientId = `intake-queue-${process.pid}`;
    const first = await intake(t, s, journal, clientId);
    await first.subscribed;
    await first.stop();
    const device = await publisher(t, s);
    const count = 300;
    for (let i = 0; i < count; i++) await device.publishAsync(s.topic, `q${i}`, { qos: 1 });
    const back = await intake(t, s, journal, clientId);
    await back.subscribed;
    await device.publishAsync(s.topic, 'marker', { qos: 1 });
    await until('the marker', async () => live(await all(journal), s.topic).includes('marker'));
    const kept = live(await all(journal), s.topic).filter((p) => p !== 'marker');
    t.comment(
      `${count} PUBACKed by Mosquitto while the gateway was away, ${kept.length} delivered when it came back`,
    );
    t.equal(kept.length, 100, 'Mosquitto dropped what exceeded the limit, though it had acknowledged it');
    t.same(
      kept,
      kept.length ? [...Array(kept.length).keys()].map((i) => `q${i}`) : [],
      'the oldest kept, in order',
    );
  },
);

t.test('Mosquitto killed (SIGKILL): what it acknowledged since its last save is gone', async (t) => {
  if (!requireComponent(t, mosquittoAvailable(), 'Mosquitto (/usr/sbin/mosquitto)', MOSQUITTO_INSTALL))
    return;
  // autosave_interval as Mosquitto ships it (1800 s): no save between the publishes and the kill.
  const mosquitto = await startMosquitto({ autosaveInterval: 1800 });
  t.teardown(() => mosquitto.dispose());
  const s: Setup = {
    url: mosquitto.url,
    intakeAccount: {},
    publisher: {},
    filters: ['tele/+/SENSOR'],
    topic: 'tele/k/SENSOR',
  };
  const journal = await openJournal(tempDir(t, 'wesprint-intake-journal-'));
  t.teardown(() => journal.close());
  const clientId = `intake-killed-broker-${process.pid}`;
  const first = await intake(t, s, journal, clientId);
  await first.subscribed;
  await first.stop();
  const device = await publisher(t, s);
  for (let i = 0; i < 50; i++) await device.publishAsync(s.topic, `k${i}`, { qos: 1 });
  await device.endAsync(true);
  await mosquitto.kill();
  await mosquitto.restart();
  const back = await intake(t, s, journal, clientId);
  await back.subscribed;
  const again = await publisher(t, s);
  await again.publishAsync(s.topic, 'marker', { qos: 1 });
  await until('the marker', async () => live(await all(journal), s.topic).includes('marker'));
  t.same(
    live(await all(journal), s.topic),
    ['marker'],
    'the 50 PUBACKed messages queued for the gateway did not survive (nor did its session: subscribed anew)',
  );
});

t.test(
  'packet ids come round again: a new message with the id, topic and payload of one before a reconnect',
  async (t) => {
    if (!requireComponent(t, mosquittoAvailable(), 'Mosquitto (/usr/sbin/mosquitto)', MOSQUITTO_INSTALL))
      return;
    // Mosquitto numbers a session's messages 1, 2, … 65535, 1, …: after 65,535 messages the ids come round,
    // and with five payloads in turn (65,535 = 5 × 13,107) each id's next message carries the payload it had.
    const mosquitto = await startMosquitto({ maxInflightMessages: 1000 });
    t.teardown(() => mosquitto.dispose());
    const s: Setup = {
      url: mosquitto.url,
      intakeAccount: {},
      publisher: {},
      filters: ['tele/+/SENSOR'],
      topic: 'tele/w/SENSOR',
      shareGroup: 'wrap',
    };
    const journal = await openJournal(tempDir(t, 'wesprint-intake-journal-'));
    t.teardown(() => journal.close());
    const clientId = `intake-wrap-${process.pid}`;
    const device = await publisher(t, s);
    let k = 0;
    const send = async (n: number) => {
      const end = k + n;
      await Promise.all(
        Array.from({ length: 500 }, async () => {
          while (k < end) {
            const i = k++;
            await device.publishAsync(s.topic, `v${i % 5}`, { qos: 1 });
          }
        }),
      );
    };
    const first = await intake(t, s, journal, clientId);
    await first.subscribed;
    await send(65_535);
    await until('all journaled', () => journal.committed() >= 65_535);
    await until('all acknowledged', () => first.stats().acknowledged >= 65_535);
    await first.stop();
    const again = await intake(t, s, journal, clientId);
    await again.subscribed;
    await send(100);
    await until('the 100 taken', () => again.stats().received >= 100);
    await until('answered', () => again.stats().appended + again.stats().duplicates >= 100);
    t.equal(again.stats().duplicates, 0, 'none taken for a repeat (DUP is not set: they are new)');
    t.equal(journal.committed(), 65_635, 'all 100 journaled');
  },
);

t.test(
  'a SUBACK that grants the feed and refuses every device filter: the messages come from the feed',
  async (t) => {
    const feed = '$wesprint/journal';
    const filters = ['shellies/+/relay/+/power', 'nuki/+/+', feed];
    t.same(
      subscriptionAnswer(filters, [0x80, 0x80, 1], feed),
      { fromFeed: true, refused: [] },
      '`wesprint broker`',
    );
    t.same(
      subscriptionAnswer(filters, [1, 1, 1], feed),
      { fromFeed: false, refused: [] },
      'Mosquitto: silent feed',
    );
    t.same(
      subscriptionAnswer(filters, [1, 1, 0x80], feed),
      { fromFeed: false, refused: [] },
      'a broker refusing $-topics: nothing to say',
    );
    t.same(
      subscriptionAnswer(filters, [0x80, 1, 1], feed),
      { fromFeed: false, refused: ['shellies/+/relay/+/power'] },
      'a device filter refused by an ACL of another broker is said',
    );
    t.same(
      subscriptionAnswer(filters, [0x80, 0x80, 0x80], feed),
      { fromFeed: false, refused: ['shellies/+/relay/+/power', 'nuki/+/+'] },
      'everything refused: said',
    );
    t.same(subscriptionAnswer(filters.slice(0, 2), [1, 0x87], undefined), {
      fromFeed: false,
      refused: ['nuki/+/+'],
    });
  },
);
