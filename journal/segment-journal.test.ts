import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { ArrivingMessage, JournalEntry, MessageJournal, MessageSender } from './journal.ts';
import { type JournalOptions, openJournal } from './segment-journal.ts';

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-journal-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a journal the test closes at its end (if it has not itself). */
async function open(t: Test, dir: string, options?: JournalOptions): Promise<MessageJournal> {
  const journal = await openJournal(dir, options);
  t.teardown(() => journal.close());
  return journal;
}

function message(i: number, sender?: MessageSender): ArrivingMessage {
  return {
    topic: `shellies/plug-${i % 7}/relay/0/power`,
    payload: Buffer.from(`{"power":${i},"pad":"${'x'.repeat(i % 50)}"}`),
    receivedAt: 1_760_000_000_000 + i,
    retainedReplay: i % 5 === 0,
    ...(sender ? { sender } : {}),
  };
}

/** Checks that `entries` are messages `from` to `to` in order, at the positions they were appended at. */
function checkEntries(t: Test, entries: JournalEntry[], from: number, to: number, label: string): void {
  t.equal(entries.length, to - from + 1, `${label}: ${from} to ${to}`);
  let bad = 0;
  entries.forEach((entry, i) => {
    const expected = message(from + i);
    if (
      entry.seq !== from + i ||
      entry.topic !== expected.topic ||
      !entry.payload.equals(expected.payload) ||
      entry.receivedAt !== expected.receivedAt ||
      entry.retainedReplay !== expected.retainedReplay
    ) {
      if (bad++ === 0)
        t.fail(`${label}: entry ${i} is ${JSON.stringify({ ...entry, payload: `${entry.payload}` })}`);
    }
  });
  t.equal(bad, 0, `${label}: ${entries.length} entries from ${from} as appended`);
}

/** Everything after `after`, read in batches of `batch`. */
async function readAll(journal: MessageJournal, after: number, batch: number): Promise<JournalEntry[]> {
  const all: JournalEntry[] = [];
  for (;;) {
    const entries = await journal.read(all.at(-1)?.seq ?? after, batch);
    if (entries.length === 0) return all;
    if (entries.length > batch) throw new Error(`read returned ${entries.length} > ${batch}`);
    all.push(...entries);
  }
}

const segmentFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.journal'))
    .sort();

t.test('positions are given in call order, 1, 2, 3, …, and kept across reopening', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(dir);
  t.equal(journal.committed(), 0);
  t.same(await journal.read(0, 10), [], 'an empty journal reads nothing');
  const appends = Array.from({ length: 100 }, (_, i) => journal.append(message(i + 1)));
  const results = await Promise.all(appends);
  t.same(
    results.map((r) => r.seq),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  t.ok(results.every((r) => r.duplicate === false));
  t.equal(journal.committed(), 100);
  checkEntries(t, await journal.read(0, 1000), 1, 100, 'read back');
  checkEntries(t, await journal.read(40, 5), 41, 45, 'a window');
  t.same(await journal.read(100, 10), [], 'nothing after the end');
  t.match(journal.stats(), { committed: 100, appended: 100, duplicates: 0, segments: 1, torn: 0 });
  await journal.close();
  await t.rejects(journal.append(message(101)), /closed/, 'appends after close reject');

  const again = await open(t, dir);
  t.equal(again.committed(), 100, 'reopened at the same end');
  t.equal((await again.append(message(101))).seq, 101, 'and appending continues after it');
  checkEntries(t, await again.read(0, 1000), 1, 101, 'after reopening');
});

t.test('read crosses from disk into memory for a reader that fell behind, in bounded batches', async (t) => {
  const dir = tempDir(t);
  const options = { segmentBytes: 4096, recentEntries: 50 };
  const journal = await open(t, dir, options);
  for (let i = 1; i <= 1000; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => journal.append(message(i + k))));
  }
  t.ok(journal.stats().segments > 10, `segments rolled (${journal.stats().segments})`);
  t.equal(segmentFiles(dir)[0], '000000000001.journal', 'segments are named by their first position');
  checkEntries(t, await readAll(journal, 0, 37), 1, 1000, 'batches of 37 from the start');
  checkEntries(t, await readAll(journal, 0, 5000), 1, 1000, 'one big batch at a time');
  checkEntries(t, await readAll(journal, 517, 100), 518, 1000, 'from the middle of a segment');
  checkEntries(t, await journal.read(979, 10), 980, 989, 'from memory');
  checkEntries(t, await journal.read(940, 20), 941, 960, 'a batch from disk goes on in memory');
  await journal.close();

  const again = await open(t, dir, options);
  checkEntries(t, await readAll(again, 0, 64), 1, 1000, 'all from disk after reopening');
});

