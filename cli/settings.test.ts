import path from 'node:path';
import t from 'tap';
import { DEFAULT_ALERT_SETTINGS } from '../alerts/alert-rules.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { readSettings, SettingsError } from './settings.ts';

const MIN = 60_000;

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

t.test('the API part: defaults', async (t) => {
  const s = readSettings({}, false);
  t.same(s.brokerDenySubscribe, []);
  t.equal(s.adminEmail, undefined);
  t.equal(s.trustProxy, undefined);
  t.same(s.trustedOrigins, []);
  t.equal(s.lobbyPublic, false);
  t.equal(s.dashboardDir, undefined);
  t.equal(s.unlockGraceMs, 10 * MIN);
  t.equal(s.auditRetentionDays, 365);
  t.equal(s.checkInGraceMs, 15 * MIN);
  t.same(s.alerts, DEFAULT_ALERT_SETTINGS);
});

t.test('lists, flags and addresses', async (t) => {
  const s = readSettings(
    {
      BROKER_DENY_SUBSCRIBE: ' test/nosubscribe, ,a/#',
      ADMIN_EMAIL: 'chair@coop.example',
      TRUST_PROXY: 'true',
      TRUSTED_ORIGINS: ' https://A.example/ ,,http://b.example:8080',
      LOBBY_PUBLIC: 'true',
      DASHBOARD_DIR: '/srv/dashboard',
    },
    false,
  );
  t.same(s.brokerDenySubscribe, ['test/nosubscribe', 'a/#']);
  t.equal(s.adminEmail, 'chair@coop.example');
  t.equal(s.trustProxy, true);
  t.same(s.trustedOrigins, ['https://a.example', 'http://b.example:8080']);
  t.equal(s.lobbyPublic, true);
  t.equal(s.dashboardDir, '/srv/dashboard');
  t.equal(readSettings({ TRUST_PROXY: '10.0.0.1' }, false).trustProxy, '10.0.0.1', 'the proxy address');
  t.equal(readSettings({ LOBBY_PUBLIC: 'yes' }, false).lobbyPublic, false, 'only true opens the lobby');
});

t.test('UNLOCK_GRACE_MIN', async (t) => {
  t.equal(readSettings({ UNLOCK_GRACE_MIN: '0' }, false).unlockGraceMs, 0);
  t.equal(readSettings({ UNLOCK_GRACE_MIN: '30' }, false).unlockGraceMs, 30 * MIN);
  for (const bad of ['-1', 'soon', '121'])
    t.throws(
      () => readSettings({ UNLOCK_GRACE_MIN: bad }, false),
      new SettingsError(`UNLOCK_GRACE_MIN=${bad} must be a number of minutes from 0 to 120`),
      bad,
    );
});

t.test('AUDIT_RETENTION_DAYS', async (t) => {
  t.equal(readSettings({ AUDIT_RETENTION_DAYS: '30' }, false).auditRetentionDays, 30);
  t.throws(() => readSettings({ AUDIT_RETENTION_DAYS: '0' }, false), /at least 1/);
  t.throws(() => readSettings({ AUDIT_RETENTION_DAYS: 'forever' }, false), /whole number/);
});

t.test('CHECKIN_GRACE_MIN', async (t) => {
  t.equal(readSettings({ CHECKIN_GRACE_MIN: '30' }, false).checkInGraceMs, 30 * MIN);
  for (const bad of ['0', '-5', '1.5', 'soon', '100000'])
    t.throws(() => readSettings({ CHECKIN_GRACE_MIN: bad }, false), /CHECKIN_GRACE_MIN/, bad);
});

t.test('BACKFILL_DAYS', async (t) => {
  t.equal(readSettings({}, false).backfillDays, 430, 'default: 13 whole months and the days of this one');
  t.equal(readSettings({ BACKFILL_DAYS: ' ' }, false).backfillDays, 430);
  t.equal(readSettings({ BACKFILL_DAYS: '0' }, false).backfillDays, 0, 'none');
  t.equal(readSettings({ BACKFILL_DAYS: '1096' }, false).backfillDays, 1096);
  for (const bad of ['-1', '1.5', 'viel', '1097'])
    t.throws(
      () => readSettings({ BACKFILL_DAYS: bad }, false),
      new SettingsError(`BACKFILL_DAYS=${bad} must be whole days from 0 (none) to 1096`),
    );
});

