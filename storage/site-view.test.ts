import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { siteReadings } from './site-view.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { StoredReading } from './store.ts';

t.test("one site's view of a network's store: the same device id in two houses never adds up", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-site-view-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const at = Date.UTC(2027, 0, 4, 10, 0);
  const reading = (site: string, value: number, ts: number): StoredReading => ({
    site,
    device: 'eg-main-meter',
    channel: '0',
    quantity: 'power',
    value,
    unit: 'W',
    ts,
    space: 'eg-technik',
  });
  await store.write([
    reading('nord', 100, at),
    reading('nord', 300, at + 60_000),
    reading('sued', 5000, at),
    reading('sued', 7000, at + 60_000),
  ]);
  const nord = siteReadings(store, 'nord');
  const latest = await nord.latest({ device: 'eg-main-meter' });
  t.same(
    latest.map((r) => [r.site, r.value]),
    [['nord', 300]],
  );
  const series = await nord.query({
    quantity: 'power',
    device: 'eg-main-meter',
    from: at,
    to: at + 3_600_000,
    aggregate: 'mean',
  });
  t.equal(series.length, 1, "Nord's meter only");
  t.equal(series[0]?.points[0]?.value, 200, 'its own mean, untouched by Süd');
  const all = await store.query({ quantity: 'power', from: at, to: at + 3_600_000, aggregate: 'mean' });
  t.same(all.map((s) => s.site).sort(), ['nord', 'sued'], 'the store itself keeps both');
  await t.rejects(nord.write([reading('nord', 1, at)]), /never written/);
});
