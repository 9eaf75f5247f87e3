import path from 'node:path';
import t from 'tap';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { readSettings, SettingsError } from './settings.ts';

t.test('the readings are kept in DATA_DIR unless INFLUX_URL names InfluxDB', async (t) => {
  const plain = readSettings({ DATA_DIR: 'some/data' }, false);
  t.equal(plain.dataDir, path.resolve('some/data'));
  t.equal(plain.influx, undefined);
  t.equal(plain.siteFile, DEMO_SITE_FILE, 'the demo building by default');
  t.same(readSettings({ INFLUX_URL: 'http://127.0.0.1:1', INFLUX_DATABASE: 'x' }, false).influx, {
    api: 'v1',
    url: 'http://127.0.0.1:1',
    database: 'x',
  });
  t.same(
    readSettings(
      {
        INFLUX_URL: 'http://127.0.0.1:1',
        INFLUX_API: 'v2',
        INFLUX_ORG: 'o',
        INFLUX_BUCKET: 'b',
        INFLUX_TOKEN: 't',
      },
      false,
    ).influx,
    { api: 'v2', url: 'http://127.0.0.1:1', org: 'o', bucket: 'b', token: 't' },
  );
  t.throws(
    () => readSettings({ INFLUX_URL: 'http://127.0.0.1:1', INFLUX_API: 'v2' }, false),
    new SettingsError('INFLUX_ORG is required when INFLUX_API=v2'),
  );
  t.throws(() => readSettings({ INFLUX_URL: 'http://127.0.0.1:1', INFLUX_API: 'v3' }, false), SettingsError);
});
