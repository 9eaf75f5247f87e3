import { isRole, type Member, type Role } from '../access/roles.ts';
import { MemberError } from './member-store.ts';

/**
 * A member as both engines keep them in the records: their row and how it reads. Only `disabled` differs
 * between the engines (a BOOLEAN in PostgreSQL, 0 or 1 in SQLite), so each store says which it reads.
 */
export interface MemberRowOf<Disabled> {
  id: string;
  email: string;
  name: string;
  role: string;
  password_hash: string;
  created_at: number;
  disabled: Disabled;
  home_site: string | null;
}

/** Stored instead of a password hash for a member who cannot sign in. */
export const NO_SIGN_IN = '!no-sign-in';

/** Roles given in other sites (member_site_roles), by site. */
export function toMember(
  row: MemberRowOf<unknown>,
  siteRoles: { site: string; role: string }[] = [],
): Member {
  if (!isRole(row.role)) throw new MemberError(`member ${row.id} has an unknown role "${row.role}"`);
  const elsewhere: Record<string, Role> = {};
  for (const r of siteRoles) {
    if (!isRole(r.role))
      throw new MemberError(`member ${row.id} has an unknown role "${r.role}" in ${r.site}`);
    elsewhere[r.site] = r.role;
  }
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    ...(row.home_site !== null ? { homeSite: row.home_site } : {}),
    ...(siteRoles.length > 0 ? { siteRoles: elsewhere } : {}),
  };
}
