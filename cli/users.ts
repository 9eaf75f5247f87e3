import path from 'node:path';
import { parseArgs } from 'node:util';
import { isRole, ROLES } from '../access/roles.ts';
import { openRecords } from '../database/database.ts';
import { Identity } from '../members/identity.ts';
import { MemberError } from '../members/member-store.ts';
import type { Settings } from './settings.ts';

/**
 * `wesprint users add|list` and `wesprint lobby-token create|list|revoke`: the records in DATA_DIR/wesprint.db,
 * the same file the API reads, so a member added here can sign in at once.
 */

export const USERS_USAGE = `  wesprint users add --email E --role R [--name N]
                                 add a member (roles: ${ROLES.join(', ')}); the password is read from
                                 standard input when piped, else generated and printed once
  wesprint users list            members with role and status (never passwords)
  wesprint lobby-token create [--label L]
                                 a read-only token for a lobby screen, printed once
  wesprint lobby-token list | revoke ID`;

function identityFor(settings: Settings): { identity: Identity; close: () => void } {
  const records = openRecords(path.join(settings.dataDir, 'wesprint.db'));
  return { identity: new Identity(records), close: () => records.close() };
}

async function passwordFromStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One line: the password. A trailing newline from `echo` is not part of it.
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  return text === '' ? undefined : text;
}

export async function runUsers(args: string[], settings: Settings): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'add') {
    const { values } = parseArgs({
      args: rest,
      options: { email: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } },
      strict: true,
    });
    if (!values.email || !values.role) {
      console.error(`wesprint users add: --email and --role are required\n\n${USERS_USAGE}`);
      return 2;
    }
    if (!isRole(values.role)) {
      console.error(`wesprint users add: unknown role "${values.role}" (roles: ${ROLES.join(', ')})`);
      return 2;
    }
    const given = await passwordFromStdin();
    const { identity, close } = identityFor(settings);
    try {
      const { member, password } = await identity.members.create({
        email: values.email,
        role: values.role,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(given !== undefined ? { password: given } : {}),
      });
      console.log(`added ${member.email} (${member.role}, "${member.name}")`);
      if (given === undefined) console.log(`password (shown once): ${password}`);
      return 0;
    } catch (err) {
      if (err instanceof MemberError) {
        console.error(`wesprint users add: ${err.message}`);
        return 1;
      }
      throw err;
    } finally {
      close();
    }
  }
  if (sub === 'list') {
    const { identity, close } = identityFor(settings);
    try {
      const members = await identity.members.list();
      if (members.length === 0) console.log('no members yet');
      for (const m of members) {
        const status = m.disabled ? 'disabled' : 'active';
        console.log(`${m.email}\t${m.role}\t${status}\t${new Date(m.createdAt).toISOString()}\t${m.name}`);
      }
      return 0;
    } finally {
      close();
    }
  }
  console.error(`wesprint users: add or list\n\n${USERS_USAGE}`);
  return 2;
}

export async function runLobbyToken(args: string[], settings: Settings): Promise<number> {
  const [sub, ...rest] = args;
  const { identity, close } = identityFor(settings);
  try {
    if (sub === 'create') {
      const { values } = parseArgs({ args: rest, options: { label: { type: 'string' } }, strict: true });
      const { id, token } = await identity.lobbyTokens.create(values.label ?? 'lobby screen');
      console.log(`lobby token ${id} created (shown once): ${token}`);
      console.log('use it as ?token=... in the lobby screen URL or as "Authorization: Bearer ..."');
      return 0;
    }
    if (sub === 'list') {
      for (const t of await identity.lobbyTokens.list()) {
        const status = t.revokedAt === null ? 'active' : `revoked ${new Date(t.revokedAt).toISOString()}`;
        console.log(`${t.id}\t${status}\t${t.label}`);
      }
      return 0;
    }
    if (sub === 'revoke' && rest[0]) {
      if (await identity.lobbyTokens.revoke(rest[0])) {
        console.log(`lobby token ${rest[0]} revoked`);
        return 0;
      }
      console.error(
        `wesprint lobby-token revoke: no active token "${rest[0]}" (see wesprint lobby-token list)`,
      );
      return 1;
    }
    console.error(`wesprint lobby-token: create, list or revoke ID\n\n${USERS_USAGE}`);
    return 2;
  } finally {
    close();
  }
}