t.test('only committed entries are read; a refused message uses up no position', async (t) => {
  const dir = tempDir(t);
  const journal = await open(t, dir);
  const appended = journal.append(message(1));
  t.same(await journal.read(0, 10), [], 'appended, not yet on disk: not readable');
  t.equal(journal.committed(), 0);
  await appended;
  t.equal((await journal.read(0, 10)).length, 1);
  await t.rejects(
    journal.append({ ...message(2), topic: 'x'.repeat(70_000) }),
    /topic longer than 65535 bytes/,
    'a topic longer than MQTT allows is refused as a rejection [MQTT-1.5.3]',
  );
  t.equal((await journal.append(message(2))).seq, 2, 'and took no position');
});

t.test(
  'close: twice at once is one close; appends made before it commit, those during it reject',
  async (t) => {
    const dir = tempDir(t);
    const journal = await openJournal(dir);
    const before = journal.append(message(1));
    const closing = journal.close();
    await t.rejects(journal.append(message(2)), /closed/);
    await Promise.all([closing, journal.close()]);
    t.same(await before, { seq: 1, duplicate: false }, 'the append made before close committed');
    const again = await open(t, dir);
    t.equal(again.committed(), 1);
  },
);

t.test('a reader older than every kept segment reads from the oldest kept entry', async (t) => {
  const dir = tempDir(t);
  const journal = await open(t, dir, { segmentBytes: 1024, recentEntries: 100, cursorWriteMs: 10 });
  for (let i = 1; i <= 200; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => journal.append(message(i + k))));
  }
  journal.advance('gateway', 200);
  // Deleted once the cursor is written (10 ms): wait for it (the test's timeout bounds the wait). A segment
  // leaves the journal's list before its file is removed: the directory too, or it may still list the one
  // before the kept one.
  while (journal.stats().segments > 1 || segmentFiles(dir).length > 1)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const [kept] = segmentFiles(dir);
  const first = Number.parseInt(kept as string, 10);
  t.ok(first > 101, `the segment kept begins at ${first}, after the oldest entry in memory (101)`);
  checkEntries(t, await journal.read(5, 5), first, first + 4, 'read(5) gives the oldest kept entries');
});

t.test('a read from disk returns a bounded batch, however large the limit', async (t) => {
  const dir = tempDir(t);
  const journal = await open(t, dir, { recentEntries: 10 });
  const big = (i: number): ArrivingMessage => ({ ...message(i), payload: Buffer.alloc(8192, i % 251) });
  for (let i = 1; i <= 1500; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, k) => journal.append(big(i + k))));
  }
  const batch = await journal.read(0, 1_000_000);
  t.ok(batch.length > 0 && batch.length < 1500, `${batch.length} of 1500 entries of 8 KiB in one read`);
  t.ok(
    batch.reduce((sum, e) => sum + e.payload.length, 0) <= 5 * 1024 * 1024,
    'about 4 MiB at most (the records cross it by one)',
  );
  t.ok(
    batch.every((e, i) => e.seq === i + 1 && e.payload.equals(big(i + 1).payload)),
    'in order, whole',
  );
});

t.test(
  "waitFor with a reader's stop signal: resolves when it aborts, and a wait that ends leaves no listener on it",
  async (t) => {
    const journal = await open(t, tempDir(t));
    const stop = new AbortController();
    // A reader's loop: thousands of waits ended by commits, each with the one signal that lives until the stop.
    for (let i = 0; i < 2000; i++) {
      const waiting = journal.waitFor(journal.committed(), stop.signal);
      await journal.append(message(i));
      await waiting;
    }
    t.equal(getEventListeners(stop.signal, 'abort').length, 0, 'nothing left on the signal by 2,000 waits');
    const waiting = journal.waitFor(journal.committed(), stop.signal);
    t.equal(getEventListeners(stop.signal, 'abort').length, 1, 'the wait under way listens');
    stop.abort();
    await waiting;
    t.pass('resolved by the stop, with nothing committed');
    t.equal(getEventListeners(stop.signal, 'abort').length, 0);
    await journal.waitFor(journal.committed(), stop.signal);
    t.pass('a wait after the stop resolves at once');
  },
);

