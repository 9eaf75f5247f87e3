import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { buildingTopics, type CommandResultMessage } from '../building/topics.ts';
import { SqliteIntegrationTokens } from '../members/sqlite-integration-tokens.ts';
import { DEMO_SITE_FILE } from '../simulations/demo-site.ts';
import { loadSite } from '../site/load.ts';
import { signedInMember } from '../test-support/members.ts';
import { eventually } from '../test-support/small-building.ts';
import { unlockBuilding } from '../test-support/unlock-building.ts';
import { LockCommands } from './lock-commands.ts';

/**
 * Phone unlock end to end on real parts: HTTP through Fastify with real sign-in, the records database, the
 * project's broker with its ACL, the API's command channel, the gateway with the real Nuki profile, and
 * simulated Nuki locks answering over MQTT.
 */

const site = loadSite(DEMO_SITE_FILE);
const topics = buildingTopics(site.site.id);
const MIN = 60_000;

const protel = site.spaces.find((s) => s.id === 'og2-protel-01');
const neighbour = site.spaces.find((s) => s.id === 'og2-protel-02');
const later = site.spaces.find((s) => s.id === 'og2-protel-03');
const office = site.spaces.find((s) => s.id === 'og3-buero-01');
const desk = site.spaces.find((s) => s.kind === 'desk' && s.bookable && !s.lock);
if (!protel?.lock || !neighbour?.lock || !later?.lock || !office?.lock || office.bookable || !desk)
  throw new Error('the demo site no longer has the spaces this test relies on');
const protelLock = protel.lock;
const officeLock = office.lock;

const building = (t: Test) => unlockBuilding(t, site, [protelLock, officeLock]);

