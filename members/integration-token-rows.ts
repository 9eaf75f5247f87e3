import { isTokenScope, type TokenScope } from '../access/token-scopes.ts';
import { type IntegrationToken, SHOWN_TOKEN_ID_LENGTH } from './integration-tokens.ts';

/** An integration token as both engines keep it in the records: its row and how it reads. */

export interface TokenRow {
  id: string;
  label: string;
  scopes: string;
  site: string | null;
  /** Space ids or lock device ids, separated by a space; null: none (migration 0160). */
  locks: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export function toToken(row: TokenRow): IntegrationToken {
  return {
    id: row.id.slice(0, SHOWN_TOKEN_ID_LENGTH),
    label: row.label,
    // A scope a later version dropped grants nothing.
    scopes: row.scopes.split(' ').filter((s): s is TokenScope => isTokenScope(s)),
    site: row.site,
    locks: row.locks === null ? [] : row.locks.split(' ').filter((l) => l.length > 0),
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
