import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import t, { type Test } from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import { buildingTopics } from '../building/topics.ts';
import { openRecords } from '../database/database.ts';
import { Identity } from '../members/identity.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { SERVICE_USERNAMES } from '../site/credentials.ts';
import { loadSite } from '../site/load.ts';
import { testApi } from '../test-support/api.ts';
import { signedInMember, testRecords } from '../test-support/members.ts';
import { startRunningGateway } from '../test-support/running-gateway.ts';
import { eventually } from '../test-support/small-building.ts';
import { buildApi } from './app.ts';
import { deviceCommandAnswer } from './device-command-routes.ts';
import { LockCommands } from './lock-commands.ts';

/**
 * Switches and thermostats through the API on real parts: HTTP through Fastify with real sign-in and real
 * integration tokens, the records database and its audit log, the project's broker with its ACL, the API's
 * command channel, the gateway with the real profiles, and the simulated Pro 4PM and radiator valve
 * answering over MQTT in their vendors' formats.
 */

const logger = pino({ level: 'silent' });
const site = loadSite(DEMO_SITE_FILE);
const topics = buildingTopics(site.site.id);
const PRO4PM = 'og2-protel-steckdosen';
const VALVE = 'og2-protel-01-heizung';
const SILENT_PLUG = 'og1-drucker-nord';

async function building(t: Test) {
  const running = await startRunningGateway({
    site,
    dataDirPrefix: 'wesprint-device-commands-',
    commandTimeoutMs: 1500,
    simulate: { devices: (d) => d.id === PRO4PM || d.id === VALVE },
    logger,
  });
  const { url, secrets, store, quarantine, profiles, dataDir } = running;
  const api = { username: SERVICE_USERNAMES.api, password: secrets.services.api };
  const feed = new BuildingFeed({ url, ...api, site, logger });
  feed.start();
  const commands = new LockCommands({ url, ...api, site, status: feed, answerTimeoutMs: 5000 });
  commands.start();
  const records = openRecords(path.join(dataDir, 'wesprint.db'));
  const identity = new Identity(records);
  const app = await buildApi({
    site,
    store,
    feed,
    quarantine,
    profiles,
    records,
    identity,
    lockCommands: commands,
    logger,
  });
  t.teardown(async () => {
    await app.close();
    await commands.close();
    await feed.close();
    records.close();
    await running.stop();
  });
  await feed.waitUntilConnected();
  await commands.waitUntilReady();
  await eventually(
    'devices online',
    () => feed.device(PRO4PM)?.online === true && feed.device(VALVE)?.online === true,
  );
  return { url, app, records, identity, store, api };
}

