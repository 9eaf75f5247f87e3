import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import type { JournalEntry, MessageJournal } from '../journal/journal.ts';
import { openJournal } from '../journal/segment-journal.ts';
import { InfluxV1Store } from '../storage/influx-v1-store.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { StoredReading, TimeSeriesStore } from '../storage/store.ts';
import { JournalStoreWriter, type JournalStoreWriterOptions } from './journal-reader.ts';

/**
 * The store path on its own, on a real journal and a real SQLite file: the readings of the journal's
 * entries reach the store once each, in order, whatever the store does meanwhile. A message here is a power
 * reading of device `d<n>` whose value names the message; its time is the journal's arrival time, as the
 * gateway's decoding gives it.
 */

const decode = (entry: JournalEntry): StoredReading[] => [
  {
    site: 's',
    space: 'sp',
    device: entry.topic.split('/')[1] as string,
    channel: '0',
    quantity: 'power',
    unit: 'W',
    value: Number(entry.payload.toString()),
    ts: entry.receivedAt,
  },
];

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-journal-reader-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A SQLite store that can be taken away (its file closed) and brought back (opened again). */
class AwayStore implements Pick<TimeSeriesStore, 'write'> {
  #store: SqliteStore;
  constructor(readonly file: string) {
    this.#store = new SqliteStore({ file });
  }
  write(readings: StoredReading[]): Promise<void> {
    return this.#store.write(readings);
  }
  away(): Promise<void> {
    return this.#store.close();
  }
  back(): void {
    this.#store = new SqliteStore({ file: this.file });
  }
  close(): Promise<void> {
    return this.#store.close();
  }
}

