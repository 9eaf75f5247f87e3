import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { adminCredentialsFile, type DemoMember, demoMembersFile } from '../members/first-start.ts';
import { runWesprint, startWesprint, type WesprintService } from '../test-support/wesprint-process.ts';

/**
 * `wesprint start` with its Node-RED, each in its own real process as a user runs them: the editor behind
 * WeSprint's sign-in (an administrator gets in, a member and an anonymous client do not), the example flows
 * deployed at the first start with a token made for them, the standby flow (its times set to seconds by the
 * administrator through the editor's API, as in the editor) switching a simulated room's plug off and on again
 * around a booking, and a second start that leaves the flows as they were.
 */

// Two starts of a whole WeSprint with Node-RED, on two shared cores.
t.setTimeout(5 * 60_000);

const HOUR_MS = 3_600_000;
const QUARTER_HOUR_MS = 15 * 60_000;

const SITE = {
  site: { id: 'flow-haus', name: 'Flow-Haus', timezone: 'Europe/Berlin' },
  floors: [{ id: 'eg', name: 'Erdgeschoss', level: 0, area_m2: 200 }],
  spaces: [
    {
      id: 'protel-1',
      name: 'Protel 1',
      floor: 'eg',
      kind: 'protel',
      area_m2: 30,
      capacity: 4,
      bookable: true,
    },
    { id: 'cafe', name: 'Café', floor: 'eg', kind: 'cafe', area_m2: 60, capacity: 20 },
  ],
  // No presence sensor: nobody is ever seen in Protel 1, whatever the hour of the run.
  devices: [
    {
      id: 'protel-1-plug',
      profile: 'shelly-gen1',
      topic: 'shellies/shellyplug-s-F10F11',
      space: 'protel-1',
      meter_role: 'plug',
    },
    {
      id: 'protel-1-heizung',
      profile: 'zigbee2mqtt-thermostat',
      topic: 'zigbee2mqtt/p1-heizung',
      space: 'protel-1',
    },
    // A café's plug is no team room's: the standby flow leaves it alone.
    {
      id: 'cafe-plug',
      profile: 'tasmota-energy',
      topic: 'tasmota_CAFE01',
      space: 'cafe',
      meter_role: 'plug',
    },
  ],
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-embedded-node-red-'));
const dataDir = path.join(dir, 'data');
const siteFile = path.join(dir, 'flow-haus.site.json');
fs.writeFileSync(siteFile, JSON.stringify(SITE));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const ENV = {
  DATA_DIR: dataDir,
  SITE_FILE: siteFile,
  HTTP_HOST: '127.0.0.1',
  HTTP_PORT: '0',
  MQTT_HOST: '127.0.0.1',
  MQTT_PORT: '0',
  MQTT_WS_PORT: '0',
  NODE_RED_PORT: '0',
  BACKFILL_DAYS: '0',
  LOG_FORMAT: 'json',
  LOG_LEVEL: 'info',
};

interface Started {
  service: WesprintService;
  api: string;
  editor: string;
}

async function start(t: Test): Promise<Started> {
  const service = startWesprint(t, ['start'], ENV);
  const [, editor] = (await service.waitFor(/Automations\s+(http:\/\/\S+?)\/?\s/, 120_000)) as string[];
  const [, api] = (await service.waitFor(/Dashboard\s+(http:\/\/\S+?)\/\s/, 5_000)) as string[];
  return { service, api: api as string, editor: editor as string };
}

const adminOf = () => {
  const text = fs.readFileSync(adminCredentialsFile(dataDir), 'utf8');
  return {
    email: /^email: (.+)$/m.exec(text)?.[1] ?? '',
    password: /^password: (.+)$/m.exec(text)?.[1] ?? '',
  };
};

/** Node-RED's own sign-in (what the editor's login form sends): its token, or the refusal's status. */
async function editorSignIn(editor: string, username: string, password: string) {
  const response = await fetch(`${editor}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: 'node-red-editor',
      grant_type: 'password',
      scope: '*',
      username,
      password,
    }),
  });
  const body = response.ok ? ((await response.json()) as { access_token: string }) : undefined;
  return { status: response.status, token: body?.access_token };
}

type FlowNode = Record<string, unknown> & { id: string; type: string };

async function editorApi(
  editor: string,
  token: string | undefined,
  method: string,
  route: string,
  body?: unknown,
) {
  return fetch(editor + route, {
    method,
    headers: {
      accept: 'application/json',
      'node-red-api-version': 'v1',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined
        ? { 'content-type': 'application/json', 'node-red-deployment-type': 'full' }
        : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function latest(api: string, session: string, device: string, quantity: string): Promise<unknown> {
  const response = await fetch(`${api}/api/readings/latest?device=${device}&quantity=${quantity}`, {
    headers: { authorization: `Bearer ${session}` },
  });
  const { readings } = (await response.json()) as { readings: { value: unknown; ts: number }[] };
  return readings.sort((a, b) => b.ts - a.ts)[0]?.value;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let editorUrl = '';

t.test('first start: Node-RED beside the building, its editor for administrators only', async (t) => {
  const { service, api, editor } = await start(t);
  editorUrl = editor;
  t.match(
    service.output(),
    /deployed: Standby off, Heating follows bookings, Air \(token "node-red-embedded"\)/,
  );
  const readyLine = await service.waitFor(/"readyMs":(\d+),"startedMs":(\d+)/, 10_000);
  t.ok(readyLine, 'the start time is logged');
  t.comment(
    `Node-RED ready ${readyLine?.[1]} ms after its process was spawned (Node-RED itself: ${readyLine?.[2]} ms)`,
  );

  const userDir = path.join(dataDir, 'node-red');
  t.equal(
    fs.statSync(path.join(userDir, 'credential-secret')).mode & 0o777,
    0o600,
    'its key, generated, 0600',
  );
  t.ok(fs.lstatSync(path.join(userDir, 'node_modules', 'node-red-contrib-wesprint')).isSymbolicLink());
  const tokens = await runWesprint(['tokens', 'list'], { DATA_DIR: dataDir, SITE_FILE: siteFile });
  t.match(
    tokens.stdout,
    /node-red-embedded\treadings:read,feed:read,bookings:read,commands:write,notices:write\t\*\t.*\tactive/,
  );

  // Anonymous: the editor's API refuses.
  t.equal((await editorApi(editor, undefined, 'GET', '/flows')).status, 401, 'anonymous: 401');
  t.equal((await editorApi(editor, 'made-up-token', 'GET', '/flows')).status, 401, 'a made-up token: 401');
  const demo = (JSON.parse(fs.readFileSync(demoMembersFile(dataDir), 'utf8')) as { members: DemoMember[] })
    .members;
  for (const role of ['member', 'facility'] as const) {
    const person = demo.find((d) => d.role === role);
    if (!person) throw new Error(`no demo ${role}`);
    // Their WeSprint password is right: the role is what keeps them out.
    const refused = await editorSignIn(editor, person.email, person.password);
    t.equal(refused.status, 403, `a ${role} signing in with their right password is refused`);
    t.notOk(refused.token);
  }
  const admin = adminOf();
  t.equal(
    (await editorSignIn(editor, admin.email, 'not-the-password')).status,
    403,
    'a wrong password: refused',
  );
  const signedIn = await editorSignIn(editor, admin.email, admin.password);
  t.equal(signedIn.status, 200, 'the administrator gets in');
  const flowsAnswer = await editorApi(editor, signedIn.token, 'GET', '/flows');
  t.equal(flowsAnswer.status, 200);
  const flows = (await flowsAnswer.json()) as FlowNode[];
  t.same(
    flows.filter((n) => n.type === 'tab').map((n) => n.label),
    ['Standby off', 'Heating follows bookings', 'Air'],
  );
  const tab = flows.find((n) => n.id === 'standby-tab') as FlowNode;
  const rooms = (tab.env as { name: string; value: string }[]).find((e) => e.name === 'ROOMS')?.value;
  t.same(
    JSON.parse(rooms ?? 'null'),
    { 'protel-1': ['protel-1-plug'] },
    "the site's team room, not the café",
  );
  const server = flows.find((n) => n.type === 'wesprint-config') as FlowNode;
  t.equal(server.url, api, 'the flows reach this WeSprint');
  const credentials = fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8');
  t.notMatch(credentials, /wsp_/, 'the token kept encrypted');

  // The standby flow with its times in seconds, deployed by the administrator as the editor would.
  const sessionAnswer = await fetch(`${api}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(admin),
  });
  const session = ((await sessionAnswer.json()) as { token: string }).token;
  await until('the plug reporting on', async () =>
    (await latest(api, session, 'protel-1-plug', 'switch')) === 'on' ? true : undefined,
  );
  const fast = flows.map((n) =>
    n.id !== 'standby-tab'
      ? n
      : {
          ...n,
          env: (n.env as { name: string; value: string; type: string }[]).map((e) =>
            e.name === 'IDLE_MINUTES'
              ? { ...e, value: '0.05' }
              : e.name === 'LEAD_MINUTES'
                ? { ...e, value: '20' }
                : e.name === 'CHECK_SECONDS'
                  ? { ...e, value: '1' }
                  : e,
          ),
        },
  );
  const deploy = await editorApi(editor, signedIn.token, 'POST', '/flows', fast);
  t.equal(deploy.status, 204, 'deployed by the administrator');
  t.equal(
    (await editorApi(editor, undefined, 'POST', '/flows', fast)).status,
    401,
    'an anonymous deploy is refused',
  );
  await until('the idle room switched off', async () =>
    (await latest(api, session, 'protel-1-plug', 'switch')) === 'off' ? true : undefined,
  );
  t.pass('Protel 1 idle: its plug reports off');
  t.equal(await latest(api, session, 'protel-1-plug', 'power'), 0, 'and draws nothing');
  t.equal(await latest(api, session, 'cafe-plug', 'switch'), 'on', "the café's plug is left on");
  // A booking from the next quarter hour: at most 15 minutes away, within the 20 minutes' lead.
  const from = Math.floor(Date.now() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS + QUARTER_HOUR_MS;
  const booked = await fetch(`${api}/api/bookings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      spaceId: 'protel-1',
      start: new Date(from).toISOString(),
      end: new Date(from + HOUR_MS).toISOString(),
    }),
  });
  t.equal(booked.status, 201, 'booked');
  await until('the plug on again for the booking', async () =>
    (await latest(api, session, 'protel-1-plug', 'switch')) === 'on' ? true : undefined,
  );
  t.pass('a booking soon: the plug reports on again');

  const stopped = await service.stop('SIGTERM');
  t.ok(stopped.ms < 10_000, `stopped within docker's 10 s (${stopped.ms} ms)`);
  const after = await fetch(editor).then(
    () => 'answered',
    () => 'gone',
  );
  t.equal(after, 'gone', "Node-RED's process stopped with it");
});

t.test('a later start keeps the flows as the administrator left them and makes no token', async (t) => {
  const { service, editor } = await start(t);
  t.notMatch(service.output(), /deployed:/, 'nothing deployed');
  const admin = adminOf();
  const { token } = await editorSignIn(editor, admin.email, admin.password);
  const flows = (await (await editorApi(editor, token, 'GET', '/flows')).json()) as FlowNode[];
  const tab = flows.find((n) => n.id === 'standby-tab') as FlowNode;
  t.equal(
    (tab.env as { name: string; value: string }[]).find((e) => e.name === 'IDLE_MINUTES')?.value,
    '0.05',
    'the settings the administrator deployed',
  );
  const tokens = await runWesprint(['tokens', 'list'], { DATA_DIR: dataDir, SITE_FILE: siteFile });
  t.equal(tokens.stdout.match(/node-red-embedded/g)?.length, 1, 'still the one token');
  t.not(editor, '', `editor was at ${editorUrl}`);
  await service.stop('SIGTERM');
});

t.test("Node-RED's port busy: the demo's default moves on, an explicit port stops the start", async (t) => {
  // Whatever holds 1880 (this test, or a Node-RED already on the machine), the default port is busy.
  const holder = net.createServer();
  await new Promise<void>((resolve) => {
    holder.once('error', () => resolve());
    holder.listen(1880, '127.0.0.1', () => resolve());
  });
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const own = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-node-red-port-'));
  t.teardown(() => fs.rmSync(own, { recursive: true, force: true }));
  const { NODE_RED_PORT: _explicit, ...withDefaultPort } = ENV;

  const moved = startWesprint(t, ['start'], { ...withDefaultPort, DATA_DIR: path.join(own, 'a') });
  const [, port] = (await moved.waitFor(/Automations\s+http:\/\/127\.0\.0\.1:(\d+)/, 120_000)) as string[];
  t.ok(Number(port) > 1880, `the editor moved on to ${port}`);
  t.match(moved.output(), /Node-RED's port 1880 is in use, the demo tries 1881/);
  await moved.stop('SIGTERM');

  const busy = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      resolve((server.address() as net.AddressInfo).port);
    });
    t.teardown(() => new Promise<void>((done) => server.close(() => done())));
  });
  const refused = startWesprint(t, ['start'], {
    ...ENV,
    NODE_RED_PORT: String(busy),
    DATA_DIR: path.join(own, 'b'),
  });
  const end = await refused.exited;
  t.not(end.code, 0, 'the start stops');
  t.match(refused.output(), new RegExp(`Node-RED's port ${busy} is already in use. Set NODE_RED_PORT`));
});
