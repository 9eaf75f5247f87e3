import type { AuditLog } from '../access/audit-log.ts';
import { parseScopes, type TokenScope } from '../access/token-scopes.ts';

/**
 * Tokens for integrations (Node-RED, scripts): a bearer secret with scopes (access/token-scopes.ts), a
 * label, optionally a site, made and revoked on the command line (`wesprint tokens`). Not a member session:
 * it names no member and has no role. The secret is shown once when created; only its SHA-256 is kept
 * (`sqlite-integration-tokens.ts` in the records database). Revoked tokens stay listed.
 */

/** Every integration token starts so: the API tells it from a session at a glance, and so can secret scanners. */
export const INTEGRATION_TOKEN_PREFIX = 'wsp_';

/** How a token is named on the command line and in listings: the start of its SHA-256, never the token. */
export const SHOWN_TOKEN_ID_LENGTH = 12;

const LABEL = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const SITE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** `last_used_at` is written at most this often, so that a busy integration does not write on every request. */
export const TOKEN_TOUCH_EVERY_MS = 60_000;

export class IntegrationTokenError extends Error {
  override name = 'IntegrationTokenError';
}

export interface IntegrationToken {
  /** The shown id: the start of the token's SHA-256. */
  id: string;
  label: string;
  scopes: TokenScope[];
  /** The site it is for; null: whichever site the API serves. */
  site: string | null;
  /**
   * The doors it may open with `unlock:write`: space ids or their locks' device ids, as given when it was made.
   * Empty for every token without that scope: no token opens a door it does not name.
   */
  locks: string[];
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface NewIntegrationToken {
  label: string;
  /** Scope names, or `readings:read,feed:read` as typed. */
  scopes: readonly string[] | string;
  site?: string | null;
  /** With `unlock:write` (and only with it): the spaces or locks it may open, or `og2-protel-01,…` as typed. */
  locks?: readonly string[] | string;
}

const DOOR = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * The input as the rules allow it: a label, known scopes (at least one), a well-formed site id, and doors
 * exactly when the token may unlock (least privilege: `unlock:write` names what it opens, and nothing else
 * carries a list that would mean nothing). Whether each door is one of the site's is the caller's to check
 * (the command line knows the site files: `unknownDoors` in access/unlock-rules.ts).
 */
export function checkedNewToken(input: NewIntegrationToken): {
  label: string;
  scopes: TokenScope[];
  site: string | null;
  locks: string[];
} {
  const label = input.label.trim();
  if (!LABEL.test(label))
    throw new IntegrationTokenError(
      `label "${input.label}": 1 to 64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit`,
    );
  const scopes = parseScopes(typeof input.scopes === 'string' ? input.scopes : input.scopes.join(','));
  const site = input.site ?? null;
  if (site !== null && !SITE.test(site))
    throw new IntegrationTokenError(`site "${site}" is not a site id (a-z 0-9 _ -)`);
  const asked = typeof input.locks === 'string' ? input.locks.split(/[\s,]+/) : (input.locks ?? []);
  const locks = [...new Set(asked.map((l) => l.trim()).filter((l) => l.length > 0))];
  const bad = locks.filter((l) => !DOOR.test(l));
  if (bad.length > 0)
    throw new IntegrationTokenError(
      `locks ${bad.map((l) => `"${l}"`).join(', ')}: space or lock ids (a-z 0-9 _ -)`,
    );
  if (scopes.includes('unlock:write') && locks.length === 0)
    throw new IntegrationTokenError(
      'unlock:write needs --locks: the spaces (or their locks) this token may open, and no others',
    );
  if (!scopes.includes('unlock:write') && locks.length > 0)
    throw new IntegrationTokenError(
      '--locks goes with the scope unlock:write (without it a token opens no door)',
    );
  if (locks.join(' ').length > 4096) throw new IntegrationTokenError('too many locks for one token');
  return { label, scopes, site, locks };
}

export type RevokeResult =
  | { outcome: 'revoked'; token: IntegrationToken }
  | { outcome: 'not_found' }
  /** A shown id that starts more than one active token's: say more of it. */
  | { outcome: 'ambiguous' };

/** The integration tokens, whatever database keeps them. */
export interface IntegrationTokens {
  /** A new token; the secret is handed out this once. A label that names an active token already is refused. */
  create(input: NewIntegrationToken, now?: number): Promise<{ token: IntegrationToken; secret: string }>;
  /**
   * The token a secret belongs to, revoked or not (the caller decides; a revoked one's use is audited as
   * such); undefined when it is nobody's. Marks it used (at most once a minute) unless `touch: false` (an
   * open socket asking whether it may stay open).
   */
  resolve(secret: string, now?: number, options?: { touch?: boolean }): Promise<IntegrationToken | undefined>;
  /** Revokes the active token with this shown id (or a longer prefix of its hash), or else this label. */
  revoke(idOrLabel: string, now?: number): Promise<RevokeResult>;
  /** Every token, oldest first, revoked ones too. */
  list(): Promise<IntegrationToken[]>;
}

/** Who made or revoked a token, for the audit log: the command line at the machine names no member. */
export interface TokenKeeper {
  actor: string | null;
  via: 'cli' | 'api';
}

/** Creates a token and writes the audit entry (`token_create`); the secret is in neither the log nor the entry. */
export async function issueToken(
  tokens: IntegrationTokens,
  audit: AuditLog,
  input: NewIntegrationToken,
  keeper: TokenKeeper,
  now = Date.now(),
): Promise<{ token: IntegrationToken; secret: string }> {
  const made = await tokens.create(input, now);
  await audit.record({
    at: now,
    actor: keeper.actor,
    action: 'token_create',
    target: `token:${made.token.id}`,
    decision: 'granted',
    reason: keeper.via,
    detail: {
      label: made.token.label,
      scopes: made.token.scopes,
      site: made.token.site,
      ...(made.token.locks.length > 0 ? { locks: made.token.locks } : {}),
    },
  });
  return made;
}

/** Revokes a token and writes the audit entry (`token_revoke`), also when there was nothing to revoke. */
export async function revokeToken(
  tokens: IntegrationTokens,
  audit: AuditLog,
  idOrLabel: string,
  keeper: TokenKeeper,
  now = Date.now(),
): Promise<RevokeResult> {
  const result = await tokens.revoke(idOrLabel, now);
  await audit.record({
    at: now,
    actor: keeper.actor,
    action: 'token_revoke',
    target: result.outcome === 'revoked' ? `token:${result.token.id}` : null,
    decision: result.outcome === 'revoked' ? 'granted' : 'denied',
    reason: result.outcome === 'revoked' ? keeper.via : result.outcome,
    detail:
      result.outcome === 'revoked'
        ? { label: result.token.label, scopes: result.token.scopes }
        : { asked: idOrLabel.slice(0, 64) },
  });
  return result;
}
