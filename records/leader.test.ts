import t from 'tap';
import type { AlertChange } from '../alerts/alert-watch.ts';
import { tokenId } from '../members/tokens.ts';
import { openTestRecords } from '../test-support/records.ts';
import { eventually } from '../test-support/small-building.ts';
import type { BackgroundWork } from './leader.ts';

/**
 * Two processes' records on one PostgreSQL database (two pools, as two API processes have): one leads, the
 * other takes over when it stops or its connection ends; what one tells, the other hears.
 */

/** Work that counts who runs it. */
function counted(running: Set<string>, who: string): () => BackgroundWork {
  return () => {
    running.add(who);
    return { stop: async () => void running.delete(who) };
  };
}

t.test('one of two leads; stopped, the other takes over; another site leads apart', async (t) => {
  const a = await openTestRecords(t, 'postgres');
  if (!a) return;
  const b = await a.another();
  const running = new Set<string>();
  const leadA = await a.lead({ name: 'nord', start: counted(running, 'a'), tryEveryMs: 50 });
  const leadB = await b.lead({ name: 'nord', start: counted(running, 'b'), tryEveryMs: 50 });
  t.teardown(() => Promise.all([leadA.stop(), leadB.stop()]));
  await eventually('someone leads', () => running.size > 0);
  // Many turns of both: never two at once.
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 50));
    t.equal(running.size, 1, `one runs the work (turn ${i})`);
  }
  const [first, second] = leadA.leading ? [leadA, leadB] : [leadB, leadA];
  t.notOk(second.leading, 'the other follows');
  await first.stop();
  await eventually('the other leads', () => second.leading);
  t.equal(running.size, 1, 'the work moved, it did not double');
  t.equal(second.terms, 1);

  const south = new Set<string>();
  const leadSouth = await a.lead({ name: 'sued', start: counted(south, 'a'), tryEveryMs: 50 });
  t.teardown(() => leadSouth.stop());
  await eventually("another site's work is led too", () => south.size === 1);
});

t.test('the leader whose connection ends stops its work; one of the two leads again', async (t) => {
  const a = await openTestRecords(t, 'postgres');
  if (!a) return;
  const b = await a.another();
  const running = new Set<string>();
  const stops: string[] = [];
  const work = (who: string) => () => {
    running.add(who);
    return {
      stop: async () => {
        running.delete(who);
        stops.push(who);
      },
    };
  };
  const leadA = await a.lead({ name: 'nord', start: work('a'), tryEveryMs: 50 });
  await eventually('a leads', () => leadA.leading);
  const leadB = await b.lead({ name: 'nord', start: work('b'), tryEveryMs: 50 });
  t.teardown(() => Promise.all([leadA.stop(), leadB.stop()]));
  // What kill -9 does to the leader's connection, as PostgreSQL sees it: the session ends, the lock with it.
  await a.exec(
    // This test's database only: other tests on the same server hold advisory locks of their own (the
    // migrations', their leaders'), and ending their sessions failed them ("terminating connection due to
    // administrator command").
    `SELECT pg_terminate_backend(pid) FROM pg_locks
      WHERE locktype = 'advisory' AND pid <> pg_backend_pid()
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  await eventually('a stopped its work', () => stops.includes('a'));
  // a (its process is alive here, unlike after kill -9) asks again like b: one of them takes the lock.
  await eventually('a new term', () => leadA.terms + leadB.terms === 2);
  t.equal(running.size, 1, 'one runs the work');
  t.equal([leadA.leading, leadB.leading].filter(Boolean).length, 1, 'one leads');
});

t.test('a sign-out and an alert change are heard by the other process', async (t) => {
  const a = await openTestRecords(t, 'postgres');
  if (!a) return;
  const b = await a.another();
  const ended: string[] = [];
  t.teardown(b.news.onSessionEnded((id) => ended.push(id)));
  const heardByB: [number, AlertChange][] = [];
  const heardByA: [number, AlertChange][] = [];
  t.teardown(b.news.alerts.listen((id, change) => heardByB.push([id, change])));
  t.teardown(a.news.alerts.listen((id, change) => heardByA.push([id, change])));
  // A notice before LISTEN is in place would be missed (it is the sockets' 10 s check's then).
  await Promise.all([a.news.listening(), b.news.listening()]);

  const member = await a.member('member');
  const { token } = await a.sessions.start(member.id);
  t.ok(await a.sessions.end(token), 'signed out on a');
  await eventually('b hears the sign-out', () => ended.length > 0);
  t.same(ended, [tokenId(token)], "by the session's stored id, never its token");
  t.notOk(await b.sessions.end(token), 'gone for b too');

  a.news.alerts.tell(7, 'acknowledged');
  await eventually('b hears the alert', () => heardByB.length > 0);
  t.same(heardByB, [[7, 'acknowledged']]);
  t.same(heardByA, [], 'a does not hear itself (its watcher told its own listeners)');
});
