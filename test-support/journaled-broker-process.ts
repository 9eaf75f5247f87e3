import fs from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { startBroker } from '../broker/broker.ts';
import type { Appended } from '../journal/journal.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { testProfiles, testSecrets, testSite } from './broker.ts';
import { withAppend } from './broker-journal.ts';

/**
 * The broker of `wesprint start` with its journal (DATA_DIR/journal), lab mode, in a process of its own: for
 * tests that kill it with SIGKILL (broker/device-journal.test.ts). Run as
 * `node --import tsx test-support/journaled-broker-process.ts` (`spawnJournaledBroker` in broker-journal.ts) with
 * - DATA_DIR: the broker's data and the journal;
 * - PORT: the MQTT port (0: ephemeral);
 * - ACK_ONLY: when set to N, appends after the N-th are made durable but never resolve, so the N-th PUBACK is
 *   the last: the rest are in the journal and unacknowledged; `unacknowledged <seq>` is printed once the first
 *   of them is on disk;
 * - JOURNAL_OPTIONS: the journal's options as JSON (a small journal, so that its segments roll and go fast);
 * - STORE_LOG: a reader standing in for the gateway's store: it appends each entry the journal gives it to
 *   this file as `seq topic payload` (fdatasync'd) before moving its cursor `store`, so the journal deletes
 *   the segments behind it; a line may be written again after a kill (read again from the cursor on disk),
 *   with the same seq, as the stores keep a reading once by its key.
 * Prints `listening <port>`; SIGTERM closes the broker, lets the reader take everything, closes the journal,
 * and prints `closed <stats>`.
 */

const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error('DATA_DIR is required');
const ackOnly = process.env.ACK_ONLY === undefined ? Number.POSITIVE_INFINITY : Number(process.env.ACK_ONLY);

const opened = await openJournal(
  path.join(dataDir, 'journal'),
  process.env.JOURNAL_OPTIONS ? JSON.parse(process.env.JOURNAL_OPTIONS) : {},
);
let appends = 0;
let said = false;
const journal = withAppend(opened, async (message): Promise<Appended> => {
  const n = ++appends;
  const appended = await opened.append(message);
  if (n <= ackOnly) return appended;
  if (!said) {
    said = true;
    process.stdout.write(`unacknowledged ${appended.seq}\n`);
  }
  return new Promise<Appended>(() => {});
});

const broker = await startBroker({
  site: testSite('scrypt$16384$8$1$AAAA$AAAA'),
  secrets: testSecrets,
  profiles: testProfiles,
  dataDir,
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
  wsPort: null,
  allowAnonymous: true,
  logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  journal,
});
process.stdout.write(`listening ${broker.port}\n`);

const stopReading = new AbortController();
const reading = process.env.STORE_LOG ? readIntoStore(process.env.STORE_LOG) : Promise.resolve();

async function readIntoStore(file: string): Promise<void> {
  const store = await fs.open(file, 'a');
  let after = opened.cursor('store');
  for (;;) {
    const entries = await opened.read(after, 1000);
    if (entries.length > 0) {
      await store.write(entries.map((e) => `${e.seq} ${e.topic} ${e.payload}\n`).join(''));
      await store.datasync();
      after = (entries.at(-1) as { seq: number }).seq;
      opened.advance('store', after);
      continue;
    }
    if (stopReading.signal.aborted) break;
    await opened.waitFor(after, stopReading.signal);
  }
  await store.close();
}

process.once('SIGTERM', async () => {
  await broker.close();
  stopReading.abort();
  await reading;
  const stats = journal.stats();
  await journal.close();
  process.stdout.write(`closed ${JSON.stringify({ broker: broker.stats(), journal: stats })}\n`, () =>
    process.exit(0),
  );
});
