import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import type { ArrivingMessage, MessageJournal } from './journal.ts';
import { type JournalOptions, openJournal } from './segment-journal.ts';
import { SNAPSHOT_FILE } from './senders-snapshot.ts';

/**
 * A device's retransmission is recognised after a restart however long ago it first sent it (issue 10): the
 * journal's memory of each sender's own last messages is written to disk (journal/senders-snapshot.ts), and
 * no segment is deleted before a snapshot covers it. The journal here is small (segments of 2 KB, 200
 * records read back on open) so that "a hundred thousand messages of others, read and deleted" takes a
 * few thousand.
 */

const OPTIONS: JournalOptions = {
  segmentBytes: 2048,
  identityTail: 200,
  recentEntries: 100,
  identities: 200,
  snapshotMs: 0,
  snapshotRecords: 500,
  cursorWriteMs: 10,
};

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-senders-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A device's reading `n`, sent with packet id `id` on its connection `connection`. */
function reading(clientId: string, n: number, id: number, connection: number, dup = false): ArrivingMessage {
  return {
    topic: `shellies/${clientId}/emeter/0/power`,
    payload: Buffer.from(`{"n":${n}}`),
    receivedAt: 1_765_000_000_000 + n,
    retainedReplay: false,
    sender: { clientId, connection, messageId: id, dup },
  };
}

const FIRST_SEGMENT = '000000000001.journal';

/** 3,000 readings of 30 other devices, read by the store as they come: the segments behind it are deleted. */
async function othersReadAndDeleted(journal: MessageJournal, dir: string): Promise<void> {
  for (let batch = 0; batch < 30; batch++) {
    const appends: Promise<unknown>[] = [];
    for (let k = 0; k < 100; k++) {
      const n = batch * 100 + k;
      appends.push(journal.append(reading(`plug-${n % 30}`, n, 1 + Math.floor(n / 30), 1)));
    }
    await Promise.all(appends);
    journal.advance('store', journal.committed());
  }
  while (fs.existsSync(path.join(dir, FIRST_SEGMENT))) await sleep(5);
}

t.test(
  "after a clean restart, a device's DUP resend of a message journaled 3,000 messages and deleted segments ago is recognised",
  async (t) => {
    const dir = tempDir(t);
    let journal = await openJournal(dir, OPTIONS);
    t.same(await journal.append(reading('plug-quiet', 1, 1, 1)), { seq: 1, duplicate: false });
    t.same(
      await journal.append(reading('plug-quiet', 2, 2, 1)),
      { seq: 2, duplicate: false },
      'its PUBACK lost with the connection',
    );
    await othersReadAndDeleted(journal, dir);
    t.ok(journal.stats().snapshots >= 1, 'a snapshot was written before the segments were deleted');
    await journal.close();

    journal = await openJournal(dir, OPTIONS);
    t.teardown(() => journal.close());
    t.equal(journal.committed(), 3002);
    t.same(
      await journal.append(reading('plug-quiet', 2, 2, 1, true)),
      { seq: 2, duplicate: true },
      'resent with DUP after the restart: its original position, not appended again',
    );
    t.same(
      await journal.append(reading('plug-quiet', 1, 1, 2)),
      { seq: 1, duplicate: true },
      'and its older one, on a connection of this process (the other is from an earlier one)',
    );
    t.same(
      await journal.append(reading('plug-29', 2999, 100, 1, true)),
      { seq: 3002, duplicate: true },
      "another device's last message, in the records after the snapshot",
    );
    t.same(
      await journal.append(reading('plug-quiet', 3, 3, 2)),
      { seq: 3003, duplicate: false },
      'its next message is new',
    );
    t.equal(journal.stats().snapshotsUnreadable, 0);
  },
);

