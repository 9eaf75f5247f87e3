import { createHash } from 'node:crypto';
import t from 'tap';
import { recordsContract } from '../test-support/records.ts';
import {
  INTEGRATION_TOKEN_PREFIX,
  IntegrationTokenError,
  issueToken,
  revokeToken,
  TOKEN_TOUCH_EVERY_MS,
} from './integration-tokens.ts';

const T0 = Date.UTC(2026, 10, 2, 9, 0);

recordsContract(
  t,
  'created once, kept only as a hash, resolved by the secret, marked used at most once a minute',
  async (t, records) => {
    const tokens = records.integrationTokens;
    const { token, secret } = await tokens.create(
      { label: 'node-red', scopes: 'readings:read,feed:read,commands:write' },
      T0,
    );
    t.ok(secret.startsWith(INTEGRATION_TOKEN_PREFIX) && secret.length >= 40, 'a long prefixed secret');
    t.same(token.scopes, ['readings:read', 'feed:read', 'commands:write']);
    t.equal(token.site, null);
    t.equal(token.lastUsedAt, null);
    const stored = (await records.column(
      "SELECT id || ' ' || label || ' ' || scopes || ' ' || coalesce(site, '') FROM integration_tokens",
    )) as string[];
    t.equal(stored.length, 1);
    const dump = JSON.stringify(stored);
    t.notOk(dump.includes(secret) || dump.includes(secret.slice(4)), 'the secret is nowhere in the table');
    const id = stored[0]?.split(' ')[0];
    t.equal(id, createHash('sha256').update(secret).digest('hex'), 'its SHA-256 is the key');
    t.equal(token.id, String(id).slice(0, 12), 'shown by the start of its hash');

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
    // The last character changed (to A, or B when it was A already: one secret in 64 ends in A).
    const another = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    t.equal(await tokens.resolve(another), undefined, 'another secret is nobody');
    t.equal(await tokens.resolve('not-prefixed-but-long-enough'), undefined);
  },
);

recordsContract(
  t,
  'labels, scopes and sites are checked; an active label names one token',
  async (t, records) => {
    const tokens = records.integrationTokens;
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
  },
);

recordsContract(
  t,
  'revoked by shown id or label, ambiguity and absence said; create and revoke audited',
  async (t, records) => {
    const tokens = records.integrationTokens;
    const audit = records.audit;
    const keeper = { actor: null, via: 'cli' as const };
    const a = await issueToken(tokens, audit, { label: 'a', scopes: 'feed:read' }, keeper, T0);
    await issueToken(tokens, audit, { label: 'b', scopes: 'spaces:read' }, keeper, T0);
    t.equal((await revokeToken(tokens, audit, a.token.id, keeper, T0 + 5)).outcome, 'revoked');
    t.equal((await revokeToken(tokens, audit, a.token.id, keeper, T0 + 6)).outcome, 'not_found', 'once');
    t.equal((await tokens.revoke('nobody')).outcome, 'not_found');
    // Two rows whose hashes start alike (written directly: real hashes sharing 6 hex digits are rare).
    const insert = (id: string, label: string) =>
      records.exec(
        `INSERT INTO integration_tokens (id, label, scopes, created_at) VALUES ('${id}', '${label}', 'feed:read', 0)`,
      );
    await insert(`abcdef${'0'.repeat(58)}`, 'twin-1');
    await insert(`abcdef${'1'.repeat(58)}`, 'twin-2');
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
  },
);

recordsContract(
  t,
  'the doors a token opens: only with unlock:write, kept with it, read back, audited at creation',
  async (t, records) => {
    const tokens = records.integrationTokens;
    await t.rejects(tokens.create({ label: 'x', scopes: 'unlock:write' }), /unlock:write needs --locks/);
    await t.rejects(
      tokens.create({ label: 'x', scopes: 'commands:write', locks: ['og2-protel-01'] }),
      /--locks goes with the scope unlock:write/,
    );
    await t.rejects(
      tokens.create({ label: 'x', scopes: 'unlock:write', locks: 'Protel 201' }),
      /locks "Protel": space or lock ids/,
    );
    const doors = await issueToken(
      tokens,
      records.audit,
      {
        label: 'door-flow',
        scopes: 'commands:write,unlock:write',
        locks: 'og2-protel-01, og3-buero-01-lock,og2-protel-01',
      },
      { actor: null, via: 'cli' },
      T0,
    );
    t.same(doors.token.locks, ['og2-protel-01', 'og3-buero-01-lock'], 'each door once, as given');
    t.same((await tokens.resolve(doors.secret, T0))?.locks, ['og2-protel-01', 'og3-buero-01-lock']);
    const plain = await tokens.create({ label: 'switcher', scopes: 'commands:write' }, T0 + 1);
    t.same((await tokens.resolve(plain.secret, T0))?.locks, [], 'a token without unlock:write names no door');
    t.same(
      (await tokens.list()).map((l) => [l.label, l.locks]),
      [
        ['door-flow', ['og2-protel-01', 'og3-buero-01-lock']],
        ['switcher', []],
      ],
    );
    t.same(await records.column('SELECT locks FROM integration_tokens ORDER BY label'), [
      'og2-protel-01 og3-buero-01-lock',
      null,
    ]);
    const [created] = (await records.audit.query({ action: 'token_create' })).entries;
    t.same(created?.detail.locks, ['og2-protel-01', 'og3-buero-01-lock'], 'the doors are in the audit entry');
  },
);