/** Every row of the file, counted per (device, quantity, ts): [device, value, count]. */
function rows(file: string): { device: string; ts: number; value: number; n: number }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT device, ts, MAX(num) AS value, COUNT(*) AS n FROM reading
         GROUP BY site, device, channel, quantity, ts ORDER BY ts, device`,
      )
      .all() as { device: string; ts: number; value: number; n: number }[];
  } finally {
    db.close();
  }
}

/** The gateway's live path, reduced to what the store path sees of it: every entry handed over in order. */
function follow(journal: MessageJournal, writer: JournalStoreWriter, from: number) {
  let seq = from;
  let stop = false;
  const done = (async () => {
    while (!stop) {
      await journal.waitFor(seq);
      if (stop) break;
      for (const entry of await journal.read(seq, 1000)) {
        writer.handOff(entry.seq, decode(entry));
        seq = entry.seq;
      }
    }
  })();
  return {
    seq: () => seq,
    async stop() {
      stop = true;
    },
    done,
  };
}

async function until(what: string, probe: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const message = (n: number, at: number) => ({
  topic: `meter/d${n % 7}`,
  payload: Buffer.from(String(n)),
  // Several messages in one millisecond of different devices; one device's never share a millisecond.
  receivedAt: at + Math.floor(n / 7),
  retainedReplay: false,
});

const fast: Partial<JournalStoreWriterOptions> = { retryMinMs: 20, retryMaxMs: 200, random: () => 0.5 };

/**
 * The store path on a fresh journal: the writer started with `options` (its log kept in `logged`), the live
 * path following it, both stopped when the test ends, the store closed if it closes; `publish(count)` appends
 * the next `count` messages one after the other, each at `at` plus its device's own millisecond.
 */
async function storePath<S extends Pick<TimeSeriesStore, 'write'> & { close?: () => Promise<void> }>(
  t: Test,
  store: (dir: string) => S,
  options: Partial<JournalStoreWriterOptions> = {},
) {
  const dir = tempDir(t);
  const journal = await openJournal(path.join(dir, 'journal'));
  t.teardown(() => journal.close());
  const opened = store(dir);
  t.teardown(() => opened.close?.());
  const logged: string[] = [];
  const writer = new JournalStoreWriter({
    ...fast,
    journal,
    store: opened,
    decode,
    logger: { info: (_o, m) => logged.push(m), warn: (_o, m) => logged.push(m) },
    ...options,
  });
  writer.start(journal.committed());
  const live = follow(journal, writer, journal.committed());
  t.teardown(async () => {
    await writer.stop();
    await live.stop();
  });
  const at = Date.now();
  let n = 0;
  const publish = async (count: number) => {
    for (const end = n + count; n < end; n++) await journal.append(message(n, at));
  };
  return { journal, store: opened, writer, live, logged, at, publish };
}

t.test(
  'the store away while messages keep coming: nothing lost, nothing twice, memory bounded, the cursor only past what the store took',
  async (t) => {
    const { journal, store, writer, live, logged, publish } = await storePath(
      t,
      (dir) => new AwayStore(path.join(dir, 'readings.db')),
      { batchSize: 50, maxHeldReadings: 200 },
    );
    const total = 3000;

    await publish(500);
    await until('the first 500 stored', () => writer.stats().cursor === 500);
    t.equal(writer.isBehind(), false);

    await store.away();
    // Appends keep coming while the store is away; some come before the writer notices.
    const cursorAtOutage = writer.stats().cursor;
    const appending = publish(2000);
    await until('the writer to notice', () => writer.isBehind());
    await appending;
    await until('the live path to have handed everything over', () => live.seq() === 2500);
    t.equal(writer.stats().cursor, cursorAtOutage, 'the cursor stays where the store stopped acknowledging');
    t.ok(writer.stats().lag >= 2000, 'the lag says what waits in the journal');
    t.ok(writer.stats().held <= 200, `held ${writer.stats().held} readings while the store is away`);

    store.back();
    await publish(500);
    await until('everything stored', () => writer.stats().cursor === total, 120_000);
    await until('caught up', () => !writer.isBehind());
    t.equal(journal.cursor('store'), total, "the journal's cursor is the writer's");
    t.equal(writer.stats().lag, 0);
    t.equal(writer.stats().stored, total, 'every reading acknowledged once');
    t.ok(writer.stats().failures >= 1);
    t.ok(
      writer.stats().peakHeld <= 200 + 1,
      `at most the bound in memory (peak ${writer.stats().peakHeld} readings of ${total})`,
    );
    const stored = rows(store.file);
    t.equal(stored.length, total, 'one row per message');
    t.same(
      stored.filter((r) => r.n !== 1),
      [],
      'no (device, quantity, ts) twice',
    );
    t.same(
      stored.map((r) => r.value).sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i),
      'every message stored, each as itself',
    );
    t.match(logged, ['the time-series store does not answer; readings wait in the journal']);
    t.ok(logged.includes('the store has caught up with the journal'));
  },
);

t.test('a store slower than the devices: memory stays bounded, the journal holds the rest', async (t) => {
  const dir = tempDir(t);
  const journal = await openJournal(path.join(dir, 'journal'));
  t.teardown(() => journal.close());
  const sqlite = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => sqlite.close());
  // Every write waits for the test to let it through: the store answers, only late.
  const gates: (() => void)[] = [];
  const slow = {
    write: async (readings: StoredReading[]) => {
      await new Promise<void>((resolve) => gates.push(resolve));
      await sqlite.write(readings);
    },
  };
  const writer = new JournalStoreWriter({
    ...fast,
    journal,
    store: slow,
    decode,
    batchSize: 10,
    maxHeldReadings: 40,
  });
  writer.start(0);
  const live = follow(journal, writer, 0);
  t.teardown(async () => {
    for (const g of gates.splice(0)) g();
    await writer.stop();
    await live.stop();
  });
  const at = Date.now();
  for (let n = 0; n < 500; n++) await journal.append(message(n, at));
  await until('handed over', () => live.seq() === 500);
  t.ok(writer.stats().held <= 41, `held ${writer.stats().held} while the store is slow`);
  while (writer.stats().cursor < 500) {
    for (const g of gates.splice(0)) g();
    await new Promise((r) => setTimeout(r, 5));
  }
  t.ok(writer.stats().peakHeld <= 41, `peak ${writer.stats().peakHeld}`);
  t.equal(writer.isBehind(), false, 'slow is not down: the heartbeat does not say spooling');
  const stored = rows(path.join(dir, 'readings.db'));
  t.equal(stored.length, 500);
  t.same(
    stored.filter((r) => r.n !== 1),
    [],
  );
});

t.test(
  'while the store is down each retry is a probe of a few readings, whole batches again once it answers',
  async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'readings.db');
    const sqlite = new SqliteStore({ file });
    t.teardown(() => sqlite.close());
    let down = false;
    const writes: { readings: number; failed: boolean }[] = [];
    const store = {
      write: async (readings: StoredReading[]) => {
        writes.push({ readings: readings.length, failed: down });
        if (down) throw new Error('SQLITE_BUSY: database is locked');
        await sqlite.write(readings);
      },
    };
    const { writer, live, publish } = await storePath(t, () => store, {
      batchSize: 100,
      probeReadings: 5,
    });
    await publish(200);
    await until('stored', () => writer.stats().cursor === 200);
    down = true;
    await publish(1000);
    await until('handed over', () => live.seq() === 1200);
    await until('four failed writes', () => writes.filter((w) => w.failed).length >= 4);
    const failed = writes.filter((w) => w.failed);
    t.ok(failed[0] && failed[0].readings <= 100, `the write that failed first: ${failed[0]?.readings}`);
    t.same(
      failed.slice(1).filter((w) => w.readings > 5),
      [],
      `every retry while the store is down carries at most 5 readings (${failed.map((w) => w.readings)})`,
    );
    t.ok(writer.stats().held <= 5, `held ${writer.stats().held} while the store is down`);
    const before = writes.length;
    down = false;
    await until('everything stored', () => writer.stats().cursor === 1200);
    const after = writes.slice(before);
    t.ok((after[0]?.readings ?? 0) <= 5, 'the retry that succeeds is a probe');
    t.ok(
      after.slice(1).some((w) => w.readings === 100),
      `then whole batches (${after.map((w) => w.readings)})`,
    );
    const stored = rows(file);
    t.equal(stored.length, 1200, 'every message stored');
    t.same(
      stored.filter((r) => r.n !== 1),
      [],
      'none twice',
    );
  },
);

t.test(
  'stop while the store hangs: stop comes, the cursor stays, the next start stores the same rows once',
  async (t) => {
    const dir = tempDir(t);
    // An InfluxDB that takes connections and never answers.
    const sockets = new Set<net.Socket>();
    const hanging = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      hanging.close();
    });
    const port = (hanging.address() as net.AddressInfo).port;
    const influx = new InfluxV1Store({
      url: `http://127.0.0.1:${port}`,
      database: 'nowhere',
      manageDatabase: false,
      requestTimeoutMs: 600_000,
    });

    let journal = await openJournal(path.join(dir, 'journal'));
    const at = Date.now();
    for (let n = 0; n < 300; n++) await journal.append(message(n, at));
    const first = new JournalStoreWriter({ ...fast, journal, store: influx, decode, stopGraceMs: 200 });
    first.start(journal.committed());
    await until('a write under way', () => sockets.size > 0);
    await first.stop();
    t.equal(journal.cursor('store'), 0, 'nothing acknowledged, nothing passed');
    await journal.close();
    await influx.close();

    // Started again with the store back: from the cursor, the very same readings.
    journal = await openJournal(path.join(dir, 'journal'));
    t.teardown(() => journal.close());
    const file = path.join(dir, 'readings.db');
    const sqlite = new SqliteStore({ file });
    t.teardown(() => sqlite.close());
    // Part of it was stored before (a batch acknowledged, its cursor not yet written): kept once all the same.
    await sqlite.write(decode((await journal.read(0, 100))[0] as JournalEntry));
    const second = new JournalStoreWriter({ ...fast, journal, store: sqlite, decode });
    second.start(journal.committed());
    t.teardown(() => second.stop());
    await until('stored', () => second.stats().cursor === 300);
    const stored = rows(file);
    t.equal(stored.length, 300);
    t.same(
      stored.filter((r) => r.n !== 1),
      [],
    );
    t.same(
      stored.map((r) => r.ts),
      Array.from({ length: 300 }, (_, n) => at + Math.floor(n / 7)).sort((a, b) => a - b),
      "each reading at its message's arrival time",
    );
  },
);

