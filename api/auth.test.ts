import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import {
  ANY_MEMBER,
  BOARD_AND_ADMIN,
  ROLES,
  type Role,
  type RouteAccess,
  STAFF,
  STAFF_AND_BOARD,
} from '../access/roles.ts';
import { TOKEN_REFUSAL_STATUS, TOKEN_SCOPE_NAMES, type TokenScope } from '../access/token-scopes.ts';
import { BuildingFeed } from '../building/live-feed.ts';
import type { RecordsDb } from '../database/database.ts';
import { Quarantine } from '../gateway/quarantine.ts';
import { Identity } from '../members/identity.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import { createTestMember, signIn, testRecords } from '../test-support/members.ts';
import { smallBuilding, testProfiles } from '../test-support/small-building.ts';
import { type ApiOptions, buildApi } from './app.ts';
import { auth, decideAccess, decideIntegration, MissingAccessError } from './auth.ts';
import { DASHBOARD_PAGES } from './dashboard-pages.ts';

/**
 * Who may call what. Every route the API registers must be in EXPECTED_ACCESS (keyed "METHOD /url" as
 * registered; HEAD follows its GET), so a new route cannot slip in without someone deciding who may call it.
 * Routes listed here that do not exist (yet) are fine.
 */
const EXPECTED_ACCESS: Record<string, RouteAccess> = {
  'GET /': 'public',
  'GET /api/health': 'public',
  'GET /api/ready': 'public',
  'POST /api/auth/login': 'public',
  'POST /api/auth/logout': 'public',
  'GET /api/me': ANY_MEMBER,
  'GET /api/site': STAFF_AND_BOARD,
  'GET /api/devices': STAFF,
  'GET /api/devices/:id': STAFF,
  'GET /api/spaces/:id/latest': STAFF_AND_BOARD,
  'GET /api/readings/latest': STAFF_AND_BOARD,
  'GET /api/series': STAFF_AND_BOARD,
  'GET /api/board/report': STAFF_AND_BOARD,
  'GET /api/board/report.csv': STAFF_AND_BOARD,
  // Board and admins of this house; the handler refuses (and audits) whoever is not on the board of every
  // house of the network (access/roles.ts readsNetwork).
  'GET /api/network/report': BOARD_AND_ADMIN,
  'GET /api/network/report.csv': BOARD_AND_ADMIN,
  // The site switch: staff or board here, and the handler decides (and audits) the role in that house.
  'GET /api/network/houses/:site/report': STAFF_AND_BOARD,
  'GET /api/network/houses/:site/report.csv': STAFF_AND_BOARD,
  'GET /api/network/sites': ANY_MEMBER,
  // The facility view's site switch: every member in, the handler decides (and audits) the role in that house
  // (api/house-facility-routes.test.ts holds the matrix of roles per house).
  'GET /api/network/houses/:site/facility/overview': ANY_MEMBER,
  'GET /api/network/houses/:site/facility/energy-days': ANY_MEMBER,
  'GET /api/network/houses/:site/facility/occupancy-hours': ANY_MEMBER,
  'GET /api/network/houses/:site/series': ANY_MEMBER,
  'GET /api/network/houses/:site/live': ANY_MEMBER,
  'GET /api/network/houses/:site/alerts': ANY_MEMBER,
  'GET /api/network/houses/:site/alerts/live': ANY_MEMBER,
  // Members belong to the network: every member in, the handler decides by the role in that house (a guest
  // books and opens only what its `guests` open to their home; api/house-routes.test.ts holds the matrix).
  'GET /api/houses': ANY_MEMBER,
  'GET /api/houses/:site/spaces': ANY_MEMBER,
  'GET /api/houses/:site/spaces/:id/availability': ANY_MEMBER,
  'POST /api/houses/:site/bookings': ANY_MEMBER,
  'DELETE /api/houses/:site/bookings/:id': ANY_MEMBER,
  'POST /api/houses/:site/spaces/:id/unlock': ANY_MEMBER,
  'PATCH /api/houses/:site/bookings/:id': ANY_MEMBER,
  'POST /api/houses/:site/booking-series/preview': ANY_MEMBER,
  'POST /api/houses/:site/booking-series': ANY_MEMBER,
  'GET /api/houses/:site/booking-series/:id': ANY_MEMBER,
  'DELETE /api/houses/:site/booking-series/:id': ANY_MEMBER,
  'POST /api/houses/:site/booking-series/:id/change/preview': ANY_MEMBER,
  'POST /api/houses/:site/booking-series/:id/change': ANY_MEMBER,
  'GET /api/me/bookings': ANY_MEMBER,
  'GET /api/board/common-good': BOARD_AND_ADMIN,
  'GET /api/board/common-good.csv': BOARD_AND_ADMIN,
  'GET /api/quarantine': STAFF,
  'GET /api/facility/overview': STAFF,
  'GET /api/facility/energy-days': STAFF_AND_BOARD,
  'GET /api/facility/occupancy-hours': STAFF_AND_BOARD,
  'GET /api/live': STAFF_AND_BOARD,
  'GET /api/events/live': STAFF,
  'GET /api/lobby': 'lobby',
  'GET /api/lobby/live': 'lobby',
  'POST /api/spaces/:id/unlock': ANY_MEMBER,
  'POST /api/devices/:id/commands': STAFF,
  'GET /api/audit': STAFF,
  'GET /api/alerts': STAFF_AND_BOARD,
  'POST /api/alerts/:id/acknowledge': STAFF,
  'GET /api/alerts/live': STAFF_AND_BOARD,
  'GET /api/spaces': ANY_MEMBER,
  'GET /api/spaces/:id/availability': ANY_MEMBER,
  'POST /api/bookings': ANY_MEMBER,
  'GET /api/bookings': ANY_MEMBER,
  'DELETE /api/bookings/:id': ANY_MEMBER,
  'GET /api/me/calendar.ics': ANY_MEMBER,
  'GET /api/me/calendar-token': ANY_MEMBER,
  'POST /api/me/calendar-token': ANY_MEMBER,
  'DELETE /api/me/calendar-token': ANY_MEMBER,
  // The calendar feed's secret is in its URL (phones cannot sign in to subscribe).
  'GET /api/calendar/:token.ics': 'public',
  'POST /api/booking-series/preview': ANY_MEMBER,
  'POST /api/booking-series': ANY_MEMBER,
  'GET /api/booking-series/:id': ANY_MEMBER,
  'DELETE /api/booking-series/:id': ANY_MEMBER,
  'POST /api/booking-series/:id/change/preview': ANY_MEMBER,
  'POST /api/booking-series/:id/change': ANY_MEMBER,
  'PATCH /api/bookings/:id': ANY_MEMBER,
  // Public events are for anyone: the page /events and calendar apps without an account.
  'GET /api/public/events': 'public',
  'GET /api/public/events.ics': 'public',
  'GET /api/events': ANY_MEMBER,
  'POST /api/events': ANY_MEMBER,
  'DELETE /api/events/:id': ANY_MEMBER,
  // Visitors sign up without an account (rate-limited per address, validated); their token is in the body.
  'POST /api/public/events/:eventId/dates/:dateId/signups': 'public',
  'POST /api/public/signups/status': 'public',
  'POST /api/public/signups/cancel': 'public',
  // The organiser's own events (staff: any); the handler answers 404 for another's.
  'GET /api/me/events': ANY_MEMBER,
  'GET /api/events/:eventId/dates/:dateId/counts': ANY_MEMBER,
  'PUT /api/events/:eventId/dates/:dateId/attendance': ANY_MEMBER,
  // Notices on spaces: put up by the facility or an automation, read by who booked the room and the lobby.
  'PUT /api/spaces/:id/notices/:topic': STAFF,
  'DELETE /api/spaces/:id/notices/:topic': STAFF,
  'GET /api/me/notices': ANY_MEMBER,
  'GET /api/lobby/notices': 'lobby',
  // A member gives and revokes guest keys for their own bookings (the handler refuses another's room).
  'POST /api/guest-keys': ANY_MEMBER,
  'GET /api/guest-keys': ANY_MEMBER,
  'DELETE /api/guest-keys/:id': ANY_MEMBER,
  'POST /api/houses/:site/guest-keys': ANY_MEMBER,
  'POST /api/houses/:site/events': ANY_MEMBER,
  // A guest has no account: the key's secret in the body is the credential (rate-limited per address and
  // per key; only the POST of a tap opens, never a GET).
  'POST /api/public/guest-key': 'public',
  'POST /api/public/guest-key/unlock': 'public',
};

