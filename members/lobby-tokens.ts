import type { RecordsDb } from '../database/database.ts';
import { newToken, tokenId } from './tokens.ts';

/** How a lobby token is named on the command line and in listings: the start of its SHA-256, never the token. */
const SHOWN_ID_LENGTH = 12;

export interface LobbyTokenListing {
  id: string;
  label: string;
  createdAt: number;
  revokedAt: number | null;
}

/**
 * Read-only tokens for lobby screens: they show public availability and nothing else. The token is shown
 * once when created; only its SHA-256 is kept.
 */
export class LobbyTokens {
  constructor(private readonly records: RecordsDb) {}

  create(label: string, now = Date.now()): { id: string; token: string } {
    const token = newToken();
    const id = tokenId(token);
    this.records
      .prepare('INSERT INTO lobby_tokens (id, label, created_at) VALUES (?, ?, ?)')
      .run(id, label.trim() || 'lobby screen', now);
    return { id: id.slice(0, SHOWN_ID_LENGTH), token };
  }

  verify(token: string): boolean {
    return (
      this.records
        .prepare('SELECT 1 FROM lobby_tokens WHERE id = ? AND revoked_at IS NULL')
        .get(tokenId(token)) !== undefined
    );
  }

  /** Revokes by the shown id (a prefix of the hash); false when no unrevoked token has it. */
  revoke(shownId: string, now = Date.now()): boolean {
    if (!/^[0-9a-f]{6,64}$/.test(shownId)) return false;
    const rows = this.records
      .prepare('SELECT id FROM lobby_tokens WHERE id LIKE ? AND revoked_at IS NULL')
      .pluck()
      .all(`${shownId}%`) as string[];
    if (rows.length !== 1) return false;
    return (
      this.records.prepare('UPDATE lobby_tokens SET revoked_at = ? WHERE id = ?').run(now, rows[0])
        .changes === 1
    );
  }

  list(): LobbyTokenListing[] {
    const rows = this.records
      .prepare('SELECT id, label, created_at, revoked_at FROM lobby_tokens ORDER BY created_at')
      .all() as { id: string; label: string; created_at: number; revoked_at: number | null }[];
    return rows.map((r) => ({
      id: r.id.slice(0, SHOWN_ID_LENGTH),
      label: r.label,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    }));
  }
}