t.test('ALERT_*', async (t) => {
  const s = readSettings(
    {
      ALERT_CO2_PPM: '1400',
      ALERT_CO2_MINUTES: '0.05',
      ALERT_UNLOCKED_MINUTES: '0',
      ALERT_NIGHT_LOAD_PERCENT: '40',
      ALERT_NIGHT_LOAD_MIN_W: '1000',
    },
    false,
  ).alerts;
  t.equal(s.co2Ppm, 1400);
  t.equal(s.co2Ms, 3000, '0.05 min = 3 s');
  t.equal(s.unlockedMs, 0);
  t.equal(s.nightShare, 0.4);
  t.equal(s.nightMinW, 1000);
  t.throws(() => readSettings({ ALERT_CO2_MINUTES: '-1' }, false), SettingsError);
  t.throws(
    () => readSettings({ ALERT_CO2_PPM: 'viel' }, false),
    new SettingsError('ALERT_CO2_PPM must be a number between 400 and 10000, not "viel"'),
  );
});

t.test('REDIS_URL makes the broker a node of a cluster; REDIS_KEY_PREFIX names its keys', async (t) => {
  const one = readSettings({}, false);
  t.equal(one.redisUrl, undefined, 'one node by default');
  t.equal(one.redisKeyPrefix, undefined, 'the prefix defaults to the site id (cli/parts.ts)');
  const node = readSettings({ REDIS_URL: 'redis://redis:6379/2', REDIS_KEY_PREFIX: 'kaufhaus:' }, false);
  t.same([node.redisUrl, node.redisKeyPrefix], ['redis://redis:6379/2', 'kaufhaus:']);
  t.equal(readSettings({ REDIS_URL: 'rediss://u:p@redis:6380' }, false).redisUrl, 'rediss://u:p@redis:6380');
  t.throws(() => readSettings({ REDIS_URL: 'http://redis:6379' }, false), SettingsError);
  t.throws(() => readSettings({ REDIS_URL: 'redis' }, false), SettingsError);
  for (const bad of ['a*', 'a/b', 'a+', 'x[1]', 'a b'])
    t.throws(() => readSettings({ REDIS_KEY_PREFIX: bad }, false), SettingsError, `${bad} refused`);
});

t.test('MQTT_SHARE_GROUP: the share group of `wesprint gateway` workers', async (t) => {
  t.equal(readSettings({}, false).mqttShareGroup, undefined, 'unset: one worker');
  t.equal(readSettings({ MQTT_SHARE_GROUP: ' ' }, false).mqttShareGroup, undefined);
  t.equal(readSettings({ MQTT_SHARE_GROUP: 'gateways' }, false).mqttShareGroup, 'gateways');
  for (const bad of ['a/b', 'a+', '#', 'two words'])
    t.throws(() => readSettings({ MQTT_SHARE_GROUP: bad }, false), SettingsError, bad);
});

t.test('SITES_DIR: a network of site files instead of the one SITE_FILE', async (t) => {
  t.equal(readSettings({}, false).sitesDir, undefined, 'one site by default');
  const network = readSettings({ SITES_DIR: 'houses' }, false);
  t.equal(network.sitesDir, path.resolve('houses'));
  t.equal(network.siteFileExplicit, false);
  t.throws(
    () => readSettings({ SITES_DIR: 'houses', SITE_FILE: 'one.yaml' }, false),
    SettingsError,
    'both at once is a mistake, said at start',
  );
});

t.test('NODE_RED: the embedded Node-RED of wesprint start, on unless turned off', async (t) => {
  t.same(readSettings({}).nodeRed, { enabled: true, host: '127.0.0.1', port: 1880, portExplicit: false });
  t.equal(readSettings({ NODE_RED: 'false' }).nodeRed.enabled, false);
  t.same(readSettings({ HTTP_HOST: '0.0.0.0', NODE_RED_PORT: '1999' }).nodeRed, {
    enabled: true,
    host: '0.0.0.0',
    port: 1999,
    portExplicit: true,
  });
  t.equal(readSettings({ HTTP_HOST: '0.0.0.0', NODE_RED_HOST: '127.0.0.1' }).nodeRed.host, '127.0.0.1');
  t.throws(() => readSettings({ NODE_RED: 'off' }), /NODE_RED=off must be true or false/);
  t.throws(() => readSettings({ NODE_RED_PORT: '70000' }), /NODE_RED_PORT=70000 is not a port number/);
});
