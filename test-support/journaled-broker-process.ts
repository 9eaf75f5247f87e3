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
 *   of them is on disk.
 * Prints `listening <port>`; SIGTERM closes the broker, then the journal, and prints `closed <stats>`.
 */

const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error('DATA_DIR is required');
const ackOnly = process.env.ACK_ONLY === undefined ? Number.POSITIVE_INFINITY : Number(process.env.ACK_ONLY);

const opened = await openJournal(path.join(dataDir, 'journal'));
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

process.once('SIGTERM', async () => {
  await broker.close();
  const stats = journal.stats();
  await journal.close();
  process.stdout.write(`closed ${JSON.stringify({ broker: broker.stats(), journal: stats })}\n`, () =>
    process.exit(0),
  );
});
