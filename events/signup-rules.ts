/**
 * Sign-ups for an event's date, as pure rules: what a visitor may send, whether a date takes sign-ups now,
 * where a new sign-up goes (a place or the waiting list) and who moves up when places come free. The
 * waiting list is strict: in the order people came, and nobody overtakes a group that does not fit yet.
 */

/** At most this many places in one sign-up (a family, a small group; a school class asks the organiser). */
export const MAX_PLACES = 10;
export const MAX_EMAIL = 254;

export interface SignUpRequest {
  places: number;
  /** Absent or empty: a place count only. */
  email?: string | undefined;
}

export type SignUpCheck = { ok: true; places: number; email: string | null } | { ok: false; message: string };

// Deliberately plain: one @, a dot in the domain, no spaces, quotes or angle brackets.
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What a visitor sent, trimmed and checked; the address lower-cased in its domain only. */
export function checkSignUp(input: SignUpRequest): SignUpCheck {
  if (!Number.isInteger(input.places) || input.places < 1 || input.places > MAX_PLACES)
    return { ok: false, message: `a sign-up takes from 1 to ${MAX_PLACES} places` };
  const raw = (input.email ?? '').trim();
  if (raw.length === 0) return { ok: true, places: input.places, email: null };
  if (raw.length > MAX_EMAIL || !EMAIL.test(raw) || CONTROL.test(raw))
    return { ok: false, message: 'that is not an e-mail address (or leave it empty)' };
  const at = raw.lastIndexOf('@');
  return { ok: true, places: input.places, email: `${raw.slice(0, at)}@${raw.slice(at + 1).toLowerCase()}` };
}

/** A date takes sign-ups until it starts; a cancelled event or date takes none. */
export function signUpOpen(date: { start: number } | undefined, now: number): boolean {
  return date !== undefined && now < date.start;
}

export interface DatePlaces {
  /** Places for visitors; null: no limit kept. */
  capacity: number | null;
  /** Places taken by confirmed sign-ups. */
  confirmed: number;
  /** Sign-ups waiting, in order. */
  waiting: readonly { id: string; places: number }[];
}

export type Placement = 'confirmed' | 'waiting' | 'too_many';

/**
 * Where a new sign-up of `places` goes: a place when there is room and nobody waits before it, else the
 * waiting list; `too_many` when it asks more places than the event has at all.
 */
export function placeSignUp(date: DatePlaces, places: number): Placement {
  if (date.capacity === null) return 'confirmed';
  if (places > date.capacity) return 'too_many';
  if (date.waiting.length === 0 && date.confirmed + places <= date.capacity) return 'confirmed';
  return 'waiting';
}

/** The waiting sign-ups that get a place now, in order: from the front while each fits. */
export function movingUp(date: DatePlaces): string[] {
  if (date.capacity === null) return date.waiting.map((w) => w.id);
  const up: string[] = [];
  let taken = date.confirmed;
  for (const w of date.waiting) {
    if (taken + w.places > date.capacity) break;
    taken += w.places;
    up.push(w.id);
  }
  return up;
}

/** An organiser's count of who came: a whole number, not more than ten thousand. */
export function checkAttendance(attended: number): string | null {
  if (!Number.isInteger(attended) || attended < 0 || attended > 10_000)
    return 'the count of people who came is a whole number from 0 to 10000';
  return null;
}

/** The count is entered after the date has started (people came or not), never before. */
export function attendanceOpen(date: { start: number }, now: number): boolean {
  return now >= date.start;
}
