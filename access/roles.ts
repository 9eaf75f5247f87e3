/**
 * Who is who in the building. A member books and opens what they booked; the facility manager runs the
 * building; the board reads reports; the admin manages members. Lobby screens are not members: they hold a
 * read-only token that shows public availability only.
 */
export const ROLES = ['member', 'facility', 'board', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The signed-in caller as the API sees it (never the password hash). */
export interface Member {
  id: string;
  email: string;
  name: string;
  /**
   * The role in the member's home site; as an API of a network sees the member (members/member-store.ts
   * membersSeenFrom), their role in the site that API serves, and `homeRole` keeps the one at home.
   */
  role: Role;
  /** Set where `role` is the role in another site than the home site: the role at home. */
  homeRole?: Role;
  /** In a network: the member's home site; absent: the installation's home site (its first, or its only). */
  homeSite?: string;
  /** In a network: roles given in other sites (a facility manager of two houses); elsewhere a plain member. */
  siteRoles?: Readonly<Record<string, Role>>;
}

// ---------------------------------------------------------------------------------------------------------
// The site dimension. Members belong to the network; roles are per site. A member's role is theirs in their
// home site and where `siteRoles` names one; anywhere else they are a plain member, and a guest: they book
// and open only what that site's file opens to members of their home site (`guests` in site/site.ts).

/** What of a member decides their standing in a site. */
export type SiteStanding = Pick<Member, 'role' | 'homeRole' | 'homeSite' | 'siteRoles'>;

/** The member's home site: their own, or the installation's home site for a member who names none. */
export function homeSiteOf(member: SiteStanding, installationHome: string): string {
  return member.homeSite ?? installationHome;
}

/** The role a member has in `siteId`: the facility manager of A is a plain member in B. */
export function roleAt(member: SiteStanding, siteId: string, installationHome: string): Role {
  if (siteId === homeSiteOf(member, installationHome)) return member.homeRole ?? member.role;
  return member.siteRoles?.[siteId] ?? 'member';
}

/** A guest in `siteId`: neither their home site nor one where they were given a role. */
export function isGuestAt(member: SiteStanding, siteId: string, installationHome: string): boolean {
  return siteId !== homeSiteOf(member, installationHome) && member.siteRoles?.[siteId] === undefined;
}

/** One line of a site file's `guests`: members of these sites (`*`: every other site) may book these kinds. */
export interface GuestRule {
  from: readonly string[];
  kinds: readonly string[];
}

/**
 * May a guest from `fromSite` book (and open) a space of this `kind`, by the site's guest rules? Closed unless
 * a rule opens it: a site file without `guests` takes no guests.
 */
export function openToGuests(
  rules: readonly GuestRule[] | undefined,
  fromSite: string,
  kind: string,
): boolean {
  return (rules ?? []).some(
    (rule) => (rule.from.includes('*') || rule.from.includes(fromSite)) && rule.kinds.includes(kind),
  );
}

/**
 * How a member comes to `site`: as a guest from their home site, bound by the site's guest rules (what
 * `checkBookingRequest`'s `guest` option takes), or undefined: one of its own, or given a role there.
 */
export function guestVisit(
  member: SiteStanding,
  site: { id: string; guests?: readonly GuestRule[] | undefined },
  installationHome: string,
): { from: string; rules: readonly GuestRule[] | undefined } | undefined {
  if (!isGuestAt(member, site.id, installationHome)) return undefined;
  return { from: homeSiteOf(member, installationHome), rules: site.guests };
}

/** The staff roles a member has anywhere in the network, by site: the sites whose staff views they may see. */
export function sitesWithRole(
  member: SiteStanding,
  roles: readonly Role[],
  siteIds: readonly string[],
  installationHome: string,
): string[] {
  return siteIds.filter((site) => roles.includes(roleAt(member, site, installationHome)));
}

/** Who reads what the house costs and brings in (the common-good report for funders): the board and admins. */
export const BOARD_AND_ADMIN: readonly Role[] = ['board', 'admin'];

/**
 * The network's board: who reads the network report (every house side by side, and the network's total).
 * It shows each house's building figures, which the board and admins of that house read in its own report;
 * so it is for those who hold the board or admin role in every house of the network, no one else (a
 * facility manager runs one building, and a house's board does not read its neighbours' figures).
 */
export function readsNetwork(
  member: SiteStanding,
  siteIds: readonly string[],
  installationHome: string,
): boolean {
  return (
    siteIds.length > 0 &&
    sitesWithRole(member, BOARD_AND_ADMIN, siteIds, installationHome).length === siteIds.length
  );
}

/**
 * Who may call a route. Every route declares one (default deny):
 *   'public'  — anyone, no credentials (health, the public lobby when configured so)
 *   'lobby'   — a lobby-screen token or any signed-in member
 *   Role[]    — a signed-in member with one of these roles
 */
export type RouteAccess = 'public' | 'lobby' | readonly Role[];

export const ANY_MEMBER: readonly Role[] = ROLES;
export const STAFF: readonly Role[] = ['facility', 'admin'];

/** Who reads the building's measurements (readings, time series): staff, and the board for its reports. */
export const STAFF_AND_BOARD: readonly Role[] = ['facility', 'board', 'admin'];
