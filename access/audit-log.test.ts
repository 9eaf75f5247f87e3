import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { openRecords } from '../database/database.ts';
import { scheduleAuditPurge } from './audit-log.ts';
import { SqliteAuditLog } from './sqlite-audit-log.ts';

const DAY = 86_400_000;

function records(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-audit-'));
  const db = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

t.test('entries are appended and found again by every filter, newest first, in pages', async (t) => {
  const db = records(t);
  const log = new SqliteAuditLog(db);
  const now = Date.now();
  const a = await log.record({
    at: now - 3000,
    actor: 'm1',
    action: 'unlock',
    target: 'room-1',
    decision: 'granted',
    reason: 'booking',
    detail: { outcome: 'done', latencyMs: 120 },
  });
  await log.record({
    at: now - 2000,
    actor: 'm2',
    action: 'unlock',
    target: 'room-1',
    decision: 'denied',
    reason: 'no_booking',
  });
  await log.record({
    at: now - 1000,
    actor: null,
    action: 'login',
    target: null,
    decision: 'denied',
    reason: 'bad_password',
  });
  t.equal(await log.count(), 3);
  t.same(a.detail, { outcome: 'done', latencyMs: 120 });

  const all = await log.query();
  t.same(
    all.entries.map((e) => e.reason),
    ['bad_password', 'no_booking', 'booking'],
    'newest first',
  );
  t.equal(all.next, null);
  t.same((await log.query({ actor: 'm1' })).entries, [a]);
  t.equal((await log.query({ target: 'room-1' })).entries.length, 2);
  t.equal((await log.query({ action: 'login' })).entries[0]?.actor, null);
  t.equal((await log.query({ decision: 'denied' })).entries.length, 2);
  t.same(
    (await log.query({ from: now - 2000, to: now - 1000 })).entries.map((e) => e.actor),
    ['m2'],
    'from inclusive, to exclusive',
  );

  const first = await log.query({ limit: 2 });
  t.equal(first.entries.length, 2);
  t.not(first.next, null);
  const second = await log.query({ limit: 2, before: first.next ?? 0 });
  t.same(second.entries, [a]);
  t.equal(second.next, null);
});

t.test('UPDATE and DELETE on the audit table fail, whoever issues them', async (t) => {
  const db = records(t);
  const log = new SqliteAuditLog(db);
  const entry = await log.record({
    actor: 'm1',
    action: 'unlock',
    target: 'x',
    decision: 'denied',
    reason: 'no_booking',
  });
  t.throws(() => db.prepare("UPDATE audit_log SET decision = 'granted'").run(), /append-only/);
  t.throws(() => db.prepare('DELETE FROM audit_log WHERE seq = ?').run(entry.seq), /append-only/);
  t.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/);
  // The purge marker cannot be abused to remove recent entries either.
  t.throws(
    () => db.prepare('INSERT INTO audit_purge (id, before) VALUES (1, ?)').run(Date.now() + DAY),
    /at least the last day/,
  );
  t.throws(
    () =>
      db.prepare("INSERT INTO audit_log (at, action, decision, detail) VALUES (1, 'x', 'maybe', '{}')").run(),
    /CHECK/,
    'only granted or denied',
  );
  t.same((await log.query()).entries, [entry], 'the entry is unchanged');
});

t.test('the retention purge removes only entries older than the retention', async (t) => {
  const db = records(t);
  const log = new SqliteAuditLog(db);
  const now = Date.now();
  const at = (days: number) => now - days * DAY;
  for (const days of [400, 366, 364, 2]) {
    await log.record({
      at: at(days),
      actor: 'm1',
      action: 'unlock',
      target: 'r',
      decision: 'granted',
      reason: `${days}`,
    });
  }
  t.equal(await log.purge(365, now), 2);
  t.same(
    (await log.query()).entries.map((e) => e.reason),
    ['2', '364'],
  );
  t.equal(await log.purge(365, now), 0, 'nothing more to purge');
  await t.rejects(log.purge(0, now), /at least 1/);
  t.equal(db.prepare('SELECT count(*) AS n FROM audit_purge').pluck().get(), 0, 'no marker left behind');
  t.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/, 'ordinary DELETE fails again');
  t.equal(await log.count(), 2);
});

t.test('the scheduled purge runs at once and keeps the API alive when it fails', async (t) => {
  const db = records(t);
  const log = new SqliteAuditLog(db);
  await log.record({
    at: Date.now() - 40 * DAY,
    actor: 'm1',
    action: 'unlock',
    target: 'r',
    decision: 'denied',
    reason: 'old',
  });
  await log.record({ actor: 'm1', action: 'unlock', target: 'r', decision: 'denied', reason: 'new' });
  const said: string[] = [];
  const logger = {
    info: (_o: object, m?: string) => said.push(`info ${m}`),
    warn: (_o: object, m?: string) => said.push(`warn ${m}`),
  };
  const stop = await scheduleAuditPurge(log, 30, logger);
  t.same(
    (await log.query()).entries.map((e) => e.reason),
    ['new'],
  );
  t.match(said, ['info audit log: retention purge']);
  await stop();
  db.close();
  const stopBroken = await scheduleAuditPurge(log, 30, logger);
  t.match(said[1], /^warn .*failed/, 'a failing purge is logged, not thrown');
  await stopBroken();
});
