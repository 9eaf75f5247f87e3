import { parseArgs } from 'node:util';
import type { AuditLog } from '../access/audit-log.ts';
import { TOKEN_SCOPE_NAMES } from '../access/token-scopes.ts';
import { unknownDoors } from '../access/unlock-rules.ts';
import {
  type IntegrationToken,
  type IntegrationTokens,
  issueToken,
  revokeToken,
  type TokenKeeper,
} from '../members/integration-tokens.ts';
import { openRecordStores } from '../records/records.ts';
import type { Settings } from './settings.ts';
import { loadSites } from './sites.ts';

/**
 * `wesprint tokens create|list|revoke`: tokens for integrations (Node-RED, scripts) in the records the API
 * reads (DATA_DIR/wesprint.db, or PostgreSQL with DATABASE_URL), so a token works (and a revoked one stops
 * working: requests at once, open sockets at the API's next check, within 10 s) without restarting anything. Creating and revoking are audited.
 */

export const TOKENS_USAGE = `  wesprint tokens create --label L --scope S1,S2 [--site SITE] [--locks SPACE|LOCK,…]
                                 a token for an integration (Node-RED, scripts), printed once; use it as
                                 "Authorization: Bearer <token>". Scopes (README: what each opens):
                                 ${TOKEN_SCOPE_NAMES.join(', ')}
                                 unlock:write needs --locks: the spaces (or their locks' device ids) it may
                                 open, in their opening hours or while a booking of the space covers now
  wesprint tokens list           every token: label, scopes, site, locks, created, last used, revoked
  wesprint tokens revoke ID|LABEL
                                 refused from then on (open WebSockets closed within 10 s)`;

/** At the machine: whoever runs the command line, no member. */
const CLI: TokenKeeper = { actor: null, via: 'cli' };

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function line(t: IntegrationToken): string {
  return [
    t.id,
    t.label,
    t.scopes.join(','),
    t.site ?? '*',
    t.locks.length > 0 ? t.locks.join(',') : '-',
    iso(t.createdAt),
    t.lastUsedAt === null ? 'never' : iso(t.lastUsedAt),
    t.revokedAt === null ? 'active' : `revoked ${iso(t.revokedAt)}`,
  ].join('\t');
}

export async function runTokens(args: string[], settings: Settings): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create') {
    const { values } = parseArgs({
      args: rest,
      options: {
        label: { type: 'string' },
        scope: { type: 'string' },
        site: { type: 'string' },
        locks: { type: 'string' },
      },
      strict: true,
    });
    if (!values.label || !values.scope) {
      console.error(`wesprint tokens create: --label and --scope are required\n\n${TOKENS_USAGE}`);
      return 2;
    }
    const sites = values.site !== undefined || values.locks !== undefined ? loadSites(settings).sites : [];
    if (values.site !== undefined) {
      // The token's site must be one this installation serves (SITE_FILE's, or one of SITES_DIR's).
      const served = sites.map((s) => s.site.id);
      if (!served.includes(values.site)) {
        console.error(
          `wesprint tokens create: unknown site "${values.site}" (this installation serves ${served.map((s) => `"${s}"`).join(', ')})`,
        );
        return 2;
      }
    }
    if (values.locks !== undefined) {
      // Each door must be one of the site's (the token's site, or any served when it names none): a typo
      // said now, not a token that silently opens nothing.
      const spaces = sites
        .filter((s) => values.site === undefined || s.site.id === values.site)
        .flatMap((s) => s.spaces);
      const names = values.locks.split(/[\s,]+/).filter((l) => l.length > 0);
      const unknown = unknownDoors(names, spaces);
      if (unknown.length > 0) {
        console.error(
          `wesprint tokens create: --locks ${unknown.map((l) => `"${l}"`).join(', ')}: no space with a lock, nor a space's lock, of ${values.site ? `site "${values.site}"` : 'this installation'}`,
        );
        return 2;
      }
    }
    return withRecords(settings, async (tokens, audit) => {
      try {
        const { token, secret } = await issueToken(
          tokens,
          audit,
          {
            label: values.label as string,
            scopes: values.scope as string,
            site: values.site ?? null,
            ...(values.locks !== undefined ? { locks: values.locks } : {}),
          },
          CLI,
        );
        console.log(`token ${token.id} "${token.label}" created (shown once): ${secret}`);
        console.log(
          `scopes: ${token.scopes.join(', ')}; site: ${token.site ?? 'any'}${token.locks.length > 0 ? `; opens: ${token.locks.join(', ')}` : ''}`,
        );
        console.log(
          'use it as "Authorization: Bearer <token>"; only its hash is kept, so it cannot be shown again',
        );
        return 0;
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'IntegrationTokenError' || name === 'TokenScopeError') {
          console.error(`wesprint tokens create: ${(err as Error).message}`);
          return 2;
        }
        throw err;
      }
    });
  }
  if (sub === 'list' && rest.length === 0) {
    return withRecords(settings, async (tokens) => {
      const all = await tokens.list();
      if (all.length === 0) {
        console.log('no tokens yet (wesprint tokens create --label L --scope S)');
        return 0;
      }
      console.log(['ID', 'LABEL', 'SCOPES', 'SITE', 'LOCKS', 'CREATED', 'LAST USED', 'STATUS'].join('\t'));
      for (const t of all) console.log(line(t));
      return 0;
    });
  }
  if (sub === 'revoke' && rest.length === 1 && rest[0]) {
    const asked = rest[0];
    return withRecords(settings, async (tokens, audit) => {
      const result = await revokeToken(tokens, audit, asked, CLI);
      if (result.outcome === 'revoked') {
        console.log(`token ${result.token.id} "${result.token.label}" revoked`);
        return 0;
      }
      console.error(
        result.outcome === 'ambiguous'
          ? `wesprint tokens revoke: "${asked}" starts more than one active token's id; give more of it`
          : `wesprint tokens revoke: no active token "${asked}" (see wesprint tokens list)`,
      );
      return 1;
    });
  }
  console.error(`wesprint tokens: create, list or revoke ID|LABEL\n\n${TOKENS_USAGE}`);
  return 2;
}

async function withRecords(
  settings: Settings,
  work: (tokens: IntegrationTokens, audit: AuditLog) => Promise<number>,
): Promise<number> {
  // The records the API reads: the SQLite file, or PostgreSQL with DATABASE_URL.
  const records = await openRecordStores({ dataDir: settings.dataDir, databaseUrl: settings.databaseUrl });
  try {
    return await work(records.integrationTokens, records.audit);
  } finally {
    await records.close();
  }
}
