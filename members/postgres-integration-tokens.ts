import type { PostgresRecords } from '../database/postgres.ts';
import { type TokenRow, toToken } from './integration-token-rows.ts';
import {
  checkedNewToken,
  INTEGRATION_TOKEN_PREFIX,
  type IntegrationToken,
  IntegrationTokenError,
  type IntegrationTokens,
  type NewIntegrationToken,
  type RevokeResult,
  TOKEN_TOUCH_EVERY_MS,
} from './integration-tokens.ts';
import { newToken, tokenId } from './tokens.ts';

const COLUMNS = 'id, label, scopes, site, locks, created_at, last_used_at, revoked_at';

/** Integration tokens in PostgreSQL (table integration_tokens). */
export class PostgresIntegrationTokens implements IntegrationTokens {
  constructor(private readonly pool: PostgresRecords) {}

  async create(
    input: NewIntegrationToken,
    now = Date.now(),
  ): Promise<{ token: IntegrationToken; secret: string }> {
    const { label, scopes, site, locks } = checkedNewToken(input);
    const secret = `${INTEGRATION_TOKEN_PREFIX}${newToken()}`;
    const id = tokenId(secret);
    // The partial unique index on active labels refuses a second one, also from another process.
    const { rows } = await this.pool.query<TokenRow>(
      `INSERT INTO integration_tokens (id, label, scopes, site, locks, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
      [id, label, scopes.join(' '), site, locks.length > 0 ? locks.join(' ') : null, now],
    );
    if (!rows[0])
      throw new IntegrationTokenError(
        `an active token is labelled "${label}" already (revoke it first, or choose another label)`,
      );
    return { token: toToken(rows[0]), secret };
  }

  async resolve(
    secret: string,
    now = Date.now(),
    { touch = true }: { touch?: boolean } = {},
  ): Promise<IntegrationToken | undefined> {
    if (!secret.startsWith(INTEGRATION_TOKEN_PREFIX)) return undefined;
    const id = tokenId(secret);
    const row = (
      await this.pool.query<TokenRow>(`SELECT ${COLUMNS} FROM integration_tokens WHERE id = $1`, [id])
    ).rows[0];
    if (!row) return undefined;
    if (
      touch &&
      row.revoked_at === null &&
      (row.last_used_at === null || now - row.last_used_at >= TOKEN_TOUCH_EVERY_MS)
    ) {
      await this.pool.query('UPDATE integration_tokens SET last_used_at = $1 WHERE id = $2', [now, id]);
      row.last_used_at = now;
    }
    return toToken(row);
  }

  async revoke(idOrLabel: string, now = Date.now()): Promise<RevokeResult> {
    const active = async (where: string, value: string) =>
      (
        await this.pool.query<TokenRow>(
          `SELECT ${COLUMNS} FROM integration_tokens WHERE ${where} AND revoked_at IS NULL`,
          [value],
        )
      ).rows;
    // Hex only: the prefix goes into LIKE, where % and _ would be wildcards.
    let rows = /^[0-9a-f]{6,64}$/.test(idOrLabel) ? await active('id LIKE $1', `${idOrLabel}%`) : [];
    if (rows.length > 1) return { outcome: 'ambiguous' };
    if (rows.length === 0) rows = await active('label = $1', idOrLabel.trim());
    const row = rows[0];
    if (!row) return { outcome: 'not_found' };
    const { rowCount } = await this.pool.query(
      'UPDATE integration_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
      [now, row.id],
    );
    if (rowCount !== 1) return { outcome: 'not_found' };
    return { outcome: 'revoked', token: toToken({ ...row, revoked_at: now }) };
  }

  async list(): Promise<IntegrationToken[]> {
    const { rows } = await this.pool.query<TokenRow>(
      `SELECT ${COLUMNS} FROM integration_tokens ORDER BY created_at, id`,
    );
    return rows.map(toToken);
  }
}
