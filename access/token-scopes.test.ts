import t from 'tap';
import {
  decideToken,
  parseScopes,
  TOKEN_REFUSAL_STATUS,
  TOKEN_SCOPE_NAMES,
  TOKEN_SCOPES,
  TokenScopeError,
} from './token-scopes.ts';

t.test('the scope vocabulary: the names integrations are given, each with what it opens', async (t) => {
  for (const scope of [
    'readings:read',
    'feed:read',
    'spaces:read',
    'bookings:read',
    'commands:write',
    'unlock:write',
  ])
    t.ok(TOKEN_SCOPE_NAMES.includes(scope as never), `${scope} is a scope`);
  for (const scope of TOKEN_SCOPE_NAMES) {
    t.match(scope, /^[a-z]+:(read|write)$/, `${scope} is <what>:<read|write>`);
    t.ok(TOKEN_SCOPES[scope].length > 10, `${scope} says what it opens`);
  }
});

t.test('scopes as typed: known ones, each once, in the vocabulary order; unknown ones named', async (t) => {
  t.same(parseScopes('feed:read,readings:read'), ['readings:read', 'feed:read']);
  t.same(parseScopes(' commands:write , feed:read feed:read'), ['feed:read', 'commands:write']);
  t.throws(() => parseScopes(''), TokenScopeError);
  t.throws(() => parseScopes(' , '), /at least one scope/);
  t.throws(
    () => parseScopes('readings:read,readings:write,admin'),
    /unknown scopes "readings:write", "admin"/,
  );
  t.throws(() => parseScopes('toString'), /unknown scope "toString"/, 'no prototype names');
});

t.test(
  'the rule: revoked and unknown end the credentials; a route without a scope admits no token',
  async (t) => {
    const token = { scopes: ['readings:read', 'feed:read'] as const, site: null, revoked: false };
    t.equal(decideToken(token, 'readings:read', 'demo'), 'ok');
    t.equal(decideToken(token, 'feed:read', 'other'), 'ok', 'a token without a site works on any');
    t.equal(decideToken(token, 'commands:write', 'demo'), 'scope_missing');
    t.equal(decideToken(token, undefined, 'demo'), 'not_for_tokens', 'default: a token gets nothing');
    t.equal(decideToken({ ...token, revoked: true }, 'readings:read', 'demo'), 'revoked');
    t.equal(decideToken(undefined, 'readings:read', 'demo'), 'unknown_token');
    t.equal(decideToken({ ...token, site: 'demo' }, 'readings:read', 'demo'), 'ok');
    t.equal(decideToken({ ...token, site: 'north' }, 'readings:read', 'demo'), 'other_site');
    t.equal(TOKEN_REFUSAL_STATUS.revoked, 401);
    t.equal(TOKEN_REFUSAL_STATUS.unknown_token, 401);
    t.equal(TOKEN_REFUSAL_STATUS.scope_missing, 403);
    t.equal(TOKEN_REFUSAL_STATUS.not_for_tokens, 403);
    t.equal(TOKEN_REFUSAL_STATUS.other_site, 403);
  },
);
