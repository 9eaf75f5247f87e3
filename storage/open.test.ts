import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readSettings } from '../cli/settings.ts';
import { openStore, StoreNotSupportedError } from './open.ts';

t.test('embedded SQLite in DATA_DIR by default', async (t) => {
  const dir = path.join(t.testdir({}), 'nested', 'data');
  const store = openStore(readSettings({ DATA_DIR: dir }));
  t.teardown(() => store.close());
  t.equal(store.kind, 'sqlite');
  t.ok(fs.existsSync(path.join(dir, 'readings.db')));
  t.same(await store.latest(), []);
});

t.test('INFLUX_URL selects InfluxDB over the v1 API; v2 is refused clearly', async (t) => {
  const v1 = openStore(readSettings({ INFLUX_URL: 'http://127.0.0.1:1', INFLUX_DATABASE: 'x' }));
  t.equal(v1.kind, 'influxdb-v1');
  // It rolls hours up as SQLite does; there is no server here to do it with.
  await t.rejects(v1.maintain(), 'maintenance needs the server');
  t.throws(
    () =>
      openStore(
        readSettings({
          INFLUX_URL: 'http://127.0.0.1:1',
          INFLUX_API: 'v2',
          INFLUX_ORG: 'o',
          INFLUX_BUCKET: 'b',
          INFLUX_TOKEN: 't',
        }),
      ),
    StoreNotSupportedError,
  );
});
