import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { Quarantine } from './quarantine.ts';

const message = (seq: number | undefined, receivedAt = 1_700_000_000_000) => ({
  receivedAt,
  topic: 'shellies/x/relay/0/power',
  payload: Buffer.from('not-a-number'),
  reason: 'malformed' as const,
  detail: 'not a number',
  ...(seq === undefined ? {} : { seq }),
});

t.test('a message of the journal decoded again is kept and counted once', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-quarantine-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  t.equal(quarantine.add(message(7)), true, 'kept the first time');
  t.equal(quarantine.add(message(7)), false, 'the same message again: not kept again');
  t.equal(quarantine.add(message(8)), true);
  t.equal(quarantine.add(message(7, 1_800_000_000_000)), true, 'a new journal reusing position 7 is news');
  t.equal(quarantine.add(message(undefined)), true, 'a message from no journal (the history) is always kept');
  t.equal(quarantine.add(message(undefined)), true);
  t.same(quarantine.counts(), { malformed: 5 });
  t.equal(quarantine.list().length, 5);
});

t.test(
  'a gateway.db from before the journal is migrated: its rows stay, positions count from now on',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-quarantine-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'gateway.db');
    // The schema as the gateway left it before, with a row and its count.
    const old = new Database(file);
    old.exec(`
    CREATE TABLE quarantine (
      id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, topic TEXT NOT NULL,
      payload TEXT NOT NULL, size INTEGER NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, device TEXT);
    CREATE TABLE quarantine_count (reason TEXT PRIMARY KEY, count INTEGER NOT NULL);
    INSERT INTO quarantine (received_at, topic, payload, size, reason, detail, device)
      VALUES (1, 'stranger/x', 'x', 1, 'unknown_device', 'not in site', NULL);
    INSERT INTO quarantine_count VALUES ('unknown_device', 1);`);
    old.close();

    const quarantine = new Quarantine(file);
    t.equal(quarantine.add(message(1)), true);
    t.equal(quarantine.add(message(1)), false);
    t.same(quarantine.counts(), { unknown_device: 1, malformed: 1 });
    t.same(
      quarantine.list().map((e) => e.topic),
      ['shellies/x/relay/0/power', 'stranger/x'],
    );
    quarantine.close();
    // Opened again (the next start): nothing to migrate, the key still holds.
    const again = new Quarantine(file);
    t.teardown(() => again.close());
    t.equal(again.add(message(1)), false);
    t.same(again.counts(), { unknown_device: 1, malformed: 1 });
  },
);

t.test(
  "in a network a message is its device's site's; one naming no device is the installation's",
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-quarantine-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'gateway.db');
    // A gateway.db from before counts per site: its count so far becomes the installation's.
    const before = new Quarantine(file);
    before.add(message(1));
    before.close();
    const old = new Database(file);
    old.exec('DROP TABLE quarantine_site_count');
    old.close();
    const quarantine = new Quarantine(file);
    t.teardown(() => quarantine.close());
    t.same(
      quarantine.countsFor('nord'),
      { own: {}, unattributed: { malformed: 1 } },
      'counted before: nobody knows whose',
    );

    // Both houses have a plug-1: each one's message is its house's.
    quarantine.add({ ...message(2), site: 'nord', device: 'nord/plug-1' });
    quarantine.add({ ...message(3), site: 'sued', device: 'sued/plug-1' });
    quarantine.add({ ...message(4), site: 'sued', device: 'sued/plug-1', reason: 'oversized' });
    quarantine.add({ ...message(5), topic: 'nobody/knows', reason: 'unknown_device' });
    t.same(quarantine.countsFor('sued'), {
      own: { malformed: 1, oversized: 1 },
      unattributed: { malformed: 1, unknown_device: 1 },
    });
    t.same(quarantine.countsFor('nord'), {
      own: { malformed: 1 },
      unattributed: { malformed: 1, unknown_device: 1 },
    });
    t.same(
      quarantine.counts(),
      { malformed: 3, oversized: 1, unknown_device: 1 },
      'the installation: all of them',
    );
    const sites = (list: { site: string | null }[]) => list.map((e) => e.site);
    t.same(
      sites(quarantine.list({ site: 'nord' })),
      [null, 'nord', null],
      "Nord's and nobody's, newest first",
    );
    t.same(sites(quarantine.list({ site: 'sued' })), [null, 'sued', 'sued', null]);
    t.equal(quarantine.list().length, 5);
  },
);
