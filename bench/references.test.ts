import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { StoredReading } from '../storage/store.ts';
import { type IngestOptions, ingestEnvironment, measureGateway, startWeSprint } from './ingest.ts';
import {
  type BenchStore,
  embeddedDatabase,
  measureHandWritten,
  REFERENCE_MEASUREMENTS,
  ratioOf,
  referenceOrder,
} from './references.ts';
import { runBench, writeBenchResult } from './run.ts';

/**
 * The measuring stick of issue 10 must count right before its figures mean anything: a reading stored
 * twice (a redelivery stamped with its new arrival time) or not at all fails the run, whatever the client
 * believes it wrote. Real bare aedes, real publisher process, real SQLite store; only the figures are not
 * looked at.
 */

// One building of 100 devices and 100 timed messages: every device sends once per phase, so no two readings
// of one series can share a millisecond (the store's key) however the messages bunch up.
const options: IngestOptions = {
  messages: 100,
  window: 100,
  buildings: 1,
  devicesPerBuilding: 100,
  timeoutMs: 60_000,
  settleMs: 50,
};

function tempStore(t: Test, write?: (store: BenchStore, batch: StoredReading[]) => Promise<void>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-bench-test-'));
  const store = embeddedDatabase(dir);
  t.teardown(async () => {
    await store.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return write ? { ...store, write: (batch: StoredReading[]) => write(store, batch) } : store;
}

t.test('the hand-written reference stores every reading once, and says so', async (t) => {
  const env = await ingestEnvironment(options);
  const sample = await measureHandWritten(env, options, tempStore(t));
  t.same(sample.problems, []);
  t.ok(sample.ok);
  t.equal(sample.messages, 100);
  t.ok(sample.readings > sample.messages, 'the messages carry several readings each');
});

t.test("WeSprint's path, started as `wesprint start` starts it, stores every reading once", async (t) => {
  const env = await ingestEnvironment(options);
  const sample = await measureGateway(env, options);
  t.same(sample.problems, []);
  t.ok(sample.ok);
  t.equal(sample.messages, 100);
  t.ok(sample.storeWrites > 0);
});

t.test('startWeSprint runs the broker with its journal in DATA_DIR and the gateway reading it', async (t) => {
  const env = await ingestEnvironment(options);
  const wesprint = await startWeSprint(env.site, { name: 'test', labMode: true });
  t.teardown(() => wesprint.close());
  t.ok(fs.existsSync(path.join(wesprint.dataDir, 'journal')), 'the journal lives in DATA_DIR/journal');
  t.equal(wesprint.gateway.stats().cursorLag, 0);
  t.match(wesprint.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
});

t.test('a reading stored twice fails the run, though every batch was acknowledged', async (t) => {
  const env = await ingestEnvironment(options);
  let duplicated = false;
  const store = tempStore(t, async (s, batch) => {
    const first = batch[0];
    // Once: one reading again, 5 ms later, as a redelivered message would be stamped.
    if (!duplicated && first) {
      duplicated = true;
      await s.write([...batch, { ...first, ts: first.ts + 5 }]);
    } else {
      await s.write(batch);
    }
  });
  const sample = await measureHandWritten(env, options, store);
  t.ok(duplicated);
  t.notOk(sample.ok);
  t.match(sample.problems.join('\n'), /0 readings too few and 1 too many/);
});

t.test('a reading lost on the way to the store fails the run', async (t) => {
  const env = await ingestEnvironment(options);
  let dropped = false;
  const store = tempStore(t, async (s, batch) => {
    if (!dropped && batch.length > 1) {
      dropped = true;
      await s.write(batch.slice(1));
    } else {
      await s.write(batch);
    }
  });
  const sample = await measureHandWritten(env, options, store);
  t.ok(dropped);
  t.notOk(sample.ok);
  t.match(sample.problems.join('\n'), /1 readings too few and 0 too many/);
});

t.test('the measurements alternate: each run starts with the next one, and runs all of them', async (t) => {
  const firsts = [1, 2, 3, 4, 5, 6].map((run) => referenceOrder(run)[0]);
  t.same(firsts, [...REFERENCE_MEASUREMENTS, REFERENCE_MEASUREMENTS[0]]);
  for (const run of [1, 2, 3]) t.same([...referenceOrder(run)].sort(), [...REFERENCE_MEASUREMENTS].sort());
  t.same(referenceOrder(2, ['A', 'B-embedded', 'WeSprint-embedded']), [
    'B-embedded',
    'WeSprint-embedded',
    'A',
  ]);
});

t.test('ratios: against their goal, or unknown when a median is missing', async (t) => {
  t.same(ratioOf(2900, 3300, 1.0), { ratio: 0.879, goal: 1.0, met: false });
  t.same(ratioOf(3300, 3300, 1.0), { ratio: 1, goal: 1.0, met: true });
  t.same(ratioOf(5, 4), { ratio: 1.25 });
  const missing = ratioOf(undefined, 4, 0.8);
  t.ok(Number.isNaN(missing.ratio));
  t.equal(missing.met, false);
});

t.test('the results file keeps the other benchmarks; an unknown --only is refused', async (t) => {
  const dir = t.testdir({});
  const file = path.join(dir, 'results.json');
  writeBenchResult(file, 'live', { ok: true });
  writeBenchResult(file, 'ingest-references', { ok: false, failures: ['x'] });
  const results = JSON.parse(fs.readFileSync(file, 'utf8'));
  t.same(Object.keys(results.benchmarks).sort(), ['ingest-references', 'live']);
  t.equal(results.benchmarks['ingest-references'].ok, false);
  await t.rejects(
    runBench(['--only', 'nope']),
    /--only must be one of ingest-references, live, unlock, two-nodes, network, report, faults, memory, senders-snapshot/,
  );
});

t.test('the memory bench refuses an outage of no length before it starts anything', async (t) => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...m: unknown[]) => lines.push(m.join(' '));
  try {
    const dir = t.testdir({});
    const code = await runBench([
      '--only',
      'memory',
      '--memory-minutes',
      '0',
      '--out',
      path.join(dir, 'r.json'),
    ]);
    t.equal(code, 1);
  } finally {
    console.log = log;
  }
  t.match(lines.join('\n'), /memory: --memory-minutes must be a positive number/);
});
