import t, { type Test } from 'tap';
import type WebSocket from 'ws';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { Identity } from '../members/identity.ts';
import { issueToken, revokeToken } from '../members/integration-tokens.ts';
import { testApi } from '../test-support/api.ts';
import { createTestMember, signedInMember, testRecords } from '../test-support/members.ts';
import { listenWebSocket, upgradeStatus } from '../test-support/small-building.ts';
import { CREDENTIALS_ENDED } from './socket-sessions.ts';

/**
 * Integration tokens as Node-RED uses them: real HTTP and WebSockets through the API on an ephemeral port,
 * tokens made and revoked as `wesprint tokens` does (with its audit entries), the refusals read back from the
 * audit log.
 */

const CLI = { actor: null, via: 'cli' as const };

function closeCode(socket: WebSocket, ms: number): Promise<number | 'still open'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still open'), ms);
    socket.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function setUp(t: Test, socketCheckMs = 3_600_000) {
  const records = testRecords(t);
  const identity = new Identity(records);
  const now = Date.UTC(2026, 10, 4, 9, 0);
  const { app, site } = await testApi(t, { records, identity, socketCheckMs, now: () => now });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const audit = new SqliteAuditLog(records);
  const get = (path: string, token?: string) =>
    fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { app, records, identity, site, base, ws: base.replace(/^http/, 'ws'), audit, get, now };
}

t.test('a token is let in by its scopes only, on the routes that name them; refusals audited', async (t) => {
  const { identity, audit, get } = await setUp(t);
  const tokens = identity.integrationTokens;
  const { token, secret } = await issueToken(
    tokens,
    audit,
    { label: 'node-red', scopes: 'readings:read,spaces:read' },
    CLI,
  );

  const readings = await get('/api/readings/latest', secret);
  t.equal(readings.status, 200, 'readings:read opens the latest readings');
  t.same(await readings.json(), { readings: [] });
  t.equal((await get('/api/site', secret)).status, 200, 'spaces:read opens the site');
  t.equal((await get('/api/spaces', secret)).status, 200, 'and the bookable spaces');
  t.equal((await get('/api/devices', secret)).status, 200, 'the devices are readings:read');

  const noScope = await get('/api/spaces/protel-1/availability', secret);
  t.equal(noScope.status, 403, 'bookings:read is not among its scopes');
  t.match(
    ((await noScope.json()) as { message: string }).message,
    /token "node-red" may not GET \/api\/spaces\/:id\/availability: it lacks the scope bookings:read/,
  );
  const notForTokens = await get('/api/audit', secret);
  t.equal(notForTokens.status, 403, 'the audit log lets no token in, whatever its scopes');
  t.match(((await notForTokens.json()) as { message: string }).message, /no token scope admits this route/);
  t.equal((await get('/api/me', secret)).status, 403, 'a token is not a member');
  t.equal((await get('/api/health', secret)).status, 200, 'public routes stay public');
  const made = `wsp_${'A'.repeat(43)}`;
  const unknown = await get('/api/readings/latest', made);
  t.equal(unknown.status, 401, 'a made-up token');
  t.match(unknown.headers.get('www-authenticate') ?? '', /Bearer/);

  const listed = (await tokens.list())[0];
  t.ok(listed?.lastUsedAt !== null, 'its use is marked in the list');

  t.equal((await revokeToken(tokens, audit, 'node-red', CLI)).outcome, 'revoked');
  const after = await get('/api/readings/latest', secret);
  t.equal(after.status, 401, 'revoked: refused at once, by the next request');
  t.match(((await after.json()) as { message: string }).message, /token "node-red" has been revoked/);

  const refusals = (await audit.query({ action: 'token_use' })).entries.reverse();
  t.same(
    refusals.map((e) => [e.actor, e.target, e.reason, e.decision]),
    [
      [`token:${token.id}`, 'GET /api/spaces/:id/availability', 'scope_missing', 'denied'],
      [`token:${token.id}`, 'GET /api/audit', 'not_for_tokens', 'denied'],
      [`token:${token.id}`, 'GET /api/me', 'not_for_tokens', 'denied'],
      [null, 'GET /api/readings/latest', 'unknown_token', 'denied'],
      [`token:${token.id}`, 'GET /api/readings/latest', 'revoked', 'denied'],
    ],
    'every refused use, with the token (never its secret) and the route',
  );
  t.same(refusals[0]?.detail.needs, 'bookings:read');
  t.equal(refusals[0]?.detail.ip, '127.0.0.1');
  const all = JSON.stringify((await audit.query({})).entries);
  t.notOk(all.includes(secret) || all.includes(made), 'no secret in the audit log');
  t.same(
    (await audit.query({ action: 'token_create' })).entries.map((e) => e.target),
    [`token:${token.id}`],
  );
  t.same(
    (await audit.query({ action: 'token_revoke' })).entries.map((e) => e.target),
    [`token:${token.id}`],
  );
});

