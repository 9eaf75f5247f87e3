import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { InfluxV1Store } from '../storage/influx-v1-store.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { LatestFilter, SeriesQuery, StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { requireComponent } from '../test-support/component.ts';
import { INFLUXD_INSTALL, influxdAvailable, startInfluxd } from '../test-support/influxd.ts';
import { SpooledWriter } from './spool.ts';

const DEVICES = 10;
const T0 = Date.now() - 3_600_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reading number i: device i % DEVICES, a distinct ts per device from `t0`, value = i. */
function reading(i: number, t0 = T0): StoredReading {
  return {
    site: 'kaufhaus',
    space: `floor-${i % 3}`,
    device: `meter-${i % DEVICES}`,
    channel: '0',
    quantity: 'energy',
    unit: 'kWh',
    ts: t0 + Math.floor(i / DEVICES) * 1000,
    value: i,
  };
}

async function until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

/** The real SQLite store behind a handle the test can close (a real failure) and reopen. */
class ReopenableSqlite implements TimeSeriesStore {
  readonly kind = 'sqlite';
  store: SqliteStore;
  /** ts of every acknowledged write, in the order the store acknowledged them. */
  readonly acknowledged: number[] = [];
  constructor(private readonly file: string) {
    this.store = new SqliteStore({ file });
  }
  async write(readings: StoredReading[]): Promise<void> {
    await this.store.write(readings);
    for (const r of readings) this.acknowledged.push(r.ts * DEVICES + Number(r.device.slice(6)));
  }
  query(q: SeriesQuery) {
    return this.store.query(q);
  }
  latest(f?: LatestFilter) {
    return this.store.latest(f);
  }
  ping() {
    return this.store.ping();
  }
  close() {
    return this.store.close();
  }
  reopen(): void {
    this.store = new SqliteStore({ file: this.file });
  }
}

async function storedCounts(store: TimeSeriesStore, n: number, t0 = T0): Promise<Map<string, number>> {
  const series = await store.query({
    quantity: 'energy',
    from: t0,
    to: t0 + Math.ceil(n / DEVICES) * 1000,
    aggregate: 'count',
  });
  return new Map(series.map((s) => [s.device, s.points[0]?.value ?? 0]));
}

function expectedCounts(n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) m.set(reading(i).device, (m.get(reading(i).device) ?? 0) + 1);
  return m;
}

const segments = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.spool.jsonl'));

t.test(
  'SQLite store closed mid-stream: batches spool to disk, replay in order once it is back',
  async (t) => {
    const dir = t.testdir({});
    const store = new ReopenableSqlite(path.join(dir, 'readings.db'));
    t.teardown(() => store.close());
    const logged: { msg: string; err?: unknown }[] = [];
    const record = (obj: object, msg: string) => void logged.push({ ...obj, msg });
    const writer = new SpooledWriter({
      store,
      dir: path.join(dir, 'spool'),
      batchSize: 50,
      flushIntervalMs: 20,
      retryMinMs: 20,
      retryMaxMs: 100,
      logger: { info: record, warn: record },
    });
    t.teardown(() => writer.close());
    const N = 900;
    let spoolingEvents = 0;
    writer.on('spooling', () => spoolingEvents++);
    for (let i = 0; i < N; i++) {
      writer.add(reading(i));
      if (i === 300) {
        await writer.flush();
        await store.close(); // the real store fails from now on
      }
      if (i === 600) {
        await until('readings spooled to disk', () => writer.counters.spooled > 0);
        t.ok(writer.isSpooling());
        t.ok(segments(path.join(dir, 'spool')).length > 0, 'segment files on disk');
        store.reopen();
      }
      if (i % 25 === 0) await sleep(1);
    }
    await writer.drained();
    t.equal(writer.pending(), 0);
    t.equal(spoolingEvents, 1);
    t.ok(writer.counters.replayed > 0, 'some readings came back from the spool');
    t.equal(writer.counters.written, N, 'every reading acknowledged once');
    t.same(await storedCounts(store, N), expectedCounts(N));
    const order = store.acknowledged;
    t.ok(
      order.every((v, i) => i === 0 || v > (order[i - 1] as number)),
      'the store saw the readings in the order they were added',
    );
    t.same(segments(path.join(dir, 'spool')), [], 'acknowledged segments are removed');
    t.equal(writer.isSpooling(), false);
    // As `wesprint start` logs it (part spool): a reason in one line, no stack, the part not repeated.
    const down = logged.find((l) => /does not answer; spooling to disk/.test(l.msg));
    t.type(down?.err, 'string', `the store's reason is its message: ${JSON.stringify(down?.err)}`);
    t.same(
      logged.filter((l) => l.msg.startsWith('spool:') || typeof (l.err ?? '') !== 'string'),
      [],
    );
  },
);

