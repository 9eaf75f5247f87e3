import type { RecordsDb } from '../database/database.ts';
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

/** Integration tokens in the records database (table integration_tokens, migration 0060). */
export class SqliteIntegrationTokens implements IntegrationTokens {
  constructor(private readonly records: RecordsDb) {}

  async create(
    input: NewIntegrationToken,
    now = Date.now(),
  ): Promise<{ token: IntegrationToken; secret: string }> {
    const { label, scopes, site, locks } = checkedNewToken(input);
    const secret = `${INTEGRATION_TOKEN_PREFIX}${newToken()}`;
    const id = tokenId(secret);
    try {
      this.records
        .prepare(
          'INSERT INTO integration_tokens (id, label, scopes, site, locks, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(id, label, scopes.join(' '), site, locks.length > 0 ? locks.join(' ') : null, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new IntegrationTokenError(
          `an active token is labelled "${label}" already (revoke it first, or choose another label)`,
        );
      throw err;
    }
    const row = this.records
      .prepare(`SELECT ${COLUMNS} FROM integration_tokens WHERE id = ?`)
      .get(id) as TokenRow;
    return { token: toToken(row), secret };
  }

  async resolve(
    secret: string,
    now = Date.now(),
    { touch = true }: { touch?: boolean } = {},
  ): Promise<IntegrationToken | undefined> {
    if (!secret.startsWith(INTEGRATION_TOKEN_PREFIX)) return undefined;
    const id = tokenId(secret);
    const row = this.records.prepare(`SELECT ${COLUMNS} FROM integration_tokens WHERE id = ?`).get(id) as
      | TokenRow
      | undefined;
    if (!row) return undefined;
    if (
      touch &&
      row.revoked_at === null &&
      (row.last_used_at === null || now - row.last_used_at >= TOKEN_TOUCH_EVERY_MS)
    ) {
      this.records.prepare('UPDATE integration_tokens SET last_used_at = ? WHERE id = ?').run(now, id);
      row.last_used_at = now;
    }
    return toToken(row);
  }

  async revoke(idOrLabel: string, now = Date.now()): Promise<RevokeResult> {
    const active = (where: string, value: string) =>
      this.records
        .prepare(`SELECT ${COLUMNS} FROM integration_tokens WHERE ${where} AND revoked_at IS NULL`)
        .all(value) as TokenRow[];
    let rows = /^[0-9a-f]{6,64}$/.test(idOrLabel) ? active('id LIKE ?', `${idOrLabel}%`) : [];
    if (rows.length > 1) return { outcome: 'ambiguous' };
    if (rows.length === 0) rows = active('label = ?', idOrLabel.trim());
    const row = rows[0];
    if (!row) return { outcome: 'not_found' };
    const changed = this.records
      .prepare('UPDATE integration_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(now, row.id).changes;
    if (changed !== 1) return { outcome: 'not_found' };
    return { outcome: 'revoked', token: toToken({ ...row, revoked_at: now }) };
  }

  async list(): Promise<IntegrationToken[]> {
    const rows = this.records
      .prepare(`SELECT ${COLUMNS} FROM integration_tokens ORDER BY created_at, id`)
      .all() as TokenRow[];
    return rows.map(toToken);
  }
}
