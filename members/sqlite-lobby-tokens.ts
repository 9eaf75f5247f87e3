import type { RecordsDb } from '../database/database.ts';
import { type LobbyTokenListing, type LobbyTokens, SHOWN_ID_LENGTH } from './lobby-tokens.ts';
import { checkedSiteId } from './member-store.ts';
import { newToken, tokenId } from './tokens.ts';

/** Lobby tokens in the records database (table lobby_tokens). */
export class SqliteLobbyTokens implements LobbyTokens {
  constructor(private readonly records: RecordsDb) {}

  async create(label: string, now = Date.now(), site?: string): Promise<{ id: string; token: string }> {
    const token = newToken();
    const id = tokenId(token);
    this.records
      .prepare('INSERT INTO lobby_tokens (id, label, created_at, site) VALUES (?, ?, ?, ?)')
      .run(id, label.trim() || 'lobby screen', now, site === undefined ? null : checkedSiteId(site));
    return { id: id.slice(0, SHOWN_ID_LENGTH), token };
  }

  async verify(token: string, siteId?: string): Promise<boolean> {
    const site = await this.siteOf(token);
    if (site === undefined) return false;
    return site === null || siteId === undefined || site === siteId;
  }

  async siteOf(token: string): Promise<string | null | undefined> {
    const row = this.records
      .prepare('SELECT site FROM lobby_tokens WHERE id = ? AND revoked_at IS NULL')
      .get(tokenId(token)) as { site: string | null } | undefined;
    return row === undefined ? undefined : row.site;
  }

  async revoke(shownId: string, now = Date.now()): Promise<boolean> {
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

  async list(): Promise<LobbyTokenListing[]> {
    const rows = this.records
      .prepare('SELECT id, label, created_at, revoked_at, site FROM lobby_tokens ORDER BY created_at')
      .all() as {
      id: string;
      label: string;
      created_at: number;
      revoked_at: number | null;
      site: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id.slice(0, SHOWN_ID_LENGTH),
      label: r.label,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
      site: r.site,
    }));
  }
}
