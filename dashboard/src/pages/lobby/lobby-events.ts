import { toLocal } from '../../../../site/local-time.ts';

/** "2026-12-31": the site-local calendar date of an instant, comparable as text. */
function localDayKey(at: number, timeZone: string): string {
  const l = toLocal(at, timeZone);
  return `${l.year}-${String(l.month).padStart(2, '0')}-${String(l.day).padStart(2, '0')}`;
}

/** A date of a public event as GET /api/public/events gives it. */
export interface PublicEventDate {
  title: string;
  spaceName: string;
  start: string;
  end: string;
}

export interface RoomToday {
  room: string;
  events: { title: string; start: number; end: number }[];
}

/**
 * "Heute im Diskursraum: …": per room, today's public events (site time) that have not ended, by start.
 * Pure: the lobby page asks the public events list and shows these lines under its title.
 */
export function todayByRoom(dates: readonly PublicEventDate[], now: number, timeZone: string): RoomToday[] {
  const today = localDayKey(now, timeZone);
  const rooms = new Map<string, RoomToday>();
  const sorted = dates
    .map((d) => ({ title: d.title, room: d.spaceName, start: Date.parse(d.start), end: Date.parse(d.end) }))
    .filter(
      (d) =>
        d.end > now && localDayKey(d.start, timeZone) <= today && localDayKey(d.end - 1, timeZone) >= today,
    )
    .sort((a, b) => a.start - b.start);
  for (const d of sorted) {
    const room = rooms.get(d.room) ?? { room: d.room, events: [] };
    room.events.push({ title: d.title, start: d.start, end: d.end });
    rooms.set(d.room, room);
  }
  return [...rooms.values()];
}