t.test('waitFor resolves once an entry after the position is committed, or on close', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(dir);
  let woken = false;
  const waiting = journal.waitFor(0).then(() => {
    woken = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(woken, 'nothing committed yet');
  const appended = journal.append(message(1));
  await waiting;
  t.equal(journal.committed(), 1, 'woken with the entry committed');
  await appended;
  await journal.waitFor(0);
  t.pass('at once when there is one');
  const later = journal.waitFor(1);
  await journal.close();
  await later;
  t.pass('on close');
});

t.test(
  'cursors are kept across reopening, only move forward, and are written without close too',
  async (t) => {
    const dir = tempDir(t);
    const journal = await openJournal(dir, { cursorWriteMs: 20 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => journal.append(message(i + 1))));
    t.equal(journal.cursor('gateway'), 0);
    journal.advance('gateway', 10);
    journal.advance('gateway', 4);
    journal.advance('audit', 25);
    t.equal(journal.cursor('gateway'), 10, 'never back');
    // Written by the timer, not by close: poll the file (the test's own timeout bounds the wait).
    const file = path.join(dir, 'cursors.json');
    while (!fs.existsSync(file) || !fs.readFileSync(file, 'utf8').includes('"audit":25')) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    journal.advance('gateway', 12);
    await journal.close();
    const again = await open(t, dir);
    t.equal(again.cursor('gateway'), 12, 'the last value, written on close');
    t.equal(again.cursor('audit'), 25);
    t.equal(again.cursor('nobody'), 0);
  },
);

t.test('damaged cursors stop the open with a message that says what to do', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(dir);
  await journal.close();
  fs.writeFileSync(path.join(dir, 'cursors.json'), '{"store": 12');
  await t.rejects(openJournal(dir), /cursors.*cannot be read.*removing the file/);
  fs.rmSync(path.join(dir, 'cursors.json'));
  const again = await open(t, dir);
  t.equal(again.cursor('store'), 0);
});

t.test('a segment is deleted once every consumer is past its last position, not before', async (t) => {
  const dir = tempDir(t);
  const options = { segmentBytes: 1024 };
  let journal = await openJournal(dir, options);
  for (let i = 1; i <= 200; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, k) => journal.append(message(i + k))));
  }
  const all = segmentFiles(dir);
  t.ok(all.length > 4, `${all.length} segments`);
  await journal.close();
  journal = await openJournal(dir, options);
  t.same(segmentFiles(dir), all, 'no consumer yet: everything kept');
  const firsts = all.map((f) => Number.parseInt(f, 10));
  const secondLast = (firsts[2] as number) - 1;

  journal.advance('gateway', 150);
  journal.advance('slow', secondLast - 1);
  await journal.close();
  t.same(segmentFiles(dir), all.slice(1), 'only the segment both are past is deleted');

  journal = await open(t, dir, options);
  const rest = await readAll(journal, 0, 1000);
  checkEntries(t, rest, firsts[1] as number, 200, 'reading from the start begins at the first kept position');
  journal.advance('slow', secondLast);
  await journal.close();
  t.same(segmentFiles(dir), all.slice(2), 'the next one once the slow consumer passed it');

  journal = await open(t, dir, options);
  journal.advance('gateway', 200);
  journal.advance('slow', 200);
  t.equal(journal.stats().segments, all.length - 2);
  await journal.close();
  t.same(segmentFiles(dir), all.slice(-1), 'all done: only the segment appends go to is left');
  journal = await open(t, dir, options);
  t.equal(journal.committed(), 200, 'positions go on after the deleted ones');
  t.equal((await journal.append(message(201))).seq, 201);
});