t.test('the spool survives a writer restart; a torn line is skipped', async (t) => {
  const dir = t.testdir({});
  const spoolDir = path.join(dir, 'spool');
  const store = new ReopenableSqlite(path.join(dir, 'readings.db'));
  await store.close(); // down from the start
  const first = new SpooledWriter({
    store,
    dir: spoolDir,
    batchSize: 40,
    flushIntervalMs: 10_000,
    retryMinMs: 10_000,
  });
  const N = 300;
  for (let i = 0; i < N; i++) first.add(reading(i));
  await first.flush();
  t.equal(first.pending(), N);
  await first.close();
  t.equal(first.counters.spooled, N, 'all of it on disk');
  const files = segments(spoolDir);
  t.ok(files.length > 0);
  // A crash while appending leaves half a line at the end of a segment.
  fs.appendFileSync(path.join(spoolDir, files[files.length - 1] as string), '[{"device":"meter-1","quan');

  store.reopen();
  t.teardown(() => store.close());
  const second = new SpooledWriter({
    store,
    dir: spoolDir,
    batchSize: 40,
    flushIntervalMs: 20,
    retryMinMs: 20,
  });
  t.teardown(() => second.close());
  t.equal(second.pending(), N, 'the new writer knows what is waiting');
  t.ok(second.isSpooling());
  second.add(reading(N)); // while replaying, new readings queue behind the spool
  await second.drained();
  t.equal(second.counters.replayed, N + 1, 'the new reading went through the spool behind the old ones');
  t.equal(second.counters.corrupt, 1);
  t.same(await storedCounts(store, N + 1), expectedCounts(N + 1));
  t.same(segments(spoolDir), []);
  const order = store.acknowledged;
  t.ok(
    order.every((v, i) => i === 0 || v > (order[i - 1] as number)),
    'replayed in order, then the new one',
  );
});

t.test('THE test: InfluxDB killed (SIGKILL) mid-stream, restarted: every reading exactly once', async (t) => {
  if (!requireComponent(t, influxdAvailable(), 'InfluxDB 1.x (influxd)', INFLUXD_INSTALL)) return;
  const influxd = await startInfluxd();
  t.teardown(() => influxd.dispose());
  const store = new InfluxV1Store({ url: influxd.url, database: 'spool', requestTimeoutMs: 5000 });
  t.teardown(() => store.close());
  const dir = t.testdir({});
  const writer = new SpooledWriter({
    store,
    dir,
    batchSize: 100,
    flushIntervalMs: 20,
    retryMinMs: 50,
    retryMaxMs: 500,
  });
  t.teardown(() => writer.close());

  const N = 6000;
  // An hour before influxd's own clock, which faketime does not move: its raw retention keeps them.
  const t0 = (await influxd.clock()) - 3_600_000;
  let killed: Promise<void> | undefined;
  let restarted: Promise<void> | undefined;
  for (let i = 0; i < N; i++) {
    writer.add(reading(i, t0));
    if (i === 1500) {
      await until('first batches written before the crash', () => writer.counters.written > 0);
      killed = influxd.kill(); // readings keep coming while it dies
    }
    if (i === 3500) {
      await killed;
      await until('the writer noticed and spools', () => writer.counters.spooled > 0);
      restarted = influxd.restart(); // readings keep coming while it starts
    }
    if (i % 50 === 0) await sleep(2);
  }
  await restarted;
  await writer.drained();
  t.ok(writer.counters.spooled > 0, `spooled ${writer.counters.spooled} readings during the outage`);
  t.ok(writer.counters.replayed > 0, `replayed ${writer.counters.replayed}`);
  t.equal(writer.pending(), 0);

  // Read back through InfluxDB's own HTTP API: every (device, ts) once, with its value.
  const res = await fetch(
    `${influxd.url}/query?db=spool&epoch=ms&q=${encodeURIComponent('SELECT "value" FROM "energy" GROUP BY "device"')}`,
  );
  const body = (await res.json()) as {
    results: { series?: { tags: { device: string }; values: [number, number][] }[] }[];
  };
  const stored = new Map<string, number>();
  let rows = 0;
  for (const s of body.results[0]?.series ?? []) {
    for (const [ts, value] of s.values) {
      stored.set(`${s.tags.device}@${ts}`, value);
      rows++;
    }
  }
  const sent = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const r = reading(i, t0);
    sent.set(`${r.device}@${r.ts}`, r.value as number);
  }
  t.equal(rows, N, 'as many points as readings sent');
  t.same(stored, sent, 'the same (device, ts) -> value set as sent');
  t.same(await storedCounts(store, N, t0), expectedCounts(N), 'and the store agrees');
});

t.test(
  'closing while the store hangs: after a short grace what the writer held goes to disk, replayed later',
  async (t) => {
    // An InfluxDB that accepts connections and never answers, behind the real InfluxDB client.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const hanging = new InfluxV1Store({
      url: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
      database: 'spool',
      requestTimeoutMs: 600_000,
    });
    const dir = t.testdir({});
    const spoolDir = path.join(dir, 'spool');
    const writer = new SpooledWriter({
      store: hanging,
      dir: spoolDir,
      batchSize: 10,
      flushIntervalMs: 10,
      writeTimeoutMs: 600_000,
      closeTimeoutMs: 100,
    });
    const N = 35;
    for (let i = 0; i < N; i++) writer.add(reading(i));
    await until('a write under way', () => sockets.size > 0);
    t.equal(writer.counters.spooled, 0, 'nothing on disk while the store seems to be busy');
    await writer.close();
    t.equal(writer.counters.spooled, N, 'closing put every reading it held on disk');
    t.equal(writer.counters.written, 0);

    const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
    t.teardown(() => store.close());
    const next = new SpooledWriter({ store, dir: spoolDir, retryMinMs: 20 });
    t.teardown(() => next.close());
    await next.drained();
    t.same(await storedCounts(store, N), expectedCounts(N), 'the next writer stores all of them');
  },
);
