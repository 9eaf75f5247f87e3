import type { PostgresRecords } from '../database/postgres.ts';
import { type LobbyTokenListing, type LobbyTokens, SHOWN_ID_LENGTH } from './lobby-tokens.ts';
import { checkedSiteId } from './member-store.ts';
import { newToken, tokenId } from './tokens.ts';

/** Lobby tokens in PostgreSQL (table lobby_tokens). */
export class PostgresLobbyTokens implements LobbyTokens {
  constructor(private readonly pool: PostgresRecords) {}

  async create(label: string, now = Date.now(), site?: string): Promise<{ id: string; token: string }> {
    const token = newToken();
    const id = tokenId(token);
    await this.pool.query('INSERT INTO lobby_tokens (id, label, created_at, site) VALUES ($1, $2, $3, $4)', [
      id,
      label.trim() || 'lobby screen',
      now,
      site === undefined ? null : checkedSiteId(site),
    ]);
    return { id: id.slice(0, SHOWN_ID_LENGTH), token };
  }

  async verify(token: string, siteId?: string): Promise<boolean> {
    const site = await this.siteOf(token);
    if (site === undefined) return false;
    return site === null || siteId === undefined || site === siteId;
  }

  async siteOf(token: string): Promise<string | null | undefined> {
    const row = (
      await this.pool.query<{ site: string | null }>(
        'SELECT site FROM lobby_tokens WHERE id = $1 AND revoked_at IS NULL',
        [tokenId(token)],
      )
    ).rows[0];
    return row === undefined ? undefined : row.site;
  }

  async revoke(shownId: string, now = Date.now()): Promise<boolean> {
    // Hex only: the prefix goes into LIKE, where % and _ would be wildcards.
    if (!/^[0-9a-f]{6,64}$/.test(shownId)) return false;
    const { rows } = await this.pool.query<{ id: string }>(
      'SELECT id FROM lobby_tokens WHERE id LIKE $1 AND revoked_at IS NULL',
      [`${shownId}%`],
    );
    if (rows.length !== 1) return false;
    const { rowCount } = await this.pool.query(
      'UPDATE lobby_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
      [now, rows[0]?.id],
    );
    return rowCount === 1;
  }

  async list(): Promise<LobbyTokenListing[]> {
    const { rows } = await this.pool.query<{
      id: string;
      label: string;
      created_at: number;
      revoked_at: number | null;
      site: string | null;
    }>('SELECT id, label, created_at, revoked_at, site FROM lobby_tokens ORDER BY created_at');
    return rows.map((r) => ({
      id: r.id.slice(0, SHOWN_ID_LENGTH),
      label: r.label,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
      site: r.site,
    }));
  }
}
