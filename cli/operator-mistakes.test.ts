import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { closedPort } from '../test-support/ports.ts';
import { serviceDataDir } from '../test-support/service-data-dir.ts';
import { runWesprint, startWesprint } from '../test-support/wesprint-process.ts';

/** What an operator sees: a mistake said in one line, and a log a person can read on a terminal. */

t.test('operator mistakes are one line each, never a stack', async (t) => {
  const { env, dir } = serviceDataDir(t);
  const aFile = path.join(dir, 'not-a-directory');
  fs.writeFileSync(aFile, '');
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['a log level', ['broker'], { LOG_LEVEL: 'loud' }, /LOG_LEVEL=loud must be one of/],
    ['a log format', ['broker'], { LOG_FORMAT: 'fancy' }, /LOG_FORMAT=fancy must be pretty or json/],
    ['a missing site file', ['broker'], { SITE_FILE: '/nonexistent/site.yaml' }, /cannot read site file/],
    ['DATA_DIR a file', ['broker'], { DATA_DIR: aFile }, /EEXIST/],
    ['a broker URL', ['gateway'], { MQTT_URL: 'broker:1883' }, /MQTT_URL=broker:1883 must start with mqtt/],
    ['an InfluxDB URL', ['gateway'], { INFLUX_URL: 'influxdb' }, /INFLUX_URL=influxdb is not a URL/],
    ['an unknown option', ['start', '--no-simulaton'], {}, /Unknown option '--no-simulaton'/],
    ['an address not here', ['broker'], { MQTT_HOST: '203.0.113.7' }, /EADDRNOTAVAIL/],
    ['an administrator', ['api'], { ADMIN_EMAIL: 'admin' }, /ADMIN_EMAIL: "admin" is not an e-mail/],
  ];
  // Three at a time: each is a Node process starting up.
  const runs: Awaited<ReturnType<typeof runWesprint>>[] = [];
  for (let i = 0; i < cases.length; i += 3) {
    const batch = cases.slice(i, i + 3);
    runs.push(
      ...(await Promise.all(
        batch.map(([, args, overrides]) => runWesprint(args, { ...env, MQTT_PORT: '0', ...overrides })),
      )),
    );
  }
  for (const [i, [what, , , message]] of cases.entries()) {
    const r = runs[i] as Awaited<ReturnType<typeof runWesprint>>;
    t.equal(r.code, what === 'an unknown option' ? 2 : 1, `${what}: exit code`);
    const errors = r.stderr.trim().split('\n');
    t.equal(errors.length, 1, `${what}: one line: ${r.stderr}`);
    t.match(errors[0], message, what);
    t.match(errors[0], /^wesprint: /, `${what}: said by wesprint`);
  }
});

t.test('on a terminal, or with LOG_FORMAT=pretty, log lines are for people; JSON otherwise', async (t) => {
  const { env } = serviceDataDir(t);
  const nobody = `mqtt://127.0.0.1:${await closedPort()}`;
  const pretty = startWesprint(t, ['gateway'], {
    ...env,
    MQTT_URL: nobody,
    LOG_FORMAT: 'pretty',
  });
  const line = await pretty.waitFor(/^.*broker not reachable yet.*$/m);
  t.match(
    line[0],
    /^\S*\[?\d\d:\d\d:\d\d\]?\S* \S*WARN\S*.* gateway: broker not reachable yet \(ECONNREFUSED\)/,
  );
  t.notMatch(pretty.output(), /^\{/m, 'no JSON lines');
  t.equal((await pretty.stop('SIGINT')).code, 0, 'Ctrl+C stops it');

  const json = startWesprint(t, ['gateway'], { ...env, MQTT_URL: nobody, LOG_FORMAT: '' });
  const jsonLine = await json.waitFor(/^\{.*broker not reachable yet.*$/m);
  t.match(JSON.parse(jsonLine[0]), { level: 40, part: 'gateway', msg: /broker not reachable yet/ });
  await json.stop('SIGTERM');
});