t.test(
  'behind (the heartbeat\'s "spooling") as long as the store is away, even when the journal holds less than a batch',
  async (t) => {
    const { store, writer, logged, publish } = await storePath(
      t,
      (dir) => new AwayStore(path.join(dir, 'readings.db')),
      { batchSize: 50, maxHeldReadings: 200 },
    );
    await publish(10);
    await until('the first 10 stored', () => writer.stats().cursor === 10);

    await store.away();
    // Fewer than a batch: each retry reads all of them from the journal at once, and goes live.
    await publish(20);
    await until('the writer to notice', () => writer.isBehind());
    let saidNotBehind = 0;
    const watch = setInterval(() => {
      if (!writer.isBehind()) saidNotBehind++;
    }, 1);
    await until('several failed retries', () => writer.stats().failures >= 4, 60_000);
    clearInterval(watch);
    t.equal(writer.stats().cursor, 10, 'nothing stored while away');
    t.equal(saidNotBehind, 0, 'never "not behind" while the store is away');
    t.notOk(
      logged.includes('the store has caught up with the journal'),
      'no "caught up" while the store is away',
    );

    store.back();
    await until('everything stored', () => writer.stats().cursor === 30);
    await until('caught up', () => !writer.isBehind());
    t.equal(logged.filter((m) => m === 'the store has caught up with the journal').length, 1);
    t.same(
      rows(store.file)
        .map((r) => r.value)
        .sort((a, b) => a - b),
      Array.from({ length: 30 }, (_, i) => i),
    );
  },
);

