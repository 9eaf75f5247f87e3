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
  role: Role;
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
