import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { AuditLog } from '../access/audit-log.ts';
import type { Member, RouteAccess } from '../access/roles.ts';
import {
  decideToken,
  TOKEN_REFUSAL_STATUS,
  type TokenRefusal,
  type TokenScope,
} from '../access/token-scopes.ts';
import type { Identity } from '../members/identity.ts';
import { INTEGRATION_TOKEN_PREFIX, type IntegrationToken } from '../members/integration-tokens.ts';
import { errorBody } from './errors.ts';
import { redactUrl } from './request-log.ts';

/**
 * Who is calling, and may they. Every route declares `config.access` (default deny: registering one
 * without it throws, so a forgotten declaration fails at start, not in production). Credentials:
 *   - the `wesprint_session` cookie a browser gets from POST /api/auth/login (HttpOnly, SameSite=Strict,
 *     Secure over TLS);
 *   - `Authorization: Bearer <token>` with a session token (apps, scripts) or a lobby-screen token;
 *   - `?token=<lobby token>` for lobby screens that cannot set headers (a kiosk URL);
 *   - `Authorization: Bearer wsp_…` with an integration token (`wesprint tokens create`): no member and no
 *     role; a route lets one in only when it declares `config.tokenScope` and the token holds that scope
 *     (access/token-scopes.ts). Every refused use of one is written to the audit log.
 * The check runs in onRequest, so it also guards WebSocket upgrades.
 */

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered so far with the access it declares (for the authorization matrix and audits). */
    accessTable: readonly RouteAccessEntry[];
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** The scope that lets an integration token in; absent: no token, whatever its scopes (default deny). */
    tokenScope?: TokenScope;
  }
  interface FastifyRequest {
    /** The signed-in member, or null. */
    member: Member | null;
    /** True when the caller holds a valid lobby-screen token. */
    lobby: boolean;
    /** The session token this request was made with (to sign it out), or null. */
    sessionToken: string | null;
    /** The valid lobby-screen token this request was made with, or null. */
    lobbyToken: string | null;
    /** The house that lobby token shows (a token made with --site), or null (any: the one the API serves). */
    lobbySite: string | null;
    /** The integration token that was let in on this request (never when a member signed in), or null. */
    integration: IntegrationToken | null;
    /** The integration token's secret, when one was presented (for open sockets to decide again), or null. */
    integrationSecret: string | null;
  }
}

export const SESSION_COOKIE = 'wesprint_session';

export interface RouteAccessEntry {
  method: string;
  url: string;
  access: RouteAccess;
  /** The scope that lets an integration token in, or null: none does. */
  tokenScope: TokenScope | null;
  /** The route's schema as registered (for tests that probe every parameter of every route). */
  schema: RouteOptions['schema'];
}

export interface AuthOptions {
  identity: Identity;
  /** The site this API serves: a token made for another site is refused. Without it, every site-bound one is. */
  siteId?: string;
  /** Where refused uses of integration tokens are written; without it they are only refused. */
  audit?: AuditLog;
  /** Keeps the per-route request limits (the login route's) in Redis, shared by every API process. */
  rateLimitRedis?: Redis;
}

const kScopeAccess = Symbol.for('wesprint.scopeAccess');

/**
 * Gives every route registered in `scope` (and its children) this access unless it declares its own. Only
 * for third-party plugins whose routes cannot carry a config, such as the OpenAPI viewer at /docs.
 */
export function declareScopeAccess(scope: FastifyInstance, access: RouteAccess): void {
  scope.decorate(kScopeAccess, access as never);
}

export class MissingAccessError extends Error {
  override name = 'MissingAccessError';
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+([A-Za-z0-9_-]{16,128})\s*$/i.exec(header);
  return m?.[1];
}

function lobbyQueryToken(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown> | undefined;
  const token = query && typeof query === 'object' ? query.token : undefined;
  if (typeof token === 'string' && token.length <= 128) return token;
  // onRequest runs before the query is validated; fall back to the raw URL so even the upgrade sees it.
  const q = request.url.indexOf('?');
  if (q < 0) return undefined;
  const raw = new URLSearchParams(request.url.slice(q + 1)).get('token');
  return raw !== null && raw.length <= 128 ? raw : undefined;
}

/** Who the credentials name, without deciding anything yet. */
async function identify(identity: Identity, request: FastifyRequest): Promise<void> {
  const fromCookie = request.cookies[SESSION_COOKIE];
  const fromHeader = bearer(request);
  for (const token of [fromCookie, fromHeader]) {
    if (!token || token.length > 128) continue;
    // On the clock the session was started by (the identity's), not the wall clock.
    const member = await identity.sessions.resolve(token, identity.now());
    if (member) {
      request.member = member;
      request.sessionToken = token;
      return;
    }
  }
  if (fromHeader?.startsWith(INTEGRATION_TOKEN_PREFIX)) {
    // An integration token is never a session or a lobby token: it is decided by its scopes alone.
    request.integrationSecret = fromHeader;
    request.integration = (await identity.integrationTokens.resolve(fromHeader, identity.now())) ?? null;
    return;
  }
  const lobbyToken = fromHeader ?? lobbyQueryToken(request);
  if (!lobbyToken) return;
  const lobbySite = await identity.lobbyTokens.siteOf(lobbyToken);
  if (lobbySite !== undefined) {
    request.lobby = true;
    request.lobbyToken = lobbyToken;
    request.lobbySite = lobbySite;
  }
}

function deny(reply: FastifyReply, status: 401 | 403, message: string) {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="wesprint"');
  return reply.code(status).send(errorBody(status, message));
}