/**
 * The routes an integration token may use, and with which scope (access/token-scopes.ts); every other route
 * lets no token in. Keyed like EXPECTED_ACCESS.
 */
const EXPECTED_TOKEN_SCOPE: Record<string, TokenScope> = {
  'GET /api/readings/latest': 'readings:read',
  'GET /api/spaces/:id/latest': 'readings:read',
  'GET /api/series': 'readings:read',
  'GET /api/live': 'readings:read',
  'GET /api/devices': 'readings:read',
  'GET /api/devices/:id': 'readings:read',
  'GET /api/site': 'spaces:read',
  'GET /api/spaces': 'spaces:read',
  'GET /api/spaces/:id/availability': 'bookings:read',
  'GET /api/events/live': 'feed:read',
  'POST /api/devices/:id/commands': 'commands:write',
  // A door, only one the token names (--locks) and only while it is meant to be in use: the handler decides.
  'POST /api/spaces/:id/unlock': 'unlock:write',
  'PUT /api/spaces/:id/notices/:topic': 'notices:write',
  'DELETE /api/spaces/:id/notices/:topic': 'notices:write',
};

const DASHBOARD_FILE = /^\/(assets\/[\w.-]+|[\w.-]+\.(html|svg|png|webmanifest|js))$/;

function expectedAccess(method: string, url: string): RouteAccess | undefined {
  // The OpenAPI viewer and its assets: public documentation, nothing of the building.
  if (url === '/docs' || url.startsWith('/docs/')) return 'public';
  // The dashboard's pages and built files: the same for everyone, every figure comes from the API.
  if ((DASHBOARD_PAGES as readonly string[]).includes(url) || DASHBOARD_FILE.test(url)) return 'public';
  return EXPECTED_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

async function api(t: Test, extra: Partial<Omit<ApiOptions, 'records'>> & { records?: RecordsDb } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-auth-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const site = smallBuilding();
  const store = new SqliteStore({ file: path.join(dir, 'readings.db') });
  t.teardown(() => store.close());
  const quarantine = new Quarantine(path.join(dir, 'gateway.db'));
  t.teardown(() => quarantine.close());
  const feed = new BuildingFeed({ url: 'mqtt://127.0.0.1:1', site });
  t.teardown(() => feed.close());
  const records = extra.records ?? testRecords(t);
  const app = await buildApi({ site, store, feed, quarantine, profiles: testProfiles(), records, ...extra });
  t.teardown(() => app.close());
  return { app, records };
}

type Caller = {
  name: string;
  headers: Record<string, string>;
  query?: string;
  role?: Role;
  lobby?: boolean;
  /** An integration token with these scopes. */
  scopes?: TokenScope[];
};

async function callers(app: Awaited<ReturnType<typeof api>>['app'], records: RecordsDb): Promise<Caller[]> {
  const list: Caller[] = [
    { name: 'nobody', headers: {} },
    {
      name: 'forged cookie',
      headers: { cookie: 'wesprint_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    },
  ];
  const { token } = await new Identity(records).lobbyTokens.create('matrix');
  list.push({ name: 'lobby token (Bearer)', headers: { authorization: `Bearer ${token}` }, lobby: true });
  list.push({ name: 'lobby token (?token=)', headers: {}, query: `token=${token}`, lobby: true });
  for (const role of ROLES) {
    const { member, password } = await createTestMember(records, { role });
    list.push({ name: role, headers: { cookie: await signIn(app, member.email, password) }, role });
  }
  // The site dimension (a network, SITES_DIR): roles are per site. A member whose home is another house is a
  // plain member in this one, whatever their role at home; a role given here is theirs here.
  for (const role of ROLES) {
    const { member, password } = await createTestMember(records, { role, homeSite: 'another-house' });
    const cookie = await signIn(app, member.email, password);
    list.push({ name: `${role} of another house`, headers: { cookie }, role: 'member' });
  }
  const members = new SqliteMemberStore(records);
  for (const role of ['facility', 'admin'] as const) {
    const { member, password } = await createTestMember(records, {
      role: 'member',
      homeSite: 'another-house',
    });
    await members.setSiteRole(member.id, smallBuilding().site.id, role);
    await members.setSiteRole(member.id, 'a-third-house', 'admin');
    const cookie = await signIn(app, member.email, password);
    list.push({ name: `member of another house, ${role} here`, headers: { cookie }, role });
  }
  const tokens = new Identity(records).integrationTokens;
  for (const scopes of [TOKEN_SCOPE_NAMES, ['commands:write'] as TokenScope[]]) {
    const locks = scopes.includes('unlock:write') ? ['protel-1'] : [];
    const { secret } = await tokens.create({ label: `matrix ${scopes.length}`, scopes, locks });
    list.push({ name: `token ${scopes.join(',')}`, headers: { authorization: `Bearer ${secret}` }, scopes });
  }
  return list;
}

function concreteUrl(url: string, query?: string): string {
  const filled = url
    .replace(/:id\b/g, 'protel-1')
    .replace(/:token\b/g, 'not-a-real-token')
    .replace(/:[A-Za-z_]+/g, 'x')
    .replace(/\*/g, 'index.css');
  return query ? `${filled}${filled.includes('?') ? '&' : '?'}${query}` : filled;
}

t.test('authorization matrix: every registered route × every caller, no unexpected 2xx', async (t) => {
  const { app, records } = await api(t, { loginRateLimit: { max: 10_000, timeWindowMs: 60_000 } });
  await app.ready();
  // Signing out ends the callers' sessions: that route goes last.
  const isLogout = (r: { url: string }) => r.url === '/api/auth/logout';
  const routes = [...app.accessTable.filter((r) => !isLogout(r)), ...app.accessTable.filter(isLogout)];
  t.ok(routes.length >= 20, `the API registered ${routes.length} routes`);

  for (const route of routes) {
    const expected = expectedAccess(route.method, route.url);
    t.ok(expected !== undefined, `${route.method} ${route.url} is in the expectation table`);
    if (expected !== undefined)
      t.same(route.access, expected, `${route.method} ${route.url} declares the expected access`);
    const scope = EXPECTED_TOKEN_SCOPE[`${route.method === 'HEAD' ? 'GET' : route.method} ${route.url}`];
    t.equal(route.tokenScope, scope ?? null, `${route.method} ${route.url} admits tokens as expected`);
  }

  const who = await callers(app, records);
  let denied = 0;
  let allowed = 0;
  const unexpected: string[] = [];
  for (const route of routes) {
    const access = expectedAccess(route.method, route.url);
    if (access === undefined) continue;
    for (const caller of who) {
      const member = caller.role ? { id: 'x', email: 'x', name: 'x', role: caller.role } : null;
      const token = caller.scopes
        ? {
            id: 'x',
            label: 'x',
            scopes: caller.scopes,
            site: null,
            locks: [],
            createdAt: 0,
            lastUsedAt: null,
            revokedAt: null,
          }
        : null;
      const refusal = token ? decideIntegration(access, route.tokenScope ?? undefined, token, 'x') : 'ok';
      const decision = token
        ? refusal === 'ok'
          ? 'ok'
          : TOKEN_REFUSAL_STATUS[refusal]
        : decideAccess(access, member, caller.lobby ?? false);
      const res = await app.inject({
        method: route.method as 'GET',
        url: concreteUrl(route.url, caller.query),
        headers: {
          ...caller.headers,
          ...(route.method === 'GET' || route.method === 'HEAD'
            ? {}
            : { 'content-type': 'application/json' }),
        },
        ...(route.method === 'GET' || route.method === 'HEAD' || route.method === 'DELETE'
          ? {}
          : { payload: '{}' }),
      });
      const what = `${caller.name} ${route.method} ${route.url} -> ${res.statusCode}`;
      if (decision === 'ok') {
        allowed++;
        // A handler may still refuse this object (someone else's booking, no booking for the lock): that 403
        // is the handler's; the route-level refusal says "may not METHOD /url".
        const routeRefusal = res.statusCode === 403 && /may not [A-Z]+ \//.test(res.body);
        if (res.statusCode === 401 || routeRefusal) unexpected.push(`${what} (should be let in)`);
      } else {
        denied++;
        if (res.statusCode !== decision) unexpected.push(`${what} (expected ${decision})`);
      }
    }
  }
  t.same(unexpected, [], 'every caller is let in or turned away exactly as declared');
  t.ok(denied > 50 && allowed > 50, `both sides exercised (${denied} denied, ${allowed} allowed)`);
});

t.test('the access rule itself', async (t) => {
  const member = (role: Role) => ({ id: 'm', email: 'm@x', name: 'm', role });
  t.equal(decideAccess('public', null, false), 'ok');
  t.equal(decideAccess('lobby', null, false), 401);
  t.equal(decideAccess('lobby', null, true), 'ok');
  t.equal(decideAccess('lobby', member('member'), false), 'ok');
  t.equal(decideAccess(STAFF, null, false), 401);
  t.equal(decideAccess(STAFF, null, true), 403, 'a lobby token is a credential, but not enough');
  t.equal(decideAccess(STAFF, member('board'), false), 403);
  t.equal(decideAccess(STAFF, member('facility'), false), 'ok');
  t.equal(decideAccess([], member('admin'), false), 403, 'an empty list lets nobody in');
});

t.test('a route without config.access is refused at registration (default deny)', async (t) => {
  const records = testRecords(t);
  const bare = Fastify();
  t.teardown(() => bare.close());
  await bare.register(auth, { identity: new Identity(records) });
  t.throws(() => bare.get('/api/forgotten', async () => ({ secret: true })), MissingAccessError);
  t.throws(() => bare.post('/api/forgotten', async () => ({})), /declares no config\.access/);
  t.doesNotThrow(() => bare.get('/api/declared', { config: { access: STAFF } }, async () => ({})));

  const { app } = await api(t);
  t.throws(
    () => app.get('/api/also-forgotten', async () => ({})),
    MissingAccessError,
    'the built API refuses one too',
  );
});

t.test('sign in, me, sign out: cookie and bearer', async (t) => {
  const { app, records } = await api(t);
  const { member, password } = await createTestMember(records, { role: 'board', email: 'Bo@Coop.example' });

  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email: 'BO@coop.example', password },
  });
  t.equal(login.statusCode, 200);
  t.same(login.json().member, member);
  t.notOk(login.body.includes('password_hash') || login.body.includes('scrypt'), 'no hash in the answer');
  const cookie = login.cookies.find((c) => c.name === 'wesprint_session');
  if (!cookie) throw new Error('no session cookie');
  t.equal(cookie.value, login.json().token, 'the token in the body is the cookie');
  t.equal(cookie.httpOnly, true);
  t.equal(cookie.sameSite, 'Strict');
  t.equal(cookie.path, '/');
  t.notOk(cookie.secure, 'plain HTTP: no Secure flag (the browser would drop the cookie)');
  t.match(String(login.headers['set-cookie']), /HttpOnly/);

  const me = await app.inject({ url: '/api/me', headers: { cookie: `wesprint_session=${cookie.value}` } });
  t.same(me.json(), { member });
  const byBearer = await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${cookie.value}` } });
  t.same(byBearer.json(), { member }, 'the same token as Bearer');

  const noone = await app.inject('/api/me');
  t.equal(noone.statusCode, 401);
  t.same(Object.keys(noone.json()).sort(), ['error', 'message', 'statusCode']);
  t.match(noone.headers['www-authenticate'], /Bearer/);

  const out = await app.inject({
    method: 'POST',
    url: '/api/auth/logout',
    headers: { cookie: `wesprint_session=${cookie.value}` },
  });
  t.equal(out.statusCode, 204);
  const cleared = out.cookies.find((c) => c.name === 'wesprint_session');
  t.ok(
    cleared && (cleared.value === '' || (cleared.expires && cleared.expires.getTime() < Date.now())),
    'cookie cleared',
  );
  const after = await app.inject({ url: '/api/me', headers: { cookie: `wesprint_session=${cookie.value}` } });
  t.equal(after.statusCode, 401, 'the token is dead after sign-out');
  t.equal(
    (await app.inject({ method: 'POST', url: '/api/auth/logout' })).statusCode,
    204,
    'signing out twice is fine',
  );

  const lobbyToken = (await new Identity(records).lobbyTokens.create('foyer')).token;
  const lobbyMe = await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${lobbyToken}` } });
  t.equal(lobbyMe.statusCode, 403, 'a lobby screen is not a member');
});

