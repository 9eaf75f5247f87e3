import fs from 'node:fs';
import path from 'node:path';
import type { Role } from '../access/roles.ts';
import type { Identity } from './identity.ts';

/**
 * No default passwords. The first start creates the admin with a generated password, shown once and kept in
 * DATA_DIR/admin-credentials.txt (0600); the simulated building's demo members get generated passwords the
 * same way, in DATA_DIR/demo-members.json (0600).
 */

export function adminCredentialsFile(dataDir: string): string {
  return path.join(dataDir, 'admin-credentials.txt');
}

export function demoMembersFile(dataDir: string): string {
  return path.join(dataDir, 'demo-members.json');
}

/** Written whole or not at all, readable by the owner only (also when the file existed with looser bits). */
function writeSecretFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export interface FirstAdmin {
  email: string;
  password: string;
  file: string;
}

/**
 * Creates the admin when there is none yet; returns the credentials (to show once) or undefined
 * when members exist already. The e-mail is `email` (ADMIN_EMAIL) or admin@<site id>.local.
 */
export async function ensureFirstAdmin(
  identity: Identity,
  options: { siteId: string; dataDir: string; email?: string | undefined },
): Promise<FirstAdmin | undefined> {
  // Not "no members": the simulated building may have made its demo members first, in another process.
  if ((await identity.members.list()).some((m) => m.role === 'admin')) return undefined;
  const email = options.email?.trim() || `admin@${options.siteId}.local`;
  const { member, password } = await identity.members.create({ email, role: 'admin', name: 'Administrator' });
  const file = adminCredentialsFile(options.dataDir);
  writeSecretFile(
    file,
    [
      '# WeSprint OS: the first administrator, created on the first start.',
      '# Sign in, add your own members (wesprint users add), then delete this file.',
      `email: ${member.email}`,
      `password: ${password}`,
      '',
    ].join('\n'),
  );
  return { email: member.email, password, file };
}

export interface DemoMember {
  email: string;
  name: string;
  role: Role;
  password: string;
}

const DEMO_PEOPLE: readonly { local: string; name: string; role: Role }[] = [
  { local: 'ada', name: 'Ada Member', role: 'member' },
  { local: 'ben', name: 'Ben Member', role: 'member' },
  { local: 'cem', name: 'Cem Member', role: 'member' },
  { local: 'facility', name: 'Fatma Facility', role: 'facility' },
  { local: 'board', name: 'Bo Board', role: 'board' },
];

/**
 * The simulated building's people: three members, a facility manager and a board member, each with a
 * generated password. Made once; later starts keep the file and add only people missing from the records.
 */
export async function ensureDemoMembers(
  identity: Identity,
  options: {
    siteId: string;
    dataDir: string;
    /**
     * In a network, every house's id: the demo's board member is the network's board (board in every other
     * house too), so that the demo's network report (access/roles.ts readsNetwork) can be read.
     */
    networkSites?: readonly string[];
  },
): Promise<{ file: string; created: DemoMember[] }> {
  const file = demoMembersFile(options.dataDir);
  let known: DemoMember[] = [];
  if (fs.existsSync(file)) {
    try {
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { members?: DemoMember[] };
      known = Array.isArray(parsed.members) ? parsed.members : [];
    } catch {
      known = [];
    }
  }
  const created: DemoMember[] = [];
  for (const person of DEMO_PEOPLE) {
    const email = `${person.local}@${options.siteId}.local`;
    if (await identity.members.findByEmail(email)) continue;
    const { password } = await identity.members.create({ email, role: person.role, name: person.name });
    created.push({ email, name: person.name, role: person.role, password });
  }
  const board = await identity.members.findByEmail(`board@${options.siteId}.local`);
  if (board) {
    for (const other of options.networkSites ?? []) {
      if (other !== options.siteId) await identity.members.setSiteRole(board.id, other, 'board');
    }
  }
  if (created.length > 0 || !fs.existsSync(file)) {
    const members = [...known.filter((k) => !created.some((c) => c.email === k.email)), ...created];
    writeSecretFile(
      file,
      `${JSON.stringify({ note: 'demo members of the simulated building; generated passwords', members }, null, 2)}\n`,
    );
  }
  return { file, created };
}

export function demoLobbyTokenFile(dataDir: string): string {
  return path.join(dataDir, 'demo-lobby-token.txt');
}

/**
 * The simulated building's lobby screen: one read-only lobby token, made once and kept (mode 0600) so that
 * `wesprint start` can print a lobby URL that works; a revoked or lost one is replaced.
 */
export async function ensureDemoLobbyToken(
  identity: Identity,
  options: { dataDir: string },
): Promise<string> {
  const file = demoLobbyTokenFile(options.dataDir);
  if (fs.existsSync(file)) {
    const kept = fs.readFileSync(file, 'utf8').trim();
    if (await identity.lobbyTokens.verify(kept)) return kept;
  }
  const { token } = await identity.lobbyTokens.create('Demo lobby screen');
  writeSecretFile(file, `${token}\n`);
  return token;
}
