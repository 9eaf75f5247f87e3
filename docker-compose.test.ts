import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import YAML from 'yaml';
import { requireComponent } from './test-support/component.ts';

/** The production shape must stay a valid Compose file with a health check on every long-running service. */
const FILE = path.join(import.meta.dirname, 'docker-compose.yml');

/** docker-compose (Debian's, no daemon needed for `config`) is here, or the test says so and skips. */
function dockerCompose(t: Test): boolean {
  let available = true;
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' });
  } catch {
    available = false;
  }
  return requireComponent(
    t,
    available,
    'docker-compose',
    'apt-get install --no-install-recommends docker-compose',
  );
}

t.test('docker-compose.yml is valid for docker-compose and every service has a health check', async (t) => {
  if (!dockerCompose(t)) return;
  const resolved = YAML.parse(
    execFileSync('docker-compose', ['-f', FILE, 'config'], { encoding: 'utf8' }),
  ) as {
    services: Record<string, { healthcheck?: unknown; command?: string[]; build?: { context?: string } }>;
  };
  for (const name of ['broker', 'api', 'influxdb', 'nodered']) {
    t.ok(resolved.services[name], `service ${name} exists`);
    t.ok(resolved.services[name]?.healthcheck, `service ${name} has a health check`);
  }
  // The broker and the gateway run as one process (`wesprint edge`): PUBACK once the message is on disk.
  t.same(resolved.services.broker?.command, ['edge']);
  t.notOk(resolved.services.gateway, 'no gateway of its own beside the edge');
  // Node-RED's image is built with the WeSprint palette (issue 12), from the palette's own folder.
  const palette = path.join(import.meta.dirname, 'node-red');
  t.equal(resolved.services.nodered?.build?.context, palette, 'Node-RED is built from the palette folder');
  t.match(
    fs.readFileSync(path.join(palette, 'Dockerfile'), 'utf8'),
    /^FROM nodered\/node-red:4[.\d]*\s*$/m,
    'on Node-RED 4 (5.x needs Node 22)',
  );
});

t.test('the compose files name no password', async (t) => {
  t.notMatch(fs.readFileSync(FILE, 'utf8'), /PASSWORD\s*[:=]\s*\S+/i);
  // The network's database password is the operator's: a required variable with no default.
  const network = fs.readFileSync(NETWORK_FILE, 'utf8');
  for (const [, value] of network.matchAll(/(?:PASSWORD|DATABASE_URL)\s*:\s*(\S.*)$/gim))
    t.match(value, /^\$\{[A-Z_]+:\?/, `required from the environment, no default: ${value}`);
});

/** The network shape (issue 11): two broker nodes on Redis, a gateway, PostgreSQL, two API replicas behind a proxy. */
const NETWORK_FILE = path.join(import.meta.dirname, 'docker-compose.network.yml');

t.test('docker-compose.network.yml: valid, every service healthy-checked, started in order', async (t) => {
  if (!dockerCompose(t)) return;
  const config = (env: Record<string, string>) =>
    execFileSync('docker-compose', ['-f', NETWORK_FILE, 'config'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  t.throws(() => config({}), 'refused without a database password of the operator’s');
  const resolved = YAML.parse(
    config({
      POSTGRES_PASSWORD: 'from-env',
      DATABASE_URL: 'postgres://wesprint:from-env@postgres:5432/wesprint',
    }),
  ) as {
    services: Record<
      string,
      {
        healthcheck?: unknown;
        command?: string[];
        environment?: Record<string, string>;
        volumes?: (string | { source?: string; target?: string })[];
        depends_on?: Record<string, { condition?: string }>;
      }
    >;
  };
  const services = resolved.services;
  const names = [
    'postgres',
    'redis',
    'influxdb',
    'broker-a',
    'broker-b',
    'gateway',
    'api-1',
    'api-2',
    'proxy',
    'nodered',
  ];
  t.same(Object.keys(services).sort(), [...names].sort(), 'the network’s parts, no more');
  for (const name of names) t.ok(services[name]?.healthcheck, `service ${name} has a health check`);
  const journalOf = (name: string) =>
    (services[name]?.volumes ?? [])
      .map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v))
      .find((v) => v.target === '/data/broker-journal')?.source;
  for (const node of ['broker-a', 'broker-b']) {
    t.same(services[node]?.command, ['broker'], `${node} is a broker node`);
    t.equal(
      services[node]?.environment?.REDIS_URL,
      'redis://redis:6379',
      `${node} shares its state through Redis`,
    );
    t.ok(journalOf(node), `${node} keeps its journal on a volume of its own`);
  }
  t.not(journalOf('broker-a'), journalOf('broker-b'), 'no two nodes share a journal');
  for (const api of ['api-1', 'api-2']) {
    t.same(services[api]?.command, ['api']);
    t.match(
      services[api]?.environment?.DATABASE_URL ?? '',
      /^postgres:\/\//,
      `${api} keeps the records in PostgreSQL`,
    );
  }
  t.match(
    services.proxy?.command?.join(' ') ?? '',
    /--to api-1:8080 --to api-2:8080/,
    'the proxy spreads over both replicas',
  );
  // secrets.json is made once, by the first broker node: every other WeSprint service starts after it is healthy.
  const after = (name: string, dep: string): boolean => {
    const deps = services[name]?.depends_on ?? {};
    return Object.keys(deps).some((d) => d === dep || after(d, dep));
  };
  for (const name of ['broker-b', 'gateway', 'api-1', 'api-2'])
    t.ok(after(name, 'broker-a'), `${name} starts after broker-a`);
});
