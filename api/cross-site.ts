import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AuditLog } from '../access/audit-log.ts';
import { errorBody } from './errors.ts';
import { redactUrl } from './request-log.ts';

/**
 * Refuses what another site makes a browser send: a state-changing request (any method but GET, HEAD,
 * OPTIONS) or a WebSocket upgrade that the browser marks as coming from elsewhere. SameSite=Strict keeps the
 * session cookie off most of them, but not off every browser, sibling subdomain or future cookie; and a
 * public route (sign-in, the public lobby) needs no cookie at all. The signals, as Go's
 * net/http.CrossOriginProtection reads them:
 *   - `Sec-Fetch-Site` (sent by every current browser): `cross-site` or `same-site` is refused;
 *   - `Origin`: refused unless its host is the host the request was sent to (or a trusted origin).
 * Neither header: not a browser acting for a page (curl, a script with a Bearer token, an integration),
 * let through as before; its credentials are its own.
 */

/** Why a request was refused, for the answer and the audit log. */
export type CrossSiteReason = 'cross_site' | 'foreign_origin';

export interface RequestSignals {
  method: string;
  /** The Upgrade header (`websocket`), if any. */
  upgrade?: string | undefined;
  origin?: string | undefined;
  secFetchSite?: string | undefined;
  /** The host the request was sent to (Host, or X-Forwarded-Host behind a trusted proxy). */
  host: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether the origin names the host the request was sent to (`http://h` and Host `h:80` are the same). */
function sameHost(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    if (url.host === '') return false;
    // Read the Host with the origin's scheme, so that a default port written out compares equal.
    return new URL(`${url.protocol}//${host}`).host === url.host;
  } catch {
    return false;
  }
}

/** null: let it through; otherwise why it is refused. Pure. */
export function crossSiteReason(
  request: RequestSignals,
  trustedOrigins: ReadonlySet<string> = new Set(),
): CrossSiteReason | null {
  const upgrade = request.upgrade?.toLowerCase() === 'websocket';
  if (SAFE_METHODS.has(request.method.toUpperCase()) && !upgrade) return null;
  const site = request.secFetchSite?.toLowerCase();
  if (site === 'cross-site' || site === 'same-site') return 'cross_site';
  if (request.origin === undefined) return null;
  if (trustedOrigins.has(request.origin.toLowerCase())) return null;
  // `Origin: null` (sandboxed frames, file: pages, some redirects) names no host and is never ours.
  return sameHost(request.origin, request.host) ? null : 'foreign_origin';
}

/** TRUSTED_ORIGINS: origins browsers reach the API by, besides its own Host (a proxy that rewrites Host). */
export function trustedOriginsFrom(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((o) => o.trim().toLowerCase().replace(/\/+$/, ''))
    .filter((o) => o.length > 0);
}

export interface CrossSiteOptions {
  audit: AuditLog;
  trustedOrigins?: readonly string[];
}

const MESSAGES: Record<CrossSiteReason, string> = {
  cross_site: 'refused: the browser says this request comes from another site',
  foreign_origin: 'refused: this request comes from a page of another origin',
};

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Runs after authentication (so the audit entry names who was signed in), before any handler. */
export const crossSite = fp<CrossSiteOptions>(
  async (app, { audit, trustedOrigins = [] }) => {
    const trusted = new Set(trustedOrigins.map((o) => o.toLowerCase()));
    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url;
      // No route: the not-found handler answers, nothing happens.
      if (route === undefined || request.routeOptions.config?.access === undefined) return;
      const origin = header(request, 'origin');
      const secFetchSite = header(request, 'sec-fetch-site');
      const reason = crossSiteReason(
        {
          method: request.method,
          upgrade: header(request, 'upgrade'),
          origin,
          secFetchSite,
          host: request.host,
        },
        trusted,
      );
      if (reason === null) return;
      try {
        await audit.record({
          actor: request.member?.id ?? null,
          action: 'cross_site_request',
          target: `${request.method} ${route}`,
          decision: 'denied',
          reason,
          detail: {
            origin: origin ?? null,
            secFetchSite: secFetchSite ?? null,
            url: redactUrl(request.url),
            ip: request.ip,
            ...(request.lobby ? { lobby: true } : {}),
          },
        });
      } catch (err) {
        // The refusal stands even when the audit log cannot be written.
        request.log.error({ err }, 'cross-site refusal not audited');
      }
      request.log.warn({ reason, origin, secFetchSite }, 'cross-site request refused');
      return reply.code(403).send(errorBody(403, MESSAGES[reason]));
    });
  },
  { name: 'wesprint-cross-site', fastify: '5.x', dependencies: ['wesprint-auth'] },
);