t.test(
  'a torn tail is cut off on open and counted; appending continues after the last good record',
  async (t) => {
    const dir = tempDir(t);
    let journal = await openJournal(dir);
    await Promise.all(Array.from({ length: 10 }, (_, i) => journal.append(message(i + 1))));
    await journal.close();
    const file = path.join(dir, segmentFiles(dir)[0] as string);
    const goodSize = fs.statSync(file).size;

    // Garbage after the last record (a kill -9 mid-write of a group, or trash).
    fs.appendFileSync(file, Buffer.from('\x07\x00\x00\x00garbage that is no record'));
    journal = await openJournal(dir);
    t.equal(journal.committed(), 10);
    t.equal(journal.stats().torn, 1, 'counted');
    t.equal(fs.statSync(file).size, goodSize, 'truncated to the last whole record');
    t.equal((await journal.append(message(11))).seq, 11);
    await journal.close();

    // Half a record: the last one cut short.
    const withEleven = fs.statSync(file).size;
    fs.truncateSync(file, withEleven - 9);
    journal = await openJournal(dir);
    t.equal(journal.committed(), 10, 'the cut record is gone');
    t.equal(journal.stats().torn, 1);
    t.equal(
      (await journal.append(message(11))).seq,
      11,
      'its position is given again: it was never acknowledged',
    );
    await journal.close();

    // A whole-length record whose bytes were not all written (its CRC fails).
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff;
    fs.writeFileSync(file, bytes);
    journal = await open(t, dir);
    t.equal(journal.committed(), 10);
    t.equal(journal.stats().torn, 1);
    checkEntries(t, await journal.read(0, 100), 1, 10, 'the good records are intact');
  },
);

t.test(
  'writes side by side: a later group on disk before an earlier one (a crash between them) is cut off with the gap; nothing after it was acknowledged',
  async (t) => {
    const dir = tempDir(t);
    const sizes: number[] = [];
    for (const i of [1, 2, 3]) {
      const journal = await openJournal(dir);
      t.equal((await journal.append(message(i))).seq, i);
      await journal.close();
      sizes.push(fs.statSync(path.join(dir, segmentFiles(dir)[0] as string)).size);
    }
    const file = path.join(dir, segmentFiles(dir)[0] as string);
    const bytes = fs.readFileSync(file);
    const [one, two] = sizes as [number, number, number];
    // Record 3 landed, record 2 (written side by side, at the offset before it) did not: zeros there.
    fs.writeFileSync(
      file,
      Buffer.concat([bytes.subarray(0, one), Buffer.alloc(two - one), bytes.subarray(two)]),
    );
    const journal = await open(t, dir);
    t.equal(journal.committed(), 1, 'only what precedes the gap is committed');
    t.equal(journal.stats().torn, 1, 'counted as a torn tail');
    t.equal(fs.statSync(file).size, one, 'the segment is cut at the gap');
    t.equal((await journal.append(message(2))).seq, 2, 'appending continues at the first position lost');
    checkEntries(t, await journal.read(0, 10), 1, 2, 'read back');
  },
);

t.test('group commit: appends keep their order while several writes are under way', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(dir, { segmentBytes: 1024 });
  const resolvedInOrder: number[] = [];
  const appends: Promise<unknown>[] = [];
  // Groups made in turns of the event loop, so that several writes run at once, across segment rolls.
  for (let turn = 0; turn < 40; turn++) {
    for (let k = 0; k < 25; k++) {
      const i = turn * 25 + k + 1;
      appends.push(journal.append(message(i)).then((a) => resolvedInOrder.push(a.seq)));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(appends);
  t.same(
    resolvedInOrder,
    Array.from({ length: 1000 }, (_, i) => i + 1),
    'each append resolves after every earlier one',
  );
  t.ok(journal.stats().segments > 1, `${journal.stats().segments} segments`);
  checkEntries(t, await readAll(journal, 0, 300), 1, 1000, 'all there, in order');
  await journal.close();
  const again = await open(t, dir, { segmentBytes: 1024 });
  t.equal(again.committed(), 1000, 'and after reopening');
  t.equal(again.stats().torn, 0, 'nothing torn');
  checkEntries(t, await readAll(again, 0, 300), 1, 1000, 'read back from disk');
});

t.test('group commit: a thousand concurrent appends take far fewer fsyncs than appends', async (t) => {
  const dir = tempDir(t);
  const journal = await open(t, dir);
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => journal.append(message(i + 1))));
  t.equal(results.length, 1000);
  const { commits, appended } = journal.stats();
  t.equal(appended, 1000);
  t.ok(commits >= 1 && commits <= 10, `${commits} commits for 1000 appends`);
  // Appends that arrive while a write runs join the next group.
  const first = journal.append(message(1001));
  await new Promise((resolve) => setImmediate(resolve));
  const during = Array.from({ length: 100 }, (_, i) => journal.append(message(1002 + i)));
  await Promise.all([first, ...during]);
  t.ok(journal.stats().commits - commits <= 3, `${journal.stats().commits - commits} commits for 101 more`);
  checkEntries(t, await readAll(journal, 0, 500), 1, 1101, 'all there');
});

