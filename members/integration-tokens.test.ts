import { createHash } from 'node:crypto';
import t from 'tap';
import { SqliteAuditLog } from '../access/sqlite-audit-log.ts';
import { testRecords } from '../test-support/members.ts';
import {
  INTEGRATION_TOKEN_PREFIX,
  IntegrationTokenError,
  issueToken,
  revokeToken,
  TOKEN_TOUCH_EVERY_MS,
} from './integration-tokens.ts';
import { SqliteIntegrationTokens } from './sqlite-integration-tokens.ts';

const T0 = Date.UTC(2026, 10, 2, 9, 0);

t.test(
  'created once, kept only as a hash, resolved by the secret, marked used at most once a minute',
  async (t) => {
    const records = testRecords(t);
    const tokens = new SqliteIntegrationTokens(records);
    const { token, secret } = await tokens.create(
      { label: 'node-red', scopes: 'readings:read,feed:read,commands:write' },
      T0,
    );
    t.ok(secret.startsWith(INTEGRATION_TOKEN_PREFIX) && secret.length >= 40, 'a long prefixed secret');
    t.same(token.scopes, ['readings:read', 'feed:read', 'commands:write']);
    t.equal(token.site, null);
    t.equal(token.lastUsedAt, null);
    const stored = records.prepare('SELECT * FROM integration_tokens').all() as Record<string, unknown>[];
    t.equal(stored.length, 1);
    const dump = JSON.stringify(stored);
    t.notOk(dump.includes(secret) || dump.includes(secret.slice(4)), 'the secret is nowhere in the table');
    t.equal(stored[0]?.id, createHash('sha256').update(secret).digest('hex'), 'its SHA-256 is the key');
    t.equal(token.id, String(stored[0]?.id).slice(0, 12), 'shown by the start of its hash');

    t.equal((await tokens.resolve(secret, T0 + 1000))?.lastUsedAt, T0 + 1000, 'first use marked');
    t.equal(
      (await tokens.resolve(secret, T0 + 2000))?.lastUsedAt,
      T0 + 1000,
      'not rewritten within a minute',
    );
    t.equal(
      (await tokens.resolve(secret, T0 + 1000 + TOKEN_TOUCH_EVERY_MS, { touch: false }))?.lastUsedAt,
      T0 + 1000,
      'a socket check is not a use',
    );
    t.equal((await tokens.resolve(secret, T0 + 1000 + TOKEN_TOUCH_EVERY_MS))?.lastUsedAt, T0 + 61_000);
    t.equal(await tokens.resolve(`${secret.slice(0, -1)}A`), undefined, 'another secret is nobody');
    t.equal(await tokens.resolve('not-prefixed-but-long-enough'), undefined);
  },
);

t.test('labels, scopes and sites are checked; an active label names one token', async (t) => {
  const tokens = new SqliteIntegrationTokens(testRecords(t));
  await t.rejects(tokens.create({ label: '', scopes: 'feed:read' }), IntegrationTokenError);
  await t.rejects(tokens.create({ label: 'x'.repeat(65), scopes: 'feed:read' }), /1 to 64/);
  await t.rejects(tokens.create({ label: 'ok', scopes: 'feed:write' }), /unknown scope "feed:write"/);
  await t.rejects(tokens.create({ label: 'ok', scopes: '' }), /at least one scope/);
  await t.rejects(tokens.create({ label: 'ok', scopes: 'feed:read', site: 'Not A Site' }), /not a site id/);
  const first = await tokens.create({ label: 'node-red', scopes: ['feed:read'], site: 'demo' }, T0);
  t.equal(first.token.site, 'demo');
  await t.rejects(tokens.create({ label: 'node-red', scopes: 'feed:read' }), /labelled "node-red" already/);
  t.equal((await tokens.revoke('node-red', T0 + 1)).outcome, 'revoked', 'revoked by label');
  const again = await tokens.create({ label: 'node-red', scopes: 'readings:read' }, T0 + 2);
  t.not(again.token.id, first.token.id, 'the label is free again once revoked');
  const list = await tokens.list();
  t.same(
    list.map((l) => [l.label, l.revokedAt]),
    [
      ['node-red', T0 + 1],
      ['node-red', null],
    ],
    'revoked tokens stay listed',
  );
  t.equal((await tokens.resolve(first.secret))?.revokedAt, T0 + 1, 'a revoked token is still recognised');
});

t.test('revoked by shown id or label, ambiguity and absence said; create and revoke audited', async (t) => {
  const records = testRecords(t);
  const tokens = new SqliteIntegrationTokens(records);
  const audit = new SqliteAuditLog(records);
  const keeper = { actor: null, via: 'cli' as const };
  const a = await issueToken(tokens, audit, { label: 'a', scopes: 'feed:read' }, keeper, T0);
  await issueToken(tokens, audit, { label: 'b', scopes: 'spaces:read' }, keeper, T0);
  t.equal((await revokeToken(tokens, audit, a.token.id, keeper, T0 + 5)).outcome, 'revoked');
  t.equal((await revokeToken(tokens, audit, a.token.id, keeper, T0 + 6)).outcome, 'not_found', 'once');
  t.equal((await tokens.revoke('nobody')).outcome, 'not_found');
  // Two rows whose hashes start alike (written directly: real hashes sharing 6 hex digits are rare).
  const insert = records.prepare(
    "INSERT INTO integration_tokens (id, label, scopes, created_at) VALUES (?, ?, 'feed:read', 0)",
  );
  insert.run(`abcdef${'0'.repeat(58)}`, 'twin-1');
  insert.run(`abcdef${'1'.repeat(58)}`, 'twin-2');
  t.equal((await tokens.revoke('abcdef')).outcome, 'ambiguous', 'a prefix of two is said so');
  t.equal((await tokens.revoke('abcdef1')).outcome, 'revoked', 'more of it names one');
  await audit.record({ actor: null, action: 'marker', target: null, decision: 'granted', reason: null });

  const entries = (await audit.query({})).entries.reverse();
  t.same(
    entries.map((e) => [e.action, e.decision, e.reason, e.target]),
    [
      ['token_create', 'granted', 'cli', `token:${a.token.id}`],
      ['token_create', 'granted', 'cli', entries[1]?.target],
      ['token_revoke', 'granted', 'cli', `token:${a.token.id}`],
      ['token_revoke', 'denied', 'not_found', null],
      ['marker', 'granted', null, null],
    ],
  );
  t.same(entries[0]?.detail, { label: 'a', scopes: ['feed:read'], site: null });
  t.notOk(JSON.stringify(entries).includes(a.secret), 'never the secret');
});
