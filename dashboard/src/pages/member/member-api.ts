import { ApiFailure, api } from '../../api-client.ts';

/** The answers of the API routes the member page reads (api/auth-routes.ts, api/booking-routes.ts). */

export type Role = 'member' | 'facility' | 'board' | 'admin';

export interface Member {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface Space {
  id: string;
  name: string;
  kind: string;
  floor: string;
  floorName: string;
  capacity: number | null;
  hasLock: boolean;
  maxLengthMinutes: number;
}

export interface Booking {
  id: string;
  spaceId: string;
  spaceName: string;
  start: string;
  end: string;
  status: 'booked' | 'checked_in' | 'released' | 'cancelled';
  /** The series this booking is one date of, and that date's local start in it. */
  seriesId: string | null;
  occurrence: string | null;
  /** In a network (GET /api/me/bookings): the house the booking is in. */
  site?: string;
  siteName?: string;
}

/** A house of the network and what the member may book there (GET /api/houses). */
export interface House {
  id: string;
  name: string;
  timezone: string;
  /** The house this API serves. */
  here: boolean;
  /** The member's own house. */
  home: boolean;
  role: Role;
  guest: boolean;
  spaces: Space[];
}

/** One date of a series in a preview or a refusal (api/booking-series-routes.ts). */
export interface SeriesDate {
  occurrence: string;
  start: string;
  end: string;
  state: 'free' | 'taken' | 'refused';
  reason?: string;
  message?: string;
  conflict?: { start: string; end: string };
}

export interface Availability {
  busy: { start: string; end: string; mine: boolean }[];
  free: { start: string; end: string }[];
}

/** One date of an event the member organises (GET /api/me/events): counts of places, never who. */
export interface OrganisedDate {
  dateId: string;
  /** The house the date is in, and its time zone (a network's events are in every house). */
  siteId: string;
  siteName: string;
  timezone: string;
  spaceId: string;
  spaceName: string;
  start: string;
  end: string;
  occurrence: string | null;
  taken: number;
  waiting: number;
  left: number | null;
  attended: number | null;
  signUpOpen: boolean;
  countOpen: boolean;
  guestKey: boolean;
}

export interface OrganisedEvent {
  id: string;
  title: string;
  description: string;
  capacity: number | null;
  visibility: 'public' | 'members';
  bookingId: string | null;
  seriesId: string | null;
  dates: OrganisedDate[];
}

/** GET /api/spaces: the bookable spaces and the site they are in (a member does not read /api/site). */
export interface SiteInfo {
  site: { id: string; name: string; timezone: string };
}

/** Whoever is signed in with this browser's cookie, or null. */
export async function currentMember(): Promise<Member | null> {
  try {
    return (await api.get<{ member: Member }>('/api/me')).member;
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) return null;
    throw err;
  }
}

/** The session ended under the page (expired, signed out elsewhere): the page shows the sign-in form. */
export function isSignedOut(err: unknown): boolean {
  return err instanceof ApiFailure && err.status === 401;
}

/** A failure in words for the member: the API's own message, or that the server is unreachable. */
export function failureDetail(err: unknown, noConnection: string): string {
  if (err instanceof ApiFailure) return err.message;
  return noConnection;
}
