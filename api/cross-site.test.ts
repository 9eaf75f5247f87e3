import t from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { Identity } from '../members/identity.ts';
import { testApi } from '../test-support/api.ts';
import { signedInMember } from '../test-support/members.ts';
import { upgradeStatus } from '../test-support/small-building.ts';
import { crossSiteReason, trustedOriginsFrom } from './cross-site.ts';

const EVIL = 'http://evil.example';

t.test('the rule: what a browser marks as from elsewhere, for state changes and upgrades only', async (t) => {
  const host = 'wesprint.example:8080';
  const judge = (signals: Partial<Parameters<typeof crossSiteReason>[0]>, trusted?: Set<string>) =>
    crossSiteReason({ method: 'POST', host, ...signals }, trusted);
  t.equal(judge({}), null, 'no Origin, no Sec-Fetch-Site: curl, scripts, integrations');
  t.equal(judge({ origin: 'http://wesprint.example:8080' }), null, 'its own origin');
  t.equal(judge({ origin: 'https://WESPRINT.example:8080' }), null, 'host compared without case or scheme');
  t.equal(judge({ secFetchSite: 'same-origin' }), null);
  t.equal(judge({ secFetchSite: 'none' }), null, 'typed by the user');
  t.equal(judge({ origin: EVIL }), 'foreign_origin');
  t.equal(judge({ origin: 'http://localhost', host: 'localhost:80' }), null, 'a default port written out');
  t.equal(judge({ origin: 'https://localhost', host: 'localhost:443' }), null);
  t.equal(judge({ origin: 'http://localhost:8080', host: 'localhost' }), 'foreign_origin');
  t.equal(
    judge({ origin: 'http://wesprint.example:9999' }),
    'foreign_origin',
    'another port is another origin',
  );
  t.equal(judge({ origin: 'null' }), 'foreign_origin', 'an opaque origin');
  t.equal(judge({ origin: 'not a url' }), 'foreign_origin');
  t.equal(judge({ secFetchSite: 'cross-site' }), 'cross_site');
  t.equal(judge({ secFetchSite: 'same-site', origin: 'http://app.wesprint.example' }), 'cross_site');
  t.equal(judge({ secFetchSite: 'cross-site', origin: 'http://wesprint.example:8080' }), 'cross_site');
  for (const method of ['PUT', 'PATCH', 'DELETE', 'post'])
    t.equal(judge({ method, origin: EVIL }), 'foreign_origin');
  for (const method of ['GET', 'HEAD', 'OPTIONS'])
    t.equal(judge({ method, origin: EVIL }), null, `${method} changes nothing`);
  t.equal(
    judge({ method: 'GET', upgrade: 'websocket', origin: EVIL }),
    'foreign_origin',
    'a WebSocket upgrade',
  );
  t.equal(judge({ method: 'GET', upgrade: 'WebSocket', secFetchSite: 'cross-site' }), 'cross_site');
  t.equal(
    judge({ origin: 'https://wesprint.example' }, new Set(['https://wesprint.example'])),
    null,
    'trusted',
  );
  t.same(trustedOriginsFrom(' https://A.example/ ,,http://b.example:8080'), [
    'https://a.example',
    'http://b.example:8080',
  ]);
  t.same(trustedOriginsFrom(undefined), []);
});