t.test(
  "a device's own last 64 messages come back in their order: a new one pushes the oldest out",
  async (t) => {
    const dir = tempDir(t);
    let journal = await openJournal(dir, OPTIONS);
    for (let id = 1; id <= 70; id++) await journal.append(reading('plug-many', id, id, 1));
    await othersReadAndDeleted(journal, dir);
    await journal.close();

    journal = await openJournal(dir, OPTIONS);
    t.teardown(() => journal.close());
    t.same(
      await journal.append(reading('plug-many', 6, 6, 1, true)),
      { seq: 3071, duplicate: false },
      'its 65th message from the last is not remembered',
    );
    t.same(await journal.append(reading('plug-many', 71, 71, 1)), { seq: 3072, duplicate: false });
    t.same(
      await journal.append(reading('plug-many', 9, 9, 1, true)),
      { seq: 9, duplicate: true },
      'its last 64 before them, less the two new ones, are',
    );
    t.same(
      await journal.append(reading('plug-many', 8, 8, 1, true)),
      { seq: 3073, duplicate: false },
      'the oldest of them went when the two new ones came',
    );
  },
);

t.test(
  "kill -9 mid-stream: after the crash a device's DUP resend of a message from deleted segments is recognised",
  async (t) => {
    const dir = tempDir(t);
    const module = new URL('./segment-journal.ts', import.meta.url).href;
    // The quiet device's two messages, then other devices' messages with 100 in flight, read by a store
    // that keeps up, until killed; "deleted" once the first segment is gone, then each acknowledged
    // message as "seq clientId n id".
    const child = `
      const fs = await import('node:fs');
      const { openJournal } = await import(${JSON.stringify(module)});
      const [dir, options] = process.argv.slice(1);
      const journal = await openJournal(dir, JSON.parse(options));
      const reading = (clientId, n, id) => ({ topic: 'shellies/' + clientId + '/emeter/0/power',
        payload: Buffer.from('{"n":' + n + '}'), receivedAt: 1765000000000 + n, retainedReplay: false,
        sender: { clientId, connection: 1, messageId: id, dup: false } });
      await journal.append(reading('plug-quiet', 1, 1));
      await journal.append(reading('plug-quiet', 2, 2));
      let deleted = false;
      const inFlight = new Set();
      for (let n = 0; ; n++) {
        const clientId = 'plug-' + (n % 30);
        const id = 1 + (Math.floor(n / 30) % 65535);
        const p = journal.append(reading(clientId, n, id)).then((r) => {
          inFlight.delete(p);
          if (deleted) process.stdout.write(r.seq + ' ' + clientId + ' ' + n + ' ' + id + '\\n');
          if (r.seq % 50 === 0) journal.advance('store', r.seq);
          if (!deleted && !fs.existsSync(dir + '/${FIRST_SEGMENT}')) {
            deleted = true;
            process.stdout.write('deleted\\n');
          }
        });
        inFlight.add(p);
        if (inFlight.size >= 100) await Promise.race(inFlight);
      }
    `;
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', child, dir, JSON.stringify(OPTIONS)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.teardown(() => {
      proc.kill('SIGKILL');
    });
    let out = '';
    const exited = new Promise<void>((resolve) => proc.on('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d;
        const afterDeletion = out.split('deleted\n')[1];
        if (afterDeletion !== undefined && afterDeletion.split('\n').length > 1000) resolve();
      });
      proc.on('exit', (code) => reject(new Error(`child ended (${code}) before being killed:\n${out}`)));
    });
    proc.kill('SIGKILL');
    await exited;
    // The last line may be cut short by the kill.
    const acknowledged = out
      .slice(out.indexOf('deleted\n'), out.lastIndexOf('\n'))
      .split('\n')
      .filter((line) => /^\d+ \S+ \d+ \d+$/.test(line))
      .map((line) => line.split(' '));
    const last = acknowledged.at(-1) as string[];
    t.ok(acknowledged.length >= 1000, `killed after ${acknowledged.length} acknowledged since the deletion`);
    t.notOk(fs.existsSync(path.join(dir, FIRST_SEGMENT)), "the quiet device's segment is gone");

    const journal = await openJournal(dir, OPTIONS);
    t.teardown(() => journal.close());
    t.ok(journal.committed() >= Number(last[0]), 'everything acknowledged is there');
    t.same(
      await journal.append(reading('plug-quiet', 2, 2, 1, true)),
      { seq: 2, duplicate: true },
      'the quiet device resends with DUP after the crash: its original position, not appended again',
    );
    const [seq, clientId, n, id] = last;
    t.same(
      await journal.append(reading(clientId as string, Number(n), Number(id), 1, true)),
      { seq: Number(seq), duplicate: true },
      'and the last message acknowledged before the kill',
    );
    t.equal(journal.stats().snapshotsUnreadable, 0);
  },
);