function sender(connection: number, messageId: number, dup = false, clientId = 'plug-1'): MessageSender {
  return { clientId, connection, messageId, dup };
}

t.test('identity: a retransmission is answered with the original position, nothing appended', async (t) => {
  const dir = tempDir(t);
  const journal = await open(t, dir);
  const original = await journal.append(message(1, sender(1, 7)));
  t.same(original, { seq: 1, duplicate: false });

  t.same(await journal.append(message(1, sender(1, 7, true))), { seq: 1, duplicate: true }, 'DUP set');
  t.same(
    await journal.append(message(1, sender(2, 7, false))),
    { seq: 1, duplicate: true },
    'a later connection, no DUP (aedes resending its queue)',
  );
  t.equal(journal.committed(), 1, 'nothing appended');
  t.equal(journal.stats().duplicates, 2);

  t.same(
    await journal.append(message(2, sender(2, 7, true))),
    { seq: 2, duplicate: false },
    'same id, other payload: new, even with DUP',
  );
  t.same(
    await journal.append(message(2, sender(2, 7, false))),
    { seq: 3, duplicate: false },
    'same id and content on the same connection without DUP: the id reused after PUBACK',
  );
  t.same(
    await journal.append(message(2, sender(3, 7, false, 'plug-2'))),
    { seq: 4, duplicate: false },
    'another client',
  );

  // Recognised on connection 4, the id is acknowledged there: the same content again on 4 is new.
  t.same(await journal.append(message(2, sender(4, 7))), { seq: 3, duplicate: true });
  t.same(await journal.append(message(2, sender(4, 7))), { seq: 5, duplicate: false });
  t.equal(journal.stats().duplicates, 3);
});

t.test(
  'identity: a retransmission of a message still being committed resolves with it, not before',
  async (t) => {
    const dir = tempDir(t);
    const journal = await open(t, dir);
    const original = journal.append(message(1, sender(1, 9)));
    const again = journal
      .append(message(1, sender(2, 9)))
      .then((r) => ({ ...r, committed: journal.committed() }));
    t.same(await again, { seq: 1, duplicate: true, committed: 1 });
    t.same(await original, { seq: 1, duplicate: false });
  },
);

t.test(
  "identity: a device's DUP retransmission is recognised after 250,000 messages of other devices",
  async (t) => {
    // The device's connection broke before its PUBACK; it comes back (its backoff, a network outage) while
    // 500 other devices kept the broker busy: 250,000 messages, more than the recent window of all senders.
    const journal = await open(t, tempDir(t));
    const quiet = (i: number, connection: number, dup = false) =>
      journal.append(message(i, sender(connection, i, dup, 'plug-quiet')));
    t.same(await quiet(1, 1), { seq: 1, duplicate: false });
    t.same(await quiet(2, 1), { seq: 2, duplicate: false }, 'its PUBACK lost with the connection');
    const busy = (i: number, id: number, dup = false) =>
      journal.append(message(i, sender(1, id, dup, 'plug-busy')));
    for (let id = 1; id <= 100; id++) await busy(1000 + id, id);
    for (let round = 0; round < 50; round++) {
      const appends: Promise<unknown>[] = [];
      for (let k = 0; k < 5000; k++) {
        const n = round * 5000 + k;
        appends.push(
          journal.append(message(n, sender(1, 1 + Math.floor(n / 500), false, `plug-${n % 500}`))),
        );
      }
      await Promise.all(appends);
    }
    t.equal(journal.committed(), 250_102);
    t.same(
      await quiet(2, 2, true),
      { seq: 2, duplicate: true },
      'resent with DUP on its new connection: its original position, not appended again',
    );
    t.same(await quiet(3, 2), { seq: 250_103, duplicate: false }, 'its next message is new');
    t.same(
      await busy(1100, 100, true),
      { seq: 102, duplicate: true },
      "a device's last 64 messages are remembered…",
    );
    t.same(
      await busy(1001, 1, true),
      { seq: 250_104, duplicate: false },
      '…not its older ones: a device with 100 messages unacknowledged is more than the journal promises',
    );
  },
);