t.test('Secure cookie behind a TLS proxy (trustProxy)', async (t) => {
  const { app, records } = await api(t, { trustProxy: true });
  const { member, password } = await createTestMember(records, { role: 'member' });
  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { 'x-forwarded-proto': 'https' },
    payload: { email: member.email, password },
  });
  t.equal(login.statusCode, 200);
  t.equal(login.cookies.find((c) => c.name === 'wesprint_session')?.secure, true);

  const untrusted = await api(t);
  const other = await createTestMember(untrusted.records, { role: 'member' });
  const spoofed = await untrusted.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { 'x-forwarded-proto': 'https' },
    payload: { email: other.member.email, password: other.password },
  });
  t.notOk(
    spoofed.cookies.find((c) => c.name === 'wesprint_session')?.secure,
    'without trustProxy a forwarded header is not believed',
  );
});

t.test(
  'bad credentials: one message for unknown e-mail and wrong password; waits after failures; rate limit',
  async (t) => {
    const { app, records } = await api(t, { loginRateLimit: { max: 1000, timeWindowMs: 60_000 } });
    const { member, password } = await createTestMember(records, { role: 'member' });
    const login = (email: string, pw: string) =>
      app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password: pw } });

    const unknown = await login('nobody@coop.example', password);
    const wrong = await login(member.email, 'definitely-wrong');
    t.equal(unknown.statusCode, 401);
    t.equal(wrong.statusCode, 401);
    t.equal(unknown.json().message, wrong.json().message, 'no hint whether the e-mail exists');
    t.notOk(unknown.headers['set-cookie'], 'no cookie on failure');

    for (const body of [{}, { email: member.email }, { email: 'x', password: 'y'.repeat(2000) }, '[]']) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: typeof body === 'string' ? body : JSON.stringify(body),
      });
      t.equal(res.statusCode, 400, `malformed body ${JSON.stringify(body).slice(0, 40)} is a 400`);
    }

    for (let i = 0; i < 3; i++) t.equal((await login(member.email, `wrong-${i}`)).statusCode, 401);
    const held = await login(member.email, password);
    t.equal(
      held.statusCode,
      429,
      'after four failures from this address it waits, even with the right password',
    );
    t.match(held.json().message, /too many failed sign-ins for this account from this address/);
    t.ok(Number(held.headers['retry-after']) > 0, 'Retry-After says when');
    const owner = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      remoteAddress: '127.0.0.78',
      payload: { email: member.email, password },
    });
    t.equal(owner.statusCode, 200, 'the owner elsewhere is not locked out');

    const limited = await api(t, { loginRateLimit: { max: 3, timeWindowMs: 60_000 } });
    const m2 = await createTestMember(limited.records, { role: 'member' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (
          await limited.app.inject({
            method: 'POST',
            url: '/api/auth/login',
            payload: { email: `guess-${i}@coop.example`, password: 'guess-guess' },
          })
        ).statusCode,
      );
    }
    const fourth = await limited.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: m2.member.email, password: m2.password },
    });
    t.same(statuses, [401, 401, 401]);
    t.equal(fourth.statusCode, 429, 'one address trying many accounts is slowed down per address');
    t.same(Object.keys(fourth.json()).sort(), ['error', 'message', 'statusCode'], 'the usual error shape');
    const fromElsewhere = await limited.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      remoteAddress: '127.0.0.77',
      payload: { email: m2.member.email, password: m2.password },
    });
    t.equal(fromElsewhere.statusCode, 200, 'another address is not affected');
  },
);

t.test('lobby tokens: ?token= or Bearer on lobby routes, revoked tokens refused', async (t) => {
  const { app, records } = await api(t);
  app.get('/test/lobby-only', { config: { access: 'lobby' } }, async (request) => ({
    lobby: request.lobby,
    member: request.member?.id ?? null,
  }));
  const identity = new Identity(records);
  const { id, token } = await identity.lobbyTokens.create('foyer');
  t.same((await app.inject(`/test/lobby-only?token=${token}`)).json(), { lobby: true, member: null });
  t.same(
    (await app.inject({ url: '/test/lobby-only', headers: { authorization: `Bearer ${token}` } })).json(),
    { lobby: true, member: null },
  );
  t.equal((await app.inject('/test/lobby-only')).statusCode, 401);
  t.equal((await app.inject('/test/lobby-only?token=made-up')).statusCode, 401);
  await identity.lobbyTokens.revoke(id);
  t.equal((await app.inject(`/test/lobby-only?token=${token}`)).statusCode, 401, 'revoked');
});
