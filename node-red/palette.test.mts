import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { type RunningSystem, startRunningSystem } from '../test-support/running-system.ts';
import { runWesprint } from '../test-support/wesprint-process.ts';

/**
 * The palette in the real Node-RED 4 runtime (node-red-node-test-helper) against a running WeSprint: broker,
 * gateway, API through Fastify and the simulated devices of a small building with their own MQTT clients, all
 * on ephemeral loopback ports. Node-RED has its own userDir and credentialSecret; the token is a credential.
 */

const require = createRequire(import.meta.url);
const helper = require('node-red-node-test-helper') as TestHelper;
const PALETTE = import.meta.dirname;
const NODE_FILES = [
  'wesprint-config',
  'wesprint-readings',
  'wesprint-events',
  'wesprint-space',
  'wesprint-command',
];
const nodes = NODE_FILES.map((n) => require(path.join(PALETTE, 'nodes', `${n}.js`)) as unknown);

interface StatusCall {
  thisValue: unknown;
  args: [{ fill?: string; shape?: string; text?: string }];
}
interface RedNode {
  id: string;
  on(event: 'input', listener: (msg: Msg) => void): void;
  on(event: 'call:status' | 'call:error', listener: (call: StatusCall) => void): void;
  receive(msg: Msg): void;
  status: { getCalls(): StatusCall[] };
}
type Msg = Record<string, unknown> & { payload?: unknown };
interface TestHelper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  load(nodes: unknown[], flow: object[], credentials?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): RedNode;
}

/** A protel room with a lock, presence, CO2 and a plug, and a café: every node has something to see. */
const SITE = {
  site: { id: 'nr-haus', name: 'Node-RED-Haus', timezone: 'Europe/Berlin' },
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
      lock: 'protel-1-lock',
      opening_hours: [{ days: [1, 2, 3, 4, 5, 6, 7], open: '00:00', close: '24:00' }],
    },
    {
      id: 'protel-2',
      name: 'Protel 2',
      floor: 'eg',
      kind: 'protel',
      area_m2: 30,
      capacity: 4,
      bookable: true,
      lock: 'protel-2-lock',
      opening_hours: [{ days: [1, 2, 3, 4, 5, 6, 7], open: '00:00', close: '24:00' }],
    },
    { id: 'cafe', name: 'Café', floor: 'eg', kind: 'cafe', area_m2: 100 },
  ],
  devices: [
    { id: 'protel-1-lock', profile: 'nuki-mqtt', topic: 'nuki/1BA6262A', space: 'protel-1' },
    { id: 'protel-2-lock', profile: 'nuki-mqtt', topic: 'nuki/1BA6262B', space: 'protel-2' },
    {
      id: 'protel-1-presence',
      profile: 'zigbee2mqtt-occupancy',
      topic: 'zigbee2mqtt/protel-1-presence',
      space: 'protel-1',
    },
    {
      id: 'protel-1-co2',
      profile: 'zigbee2mqtt-air-quality',
      topic: 'zigbee2mqtt/protel-1-co2',
      space: 'protel-1',
    },
    {
      id: 'protel-1-plug',
      profile: 'shelly-gen1',
      topic: 'shellies/shellyplug-s-C0FFEE',
      space: 'protel-1',
      meter_role: 'plug',
    },
    { id: 'cafe-co2', profile: 'zigbee2mqtt-air-quality', topic: 'zigbee2mqtt/cafe-co2', space: 'cafe' },
  ],
};

const QUARTER_HOUR_MS = 15 * 60_000;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every message a node sends into the helper node `id`, as it arrives. */
function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id).on('input', (msg) => got.push(msg));
  return got;
}

/** The status texts a node has shown so far, oldest first. */
function statuses(id: string): { fill?: string; shape?: string; text?: string }[] {
  const node = helper.getNode(id);
  return node.status
    .getCalls()
    .filter((c) => c.thisValue === node)
    .map((c) => c.args[0]);
}

