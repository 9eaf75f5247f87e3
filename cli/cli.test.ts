import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { runWesprint, WESPRINT_BIN } from '../test-support/wesprint-process.ts';

// Many real `wesprint` processes one after the other: ~75 s on an idle 2-core machine; the runner is told this
// file's own limit, so a busy machine does not turn slowness into a failure.
t.setTimeout(600_000);

/** The `wesprint` command as a user runs it: a real process, real ports, real files. */

const run = runWesprint;

t.test('decode prints normalised readings as JSON lines', async (t) => {
  const r = await run([
    'decode',
    '--topic',
    'tele/plug-kaffee/SENSOR',
    '--payload',
    '{"Time":"2026-11-02T10:15:00","ENERGY":{"TotalStartTime":"2026-01-01T00:00:00","Total":12.345,"Yesterday":0.4,"Today":0.2,"Power":1450,"ApparentPower":1500,"ReactivePower":300,"Factor":0.97,"Voltage":231,"Current":6.5}}',
  ]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const energy = lines.find((l) => l.quantity === 'energy');
  t.match(energy, { device: 'plug-kaffee', quantity: 'energy', value: 12.345, unit: 'kWh', ts: Number });
  t.match(
    lines.find((l) => l.quantity === 'power'),
    { value: 1450, unit: 'W' },
  );
  for (const line of lines)
    t.same(Object.keys(line).sort(), ['channel', 'device', 'quantity', 'ts', 'unit', 'value']);
});

t.test('decode: every channel of a meter gives its readings (3EM phase 1, Pro 4PM switch 3)', async (t) => {
  const phase = await run([
    'decode',
    '--topic',
    'shellies/shellyem3-C45BBE6A1B2C/emeter/1/total',
    '--payload',
    '12345.6',
  ]);
  t.equal(phase.code, 0, phase.stderr);
  t.match(JSON.parse(phase.stdout), { channel: '1', quantity: 'energy', unit: 'kWh' });
  t.ok(Math.abs(JSON.parse(phase.stdout).value - 12.3456) < 1e-9);
  const output = await run([
    'decode',
    '--topic',
    'shellypro4pm-f008d1d8b8b8/status/switch:3',
    '--payload',
    '{"id":3,"source":"init","output":true,"apower":42.1,"aenergy":{"total":1500.5}}',
  ]);
  t.equal(output.code, 0, output.stderr);
  t.same(
    output.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .map((l) => [l.channel, l.quantity, l.value]),
    [
      ['3', 'power', 42.1],
      ['3', 'energy', 1.5005],
      ['3', 'switch', 'on'],
    ],
  );
  // With the demo's site file: output 3 of its Pro 4PM feeds Protel 204.
  const filed = await run([
    'decode',
    '--site',
    DEMO_SITE_FILE,
    '--topic',
    'shellypro4pm-f008d1d8b8b8/status/switch:3',
    '--payload',
    '{"id":3,"apower":42.1}',
  ]);
  t.equal(filed.code, 0, filed.stderr);
  t.match(JSON.parse(filed.stdout), {
    device: 'og2-protel-steckdosen',
    channel: '3',
    space: 'og2-protel-04',
    quantity: 'power',
  });
});

t.test('decode reads the payload from stdin with --payload -', async (t) => {
  const r = await run(
    ['decode', '--topic', 'shellies/shellyplug-s-7AB3/relay/0/power', '--payload', '-'],
    {},
    '87.5',
  );
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { quantity: 'power', value: 87.5, unit: 'W' });
});

t.test('decode refuses unknown and malformed messages with a reason and exit code 1', async (t) => {
  const unknown = await run(['decode', '--topic', 'some/random/topic', '--payload', '1']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /unknown_device/);
  t.equal(unknown.stdout, '');
  const malformed = await run(['decode', '--topic', 'zigbee2mqtt/desk-1', '--payload', '{"co2": "lots"']);
  t.equal(malformed.code, 1);
  t.match(malformed.stderr, /malformed/);
  const missing = await run(['decode', '--topic', 'x']);
  t.equal(missing.code, 2);
});

