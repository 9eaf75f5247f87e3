import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { HeldDisk } from '../test-support/held-disk.ts';
import type { ArrivingMessage, MessageJournal } from './journal.ts';
import { openJournal } from './segment-journal.ts';

/**
 * What a journal holds before it is durable (`uncommitted`, `waitFor`'s `appendedAfter`): the live view
 * shows a message from there while its write is under way, and never acknowledges or stores it from there.
 * The disk is real; its writes are held or refused at the journal's group-write step.
 */

async function heldJournal(t: Test): Promise<{ journal: MessageJournal; disk: HeldDisk }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-uncommitted-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const disk = new HeldDisk();
  const journal = await openJournal(dir, { beforeWrite: disk.beforeWrite });
  t.teardown(async () => {
    disk.release();
    await journal.close();
  });
  return { journal, disk };
}

const message = (text: string, at = 1_780_000_000_000): ArrivingMessage => ({
  topic: 'shellies/plug-1/relay/0/power',
  payload: Buffer.from(text),
  receivedAt: at,
  retainedReplay: false,
});

const texts = (entries: { payload: Buffer }[]) => entries.map((e) => String(e.payload));

t.test(
  'an appended message is there to be shown while its write is held, and read once committed',
  async (t) => {
    const { journal, disk } = await heldJournal(t);
    disk.hold();
    const waking = journal.waitFor(0, undefined, 0);
    const first = journal.append(message('1'));
    const second = journal.append(message('2'));
    await waking;
    t.same(texts(journal.uncommitted(0)), ['1', '2'], 'both appended, neither on disk');
    t.same(texts(journal.uncommitted(1)), ['2'], 'after a position');
    t.equal(journal.committed(), 0);
    t.same(await journal.read(0, 10), [], 'nothing committed to read');

    let committedWoke = false;
    void journal.waitFor(0).then(() => {
      committedWoke = true;
    });
    const third = journal.waitFor(0, undefined, 2);
    void journal.append(message('3'));
    await third;
    t.same(texts(journal.uncommitted(2)), ['3'], 'a waiter watching appends woke for the third');
    t.notOk(committedWoke, 'one waiting for a commit did not');

    const shown = journal.uncommitted(0);
    disk.release();
    t.same(await Promise.all([first, second]), [
      { seq: 1, duplicate: false },
      { seq: 2, duplicate: false },
    ]);
    await journal.waitFor(2);
    const read = await journal.read(0, 10);
    t.ok(
      read.slice(0, 2).every((entry, i) => entry === shown[i]),
      'read gives the very entries shown before their commit',
    );
    while (journal.committed() < 3) await journal.waitFor(journal.committed());
    t.same(journal.uncommitted(0), [], 'nothing uncommitted once on disk');
  },
);

t.test('a refused write withdraws its entries; their positions go to the next messages', async (t) => {
  const { journal, disk } = await heldJournal(t);
  disk.hold();
  disk.refuse();
  const lost = journal.append(message('lost'));
  const shown = journal.uncommitted(0);
  t.same(texts(shown), ['lost'], 'there to be shown while the write is under way');
  disk.release();
  await t.rejects(lost, /no space/, 'the append is refused: nobody acknowledges it');
  t.same(journal.uncommitted(0), [], 'withdrawn');
  t.same(await journal.append(message('kept')), { seq: 1, duplicate: false }, 'its position given again');
  const read = await journal.read(0, 10);
  t.same(texts(read), ['kept'], 'only the message whose write succeeded is read');
  t.not(read[0], shown[0], 'another entry at that position');
});