t.test(
  'live, writes linger for a larger batch: a whole batch goes at once, a stop writes what lingered and moves the cursor past it',
  async (t) => {
    const writes: number[] = [];
    const { journal, writer, live, publish } = await storePath(
      t,
      () => ({
        async write(readings: StoredReading[]) {
          writes.push(readings.length);
        },
      }),
      // Never quiet long enough here: the linger runs its course.
      { batchSize: 10, lingerMs: 60_000, quietMs: 60_000 },
    );
    // The first write goes at once (nothing was written for lingerMs); the next lingers for a whole batch.
    await publish(1);
    await until('the first write', () => writes.length === 1);
    await publish(10);
    await until('a whole batch', () => writes.length === 2);
    t.same(writes, [1, 10], 'a whole batch does not wait for the linger');
    await publish(3);
    await until('the hand-offs', () => live.seq() === 14);
    await new Promise((r) => setTimeout(r, 100));
    t.same(writes, [1, 10], 'less than a batch lingers');
    await writer.stop();
    await live.stop();
    t.same(writes, [1, 10, 3], 'stop writes what lingered');
    t.equal(journal.cursor('store'), 14, 'and moves the cursor past it');
  },
);

t.test(
  'live, a linger ends once the devices went quiet: what waits is written without waiting out the linger',
  async (t) => {
    const writes: number[] = [];
    const { journal, writer, live, at } = await storePath(
      t,
      () => ({
        async write(readings: StoredReading[]) {
          writes.push(readings.length);
        },
      }),
      { batchSize: 10, lingerMs: 60_000, quietMs: 20 },
    );
    await journal.append(message(0, at));
    await until('the first write', () => writes.length === 1);
    // One group commit, handed over together.
    await Promise.all([1, 2, 3].map((n) => journal.append(message(n, at))));
    // Only the quiet after the last hand-off ends this linger (60 s, and no whole batch of 10 waits).
    await until('the quiet', () => writes.length === 2);
    t.same(writes, [1, 3], 'less than a batch, written once nothing more came');
    await until('the cursor', () => journal.cursor('store') === 4);
    await writer.stop();
    await live.stop();
    t.same(writes, [1, 3], 'nothing left for the stop');
  },
);

t.test("without a batchSize, a batch is cut at the store's batchReadings", async (t) => {
  const writes: number[] = [];
  const { writer, live, publish } = await storePath(
    t,
    () => ({
      batchReadings: 4,
      async write(readings: StoredReading[]) {
        writes.push(readings.length);
      },
    }),
    // A linger no test waits out: only a whole batch of the store's size goes before it ends.
    { lingerMs: 600_000, quietMs: 600_000 },
  );
  await publish(1);
  await until('the first write', () => writes.length === 1);
  await publish(4);
  await until("a batch of the store's size", () => writes.length === 2, 20_000);
  t.same(writes, [1, 4], 'four readings wait: they go without the linger');
  await writer.stop();
  await live.stop();
});
