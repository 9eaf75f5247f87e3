import t from 'tap';
import { recordsContract } from '../test-support/records.ts';
import { scheduleAuditPurge } from './audit-log.ts';

const DAY = 86_400_000;

recordsContract(
  t,
  'entries are appended and found again by every filter, newest first, in pages',
  async (t, records) => {
    const log = records.audit;
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
  },
);

recordsContract(t, 'UPDATE and DELETE on the audit table fail, whoever issues them', async (t, records) => {
  const log = records.audit;
  const entry = await log.record({
    actor: 'm1',
    action: 'unlock',
    target: 'x',
    decision: 'denied',
    reason: 'no_booking',
  });
  await t.rejects(records.exec("UPDATE audit_log SET decision = 'granted'"), /append-only/);
  await t.rejects(records.exec(`DELETE FROM audit_log WHERE seq = ${entry.seq}`), /append-only/);
  await t.rejects(records.exec('DELETE FROM audit_log'), /append-only/);
  // The purge marker cannot be abused to remove recent entries either.
  await t.rejects(
    records.exec(`INSERT INTO audit_purge (id, before) VALUES (1, ${Date.now() + DAY})`),
    /at least the last day/,
  );
  await t.rejects(
    records.exec("INSERT INTO audit_log (at, action, decision, detail) VALUES (1, 'x', 'maybe', '{}')"),
    /check/i,
    'only granted or denied',
  );
  t.same((await log.query()).entries, [entry], 'the entry is unchanged');
});

recordsContract(
  t,
  'the retention purge removes only entries older than the retention',
  async (t, records) => {
    const log = records.audit;
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
    t.equal(await records.scalar('SELECT count(*) AS n FROM audit_purge'), 0, 'no marker left behind');
    await t.rejects(records.exec('DELETE FROM audit_log'), /append-only/, 'ordinary DELETE fails again');
    t.equal(await log.count(), 2);
  },
);

recordsContract(
  t,
  'the scheduled purge runs at once and keeps the API alive when it fails',
  async (t, records, engine) => {
    const log = records.audit;
    // PostgreSQL refuses a purge cut-off younger than a day by its own clock, which faketime does not move (the
    // suite runs again at instants months ahead): there the entries and the purge are dated by the server.
    const now =
      engine === 'postgres'
        ? await records.scalar('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS n')
        : Date.now();
    await log.record({
      at: now - 40 * DAY,
      actor: 'm1',
      action: 'unlock',
      target: 'r',
      decision: 'denied',
      reason: 'old',
    });
    await log.record({
      at: now,
      actor: 'm1',
      action: 'unlock',
      target: 'r',
      decision: 'denied',
      reason: 'new',
    });
    const said: string[] = [];
    const logger = {
      info: (_o: object, m?: string) => said.push(`info ${m}`),
      warn: (_o: object, m?: string) => said.push(`warn ${m}`),
    };
    const stop = await scheduleAuditPurge(log, 30, logger, DAY, () => now);
    t.same(
      (await log.query()).entries.map((e) => e.reason),
      ['new'],
    );
    t.match(said, ['info audit log: retention purge']);
    await stop();
    await records.close();
    const stopBroken = await scheduleAuditPurge(log, 30, logger);
    t.match(said[1], /^warn .*failed/, 'a failing purge is logged, not thrown');
    await stopBroken();
  },
);
