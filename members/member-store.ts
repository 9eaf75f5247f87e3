import { randomUUID } from 'node:crypto';
import { homeSiteOf, isRole, type Member, type Role, roleAt } from '../access/roles.ts';
import { generatePassword } from '../site/credentials.ts';

/**
 * The building's members: what the rest of the system asks of them. Never hands out a password hash.
 * `sqlite-member-store.ts` keeps them in the records database; the rules below hold whatever keeps them.
 */

/**
 * scrypt cost for members' passwords: 2^15 (32 MiB, ~100 ms on this 2-core machine) — slow enough that a
 * stolen database costs an attacker dearly, fast enough that signing in does not.
 */
export const MEMBER_SCRYPT_N = 2 ** 15;

/** A sign-in name: one @, something on both sides, no spaces; stored lower-cased. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;
export const MAX_PASSWORD_LENGTH = 1024;
export const MIN_PASSWORD_LENGTH = 10;

export class MemberError extends Error {
  override name = 'MemberError';
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface MemberListing extends Member {
  createdAt: number;
  disabled: boolean;
}

export interface NewMember {
  email: string;
  /** The role in the member's home site. */
  role: Role;
  /** In a network: the member's home site; absent: the installation's home site. */
  homeSite?: string;
  name?: string;
  password?: string;
}

/** A member who cannot sign in (the simulated population): in a network, of a home site of its own. */
export type NewMemberWithoutSignIn = Pick<NewMember, 'email' | 'role' | 'homeSite'> & { name: string };

export interface MemberStore {
  /**
   * Adds a member. Without a password one is generated; either way the plaintext is returned once and
   * only its scrypt hash is kept.
   */
  create(input: NewMember): Promise<{ member: Member; password: string }>;
  /**
   * Adds a member who cannot sign in (the simulated building's population, which only books): no password
   * exists, and none ever verifies. An e-mail that is a member's already gives that member; one who cannot
   * sign in and names no home site (made before the network gave each house its population) takes
   * `homeSite`, once. A member who signs in is never changed here.
   */
  createWithoutSignIn(input: NewMemberWithoutSignIn): Promise<Member>;
  findByEmail(email: string): Promise<Member | undefined>;
  /** An enabled member by id (what a session resolves to). */
  findActive(id: string): Promise<Member | undefined>;
  list(): Promise<MemberListing[]>;
  count(): Promise<number>;
  /**
   * In a network: gives the member `role` in `site` (other than their home site), or takes it back (null);
   * elsewhere than at home and where given a role, a member is a plain member and a guest.
   */
  setSiteRole(id: string, site: string, role: Role | null): Promise<void>;
  /** Disabling also ends the member's sessions. */
  setDisabled(id: string, disabled: boolean): Promise<void>;
  /**
   * The enabled member with this e-mail and password, else undefined. Unknown e-mails and disabled members
   * cost one scrypt like a wrong password, so timing does not tell who is a member.
   */
  verify(email: string, password: string): Promise<Member | undefined>;
}

function checkedEmailAndRole(input: { email: string; role: Role }): string {
  const email = normaliseEmail(input.email);
  if (!EMAIL.test(email) || email.length > 254)
    throw new MemberError(`"${input.email}" is not an e-mail address`);
  if (!isRole(input.role)) throw new MemberError(`unknown role "${input.role}"`);
  return email;
}

/** A site id as the site files write it; what a member's home site or a site role names. */
const SITE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function checkedSiteId(site: string): string {
  if (!SITE_ID.test(site)) throw new MemberError(`"${site}" is not a site id`);
  return site;
}

/**
 * The members as the API of one site sees them: each with their role in that site (access/roles.ts roleAt),
 * so that every decision made on a member's role (routes, unlock, staff bookings, live sockets) is made on
 * the role there. The facility manager of another house is a plain member here. Creating and changing
 * members goes to the store as it is.
 */
export function membersSeenFrom(store: MemberStore, siteId: string, installationHome: string): MemberStore {
  // The role at home is kept beside it: what the member may in the network's other sites is decided from it.
  // (only where the two differ: a member seen at home is as stored).
  const here = <M extends Member>(member: M): M => {
    const role = roleAt(member, siteId, installationHome);
    const homeRole = roleAt(member, homeSiteOf(member, installationHome), installationHome);
    return { ...member, role, ...(homeRole !== role ? { homeRole } : {}) };
  };
  const maybe = <M extends Member>(member: M | undefined): M | undefined =>
    member ? here(member) : undefined;
  return {
    create: (input) => store.create(input),
    createWithoutSignIn: (input) => store.createWithoutSignIn(input),
    findByEmail: async (email) => maybe(await store.findByEmail(email)),
    findActive: async (id) => maybe(await store.findActive(id)),
    list: async () => (await store.list()).map(here),
    count: () => store.count(),
    setSiteRole: (id, site, role) => store.setSiteRole(id, site, role),
    setDisabled: (id, disabled) => store.setDisabled(id, disabled),
    verify: async (email, password) => maybe(await store.verify(email, password)),
  };
}

/** A new member as the rules allow it, with a fresh id, and the password (generated when none was given). */
export function newMember(input: NewMember): { member: Member; password: string } {
  const email = checkedEmailAndRole(input);
  const password = input.password ?? generatePassword();
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new MemberError(
      `a password needs ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters (leave it out to get a generated one)`,
    );
  }
  const member: Member = {
    id: randomUUID(),
    email,
    name: input.name?.trim() || email.split('@')[0] || email,
    role: input.role,
    ...(input.homeSite !== undefined ? { homeSite: checkedSiteId(input.homeSite) } : {}),
  };
  return { member, password };
}

/** A new member who cannot sign in, as the rules allow it, with a fresh id. */
export function newMemberWithoutSignIn(input: NewMemberWithoutSignIn): Member {
  const email = checkedEmailAndRole(input);
  return {
    id: randomUUID(),
    email,
    name: input.name.trim() || email,
    role: input.role,
    ...(input.homeSite !== undefined ? { homeSite: checkedSiteId(input.homeSite) } : {}),
  };
}
