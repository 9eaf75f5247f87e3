import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';
import type { AuditLog } from '../access/audit-log.ts';
import { type Role, type RouteAccess, roleAt } from '../access/roles.ts';
import { TOKEN_REFUSAL_STATUS, type TokenScope } from '../access/token-scopes.ts';
import type { Identity } from '../members/identity.ts';
import { tokenId } from '../members/tokens.ts';
import { decideAccess, decideIntegration } from './auth.ts';

/**
 * A WebSocket stays open only while the credentials that opened it would still be let in. Access is decided
 * once, before the upgrade; a socket then streams for hours. So every socket of every WebSocket route is held
 * with the session or lobby token it was opened with, and decided again: at once when that session signs out
 * here, and every `checkMs` for what happens elsewhere (a session expiring or signed out in another API
 * process, a member disabled or given another role, a lobby token or an integration token revoked). A socket
 * that would now be refused is closed with an application close code; the page's reconnect is then refused
 * like any request. An integration token's socket closed so is a refused use, written to the audit log.
 */

/** Close codes (4000-4999 are the application's own): the credentials ended, or no longer suffice. */
export const CREDENTIALS_ENDED = 4401;
export const ACCESS_WITHDRAWN = 4403;

export const DEFAULT_SOCKET_CHECK_MS = 10_000;

declare module 'fastify' {
  interface FastifyInstance {
    /** The open WebSockets, held by the credentials that opened them. */
    openSockets: OpenSockets;
  }
  interface FastifyRequest {
    /**
     * Set before the upgrade by a route that serves another house of the network (the site switch's live
     * route): the roles the caller must hold in that house, decided again with the route's access.
     */
    siteAccess: SiteAccess | null;
  }
}

/** The roles a socket's caller must hold in one house of the network. */
export interface SiteAccess {
  site: string;
  roles: readonly Role[];
}

interface Held {
  socket: WebSocket;
  route: string;
  access: RouteAccess;
  tokenScope: TokenScope | undefined;
  sessionToken: string | null;
  /** The session's stored id (`tokenId`), as another API process names it when it signs the session out. */
  sessionId: string | null;
  lobbyToken: string | null;
  integrationSecret: string | null;
  siteAccess: SiteAccess | null;
}

export class OpenSockets {
  readonly #held = new Set<Held>();
  readonly #identity: Identity;
  readonly #siteId: string | undefined;
  readonly #audit: AuditLog | undefined;
  readonly #installationHome: string;

  constructor(
    identity: Identity,
    options: { siteId?: string; audit?: AuditLog; installationHome?: string } = {},
  ) {
    this.#identity = identity;
    this.#siteId = options.siteId;
    this.#audit = options.audit;
    this.#installationHome = options.installationHome ?? options.siteId ?? '';
  }

  get size(): number {
    return this.#held.size;
  }

  hold(socket: WebSocket, request: FastifyRequest): void {
    const access = request.routeOptions.config?.access;
    // A public socket (the lobby with LOBBY_PUBLIC=true) needs no credentials that could end.
    if (access === undefined || access === 'public') return;
    const held: Held = {
      socket,
      route: request.routeOptions.url ?? request.url,
      access,
      tokenScope: request.routeOptions.config?.tokenScope,
      sessionToken: request.sessionToken,
      sessionId: request.sessionToken ? tokenId(request.sessionToken) : null,
      lobbyToken: request.lobbyToken,
      // Only a token that was let in holds the socket (a member's cookie beside it decides instead).
      integrationSecret: request.integration ? request.integrationSecret : null,
      siteAccess: request.siteAccess,
    };
    this.#held.add(held);
    socket.once('close', () => this.#held.delete(held));
  }

  /**
   * Decides every held socket again (only those opened with `token`, when given) and closes those that would
   * now be refused; resolves to how many were closed.
   */
  recheck(token?: string | null): Promise<number> {
    return this.#recheck(
      token == null
        ? () => true
        : (held) =>
            held.sessionToken === token || held.lobbyToken === token || held.integrationSecret === token,
    );
  }

  /** Decides again the sockets of the session stored as `sessionId` (signed out in another API process). */
  recheckSession(sessionId: string): Promise<number> {
    return this.#recheck((held) => held.sessionId === sessionId);
  }

