import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openStore, StoreNotSupportedError } from './open.ts';

t.test('embedded SQLite in DATA_DIR by default', async (t) => {
  const dir = path.join(t.testdir({}), 'nested', 'data');
  const store = openStore({ dataDir: dir, influx: undefined });
  t.teardown(() => store.close());
  t.equal(store.kind, 'sqlite');
  t.ok(fs.existsSync(path.join(dir, 'readings.db')));
  t.same(await store.latest(), []);
});

t.test('InfluxDB over the v1 API; v2 is refused clearly', async (t) => {
  const dataDir = t.testdir({});
  const v1 = openStore({ dataDir, influx: { api: 'v1', url: 'http://127.0.0.1:1', database: 'x' } });
  t.equal(v1.kind, 'influxdb-v1');
  // It rolls hours up as SQLite does; there is no server here to do it with.
  await t.rejects(v1.maintain(), 'maintenance needs the server');
  t.throws(
    () =>
      openStore({
        dataDir,
        influx: { api: 'v2', url: 'http://127.0.0.1:1', org: 'o', bucket: 'b', token: 't' },
      }),
    StoreNotSupportedError,
  );
});