t.test('identity survives reopening: the broker died after commit, before its PUBACK', async (t) => {
  const dir = tempDir(t);
  let journal = await openJournal(dir, { segmentBytes: 2048 });
  for (let i = 1; i <= 300; i++) await journal.append(message(i, sender(40, i % 65_535)));
  await journal.close();

  journal = await open(t, dir, { segmentBytes: 2048, identityTail: 200 });
  // The new process counts connections from 1 again; the device resends without DUP.
  t.same(await journal.append(message(300, sender(1, 300))), { seq: 300, duplicate: true });
  t.same(
    await journal.append(message(150, sender(1, 150))),
    { seq: 150, duplicate: true },
    'in an older segment',
  );
  t.same(
    await journal.append(message(50, sender(1, 50))),
    { seq: 301, duplicate: false },
    'older than the tail read back on open: forgotten',
  );
  t.same(await journal.append(message(299, sender(1, 299, false, 'plug-9'))), { seq: 302, duplicate: false });
  t.same(await journal.append(message(7, sender(1, 298))), { seq: 303, duplicate: false }, 'other payload');
});

t.test('a failed write rejects its group, gives the positions back and appending goes on', async (t) => {
  // A real failing write(2): the child runs under a file size limit of 64 KiB (ulimit -f), so a write past
  // it fails with EFBIG as one past a full disk fails with ENOSPC (SIGXFSZ handled: it would kill instead).
  const dir = tempDir(t);
  const module = new URL('./segment-journal.ts', import.meta.url).href;
  const child = `
    const { openJournal } = await import(${JSON.stringify(module)});
    process.on('SIGXFSZ', () => {});
    const journal = await openJournal(process.argv[1], { segmentBytes: 48 * 1024 });
    const say = (what) => process.stdout.write(JSON.stringify(what) + '\\n');
    const append = (i, connection = 1, dup = false) => journal.append({ topic: 't/' + i, payload: Buffer.alloc(1000, i),
      receivedAt: i, retainedReplay: false, sender: { clientId: 'c', connection, messageId: i, dup } });
    for (let i = 1; i <= 40; i++) await append(i);
    // 30 KB in one group from 41 KB on: past the limit.
    const failed = await Promise.allSettled(Array.from({ length: 30 }, (_, k) => append(41 + k)));
    say({ failed: failed.map((r) => r.status === 'rejected' ? r.reason.code : r.value.seq) });
    // Not acknowledged, so the device sends it again after reconnecting, with DUP.
    const retried = await append(41, 2, true);
    say({ retried });
    const more = [];
    for (let i = 42; i <= 52; i++) more.push((await append(i)).seq);
    say({ more, stats: journal.stats() });
    await journal.close();
  `;
  const proc = spawn(
    '/bin/bash',
    [
      '-c',
      'ulimit -f 64 && exec "$@"',
      'bash',
      process.execPath,
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      child,
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  proc.stdout.on('data', (d: Buffer) => {
    out += d;
  });
  const end = await new Promise<string>((resolve) =>
    proc.on('close', (code, signal) => resolve(`${code} ${signal}`)),
  );
  t.equal(end, '0 null', 'the child ended by itself');
  const [failed, retried, more] = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  t.same(
    failed?.failed,
    Array(30).fill('EFBIG'),
    'every append of the group that could not be written rejects',
  );
  t.same(
    retried?.retried,
    { seq: 41, duplicate: false },
    'the position is given again, and the same message is not taken for a retransmission of the failed one',
  );
  t.same(
    more?.more,
    Array.from({ length: 11 }, (_, i) => 42 + i),
    'appending goes on, across a new segment',
  );
  t.ok(more?.stats.segments >= 2, 'rolled to a new segment below the limit');

  const journal = await open(t, dir);
  t.equal(journal.committed(), 52);
  t.equal(journal.stats().torn, 0, 'nothing torn: the failed write was cut back');
  const entries = await readAll(journal, 0, 100);
  t.same(
    entries.map((e) => [e.seq, e.topic, e.payload[0]]),
    Array.from({ length: 52 }, (_, i) => [i + 1, `t/${i + 1}`, i + 1]),
    'every committed message, in order, without a gap',
  );
});

t.test(
  'kill -9 while appending and deleting: every acknowledged message past the cursor is there, once',
  async (t) => {
    const dir = tempDir(t);
    const module = new URL('./segment-journal.ts', import.meta.url).href;
    // Appends with 200 in flight and prints "seq round-n" once each append resolved, until killed; a reader
    // 1500 behind advances its cursor, so segments are deleted while it runs.
    const child = `
    const { openJournal } = await import(${JSON.stringify(module)});
    const [dir, round] = process.argv.slice(1);
    const journal = await openJournal(dir, { segmentBytes: 64 * 1024, cursorWriteMs: 10 });
    const inFlight = new Set();
    for (let n = 0; ; n++) {
      const id = round + '-' + n;
      const p = journal
        .append({ topic: 't/' + id, payload: Buffer.from('payload ' + id), receivedAt: n, retainedReplay: false })
        .then((r) => {
          process.stdout.write(r.seq + ' ' + id + '\\n');
          inFlight.delete(p);
          if (r.seq % 250 === 0) journal.advance('reader', r.seq - 1500);
        });
      inFlight.add(p);
      if (inFlight.size >= 200) await Promise.race(inFlight);
    }
  `;
    const acknowledged = new Map<number, string>();
    let twice = 0;
    for (let round = 0; round < 3; round++) {
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', child, dir, `r${round}`],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      const lines = () => out.split('\n').length - 1;
      // 'close', not 'exit': the acknowledgements still in the pipe when it died are read too.
      const exited = new Promise<void>((resolve) => proc.on('close', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', (d: Buffer) => {
          out += d;
          if (lines() >= 3000 + round * 1000) resolve();
        });
        proc.on('exit', (code) => reject(new Error(`child ended (${code}) before being killed:\n${out}`)));
      });
      proc.kill('SIGKILL');
      await exited;
      const complete = out.slice(0, out.lastIndexOf('\n'));
      for (const line of complete.split('\n')) {
        const [seq, id] = line.split(' ');
        if (acknowledged.has(Number(seq)) && twice++ < 3) t.fail(`position ${seq} acknowledged twice`);
        acknowledged.set(Number(seq), id as string);
      }
      t.ok(lines() >= 3000, `round ${round}: killed after ${lines()} acknowledged appends`);
    }

    t.equal(twice, 0, 'no position acknowledged twice, in any round');
    const journal = await open(t, dir);
    const entries = await readAll(journal, 0, 5000);
    t.ok(
      journal.committed() >= Math.max(...acknowledged.keys()),
      'committed covers every acknowledged position',
    );
    const byPosition = new Map(entries.map((e) => [e.seq, e]));
    t.equal(byPosition.size, entries.length, 'no position twice');
    const cursor = journal.cursor('reader');
    const first = entries[0]?.seq ?? 0;
    t.ok(first > 1, `segments were deleted (the oldest kept entry is ${first})`);
    t.ok(first <= cursor + 1, `none after the cursor (${cursor}) on disk`);
    t.same(
      entries.map((e) => e.seq),
      Array.from({ length: entries.length }, (_, i) => first + i),
      'positions without a gap up to the end',
    );
    t.equal(entries.at(-1)?.seq, journal.committed());
    const ids = entries.map((e) => e.topic);
    t.equal(new Set(ids).size, ids.length, 'no message twice');
    let missing = 0;
    for (const [seq, id] of acknowledged) {
      if (seq < first) continue;
      const entry = byPosition.get(seq);
      if (entry?.topic !== `t/${id}` || `${entry.payload}` !== `payload ${id}`) {
        if (missing++ < 3) t.fail(`acknowledged ${seq} ${id} is ${entry ? `${entry.topic}` : 'missing'}`);
      }
    }
    t.equal(missing, 0, `all acknowledged messages from ${first} on are there with their payloads`);
  },
);