t.test('an explicit MQTT_PORT that is taken is one clear line, not a stack trace', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => blocker.close());
  const port = (blocker.address() as net.AddressInfo).port;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-cli-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const r = await run(['broker'], { DATA_DIR: dataDir, MQTT_HOST: '127.0.0.1', MQTT_PORT: String(port) });
  t.equal(r.code, 1);
  t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  t.match(r.stderr, new RegExp(`MQTT port ${port} is already in use`));
  t.notMatch(r.stderr, /\bat .*\.ts:\d+/, 'no stack trace');
});

t.test('`wesprint start` brings the simulated building alive: live readings over the API', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-start-'));
  const env = {
    ...process.env,
    DATA_DIR: dataDir,
    HTTP_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MQTT_WS_PORT: '0',
    // Its Node-RED on a free port: 1880 may be anyone's on a shared machine.
    NODE_RED_PORT: '0',
    SIM_SPEED: '600',
    // info, so there are log lines to search for a leaked password
    LOG_LEVEL: 'info',
    ADMIN_EMAIL: '',
  };
  const child: ChildProcess = spawn(process.execPath, [WESPRINT_BIN, 'start'], { env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const until = Date.now() + 60_000;
  let base: string | undefined;
  while (!base) {
    base = /API\s+(http:\/\/\S+)\/api\/devices/.exec(stdout)?.[1];
    if (child.exitCode !== null) throw new Error(`start exited: ${stderr}`);
    if (Date.now() > until) throw new Error(`no API URL printed: ${stdout}${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.match(stdout, /MQTT broker\s+mqtt:\/\/127\.0\.0\.1:\d+/);

  // No default password: the first start made the admin with a generated one, shown once, kept 0600.
  const shown = /Administrator\s+(\S+)\s+password: (\S+)/.exec(stdout);
  if (!shown) throw new Error(`no administrator printed: ${stdout}`);
  const [, adminEmail, adminPassword] = shown as unknown as [string, string, string];
  t.equal(adminEmail, 'admin@kaufhaus-am-markt.local', 'admin@<site id>.local');
  const adminFile = path.join(dataDir, 'admin-credentials.txt');
  t.equal(fs.statSync(adminFile).mode & 0o777, 0o600, 'admin credentials readable by the owner only');
  t.match(fs.readFileSync(adminFile, 'utf8'), `password: ${adminPassword}`);
  const demoFile = path.join(dataDir, 'demo-members.json');
  t.equal(fs.statSync(demoFile).mode & 0o777, 0o600, 'demo members readable by the owner only');
  const demo = JSON.parse(fs.readFileSync(demoFile, 'utf8')) as {
    members: { role: string; password: string }[];
  };
  t.same(demo.members.map((m) => m.role).sort(), ['board', 'facility', 'member', 'member', 'member']);
  const login = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: adminEmail, password: adminPassword }),
  });
  t.equal(login.status, 200, 'the admin signs in with the generated password');
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const unauthenticated = await fetch(`${base}/api/readings/latest`);
  t.equal(unauthenticated.status, 401, 'readings need a sign-in');

  // Every family of the demo building shows up with live readings through broker, gateway, store and API.
  // (Locks report only on change and at long intervals; gateway.test.ts drives one.)
  const wanted = new Set(['co2', 'occupancy', 'energy', 'power']);
  let seen = new Set<string>();
  while (Date.now() < until && [...wanted].some((q) => !seen.has(q))) {
    const res = await fetch(`${base}/api/readings/latest`, { headers: { cookie } });
    if (res.ok) {
      const body = (await res.json()) as { readings: { quantity: string }[] };
      seen = new Set(body.readings.map((r) => r.quantity));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  t.same(
    [...wanted].filter((q) => !seen.has(q)),
    [],
    'occupancy, CO2, energy and power readings all arrive',
  );
  const ready = await fetch(`${base}/api/ready`);
  t.equal(ready.status, 200, 'ready: store and feed are up');
  const devices = (await (await fetch(`${base}/api/devices`, { headers: { cookie } })).json()) as {
    devices: { online: boolean | null }[];
  };
  t.ok(
    devices.devices.some((d) => d.online === true),
    'devices are reported online',
  );

  const health = await run(['healthcheck', 'gateway'], { DATA_DIR: dataDir });
  t.equal(health.code, 0, `gateway healthy: ${health.stderr}`);

  const secrets = fs.statSync(path.join(dataDir, 'secrets.json'));
  t.equal(secrets.mode & 0o777, 0o600, 'generated secrets are readable by the owner only');

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'stops cleanly on SIGTERM');
  t.equal(stdout.split(adminPassword).length - 1, 1, 'the admin password is printed exactly once');
  t.notMatch(stderr, adminPassword, 'and never on stderr');
  const logLines = stdout.split('\n').filter((l) => l.startsWith('{'));
  t.ok(logLines.length > 0, 'there are log lines to search');
  t.same(
    logLines.filter((l) => l.includes('"online":true') && l.includes('device availability changed')),
    [],
    'devices coming online at the start are chatter for the debug level, not 150 lines at info',
  );
  for (const m of demo.members) t.notOk(stdout.includes(m.password), 'no demo password in the output');

  // A later start shows the password no more, but says where whoever runs the demo finds it.
  const again: ChildProcess = spawn(process.execPath, [WESPRINT_BIN, 'start'], { env });
  let againOut = '';
  again.stdout?.on('data', (d) => {
    againOut += d;
  });
  const againExited = new Promise<number | null>((r) => again.on('exit', (code) => r(code)));
  t.teardown(() => {
    if (again.exitCode === null) again.kill('SIGKILL');
  });
  const untilAgain = Date.now() + 60_000;
  while (!/API\s+http/.test(againOut) && again.exitCode === null && Date.now() < untilAgain)
    await new Promise((r) => setTimeout(r, 100));
  t.match(
    againOut,
    `Administrator   e-mail and password in ${adminFile}`,
    'the second banner names the file',
  );
  t.notOk(againOut.includes(adminPassword), 'and does not show the password again');
  again.kill('SIGTERM');
  t.equal(await againExited, 0, 'the second start stops cleanly too');
});

t.test('the gateway heartbeat turns unhealthy when it is old, missing or disconnected', async (t) => {
  const { checkGatewayHeartbeat, writeHeartbeat } = await import('./healthcheck.ts');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-beat-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  t.match(checkGatewayHeartbeat(dataDir), /no gateway heartbeat/);
  const journal = { committed: 10, stored: 10 };
  writeHeartbeat(dataDir, { connected: true, spooling: false, journal });
  t.equal(checkGatewayHeartbeat(dataDir), undefined);
  t.match(checkGatewayHeartbeat(dataDir, Date.now() + 120_000), /s old/);
  writeHeartbeat(dataDir, { connected: false, spooling: false, journal });
  t.match(checkGatewayHeartbeat(dataDir), /not connected/);
  // `wesprint gateway`: its own client connected says nothing of where the device messages come in.
  const intake = { received: 5, appended: 5, duplicates: 0, acknowledged: 5, connections: 1 };
  writeHeartbeat(dataDir, {
    connected: true,
    spooling: false,
    journal,
    intake: { ...intake, connected: false, subscribed: false },
  });
  t.match(checkGatewayHeartbeat(dataDir), /intake is not connected/);
  writeHeartbeat(dataDir, {
    connected: true,
    spooling: false,
    journal,
    intake: { ...intake, connected: true, subscribed: false },
  });
  t.match(checkGatewayHeartbeat(dataDir), /not subscribed/);
  writeHeartbeat(dataDir, {
    connected: true,
    spooling: false,
    journal,
    intake: { ...intake, connected: true, subscribed: true },
  });
  t.equal(checkGatewayHeartbeat(dataDir), undefined);
});
