/**
 * Tokens for integrations (Node-RED, scripts, a building management system): what a token may be granted,
 * as data, and the rule that decides whether a token is let in on a route. A token is not a member: it has
 * no role, and a route lets one in only when the route names the scope that admits it (`config.tokenScope`
 * beside `config.access`); a route that names none lets no token in, whatever its scopes.
 */

/** Every scope a token can hold, with what it opens (shown by `wesprint tokens create --help` and the README). */
export const TOKEN_SCOPES = {
  'readings:read':
    'latest readings, time series, the devices and their health, and the live readings channel /api/live',
  'feed:read': 'the event feed /api/events/live (bookings, check-ins, no-shows, alerts, doors opened)',
  'spaces:read': 'the site: floors, spaces and their devices (/api/site, /api/spaces)',
  'bookings:read': "a space's busy and free times (/api/spaces/:id/availability; booking ids, never who)",
  'commands:write': 'commands to the building: switches, thermostats (the commands route)',
  'unlock:write':
    "opening the doors named on the token (--locks: spaces or their locks), through a space's unlock route, in its opening hours or during a booking of it",
  'notices:write':
    "notices on a space's member view and lobby tile (PUT/DELETE /api/spaces/:id/notices/:topic), e.g. stale air",
} as const;

export type TokenScope = keyof typeof TOKEN_SCOPES;

export const TOKEN_SCOPE_NAMES = Object.keys(TOKEN_SCOPES) as TokenScope[];

export function isTokenScope(value: string): value is TokenScope {
  return Object.hasOwn(TOKEN_SCOPES, value);
}

export class TokenScopeError extends Error {
  override name = 'TokenScopeError';
}

/** `readings:read,feed:read` as the command line gives it: known scopes, each once, in the vocabulary's order. */
export function parseScopes(text: string): TokenScope[] {
  const asked = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (asked.length === 0) throw new TokenScopeError('a token needs at least one scope');
  const unknown = asked.filter((s) => !isTokenScope(s));
  if (unknown.length > 0)
    throw new TokenScopeError(
      `unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => `"${s}"`).join(', ')} (scopes: ${TOKEN_SCOPE_NAMES.join(', ')})`,
    );
  return TOKEN_SCOPE_NAMES.filter((s) => asked.includes(s));
}

/** A token as the access rule sees it. */
export interface TokenGrant {
  scopes: readonly TokenScope[];
  /** The site the token is for; null: whichever site the API serves. */
  site: string | null;
  revoked: boolean;
}

/**
 * Why a token is turned away: not one of ours, revoked, on a route no token may use, without the route's
 * scope, or made for another site. The first two answer 401 (the credentials are worthless), the rest 403.
 */
export type TokenRefusal = 'unknown_token' | 'revoked' | 'not_for_tokens' | 'scope_missing' | 'other_site';

export const TOKEN_REFUSAL_STATUS: Record<TokenRefusal, 401 | 403> = {
  unknown_token: 401,
  revoked: 401,
  not_for_tokens: 403,
  scope_missing: 403,
  other_site: 403,
};

/**
 * Whether a token is let in on a route that admits tokens with `routeScope` (undefined: no token), on the API
 * of `siteId`. Pure.
 */
export function decideToken(
  token: TokenGrant | undefined,
  routeScope: TokenScope | undefined,
  siteId: string,
): 'ok' | TokenRefusal {
  if (!token) return 'unknown_token';
  if (token.revoked) return 'revoked';
  if (token.site !== null && token.site !== siteId) return 'other_site';
  if (routeScope === undefined) return 'not_for_tokens';
  return token.scopes.includes(routeScope) ? 'ok' : 'scope_missing';
}