async function signIn(system: RunningSystem, email: string, password: string): Promise<string> {
  const response = await fetch(`${system.httpUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok) throw new Error(`sign-in: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** `wesprint tokens create` as an operator runs it, against the running system's records: the token it prints. */
async function createToken(
  system: RunningSystem,
  label: string,
  scopes: string,
  more: string[] = [],
): Promise<string> {
  const run = await runWesprint(['tokens', 'create', '--label', label, '--scope', scopes, ...more], {
    DATA_DIR: system.dataDir,
    SITE_FILE: siteFile,
    LOG_LEVEL: 'silent',
  });
  const secret = /\b(wsp_[A-Za-z0-9_-]+)/.exec(run.stdout)?.[1];
  if (run.code !== 0 || !secret) throw new Error(`tokens create: ${run.code} ${run.stdout} ${run.stderr}`);
  return secret;
}

// A whole WeSprint and a Node-RED on two loaded cores: well past tap's default two minutes at times.
t.setTimeout(5 * 60_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-node-red-'));
const siteFile = path.join(dir, 'nr-haus.site.json');
fs.writeFileSync(siteFile, JSON.stringify(SITE));
const userDir = path.join(dir, 'node-red');
fs.mkdirSync(userDir);

let system: RunningSystem;
/** The admin's session: bookings, and the phone's unlock route as a member opens it. */
let session: string;
/** `wesprint tokens create --label node-red --scope readings:read,feed:read,bookings:read,commands:write` */
let token: string;
/** A token for a lobby display: spaces:read only. */
let narrowToken: string;
/** `… --scope commands:write,unlock:write --locks protel-1`: one door, no other. */
let doorToken: string;

t.before(async () => {
  system = await startRunningSystem({ env: { SITE_FILE: siteFile, CHECKIN_GRACE_MIN: '60' } });
  session = await signIn(system, system.admin.email, system.admin.password);
  token = await createToken(system, 'node-red', 'readings:read,feed:read,bookings:read,commands:write');
  narrowToken = await createToken(system, 'display', 'spaces:read');
  doorToken = await createToken(system, 'door-flow', 'commands:write,unlock:write', ['--locks', 'protel-1']);
  helper.init(require.resolve('node-red'), { userDir, credentialSecret: 'palette-test-secret' });
  await helper.startServer();
  const simulation = system.simulation;
  await until('the simulated devices to connect', () => {
    const stats = simulation?.stats();
    return stats && stats.connected === stats.devices && stats.devices > 0 ? true : undefined;
  });
});

t.teardown(async () => {
  await helper.stopServer();
  await system?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

t.afterEach(async () => {
  await helper.unload();
});

/** Node ids must not equal any property value of the flow: Node-RED would take it for a config node reference. */
const server = (url = '') => ({ id: 'server', type: 'wesprint-config', url: url || system.httpUrl });
const credentials = (secret = token) => ({ server: { token: secret } });

t.test(
  'readings in: live readings of the filtered space and quantity, from the simulated sensor',
  async (t) => {
    await helper.load(
      nodes,
      [
        server(),
        {
          id: 'readings-co2',
          type: 'wesprint-readings',
          server: 'server',
          space: 'protel-1',
          quantity: 'co2',
          wires: [['co2-out']],
        },
        {
          id: 'readings-presence',
          type: 'wesprint-readings',
          server: 'server',
          device: 'protel-1-presence',
          wires: [['presence-out']],
        },
        {
          id: 'readings-other',
          type: 'wesprint-readings',
          server: 'server',
          site: 'elsewhere',
          wires: [['other-out']],
        },
        { id: 'co2-out', type: 'helper' },
        { id: 'presence-out', type: 'helper' },
        { id: 'other-out', type: 'helper' },
      ],
      credentials(),
    );
    const co2 = collect('co2-out');
    const presence = collect('presence-out');
    const other = collect('other-out');
    for (const id of ['readings-co2', 'readings-presence', 'readings-other'])
      await until(`${id} connected`, () => (statuses(id).at(-1)?.fill === 'green' ? true : undefined));
    t.match(statuses('readings-co2').at(-1), { fill: 'green', shape: 'dot', text: /protel-1 · co2/ });

    // The presence sensor reports a change only (as the firmware does), and the simulated building may have
    // people in protel-1 already at this hour, reported before the node connected: nobody first, so that
    // two people are a change whatever the hour (staging publishes the space's reports at once).
    system.simulation?.stage('protel-1', { people: 0 });
    system.simulation?.stage('protel-1', { co2Ppm: 1450, people: 2 });
    const high = await until('a CO2 reading near 1450 ppm', () =>
      co2.find((m) => typeof m.payload === 'number' && m.payload > 1300),
    );
    t.match(high, {
      topic: 'protel-1/protel-1-co2/co2',
      site: 'nr-haus',
      space: 'protel-1',
      device: 'protel-1-co2',
      quantity: 'co2',
      unit: 'ppm',
      reading: { type: 'reading', device: 'protel-1-co2' },
    });
    t.ok(
      co2.every((m) => m.quantity === 'co2' && m.space === 'protel-1'),
      'only CO2 of protel-1 comes through the space and quantity filter',
    );
    const seen = await until('the presence sensor seeing someone', () =>
      presence.find((m) => m.payload === 1),
    );
    t.match(seen, { device: 'protel-1-presence', quantity: 'occupancy' });
    t.ok(
      presence.every((m) => m.device === 'protel-1-presence'),
      'the device filter lets only that device through',
    );
    t.same(other, [], 'a site filter naming another site lets nothing through');
  },
);

t.test(
  'readings in: a refused token shows red with the reason, and a signed-out session ends the stream',
  async (t) => {
    const member = await signIn(system, system.admin.email, system.admin.password);
    await helper.load(
      nodes,
      [server(), { id: 'refused', type: 'wesprint-readings', server: 'server', wires: [[]] }],
      credentials('not-a-token-of-this-server-0123456789'),
    );
    const refused = await until('the refusal', () =>
      statuses('refused').find((s) => s.fill === 'red' && /refused \(401\)/.test(s.text ?? '')),
    );
    t.match(refused.text, /sign in first/, "the API's reason is shown");
    await helper.unload();

    await helper.load(
      nodes,
      [server(), { id: 'narrow', type: 'wesprint-readings', server: 'server', wires: [[]] }],
      credentials(narrowToken),
    );
    const narrow = await until('the refusal of a token without readings:read', () =>
      statuses('narrow').find((s) => s.fill === 'red' && /refused \(403\)/.test(s.text ?? '')),
    );
    t.match(narrow.text, /lacks the scope readings:read/);
    await helper.unload();

    await helper.load(
      nodes,
      [server(), { id: 'live', type: 'wesprint-readings', server: 'server', wires: [[]] }],
      credentials(member),
    );
    await until('connected', () => (statuses('live').at(-1)?.fill === 'green' ? true : undefined));
    const out = await fetch(`${system.httpUrl}/api/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${member}` },
    });
    t.ok(out.ok, 'signed out');
    // The API closes the sockets of a session that ended; the node reconnects and is refused.
    const after = await until('the stream ending and the reconnect refused', () =>
      statuses('live').find((s) => /refused \(401\)/.test(s.text ?? '')),
    );
    t.match(after, { fill: 'red', shape: 'ring' });
    t.ok(
      statuses('live').some((s) => s.fill === 'red' && /^disconnected/.test(s.text ?? '')),
      'the lost connection is shown before the next attempt',
    );
  },
);

t.test("space: booked now, the next booking and presence, for the message's space", async (t) => {
  const start = Math.floor(Date.now() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  const book = async (from: number, to: number) => {
    const response = await fetch(`${system.httpUrl}/api/bookings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        spaceId: 'protel-1',
        start: new Date(from).toISOString(),
        end: new Date(to).toISOString(),
      }),
    });
    t.equal(response.status, 201, `booked ${new Date(from).toISOString()}`);
    return (await response.json()) as { id: string };
  };
  const now = await book(start, start + 60 * 60_000);
  const later = await book(start + 3 * 60 * 60_000, start + 4 * 60 * 60_000);
  system.simulation?.stage('protel-1', { people: 2 });

  await helper.load(
    nodes,
    [
      server(),
      { id: 'space', type: 'wesprint-space', server: 'server', wires: [['space-out']] },
      { id: 'space-out', type: 'helper' },
    ],
    credentials(),
  );
  const out = collect('space-out');
  const ask = async (msg: Msg) => {
    const before = out.length;
    helper.getNode('space').receive(msg);
    return until('the space answer', () => out[before]);
  };
  // The presence report goes through the broker, the journal and the gateway to the API: ask until it is there.
  let answer = await ask({ space: 'protel-1' });
  for (let i = 0; i < 100 && (answer.payload as { occupied: unknown }).occupied !== true; i++) {
    await new Promise((r) => setTimeout(r, 100));
    answer = await ask({ space: 'protel-1' });
  }
  t.match(answer.payload, {
    space: 'protel-1',
    bookable: true,
    open: true,
    booked: true,
    booking: {
      start: new Date(start).toISOString(),
      end: new Date(start + 60 * 60_000).toISOString(),
      bookingId: now.id,
    },
    nextBooking: { start: new Date(start + 3 * 60 * 60_000).toISOString() },
    occupied: true,
  });
  const payload = answer.payload as { minutesToNextBooking: number; at: string };
  const minutes = Math.ceil((start + 3 * 60 * 60_000 - Date.parse(payload.at)) / 60_000);
  t.equal(payload.minutesToNextBooking, minutes, "minutes to the next booking, from the server's time");
  t.match(answer.payload, { nextBooking: { bookingId: later.id } }, 'bookings by id, never by whom');
  t.notOk(JSON.stringify(answer.payload).includes('memberId'));

  const cafe = await ask({ payload: 'cafe' });
  t.match(cafe.payload, { space: 'cafe', bookable: false, booked: null, booking: null, occupied: null });
  await helper.unload();

  await helper.load(
    nodes,
    [server(), { id: 'space-narrow', type: 'wesprint-space', server: 'server', wires: [[]] }],
    credentials(narrowToken),
  );
  const errors: unknown[] = [];
  helper.getNode('space-narrow').on('call:error', (call) => errors.push(call.args[0]));
  helper.getNode('space-narrow').receive({ space: 'protel-1' });
  const error = await until('the error', () => errors[0]);
  t.match(
    String(error),
    /403: token "display" may not GET \/api\/spaces\/:id\/availability: it lacks the scope bookings:read/,
  );
  t.match(statuses('space-narrow').at(-1), { fill: 'red' });
});

/**
 * A command out node set to unlock, on a server with `secret`; it is sent `space` and must open its lock
 * (protel-1's): the outcome on the second output, the message passed on from the first, one command at the
 * simulated lock. The collectors stay for what the caller sends next.
 */
async function unlockOpens(t: Test, secret: string, expected: Record<string, unknown>) {
  await helper.load(
    nodes,
    [
      server(),
      {
        id: 'command',
        type: 'wesprint-command',
        server: 'server',
        action: 'unlock',
        wires: [['done'], ['outcome']],
      },
      { id: 'done', type: 'helper' },
      { id: 'outcome', type: 'helper' },
    ],
    credentials(secret),
  );
  const done = collect('done');
  const outcome = collect('outcome');
  const lock = system.simulation?.locks.get('protel-1-lock');
  const before = lock?.commandsReceived() ?? 0;
  helper.getNode('command').receive({ space: 'protel-1', payload: 'open up', _msgid: 'm1' });
  const report = await until('the outcome', () => outcome[0]);
  t.match(report.payload, {
    ok: true,
    action: 'unlock',
    space: 'protel-1',
    status: 200,
    outcome: 'unlocked',
    answer: { result: 'unlocked', lock: 'protel-1-lock' },
    ...expected,
  });
  t.equal(lock?.commandsReceived(), before + 1, 'the simulated lock received one command');
  const passed = await until('the message passed on', () => done[0]);
  t.equal(passed.payload, 'open up', 'the first output carries the message that came in');
  return { done, outcome, lock };
}

t.test(
  "command out: unlock through the space's unlock route, the outcome on the second output",
  async (t) => {
    // A member's session opens what the member may: the admin's, any door.
    const { done, outcome, lock } = await unlockOpens(t, session, { reason: 'staff' });

    helper.getNode('command').receive({ space: 'no-such-space', _msgid: 'm2' });
    const refused = await until('the refusal', () => outcome[1]);
    t.match(refused.payload, { ok: false, status: 404, outcome: 'refused', detail: /no space/ });
    await new Promise((r) => setTimeout(r, 200));
    t.equal(done.length, 1, 'a refused command passes nothing on the first output');
    t.match(statuses('command').at(-1), { fill: 'red', text: /unlock no-such-space: refused/ });
    await helper.unload();

    await helper.load(
      nodes,
      [
        server(),
        {
          id: 'command',
          type: 'wesprint-command',
          server: 'server',
          action: 'unlock',
          wires: [[], ['outcome']],
        },
        { id: 'outcome', type: 'helper' },
      ],
      credentials(token),
    );
    const tokenOutcome = collect('outcome');
    const locked = lock?.commandsReceived();
    helper.getNode('command').receive({ space: 'protel-1', _msgid: 'm3' });
    const byToken = await until('the outcome', () => tokenOutcome[0]);
    t.match(byToken.payload, {
      ok: false,
      status: 403,
      detail: /token "node-red" may not POST \/api\/spaces\/:id\/unlock: it lacks the scope unlock:write/,
    });
    t.equal(lock?.commandsReceived(), locked, 'commands:write alone: the lock received nothing');
  },
);

t.test(
  'command out: a token with unlock:write opens the door it names; another door refused on the second output',
  async (t) => {
    const { done, outcome } = await unlockOpens(t, doorToken, { reason: 'opening_hours' });
    const other = system.simulation?.locks.get('protel-2-lock');
    const otherBefore = other?.commandsReceived() ?? 0;
    helper.getNode('command').receive({ space: 'protel-2', _msgid: 'd2' });
    const refused = await until('the refusal', () => outcome[1]);
    t.match(refused.payload, {
      ok: false,
      action: 'unlock',
      space: 'protel-2',
      status: 403,
      outcome: 'denied',
      reason: 'not_on_token',
    });
    await new Promise((r) => setTimeout(r, 200));
    t.equal(done.length, 1, 'a refused unlock passes nothing on the first output');
    t.equal(other?.commandsReceived(), otherBefore, 'the door not on the list received nothing');
    t.match(statuses('command').at(-1), { fill: 'red', text: /unlock protel-2: denied \(not_on_token\)/ });
  },
);

t.test(
  'command out: a plug switched off and on, its switch reading following; a replay and a token without commands:write refused',
  async (t) => {
    await helper.load(
      nodes,
      [
        server(),
        {
          id: 'plug-switch',
          type: 'wesprint-command',
          server: 'server',
          action: 'switch',
          device: 'protel-1-plug',
          wires: [['switched'], ['switch-outcome']],
        },
        {
          id: 'plug-state',
          type: 'wesprint-readings',
          server: 'server',
          device: 'protel-1-plug',
          quantity: 'switch',
          wires: [['states']],
        },
        {
          id: 'narrow-switch',
          type: 'wesprint-command',
          server: 'narrow-server',
          action: 'switch_off',
          device: 'protel-1-plug',
          wires: [[], ['narrow-outcome']],
        },
        { id: 'narrow-server', type: 'wesprint-config', url: system.httpUrl },
        { id: 'switched', type: 'helper' },
        { id: 'switch-outcome', type: 'helper' },
        { id: 'states', type: 'helper' },
        { id: 'narrow-outcome', type: 'helper' },
      ],
      { ...credentials(), 'narrow-server': { token: narrowToken } },
    );
    const switched = collect('switched');
    const outcomes = collect('switch-outcome');
    const states = collect('states');
    const narrow = collect('narrow-outcome');
    await until('plug readings connected', () =>
      statuses('plug-state').at(-1)?.fill === 'green' ? true : undefined,
    );

    helper.getNode('plug-switch').receive({ payload: 'off', commandId: 'palette-test-off-1' });
    const off = await until('the outcome of off', () => outcomes[0]);
    t.match(off.payload, {
      ok: true,
      action: 'switch_off',
      device: 'protel-1-plug',
      status: 200,
      outcome: 'confirmed',
      answer: { result: 'confirmed', commandId: 'palette-test-off-1' },
    });
    t.equal(switched.length, 1, 'the message went on from the first output');
    await until('the plug reporting off', () => states.find((m) => m.payload === 'off'));
    const offAt = states.findIndex((m) => m.payload === 'off');

    helper.getNode('plug-switch').receive({ payload: true });
    const on = await until('the outcome of on', () => outcomes[1]);
    t.match(on.payload, { ok: true, action: 'switch_on', outcome: 'confirmed' });
    await until('the plug reporting on', () => states.slice(offAt + 1).find((m) => m.payload === 'on'));

    helper.getNode('plug-switch').receive({ payload: 'off', commandId: 'palette-test-off-1' });
    const replay = await until('the outcome of the replay', () => outcomes[2]);
    t.match(
      replay.payload,
      { ok: false, status: 409, outcome: 'duplicate' },
      'a replayed command is refused',
    );
    t.equal(switched.length, 2, 'and passes nothing on');

    helper.getNode('narrow-switch').receive({});
    const refused = await until('the refusal', () => narrow[0]);
    t.match(refused.payload, { ok: false, status: 403, detail: /lacks the scope commands:write/ });
  },
);

t.test('events in: a booking made and a door opened, as they happen, by kind', async (t) => {
  await helper.load(
    nodes,
    [
      server(),
      {
        id: 'events-all',
        type: 'wesprint-events',
        server: 'server',
        space: 'protel-1',
        wires: [['all-out']],
      },
      {
        id: 'events-doors',
        type: 'wesprint-events',
        server: 'server',
        kinds: ['door-opened'],
        wires: [['doors-out']],
      },
      { id: 'events-narrow', type: 'wesprint-events', server: 'narrow-server', wires: [[]] },
      { id: 'narrow-server', type: 'wesprint-config', url: system.httpUrl },
      { id: 'all-out', type: 'helper' },
      { id: 'doors-out', type: 'helper' },
    ],
    { ...credentials(), 'narrow-server': { token: narrowToken } },
  );
  const all = collect('all-out');
  const doors = collect('doors-out');
  for (const id of ['events-all', 'events-doors'])
    await until(`${id} connected`, () => (statuses(id).at(-1)?.fill === 'green' ? true : undefined));
  const narrow = await until('the refusal without feed:read', () =>
    statuses('events-narrow').find((s) => /refused \(403\)/.test(s.text ?? '')),
  );
  t.match(narrow.text, /lacks the scope feed:read/);

  const start = Math.floor(Date.now() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS + 6 * 60 * 60_000;
  const booked = await fetch(`${system.httpUrl}/api/bookings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      spaceId: 'protel-1',
      start: new Date(start).toISOString(),
      end: new Date(start + 60 * 60_000).toISOString(),
    }),
  });
  t.equal(booked.status, 201);
  const booking = (await booked.json()) as { id: string };
  const made = await until('booking-made', () => all.find((m) => m.topic === 'booking-made'));
  t.match(made, {
    space: 'protel-1',
    payload: {
      type: 'booking-made',
      bookingId: booking.id,
      space: 'protel-1',
      start,
      end: start + 60 * 60_000,
    },
  });
  t.notOk(JSON.stringify(made.payload).includes('memberId'), 'events name no member');

  const unlocked = await fetch(`${system.httpUrl}/api/spaces/protel-1/unlock`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session}` },
  });
  t.equal(unlocked.status, 200, 'unlocked');
  const opened = await until('door-opened', () => doors.find((m) => m.topic === 'door-opened'));
  t.match(opened.payload, { type: 'door-opened', space: 'protel-1', device: 'protel-1-lock' });
  t.ok(
    doors.every((m) => m.topic === 'door-opened'),
    'a node for doors only lets nothing else through',
  );
  await until('the door in the space node too', () => all.find((m) => m.topic === 'door-opened'));
  const ids = all.map((m) => (m.payload as { id: string }).id);
  t.equal(new Set(ids).size, ids.length, 'each event once');
});