/**
 * Whether an integration token is let in on a route: 'ok', or why not. A public route lets anyone in; any
 * other route only by its token scope (access/token-scopes.ts).
 */
export function decideIntegration(
  access: RouteAccess,
  tokenScope: TokenScope | undefined,
  token: IntegrationToken | null,
  siteId: string | undefined,
): 'ok' | TokenRefusal {
  if (access === 'public') return 'ok';
  const grant = token
    ? { scopes: token.scopes, site: token.site, revoked: token.revokedAt !== null }
    : undefined;
  // An API that was not told its site lets no site-bound token in.
  return decideToken(grant, tokenScope, siteId ?? '\u0000');
}

const TOKEN_REFUSAL_MESSAGE: Record<
  TokenRefusal,
  (token: string, route: string, scope?: TokenScope) => string
> = {
  unknown_token: () => 'unknown token',
  revoked: (token) => `token ${token} has been revoked`,
  not_for_tokens: (token, route) => `token ${token} may not ${route}: no token scope admits this route`,
  scope_missing: (token, route, scope) => `token ${token} may not ${route}: it lacks the scope ${scope}`,
  other_site: (token) => `token ${token} is for another site`,
};

/** Whether `access` lets this caller in: 'ok', or the status to answer with. */
export function decideAccess(access: RouteAccess, member: Member | null, lobby: boolean): 'ok' | 401 | 403 {
  if (access === 'public') return 'ok';
  if (access === 'lobby') return member || lobby ? 'ok' : 401;
  if (!member) return lobby ? 403 : 401;
  return access.includes(member.role) ? 'ok' : 403;
}

export const auth = fp<AuthOptions>(
  async (app, { identity, siteId, audit, rateLimitRedis }) => {
    await app.register(cookie);
    // Per-route limits only (the login route; others may add `config.rateLimit` to theirs). In Redis when the
    // installation has one, so several API processes count together; Redis away lets requests through (the
    // stored sign-in waits still hold).
    await app.register(rateLimit, {
      global: false,
      ...(rateLimitRedis ? { redis: rateLimitRedis, skipOnError: true } : {}),
    });

    app.decorateRequest('member', null);
    app.decorateRequest('lobby', false);
    app.decorateRequest('sessionToken', null);
    app.decorateRequest('lobbyToken', null);
    app.decorateRequest('lobbySite', null);
    app.decorateRequest('integration', null);
    app.decorateRequest('integrationSecret', null);
    const table: RouteAccessEntry[] = [];
    app.decorate('accessTable', table);

    app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
      const scoped = (this as unknown as Record<symbol, RouteAccess | undefined>)[kScopeAccess];
      const access = route.config?.access ?? scoped;
      if (access === undefined) {
        throw new MissingAccessError(
          `route ${String(route.method)} ${route.url} declares no config.access (public, lobby or a list of roles): every route must say who may call it`,
        );
      }
      route.config = { ...route.config, access };
      const tokenScope = route.config.tokenScope ?? null;
      // The OpenAPI document says which routes an integration token may use.
      if (tokenScope !== null && route.schema) {
        const said = route.schema.description ? `${route.schema.description} ` : '';
        route.schema = {
          ...route.schema,
          description: `${said}Integration tokens: scope \`${tokenScope}\`.`,
        };
      }
      for (const method of [route.method].flat())
        table.push({ method, url: route.url, access, tokenScope, schema: route.schema });
    });

    /** A refused use of an integration token, into the audit log; the log failing refuses all the same. */
    const auditRefusal = async (
      request: FastifyRequest,
      refusal: TokenRefusal,
      token: IntegrationToken | null,
      scope: TokenScope | undefined,
    ) => {
      try {
        await audit?.record({
          at: identity.now(),
          actor: token ? `token:${token.id}` : null,
          action: 'token_use',
          target: `${request.method} ${request.routeOptions.url}`,
          decision: 'denied',
          reason: refusal,
          detail: {
            ...(token ? { label: token.label, scopes: token.scopes } : {}),
            needs: scope ?? null,
            url: redactUrl(request.url),
            ip: request.ip,
          },
        });
      } catch (err) {
        request.log.warn({ err: (err as Error).message }, 'audit log: could not record a refused token');
      }
    };

    app.addHook('onRequest', async (request, reply) => {
      await identify(identity, request);
      const access = request.routeOptions.config?.access;
      // No access means no route matched: the not-found handler answers.
      if (access === undefined) return;
      if (request.integrationSecret !== null && request.member === null) {
        const scope = request.routeOptions.config?.tokenScope;
        const token = request.integration;
        const refusal = decideIntegration(access, scope, token, siteId);
        if (refusal === 'ok') return;
        request.integration = null;
        const route = `${request.method} ${request.routeOptions.url}`;
        await auditRefusal(request, refusal, token, scope);
        return deny(
          reply,
          TOKEN_REFUSAL_STATUS[refusal],
          TOKEN_REFUSAL_MESSAGE[refusal](token ? `"${token.label}"` : '', route, scope),
        );
      }
      const decision = decideAccess(access, request.member, request.lobby);
      if (decision === 401) return deny(reply, 401, 'sign in first (POST /api/auth/login)');
      if (decision === 403) {
        const who = request.member ? `role "${request.member.role}"` : 'a lobby token';
        return deny(reply, 403, `${who} may not ${request.method} ${request.routeOptions.url}`);
      }
    });
  },
  { name: 'wesprint-auth', fastify: '5.x' },
);