t.test(
  'cross-site state changes are refused and audited; same-origin, scripts and Bearer tokens work',
  async (t) => {
    const { app, records } = await testApi(t);
    const member = await signedInMember(app, records, 'member');
    const facility = await signedInMember(app, records, 'facility');
    const audit = new SqliteAuditLog(records);
    const post = (url: string, headers: Record<string, string>, payload?: string) =>
      app.inject({ method: 'POST', url, headers, ...(payload !== undefined ? { payload } : {}) });

    // The probe's requests: a page of another site posting with the victim's cookie.
    for (const [url, cookie] of [
      ['/api/me/calendar-token', member.cookie],
      ['/api/spaces/protel-1/unlock', facility.cookie],
      ['/api/alerts/1/acknowledge', facility.cookie],
    ] as const) {
      for (const headers of [
        { origin: EVIL, 'content-type': 'text/plain' } as Record<string, string>,
        { origin: EVIL },
        { 'sec-fetch-site': 'cross-site' },
        { origin: 'null' },
      ]) {
        const res = await post(url, { cookie, ...headers }, headers['content-type'] ? 'x' : undefined);
        t.equal(res.statusCode, 403, `${url} ${JSON.stringify(headers)}`);
        t.match(res.json().message, /another (site|origin)/);
      }
    }
    t.same(
      (await app.inject({ url: '/api/me/calendar-token', headers: { cookie: member.cookie } })).json(),
      { active: false, issuedAt: null },
      'no calendar link was made',
    );
    const refusals = (await audit.query({ action: 'cross_site_request' })).entries;
    t.equal(refusals.length, 12, 'every refusal is in the audit log');
    t.match(refusals.at(-1), {
      actor: member.member.id,
      target: 'POST /api/me/calendar-token',
      decision: 'denied',
      reason: 'foreign_origin',
      detail: { origin: EVIL, secFetchSite: null },
    });
    t.ok(
      refusals.some((r) => r.actor === facility.member.id && r.reason === 'cross_site'),
      'who was signed in, and why',
    );

    const signIn = await post(
      '/api/auth/login',
      { origin: EVIL, 'content-type': 'application/json' },
      JSON.stringify({ email: member.member.email, password: member.password }),
    );
    t.equal(
      signIn.statusCode,
      403,
      'no sign-in into an account of the attacker’s choosing from another site',
    );
    t.notOk(signIn.headers['set-cookie']);
    t.equal((await post('/api/auth/logout', { cookie: member.cookie, origin: EVIL })).statusCode, 403);
    t.equal(
      (await app.inject({ url: '/api/me', headers: { cookie: member.cookie } })).statusCode,
      200,
      'the session survived the cross-site sign-out',
    );

    // The same requests from the API's own pages, from curl and with a Bearer token.
    const own = { origin: 'http://localhost:80', 'sec-fetch-site': 'same-origin' };
    const made = await post(
      '/api/me/calendar-token',
      { cookie: member.cookie, ...own, 'content-type': 'application/json' },
      '{}',
    );
    t.equal(made.statusCode, 201, 'the member page makes its calendar link');
    t.equal(
      (await post('/api/me/calendar-token', { cookie: member.cookie })).statusCode,
      201,
      'curl, no Origin',
    );
    const token = member.cookie.split('=')[1] ?? '';
    t.equal(
      (await post('/api/me/calendar-token', { authorization: `Bearer ${token}` })).statusCode,
      201,
      'a script with a Bearer token',
    );
    const unlock = await post('/api/spaces/protel-1/unlock', { cookie: facility.cookie, ...own });
    t.notMatch(unlock.body, /another (site|origin)/, 'the facility page may unlock');
    t.equal((await post('/api/alerts/1/acknowledge', { cookie: facility.cookie, ...own })).statusCode, 404);
    t.equal(
      (await audit.query({ action: 'cross_site_request' })).entries.length,
      12 + 2,
      'nothing more refused',
    );
  },
);

t.test('bodies are JSON: text/plain and forms are refused (415) even from the own origin', async (t) => {
  const { app, records } = await testApi(t);
  const member = await signedInMember(app, records, 'member');
  for (const [type, payload] of [
    ['text/plain', '{"spaceId":"protel-1"}'],
    ['application/x-www-form-urlencoded', 'spaceId=protel-1'],
    ['multipart/form-data; boundary=x', '--x--'],
  ] as const) {
    for (const url of ['/api/bookings', '/api/me/calendar-token', '/api/spaces/protel-1/unlock']) {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { cookie: member.cookie, 'content-type': type },
        payload,
      });
      t.equal(res.statusCode, 415, `${type} to ${url}`);
      t.match(res.json().message, /request bodies are JSON: send Content-Type: application\/json/);
    }
  }
  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    headers: { 'content-type': 'text/plain' },
    payload: JSON.stringify({ email: member.member.email, password: member.password }),
  });
  t.equal(login.statusCode, 415, 'sign-in takes JSON only');
});

t.test('WebSocket upgrades from another origin are refused before the upgrade', async (t) => {
  const { app, records } = await testApi(t, { lobbyPublic: false });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const ws = address.replace(/^http/, 'ws');
  const own = address;
  const admin = await signedInMember(app, records, 'admin');
  const lobby = (await new Identity(records).lobbyTokens.create('Foyer')).token;
  const audit = new SqliteAuditLog(records);
  for (const [path, headers] of [
    ['/api/live', { cookie: admin.cookie }],
    ['/api/alerts/live', { cookie: admin.cookie }],
    [`/api/lobby/live?token=${lobby}`, {}],
  ] as const) {
    t.equal(
      await upgradeStatus(`${ws}${path}`, { ...headers, origin: EVIL }),
      403,
      `${path}: foreign origin`,
    );
    t.equal(
      await upgradeStatus(`${ws}${path}`, { ...headers, 'sec-fetch-site': 'cross-site' }),
      403,
      `${path}: cross-site`,
    );
    t.equal(await upgradeStatus(`${ws}${path}`, { ...headers, origin: own }), 'open', `${path}: own origin`);
    t.equal(await upgradeStatus(`${ws}${path}`, headers), 'open', `${path}: no Origin (a script)`);
  }
  const refused = (await audit.query({ action: 'cross_site_request' })).entries;
  t.equal(refused.length, 6);
  t.ok(
    refused.some((r) => r.target === 'GET /api/lobby/live' && !JSON.stringify(r.detail).includes(lobby)),
    'audited without the lobby token',
  );
});
