import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import t, { type Test } from 'tap';
import type { JournalEntry, MessageJournal } from '../journal/journal.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { requireComponent } from '../test-support/component.ts';
import { deviceLine } from '../test-support/device-line.ts';
import { MOSQUITTO_INSTALL, mosquittoAvailable, startMosquitto } from '../test-support/mosquitto.ts';
import { type MqttIntake, startMqttIntake } from './mqtt-intake.ts';

/**
 * The gateway's intake against a Mosquitto 2.0 of the test's own that is stopped and started again
 * (persistence true: a SIGTERM saves its database), as the README's "When one machine is not enough" says it:
 * what the gateway acknowledged is in its journal, and what Mosquitto sends it again after the restart comes
 * with DUP and is recognised; but a device's own resend of a message Mosquitto took and never acknowledged
 * to it is a new message to Mosquitto, routed again, and journaled (so stored) twice.
 */

const silent = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const TOPIC = 'tele/plug-1/SENSOR';

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-mosquitto-restart-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 20));
}

const live = async (journal: MessageJournal): Promise<JournalEntry[]> =>
  (await journal.read(0, 1_000_000)).filter((e) => e.topic === TOPIC && !e.retainedReplay);
const payloads = async (journal: MessageJournal) => (await live(journal)).map((e) => `${e.payload}`);

/** The journal with its appends' answers held while `holding` (the intake cannot PUBACK them meanwhile). */
function gatedJournal(journal: MessageJournal): MessageJournal & { holding: boolean; release(): void } {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const gated = {
    ...Object.fromEntries(
      (['committed', 'read', 'waitFor', 'uncommitted', 'cursor', 'advance', 'stats', 'close'] as const).map(
        (name) => [name, (...args: never[]) => (journal[name] as (...a: never[]) => unknown)(...args)],
      ),
    ),
    holding: false,
    release,
    append: async (message) => {
      const held = gated.holding;
      const appended = await journal.append(message);
      if (held) await gate;
      return appended;
    },
  } as MessageJournal & { holding: boolean; release(): void };
  return gated;
}

async function startIntake(
  t: Test,
  url: string,
  journal: MessageJournal,
  clientId: string,
): Promise<MqttIntake> {
  const intake = await startMqttIntake({
    url,
    clientId,
    filters: ['tele/+/SENSOR'],
    journal,
    logger: silent,
    reconnectMinMs: 100,
    connectInBackground: true,
  });
  t.teardown(() => intake.stop());
  await intake.subscribed;
  return intake;
}

t.test('Mosquitto stopped and started again', async (t) => {
  if (!requireComponent(t, mosquittoAvailable(), 'Mosquitto (/usr/sbin/mosquitto)', MOSQUITTO_INSTALL))
    return;

  await t.test(
    'what the intake acknowledged stays journaled once; what it had not, Mosquitto sends again with DUP, recognised',
    async (t) => {
      const mosquitto = await startMosquitto();
      t.teardown(() => mosquitto.dispose());
      const journal = gatedJournal(await openJournal(tempDir(t)));
      t.teardown(() => journal.close());
      const intake = await startIntake(t, mosquitto.url, journal, `intake-${process.pid}-restart`);
      const dup: boolean[] = [];
      intake.client.on('message', (topic, _payload, packet) => {
        if (topic === TOPIC) dup.push(packet.dup);
      });
      const device = await mqtt.connectAsync(mosquitto.url, { clientId: 'plug-1', reconnectPeriod: 0 });
      for (let i = 0; i < 5; i++) await device.publishAsync(TOPIC, `a${i}`, { qos: 1 });
      await until(() => intake.stats().acknowledged >= 5);
      // The next ten are journaled, but their PUBACKs to Mosquitto wait: then Mosquitto restarts.
      journal.holding = true;
      for (let i = 0; i < 10; i++) await device.publishAsync(TOPIC, `b${i}`, { qos: 1 });
      await until(() => journal.committed() >= 15);
      await device.endAsync(true);
      await mosquitto.stop();
      journal.release();
      journal.holding = false;
      await until(() => intake.stats().unacknowledged >= 10);
      await mosquitto.restart();

      await until(() => intake.stats().duplicates >= 10);
      const again = await mqtt.connectAsync(mosquitto.url, { clientId: 'plug-1', reconnectPeriod: 0 });
      t.teardown(() => again.endAsync(true));
      await again.publishAsync(TOPIC, 'marker', { qos: 1 });
      await until(async () => (await payloads(journal)).includes('marker'));
      t.same(
        await payloads(journal),
        [...[0, 1, 2, 3, 4].map((i) => `a${i}`), ...[...Array(10).keys()].map((i) => `b${i}`), 'marker'],
        'every message journaled once, in order',
      );
      t.same(
        dup,
        [...Array(15).fill(false), ...Array(10).fill(true), false],
        'Mosquitto sent the ten the intake had not acknowledged again, with DUP; none of the five it had',
      );
      t.equal(intake.stats().duplicates, 10, 'the intake recognised each of the ten');
    },
  );

  await t.test(
    "a device's resend of a message Mosquitto took and never acknowledged to it is journaled twice",
    async (t) => {
      const mosquitto = await startMosquitto();
      t.teardown(() => mosquitto.dispose());
      const journal = await openJournal(tempDir(t));
      t.teardown(() => journal.close());
      const intake = await startIntake(t, mosquitto.url, journal, `intake-${process.pid}-resend`);
      const line = await deviceLine(t, mosquitto.port);
      const device = mqtt.connect(`mqtt://127.0.0.1:${line.port}`, {
        clientId: 'plug-1',
        clean: false,
        reconnectPeriod: 200,
        protocolVersion: 4,
      });
      t.teardown(() => device.endAsync(true));
      await new Promise((resolve) => device.once('connect', resolve));
      line.swallow = true;
      const acknowledged = device.publishAsync(TOPIC, 'once', { qos: 1 });
      await until(async () => (await payloads(journal)).includes('once'));
      // Mosquitto's PUBACK went nowhere; Mosquitto restarts, the device reconnects and sends it again.
      await mosquitto.stop();
      line.swallow = false;
      await mosquitto.restart();
      await acknowledged;
      await until(async () => (await payloads(journal)).length >= 2);
      const entries = await live(journal);
      t.same(
        entries.map((e) => `${e.payload}`),
        ['once', 'once'],
        'Mosquitto routed the resend as a new message, and the intake journaled it again',
      );
      t.not(
        entries[0]?.receivedAt,
        entries[1]?.receivedAt,
        'with another arrival time: two readings when stored',
      );
      t.equal(intake.stats().duplicates, 0, 'nothing tells the intake it is the same message');
    },
  );
});
