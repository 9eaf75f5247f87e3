import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Member, RouteAccess } from '../access/roles.ts';
import type { Identity } from '../members/identity.ts';
import { errorBody } from './errors.ts';

/**
 * Who is calling, and may they. Every route declares `config.access` (default deny: registering one
 * without it throws, so a forgotten declaration fails at start, not in production). Credentials:
 *   - the `wesprint_session` cookie a browser gets from POST /api/auth/login (HttpOnly, SameSite=Strict,
 *     Secure over TLS);
 *   - `Authorization: Bearer <token>` with a session token (apps, scripts) or a lobby-screen token;
 *   - `?token=<lobby token>` for lobby screens that cannot set headers (a kiosk URL).
 * The check runs in onRequest, so it also guards WebSocket upgrades.
 */

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered so far with the access it declares (for the authorization matrix and audits). */
    accessTable: readonly RouteAccessEntry[];
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
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
  }
}

export const SESSION_COOKIE = 'wesprint_session';

export interface RouteAccessEntry {
  method: string;
  url: string;
  access: RouteAccess;
  /** The route's schema as registered (for tests that probe every parameter of every route). */
  schema: RouteOptions['schema'];
}

export interface AuthOptions {
  identity: Identity;
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
  const lobbyToken = fromHeader ?? lobbyQueryToken(request);
  if (lobbyToken && (await identity.lobbyTokens.verify(lobbyToken))) {
    request.lobby = true;
    request.lobbyToken = lobbyToken;
  }
}

function deny(reply: FastifyReply, status: 401 | 403, message: string) {
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="wesprint"');
  return reply.code(status).send(errorBody(status, message));
}

/** Whether `access` lets this caller in: 'ok', or the status to answer with. */
export function decideAccess(access: RouteAccess, member: Member | null, lobby: boolean): 'ok' | 401 | 403 {
  if (access === 'public') return 'ok';
  if (access === 'lobby') return member || lobby ? 'ok' : 401;
  if (!member) return lobby ? 403 : 401;
  return access.includes(member.role) ? 'ok' : 403;
}

export const auth = fp<AuthOptions>(
  async (app, { identity }) => {
    await app.register(cookie);
    // Per-route limits only (the login route; others may add `config.rateLimit` to theirs).
    await app.register(rateLimit, { global: false });

    app.decorateRequest('member', null);
    app.decorateRequest('lobby', false);
    app.decorateRequest('sessionToken', null);
    app.decorateRequest('lobbyToken', null);
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
      for (const method of [route.method].flat())
        table.push({ method, url: route.url, access, schema: route.schema });
    });

    app.addHook('onRequest', async (request, reply) => {
      await identify(identity, request);
      const access = request.routeOptions.config?.access;
      // No access means no route matched: the not-found handler answers.
      if (access === undefined) return;
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