  async #recheck(which: (held: Held) => boolean): Promise<number> {
    let closed = 0;
    const now = this.#identity.now();
    for (const held of this.#held) {
      if (!which(held)) continue;
      if (held.integrationSecret !== null) {
        if (await this.#integrationStays(held, now)) continue;
        closed++;
        continue;
      }
      const member = held.sessionToken
        ? ((await this.#identity.sessions.resolve(held.sessionToken, now, { touch: false })) ?? null)
        : null;
      const lobby = held.lobbyToken !== null && (await this.#identity.lobbyTokens.verify(held.lobbyToken));
      let decision = decideAccess(held.access, member, lobby);
      // A socket of another house: the member's role there, which may have been taken away meanwhile.
      if (decision === 'ok' && held.siteAccess) {
        const there = member ? roleAt(member, held.siteAccess.site, this.#installationHome) : null;
        if (there === null || !held.siteAccess.roles.includes(there)) decision = 403;
      }
      // Closed meanwhile, or by a check that ran alongside this one.
      if (decision === 'ok' || !this.#held.has(held)) continue;
      this.#held.delete(held);
      closed++;
      if (decision === 401) held.socket.close(CREDENTIALS_ENDED, 'session ended or token revoked');
      else held.socket.close(ACCESS_WITHDRAWN, `no longer allowed on ${held.route}`);
    }
    return closed;
  }

  /** Decides an integration token's socket again; closes it (and audits why) when it would now be refused. */
  async #integrationStays(held: Held, now: number): Promise<boolean> {
    const secret = held.integrationSecret as string;
    const token = (await this.#identity.integrationTokens.resolve(secret, now, { touch: false })) ?? null;
    const refusal = decideIntegration(held.access, held.tokenScope, token, this.#siteId);
    if (refusal === 'ok' || !this.#held.has(held)) return true;
    this.#held.delete(held);
    if (TOKEN_REFUSAL_STATUS[refusal] === 401) held.socket.close(CREDENTIALS_ENDED, 'token revoked');
    else held.socket.close(ACCESS_WITHDRAWN, `no longer allowed on ${held.route}`);
    try {
      await this.#audit?.record({
        at: now,
        actor: token ? `token:${token.id}` : null,
        action: 'token_use',
        target: `GET ${held.route}`,
        decision: 'denied',
        reason: refusal,
        detail: {
          ...(token ? { label: token.label } : {}),
          needs: held.tokenScope ?? null,
          socket: 'closed',
        },
      });
    } catch {
      // The socket is closed whether or not the log could be written; the next refusal tries again.
    }
    return false;
  }
}

export interface SocketSessionsOptions {
  identity: Identity;
  /** The site this API serves (an integration token made for another is refused). */
  siteId?: string;
  /** Where an integration token's socket closed for its refusal is written. */
  audit?: AuditLog;
  /** How often open sockets are decided again (default 10 s). */
  checkMs?: number;
  /** Sessions signed out by other API processes (records/records-news.ts): their sockets are decided at once. */
  sessionsEnded?: (listener: (sessionId: string) => void) => () => void;
  /** The network's home site (its first), against which a member without a home site is judged. */
  installationHome?: string;
}

/**
 * Register after auth and before @fastify/websocket: it wraps the socket handler of every route, so a
 * WebSocket route added later is held without remembering to.
 */
export const socketSessions = fp<SocketSessionsOptions>(
  async (
    app,
    { identity, siteId, audit, checkMs = DEFAULT_SOCKET_CHECK_MS, sessionsEnded, installationHome },
  ) => {
    const sockets = new OpenSockets(identity, {
      ...(siteId !== undefined ? { siteId } : {}),
      ...(audit ? { audit } : {}),
      ...(installationHome !== undefined ? { installationHome } : {}),
    });
    app.decorate('openSockets', sockets);
    app.decorateRequest('siteAccess', null);
    type SocketHandler = (
      this: FastifyInstance,
      socket: WebSocket,
      request: FastifyRequest,
      // biome-ignore lint/suspicious/noConfusingVoidType: the return type of @fastify/websocket's own handler type
    ) => void | Promise<unknown>;
    const held = (handler: SocketHandler): SocketHandler =>
      function (this: FastifyInstance, socket: WebSocket, request: FastifyRequest) {
        sockets.hold(socket, request);
        return handler.call(this, socket, request);
      };
    // Both ways @fastify/websocket takes a socket handler: `websocket: true` + handler, or `wsHandler`.
    app.addHook('onRoute', (route: RouteOptions & { websocket?: boolean; wsHandler?: SocketHandler }) => {
      if (typeof route.wsHandler === 'function') route.wsHandler = held(route.wsHandler);
      else if (route.websocket === true)
        route.handler = held(route.handler as unknown as SocketHandler) as unknown as RouteOptions['handler'];
    });
    const timer = setInterval(() => {
      sockets.recheck().catch((err: Error) => {
        // The records being unreadable for a moment ends nobody's socket; the next check decides.
        app.log.warn({ err: err.message }, 'open sockets: check failed');
      });
    }, checkMs);
    timer.unref();
    const unlisten = sessionsEnded?.((sessionId) => {
      sockets
        .recheckSession(sessionId)
        .then((closed) => {
          if (closed > 0) app.log.info({ closed }, 'open sockets: closed those of a session signed out');
        })
        .catch((err: Error) => {
          app.log.warn({ err: err.message }, 'open sockets: check after a sign-out elsewhere failed');
        });
    });
    app.addHook('onClose', async () => {
      clearInterval(timer);
      unlisten?.();
    });
  },
  { name: 'wesprint-socket-sessions', fastify: '5.x', dependencies: ['wesprint-auth'] },
);