t.test(
  'switching an output and setting a valve: confirmed, refused before sending, offline, replayed, and who may',
  async (t) => {
    const b = await building(t);
    const audit = new SqliteAuditLog(b.records);
    const fred = await signedInMember(b.app, b.records, 'facility');
    const anna = await signedInMember(b.app, b.records, 'member');
    const board = await signedInMember(b.app, b.records, 'board');
    const nodeRed = await b.identity.integrationTokens.create({
      label: 'node-red',
      scopes: 'commands:write',
    });
    const reader = await b.identity.integrationTokens.create({ label: 'reader', scopes: 'readings:read' });

    // Every command on the building's command topic, as the broker delivers it to the API's account.
    const spy = await mqtt.connectAsync(b.url, {
      ...b.api,
      clientId: `spy-${randomUUID()}`,
      reconnectPeriod: 0,
    });
    t.teardown(() => spy.endAsync());
    const wire: { device: string; body: Record<string, unknown> }[] = [];
    spy.on('message', (topic, payload) => {
      if (!topic.endsWith('/result'))
        wire.push({ device: topic.slice(topic.lastIndexOf('/') + 1), body: JSON.parse(String(payload)) });
    });
    await spy.subscribeAsync(topics.allCommands, { qos: 1 });

    const command = async (device: string, body: object, headers: Record<string, string>) => {
      const response = await b.app.inject({
        method: 'POST',
        url: `/api/devices/${device}/commands`,
        headers,
        payload: body,
      });
      return { status: response.statusCode, body: response.json() };
    };
    const asFred = { cookie: fred.cookie };

    // Output 2 of the Pro 4PM (Protel 203's sockets) off: the Switch.Set goes out, the output reports off.
    const off = await command(PRO4PM, { action: 'switch_off', channel: '2' }, asFred);
    t.equal(off.status, 200, JSON.stringify(off.body));
    t.match(off.body, { result: 'confirmed', device: PRO4PM, action: 'switch_off', channel: '2' });
    t.match(off.body.detail, /switch off on channel 2|done/);
    let state: { space: string; value: number | string } | undefined;
    await eventually('output 2 stored off', async () => {
      const rows = await b.store.latest({ device: PRO4PM, quantity: 'switch' });
      state = rows.find((r) => r.channel === '2' && r.value === 'off');
      return state !== undefined;
    });
    t.equal(state?.space, 'og2-protel-03', "output 2's state is its room's");
    t.match(wire.at(-1), { device: PRO4PM, body: { action: 'switch_off', channel: '2' } });

    // The valve of Protel 201 to 21.5 °C.
    const warm = await command(VALVE, { action: 'set_setpoint', value: 21.5 }, asFred);
    t.equal(warm.status, 200, JSON.stringify(warm.body));
    t.match(warm.body, { result: 'confirmed', value: 21.5, detail: 'confirmed: setpoint 21.5 on channel 0' });
    t.match(wire.at(-1), { device: VALVE, body: { action: 'set_setpoint', value: 21.5 } });

    // Refused before anything is sent: a value out of range or off the steps, an action the device lacks.
    const sent = wire.length;
    t.match(await command(VALVE, { action: 'set_setpoint', value: 35 }, asFred), {
      status: 422,
      body: { result: 'invalid_value', detail: /outside what the device takes \(5…30 °C/ },
    });
    t.match(await command(VALVE, { action: 'set_setpoint', value: 21.2 }, asFred), {
      status: 422,
      body: { result: 'invalid_value' },
    });
    t.match(await command(VALVE, { action: 'set_setpoint' }, asFred), {
      status: 422,
      body: { result: 'invalid_value' },
    });
    t.match(await command(VALVE, { action: 'switch_on' }, asFred), {
      status: 422,
      body: { result: 'unsupported' },
    });
    t.match(await command('no-such-device', { action: 'switch_on' }, asFred), { status: 404 });
    // Not the route's: locks (the unlock route), a malformed channel, a value that is no number.
    for (const body of [
      { action: 'unlock' },
      { action: 'switch_on', channel: '01' },
      { action: 'set_setpoint', value: 'warm' },
    ])
      t.equal((await command(PRO4PM, body, asFred)).status, 400, JSON.stringify(body));
    t.equal(wire.length, sent, 'none of them reached the building');

    // A device the gateway has not heard: device_offline, nothing sent.
    t.match(await command(SILENT_PLUG, { action: 'switch_off' }, asFred), {
      status: 503,
      body: { result: 'device_offline' },
    });
    t.equal(wire.length, sent, 'an offline device is not sent to');

    // A retry of the same command (same commandId) is never carried out twice.
    const commandId = `nodered-${randomUUID()}`;
    const first = await command(PRO4PM, { action: 'switch_on', channel: '2', commandId }, asFred);
    t.match(first, { status: 200, body: { result: 'confirmed', commandId } });
    const replay = await command(PRO4PM, { action: 'switch_on', channel: '2', commandId }, asFred);
    t.match(replay, { status: 409, body: { result: 'duplicate', commandId } });

    // Who may: facility and admin sessions, tokens with commands:write; nobody else.
    t.equal(
      (await command(PRO4PM, { action: 'switch_on', channel: '1' }, { cookie: anna.cookie })).status,
      403,
    );
    t.equal(
      (await command(PRO4PM, { action: 'switch_on', channel: '1' }, { cookie: board.cookie })).status,
      403,
    );
    t.equal((await command(PRO4PM, { action: 'switch_on', channel: '1' }, {})).status, 401);
    const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
    t.match(await command(PRO4PM, { action: 'switch_off', channel: '1' }, bearer(nodeRed.secret)), {
      status: 200,
      body: { result: 'confirmed' },
    });
    t.equal(
      (await command(PRO4PM, { action: 'switch_on', channel: '1' }, bearer(reader.secret))).status,
      403,
      'readings:read does not command',
    );

    // Every attempt, sent or not, is in the audit log with its outcome and who asked.
    const entries = (await audit.query({ action: 'device_command', limit: 100 })).entries;
    t.match(
      entries.find((e) => e.actor === fred.member.id && e.detail.value === 35),
      { decision: 'denied', reason: 'invalid_value', target: VALVE, detail: { role: 'facility' } },
    );
    t.match(
      entries.find((e) => e.reason === 'confirmed' && e.target === VALVE),
      { decision: 'granted', detail: { action: 'set_setpoint', value: 21.5, outcome: 'done' } },
    );
    t.match(
      entries.find((e) => e.reason === 'duplicate'),
      { detail: { commandId } },
    );
    t.match(
      entries.find((e) => e.actor === `token:${nodeRed.token.id}`),
      {
        reason: 'confirmed',
        detail: { token: 'node-red', channel: '1' },
      },
    );
    t.match(
      entries.find((e) => e.reason === 'device_offline'),
      { target: SILENT_PLUG, decision: 'granted' },
    );
    const refusedToken = (await audit.query({ action: 'token_use', limit: 10 })).entries;
    t.match(refusedToken[0], {
      decision: 'denied',
      reason: 'scope_missing',
      actor: `token:${reader.token.id}`,
    });
  },
);

t.test("how the gateway's outcomes read to the caller", async (t) => {
  t.same(deviceCommandAnswer({ outcome: 'done' }), { status: 200, result: 'confirmed' });
  t.same(deviceCommandAnswer({ outcome: 'duplicate' }), { status: 409, result: 'duplicate' });
  t.same(deviceCommandAnswer({ outcome: 'invalid_value' }), { status: 422, result: 'invalid_value' });
  t.same(deviceCommandAnswer({ outcome: 'offline' }), { status: 503, result: 'device_offline' });
  t.same(deviceCommandAnswer({ outcome: 'not_sent' }), { status: 503, result: 'device_offline' });
  t.same(deviceCommandAnswer({ outcome: 'timeout' }), { status: 504, result: 'timeout' });
  t.same(deviceCommandAnswer({ outcome: 'no_answer' }), { status: 504, result: 'timeout' });
  t.same(deviceCommandAnswer({ outcome: 'expired' }), { status: 502, result: 'failed' });
  t.same(deviceCommandAnswer({ outcome: 'failed' }), { status: 502, result: 'failed' });
});

t.test(
  'a rate per caller: past it 429 with Retry-After, audited, nothing decided; others unaffected',
  async (t) => {
    // The API's own clock, fixed: the bucket refills by it, whatever day the suite runs on.
    let clock = Date.UTC(2026, 11, 6, 23, 30);
    const records = testRecords(t);
    const identity = new Identity(records);
    const { app } = await testApi(t, {
      records,
      identity,
      now: () => clock,
      deviceCommandRate: { burst: 3, perMinute: 6 },
    });
    const audit = new SqliteAuditLog(records);
    const fred = await signedInMember(app, records, 'facility');
    const nodeRed = await identity.integrationTokens.create({ label: 'node-red', scopes: 'commands:write' });
    const send = async (headers: Record<string, string>) => {
      const response = await app.inject({
        method: 'POST',
        url: '/api/devices/meter-eg/commands',
        headers,
        payload: { action: 'switch_off' },
      });
      return {
        status: response.statusCode,
        retryAfter: response.headers['retry-after'],
        body: response.json(),
      };
    };
    const asFred = { cookie: fred.cookie };
    // The small building's meter cannot switch: each answer is 422, but each one counts.
    for (let i = 0; i < 3; i++) t.equal((await send(asFred)).status, 422, `command ${i + 1} is judged`);
    const limited = await send(asFred);
    t.match(limited, {
      status: 429,
      retryAfter: '10',
      body: { result: 'rate_limited', device: 'meter-eg', retryAfterS: 10 },
    });
    t.equal(
      (await send({ authorization: `Bearer ${nodeRed.secret}` })).status,
      422,
      'the token has a bucket of its own',
    );
    clock += 9_999;
    t.equal((await send(asFred)).status, 429, 'not before the 10 s are up');
    clock += 1;
    t.equal((await send(asFred)).status, 422, 'one command again after 10 s (6 a minute)');

    const entries = (await audit.query({ action: 'device_command', decision: 'denied', limit: 20 })).entries;
    const refused = entries.filter((e) => e.reason === 'rate_limited');
    t.equal(refused.length, 2, 'each refusal audited');
    t.match(refused[0], {
      actor: fred.member.id,
      target: 'meter-eg',
      detail: { role: 'facility', action: 'switch_off', retryAfterS: 1 },
    });
    t.match(refused[1], { detail: { retryAfterS: 10 } });
  },
);