t.test('phone unlock: granted, denied, offline, timeout, replay, audit, rate limit', async (t) => {
  const b = await building(t);
  const bookings = new SqliteBookingStore(b.records, site.site.id);
  const audit = new SqliteAuditLog(b.records);
  const anna = await signedInMember(b.app, b.records, 'member');
  const ben = await signedInMember(b.app, b.records, 'member');
  const fred = await signedInMember(b.app, b.records, 'facility');
  const board = await signedInMember(b.app, b.records, 'board');
  let attempts = 0;
  const unlock = async (space: string, cookie?: string) => {
    if (cookie) attempts++;
    const response = await (b.app as FastifyInstance).inject({
      method: 'POST',
      url: `/api/spaces/${space}/unlock`,
      headers: cookie ? { cookie } : {},
    });
    return { status: response.statusCode, body: response.json(), headers: response.headers };
  };
  const book = async (memberId: string, spaceId: string, start: number, end: number) => {
    const created = await bookings.create({ memberId, spaceId, start, end });
    if (!created.ok) throw new Error(`booking ${spaceId} failed: ${created.reason}`);
    return created.booking;
  };
  const protelControls = b.lock(protelLock);
  const officeControls = b.lock(officeLock);
  const now = Date.now();

  // Every command on the wire, as the broker delivers it (the API account may read its site's topics).
  const spy = await mqtt.connectAsync(b.url, {
    ...b.api,
    clientId: `spy-${randomUUID()}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => spy.endAsync());
  const wire: { topic: string; payload: string }[] = [];
  const results = new Map<string, CommandResultMessage>();
  spy.on('message', (topic, payload) => {
    if (topic.endsWith('/result')) {
      const r = JSON.parse(String(payload)) as CommandResultMessage;
      results.set(r.id, r);
    } else wire.push({ topic, payload: String(payload) });
  });
  await spy.subscribeAsync([topics.allCommands, topics.allCommandResults], { qos: 1 });

  t.test('without sign-in: 401, nothing audited', async (t) => {
    t.equal((await unlock(protel.id)).status, 401);
    t.equal((await audit.query({ action: 'unlock' })).entries.length, 0);
  });

  t.test(
    'denied: no booking, someone else’s space, outside the booking, not bookable, no lock',
    async (t) => {
      t.match(await unlock(protel.id, anna.cookie), {
        status: 403,
        body: { result: 'denied', reason: 'no_booking', space: protel.id },
      });
      await book(ben.member.id, neighbour.id, now - 10 * MIN, now + 50 * MIN);
      t.match(await unlock(neighbour.id, anna.cookie), { status: 403, body: { reason: 'not_your_space' } });
      await book(anna.member.id, later.id, now + 3 * 60 * MIN, now + 4 * 60 * MIN);
      t.match(await unlock(later.id, anna.cookie), { status: 403, body: { reason: 'outside_booking' } });
      t.match(await unlock(office.id, anna.cookie), { status: 403, body: { reason: 'not_bookable' } });
      t.match(await unlock(office.id, board.cookie), { status: 403, body: { reason: 'not_bookable' } });
      t.match(await unlock(desk.id, fred.cookie), { status: 403, body: { reason: 'no_lock' } });
      t.match(await unlock('no-such-room', anna.cookie), { status: 404 });
      t.equal(wire.length, 0, 'no command went out for a denied attempt');
      t.equal(protelControls.commandsReceived(), 0);
    },
  );

  t.test('granted with a booking: the simulated lock ends unlocked', async (t) => {
    await book(anna.member.id, protel.id, now - 5 * MIN, now + 55 * MIN);
    t.equal(protelControls.state(), 1, 'locked before');
    const answer = await unlock(protel.id, anna.cookie);
    t.match(answer, { status: 200, body: { result: 'unlocked', reason: 'booking', lock: protelLock } });
    // The gateway answers on the lock's confirmation; the motor may still be finishing the turn.
    await eventually('the simulated lock unlocked', () => protelControls.state() === 3);
    t.equal(protelControls.commandsReceived(), 1);
    t.equal(wire.length, 1);
    t.equal(wire[0]?.topic, topics.command(protelLock));
    t.equal(JSON.parse(wire[0]?.payload ?? '{}').id, answer.body.commandId);
  });

  t.test('a replayed command is not executed twice', async (t) => {
    const original = wire[0];
    if (!original) throw new Error('no command captured');
    const id = JSON.parse(original.payload).id as string;
    await eventually('the answer to the original', () => results.get(id)?.outcome === 'done');
    results.delete(id);
    await spy.publishAsync(original.topic, original.payload, { qos: 1 });
    await eventually('the answer to the replay', () => results.has(id));
    t.equal(results.get(id)?.outcome, 'duplicate');
    t.equal(protelControls.commandsReceived(), 1, 'the lock got the command once');
  });

  t.test('facility opens a space that is neither booked nor bookable', async (t) => {
    t.match(await unlock(office.id, fred.cookie), {
      status: 200,
      body: { result: 'unlocked', reason: 'staff', lock: officeLock },
    });
    await eventually('the office lock unlocked', () => officeControls.state() === 3);
    t.equal(officeControls.commandsReceived(), 1);
  });

  t.test('an unresponsive lock: timeout', async (t) => {
    await protelControls.setMode('unresponsive');
    const answer = await unlock(protel.id, anna.cookie);
    t.match(answer, { status: 504, body: { result: 'timeout' } });
    await protelControls.setMode('normal');
  });

  t.test('a lock that dropped off the network: lock_offline, nothing sent', async (t) => {
    await protelControls.setMode('offline');
    await eventually('the API hears the lock is offline', () => b.feed.device(protelLock)?.online === false);
    const sent = wire.length;
    t.match(await unlock(protel.id, anna.cookie), { status: 503, body: { result: 'lock_offline' } });
    t.equal(wire.length, sent, 'known offline: no command sent');
    // Without the API's own knowledge, the gateway's answer says the same.
    const blind = new LockCommands({ url: b.url, ...b.api, site });
    blind.start();
    t.teardown(() => blind.close());
    await blind.waitUntilReady();
    t.match(await blind.send(protelLock, 'unlock'), { outcome: 'offline' });
  });

  t.test('the audit log holds every attempt, with the lock’s answer', async (t) => {
    const unlocks = (await audit.query({ action: 'unlock', limit: 500 })).entries;
    t.equal(unlocks.length, attempts, 'one entry per signed-in attempt');
    const granted = unlocks.filter((e) => e.decision === 'granted');
    t.same(granted.map((e) => [e.target, e.detail.result]).reverse(), [
      [protel.id, 'unlocked'],
      [office.id, 'unlocked'],
      [protel.id, 'timeout'],
      [protel.id, 'lock_offline'],
    ]);
    const first = granted[granted.length - 1];
    t.match(first, {
      actor: anna.member.id,
      reason: 'booking',
      detail: { lock: protelLock, outcome: 'done', commandId: String, latencyMs: Number },
    });
    t.same(
      unlocks
        .filter((e) => e.decision === 'denied')
        .map((e) => e.reason)
        .reverse(),
      [
        'no_booking',
        'not_your_space',
        'outside_booking',
        'not_bookable',
        'not_bookable',
        'no_lock',
        'unknown_space',
      ],
    );

    const asMember = await b.app.inject({
      method: 'GET',
      url: '/api/audit',
      headers: { cookie: anna.cookie },
    });
    t.equal(asMember.statusCode, 403, 'members cannot read the audit log');
    const page = await b.app.inject({
      method: 'GET',
      url: `/api/audit?action=unlock&actor=${anna.member.id}&decision=granted&limit=2`,
      headers: { cookie: fred.cookie },
    });
    t.equal(page.statusCode, 200);
    const body = page.json() as { entries: { seq: number; actor: string }[]; next: number | null };
    t.equal(body.entries.length, 2);
    t.ok(body.entries.every((e) => e.actor === anna.member.id));
    t.not(body.next, null);
    const rest = await b.app.inject({
      method: 'GET',
      url: `/api/audit?action=unlock&actor=${anna.member.id}&decision=granted&before=${body.next}`,
      headers: { cookie: fred.cookie },
    });
    t.equal((rest.json() as { entries: unknown[] }).entries.length, 1);
    const bad = await b.app.inject({
      method: 'GET',
      url: '/api/audit?from=yesterday',
      headers: { cookie: fred.cookie },
    });
    t.equal(bad.statusCode, 400);
    t.throws(() => b.records.prepare("UPDATE audit_log SET decision = 'granted'").run(), /append-only/);
    t.throws(() => b.records.prepare('DELETE FROM audit_log').run(), /append-only/);
  });

  t.test('rate limit: a burst of attempts is cut off with 429 and Retry-After, and audited', async (t) => {
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 15; i++) {
      const r = await unlock(desk.id, ben.cookie);
      statuses.push(r.status);
      if (r.status === 429) retryAfter = String(r.headers['retry-after']);
    }
    t.same(statuses.slice(0, 10), Array(10).fill(403), 'ten attempts pass to the rules');
    t.ok(
      statuses.slice(10).every((s) => s === 429),
      'then 429',
    );
    t.ok(Number(retryAfter) >= 1);
    const limited = (await audit.query({ actor: ben.member.id, action: 'unlock' })).entries.filter(
      (e) => e.reason === 'rate_limited',
    );
    t.equal(limited.length, statuses.filter((s) => s === 429).length);
    t.match(await unlock(desk.id, anna.cookie), { status: 403 }, 'another member is not affected');
  });
});

t.test(
  'an integration token opens only the doors it names, in their opening hours; commands:write alone opens none; audited by its label',
  async (t) => {
    // Monday 14 December 2026 10:00 in Berlin: the office (Mon–Fri 07:00–21:00) is open. The rules read this
    // clock; the command's own expiry is the gateway's real time, as in production.
    const MONDAY_10 = Date.UTC(2026, 11, 14, 9, 0);
    const SUNDAY_12 = Date.UTC(2026, 11, 13, 11, 0);
    let clock = MONDAY_10;
    const b = await unlockBuilding(t, site, [protelLock, neighbour.lock ?? '', officeLock], {
      now: () => clock,
    });
    const audit = new SqliteAuditLog(b.records);
    const tokens = new SqliteIntegrationTokens(b.records);
    const doorFlow = await tokens.create({
      label: 'door-flow',
      scopes: 'commands:write,unlock:write',
      // A Protel room by its space, the office by its lock's device id.
      locks: [protel.id, officeLock],
    });
    const switcher = await tokens.create({ label: 'switcher', scopes: 'commands:write' });
    const unlock = async (space: string, secret: string) => {
      const response = await (b.app as FastifyInstance).inject({
        method: 'POST',
        url: `/api/spaces/${space}/unlock`,
        headers: { authorization: `Bearer ${secret}` },
      });
      return { status: response.statusCode, body: response.json(), headers: response.headers };
    };
    const spy = await mqtt.connectAsync(b.url, {
      ...b.api,
      clientId: `spy-${randomUUID()}`,
      reconnectPeriod: 0,
    });
    t.teardown(() => spy.endAsync());
    const wire: { topic: string; id: string }[] = [];
    spy.on('message', (topic, payload) => wire.push({ topic, id: JSON.parse(String(payload)).id }));
    await spy.subscribeAsync(topics.allCommands, { qos: 1 });
    const protelControls = b.lock(protelLock);
    const neighbourControls = b.lock(neighbour.lock ?? '');
    const officeControls = b.lock(officeLock);

    const opened = await unlock(protel.id, doorFlow.secret);
    t.match(opened, {
      status: 200,
      body: { result: 'unlocked', reason: 'opening_hours', lock: protelLock, commandId: String },
    });
    await eventually('the command on the broker', () =>
      wire.some((w) => w.topic === topics.command(protelLock) && w.id === opened.body.commandId),
    );
    await eventually('the simulated lock unlocked', () => protelControls.state() === 3);
    t.equal(protelControls.commandsReceived(), 1, 'the lock got the command once');

    t.match(await unlock(neighbour.id, doorFlow.secret), {
      status: 403,
      body: { result: 'denied', reason: 'not_on_token', space: neighbour.id },
    });
    const refused = await unlock(protel.id, switcher.secret);
    t.equal(refused.status, 403, 'commands:write alone opens nothing');
    t.match(
      refused.body.message,
      /token "switcher" may not POST \/api\/spaces\/:id\/unlock: it lacks the scope unlock:write/,
    );

    clock = SUNDAY_12;
    t.match(await unlock(office.id, doorFlow.secret), {
      status: 403,
      body: { result: 'denied', reason: 'outside_opening_hours' },
    });
    clock = MONDAY_10;
    t.match(await unlock(office.id, doorFlow.secret), {
      status: 200,
      body: { result: 'unlocked', reason: 'opening_hours', lock: officeLock },
    });
    await eventually('the office lock unlocked', () => officeControls.state() === 3);
    t.equal(neighbourControls.commandsReceived(), 0, 'the door not on the list got nothing');
    t.same(
      wire.map((w) => w.topic),
      [topics.command(protelLock), topics.command(officeLock)],
      'two commands on the wire, both for doors on the list',
    );

    const byToken = (
      await audit.query({ actor: `token:${doorFlow.token.id}`, action: 'unlock' })
    ).entries.reverse();
    t.same(
      byToken.map((e) => [e.target, e.decision, e.reason, e.detail.token]),
      [
        [protel.id, 'granted', 'opening_hours', 'door-flow'],
        [neighbour.id, 'denied', 'not_on_token', 'door-flow'],
        [office.id, 'denied', 'outside_opening_hours', 'door-flow'],
        [office.id, 'granted', 'opening_hours', 'door-flow'],
      ],
      'every decision audited with the token’s label',
    );
    t.match(byToken[0]?.detail, { lock: protelLock, outcome: 'done', commandId: opened.body.commandId });
    const scopeRefusal = (await audit.query({ actor: `token:${switcher.token.id}` })).entries;
    t.match(scopeRefusal, [
      {
        action: 'token_use',
        decision: 'denied',
        reason: 'scope_missing',
        target: 'POST /api/spaces/:id/unlock',
        detail: { label: 'switcher', needs: 'unlock:write' },
      },
    ]);

    // The member's rate: ten taps in a burst, then 429, audited with the label; a member is not affected. The
    // bucket was full again after the clock's day back and forth: one tap of it is taken (the office's).
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await unlock(neighbour.id, doorFlow.secret)).status);
    t.same(statuses.slice(0, 9), Array(9).fill(403), 'the rest of the burst passes to the rules');
    t.ok(
      statuses.slice(9).every((s) => s === 429),
      'then 429',
    );
    const limited = (
      await audit.query({ actor: `token:${doorFlow.token.id}`, action: 'unlock' })
    ).entries.filter((e) => e.reason === 'rate_limited');
    t.equal(limited.length, 3);
    t.ok(limited.every((e) => e.detail.token === 'door-flow'));
    const fred = await signedInMember(b.app, b.records, 'facility');
    const inject = await (b.app as FastifyInstance).inject({
      method: 'POST',
      url: `/api/spaces/${neighbour.id}/unlock`,
      headers: { cookie: fred.cookie },
    });
    t.equal(inject.statusCode, 200, 'a member has a bucket of their own');
  },
);
