import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { requireComponent } from './test-support/component.ts';

/** The production shape must stay a valid Compose file with a health check on every long-running service. */
const FILE = path.join(import.meta.dirname, 'docker-compose.yml');

t.test('docker-compose.yml is valid for docker-compose and every service has a health check', async (t) => {
  let available = true;
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' });
  } catch {
    available = false;
  }
  if (
    !requireComponent(
      t,
      available,
      'docker-compose',
      'apt-get install --no-install-recommends docker-compose',
    )
  )
    return;
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

t.test('the compose file names no password', async (t) => {
  t.notMatch(fs.readFileSync(FILE, 'utf8'), /PASSWORD\s*[:=]\s*\S+/i);
});