t.test(
  'a damaged or torn snapshot does not keep the journal shut: the records on disk give what they hold',
  async (t) => {
    const original = tempDir(t);
    let journal = await openJournal(original, OPTIONS);
    await journal.append(reading('plug-quiet', 2, 2, 1));
    await othersReadAndDeleted(journal, original);
    await journal.close();
    const whole = fs.readFileSync(path.join(original, SNAPSHOT_FILE));

    let dir = original;
    for (const [damage, bytes] of [
      ['a byte flipped', Buffer.from(whole.map((b, i) => (i === 40 ? b ^ 0xff : b)))],
      ['torn in half', whole.subarray(0, whole.length >> 1)],
      ['empty', Buffer.alloc(0)],
    ] as const) {
      dir = tempDir(t);
      fs.cpSync(original, dir, { recursive: true });
      fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), bytes);
      const warnings: string[] = [];
      journal = await openJournal(dir, { ...OPTIONS, warn: (message) => warnings.push(message) });
      t.equal(warnings.length, 1, `${damage}: said once`);
      t.match(warnings[0], /senders snapshot .* cannot be read/);
      t.equal(journal.stats().snapshotsUnreadable, 1, `${damage}: counted`);
      const committed = journal.committed();
      t.same(
        await journal.append(reading('plug-29', 2999, 100, 1, true)),
        { seq: committed, duplicate: true },
        `${damage}: a resend of a message in the segments kept is recognised`,
      );
      t.same(
        await journal.append(reading('plug-quiet', 2, 2, 1, true)),
        { seq: committed + 1, duplicate: false },
        `${damage}: one only the snapshot knew is not (what the fallback costs)`,
      );
      await journal.close();
    }

    journal = await openJournal(dir, OPTIONS);
    t.teardown(() => journal.close());
    t.equal(journal.stats().snapshotsUnreadable, 0, 'the close wrote a whole snapshot again');
  },
);

t.test(
  'no segment is deleted before a snapshot covers it: a snapshot that cannot be written keeps them',
  async (t) => {
    const dir = tempDir(t);
    // A directory where the snapshot's temp file goes: every write of it fails (EISDIR), as on a full disk.
    fs.mkdirSync(path.join(dir, `${SNAPSHOT_FILE}.tmp`));
    const warnings: string[] = [];
    // Written only when a segment is to be deleted: the warning then comes from where the deletion would be.
    let journal = await openJournal(dir, {
      ...OPTIONS,
      snapshotRecords: Number.MAX_SAFE_INTEGER,
      warn: (message) => warnings.push(message),
    });
    await journal.append(reading('plug-quiet', 2, 2, 1));
    for (let n = 0; n < 1000; n++)
      await journal.append(reading(`plug-${n % 30}`, n, 1 + Math.floor(n / 30), 1));
    journal.advance('store', journal.committed());
    while (warnings.length === 0) await sleep(5);
    t.match(warnings[0], /senders snapshot could not be written .*segments are kept/);
    t.ok(fs.existsSync(path.join(dir, FIRST_SEGMENT)), 'the segment the store is done with is kept');
    t.equal(journal.stats().snapshots, 0);

    fs.rmdirSync(path.join(dir, `${SNAPSHOT_FILE}.tmp`));
    for (let n = 1000; n < 1600; n++)
      await journal.append(reading(`plug-${n % 30}`, n, 1 + Math.floor(n / 30), 1));
    journal.advance('store', journal.committed());
    while (fs.existsSync(path.join(dir, FIRST_SEGMENT))) await sleep(5);
    t.ok(journal.stats().snapshots >= 1, 'deleted once a snapshot could be written');
    t.equal(warnings.length, 1, 'the failure said once');
    await journal.close();

    journal = await openJournal(dir, OPTIONS);
    t.teardown(() => journal.close());
    t.same(await journal.append(reading('plug-quiet', 2, 2, 1, true)), { seq: 1, duplicate: true });
  },
);
