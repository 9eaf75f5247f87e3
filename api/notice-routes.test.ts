import t from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { SqliteBookingStore } from '../bookings/sqlite-booking-store.ts';
import { Identity } from '../members/identity.ts';
import { issueToken } from '../members/integration-tokens.ts';
import { testApi } from '../test-support/api.ts';
import { createTestMember, signIn, testRecords } from '../test-support/members.ts';

/**
 * Notices on spaces through real HTTP: put up by a token with notices:write (Node-RED's flow) or the facility,
 * refused to a token without it and to a member; read on the member view by whoever has booked the room now,
 * and by the lobby; replaced by the same topic, gone once taken down or past its end; audited.
 */

const CLI = { actor: null, via: 'cli' as const };
const MIN = 60_000;

t.test('a notice goes up, shows to who booked the room and in the lobby, and comes down', async (t) => {
  const records = testRecords(t);
  const identity = new Identity(records);
  let now = Date.UTC(2026, 10, 4, 9, 0);
  const { app, site } = await testApi(t, { records, identity, now: () => now });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const audit = new SqliteAuditLog(records);
  const call = (method: string, path: string, auth: Record<string, string>, body?: unknown) =>
    fetch(base + path, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const { secret: writer, token } = await issueToken(
    identity.integrationTokens,
    audit,
    { label: 'node-red', scopes: 'readings:read,notices:write' },
    CLI,
  );
  const { secret: reader } = await issueToken(
    identity.integrationTokens,
    audit,
    { label: 'dashboard-script', scopes: 'readings:read,commands:write' },
    CLI,
  );
  const booker = await createTestMember(records, { role: 'member' });
  const other = await createTestMember(records, { role: 'member' });
  const bookings = new SqliteBookingStore(records, site.site.id);
  const made = await bookings.create(
    { memberId: booker.member.id, spaceId: 'protel-1', start: now - 30 * MIN, end: now + 60 * MIN },
    now - 60 * MIN,
  );
  t.ok(made.ok, 'the member has booked Protel 1 now');
  const bookerCookie = { cookie: await signIn(app, booker.member.email, booker.password) };
  const otherCookie = { cookie: await signIn(app, other.member.email, other.password) };

  const body = { message: 'CO2 1240 ppm: please open a window', level: 'warning', minutes: 10 };
  const refused = await call('PUT', '/api/spaces/protel-1/notices/air', bearer(reader), body);
  t.equal(refused.status, 403, 'a token without notices:write is refused');
  t.equal(
    (await call('PUT', '/api/spaces/protel-1/notices/air', otherCookie, body)).status,
    403,
    'a member too',
  );
  t.equal((await call('PUT', '/api/spaces/protel-1/notices/air', {}, body)).status, 401, 'anonymous');
  t.equal((await call('PUT', '/api/spaces/nowhere/notices/air', bearer(writer), body)).status, 404);
  t.equal(
    (await call('PUT', '/api/spaces/protel-1/notices/Air!', bearer(writer), body)).status,
    400,
    'a topic is a lower-case word',
  );
  t.equal(
    (await call('PUT', '/api/spaces/protel-1/notices/air', bearer(writer), { message: '' })).status,
    400,
    'an empty message',
  );

  const put = await call('PUT', '/api/spaces/protel-1/notices/air', bearer(writer), body);
  t.equal(put.status, 200, 'put up by the flow');
  const shown = {
    space: 'protel-1',
    topic: 'air',
    message: body.message,
    level: 'warning',
    postedAt: now,
    expiresAt: now + 10 * MIN,
  };
  const mine = async (auth: Record<string, string>) =>
    ((await (await call('GET', '/api/me/notices', auth)).json()) as { notices: unknown[] }).notices;
  t.same(await mine(bookerCookie), [shown], 'the member who booked the room sees it');
  t.same(await mine(otherCookie), [], 'a member who did not book it does not');
  const lobby = async () =>
    ((await (await call('GET', '/api/lobby/notices', bookerCookie)).json()) as { notices: unknown[] })
      .notices;
  t.same(await lobby(), [shown], 'the lobby shows it on the room');
  t.equal((await call('GET', '/api/lobby/notices', {})).status, 401, 'the lobby needs its token');
  t.equal((await call('GET', '/api/me/notices', bearer(writer))).status, 403, 'a token is no member');

  now += MIN;
  await call('PUT', '/api/spaces/protel-1/notices/air', bearer(writer), { ...body, message: 'CO2 1400 ppm' });
  t.same(
    (await mine(bookerCookie)).map((n) => (n as { message: string }).message),
    ['CO2 1400 ppm'],
    'the same topic replaces it',
  );
  now += 11 * MIN;
  t.same(await mine(bookerCookie), [], 'past its end it is gone by itself');
  await call('PUT', '/api/spaces/protel-1/notices/air', bearer(writer), body);
  t.equal((await call('DELETE', '/api/spaces/protel-1/notices/air', bearer(reader))).status, 403);
  t.equal(
    (await call('DELETE', '/api/spaces/protel-1/notices/air', bearer(writer))).status,
    204,
    'taken down',
  );
  t.same(await lobby(), [], 'and gone from the lobby');

  const entries = (await audit.query({ action: 'space_notice' })).entries.reverse();
  t.same(
    entries.map((e) => [e.actor, e.target, e.reason]),
    [
      [`token:${token.id}`, 'protel-1', 'posted'],
      [`token:${token.id}`, 'protel-1', 'posted'],
      [`token:${token.id}`, 'protel-1', 'posted'],
      [`token:${token.id}`, 'protel-1', 'cleared'],
    ],
    'each put up and taken down audited',
  );
});