t.test('bookings:read: busy times with booking ids, never whose', async (t) => {
  const { records, identity, get, now, site } = await setUp(t);
  const { member } = await createTestMember(records, { role: 'member' });
  const booked = await new SqliteBookingStore(records, site.site.id).create(
    { memberId: member.id, spaceId: 'protel-1', start: now + 3_600_000, end: now + 7_200_000 },
    now,
  );
  if (!booked.ok) throw new Error('booking refused');
  const { secret } = await identity.integrationTokens.create({ label: 'heating', scopes: 'bookings:read' });
  const res = await get('/api/spaces/protel-1/availability', secret);
  t.equal(res.status, 200);
  const body = (await res.json()) as { busy: unknown[] };
  t.same(body.busy, [
    {
      start: new Date(now + 3_600_000).toISOString(),
      end: new Date(now + 7_200_000).toISOString(),
      mine: false,
      bookingId: booked.booking.id,
    },
  ]);
  t.notOk(JSON.stringify(body).includes(member.id), 'no member id');
});

t.test('a token made for another site is refused on this one', async (t) => {
  const { identity, audit, get, site } = await setUp(t);
  const here = await identity.integrationTokens.create({
    label: 'here',
    scopes: 'readings:read',
    site: site.site.id,
  });
  const there = await identity.integrationTokens.create({
    label: 'there',
    scopes: 'readings:read',
    site: 'north',
  });
  t.equal((await get('/api/readings/latest', here.secret)).status, 200);
  t.equal((await get('/api/readings/latest', there.secret)).status, 403);
  t.same(
    (await audit.query({ action: 'token_use' })).entries.map((e) => e.reason),
    ['other_site'],
  );
});

t.test(
  'WebSockets: a token opens the channels its scopes name; revoked, its socket closes at the next check',
  async (t) => {
    const { identity, audit, ws, app, records } = await setUp(t, 100);
    const tokens = identity.integrationTokens;
    const reader = await tokens.create({ label: 'reader', scopes: 'readings:read' });
    const other = await tokens.create({ label: 'other', scopes: 'readings:read,spaces:read' });
    const feedOnly = await tokens.create({ label: 'feed', scopes: 'feed:read' });
    const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

    t.equal(
      await upgradeStatus(`${ws}/api/live`, bearer(feedOnly.secret)),
      403,
      'feed:read does not open /api/live',
    );
    t.equal(
      await upgradeStatus(`${ws}/api/alerts/live`, bearer(reader.secret)),
      403,
      'no scope opens alerts',
    );
    t.equal(await upgradeStatus(`${ws}/api/lobby/live`, bearer(reader.secret)), 403, 'nor the lobby');
    const live = await listenWebSocket(t, `${ws}/api/live`, bearer(reader.secret));
    const stays = await listenWebSocket(t, `${ws}/api/live`, bearer(other.secret));
    const facility = await signedInMember(app, records, 'facility');
    const member = await listenWebSocket(t, `${ws}/api/live`, { cookie: facility.cookie });
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(live.messages[0]?.type, 'hello', 'the live channel speaks to it');

    const closing = closeCode(live.socket, 5_000);
    await revokeToken(tokens, audit, 'reader', CLI);
    t.equal(await closing, CREDENTIALS_ENDED, 'closed within the check');
    t.equal(await closeCode(stays.socket, 300), 'still open', "another token's socket stays");
    t.equal(await closeCode(member.socket, 10), 'still open', "a member's socket stays");
    t.equal(await upgradeStatus(`${ws}/api/live`, bearer(reader.secret)), 401, 'and it cannot come back');
    const closedEntry = (await audit.query({ action: 'token_use' })).entries.find(
      (e) => e.detail.socket === 'closed',
    );
    t.equal(closedEntry?.reason, 'revoked', 'the closed socket is audited as a refused use');
    t.equal(closedEntry?.target, 'GET /api/live');
  },
);

t.test('the OpenAPI document names the scope of every route a token may use', async (t) => {
  const { app } = await setUp(t);
  const spec = (await app.inject('/docs/json')).json() as {
    paths: Record<string, Record<string, { description?: string }>>;
  };
  t.match(spec.paths['/api/readings/latest']?.get?.description, /Integration tokens: scope `readings:read`/);
  t.match(spec.paths['/api/live']?.get?.description, /scope `readings:read`/);
  t.match(spec.paths['/api/spaces/{id}/availability']?.get?.description, /scope `bookings:read`/);
  t.notMatch(spec.paths['/api/audit']?.get?.description ?? '', /Integration tokens/);
});
