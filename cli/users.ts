import { parseArgs } from 'node:util';
import { isRole, ROLES } from '../access/roles.ts';
import { Identity } from '../members/identity.ts';
import { MemberError } from '../members/member-store.ts';
import { openRecordStores } from '../records/records.ts';
import type { Settings } from './settings.ts';
import { loadSites } from './sites.ts';

/**
 * `wesprint users add|list` and `wesprint lobby-token create|list|revoke`: the records in DATA_DIR/wesprint.db
 * (or DATABASE_URL), the same the API reads, so a member added here can sign in at once.
 */

export const USERS_USAGE = `  wesprint users add --email E --role R [--name N] [--site S]
                                 add a member (roles: ${ROLES.join(', ')}); the password is read from
                                 standard input when piped, else generated and printed once; in a network
                                 (SITES_DIR) --site is their home site, where R is their role (default: the first)
  wesprint users role --email E --site S --role R|none
                                 in a network: the member's role in another site (elsewhere: a plain member)
  wesprint users list            members with role and status (never passwords)
  wesprint lobby-token create [--label L] [--site S]
                                 a read-only token for a lobby screen, printed once; --site: the one house
                                 whose lobby it shows (a network), else any
  wesprint lobby-token list | revoke ID`;

async function identityFor(settings: Settings): Promise<{ identity: Identity; close: () => Promise<void> }> {
  const records = await openRecordStores({ dataDir: settings.dataDir, databaseUrl: settings.databaseUrl });
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
      options: {
        email: { type: 'string' },
        role: { type: 'string' },
        name: { type: 'string' },
        site: { type: 'string' },
      },
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
    if (values.site !== undefined && !servedSite(settings, values.site, 'users add')) return 2;
    const given = await passwordFromStdin();
    const { identity, close } = await identityFor(settings);
    try {
      const { member, password } = await identity.members.create({
        email: values.email,
        role: values.role,
        ...(values.site !== undefined ? { homeSite: values.site } : {}),
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(given !== undefined ? { password: given } : {}),
      });
      const where = member.homeSite ? ` in ${member.homeSite}` : '';
      console.log(`added ${member.email} (${member.role}${where}, "${member.name}")`);
      if (given === undefined) console.log(`password (shown once): ${password}`);
      return 0;
    } catch (err) {
      if (err instanceof MemberError) {
        console.error(`wesprint users add: ${err.message}`);
        return 1;
      }
      throw err;
    } finally {
      await close();
    }
  }
  if (sub === 'list') {
    const { identity, close } = await identityFor(settings);
    try {
      const members = await identity.members.list();
      if (members.length === 0) console.log('no members yet');
      for (const m of members) {
        const status = m.disabled ? 'disabled' : 'active';
        // In a network: the role at home, and where the member was given another.
        const sites = [
          ...(m.homeSite ? [`home ${m.homeSite}`] : []),
          ...Object.entries(m.siteRoles ?? {}).map(([site, role]) => `${role} in ${site}`),
        ];
        const role = sites.length > 0 ? `${m.role} (${sites.join(', ')})` : m.role;
        console.log(`${m.email}\t${role}\t${status}\t${new Date(m.createdAt).toISOString()}\t${m.name}`);
      }
      return 0;
    } finally {
      await close();
    }
  }
  if (sub === 'role') {
    const { values } = parseArgs({
      args: rest,
      options: { email: { type: 'string' }, site: { type: 'string' }, role: { type: 'string' } },
      strict: true,
    });
    if (!values.email || !values.site || !values.role) {
      console.error(`wesprint users role: --email, --site and --role are required\n\n${USERS_USAGE}`);
      return 2;
    }
    const role = values.role === 'none' ? null : values.role;
    if (role !== null && !isRole(role)) {
      console.error(`wesprint users role: unknown role "${role}" (roles: ${ROLES.join(', ')}, or none)`);
      return 2;
    }
    if (!servedSite(settings, values.site, 'users role')) return 2;
    const { identity, close } = await identityFor(settings);
    try {
      const member = await identity.members.findByEmail(values.email);
      if (!member) {
        console.error(`wesprint users role: no member ${values.email}`);
        return 1;
      }
      if ((member.homeSite ?? loadSites(settings).sites[0]?.site.id) === values.site) {
        console.error(
          `wesprint users role: ${values.site} is ${member.email}'s home site, where their role is ${member.role}`,
        );
        return 1;
      }
      await identity.members.setSiteRole(member.id, values.site, role);
      console.log(
        role === null
          ? `${member.email} is a plain member in ${values.site} again`
          : `${member.email} is ${role} in ${values.site}`,
      );
      return 0;
    } catch (err) {
      if (err instanceof MemberError) {
        console.error(`wesprint users role: ${err.message}`);
        return 1;
      }
      throw err;
    } finally {
      await close();
    }
  }
  console.error(`wesprint users: add, role or list\n\n${USERS_USAGE}`);
  return 2;
}

/** A site this installation serves (SITE_FILE's, or one of SITES_DIR's); else says so and false. */
function servedSite(settings: Settings, site: string, command: string): boolean {
  const served = loadSites(settings).sites.map((s) => s.site.id);
  if (served.includes(site)) return true;
  console.error(
    `wesprint ${command}: unknown site "${site}" (this installation serves ${served.map((s) => `"${s}"`).join(', ')})`,
  );
  return false;
}

export async function runLobbyToken(args: string[], settings: Settings): Promise<number> {
  const [sub, ...rest] = args;
  const { identity, close } = await identityFor(settings);
  try {
    if (sub === 'create') {
      const { values } = parseArgs({
        args: rest,
        options: { label: { type: 'string' }, site: { type: 'string' } },
        strict: true,
      });
      if (values.site !== undefined && !servedSite(settings, values.site, 'lobby-token create')) return 2;
      const { id, token } = await identity.lobbyTokens.create(
        values.label ?? 'lobby screen',
        undefined,
        values.site,
      );
      console.log(`lobby token ${id} created (shown once): ${token}`);
      console.log('use it as ?token=... in the lobby screen URL or as "Authorization: Bearer ..."');
      return 0;
    }
    if (sub === 'list') {
      for (const t of await identity.lobbyTokens.list()) {
        const status = t.revokedAt === null ? 'active' : `revoked ${new Date(t.revokedAt).toISOString()}`;
        console.log(`${t.id}\t${status}\t${t.label}${t.site === null ? '' : `\t${t.site}`}`);
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
    await close();
  }
}
